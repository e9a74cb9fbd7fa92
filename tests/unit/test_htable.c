/* tests/unit/test_htable.c: the open-addressing table behind reduce_by_key,
 * distinct and group_by_key (runtime/htable.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "runtime/hash.h"
#include "runtime/htable.h"

static const kiln_schema U64_U64 = {{.kind = KILN_KIND_U64, .size = 8},
                                    {.kind = KILN_KIND_U64, .size = 8}};
static const kiln_schema STR_U64 = {{.kind = KILN_KIND_STRING},
                                    {.kind = KILN_KIND_U64, .size = 8}};
static const kiln_schema STR_STR = {{.kind = KILN_KIND_STRING},
                                    {.kind = KILN_KIND_STRING}};

static uint64_t h64(const void *p, size_t n)
{
    return kiln__hash_bytes(p, n);
}

static uint64_t value_at(kiln__htable *t, size_t i)
{
    uint64_t v;
    memcpy(&v, kiln__htable_value(t, i), 8);
    return v;
}

static void insert_then_hit(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__htable t;
    assert_int_equal(kiln__htable_init(&t, &m, &U64_U64, false, 0), KILN_OK);
    uint64_t k = 42, v = 7;
    size_t idx = 99;
    bool inserted = false;
    assert_int_equal(kiln__htable_upsert(&t, h64(&k, 8), &k, 8, &v, 8, &idx,
                                         &inserted), KILN_OK);
    assert_true(inserted);
    assert_int_equal(idx, 0);
    assert_int_equal(value_at(&t, 0), 7);

    /* Same key: a hit, the stored value is left for the caller to fold. */
    uint64_t v2 = 1000;
    assert_int_equal(kiln__htable_upsert(&t, h64(&k, 8), &k, 8, &v2, 8, &idx,
                                         &inserted), KILN_OK);
    assert_false(inserted);
    assert_int_equal(idx, 0);
    assert_int_equal(value_at(&t, 0), 7);
    assert_int_equal(t.entries.n, 1);

    /* The caller folds through the value pointer. */
    uint64_t sum = value_at(&t, 0) + v2;
    memcpy(kiln__htable_value(&t, idx), &sum, 8);
    assert_int_equal(value_at(&t, 0), 1007);

    /* Another key: a new entry. */
    uint64_t k2 = 43;
    assert_int_equal(kiln__htable_upsert(&t, h64(&k2, 8), &k2, 8, &v, 8, &idx,
                                         &inserted), KILN_OK);
    assert_true(inserted);
    assert_int_equal(idx, 1);
    assert_int_equal(t.entries.n, 2);
    assert_true(kiln__htable_bytes(&t) > 0);

    kiln__htable_release(&t);
    assert_int_equal(m.in_use, 0);
}

static void equal_hashes_different_keys_are_distinct(void **state)
{
    (void)state;
    /* The tag only filters: two keys with one hash are still two entries. */
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__htable t;
    assert_int_equal(kiln__htable_init(&t, &m, &U64_U64, false, 0), KILN_OK);
    for (uint64_t k = 0; k < 200; k++) {
        size_t idx;
        bool inserted;
        assert_int_equal(kiln__htable_upsert(&t, 0x1234567800000000ull, &k, 8,
                                             &k, 8, &idx, &inserted), KILN_OK);
        assert_true(inserted);
        assert_int_equal(idx, k);
    }
    for (uint64_t k = 0; k < 200; k++) {
        size_t idx;
        bool inserted;
        uint64_t zero = 0;
        assert_int_equal(kiln__htable_upsert(&t, 0x1234567800000000ull, &k, 8,
                                             &zero, 8, &idx, &inserted), KILN_OK);
        assert_false(inserted);
        assert_int_equal(idx, k);
        assert_int_equal(value_at(&t, idx), k);
    }
    kiln__htable_release(&t);
}

