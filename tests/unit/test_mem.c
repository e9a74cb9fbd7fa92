/* tests/unit/test_mem.c: counted allocation (runtime/mem.h). The counters
 * feed memory limits and leak reports, and the fail_after hook is what every
 * out-of-memory test in the runtime relies on, so both must be exact. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "runtime/mem.h"

static void init_is_empty_and_hook_off(void **state)
{
    (void)state;
    kiln__mem m;
    memset(&m, 0xab, sizeof m);
    kiln__mem_init(&m);
    assert_int_equal(m.in_use, 0);
    assert_int_equal(m.peak, 0);
    assert_true(m.fail_after < 0);
}

static void alloc_and_free_count_bytes(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    unsigned char *a = kiln__mem_alloc(&m, 100);
    unsigned char *b = kiln__mem_alloc(&m, 1000);
    assert_non_null(a);
    assert_non_null(b);
    memset(a, 1, 100);
    memset(b, 2, 1000);
    assert_int_equal(m.in_use, 1100);
    assert_int_equal(m.peak, 1100);
    kiln__mem_free(&m, a);
    assert_int_equal(m.in_use, 1000);
    assert_int_equal(m.peak, 1100);
    unsigned char *c = kiln__mem_alloc(&m, 50);
    assert_non_null(c);
    assert_int_equal(m.in_use, 1050);
    assert_int_equal(m.peak, 1100); /* peak only rises past the old peak */
    kiln__mem_free(&m, b);
    kiln__mem_free(&m, c);
    assert_int_equal(m.in_use, 0);
    assert_int_equal(m.peak, 1100);
    kiln__mem_free(&m, NULL); /* allowed, counts nothing */
    assert_int_equal(m.in_use, 0);
}

