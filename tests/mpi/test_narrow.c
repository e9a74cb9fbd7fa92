/* test_narrow: map, flat_map, filter, map_partitions, key_by, map_values and
 * union, alone and fused, against serial references. Narrow steps keep the
 * source's order, so results are compared in order. Run it with tiny
 * batches too (--kiln-batch-records=7): callbacks must not depend on where
 * batches are cut. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

enum { N = 20000 };

static void compare_in_order(kiln_dataset *ds, t_strv *want, const char *what)
{
    t_strv got = {0};
    t_collect_repr(ds, &got);
    CHECK_STRV(&got, want, what);
    t_strv_free(&got);
    t_strv_free(want);
}

static kiln_dataset *range_ds(int64_t start, int64_t end, uint32_t nparts)
{
    kiln_dataset *ds = NULL;
    EXPECT_OK(kiln_range(T.ctx, start, end, 1, nparts, &ds));
    return ds;
}

/* ---- map ---- */

static uint64_t square_mod(int64_t v)
{
    return (uint64_t)(v * v) % 1000003u;
}

/* I64 v -> (U64 v*v mod p, STRING "v=<v>") */
static kiln_status map_square(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        int64_t v = kiln_batch_value_i64(in, i);
        uint64_t k = square_mod(v);
        char text[32];
        int len = snprintf(text, sizeof text, "v=%lld", (long long)v);
        kiln_status st = kiln_emit(out, &k, 8, text, (size_t)len);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* (U64 k, STRING s) -> plain F64 k + strlen(s) / 4 */
static kiln_status map_to_f64(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        kiln_batch_value(in, i, &len);
        double d = (double)kiln_batch_key_u64(in, i) + (double)len / 4;
        kiln_status st = kiln_emit(out, NULL, 0, &d, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static void test_map(void)
{
    t_section("map: I64 -> (U64, STRING) -> F64");
    kiln_dataset *src = range_ds(-N / 2, N / 2, 0), *m1 = NULL, *m2 = NULL;
    EXPECT_OK(kiln_dataset_map(src, kiln_schema_of(KILN_T_U64, KILN_T_STRING),
                               map_square, NULL, &m1));
    EXPECT_OK(kiln_dataset_map(m1, kiln_schema_of(KILN_T_NONE, KILN_T_F64),
                               map_to_f64, NULL, &m2));
    t_strv want1 = {0}, want2 = {0};
    for (int64_t v = -N / 2; v < N / 2; v++) {
        char text[32];
        int len = snprintf(text, sizeof text, "v=%lld", (long long)v);
        t_strv_addf(&want1, "%llu\t%s", (unsigned long long)square_mod(v), text);
        t_strv_addf(&want2, "%a", (double)square_mod(v) + (double)len / 4);
    }
    compare_in_order(m1, &want1, "map to keyed strings");
    compare_in_order(m2, &want2, "map of a map (fused)");
    CHECK(t_count(m2) == N, "count after two maps");
    kiln_dataset_destroy(&m2);
    kiln_dataset_destroy(&m1);
    kiln_dataset_destroy(&src);
}

/* ---- flat_map ---- */

/* How many records explode() makes of v: 0 to 3. */
static uint64_t fanout(int64_t v)
{
    return (uint64_t)((v % 4 + 4) % 4);
}

/* I64 v -> fanout(v) records (I64 v, U64 j) for j < fanout(v) */
static kiln_status explode(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        int64_t v = kiln_batch_value_i64(in, i);
        for (uint64_t j = 0; j < fanout(v); j++) {
            kiln_status st = kiln_emit(out, &v, 8, &j, 8);
            if (st != KILN_OK)
                return st;
        }
    }
    return KILN_OK;
}

/* STRING line -> its words (split on ' '), plain STRING */
static kiln_status words(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        const char *p = kiln_batch_value(in, i, &len), *end = p + len;
        while (p < end) {
            const char *sp = memchr(p, ' ', (size_t)(end - p));
            const char *stop = sp ? sp : end;
            if (stop > p) {
                kiln_status st = kiln_emit(out, NULL, 0, p, (size_t)(stop - p));
                if (st != KILN_OK)
                    return st;
            }
            p = stop + 1;
        }
    }
    return KILN_OK;
}

static kiln_status emit_nothing(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)in;
    (void)out;
    (void)arg;
    return KILN_OK;
}

