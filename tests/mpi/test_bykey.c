/* test_bykey: count_by_key, fold_by_key and aggregate_by_key against serial
 * references. fold_by_key's zero must be applied exactly once per key,
 * however many partitions hold the key's records and however many output
 * partitions there are: with SUM and a zero of 1000 any extra application
 * shows. aggregate_by_key keeps a (sum, count) accumulator, a 16-byte FIXED
 * type, over I64 and over STRING values. Each operation also runs on
 * contexts over the first 1 and 2 ranks of the job, against the same
 * reference. Output order is not defined: results are compared sorted. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

enum { N = 60000, KEYS = 500, PARTS = 16 };

static uint64_t key_of(int64_t v) { return t_mix((uint64_t)v) % KEYS; }
/* Every key also in every input partition: range partitions hold
 * consecutive values, and v % KEYS covers all keys in any 500 of them. */
static uint64_t dense_key_of(int64_t v) { return (uint64_t)v % 3; }
static int64_t i64_of(int64_t v)
{
    return (int64_t)(t_mix((uint64_t)v + 1) % 2001) - 1000;
}
static double f64_of(int64_t v) /* quarters: every sum is exact */
{
    return (double)((int64_t)(t_mix((uint64_t)v + 2) % 401) - 200) * 0.25;
}

typedef struct gen {
    kiln_kind value; /* I64, U64, F64, STRING or FIXED (a stats struct) */
    bool dense;      /* keys v % 3 instead of hashed */
} gen;

typedef struct stats {
    int64_t count, sum;
} stats;

static size_t text_of(int64_t v, char *buf)
{
    int64_t x = i64_of(v);
    return x % 5 == 0 ? 0 : (size_t)snprintf(buf, 32, "t%lld", (long long)x);
}

