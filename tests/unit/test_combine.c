/* tests/unit/test_combine.c: folding values into hash-table accumulators
 * (runtime/execute.h: kiln__combine_batch, kiln__reduce_apply). This is the
 * map-side combiner and the reducer of reduce_by_key, and distinct's
 * de-duplication; each result is checked against a brute-force fold. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "runtime/execute.h"
#include "runtime/hash.h"

enum { NKEYS = 37, NRECORDS = 3000, BATCH = 250 };

static const kiln_type U64 = {.kind = KILN_KIND_U64, .size = 8};

static int setup(void **state)
{
    (void)state;
    kiln__error_clear();
    return 0;
}

/* The value of record i, as 8 bytes of the given kind. Values are small
 * multiples of 1/8 so F64 sums are exact in any order. */
static void value_of(kiln_kind kind, uint64_t i, unsigned char out[8])
{
    int64_t base = (int64_t)((i * 7919) % 1000) - 500;
    if (kind == KILN_KIND_U64) {
        uint64_t v = (uint64_t)(base + 500);
        memcpy(out, &v, 8);
    } else if (kind == KILN_KIND_I64) {
        memcpy(out, &base, 8);
    } else {
        double v = (double)base / 8;
        memcpy(out, &v, 8);
    }
}

/* Brute force: fold values[i] into ref[key] in input order. */
static void reference(kiln_op op, kiln_kind kind, unsigned char ref[NKEYS][8])
{
    bool seen[NKEYS] = {false};
    for (uint64_t i = 0; i < NRECORDS; i++) {
        unsigned char v[8];
        value_of(kind, i, v);
        uint64_t k = (i * 13) % NKEYS;
        if (!seen[k]) {
            memcpy(ref[k], v, 8);
            seen[k] = true;
            continue;
        }
        /* Written out per kind rather than with kiln__reduce_builtin, so the
         * operator itself is under test. */
        if (kind == KILN_KIND_U64) {
            uint64_t a, b;
            memcpy(&a, ref[k], 8);
            memcpy(&b, v, 8);
            a = op == KILN_OP_SUM ? a + b : op == KILN_OP_MIN ? (b < a ? b : a)
                                                               : (b > a ? b : a);
            memcpy(ref[k], &a, 8);
        } else if (kind == KILN_KIND_I64) {
            int64_t a, b;
            memcpy(&a, ref[k], 8);
            memcpy(&b, v, 8);
            a = op == KILN_OP_SUM ? a + b : op == KILN_OP_MIN ? (b < a ? b : a)
                                                               : (b > a ? b : a);
            memcpy(ref[k], &a, 8);
        } else {
            double a, b;
            memcpy(&a, ref[k], 8);
            memcpy(&b, v, 8);
            a = op == KILN_OP_SUM ? a + b : op == KILN_OP_MIN ? (b < a ? b : a)
                                                               : (b > a ? b : a);
            memcpy(ref[k], &a, 8);
        }
    }
}

/* Records [first, first + n) as a block of (U64 key, 8-byte value). */
static void make_block(kiln__block *b, kiln_kind kind, uint64_t first, size_t n)
{
    kiln__block_clear(b);
    for (uint64_t i = first; i < first + n; i++) {
        uint64_t k = (i * 13) % NKEYS;
        unsigned char v[8];
        value_of(kind, i, v);
        assert_int_equal(kiln__block_append(b, &k, 8, v, 8), KILN_OK);
    }
}

