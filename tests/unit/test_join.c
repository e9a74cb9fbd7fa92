/* tests/unit/test_join.c: two-sided operations on one partition
 * (runtime/join.h). kiln__join_partition() for every kind (inner, left,
 * right and full outer joins, cogroup, subtract) against nested loops
 * written here: duplicate keys on both sides (one key with 60 x 60
 * matches), keys on one side only, STRING keys and values (empty strings
 * present, not absent), FIXED and I64 keys, NULL and empty sides. Also the
 * broadcast path with the left side indexed (kiln__join_index_build with
 * right = false, then probe and unmatched), and out-of-memory at every
 * allocation. Output order is not defined: records are compared as sorted
 * text, list elements sorted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/join.h"

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* ---- text lines ---- */

typedef struct lines {
    char **s;
    size_t n, cap;
} lines;

static void lines_add(lines *l, const char *text)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->s = realloc(l->s, l->cap * sizeof *l->s);
        assert_non_null(l->s);
    }
    l->s[l->n] = strdup(text);
    assert_non_null(l->s[l->n]);
    l->n++;
}

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void lines_sort(lines *l)
{
    qsort(l->s, l->n, sizeof *l->s, by_text);
}

static void lines_free(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

static void lines_equal(const lines *got, const lines *want, const char *what)
{
    size_t n = got->n < want->n ? got->n : want->n;
    for (size_t i = 0; i < n; i++)
        if (strcmp(got->s[i], want->s[i]) != 0)
            fail_msg("%s: line %zu of %zu is '%s', expected '%s'", what, i, want->n,
                     got->s[i], want->s[i]);
    if (got->n != want->n)
        fail_msg("%s: %zu lines, expected %zu", what, got->n, want->n);
}

/* Text of a field: numbers in decimal, everything else in hex (so that
 * empty strings, NULs and prefixes all differ). */
static void field(char *out, size_t cap, kiln_kind kind, const unsigned char *p,
                  size_t len)
{
    if (kind == KILN_KIND_U64 || kind == KILN_KIND_I64) {
        int64_t v;
        memcpy(&v, p, 8);
        snprintf(out, cap, kind == KILN_KIND_U64 ? "%llu" : "%lld", (long long)v);
        return;
    }
    size_t o = (size_t)snprintf(out, cap, "x");
    for (size_t i = 0; i < len && o + 3 < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%02x", p[i]);
}

/* ---- sides ---- */

typedef struct side {
    kiln_schema s;
    size_t n;
    unsigned char (*k)[16], (*v)[16];
    size_t *kl, *vl;
} side;

static void side_init(side *d, kiln_type key, kiln_type value, size_t cap)
{
    memset(d, 0, sizeof *d);
    d->s = (kiln_schema){key, value};
    d->k = calloc(cap + 1, 16);
    d->v = calloc(cap + 1, 16);
    d->kl = calloc(cap + 1, sizeof *d->kl);
    d->vl = calloc(cap + 1, sizeof *d->vl);
    assert_true(d->k && d->v && d->kl && d->vl);
}

static void side_add(side *d, const void *k, size_t kl, const void *v, size_t vl)
{
    memcpy(d->k[d->n], k, kl);
    memcpy(d->v[d->n], v, vl);
    d->kl[d->n] = kl;
    d->vl[d->n] = vl;
    d->n++;
}

static void side_free(side *d)
{
    free(d->k);
    free(d->v);
    free(d->kl);
    free(d->vl);
}

/* The side's records in a store, appended in 700-record batches. */
static void side_store(kiln__mem *m, const side *d, kiln__store *s)
{
    kiln__store_init(s, m, &d->s);
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, m, &d->s), KILN_OK);
    for (size_t i = 0; i < d->n; i++) {
        assert_int_equal(kiln__block_append(&b, d->k[i], d->kl[i], d->v[i], d->vl[i]),
                         KILN_OK);
        if (b.n == 700 || i + 1 == d->n) {
            kiln_batch v;
            kiln__block_view(&b, 0, b.n, 0, &v);
            assert_int_equal(kiln__store_append(s, &v, 0, v.n), KILN_OK);
            kiln__block_clear(&b);
        }
    }
    kiln__block_release(&b);
}

static bool same_key(const side *a, size_t i, const side *b, size_t j)
{
    return a->kl[i] == b->kl[j] && memcmp(a->k[i], b->k[j], a->kl[i]) == 0;
}

