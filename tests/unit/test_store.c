/* tests/unit/test_store.c: a partition's records in memory (runtime/store.h).
 * Stores hold caches and shuffle outputs; a record lost or reordered at a
 * block boundary would silently corrupt results, so every test walks every
 * record. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "runtime/store.h"

enum { NRECORDS = 150000, BATCH = 1000 };

static const kiln_schema SCHEMA = {{.kind = KILN_KIND_U64, .size = 8},
                                   {.kind = KILN_KIND_STRING}};

static size_t value_len(uint64_t i)
{
    return (size_t)(i * 37 % 120);
}

/* Build records [first, first + n) into a scratch block. */
static void make_batch(kiln__block *scratch, uint64_t first, size_t n)
{
    char val[128];
    kiln__block_clear(scratch);
    for (uint64_t i = first; i < first + n; i++) {
        size_t len = value_len(i);
        memset(val, 'a' + (int)(i % 26), len);
        assert_int_equal(kiln__block_append(scratch, &i, 8, val, len), KILN_OK);
    }
}

/* Walk the store and check it holds records 0 .. expect-1 in order. */
static void check_store(const kiln__store *s, uint64_t expect, size_t batch_records)
{
    kiln__store_iter it;
    kiln_batch b;
    uint64_t next = 0;
    kiln__store_iter_init(&it, s, 5, batch_records);
    while (kiln__store_next(&it, &b)) {
        assert_true(b.n > 0);
        assert_true(b.n <= batch_records);
        assert_int_equal(b.partition, 5);
        for (size_t i = 0; i < b.n; i++, next++) {
            assert_int_equal(kiln_batch_key_u64(&b, i), next);
            size_t len;
            const unsigned char *v = kiln_batch_value(&b, i, &len);
            assert_int_equal(len, value_len(next));
            for (size_t j = 0; j < len; j++)
                assert_int_equal(v[j], 'a' + (int)(next % 26));
        }
    }
    assert_int_equal(next, expect);
    assert_false(kiln__store_next(&it, &b)); /* stays at the end */
}

static void many_records_across_blocks(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__store s;
    kiln__store_init(&s, &m, &SCHEMA);
    kiln__block scratch;
    assert_int_equal(kiln__block_init(&scratch, &m, &SCHEMA), KILN_OK);
    size_t max_batch_bytes = 0;
    for (uint64_t first = 0; first < NRECORDS; first += BATCH) {
        make_batch(&scratch, first, BATCH);
        if (kiln__block_bytes(&scratch) > max_batch_bytes)
            max_batch_bytes = kiln__block_bytes(&scratch);
        kiln_batch b;
        kiln__block_view(&scratch, 0, scratch.n, 0, &b);
        /* Half the time, append in two pieces from the same batch. */
        if ((first / BATCH) % 2) {
            assert_int_equal(kiln__store_append(&s, &b, 0, 400), KILN_OK);
            assert_int_equal(kiln__store_append(&s, &b, 400, 400), KILN_OK);
            assert_int_equal(kiln__store_append(&s, &b, 400, BATCH), KILN_OK);
        } else {
            assert_int_equal(kiln__store_append(&s, &b, 0, BATCH), KILN_OK);
        }
    }
    assert_int_equal(s.records, NRECORDS);
    size_t total = kiln__store_bytes(&s);
    assert_true(total > 2 * KILN__STORE_BLOCK_BYTES);
    assert_true(s.nblocks >= 2);
    size_t sum = 0, nrec = 0;
    for (size_t i = 0; i < s.nblocks; i++) {
        size_t bytes = kiln__block_bytes(&s.blocks[i]);
        sum += bytes;
        nrec += s.blocks[i].n;
        /* Full blocks are about KILN__STORE_BLOCK_BYTES: never less, and at
         * most one append past it. */
        if (i + 1 < s.nblocks) {
            assert_true(bytes >= KILN__STORE_BLOCK_BYTES);
            assert_true(bytes < KILN__STORE_BLOCK_BYTES + max_batch_bytes);
        }
    }
    assert_int_equal(sum, total);
    assert_int_equal(nrec, NRECORDS);

    check_store(&s, NRECORDS, 333);
    check_store(&s, NRECORDS, 4096);
    check_store(&s, NRECORDS, 1);

    kiln__block_release(&scratch);
    kiln__store_release(&s);
    assert_int_equal(s.nblocks, 0);
    assert_int_equal(s.records, 0);
    assert_int_equal(m.in_use, 0);
}