static void run_builtin(kiln_op op, kiln_kind kind)
{
    kiln__mem m;
    kiln__mem_init(&m);
    kiln_schema s = {U64, {.kind = kind, .size = 8}};
    kiln__htable t;
    assert_int_equal(kiln__htable_init(&t, &m, &s, false, 0), KILN_OK);
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &s), KILN_OK);
    kiln__combine_scratch scratch = {.mem = &m};
    kiln__reducer r = {.op = op, .kind = kind, .size = 8};
    uint64_t hashes[BATCH];
    for (uint64_t first = 0; first < NRECORDS; first += BATCH) {
        make_block(&b, kind, first, BATCH);
        kiln_batch v;
        kiln__block_view(&b, 0, b.n, 0, &v);
        kiln__hash_batch(&s, &v, 0, v.n, false, hashes);
        assert_int_equal(kiln__combine_batch(&t, NULL, &r, &v, hashes, &scratch),
                         KILN_OK);
    }
    unsigned char ref[NKEYS][8];
    reference(op, kind, ref);
    assert_int_equal(t.entries.n, NKEYS);
    for (size_t e = 0; e < t.entries.n; e++) {
        uint64_t k;
        memcpy(&k, t.entries.key.data + 8 * e, 8);
        assert_true(k < NKEYS);
        if (memcmp(kiln__htable_value(&t, e), ref[k], 8) != 0)
            fail_msg("op %d kind %d: key %llu differs", (int)op, (int)kind,
                     (unsigned long long)k);
    }
    kiln__combine_release(&scratch);
    kiln__block_release(&b);
    kiln__htable_release(&t);
    assert_int_equal(m.in_use, 0);
}

static void builtin_operators_over_every_kind(void **state)
{
    (void)state;
    const kiln_op ops[] = {KILN_OP_SUM, KILN_OP_MIN, KILN_OP_MAX};
    const kiln_kind kinds[] = {KILN_KIND_U64, KILN_KIND_I64, KILN_KIND_F64};
    for (int o = 0; o < 3; o++)
        for (int k = 0; k < 3; k++)
            run_builtin(ops[o], kinds[k]);
}

static void builtin_spot_values(void **state)
{
    (void)state;
    /* A few values checked by hand, so the reference cannot share a bug
     * with the operator. */
    kiln__reducer r = {.op = KILN_OP_SUM, .kind = KILN_KIND_I64, .size = 8};
    int64_t acc = -5, v = 3;
    kiln__reduce_builtin(&r, &acc, &v);
    assert_int_equal(acc, -2);
    r.op = KILN_OP_MIN;
    v = -7;
    kiln__reduce_builtin(&r, &acc, &v);
    assert_int_equal(acc, -7);
    r.op = KILN_OP_MAX;
    v = -100;
    kiln__reduce_builtin(&r, &acc, &v);
    assert_int_equal(acc, -7);
    /* I64 sums wrap like two's complement, without undefined behaviour. */
    r.op = KILN_OP_SUM;
    acc = INT64_MAX;
    v = 1;
    kiln__reduce_builtin(&r, &acc, &v);
    assert_true(acc == INT64_MIN);

    r.kind = KILN_KIND_U64;
    r.op = KILN_OP_MIN;
    uint64_t ua = 10, uv = UINT64_MAX;
    kiln__reduce_builtin(&r, &ua, &uv);
    assert_int_equal(ua, 10); /* unsigned compare, not signed */
    r.op = KILN_OP_MAX;
    kiln__reduce_builtin(&r, &ua, &uv);
    assert_true(ua == UINT64_MAX);

    r.kind = KILN_KIND_F64;
    r.op = KILN_OP_SUM;
    double da = 0.5, dv = 0.25;
    kiln__reduce_builtin(&r, &da, &dv);
    assert_true(da == 0.75);
    r.op = KILN_OP_MIN;
    dv = -1e300;
    kiln__reduce_builtin(&r, &da, &dv);
    assert_true(da == -1e300);
}

static void reduce_apply_folds_in_order(void **state)
{
    (void)state;
    kiln__reducer r = {.op = KILN_OP_SUM, .kind = KILN_KIND_U64, .size = 8};
    uint64_t a = 1, b = 100;
    void *acc[4] = {&a, &b, &a, &a};
    uint64_t values[4] = {2, 3, 4, 5};
    assert_int_equal(kiln__reduce_apply(&r, acc, (unsigned char *)values, 4), KILN_OK);
    assert_int_equal(a, 12); /* several acc[i] may share an accumulator */
    assert_int_equal(b, 103);
    assert_int_equal(kiln__reduce_apply(&r, acc, (unsigned char *)values, 0), KILN_OK);
    assert_int_equal(a, 12);
}

