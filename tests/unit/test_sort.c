/* tests/unit/test_sort.c: sorting a partition held in memory
 * (runtime/sort.h). kiln__sort_store() against qsort() with an order
 * written here from the documentation, on stores of many blocks: every
 * key kind, keys whose bytes vary only in some radix digits (passes
 * skipped), many equal keys (ties by value bytes), byte keys longer than
 * the 8-byte prefix, a user compare function (no prefix path), descending;
 * an empty store, one record, and out-of-memory at every allocation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/sort.h"

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* ---- the records of a test, flat, and their reference order ---- */

typedef struct recs {
    unsigned char *keys, *values;
    size_t *koff, *voff; /* n + 1 each */
    size_t n;
} recs;

typedef struct ref {
    kiln_kind kind;
    kiln_compare_fn fn;
    void *arg;
    bool desc;
} ref;

static int bytes_ref(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c < 0 ? -1 : 1;
    return al < bl ? -1 : al > bl;
}

static uint64_t total_order(const unsigned char *p)
{
    uint64_t b;
    memcpy(&b, p, 8);
    return (b >> 63) ? ~b : b | (1ull << 63);
}

static const recs *g_recs;
static const ref *g_ref;

static int ref_cmp(size_t i, size_t j)
{
    const recs *r = g_recs;
    const unsigned char *a = r->keys + r->koff[i], *b = r->keys + r->koff[j];
    size_t al = r->koff[i + 1] - r->koff[i], bl = r->koff[j + 1] - r->koff[j];
    int c;
    if (g_ref->fn) {
        c = g_ref->fn(a, b, al, g_ref->arg);
        c = c < 0 ? -1 : c > 0;
    } else if (g_ref->kind == KILN_KIND_U64 || g_ref->kind == KILN_KIND_I64 ||
               g_ref->kind == KILN_KIND_F64) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (g_ref->kind == KILN_KIND_I64) {
            x ^= 1ull << 63;
            y ^= 1ull << 63;
        } else if (g_ref->kind == KILN_KIND_F64) {
            x = total_order(a);
            y = total_order(b);
        }
        c = x < y ? -1 : x > y;
    } else {
        c = bytes_ref(a, al, b, bl);
    }
    if (!c)
        c = bytes_ref(r->values + r->voff[i], r->voff[i + 1] - r->voff[i],
                      r->values + r->voff[j], r->voff[j + 1] - r->voff[j]);
    return g_ref->desc ? -c : c;
}

static int by_ref(const void *x, const void *y)
{
    return ref_cmp(*(const size_t *)x, *(const size_t *)y);
}

/* Fill a store from recs through 1000-record blocks. */
static void fill(kiln__mem *m, const recs *r, kiln__store *s)
{
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, m, &s->schema), KILN_OK);
    for (size_t i = 0; i < r->n; i++) {
        assert_int_equal(kiln__block_append(&b, r->keys + r->koff[i],
                                            r->koff[i + 1] - r->koff[i],
                                            r->values + r->voff[i],
                                            r->voff[i + 1] - r->voff[i]), KILN_OK);
        if (b.n == 1000 || i + 1 == r->n) {
            kiln_batch v;
            kiln__block_view(&b, 0, b.n, 0, &v);
            assert_int_equal(kiln__store_append(s, &v, 0, v.n), KILN_OK);
            kiln__block_clear(&b);
        }
    }
    kiln__block_release(&b);
}

