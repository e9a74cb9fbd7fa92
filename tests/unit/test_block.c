/* tests/unit/test_block.c: flat record blocks and their wire form
 * (runtime/block.h). Blocks hold every record the runtime moves, and the
 * wire form is read in place on the receiving rank, so both the layout and
 * the rejection of malformed segments matter. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/block.h"

static const kiln_schema FIXED_SCHEMA = {
    {.kind = KILN_KIND_U64, .size = 8}, {.kind = KILN_KIND_F64, .size = 8}};
static const kiln_schema VAR_SCHEMA = {{.kind = KILN_KIND_STRING},
                                       {.kind = KILN_KIND_BYTES}};
static const kiln_schema PLAIN_SCHEMA = {{.kind = KILN_KIND_NONE},
                                         {.kind = KILN_KIND_STRING}};

static int setup(void **state)
{
    (void)state;
    kiln__error_clear();
    return 0;
}

/* Key and value of record i of the variable-size test data. */
static void var_record(size_t i, char *key, size_t *klen, unsigned char *val,
                       size_t *vlen)
{
    *klen = (size_t)snprintf(key, 32, "key-%zu", i * 7919 % 1000);
    if (i % 5 == 0)
        *klen = 0; /* some empty keys */
    *vlen = i % 13;
    for (size_t j = 0; j < *vlen; j++)
        val[j] = (unsigned char)(i + j);
}

static void fill_var(kiln__block *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char key[32];
        unsigned char val[16];
        size_t klen, vlen;
        var_record(i, key, &klen, val, &vlen);
        assert_int_equal(kiln__block_append(b, key, klen, val, vlen), KILN_OK);
    }
}

/* Check that record i of batch `b` is var_record(first + i). */
static void check_var_batch(const kiln_batch *b, size_t first, size_t n)
{
    assert_int_equal(b->n, n);
    assert_non_null(b->key_offsets);
    assert_non_null(b->value_offsets);
    assert_int_equal(b->key_size, 0);
    assert_int_equal(b->value_size, 0);
    for (size_t i = 0; i < n; i++) {
        char key[32];
        unsigned char val[16];
        size_t klen, vlen, gk, gv;
        var_record(first + i, key, &klen, val, &vlen);
        const void *k = kiln_batch_key(b, i, &gk);
        const void *v = kiln_batch_value(b, i, &gv);
        assert_int_equal(gk, klen);
        assert_int_equal(gv, vlen);
        if (klen)
            assert_memory_equal(k, key, klen);
        if (vlen)
            assert_memory_equal(v, val, vlen);
    }
}

static void fill_fixed(kiln__block *b, size_t first, size_t n)
{
    for (size_t i = first; i < first + n; i++) {
        uint64_t k = i * 3;
        double v = (double)i / 4;
        assert_int_equal(kiln__block_append(b, &k, 8, &v, 8), KILN_OK);
    }
}

static void check_fixed_batch(const kiln_batch *b, size_t first, size_t n)
{
    assert_int_equal(b->n, n);
    assert_int_equal(b->key_size, 8);
    assert_int_equal(b->value_size, 8);
    assert_null(b->key_offsets);
    assert_null(b->value_offsets);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(kiln_batch_key_u64(b, i), (first + i) * 3);
        assert_true(kiln_batch_value_f64(b, i) == (double)(first + i) / 4);
    }
}

static void init_checks_the_schema(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__block b;
    kiln_schema no_value = {KILN_T_U64, KILN_T_NONE};
    assert_int_equal(kiln__block_init(&b, &m, &no_value), KILN_ERR_INVAL);
    kiln_schema zero_key = {kiln_type_fixed(0, NULL, NULL, NULL), KILN_T_U64};
    assert_int_equal(kiln__block_init(&b, &m, &zero_key), KILN_ERR_INVAL);
    kiln_schema zero_value = {KILN_T_NONE, kiln_type_fixed(0, NULL, NULL, NULL)};
    assert_int_equal(kiln__block_init(&b, &m, &zero_value), KILN_ERR_INVAL);
    assert_int_equal(m.in_use, 0);
    assert_int_equal(kiln__block_init(&b, &m, &VAR_SCHEMA), KILN_OK);
    assert_int_equal(b.n, 0);
    assert_true(b.key.variable && b.value.variable);
    kiln__block_release(&b);
    assert_int_equal(m.in_use, 0);
}