/* A custom fixed 16-byte value: (sum of x, max of y). */
typedef struct pair {
    uint64_t x, y;
} pair;

typedef struct custom_log {
    int calls;
    size_t folds;
    kiln_status fail_with; /* returned when nonzero */
} custom_log;

static kiln_status pair_reduce(void *const *acc, const unsigned char *values,
                               size_t n, size_t value_size, void *arg)
{
    custom_log *log = arg;
    log->calls++;
    log->folds += n;
    if (log->fail_with)
        return log->fail_with;
    if (value_size != sizeof(pair))
        return KILN_ERR_INVAL;
    for (size_t i = 0; i < n; i++) {
        pair a, v;
        memcpy(&a, acc[i], sizeof a);
        memcpy(&v, values + i * value_size, sizeof v);
        a.x += v.x;
        if (v.y > a.y)
            a.y = v.y;
        memcpy(acc[i], &a, sizeof a);
    }
    return KILN_OK;
}

static void custom_function_with_duplicates_and_growth(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln_schema s = {U64, kiln_type_fixed(sizeof(pair), NULL, NULL, NULL)};
    kiln__htable t;
    assert_int_equal(kiln__htable_init(&t, &m, &s, false, 0), KILN_OK);
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &s), KILN_OK);
    /* One batch in which a key recurs both before and after thousands of
     * new keys make the table grow (accumulators move). */
    enum { NEW = 5000 };
    uint64_t hot = 7;
    pair first = {1, 10};
    assert_int_equal(kiln__block_append(&b, &hot, 8, &first, sizeof first), KILN_OK);
    for (uint64_t i = 0; i < NEW; i++) {
        uint64_t k = 1000 + i;
        pair v = {i, i % 17};
        assert_int_equal(kiln__block_append(&b, &k, 8, &v, sizeof v), KILN_OK);
        if (i % 1000 == 0) {
            pair h = {100, i};
            assert_int_equal(kiln__block_append(&b, &hot, 8, &h, sizeof h), KILN_OK);
        }
    }
    pair last = {5, 3};
    assert_int_equal(kiln__block_append(&b, &hot, 8, &last, sizeof last), KILN_OK);
    kiln_batch v;
    kiln__block_view(&b, 0, b.n, 0, &v);
    uint64_t *hashes = kiln__mem_alloc(&m, v.n * 8);
    assert_non_null(hashes);
    kiln__hash_batch(&s, &v, 0, v.n, false, hashes);
    custom_log log = {0};
    kiln__reducer r = {.op = KILN_OP_CUSTOM, .size = sizeof(pair),
                       .fn = pair_reduce, .arg = &log};
    kiln__combine_scratch scratch = {.mem = &m};
    size_t slots = t.nslots;
    assert_int_equal(kiln__combine_batch(&t, NULL, &r, &v, hashes, &scratch), KILN_OK);
    assert_true(t.nslots > slots); /* it did grow mid-batch */
    assert_int_equal(log.calls, 1); /* once per batch */
    assert_int_equal(log.folds, 6); /* five more "hot" records, no others */
    assert_int_equal(t.entries.n, NEW + 1);
    pair got;
    memcpy(&got, kiln__htable_value(&t, 0), sizeof got);
    assert_int_equal(got.x, 1 + 5 * 100 + 5);
    assert_int_equal(got.y, 4000);
    for (size_t e = 1; e <= NEW; e++) {
        memcpy(&got, kiln__htable_value(&t, e), sizeof got);
        assert_int_equal(got.x, e - 1);
    }

    /* The same batch again folds every record: 5001 + 6 + 1 folds. */
    assert_int_equal(kiln__combine_batch(&t, NULL, &r, &v, hashes, &scratch), KILN_OK);
    assert_int_equal(log.calls, 2);
    assert_int_equal(log.folds, 6 + v.n);
    memcpy(&got, kiln__htable_value(&t, 0), sizeof got);
    assert_int_equal(got.x, 2 * (1 + 5 * 100 + 5));

    kiln__mem_free(&m, hashes);
    kiln__combine_release(&scratch);
    kiln__block_release(&b);
    kiln__htable_release(&t);
    assert_int_equal(m.in_use, 0);
}

