/* test_order: sort_by_key, partition_by (HASH, RANGE), repartition,
 * coalesce, take_ordered, zip_with_index and sample against serial
 * references computed here.
 *
 * Sort: every key kind (U64, I64 with negatives, F64 in IEEE total order
 * with -0.0, +0.0, infinities and NaNs, STRING with empty strings and
 * prefixes, FIXED by bytes and with a compare function), descending, a
 * kiln_order.compare, ties broken by value bytes; already sorted, reverse
 * sorted, all-equal and skewed inputs (partition sizes checked); explicit
 * partition counts. Whole sorted outputs are compared in partition order,
 * so "every key in partition i <= every key in partition i + 1" is checked
 * too (and explicitly at each boundary).
 *
 * Results must not depend on the number of ranks: besides passing against
 * the same serial reference at 1, 2 and 4 ranks, each operator is run again
 * in the same job on contexts over the first 1 and 2 ranks (and with tiny
 * batches), and partition by partition layouts (sizes and contents) must
 * match the full run's.
 *
 * Mode "shuffled-input" sorts (and range-partitions) the output of a hash
 * shuffle, whose records arrive in an order that varies with timing and
 * rank count: the partitions must still be the same every time. */
#define _GNU_SOURCE /* memrchr */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* ------------------------------------------------------------------------ */
/* Records, their text, and the serial reference order                       */
/* ------------------------------------------------------------------------ */

typedef struct view {
    const unsigned char *k, *v;
    size_t kl, vl;
} view;

static view recs_at(const t_recs *r, size_t i)
{
    view x;
    x.k = (const unsigned char *)r->keys.p + r->koff[i];
    x.kl = (size_t)(r->koff[i + 1] - r->koff[i]);
    x.v = (const unsigned char *)r->values.p + r->voff[i];
    x.vl = (size_t)(r->voff[i + 1] - r->voff[i]);
    return x;
}

static view batch_at(const kiln_batch *b, size_t i)
{
    view x;
    x.k = kiln_batch_key(b, i, &x.kl);
    x.v = kiln_batch_value(b, i, &x.vl);
    return x;
}

static void repr_view(t_strv *out, kiln_schema s, view x)
{
    t_buf line = {0};
    if (s.key.kind != KILN_KIND_NONE) {
        t_repr_exact(&line, s.key.kind, x.k, x.kl);
        t_buf_add(&line, "\t", 1);
    }
    t_repr_exact(&line, s.value.kind, x.v, x.vl);
    t_strv_add(out, line.p, line.len);
    t_buf_free(&line);
}

static void repr_collection(const kiln_collection *c, kiln_schema s, t_strv *out)
{
    const kiln_batch *b = kiln_collection_batch(c);
    for (size_t i = 0; i < b->n; i++)
        repr_view(out, s, batch_at(b, i));
}

/* The documented order, computed independently of the runtime. */
typedef struct ref_order {
    kiln_kind kind;
    bool descending;
    kiln_compare_fn compare; /* the order's, else the FIXED type's, or NULL */
    void *arg;
} ref_order;

static uint64_t total_order_bits(const unsigned char *p)
{
    uint64_t b;
    memcpy(&b, p, 8);
    return (b >> 63) ? ~b : b | (1ull << 63);
}

static int bytes_cmp(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c < 0 ? -1 : 1;
    return al < bl ? -1 : al > bl;
}

static int ref_cmp(const ref_order *o, view a, view b)
{
    int c;
    if (o->compare) {
        c = o->compare(a.k, b.k, a.kl, o->arg);
        c = c < 0 ? -1 : c > 0;
    } else if (o->kind == KILN_KIND_U64) {
        uint64_t x, y;
        memcpy(&x, a.k, 8);
        memcpy(&y, b.k, 8);
        c = x < y ? -1 : x > y;
    } else if (o->kind == KILN_KIND_I64) {
        int64_t x, y;
        memcpy(&x, a.k, 8);
        memcpy(&y, b.k, 8);
        c = x < y ? -1 : x > y;
    } else if (o->kind == KILN_KIND_F64) {
        uint64_t x = total_order_bits(a.k), y = total_order_bits(b.k);
        c = x < y ? -1 : x > y;
    } else {
        c = bytes_cmp(a.k, a.kl, b.k, b.kl);
    }
    if (!c)
        c = bytes_cmp(a.v, a.vl, b.v, b.vl);
    return o->descending ? -c : c;
}

/* Keys alone (for partition boundaries of partition_by RANGE). */
static int ref_key_cmp(const ref_order *o, view a, view b)
{
    view x = a, y = b;
    x.vl = y.vl = 0;
    return ref_cmp(o, x, y);
}

static const ref_order *g_order;
static const t_recs *g_recs;

static int by_ref(const void *x, const void *y)
{
    return ref_cmp(g_order, recs_at(g_recs, *(const size_t *)x),
                   recs_at(g_recs, *(const size_t *)y));
}

/* The records in the reference order, as text. */
static void reference_sorted(const t_recs *r, kiln_schema s, const ref_order *o,
                             t_strv *out)
{
    size_t *idx = malloc((r->n ? r->n : 1) * sizeof *idx);
    for (size_t i = 0; i < r->n; i++)
        idx[i] = i;
    g_order = o;
    g_recs = r;
    qsort(idx, r->n, sizeof *idx, by_ref);
    for (size_t i = 0; i < r->n; i++)
        repr_view(out, s, recs_at(r, idx[i]));
    free(idx);
}

static void reference_unsorted(const t_recs *r, kiln_schema s, t_strv *out)
{
    for (size_t i = 0; i < r->n; i++)
        repr_view(out, s, recs_at(r, i));
}

/* ------------------------------------------------------------------------ */
/* The same job at other rank counts                                          */
/* ------------------------------------------------------------------------ */

typedef kiln_status (*build_fn)(kiln_context *ctx, void *arg, kiln_dataset **out);

static kiln_status layout_of_build(kiln_context *ctx, build_fn build, void *arg,
                                   t_layout *lay)
{
    kiln_dataset *ds = NULL;
    kiln_status st = build(ctx, arg, &ds);
    if (st == KILN_OK)
        st = t_layout_of(ds, lay);
    kiln_dataset_destroy(&ds);
    return st;
}

/* Build on contexts over the first 1 and 2 ranks (when fewer than all) and
 * over all ranks with 7-record batches: each layout must equal `want`. */
static void check_rank_counts(const char *what, build_fn build, void *arg,
                              const t_layout *want, bool ordered)
{
    static const char *const tiny[] = {"--kiln-batch-records=7", NULL};
    uint64_t digest = t_layout_digest(want, ordered);
    for (int variant = 0; variant < 3; variant++) {
        int k = variant == 0 ? 1 : variant == 1 ? 2 : T.nranks;
        if (variant < 2 && k >= T.nranks)
            continue;
        kiln_context *sub = t_sub_context(k, variant == 2 ? tiny : NULL);
        uint64_t got = 0;
        if (sub) {
            t_layout lay;
            kiln_status st = layout_of_build(sub, build, arg, &lay);
            CHECK(st == KILN_OK, "%s on %d ranks: %s: %s", what, k,
                  kiln_strerror(st), kiln_context_last_error(sub));
            got = t_layout_digest(&lay, ordered);
            if (got != digest && T.rank == 0) {
                uint32_t n = lay.nparts > want->nparts ? lay.nparts : want->nparts;
                for (uint32_t p = 0; p < n && p < 16; p++)
                    fprintf(stderr, "  partition %u: %llu records here, %llu at %d "
                            "ranks\n", p, (unsigned long long)lay.counts[p],
                            (unsigned long long)want->counts[p], T.nranks);
            }
            t_sub_done(&sub);
        }
        got = t_bcast_u64(got);
        CHECK(got == digest, "%s: the partitions at %d ranks%s differ from those "
              "at %d ranks", what, k, variant == 2 ? " with 7-record batches" : "",
              T.nranks);
        t_sync();
    }
}

/* ------------------------------------------------------------------------ */
/* sort_by_key                                                                */
/* ------------------------------------------------------------------------ */

typedef struct sort_case {
    const char *name;
    kiln_schema s;
    const t_recs *recs;
    uint32_t in_parts;      /* partitions of the parallelized input */
    const kiln_order *order; /* NULL: ascending */
    uint32_t nparts;        /* asked of sort_by_key */
    double max_share;       /* largest partition / records (0: not checked) */
    double min_share;       /* smallest partition / records */
} sort_case;