static void growth_keeps_every_key(void **state)
{
    (void)state;
    enum { NKEYS = 100000 };
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__htable t;
    assert_int_equal(kiln__htable_init(&t, &m, &U64_U64, false, 0), KILN_OK);
    size_t first_slots = t.nslots;
    for (uint64_t i = 0; i < NKEYS; i++) {
        uint64_t k = i * 0x9e3779b97f4a7c15ull, v = i;
        size_t idx;
        bool inserted;
        assert_int_equal(kiln__htable_upsert(&t, h64(&k, 8), &k, 8, &v, 8, &idx,
                                             &inserted), KILN_OK);
        assert_true(inserted);
        assert_int_equal(idx, i); /* entries in insertion order */
    }
    assert_int_equal(t.entries.n, NKEYS);
    assert_true(t.nslots > first_slots);
    assert_true(t.nslots >= 2 * NKEYS);            /* load <= 1/2 */
    assert_int_equal(t.nslots & (t.nslots - 1), 0); /* a power of two */
    for (uint64_t i = 0; i < NKEYS; i++) {
        uint64_t k = i * 0x9e3779b97f4a7c15ull, v = 0;
        size_t idx;
        bool inserted;
        assert_int_equal(kiln__htable_upsert(&t, h64(&k, 8), &k, 8, &v, 8, &idx,
                                             &inserted), KILN_OK);
        assert_false(inserted);
        assert_int_equal(idx, i);
        assert_int_equal(value_at(&t, idx), i);
    }
    assert_int_equal(t.entries.n, NKEYS);
    kiln__htable_release(&t);
    assert_int_equal(m.in_use, 0);
}

static void expected_size_avoids_growth(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__htable t;
    assert_int_equal(kiln__htable_init(&t, &m, &U64_U64, false, 5000), KILN_OK);
    size_t slots = t.nslots;
    assert_true(slots >= 10000);
    for (uint64_t k = 0; k < 5000; k++) {
        size_t idx;
        bool inserted;
        assert_int_equal(kiln__htable_upsert(&t, h64(&k, 8), &k, 8, &k, 8, &idx,
                                             &inserted), KILN_OK);
    }
    assert_int_equal(t.nslots, slots);
    kiln__htable_release(&t);
}

static void variable_keys(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__htable t;
    assert_int_equal(kiln__htable_init(&t, &m, &STR_U64, false, 0), KILN_OK);
    enum { NWORDS = 5000 };
    char key[64];
    for (int round = 0; round < 2; round++) {
        for (uint64_t i = 0; i < NWORDS; i++) {
            /* Keys of many lengths, including "" and prefixes of others. */
            size_t len = (size_t)snprintf(key, sizeof key, "w%llu",
                                          (unsigned long long)i);
            if (i == 0)
                len = 0;
            size_t idx;
            bool inserted;
            uint64_t one = 1;
            assert_int_equal(kiln__htable_upsert(&t, h64(key, len), key, len,
                                                 &one, 8, &idx, &inserted),
                             KILN_OK);
            assert_int_equal(inserted, round == 0);
            assert_int_equal(idx, i);
            if (!inserted) {
                uint64_t c = value_at(&t, idx) + 1;
                memcpy(kiln__htable_value(&t, idx), &c, 8);
            }
        }
    }
    assert_int_equal(t.entries.n, NWORDS);
    kiln_batch b;
    kiln__block_view(&t.entries, 0, t.entries.n, 0, &b);
    for (size_t i = 0; i < NWORDS; i++) {
        assert_int_equal(value_at(&t, i), 2);
        size_t len;
        const char *k = kiln_batch_key(&b, i, &len);
        size_t want = (size_t)snprintf(key, sizeof key, "w%zu", i);
        if (i == 0)
            want = 0;
        assert_int_equal(len, want);
        assert_memory_equal(k, key, want);
    }
    /* "w1" and "w12" differ in length only after a common prefix. */
    size_t idx;
    bool inserted;
    uint64_t one = 1;
    assert_int_equal(kiln__htable_upsert(&t, h64("w1", 2), "w1", 2, &one, 8, &idx,
                                         &inserted), KILN_OK);
    assert_false(inserted);
    assert_int_equal(idx, 1);
    kiln__htable_release(&t);
    assert_int_equal(m.in_use, 0);
}