/* ---- the output schema (as the dataset layer builds it) ---- */

static kiln_part part_of(const kiln_type *t, bool list)
{
    bool var = kiln__type_variable(t);
    if (list)
        return (kiln_part){KILN_KIND_LIST, 0, t->kind, var ? 0 : t->size};
    return (kiln_part){t->kind, var ? 0 : t->size, KILN_KIND_NONE, 0};
}

static kiln_schema out_schema(const side *a, const side *b, kiln__join_kind kind)
{
    if (kind == KILN__JOIN_SUBTRACT)
        return a->s;
    kiln_schema s = {a->s.key, {.kind = KILN_KIND_PAIR}};
    s.value.left = part_of(&a->s.value, kind == KILN__JOIN_COGROUP);
    s.value.right = part_of(&b->s.value, kind == KILN__JOIN_COGROUP);
    return s;
}

/* ---- text of output records ---- */

static void list_text(char *out, size_t cap, const kiln_part *p, const unsigned char *v,
                      size_t len)
{
    lines el = {0};
    kiln_list_iter it = kiln_list_begin(v, len, p->elem_size);
    const void *e;
    size_t elen;
    char one[128];
    while (kiln_list_next(&it, &e, &elen)) {
        field(one, sizeof one, p->elem_kind, e, elen);
        lines_add(&el, one);
    }
    lines_sort(&el);
    size_t o = (size_t)snprintf(out, cap, "[");
    for (size_t i = 0; i < el.n && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? "," : "", el.s[i]);
    if (o < cap)
        snprintf(out + o, cap - o, "]");
    lines_free(&el);
}

static void output_lines(const kiln__store *out, const kiln_schema *s,
                         kiln__join_kind kind, lines *l)
{
    kiln__store_iter it;
    kiln_batch b;
    kiln__store_iter_init(&it, out, 0, 1000);
    static char line[1 << 16];
    while (kiln__store_next(&it, &b)) {
        for (size_t i = 0; i < b.n; i++) {
            size_t kl, vl;
            const unsigned char *k = kiln_batch_key(&b, i, &kl);
            const unsigned char *v = kiln_batch_value(&b, i, &vl);
            char key[128], left[30000], right[30000];
            field(key, sizeof key, s->key.kind, k, kl);
            if (kind == KILN__JOIN_SUBTRACT) {
                field(left, sizeof left, s->value.kind, v, vl);
                snprintf(line, sizeof line, "%s\t%s", key, left);
            } else {
                kiln_pair p = kiln_pair_get(v, vl);
                assert_int_equal(vl, 16 + p.left_len + p.right_len);
                strcpy(left, "-");
                strcpy(right, "-");
                if (kind == KILN__JOIN_COGROUP) {
                    assert_true(p.has_left && p.has_right); /* lists may be empty */
                    list_text(left, sizeof left, &s->value.left, p.left, p.left_len);
                    list_text(right, sizeof right, &s->value.right, p.right, p.right_len);
                } else {
                    if (p.has_left)
                        field(left, sizeof left, s->value.left.kind, p.left, p.left_len);
                    if (p.has_right)
                        field(right, sizeof right, s->value.right.kind, p.right,
                              p.right_len);
                }
                snprintf(line, sizeof line, "%s\t%s\t%s", key, left, right);
            }
            lines_add(l, line);
        }
    }
    lines_sort(l);
}

/* ---- the nested-loop reference ---- */

static void ref_line(lines *l, const side *a, size_t i, const side *b, size_t j)
{
    char key[128], left[128] = "-", right[128] = "-", line[512];
    const side *any = a ? a : b;
    field(key, sizeof key, any->s.key.kind, a ? a->k[i] : b->k[j], a ? a->kl[i] : b->kl[j]);
    if (a)
        field(left, sizeof left, a->s.value.kind, a->v[i], a->vl[i]);
    if (b)
        field(right, sizeof right, b->s.value.kind, b->v[j], b->vl[j]);
    snprintf(line, sizeof line, "%s\t%s\t%s", key, left, right);
    lines_add(l, line);
}

