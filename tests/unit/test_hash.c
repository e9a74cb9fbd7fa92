/* tests/unit/test_hash.c: key hashing and placement (runtime/hash.h). Every
 * rank must place a key in the same partition, however the key reached it
 * (one record at a time or in a batch, from any kind of block). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "runtime/block.h"
#include "runtime/hash.h"

static const kiln_type U64 = {.kind = KILN_KIND_U64, .size = 8};
static const kiln_type STR = {.kind = KILN_KIND_STRING};

static void partition_is_always_in_range(void **state)
{
    (void)state;
    const uint32_t nparts[] = {1, 2, 3, 7, 16, 100, 1000, 65537, UINT32_MAX};
    const uint64_t special[] = {0, 1, 0xffffffffu, 0x100000000ull, UINT64_MAX,
                                0x80000000u, 0xfffffffeu};
    for (size_t p = 0; p < sizeof nparts / sizeof nparts[0]; p++) {
        for (size_t s = 0; s < sizeof special / sizeof special[0]; s++)
            assert_true(kiln__hash_partition(special[s], nparts[p]) < nparts[p]);
        for (uint64_t i = 0; i < 20000; i++) {
            uint64_t h = kiln__hash_bytes(&i, 8);
            assert_true(kiln__hash_partition(h, nparts[p]) < nparts[p]);
        }
    }
    assert_int_equal(kiln__hash_partition(UINT64_MAX, 1), 0);
    assert_int_equal(kiln__hash_partition(0xffffffffu, 10), 9);
}

static void keys_spread_evenly(void **state)
{
    (void)state;
    enum { NKEYS = 100000 };
    const uint32_t nparts[] = {7, 16, 50};
    for (size_t p = 0; p < 3; p++) {
        size_t count[64] = {0};
        for (uint64_t i = 0; i < NKEYS; i++) {
            uint64_t k = i; /* consecutive integers: the usual worst case */
            count[kiln__hash_partition(kiln__hash_key(&U64, &k, 8), nparts[p])]++;
        }
        double mean = (double)NKEYS / nparts[p];
        for (uint32_t q = 0; q < nparts[p]; q++) {
            if (count[q] < 0.9 * mean || count[q] > 1.1 * mean)
                fail_msg("partition %u of %u has %zu keys (mean %.0f)", q,
                         nparts[p], count[q], mean);
        }
    }
    /* String keys too. */
    size_t count[16] = {0};
    for (int i = 0; i < NKEYS; i++) {
        char w[32];
        size_t len = (size_t)snprintf(w, sizeof w, "word%d", i);
        count[kiln__hash_partition(kiln__hash_key(&STR, w, len), 16)]++;
    }
    for (int q = 0; q < 16; q++)
        assert_in_range(count[q], NKEYS / 16 * 9 / 10, NKEYS / 16 * 11 / 10);
}

static void keys_of_one_partition_spread_over_slots(void **state)
{
    (void)state;
    /* The partition uses the low half of the hash and the table the high
     * half, so a partition's keys still fill a whole table. */
    size_t slots[64] = {0}, n = 0;
    for (uint64_t i = 0; n < 6400; i++) {
        uint64_t h = kiln__hash_key(&U64, &i, 8);
        if (kiln__hash_partition(h, 16) != 3)
            continue;
        slots[kiln__hash_tag(h) & 63]++;
        n++;
    }
    for (int s = 0; s < 64; s++)
        assert_in_range(slots[s], 50, 150);
}

static void hash_is_stable(void **state)
{
    (void)state;
    /* Placement must agree across ranks and releases: these values may only
     * change together with a format note. */
    uint64_t one = 1;
    assert_int_equal(kiln__hash_bytes("", 0), 0x2d06800538d394c2ull);
    assert_int_equal(kiln__hash_key(&STR, "", 0), 0x2d06800538d394c2ull);
    assert_int_equal(kiln__hash_key(&U64, &one, 8), kiln__hash_bytes(&one, 8));
    assert_int_equal(kiln__hash_key(&STR, "kiln", 4), kiln__hash_bytes("kiln", 4));
    assert_int_not_equal(kiln__hash_key(&STR, "kiln", 4),
                         kiln__hash_key(&STR, "kilo", 4));
    assert_int_equal(kiln__hash_tag(0x1234567890abcdefull), 0x12345678u);
}

