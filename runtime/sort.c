/* runtime/sort.c: radix sort of record indexes, then one gathering copy. */
#include <stdlib.h>
#include <string.h>

#include "runtime/error.h"
#include "runtime/sort.h"

typedef struct item {
    uint64_t prefix;
    uint32_t block;
    uint32_t record;
} item;

typedef struct sort_ctx {
    const kiln__store *in;
    const kiln__order *order;
} sort_ctx;

/* One column value of record r, straight from the column's layout: this
 * runs once per record per comparison and in the gathering copy, where a
 * batch view per record cost more than the copy itself. */
static inline const unsigned char *field(const kiln__column *c, size_t r,
                                         size_t *len)
{
    if (!c->present) {
        *len = 0;
        return NULL;
    }
    if (c->variable) {
        *len = (size_t)(c->offs[r + 1] - c->offs[r]);
        return c->data + c->offs[r];
    }
    *len = c->width;
    return c->data + r * c->width;
}

static inline void record_of(const kiln__store *s, const item *it,
                             const void **k, size_t *kl, const void **v,
                             size_t *vl)
{
    const kiln__block *blk = &s->blocks[it->block];
    *k = field(&blk->key, it->record, kl);
    *v = field(&blk->value, it->record, vl);
}

static int compare_items(const void *x, const void *y, void *arg)
{
    const sort_ctx *c = arg;
    const item *a = x, *b = y;
    if (a->prefix != b->prefix && c->order->prefixed)
        return a->prefix < b->prefix ? -1 : 1;
    const void *ka, *va, *kb, *vb;
    size_t kla, vla, klb, vlb;
    record_of(c->in, a, &ka, &kla, &va, &vla);
    record_of(c->in, b, &kb, &klb, &vb, &vlb);
    return kiln__order_compare(c->order, ka, kla, va, vla, kb, klb, vb, vlb);
}

/* LSD radix sort on the prefix, one byte per pass; a pass whose byte is the
 * same in every item (a histogram with one full bucket) is skipped, so
 * small or clustered keys cost fewer passes. */
enum { PASSES = 8 };

static void radix_sort(item *v, item *tmp, size_t n)
{
    size_t count[PASSES][256]; /* 16 KiB: every histogram in one read pass */
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++)
        for (int p = 0; p < PASSES; p++)
            count[p][(v[i].prefix >> (8 * p)) & 0xff]++;
    item *src = v, *dst = tmp;
    for (int p = 0; p < PASSES; p++) {
        size_t *c = count[p];
        if (c[(src[0].prefix >> (8 * p)) & 0xff] == n)
            continue;
        size_t sum = 0;
        for (int d = 0; d < 256; d++) {
            size_t t = c[d];
            c[d] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++)
            dst[c[(src[i].prefix >> (8 * p)) & 0xff]++] = src[i];
        item *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, n * sizeof *v);
}

kiln_status kiln__sort_store(kiln__mem *mem, const kiln__store *in,
                             const kiln__order *o, kiln__store *out)
{
    size_t n = (size_t)in->records;
    if (n == 0)
        return KILN_OK;
    item *v = kiln__mem_alloc(mem, n * sizeof *v);
    item *tmp = o->prefixed ? kiln__mem_alloc(mem, n * sizeof *tmp) : NULL;
    kiln__block result;
    bool have_result = false;
    kiln_status st = KILN_OK;
    if (!v || (o->prefixed && !tmp)) {
        st = KILN_ERROR(KILN_ERR_NOMEM, "sort index of %zu records", n);
        goto done;
    }
    size_t key_bytes = 0, value_bytes = 0, at = 0;
    for (size_t bi = 0; bi < in->nblocks; bi++) {
        const kiln__block *blk = &in->blocks[bi];
        key_bytes += blk->key.len;
        value_bytes += blk->value.len;
        for (size_t r = 0; r < blk->n; r++, at++) {
            v[at].block = (uint32_t)bi;
            v[at].record = (uint32_t)r;
            size_t kl;
            const void *k = field(&blk->key, r, &kl);
            v[at].prefix = o->prefixed ? kiln__order_prefix(o, k, kl) : 0;
        }
    }
    sort_ctx c = {in, o};
    if (o->prefixed) {
        radix_sort(v, tmp, n);
        /* Finish runs of equal prefixes: keys longer than the prefix, or
         * equal keys ordered by value. */
        for (size_t i = 0; i < n;) {
            size_t j = i + 1;
            while (j < n && v[j].prefix == v[i].prefix)
                j++;
            if (j - i > 1)
                qsort_r(v + i, j - i, sizeof *v, compare_items, &c);
            i = j;
        }
    } else {
        qsort_r(v, n, sizeof *v, compare_items, &c);
    }

    /* One copy, in order, into a block sized up front. */
    KILN_CHECK(st, kiln__block_init(&result, mem, &in->schema), done);
    have_result = true;
    KILN_CHECK(st, kiln__block_reserve(&result, n, key_bytes, value_bytes), done);
    /* Records are read in sorted order, i.e. all over memory: start
     * loading each a few records before it is copied. */
    enum { AHEAD = 8 };
    for (size_t i = 0; i < n; i++) {
        const void *k, *val;
        size_t kl, vl;
        if (i + AHEAD < n) {
            record_of(in, &v[i + AHEAD], &k, &kl, &val, &vl);
            __builtin_prefetch(k);
            __builtin_prefetch(val);
        }
        record_of(in, &v[i], &k, &kl, &val, &vl);
        kiln__column_put(&result, &result.key, k, kl);
        kiln__column_put(&result, &result.value, val, vl);
        result.n++;
    }
    KILN_CHECK(st, kiln__store_adopt(out, &result), done);
done:
    if (have_result)
        kiln__block_release(&result);
    kiln__mem_free(mem, tmp);
    kiln__mem_free(mem, v);
    return st;
}