static kiln_status build_sort(kiln_context *ctx, void *arg, kiln_dataset **out)
{
    const sort_case *c = arg;
    kiln_dataset *src = NULL;
    kiln_status st = t_parallelize(ctx, c->s, c->recs, c->in_parts, &src);
    if (st == KILN_OK)
        st = kiln_dataset_sort_by_key(src, c->order, c->nparts, out);
    kiln_dataset_destroy(&src);
    return st;
}

static ref_order ref_of(const sort_case *c)
{
    ref_order o = {c->s.key.kind, false, NULL, NULL};
    if (c->s.key.kind == KILN_KIND_FIXED && c->s.key.compare) {
        o.compare = c->s.key.compare;
        o.arg = c->s.key.arg;
    }
    if (c->order) {
        o.descending = c->order->descending;
        if (c->order->compare) {
            o.compare = c->order->compare;
            o.arg = c->order->arg;
        }
    }
    return o;
}

static void run_sort(const sort_case *c, bool across_ranks)
{
    char what[256];
    if (c->nparts)
        snprintf(what, sizeof what, "sort_by_key: %s into %u partitions", c->name,
                 c->nparts);
    else
        snprintf(what, sizeof what, "sort_by_key: %s", c->name);
    t_section(what);
    ref_order o = ref_of(c);
    kiln_dataset *sorted = NULL;
    EXPECT_OK(build_sort(T.ctx, (void *)c, &sorted));
    kiln_schema s = kiln_dataset_schema(sorted);
    CHECK(s.key.kind == c->s.key.kind && s.value.kind == c->s.value.kind,
          "sort keeps the schema");

    t_layout lay;
    EXPECT_OK(t_layout_of(sorted, &lay));
    uint32_t want_parts = c->nparts ? c->nparts
                          : c->in_parts > (uint32_t)T.nranks ? c->in_parts
                                                             : (uint32_t)T.nranks;
    CHECK(lay.nparts == want_parts, "%u partitions, expected %u", lay.nparts, want_parts);
    CHECK(lay.total == c->recs->n, "%llu records, expected %zu",
          (unsigned long long)lay.total, c->recs->n);

    kiln_collection *col = NULL;
    EXPECT_OK(kiln_dataset_collect(sorted, KILN_ALL_RANKS, &col));
    const kiln_batch *b = kiln_collection_batch(col);
    t_strv got = {0}, want = {0};
    repr_collection(col, s, &got);
    reference_sorted(c->recs, c->s, &o, &want);
    CHECK_STRV(&got, &want, what);

    /* Every record of partition p orders before those of p + 1. */
    size_t at = 0;
    for (uint32_t p = 0; p < lay.nparts && at + lay.counts[p] <= b->n; p++) {
        size_t end = at + (size_t)lay.counts[p];
        if (lay.counts[p] && end < b->n)
            CHECK(ref_cmp(&o, batch_at(b, end - 1), batch_at(b, end)) <= 0,
                  "the last record of partition %u orders after the first of "
                  "the next", p);
        at = end;
    }
    uint64_t largest = 0, smallest = UINT64_MAX;
    for (uint32_t p = 0; p < lay.nparts; p++) {
        largest = lay.counts[p] > largest ? lay.counts[p] : largest;
        smallest = lay.counts[p] < smallest ? lay.counts[p] : smallest;
    }
    if (c->max_share > 0)
        CHECK((double)largest <= c->max_share * (double)c->recs->n,
              "largest partition holds %llu of %zu records (at most %.0f%% "
              "expected)", (unsigned long long)largest, c->recs->n,
              100 * c->max_share);
    if (c->min_share > 0)
        CHECK((double)smallest >= c->min_share * (double)c->recs->n,
              "smallest partition holds %llu of %zu records (at least %.1f%% "
              "expected)", (unsigned long long)smallest, c->recs->n,
              100 * c->min_share);
    if (T.rank == 0 && getenv("KILN_TEST_VERBOSE")) {
        fprintf(stderr, "  sizes:");
        for (uint32_t p = 0; p < lay.nparts; p++)
            fprintf(stderr, " %llu", (unsigned long long)lay.counts[p]);
        fprintf(stderr, "\n");
    }
    t_strv_free(&got);
    t_strv_free(&want);
    kiln_collection_destroy(&col);
    kiln_dataset_destroy(&sorted);
    t_sync();
    if (across_ranks)
        check_rank_counts(what, build_sort, (void *)c, &lay, true);
}

/* ---- data ---- */

enum { NU = 30000 };

static void make_u64(t_recs *r, size_t n, uint64_t nkeys)
{
    t_recs_init(r, kiln_schema_of(KILN_T_U64, KILN_T_U64));
    for (size_t i = 0; i < n; i++) {
        uint64_t k = t_mix(i) % nkeys, v = t_mix(i + 1000003);
        t_recs_add(r, &k, 8, &v, 8);
    }
}

static void make_i64(t_recs *r)
{
    t_recs_init(r, kiln_schema_of(KILN_T_I64, KILN_T_I64));
    const int64_t edges[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX,
                             INT64_MAX - 1, -256, 255, 256};
    for (int64_t i = 0; i < 20000; i++) {
        int64_t k = i < 40 ? edges[i % 10] : (int64_t)(t_mix((uint64_t)i) % 2001) - 1000;
        int64_t v = 5000 - i; /* negative values too: ties by their bytes */
        t_recs_add(r, &k, 8, &v, 8);
    }
}

static double f64_of_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, 8);
    return d;
}

static void make_f64(t_recs *r)
{
    t_recs_init(r, kiln_schema_of(KILN_T_F64, KILN_T_U64));
    const double special[] = {
        0.0, -0.0, INFINITY, -INFINITY, f64_of_bits(0x7ff8000000000000ull),
        f64_of_bits(0xfff8000000000000ull), f64_of_bits(0x7ff0000000000001ull),
        f64_of_bits(0x7fffffffffffffffull), f64_of_bits(0xffffffffffffffffull),
        DBL_MAX, -DBL_MAX, DBL_MIN, -DBL_MIN, DBL_TRUE_MIN, -DBL_TRUE_MIN, 1.0,
        -1.0, 0.1, -0.1, 1e300, -1e300};
    enum { NSPECIAL = sizeof special / sizeof special[0] };
    for (uint64_t i = 0; i < 6000; i++) {
        double k;
        if (i < 4 * NSPECIAL)
            k = special[i % NSPECIAL];
        else
            k = ((double)(t_mix(i) % 2000001) - 1000000.0) / 64.0 *
                (i % 3 ? 1.0 : 1e-200);
        t_recs_add(r, &k, 8, &i, 8);
    }
}

static void make_strings(t_recs *r)
{
    t_recs_init(r, kiln_schema_of(KILN_T_STRING, KILN_T_STRING));
    static const struct {
        const char *s;
        size_t len;
    } special[] = {
        {"", 0},          {"a", 1},           {"ab", 2},         {"ab\0", 3},
        {"abc", 3},       {"abd", 3},         {"ab\xff", 3},      {"\xff", 1},
        {"\x80", 1},      {"\x7f", 1},        {"b", 1},          {"abcdefgh", 8},
        {"abcdefgh\0", 9}, {"abcdefghi", 9},   {"abcdefgh1", 9},   {"abcdefgg\xff", 9},
        {"prefix__0001", 12}, {"prefix__0002", 12}, {"prefix__", 8},
        {"prefix__00010", 13}, {"\0", 1},    {"\0\0", 2},
    };
    enum { NSPECIAL = sizeof special / sizeof special[0] };
    static const char alphabet[] = {'\0', 'a', 'b', 'z', '\x7f', '\x80', '\xff'};
    static const char *const values[] = {"", "x", "x\0", "xy", "\xff", "y"};
    static const size_t value_len[] = {0, 1, 2, 2, 1, 1};
    for (uint64_t i = 0; i < 20000; i++) {
        char key[32], val[32];
        size_t kl, vl;
        if (i < 6 * NSPECIAL) {
            kl = special[i % NSPECIAL].len;
            memcpy(key, special[i % NSPECIAL].s, kl);
            vl = value_len[i / NSPECIAL];
            memcpy(val, values[i / NSPECIAL], vl);
        } else {
            uint64_t x = t_mix(i);
            kl = (size_t)(x % 13);
            for (size_t j = 0; j < kl; j++)
                key[j] = alphabet[(x >> (4 + 3 * j)) % 4 + (j > 5 ? 3 : 0)];
            vl = (size_t)snprintf(val, sizeof val, "%llu", (unsigned long long)(i % 997));
        }
        t_recs_add(r, key, kl, val, vl);
    }
}

