/* tests/unit/test_group.c: group_by_key over a partition held in memory
 * (runtime/group.h). A key's list must be exact however many values it has:
 * nothing cut at a buffer size, nothing reordered, nothing lost. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/group.h"

static const kiln_type U64 = {.kind = KILN_KIND_U64, .size = 8};
static const kiln_type STR = {.kind = KILN_KIND_STRING};

static kiln_schema list_schema(kiln_type key, kiln_type value)
{
    kiln_schema s = {key, {.kind = KILN_KIND_LIST, .elem_kind = value.kind,
                           .elem_size = kiln__type_variable(&value) ? 0 : value.size}};
    return s;
}

/* Append one record to a store through a one-record block. */
typedef struct feeder {
    kiln__block b;
    kiln__store *s;
} feeder;

static void feed(feeder *f, const void *k, size_t kl, const void *v, size_t vl)
{
    assert_int_equal(kiln__block_append(&f->b, k, kl, v, vl), KILN_OK);
    if (f->b.n == 1000) {
        kiln_batch b;
        kiln__block_view(&f->b, 0, f->b.n, 0, &b);
        assert_int_equal(kiln__store_append(f->s, &b, 0, b.n), KILN_OK);
        kiln__block_clear(&f->b);
    }
}

static void feed_flush(feeder *f)
{
    kiln_batch b;
    kiln__block_view(&f->b, 0, f->b.n, 0, &b);
    assert_int_equal(kiln__store_append(f->s, &b, 0, b.n), KILN_OK);
    kiln__block_release(&f->b);
}

static void feeder_init(feeder *f, kiln__mem *m, kiln__store *s)
{
    f->s = s;
    assert_int_equal(kiln__block_init(&f->b, m, &s->schema), KILN_OK);
}

/* All output records, in order, as one flat list of batches' records. */
typedef struct group_out {
    size_t n;
    kiln_batch batches[64];
    size_t nbatches;
} group_out;

static void collect(const kiln__store *s, group_out *g)
{
    kiln__store_iter it;
    g->n = 0;
    g->nbatches = 0;
    kiln__store_iter_init(&it, s, 0, (size_t)1 << 30);
    while (g->nbatches < 64 && kiln__store_next(&it, &g->batches[g->nbatches])) {
        g->n += g->batches[g->nbatches].n;
        g->nbatches++;
    }
    assert_true(g->nbatches < 64);
}

/* Record i of the output (over all batches). */
static const kiln_batch *record(const group_out *g, size_t i, size_t *at)
{
    for (size_t b = 0; b < g->nbatches; b++) {
        if (i < g->batches[b].n) {
            *at = i;
            return &g->batches[b];
        }
        i -= g->batches[b].n;
    }
    fail_msg("no output record %zu", i);
    return NULL;
}

static void fixed_values_grouped_in_order(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln_schema in_s = {U64, U64};
    kiln_schema out_s = list_schema(U64, U64);
    kiln__store in, out;
    kiln__store_init(&in, &m, &in_s);
    kiln__store_init(&out, &m, &out_s);
    feeder f;
    feeder_init(&f, &m, &in);
    enum { N = 10000, NKEYS = 97 };
    for (uint64_t i = 0; i < N; i++) {
        uint64_t k = (i * 31) % NKEYS; /* first seen in the order 0, 31, 62, ... */
        feed(&f, &k, 8, &i, 8);
    }
    feed_flush(&f);
    assert_int_equal(kiln__group_store(&m, &in, &out_s, &out), KILN_OK);
    group_out g;
    collect(&out, &g);
    assert_int_equal(g.n, NKEYS);
    uint64_t total = 0;
    for (size_t r = 0; r < NKEYS; r++) {
        size_t at, len, elen;
        const kiln_batch *b = record(&g, r, &at);
        uint64_t key = kiln_batch_key_u64(b, at);
        assert_int_equal(key, (r * 31) % NKEYS); /* first-seen order */
        const void *list = kiln_batch_value(b, at, &len);
        assert_int_equal(len % 8, 0);
        kiln_list_iter it = kiln_list_begin(list, len, 8);
        const void *e;
        uint64_t prev = 0;
        size_t count = 0;
        while (kiln_list_next(&it, &e, &elen)) {
            uint64_t v;
            assert_int_equal(elen, 8);
            memcpy(&v, e, 8);
            assert_int_equal((v * 31) % NKEYS, key); /* belongs here */
            if (count)
                assert_true(v > prev); /* input order kept */
            prev = v;
            count++;
        }
        total += count;
    }
    assert_int_equal(total, N);
    kiln__store_release(&in);
    kiln__store_release(&out);
    assert_int_equal(m.in_use, 0);
}

