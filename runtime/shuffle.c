/* runtime/shuffle.c: hash partitioning, map-side combining and the exchange.
 *
 * Map side, per batch: hash every key once (kiln__hash_batch), derive the
 * partition from the low half of each hash, then either fold the record
 * into that partition's combine table (reduce_by_key, distinct) or append it
 * to that partition's open block (group_by_key). Full blocks, and tables
 * past --kiln-combine-bytes, move to the queue of the partition's owner.
 * The exchange itself is in exchange.c. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/error.h"
#include "runtime/group.h"
#include "runtime/hash.h"
#include "runtime/log.h"
#include "runtime/sort.h"
#define KILN_SHUFFLE_IMPL
#include "runtime/shuffle_impl.h"

/* ---- queues ---- */

static kiln_status enqueue(kiln__shuffle *sh, int dest, kiln__block *b,
                           uint32_t partition)
{
    send_queue *q = &sh->queues[dest];
    if (b->n == 0)
        return KILN_OK;
    if (q->n == q->cap) {
        size_t cap = kiln__mem_grow(q->cap, q->n + 1, 16);
        queued *items = kiln__mem_realloc(sh->mem, q->items, cap * sizeof *items);
        if (!items)
            return KILN_ERROR(KILN_ERR_NOMEM, "shuffle queue");
        q->items = items;
        q->cap = cap;
    }
    queued *it = &q->items[q->n++];
    memset(it, 0, sizeof *it);
    kiln__block_move(&it->block, b);
    it->partition = partition;
    return KILN_OK;
}

static void queue_release(kiln__shuffle *sh, send_queue *q)
{
    for (size_t i = q->head; i < q->n; i++)
        kiln__block_release(&q->items[i].block);
    kiln__mem_free(sh->mem, q->items);
    memset(q, 0, sizeof *q);
}

/* ---- per-partition state ---- */

static kiln_status ensure_partition(kiln__shuffle *sh, uint32_t p)
{
    if (sh->ready[p])
        return KILN_OK;
    kiln_status st;
    if (kiln__shuffle_appends(sh->mode))
        st = kiln__block_init(&sh->open[p], sh->mem, sh->in);
    else
        st = kiln__htable_init(&sh->tables[p], sh->mem, sh->in,
                               sh->mode == MODE_DISTINCT, 0);
    if (st == KILN_OK)
        sh->ready[p] = true;
    /* Built-in operators fold in the slots (one cache line per lookup);
     * custom ones need stable entry addresses for their batch call. */
    if (st == KILN_OK && sh->mode == MODE_REDUCE && sh->reducer.op != KILN_OP_CUSTOM)
        kiln__htable_inline_values(&sh->tables[p]);
    return st;
}

/* Hand a partition's map-side table or buffer to its owner's queue (or,
 * for this rank's own partitions in group mode, straight to the store). */
static kiln_status ship_partition(kiln__shuffle *sh, uint32_t p)
{
    if (!sh->ready[p])
        return KILN_OK;
    int dest = kiln__shuffle_owner(p, sh->nranks);
    kiln_status st;
    if (kiln__shuffle_appends(sh->mode)) {
        if (dest == sh->rank)
            st = kiln__store_adopt(&sh->stores[p], &sh->open[p]);
        else
            st = enqueue(sh, dest, &sh->open[p], p);
        return st;
    }
    kiln__htable_flush_values(&sh->tables[p]);
    st = enqueue(sh, dest, &sh->tables[p].entries, p);
    kiln__htable_clear(&sh->tables[p]);
    return st;
}

static size_t tables_bytes(const kiln__shuffle *sh)
{
    size_t bytes = 0;
    for (uint32_t p = 0; p < sh->nparts; p++)
        if (sh->ready[p])
            bytes += kiln__htable_bytes(&sh->tables[p]);
    return bytes;
}

/* ---- map side ---- */

static kiln_status reserve_scratch(kiln__shuffle *sh, size_t n)
{
    if (n <= sh->scratch_cap)
        return KILN_OK;
    size_t cap = kiln__mem_grow(sh->scratch_cap, n, 4096);
    uint64_t *h = kiln__mem_realloc(sh->mem, sh->hashes, cap * sizeof *h);
    if (h)
        sh->hashes = h;
    uint32_t *pa = kiln__mem_realloc(sh->mem, sh->parts, cap * sizeof *pa);
    if (pa)
        sh->parts = pa;
    if (!h || !pa)
        return KILN_ERROR(KILN_ERR_NOMEM, "shuffle scratch");
    sh->scratch_cap = cap;
    return KILN_OK;
}