static kiln_status gen_pairs(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    const gen *g = arg;
    for (size_t i = 0; i < in->n; i++) {
        int64_t v = kiln_batch_value_i64(in, i);
        uint64_t k = g->dense ? dense_key_of(v) : key_of(v);
        unsigned char val[32];
        size_t len = 8;
        if (g->value == KILN_KIND_I64) {
            int64_t x = i64_of(v);
            memcpy(val, &x, 8);
        } else if (g->value == KILN_KIND_U64) {
            uint64_t x = (uint64_t)(i64_of(v) + 1000);
            memcpy(val, &x, 8);
        } else if (g->value == KILN_KIND_F64) {
            double x = f64_of(v);
            memcpy(val, &x, 8);
        } else if (g->value == KILN_KIND_STRING) {
            len = text_of(v, (char *)val);
        } else {
            stats s = {1, i64_of(v)};
            memcpy(val, &s, sizeof s);
            len = sizeof s;
        }
        kiln_status st = kiln_emit(out, &k, 8, val, len);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_type value_type(kiln_kind k)
{
    switch (k) {
    case KILN_KIND_I64: return KILN_T_I64;
    case KILN_KIND_U64: return KILN_T_U64;
    case KILN_KIND_F64: return KILN_T_F64;
    case KILN_KIND_STRING: return KILN_T_STRING;
    default: return kiln_type_fixed(sizeof(stats), NULL, NULL, NULL);
    }
}

static kiln_status build_pairs(kiln_context *ctx, const gen *g, kiln_dataset **out)
{
    kiln_dataset *src = NULL;
    kiln_status st = kiln_range(ctx, 0, N, 1, PARTS, &src);
    if (st == KILN_OK)
        st = kiln_dataset_map(src, kiln_schema_of(KILN_T_U64, value_type(g->value)),
                              gen_pairs, (void *)g, out);
    kiln_dataset_destroy(&src);
    return st;
}

/* ---- running one operation on the job's context and on smaller ones ---- */

typedef kiln_status (*op_fn)(kiln_context *ctx, void *arg, kiln_dataset **out);

static kiln_status result_text(kiln_context *ctx, op_fn op, void *arg, t_strv *got)
{
    kiln_dataset *ds = NULL;
    kiln_collection *c = NULL;
    kiln_status st = op(ctx, arg, &ds);
    if (st == KILN_OK)
        st = kiln_dataset_collect(ds, KILN_ALL_RANKS, &c);
    if (st == KILN_OK) {
        t_repr_batch(kiln_collection_batch(c), kiln_dataset_schema(ds), got);
        t_strv_sort(got);
    }
    kiln_collection_destroy(&c);
    kiln_dataset_destroy(&ds);
    return st;
}

/* want: sorted. */
static void check_everywhere(const char *what, op_fn op, void *arg, const t_strv *want)
{
    t_strv got = {0};
    EXPECT_OK(result_text(T.ctx, op, arg, &got));
    CHECK_STRV(&got, want, what);
    t_strv_free(&got);
    for (int k = 1; k <= 2; k++) {
        if (k >= T.nranks)
            break;
        kiln_context *sub = t_sub_context(k, NULL);
        if (sub) {
            kiln_status st = result_text(sub, op, arg, &got);
            CHECK(st == KILN_OK, "%s on %d ranks: %s: %s", what, k, kiln_strerror(st),
                  kiln_context_last_error(sub));
            char w2[300];
            snprintf(w2, sizeof w2, "%s, on %d rank%s", what, k, k > 1 ? "s" : "");
            CHECK_STRV(&got, want, w2);
            t_strv_free(&got);
            t_sub_done(&sub);
        }
        t_sync();
    }
}

/* ---- count_by_key ---- */

typedef struct count_arg {
    gen g;
    uint32_t nparts;
} count_arg;

static kiln_status op_count(kiln_context *ctx, void *arg, kiln_dataset **out)
{
    const count_arg *a = arg;
    kiln_dataset *kv = NULL;
    kiln_status st = build_pairs(ctx, &a->g, &kv);
    if (st == KILN_OK)
        st = kiln_dataset_count_by_key(kv, a->nparts, out);
    kiln_dataset_destroy(&kv);
    return st;
}

static void test_count(void)
{
    static uint64_t count[KEYS];
    memset(count, 0, sizeof count);
    for (int64_t v = 0; v < N; v++)
        count[key_of(v)]++;
    t_strv want = {0};
    for (uint64_t k = 0; k < KEYS; k++)
        if (count[k])
            t_strv_addf(&want, "%llu\t%llu", (unsigned long long)k,
                        (unsigned long long)count[k]);
    t_strv_sort(&want);
    const uint32_t widths[] = {0, 1, 7};
    const kiln_kind kinds[] = {KILN_KIND_I64, KILN_KIND_STRING, KILN_KIND_STRING};
    for (int i = 0; i < 3; i++) {
        char what[128];
        snprintf(what, sizeof what, "count_by_key: %s values into %u partitions",
                 kinds[i] == KILN_KIND_I64 ? "I64" : "STRING", widths[i]);
        t_section(what);
        count_arg a = {{kinds[i], false}, widths[i]};
        kiln_dataset *ds = NULL;
        EXPECT_OK(op_count(T.ctx, &a, &ds));
        kiln_schema s = kiln_dataset_schema(ds);
        CHECK(s.key.kind == KILN_KIND_U64 && s.value.kind == KILN_KIND_U64,
              "count_by_key gives (key, U64)");
        kiln_dataset_destroy(&ds);
        check_everywhere(what, op_count, &a, &want);
    }
    t_strv_free(&want);

    t_section("count_by_key: an empty dataset");
    kiln_dataset *empty = NULL, *kv = NULL, *cnt = NULL;
    gen g = {KILN_KIND_I64, false};
    EXPECT_OK(kiln_range(T.ctx, 0, 0, 1, 3, &empty));
    EXPECT_OK(kiln_dataset_map(empty, kiln_schema_of(KILN_T_U64, KILN_T_I64), gen_pairs,
                               &g, &kv));
    EXPECT_OK(kiln_dataset_count_by_key(kv, 0, &cnt));
    CHECK(t_count(cnt) == 0, "no keys");
    kiln_dataset_destroy(&cnt);
    kiln_dataset_destroy(&kv);
    kiln_dataset_destroy(&empty);
}

/* ---- fold_by_key ---- */

static int bad_reduce_arg;
static const char reduce_tag[] = "reduce-arg";

static kiln_status stats_reduce(void *const *acc, const unsigned char *values,
                                size_t n, size_t value_size, void *arg)
{
    if (value_size != sizeof(stats) || arg != (void *)reduce_tag)
        bad_reduce_arg = 1;
    for (size_t i = 0; i < n; i++) {
        stats a, v;
        memcpy(&a, acc[i], sizeof a);
        memcpy(&v, values + i * value_size, sizeof v);
        a.count += v.count;
        a.sum += v.sum;
        memcpy(acc[i], &a, sizeof a);
    }
    return KILN_OK;
}

typedef struct fold_arg {
    gen g;
    kiln_op op;
    unsigned char zero[16];
    uint32_t nparts;
} fold_arg;

static kiln_status op_fold(kiln_context *ctx, void *arg, kiln_dataset **out)
{
    const fold_arg *a = arg;
    kiln_dataset *kv = NULL;
    kiln_status st = build_pairs(ctx, &a->g, &kv);
    if (st == KILN_OK)
        st = kiln_dataset_fold_by_key(kv, a->zero, a->op,
                                      a->op == KILN_OP_CUSTOM ? stats_reduce : NULL,
                                      (void *)reduce_tag, a->nparts, out);
    kiln_dataset_destroy(&kv);
    return st;
}

/* The reference: the zero folded in once, then every value of the key. */
static void fold_reference(const fold_arg *a, t_strv *want)
{
    uint64_t nkeys = a->g.dense ? 3 : KEYS;
    static int64_t si[KEYS];
    static uint64_t su[KEYS];
    static double sd[KEYS];
    static stats ss[KEYS];
    static bool seen[KEYS];
    memset(seen, 0, sizeof seen);
    for (uint64_t k = 0; k < nkeys; k++) {
        memcpy(&si[k], a->zero, 8);
        memcpy(&su[k], a->zero, 8);
        memcpy(&sd[k], a->zero, 8);
        memcpy(&ss[k], a->zero, sizeof(stats));
    }
    for (int64_t v = 0; v < N; v++) {
        uint64_t k = a->g.dense ? dense_key_of(v) : key_of(v);
        seen[k] = true;
        int64_t x = i64_of(v);
        uint64_t xu = (uint64_t)(x + 1000);
        double xd = f64_of(v);
        switch (a->op) {
        case KILN_OP_SUM:
            si[k] += x;
            su[k] += xu;
            sd[k] += xd;
            break;
        case KILN_OP_MIN:
            si[k] = x < si[k] ? x : si[k];
            su[k] = xu < su[k] ? xu : su[k];
            sd[k] = xd < sd[k] ? xd : sd[k];
            break;
        case KILN_OP_MAX:
            si[k] = x > si[k] ? x : si[k];
            su[k] = xu > su[k] ? xu : su[k];
            sd[k] = xd > sd[k] ? xd : sd[k];
            break;
        default:
            ss[k].count += 1;
            ss[k].sum += x;
            break;
        }
    }
    for (uint64_t k = 0; k < nkeys; k++) {
        if (!seen[k])
            continue;
        if (a->op == KILN_OP_CUSTOM) {
            t_buf hex = {0};
            t_repr_field(&hex, KILN_KIND_FIXED, 0, KILN_KIND_NONE, &ss[k], sizeof(stats));
            t_strv_addf(want, "%llu\t%s", (unsigned long long)k, hex.p);
            t_buf_free(&hex);
        } else if (a->g.value == KILN_KIND_I64) {
            t_strv_addf(want, "%llu\t%lld", (unsigned long long)k, (long long)si[k]);
        } else if (a->g.value == KILN_KIND_U64) {
            t_strv_addf(want, "%llu\t%llu", (unsigned long long)k,
                        (unsigned long long)su[k]);
        } else {
            t_strv_addf(want, "%llu\t%a", (unsigned long long)k, sd[k]);
        }
    }
    t_strv_sort(want);
}

static void test_fold(void)
{
    int64_t thousand = 1000, below = -5000, zero_i = 0;
    uint64_t seven = 7;
    double half = 0.5;
    stats szero = {1000, -3};
    const struct {
        const char *name;
        gen g;
        kiln_op op;
        const void *zero;
        size_t zsize;
        uint32_t nparts;
    } cases[] = {
        {"SUM of I64, zero 1000", {KILN_KIND_I64, false}, KILN_OP_SUM, &thousand, 8, 0},
        {"SUM of I64, zero 1000", {KILN_KIND_I64, false}, KILN_OP_SUM, &thousand, 8, 1},
        {"SUM of I64, zero 1000", {KILN_KIND_I64, false}, KILN_OP_SUM, &thousand, 8, 7},
        {"SUM of I64, zero 1000, 3 keys in every input partition",
         {KILN_KIND_I64, true}, KILN_OP_SUM, &thousand, 8, 0},
        {"SUM of I64, zero 1000, 3 keys in every input partition",
         {KILN_KIND_I64, true}, KILN_OP_SUM, &thousand, 8, 16},
        {"SUM of U64, zero 7", {KILN_KIND_U64, false}, KILN_OP_SUM, &seven, 8, 5},
        {"SUM of F64, zero 0.5", {KILN_KIND_F64, false}, KILN_OP_SUM, &half, 8, 3},
        {"MIN of I64, zero below every value", {KILN_KIND_I64, false}, KILN_OP_MIN,
         &below, 8, 0},
        {"MAX of I64, zero 0", {KILN_KIND_I64, false}, KILN_OP_MAX, &zero_i, 8, 4},
        {"MAX of F64, zero 0.5", {KILN_KIND_F64, true}, KILN_OP_MAX, &half, 8, 0},
        {"custom (count, sum), zero (1000, -3)", {KILN_KIND_FIXED, false},
         KILN_OP_CUSTOM, &szero, sizeof szero, 0},
        {"custom (count, sum), zero (1000, -3), 3 keys", {KILN_KIND_FIXED, true},
         KILN_OP_CUSTOM, &szero, sizeof szero, 9},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char what[200];
        snprintf(what, sizeof what, "fold_by_key: %s into %u partitions",
                 cases[i].name, cases[i].nparts);
        t_section(what);
        fold_arg a;
        memset(&a, 0, sizeof a);
        a.g = cases[i].g;
        a.op = cases[i].op;
        memcpy(a.zero, cases[i].zero, cases[i].zsize);
        a.nparts = cases[i].nparts;
        t_strv want = {0};
        fold_reference(&a, &want);
        check_everywhere(what, op_fold, &a, &want);
        t_strv_free(&want);
    }
    int any = 0;
    MPI_Allreduce(&bad_reduce_arg, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    CHECK(!any, "the custom reduction got the wrong value size or arg");

    t_section("fold_by_key: invalid uses");
    gen g = {KILN_KIND_STRING, false};
    kiln_dataset *kv = NULL, *sentinel = (kiln_dataset *)&T, *bad = sentinel;
    EXPECT_OK(build_pairs(T.ctx, &g, &kv));
    EXPECT_STATUS(kiln_dataset_fold_by_key(kv, &thousand, KILN_OP_SUM, NULL, NULL, 0,
                                           &bad), KILN_ERR_INVAL);
    kiln_dataset_destroy(&kv);
    g.value = KILN_KIND_I64;
    EXPECT_OK(build_pairs(T.ctx, &g, &kv));
    EXPECT_STATUS(kiln_dataset_fold_by_key(kv, NULL, KILN_OP_SUM, NULL, NULL, 0, &bad),
                  KILN_ERR_INVAL);
    CHECK(bad == sentinel, "a failed fold_by_key wrote its out-parameter");
    kiln_dataset_destroy(&kv);
}

/* ---- aggregate_by_key ---- */

typedef struct acc16 {
    int64_t sum;   /* of I64 values, or of STRING lengths */
    uint64_t count;
} acc16;

static int bad_agg_arg;
static const char agg_tag[] = "aggregate-arg";

static kiln_status agg_seq(void *const *acc, const kiln_batch *in, void *arg)
{
    if (arg != (void *)agg_tag)
        bad_agg_arg = 1;
    for (size_t i = 0; i < in->n; i++) {
        acc16 a;
        memcpy(&a, acc[i], sizeof a); /* acc[i] may repeat: read, then write */
        size_t len;
        const void *v = kiln_batch_value(in, i, &len);
        if (in->value_offsets) {
            a.sum += (int64_t)len;
        } else {
            int64_t x;
            memcpy(&x, v, 8);
            a.sum += x;
        }
        a.count++;
        memcpy(acc[i], &a, sizeof a);
    }
    return KILN_OK;
}

static kiln_status agg_comb(void *const *acc, const unsigned char *values, size_t n,
                            size_t value_size, void *arg)
{
    if (arg != (void *)agg_tag || value_size != sizeof(acc16))
        bad_agg_arg = 1;
    for (size_t i = 0; i < n; i++) {
        acc16 a, b;
        memcpy(&a, acc[i], sizeof a);
        memcpy(&b, values + i * value_size, sizeof b);
        a.sum += b.sum;
        a.count += b.count;
        memcpy(acc[i], &a, sizeof a);
    }
    return KILN_OK;
}

typedef struct agg_arg {
    gen g;
    uint32_t nparts;
} agg_arg;

static kiln_status op_aggregate(kiln_context *ctx, void *arg, kiln_dataset **out)
{
    const agg_arg *a = arg;
    kiln_dataset *kv = NULL;
    acc16 zero = {0, 0};
    kiln_status st = build_pairs(ctx, &a->g, &kv);
    if (st == KILN_OK)
        st = kiln_dataset_aggregate_by_key(kv, kiln_type_fixed(sizeof(acc16), NULL,
                                                               NULL, NULL),
                                           &zero, agg_seq, agg_comb, (void *)agg_tag,
                                           a->nparts, out);
    kiln_dataset_destroy(&kv);
    return st;
}

static void test_aggregate(void)
{
    const agg_arg cases[] = {
        {{KILN_KIND_I64, false}, 0},
        {{KILN_KIND_I64, false}, 3},
        {{KILN_KIND_I64, true}, 1},
        {{KILN_KIND_STRING, false}, 0},
        {{KILN_KIND_STRING, true}, 6},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const agg_arg *a = &cases[i];
        char what[200];
        snprintf(what, sizeof what, "aggregate_by_key: (sum, count) of %s%s into %u "
                 "partitions", a->g.value == KILN_KIND_I64 ? "I64 values"
                 : "STRING lengths", a->g.dense ? ", 3 keys" : "", a->nparts);
        t_section(what);
        static acc16 ref[KEYS];
        memset(ref, 0, sizeof ref);
        for (int64_t v = 0; v < N; v++) {
            uint64_t k = a->g.dense ? dense_key_of(v) : key_of(v);
            char text[32];
            ref[k].sum += a->g.value == KILN_KIND_I64 ? i64_of(v)
                                                       : (int64_t)text_of(v, text);
            ref[k].count++;
        }
        t_strv want = {0};
        for (uint64_t k = 0; k < KEYS; k++) {
            if (!ref[k].count)
                continue;
            t_buf hex = {0};
            t_repr_field(&hex, KILN_KIND_FIXED, 0, KILN_KIND_NONE, &ref[k], sizeof ref[k]);
            t_strv_addf(&want, "%llu\t%s", (unsigned long long)k, hex.p);
            t_buf_free(&hex);
        }
        t_strv_sort(&want);
        kiln_dataset *ds = NULL;
        EXPECT_OK(op_aggregate(T.ctx, (void *)a, &ds));
        kiln_schema s = kiln_dataset_schema(ds);
        CHECK(s.key.kind == KILN_KIND_U64 && s.value.kind == KILN_KIND_FIXED &&
                  s.value.size == sizeof(acc16), "aggregate_by_key gives (key, acc_type)");
        kiln_dataset_destroy(&ds);
        check_everywhere(what, op_aggregate, (void *)a, &want);
        t_strv_free(&want);
    }
    int any = 0;
    MPI_Allreduce(&bad_agg_arg, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    CHECK(!any, "seq or comb got the wrong arg or size");

    t_section("aggregate_by_key: invalid uses");
    gen g = {KILN_KIND_I64, false};
    kiln_dataset *kv = NULL, *sentinel = (kiln_dataset *)&T, *bad = sentinel;
    acc16 zero = {0, 0};
    EXPECT_OK(build_pairs(T.ctx, &g, &kv));
    EXPECT_STATUS(kiln_dataset_aggregate_by_key(kv, KILN_T_STRING, &zero, agg_seq,
                                                agg_comb, NULL, 0, &bad), KILN_ERR_INVAL);
    EXPECT_STATUS(kiln_dataset_aggregate_by_key(kv, kiln_type_fixed(16, NULL, NULL, NULL),
                                                &zero, NULL, agg_comb, NULL, 0, &bad),
                  KILN_ERR_INVAL);
    CHECK(bad == sentinel, "a failed aggregate_by_key wrote its out-parameter");
    kiln_dataset_destroy(&kv);
}

int main(int argc, char **argv)
{
    t_keep_options(argc, argv);
    t_init(&argc, &argv);
    test_count();
    test_fold();
    test_aggregate();
    return t_finish();
}