static void variable_values_are_length_prefixed(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln_schema in_s = {STR, STR};
    kiln_schema out_s = list_schema(STR, STR);
    kiln__store in, out;
    kiln__store_init(&in, &m, &in_s);
    kiln__store_init(&out, &m, &out_s);
    feeder f;
    feeder_init(&f, &m, &in);
    const char *rec[][2] = {{"b", "one"}, {"a", ""},    {"b", "two"},
                            {"", "x"},    {"a", "333"}, {"b", ""}};
    for (int i = 0; i < 6; i++)
        feed(&f, rec[i][0], strlen(rec[i][0]), rec[i][1], strlen(rec[i][1]));
    feed_flush(&f);
    assert_int_equal(kiln__group_store(&m, &in, &out_s, &out), KILN_OK);
    group_out g;
    collect(&out, &g);
    assert_int_equal(g.n, 3);
    const char *want_key[] = {"b", "a", ""};
    const char *want_vals[3][4] = {{"one", "two", "", NULL},
                                   {"", "333", NULL, NULL},
                                   {"x", NULL, NULL, NULL}};
    for (size_t r = 0; r < 3; r++) {
        size_t at, klen, len, elen;
        const kiln_batch *b = record(&g, r, &at);
        const void *k = kiln_batch_key(b, at, &klen);
        assert_int_equal(klen, strlen(want_key[r]));
        assert_memory_equal(k, want_key[r], klen);
        const void *list = kiln_batch_value(b, at, &len);
        kiln_list_iter it = kiln_list_begin(list, len, 0);
        const void *e;
        size_t j = 0;
        while (kiln_list_next(&it, &e, &elen)) {
            assert_non_null(want_vals[r][j]);
            assert_int_equal(elen, strlen(want_vals[r][j]));
            assert_memory_equal(e, want_vals[r][j], elen);
            j++;
        }
        assert_null(want_vals[r][j]);
    }
    kiln__store_release(&in);
    kiln__store_release(&out);
    assert_int_equal(m.in_use, 0);
}

static void one_key_with_300k_values_is_exact(void **state)
{
    (void)state;
    enum { BIG = 300000 };
    kiln__mem m;
    kiln__mem_init(&m);
    kiln_schema in_s = {STR, U64};
    kiln_schema out_s = list_schema(STR, U64);
    kiln__store in, out;
    kiln__store_init(&in, &m, &in_s);
    kiln__store_init(&out, &m, &out_s);
    feeder f;
    feeder_init(&f, &m, &in);
    uint64_t small = 0;
    for (uint64_t i = 0; i < BIG; i++) {
        feed(&f, "hot", 3, &i, 8);
        if (i % 1000 == 0) { /* a few cold keys in between */
            feed(&f, "cold", 4, &small, 8);
            small++;
        }
    }
    feed_flush(&f);
    assert_true(in.nblocks >= 2); /* the input spans blocks */
    assert_int_equal(kiln__group_store(&m, &in, &out_s, &out), KILN_OK);
    group_out g;
    collect(&out, &g);
    assert_int_equal(g.n, 2);
    size_t at, klen, len, elen;
    const kiln_batch *b = record(&g, 0, &at);
    const void *k = kiln_batch_key(b, at, &klen);
    assert_int_equal(klen, 3);
    assert_memory_equal(k, "hot", 3);
    const unsigned char *list = kiln_batch_value(b, at, &len);
    assert_int_equal(len, (size_t)BIG * 8);
    kiln_list_iter it = kiln_list_begin(list, len, 8);
    const void *e;
    uint64_t next = 0;
    while (kiln_list_next(&it, &e, &elen)) {
        uint64_t v;
        memcpy(&v, e, 8);
        if (v != next)
            fail_msg("value %llu at position %llu", (unsigned long long)v,
                     (unsigned long long)next);
        next++;
    }
    assert_int_equal(next, BIG);
    b = record(&g, 1, &at);
    k = kiln_batch_key(b, at, &klen);
    assert_memory_equal(k, "cold", 4);
    kiln_batch_value(b, at, &len);
    assert_int_equal(len, small * 8);
    kiln__store_release(&in);
    kiln__store_release(&out);
    assert_int_equal(m.in_use, 0);
}