/* Append record i of b to partition p's open block; a full block bound for
 * another rank goes to its queue. */
static kiln_status append_record(kiln__shuffle *sh, uint32_t p,
                                 const kiln_batch *b, size_t i)
{
    size_t klen = 0, vlen;
    const void *k = b->keys ? kiln_batch_key(b, i, &klen) : NULL;
    const void *v = kiln_batch_value(b, i, &vlen);
    kiln_status st = kiln__block_append(&sh->open[p], k, klen, v, vlen);
    if (st == KILN_OK && kiln__block_bytes(&sh->open[p]) >= SEGMENT_BYTES &&
        kiln__shuffle_owner(p, sh->nranks) != sh->rank)
        st = ship_partition(sh, p);
    return st;
}

/* range.c's callback: place a held record once splitters are known. */
static kiln_status put_placed(void *arg, uint32_t p, const kiln_batch *b,
                              size_t i)
{
    kiln__shuffle *sh = arg;
    kiln_status st = KILN_OK;
    if (KILN_UNLIKELY(!sh->ready[p]))
        st = ensure_partition(sh, p);
    return st == KILN_OK ? append_record(sh, p, b, i) : st;
}

static kiln_status map_consume(kiln__sink *base, const kiln_batch *b, bool *stop)
{
    (void)stop;
    kiln__shuffle *sh = (kiln__shuffle *)base;
    kiln_status st;
    if ((st = reserve_scratch(sh, b->n)) != KILN_OK)
        return st;
    if (sh->range) /* placed once the splitters are known */
        return kiln__range_hold(sh->range, b);
    if (sh->round_robin) {
        for (size_t i = 0; i < b->n; i++)
            sh->parts[i] = (uint32_t)((sh->task + sh->task_records + i) % sh->nparts);
        sh->task_records += b->n;
    } else {
        kiln__hash_batch(sh->in, b, 0, b->n, sh->mode == MODE_DISTINCT, sh->hashes);
        for (size_t i = 0; i < b->n; i++)
            sh->parts[i] = kiln__hash_partition(sh->hashes[i], sh->nparts);
    }
    for (size_t i = 0; i < b->n; i++) {
        uint32_t p = sh->parts[i];
        if (KILN_UNLIKELY(!sh->ready[p]) && (st = ensure_partition(sh, p)) != KILN_OK)
            return st;
    }
    if (kiln__shuffle_appends(sh->mode)) {
        for (size_t i = 0; i < b->n && st == KILN_OK; i++)
            st = append_record(sh, sh->parts[i], b, i);
        return st;
    }
    st = kiln__combine_batch(sh->tables, sh->parts,
                             sh->mode == MODE_REDUCE ? &sh->reducer : NULL, b,
                             sh->hashes, &sh->combine);
    /* Bound the combine tables: past the limit, send what they hold on
     * (the owner merges it) and start again. Checked every 16 batches.
     * Not when ordered: where a task's partials were cut would depend on
     * what ran before it here; its tables hold one task's keys at most. */
    if (st == KILN_OK && !sh->ordered && (++sh->batches & 15) == 0 &&
        tables_bytes(sh) > sh->ctx->opt.combine_bytes) {
        for (uint32_t p = 0; p < sh->nparts && st == KILN_OK; p++)
            st = ship_partition(sh, p);
    }
    return st;
}

/* ---- the record-at-a-time path (built-in reduce_by_key) ----
 *
 * Emitting into a buffer and combining it in a second pass cost a word
 * count two extra passes over every word; calling the table once per
 * emitted record instead was slower still (3.0-3.5 s against 2.2 s on 256
 * MiB), because with a call chain between two lookups the CPU stops
 * overlapping their cache misses. So each record is hashed as it is
 * emitted, its slot prefetched, and its probe done PIPELINE records later,
 * when the slot has arrived: the serial loop, with the misses hidden. */