/* Sort with kiln__sort_store and compare record by record with qsort. */
static void check_sorted(const char *what, const kiln_schema *schema, const recs *r,
                         const kiln_order *user, size_t min_blocks)
{
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__store in, out;
    kiln__store_init(&in, &m, schema);
    kiln__store_init(&out, &m, schema);
    fill(&m, r, &in);
    if (in.nblocks < min_blocks)
        fail_msg("%s: the input has %zu blocks, expected %zu or more", what, in.nblocks,
                 min_blocks);
    kiln__order o;
    kiln__order_init(&o, schema, user);
    assert_int_equal(kiln__sort_store(&m, &in, &o, &out), KILN_OK);
    assert_int_equal(out.records, r->n);

    ref rf = {schema->key.kind, NULL, NULL, user && user->descending};
    if (user && user->compare) {
        rf.fn = user->compare;
        rf.arg = user->arg;
    } else if (schema->key.kind == KILN_KIND_FIXED && schema->key.compare) {
        rf.fn = schema->key.compare;
        rf.arg = schema->key.arg;
    }
    size_t *idx = malloc((r->n ? r->n : 1) * sizeof *idx);
    assert_non_null(idx);
    for (size_t i = 0; i < r->n; i++)
        idx[i] = i;
    g_recs = r;
    g_ref = &rf;
    qsort(idx, r->n, sizeof *idx, by_ref);

    kiln__store_iter it;
    kiln_batch b;
    size_t at = 0;
    kiln__store_iter_init(&it, &out, 0, 4096);
    while (kiln__store_next(&it, &b)) {
        for (size_t i = 0; i < b.n; i++, at++) {
            assert_true(at < r->n);
            size_t j = idx[at], kl, vl;
            const unsigned char *k = kiln_batch_key(&b, i, &kl);
            const unsigned char *v = kiln_batch_value(&b, i, &vl);
            size_t wkl = r->koff[j + 1] - r->koff[j], wvl = r->voff[j + 1] - r->voff[j];
            bool same = kl == wkl && vl == wvl &&
                        memcmp(k, r->keys + r->koff[j], kl) == 0 &&
                        memcmp(v, r->values + r->voff[j], vl) == 0;
            if (!same) {
                /* Only a user order has equal records with different bytes
                 * (keys it calls equal, the same value): either may come. */
                bool tie = rf.fn && kl == wkl &&
                           rf.fn(k, r->keys + r->koff[j], kl, rf.arg) == 0 &&
                           vl == wvl && memcmp(v, r->values + r->voff[j], vl) == 0;
                if (!tie)
                    fail_msg("%s: record %zu of %zu differs from the reference", what,
                             at, r->n);
            }
        }
    }
    assert_int_equal(at, r->n);
    free(idx);
    kiln__store_release(&in);
    kiln__store_release(&out);
    assert_int_equal(m.in_use, 0);
}

static void recs_init(recs *r, size_t n, size_t key_bytes, size_t value_bytes)
{
    r->n = 0;
    r->keys = malloc(key_bytes ? key_bytes : 1);
    r->values = malloc(value_bytes ? value_bytes : 1);
    r->koff = malloc((n + 1) * sizeof *r->koff);
    r->voff = malloc((n + 1) * sizeof *r->voff);
    assert_true(r->keys && r->values && r->koff && r->voff);
    r->koff[0] = r->voff[0] = 0;
}

static void recs_add(recs *r, const void *k, size_t kl, const void *v, size_t vl)
{
    memcpy(r->keys + r->koff[r->n], k, kl);
    memcpy(r->values + r->voff[r->n], v, vl);
    r->koff[r->n + 1] = r->koff[r->n] + kl;
    r->voff[r->n + 1] = r->voff[r->n] + vl;
    r->n++;
}

static void recs_free(recs *r)
{
    free(r->keys);
    free(r->values);
    free(r->koff);
    free(r->voff);
}

static const kiln_type T_U64 = {.kind = KILN_KIND_U64, .size = 8};
static const kiln_type T_I64 = {.kind = KILN_KIND_I64, .size = 8};
static const kiln_type T_F64 = {.kind = KILN_KIND_F64, .size = 8};
static const kiln_type T_STRING = {.kind = KILN_KIND_STRING};
static const kiln_type T_BYTES = {.kind = KILN_KIND_BYTES};

/* 8-byte numeric keys made by `key(i)`, 16-byte values (a tie-breaker in
 * the first byte, then i): 250,000 records, about 6 MB, two blocks. */
enum { BIG = 250000 };

typedef uint64_t (*key_fn)(uint64_t i);