static void match_values_keeps_distinct_records(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__htable t;
    assert_int_equal(kiln__htable_init(&t, &m, &STR_STR, true, 0), KILN_OK);
    const char *rec[][2] = {{"a", "x"}, {"a", "y"}, {"a", "x"}, {"b", "x"},
                            {"a", ""},  {"a", ""},  {"", "x"},  {"b", "x"}};
    const bool want_new[] = {true, true, false, true, true, false, true, false};
    const size_t want_idx[] = {0, 1, 0, 2, 3, 3, 4, 2};
    for (size_t i = 0; i < 8; i++) {
        size_t kl = strlen(rec[i][0]), vl = strlen(rec[i][1]), idx;
        bool inserted;
        /* Distinct hashes whole records; here only the key, so equal keys
         * with different values share a tag and must still differ. */
        assert_int_equal(kiln__htable_upsert(&t, h64(rec[i][0], kl), rec[i][0],
                                             kl, rec[i][1], vl, &idx, &inserted),
                         KILN_OK);
        assert_int_equal(inserted, want_new[i]);
        assert_int_equal(idx, want_idx[i]);
    }
    assert_int_equal(t.entries.n, 5);

    /* Without match_values the same stream has 3 distinct keys. */
    kiln__htable k;
    assert_int_equal(kiln__htable_init(&k, &m, &STR_STR, false, 0), KILN_OK);
    for (size_t i = 0; i < 8; i++) {
        size_t kl = strlen(rec[i][0]), vl = strlen(rec[i][1]), idx;
        bool inserted;
        assert_int_equal(kiln__htable_upsert(&k, h64(rec[i][0], kl), rec[i][0],
                                             kl, rec[i][1], vl, &idx, &inserted),
                         KILN_OK);
    }
    assert_int_equal(k.entries.n, 3);
    kiln__htable_release(&k);
    kiln__htable_release(&t);
    assert_int_equal(m.in_use, 0);
}

/* A FIXED 8-byte key compared case-insensitively, with a hash to match. */
static int ci_compare(const void *a, const void *b, size_t size, void *arg)
{
    int *calls = arg;
    (*calls)++;
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < size; i++) {
        int d = tolower(x[i]) - tolower(y[i]);
        if (d)
            return d;
    }
    return 0;
}

static uint64_t ci_hash(const void *rec, size_t size, void *arg)
{
    (void)arg;
    unsigned char low[8];
    for (size_t i = 0; i < size && i < 8; i++)
        low[i] = (unsigned char)tolower(((const unsigned char *)rec)[i]);
    return kiln__hash_bytes(low, size);
}

static void fixed_key_uses_user_compare(void **state)
{
    (void)state;
    int calls = 0;
    kiln_schema s = {kiln_type_fixed(8, ci_hash, ci_compare, &calls),
                     {.kind = KILN_KIND_U64, .size = 8}};
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__htable t;
    assert_int_equal(kiln__htable_init(&t, &m, &s, false, 0), KILN_OK);
    const char *keys[] = {"ABCDEFGH", "abcdefgh", "AbCdEfGh", "zzzzzzzz",
                          "ZZZZZZZZ", "abcdefgi"};
    const size_t want_idx[] = {0, 0, 0, 1, 1, 2};
    for (size_t i = 0; i < 6; i++) {
        uint64_t one = 1;
        size_t idx;
        bool inserted;
        uint64_t h = kiln__hash_key(&s.key, keys[i], 8);
        assert_int_equal(h, ci_hash(keys[i], 8, NULL));
        assert_int_equal(kiln__htable_upsert(&t, h, keys[i], 8, &one, 8, &idx,
                                             &inserted), KILN_OK);
        assert_int_equal(idx, want_idx[i]);
    }
    assert_int_equal(t.entries.n, 3);
    assert_true(calls >= 3); /* the three hits went through the user's compare */
    kiln__htable_release(&t);

    /* With the default memcmp the six byte strings are six keys. */
    kiln_schema plain = {kiln_type_fixed(8, NULL, NULL, NULL),
                         {.kind = KILN_KIND_U64, .size = 8}};
    assert_int_equal(kiln__htable_init(&t, &m, &plain, false, 0), KILN_OK);
    for (size_t i = 0; i < 6; i++) {
        uint64_t one = 1;
        size_t idx;
        bool inserted;
        assert_int_equal(kiln__htable_upsert(&t, h64(keys[i], 8), keys[i], 8,
                                             &one, 8, &idx, &inserted), KILN_OK);
        assert_true(inserted);
    }
    assert_int_equal(t.entries.n, 6);
    kiln__htable_release(&t);
    assert_int_equal(m.in_use, 0);
}