static void reference(const side *a, const side *b, kiln__join_kind kind, lines *l)
{
    bool *am = calloc(a->n + 1, 1), *bm = calloc(b->n + 1, 1);
    bool pairs = kind <= KILN__JOIN_FULL;
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < b->n; j++)
            if (same_key(a, i, b, j)) {
                am[i] = bm[j] = true;
                if (pairs)
                    ref_line(l, a, i, b, j);
            }
    if (kind == KILN__JOIN_LEFT || kind == KILN__JOIN_FULL)
        for (size_t i = 0; i < a->n; i++)
            if (!am[i])
                ref_line(l, a, i, NULL, 0);
    if (kind == KILN__JOIN_RIGHT || kind == KILN__JOIN_FULL)
        for (size_t j = 0; j < b->n; j++)
            if (!bm[j])
                ref_line(l, NULL, 0, b, j);
    if (kind == KILN__JOIN_SUBTRACT)
        for (size_t i = 0; i < a->n; i++)
            if (!am[i]) {
                char key[128], val[128], line[300];
                field(key, sizeof key, a->s.key.kind, a->k[i], a->kl[i]);
                field(val, sizeof val, a->s.value.kind, a->v[i], a->vl[i]);
                snprintf(line, sizeof line, "%s\t%s", key, val);
                lines_add(l, line);
            }
    if (kind == KILN__JOIN_COGROUP) {
        const side *sides[2] = {a, b};
        for (int s = 0; s < 2; s++)
            for (size_t i = 0; i < sides[s]->n; i++) {
                bool first = true;
                for (size_t j = 0; j < i && first; j++)
                    first = !same_key(sides[s], j, sides[s], i);
                for (size_t j = 0; s == 1 && j < a->n && first; j++)
                    first = !same_key(a, j, b, i);
                if (!first)
                    continue;
                static char line[1 << 16];
                char key[128];
                field(key, sizeof key, a->s.key.kind, sides[s]->k[i], sides[s]->kl[i]);
                size_t o = (size_t)snprintf(line, sizeof line, "%s", key);
                for (int t = 0; t < 2; t++) {
                    lines el = {0};
                    char one[128];
                    for (size_t j = 0; j < sides[t]->n; j++)
                        if (sides[t]->kl[j] == sides[s]->kl[i] &&
                            memcmp(sides[t]->k[j], sides[s]->k[i], sides[s]->kl[i]) == 0) {
                            field(one, sizeof one, sides[t]->s.value.kind, sides[t]->v[j],
                                  sides[t]->vl[j]);
                            lines_add(&el, one);
                        }
                    lines_sort(&el);
                    o += (size_t)snprintf(line + o, sizeof line - o, "\t[");
                    for (size_t e = 0; e < el.n; e++)
                        o += (size_t)snprintf(line + o, sizeof line - o, "%s%s",
                                              e ? "," : "", el.s[e]);
                    o += (size_t)snprintf(line + o, sizeof line - o, "]");
                    lines_free(&el);
                }
                lines_add(l, line);
            }
    }
    free(am);
    free(bm);
    lines_sort(l);
}

/* ---- running ---- */

static const char *kind_names[] = {"inner", "left outer", "right outer", "full outer",
                                   "cogroup", "subtract"};

/* kiln__join_partition for every kind; a_null / b_null pass NULL stores. */
static void check_all_kinds(const char *what, const side *a, const side *b, bool a_null,
                            bool b_null)
{
    for (int kind = KILN__JOIN_INNER; kind <= KILN__JOIN_SUBTRACT; kind++) {
        kiln__mem m;
        kiln__mem_init(&m);
        kiln__store sa, sb, out;
        side_store(&m, a, &sa);
        side_store(&m, b, &sb);
        kiln_schema os = out_schema(a, b, (kiln__join_kind)kind);
        kiln__store_init(&out, &m, &os);
        assert_int_equal(kiln__join_partition(&m, (kiln__join_kind)kind,
                                              a_null ? NULL : &sa, &a->s,
                                              b_null ? NULL : &sb, &b->s, &os, &out),
                         KILN_OK);
        lines got = {0}, want = {0};
        output_lines(&out, &os, (kiln__join_kind)kind, &got);
        reference(a, b, (kiln__join_kind)kind, &want);
        char name[200];
        snprintf(name, sizeof name, "%s: %s", what, kind_names[kind]);
        lines_equal(&got, &want, name);
        lines_free(&got);
        lines_free(&want);
        kiln__store_release(&out);
        kiln__store_release(&sa);
        kiln__store_release(&sb);
        assert_int_equal(m.in_use, 0);
    }
}

