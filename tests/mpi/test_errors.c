/* test_errors: failures reach every rank the same way, and nothing hangs.
 *
 *  - a missing input names the file, fails on every rank, and the context
 *    stays usable;
 *  - a callback that fails on partition 3 only (so on whichever single rank
 *    runs it) fails the action on every rank with the callback's status,
 *    kiln_context_failed_rank() equal on all ranks and naming the rank that
 *    really failed, and kiln_context_last_error() carrying the callback's
 *    message, identical everywhere; for every kind of callback and sync
 *    point (narrow stage, shuffle map side, after a shuffle, take, aggregate,
 *    reduce, foreach, map_partitions open/batch/close);
 *  - emitting the wrong number or size of records is an error;
 *  - bad --kiln-* options and KILN_* variables fail kiln_init everywhere.
 *
 * "test_errors init-failure --kiln-..." checks kiln_init() in a fresh
 * process (MPI not yet initialised): every rank must get KILN_ERR_INVAL. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Set by a callback on the rank where it returned its error. */
static int failed_here;
static uint64_t opens, closes;

static kiln_dataset *range_ds(int64_t start, int64_t end, uint32_t nparts)
{
    kiln_dataset *ds = NULL;
    EXPECT_OK(kiln_range(T.ctx, start, end, 1, nparts, &ds));
    return ds;
}