static void fixed_records_round_trip(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &FIXED_SCHEMA), KILN_OK);
    fill_fixed(&b, 0, 1000);
    assert_int_equal(b.n, 1000);
    assert_int_equal(kiln__block_bytes(&b), 16 * 1000);
    assert_true(m.in_use >= 16 * 1000);
    kiln_batch v;
    kiln__block_view(&b, 0, 1000, 3, &v);
    assert_int_equal(v.partition, 3);
    check_fixed_batch(&v, 0, 1000);
    /* A window in the middle. */
    kiln__block_view(&b, 250, 260, 0, &v);
    check_fixed_batch(&v, 250, 10);
    kiln__block_release(&b);
    assert_int_equal(m.in_use, 0);
}

static void variable_records_round_trip(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &VAR_SCHEMA), KILN_OK);
    fill_var(&b, 2000);
    assert_int_equal(b.n, 2000);
    assert_int_equal(b.key.offs[0], 0);
    assert_int_equal(b.key.offs[b.n], b.key.len);
    assert_int_equal(b.value.offs[b.n], b.value.len);
    assert_int_equal(kiln__block_bytes(&b), b.key.len + b.value.len + 8 * 2000);
    kiln_batch v;
    kiln__block_view(&b, 0, 2000, 0, &v);
    check_var_batch(&v, 0, 2000);
    /* Windows: offsets of a view need not start at 0. */
    size_t windows[][2] = {{1, 2}, {5, 6}, {123, 999}, {1999, 2000}, {7, 7}};
    for (size_t w = 0; w < 5; w++) {
        kiln__block_view(&b, windows[w][0], windows[w][1], 0, &v);
        check_var_batch(&v, windows[w][0], windows[w][1] - windows[w][0]);
    }
    kiln__block_release(&b);
    assert_int_equal(m.in_use, 0);
}

static void empty_block_view_has_offsets(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &VAR_SCHEMA), KILN_OK);
    kiln_batch v;
    kiln__block_view(&b, 0, 0, 9, &v);
    assert_int_equal(v.n, 0);
    assert_int_equal(v.partition, 9);
    assert_non_null(v.key_offsets); /* n + 1 offsets, even for n == 0 */
    assert_non_null(v.value_offsets);
    assert_int_equal(v.key_offsets[0], 0);
    assert_int_equal(v.value_offsets[0], 0);
    kiln__block_release(&b);
}

static void all_empty_strings_keep_their_offsets(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &VAR_SCHEMA), KILN_OK);
    for (int i = 0; i < 40; i++)
        assert_int_equal(kiln__block_append(&b, "", 0, "", 0), KILN_OK);
    kiln_batch v;
    kiln__block_view(&b, 3, 40, 0, &v);
    assert_int_equal(v.n, 37);
    for (size_t i = 0; i < v.n; i++) {
        size_t kl = 99, vl = 99;
        kiln_batch_key(&v, i, &kl);
        kiln_batch_value(&v, i, &vl);
        assert_int_equal(kl, 0);
        assert_int_equal(vl, 0);
    }
    kiln__block_release(&b);
}