static void counts_match_brute_force(void **state)
{
    (void)state;
    enum { N = 50000, NKEYS = 1000 };
    kiln__mem m;
    kiln__mem_init(&m);
    kiln_schema in_s = {STR, STR};
    kiln_schema out_s = list_schema(STR, STR);
    kiln__store in, out;
    kiln__store_init(&in, &m, &in_s);
    kiln__store_init(&out, &m, &out_s);
    feeder f;
    feeder_init(&f, &m, &in);

    /* Reference: per key id, its count and the sum of its value lengths,
     * and the order keys were first seen. */
    static uint64_t count[NKEYS], bytes[NKEYS], vsum[NKEYS];
    static int order[NKEYS];
    int nseen = 0;
    memset(count, 0, sizeof count);
    memset(bytes, 0, sizeof bytes);
    memset(vsum, 0, sizeof vsum);
    uint64_t x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int id = (int)((x >> 33) % NKEYS);
        if (id % 3 == 0)
            id = id % 50; /* skew: a few hot keys */
        char key[16], val[32];
        size_t kl = (size_t)snprintf(key, sizeof key, "k%d", id);
        size_t vl = (size_t)snprintf(val, sizeof val, "%d", i);
        if (count[id] == 0)
            order[nseen++] = id;
        count[id]++;
        bytes[id] += vl;
        vsum[id] += (uint64_t)i;
        feed(&f, key, kl, val, vl);
    }
    feed_flush(&f);
    assert_int_equal(kiln__group_store(&m, &in, &out_s, &out), KILN_OK);
    group_out g;
    collect(&out, &g);
    assert_int_equal(g.n, nseen);
    for (int r = 0; r < nseen; r++) {
        size_t at, klen, len, elen;
        const kiln_batch *b = record(&g, (size_t)r, &at);
        const char *k = kiln_batch_key(b, at, &klen);
        char want[16];
        size_t wl = (size_t)snprintf(want, sizeof want, "k%d", order[r]);
        assert_int_equal(klen, wl);
        assert_memory_equal(k, want, wl);
        const void *list = kiln_batch_value(b, at, &len);
        kiln_list_iter it = kiln_list_begin(list, len, 0);
        const void *e;
        uint64_t c = 0, by = 0, sum = 0;
        long prev = -1;
        while (kiln_list_next(&it, &e, &elen)) {
            char num[32];
            assert_true(elen < sizeof num);
            memcpy(num, e, elen);
            num[elen] = '\0';
            long v = strtol(num, NULL, 10);
            assert_true(v > prev);
            prev = v;
            c++;
            by += elen;
            sum += (uint64_t)v;
        }
        assert_int_equal(c, count[order[r]]);
        assert_int_equal(by, bytes[order[r]]);
        assert_int_equal(sum, vsum[order[r]]);
    }
    kiln__store_release(&in);
    kiln__store_release(&out);
    assert_int_equal(m.in_use, 0);
}

static void empty_input_gives_no_groups(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln_schema in_s = {U64, STR};
    kiln_schema out_s = list_schema(U64, STR);
    kiln__store in, out;
    kiln__store_init(&in, &m, &in_s);
    kiln__store_init(&out, &m, &out_s);
    assert_int_equal(kiln__group_store(&m, &in, &out_s, &out), KILN_OK);
    assert_int_equal(out.records, 0);
    kiln__store_release(&in);
    kiln__store_release(&out);
    assert_int_equal(m.in_use, 0);
}

static void out_of_memory_fails_cleanly(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln_schema in_s = {U64, U64};
    kiln_schema out_s = list_schema(U64, U64);
    kiln__store in, out;
    kiln__store_init(&in, &m, &in_s);
    feeder f;
    feeder_init(&f, &m, &in);
    for (uint64_t i = 0; i < 5000; i++) {
        uint64_t k = i % 10;
        feed(&f, &k, 8, &i, 8);
    }
    feed_flush(&f);
    size_t before = m.in_use;
    /* Fail each allocation in turn: always NOMEM, never a leak. */
    for (long n = 0;; n++) {
        kiln__store_init(&out, &m, &out_s);
        m.fail_after = n;
        kiln_status st = kiln__group_store(&m, &in, &out_s, &out);
        m.fail_after = -1;
        if (st == KILN_OK) {
            assert_int_equal(out.records, 10);
            kiln__store_release(&out);
            break;
        }
        assert_int_equal(st, KILN_ERR_NOMEM);
        kiln__store_release(&out);
        assert_int_equal(m.in_use, before);
        assert_true(n < 1000);
    }
    assert_int_equal(m.in_use, before);
    kiln__store_release(&in);
    assert_int_equal(m.in_use, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixed_values_grouped_in_order),
        cmocka_unit_test(variable_values_are_length_prefixed),
        cmocka_unit_test(one_key_with_300k_values_is_exact),
        cmocka_unit_test(counts_match_brute_force),
        cmocka_unit_test(empty_input_gives_no_groups),
        cmocka_unit_test(out_of_memory_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