static void clear_empties_and_reuses(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__htable t;
    assert_int_equal(kiln__htable_init(&t, &m, &STR_U64, false, 0), KILN_OK);
    for (uint64_t i = 0; i < 1000; i++) {
        char key[16];
        size_t len = (size_t)snprintf(key, sizeof key, "%llu", (unsigned long long)i);
        size_t idx;
        bool inserted;
        assert_int_equal(kiln__htable_upsert(&t, h64(key, len), key, len, &i, 8,
                                             &idx, &inserted), KILN_OK);
    }
    size_t in_use = m.in_use;
    kiln__htable_clear(&t);
    assert_int_equal(t.entries.n, 0);
    assert_int_equal(m.in_use, in_use); /* buffers kept */
    /* Old keys are gone: inserting one again is new, at entry 0. */
    size_t idx;
    bool inserted;
    uint64_t v = 5;
    assert_int_equal(kiln__htable_upsert(&t, h64("500", 3), "500", 3, &v, 8, &idx,
                                         &inserted), KILN_OK);
    assert_true(inserted);
    assert_int_equal(idx, 0);
    assert_int_equal(value_at(&t, 0), 5);
    kiln__htable_release(&t);
    assert_int_equal(m.in_use, 0);
}

static void out_of_memory_is_reported(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__htable t;
    m.fail_after = 0;
    assert_int_equal(kiln__htable_init(&t, &m, &U64_U64, false, 0), KILN_ERR_NOMEM);
    assert_int_equal(m.in_use, 0);
    m.fail_after = -1;
    assert_int_equal(kiln__htable_init(&t, &m, &U64_U64, false, 0), KILN_OK);
    /* Fill up to the first growth, then make the growth fail. */
    uint64_t k = 0;
    size_t idx;
    bool inserted;
    for (; 2 * (t.entries.n + 1) <= t.nslots; k++)
        assert_int_equal(kiln__htable_upsert(&t, h64(&k, 8), &k, 8, &k, 8, &idx,
                                             &inserted), KILN_OK);
    size_t n = t.entries.n;
    m.fail_after = 0;
    assert_int_equal(kiln__htable_upsert(&t, h64(&k, 8), &k, 8, &k, 8, &idx,
                                         &inserted), KILN_ERR_NOMEM);
    assert_int_equal(t.entries.n, n);
    m.fail_after = -1;
    /* Everything inserted before is still there. */
    for (uint64_t j = 0; j < k; j++) {
        assert_int_equal(kiln__htable_upsert(&t, h64(&j, 8), &j, 8, &j, 8, &idx,
                                             &inserted), KILN_OK);
        assert_false(inserted);
    }
    kiln__htable_release(&t);
    assert_int_equal(m.in_use, 0);
}

/* Inline values: accumulators live in the slots until flushed; keys around
 * the 15-byte inline limit are found by find() (inline) or not at all. */
