/* test_actions: count, collect (to all, to one rank), take, reduce,
 * aggregate and foreach, against serial references (save_text: test_save).
 *
 * aggregate must be bit-identical at any number of ranks: the test sums
 * doubles of wildly different magnitudes (so every order of additions gives
 * different bits), learns which partition each record is in (partition
 * counts do not depend on the rank count), and folds them serially as the
 * API describes: each partition in record order from `zero`, then the
 * partition results in the fixed tree over partition indices (slot i absorbs
 * slot i + stride, stride 1, 2, 4, ...). The bits are printed, so runs at
 * different rank counts can also be compared by eye. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static kiln_dataset *range_ds(int64_t start, int64_t end, int64_t step,
                              uint32_t nparts)
{
    kiln_dataset *ds = NULL;
    EXPECT_OK(kiln_range(T.ctx, start, end, step, nparts, &ds));
    return ds;
}

static void compare(kiln_dataset *ds, t_strv *want, bool sorted, const char *what)
{
    t_strv got = {0};
    t_collect_repr(ds, &got);
    if (sorted) {
        t_strv_sort(&got);
        t_strv_sort(want);
    }
    CHECK_STRV(&got, want, what);
    t_strv_free(&got);
    t_strv_free(want);
}

/* A map counting its records in a U64 SUM accumulator (arg). */
static kiln_status counting_identity(const kiln_batch *in, kiln_emitter *out,
                                     void *arg)
{
    uint64_t n = in->n;
    kiln_status st = kiln_accumulator_add(arg, &n, 1);
    for (size_t i = 0; i < in->n && st == KILN_OK; i++)
        st = kiln_emit_record(out, in, i);
    return st;
}

/* ---- count and collect ---- */

static void test_count_collect(void)
{
    t_section("count");
    kiln_dataset *a = range_ds(0, 12345, 1, 0), *e = range_ds(0, 0, 1, 0);
    CHECK(t_count(a) == 12345, "count of range(0, 12345)");
    CHECK(t_count(e) == 0, "count of an empty range");
    uint64_t untouched = 77;
    EXPECT_STATUS(kiln_dataset_count(NULL, &untouched), KILN_ERR_INVAL);
    CHECK(untouched == 77, "a failed count wrote its result");

    t_section("collect to every rank");
    t_strv want = {0};
    for (int v = 0; v < 12345; v++)
        t_strv_addf(&want, "%d", v);
    compare(a, &want, false, "collect(KILN_ALL_RANKS)");

    t_section("collect to the master only, and to the last rank");
    int roots[2] = {0, T.nranks - 1};
    for (int r = 0; r < 2; r++) {
        kiln_collection *c = NULL;
        EXPECT_OK(kiln_dataset_collect(a, roots[r], &c));
        const kiln_batch *b = kiln_collection_batch(c);
        if (T.rank == roots[r]) {
            t_strv got = {0};
            t_repr_batch(b, kiln_dataset_schema(a), &got);
            for (int v = 0; v < 12345; v++)
                t_strv_addf(&want, "%d", v);
            CHECK_STRV(&got, &want, "collect at the root");
            t_strv_free(&got);
            t_strv_free(&want);
        } else {
            CHECK(b && b->n == 0, "rank %d is not root %d but got %zu records",
                  T.rank, roots[r], b ? b->n : 0);
        }
        kiln_collection_destroy(&c);
        kiln_collection_destroy(&c); /* NULL: nothing */
    }

    t_section("collect: bad root");
    kiln_collection *sentinel = (kiln_collection *)&T, *c = sentinel;
    EXPECT_STATUS(kiln_dataset_collect(a, T.nranks, &c), KILN_ERR_INVAL);
    EXPECT_STATUS(kiln_dataset_collect(a, -2, &c), KILN_ERR_INVAL);
    CHECK(c == sentinel, "a failed collect wrote its out-parameter");

    t_section("a collection outlives its dataset");
    kiln_dataset *kv = NULL;
    kiln_accumulator *acc = NULL;
    EXPECT_OK(kiln_accumulator_create(T.ctx, KILN_KIND_U64, KILN_OP_SUM, 1, &acc));
    EXPECT_OK(kiln_dataset_map(e, kiln_dataset_schema(e), counting_identity, acc, &kv));
    kiln_dataset_destroy(&kv);
    EXPECT_OK(kiln_dataset_collect(a, KILN_ALL_RANKS, &c));
    kiln_dataset_destroy(&a);
    const kiln_batch *b = kiln_collection_batch(c);
    int64_t sum = 0;
    for (size_t i = 0; i < b->n; i++)
        sum += kiln_batch_value_i64(b, i);
    CHECK(b->n == 12345 && sum == (int64_t)12345 * 12344 / 2,
          "records read after the dataset was destroyed");
    kiln_collection_destroy(&c);
    kiln_accumulator_destroy(&acc);
    kiln_dataset_destroy(&e);
}