static uint64_t hash_text(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The call has already been EXPECT_STATUS'd. Everything else a failed
 * collective call promises. */
static void check_failure(const char *needle, const char *what)
{
    const char *err = kiln_context_last_error(T.ctx);
    CHECK(strstr(err, needle) != NULL, "%s: last error '%s' does not mention '%s'",
          what, err, needle);
    uint64_t h = hash_text(err);
    CHECK(t_same_on_all_ranks(&h), "%s: last error differs between ranks; here: %s",
          what, err);
    int64_t fr = kiln_context_failed_rank(T.ctx);
    CHECK(t_same_on_all_ranks(&fr), "%s: failed rank %lld differs between ranks",
          what, (long long)fr);
    int mine = failed_here ? T.rank : INT_MAX, lowest = INT_MAX;
    MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    CHECK(lowest != INT_MAX, "%s: no rank ran the failing callback", what);
    CHECK(fr == lowest, "%s: kiln_context_failed_rank() = %lld, but the callback "
          "failed on rank %d", what, (long long)fr, lowest);
    char rank_text[32];
    snprintf(rank_text, sizeof rank_text, "rank %d", lowest);
    CHECK(strstr(err, rank_text) != NULL, "%s: last error '%s' does not name %s",
          what, err, rank_text);
    CHECK(opens == closes, "%s: %llu map_partitions states opened, %llu closed",
          what, (unsigned long long)opens, (unsigned long long)closes);
    failed_here = 0;
}

/* After a failure the context must still work. */
static void check_recovered(const char *what)
{
    kiln_dataset *ok = range_ds(0, 1234, 0);
    uint64_t n = 0;
    EXPECT_OK(kiln_dataset_count(ok, &n));
    CHECK(n == 1234, "%s: a later count gave %llu", what, (unsigned long long)n);
    CHECK(kiln_context_failed_rank(T.ctx) == -1,
          "%s: failed rank %d after a successful call", what,
          kiln_context_failed_rank(T.ctx));
    kiln_dataset_destroy(&ok);
}

/* ---- missing inputs ---- */

static void test_missing_input(void)
{
    t_section("missing input file");
    char *missing = t_path("no-such-file.txt");
    kiln_dataset *ds = NULL;
    /* Sources are lazy: the constructor succeeds, the action fails. */
    EXPECT_OK(kiln_text_file(T.ctx, missing, &ds));
    uint64_t n = 99;
    EXPECT_STATUS(kiln_dataset_count(ds, &n), KILN_ERR_IO);
    CHECK(n == 99, "a failed count wrote its result");
    failed_here = T.rank == 0; /* the master lists the inputs */
    check_failure(missing, "count of a missing file");
    kiln_collection *c = NULL;
    EXPECT_STATUS(kiln_dataset_collect(ds, KILN_ALL_RANKS, &c), KILN_ERR_IO);
    CHECK(c == NULL, "a failed collect wrote its out-parameter");
    failed_here = T.rank == 0;
    check_failure(missing, "collect of a missing file");
    kiln_dataset_destroy(&ds);
    check_recovered("after a missing file");

    t_section("one missing path among several");
    char *present = t_path("present.txt");
    t_write_file(present, "a\nb\n", 4);
    t_barrier();
    char *missing2 = t_path("also-missing.txt");
    const char *paths[3] = {present, missing2, present};
    EXPECT_OK(kiln_text_files(T.ctx, paths, 3, &ds));
    EXPECT_STATUS(kiln_dataset_count(ds, &n), KILN_ERR_IO);
    failed_here = T.rank == 0;
    check_failure("also-missing.txt", "text_files with a missing second path");
    kiln_dataset_destroy(&ds);

    t_section("a glob that matches nothing");
    char *pattern = t_path("nothing-*.txt");
    EXPECT_OK(kiln_text_file(T.ctx, pattern, &ds));
    EXPECT_STATUS(kiln_dataset_count(ds, &n), KILN_ERR_IO);
    failed_here = T.rank == 0;
    check_failure("nothing-*.txt", "an empty glob");
    kiln_dataset_destroy(&ds);

    t_section("a missing input below a shuffle and a map");
    kiln_dataset *g = NULL;
    char *never = t_path("never");
    EXPECT_OK(kiln_text_file(T.ctx, missing, &ds));
    EXPECT_OK(kiln_dataset_distinct(ds, 0, &g));
    EXPECT_STATUS(kiln_dataset_save_text(g, never, NULL), KILN_ERR_IO);
    failed_here = T.rank == 0;
    check_failure(missing, "save_text of a shuffle of a missing file");
    CHECK(!t_exists(never), "a failed save left its directory");
    free(never);
    kiln_dataset_destroy(&g);
    kiln_dataset_destroy(&ds);
    check_recovered("after a missing file below a shuffle");
    free(missing);
    free(missing2);
    free(present);
    free(pattern);
}

/* ---- callbacks failing on partition 3 ---- */

enum { FAIL_PART = 3 };

static kiln_status boom(uint32_t partition)
{
    failed_here = 1;
    return kiln_error(KILN_ERR_PARSE, "boom on partition %u", partition);
}

static kiln_status map_fail3(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    if (in->partition == FAIL_PART)
        return boom(in->partition);
    for (size_t i = 0; i < in->n; i++) {
        kiln_status st = kiln_emit_record(out, in, i);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* No kiln_error(): the runtime must still say where it failed. */
static kiln_status map_fail3_silent(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    if (in->partition == FAIL_PART) {
        failed_here = 1;
        return KILN_ERR_USER;
    }
    for (size_t i = 0; i < in->n; i++) {
        kiln_status st = kiln_emit_record(out, in, i);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status filter_fail3(const kiln_batch *in, uint8_t *keep, void *arg)
{
    (void)arg;
    if (in->partition == FAIL_PART)
        return boom(in->partition);
    memset(keep, 1, in->n);
    return KILN_OK;
}

static kiln_status key_fail3(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    if (in->partition == FAIL_PART)
        return boom(in->partition);
    for (size_t i = 0; i < in->n; i++) {
        uint64_t k = (uint64_t)kiln_batch_value_i64(in, i) % 10;
        kiln_status st = kiln_emit_key(out, &k, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status value_fail3(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    if (in->partition == FAIL_PART)
        return boom(in->partition);
    for (size_t i = 0; i < in->n; i++) {
        uint64_t one = 1;
        kiln_status st = kiln_emit_value(out, &one, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status foreach_fail3(const kiln_batch *in, void *arg)
{
    (void)arg;
    return in->partition == FAIL_PART ? boom(in->partition) : KILN_OK;
}

static kiln_status seq_fail3(void *acc, const kiln_batch *in, void *arg)
{
    (void)arg;
    if (in->partition == FAIL_PART)
        return boom(in->partition);
    int64_t a;
    memcpy(&a, acc, 8);
    for (size_t i = 0; i < in->n; i++)
        a += kiln_batch_value_i64(in, i);
    memcpy(acc, &a, 8);
    return KILN_OK;
}

static kiln_status seq_add(void *acc, const kiln_batch *in, void *arg)
{
    (void)arg;
    int64_t a;
    memcpy(&a, acc, 8);
    for (size_t i = 0; i < in->n; i++)
        a += kiln_batch_value_i64(in, i);
    memcpy(acc, &a, 8);
    return KILN_OK;
}

static kiln_status comb_add(void *acc, const void *other, void *arg)
{
    (void)arg;
    int64_t a, b;
    memcpy(&a, acc, 8);
    memcpy(&b, other, 8);
    a += b;
    memcpy(acc, &a, 8);
    return KILN_OK;
}

static kiln_status comb_fail(void *acc, const void *other, void *arg)
{
    (void)acc;
    (void)other;
    (void)arg;
    failed_here = 1;
    return kiln_error(KILN_ERR_LIMIT, "comb refuses");
}

/* Custom reduce that fails when it meets the value 777 (in partition 3). */
static kiln_status reduce_fail_777(void *const *acc, const unsigned char *values,
                                   size_t n, size_t size, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < n; i++) {
        int64_t a, v;
        memcpy(&a, acc[i], 8);
        memcpy(&v, values + i * size, 8);
        if (v == 777 || a == 777) {
            failed_here = 1;
            return kiln_error(KILN_ERR_PARSE, "boom on value 777");
        }
        a += v;
        memcpy(acc[i], &a, 8);
    }
    return KILN_OK;
}

static kiln_status mp_open_fail3(uint32_t p, void **state, void *arg)
{
    (void)arg;
    if (p == FAIL_PART)
        return boom(p);
    *state = malloc(8);
    opens++;
    return KILN_OK;
}

static kiln_status mp_open(uint32_t p, void **state, void *arg)
{
    (void)arg;
    (void)p;
    *state = malloc(8);
    opens++;
    return KILN_OK;
}

static kiln_status mp_batch(const kiln_batch *in, kiln_emitter *out, void *state,
                            void *arg)
{
    (void)state;
    if (arg && in->partition == FAIL_PART)
        return boom(in->partition);
    for (size_t i = 0; i < in->n; i++) {
        kiln_status st = kiln_emit_record(out, in, i);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status mp_open_remember(uint32_t p, void **state, void *arg)
{
    (void)arg;
    uint32_t *s = malloc(sizeof *s);
    *s = p;
    *state = s;
    opens++;
    return KILN_OK;
}

static kiln_status mp_close_boom(kiln_emitter *out, void *state, void *arg)
{
    (void)arg;
    uint32_t p = *(uint32_t *)state;
    free(state);
    closes++;
    if (out && p == FAIL_PART)
        return boom(p);
    return KILN_OK;
}

static kiln_status mp_close(kiln_emitter *out, void *state, void *arg)
{
    (void)out;
    (void)arg;
    free(state);
    closes++;
    return KILN_OK;
}

static kiln_status pairs(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        int64_t v = kiln_batch_value_i64(in, i);
        uint64_t k = (uint64_t)v % 10;
        kiln_status st = kiln_emit(out, &k, 8, &v, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static void test_callback_failures(void)
{
    kiln_dataset *src = range_ds(0, 1000, 0), *ds = NULL, *x = NULL, *y = NULL;
    uint64_t n = 0;

    t_section("map fails on partition 3: count");
    EXPECT_OK(kiln_dataset_map(src, kiln_dataset_schema(src), map_fail3, NULL, &ds));
    EXPECT_STATUS(kiln_dataset_count(ds, &n), KILN_ERR_PARSE);
    check_failure("boom on partition 3", "map + count");
    t_section("map fails on partition 3: the same action again");
    EXPECT_STATUS(kiln_dataset_count(ds, &n), KILN_ERR_PARSE);
    check_failure("boom on partition 3", "map + count, again");
    check_recovered("after a failed map");

    t_section("map fails on partition 3: take");
    kiln_collection *c = NULL;
    EXPECT_OK(kiln_dataset_take(ds, 5, &c)); /* partition 0 is enough */
    CHECK(kiln_collection_batch(c)->n == 5, "take(5) before the failing partition");
    kiln_collection_destroy(&c);
    EXPECT_STATUS(kiln_dataset_take(ds, 300, &c), KILN_ERR_PARSE);
    CHECK(c == NULL, "a failed take wrote its out-parameter");
    check_failure("boom on partition 3", "take(300)");

    t_section("map fails on partition 3: shuffle map side");
    EXPECT_OK(kiln_dataset_map(ds, kiln_schema_of(KILN_T_U64, KILN_T_I64), pairs, NULL, &x));
    EXPECT_OK(kiln_dataset_reduce_by_key(x, KILN_OP_SUM, NULL, NULL, 0, &y));
    EXPECT_STATUS(kiln_dataset_collect(y, 0, &c), KILN_ERR_PARSE);
    check_failure("boom on partition 3", "reduce_by_key over a failing map");
    EXPECT_STATUS(kiln_dataset_count(y, &n), KILN_ERR_PARSE);
    check_failure("boom on partition 3", "the same shuffle again");
    kiln_dataset_destroy(&y);
    EXPECT_OK(kiln_dataset_group_by_key(x, 0, &y));
    EXPECT_STATUS(kiln_dataset_count(y, &n), KILN_ERR_PARSE);
    check_failure("boom on partition 3", "group_by_key over a failing map");
    kiln_dataset_destroy(&y);
    kiln_dataset_destroy(&x);
    kiln_dataset_destroy(&ds);
    check_recovered("after failed shuffles");

    t_section("map fails on partition 3 of a shuffle's output");
    EXPECT_OK(kiln_dataset_map(src, kiln_schema_of(KILN_T_U64, KILN_T_I64), pairs, NULL, &x));
    EXPECT_OK(kiln_dataset_reduce_by_key(x, KILN_OP_SUM, NULL, NULL, 8, &y));
    EXPECT_OK(kiln_dataset_map(y, kiln_dataset_schema(y), map_fail3, NULL, &ds));
    EXPECT_STATUS(kiln_dataset_count(ds, &n), KILN_ERR_PARSE);
    check_failure("boom on partition 3", "map after reduce_by_key");
    EXPECT_OK(kiln_dataset_count(y, &n)); /* the shuffle itself is fine */
    CHECK(n == 10, "10 keys");
    kiln_dataset_destroy(&ds);
    kiln_dataset_destroy(&y);
    kiln_dataset_destroy(&x);

    t_section("a failing callback without a message");
    EXPECT_OK(kiln_dataset_map(src, kiln_dataset_schema(src), map_fail3_silent, NULL, &ds));
    EXPECT_STATUS(kiln_dataset_count(ds, &n), KILN_ERR_USER);
    check_failure("partition 3", "map returning KILN_ERR_USER");
    kiln_dataset_destroy(&ds);

    t_section("filter, key_by and map_values fail on partition 3");
    EXPECT_OK(kiln_dataset_filter(src, filter_fail3, NULL, &ds));
    EXPECT_STATUS(kiln_dataset_count(ds, &n), KILN_ERR_PARSE);
    check_failure("boom on partition 3", "filter");
    kiln_dataset_destroy(&ds);
    EXPECT_OK(kiln_dataset_key_by(src, KILN_T_U64, key_fail3, NULL, &ds));
    EXPECT_STATUS(kiln_dataset_collect(ds, KILN_ALL_RANKS, &c), KILN_ERR_PARSE);
    check_failure("boom on partition 3", "key_by");
    kiln_dataset_destroy(&ds);
    EXPECT_OK(kiln_dataset_map(src, kiln_schema_of(KILN_T_U64, KILN_T_I64), pairs, NULL, &y));
    EXPECT_OK(kiln_dataset_map_values(y, KILN_T_U64, value_fail3, NULL, &x));
    EXPECT_STATUS(kiln_dataset_count(x, &n), KILN_ERR_PARSE);
    check_failure("boom on partition 3", "map_values");
    kiln_dataset_destroy(&x);
    kiln_dataset_destroy(&y);

    t_section("foreach, aggregate and reduce fail");
    EXPECT_STATUS(kiln_dataset_foreach(src, foreach_fail3, NULL), KILN_ERR_PARSE);
    check_failure("boom on partition 3", "foreach");
    int64_t zero = 0, result = 55;
    EXPECT_STATUS(kiln_dataset_aggregate(src, &zero, 8, seq_fail3, comb_add, NULL,
                                         &result), KILN_ERR_PARSE);
    CHECK(result == 55, "a failed aggregate wrote its result");
    check_failure("boom on partition 3", "aggregate seq");
    /* A combine that always fails: every rank runs the same tree after the
     * partitions are folded, so every rank fails; the lowest is reported. */
    EXPECT_STATUS(kiln_dataset_aggregate(src, &zero, 8, seq_add, comb_fail, NULL,
                                         &result), KILN_ERR_LIMIT);
    CHECK(result == 55, "a failed aggregate wrote its result");
    check_failure("comb refuses", "aggregate comb");
    /* reduce with a custom function meeting 777 in partition 3 (62-63 per
     * partition: 777 is not the first record of its partition) */
    EXPECT_STATUS(kiln_dataset_reduce(src, KILN_OP_CUSTOM, reduce_fail_777, NULL,
                                      &result), KILN_ERR_PARSE);
    CHECK(result == 55, "a failed reduce wrote its result");
    check_failure("boom on value 777", "reduce with a custom function");
    EXPECT_OK(kiln_dataset_map(src, kiln_schema_of(KILN_T_U64, KILN_T_I64), pairs, NULL, &x));
    EXPECT_OK(kiln_dataset_reduce_by_key(x, KILN_OP_CUSTOM, reduce_fail_777, NULL, 0, &y));
    EXPECT_STATUS(kiln_dataset_count(y, &n), KILN_ERR_PARSE);
    check_failure("boom on value 777", "reduce_by_key with a custom function");
    kiln_dataset_destroy(&y);
    kiln_dataset_destroy(&x);
    check_recovered("after failed actions");

    t_section("map_partitions: open, batch and close fail on partition 3");
    kiln_partition_fns f_open = {mp_open_fail3, mp_batch, mp_close};
    kiln_partition_fns f_batch = {mp_open, mp_batch, mp_close};
    kiln_partition_fns f_close = {mp_open_remember, mp_batch, mp_close_boom};
    int fail_flag = 1;
    EXPECT_OK(kiln_dataset_map_partitions(src, kiln_dataset_schema(src), f_open, NULL, &ds));
    EXPECT_STATUS(kiln_dataset_count(ds, &n), KILN_ERR_PARSE);
    check_failure("boom on partition 3", "map_partitions open");
    kiln_dataset_destroy(&ds);
    EXPECT_OK(kiln_dataset_map_partitions(src, kiln_dataset_schema(src), f_batch,
                                          &fail_flag, &ds));
    EXPECT_STATUS(kiln_dataset_count(ds, &n), KILN_ERR_PARSE);
    check_failure("boom on partition 3", "map_partitions batch");
    kiln_dataset_destroy(&ds);
    EXPECT_OK(kiln_dataset_map_partitions(src, kiln_dataset_schema(src), f_close, NULL, &ds));
    EXPECT_STATUS(kiln_dataset_count(ds, &n), KILN_ERR_PARSE);
    check_failure("boom on partition 3", "map_partitions close");
    kiln_dataset_destroy(&ds);
    check_recovered("after failed map_partitions");
    kiln_dataset_destroy(&src);
}

/* ---- emitting the wrong records ---- */

static kiln_status emit_one_less(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 1; i < in->n; i++) {
        kiln_status st = kiln_emit_record(out, in, i);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status emit_one_more(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    kiln_status st = KILN_OK;
    for (size_t i = 0; i < in->n && st == KILN_OK; i++)
        st = kiln_emit_record(out, in, i);
    return st == KILN_OK && in->n ? kiln_emit_record(out, in, 0) : st;
}

static kiln_status emit_twice(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    kiln_status st = KILN_OK;
    for (size_t i = 0; i < in->n && st == KILN_OK; i++) {
        st = kiln_emit_record(out, in, i);
        if (st == KILN_OK)
            st = kiln_emit_record(out, in, i);
    }
    return st;
}

static kiln_status emit_short_value(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        uint32_t v = 1;
        kiln_status st = kiln_emit(out, NULL, 0, &v, 4); /* the type has 8 */
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status emit_key_for_plain(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        uint64_t k = 1, v = 2;
        kiln_status st = kiln_emit(out, &k, 8, &v, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* One key too few, whatever the batch size. */
static kiln_status key_all_but_last(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i + 1 < in->n; i++) {
        uint64_t k = i;
        kiln_status st = kiln_emit_key(out, &k, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status emit_in_key_by(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        uint64_t k = i;
        int64_t v = 0;
        kiln_status st = kiln_emit(out, &k, 8, &v, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status emit_key_in_map(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        uint64_t k = i;
        kiln_status st = kiln_emit_key(out, &k, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status two_values(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        uint64_t v = i;
        kiln_status st = kiln_emit_value(out, &v, 8);
        if (st == KILN_OK)
            st = kiln_emit_value(out, &v, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* Every rank that computes a partition fails; the lowest such rank is the
 * one reported, which check_failure() cannot know here: check the rest. */
static void check_emit_failure(kiln_dataset *ds, kiln_status want, const char *needle,
                               const char *what)
{
    uint64_t n = 0;
    EXPECT_STATUS(kiln_dataset_count(ds, &n), want);
    const char *err = kiln_context_last_error(T.ctx);
    CHECK(strstr(err, needle) != NULL, "%s: last error '%s' does not mention '%s'",
          what, err, needle);
    uint64_t h = hash_text(err);
    CHECK(t_same_on_all_ranks(&h), "%s: last error differs between ranks", what);
    int64_t fr = kiln_context_failed_rank(T.ctx);
    CHECK(t_same_on_all_ranks(&fr) && fr >= 0 && fr < T.nranks,
          "%s: failed rank %lld", what, (long long)fr);
}

static void test_bad_emits(void)
{
    kiln_dataset *src = range_ds(0, 1000, 0), *ds = NULL;
    kiln_schema plain = kiln_dataset_schema(src);

    t_section("map emitting one record too few or too many");
    EXPECT_OK(kiln_dataset_map(src, plain, emit_one_less, NULL, &ds));
    check_emit_failure(ds, KILN_ERR_USER, "emitted", "map emitting n - 1");
    kiln_dataset_destroy(&ds);
    EXPECT_OK(kiln_dataset_map(src, plain, emit_one_more, NULL, &ds));
    check_emit_failure(ds, KILN_ERR_USER, "emitted", "map emitting n + 1");
    kiln_dataset_destroy(&ds);
    /* flat_map may emit any number */
    EXPECT_OK(kiln_dataset_flat_map(src, plain, emit_twice, NULL, &ds));
    uint64_t n = 0;
    EXPECT_OK(kiln_dataset_count(ds, &n));
    CHECK(n == 2000, "flat_map emitting every record twice: %llu", (unsigned long long)n);
    kiln_dataset_destroy(&ds);

    t_section("key_by and map_values emitting the wrong count");
    EXPECT_OK(kiln_dataset_key_by(src, KILN_T_U64, key_all_but_last, NULL, &ds));
    check_emit_failure(ds, KILN_ERR_USER, "emitted", "key_by emitting n - 1 keys");
    kiln_dataset *kv = ds, *mv = NULL;
    kiln_dataset *good_kv = NULL;
    EXPECT_OK(kiln_dataset_map(src, kiln_schema_of(KILN_T_U64, KILN_T_I64), pairs, NULL,
                               &good_kv));
    EXPECT_OK(kiln_dataset_map_values(good_kv, KILN_T_U64, two_values, NULL, &mv));
    check_emit_failure(mv, KILN_ERR_USER, "emitted", "map_values emitting 2n values");
    kiln_dataset_destroy(&mv);
    kiln_dataset_destroy(&kv);

    t_section("emitting with the wrong function or size");
    EXPECT_OK(kiln_dataset_key_by(src, KILN_T_U64, emit_in_key_by, NULL, &ds));
    check_emit_failure(ds, KILN_ERR_STATE, "kiln_emit_key", "kiln_emit() in key_by");
    kiln_dataset_destroy(&ds);
    EXPECT_OK(kiln_dataset_map(src, kiln_schema_of(KILN_T_U64, KILN_T_I64),
                               emit_key_in_map, NULL, &ds));
    check_emit_failure(ds, KILN_ERR_STATE, "kiln_emit_key", "kiln_emit_key() in map");
    kiln_dataset_destroy(&ds);
    EXPECT_OK(kiln_dataset_map(src, plain, emit_short_value, NULL, &ds));
    check_emit_failure(ds, KILN_ERR_INVAL, "4 bytes", "a 4-byte value for an I64");
    kiln_dataset_destroy(&ds);
    EXPECT_OK(kiln_dataset_map(src, kiln_schema_of(KILN_T_NONE, KILN_T_U64),
                               emit_key_for_plain, NULL, &ds));
    check_emit_failure(ds, KILN_ERR_INVAL, "key", "a key for a dataset without keys");
    kiln_dataset_destroy(&ds);
    kiln_dataset_destroy(&good_kv);
    kiln_dataset_destroy(&src);
    check_recovered("after bad emits");
}

/* ---- options ---- */

static kiln_status init_with(const char *const *args, int nargs, kiln_context **out,
                             int *argc_after, char ***argv_after)
{
    static char *argv_store[16];
    static char text[16][64];
    for (int i = 0; i < nargs; i++) {
        snprintf(text[i], sizeof text[i], "%s", args[i]);
        argv_store[i] = text[i];
    }
    argv_store[nargs] = NULL;
    int argc = nargs;
    char **argv = argv_store;
    kiln_status st = kiln_init(&argc, &argv, out);
    if (argc_after)
        *argc_after = argc;
    if (argv_after)
        *argv_after = argv;
    return st;
}

static kiln_status tag_partition(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        uint64_t p = in->partition;
        kiln_status st = kiln_emit(out, NULL, 0, &p, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static void test_options(void)
{
    t_section("unknown --kiln- options fail kiln_init on every rank");
    kiln_context *sentinel = (kiln_context *)&T, *ctx = sentinel;
    const char *unknown[] = {"prog", "x", "--kiln-no-such-option=1", "y"};
    int argc = 0;
    char **argv = NULL;
    EXPECT_STATUS(init_with(unknown, 4, &ctx, &argc, &argv), KILN_ERR_INVAL);
    CHECK(ctx == sentinel, "a failed kiln_init wrote its out-parameter");
    const char *bad_values[][2] = {
        {"prog", "--kiln-split-bytes=12Q"}, {"prog", "--kiln-partitions=0"},
        {"prog", "--kiln-log-level=loud"},  {"prog", "--kiln-partitions"},
        {"prog", "--kiln-quiet=perhaps"},   {"prog", "--kiln-batch-records=-5"},
    };
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        EXPECT_STATUS(init_with(bad_values[i], 2, &ctx, NULL, NULL), KILN_ERR_INVAL);
        CHECK(ctx == sentinel, "a failed kiln_init wrote its out-parameter");
    }

    t_section("a bad KILN_ variable fails kiln_init; options beat the environment");
    setenv("KILN_PARTITIONS", "many", 1);
    const char *plain[] = {"prog"};
    EXPECT_STATUS(init_with(plain, 1, &ctx, NULL, NULL), KILN_ERR_INVAL);
    setenv("KILN_PARTITIONS", "5", 1);
    const char *opts[] = {"prog", "--kiln-partitions", "7", "keep-me", "--kiln-quiet"};
    ctx = NULL;
    EXPECT_STATUS(init_with(opts, 5, &ctx, &argc, &argv), KILN_OK);
    unsetenv("KILN_PARTITIONS");
    CHECK(argc == 2 && !strcmp(argv[0], "prog") && !strcmp(argv[1], "keep-me") &&
              argv[2] == NULL, "kiln options not removed from argv (argc %d)", argc);
    kiln_dataset *r = NULL, *tagged = NULL;
    EXPECT_OK(kiln_range(ctx, 0, 700, 1, 0, &r));
    EXPECT_OK(kiln_dataset_map(r, kiln_schema_of(KILN_T_NONE, KILN_T_U64),
                               tag_partition, NULL, &tagged));
    uint64_t last = 0;
    EXPECT_OK(kiln_dataset_reduce(tagged, KILN_OP_MAX, NULL, NULL, &last));
    CHECK(last == 6, "--kiln-partitions=7 over KILN_PARTITIONS=5: %llu partitions",
          (unsigned long long)last + 1);
    kiln_dataset_destroy(&tagged);
    kiln_dataset_destroy(&r);
    EXPECT_OK(kiln_finalize(&ctx));
}

/* "A failed call has no side effects on its out-parameters": argc and argv
 * are in/out parameters of kiln_init. Its own ctest entry, so that a
 * failure here does not hide the other checks. */
static void test_failed_init_keeps_argv(void)
{
    t_section("a failed kiln_init leaves argc and argv as they were");
    const char *args[] = {"prog", "--kiln-quiet", "x", "--kiln-no-such-option=1", "y"};
    kiln_context *ctx = NULL;
    int argc = 0;
    char **argv = NULL;
    EXPECT_STATUS(init_with(args, 5, &ctx, &argc, &argv), KILN_ERR_INVAL);
    bool same = argc == 5;
    for (int i = 0; same && i < 5; i++)
        same = !strcmp(argv[i], args[i]);
    CHECK(same, "argv after the failure: argc %d: '%s' '%s' '%s' '%s' '%s' (was "
          "'prog' '--kiln-quiet' 'x' '--kiln-no-such-option=1' 'y')", argc,
          argv[0], argv[1], argv[2], argv[3], argv[4]);
}

/* ---- ranks that build different lineages must not hang ---- */

static void test_lineage_mismatch(void)
{
    t_section("ranks that built different datasets fail, not hang");
    const char *args[] = {"prog", "--kiln-quiet"};
    kiln_context *ctx = NULL;
    EXPECT_STATUS(init_with(args, 2, &ctx, NULL, NULL), KILN_OK);
    kiln_dataset *extra = NULL, *a = NULL;
    if (T.rank == T.nranks - 1) { /* one rank makes a dataset the others do not */
        kiln_status st0 = kiln_range(ctx, 0, 5, 1, 0, &extra);
        CHECK(st0 == KILN_OK, "range on one rank: %s", kiln_strerror(st0));
    }
    EXPECT_OK(kiln_range(ctx, 0, 100, 1, 0, &a));
    uint64_t n = 0;
    kiln_status st = kiln_dataset_count(a, &n);
    if (T.nranks > 1) {
        EXPECT_STATUS(st, KILN_ERR_STATE);
        const char *err = kiln_context_last_error(ctx);
        CHECK(strstr(err, "lineage") != NULL, "mismatch reported as '%s'", err);
    } else {
        EXPECT_STATUS(st, KILN_OK);
    }
    kiln_dataset_destroy(&a);
    kiln_dataset_destroy(&extra);
    EXPECT_OK(kiln_finalize(&ctx));
}

/* ---- kiln_init in a fresh process ---- */

static int init_failure_main(int argc, char **argv)
{
    t_watchdog();
    /* argv: prog init-failure --kiln-...; drop our own word first. */
    argv[1] = argv[0];
    argc--;
    argv++;
    kiln_context *ctx = (kiln_context *)&argc;
    kiln_status st = kiln_init(&argc, &argv, &ctx);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (st != KILN_ERR_INVAL || ctx != (kiln_context *)&argc || !finalized) {
        fprintf(stderr, "FAIL: kiln_init with a bad option: status %d (%s), "
                        "out %s, MPI %s\n", (int)st, kiln_strerror(st),
                ctx == (kiln_context *)&argc ? "untouched" : "written",
                finalized ? "finalized" : "still running");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "init-failure"))
        return init_failure_main(argc, argv);
    t_init(&argc, &argv);
    if (argc > 1 && !strcmp(argv[1], "argv-on-failure")) {
        test_failed_init_keeps_argv();
        return t_finish();
    }
    test_missing_input();
    test_callback_failures();
    test_bad_emits();
    test_options();
    test_lineage_mismatch();
    return t_finish();
}