static kiln_status fold_record(kiln__shuffle *sh, uint32_t p, uint64_t hash,
                               const void *key, size_t key_len,
                               const void *value, size_t value_len)
{
    unsigned char *acc;
    bool inserted;
    kiln_status st = kiln__htable_upsert_acc(&sh->tables[p], hash, key, key_len,
                                             value, value_len, &acc, &inserted);
    if (st == KILN_OK && !inserted)
        kiln__reduce_builtin(&sh->reducer, acc, value);
    return st;
}

/* Fold the oldest pending record: its slot has had PIPELINE records' time
 * to arrive. A hit is folded inline; only new keys take the insert call. */
static inline __attribute__((always_inline)) kiln_status fold_oldest(kiln__shuffle *sh)
{
    pending *e = &sh->ring[sh->ring_head];
    sh->ring_head = (sh->ring_head + 1) % PIPELINE;
    sh->ring_n--;
    kiln__slot *s = kiln__htable_find(&sh->tables[e->partition], e->hash, e->key);
    if (KILN_LIKELY(s != NULL)) {
        kiln__reduce_builtin(&sh->reducer, &s->value, &e->value);
        return KILN_OK;
    }
    return fold_record(sh, e->partition, e->hash, e->key, e->key_len, &e->value,
                       sh->in->value.size);
}

static kiln_status drain_ring(kiln__shuffle *sh)
{
    kiln_status st = KILN_OK;
    while (sh->ring_n && st == KILN_OK)
        st = fold_oldest(sh);
    return st;
}

static kiln_status map_record(kiln__sink *base, const void *key, size_t key_len,
                              const void *value, size_t value_len)
{
    kiln__shuffle *sh = (kiln__shuffle *)base;
    kiln_status st;
    uint64_t h = kiln__hash_record(sh->in, key, key_len, value, value_len, false);
    uint32_t p = kiln__hash_partition(h, sh->nparts);
    if (KILN_UNLIKELY(!sh->ready[p]) && (st = ensure_partition(sh, p)) != KILN_OK)
        return st;
    if (sh->ring_n == PIPELINE && (st = fold_oldest(sh)) != KILN_OK)
        return st;
    pending *e = &sh->ring[(sh->ring_head + sh->ring_n) % PIPELINE];
    if (!kiln__htable_slot_key(&sh->tables[p], key, key_len, e->key))
        /* long keys: folded at once (the order of folds does not matter) */
        return fold_record(sh, p, h, key, key_len, value, value_len);
    kiln__htable_prefetch(&sh->tables[p], h);
    sh->ring_n++;
    e->hash = h;
    e->partition = p;
    e->key_len = (uint32_t)key_len;
    if (KILN_LIKELY(value_len == 8)) { /* a count or a sum: no length switch */
        memcpy(&e->value, value, 8);
    } else {
        e->value = 0;
        kiln__copy_short((unsigned char *)&e->value, value, value_len); /* < 8 */
    }
    /* The same bound as map_consume's, checked every 64k records. */
    if (KILN_UNLIKELY((++sh->records & 0xffff) == 0) && !sh->ordered &&
        tables_bytes(sh) > sh->ctx->opt.combine_bytes) {
        st = drain_ring(sh);
        for (uint32_t q = 0; q < sh->nparts && st == KILN_OK; q++)
            st = ship_partition(sh, q);
    }
    return st;
}

static kiln_status map_begin(kiln__sink *s, uint32_t p)
{
    kiln__shuffle *sh = (kiln__shuffle *)s;
    sh->task = p;
    sh->task_records = 0;
    return sh->range ? kiln__range_begin(sh->range, p) : KILN_OK;
}

static kiln_status map_end(kiln__sink *s, uint32_t p, bool complete)
{
    (void)p;
    (void)complete;
    kiln__shuffle *sh = (kiln__shuffle *)s;
    kiln_status st = drain_ring(sh);
    if (st == KILN_OK && sh->range)
        st = kiln__range_end(sh->range);
    /* Ordered: this task's partials leave now, so no partial mixes tasks
     * (which tasks share a rank is timing). A task's own records are
     * folded in their order, so its partials do not depend on the ranks. */
    for (uint32_t q = 0; sh->ordered && q < sh->nparts && st == KILN_OK; q++)
        st = ship_partition(sh, q);
    return st;
}