/* ---- take ---- */

static void check_take(kiln_dataset *ds, size_t n, int64_t first, size_t expect,
                       const char *what)
{
    kiln_collection *c = NULL;
    EXPECT_OK(kiln_dataset_take(ds, n, &c));
    const kiln_batch *b = kiln_collection_batch(c);
    t_strv got = {0}, want = {0};
    t_repr_batch(b, kiln_dataset_schema(ds), &got);
    for (size_t i = 0; i < expect; i++)
        t_strv_addf(&want, "%lld", (long long)(first + (int64_t)i));
    CHECK_STRV(&got, &want, what);
    t_strv_free(&got);
    t_strv_free(&want);
    kiln_collection_destroy(&c);
}

static void test_take(void)
{
    t_section("take: within one partition, across partitions, more than exist");
    /* 1000 records in 16 partitions: 62 or 63 each. */
    kiln_accumulator *mapped = NULL;
    EXPECT_OK(kiln_accumulator_create(T.ctx, KILN_KIND_U64, KILN_OP_SUM, 1, &mapped));
    kiln_dataset *src = range_ds(0, 1000, 1, 0), *ds = NULL;
    EXPECT_OK(kiln_dataset_map(src, kiln_dataset_schema(src), counting_identity,
                               mapped, &ds));
    uint64_t before = 0, after = 0;
    check_take(ds, 3, 0, 3, "take(3)");
    kiln_accumulator_value(mapped, &after);
    CHECK(after - before >= 3 && after - before <= 63,
          "take(3) mapped %llu records: it should compute only partition 0",
          (unsigned long long)(after - before));
    before = after;
    check_take(ds, 100, 0, 100, "take(100): two partitions");
    kiln_accumulator_value(mapped, &after);
    CHECK(after - before >= 100 && after - before < 1000,
          "take(100) mapped %llu records: it should not compute everything",
          (unsigned long long)(after - before));
    check_take(ds, 1000, 0, 1000, "take(1000): everything");
    check_take(ds, 5000, 0, 1000, "take(5000) of 1000 records");
    check_take(ds, 0, 0, 0, "take(0)");
    check_take(ds, 1, 0, 1, "take(1)");
    kiln_dataset *empty = range_ds(0, 0, 1, 0);
    check_take(empty, 10, 0, 0, "take from an empty dataset");
    kiln_dataset *neg = range_ds(-10, -20, -1, 3);
    kiln_collection *c = NULL;
    EXPECT_OK(kiln_dataset_take(neg, 4, &c));
    const kiln_batch *b = kiln_collection_batch(c);
    CHECK(b->n == 4 && kiln_batch_value_i64(b, 0) == -10 &&
              kiln_batch_value_i64(b, 3) == -13, "take(4) of a descending range");
    kiln_collection_destroy(&c);

    t_section("take: sparse partitions, data only at the end");
    /* 10 records in 40 partitions: most are empty. */
    kiln_dataset *sparse = range_ds(0, 10, 1, 40);
    check_take(sparse, 7, 0, 7, "take(7) over mostly empty partitions");

    t_section("take of shuffled data is the head of collect");
    kiln_dataset *red = NULL;
    EXPECT_OK(kiln_dataset_distinct(src, 7, &red));
    kiln_collection *all = NULL, *head = NULL;
    EXPECT_OK(kiln_dataset_collect(red, KILN_ALL_RANKS, &all));
    EXPECT_OK(kiln_dataset_take(red, 150, &head));
    const kiln_batch *ab = kiln_collection_batch(all), *hb = kiln_collection_batch(head);
    CHECK(hb->n == 150 && ab->n == 1000, "take(150) of 1000 shuffled: %zu", hb->n);
    for (size_t i = 0; i < hb->n && i < ab->n; i++)
        if (!CHECK(kiln_batch_value_i64(hb, i) == kiln_batch_value_i64(ab, i),
                   "take record %zu differs from collect", i))
            break;
    kiln_collection_destroy(&all);
    kiln_collection_destroy(&head);
    kiln_dataset_destroy(&red);
    kiln_dataset_destroy(&sparse);
    kiln_dataset_destroy(&neg);
    kiln_dataset_destroy(&empty);
    kiln_dataset_destroy(&ds);
    kiln_dataset_destroy(&src);
    kiln_accumulator_destroy(&mapped);
}

