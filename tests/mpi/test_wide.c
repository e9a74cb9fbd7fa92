/* test_wide: reduce_by_key (SUM/MIN/MAX on U64, I64 and F64 values, a
 * custom reduction on a FIXED struct, several key kinds), group_by_key
 * (including one key with 200,000 values, exact) and distinct, against
 * serial references. The order of keys after a shuffle is not defined, so
 * results are compared sorted; list elements are sorted by the text form.
 * Also run with tiny shuffle rounds and combine tables, so records cross
 * the wire in many rounds and partial reductions get merged. F64 sums must
 * match, bit for bit, the documented fold order at every rank count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

enum { N = 60000, KEYS = 997 };

static void compare_sorted(kiln_dataset *ds, t_strv *want, const char *what)
{
    t_strv got = {0};
    t_collect_repr(ds, &got);
    t_strv_sort(&got);
    t_strv_sort(want);
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

/* ---- the generated key/value data ---- */

static uint64_t key_of(int64_t v) { return t_mix((uint64_t)v) % KEYS; }
static uint64_t u64_of(int64_t v) { return t_mix((uint64_t)v + 7) % 100000; }
static int64_t i64_of(int64_t v)
{
    return (int64_t)(t_mix((uint64_t)v + 11) % 2000001) - 1000000;
}
/* Quarters of small integers: every sum is exact, so the order in which a
 * shuffle folds them cannot change the result. */
static double f64_of(int64_t v)
{
    return (double)((int64_t)(t_mix((uint64_t)v + 13) % 2001) - 1000) * 0.25;
}

typedef struct gen_arg {
    kiln_kind kind;
} gen_arg;

