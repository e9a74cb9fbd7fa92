/* tests/unit/test_order.c: the order of records (runtime/order.h).
 * kiln__order_prefix() must agree with kiln__order_compare(): for every
 * pair, prefix(a) < prefix(b) implies compare(a, b) < 0 (radix sort and
 * splitter search rely on it), and where the prefix decides, equal prefixes
 * mean equal keys. compare must match the documented order, computed here
 * independently: numbers by value, F64 in IEEE total order, bytes by bytes
 * with shorter first, a user function, ties by value bytes, descending
 * flipping all. Every kind, ascending and descending, on random pairs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runtime/order.h"

enum { PAIRS = 200000, MAXLEN = 20 };

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static int sign(int c)
{
    return c < 0 ? -1 : c > 0;
}

/* ---- a record and the independent reference order ---- */

typedef struct rec {
    unsigned char k[MAXLEN], v[MAXLEN];
    size_t kl, vl;
} rec;

typedef struct kind_case {
    const char *name;
    kiln_type key;
    size_t len;     /* fixed key length, 0: variable */
} kind_case;

static int bytes_ref(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
    for (size_t i = 0; i < al && i < bl; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return al < bl ? -1 : al > bl;
}

static int user_calls_bad;
static const char user_tag[] = "user";

/* A user order of 8-byte keys: by the low 4 bytes descending, then the
 * high 4 ascending (nothing like the bytes' order). */
static int user_cmp(const void *a, const void *b, size_t size, void *arg)
{
    if (size != 8 || arg != (void *)user_tag)
        user_calls_bad = 1;
    uint32_t x[2], y[2];
    memcpy(x, a, 8);
    memcpy(y, b, 8);
    if (x[0] != y[0])
        return x[0] > y[0] ? -5 : 5;
    return x[1] < y[1] ? -9 : x[1] > y[1];
}

static int ref_keys(kiln_kind kind, kiln_compare_fn fn, const rec *a, const rec *b)
{
    if (fn)
        return sign(fn(a->k, b->k, a->kl, (void *)user_tag));
    if (kind == KILN_KIND_U64) {
        uint64_t x, y;
        memcpy(&x, a->k, 8);
        memcpy(&y, b->k, 8);
        return x < y ? -1 : x > y;
    }
    if (kind == KILN_KIND_I64) {
        int64_t x, y;
        memcpy(&x, a->k, 8);
        memcpy(&y, b->k, 8);
        return x < y ? -1 : x > y;
    }
    if (kind == KILN_KIND_F64) {
        /* IEEE 754 totalOrder, spelled out case by case. */
        double x, y;
        uint64_t bx, by;
        memcpy(&x, a->k, 8);
        memcpy(&y, b->k, 8);
        memcpy(&bx, a->k, 8);
        memcpy(&by, b->k, 8);
        int sx = (int)(bx >> 63), sy = (int)(by >> 63);
        if (sx != sy)
            return sx ? -1 : 1;
        if (!isnan(x) && !isnan(y) && x != y)
            return x < y ? -1 : 1;
        if (!isnan(x) && !isnan(y)) /* equal values: -0 vs +0 has signs equal here */
            return 0;
        /* Same sign, at least one NaN: NaNs are beyond the infinities, and
         * ordered by payload (by the magnitude bits). */
        uint64_t mx = bx & ~(1ull << 63), my = by & ~(1ull << 63);
        int c = mx < my ? -1 : mx > my;
        return sx ? -c : c;
    }
    return bytes_ref(a->k, a->kl, b->k, b->kl);
}

static int ref_records(kiln_kind kind, kiln_compare_fn fn, bool desc, const rec *a,
                       const rec *b)
{
    int c = ref_keys(kind, fn, a, b);
    if (!c)
        c = bytes_ref(a->v, a->vl, b->v, b->vl);
    return desc ? -c : c;
}

/* ---- random keys with many near-ties ---- */

static const unsigned char alphabet[] = {0x00, 0x01, 'a', 'b', 0x7f, 0x80, 0xfe, 0xff};

static void random_bytes(unsigned char *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = alphabet[mix(seed + i) % 3 + (i > 9 ? 5 : 0)]; /* shared prefixes */
}

static void random_key(const kind_case *kc, uint64_t seed, rec *r)
{
    uint64_t x = mix(seed);
    switch (kc->key.kind) {
    case KILN_KIND_U64: {
        uint64_t v = x % 4 == 0 ? x % 300 : x % 4 == 1 ? x << 40 : x;
        memcpy(r->k, &v, 8);
        r->kl = 8;
        break;
    }
    case KILN_KIND_I64: {
        int64_t v = x % 3 == 0 ? (int64_t)(x % 600) - 300 : (int64_t)x;
        if (x % 17 == 0)
            v = x % 2 ? INT64_MIN : INT64_MAX;
        memcpy(r->k, &v, 8);
        r->kl = 8;
        break;
    }
    case KILN_KIND_F64: {
        static const uint64_t special[] = {
            0x0000000000000000ull, 0x8000000000000000ull, 0x7ff0000000000000ull,
            0xfff0000000000000ull, 0x7ff8000000000000ull, 0xfff8000000000000ull,
            0x7ff0000000000001ull, 0xfff0000000000001ull, 0x0000000000000001ull,
            0x8000000000000001ull, 0x3ff0000000000000ull, 0xbff0000000000000ull};
        uint64_t bits = x % 4 == 0 ? special[(x >> 8) % 12] : mix(x);
        if (x % 4 == 1) { /* ordinary numbers near each other */
            double d = (double)((int64_t)(x >> 20) % 1000) / 8.0;
            memcpy(&bits, &d, 8);
        }
        memcpy(r->k, &bits, 8);
        r->kl = 8;
        break;
    }
    default:
        r->kl = kc->len ? kc->len : (size_t)(x % (MAXLEN + 1));
        random_bytes(r->k, r->kl, x);
        break;
    }
    /* Values: short byte strings, often equal. */
    r->vl = (size_t)(mix(seed ^ 0xabc) % 3);
    random_bytes(r->v, r->vl, seed * 7);
}

static void check_kind(const kind_case *kc, const kiln_order *user, bool expect_prefixed)
{
    kiln_schema s = {kc->key, {.kind = KILN_KIND_BYTES}};
    for (int desc = 0; desc < 2; desc++) {
        kiln_order u = user ? *user : (kiln_order){false, NULL, NULL};
        u.descending = desc;
        kiln__order o;
        kiln__order_init(&o, &s, &u);
        assert_int_equal(o.prefixed, expect_prefixed);
        assert_int_equal(o.descending, desc);
        kiln_compare_fn fn = u.compare ? u.compare
                             : kc->key.kind == KILN_KIND_FIXED ? kc->key.compare : NULL;
        for (uint64_t i = 0; i < PAIRS; i++) {
            rec a, b;
            random_key(kc, 2 * i, &a);
            random_key(kc, 2 * i + 1, &b);
            if (i % 5 == 0) /* equal keys, values decide */
                memcpy(&b.k, &a.k, sizeof a.k), b.kl = a.kl;
            int c = kiln__order_compare(&o, a.k, a.kl, a.v, a.vl, b.k, b.kl, b.v, b.vl);
            int r = kiln__order_compare(&o, b.k, b.kl, b.v, b.vl, a.k, a.kl, a.v, a.vl);
            int want = ref_records(kc->key.kind, fn, desc, &a, &b);
            if (sign(c) != want || sign(r) != -want)
                fail_msg("%s%s pair %llu: compare %d / %d, expected %d", kc->name,
                         desc ? " descending" : "", (unsigned long long)i, c, r, want);
            assert_int_equal(kiln__order_compare(&o, a.k, a.kl, a.v, a.vl, a.k, a.kl,
                                                 a.v, a.vl), 0);
            if (!o.prefixed)
                continue;
            uint64_t pa = kiln__order_prefix(&o, a.k, a.kl);
            uint64_t pb = kiln__order_prefix(&o, b.k, b.kl);
            if (pa < pb && c >= 0)
                fail_msg("%s%s pair %llu: prefix %016llx < %016llx but compare %d",
                         kc->name, desc ? " descending" : "", (unsigned long long)i,
                         (unsigned long long)pa, (unsigned long long)pb, c);
            if (pa > pb && c <= 0)
                fail_msg("%s%s pair %llu: prefix %016llx > %016llx but compare %d",
                         kc->name, desc ? " descending" : "", (unsigned long long)i,
                         (unsigned long long)pa, (unsigned long long)pb, c);
            if (o.prefix_decides && pa == pb && ref_keys(kc->key.kind, fn, &a, &b) != 0)
                fail_msg("%s: equal prefixes decide, but the keys differ (pair %llu)",
                         kc->name, (unsigned long long)i);
        }
    }
}

static const kiln_type T_U64 = {.kind = KILN_KIND_U64, .size = 8};
static const kiln_type T_I64 = {.kind = KILN_KIND_I64, .size = 8};
static const kiln_type T_F64 = {.kind = KILN_KIND_F64, .size = 8};
static const kiln_type T_STRING = {.kind = KILN_KIND_STRING};
static const kiln_type T_BYTES = {.kind = KILN_KIND_BYTES};

static void u64_keys(void **state)
{
    (void)state;
    kind_case kc = {"U64", T_U64, 8};
    check_kind(&kc, NULL, true);
}

static void i64_keys(void **state)
{
    (void)state;
    kind_case kc = {"I64", T_I64, 8};
    check_kind(&kc, NULL, true);
}

static void f64_keys(void **state)
{
    (void)state;
    kind_case kc = {"F64", T_F64, 8};
    check_kind(&kc, NULL, true);
}

static void string_keys(void **state)
{
    (void)state;
    kind_case kc = {"STRING", T_STRING, 0};
    check_kind(&kc, NULL, true);
}

static void bytes_keys(void **state)
{
    (void)state;
    kind_case kc = {"BYTES", T_BYTES, 0};
    check_kind(&kc, NULL, true);
}

static void fixed_keys(void **state)
{
    (void)state;
    const size_t sizes[] = {1, 3, 8, 9, 12, 16};
    for (int i = 0; i < 6; i++) {
        char name[32];
        snprintf(name, sizeof name, "FIXED %zu", sizes[i]);
        kind_case kc = {name, kiln_type_fixed(sizes[i], NULL, NULL, NULL), sizes[i]};
        check_kind(&kc, NULL, true);
    }
}

static void fixed_keys_with_a_compare_function(void **state)
{
    (void)state;
    kind_case kc = {"FIXED 8 with compare",
                    kiln_type_fixed(8, NULL, user_cmp, (void *)user_tag), 8};
    user_calls_bad = 0;
    check_kind(&kc, NULL, false); /* no prefix: the order is the user's */
    assert_int_equal(user_calls_bad, 0);
}

static void order_compare_overrides_the_kind(void **state)
{
    (void)state;
    kiln_order user = {false, user_cmp, (void *)user_tag};
    user_calls_bad = 0;
    kind_case u = {"U64 with kiln_order.compare", T_U64, 8};
    check_kind(&u, &user, false);
    kind_case f = {"FIXED 8 with kiln_order.compare", kiln_type_fixed(8, NULL, NULL, NULL),
                   8};
    check_kind(&f, &user, false);
    assert_int_equal(user_calls_bad, 0);
}

/* ---- documented orders, spelled out ---- */

static int cmp_keys(const kiln__order *o, const void *a, size_t al, const void *b,
                    size_t bl)
{
    return kiln__order_compare(o, a, al, "", 0, b, bl, "", 0);
}

static void f64_total_order_chain(void **state)
{
    (void)state;
    kiln_schema s = {T_F64, T_U64};
    const uint64_t chain[] = {
        0xffffffffffffffffull, /* -NaN, largest payload */
        0xfff8000000000000ull, /* -NaN */
        0xfff0000000000001ull, /* -sNaN */
        0xfff0000000000000ull, /* -inf */
        0xffefffffffffffffull, /* -DBL_MAX */
        0xbff0000000000000ull, /* -1 */
        0x8000000000000001ull, /* -smallest denormal */
        0x8000000000000000ull, /* -0 */
        0x0000000000000000ull, /* +0 */
        0x0000000000000001ull, /* smallest denormal */
        0x0010000000000000ull, /* DBL_MIN */
        0x3ff0000000000000ull, /* 1 */
        0x7fefffffffffffffull, /* DBL_MAX */
        0x7ff0000000000000ull, /* +inf */
        0x7ff0000000000001ull, /* sNaN */
        0x7ff8000000000000ull, /* NaN */
        0x7fffffffffffffffull, /* NaN, largest payload */
    };
    enum { N = sizeof chain / sizeof chain[0] };
    for (int desc = 0; desc < 2; desc++) {
        kiln_order u = {desc, NULL, NULL};
        kiln__order o;
        kiln__order_init(&o, &s, &u);
        assert_true(o.prefix_decides);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                int want = i < j ? -1 : i > j;
                if (desc)
                    want = -want;
                int c = sign(cmp_keys(&o, &chain[i], 8, &chain[j], 8));
                if (c != want)
                    fail_msg("F64 %016llx vs %016llx: %d, expected %d%s",
                             (unsigned long long)chain[i], (unsigned long long)chain[j],
                             c, want, desc ? " (descending)" : "");
                uint64_t pi = kiln__order_prefix(&o, &chain[i], 8);
                uint64_t pj = kiln__order_prefix(&o, &chain[j], 8);
                assert_int_equal(pi < pj ? -1 : pi > pj, want);
            }
    }
}