static shuffle_mode mode_of(const kiln__node *n, bool *round_robin)
{
    *round_robin = false;
    switch (n->kind) {
    case KILN__NODE_REDUCE_BY_KEY: return MODE_REDUCE;
    case KILN__NODE_DISTINCT: return MODE_DISTINCT;
    case KILN__NODE_GROUP_BY_KEY: return MODE_GROUP;
    case KILN__NODE_SORT: return MODE_SORT;
    case KILN__NODE_PARTITION:
        *round_robin = n->u.part.how == KILN__PLACE_ROUND_ROBIN;
        return n->u.part.how == KILN__PLACE_RANGE ? MODE_RANGE : MODE_APPEND;
    default: return MODE_APPEND; /* each side of a join */
    }
}

kiln_status kiln__shuffle_create(kiln_context *ctx, kiln__node *node, int side,
                                 kiln__shuffle **out)
{
    kiln__mem *mem = &ctx->mem;
    kiln__shuffle *sh = kiln__mem_calloc(mem, 1, sizeof *sh);
    if (!sh)
        return KILN_ERROR(KILN_ERR_NOMEM, "shuffle");
    sh->sink = (kiln__sink){map_begin, map_consume, map_end, NULL};
    sh->ctx = ctx;
    sh->mem = mem;
    sh->node = node;
    sh->side = side;
    sh->in = &node->parent[side]->schema;
    sh->nparts = node->nparts;
    sh->rank = ctx->rank;
    sh->nranks = ctx->nranks;
    sh->combine.mem = mem;
    sh->mode = mode_of(node, &sh->round_robin);
    if (sh->mode == MODE_REDUCE)
        sh->reducer = (kiln__reducer){node->u.reduce.op, sh->in->value.kind,
                                      sh->in->value.size, node->u.reduce.fn,
                                      node->u.reduce.arg};
    /* Integer sums wrap exactly and min/max pick a value, in any order;
     * floating-point sums round differently in each. */
    sh->ordered = sh->mode == MODE_REDUCE && sh->reducer.op == KILN_OP_SUM &&
                  sh->in->value.kind == KILN_KIND_F64;
    /* Built-in folds of small values take records one at a time. */
    if (sh->mode == MODE_REDUCE && sh->reducer.op != KILN_OP_CUSTOM &&
        sh->in->value.size <= 8 && !(sh->in->key.kind == KILN_KIND_FIXED &&
                                     sh->in->key.compare))
        sh->sink.consume_record = map_record;
    /* No consume_record: handing records over one at a time was measured
     * slower (3.0-3.5 s against 2.2 s on a 256 MiB word count): with the
     * call chain between two lookups the CPU no longer overlaps their cache
     * misses, which the batch path does on purpose with prefetches. */
    size_t np = sh->nparts ? sh->nparts : 1;
    sh->ready = kiln__mem_calloc(mem, np, sizeof *sh->ready);
    sh->queues = kiln__mem_calloc(mem, (size_t)ctx->nranks, sizeof *sh->queues);
    bool appends = kiln__shuffle_appends(sh->mode);
    if (appends)
        sh->open = kiln__mem_calloc(mem, np, sizeof *sh->open);
    else
        sh->tables = kiln__mem_calloc(mem, np, sizeof *sh->tables);
    if (appends || sh->ordered)
        sh->stores = kiln__mem_calloc(mem, np, sizeof *sh->stores);
    if (!sh->ready || !sh->queues || (appends ? !sh->open : !sh->tables) ||
        ((appends || sh->ordered) && !sh->stores)) {
        kiln__shuffle_destroy(&sh);
        return KILN_ERROR(KILN_ERR_NOMEM, "shuffle of %u partitions", node->nparts);
    }
    if (appends || sh->ordered)
        for (uint32_t p = 0; p < sh->nparts; p++)
            kiln__store_init(&sh->stores[p], mem, sh->in);
    if (sh->ordered)
        kiln__order_init(&sh->order, sh->in, NULL);
    if (sh->mode == MODE_RANGE || sh->mode == MODE_SORT) {
        kiln_order user = {false, NULL, NULL};
        if (node->kind == KILN__NODE_SORT)
            user = (kiln_order){node->u.sort.descending, node->u.sort.compare,
                                node->u.sort.arg};
        kiln__order_init(&sh->order, sh->in, &user);
        kiln_status st = kiln__range_create(mem, sh->in, &sh->order,
                                            node->parent[side]->nparts,
                                            sh->nparts, &sh->range);
        if (st != KILN_OK) {
            kiln__shuffle_destroy(&sh);
            return st;
        }
    }
    *out = sh;
    return KILN_OK;
}

