/* runtime/join.c: index one side by key, probe with the other. */
#include <stdlib.h>

#include "runtime/error.h"
#include "runtime/group.h"
#include "runtime/hash.h"
#include "runtime/join.h"

#define ABSENT UINT64_MAX

/* Append (key, PAIR(left, right)); a NULL side is absent. */
static kiln_status emit_pair(kiln__block *out, const void *key, size_t klen,
                             const void *l, size_t ll, const void *r, size_t rl)
{
    uint64_t head[2] = {l ? ll : ABSENT, r ? rl : ABSENT};
    size_t total = 16 + (l ? ll : 0) + (r ? rl : 0);
    kiln_status st = kiln__block_reserve(out, 1, klen, total);
    if (st != KILN_OK)
        return st;
    kiln__column_put(out, &out->key, key, klen);
    kiln__column *v = &out->value;
    memcpy(v->data + v->len, head, 16);
    if (l && ll)
        memcpy(v->data + v->len + 16, l, ll);
    if (r && rl)
        memcpy(v->data + v->len + 16 + (l ? ll : 0), r, rl);
    v->len += total;
    v->offs[out->n + 1] = v->len;
    out->n++;
    return KILN_OK;
}

kiln_status kiln__join_index_build(kiln__mem *mem, const kiln__store *side,
                                   const kiln_schema *s, bool right,
                                   kiln__join_index *ix)
{
    memset(ix, 0, sizeof *ix);
    ix->mem = mem;
    ix->right = right;
    ix->grouped_schema = (kiln_schema){
        s->key, {.kind = KILN_KIND_LIST, .elem_kind = s->value.kind,
                 .elem_size = kiln__type_variable(&s->value) ? 0 : s->value.size}};
    ix->table_schema = (kiln_schema){s->key, KILN_T_U64};
    kiln__store_init(&ix->grouped, mem, &ix->grouped_schema);
    kiln_status st = kiln__htable_init(&ix->table, mem, &ix->table_schema, false, 0);
    if (st != KILN_OK)
        return st;
    if (side && side->records)
        KILN_CHECK(st, kiln__group_store(mem, side, &ix->grouped_schema, &ix->grouped),
                   fail);
    size_t ngroups = (size_t)ix->grouped.records;
    if (ngroups)
        kiln__block_view(&ix->grouped.blocks[0], 0, ngroups, 0, &ix->groups);
    ix->matched = kiln__mem_calloc(mem, ngroups ? ngroups : 1, sizeof *ix->matched);
    if (!ix->matched) {
        st = KILN_ERROR(KILN_ERR_NOMEM, "join index of %zu keys", ngroups);
        goto fail;
    }
    for (size_t g = 0; g < ngroups; g++) {
        size_t klen, at;
        bool inserted;
        uint64_t id = g;
        const void *k = kiln_batch_key(&ix->groups, g, &klen);
        KILN_CHECK(st, kiln__htable_upsert(&ix->table, kiln__hash_key(&s->key, k, klen),
                                           k, klen, &id, 8, &at, &inserted), fail);
    }
    return KILN_OK;
fail:
    kiln__join_index_release(ix);
    return st;
}

void kiln__join_index_release(kiln__join_index *ix)
{
    kiln__store_release(&ix->grouped);
    kiln__htable_release(&ix->table);
    kiln__mem_free(ix->mem, ix->matched);
    ix->matched = NULL;
}

/* The group of a key, or -1. */
static int64_t find(kiln__join_index *ix, const void *k, size_t klen)
{
    size_t at;
    uint64_t h = kiln__hash_key(&ix->table_schema.key, k, klen);
    if (!kiln__htable_lookup(&ix->table, h, k, klen, NULL, 0, &at))
        return -1;
    uint64_t id;
    memcpy(&id, kiln__htable_value(&ix->table, at), 8);
    return (int64_t)id;
}