static uint64_t k_random(uint64_t i) { return mix(i); }
static uint64_t k_low_byte(uint64_t i) { return mix(i) & 0xff; }
static uint64_t k_top_byte(uint64_t i) { return mix(i) << 56; }
static uint64_t k_middle(uint64_t i) { return (mix(i) & 0xffff) << 24 | 0x0100000000000001ull; }
static uint64_t k_few(uint64_t i) { return mix(i) % 7; }
static uint64_t k_one(uint64_t i) { (void)i; return 12345; }
static uint64_t k_sorted(uint64_t i) { return i; }
static uint64_t k_reverse(uint64_t i) { return BIG - i; }
static uint64_t k_signed(uint64_t i) { return (uint64_t)((int64_t)(mix(i) % 2001) - 1000); }
static uint64_t k_f64(uint64_t i)
{
    static const uint64_t special[] = {0x0ull, 0x8000000000000000ull,
                                       0x7ff0000000000000ull, 0xfff0000000000000ull,
                                       0x7ff8000000000000ull, 0xfff8000000000000ull,
                                       0x0000000000000001ull, 0x8000000000000001ull};
    uint64_t x = mix(i);
    if (x % 10 == 0)
        return special[(x >> 8) % 8];
    double d = (double)((int64_t)(x % 20001) - 10000) / 16.0;
    if (x % 10 == 1)
        memcpy(&d, &x, 8); /* any bits at all, NaNs included */
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

static void numbers(const char *what, kiln_type kt, key_fn key, bool desc)
{
    kiln_schema s = {kt, kiln_type_fixed(16, NULL, NULL, NULL)};
    recs r;
    recs_init(&r, BIG, 8 * BIG, 16 * BIG);
    for (uint64_t i = 0; i < BIG; i++) {
        uint64_t k = key(i), v[2] = {mix(i ^ 0x77) % 3, i};
        recs_add(&r, &k, 8, v, 16);
    }
    kiln_order u = {desc, NULL, NULL};
    char name[128];
    snprintf(name, sizeof name, "%s%s", what, desc ? " descending" : "");
    check_sorted(name, &s, &r, &u, 2);
    recs_free(&r);
}

static void u64_keys_of_every_shape(void **state)
{
    (void)state;
    const struct {
        const char *name;
        key_fn fn;
    } shapes[] = {{"random", k_random},        {"low byte only", k_low_byte},
                  {"top byte only", k_top_byte}, {"middle bytes only", k_middle},
                  {"7 keys", k_few},           {"one key", k_one},
                  {"already sorted", k_sorted}, {"reverse sorted", k_reverse}};
    for (int i = 0; i < 8; i++)
        for (int desc = 0; desc < 2; desc++)
            if (desc == 0 || i % 2 == 0)
                numbers(shapes[i].name, T_U64, shapes[i].fn, desc);
}

static void i64_keys_with_negatives(void **state)
{
    (void)state;
    numbers("I64", T_I64, k_signed, false);
    numbers("I64", T_I64, k_signed, true);
    numbers("I64 random", T_I64, k_random, false);
}

static void f64_keys_in_total_order(void **state)
{
    (void)state;
    numbers("F64", T_F64, k_f64, false);
    numbers("F64", T_F64, k_f64, true);
}

/* Byte keys longer than the prefix, sharing it, with variable values. */
static void byte_keys(kiln_type kt, bool desc)
{
    enum { NB = 300000 };
    kiln_schema s = {kt, T_STRING};
    recs r;
    recs_init(&r, NB, 24 * (size_t)NB, 8 * (size_t)NB);
    static const unsigned char alphabet[] = {0x00, 'a', 'b', 0xff};
    for (uint64_t i = 0; i < NB; i++) {
        unsigned char key[24], val[8];
        uint64_t x = mix(i);
        size_t kl = (size_t)(x % 24);
        for (size_t j = 0; j < kl; j++) /* 10-byte runs of 'a': long shared prefixes */
            key[j] = j < 10 && (x >> 40) % 2 ? 'a' : alphabet[(mix(x + j) >> 7) % 4];
        size_t vl = (size_t)(mix(i + 3) % 3);
        memset(val, 'v', vl);
        if (vl)
            val[0] = (unsigned char)(mix(i + 9) % 3);
        recs_add(&r, key, kl, val, vl);
    }
    check_sorted(desc ? "byte keys descending" : "byte keys", &s, &r,
                 &(kiln_order){desc, NULL, NULL}, 2);
    recs_free(&r);
}

static void string_and_bytes_keys(void **state)
{
    (void)state;
    byte_keys(T_STRING, false);
    byte_keys(T_STRING, true);
    byte_keys(T_BYTES, false);
}

static void fixed_keys(size_t size, bool desc)
{
    /* Over 5 MB: more than one block. */
    size_t NF = (5u << 20) / (size + 4) > 300000 ? (5u << 20) / (size + 4) : 300000;
    kiln_schema s = {kiln_type_fixed(size, NULL, NULL, NULL),
                     kiln_type_fixed(4, NULL, NULL, NULL)};
    recs r;
    recs_init(&r, NF, size * NF, 4 * NF);
    for (uint64_t i = 0; i < NF; i++) {
        unsigned char key[32];
        for (size_t j = 0; j < size; j++)
            key[j] = (unsigned char)"\x00\x7f\xff"[mix(i * 31 + j) % 3];
        uint32_t v = (uint32_t)(mix(i) % 4);
        recs_add(&r, key, size, &v, 4);
    }
    char name[64];
    snprintf(name, sizeof name, "FIXED %zu%s", size, desc ? " descending" : "");
    check_sorted(name, &s, &r, &(kiln_order){desc, NULL, NULL}, 2);
    recs_free(&r);
}

static void fixed_keys_by_bytes(void **state)
{
    (void)state;
    fixed_keys(3, false);
    fixed_keys(8, false);
    fixed_keys(12, false);
    fixed_keys(12, true);
    fixed_keys(20, false);
}

/* A user order (no prefix): 8-byte keys by low 4 bytes descending, then
 * the high 4 ascending. */
static long user_calls;

static int user_cmp(const void *a, const void *b, size_t size, void *arg)
{
    (void)size;
    user_calls++;
    assert_ptr_equal(arg, &user_calls);
    uint32_t x[2], y[2];
    memcpy(x, a, 8);
    memcpy(y, b, 8);
    if (x[0] != y[0])
        return x[0] > y[0] ? -3 : 3;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

static void user_compare_functions(void **state)
{
    (void)state;
    enum { NU = 200000 };
    kiln_schema plain = {kiln_type_fixed(8, NULL, NULL, NULL), T_U64};
    kiln_schema typed = {kiln_type_fixed(8, NULL, user_cmp, &user_calls), T_U64};
    recs r;
    recs_init(&r, NU, 8 * NU, 8 * NU);
    for (uint64_t i = 0; i < NU; i++) {
        uint32_t k[2] = {(uint32_t)(mix(i) % 100), (uint32_t)(mix(i + 1) % 5)};
        uint64_t v = mix(i + 2) % 10; /* many full ties: value bytes decide */
        recs_add(&r, k, 8, &v, 8);
    }
    kiln_order by_user = {false, user_cmp, &user_calls};
    kiln_order by_user_desc = {true, user_cmp, &user_calls};
    kiln_order desc = {true, NULL, NULL};
    user_calls = 0;
    check_sorted("kiln_order.compare", &plain, &r, &by_user, 1);
    assert_true(user_calls > 0);
    check_sorted("kiln_order.compare descending", &plain, &r, &by_user_desc, 1);
    check_sorted("the type's compare", &typed, &r, NULL, 1);
    check_sorted("the type's compare descending", &typed, &r, &desc, 1);
    kiln__order o;
    kiln__order_init(&o, &typed, NULL);
    assert_false(o.prefixed);
    recs_free(&r);
}

static void empty_and_single(void **state)
{
    (void)state;
    kiln_schema s = {T_STRING, T_STRING};
    recs r;
    recs_init(&r, 1, 8, 8);
    check_sorted("no records", &s, &r, NULL, 0);
    recs_add(&r, "key", 3, "", 0);
    check_sorted("one record", &s, &r, NULL, 1);
    recs_add(&r, "", 0, "v", 1);
    check_sorted("two records", &s, &r, &(kiln_order){true, NULL, NULL}, 1);
    recs_free(&r);
}

static void out_of_memory_fails_cleanly(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln_schema s = {T_STRING, T_U64};
    kiln__store in, out;
    kiln__store_init(&in, &m, &s);
    recs r;
    recs_init(&r, 5000, 5000 * 8, 5000 * 8);
    for (uint64_t i = 0; i < 5000; i++) {
        char k[8];
        int kl = snprintf(k, sizeof k, "%llu", (unsigned long long)(mix(i) % 999));
        recs_add(&r, k, (size_t)kl, &i, 8);
    }
    fill(&m, &r, &in);
    size_t before = m.in_use;
    kiln__order o;
    kiln__order_init(&o, &s, NULL);
    for (long n = 0;; n++) {
        kiln__store_init(&out, &m, &s);
        m.fail_after = n;
        kiln_status st = kiln__sort_store(&m, &in, &o, &out);
        m.fail_after = -1;
        if (st == KILN_OK) {
            assert_int_equal(out.records, 5000);
            kiln__store_release(&out);
            break;
        }
        assert_int_equal(st, KILN_ERR_NOMEM);
        assert_int_equal(out.records, 0);
        kiln__store_release(&out);
        assert_int_equal(m.in_use, before);
        assert_true(n < 100);
    }
    kiln__store_release(&in);
    assert_int_equal(m.in_use, 0);
    recs_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(u64_keys_of_every_shape),
        cmocka_unit_test(i64_keys_with_negatives),
        cmocka_unit_test(f64_keys_in_total_order),
        cmocka_unit_test(string_and_bytes_keys),
        cmocka_unit_test(fixed_keys_by_bytes),
        cmocka_unit_test(user_compare_functions),
        cmocka_unit_test(empty_and_single),
        cmocka_unit_test(out_of_memory_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