static void append_batch_with_offsets_not_starting_at_zero(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    /* A batch as a user might build it: heaps with unrelated bytes in front,
     * offsets starting at 100 and 57. */
    unsigned char kheap[200], vheap[200];
    memset(kheap, '#', sizeof kheap);
    memset(vheap, '#', sizeof vheap);
    const char *keys[] = {"alpha", "", "gamma", "de", "epsilon"};
    const char *vals[] = {"1", "22", "", "4444", "55555"};
    uint64_t koffs[6], voffs[6];
    koffs[0] = 100;
    voffs[0] = 57;
    for (int i = 0; i < 5; i++) {
        memcpy(kheap + koffs[i], keys[i], strlen(keys[i]));
        koffs[i + 1] = koffs[i] + strlen(keys[i]);
        memcpy(vheap + voffs[i], vals[i], strlen(vals[i]));
        voffs[i + 1] = voffs[i] + strlen(vals[i]);
    }
    kiln_batch in = {.n = 5, .keys = kheap, .key_offsets = koffs,
                     .values = vheap, .value_offsets = voffs};

    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &VAR_SCHEMA), KILN_OK);
    assert_int_equal(kiln__block_append(&b, "first", 5, "f", 1), KILN_OK);
    assert_int_equal(kiln__block_append_batch(&b, &in, 0, 5), KILN_OK);
    assert_int_equal(kiln__block_append_batch(&b, &in, 2, 4), KILN_OK);
    assert_int_equal(kiln__block_append_batch(&b, &in, 3, 3), KILN_OK); /* none */
    assert_int_equal(b.n, 8);
    assert_int_equal(b.key.offs[0], 0);
    assert_int_equal(b.key.offs[b.n], b.key.len);
    assert_int_equal(b.value.offs[b.n], b.value.len);

    const char *want_k[] = {"first", "alpha", "", "gamma", "de", "epsilon",
                            "gamma", "de"};
    const char *want_v[] = {"f", "1", "22", "", "4444", "55555", "", "4444"};
    kiln_batch v;
    kiln__block_view(&b, 0, b.n, 0, &v);
    for (size_t i = 0; i < 8; i++) {
        size_t kl, vl;
        const void *k = kiln_batch_key(&v, i, &kl);
        const void *x = kiln_batch_value(&v, i, &vl);
        assert_int_equal(kl, strlen(want_k[i]));
        assert_int_equal(vl, strlen(want_v[i]));
        assert_memory_equal(k, want_k[i], kl);
        assert_memory_equal(x, want_v[i], vl);
        assert_null(memchr(k, '#', kl));
    }

    /* And from a view of a block (its offsets start mid-heap too). */
    kiln__block c;
    assert_int_equal(kiln__block_init(&c, &m, &VAR_SCHEMA), KILN_OK);
    kiln_batch mid;
    kiln__block_view(&b, 4, 8, 0, &mid);
    assert_int_equal(kiln__block_append_batch(&c, &mid, 1, 3), KILN_OK);
    assert_int_equal(c.n, 2);
    kiln__block_view(&c, 0, 2, 0, &v);
    size_t kl;
    const void *k = kiln_batch_key(&v, 0, &kl);
    assert_int_equal(kl, 7);
    assert_memory_equal(k, "epsilon", 7);
    k = kiln_batch_key(&v, 1, &kl);
    assert_int_equal(kl, 5);
    assert_memory_equal(k, "gamma", 5);
    kiln__block_release(&c);
    kiln__block_release(&b);
    assert_int_equal(m.in_use, 0);
}

static void append_batch_fixed_from_middle(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__block src, dst;
    assert_int_equal(kiln__block_init(&src, &m, &FIXED_SCHEMA), KILN_OK);
    assert_int_equal(kiln__block_init(&dst, &m, &FIXED_SCHEMA), KILN_OK);
    fill_fixed(&src, 0, 500);
    kiln_batch all;
    kiln__block_view(&src, 0, 500, 0, &all);
    assert_int_equal(kiln__block_append_batch(&dst, &all, 100, 400), KILN_OK);
    kiln_batch v;
    kiln__block_view(&dst, 0, dst.n, 0, &v);
    check_fixed_batch(&v, 100, 300);
    kiln__block_release(&src);
    kiln__block_release(&dst);
    assert_int_equal(m.in_use, 0);
}

static void clear_keeps_buffers(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &VAR_SCHEMA), KILN_OK);
    fill_var(&b, 300);
    size_t in_use = m.in_use, kcap = b.key.cap;
    unsigned char *kdata = b.key.data;
    kiln__block_clear(&b);
    assert_int_equal(b.n, 0);
    assert_int_equal(kiln__block_bytes(&b), 0);
    assert_int_equal(m.in_use, in_use);
    assert_int_equal(b.key.cap, kcap);
    assert_ptr_equal(b.key.data, kdata);
    fill_var(&b, 100); /* refilled from the start, no reallocation */
    assert_int_equal(m.in_use, in_use);
    kiln_batch v;
    kiln__block_view(&b, 0, b.n, 0, &v);
    check_var_batch(&v, 0, 100);
    kiln__block_release(&b);
    assert_int_equal(m.in_use, 0);
}