static void byte_strings_shorter_first(void **state)
{
    (void)state;
    kiln_schema s = {T_STRING, T_STRING};
    kiln__order o;
    kiln__order_init(&o, &s, NULL);
    const struct {
        const char *p;
        size_t len;
    } chain[] = {{"", 0},          {"\0", 1},         {"\0\0", 2},       {"a", 1},
                 {"ab", 2},        {"ab\0", 3},       {"ab\0\0", 4},     {"abc", 3},
                 {"abcdefgh", 8},  {"abcdefgh\0", 9}, {"abcdefgh1", 9},  {"abcdefgi", 8},
                 {"abd", 3},       {"b", 1},          {"\x7f", 1},       {"\x80", 1},
                 {"\xff", 1},      {"\xff\xff", 2}};
    enum { N = sizeof chain / sizeof chain[0] };
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            int want = i < j ? -1 : i > j;
            int c = sign(cmp_keys(&o, chain[i].p, chain[i].len, chain[j].p, chain[j].len));
            if (c != want)
                fail_msg("\"%s\"(%zu) vs \"%s\"(%zu): %d", chain[i].p, chain[i].len,
                         chain[j].p, chain[j].len, c);
            assert_int_equal(sign(kiln__order_bytes(chain[i].p, chain[i].len, chain[j].p,
                                                    chain[j].len)), want);
            uint64_t pi = kiln__order_prefix(&o, chain[i].p, chain[i].len);
            uint64_t pj = kiln__order_prefix(&o, chain[j].p, chain[j].len);
            if (want < 0)
                assert_true(pi <= pj);
        }
    /* "ab" and "ab\0" share a prefix: the prefix alone must not decide. */
    assert_false(o.prefix_decides);
    assert_true(kiln__order_prefix(&o, "ab", 2) == kiln__order_prefix(&o, "ab\0", 3));
}