static void payload_is_aligned(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    for (size_t n = 1; n < 40; n++) {
        void *p = kiln__mem_alloc(&m, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        kiln__mem_free(&m, p);
    }
    assert_int_equal(m.in_use, 0);
}

static void calloc_zeroes_and_counts(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    uint64_t *v = kiln__mem_calloc(&m, 300, sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < 300; i++)
        assert_int_equal(v[i], 0);
    assert_int_equal(m.in_use, 300 * sizeof *v);
    kiln__mem_free(&m, v);
    assert_int_equal(m.in_use, 0);
    /* count * size overflowing is refused, not wrapped. */
    assert_null(kiln__mem_calloc(&m, SIZE_MAX / 2, 4));
    assert_int_equal(m.in_use, 0);
}

static void realloc_counts_the_difference(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    unsigned char *p = kiln__mem_realloc(&m, NULL, 64); /* NULL: an alloc */
    assert_non_null(p);
    assert_int_equal(m.in_use, 64);
    for (int i = 0; i < 64; i++)
        p[i] = (unsigned char)i;
    p = kiln__mem_realloc(&m, p, 4096);
    assert_non_null(p);
    assert_int_equal(m.in_use, 4096);
    assert_int_equal(m.peak, 4096);
    for (int i = 0; i < 64; i++)
        assert_int_equal(p[i], (unsigned char)i); /* contents kept */
    p = kiln__mem_realloc(&m, p, 10);
    assert_non_null(p);
    assert_int_equal(m.in_use, 10);
    assert_int_equal(m.peak, 4096);
    for (int i = 0; i < 10; i++)
        assert_int_equal(p[i], (unsigned char)i);
    kiln__mem_free(&m, p);
    assert_int_equal(m.in_use, 0);
}

static void two_accountants_are_independent(void **state)
{
    (void)state;
    kiln__mem a, b;
    kiln__mem_init(&a);
    kiln__mem_init(&b);
    void *p = kiln__mem_alloc(&a, 10);
    void *q = kiln__mem_alloc(&b, 20);
    assert_int_equal(a.in_use, 10);
    assert_int_equal(b.in_use, 20);
    kiln__mem_free(&a, p);
    kiln__mem_free(&b, q);
    assert_int_equal(a.in_use, 0);
    assert_int_equal(b.in_use, 0);
}

static void null_accountant_counts_nothing(void **state)
{
    (void)state;
    void *p = kiln__mem_alloc(NULL, 32);
    assert_non_null(p);
    p = kiln__mem_realloc(NULL, p, 64);
    assert_non_null(p);
    kiln__mem_free(NULL, p);
    void *q = kiln__mem_calloc(NULL, 4, 4);
    assert_non_null(q);
    kiln__mem_free(NULL, q);
}

static void fail_after_fails_the_next_call_past_n(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    m.fail_after = 2;
    void *a = kiln__mem_alloc(&m, 8);
    void *b = kiln__mem_calloc(&m, 2, 8);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(kiln__mem_alloc(&m, 8)); /* the third call fails */
    assert_null(kiln__mem_alloc(&m, 1)); /* and keeps failing */
    assert_int_equal(m.in_use, 24);      /* failures count nothing */
    m.fail_after = -1;                   /* hook off: works again */
    void *c = kiln__mem_alloc(&m, 8);
    assert_non_null(c);
    kiln__mem_free(&m, a);
    kiln__mem_free(&m, b);
    kiln__mem_free(&m, c);
    assert_int_equal(m.in_use, 0);
}

static void fail_after_zero_fails_at_once(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    m.fail_after = 0;
    assert_null(kiln__mem_alloc(&m, 1));
    assert_null(kiln__mem_calloc(&m, 1, 1));
    assert_null(kiln__mem_realloc(&m, NULL, 1));
    assert_int_equal(m.in_use, 0);
    assert_int_equal(m.peak, 0);
}

static void failed_realloc_leaves_block_untouched(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    unsigned char *p = kiln__mem_alloc(&m, 16);
    assert_non_null(p);
    memset(p, 0x5a, 16);
    m.fail_after = 0;
    assert_null(kiln__mem_realloc(&m, p, 1 << 20));
    assert_int_equal(m.in_use, 16);
    assert_int_equal(m.peak, 16);
    for (int i = 0; i < 16; i++)
        assert_int_equal(p[i], 0x5a);
    m.fail_after = -1;
    kiln__mem_free(&m, p); /* still a valid block */
    assert_int_equal(m.in_use, 0);
}

static void huge_requests_fail_cleanly(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    assert_null(kiln__mem_alloc(&m, SIZE_MAX));
    assert_null(kiln__mem_alloc(&m, SIZE_MAX - 8));
    void *p = kiln__mem_alloc(&m, 8);
    assert_non_null(p);
    assert_null(kiln__mem_realloc(&m, p, SIZE_MAX));
    assert_int_equal(m.in_use, 8);
    kiln__mem_free(&m, p);
    assert_int_equal(m.in_use, 0);
}

static void grow_doubles_from_minimum(void **state)
{
    (void)state;
    assert_int_equal(kiln__mem_grow(0, 1, 16), 16);
    assert_int_equal(kiln__mem_grow(0, 16, 16), 16);
    assert_int_equal(kiln__mem_grow(0, 17, 16), 32);
    assert_int_equal(kiln__mem_grow(0, 1000, 16), 1024);
    assert_int_equal(kiln__mem_grow(100, 101, 16), 200);
    assert_int_equal(kiln__mem_grow(100, 50, 16), 100); /* already enough */
    assert_int_equal(kiln__mem_grow(4, 5, 256), 256);   /* minimum wins */
    /* Geometric: growing one at a time takes O(log n) steps. */
    size_t cap = 0, steps = 0;
    for (size_t need = 1; need <= 1000000; need++) {
        if (need > cap) {
            cap = kiln__mem_grow(cap, need, 32);
            steps++;
        }
        assert_true(cap >= need);
    }
    assert_true(steps <= 20);
}

static void grow_near_size_max_still_covers_need(void **state)
{
    (void)state;
    size_t big = SIZE_MAX / 2 + 10;
    size_t got = kiln__mem_grow(big, SIZE_MAX - 3, 16);
    assert_true(got >= SIZE_MAX - 3); /* never a capacity below need */
    got = kiln__mem_grow(SIZE_MAX / 4 + 1, SIZE_MAX / 2 + 7, 16);
    assert_true(got >= SIZE_MAX / 2 + 7);
}

static void grow_from_zero_with_zero_minimum_terminates(void **state)
{
    (void)state;
    /* No caller passes minimum 0 today; a doubling loop starting at 0
     * would never end. */
    size_t got = kiln__mem_grow(0, 10, 0);
    assert_true(got >= 10);
    assert_int_equal(kiln__mem_grow(0, 0, 0), 0);
}


/* A freed large mapping is kept and handed to the next allocation it fits,
 * not to one it would waste more than half of, and never to calloc (a
 * reused mapping is not zero). */
static void freed_mappings_are_reused_within_bounds(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    size_t big = (size_t)16 << 20;
    unsigned char *a = kiln__mem_alloc(&m, big);
    assert_non_null(a);
    memset(a, 7, big);
    kiln__mem_free(&m, a);
    assert_int_equal(m.in_use, 0);
    assert_int_equal(m.nspare, 1);

    unsigned char *z = kiln__mem_calloc(&m, 1, big - 4096);
    assert_non_null(z);
    assert_int_equal(m.nspare, 1); /* calloc took a fresh mapping */
    assert_int_equal(z[0], 0);
    assert_int_equal(z[big - 4097], 0);

    unsigned char *small = kiln__mem_alloc(&m, (size_t)5 << 20);
    assert_non_null(small);
    assert_int_equal(m.nspare, 1); /* 16 MiB for 5: too wasteful */

    unsigned char *b = kiln__mem_alloc(&m, big - 4096);
    assert_ptr_equal(b, a); /* the spare, same address */
    assert_int_equal(m.nspare, 0);
    assert_int_equal(m.in_use, big - 4096 + big - 4096 + ((size_t)5 << 20));
    /* It grows like any mapping. */
    b = kiln__mem_realloc(&m, b, 2 * big);
    assert_non_null(b);
    b[2 * big - 1] = 1;
    kiln__mem_free(&m, b);
    kiln__mem_free(&m, z);
    kiln__mem_free(&m, small);
    assert_int_equal(m.in_use, 0);
    assert_true(m.spare_bytes <= KILN__MEM_SPARE_BYTES);
    kiln__mem_trim(&m);
    assert_int_equal(m.nspare, 0);
    assert_int_equal(m.spare_bytes, 0);
}

/* The spares stay within their count and byte bounds, oldest out first. */
static void spares_are_bounded(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    enum { N = KILN__MEM_SPARES + 4 };
    void *p[N];
    for (int i = 0; i < N; i++)
        assert_non_null(p[i] = kiln__mem_alloc(&m, (size_t)(4 + i) << 20));
    for (int i = 0; i < N; i++)
        kiln__mem_free(&m, p[i]);
    assert_true(m.nspare <= KILN__MEM_SPARES);
    assert_true(m.spare_bytes <= KILN__MEM_SPARE_BYTES);
    /* The newest (largest) is among those kept. */
    void *again = kiln__mem_alloc(&m, (size_t)(4 + N - 1) << 20);
    assert_ptr_equal(again, p[N - 1]);
    kiln__mem_free(&m, again);
    /* Larger than the whole bound: never kept. */
    void *huge = kiln__mem_alloc(&m, KILN__MEM_SPARE_BYTES + 1);
    assert_non_null(huge);
    size_t before = m.nspare;
    kiln__mem_free(&m, huge);
    assert_int_equal(m.nspare, before);
    kiln__mem_trim(&m);
    kiln__mem_trim(NULL); /* allowed */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_is_empty_and_hook_off),
        cmocka_unit_test(alloc_and_free_count_bytes),
        cmocka_unit_test(payload_is_aligned),
        cmocka_unit_test(calloc_zeroes_and_counts),
        cmocka_unit_test(realloc_counts_the_difference),
        cmocka_unit_test(two_accountants_are_independent),
        cmocka_unit_test(null_accountant_counts_nothing),
        cmocka_unit_test(fail_after_fails_the_next_call_past_n),
        cmocka_unit_test(fail_after_zero_fails_at_once),
        cmocka_unit_test(failed_realloc_leaves_block_untouched),
        cmocka_unit_test(huge_requests_fail_cleanly),
        cmocka_unit_test(grow_doubles_from_minimum),
        cmocka_unit_test(grow_near_size_max_still_covers_need),
        cmocka_unit_test(grow_from_zero_with_zero_minimum_terminates),
        cmocka_unit_test(freed_mappings_are_reused_within_bounds),
        cmocka_unit_test(spares_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