static void move_transfers_and_leaves_source_usable(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__block src, dst;
    assert_int_equal(kiln__block_init(&src, &m, &VAR_SCHEMA), KILN_OK);
    assert_int_equal(kiln__block_init(&dst, &m, &VAR_SCHEMA), KILN_OK);
    fill_var(&dst, 50); /* released by the move */
    fill_var(&src, 400);
    unsigned char *data = src.value.data;
    kiln__block_move(&dst, &src);
    assert_int_equal(dst.n, 400);
    assert_ptr_equal(dst.value.data, data); /* no copy */
    kiln_batch v;
    kiln__block_view(&dst, 0, dst.n, 0, &v);
    check_var_batch(&v, 0, 400);
    assert_int_equal(src.n, 0);
    assert_null(src.key.data);
    assert_null(src.value.offs);
    assert_true(src.key.variable && src.key.present);
    /* The source is empty but initialised: it takes records again. */
    fill_var(&src, 10);
    kiln__block_view(&src, 0, src.n, 0, &v);
    check_var_batch(&v, 0, 10);
    kiln__block_release(&src);
    kiln__block_release(&dst);
    assert_int_equal(m.in_use, 0);
}

static void failed_append_leaves_block_unchanged(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &VAR_SCHEMA), KILN_OK);
    fill_var(&b, 3);
    size_t klen = b.key.len, vlen = b.value.len;
    m.fail_after = 0;
    char big[4096];
    memset(big, 'z', sizeof big);
    assert_int_equal(kiln__block_append(&b, big, sizeof big, "v", 1),
                     KILN_ERR_NOMEM);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.key.len, klen);
    assert_int_equal(b.value.len, vlen);
    kiln_batch in = {0};
    kiln_batch v;
    kiln__block_view(&b, 0, 3, 0, &v);
    in = v;
    kiln__block f;
    m.fail_after = -1;
    assert_int_equal(kiln__block_init(&f, &m, &VAR_SCHEMA), KILN_OK);
    m.fail_after = 0;
    assert_int_equal(kiln__block_append_batch(&f, &in, 0, 3), KILN_ERR_NOMEM);
    assert_int_equal(f.n, 0);
    m.fail_after = -1;
    kiln__block_release(&f);
    kiln_batch again;
    kiln__block_view(&b, 0, 3, 0, &again);
    check_var_batch(&again, 0, 3);
    kiln__block_release(&b);
    assert_int_equal(m.in_use, 0);
}

static void none_key_has_no_key_column(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &PLAIN_SCHEMA), KILN_OK);
    assert_false(b.key.present);
    const char *lines[] = {"one", "", "three"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(kiln__block_append(&b, NULL, 0, lines[i], strlen(lines[i])),
                         KILN_OK);
    assert_int_equal(kiln__block_bytes(&b), 8 + 8 * 3);
    kiln_batch v;
    kiln__block_view(&b, 0, 3, 0, &v);
    assert_null(v.keys);
    assert_null(v.key_offsets);
    assert_int_equal(v.key_size, 0);
    for (size_t i = 0; i < 3; i++) {
        size_t len;
        const void *p = kiln_batch_value(&v, i, &len);
        assert_int_equal(len, strlen(lines[i]));
        assert_memory_equal(p, lines[i], len);
    }
    kiln__block_release(&b);
}

/* Write [from, to) of b to a fresh buffer and read it back. */
static unsigned char *wire(const kiln__block *b, size_t from, size_t to,
                           uint32_t partition, size_t *size)
{
    *size = kiln__block_wire_size(b, from, to);
    unsigned char *buf = aligned_alloc(8, *size + 64);
    assert_non_null(buf);
    memset(buf, 0xee, *size + 64);
    kiln__block_wire_write(b, from, to, partition, buf);
    return buf;
}

static void wire_round_trip_variable(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &VAR_SCHEMA), KILN_OK);
    fill_var(&b, 777);
    size_t ranges[][2] = {{0, 777}, {13, 500}, {776, 777}, {5, 5}, {0, 1}};
    for (size_t r = 0; r < 5; r++) {
        size_t from = ranges[r][0], to = ranges[r][1], size;
        unsigned char *buf = wire(&b, from, to, 42, &size);
        assert_int_equal(size % 8, 0);
        kiln_batch got;
        /* Bytes past the segment (0xee) must not matter. */
        assert_int_equal(kiln__block_wire_read(&VAR_SCHEMA, buf, size + 64, &got),
                         size);
        assert_int_equal(got.partition, 42);
        check_var_batch(&got, from, to - from);
        assert_int_equal(got.key_offsets[0], 0); /* rebased */
        assert_int_equal(got.value_offsets[0], 0);
        /* Exactly the size is enough. */
        assert_int_equal(kiln__block_wire_read(&VAR_SCHEMA, buf, size, &got), size);
        free(buf);
    }
    kiln__block_release(&b);
}

