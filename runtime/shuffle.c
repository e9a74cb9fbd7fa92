/* runtime/shuffle.c: hash partitioning, map-side combining and the exchange.
 *
 * Map side, per batch: hash every key once (kiln__hash_batch), derive the
 * partition from the low half of each hash, then either fold the record
 * into that partition's combine table (reduce_by_key, distinct) or append it
 * to that partition's open block (group_by_key). Full blocks, and tables
 * past --kiln-combine-bytes, move to the queue of the partition's owner.
 *
 * Exchange, per round: every rank serialises at most round_bytes / nranks
 * for each other rank from the fronts of its queues (records never split),
 * MPI_Alltoall agrees on the sizes and MPI_Alltoallv moves them; received
 * segments are read in place and merged straight away. Rounds continue
 * until no rank has anything queued, agreed by an all-reduce that also
 * carries any rank's failure, so all ranks leave after the same round. */
#include <limits.h>
#include <stdlib.h>

#include "runtime/error.h"
#include "runtime/group.h"
#include "runtime/hash.h"
#include "runtime/log.h"
#include "runtime/shuffle.h"

enum { SEGMENT_BYTES = 1 << 20 };

typedef enum { MODE_GROUP, MODE_REDUCE, MODE_DISTINCT } shuffle_mode;

typedef struct queued {
    kiln__block block;  /* owned */
    uint32_t partition;
    size_t next;        /* first record not yet sent */
} queued;

/* A record waiting for its table slot to arrive in the cache (see
 * map_record). 40 bytes: keys up to 15 bytes (16 fixed) are kept in their
 * slot form, ready to compare. */
typedef struct pending {
    uint64_t hash;
    uint64_t value;
    uint32_t partition;
    uint32_t key_len;
    unsigned char key[KILN__SLOT_KEY];
} pending;

enum { PIPELINE = 16 }; /* records between a slot's prefetch and its probe */

typedef struct send_queue {
    queued *items;
    size_t head, n, cap;
} send_queue;