static const kiln_type T_U64 = {.kind = KILN_KIND_U64, .size = 8};
static const kiln_type T_I64 = {.kind = KILN_KIND_I64, .size = 8};
static const kiln_type T_STRING = {.kind = KILN_KIND_STRING};

/* U64 keys 0..199: 0..59 left only, 60..139 both, 140..199 right only;
 * key 100 has 60 records on each side. Left U64 values, right STRING. */
static void make_u64(side *a, side *b)
{
    side_init(a, T_U64, T_U64, 1000);
    side_init(b, T_U64, T_STRING, 1000);
    for (uint64_t i = 0; i < 900; i++) {
        uint64_t k = i < 60 ? 100 : mix(i) % 140, v = i;
        side_add(a, &k, 8, &v, 8);
        uint64_t kb = i < 60 ? 100 : 60 + mix(i + 7) % 140;
        char text[16];
        int len = i % 9 == 0 ? 0 : snprintf(text, sizeof text, "r%llu", (unsigned long long)i);
        side_add(b, &kb, 8, text, (size_t)len);
    }
}

static void u64_keys(void **state)
{
    (void)state;
    side a, b;
    make_u64(&a, &b);
    check_all_kinds("U64 keys", &a, &b, false, false);
    check_all_kinds("U64 keys, sides swapped", &b, &a, false, false);
    side_free(&a);
    side_free(&b);
}

static void string_keys_and_values(void **state)
{
    (void)state;
    side a, b;
    side_init(&a, T_STRING, T_STRING, 600);
    side_init(&b, T_STRING, T_STRING, 600);
    static const struct {
        const char *p;
        size_t len;
    } special[] = {{"", 0}, {"k", 1}, {"k\0", 2}, {"kk", 2}, {"0123456789abcde", 15}};
    for (uint64_t i = 0; i < 500; i++) {
        for (int s = 0; s < 2; s++) {
            char key[16], val[16];
            size_t kl, vl;
            if (i < 25) {
                if ((s == 0 && i % 5 == 1) || (s == 1 && i % 5 == 3))
                    continue; /* "k" right only, "kk" left only */
                kl = special[i % 5].len;
                memcpy(key, special[i % 5].p, kl);
            } else {
                kl = (size_t)snprintf(key, sizeof key, "w%llu",
                                      (unsigned long long)(mix(i * 2 + (uint64_t)s) % 150));
            }
            vl = i % 4 == 0 ? 0 : (size_t)snprintf(val, sizeof val, "%c%llu", s ? 'R' : 'L',
                                                   (unsigned long long)i);
            side_add(s ? &b : &a, key, kl, val, vl);
        }
    }
    check_all_kinds("STRING keys and values", &a, &b, false, false);
    side_free(&a);
    side_free(&b);
}

static void fixed_and_signed_keys(void **state)
{
    (void)state;
    side a, b;
    kiln_type f12 = kiln_type_fixed(12, NULL, NULL, NULL);
    kiln_type f4 = kiln_type_fixed(4, NULL, NULL, NULL);
    side_init(&a, f12, f4, 500);
    side_init(&b, f12, T_U64, 500);
    for (uint64_t i = 0; i < 400; i++) {
        unsigned char k[12] = {0};
        uint64_t x = mix(i) % 90;
        memcpy(k + 4, &x, 8); /* keys differ only in their last 8 bytes */
        uint32_t v = (uint32_t)i;
        side_add(&a, k, 12, &v, 4);
        x = mix(i + 1000) % 90 + 30;
        memcpy(k + 4, &x, 8);
        uint64_t w = i * 3;
        side_add(&b, k, 12, &w, 8);
    }
    check_all_kinds("FIXED 12 keys", &a, &b, false, false);
    side_free(&a);
    side_free(&b);

    side_init(&a, T_I64, T_I64, 500);
    side_init(&b, T_I64, T_I64, 500);
    for (int64_t i = 0; i < 400; i++) {
        int64_t k = (int64_t)(mix((uint64_t)i) % 100) - 50, v = -i;
        side_add(&a, &k, 8, &v, 8);
        k = (int64_t)(mix((uint64_t)i + 5) % 100) - 20;
        side_add(&b, &k, 8, &i, 8);
    }
    check_all_kinds("I64 keys", &a, &b, false, false);
    side_free(&a);
    side_free(&b);
}