static void ties_ordered_by_value_bytes(void **state)
{
    (void)state;
    kiln_schema s = {T_U64, T_STRING};
    uint64_t k = 42;
    const struct {
        const char *p;
        size_t len;
    } values[] = {{"", 0}, {"\0", 1}, {"a", 1}, {"a\0", 2}, {"ab", 2}, {"b", 1}};
    for (int desc = 0; desc < 2; desc++) {
        kiln_order u = {desc, NULL, NULL};
        kiln__order o;
        kiln__order_init(&o, &s, &u);
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++) {
                int want = i < j ? -1 : i > j;
                int c = kiln__order_compare(&o, &k, 8, values[i].p, values[i].len, &k, 8,
                                            values[j].p, values[j].len);
                assert_int_equal(sign(c), desc ? -want : want);
            }
    }
}

static void signed_and_unsigned_numbers(void **state)
{
    (void)state;
    kiln_schema si = {T_I64, T_U64}, su = {T_U64, T_U64};
    kiln__order oi, ou;
    kiln__order_init(&oi, &si, NULL);
    kiln__order_init(&ou, &su, NULL);
    const int64_t ichain[] = {INT64_MIN, INT64_MIN + 1, -65536, -256, -255, -1, 0, 1,
                              255, 256, 65536, INT64_MAX - 1, INT64_MAX};
    for (int i = 0; i < 13; i++)
        for (int j = 0; j < 13; j++) {
            int want = i < j ? -1 : i > j;
            assert_int_equal(sign(cmp_keys(&oi, &ichain[i], 8, &ichain[j], 8)), want);
            uint64_t pi = kiln__order_prefix(&oi, &ichain[i], 8);
            uint64_t pj = kiln__order_prefix(&oi, &ichain[j], 8);
            assert_int_equal(pi < pj ? -1 : pi > pj, want);
        }
    const uint64_t uchain[] = {0, 1, 255, 256, 1ull << 32, 1ull << 63, UINT64_MAX};
    for (int i = 0; i < 7; i++)
        for (int j = 0; j < 7; j++) {
            int want = i < j ? -1 : i > j;
            assert_int_equal(sign(cmp_keys(&ou, &uchain[i], 8, &uchain[j], 8)), want);
        }
    assert_true(oi.prefix_decides && ou.prefix_decides);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(u64_keys),
        cmocka_unit_test(i64_keys),
        cmocka_unit_test(f64_keys),
        cmocka_unit_test(string_keys),
        cmocka_unit_test(bytes_keys),
        cmocka_unit_test(fixed_keys),
        cmocka_unit_test(fixed_keys_with_a_compare_function),
        cmocka_unit_test(order_compare_overrides_the_kind),
        cmocka_unit_test(f64_total_order_chain),
        cmocka_unit_test(byte_strings_shorter_first),
        cmocka_unit_test(ties_ordered_by_value_bytes),
        cmocka_unit_test(signed_and_unsigned_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