static void make_fixed(t_recs *r, size_t ksize, size_t n)
{
    kiln_type kt = kiln_type_fixed(ksize, NULL, NULL, NULL);
    t_recs_init(r, kiln_schema_of(kt, kiln_type_fixed(4, NULL, NULL, NULL)));
    for (uint64_t i = 0; i < n; i++) {
        unsigned char key[16];
        uint64_t x = t_mix(i), y = t_mix(~i);
        for (size_t j = 0; j < ksize; j++) /* 3 symbols: long shared prefixes */
            key[j] = (unsigned char)("\x00\x7f\xff"[((j < 8 ? x : y) >> (2 * (j % 8))) % 3]);
        uint32_t v = (uint32_t)(t_mix(i + 77) % 5); /* ties broken by value */
        t_recs_add(r, key, ksize, &v, 4);
    }
}

/* A FIXED key compared by its id only (the noise is ignored), id 3 first. */
typedef struct idkey {
    uint32_t id, noise;
} idkey;

static int compare_calls_bad; /* set if compare gets the wrong size or arg */
static const char compare_tag[] = "compare-arg";

static int idkey_compare(const void *a, const void *b, size_t size, void *arg)
{
    if (size != sizeof(idkey) || arg != (void *)compare_tag)
        compare_calls_bad = 1;
    idkey x, y;
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    uint32_t rx = x.id == 3 ? 0 : x.id + 1, ry = y.id == 3 ? 0 : y.id + 1;
    return rx < ry ? -100 : rx > ry ? 7 : 0; /* any sign, not just -1/1 */
}

static void make_idkeys(t_recs *r, kiln_type kt)
{
    t_recs_init(r, kiln_schema_of(kt, KILN_T_U64));
    for (uint64_t i = 0; i < 8000; i++) {
        idkey k = {(uint32_t)(t_mix(i) % 50), (uint32_t)t_mix(i + 5)};
        uint64_t v = t_mix(i + 9); /* distinct: the order is total */
        t_recs_add(r, &k, sizeof k, &v, 8);
    }
}

/* kiln_order.compare over U64 keys: by key % 10, then by key descending. */
static int mod_then_desc(const void *a, const void *b, size_t size, void *arg)
{
    if (size != 8 || arg != (void *)compare_tag)
        compare_calls_bad = 1;
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    if (x % 10 != y % 10)
        return x % 10 < y % 10 ? -1 : 1;
    return x > y ? -1 : x < y;
}

static void check_compare_calls(void)
{
    int bad = compare_calls_bad, any = 0;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    CHECK(!any, "a compare function got the wrong size or arg");
}