static void empty_and_null_sides(void **state)
{
    (void)state;
    side a, b, ea, eb;
    make_u64(&a, &b);
    side_init(&ea, T_U64, T_U64, 0);
    side_init(&eb, T_U64, T_STRING, 0);
    check_all_kinds("an empty left store", &ea, &b, false, false);
    check_all_kinds("a NULL left side", &ea, &b, true, false);
    check_all_kinds("an empty right store", &a, &eb, false, false);
    check_all_kinds("a NULL right side", &a, &eb, false, true);
    check_all_kinds("both sides NULL", &ea, &eb, true, true);
    check_all_kinds("both sides empty", &ea, &eb, false, false);
    side_free(&a);
    side_free(&b);
    side_free(&ea);
    side_free(&eb);
}

/* The broadcast path with the left side indexed: probe with the right
 * side's batches, then the unmatched groups of the index. */
static void left_side_indexed(void **state)
{
    (void)state;
    side a, b;
    make_u64(&a, &b);
    const kiln__join_kind kinds[] = {KILN__JOIN_INNER, KILN__JOIN_RIGHT, KILN__JOIN_LEFT,
                                     KILN__JOIN_FULL};
    for (int ki = 0; ki < 4; ki++) {
        kiln__mem m;
        kiln__mem_init(&m);
        kiln__store sa, sb, out;
        side_store(&m, &a, &sa);
        side_store(&m, &b, &sb);
        kiln_schema os = out_schema(&a, &b, kinds[ki]);
        kiln__store_init(&out, &m, &os);
        kiln__join_index ix;
        assert_int_equal(kiln__join_index_build(&m, &sa, &a.s, false, &ix), KILN_OK);
        kiln__block blk;
        assert_int_equal(kiln__block_init(&blk, &m, &os), KILN_OK);
        kiln__store_iter it;
        kiln_batch batch;
        kiln__store_iter_init(&it, &sb, 0, 333); /* several probe batches */
        while (kiln__store_next(&it, &batch))
            assert_int_equal(kiln__join_probe(&ix, kinds[ki], &batch, &blk), KILN_OK);
        assert_int_equal(kiln__join_unmatched(&ix, kinds[ki], &blk), KILN_OK);
        assert_int_equal(kiln__store_adopt(&out, &blk), KILN_OK);
        kiln__block_release(&blk);
        kiln__join_index_release(&ix);
        lines got = {0}, want = {0};
        output_lines(&out, &os, kinds[ki], &got);
        reference(&a, &b, kinds[ki], &want);
        char name[100];
        snprintf(name, sizeof name, "left side indexed: %s", kind_names[kinds[ki]]);
        lines_equal(&got, &want, name);
        lines_free(&got);
        lines_free(&want);
        kiln__store_release(&out);
        kiln__store_release(&sa);
        kiln__store_release(&sb);
        assert_int_equal(m.in_use, 0);
    }
    side_free(&a);
    side_free(&b);
}

static void out_of_memory_fails_cleanly(void **state)
{
    (void)state;
    side a, b;
    make_u64(&a, &b);
    for (int kind = KILN__JOIN_INNER; kind <= KILN__JOIN_SUBTRACT; kind++) {
        kiln__mem m;
        kiln__mem_init(&m);
        kiln__store sa, sb, out;
        side_store(&m, &a, &sa);
        side_store(&m, &b, &sb);
        kiln_schema os = out_schema(&a, &b, (kiln__join_kind)kind);
        size_t before = m.in_use;
        for (long n = 0;; n++) {
            kiln__store_init(&out, &m, &os);
            m.fail_after = n;
            kiln_status st = kiln__join_partition(&m, (kiln__join_kind)kind, &sa, &a.s,
                                                  &sb, &b.s, &os, &out);
            m.fail_after = -1;
            kiln__store_release(&out);
            if (st == KILN_OK)
                break;
            assert_int_equal(st, KILN_ERR_NOMEM);
            if (m.in_use != before)
                fail_msg("%s: %zu bytes leaked when allocation %ld failed",
                         kind_names[kind], m.in_use - before, n);
            assert_true(n < 1000);
        }
        kiln__store_release(&sa);
        kiln__store_release(&sb);
        assert_int_equal(m.in_use, 0);
    }
    side_free(&a);
    side_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(u64_keys),
        cmocka_unit_test(string_keys_and_values),
        cmocka_unit_test(fixed_and_signed_keys),
        cmocka_unit_test(empty_and_null_sides),
        cmocka_unit_test(left_side_indexed),
        cmocka_unit_test(out_of_memory_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