/* A block that never held a record has no offsets yet; its wire form is
 * still one zero offset per variable column (range sort: a rank that ran no
 * task sends an empty sample block, a sort into one partition has no
 * splitters). */
static void wire_of_a_never_filled_variable_block(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &VAR_SCHEMA), KILN_OK);
    size_t size;
    unsigned char *buf = wire(&b, 0, 0, 3, &size);
    assert_int_equal(size, sizeof(kiln__wire_header) + 8 + 8);
    kiln_batch got;
    assert_int_equal(kiln__block_wire_read(&VAR_SCHEMA, buf, size, &got), size);
    assert_int_equal(got.n, 0);
    assert_int_equal(got.partition, 3);
    assert_int_equal(got.key_offsets[0], 0);
    assert_int_equal(got.value_offsets[0], 0);
    free(buf);
    kiln__block_release(&b);
}

static void wire_round_trip_fixed_and_none_key(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &FIXED_SCHEMA), KILN_OK);
    fill_fixed(&b, 0, 99);
    size_t size;
    unsigned char *buf = wire(&b, 10, 99, 1, &size);
    assert_int_equal(size, sizeof(kiln__wire_header) + 2 * 8 * 89);
    kiln_batch got;
    assert_int_equal(kiln__block_wire_read(&FIXED_SCHEMA, buf, size, &got), size);
    check_fixed_batch(&got, 10, 89);
    free(buf);
    kiln__block_release(&b);

    /* A plain (NONE key) dataset, with a heap of 7 bytes to pad. */
    assert_int_equal(kiln__block_init(&b, &m, &PLAIN_SCHEMA), KILN_OK);
    assert_int_equal(kiln__block_append(&b, NULL, 0, "abc", 3), KILN_OK);
    assert_int_equal(kiln__block_append(&b, NULL, 0, "hell", 4), KILN_OK);
    buf = wire(&b, 0, 2, 7, &size);
    assert_int_equal(size % 8, 0);
    assert_int_equal(size, sizeof(kiln__wire_header) + 8 * 3 + 8);
    assert_int_equal(kiln__block_wire_read(&PLAIN_SCHEMA, buf, size, &got), size);
    assert_int_equal(got.n, 2);
    assert_null(got.keys);
    size_t len;
    const void *p = kiln_batch_value(&got, 1, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(p, "hell", 4);
    /* 7 heap bytes: the 8th is padding, zeroed (the buffer held 0xee). */
    assert_int_equal(buf[size - 1], 0);
    free(buf);
    kiln__block_release(&b);
}

static void wire_segments_follow_each_other(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &VAR_SCHEMA), KILN_OK);
    fill_var(&b, 300);
    size_t cuts[] = {0, 1, 77, 78, 250, 300};
    size_t total = 0;
    for (int i = 0; i < 5; i++)
        total += kiln__block_wire_size(&b, cuts[i], cuts[i + 1]);
    unsigned char *buf = aligned_alloc(8, total);
    assert_non_null(buf);
    size_t at = 0;
    for (int i = 0; i < 5; i++) {
        kiln__block_wire_write(&b, cuts[i], cuts[i + 1], (uint32_t)i, buf + at);
        at += kiln__block_wire_size(&b, cuts[i], cuts[i + 1]);
    }
    at = 0;
    for (int i = 0; i < 5; i++) {
        kiln_batch got;
        size_t used = kiln__block_wire_read(&VAR_SCHEMA, buf + at, total - at, &got);
        assert_int_not_equal(used, 0);
        assert_int_equal(got.partition, i);
        check_var_batch(&got, cuts[i], cuts[i + 1] - cuts[i]);
        at += used;
    }
    assert_int_equal(at, total);
    free(buf);
    kiln__block_release(&b);
}