static void test_sort(void)
{
    t_recs u64, i64, f64, str, fix12, fix3, ids, ids_plain, skew, equal, asc, desc,
        few, empty;
    make_u64(&u64, NU, 2000);
    make_i64(&i64);
    make_f64(&f64);
    make_strings(&str);
    make_fixed(&fix12, 12, 20000);
    make_fixed(&fix3, 3, 5000);
    kiln_type idt = kiln_type_fixed(sizeof(idkey), NULL, idkey_compare,
                                    (void *)compare_tag);
    make_idkeys(&ids, idt);
    make_idkeys(&ids_plain, kiln_type_fixed(sizeof(idkey), NULL, NULL, NULL));
    kiln_schema uu = kiln_schema_of(KILN_T_U64, KILN_T_U64);
    t_recs_init(&skew, uu);
    t_recs_init(&equal, uu);
    t_recs_init(&asc, uu);
    t_recs_init(&desc, uu);
    t_recs_init(&few, uu);
    t_recs_init(&empty, uu);
    for (uint64_t i = 0; i < 40000; i++) {
        uint64_t k = i % 2 ? 777 : t_mix(i) % 5000, v = t_mix(i) >> 8;
        t_recs_add(&skew, &k, 8, &v, 8);
        uint64_t e = 5;
        if (i < 20000)
            t_recs_add(&equal, &e, 8, &v, 8);
        if (i < 20000)
            t_recs_add(&asc, &i, 8, &v, 8);
        uint64_t d = 20000 - i;
        if (i < 20000)
            t_recs_add(&desc, &d, 8, &v, 8);
        uint64_t f = 10 - i;
        if (i < 10)
            t_recs_add(&few, &f, 8, &v, 8);
    }
    kiln_order down = {true, NULL, NULL};
    kiln_order user = {false, mod_then_desc, (void *)compare_tag};
    kiln_order user_down = {true, mod_then_desc, (void *)compare_tag};
    kiln_order fixed_down = {true, NULL, NULL};

    kiln_schema fs = kiln_schema_of(kiln_type_fixed(12, NULL, NULL, NULL),
                                    kiln_type_fixed(4, NULL, NULL, NULL));
    kiln_schema f3 = kiln_schema_of(kiln_type_fixed(3, NULL, NULL, NULL),
                                    kiln_type_fixed(4, NULL, NULL, NULL));
    kiln_schema ids_s = kiln_schema_of(idt, KILN_T_U64);
    kiln_schema plain_s = kiln_schema_of(kiln_type_fixed(sizeof(idkey), NULL, NULL, NULL),
                                         KILN_T_U64);
    kiln_order by_id = {false, idkey_compare, (void *)compare_tag};
    kiln_schema ii = kiln_schema_of(KILN_T_I64, KILN_T_I64);
    kiln_schema fu = kiln_schema_of(KILN_T_F64, KILN_T_U64);
    kiln_schema ss = kiln_schema_of(KILN_T_STRING, KILN_T_STRING);

    const struct {
        sort_case c;
        bool across_ranks;
    } cases[] = {
        {{"U64 keys, default partitions", uu, &u64, 7, NULL, 0, 0.36, 0.03}, true},
        {{"U64 keys", uu, &u64, 7, NULL, 1, 0, 0}, false},
        {{"U64 keys", uu, &u64, 7, NULL, 5, 0.5, 0.05}, true},
        {{"U64 keys, more partitions than the input", uu, &u64, 7, NULL, 16, 0.16, 0.01},
         false},
        {{"U64 keys descending", uu, &u64, 7, &down, 5, 0.5, 0.05}, true},
        {{"I64 keys with negatives", ii, &i64, 6, NULL, 4, 0.6, 0.05}, false},
        {{"I64 keys descending", ii, &i64, 6, &down, 4, 0.6, 0.05}, false},
        {{"F64 keys: IEEE total order", fu, &f64, 5, NULL, 3, 0.7, 0.05}, true},
        {{"F64 keys descending", fu, &f64, 5, &down, 3, 0.7, 0.05}, false},
        {{"STRING keys: empty strings and prefixes", ss, &str, 6, NULL, 6, 0.5, 0.02},
         true},
        {{"STRING keys descending", ss, &str, 6, &down, 6, 0.5, 0.02}, false},
        /* One input partition: the other ranks sample nothing. */
        {{"STRING keys from one input partition", ss, &str, 1, NULL, 4, 0.6, 0.02},
         true},
        {{"STRING keys", ss, &str, 6, NULL, 1, 0, 0}, false}, /* no splitters */
        {{"FIXED 12-byte keys (long shared prefixes)", fs, &fix12, 5, NULL, 5, 0.5, 0.05},
         true},
        {{"FIXED 12-byte keys descending", fs, &fix12, 5, &fixed_down, 5, 0.5, 0.05},
         false},
        {{"FIXED 3-byte keys", f3, &fix3, 4, NULL, 4, 0.6, 0.05}, false},
        {{"FIXED keys with the type's compare", ids_s, &ids, 4, NULL, 4, 0.6, 0.05},
         true},
        {{"FIXED keys with the type's compare, descending", ids_s, &ids, 4, &down, 4,
          0.6, 0.05}, false},
        {{"FIXED keys with kiln_order.compare", plain_s, &ids_plain, 4, &by_id, 3, 0.7,
          0.05}, false},
        {{"U64 keys with kiln_order.compare", uu, &u64, 7, &user, 4, 0.6, 0.05}, true},
        {{"U64 keys with kiln_order.compare, descending", uu, &u64, 7, &user_down, 4,
          0.6, 0.05}, false},
        {{"skewed: one key in 50% of records", uu, &skew, 8, NULL, 8, 0.25, 0.03}, true},
        {{"skewed, descending", uu, &skew, 8, &down, 8, 0.25, 0.03}, false},
        {{"all keys equal", uu, &equal, 8, NULL, 8, 0.25, 0.03}, true},
        {{"already sorted", uu, &asc, 4, NULL, 4, 0.45, 0.1}, true},
        {{"reverse sorted", uu, &desc, 4, NULL, 4, 0.45, 0.1}, true},
        {{"10 records", uu, &few, 3, NULL, 20, 0, 0}, true},
        {{"no records", uu, &empty, 3, NULL, 3, 0, 0}, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_sort(&cases[i].c, cases[i].across_ranks);
    check_compare_calls();

    t_section("sort_by_key: a dataset without keys is refused");
    kiln_dataset *plain = NULL, *sentinel = (kiln_dataset *)&T, *bad = sentinel;
    EXPECT_OK(kiln_range(T.ctx, 0, 100, 1, 4, &plain));
    EXPECT_STATUS(kiln_dataset_sort_by_key(plain, NULL, 0, &bad), KILN_ERR_INVAL);
    CHECK(bad == sentinel, "a failed sort_by_key wrote its out-parameter");
    kiln_collection *c = NULL;
    EXPECT_STATUS(kiln_dataset_take_ordered(plain, 5, NULL, &c), KILN_ERR_INVAL);
    CHECK(c == NULL, "a failed take_ordered wrote its out-parameter");
    kiln_dataset_destroy(&plain);

    t_recs *all[] = {&u64, &i64, &f64, &str, &fix12, &fix3, &ids, &ids_plain,
                     &skew, &equal, &asc, &desc, &few, &empty};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        t_recs_free(all[i]);
}

/* ------------------------------------------------------------------------ */
/* partition_by                                                               */
/* ------------------------------------------------------------------------ */

/* A dataset collected with the partition of each record. */
typedef struct placed {
    t_layout lay;
    kiln_collection *c;
    const kiln_batch *b;
    uint32_t *part; /* per record */
} placed;

static void place(kiln_dataset *ds, placed *out)
{
    memset(out, 0, sizeof *out);
    EXPECT_OK(t_layout_of(ds, &out->lay));
    EXPECT_OK(kiln_dataset_collect(ds, KILN_ALL_RANKS, &out->c));
    out->b = kiln_collection_batch(out->c);
    out->part = calloc(out->b->n ? out->b->n : 1, sizeof *out->part);
    CHECK(out->b->n == out->lay.total, "collect gave %zu records, the layout %llu",
          out->b->n, (unsigned long long)out->lay.total);
    size_t at = 0;
    for (uint32_t p = 0; p < out->lay.nparts; p++)
        for (uint64_t j = 0; j < out->lay.counts[p] && at < out->b->n; j++)
            out->part[at++] = p;
}

static void placed_free(placed *p)
{
    kiln_collection_destroy(&p->c);
    free(p->part);
}

/* Each key's partition, "key-text\tpartition", sorted; also checks that all
 * records of a key are in one partition. */
static void key_partitions(const placed *pl, kiln_schema s, t_strv *out)
{
    t_strv all = {0};
    for (size_t i = 0; i < pl->b->n; i++) {
        t_buf line = {0};
        view x = batch_at(pl->b, i);
        t_repr_exact(&line, s.key.kind, x.k, x.kl);
        t_buf_addf(&line, "\t%u", pl->part[i]);
        t_strv_add(&all, line.p, line.len);
        t_buf_free(&line);
    }
    t_strv_sort(&all);
    for (size_t i = 0; i < all.n; i++) {
        if (i > 0 && all.len[i] == all.len[i - 1] &&
            memcmp(all.s[i], all.s[i - 1], all.len[i]) == 0)
            continue;
        const char *tab = memrchr(all.s[i], '\t', all.len[i]);
        size_t klen = (size_t)(tab - all.s[i]);
        if (out->n) {
            const char *prev = out->s[out->n - 1];
            const char *ptab = memrchr(prev, '\t', out->len[out->n - 1]);
            CHECK((size_t)(ptab - prev) != klen || memcmp(prev, all.s[i], klen) != 0,
                  "key %.*s is in two partitions", (int)klen, all.s[i]);
        }
        t_strv_add(out, all.s[i], all.len[i]);
    }
    t_strv_free(&all);
}

typedef struct part_case {
    kiln_schema s;
    const t_recs *recs;
    uint32_t in_parts, nparts;
    kiln_partitioner how;
} part_case;

static kiln_status build_partitioned(kiln_context *ctx, void *arg, kiln_dataset **out)
{
    const part_case *c = arg;
    kiln_dataset *src = NULL;
    kiln_status st = t_parallelize(ctx, c->s, c->recs, c->in_parts, &src);
    if (st == KILN_OK)
        st = kiln_dataset_partition_by(src, c->how, c->nparts, out);
    kiln_dataset_destroy(&src);
    return st;
}

static kiln_status build_reduced(kiln_context *ctx, void *arg, kiln_dataset **out)
{
    const part_case *c = arg;
    kiln_dataset *src = NULL;
    kiln_status st = t_parallelize(ctx, c->s, c->recs, c->in_parts, &src);
    if (st == KILN_OK)
        st = kiln_dataset_group_by_key(src, c->nparts, out);
    kiln_dataset_destroy(&src);
    return st;
}

/* The same records, as multisets. */
static void check_same_records(const kiln_batch *b, kiln_schema s, const t_recs *r,
                               const char *what)
{
    t_strv got = {0}, want = {0};
    for (size_t i = 0; i < b->n; i++)
        repr_view(&got, s, batch_at(b, i));
    reference_unsorted(r, s, &want);
    t_strv_sort(&got);
    t_strv_sort(&want);
    CHECK_STRV(&got, &want, what);
    t_strv_free(&got);
    t_strv_free(&want);
}

static void test_partition_hash(void)
{
    t_recs u64, str, one;
    make_u64(&u64, 20000, 500);
    make_strings(&str);
    kiln_schema uu = kiln_schema_of(KILN_T_U64, KILN_T_U64);
    kiln_schema ss = kiln_schema_of(KILN_T_STRING, KILN_T_STRING);
    const part_case cases[] = {
        {uu, &u64, 7, 6, KILN_PARTITION_HASH},
        {ss, &str, 5, 3, KILN_PARTITION_HASH},
        {uu, &u64, 7, 0, KILN_PARTITION_HASH},
    };
    for (size_t ci = 0; ci < 3; ci++) {
        const part_case *c = &cases[ci];
        char what[160];
        snprintf(what, sizeof what, "partition_by HASH: %s keys into %u partitions",
                 c->s.key.kind == KILN_KIND_U64 ? "U64" : "STRING", c->nparts);
        t_section(what);
        kiln_dataset *ds = NULL, *red = NULL;
        EXPECT_OK(build_partitioned(T.ctx, (void *)c, &ds));
        placed pl;
        place(ds, &pl);
        uint32_t want_parts = c->nparts ? c->nparts
                              : c->in_parts > (uint32_t)T.nranks ? c->in_parts
                                                                 : (uint32_t)T.nranks;
        CHECK(pl.lay.nparts == want_parts, "%u partitions, expected %u",
              pl.lay.nparts, want_parts);
        check_same_records(pl.b, c->s, c->recs, "every record once");
        t_strv keys = {0}, rkeys = {0};
        key_partitions(&pl, c->s, &keys);
        /* "by a hash of the key (reduce_by_key's)": the placement of every
         * hash-partitioned shuffle (group_by_key also takes STRING values). */
        EXPECT_OK(build_reduced(T.ctx, (void *)c, &red));
        placed rp;
        place(red, &rp);
        key_partitions(&rp, c->s, &rkeys);
        CHECK_STRV(&keys, &rkeys, "each key in the partition group_by_key puts it in");
        t_strv_free(&keys);
        t_strv_free(&rkeys);
        placed_free(&rp);
        placed_free(&pl);
        t_layout lay = pl.lay;
        kiln_dataset_destroy(&red);
        kiln_dataset_destroy(&ds);
        t_sync();
        /* Arrival order within a partition is not defined: contents only. */
        check_rank_counts(what, build_partitioned, (void *)c, &lay, false);
    }

    t_section("partition_by HASH: records keep their order from one input partition");
    t_recs_init(&one, kiln_schema_of(KILN_T_U64, KILN_T_U64));
    for (uint64_t i = 0; i < 5000; i++) {
        uint64_t k = t_mix(i) % 40;
        t_recs_add(&one, &k, 8, &i, 8);
    }
    part_case oc = {kiln_schema_of(KILN_T_U64, KILN_T_U64), &one, 1, 4,
                    KILN_PARTITION_HASH};
    kiln_dataset *ds = NULL;
    EXPECT_OK(build_partitioned(T.ctx, &oc, &ds));
    placed pl;
    place(ds, &pl);
    for (size_t i = 1; i < pl.b->n; i++)
        if (pl.part[i] == pl.part[i - 1] &&
            !CHECK(kiln_batch_value_u64(pl.b, i) > kiln_batch_value_u64(pl.b, i - 1),
                   "partition %u: record %llu after %llu", pl.part[i],
                   (unsigned long long)kiln_batch_value_u64(pl.b, i),
                   (unsigned long long)kiln_batch_value_u64(pl.b, i - 1)))
            break;
    placed_free(&pl);
    kiln_dataset_destroy(&ds);

    t_section("partition_by: a dataset without keys is refused");
    kiln_dataset *plain = NULL, *sentinel = (kiln_dataset *)&T, *bad = sentinel;
    EXPECT_OK(kiln_range(T.ctx, 0, 100, 1, 4, &plain));
    EXPECT_STATUS(kiln_dataset_partition_by(plain, KILN_PARTITION_HASH, 4, &bad),
                  KILN_ERR_INVAL);
    EXPECT_STATUS(kiln_dataset_partition_by(plain, KILN_PARTITION_RANGE, 4, &bad),
                  KILN_ERR_INVAL);
    CHECK(bad == sentinel, "a failed partition_by wrote its out-parameter");
    kiln_dataset_destroy(&plain);
    t_recs_free(&u64);
    t_recs_free(&str);
    t_recs_free(&one);
}

static void test_partition_range(void)
{
    t_recs u64, str, skew;
    make_u64(&u64, 20000, 3000);
    make_strings(&str);
    t_recs_init(&skew, kiln_schema_of(KILN_T_U64, KILN_T_U64));
    for (uint64_t i = 0; i < 20000; i++) {
        uint64_t k = i % 2 ? 42 : t_mix(i) % 100, v = t_mix(i);
        t_recs_add(&skew, &k, 8, &v, 8);
    }
    kiln_schema uu = kiln_schema_of(KILN_T_U64, KILN_T_U64);
    const struct {
        const char *name;
        part_case c;
        double max_share;
    } cases[] = {
        {"U64 keys", {uu, &u64, 7, 5, KILN_PARTITION_RANGE}, 0.45},
        {"STRING keys", {kiln_schema_of(KILN_T_STRING, KILN_T_STRING), &str, 5, 4,
                         KILN_PARTITION_RANGE}, 0.55},
        {"one key in 50% of records", {uu, &skew, 4, 6, KILN_PARTITION_RANGE}, 0.35},
    };
    for (size_t ci = 0; ci < 3; ci++) {
        const part_case *c = &cases[ci].c;
        char what[160];
        snprintf(what, sizeof what, "partition_by RANGE: %s into %u partitions",
                 cases[ci].name, c->nparts);
        t_section(what);
        kiln_dataset *ds = NULL;
        EXPECT_OK(build_partitioned(T.ctx, (void *)c, &ds));
        placed pl;
        place(ds, &pl);
        CHECK(pl.lay.nparts == c->nparts, "%u partitions, expected %u", pl.lay.nparts,
              c->nparts);
        check_same_records(pl.b, c->s, c->recs, "every record once");
        /* Every key of partition p <= every key of any later partition. */
        ref_order o = {c->s.key.kind, false, NULL, NULL};
        size_t n = pl.b->n, *max_of = calloc(c->nparts + 1, sizeof *max_of),
               *min_of = calloc(c->nparts + 1, sizeof *min_of);
        bool *seen = calloc(c->nparts + 1, sizeof *seen);
        for (size_t i = 0; i < n; i++) {
            uint32_t p = pl.part[i];
            if (!seen[p] || ref_key_cmp(&o, batch_at(pl.b, i), batch_at(pl.b, max_of[p])) > 0)
                max_of[p] = i;
            if (!seen[p] || ref_key_cmp(&o, batch_at(pl.b, i), batch_at(pl.b, min_of[p])) < 0)
                min_of[p] = i;
            seen[p] = true;
        }
        for (uint32_t p = 0; p < c->nparts; p++)
            for (uint32_t q = p + 1; q < c->nparts; q++)
                if (seen[p] && seen[q])
                    CHECK(ref_key_cmp(&o, batch_at(pl.b, max_of[p]),
                                      batch_at(pl.b, min_of[q])) <= 0,
                          "a key of partition %u orders after a key of partition %u",
                          p, q);
        for (uint32_t p = 0; p < pl.lay.nparts; p++)
            CHECK((double)pl.lay.counts[p] <= cases[ci].max_share * (double)n,
                  "partition %u holds %llu of %zu records", p,
                  (unsigned long long)pl.lay.counts[p], n);
        free(max_of);
        free(min_of);
        free(seen);
        t_layout lay = pl.lay;
        placed_free(&pl);
        kiln_dataset_destroy(&ds);
        t_sync();
        check_rank_counts(what, build_partitioned, (void *)c, &lay, false);
    }
    t_recs_free(&u64);
    t_recs_free(&str);
    t_recs_free(&skew);
}

/* ------------------------------------------------------------------------ */
/* repartition and coalesce                                                   */
/* ------------------------------------------------------------------------ */

/* I64 v -> (I64 v, FIXED {input partition, position in it}) */
typedef struct tag_state {
    uint64_t part, pos;
} tag_state;

static kiln_status tag_open(uint32_t partition, void **state, void *arg)
{
    (void)arg;
    tag_state *s = calloc(1, sizeof *s);
    if (!s)
        return kiln_error(KILN_ERR_NOMEM, "tag");
    s->part = partition;
    *state = s;
    return KILN_OK;
}

static kiln_status tag_batch(const kiln_batch *in, kiln_emitter *out, void *state,
                             void *arg)
{
    (void)arg;
    tag_state *s = state;
    for (size_t i = 0; i < in->n; i++) {
        int64_t v = kiln_batch_value_i64(in, i);
        uint64_t where[2] = {s->part, s->pos++};
        kiln_status st = kiln_emit(out, &v, 8, where, 16);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status tag_close(kiln_emitter *out, void *state, void *arg)
{
    (void)out;
    (void)arg;
    free(state);
    return KILN_OK;
}

typedef struct repart_case {
    int64_t n;
    uint32_t in_parts, nparts;
} repart_case;

static kiln_status build_tagged(kiln_context *ctx, const repart_case *c,
                                kiln_dataset **out)
{
    kiln_dataset *src = NULL;
    kiln_partition_fns fns = {tag_open, tag_batch, tag_close};
    kiln_status st = kiln_range(ctx, 0, c->n, 1, c->in_parts, &src);
    if (st == KILN_OK)
        st = kiln_dataset_map_partitions(
            src, kiln_schema_of(KILN_T_I64, kiln_type_fixed(16, NULL, NULL, NULL)),
            fns, NULL, out);
    kiln_dataset_destroy(&src);
    return st;
}

static kiln_status build_repartitioned(kiln_context *ctx, void *arg, kiln_dataset **out)
{
    const repart_case *c = arg;
    kiln_dataset *tagged = NULL;
    kiln_status st = build_tagged(ctx, c, &tagged);
    if (st == KILN_OK)
        st = kiln_dataset_repartition(tagged, c->nparts, out);
    kiln_dataset_destroy(&tagged);
    return st;
}

static void test_repartition(void)
{
    const repart_case cases[] = {{10007, 6, 4}, {5000, 3, 7}, {3, 2, 8}, {1000, 5, 1}};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const repart_case *c = &cases[ci];
        char what[160];
        snprintf(what, sizeof what, "repartition: %lld records in %u partitions "
                 "into %u", (long long)c->n, c->in_parts, c->nparts);
        t_section(what);
        kiln_dataset *tagged = NULL, *re = NULL;
        EXPECT_OK(build_tagged(T.ctx, c, &tagged));
        t_layout in;
        EXPECT_OK(t_layout_of(tagged, &in));
        EXPECT_OK(kiln_dataset_repartition(tagged, c->nparts, &re));
        placed pl;
        place(re, &pl);
        CHECK(pl.lay.nparts == c->nparts, "%u partitions, expected %u", pl.lay.nparts,
              c->nparts);
        /* Record i of input partition p goes to partition (p + i) % nparts. */
        uint64_t want[T_MAX_PARTS] = {0};
        for (uint32_t p = 0; p < in.nparts; p++)
            for (uint64_t i = 0; i < in.counts[p]; i++)
                want[(p + i) % c->nparts]++;
        for (uint32_t q = 0; q < c->nparts; q++)
            CHECK(pl.lay.counts[q] == want[q], "partition %u holds %llu records, "
                  "expected %llu", q, (unsigned long long)pl.lay.counts[q],
                  (unsigned long long)want[q]);
        unsigned char *seen = calloc((size_t)c->n, 1);
        int bad = 0;
        for (size_t r = 0; r < pl.b->n; r++) {
            int64_t v = kiln_batch_key_i64(pl.b, r);
            size_t len;
            uint64_t where[2];
            memcpy(where, kiln_batch_value(pl.b, r, &len), 16);
            if (v < 0 || v >= c->n || seen[v]) {
                bad += CHECK(false, "record %lld twice or unknown", (long long)v) ? 0 : 1;
            } else {
                seen[v] = 1;
                if ((where[0] + where[1]) % c->nparts != pl.part[r] && bad++ < 3)
                    CHECK(false, "record %llu of input partition %llu is in "
                          "partition %u", (unsigned long long)where[1],
                          (unsigned long long)where[0], pl.part[r]);
            }
            if (bad > 3)
                break;
        }
        CHECK(pl.b->n == (size_t)c->n, "%zu records, expected %lld", pl.b->n,
              (long long)c->n);
        free(seen);
        t_layout lay = pl.lay;
        placed_free(&pl);
        kiln_dataset_destroy(&re);
        kiln_dataset_destroy(&tagged);
        t_sync();
        check_rank_counts(what, build_repartitioned, (void *)c, &lay, false);
    }
}

static kiln_status key_mod(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    uint64_t m = *(const uint64_t *)arg;
    for (size_t i = 0; i < in->n; i++) {
        uint64_t k = (uint64_t)kiln_batch_value_i64(in, i) % m, one = 1;
        kiln_status st = kiln_emit(out, &k, 8, &one, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static void test_coalesce(void)
{
    enum { NC = 10000, PC = 12 };
    kiln_dataset *src = NULL, *co = NULL;
    EXPECT_OK(kiln_range(T.ctx, 0, NC, 1, PC, &src));
    t_layout in;
    EXPECT_OK(t_layout_of(src, &in));
    CHECK(in.nparts == PC, "range: %u partitions", in.nparts);
    const uint32_t widths[] = {5, 1, 11, 12, 50};
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        uint32_t w = widths[wi];
        char what[128];
        snprintf(what, sizeof what, "coalesce: %d partitions into %u", PC, w);
        t_section(what);
        EXPECT_OK(kiln_dataset_coalesce(src, w, &co));
        t_layout lay;
        EXPECT_OK(t_layout_of(co, &lay));
        uint32_t out_parts = w < PC ? w : PC;
        CHECK(lay.nparts == out_parts, "%u partitions, expected %u", lay.nparts,
              out_parts);
        /* Output q is input partitions [q P / n, (q + 1) P / n) in order. */
        for (uint32_t q = 0; q < out_parts; q++) {
            uint64_t want = 0;
            for (uint32_t j = q * PC / out_parts; j < (q + 1) * PC / out_parts; j++)
                want += in.counts[j];
            CHECK(lay.counts[q] == want, "partition %u holds %llu records, expected "
                  "%llu", q, (unsigned long long)lay.counts[q],
                  (unsigned long long)want);
        }
        if (w >= PC)
            CHECK(t_layout_digest(&lay, true) == t_layout_digest(&in, true),
                  "coalesce to %u >= %d partitions is not the dataset itself", w, PC);
        t_strv got = {0}, want = {0};
        t_collect_repr(co, &got);
        for (int v = 0; v < NC; v++)
            t_strv_addf(&want, "%d", v);
        CHECK_STRV(&got, &want, "records in their order");
        t_strv_free(&got);
        t_strv_free(&want);
        kiln_dataset_destroy(&co);
    }

    t_section("coalesce: a shuffled dataset");
    kiln_dataset *kv = NULL, *red = NULL;
    uint64_t m = 100;
    EXPECT_OK(kiln_dataset_map(src, kiln_schema_of(KILN_T_U64, KILN_T_U64), key_mod, &m,
                               &kv));
    EXPECT_OK(kiln_dataset_reduce_by_key(kv, KILN_OP_SUM, NULL, NULL, 4, &red));
    /* nparts >= P: the dataset itself, wherever its partitions are. */
    EXPECT_OK(kiln_dataset_coalesce(red, 4, &co));
    CHECK(t_count(co) == 100, "coalesce(4) of 4 shuffled partitions");
    kiln_dataset_destroy(&co);
    /* Fewer: one task would have to read partitions held on several ranks. */
    EXPECT_OK(kiln_dataset_coalesce(red, 1, &co));
    uint64_t n = 0;
    if (T.nranks == 1) {
        EXPECT_OK(kiln_dataset_count(co, &n));
        CHECK(n == 100, "coalesce(1) at one rank: %llu records", (unsigned long long)n);
        t_strv got = {0}, want = {0};
        t_collect_repr(co, &got);
        t_strv_sort(&got);
        for (int k = 0; k < 100; k++)
            t_strv_addf(&want, "%d\t%d", k, NC / 100);
        t_strv_sort(&want);
        CHECK_STRV(&got, &want, "coalesced sums");
        t_strv_free(&got);
        t_strv_free(&want);
    } else {
        EXPECT_STATUS(kiln_dataset_count(co, &n), KILN_ERR_STATE);
        CHECK_ERROR_MENTIONS("coalesce");
        CHECK(n == 0, "a failed count wrote its out-parameter");
        /* The context is still usable. */
        CHECK(t_count(red) == 100, "the shuffled dataset after the refusal");
    }
    kiln_dataset_destroy(&co);
    kiln_dataset_destroy(&red);
    kiln_dataset_destroy(&kv);
    kiln_dataset_destroy(&src);
}

/* ------------------------------------------------------------------------ */
/* take_ordered                                                               */
/* ------------------------------------------------------------------------ */

static void test_take_ordered(void)
{
    t_recs u64, str;
    make_u64(&u64, NU, 2000);
    make_strings(&str);
    kiln_schema uu = kiln_schema_of(KILN_T_U64, KILN_T_U64);
    kiln_schema ss = kiln_schema_of(KILN_T_STRING, KILN_T_STRING);
    kiln_order down = {true, NULL, NULL};
    kiln_order user = {false, mod_then_desc, (void *)compare_tag};
    const struct {
        const char *name;
        kiln_schema s;
        const t_recs *r;
        const kiln_order *order;
        size_t n;
    } cases[] = {
        {"U64 ascending", uu, &u64, NULL, 10},
        {"U64 ascending, ties by value", uu, &u64, NULL, 1000},
        {"U64 descending", uu, &u64, &down, 100},
        {"U64 kiln_order.compare", uu, &u64, &user, 25},
        {"U64, n larger than the dataset", uu, &u64, NULL, NU + 5},
        {"U64, n = 0", uu, &u64, NULL, 0},
        {"U64, n = SIZE_MAX", uu, &u64, &down, SIZE_MAX},
        {"STRING ascending", ss, &str, NULL, 150},
        {"STRING descending", ss, &str, &down, 150},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        char what[128];
        snprintf(what, sizeof what, "take_ordered: %s, n = %zu", cases[ci].name,
                 cases[ci].n);
        t_section(what);
        kiln_dataset *src = NULL;
        EXPECT_OK(t_parallelize(T.ctx, cases[ci].s, cases[ci].r, 7, &src));
        kiln_collection *c = NULL;
        EXPECT_OK(kiln_dataset_take_ordered(src, cases[ci].n, cases[ci].order, &c));
        t_strv got = {0}, want = {0};
        repr_collection(c, cases[ci].s, &got);
        sort_case sc = {"", cases[ci].s, cases[ci].r, 7, cases[ci].order, 0, 0, 0};
        ref_order o = ref_of(&sc);
        reference_sorted(cases[ci].r, cases[ci].s, &o, &want);
        while (want.n > cases[ci].n) { /* keep the first n */
            free(want.s[--want.n]);
        }
        CHECK_STRV(&got, &want, what); /* on every rank */
        t_strv_free(&got);
        t_strv_free(&want);
        kiln_collection_destroy(&c);
        kiln_dataset_destroy(&src);
    }
    check_compare_calls();

    t_section("take_ordered: an empty dataset");
    t_recs none;
    t_recs_init(&none, uu);
    kiln_dataset *src = NULL;
    kiln_collection *c = NULL;
    EXPECT_OK(t_parallelize(T.ctx, uu, &none, 3, &src));
    EXPECT_OK(kiln_dataset_take_ordered(src, 10, NULL, &c));
    CHECK(c && kiln_collection_batch(c)->n == 0, "records from nothing");
    kiln_collection_destroy(&c);
    kiln_dataset_destroy(&src);
    t_recs_free(&none);
    t_recs_free(&u64);
    t_recs_free(&str);
}

/* ------------------------------------------------------------------------ */
/* zip_with_index                                                             */
/* ------------------------------------------------------------------------ */

static kiln_status count_runs(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    uint64_t n = in->n;
    kiln_status st = kiln_accumulator_add(arg, &n, 1);
    for (size_t i = 0; i < in->n && st == KILN_OK; i++)
        st = kiln_emit_record(out, in, i);
    return st;
}

static uint64_t runs_of(kiln_accumulator *acc)
{
    uint64_t v = 0;
    kiln_accumulator_value(acc, &v);
    return v;
}

/* (U64 i, I64 i) for i in 0..n-1 */
static void expect_indexed(kiln_dataset *z, int64_t n, const char *what)
{
    kiln_schema s = kiln_dataset_schema(z);
    CHECK(s.key.kind == KILN_KIND_U64 && s.value.kind == KILN_KIND_I64,
          "zip_with_index gives (U64 index, the value)");
    t_strv got = {0}, want = {0};
    t_collect_repr(z, &got);
    for (int64_t i = 0; i < n; i++)
        t_strv_addf(&want, "%lld\t%lld", (long long)i, (long long)i);
    CHECK_STRV(&got, &want, what);
    t_strv_free(&got);
    t_strv_free(&want);
}

static void test_zip(void)
{
    enum { NZ = 25000 };
    t_section("zip_with_index: not cached (one counting pass)");
    kiln_accumulator *runs = NULL;
    EXPECT_OK(kiln_accumulator_create(T.ctx, KILN_KIND_U64, KILN_OP_SUM, 1, &runs));
    kiln_dataset *src = NULL, *m = NULL, *z = NULL;
    EXPECT_OK(kiln_range(T.ctx, 0, NZ, 1, 9, &src));
    EXPECT_OK(kiln_dataset_map(src, kiln_dataset_schema(src), count_runs, runs, &m));
    EXPECT_OK(kiln_dataset_zip_with_index(m, &z));
    CHECK(runs_of(runs) == NZ, "zip_with_index counted with %llu callback records, "
          "expected one pass (%d)", (unsigned long long)runs_of(runs), NZ);
    expect_indexed(z, NZ, "indices 0..N-1 in partition order");
    CHECK(runs_of(runs) == 2 * NZ, "after collect: %llu records mapped",
          (unsigned long long)runs_of(runs));
    kiln_dataset_destroy(&z);
    kiln_dataset_destroy(&m);

    t_section("zip_with_index: a cached parent is not read again");
    kiln_accumulator *runs2 = NULL;
    EXPECT_OK(kiln_accumulator_create(T.ctx, KILN_KIND_U64, KILN_OP_SUM, 1, &runs2));
    EXPECT_OK(kiln_dataset_map(src, kiln_dataset_schema(src), count_runs, runs2, &m));
    kiln_dataset_cache(m);
    CHECK(t_count(m) == NZ, "first action");
    CHECK(runs_of(runs2) == NZ, "first action mapped %llu records",
          (unsigned long long)runs_of(runs2));
    EXPECT_OK(kiln_dataset_zip_with_index(m, &z));
    CHECK(runs_of(runs2) == NZ, "zip_with_index of a cached dataset made a pass "
          "(%llu records mapped)", (unsigned long long)runs_of(runs2));
    expect_indexed(z, NZ, "indices over the cached partitions");
    CHECK(runs_of(runs2) == NZ, "collecting the zipped cached dataset mapped again "
          "(%llu)", (unsigned long long)runs_of(runs2));
    kiln_dataset_destroy(&z);
    kiln_dataset_destroy(&m);

    t_section("zip_with_index: a parent cached in part (after a take)");
    kiln_accumulator *runs3 = NULL;
    EXPECT_OK(kiln_accumulator_create(T.ctx, KILN_KIND_U64, KILN_OP_SUM, 1, &runs3));
    EXPECT_OK(kiln_dataset_map(src, kiln_dataset_schema(src), count_runs, runs3, &m));
    kiln_dataset_cache(m);
    kiln_collection *first = NULL;
    EXPECT_OK(kiln_dataset_take(m, 5, &first));
    CHECK(kiln_collection_batch(first)->n == 5, "take(5)");
    kiln_collection_destroy(&first);
    uint64_t after_take = runs_of(runs3);
    CHECK(after_take < NZ, "take(5) computed every partition (%llu records)",
          (unsigned long long)after_take);
    EXPECT_OK(kiln_dataset_zip_with_index(m, &z));
    CHECK(runs_of(runs3) - after_take <= NZ, "zip_with_index mapped %llu records",
          (unsigned long long)(runs_of(runs3) - after_take));
    expect_indexed(z, NZ, "indices over partly cached partitions");
    kiln_dataset_destroy(&z);
    kiln_dataset_destroy(&m);
    kiln_accumulator_destroy(&runs3);

    t_section("zip_with_index: keyed, after a sort (partition order)");
    t_recs u64;
    make_u64(&u64, 5000, 300);
    kiln_schema uu = kiln_schema_of(KILN_T_U64, KILN_T_U64);
    kiln_dataset *p = NULL, *sorted = NULL;
    EXPECT_OK(t_parallelize(T.ctx, uu, &u64, 5, &p));
    EXPECT_OK(kiln_dataset_sort_by_key(p, NULL, 6, &sorted));
    EXPECT_OK(kiln_dataset_zip_with_index(sorted, &z));
    kiln_collection *c = NULL;
    EXPECT_OK(kiln_dataset_collect(z, KILN_ALL_RANKS, &c));
    const kiln_batch *b = kiln_collection_batch(c);
    t_strv got = {0}, want = {0}, plain = {0};
    ref_order o = {KILN_KIND_U64, false, NULL, NULL};
    reference_sorted(&u64, uu, &o, &plain); /* "key\tvalue" */
    for (size_t i = 0; i < b->n; i++)
        t_strv_addf(&got, "%zu:%llu", i, (unsigned long long)kiln_batch_key_u64(b, i) ==
                    i ? (unsigned long long)kiln_batch_value_u64(b, i) : ~0ull);
    for (size_t i = 0; i < plain.n; i++) {
        const char *tab = memchr(plain.s[i], '\t', plain.len[i]);
        t_strv_addf(&want, "%zu:%s", i, tab + 1);
    }
    CHECK_STRV(&got, &want, "(index, value) with the old key dropped");
    kiln_collection_destroy(&c);
    t_strv_free(&got);
    t_strv_free(&want);
    t_strv_free(&plain);
    kiln_dataset_destroy(&z);
    kiln_dataset_destroy(&sorted);
    kiln_dataset_destroy(&p);
    t_recs_free(&u64);

    t_section("zip_with_index: an empty dataset");
    kiln_dataset *empty = NULL;
    EXPECT_OK(kiln_range(T.ctx, 0, 0, 1, 3, &empty));
    EXPECT_OK(kiln_dataset_zip_with_index(empty, &z));
    CHECK(t_count(z) == 0, "no records");
    kiln_dataset_destroy(&z);
    kiln_dataset_destroy(&empty);
    kiln_dataset_destroy(&src);
    kiln_accumulator_destroy(&runs);
    kiln_accumulator_destroy(&runs2);
}

/* ------------------------------------------------------------------------ */
/* sample                                                                     */
/* ------------------------------------------------------------------------ */

enum { NS = 100000 };

typedef struct sample_case {
    bool replace;
    double fraction;
    uint64_t seed;
} sample_case;

static kiln_status build_sample(kiln_context *ctx, void *arg, kiln_dataset **out)
{
    const sample_case *c = arg;
    kiln_dataset *src = NULL;
    kiln_status st = kiln_range(ctx, 0, NS, 1, 16, &src);
    if (st == KILN_OK)
        st = kiln_dataset_sample(src, c->replace, c->fraction, c->seed, out);
    kiln_dataset_destroy(&src);
    return st;
}

static void test_sample(void)
{
    const struct {
        sample_case c;
        double tolerance; /* about 5 standard deviations */
    } cases[] = {
        {{false, 0.3, 1}, 750},
        {{false, 0.3, 2}, 750},
        {{false, 0.0, 1}, 0},
        {{false, 1.0, 1}, 0},
        {{true, 0.5, 1}, 1200},
        {{true, 2.0, 7}, 2300},
        {{true, 0.0, 7}, 0},
    };
    uint64_t digests[8];
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const sample_case *c = &cases[ci].c;
        char what[128];
        snprintf(what, sizeof what, "sample: %s replacement, fraction %g, seed %llu",
                 c->replace ? "with" : "without", c->fraction,
                 (unsigned long long)c->seed);
        t_section(what);
        kiln_dataset *s = NULL;
        EXPECT_OK(build_sample(T.ctx, (void *)c, &s));
        t_layout lay;
        EXPECT_OK(t_layout_of(s, &lay));
        digests[ci] = t_layout_digest(&lay, true);
        double expect = c->fraction * NS, got = (double)lay.total;
        CHECK(fabs(got - expect) <= cases[ci].tolerance, "%.0f records, expected "
              "about %.0f", got, expect);
        /* A subsequence of the input (copies next to each other). */
        kiln_collection *col = NULL;
        EXPECT_OK(kiln_dataset_collect(s, KILN_ALL_RANKS, &col));
        const kiln_batch *b = kiln_collection_batch(col);
        size_t longest = 1, run = 1;
        for (size_t i = 1; i < b->n; i++) {
            int64_t prev = kiln_batch_value_i64(b, i - 1), v = kiln_batch_value_i64(b, i);
            if (!CHECK(c->replace ? v >= prev : v > prev, "record %lld after %lld",
                       (long long)v, (long long)prev))
                break;
            run = v == prev ? run + 1 : 1;
            longest = run > longest ? run : longest;
        }
        if (c->replace && c->fraction >= 1)
            CHECK(longest >= 3, "with replacement at fraction %g no record was taken "
                  "3 times", c->fraction);
        kiln_collection_destroy(&col);
        /* The same sample again, and at other rank counts and batch sizes. */
        kiln_dataset *again = NULL;
        t_layout lay2;
        EXPECT_OK(build_sample(T.ctx, (void *)c, &again));
        EXPECT_OK(t_layout_of(again, &lay2));
        CHECK(t_layout_digest(&lay2, true) == digests[ci], "the same seed sampled "
              "differently");
        kiln_dataset_destroy(&again);
        kiln_dataset_destroy(&s);
        t_sync();
        if (c->fraction > 0 && c->fraction < 1)
            check_rank_counts(what, build_sample, (void *)c, &lay, true);
    }
    t_section("sample: seeds");
    CHECK(digests[0] != digests[1], "seeds 1 and 2 gave the same sample");
    CHECK(digests[2] == digests[6], "fraction 0 with and without replacement");
}

/* ------------------------------------------------------------------------ */
/* Mode shuffled-input: sorting records whose order of arrival varies         */
/* ------------------------------------------------------------------------ */

/* kiln.h: "Records with equal keys are ordered by value bytes, so a sort is
 * the same at any number of ranks". After a shuffle, the records of an input
 * partition arrive in an order that depends on timing and rank count; the
 * sorted partitions (where each boundary falls) must not. */
typedef struct shuffled_case {
    const t_recs *recs;
    kiln_partitioner how; /* the sort's own placement: RANGE sorts, else sort */
} shuffled_case;

static kiln_status build_sorted_shuffle(kiln_context *ctx, void *arg, kiln_dataset **out)
{
    const shuffled_case *c = arg;
    kiln_dataset *src = NULL, *hashed = NULL;
    kiln_status st = t_parallelize(ctx, kiln_schema_of(KILN_T_U64, KILN_T_U64), c->recs,
                                   4, &src);
    if (st == KILN_OK)
        st = kiln_dataset_partition_by(src, KILN_PARTITION_HASH, 3, &hashed);
    if (st == KILN_OK)
        st = c->how == KILN_PARTITION_RANGE
                 ? kiln_dataset_partition_by(hashed, KILN_PARTITION_RANGE, 4, out)
                 : kiln_dataset_sort_by_key(hashed, NULL, 4, out);
    kiln_dataset_destroy(&hashed);
    kiln_dataset_destroy(&src);
    return st;
}

static void test_shuffled_input(void)
{
    t_recs u64;
    make_u64(&u64, 20000, 100000);
    const shuffled_case cases[] = {{&u64, KILN_PARTITION_HASH}, {&u64, KILN_PARTITION_RANGE}};
    for (int ci = 0; ci < 2; ci++) {
        const char *what = ci ? "partition_by RANGE of a shuffled dataset"
                              : "sort_by_key of a shuffled dataset";
        t_section(what);
        kiln_dataset *ds = NULL;
        EXPECT_OK(build_sorted_shuffle(T.ctx, (void *)&cases[ci], &ds));
        t_layout lay, again;
        EXPECT_OK(t_layout_of(ds, &lay));
        if (ci == 0) { /* the sorted sequence itself is right */
            kiln_collection *col = NULL;
            EXPECT_OK(kiln_dataset_collect(ds, KILN_ALL_RANKS, &col));
            t_strv got = {0}, want = {0};
            repr_collection(col, kiln_schema_of(KILN_T_U64, KILN_T_U64), &got);
            ref_order o = {KILN_KIND_U64, false, NULL, NULL};
            reference_sorted(&u64, kiln_schema_of(KILN_T_U64, KILN_T_U64), &o, &want);
            CHECK_STRV(&got, &want, what);
            t_strv_free(&got);
            t_strv_free(&want);
            kiln_collection_destroy(&col);
        }
        kiln_dataset_destroy(&ds);
        /* The same job again on the same context: the same partitions. */
        EXPECT_OK(build_sorted_shuffle(T.ctx, (void *)&cases[ci], &ds));
        EXPECT_OK(t_layout_of(ds, &again));
        kiln_dataset_destroy(&ds);
        if (T.rank == 0 && t_layout_digest(&lay, false) != t_layout_digest(&again, false)) {
            fprintf(stderr, "  partition sizes, run 1 / run 2:");
            for (uint32_t p = 0; p < lay.nparts; p++)
                fprintf(stderr, " %llu/%llu", (unsigned long long)lay.counts[p],
                        (unsigned long long)again.counts[p]);
            fprintf(stderr, "\n");
        }
        CHECK(t_layout_digest(&lay, false) == t_layout_digest(&again, false),
              "%s: the same job run twice put different records in the partitions", what);
        t_sync();
        check_rank_counts(what, build_sorted_shuffle, (void *)&cases[ci], &lay, ci == 0);
    }
    t_recs_free(&u64);
}

int main(int argc, char **argv)
{
    t_keep_options(argc, argv);
    t_init(&argc, &argv);
    if (argc > 1 && strcmp(argv[1], "shuffled-input") == 0) {
        test_shuffled_input();
        return t_finish();
    }
    test_sort();
    test_partition_hash();
    test_partition_range();
    test_repartition();
    test_coalesce();
    test_take_ordered();
    test_zip();
    test_sample();
    return t_finish();
}