/* ---- floating-point data whose sum depends on the order ---- */

enum { NF = 20000 };

static double wild(uint64_t i)
{
    uint64_t r = t_mix(i), s = t_mix(i + 0x1234567);
    double mant = 1.0 + (double)(r >> 12) * 0x1p-52;
    return (r & 1 ? 1 : -1) * ldexp(mant, (int)(s % 81) - 40);
}

/* map: tag each F64 with its batch's partition. */
static kiln_status tag_f64(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        uint64_t p = in->partition;
        double d;
        size_t len;
        const void *v = kiln_batch_value(in, i, &len);
        if (len == 8) {
            memcpy(&d, v, 8);
        } else { /* a text line */
            char tmp[64];
            snprintf(tmp, sizeof tmp, "%.*s", (int)len, (const char *)v);
            d = strtod(tmp, NULL);
        }
        kiln_status st = kiln_emit(out, &p, 8, &d, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status seq_sum(void *acc, const kiln_batch *in, void *arg)
{
    (void)arg;
    double a;
    memcpy(&a, acc, 8);
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        const void *v = kiln_batch_value(in, i, &len);
        double d;
        if (len == 8 && !in->value_offsets) {
            memcpy(&d, v, 8);
        } else {
            char tmp[64];
            snprintf(tmp, sizeof tmp, "%.*s", (int)len, (const char *)v);
            d = strtod(tmp, NULL);
        }
        a += d;
    }
    memcpy(acc, &a, 8);
    return KILN_OK;
}

static kiln_status comb_sum(void *acc, const void *other, void *arg)
{
    (void)arg;
    double a, b;
    memcpy(&a, acc, 8);
    memcpy(&b, other, 8);
    a += b;
    memcpy(acc, &a, 8);
    return KILN_OK;
}

/* The serial references over the tagged records. */
typedef struct fold_refs {
    double tree;       /* the API's tree over partition folds */
    double left;       /* partition folds combined left to right */
    double flat;       /* every record in order, one fold */
    double tree_first; /* as tree, but each partition starts from its first
                          record instead of 0.0 + first (reduce) */
    uint32_t nparts;
} fold_refs;

static double tree_of(double *slot, uint32_t np)
{
    for (size_t stride = 1; stride < np; stride *= 2)
        for (size_t i = 0; i + stride < np; i += 2 * stride)
            slot[i] += slot[i + stride];
    return np ? slot[0] : 0.0;
}

static fold_refs reference_folds(kiln_dataset *ds, uint32_t nparts)
{
    fold_refs r = {0, 0, 0, 0, nparts};
    kiln_dataset *tagged = NULL;
    EXPECT_OK(kiln_dataset_map(ds, kiln_schema_of(KILN_T_U64, KILN_T_F64), tag_f64,
                               NULL, &tagged));
    kiln_collection *c = NULL;
    EXPECT_OK(kiln_dataset_collect(tagged, KILN_ALL_RANKS, &c));
    const kiln_batch *b = kiln_collection_batch(c);
    double *slot = calloc(nparts ? nparts : 1, sizeof *slot);
    double *first = calloc(nparts ? nparts : 1, sizeof *first);
    bool *seen = calloc(nparts ? nparts : 1, sizeof *seen);
    uint64_t last = 0;
    for (size_t i = 0; i < b->n; i++) {
        uint64_t p = kiln_batch_key_u64(b, i);
        double d = kiln_batch_value_f64(b, i);
        if (!CHECK(p < nparts && p >= last, "record %zu tagged with partition %llu",
                   i, (unsigned long long)p))
            break;
        last = p;
        slot[p] += d;
        first[p] = seen[p] ? first[p] + d : d;
        seen[p] = true;
        r.flat += d;
    }
    for (uint32_t p = 0; p < nparts; p++)
        r.left += slot[p];
    r.tree = tree_of(slot, nparts);
    /* reduce's tree skips absent partitions */
    for (size_t stride = 1; stride < nparts; stride *= 2)
        for (size_t i = 0; i + stride < nparts; i += 2 * stride) {
            if (!seen[i + stride])
                continue;
            first[i] = seen[i] ? first[i] + first[i + stride] : first[i + stride];
            seen[i] = true;
        }
    r.tree_first = nparts ? first[0] : 0.0;
    free(slot);
    free(first);
    free(seen);
    kiln_collection_destroy(&c);
    kiln_dataset_destroy(&tagged);
    return r;
}

static void check_aggregate_bits(kiln_dataset *ds, uint32_t nparts, const char *what)
{
    fold_refs ref = reference_folds(ds, nparts);
    /* The data must make the order visible, or the test proves nothing. */
    CHECK(nparts < 2 || t_f64_bits(ref.tree) != t_f64_bits(ref.flat),
          "%s: test data too tame: the tree and a flat fold agree", what);
    double zero = 0.0, result = -1.0;
    EXPECT_OK(kiln_dataset_aggregate(ds, &zero, 8, seq_sum, comb_sum, NULL, &result));
    uint64_t bits = t_f64_bits(result);
    CHECK(t_same_on_all_ranks(&bits), "%s: aggregate differs between ranks", what);
    CHECK(bits == t_f64_bits(ref.tree),
          "%s: aggregate = %a (0x%016llx), the fixed tree over %u partition "
          "folds gives %a (0x%016llx); left fold %a, flat fold %a", what,
          result, (unsigned long long)bits, nparts, ref.tree,
          (unsigned long long)t_f64_bits(ref.tree), ref.left, ref.flat);
    if (T.rank == 0)
        printf("aggregate %s: %u partitions: %a bits 0x%016llx\n", what, nparts,
               result, (unsigned long long)bits);

    /* reduce is "combined in partition order": the same tree (or a left
     * fold, which is also in partition order); never rank-dependent. */
    double red = -1.0;
    EXPECT_OK(kiln_dataset_reduce(ds, KILN_OP_SUM, NULL, NULL, &red));
    bits = t_f64_bits(red);
    CHECK(t_same_on_all_ranks(&bits), "%s: reduce differs between ranks", what);
    CHECK(bits == t_f64_bits(ref.tree_first) || bits == t_f64_bits(ref.left),
          "%s: reduce SUM = %a, expected %a (tree) or %a (left fold)", what, red,
          ref.tree_first, ref.left);
    if (T.rank == 0)
        printf("reduce %s: %u partitions: %a bits 0x%016llx\n", what, nparts, red,
               (unsigned long long)bits);
}

/* Count, min, max and sum of a F64 column in one struct accumulator. */
typedef struct moments {
    double sum, min, max;
    uint64_t n;
} moments;

static kiln_status seq_moments(void *acc, const kiln_batch *in, void *arg)
{
    (void)arg;
    moments m;
    memcpy(&m, acc, sizeof m);
    for (size_t i = 0; i < in->n; i++) {
        double d = kiln_batch_value_f64(in, i);
        m.sum += d;
        m.min = d < m.min ? d : m.min;
        m.max = d > m.max ? d : m.max;
        m.n++;
    }
    memcpy(acc, &m, sizeof m);
    return KILN_OK;
}

static kiln_status comb_moments(void *acc, const void *other, void *arg)
{
    (void)arg;
    moments a, b;
    memcpy(&a, acc, sizeof a);
    memcpy(&b, other, sizeof b);
    a.sum += b.sum;
    a.min = b.min < a.min ? b.min : a.min;
    a.max = b.max > a.max ? b.max : a.max;
    a.n += b.n;
    memcpy(acc, &a, sizeof a);
    return KILN_OK;
}

static void test_aggregate(void)
{
    static double vals[NF];
    for (int i = 0; i < NF; i++)
        vals[i] = wild((uint64_t)i);
    kiln_batch vb = {.n = NF, .values = (const unsigned char *)vals, .value_size = 8};
    const uint32_t widths[] = {16, 5, 1, 33};
    for (int w = 0; w < 4; w++) {
        char what[64];
        snprintf(what, sizeof what, "parallelize/%u", widths[w]);
        t_section("aggregate: bit-identical sum of doubles (parallelize)");
        kiln_dataset *ds = NULL;
        EXPECT_OK(kiln_parallelize(T.ctx, kiln_schema_of(KILN_T_NONE, KILN_T_F64),
                                   T.rank == 0 ? &vb : NULL, w == 0 ? 0 : widths[w],
                                   &ds));
        check_aggregate_bits(ds, widths[w], what);
        kiln_dataset_destroy(&ds);
    }

    t_section("aggregate: bit-identical sum of doubles (text, small splits)");
    t_buf text = {0};
    for (int i = 0; i < NF; i++)
        t_buf_addf(&text, "%.17g\n", vals[i]);
    char *path = t_path("doubles.txt");
    t_write_file(path, text.p, text.len);
    t_barrier();
    /* A second context with its own split size: Kiln may live twice. */
    char arg0[] = "ctx2", arg1[] = "--kiln-split-bytes=4K", arg2[] = "--kiln-quiet";
    char *args[] = {arg0, arg1, arg2, NULL};
    char **argv2 = args;
    int argc2 = 3;
    kiln_context *ctx2 = NULL;
    EXPECT_OK(kiln_init_comm(MPI_COMM_WORLD, &argc2, &argv2, &ctx2));
    CHECK(argc2 == 1 && argv2[1] == NULL, "kiln options not removed: argc %d", argc2);
    kiln_dataset *lines = NULL;
    EXPECT_OK(kiln_text_file(ctx2, path, &lines));
    uint64_t nlines = 0;
    EXPECT_OK(kiln_dataset_count(lines, &nlines));
    CHECK(nlines == NF, "%llu lines", (unsigned long long)nlines);
    /* Partitions: splits of about 4 KiB; learn how many from the tags. */
    kiln_dataset *tagged = NULL;
    EXPECT_OK(kiln_dataset_map(lines, kiln_schema_of(KILN_T_U64, KILN_T_F64),
                               tag_f64, NULL, &tagged));
    kiln_collection *c = NULL;
    EXPECT_OK(kiln_dataset_collect(tagged, KILN_ALL_RANKS, &c));
    const kiln_batch *tb = kiln_collection_batch(c);
    uint32_t nparts = tb->n ? (uint32_t)kiln_batch_key_u64(tb, tb->n - 1) + 1 : 0;
    uint32_t expect_parts = (uint32_t)((text.len + 4095) / 4096);
    CHECK(nparts == expect_parts, "%u text partitions, expected %u (the last "
          "split holds the last line)", nparts, expect_parts);
    kiln_collection_destroy(&c);
    kiln_dataset_destroy(&tagged);
    fold_refs ref = reference_folds(lines, nparts);
    double zero = 0.0, result = -1.0;
    EXPECT_OK(kiln_dataset_aggregate(lines, &zero, 8, seq_sum, comb_sum, NULL, &result));
    uint64_t bits = t_f64_bits(result);
    CHECK(t_same_on_all_ranks(&bits), "text aggregate differs between ranks");
    CHECK(bits == t_f64_bits(ref.tree) && bits != t_f64_bits(ref.flat),
          "text aggregate = %a, the fixed tree gives %a (flat fold %a)", result,
          ref.tree, ref.flat);
    if (T.rank == 0)
        printf("aggregate text/4K: %u partitions: %a bits 0x%016llx\n", nparts,
               result, (unsigned long long)bits);
    kiln_dataset_destroy(&lines);
    EXPECT_OK(kiln_finalize(&ctx2));
    CHECK(ctx2 == NULL, "kiln_finalize did not clear the handle");
    free(path);
    t_buf_free(&text);

    t_section("aggregate: a struct accumulator, an empty dataset");
    kiln_dataset *ds = NULL;
    EXPECT_OK(kiln_parallelize(T.ctx, kiln_schema_of(KILN_T_NONE, KILN_T_F64),
                               T.rank == 0 ? &vb : NULL, 0, &ds));
    moments zm = {0.0, INFINITY, -INFINITY, 0}, m = {0, 0, 0, 0};
    EXPECT_OK(kiln_dataset_aggregate(ds, &zm, sizeof zm, seq_moments, comb_moments,
                                     NULL, &m));
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < NF; i++) {
        lo = vals[i] < lo ? vals[i] : lo;
        hi = vals[i] > hi ? vals[i] : hi;
    }
    CHECK(m.n == NF && m.min == lo && m.max == hi, "moments: n %llu min %a max %a",
          (unsigned long long)m.n, m.min, m.max);
    kiln_dataset *empty = NULL;
    EXPECT_OK(kiln_parallelize(T.ctx, kiln_schema_of(KILN_T_NONE, KILN_T_F64), NULL,
                               0, &empty));
    m = (moments){1, 2, 3, 4};
    EXPECT_OK(kiln_dataset_aggregate(empty, &zm, sizeof zm, seq_moments,
                                     comb_moments, NULL, &m));
    CHECK(m.n == 0 && m.sum == 0.0 && m.min == INFINITY && m.max == -INFINITY,
          "aggregate of nothing is the zero value");
    double untouched = 42.0;
    EXPECT_STATUS(kiln_dataset_aggregate(ds, &zm, sizeof zm, NULL, comb_moments,
                                         NULL, &untouched), KILN_ERR_INVAL);
    CHECK(untouched == 42.0, "a failed aggregate wrote its result");
    kiln_dataset_destroy(&empty);
    kiln_dataset_destroy(&ds);
}