static void wire_rejects_malformed_input(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &VAR_SCHEMA), KILN_OK);
    fill_var(&b, 20);
    size_t size;
    unsigned char *buf = wire(&b, 0, 20, 0, &size);
    kiln_batch got;

    /* Every truncation fails. */
    for (size_t avail = 0; avail < size; avail++)
        if (kiln__block_wire_read(&VAR_SCHEMA, buf, avail, &got) != 0)
            fail_msg("a segment of %zu bytes was read from %zu", size, avail);

    kiln__wire_header h;
    memcpy(&h, buf, sizeof h);

    /* Bad magic. */
    kiln__wire_header bad = h;
    bad.magic ^= 1;
    memcpy(buf, &bad, sizeof bad);
    assert_int_equal(kiln__block_wire_read(&VAR_SCHEMA, buf, size, &got), 0);

    /* Key bytes that disagree with the offsets. */
    bad = h;
    bad.key_bytes += 1;
    memcpy(buf, &bad, sizeof bad);
    assert_int_equal(kiln__block_wire_read(&VAR_SCHEMA, buf, size, &got), 0);

    /* More records than the offsets the buffer holds. */
    bad = h;
    bad.n = 1000;
    memcpy(buf, &bad, sizeof bad);
    assert_int_equal(kiln__block_wire_read(&VAR_SCHEMA, buf, size, &got), 0);

    /* First offset not 0. */
    memcpy(buf, &h, sizeof h);
    uint64_t *offs = (uint64_t *)(buf + sizeof h);
    offs[0] = 1;
    assert_int_equal(kiln__block_wire_read(&VAR_SCHEMA, buf, size, &got), 0);
    offs[0] = 0;

    /* Read with the wrong schema: fixed keys where strings were written. */
    assert_int_equal(kiln__block_wire_read(&FIXED_SCHEMA, buf, size, &got), 0);

    /* The intact segment still reads. */
    assert_int_equal(kiln__block_wire_read(&VAR_SCHEMA, buf, size, &got), size);
    free(buf);
    kiln__block_release(&b);
}

static void wire_rejects_record_counts_that_overflow(void **state)
{
    (void)state;
    /* A header claiming 2^64 - 1 variable records: n + 1 wraps to 0. */
    uint64_t seg[16] = {0};
    kiln__wire_header h = {.magic = KILN__WIRE_MAGIC, .partition = 0,
                           .n = UINT64_MAX, .key_bytes = 0, .value_bytes = 0};
    memcpy(seg, &h, sizeof h);
    kiln_batch got;
    assert_int_equal(kiln__block_wire_read(&VAR_SCHEMA, (unsigned char *)seg,
                                           sizeof seg, &got),
                     0);

    /* 2^61 fixed 8-byte records: n * 8 wraps to 0 bytes. */
    h.n = (uint64_t)1 << 61;
    memcpy(seg, &h, sizeof h);
    assert_int_equal(kiln__block_wire_read(&FIXED_SCHEMA, (unsigned char *)seg,
                                           sizeof seg, &got),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(init_checks_the_schema, setup),
        cmocka_unit_test_setup(fixed_records_round_trip, setup),
        cmocka_unit_test_setup(variable_records_round_trip, setup),
        cmocka_unit_test_setup(empty_block_view_has_offsets, setup),
        cmocka_unit_test_setup(all_empty_strings_keep_their_offsets, setup),
        cmocka_unit_test_setup(append_batch_with_offsets_not_starting_at_zero, setup),
        cmocka_unit_test_setup(append_batch_fixed_from_middle, setup),
        cmocka_unit_test_setup(clear_keeps_buffers, setup),
        cmocka_unit_test_setup(move_transfers_and_leaves_source_usable, setup),
        cmocka_unit_test_setup(failed_append_leaves_block_unchanged, setup),
        cmocka_unit_test_setup(none_key_has_no_key_column, setup),
        cmocka_unit_test_setup(wire_round_trip_variable, setup),
        cmocka_unit_test_setup(wire_of_a_never_filled_variable_block, setup),
        cmocka_unit_test_setup(wire_round_trip_fixed_and_none_key, setup),
        cmocka_unit_test_setup(wire_segments_follow_each_other, setup),
        cmocka_unit_test_setup(wire_rejects_malformed_input, setup),
        cmocka_unit_test_setup(wire_rejects_record_counts_that_overflow, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