/* Emit (key, PAIR) for a probe value and one indexed value, each on its
 * side (the index may hold either side). */
static kiln_status emit_match(kiln__join_index *ix, kiln__block *out,
                              const void *k, size_t klen, const void *pv,
                              size_t pl, const void *iv, size_t il)
{
    return ix->right ? emit_pair(out, k, klen, pv, pl, iv, il)
                     : emit_pair(out, k, klen, iv, il, pv, pl);
}

/* Does `kind` keep unmatched records of the probe side / the index side? */
static bool keeps_probe(const kiln__join_index *ix, kiln__join_kind kind)
{
    return kind == KILN__JOIN_FULL ||
           kind == (ix->right ? KILN__JOIN_LEFT : KILN__JOIN_RIGHT);
}

static bool keeps_index(const kiln__join_index *ix, kiln__join_kind kind)
{
    return kind == KILN__JOIN_FULL ||
           kind == (ix->right ? KILN__JOIN_RIGHT : KILN__JOIN_LEFT);
}

kiln_status kiln__join_probe(kiln__join_index *ix, kiln__join_kind kind,
                             const kiln_batch *probe, kiln__block *out)
{
    kiln_status st = KILN_OK;
    for (size_t i = 0; i < probe->n && st == KILN_OK; i++) {
        size_t klen, vlen;
        const void *k = kiln_batch_key(probe, i, &klen);
        const void *v = kiln_batch_value(probe, i, &vlen);
        int64_t g = find(ix, k, klen);
        if (kind == KILN__JOIN_SUBTRACT) {
            if (g < 0)
                st = kiln__block_append(out, k, klen, v, vlen);
            continue;
        }
        if (g < 0) {
            if (keeps_probe(ix, kind))
                st = ix->right ? emit_pair(out, k, klen, v, vlen, NULL, 0)
                               : emit_pair(out, k, klen, NULL, 0, v, vlen);
            continue;
        }
        ix->matched[g] = true;
        size_t ll;
        const void *list = kiln_batch_value(&ix->groups, (size_t)g, &ll);
        kiln_list_iter it = kiln_list_begin(list, ll, ix->grouped_schema.value.elem_size);
        const void *w;
        size_t wl;
        while (st == KILN_OK && kiln_list_next(&it, &w, &wl))
            st = emit_match(ix, out, k, klen, v, vlen, w, wl);
    }
    return st;
}

kiln_status kiln__join_unmatched(kiln__join_index *ix, kiln__join_kind kind,
                                 kiln__block *out)
{
    kiln_status st = KILN_OK;
    if (!keeps_index(ix, kind))
        return KILN_OK;
    for (size_t g = 0; g < ix->groups.n && st == KILN_OK; g++) {
        if (ix->matched[g])
            continue;
        size_t klen, ll;
        const void *k = kiln_batch_key(&ix->groups, g, &klen);
        const void *list = kiln_batch_value(&ix->groups, g, &ll);
        kiln_list_iter it = kiln_list_begin(list, ll, ix->grouped_schema.value.elem_size);
        const void *w;
        size_t wl;
        while (st == KILN_OK && kiln_list_next(&it, &w, &wl))
            st = ix->right ? emit_pair(out, k, klen, NULL, 0, w, wl)
                           : emit_pair(out, k, klen, w, wl, NULL, 0);
    }
    return st;
}

/* cogroup: both sides grouped; one record per key of either side. */
static kiln_status cogroup(kiln__join_index *left, kiln__join_index *right,
                           kiln__block *out)
{
    kiln_status st = KILN_OK;
    for (size_t g = 0; g < left->groups.n && st == KILN_OK; g++) {
        size_t klen, ll, rl = 0;
        const void *k = kiln_batch_key(&left->groups, g, &klen);
        const void *l = kiln_batch_value(&left->groups, g, &ll);
        const void *r = "";
        int64_t h = find(right, k, klen);
        if (h >= 0) {
            right->matched[h] = true;
            r = kiln_batch_value(&right->groups, (size_t)h, &rl);
        }
        st = emit_pair(out, k, klen, l, ll, r, rl);
    }
    for (size_t h = 0; h < right->groups.n && st == KILN_OK; h++) {
        if (right->matched[h])
            continue;
        size_t klen, rl;
        const void *k = kiln_batch_key(&right->groups, h, &klen);
        const void *r = kiln_batch_value(&right->groups, h, &rl);
        st = emit_pair(out, k, klen, "", 0, r, rl);
    }
    return st;
}