static void inline_values_fold_in_slots_until_flushed(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__htable t;
    assert_int_equal(kiln__htable_init(&t, &m, &STR_U64, false, 0), KILN_OK);
    assert_true(kiln__htable_inline_values(&t));
    char key[40];
    for (size_t len = 1; len <= 30; len++) {
        memset(key, 'k', len);
        for (uint64_t rep = 0; rep < 3; rep++) {
            uint64_t v = len, *acc;
            bool inserted;
            assert_int_equal(kiln__htable_upsert_acc(&t, h64(key, len), key, len,
                                                     &v, 8,
                                                     (unsigned char **)&acc,
                                                     &inserted), KILN_OK);
            assert_int_equal(inserted, rep == 0);
            if (!inserted) {
                uint64_t a;
                memcpy(&a, acc, 8);
                a += v;
                memcpy(acc, &a, 8);
            }
        }
    }
    /* Before the flush the entries still hold the first value... */
    assert_int_equal(value_at(&t, 9), 10);
    kiln__htable_flush_values(&t);
    /* ...after it, the sums. */
    for (size_t i = 0; i < 30; i++)
        assert_int_equal(value_at(&t, i), 3 * (i + 1));
    /* find() sees keys that fit a slot, and only those. */
    for (size_t len = 1; len <= 30; len++) {
        unsigned char sk[KILN__SLOT_KEY];
        memset(key, 'k', len);
        bool fits = kiln__htable_slot_key(&t, key, len, sk);
        assert_int_equal(fits, len <= 15);
        if (fits) {
            kiln__slot *slot = kiln__htable_find(&t, h64(key, len), sk);
            assert_non_null(slot);
            assert_int_equal(slot->index - 1, len - 1);
        }
    }
    unsigned char sk[KILN__SLOT_KEY];
    assert_true(kiln__htable_slot_key(&t, "kk", 2, sk));
    assert_null(kiln__htable_find(&t, h64("kkx", 3), sk)); /* other hash */
    assert_true(kiln__htable_slot_key(&t, "kkkkkkkkkkkkkk", 14, sk));
    assert_non_null(kiln__htable_find(&t, h64("kkkkkkkkkkkkkk", 14), sk));
    assert_true(kiln__htable_slot_key(&t, "kkkkkkkkkkkkkkj", 15, sk));
    assert_null(kiln__htable_find(&t, h64("kkkkkkkkkkkkkkj", 15), sk));
    kiln__htable_release(&t);
    assert_int_equal(m.in_use, 0);
}

/* Inline values are refused where they cannot work. */
static void inline_values_only_where_they_fit(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__htable t;
    assert_int_equal(kiln__htable_init(&t, &m, &STR_STR, false, 0), KILN_OK);
    assert_false(kiln__htable_inline_values(&t)); /* variable values */
    kiln__htable_release(&t);
    assert_int_equal(kiln__htable_init(&t, &m, &U64_U64, true, 0), KILN_OK);
    assert_false(kiln__htable_inline_values(&t)); /* match_values */
    kiln__htable_release(&t);
    assert_int_equal(kiln__htable_init(&t, &m, &U64_U64, false, 0), KILN_OK);
    uint64_t k = 1;
    size_t idx;
    bool inserted;
    assert_int_equal(kiln__htable_upsert(&t, h64(&k, 8), &k, 8, &k, 8, &idx,
                                         &inserted), KILN_OK);
    assert_false(kiln__htable_inline_values(&t)); /* not empty */
    kiln__htable_release(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(insert_then_hit),
        cmocka_unit_test(equal_hashes_different_keys_are_distinct),
        cmocka_unit_test(growth_keeps_every_key),
        cmocka_unit_test(expected_size_avoids_growth),
        cmocka_unit_test(variable_keys),
        cmocka_unit_test(match_values_keeps_distinct_records),
        cmocka_unit_test(fixed_key_uses_user_compare),
        cmocka_unit_test(clear_empties_and_reuses),
        cmocka_unit_test(out_of_memory_is_reported),
        cmocka_unit_test(inline_values_fold_in_slots_until_flushed),
        cmocka_unit_test(inline_values_only_where_they_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