static void empty_store_iterates_nothing(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__store s;
    kiln__store_init(&s, &m, &SCHEMA);
    kiln_batch b = {0};
    assert_int_equal(kiln__store_append(&s, &b, 3, 3), KILN_OK);
    assert_int_equal(s.nblocks, 0);
    assert_int_equal(kiln__store_bytes(&s), 0);
    kiln__store_iter it;
    kiln__store_iter_init(&it, &s, 0, 0); /* 0: a default batch size */
    assert_true(it.batch_records > 0);
    assert_false(kiln__store_next(&it, &b));
    kiln__store_release(&s);
    kiln__store_release(NULL);
    assert_int_equal(m.in_use, 0);
}

static void adopt_takes_block_without_copy(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__store s;
    kiln__store_init(&s, &m, &SCHEMA);
    kiln__block scratch;
    assert_int_equal(kiln__block_init(&scratch, &m, &SCHEMA), KILN_OK);

    make_batch(&scratch, 0, 100);
    kiln_batch b;
    kiln__block_view(&scratch, 0, 100, 0, &b);
    assert_int_equal(kiln__store_append(&s, &b, 0, 100), KILN_OK);

    kiln__block whole;
    assert_int_equal(kiln__block_init(&whole, &m, &SCHEMA), KILN_OK);
    make_batch(&scratch, 100, 250);
    kiln__block_view(&scratch, 0, 250, 0, &b);
    assert_int_equal(kiln__block_append_batch(&whole, &b, 0, 250), KILN_OK);
    unsigned char *data = whole.value.data;
    assert_int_equal(kiln__store_adopt(&s, &whole), KILN_OK);
    assert_int_equal(s.records, 350);
    assert_int_equal(s.nblocks, 2);
    assert_ptr_equal(s.blocks[1].value.data, data); /* moved, not copied */
    assert_int_equal(whole.n, 0);
    assert_null(whole.value.data);

    /* An empty block adds nothing. */
    assert_int_equal(kiln__store_adopt(&s, &whole), KILN_OK);
    assert_int_equal(s.nblocks, 2);
    assert_int_equal(s.records, 350);

    /* The emptied block is reusable, and later appends follow in order. */
    make_batch(&scratch, 350, 50);
    kiln__block_view(&scratch, 0, 50, 0, &b);
    assert_int_equal(kiln__block_append_batch(&whole, &b, 0, 50), KILN_OK);
    assert_int_equal(kiln__store_adopt(&s, &whole), KILN_OK);
    make_batch(&scratch, 400, 10);
    kiln__block_view(&scratch, 0, 10, 0, &b);
    assert_int_equal(kiln__store_append(&s, &b, 0, 10), KILN_OK);
    assert_int_equal(s.records, 410);
    check_store(&s, 410, 64);

    kiln__block_release(&whole);
    kiln__block_release(&scratch);
    kiln__store_release(&s);
    assert_int_equal(m.in_use, 0);
}

static void failed_append_keeps_store_consistent(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__store s;
    kiln__store_init(&s, &m, &SCHEMA);
    kiln__block scratch;
    assert_int_equal(kiln__block_init(&scratch, &m, &SCHEMA), KILN_OK);
    make_batch(&scratch, 0, 20);
    kiln_batch b;
    kiln__block_view(&scratch, 0, 20, 0, &b);
    m.fail_after = 0;
    assert_int_equal(kiln__store_append(&s, &b, 0, 20), KILN_ERR_NOMEM);
    assert_int_equal(s.records, 0);
    m.fail_after = -1;
    assert_int_equal(kiln__store_append(&s, &b, 0, 20), KILN_OK);
    assert_int_equal(s.records, 20);
    check_store(&s, 20, 7);
    kiln__block_release(&scratch);
    kiln__store_release(&s);
    assert_int_equal(m.in_use, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many_records_across_blocks),
        cmocka_unit_test(empty_store_iterates_nothing),
        cmocka_unit_test(adopt_takes_block_without_copy),
        cmocka_unit_test(failed_append_keeps_store_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