struct kiln__shuffle {
    kiln__sink sink;          /* first: the map tasks' sink */
    kiln_context *ctx;
    kiln__mem *mem;
    kiln__node *node;
    const kiln_schema *in;    /* the parent's schema: what is shuffled */
    shuffle_mode mode;
    kiln__reducer reducer;
    uint32_t nparts;
    int rank, nranks;
    kiln__htable *tables;     /* reduce/distinct: nparts, where ready[p] */
    bool *ready;
    kiln__block *open;        /* group: nparts open blocks, where ready[p] */
    kiln__store *stores;      /* group: received records per own partition */
    send_queue *queues;       /* nranks */
    uint64_t *hashes;         /* per-batch scratch */
    uint32_t *parts;
    size_t scratch_cap;
    kiln__combine_scratch combine;
    uint64_t batches;         /* map side: batches seen (memory checks) */
    uint64_t records;         /* map side: records taken one at a time */
    pending ring[PIPELINE];   /* map_record's records in flight */
    unsigned ring_head, ring_n;
};

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
    if (sh->mode == MODE_GROUP)
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
    if (sh->mode == MODE_GROUP) {
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

static kiln_status map_consume(kiln__sink *base, const kiln_batch *b, bool *stop)
{
    (void)stop;
    kiln__shuffle *sh = (kiln__shuffle *)base;
    kiln_status st;
    if ((st = reserve_scratch(sh, b->n)) != KILN_OK)
        return st;
    kiln__hash_batch(sh->in, b, 0, b->n, sh->mode == MODE_DISTINCT, sh->hashes);
    for (size_t i = 0; i < b->n; i++) {
        uint32_t p = kiln__hash_partition(sh->hashes[i], sh->nparts);
        sh->parts[i] = p;
        if (KILN_UNLIKELY(!sh->ready[p]) && (st = ensure_partition(sh, p)) != KILN_OK)
            return st;
    }
    if (sh->mode == MODE_GROUP) {
        for (size_t i = 0; i < b->n; i++) {
            uint32_t p = sh->parts[i];
            size_t klen, vlen;
            const void *k = kiln_batch_key(b, i, &klen);
            const void *v = kiln_batch_value(b, i, &vlen);
            if ((st = kiln__block_append(&sh->open[p], k, klen, v, vlen)) != KILN_OK)
                return st;
            if (kiln__block_bytes(&sh->open[p]) >= SEGMENT_BYTES &&
                kiln__shuffle_owner(p, sh->nranks) != sh->rank &&
                (st = ship_partition(sh, p)) != KILN_OK)
                return st;
        }
        return KILN_OK;
    }
    st = kiln__combine_batch(sh->tables, sh->parts,
                             sh->mode == MODE_REDUCE ? &sh->reducer : NULL, b,
                             sh->hashes, &sh->combine);
    /* Bound the combine tables: past the limit, send what they hold on
     * (the owner merges it) and start again. Checked every 16 batches. */
    if (st == KILN_OK && (++sh->batches & 15) == 0 &&
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
static kiln_status fold_oldest(kiln__shuffle *sh)
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
    e->value = 0;
    kiln__copy_short((unsigned char *)&e->value, value, value_len); /* <= 8 */
    /* The same bound as map_consume's, checked every 64k records. */
    if (KILN_UNLIKELY((++sh->records & 0xffff) == 0) &&
        tables_bytes(sh) > sh->ctx->opt.combine_bytes) {
        st = drain_ring(sh);
        for (uint32_t q = 0; q < sh->nparts && st == KILN_OK; q++)
            st = ship_partition(sh, q);
    }
    return st;
}

static kiln_status map_begin(kiln__sink *s, uint32_t p)
{
    (void)s;
    (void)p;
    return KILN_OK;
}

static kiln_status map_end(kiln__sink *s, uint32_t p, bool complete)
{
    (void)p;
    (void)complete;
    return drain_ring((kiln__shuffle *)s);
}

kiln_status kiln__shuffle_create(kiln_context *ctx, kiln__node *node,
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
    sh->in = &node->parent[0]->schema;
    sh->nparts = node->nparts;
    sh->rank = ctx->rank;
    sh->nranks = ctx->nranks;
    sh->combine.mem = mem;
    sh->mode = node->kind == KILN__NODE_REDUCE_BY_KEY ? MODE_REDUCE
               : node->kind == KILN__NODE_DISTINCT    ? MODE_DISTINCT
                                                      : MODE_GROUP;
    if (sh->mode == MODE_REDUCE)
        sh->reducer = (kiln__reducer){node->u.reduce.op, sh->in->value.kind,
                                      sh->in->value.size, node->u.reduce.fn,
                                      node->u.reduce.arg};
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
    if (sh->mode == MODE_GROUP) {
        sh->open = kiln__mem_calloc(mem, np, sizeof *sh->open);
        sh->stores = kiln__mem_calloc(mem, np, sizeof *sh->stores);
    } else {
        sh->tables = kiln__mem_calloc(mem, np, sizeof *sh->tables);
    }
    if (!sh->ready || !sh->queues || (sh->mode == MODE_GROUP
                                          ? !sh->open || !sh->stores
                                          : !sh->tables)) {
        kiln__shuffle_destroy(&sh);
        return KILN_ERROR(KILN_ERR_NOMEM, "shuffle of %u partitions", node->nparts);
    }
    if (sh->mode == MODE_GROUP)
        for (uint32_t p = 0; p < sh->nparts; p++)
            kiln__store_init(&sh->stores[p], mem, sh->in);
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
            if (sh->mode == MODE_GROUP)
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
static kiln_status receive(kiln__shuffle *sh, const kiln_batch *b)
{
    uint32_t p = b->partition;
    kiln_status st;
    if (p >= sh->nparts || kiln__shuffle_owner(p, sh->nranks) != sh->rank)
        return KILN_ERROR(KILN_ERR_MPI, "shuffle segment for partition %u "
                                        "arrived at rank %d", p, sh->rank);
    if (sh->mode == MODE_GROUP)
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
        st = receive(sh, &b);
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
        if (sh->mode == MODE_GROUP || !own)
            st = ship_partition(sh, p);
    }
    if (st == KILN_OK)
        st = receive_local(sh);
    return st;
}

/* Records of `block` from `from` that fit in `room` wire bytes (at least
 * one when `force`). */
static size_t fit(const kiln__block *b, size_t from, size_t room, bool force)
{
    size_t n = b->n - from;
    if (kiln__block_wire_size(b, from, b->n) <= room)
        return b->n;
    /* Binary search: wire size grows with the record count. */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (kiln__block_wire_size(b, from, from + mid) <= room)
            lo = mid;
        else
            hi = mid - 1;
    }
    if (lo == 0 && force)
        lo = 1;
    return from + lo;
}

typedef struct round_buffers {
    unsigned char *send, *recv;
    size_t send_cap, recv_cap;
    int *scount, *sdispl, *rcount, *rdispl;
} round_buffers;

static kiln_status grow_buffer(kiln__mem *mem, unsigned char **buf, size_t *cap,
                               size_t need)
{
    if (need <= *cap)
        return KILN_OK;
    size_t c = kiln__mem_grow(*cap, need, 1 << 16);
    unsigned char *p = kiln__mem_realloc(mem, *buf, c);
    if (!p)
        return KILN_ERROR(KILN_ERR_NOMEM, "shuffle buffer of %zu bytes", c);
    *buf = p;
    *cap = c;
    return KILN_OK;
}

/* Serialise this round's share of every remote queue into rb->send. */
static kiln_status pack_round(kiln__shuffle *sh, round_buffers *rb, size_t cap)
{
    size_t total = 0;
    kiln_status st = KILN_OK;
    for (int d = 0; d < sh->nranks; d++) {
        rb->sdispl[d] = (int)total;
        rb->scount[d] = 0;
        if (d == sh->rank)
            continue;
        send_queue *q = &sh->queues[d];
        size_t used = 0;
        while (q->head < q->n && st == KILN_OK) {
            queued *it = &q->items[q->head];
            size_t room = used < cap ? cap - used : 0;
            size_t to = fit(&it->block, it->next, room, used == 0);
            if (to == it->next)
                break;
            size_t bytes = kiln__block_wire_size(&it->block, it->next, to);
            if (total + bytes > (size_t)INT_MAX) {
                st = KILN_ERROR(KILN_ERR_LIMIT, "a shuffle round over 2 GiB "
                                                "(a single record of %zu bytes?)",
                                bytes);
                break;
            }
            if ((st = grow_buffer(sh->mem, &rb->send, &rb->send_cap,
                                  total + bytes)) != KILN_OK)
                break;
            kiln__block_wire_write(&it->block, it->next, to, it->partition,
                                   rb->send + total);
            total += bytes;
            used += bytes;
            it->next = to;
            if (to == it->block.n) {
                kiln__block_release(&it->block);
                q->head++;
            }
        }
        rb->scount[d] = (int)used;
    }
    return st;
}

static kiln_status unpack_round(kiln__shuffle *sh, round_buffers *rb)
{
    for (int s = 0; s < sh->nranks; s++) {
        const unsigned char *p = rb->recv + rb->rdispl[s];
        size_t left = (size_t)rb->rcount[s];
        while (left) {
            kiln_batch b;
            size_t used = kiln__block_wire_read(sh->in, p, left, &b);
            if (!used)
                return KILN_ERROR(KILN_ERR_MPI, "garbled shuffle data from rank %d", s);
            kiln_status st = receive(sh, &b);
            if (st != KILN_OK)
                return st;
            p += used;
            left -= used;
        }
    }
    return KILN_OK;
}

static bool queues_empty(const kiln__shuffle *sh)
{
    for (int d = 0; d < sh->nranks; d++)
        if (d != sh->rank && sh->queues[d].head < sh->queues[d].n)
            return false;
    return true;
}

static kiln_status exchange_rounds(kiln__shuffle *sh, kiln_status local,
                                   uint64_t *bytes_sent)
{
    kiln_context *ctx = sh->ctx;
    round_buffers rb = {0};
    int n = sh->nranks;
    int *ints = kiln__mem_calloc(sh->mem, 4 * (size_t)n, sizeof *ints);
    if (!ints && local == KILN_OK)
        local = KILN_ERROR(KILN_ERR_NOMEM, "shuffle counts");
    /* Agree before the first collective that everyone can go on. */
    kiln_status st = kiln__error_agree(ctx, local);
    if (st != KILN_OK) {
        kiln__mem_free(sh->mem, ints);
        return st;
    }
    rb.scount = ints;
    rb.sdispl = ints + n;
    rb.rcount = ints + 2 * n;
    rb.rdispl = ints + 3 * n;
    uint64_t round_bytes = ctx->opt.round_bytes;
    if (round_bytes > (uint64_t)INT_MAX / 2)
        round_bytes = (uint64_t)INT_MAX / 2;
    size_t cap = (size_t)(round_bytes / (uint64_t)n);
    if (cap < SEGMENT_BYTES)
        cap = SEGMENT_BYTES;
    uint64_t rounds = 0;
    for (;;) {
        kiln_status mine = pack_round(sh, &rb, cap);
        for (int d = 0; d < n; d++)
            *bytes_sent += (uint64_t)rb.scount[d];
        /* A failed pack still takes part in the round, sending nothing. */
        if (mine != KILN_OK)
            for (int d = 0; d < n; d++)
                rb.scount[d] = 0;
        KILN_CHECK(st, KILN_MPI(MPI_Alltoall(rb.scount, 1, MPI_INT, rb.rcount, 1,
                                             MPI_INT, ctx->comm)), mpi_failed);
        size_t total = 0;
        for (int s = 0; s < n; s++) {
            rb.rdispl[s] = (int)total;
            total += (size_t)rb.rcount[s];
            if (total > (size_t)INT_MAX && mine == KILN_OK)
                mine = KILN_ERROR(KILN_ERR_LIMIT, "a shuffle round over 2 GiB");
        }
        if (mine == KILN_OK)
            mine = grow_buffer(sh->mem, &rb.recv, &rb.recv_cap, total);
        /* Every rank must be able to receive before anyone sends. */
        if ((st = kiln__error_agree(ctx, mine)) != KILN_OK)
            break;
        KILN_CHECK(st, KILN_MPI(MPI_Alltoallv(rb.send, rb.scount, rb.sdispl,
                                              MPI_BYTE, rb.recv, rb.rcount,
                                              rb.rdispl, MPI_BYTE, ctx->comm)),
                   mpi_failed);
        mine = unpack_round(sh, &rb);
        rounds++;
        /* One all-reduce: the worst status, and whether anyone has more. */
        int flags[2] = {(int)mine, queues_empty(sh) ? 0 : -1}, agreed[2];
        KILN_CHECK(st, KILN_MPI(MPI_Allreduce(flags, agreed, 2, MPI_INT, MPI_MIN,
                                              ctx->comm)), mpi_failed);
        if (agreed[0] != KILN_OK) {
            st = kiln__error_agree(ctx, mine);
            break;
        }
        if (agreed[1] == 0)
            break;
    }
    kiln__log(ctx, KILN__LOG_DEBUG, "shuffle of %s: %llu rounds",
              kiln__node_name(sh->node->kind), (unsigned long long)rounds);
    goto done;
mpi_failed:
    /* An MPI failure inside a collective cannot be agreed on reliably. */
    kiln__abort(ctx, kiln__error_message());
done:
    kiln__mem_free(sh->mem, rb.send);
    kiln__mem_free(sh->mem, rb.recv);
    kiln__mem_free(sh->mem, ints);
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
    kiln_status st = finish_map_side(sh);
    if ((st = exchange_rounds(sh, st, bytes_sent)) != KILN_OK)
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