/* I64 v -> (U64 key_of(v), value of the asked kind) */
static kiln_status gen_pairs(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    kiln_kind kind = ((const gen_arg *)arg)->kind;
    for (size_t i = 0; i < in->n; i++) {
        int64_t v = kiln_batch_value_i64(in, i);
        uint64_t k = key_of(v);
        unsigned char value[8];
        if (kind == KILN_KIND_U64) {
            uint64_t x = u64_of(v);
            memcpy(value, &x, 8);
        } else if (kind == KILN_KIND_I64) {
            int64_t x = i64_of(v);
            memcpy(value, &x, 8);
        } else {
            double x = f64_of(v);
            memcpy(value, &x, 8);
        }
        kiln_status st = kiln_emit(out, &k, 8, value, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static const char *op_name(kiln_op op)
{
    return op == KILN_OP_SUM ? "SUM" : op == KILN_OP_MIN ? "MIN" : "MAX";
}

static const char *kind_name(kiln_kind k)
{
    return k == KILN_KIND_U64 ? "U64" : k == KILN_KIND_I64 ? "I64" : "F64";
}

/* The serial reference for one (kind, op). */
static void reduce_reference(kiln_kind kind, kiln_op op, t_strv *want)
{
    static uint64_t u[KEYS];
    static int64_t s[KEYS];
    static double d[KEYS];
    static bool seen[KEYS];
    memset(seen, 0, sizeof seen);
    for (int64_t v = 0; v < N; v++) {
        uint64_t k = key_of(v);
        uint64_t xu = u64_of(v);
        int64_t xs = i64_of(v);
        double xd = f64_of(v);
        if (!seen[k]) {
            u[k] = xu;
            s[k] = xs;
            d[k] = xd;
            seen[k] = true;
            continue;
        }
        if (op == KILN_OP_SUM) {
            u[k] += xu;
            s[k] += xs;
            d[k] += xd;
        } else if (op == KILN_OP_MIN) {
            u[k] = xu < u[k] ? xu : u[k];
            s[k] = xs < s[k] ? xs : s[k];
            d[k] = xd < d[k] ? xd : d[k];
        } else {
            u[k] = xu > u[k] ? xu : u[k];
            s[k] = xs > s[k] ? xs : s[k];
            d[k] = xd > d[k] ? xd : d[k];
        }
    }
    for (uint64_t k = 0; k < KEYS; k++) {
        if (!seen[k])
            continue;
        if (kind == KILN_KIND_U64)
            t_strv_addf(want, "%llu\t%llu", (unsigned long long)k, (unsigned long long)u[k]);
        else if (kind == KILN_KIND_I64)
            t_strv_addf(want, "%llu\t%lld", (unsigned long long)k, (long long)s[k]);
        else
            t_strv_addf(want, "%llu\t%a", (unsigned long long)k, d[k]);
    }
}

static void test_reduce_builtin(void)
{
    const kiln_kind kinds[] = {KILN_KIND_U64, KILN_KIND_I64, KILN_KIND_F64};
    const kiln_op ops[] = {KILN_OP_SUM, KILN_OP_MIN, KILN_OP_MAX};
    const uint32_t widths[] = {0, 1, 5, 64};
    kiln_dataset *src = range_ds(0, N, 0);
    for (int ki = 0; ki < 3; ki++) {
        gen_arg ga = {kinds[ki]};
        kiln_type vt = kinds[ki] == KILN_KIND_U64 ? KILN_T_U64
                       : kinds[ki] == KILN_KIND_I64 ? KILN_T_I64 : KILN_T_F64;
        kiln_dataset *pairs = NULL;
        EXPECT_OK(kiln_dataset_map(src, kiln_schema_of(KILN_T_U64, vt), gen_pairs,
                                   &ga, &pairs));
        for (int oi = 0; oi < 3; oi++) {
            char what[128];
            snprintf(what, sizeof what, "reduce_by_key %s on %s values",
                     op_name(ops[oi]), kind_name(kinds[ki]));
            t_section(what);
            for (int wi = 0; wi < 4; wi++) {
                /* Every width for SUM; MIN and MAX at the default. */
                if (ops[oi] != KILN_OP_SUM && wi > 0)
                    break;
                kiln_dataset *red = NULL;
                EXPECT_OK(kiln_dataset_reduce_by_key(pairs, ops[oi], NULL, NULL,
                                                     widths[wi], &red));
                t_strv want = {0};
                reduce_reference(kinds[ki], ops[oi], &want);
                char w2[160];
                snprintf(w2, sizeof w2, "%s into %u partitions", what, widths[wi]);
                compare_sorted(red, &want, w2);
                kiln_dataset_destroy(&red);
            }
        }
        kiln_dataset_destroy(&pairs);
    }
    kiln_dataset_destroy(&src);
}

/* ---- other key kinds ---- */

/* I64 v -> (STRING "w<k>", U64 1), (I64 k - 500, U64 1) or FIXED keys */
static kiln_status string_keys(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        int64_t v = kiln_batch_value_i64(in, i);
        char word[32];
        /* one empty key too */
        int len = key_of(v) == 0 ? 0 : snprintf(word, sizeof word, "w%llu",
                                                (unsigned long long)key_of(v));
        uint64_t one = 1;
        kiln_status st = kiln_emit(out, word, (size_t)len, &one, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status signed_keys(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        int64_t v = kiln_batch_value_i64(in, i);
        int64_t k = (int64_t)key_of(v) - 500;
        int64_t x = i64_of(v);
        kiln_status st = kiln_emit(out, &k, 8, &x, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* A FIXED key whose identity is `id` only: `noise` differs between records
 * of one key, so only the user's hash and compare can bring them together. */
typedef struct fixed_key {
    uint32_t id;
    uint32_t noise;
} fixed_key;

static uint64_t fixed_hash(const void *rec, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    fixed_key k;
    memcpy(&k, rec, sizeof k);
    return t_mix(k.id);
}

static int fixed_compare(const void *a, const void *b, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    fixed_key x, y;
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    return x.id < y.id ? -1 : x.id > y.id;
}

static kiln_status fixed_keys(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        int64_t v = kiln_batch_value_i64(in, i);
        fixed_key k = {(uint32_t)key_of(v), (uint32_t)t_mix((uint64_t)v)};
        uint64_t x = u64_of(v);
        kiln_status st = kiln_emit(out, &k, sizeof k, &x, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* (FIXED key, U64) -> (U64 id, U64): drop the noise before comparing */
static kiln_status fixed_to_id(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        fixed_key k;
        memcpy(&k, kiln_batch_key(in, i, &len), sizeof k);
        uint64_t id = k.id, x = kiln_batch_value_u64(in, i);
        kiln_status st = kiln_emit(out, &id, 8, &x, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* I64 v -> (STRING of length 1 + key_of(v) % 40 made of 'a' + key_of(v) % 26,
 * U64 1): keys on both sides of the 15 bytes a table slot holds inline,
 * each one repeated, so hits and inserts of both kinds are folded. */
static size_t slot_edge_spell(uint64_t k, char word[64])
{
    size_t len = 1 + (size_t)(k % 40);
    memset(word, 'a' + (int)(k % 26), len);
    word[0] = (char)('0' + (k / 26) % 10); /* keys of one length differ */
    return len;
}

static kiln_status slot_edge_keys(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        char word[64];
        size_t len = slot_edge_spell(key_of(kiln_batch_value_i64(in, i)), word);
        uint64_t one = 1;
        kiln_status st = kiln_emit(out, word, len, &one, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static void test_reduce_slot_edges(void)
{
    t_section("reduce_by_key: STRING keys of 1 to 40 bytes (slot-inline edge)");
    static uint64_t count[KEYS];
    memset(count, 0, sizeof count);
    for (int64_t v = 0; v < N; v++)
        count[key_of(v)]++;
    /* Several ids may spell the same key: count by spelling. */
    t_strv want = {0};
    static char seen[KEYS];
    memset(seen, 0, sizeof seen);
    for (uint64_t k = 0; k < KEYS; k++) {
        if (!count[k] || seen[k])
            continue;
        char word[64], other[64];
        size_t len = slot_edge_spell(k, word), total = 0;
        for (uint64_t j = k; j < KEYS; j++) {
            if (count[j] && slot_edge_spell(j, other) == len &&
                memcmp(word, other, len) == 0) {
                total += count[j];
                seen[j] = 1;
            }
        }
        t_strv_addf(&want, "%.*s\t%llu", (int)len, word, (unsigned long long)total);
    }
    kiln_dataset *src = range_ds(0, N, 0), *kv = NULL, *red = NULL;
    EXPECT_OK(kiln_dataset_flat_map(src, kiln_schema_of(KILN_T_STRING, KILN_T_U64),
                                    slot_edge_keys, NULL, &kv));
    EXPECT_OK(kiln_dataset_reduce_by_key(kv, KILN_OP_SUM, NULL, NULL, 0, &red));
    compare_sorted(red, &want, "STRING keys across the inline limit");
    kiln_dataset_destroy(&red);
    kiln_dataset_destroy(&kv);
    kiln_dataset_destroy(&src);
}

static void test_reduce_key_kinds(void)
{
    t_section("reduce_by_key: STRING keys (one empty)");
    static uint64_t count[KEYS];
    static uint64_t usum[KEYS];
    static int64_t ssum[KEYS];
    memset(count, 0, sizeof count);
    memset(usum, 0, sizeof usum);
    memset(ssum, 0, sizeof ssum);
    for (int64_t v = 0; v < N; v++) {
        count[key_of(v)]++;
        usum[key_of(v)] += u64_of(v);
        ssum[key_of(v)] += i64_of(v);
    }
    kiln_dataset *src = range_ds(0, N, 0), *kv = NULL, *red = NULL, *ids = NULL;
    EXPECT_OK(kiln_dataset_flat_map(src, kiln_schema_of(KILN_T_STRING, KILN_T_U64),
                                    string_keys, NULL, &kv));
    EXPECT_OK(kiln_dataset_reduce_by_key(kv, KILN_OP_SUM, NULL, NULL, 0, &red));
    t_strv want = {0};
    for (uint64_t k = 0; k < KEYS; k++) {
        if (!count[k])
            continue;
        if (k == 0)
            t_strv_addf(&want, "\t%llu", (unsigned long long)count[k]);
        else
            t_strv_addf(&want, "w%llu\t%llu", (unsigned long long)k,
                        (unsigned long long)count[k]);
    }
    compare_sorted(red, &want, "word-count style STRING keys");
    kiln_dataset_destroy(&red);
    kiln_dataset_destroy(&kv);

    t_section("reduce_by_key: negative I64 keys");
    EXPECT_OK(kiln_dataset_map(src, kiln_schema_of(KILN_T_I64, KILN_T_I64),
                               signed_keys, NULL, &kv));
    EXPECT_OK(kiln_dataset_reduce_by_key(kv, KILN_OP_SUM, NULL, NULL, 3, &red));
    for (uint64_t k = 0; k < KEYS; k++)
        if (count[k])
            t_strv_addf(&want, "%lld\t%lld", (long long)k - 500, (long long)ssum[k]);
    compare_sorted(red, &want, "I64 keys from -500");
    kiln_dataset_destroy(&red);
    kiln_dataset_destroy(&kv);

    t_section("reduce_by_key: FIXED keys with the user's hash and compare");
    kiln_type ft = kiln_type_fixed(sizeof(fixed_key), fixed_hash, fixed_compare, NULL);
    EXPECT_OK(kiln_dataset_map(src, kiln_schema_of(ft, KILN_T_U64), fixed_keys,
                               NULL, &kv));
    EXPECT_OK(kiln_dataset_reduce_by_key(kv, KILN_OP_SUM, NULL, NULL, 0, &red));
    EXPECT_OK(kiln_dataset_map(red, kiln_schema_of(KILN_T_U64, KILN_T_U64),
                               fixed_to_id, NULL, &ids));
    for (uint64_t k = 0; k < KEYS; k++)
        if (count[k])
            t_strv_addf(&want, "%llu\t%llu", (unsigned long long)k,
                        (unsigned long long)usum[k]);
    compare_sorted(ids, &want, "one record per id, noise ignored");
    kiln_dataset_destroy(&ids);
    kiln_dataset_destroy(&red);
    kiln_dataset_destroy(&kv);
    kiln_dataset_destroy(&src);
}

/* ---- custom reduction on a FIXED struct value ---- */

typedef struct stats {
    int64_t n, sum, min, max;
    uint64_t xor_bits;
} stats;

static uint64_t custom_calls;

static kiln_status stats_fold(void *const *acc, const unsigned char *values,
                              size_t n, size_t value_size, void *arg)
{
    if (value_size != sizeof(stats) || arg != &custom_calls)
        return kiln_error(KILN_ERR_INVAL, "reduce fn: size %zu, arg %p",
                          value_size, arg);
    custom_calls++;
    for (size_t i = 0; i < n; i++) {
        stats a, v;
        memcpy(&a, acc[i], sizeof a);
        memcpy(&v, values + i * value_size, sizeof v);
        a.n += v.n;
        a.sum += v.sum;
        a.min = v.min < a.min ? v.min : a.min;
        a.max = v.max > a.max ? v.max : a.max;
        a.xor_bits ^= v.xor_bits;
        memcpy(acc[i], &a, sizeof a);
    }
    return KILN_OK;
}

static kiln_status gen_stats(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        int64_t v = kiln_batch_value_i64(in, i);
        uint64_t k = key_of(v) % 50;
        int64_t x = i64_of(v);
        stats s = {1, x, x, x, t_mix((uint64_t)v)};
        kiln_status st = kiln_emit(out, &k, 8, &s, sizeof s);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static void test_reduce_custom(void)
{
    t_section("reduce_by_key: custom function on a FIXED struct");
    stats ref[50];
    bool seen[50] = {false};
    for (int64_t v = 0; v < N; v++) {
        uint64_t k = key_of(v) % 50;
        int64_t x = i64_of(v);
        if (!seen[k]) {
            ref[k] = (stats){0, 0, x, x, 0};
            seen[k] = true;
        }
        ref[k].n++;
        ref[k].sum += x;
        ref[k].min = x < ref[k].min ? x : ref[k].min;
        ref[k].max = x > ref[k].max ? x : ref[k].max;
        ref[k].xor_bits ^= t_mix((uint64_t)v);
    }
    kiln_type st = kiln_type_fixed(sizeof(stats), NULL, NULL, NULL);
    kiln_dataset *src = range_ds(0, N, 0), *kv = NULL, *red = NULL;
    EXPECT_OK(kiln_dataset_map(src, kiln_schema_of(KILN_T_U64, st), gen_stats,
                               NULL, &kv));
    const uint32_t widths[] = {0, 2, 7};
    for (int w = 0; w < 3; w++) {
        EXPECT_OK(kiln_dataset_reduce_by_key(kv, KILN_OP_CUSTOM, stats_fold,
                                             &custom_calls, widths[w], &red));
        t_strv want = {0};
        for (uint64_t k = 0; k < 50; k++) {
            if (!seen[k])
                continue;
            t_buf line = {0};
            t_buf_addf(&line, "%llu\t", (unsigned long long)k);
            t_repr_field(&line, KILN_KIND_FIXED, 0, KILN_KIND_NONE, &ref[k], sizeof ref[k]);
            t_strv_add(&want, line.p, line.len);
            t_buf_free(&line);
        }
        compare_sorted(red, &want, "n, sum, min, max, xor per key");
        kiln_dataset_destroy(&red);
    }
    uint64_t all_calls = 0;
    MPI_Allreduce(&custom_calls, &all_calls, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    CHECK(all_calls > 0, "the custom reduce function was never called");

    t_section("reduce_by_key: invalid uses");
    kiln_dataset *sentinel = (kiln_dataset *)&T, *bad = sentinel;
    EXPECT_STATUS(kiln_dataset_reduce_by_key(kv, KILN_OP_CUSTOM, NULL, NULL, 0, &bad),
                  KILN_ERR_INVAL);
    EXPECT_STATUS(kiln_dataset_reduce_by_key(kv, KILN_OP_SUM, NULL, NULL, 0, &bad),
                  KILN_ERR_INVAL); /* SUM on a FIXED value */
    EXPECT_STATUS(kiln_dataset_reduce_by_key(src, KILN_OP_SUM, NULL, NULL, 0, &bad),
                  KILN_ERR_INVAL); /* no key */
    kiln_dataset *strv = NULL;
    EXPECT_OK(kiln_dataset_flat_map(src, kiln_schema_of(KILN_T_U64, KILN_T_STRING),
                                    gen_stats /* never run */, NULL, &strv));
    EXPECT_STATUS(kiln_dataset_reduce_by_key(strv, KILN_OP_CUSTOM, stats_fold, NULL,
                                             0, &bad), KILN_ERR_INVAL);
    CHECK(bad == sentinel, "a failed reduce_by_key wrote its out-parameter");
    kiln_dataset_destroy(&strv);
    kiln_dataset_destroy(&kv);
    kiln_dataset_destroy(&src);
}

/* ---- group_by_key ---- */

enum { BIG = 200000, REST = 20000, BIG_KEY = 424242 };

/* v < BIG -> (BIG_KEY, v); else (v % 50, v) */
static kiln_status gen_groups(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        int64_t v = kiln_batch_value_i64(in, i);
        uint64_t k = v < BIG ? BIG_KEY : (uint64_t)(v % 50);
        kiln_status st = kiln_emit(out, &k, 8, &v, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* (U64 k, I64 v) -> (U64 k, STRING "s<v>" or "" for every 9th) */
static kiln_status to_text(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        int64_t v = kiln_batch_value_i64(in, i);
        char text[32];
        int len = v % 9 == 0 ? 0 : snprintf(text, sizeof text, "s%lld", (long long)v);
        kiln_status st = kiln_emit_value(out, text, (size_t)len);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* (U64 k, LIST) -> (U64 k, U64 elements) */
static kiln_status list_sizes(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        const void *list = kiln_batch_value(in, i, &len);
        kiln_list_iter it = kiln_list_begin(list, len, 8);
        const void *e;
        size_t elen;
        uint64_t n = 0;
        while (kiln_list_next(&it, &e, &elen))
            n++;
        kiln_status st = kiln_emit_value(out, &n, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static void test_group(void)
{
    t_section("group_by_key: one key with 200,000 values, exact");
    kiln_dataset *src = range_ds(0, BIG + REST, 0), *kv = NULL, *g = NULL,
                 *sizes = NULL;
    EXPECT_OK(kiln_dataset_map(src, kiln_schema_of(KILN_T_U64, KILN_T_I64),
                               gen_groups, NULL, &kv));
    EXPECT_OK(kiln_dataset_group_by_key(kv, 0, &g));
    kiln_schema gs = kiln_dataset_schema(g);
    CHECK(gs.key.kind == KILN_KIND_U64 && gs.value.kind == KILN_KIND_LIST &&
              gs.value.elem_kind == KILN_KIND_I64 && gs.value.elem_size == 8,
          "group_by_key schema is (U64, LIST of 8-byte I64)");
    t_strv want = {0};
    t_strv elems[51];
    memset(elems, 0, sizeof elems);
    for (int64_t v = 0; v < BIG + REST; v++)
        t_strv_addf(&elems[v < BIG ? 50 : v % 50], "%lld", (long long)v);
    for (int k = 0; k <= 50; k++) {
        t_buf line = {0};
        t_buf_addf(&line, "%d\t", k == 50 ? BIG_KEY : k);
        t_repr_list(&line, &elems[k]);
        t_strv_add(&want, line.p, line.len);
        t_buf_free(&line);
    }
    compare_sorted(g, &want, "groups with every value once");
    EXPECT_OK(kiln_dataset_map_values(g, KILN_T_U64, list_sizes, NULL, &sizes));
    for (int k = 0; k < 50; k++)
        t_strv_addf(&want, "%d\t%d", k, REST / 50);
    t_strv_addf(&want, "%d\t%d", BIG_KEY, BIG);
    compare_sorted(sizes, &want, "group sizes (a second action on the groups)");
    kiln_dataset_destroy(&sizes);
    kiln_dataset_destroy(&g);

    t_section("group_by_key: STRING values (length-prefixed lists)");
    kiln_dataset *kt = NULL;
    EXPECT_OK(kiln_dataset_map_values(kv, KILN_T_STRING, to_text, NULL, &kt));
    EXPECT_OK(kiln_dataset_group_by_key(kt, 5, &g));
    gs = kiln_dataset_schema(g);
    CHECK(gs.value.kind == KILN_KIND_LIST && gs.value.elem_kind == KILN_KIND_STRING &&
              gs.value.elem_size == 0, "a LIST of variable-size elements");
    for (int k = 0; k <= 50; k++)
        t_strv_free(&elems[k]);
    for (int64_t v = 0; v < BIG + REST; v++) {
        if (v % 9 == 0)
            t_strv_add(&elems[v < BIG ? 50 : v % 50], "", 0);
        else
            t_strv_addf(&elems[v < BIG ? 50 : v % 50], "s%lld", (long long)v);
    }
    for (int k = 0; k <= 50; k++) {
        t_buf line = {0};
        t_buf_addf(&line, "%d\t", k == 50 ? BIG_KEY : k);
        t_repr_list(&line, &elems[k]);
        t_strv_add(&want, line.p, line.len);
        t_buf_free(&line);
        t_strv_free(&elems[k]);
    }
    compare_sorted(g, &want, "string groups, empty strings kept");
    kiln_dataset_destroy(&g);
    kiln_dataset_destroy(&kt);

    t_section("group_by_key: invalid uses");
    kiln_dataset *sentinel = (kiln_dataset *)&T, *bad = sentinel;
    EXPECT_STATUS(kiln_dataset_group_by_key(src, 0, &bad), KILN_ERR_INVAL);
    EXPECT_OK(kiln_dataset_group_by_key(kv, 0, &g));
    EXPECT_STATUS(kiln_dataset_group_by_key(g, 0, &bad), KILN_ERR_INVAL);
    CHECK(bad == sentinel, "a failed group_by_key wrote its out-parameter");
    kiln_dataset_destroy(&g);
    kiln_dataset_destroy(&kv);
    kiln_dataset_destroy(&src);
}

/* ---- distinct ---- */

static kiln_status mod_values(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    int64_t m = *(const int64_t *)arg;
    for (size_t i = 0; i < in->n; i++) {
        int64_t v = kiln_batch_value_i64(in, i) % m;
        kiln_status st = kiln_emit(out, NULL, 0, &v, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* (U64 v % 10, STRING "x<v % 30>") */
static kiln_status pair_text(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        int64_t v = kiln_batch_value_i64(in, i);
        uint64_t k = (uint64_t)(v % 10);
        char text[16];
        int len = snprintf(text, sizeof text, "x%lld", (long long)(v % 30));
        kiln_status st = kiln_emit(out, &k, 8, text, (size_t)len);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static void test_distinct(void)
{
    t_section("distinct: plain values");
    kiln_dataset *src = range_ds(-N, N, 0), *m = NULL, *d = NULL;
    int64_t mod = 1000;
    EXPECT_OK(kiln_dataset_map(src, kiln_schema_of(KILN_T_NONE, KILN_T_I64),
                               mod_values, &mod, &m));
    EXPECT_OK(kiln_dataset_distinct(m, 0, &d));
    t_strv want = {0};
    for (int v = -999; v < 1000; v++)
        t_strv_addf(&want, "%d", v);
    compare_sorted(d, &want, "values -999..999 once each");
    CHECK(t_count(d) == 1999, "count of distinct values");
    kiln_dataset_destroy(&d);

    t_section("distinct: whole keyed records");
    kiln_dataset *p = NULL;
    EXPECT_OK(kiln_dataset_map(src, kiln_schema_of(KILN_T_U64, KILN_T_STRING),
                               pair_text, NULL, &p));
    EXPECT_OK(kiln_dataset_distinct(p, 4, &d));
    /* v % 10 follows from v % 30, so there are 59 distinct records over
     * -N..N: one per v % 30 in -29..29. */
    for (int r = -29; r < 30; r++)
        t_strv_addf(&want, "%llu\tx%d", (unsigned long long)(uint64_t)(int64_t)(r % 10), r);
    compare_sorted(d, &want, "(key, value) pairs once each");
    kiln_dataset_destroy(&d);
    kiln_dataset_destroy(&p);
    kiln_dataset_destroy(&m);
    kiln_dataset_destroy(&src);
}

/* ---- empty inputs, chains of shuffles, unions of shuffles ---- */

static void test_chains(void)
{
    t_section("shuffles of an empty dataset");
    kiln_dataset *empty = range_ds(0, 0, 0), *kv = NULL, *r = NULL, *g = NULL,
                 *d = NULL;
    gen_arg ga = {KILN_KIND_U64};
    EXPECT_OK(kiln_dataset_map(empty, kiln_schema_of(KILN_T_U64, KILN_T_U64),
                               gen_pairs, &ga, &kv));
    EXPECT_OK(kiln_dataset_reduce_by_key(kv, KILN_OP_SUM, NULL, NULL, 0, &r));
    EXPECT_OK(kiln_dataset_group_by_key(kv, 0, &g));
    EXPECT_OK(kiln_dataset_distinct(kv, 0, &d));
    CHECK(t_count(r) == 0, "reduce_by_key of nothing");
    CHECK(t_count(g) == 0, "group_by_key of nothing");
    CHECK(t_count(d) == 0, "distinct of nothing");
    t_strv none = {0};
    compare_sorted(r, &none, "collect of an empty shuffle");
    kiln_dataset_destroy(&d);
    kiln_dataset_destroy(&g);
    kiln_dataset_destroy(&r);
    kiln_dataset_destroy(&kv);
    kiln_dataset_destroy(&empty);

    t_section("reduce, then group the sums, then union two shuffles");
    kiln_dataset *src = range_ds(0, N, 0), *sums = NULL, *rekeyed = NULL,
                 *groups = NULL, *u = NULL, *ur = NULL;
    EXPECT_OK(kiln_dataset_map(src, kiln_schema_of(KILN_T_U64, KILN_T_U64),
                               gen_pairs, &ga, &kv));
    EXPECT_OK(kiln_dataset_reduce_by_key(kv, KILN_OP_SUM, NULL, NULL, 0, &sums));
    /* A NULL callback is refused, on every rank. */
    EXPECT_STATUS(kiln_dataset_key_by(sums, KILN_T_U64, NULL, NULL, &rekeyed),
                  KILN_ERR_INVAL);
    static uint64_t sum_of[KEYS];
    memset(sum_of, 0, sizeof sum_of);
    for (int64_t v = 0; v < N; v++)
        sum_of[key_of(v)] += u64_of(v);
    EXPECT_OK(kiln_dataset_group_by_key(sums, 0, &groups));
    EXPECT_OK(kiln_dataset_union(sums, sums, &u));
    EXPECT_OK(kiln_dataset_reduce_by_key(u, KILN_OP_SUM, NULL, NULL, 0, &ur));
    t_strv want = {0}, want2 = {0};
    for (uint64_t k = 0; k < KEYS; k++) {
        t_strv_addf(&want, "%llu\t[%llu]", (unsigned long long)k,
                    (unsigned long long)sum_of[k]);
        t_strv_addf(&want2, "%llu\t%llu", (unsigned long long)k,
                    (unsigned long long)(2 * sum_of[k]));
    }
    compare_sorted(groups, &want, "group_by_key of reduce_by_key output");
    compare_sorted(ur, &want2, "reduce_by_key of a union of shuffled data");
    kiln_dataset_destroy(&ur);
    kiln_dataset_destroy(&u);
    kiln_dataset_destroy(&groups);
    kiln_dataset_destroy(&rekeyed);
    kiln_dataset_destroy(&sums);
    kiln_dataset_destroy(&kv);
    kiln_dataset_destroy(&src);
}

/* ---- F64 sums: the same bits at any rank count ----
 *
 * Values of very different magnitudes, so that every order of adding them
 * rounds differently. Kiln's rule (docs/architecture.md, Determinism): each
 * task folds its records per key in record order; the owner sorts a key's
 * partials (one per task) by their bytes and folds them in that order.
 * The reference follows the rule, and the ranks must match it bit for bit. */
enum { ORDER_N = 20011, ORDER_PARTS = 7, ORDER_KEYS = 13 };

static double order_value(int64_t v)
{
    uint64_t m = t_mix((uint64_t)v + 17);
    double x = ldexp((double)(m >> 11), (int)(m % 61) - 60 - 53);
    return (m & 1) ? -x : x;
}

static kiln_status order_pairs(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        int64_t v = kiln_batch_value_i64(in, i);
        uint64_t k = (uint64_t)v % ORDER_KEYS;
        double x = order_value(v);
        kiln_status st = kiln_emit(out, &k, 8, &x, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static int by_bytes(const void *a, const void *b)
{
    return memcmp(a, b, 8);
}

static void test_reduce_f64_order(void)
{
    t_section("reduce_by_key F64 SUM: bit-identical at any rank count");
    /* The partials: partition p of kiln_range holds a contiguous run. */
    static double partial[ORDER_PARTS][ORDER_KEYS];
    static bool have[ORDER_PARTS][ORDER_KEYS];
    memset(have, 0, sizeof have);
    int64_t start = 0;
    for (int p = 0; p < ORDER_PARTS; p++) {
        int64_t len = ORDER_N / ORDER_PARTS + (p < ORDER_N % ORDER_PARTS ? 1 : 0);
        for (int64_t v = start; v < start + len; v++) {
            uint64_t k = (uint64_t)v % ORDER_KEYS;
            double x = order_value(v);
            partial[p][k] = have[p][k] ? partial[p][k] + x : x;
            have[p][k] = true;
        }
        start += len;
    }
    t_strv want = {0};
    bool differs = false; /* does the order matter at all for this data? */
    for (uint64_t k = 0; k < ORDER_KEYS; k++) {
        double list[ORDER_PARTS], sum = 0, plain = 0;
        int n = 0;
        for (int p = 0; p < ORDER_PARTS; p++)
            if (have[p][k]) {
                list[n++] = partial[p][k];
                plain += partial[p][k];
            }
        qsort(list, (size_t)n, sizeof *list, by_bytes);
        for (int i = 0; i < n; i++)
            sum = i ? sum + list[i] : list[i];
        differs |= memcmp(&sum, &plain, 8) != 0;
        t_strv_addf(&want, "%llu\t%a", (unsigned long long)k, sum);
    }
    CHECK(differs, "the test data should be sensitive to the order of folds");
    kiln_dataset *src = range_ds(0, ORDER_N, ORDER_PARTS), *pairs = NULL, *red = NULL;
    EXPECT_OK(kiln_dataset_map(src, kiln_schema_of(KILN_T_U64, KILN_T_F64),
                               order_pairs, NULL, &pairs));
    EXPECT_OK(kiln_dataset_reduce_by_key(pairs, KILN_OP_SUM, NULL, NULL, 5, &red));
    compare_sorted(red, &want, "F64 sums in the documented order");
    kiln_dataset_destroy(&red);
    kiln_dataset_destroy(&pairs);
    kiln_dataset_destroy(&src);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    test_reduce_builtin();
    test_reduce_f64_order();
    test_reduce_key_kinds();
    test_reduce_slot_edges();
    test_reduce_custom();
    test_group();
    test_distinct();
    test_chains();
    return t_finish();
}