kiln_status kiln__join_partition(kiln__mem *mem, kiln__join_kind kind,
                                 const kiln__store *left,
                                 const kiln_schema *left_schema,
                                 const kiln__store *right,
                                 const kiln_schema *right_schema,
                                 const kiln_schema *out_schema, kiln__store *out)
{
    kiln__join_index rix, lix;
    bool have_l = false;
    kiln__block block;
    kiln_status st = kiln__block_init(&block, mem, out_schema);
    if (st != KILN_OK)
        return st;
    KILN_CHECK(st, kiln__join_index_build(mem, right, right_schema, true, &rix), done);
    if (kind == KILN__JOIN_COGROUP) {
        KILN_CHECK(st, kiln__join_index_build(mem, left, left_schema, false, &lix),
                   index_done);
        have_l = true;
        KILN_CHECK(st, cogroup(&lix, &rix, &block), index_done);
    } else {
        kiln__store_iter it;
        kiln_batch b;
        kiln__store_iter_init(&it, left, 0, 4096);
        while (st == KILN_OK && left && kiln__store_next(&it, &b))
            st = kiln__join_probe(&rix, kind, &b, &block);
        if (st == KILN_OK)
            st = kiln__join_unmatched(&rix, kind, &block);
    }
    if (st == KILN_OK)
        st = kiln__store_adopt(out, &block);
index_done:
    if (have_l)
        kiln__join_index_release(&lix);
    kiln__join_index_release(&rix);
done:
    kiln__block_release(&block);
    return st;
}

/* ---- the broadcast join's sink ---- */

static kiln_status sink_begin(kiln__sink *base, uint32_t p)
{
    (void)p;
    kiln__join_sink *s = (kiln__join_sink *)base;
    kiln_status st = kiln__block_init(&s->block, s->mem, s->schema);
    s->open = st == KILN_OK;
    return st;
}

static kiln_status sink_consume(kiln__sink *base, const kiln_batch *b, bool *stop)
{
    (void)stop;
    kiln__join_sink *s = (kiln__join_sink *)base;
    return kiln__join_probe(s->index, s->kind, b, &s->block);
}

static kiln_status sink_end(kiln__sink *base, uint32_t p, bool complete)
{
    kiln__join_sink *s = (kiln__join_sink *)base;
    kiln_status st = KILN_OK;
    if (complete) {
        kiln__store *store = kiln__mem_alloc(s->mem, sizeof *store);
        if (!store) {
            st = KILN_ERROR(KILN_ERR_NOMEM, "join output");
        } else {
            kiln__store_init(store, s->mem, s->schema);
            st = kiln__store_adopt(store, &s->block);
            s->out->part[p] = store;
            s->out->owner[p] = s->rank;
        }
    }
    if (s->open)
        kiln__block_release(&s->block);
    s->open = false;
    return st;
}

void kiln__join_sink_init(kiln__join_sink *s, kiln__join_index *ix,
                          kiln__join_kind kind, kiln__mem *mem,
                          const kiln_schema *schema, kiln__resident *out,
                          int rank)
{
    memset(s, 0, sizeof *s);
    s->base = (kiln__sink){sink_begin, sink_consume, sink_end, NULL};
    s->index = ix;
    s->kind = kind;
    s->mem = mem;
    s->schema = schema;
    s->out = out;
    s->rank = rank;
}