/* ---- reduce ---- */

typedef struct span {
    int64_t lo, hi;
    uint64_t n;
} span;

static kiln_status span_fold(void *const *acc, const unsigned char *values,
                             size_t n, size_t value_size, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < n; i++) {
        span a, v;
        memcpy(&a, acc[i], sizeof a);
        memcpy(&v, values + i * value_size, sizeof v);
        a.lo = v.lo < a.lo ? v.lo : a.lo;
        a.hi = v.hi > a.hi ? v.hi : a.hi;
        a.n += v.n;
        memcpy(acc[i], &a, sizeof a);
    }
    return KILN_OK;
}

static kiln_status to_span(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        int64_t v = kiln_batch_value_i64(in, i);
        span s = {v, v, 1};
        kiln_status st = kiln_emit(out, NULL, 0, &s, sizeof s);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status to_u64_noise(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        uint64_t x = t_mix((uint64_t)kiln_batch_value_i64(in, i));
        kiln_status st = kiln_emit(out, NULL, 0, &x, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status drop_all(const kiln_batch *in, uint8_t *keep, void *arg)
{
    (void)in;
    (void)keep;
    (void)arg;
    return KILN_OK;
}

static void test_reduce(void)
{
    t_section("reduce: built-in operators");
    kiln_dataset *a = range_ds(1, 100001, 1, 0), *b = range_ds(-500, 500, 3, 7);
    int64_t r = 0;
    EXPECT_OK(kiln_dataset_reduce(a, KILN_OP_SUM, NULL, NULL, &r));
    CHECK(r == 5000050000LL, "SUM of 1..100000 = %lld", (long long)r);
    EXPECT_OK(kiln_dataset_reduce(b, KILN_OP_MIN, NULL, NULL, &r));
    CHECK(r == -500, "MIN = %lld", (long long)r);
    EXPECT_OK(kiln_dataset_reduce(b, KILN_OP_MAX, NULL, NULL, &r));
    CHECK(r == 499, "MAX = %lld", (long long)r);
    kiln_dataset *u = NULL;
    EXPECT_OK(kiln_dataset_map(a, kiln_schema_of(KILN_T_NONE, KILN_T_U64),
                               to_u64_noise, NULL, &u));
    uint64_t want_sum = 0, want_max = 0, got = 0;
    for (int64_t v = 1; v <= 100000; v++) {
        want_sum += t_mix((uint64_t)v); /* wraps, as U64 SUM must */
        want_max = t_mix((uint64_t)v) > want_max ? t_mix((uint64_t)v) : want_max;
    }
    EXPECT_OK(kiln_dataset_reduce(u, KILN_OP_SUM, NULL, NULL, &got));
    CHECK(got == want_sum, "U64 SUM wraps modulo 2^64: %llu vs %llu",
          (unsigned long long)got, (unsigned long long)want_sum);
    EXPECT_OK(kiln_dataset_reduce(u, KILN_OP_MAX, NULL, NULL, &got));
    CHECK(got == want_max, "U64 MAX");

    t_section("reduce: a custom function on a FIXED value");
    kiln_dataset *sp = NULL;
    EXPECT_OK(kiln_dataset_map(b, kiln_schema_of(KILN_T_NONE,
                                                 kiln_type_fixed(sizeof(span), NULL, NULL, NULL)),
                               to_span, NULL, &sp));
    span s = {0, 0, 0};
    EXPECT_OK(kiln_dataset_reduce(sp, KILN_OP_CUSTOM, span_fold, NULL, &s));
    CHECK(s.lo == -500 && s.hi == 499 && s.n == 334, "span %lld..%lld n %llu",
          (long long)s.lo, (long long)s.hi, (unsigned long long)s.n);

    t_section("reduce: empty datasets fail with KILN_ERR_EMPTY");
    kiln_dataset *e = range_ds(0, 0, 1, 0), *none = NULL;
    int64_t untouched = 99;
    EXPECT_STATUS(kiln_dataset_reduce(e, KILN_OP_SUM, NULL, NULL, &untouched),
                  KILN_ERR_EMPTY);
    CHECK(untouched == 99, "a failed reduce wrote its result");
    EXPECT_OK(kiln_dataset_filter(a, drop_all, NULL, &none));
    EXPECT_STATUS(kiln_dataset_reduce(none, KILN_OP_MAX, NULL, NULL, &untouched),
                  KILN_ERR_EMPTY);
    CHECK(untouched == 99, "a failed reduce wrote its result");
    span us = {1, 2, 3};
    kiln_dataset *esp = NULL;
    EXPECT_OK(kiln_dataset_map(e, kiln_dataset_schema(sp), to_span, NULL, &esp));
    EXPECT_STATUS(kiln_dataset_reduce(esp, KILN_OP_CUSTOM, span_fold, NULL, &us),
                  KILN_ERR_EMPTY);
    CHECK(us.lo == 1 && us.hi == 2 && us.n == 3, "a failed reduce wrote its result");

    t_section("reduce: invalid uses");
    EXPECT_STATUS(kiln_dataset_reduce(sp, KILN_OP_SUM, NULL, NULL, &us), KILN_ERR_INVAL);
    EXPECT_STATUS(kiln_dataset_reduce(sp, KILN_OP_CUSTOM, NULL, NULL, &us), KILN_ERR_INVAL);
    kiln_dataset_destroy(&esp);
    kiln_dataset_destroy(&none);
    kiln_dataset_destroy(&e);
    kiln_dataset_destroy(&sp);
    kiln_dataset_destroy(&u);
    kiln_dataset_destroy(&b);
    kiln_dataset_destroy(&a);
}

/* ---- foreach ---- */

typedef struct visit {
    kiln_accumulator *acc; /* U64 SUM x 3: records, sum of values, bad batches */
    uint32_t nparts;
    uint64_t local_records;
} visit;

static kiln_status visit_batch(const kiln_batch *in, void *arg)
{
    visit *v = arg;
    uint64_t add[3] = {in->n, 0, in->partition >= v->nparts};
    for (size_t i = 0; i < in->n; i++)
        add[1] += (uint64_t)kiln_batch_value_i64(in, i) * 3 + 1;
    v->local_records += in->n;
    return kiln_accumulator_add(v->acc, add, 3);
}

static void test_foreach(void)
{
    t_section("foreach: every record exactly once");
    visit v = {NULL, 16, 0};
    EXPECT_OK(kiln_accumulator_create(T.ctx, KILN_KIND_U64, KILN_OP_SUM, 3, &v.acc));
    kiln_dataset *a = range_ds(0, 54321, 1, 0);
    EXPECT_OK(kiln_dataset_foreach(a, visit_batch, &v));
    uint64_t got[3], want_sum = 0;
    kiln_accumulator_value(v.acc, got);
    for (uint64_t x = 0; x < 54321; x++)
        want_sum += x * 3 + 1;
    CHECK(got[0] == 54321 && got[1] == want_sum && got[2] == 0,
          "foreach saw %llu records (sum %llu, %llu bad batches)",
          (unsigned long long)got[0], (unsigned long long)got[1],
          (unsigned long long)got[2]);
    uint64_t all = 0;
    MPI_Allreduce(&v.local_records, &all, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    CHECK(all == 54321, "the ranks' callbacks saw %llu records in all",
          (unsigned long long)all);
    EXPECT_STATUS(kiln_dataset_foreach(a, NULL, NULL), KILN_ERR_INVAL);
    kiln_dataset_destroy(&a);
    kiln_accumulator_destroy(&v.acc);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    test_count_collect();
    test_take();
    test_aggregate();
    test_reduce();
    test_foreach();
    return t_finish();
}
