/* test_shared: broadcast variables, accumulators and cache.
 *
 * Accumulators: a F64 SUM must not depend on the rank count. The API merges
 * "task by task in partition order", each task's additions folded in the
 * order the callback made them; the test rebuilds that serially from the
 * records' partitions (learned by tagging) and compares the bits.
 * Cache: a counting map (an accumulator) proves that a cached dataset's
 * records are computed once over several actions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static kiln_dataset *range_ds(int64_t start, int64_t end, uint32_t nparts)
{
    kiln_dataset *ds = NULL;
    EXPECT_OK(kiln_range(T.ctx, start, end, 1, nparts, &ds));
    return ds;
}

/* ---- broadcast ---- */

static unsigned char pattern(size_t i)
{
    return (unsigned char)(t_mix(i / 8) >> (8 * (i % 8)));
}

typedef struct lookup {
    kiln_broadcast *table; /* 1000 doubles */
} lookup;

/* I64 v -> F64 v * table[v % 1000], read from the broadcast in the task */
static kiln_status scale(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    const lookup *l = arg;
    size_t size = 0;
    const double *table = kiln_broadcast_data(l->table, &size);
    if (size != 1000 * sizeof(double))
        return kiln_error(KILN_ERR_STATE, "broadcast of %zu bytes in a task", size);
    for (size_t i = 0; i < in->n; i++) {
        int64_t v = kiln_batch_value_i64(in, i);
        double d = (double)v * table[v % 1000];
        kiln_status st = kiln_emit(out, NULL, 0, &d, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static double table_entry(int i)
{
    return 1.0 + i / 8.0;
}

static void test_broadcast(void)
{
    t_section("broadcast: 3 MB from the master, identical everywhere");
    enum { BIG = 3 << 20 };
    unsigned char *data = NULL;
    if (T.rank == 0) {
        data = malloc(BIG);
        for (size_t i = 0; i < BIG; i++)
            data[i] = pattern(i);
    }
    kiln_broadcast *b = NULL;
    EXPECT_OK(kiln_broadcast_create(T.ctx, data, T.rank == 0 ? BIG : 0, &b));
    if (T.rank == 0)
        memset(data, 0, BIG); /* the broadcast must hold its own copy */
    size_t size = 0;
    const unsigned char *got = kiln_broadcast_data(b, &size);
    CHECK(size == BIG, "broadcast size %zu on rank %d", size, T.rank);
    size_t bad = SIZE_MAX;
    for (size_t i = 0; i < size && got; i++)
        if (got[i] != pattern(i)) {
            bad = i;
            break;
        }
    CHECK(got && bad == SIZE_MAX, "broadcast byte %zu differs on rank %d", bad, T.rank);
    kiln_broadcast_destroy(&b);
    CHECK(b == NULL, "kiln_broadcast_destroy did not clear the handle");
    kiln_broadcast_destroy(&b);
    free(data);

    t_section("broadcast: empty");
    EXPECT_OK(kiln_broadcast_create(T.ctx, NULL, 0, &b));
    kiln_broadcast_data(b, &size);
    CHECK(size == 0, "empty broadcast has %zu bytes", size);
    kiln_broadcast_destroy(&b);

    t_section("broadcast: read inside tasks");
    double table[1000];
    for (int i = 0; i < 1000; i++)
        table[i] = table_entry(i);
    lookup l = {NULL};
    EXPECT_OK(kiln_broadcast_create(T.ctx, T.rank == 0 ? table : NULL,
                                    T.rank == 0 ? sizeof table : 0, &l.table));
    kiln_dataset *src = range_ds(0, 50000, 0), *m = NULL;
    EXPECT_OK(kiln_dataset_map(src, kiln_schema_of(KILN_T_NONE, KILN_T_F64), scale,
                               &l, &m));
    t_strv got_v = {0}, want = {0};
    t_collect_repr(m, &got_v);
    for (int64_t v = 0; v < 50000; v++)
        t_strv_addf(&want, "%a", (double)v * table_entry((int)(v % 1000)));
    CHECK_STRV(&got_v, &want, "values scaled by the broadcast table");
    t_strv_free(&got_v);
    t_strv_free(&want);
    kiln_dataset_destroy(&m);
    kiln_dataset_destroy(&src);
    kiln_broadcast_destroy(&l.table);

    t_section("broadcast: NULL data with a size on the master");
    kiln_broadcast *sentinel = (kiln_broadcast *)&T;
    b = sentinel;
    EXPECT_STATUS(kiln_broadcast_create(T.ctx, NULL, 16, &b), KILN_ERR_INVAL);
    CHECK(b == sentinel, "a failed broadcast wrote its out-parameter");
}

/* ---- accumulators ---- */

static double wild(uint64_t i)
{
    uint64_t r = t_mix(i), s = t_mix(i + 99);
    return (r & 1 ? 1 : -1) * ldexp(1.0 + (double)(r >> 12) * 0x1p-52,
                                     (int)(s % 81) - 40);
}

typedef struct adder {
    kiln_accumulator *sum;  /* F64 SUM, 1 */
    kiln_accumulator *mins; /* I64 MIN, 2: min v, min -v */
    kiln_accumulator *maxs; /* F64 MAX, 2: max v, max |v| */
    kiln_accumulator *umax; /* U64 MAX, 1 */
} adder;

/* One add per record, in record order. */
static kiln_status add_each(const kiln_batch *in, void *arg)
{
    const adder *a = arg;
    kiln_status st = KILN_OK;
    for (size_t i = 0; i < in->n && st == KILN_OK; i++) {
        double d = kiln_batch_value_f64(in, i);
        int64_t q = (int64_t)(d * 1e6);
        int64_t mins[2] = {q, -q};
        double maxs[2] = {d, fabs(d)};
        uint64_t bits = t_f64_bits(d);
        st = kiln_accumulator_add(a->sum, &d, 1);
        if (st == KILN_OK)
            st = kiln_accumulator_add(a->mins, mins, 2);
        if (st == KILN_OK)
            st = kiln_accumulator_add(a->maxs, maxs, 2);
        if (st == KILN_OK)
            st = kiln_accumulator_add(a->umax, &bits, 1);
    }
    return st;
}

static kiln_status tag_partition(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        uint64_t p = in->partition;
        double d = kiln_batch_value_f64(in, i);
        kiln_status st = kiln_emit(out, &p, 8, &d, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* Fold the records' values as the API merges additions: per partition from
 * 0.0 in record order, then the partitions in order onto `start`. */
static double merged_sum(kiln_dataset *ds, double start)
{
    kiln_dataset *tagged = NULL;
    EXPECT_OK(kiln_dataset_map(ds, kiln_schema_of(KILN_T_U64, KILN_T_F64),
                               tag_partition, NULL, &tagged));
    kiln_collection *c = NULL;
    EXPECT_OK(kiln_dataset_collect(tagged, KILN_ALL_RANKS, &c));
    const kiln_batch *b = kiln_collection_batch(c);
    double value = start, task = 0.0;
    for (size_t i = 0; i < b->n; i++) {
        uint64_t p = kiln_batch_key_u64(b, i);
        task += kiln_batch_value_f64(b, i);
        if (i + 1 == b->n || kiln_batch_key_u64(b, i + 1) != p) {
            value += task;
            task = 0.0;
        }
    }
    kiln_collection_destroy(&c);
    kiln_dataset_destroy(&tagged);
    return value;
}

static kiln_status count_records(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    uint64_t n = in->n;
    kiln_status st = kiln_accumulator_add(arg, &n, 1);
    for (size_t i = 0; i < in->n && st == KILN_OK; i++)
        st = kiln_emit_record(out, in, i);
    return st;
}

static kiln_status key_mod_100(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        uint64_t k = (uint64_t)kiln_batch_value_i64(in, i) % 100, one = 1;
        kiln_status st = kiln_emit(out, &k, 8, &one, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static void test_accumulators(void)
{
    enum { NV = 30000 };
    static double vals[NV];
    for (int i = 0; i < NV; i++)
        vals[i] = wild((uint64_t)i);
    kiln_batch vb = {.n = NV, .values = (const unsigned char *)vals, .value_size = 8};

    t_section("accumulators: F64 SUM is the same at any rank count");
    adder a = {NULL, NULL, NULL, NULL};
    EXPECT_OK(kiln_accumulator_create(T.ctx, KILN_KIND_F64, KILN_OP_SUM, 1, &a.sum));
    EXPECT_OK(kiln_accumulator_create(T.ctx, KILN_KIND_I64, KILN_OP_MIN, 2, &a.mins));
    EXPECT_OK(kiln_accumulator_create(T.ctx, KILN_KIND_F64, KILN_OP_MAX, 2, &a.maxs));
    EXPECT_OK(kiln_accumulator_create(T.ctx, KILN_KIND_U64, KILN_OP_MAX, 1, &a.umax));
    double v0 = -1;
    kiln_accumulator_value(a.sum, &v0);
    CHECK(v0 == 0.0, "a new SUM accumulator reads %a", v0);
    kiln_dataset *ds = NULL;
    EXPECT_OK(kiln_parallelize(T.ctx, kiln_schema_of(KILN_T_NONE, KILN_T_F64),
                               T.rank == 0 ? &vb : NULL, 0, &ds));
    double want = merged_sum(ds, 0.0);
    double flat = 0.0;
    for (int i = 0; i < NV; i++)
        flat += vals[i];
    CHECK(t_f64_bits(want) != t_f64_bits(flat),
          "test data too tame: the per-task merge equals a flat sum");
    EXPECT_OK(kiln_dataset_foreach(ds, add_each, &a));
    double got = 0;
    kiln_accumulator_value(a.sum, &got);
    uint64_t bits = t_f64_bits(got);
    CHECK(t_same_on_all_ranks(&bits), "accumulator value differs between ranks");
    CHECK(bits == t_f64_bits(want), "F64 SUM = %a (0x%016llx), merging task by "
          "task in partition order gives %a (0x%016llx)", got,
          (unsigned long long)bits, want, (unsigned long long)t_f64_bits(want));
    if (T.rank == 0)
        printf("accumulator F64 SUM after one action: %a bits 0x%016llx\n", got,
               (unsigned long long)bits);

    t_section("accumulators: MIN and MAX, several elements");
    int64_t mins[2];
    double maxs[2];
    uint64_t umax = 0;
    int64_t want_min[2] = {INT64_MAX, INT64_MAX};
    double want_max[2] = {-INFINITY, -INFINITY};
    uint64_t want_umax = 0;
    for (int i = 0; i < NV; i++) {
        int64_t q = (int64_t)(vals[i] * 1e6);
        want_min[0] = q < want_min[0] ? q : want_min[0];
        want_min[1] = -q < want_min[1] ? -q : want_min[1];
        want_max[0] = vals[i] > want_max[0] ? vals[i] : want_max[0];
        want_max[1] = fabs(vals[i]) > want_max[1] ? fabs(vals[i]) : want_max[1];
        want_umax = t_f64_bits(vals[i]) > want_umax ? t_f64_bits(vals[i]) : want_umax;
    }
    kiln_accumulator_value(a.mins, mins);
    kiln_accumulator_value(a.maxs, maxs);
    kiln_accumulator_value(a.umax, &umax);
    CHECK(mins[0] == want_min[0] && mins[1] == want_min[1], "I64 MIN = {%lld, %lld}",
          (long long)mins[0], (long long)mins[1]);
    CHECK(maxs[0] == want_max[0] && maxs[1] == want_max[1], "F64 MAX = {%a, %a}",
          maxs[0], maxs[1]);
    CHECK(umax == want_umax, "U64 MAX");

    t_section("accumulators: a second action adds on");
    want = merged_sum(ds, got);
    EXPECT_OK(kiln_dataset_foreach(ds, add_each, &a));
    kiln_accumulator_value(a.sum, &got);
    bits = t_f64_bits(got);
    CHECK(t_same_on_all_ranks(&bits), "accumulator value differs between ranks");
    CHECK(bits == t_f64_bits(want), "F64 SUM after two actions = %a, expected %a",
          got, want);
    kiln_accumulator_value(a.mins, mins);
    CHECK(mins[0] == want_min[0], "MIN unchanged by the same data");

    t_section("accumulators: added to in the map stage of a shuffle and after it");
    kiln_accumulator *before = NULL, *after = NULL;
    EXPECT_OK(kiln_accumulator_create(T.ctx, KILN_KIND_U64, KILN_OP_SUM, 1, &before));
    EXPECT_OK(kiln_accumulator_create(T.ctx, KILN_KIND_U64, KILN_OP_SUM, 1, &after));
    kiln_dataset *src = range_ds(0, 10000, 0), *c1 = NULL, *kv = NULL, *red = NULL,
                 *c2 = NULL;
    EXPECT_OK(kiln_dataset_map(src, kiln_dataset_schema(src), count_records, before, &c1));
    EXPECT_OK(kiln_dataset_map(c1, kiln_schema_of(KILN_T_U64, KILN_T_U64), key_mod_100,
                               NULL, &kv));
    EXPECT_OK(kiln_dataset_reduce_by_key(kv, KILN_OP_SUM, NULL, NULL, 0, &red));
    EXPECT_OK(kiln_dataset_map(red, kiln_dataset_schema(red), count_records, after, &c2));
    CHECK(t_count(c2) == 100, "100 keys");
    uint64_t nb = 0, na = 0;
    kiln_accumulator_value(before, &nb);
    kiln_accumulator_value(after, &na);
    CHECK(nb == 10000 && na == 100, "records counted before/after the shuffle: "
          "%llu/%llu", (unsigned long long)nb, (unsigned long long)na);

    t_section("accumulators: misuse");
    double one = 1.0;
    EXPECT_STATUS(kiln_accumulator_add(a.sum, &one, 1), KILN_ERR_STATE);
    kiln_accumulator_value(a.sum, &v0);
    CHECK(t_f64_bits(v0) == t_f64_bits(got), "a refused add changed the value");
    kiln_accumulator *sentinel = (kiln_accumulator *)&T, *bad = sentinel;
    EXPECT_STATUS(kiln_accumulator_create(T.ctx, KILN_KIND_STRING, KILN_OP_SUM, 1, &bad),
                  KILN_ERR_INVAL);
    EXPECT_STATUS(kiln_accumulator_create(T.ctx, KILN_KIND_U64, KILN_OP_CUSTOM, 1, &bad),
                  KILN_ERR_INVAL);
    EXPECT_STATUS(kiln_accumulator_create(T.ctx, KILN_KIND_U64, KILN_OP_SUM, 0, &bad),
                  KILN_ERR_INVAL);
    CHECK(bad == sentinel, "a failed create wrote its out-parameter");

    kiln_dataset_destroy(&c2);
    kiln_dataset_destroy(&red);
    kiln_dataset_destroy(&kv);
    kiln_dataset_destroy(&c1);
    kiln_dataset_destroy(&src);
    kiln_dataset_destroy(&ds);
    kiln_accumulator_destroy(&before);
    kiln_accumulator_destroy(&after);
    kiln_accumulator_destroy(&a.sum);
    kiln_accumulator_destroy(&a.mins);
    kiln_accumulator_destroy(&a.maxs);
    kiln_accumulator_destroy(&a.umax);
    CHECK(a.sum == NULL, "kiln_accumulator_destroy did not clear the handle");
}

/* ---- cache ---- */

static kiln_status keep_even(const kiln_batch *in, uint8_t *keep, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++)
        keep[i] = kiln_batch_value_i64(in, i) % 2 == 0;
    return KILN_OK;
}

static uint64_t counter(kiln_accumulator *acc)
{
    uint64_t v = 0;
    kiln_accumulator_value(acc, &v);
    return v;
}

static void expect_range(kiln_dataset *ds, int64_t lo, int64_t hi, int64_t step,
                         const char *what)
{
    t_strv got = {0}, want = {0};
    t_collect_repr(ds, &got);
    for (int64_t v = lo; v < hi; v += step)
        t_strv_addf(&want, "%lld", (long long)v);
    CHECK_STRV(&got, &want, what);
    t_strv_free(&got);
    t_strv_free(&want);
}

static void test_cache(void)
{
    enum { NC = 40000 };
    t_section("cache: later actions reuse the cached records");
    kiln_accumulator *runs = NULL;
    EXPECT_OK(kiln_accumulator_create(T.ctx, KILN_KIND_U64, KILN_OP_SUM, 1, &runs));
    kiln_dataset *src = range_ds(0, NC, 0), *m = NULL, *evens = NULL;
    EXPECT_OK(kiln_dataset_map(src, kiln_dataset_schema(src), count_records, runs, &m));
    CHECK(kiln_dataset_cache(m) == m, "kiln_dataset_cache returns its argument");
    CHECK(t_count(m) == NC, "first action: count");
    CHECK(counter(runs) == NC, "first action mapped %llu records",
          (unsigned long long)counter(runs));
    expect_range(m, 0, NC, 1, "second action: collect of the cached data");
    CHECK(counter(runs) == NC, "after a second action the map ran %llu times for "
          "%d records", (unsigned long long)counter(runs), NC);
    EXPECT_OK(kiln_dataset_filter(m, keep_even, NULL, &evens));
    expect_range(evens, 0, NC, 2, "a filter over the cached data");
    kiln_collection *c = NULL;
    EXPECT_OK(kiln_dataset_take(m, 10, &c));
    CHECK(kiln_collection_batch(c)->n == 10, "take(10) of the cached data");
    kiln_collection_destroy(&c);
    CHECK(counter(runs) == NC, "after four actions the map ran %llu times",
          (unsigned long long)counter(runs));

    t_section("cache: unpersist computes again");
    kiln_dataset_unpersist(m);
    CHECK(t_count(m) == NC, "count after unpersist");
    CHECK(counter(runs) == 2 * NC, "after unpersist the map ran %llu times in all",
          (unsigned long long)counter(runs));
    CHECK(t_count(m) == NC, "count again");
    CHECK(counter(runs) == 3 * NC, "unpersist also ends caching: %llu",
          (unsigned long long)counter(runs));
    kiln_dataset_destroy(&evens);
    kiln_dataset_destroy(&m);

    t_section("cache: a take first, then full actions");
    kiln_accumulator *runs2 = NULL;
    EXPECT_OK(kiln_accumulator_create(T.ctx, KILN_KIND_U64, KILN_OP_SUM, 1, &runs2));
    EXPECT_OK(kiln_dataset_map(src, kiln_dataset_schema(src), count_records, runs2, &m));
    kiln_dataset_cache(m);
    EXPECT_OK(kiln_dataset_take(m, 3, &c));
    CHECK(kiln_collection_batch(c)->n == 3 &&
              kiln_batch_value_i64(kiln_collection_batch(c), 2) == 2, "take(3)");
    kiln_collection_destroy(&c);
    uint64_t after_take = counter(runs2);
    expect_range(m, 0, NC, 1, "collect after a take");
    uint64_t after_collect = counter(runs2);
    CHECK(after_collect - after_take <= NC, "collect mapped %llu records",
          (unsigned long long)(after_collect - after_take));
    CHECK(t_count(m) == NC, "count after collect");
    CHECK(counter(runs2) == after_collect, "count after collect mapped again");
    kiln_dataset_destroy(&m);

    t_section("cache: shuffled data and a cached union");
    kiln_accumulator *runs3 = NULL;
    EXPECT_OK(kiln_accumulator_create(T.ctx, KILN_KIND_U64, KILN_OP_SUM, 1, &runs3));
    kiln_dataset *kv = NULL, *red = NULL, *cm = NULL, *other = NULL, *u = NULL,
                 *cu = NULL;
    EXPECT_OK(kiln_range(T.ctx, -5, 0, 2, 2, &other)); /* -5, -3, -1 */
    EXPECT_OK(kiln_dataset_map(src, kiln_schema_of(KILN_T_U64, KILN_T_U64), key_mod_100,
                               NULL, &kv));
    EXPECT_OK(kiln_dataset_reduce_by_key(kv, KILN_OP_SUM, NULL, NULL, 0, &red));
    EXPECT_OK(kiln_dataset_map(red, kiln_dataset_schema(red), count_records, runs3, &cm));
    kiln_dataset_cache(cm);
    CHECK(t_count(cm) == 100, "100 keys");
    t_strv got = {0}, want = {0};
    t_collect_repr(cm, &got);
    t_strv_sort(&got);
    for (int k = 0; k < 100; k++)
        t_strv_addf(&want, "%d\t%d", k, NC / 100);
    t_strv_sort(&want);
    CHECK_STRV(&got, &want, "cached counts per key");
    t_strv_free(&got);
    t_strv_free(&want);
    CHECK(counter(runs3) == 100, "map after the shuffle ran %llu times for 100 "
          "records", (unsigned long long)counter(runs3));
    /* union of the cached range map and a small range, itself cached */
    kiln_dataset *m2 = NULL;
    EXPECT_OK(kiln_dataset_map(src, kiln_dataset_schema(src), count_records, runs3, &m2));
    EXPECT_OK(kiln_dataset_union(m2, other, &u));
    cu = kiln_dataset_cache(u);
    uint64_t ucount = t_count(cu);
    CHECK(ucount == NC + 3, "count of a cached union: %llu, expected %d",
          (unsigned long long)ucount, NC + 3);
    uint64_t ucount2 = t_count(cu);
    CHECK(ucount2 == NC + 3, "second count of a cached union: %llu, expected %d",
          (unsigned long long)ucount2, NC + 3);
    t_collect_repr(cu, &got);
    for (int v = 0; v < NC; v++)
        t_strv_addf(&want, "%d", v);
    for (int v = -5; v < 0; v += 2)
        t_strv_addf(&want, "%d", v);
    CHECK_STRV(&got, &want, "collect of a cached union, in order");
    t_strv_free(&got);
    t_strv_free(&want);
    CHECK(counter(runs3) == 100 + NC, "the map under a cached union ran %llu "
          "times", (unsigned long long)counter(runs3));

    kiln_dataset_destroy(&u);
    kiln_dataset_destroy(&m2);
    kiln_dataset_destroy(&other);
    kiln_dataset_destroy(&cm);
    kiln_dataset_destroy(&red);
    kiln_dataset_destroy(&kv);
    kiln_dataset_destroy(&src);
    kiln_accumulator_destroy(&runs);
    kiln_accumulator_destroy(&runs2);
    kiln_accumulator_destroy(&runs3);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    test_broadcast();
    test_accumulators();
    test_cache();
    return t_finish();
}