/* A block of (STRING key, U64 value) records. */
static void string_block(kiln__block *b, kiln__mem *m, const char *const *keys,
                         const uint64_t *values, size_t n)
{
    kiln_schema s = {STR, U64};
    assert_int_equal(kiln__block_init(b, m, &s), KILN_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(kiln__block_append(b, keys[i], strlen(keys[i]),
                                            &values[i], 8), KILN_OK);
}

static void batch_matches_single_keys(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    const char *keys[] = {"the", "", "quick", "brown", "the", "fox", "", "x"};
    const uint64_t values[] = {1, 2, 3, 4, 5, 6, 7, 8};
    kiln__block b;
    string_block(&b, &m, keys, values, 8);
    kiln_schema s = {STR, U64};
    kiln_batch v;
    kiln__block_view(&b, 0, 8, 0, &v);
    uint64_t out[8];
    kiln__hash_batch(&s, &v, 0, 8, false, out);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(out[i], kiln__hash_key(&STR, keys[i], strlen(keys[i])));
    assert_int_equal(out[0], out[4]); /* equal keys, equal hashes */
    assert_int_equal(out[1], out[6]);
    /* A sub-range writes out[0 .. to - from). */
    uint64_t part[3] = {0, 0, 0};
    kiln__hash_batch(&s, &v, 3, 6, false, part);
    assert_int_equal(part[0], out[3]);
    assert_int_equal(part[2], out[5]);
    kiln__block_release(&b);

    /* Fixed-size keys. */
    kiln_schema fs = {U64, U64};
    assert_int_equal(kiln__block_init(&b, &m, &fs), KILN_OK);
    for (uint64_t k = 0; k < 100; k++)
        assert_int_equal(kiln__block_append(&b, &k, 8, &k, 8), KILN_OK);
    kiln__block_view(&b, 0, 100, 0, &v);
    uint64_t h[100];
    kiln__hash_batch(&fs, &v, 0, 100, false, h);
    for (uint64_t k = 0; k < 100; k++)
        assert_int_equal(h[k], kiln__hash_key(&U64, &k, 8));
    kiln__block_release(&b);
}

static void empty_string_keys_hash_like_any_key(void **state)
{
    (void)state;
    /* A batch whose keys are all "" has no key bytes at all; its records
     * must still land where "" lands from any other batch. */
    kiln__mem m;
    kiln__mem_init(&m);
    const char *only_empty[] = {"", "", ""};
    const char *mixed[] = {"a", "", "b"};
    const uint64_t values[] = {10, 20, 30};
    kiln_schema s = {STR, U64};
    kiln__block a, b;
    string_block(&a, &m, only_empty, values, 3);
    string_block(&b, &m, mixed, values, 3);
    kiln_batch va, vb;
    kiln__block_view(&a, 0, 3, 0, &va);
    kiln__block_view(&b, 0, 3, 0, &vb);
    uint64_t ha[3], hb[3];
    kiln__hash_batch(&s, &va, 0, 3, false, ha);
    kiln__hash_batch(&s, &vb, 0, 3, false, hb);
    uint64_t want = kiln__hash_key(&STR, "", 0);
    assert_int_equal(hb[1], want);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ha[i], want);
    /* Likewise for distinct, whose hash covers the value too. */
    kiln__hash_batch(&s, &va, 0, 3, true, ha);
    kiln__hash_batch(&s, &vb, 0, 3, true, hb);
    assert_int_equal(ha[1], hb[1]); /* the same record ("", 20) */
    kiln__block_release(&a);
    kiln__block_release(&b);
}