kiln__sink *kiln__shuffle_sink(kiln__shuffle *sh)
{
    return &sh->sink;
}

void kiln__shuffle_destroy(kiln__shuffle **shp)
{
    kiln__shuffle *sh = shp ? *shp : NULL;
    if (!sh)
        return;
    for (uint32_t p = 0; p < sh->nparts; p++) {
        if (sh->ready && sh->ready[p]) {
            if (kiln__shuffle_appends(sh->mode))
                kiln__block_release(&sh->open[p]);
            else
                kiln__htable_release(&sh->tables[p]);
        }
        if (sh->stores)
            kiln__store_release(&sh->stores[p]);
    }
    for (int r = 0; sh->queues && r < sh->nranks; r++)
        queue_release(sh, &sh->queues[r]);
    kiln__combine_release(&sh->combine);
    kiln__range_destroy(&sh->range);
    kiln__mem_free(sh->mem, sh->tables);
    kiln__mem_free(sh->mem, sh->open);
    kiln__mem_free(sh->mem, sh->stores);
    kiln__mem_free(sh->mem, sh->ready);
    kiln__mem_free(sh->mem, sh->queues);
    kiln__mem_free(sh->mem, sh->hashes);
    kiln__mem_free(sh->mem, sh->parts);
    kiln__mem_free(sh->mem, sh);
    *shp = NULL;
}

/* ---- receive side ---- */

/* Merge one batch of partition b->partition (owned here). */
kiln_status kiln__shuffle_receive(kiln__shuffle *sh, const kiln_batch *b)
{
    uint32_t p = b->partition;
    kiln_status st;
    if (p >= sh->nparts || kiln__shuffle_owner(p, sh->nranks) != sh->rank)
        return KILN_ERROR(KILN_ERR_MPI, "shuffle segment for partition %u "
                                        "arrived at rank %d", p, sh->rank);
    if (kiln__shuffle_appends(sh->mode) || sh->ordered)
        return kiln__store_append(&sh->stores[p], b, 0, b->n);
    if ((st = ensure_partition(sh, p)) != KILN_OK ||
        (st = reserve_scratch(sh, b->n)) != KILN_OK)
        return st;
    kiln__hash_batch(sh->in, b, 0, b->n, sh->mode == MODE_DISTINCT, sh->hashes);
    return kiln__combine_batch(&sh->tables[p], NULL,
                               sh->mode == MODE_REDUCE ? &sh->reducer : NULL, b,
                               sh->hashes, &sh->combine);
}

/* Everything queued for this rank itself is merged without the wire. */
static kiln_status receive_local(kiln__shuffle *sh)
{
    send_queue *q = &sh->queues[sh->rank];
    kiln_status st = KILN_OK;
    for (size_t i = q->head; i < q->n && st == KILN_OK; i++) {
        kiln_batch b;
        kiln__block_view(&q->items[i].block, 0, q->items[i].block.n,
                         q->items[i].partition, &b);
        st = kiln__shuffle_receive(sh, &b);
        kiln__block_release(&q->items[i].block);
        q->head = i + 1;
    }
    return st;
}

/* Finish the map side: remote partitions to their queues; this rank's own
 * tables stay where they are and become the output. */
static kiln_status finish_map_side(kiln__shuffle *sh)
{
    kiln_status st = KILN_OK;
    for (uint32_t p = 0; p < sh->nparts && st == KILN_OK; p++) {
        bool own = kiln__shuffle_owner(p, sh->nranks) == sh->rank;
        if (kiln__shuffle_appends(sh->mode) || !own)
            st = ship_partition(sh, p);
    }
    if (st == KILN_OK)
        st = receive_local(sh);
    return st;
}

/* Ordered reduce: sort a partition's partials (key, then value bytes) and
 * fold each key's run in that order. The partials are one per (task, key)
 * whatever the rank count, so the sums are too. */