static void test_flat_map(void)
{
    t_section("flat_map: zero to three records per input");
    kiln_dataset *src = range_ds(0, N, 0), *fm = NULL;
    EXPECT_OK(kiln_dataset_flat_map(src, kiln_schema_of(KILN_T_I64, KILN_T_U64),
                                    explode, NULL, &fm));
    t_strv want = {0};
    for (int64_t v = 0; v < N; v++)
        for (uint64_t j = 0; j < fanout(v); j++)
            t_strv_addf(&want, "%lld\t%llu", (long long)v, (unsigned long long)j);
    compare_in_order(fm, &want, "flat_map output in order");
    kiln_dataset_destroy(&fm);

    t_section("flat_map: words of lines");
    /* Lines built on the master, parallelized. */
    t_buf heap = {0};
    uint64_t *offs = malloc((N + 1) * sizeof *offs);
    t_strv want_words = {0};
    offs[0] = 0;
    for (int i = 0; i < N; i++) {
        uint64_t r = t_mix((uint64_t)i);
        for (int w = 0; w < (int)(r % 6); w++) {
            char word[32];
            int len = snprintf(word, sizeof word, "w%llu", (unsigned long long)((r >> (8 * w)) % 97));
            t_buf_add(&heap, word, (size_t)len);
            t_buf_add(&heap, w % 2 ? "  " : " ", w % 2 ? 2 : 1);
            t_strv_add(&want_words, word, (size_t)len);
        }
        offs[i + 1] = heap.len;
    }
    kiln_batch lines = {.n = N, .values = (const unsigned char *)(heap.p ? heap.p : ""),
                        .value_offsets = offs};
    kiln_dataset *text = NULL, *w = NULL, *none = NULL;
    EXPECT_OK(kiln_parallelize(T.ctx, kiln_schema_of(KILN_T_NONE, KILN_T_STRING),
                               T.rank == 0 ? &lines : NULL, 0, &text));
    EXPECT_OK(kiln_dataset_flat_map(text, kiln_schema_of(KILN_T_NONE, KILN_T_STRING),
                                    words, NULL, &w));
    compare_in_order(w, &want_words, "words in order");
    EXPECT_OK(kiln_dataset_flat_map(text, kiln_schema_of(KILN_T_NONE, KILN_T_STRING),
                                    emit_nothing, NULL, &none));
    CHECK(t_count(none) == 0, "a flat_map emitting nothing has no records");
    kiln_dataset_destroy(&none);
    kiln_dataset_destroy(&w);
    kiln_dataset_destroy(&text);
    kiln_dataset_destroy(&src);
    t_buf_free(&heap);
    free(offs);
}

/* ---- filter ---- */

static kiln_status keep_multiple(const kiln_batch *in, uint8_t *keep, void *arg)
{
    int64_t m = *(const int64_t *)arg;
    for (size_t i = 0; i < in->n; i++) {
        if (keep[i] != 0)
            return kiln_error(KILN_ERR_USER, "keep[] was not zeroed on entry");
        keep[i] = kiln_batch_value_i64(in, i) % m == 0;
    }
    return KILN_OK;
}

static void test_filter(void)
{
    t_section("filter: some, all, none");
    kiln_dataset *src = range_ds(-N, N, 0), *f = NULL;
    int64_t moduli[] = {3, 1, 1000000007};
    for (int k = 0; k < 3; k++) {
        EXPECT_OK(kiln_dataset_filter(src, keep_multiple, &moduli[k], &f));
        t_strv want = {0};
        for (int64_t v = -N; v < N; v++)
            if (v % moduli[k] == 0)
                t_strv_addf(&want, "%lld", (long long)v);
        char what[64];
        snprintf(what, sizeof what, "filter multiples of %lld", (long long)moduli[k]);
        compare_in_order(f, &want, what);
        kiln_dataset_destroy(&f);
    }

    t_section("filter after flat_map, then map");
    kiln_dataset *fm = NULL, *m = NULL;
    EXPECT_OK(kiln_dataset_flat_map(src, kiln_schema_of(KILN_T_I64, KILN_T_U64),
                                    explode, NULL, &fm));
    int64_t three = 3;
    EXPECT_OK(kiln_dataset_filter(fm, keep_multiple, &three, &f));
    /* filter looks at values: keep records whose U64 j % 3 == 0 */
    EXPECT_OK(kiln_dataset_map(f, kiln_schema_of(KILN_T_U64, KILN_T_STRING),
                               map_square, NULL, &m));
    t_strv want = {0};
    for (int64_t v = -N; v < N; v++)
        for (uint64_t j = 0; j < fanout(v); j++)
            if (j % 3 == 0)
                t_strv_addf(&want, "%llu\tv=%llu", (unsigned long long)square_mod((int64_t)j),
                            (unsigned long long)j);
    compare_in_order(m, &want, "flat_map > filter > map");
    kiln_dataset_destroy(&m);
    kiln_dataset_destroy(&f);
    kiln_dataset_destroy(&fm);
    kiln_dataset_destroy(&src);
}