static void with_values_changes_the_hash(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    const char *keys[] = {"k", "k", "k", "j"};
    const uint64_t values[] = {1, 2, 1, 1};
    kiln__block b;
    string_block(&b, &m, keys, values, 4);
    kiln_schema s = {STR, U64};
    kiln_batch v;
    kiln__block_view(&b, 0, 4, 0, &v);
    uint64_t key_only[4], whole[4];
    kiln__hash_batch(&s, &v, 0, 4, false, key_only);
    kiln__hash_batch(&s, &v, 0, 4, true, whole);
    assert_int_equal(key_only[0], key_only[1]);
    assert_int_not_equal(whole[0], whole[1]); /* same key, other value */
    assert_int_equal(whole[0], whole[2]);     /* the same record */
    assert_int_not_equal(whole[0], whole[3]); /* other key, same value */
    assert_int_not_equal(whole[0], key_only[0]);
    kiln__block_release(&b);
}

static void plain_values_hash_their_value(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln_schema s = {KILN_T_NONE, STR};
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &s), KILN_OK);
    const char *vals[] = {"x", "y", "x"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(kiln__block_append(&b, NULL, 0, vals[i], 1), KILN_OK);
    kiln_batch v;
    kiln__block_view(&b, 0, 3, 0, &v);
    uint64_t h[3], hv[3];
    kiln__hash_batch(&s, &v, 0, 3, false, h);
    kiln__hash_batch(&s, &v, 0, 3, true, hv);
    assert_int_equal(h[0], h[2]);
    assert_int_not_equal(h[0], h[1]);
    for (int i = 0; i < 3; i++)
        assert_int_equal(h[i], hv[i]); /* the value is the whole record */
    kiln__block_release(&b);
}

static uint64_t first_byte_hash(const void *rec, size_t size, void *arg)
{
    (void)size;
    int *calls = arg;
    (*calls)++;
    return (uint64_t)((const unsigned char *)rec)[0] * 0x0101010101010101ull;
}

static void fixed_keys_use_the_user_hash(void **state)
{
    (void)state;
    int calls = 0;
    kiln_type kt = kiln_type_fixed(4, first_byte_hash, NULL, &calls);
    assert_int_equal(kiln__hash_key(&kt, "abcd", 4), 'a' * 0x0101010101010101ull);
    assert_int_equal(calls, 1);
    kiln_schema s = {kt, U64};
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &s), KILN_OK);
    uint64_t one = 1;
    assert_int_equal(kiln__block_append(&b, "abcd", 4, &one, 8), KILN_OK);
    assert_int_equal(kiln__block_append(&b, "azzz", 4, &one, 8), KILN_OK);
    kiln_batch v;
    kiln__block_view(&b, 0, 2, 0, &v);
    uint64_t h[2];
    kiln__hash_batch(&s, &v, 0, 2, false, h);
    assert_int_equal(h[0], kiln__hash_key(&kt, "abcd", 4));
    assert_int_equal(h[0], h[1]); /* the user's hash says they are alike */
    assert_int_equal(calls, 4);
    /* Without a user hash, FIXED keys hash their bytes. */
    kiln_type raw = kiln_type_fixed(4, NULL, NULL, NULL);
    assert_int_equal(kiln__hash_key(&raw, "abcd", 4), kiln__hash_bytes("abcd", 4));
    kiln__block_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(partition_is_always_in_range),
        cmocka_unit_test(keys_spread_evenly),
        cmocka_unit_test(keys_of_one_partition_spread_over_slots),
        cmocka_unit_test(hash_is_stable),
        cmocka_unit_test(batch_matches_single_keys),
        cmocka_unit_test(empty_string_keys_hash_like_any_key),
        cmocka_unit_test(with_values_changes_the_hash),
        cmocka_unit_test(plain_values_hash_their_value),
        cmocka_unit_test(fixed_keys_use_the_user_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