static kiln_status fold_in_order(kiln__shuffle *sh, const kiln__store *partials,
                                 kiln__store *out)
{
    kiln__store sorted;
    kiln__block result;
    kiln__store_init(&sorted, sh->mem, sh->in);
    kiln_status st = kiln__block_init(&result, sh->mem, sh->in);
    if (st != KILN_OK)
        return st;
    KILN_CHECK(st, kiln__sort_store(sh->mem, partials, &sh->order, &sorted), done);
    const void *key = NULL;
    size_t key_len = 0;
    uint64_t acc = 0;
    for (size_t bi = 0; bi < sorted.nblocks; bi++) {
        kiln_batch b;
        kiln__block_view(&sorted.blocks[bi], 0, sorted.blocks[bi].n, 0, &b);
        for (size_t i = 0; i < b.n; i++) {
            size_t kl, vl;
            const void *k = kiln_batch_key(&b, i, &kl);
            const void *v = kiln_batch_value(&b, i, &vl);
            if (key && kiln__order_compare(&sh->order, key, key_len, key, 0, k, kl,
                                           k, 0) == 0) {
                kiln__reduce_builtin(&sh->reducer, &acc, v);
                continue;
            }
            if (key)
                KILN_CHECK(st, kiln__block_append(&result, key, key_len, &acc, 8),
                           done);
            key = k;
            key_len = kl;
            memcpy(&acc, v, 8);
        }
    }
    if (key)
        KILN_CHECK(st, kiln__block_append(&result, key, key_len, &acc, 8), done);
    st = kiln__store_adopt(out, &result);
done:
    kiln__block_release(&result);
    kiln__store_release(&sorted);
    return st;
}

/* Turn this rank's partitions into the node's output. */
static kiln_status build_output(kiln__shuffle *sh, kiln__resident *r)
{
    kiln_status st = KILN_OK;
    const kiln_schema *out_schema = &sh->node->schema;
    for (uint32_t p = 0; p < sh->nparts && st == KILN_OK; p++) {
        r->owner[p] = kiln__shuffle_owner(p, sh->nranks);
        if (r->owner[p] != sh->rank)
            continue;
        kiln__store *s = kiln__mem_alloc(sh->mem, sizeof *s);
        if (!s)
            return KILN_ERROR(KILN_ERR_NOMEM, "shuffle output");
        kiln__store_init(s, sh->mem, out_schema);
        r->part[p] = s;
        if (sh->mode == MODE_GROUP) {
            st = kiln__group_store(sh->mem, &sh->stores[p], out_schema, s);
            kiln__store_release(&sh->stores[p]);
        } else if (sh->mode == MODE_SORT) {
            st = kiln__sort_store(sh->mem, &sh->stores[p], &sh->order, s);
            kiln__store_release(&sh->stores[p]);
        } else if (sh->ordered) {
            st = fold_in_order(sh, &sh->stores[p], s);
            kiln__store_release(&sh->stores[p]);
        } else if (kiln__shuffle_appends(sh->mode)) {
            /* The received records are the output: hand the store over. */
            *s = sh->stores[p];
            kiln__store_init(&sh->stores[p], sh->mem, sh->in);
        } else if (sh->ready[p]) {
            kiln__htable_flush_values(&sh->tables[p]);
            st = kiln__store_adopt(s, &sh->tables[p].entries);
            kiln__htable_release(&sh->tables[p]);
            sh->ready[p] = false;
        }
    }
    r->complete = true;
    return st;
}

kiln_status kiln__shuffle_exchange(kiln__shuffle *sh, kiln__resident **out,
                                   uint64_t *bytes_sent)
{
    kiln_context *ctx = sh->ctx;
    kiln__resident *r = NULL;
    *bytes_sent = 0;
    kiln_status st = KILN_OK;
    if (sh->range) {
        /* Range modes: agree on splitters, then place the held records. */
        if ((st = kiln__range_splitters(sh->range, ctx)) != KILN_OK)
            return st;
        st = kiln__range_place(sh->range, put_placed, sh);
    }
    if (st == KILN_OK)
        st = finish_map_side(sh);
    if ((st = kiln__shuffle_rounds(sh, st, bytes_sent)) != KILN_OK)
        return st;
    st = kiln__resident_create(sh->mem, sh->nparts, &r);
    if (st == KILN_OK)
        st = build_output(sh, r);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK) {
        kiln__resident_destroy(sh->mem, &r);
        return st;
    }
    *out = r;
    return KILN_OK;
}