/* ---- map_partitions ---- */

#define SUMMARY (1ull << 40)

typedef struct part_state {
    uint32_t partition;
    uint64_t count;
    int64_t sum;
    uint64_t magic;
} part_state;

/* Local counters: open and close must balance, whatever happens. */
static uint64_t opens, closes, closes_null, bad_batches;

static kiln_status mp_open(uint32_t partition, void **state, void *arg)
{
    (void)arg;
    part_state *s = calloc(1, sizeof *s);
    if (!s)
        return kiln_error(KILN_ERR_NOMEM, "state");
    s->partition = partition;
    s->magic = 0x5eed;
    *state = s;
    opens++;
    return KILN_OK;
}

/* Pass every record through as (partition, v); count and sum. */
static kiln_status mp_batch(const kiln_batch *in, kiln_emitter *out, void *state,
                            void *arg)
{
    (void)arg;
    part_state *s = state;
    if (!s || s->magic != 0x5eed || in->partition != s->partition)
        bad_batches++;
    for (size_t i = 0; i < in->n; i++) {
        int64_t v = kiln_batch_value_i64(in, i);
        uint64_t p = s->partition;
        s->count++;
        s->sum += v;
        kiln_status st = kiln_emit(out, &p, 8, &v, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* Emit (SUMMARY + partition, count), or, with arg set, `count` copies. */
static kiln_status mp_close(kiln_emitter *out, void *state, void *arg)
{
    part_state *s = state;
    kiln_status st = KILN_OK;
    if (!out) {
        closes_null++;
    } else if (arg) {
        for (uint64_t i = 0; i < s->count && st == KILN_OK; i++) {
            uint64_t k = SUMMARY + s->partition;
            int64_t v = (int64_t)i;
            st = kiln_emit(out, &k, 8, &v, 8);
        }
    } else {
        uint64_t k = SUMMARY + s->partition;
        int64_t v = (int64_t)s->count;
        st = kiln_emit(out, &k, 8, &v, 8);
    }
    closes++;
    free(s);
    return st;
}

static kiln_status mp_batch_stateless(const kiln_batch *in, kiln_emitter *out,
                                      void *state, void *arg)
{
    (void)arg;
    if (state)
        bad_batches++;
    for (size_t i = 0; i < in->n; i++) {
        int64_t v = kiln_batch_value_i64(in, i) * 2;
        kiln_status st = kiln_emit(out, NULL, 0, &v, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static void check_balanced(const char *what)
{
    uint64_t mine[3] = {opens, closes, bad_batches}, all[3];
    MPI_Allreduce(mine, all, 3, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    CHECK(opens == closes, "%s: %llu opens but %llu closes on this rank", what,
          (unsigned long long)opens, (unsigned long long)closes);
    CHECK(all[2] == 0, "%s: %llu batches saw the wrong state or partition",
          what, (unsigned long long)all[2]);
}

/* Records must come as runs: partition p's records (key p, in order), then
 * its summary; every partition once, in order. */
static void check_runs(kiln_dataset *ds, uint32_t nparts, int64_t lo, int64_t hi,
                       const char *what)
{
    kiln_collection *c = NULL;
    EXPECT_OK(kiln_dataset_collect(ds, KILN_ALL_RANKS, &c));
    const kiln_batch *b = kiln_collection_batch(c);
    uint64_t expect_p = 0, run = 0, summaries = 0;
    int64_t next = lo, sum_all = 0;
    bool ok = true;
    for (size_t i = 0; i < b->n && ok; i++) {
        uint64_t k = kiln_batch_key_u64(b, i);
        int64_t v = kiln_batch_value_i64(b, i);
        if (k >= SUMMARY) {
            ok = CHECK(k - SUMMARY == expect_p && (uint64_t)v == run,
                       "%s: record %zu: summary of partition %llu with count "
                       "%lld, expected partition %llu with count %llu", what, i,
                       (unsigned long long)(k - SUMMARY), (long long)v,
                       (unsigned long long)expect_p, (unsigned long long)run);
            expect_p++;
            run = 0;
            summaries++;
        } else {
            ok = CHECK(k == expect_p && v == next,
                       "%s: record %zu is (%llu, %lld), expected (%llu, %lld)",
                       what, i, (unsigned long long)k, (long long)v,
                       (unsigned long long)expect_p, (long long)next);
            next++;
            run++;
            sum_all += v;
        }
    }
    if (ok) {
        CHECK(summaries == nparts, "%s: %llu summaries for %u partitions", what,
              (unsigned long long)summaries, nparts);
        CHECK(next == hi, "%s: records end at %lld, expected %lld", what,
              (long long)next, (long long)hi);
    }
    kiln_collection_destroy(&c);
}

static void test_map_partitions(void)
{
    t_section("map_partitions: state, open and close");
    kiln_partition_fns fns = {mp_open, mp_batch, mp_close};
    kiln_schema ps = kiln_schema_of(KILN_T_U64, KILN_T_I64);
    kiln_dataset *src = range_ds(0, N, 0), *mp = NULL;
    EXPECT_OK(kiln_dataset_map_partitions(src, ps, fns, NULL, &mp));
    check_runs(mp, 16, 0, N, "map_partitions over 16 partitions");
    check_balanced("collect");
    CHECK(t_count(mp) == N + 16, "count of records and summaries");
    check_balanced("count");
    kiln_dataset_destroy(&mp);

    t_section("map_partitions: close emits many records through later steps");
    kiln_dataset *many = NULL, *f = NULL;
    EXPECT_OK(kiln_dataset_map_partitions(src, ps, fns, &opens /* any non-NULL */, &many));
    int64_t seven = 7;
    EXPECT_OK(kiln_dataset_filter(many, keep_multiple, &seven, &f));
    uint64_t got = t_count(f);
    /* Each partition's records, then its count of 0..count-1: both halves
     * are multiples of 7 as often; the reference counts them serially. */
    kiln_collection *c = NULL;
    EXPECT_OK(kiln_dataset_collect(f, KILN_ALL_RANKS, &c));
    const kiln_batch *b = kiln_collection_batch(c);
    uint64_t from_close = 0, from_batch = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (kiln_batch_key_u64(b, i) >= SUMMARY)
            from_close++;
        else
            from_batch++;
    }
    uint64_t want_batch = 0;
    for (int64_t v = 0; v < N; v++)
        want_batch += v % 7 == 0;
    CHECK(from_batch == want_batch, "records kept from batches: %llu, expected %llu",
          (unsigned long long)from_batch, (unsigned long long)want_batch);
    CHECK(got == b->n, "count %llu but collect %zu", (unsigned long long)got, b->n);
    /* close emitted 0..count-1 per partition: at least N / 7 multiples. */
    CHECK(from_close >= (uint64_t)N / 7 && from_close <= (uint64_t)N / 7 + 16,
          "records kept from close: %llu", (unsigned long long)from_close);
    kiln_collection_destroy(&c);
    check_balanced("close emitting");
    kiln_dataset_destroy(&f);
    kiln_dataset_destroy(&many);

    t_section("map_partitions: take stops early and still closes");
    EXPECT_OK(kiln_dataset_map_partitions(src, ps, fns, NULL, &mp));
    kiln_collection *t = NULL;
    EXPECT_OK(kiln_dataset_take(mp, 5, &t));
    b = kiln_collection_batch(t);
    CHECK(b->n == 5, "take(5) gave %zu records", b->n);
    for (size_t i = 0; i < b->n && i < 5; i++)
        CHECK(kiln_batch_key_u64(b, i) == 0 && kiln_batch_value_i64(b, i) == (int64_t)i,
              "take record %zu", i);
    kiln_collection_destroy(&t);
    check_balanced("take");
    kiln_dataset_destroy(&mp);

    t_section("map_partitions: without open and close");
    kiln_partition_fns bare = {NULL, mp_batch_stateless, NULL};
    EXPECT_OK(kiln_dataset_map_partitions(src, kiln_schema_of(KILN_T_NONE, KILN_T_I64),
                                          bare, NULL, &mp));
    t_strv want = {0};
    for (int64_t v = 0; v < N; v++)
        t_strv_addf(&want, "%lld", (long long)(2 * v));
    compare_in_order(mp, &want, "batch-only map_partitions");
    check_balanced("batch only");
    kiln_dataset_destroy(&mp);
    kiln_dataset_destroy(&src);
}

/* ---- key_by and map_values ---- */

static kiln_status key_mod7(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        uint64_t k = (uint64_t)(kiln_batch_value_i64(in, i) % 7 + 7) % 7;
        kiln_status st = kiln_emit_key(out, &k, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* New STRING key "k<old key>:<value>" */
static kiln_status key_text(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        char text[64];
        int len = snprintf(text, sizeof text, "k%llu:%lld",
                           (unsigned long long)kiln_batch_key_u64(in, i),
                           (long long)kiln_batch_value_i64(in, i));
        kiln_status st = kiln_emit_key(out, text, (size_t)len);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status half(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        double d = (double)kiln_batch_value_i64(in, i) / 2;
        kiln_status st = kiln_emit_value(out, &d, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status describe(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        double d = kiln_batch_value_f64(in, i);
        char text[64];
        int len = d < 0 ? 0 : snprintf(text, sizeof text, "<%.1f>", d);
        kiln_status st = kiln_emit_value(out, text, (size_t)len);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static void test_key_by_map_values(void)
{
    t_section("key_by: plain values gain a key");
    kiln_dataset *src = range_ds(-N / 2, N / 2, 0), *kb = NULL, *kb2 = NULL;
    EXPECT_OK(kiln_dataset_key_by(src, KILN_T_U64, key_mod7, NULL, &kb));
    kiln_schema s = kiln_dataset_schema(kb);
    CHECK(s.key.kind == KILN_KIND_U64 && s.value.kind == KILN_KIND_I64,
          "key_by schema is (U64, I64)");
    t_strv want = {0};
    for (int64_t v = -N / 2; v < N / 2; v++)
        t_strv_addf(&want, "%lld\t%lld", (long long)((v % 7 + 7) % 7), (long long)v);
    compare_in_order(kb, &want, "key_by(v mod 7)");

    t_section("key_by: a keyed dataset's key is replaced");
    EXPECT_OK(kiln_dataset_key_by(kb, KILN_T_STRING, key_text, NULL, &kb2));
    for (int64_t v = -N / 2; v < N / 2; v++)
        t_strv_addf(&want, "k%lld:%lld\t%lld", (long long)((v % 7 + 7) % 7),
                    (long long)v, (long long)v);
    compare_in_order(kb2, &want, "key_by with STRING keys");

    t_section("map_values: the key stays");
    kiln_dataset *mv = NULL, *mv2 = NULL;
    EXPECT_OK(kiln_dataset_map_values(kb, KILN_T_F64, half, NULL, &mv));
    EXPECT_OK(kiln_dataset_map_values(mv, KILN_T_STRING, describe, NULL, &mv2));
    t_strv want2 = {0};
    for (int64_t v = -N / 2; v < N / 2; v++) {
        long long k = (long long)((v % 7 + 7) % 7);
        double d = (double)v / 2;
        t_strv_addf(&want, "%lld\t%a", k, d);
        if (d < 0)
            t_strv_addf(&want2, "%lld\t", k);
        else
            t_strv_addf(&want2, "%lld\t<%.1f>", k, d);
    }
    compare_in_order(mv, &want, "map_values to F64");
    compare_in_order(mv2, &want2, "map_values to STRING, some empty");
    kiln_dataset_destroy(&mv2);
    kiln_dataset_destroy(&mv);
    kiln_dataset_destroy(&kb2);
    kiln_dataset_destroy(&kb);
    kiln_dataset_destroy(&src);
}

/* ---- union ---- */

static void test_union(void)
{
    t_section("union: a's partitions, then b's");
    kiln_dataset *a = range_ds(0, 1000, 0), *b = NULL, *u = NULL, *u3 = NULL,
                 *aa = NULL, *c = range_ds(-30, -20, 2);
    EXPECT_OK(kiln_range(T.ctx, 5000, 5100, 1, 3, &b));
    EXPECT_OK(kiln_dataset_union(a, b, &u));
    t_strv want = {0};
    for (int v = 0; v < 1000; v++)
        t_strv_addf(&want, "%d", v);
    for (int v = 5000; v < 5100; v++)
        t_strv_addf(&want, "%d", v);
    compare_in_order(u, &want, "collect of a union");
    CHECK(t_count(u) == 1100, "count of a union");

    t_section("union: partition numbers seen by later steps");
    kiln_partition_fns fns = {mp_open, mp_batch, mp_close};
    kiln_dataset *mp = NULL;
    EXPECT_OK(kiln_dataset_map_partitions(u, kiln_schema_of(KILN_T_U64, KILN_T_I64),
                                          fns, NULL, &mp));
    kiln_collection *col = NULL;
    EXPECT_OK(kiln_dataset_collect(mp, KILN_ALL_RANKS, &col));
    const kiln_batch *cb = kiln_collection_batch(col);
    uint64_t summaries = 0, last = 0;
    for (size_t i = 0; i < cb->n; i++) {
        uint64_t k = kiln_batch_key_u64(cb, i);
        uint64_t p = k >= SUMMARY ? k - SUMMARY : k;
        summaries += k >= SUMMARY;
        if (!CHECK(p >= last && p < 19, "record %zu of map_partitions over a "
                   "union is in partition %llu after %llu", i,
                   (unsigned long long)p, (unsigned long long)last))
            break;
        last = p;
    }
    CHECK(summaries == 19, "union of 16 and 3 partitions: %llu summaries",
          (unsigned long long)summaries);
    check_balanced("map_partitions over a union");
    kiln_collection_destroy(&col);
    kiln_dataset_destroy(&mp);

    t_section("union: nested and with itself");
    EXPECT_OK(kiln_dataset_union(u, c, &u3));
    for (int v = 0; v < 1000; v++)
        t_strv_addf(&want, "%d", v);
    for (int v = 5000; v < 5100; v++)
        t_strv_addf(&want, "%d", v);
    for (int v = -30; v < -20; v++)
        t_strv_addf(&want, "%d", v);
    compare_in_order(u3, &want, "(a + b) + c");
    EXPECT_OK(kiln_dataset_union(a, a, &aa));
    for (int k = 0; k < 2; k++)
        for (int v = 0; v < 1000; v++)
            t_strv_addf(&want, "%d", v);
    compare_in_order(aa, &want, "a + a");

    t_section("union: schemas must match");
    kiln_dataset *kb = NULL, *sentinel = (kiln_dataset *)&T, *bad = sentinel;
    EXPECT_OK(kiln_dataset_key_by(a, KILN_T_U64, key_mod7, NULL, &kb));
    EXPECT_STATUS(kiln_dataset_union(a, kb, &bad), KILN_ERR_INVAL);
    CHECK(bad == sentinel, "a failed union wrote its out-parameter");
    kiln_dataset_destroy(&kb);
    kiln_dataset_destroy(&aa);
    kiln_dataset_destroy(&u3);
    kiln_dataset_destroy(&u);
    kiln_dataset_destroy(&c);
    kiln_dataset_destroy(&b);
    kiln_dataset_destroy(&a);
}

/* ---- long fused chains, parents destroyed at once ---- */

static kiln_status add_one(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        int64_t v = kiln_batch_value_i64(in, i) + 1;
        kiln_status st = kiln_emit(out, NULL, 0, &v, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static void test_long_chain(void)
{
    t_section("a chain of 2000 maps, each parent released at once");
    enum { STEPS = 2000, M = 3000 };
    kiln_dataset *ds = range_ds(0, M, 4);
    for (int k = 0; k < STEPS; k++) {
        kiln_dataset *next = NULL;
        EXPECT_OK(kiln_dataset_map(ds, kiln_schema_of(KILN_T_NONE, KILN_T_I64),
                                   add_one, NULL, &next));
        kiln_dataset_destroy(&ds);
        ds = next;
    }
    t_strv want = {0};
    for (int v = 0; v < M; v++)
        t_strv_addf(&want, "%d", v + STEPS);
    compare_in_order(ds, &want, "range + 2000");
    kiln_dataset_destroy(&ds);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    test_map();
    test_flat_map();
    test_filter();
    test_map_partitions();
    test_key_by_map_values();
    test_union();
    test_long_chain();
    return t_finish();
}