static void custom_function_failure_is_reported(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln_schema s = {U64, kiln_type_fixed(sizeof(pair), NULL, NULL, NULL)};
    kiln__htable t;
    assert_int_equal(kiln__htable_init(&t, &m, &s, false, 0), KILN_OK);
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &s), KILN_OK);
    uint64_t k = 1;
    pair p = {1, 1};
    assert_int_equal(kiln__block_append(&b, &k, 8, &p, sizeof p), KILN_OK);
    assert_int_equal(kiln__block_append(&b, &k, 8, &p, sizeof p), KILN_OK);
    kiln_batch v;
    kiln__block_view(&b, 0, b.n, 0, &v);
    uint64_t hashes[2];
    kiln__hash_batch(&s, &v, 0, 2, false, hashes);
    custom_log log = {.fail_with = KILN_ERR_PARSE};
    kiln__reducer r = {.op = KILN_OP_CUSTOM, .size = sizeof(pair),
                       .fn = pair_reduce, .arg = &log};
    kiln__combine_scratch scratch = {.mem = &m};
    assert_int_equal(kiln__combine_batch(&t, NULL, &r, &v, hashes, &scratch),
                     KILN_ERR_PARSE);
    assert_non_null(strstr(kiln__error_message(), "reduce"));
    /* A positive (non-status) return becomes KILN_ERR_USER. */
    log.fail_with = (kiln_status)3;
    kiln__htable_clear(&t);
    assert_int_equal(kiln__combine_batch(&t, NULL, &r, &v, hashes, &scratch),
                     KILN_ERR_USER);
    kiln__combine_release(&scratch);
    kiln__block_release(&b);
    kiln__htable_release(&t);
    assert_int_equal(m.in_use, 0);
}

static void multiple_tables_via_table_of(void **state)
{
    (void)state;
    enum { NT = 4, N = 2000 };
    kiln__mem m;
    kiln__mem_init(&m);
    kiln_schema s = {U64, U64};
    kiln__htable t[NT];
    for (int i = 0; i < NT; i++)
        assert_int_equal(kiln__htable_init(&t[i], &m, &s, false, 0), KILN_OK);
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &s), KILN_OK);
    uint32_t table_of[N];
    uint64_t want[50] = {0};
    for (uint64_t i = 0; i < N; i++) {
        uint64_t k = (i * 7) % 50, v = i;
        assert_int_equal(kiln__block_append(&b, &k, 8, &v, 8), KILN_OK);
        want[k] += v;
    }
    kiln_batch v;
    kiln__block_view(&b, 0, b.n, 0, &v);
    uint64_t hashes[N];
    kiln__hash_batch(&s, &v, 0, N, false, hashes);
    for (size_t i = 0; i < N; i++)
        table_of[i] = kiln__hash_partition(hashes[i], NT);
    kiln__reducer r = {.op = KILN_OP_SUM, .kind = KILN_KIND_U64, .size = 8};
    kiln__combine_scratch scratch = {.mem = &m};
    assert_int_equal(kiln__combine_batch(t, table_of, &r, &v, hashes, &scratch),
                     KILN_OK);
    size_t total = 0;
    for (int i = 0; i < NT; i++) {
        total += t[i].entries.n;
        for (size_t e = 0; e < t[i].entries.n; e++) {
            uint64_t k, got;
            memcpy(&k, t[i].entries.key.data + 8 * e, 8);
            memcpy(&got, kiln__htable_value(&t[i], e), 8);
            assert_int_equal(kiln__hash_partition(kiln__hash_key(&U64, &k, 8), NT),
                             (uint32_t)i); /* only its own keys */
            assert_int_equal(got, want[k]);
        }
    }
    assert_int_equal(total, 50);

    /* The same with a custom function, through the pending path. */
    custom_log log = {0};
    kiln_schema ps = {U64, kiln_type_fixed(sizeof(pair), NULL, NULL, NULL)};
    kiln__htable pt[NT];
    for (int i = 0; i < NT; i++)
        assert_int_equal(kiln__htable_init(&pt[i], &m, &ps, false, 0), KILN_OK);
    kiln__block pb;
    assert_int_equal(kiln__block_init(&pb, &m, &ps), KILN_OK);
    for (uint64_t i = 0; i < N; i++) {
        uint64_t k = (i * 7) % 50;
        pair p = {i, i};
        assert_int_equal(kiln__block_append(&pb, &k, 8, &p, sizeof p), KILN_OK);
    }
    kiln__block_view(&pb, 0, pb.n, 0, &v);
    kiln__reducer cr = {.op = KILN_OP_CUSTOM, .size = sizeof(pair),
                        .fn = pair_reduce, .arg = &log};
    assert_int_equal(kiln__combine_batch(pt, table_of, &cr, &v, hashes, &scratch),
                     KILN_OK);
    assert_int_equal(log.folds, N - 50);
    for (int i = 0; i < NT; i++) {
        for (size_t e = 0; e < pt[i].entries.n; e++) {
            uint64_t k;
            pair got;
            memcpy(&k, pt[i].entries.key.data + 8 * e, 8);
            memcpy(&got, kiln__htable_value(&pt[i], e), sizeof got);
            assert_int_equal(got.x, want[k]);
        }
        kiln__htable_release(&pt[i]);
    }
    kiln__block_release(&pb);

    kiln__combine_release(&scratch);
    kiln__block_release(&b);
    for (int i = 0; i < NT; i++)
        kiln__htable_release(&t[i]);
    assert_int_equal(m.in_use, 0);
}

static void no_reducer_keeps_first_record(void **state)
{
    (void)state;
    /* distinct: tables match whole records; a repeat changes nothing. */
    kiln__mem m;
    kiln__mem_init(&m);
    kiln_schema s = {U64, U64};
    kiln__htable t;
    assert_int_equal(kiln__htable_init(&t, &m, &s, true, 0), KILN_OK);
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &s), KILN_OK);
    const uint64_t rec[][2] = {{1, 1}, {1, 2}, {1, 1}, {2, 1}, {1, 2}, {2, 1}};
    for (int i = 0; i < 6; i++)
        assert_int_equal(kiln__block_append(&b, &rec[i][0], 8, &rec[i][1], 8), KILN_OK);
    kiln_batch v;
    kiln__block_view(&b, 0, b.n, 0, &v);
    uint64_t hashes[6];
    kiln__hash_batch(&s, &v, 0, 6, true, hashes);
    kiln__combine_scratch scratch = {.mem = &m};
    assert_int_equal(kiln__combine_batch(&t, NULL, NULL, &v, hashes, &scratch), KILN_OK);
    assert_int_equal(t.entries.n, 3);
    const uint64_t want[][2] = {{1, 1}, {1, 2}, {2, 1}};
    for (size_t e = 0; e < 3; e++) {
        uint64_t k, x;
        memcpy(&k, t.entries.key.data + 8 * e, 8);
        memcpy(&x, kiln__htable_value(&t, e), 8);
        assert_int_equal(k, want[e][0]);
        assert_int_equal(x, want[e][1]);
    }
    kiln__combine_release(&scratch);
    kiln__block_release(&b);
    kiln__htable_release(&t);
    assert_int_equal(m.in_use, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(builtin_operators_over_every_kind, setup),
        cmocka_unit_test_setup(builtin_spot_values, setup),
        cmocka_unit_test_setup(reduce_apply_folds_in_order, setup),
        cmocka_unit_test_setup(custom_function_with_duplicates_and_growth, setup),
        cmocka_unit_test_setup(custom_function_failure_is_reported, setup),
        cmocka_unit_test_setup(multiple_tables_via_table_of, setup),
        cmocka_unit_test_setup(no_reducer_keeps_first_record, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
