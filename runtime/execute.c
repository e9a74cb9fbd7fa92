/* runtime/execute.c: the fused pipeline of one task.
 *
 * A chain of steps becomes a push pipeline: the leaf reads a batch and hands
 * it to step 1; a step's callback emits into that step's emitter, a flat
 * buffer which, when full (--kiln-batch-records / --kiln-batch-bytes), is
 * handed to the next step as one batch, and so on to the sink. No step's
 * output is ever materialised beyond one buffer, data stays in cache
 * between steps, and user code is called once per batch, never per record.
 * A failure anywhere is sticky in the emitter, so a callback that ignores
 * kiln_emit()'s status still fails its task. */
#include <stdlib.h>

#include "runtime/error.h"
#include "runtime/execute.h"
#include "runtime/io.h"
#include "runtime/log.h"

typedef enum { EMIT_RECORDS, EMIT_KEYS, EMIT_VALUES } emit_mode;

typedef struct pipeline pipeline;

struct kiln_emitter {
    pipeline *pipe;
    size_t level;            /* the step whose output this collects */
    emit_mode mode;
    const kiln_schema *schema; /* that step's output schema */
    kiln__block out;         /* buffered output records */
    kiln__block column;      /* key_by / map_values: the emitted column */
    bool have_column;
    size_t emitted;          /* records emitted by the current callback */
    kiln_status sticky;      /* first failure downstream of this emitter */
    kiln__sink *direct;      /* last step emitting records into a
                                record-at-a-time sink; NULL once anything
                                failed: kiln_emit's one test per record */
};

typedef struct step_state {
    kiln__node *node;
    uint32_t partition;
    bool tee;                /* keep this step's output in node's cache */
    kiln__store *tee_store;  /* owned until the partition completes */
    kiln_emitter em;
    bool em_ready;
    void *mp_state;          /* map_partitions state */
    bool mp_open;
} step_state;

struct pipeline {
    kiln_context *ctx;
    kiln__mem *mem;
    kiln__chain chain;
    step_state *steps;
    size_t nsteps;
    kiln__sink *sink;
    bool stop;               /* the sink has what it needs */
    uint8_t *keep;           /* filter flags, keep_cap bytes */
    size_t keep_cap;
    size_t batch_records, batch_bytes;
    kiln__task_stats stats;
    uint32_t partition;      /* the task's partition of the target node */
};

static kiln_status feed(pipeline *pipe, size_t k, const kiln_batch *b);

/* Non-OK from a user callback: make sure the message says where. */
static kiln_status user_failed(kiln_status st, const kiln__node *n, uint32_t p)
{
    if (st > 0)
        st = KILN_ERR_USER;
    return KILN_ERROR(st, "%s callback failed on partition %u: %s",
                      kiln__node_name(n->kind), p, kiln_strerror(st));
}

static bool emitter_full(const kiln_emitter *em)
{
    return em->out.n >= em->pipe->batch_records ||
           kiln__block_bytes(&em->out) >= em->pipe->batch_bytes;
}

static kiln_status emitter_flush(kiln_emitter *em)
{
    if (em->out.n == 0)
        return em->sticky;
    kiln_batch view;
    kiln__block_view(&em->out, 0, em->out.n,
                     em->pipe->steps[em->level].partition, &view);
    kiln_status st = feed(em->pipe, em->level, &view);
    kiln__block_clear(&em->out);
    if (st != KILN_OK && em->sticky == KILN_OK) {
        em->sticky = st;
        em->direct = NULL;
    }
    return st;
}

static kiln_status check_len(const kiln_type *t, size_t len, const char *what)
{
    if (t->kind == KILN_KIND_NONE) {
        if (len)
            return KILN_ERROR(KILN_ERR_INVAL, "%s emitted for a dataset without keys",
                              what);
        return KILN_OK;
    }
    if (!kiln__type_variable(t) && len != t->size)
        return KILN_ERROR(KILN_ERR_INVAL, "%s of %zu bytes emitted; the type has %zu",
                          what, len, t->size);
    return KILN_OK;
}

kiln_status kiln_emit(kiln_emitter *out, const void *key, size_t key_len,
                      const void *value, size_t value_len)
{
    kiln__sink *direct = out->direct;
    kiln_status st;
    if (KILN_LIKELY(direct != NULL) &&
        KILN_LIKELY(out->out.key.width == key_len || out->out.key.variable) &&
        KILN_LIKELY(out->out.value.width == value_len || out->out.value.variable)) {
        /* No buffer: the sink takes the record while it is in the cache. */
        if ((st = direct->consume_record(direct, key, key_len, value, value_len)) !=
            KILN_OK)
            goto fail;
        out->emitted++;
        return KILN_OK;
    }
    /* Below: buffered emitters, and every kind of failure. */
    if (KILN_UNLIKELY(out->sticky != KILN_OK))
        return out->sticky;
    if (KILN_UNLIKELY(out->mode != EMIT_RECORDS)) {
        st = KILN_ERROR(KILN_ERR_STATE, "kiln_emit() in key_by/map_values; "
                                        "use kiln_emit_key()/kiln_emit_value()");
        goto fail;
    }
    if (KILN_UNLIKELY(out->out.key.width != key_len && !out->out.key.variable) ||
        KILN_UNLIKELY(out->out.value.width != value_len && !out->out.value.variable)) {
        if ((st = check_len(&out->schema->key, key_len, "key")) != KILN_OK ||
            (st = check_len(&out->schema->value, value_len, "value")) != KILN_OK)
            goto fail;
    }
    if ((st = kiln__block_append(&out->out, key, key_len, value, value_len)) != KILN_OK)
        goto fail;
    out->emitted++;
    if (KILN_UNLIKELY(emitter_full(out)))
        return emitter_flush(out);
    return KILN_OK;
fail:
    out->sticky = st;
    out->direct = NULL;
    return st;
}

static kiln_status emit_column(kiln_emitter *out, emit_mode mode,
                               const void *p, size_t len)
{
    if (out->sticky != KILN_OK)
        return out->sticky;
    kiln_status st;
    if (out->mode != mode) {
        st = KILN_ERROR(KILN_ERR_STATE, "%s outside %s",
                        mode == EMIT_KEYS ? "kiln_emit_key()" : "kiln_emit_value()",
                        mode == EMIT_KEYS ? "key_by" : "map_values");
        goto fail;
    }
    const kiln_type *t = mode == EMIT_KEYS ? &out->schema->key : &out->schema->value;
    if ((st = check_len(t, len, mode == EMIT_KEYS ? "key" : "value")) != KILN_OK)
        goto fail;
    if ((st = kiln__block_append(&out->column, NULL, 0, p, len)) != KILN_OK)
        goto fail;
    out->emitted++;
    return KILN_OK;
fail:
    out->sticky = st;
    return st;
}

kiln_status kiln_emit_key(kiln_emitter *out, const void *key, size_t len)
{
    return emit_column(out, EMIT_KEYS, key, len);
}

kiln_status kiln_emit_value(kiln_emitter *out, const void *value, size_t len)
{
    return emit_column(out, EMIT_VALUES, value, len);
}

kiln_status kiln_emit_record(kiln_emitter *out, const kiln_batch *b, size_t i)
{
    size_t klen = 0, vlen;
    const void *k = b->keys ? kiln_batch_key(b, i, &klen) : NULL;
    const void *v = kiln_batch_value(b, i, &vlen);
    return kiln_emit(out, k, klen, v, vlen);
}

/* ---- steps ---- */

static kiln_status run_filter(pipeline *pipe, size_t k, const kiln_batch *in)
{
    step_state *s = &pipe->steps[k];
    kiln_status st;
    if (in->n > pipe->keep_cap) {
        size_t cap = kiln__mem_grow(pipe->keep_cap, in->n, 4096);
        uint8_t *keep = kiln__mem_realloc(pipe->mem, pipe->keep, cap);
        if (!keep)
            return KILN_ERROR(KILN_ERR_NOMEM, "filter flags");
        pipe->keep = keep;
        pipe->keep_cap = cap;
    }
    memset(pipe->keep, 0, in->n);
    st = s->node->u.filter.fn(in, pipe->keep, s->node->u.filter.arg);
    if (st != KILN_OK)
        return user_failed(st, s->node, s->partition);
    size_t kept = 0;
    for (size_t i = 0; i < in->n; i++)
        kept += pipe->keep[i] != 0;
    if (kept == in->n) /* nothing dropped: pass the batch on as it is */
        return feed(pipe, k, in);
    kiln_emitter *em = &s->em;
    for (size_t i = 0; i < in->n;) {
        if (!pipe->keep[i]) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < in->n && pipe->keep[j])
            j++;
        if ((st = kiln__block_append_batch(&em->out, in, i, j)) != KILN_OK)
            return st;
        if (emitter_full(em) && (st = emitter_flush(em)) != KILN_OK)
            return st;
        i = j;
    }
    return KILN_OK;
}

/* key_by / map_values: the callback filled em->column; pair it with the
 * input's other column. */
static kiln_status zip_column(pipeline *pipe, size_t k, const kiln_batch *in)
{
    step_state *s = &pipe->steps[k];
    kiln_emitter *em = &s->em;
    bool keys = s->node->kind == KILN__NODE_KEY_BY;
    if (em->column.n != in->n)
        return KILN_ERROR(KILN_ERR_USER, "%s callback emitted %zu %s for %zu records",
                          kiln__node_name(s->node->kind), em->column.n,
                          keys ? "keys" : "values", in->n);
    kiln_batch col;
    kiln__block_view(&em->column, 0, em->column.n, s->partition, &col);
    kiln_status st;
    for (size_t i = 0; i < in->n; i++) {
        size_t klen = 0, vlen;
        const void *key, *value;
        if (keys) {
            key = kiln_batch_value(&col, i, &klen);
            value = kiln_batch_value(in, i, &vlen);
        } else {
            key = in->keys ? kiln_batch_key(in, i, &klen) : NULL;
            value = kiln_batch_value(&col, i, &vlen);
        }
        if ((st = kiln__block_append(&em->out, key, klen, value, vlen)) != KILN_OK)
            return st;
        if (emitter_full(em) && (st = emitter_flush(em)) != KILN_OK)
            return st;
    }
    kiln__block_clear(&em->column);
    return KILN_OK;
}

/* Step k consumes `in` (the output of step k - 1). */
static kiln_status apply(pipeline *pipe, size_t k, const kiln_batch *in)
{
    step_state *s = &pipe->steps[k];
    kiln__node *n = s->node;
    kiln_emitter *em = &s->em;
    kiln_status st = KILN_OK;
    em->emitted = 0;
    switch (n->kind) {
    case KILN__NODE_MAP:
    case KILN__NODE_FLAT_MAP:
        st = n->u.map.fn(in, em, n->u.map.arg);
        break;
    case KILN__NODE_FILTER:
        return run_filter(pipe, k, in);
    case KILN__NODE_MAP_PARTITIONS:
        st = n->u.mp.fns.batch(in, em, s->mp_state, n->u.mp.arg);
        break;
    case KILN__NODE_KEY_BY:
    case KILN__NODE_MAP_VALUES:
        kiln__block_clear(&em->column);
        st = n->u.map.fn(in, em, n->u.map.arg);
        if (st == KILN_OK && em->sticky == KILN_OK)
            return zip_column(pipe, k, in);
        break;
    case KILN__NODE_UNION:
        return feed(pipe, k, in);
    default:
        return KILN_ERROR(KILN_ERR_STATE, "%s cannot be a pipeline step",
                          kiln__node_name(n->kind));
    }
    if (em->sticky != KILN_OK)
        return em->sticky;
    if (st != KILN_OK)
        return user_failed(st, n, s->partition);
    if (n->kind == KILN__NODE_MAP && em->emitted != in->n)
        return KILN_ERROR(KILN_ERR_USER,
                          "map callback emitted %zu records for %zu inputs "
                          "(use flat_map to change the count)",
                          em->emitted, in->n);
    return KILN_OK;
}

/* b is the output of step k: keep it if cached, then pass it up. */
static kiln_status feed(pipeline *pipe, size_t k, const kiln_batch *b)
{
    if (pipe->stop || b->n == 0)
        return KILN_OK;
    step_state *s = &pipe->steps[k];
    kiln_status st;
    if (s->tee && (st = kiln__store_append(s->tee_store, b, 0, b->n)) != KILN_OK)
        return st;
    /* Steps below an uncached union number partitions as their parent does
     * (p - left); label the batch with the partition of whoever consumes it,
     * since callbacks and sinks (collect, aggregate) rely on it. */
    uint32_t p = k + 1 == pipe->nsteps ? pipe->partition
                                       : pipe->steps[k + 1].partition;
    kiln_batch relabeled;
    if (b->partition != p) {
        relabeled = *b;
        relabeled.partition = p;
        b = &relabeled;
    }
    if (k + 1 == pipe->nsteps)
        return pipe->sink->consume(pipe->sink, b, &pipe->stop);
    return apply(pipe, k + 1, b);
}

/* ---- leaves ---- */

static kiln_status poll(const kiln__poll *p)
{
    return p && p->fn ? p->fn(p->arg) : KILN_OK;
}

/* A split of a text or binary file. */
static kiln_status read_file(pipeline *pipe, const kiln__poll *pl)
{
    step_state *s = &pipe->steps[0];
    kiln__split_reader r;
    kiln__block block;
    kiln_schema schema = s->node->schema;
    kiln_status st = kiln__block_init(&block, pipe->mem, &schema);
    if (st != KILN_OK)
        return st;
    bool done = false;
    st = kiln__split_open(&r, pipe->mem, s->node, s->partition, &done);
    while (st == KILN_OK && !done && !pipe->stop) {
        kiln__block_clear(&block);
        st = kiln__split_next(&r, &block, pipe->batch_records, pipe->batch_bytes,
                              &done);
        if (st != KILN_OK)
            break;
        kiln_batch b;
        kiln__block_view(&block, 0, block.n, s->partition, &b);
        b.origin = kiln__split_origin(&r);
        pipe->stats.records += b.n;
        if ((st = feed(pipe, 0, &b)) == KILN_OK)
            st = poll(pl);
    }
    pipe->stats.bytes += kiln__split_bytes_read(&r);
    kiln__split_close(&r);
    kiln__block_release(&block);
    return st;
}

static kiln_status read_parallel(pipeline *pipe, const kiln__poll *pl)
{
    step_state *s = &pipe->steps[0];
    const kiln__block *data = &s->node->u.par.data;
    uint64_t n = data->n, parts = s->node->nparts;
    size_t from = (size_t)(n * s->partition / parts);
    size_t to = (size_t)(n * (s->partition + 1) / parts);
    kiln_status st = KILN_OK;
    for (size_t i = from; i < to && st == KILN_OK && !pipe->stop;) {
        size_t j = i + pipe->batch_records < to ? i + pipe->batch_records : to;
        kiln_batch b;
        kiln__block_view(data, i, j, s->partition, &b);
        pipe->stats.records += b.n;
        if ((st = feed(pipe, 0, &b)) == KILN_OK)
            st = poll(pl);
        i = j;
    }
    return st;
}

static kiln_status read_range(pipeline *pipe, const kiln__poll *pl)
{
    step_state *s = &pipe->steps[0];
    const kiln__node *n = s->node;
    uint64_t count = n->u.range.count, parts = n->nparts;
    uint64_t from = count / parts * s->partition +
                    (s->partition < count % parts ? s->partition : count % parts);
    uint64_t len = count / parts + (s->partition < count % parts ? 1 : 0);
    kiln_schema schema = n->schema;
    kiln__block block;
    kiln_status st = kiln__block_init(&block, pipe->mem, &schema);
    for (uint64_t i = 0; i < len && st == KILN_OK && !pipe->stop;) {
        uint64_t m = len - i < pipe->batch_records ? len - i : pipe->batch_records;
        kiln__block_clear(&block);
        if ((st = kiln__block_reserve(&block, (size_t)m, 0, 0)) != KILN_OK)
            break;
        for (uint64_t j = 0; j < m; j++) {
            int64_t v = (int64_t)((uint64_t)n->u.range.start +
                                  (from + i + j) * (uint64_t)n->u.range.step);
            kiln__column_put(&block, &block.value, &v, 8);
            block.n++;
        }
        kiln_batch b;
        kiln__block_view(&block, 0, block.n, s->partition, &b);
        pipe->stats.records += b.n;
        if ((st = feed(pipe, 0, &b)) == KILN_OK)
            st = poll(pl);
        i += m;
    }
    kiln__block_release(&block);
    return st;
}

static kiln_status read_resident(pipeline *pipe, const kiln__poll *pl)
{
    kiln__store_iter it;
    kiln_batch b;
    kiln_status st = KILN_OK;
    kiln__store_iter_init(&it, pipe->chain.resident, pipe->steps[0].partition,
                          pipe->batch_records);
    while (st == KILN_OK && !pipe->stop && kiln__store_next(&it, &b)) {
        pipe->stats.records += b.n;
        if ((st = feed(pipe, 0, &b)) == KILN_OK)
            st = poll(pl);
    }
    return st;
}

/* A coalesce leaf: its parent partitions run as nested tasks whose sink
 * feeds this pipeline. */
typedef struct forward_sink {
    kiln__sink base;
    pipeline *pipe;
} forward_sink;

static kiln_status forward_begin(kiln__sink *s, uint32_t p)
{
    (void)s;
    (void)p;
    return KILN_OK;
}

static kiln_status forward_consume(kiln__sink *s, const kiln_batch *b, bool *stop)
{
    pipeline *pipe = ((forward_sink *)s)->pipe;
    kiln_status st = feed(pipe, 0, b);
    *stop = pipe->stop;
    return st;
}

static kiln_status forward_end(kiln__sink *s, uint32_t p, bool complete)
{
    (void)s;
    (void)p;
    (void)complete;
    return KILN_OK;
}

static kiln_status read_coalesced(pipeline *pipe, const kiln__poll *pl)
{
    step_state *s = &pipe->steps[0];
    uint32_t lo, hi;
    kiln__plan_coalesced(s->node, s->partition, &lo, &hi);
    forward_sink fw = {{forward_begin, forward_consume, forward_end, NULL}, pipe};
    kiln_status st = KILN_OK;
    for (uint32_t j = lo; j < hi && st == KILN_OK && !pipe->stop; j++)
        st = kiln__execute_task(pipe->ctx, s->node->parent[0], j, &fw.base, pl,
                                &pipe->stats);
    return st;
}

static kiln_status read_leaf(pipeline *pipe, const kiln__poll *pl)
{
    if (pipe->chain.resident)
        return read_resident(pipe, pl);
    switch (pipe->steps[0].node->kind) {
    case KILN__NODE_TEXT:
    case KILN__NODE_BINARY:
        return read_file(pipe, pl);
    case KILN__NODE_COALESCE:
        return read_coalesced(pipe, pl);
    case KILN__NODE_PARALLEL:
        return read_parallel(pipe, pl);
    case KILN__NODE_RANGE:
        return read_range(pipe, pl);
    default:
        return KILN_ERROR(KILN_ERR_STATE, "partition %u of %s is not on rank %d",
                          pipe->steps[0].partition,
                          kiln__node_name(pipe->steps[0].node->kind),
                          pipe->ctx->rank);
    }
}

/* ---- one task ---- */

static kiln_status pipeline_init(pipeline *pipe)
{
    kiln__mem *mem = pipe->mem;
    pipe->nsteps = pipe->chain.nsteps;
    pipe->steps = kiln__mem_calloc(mem, pipe->nsteps, sizeof *pipe->steps);
    if (!pipe->steps)
        return KILN_ERROR(KILN_ERR_NOMEM, "pipeline of %zu steps", pipe->nsteps);
    for (size_t k = 0; k < pipe->nsteps; k++) {
        step_state *s = &pipe->steps[k];
        kiln__step *c = &pipe->chain.steps[k];
        s->node = c->node;
        s->partition = c->partition;
        s->tee = c->tee;
        kiln_status st;
        if (s->tee) {
            s->tee_store = kiln__mem_alloc(mem, sizeof *s->tee_store);
            if (!s->tee_store)
                return KILN_ERROR(KILN_ERR_NOMEM, "cache store");
            kiln__store_init(s->tee_store, mem, &s->node->schema);
        }
        if (k == 0)
            continue;
        kiln_emitter *em = &s->em;
        em->pipe = pipe;
        em->level = k;
        em->schema = &s->node->schema;
        em->mode = s->node->kind == KILN__NODE_KEY_BY      ? EMIT_KEYS
                   : s->node->kind == KILN__NODE_MAP_VALUES ? EMIT_VALUES
                                                            : EMIT_RECORDS;
        if ((st = kiln__block_init(&em->out, mem, &s->node->schema)) != KILN_OK)
            return st;
        s->em_ready = true;
        if (k + 1 == pipe->nsteps && !s->tee && pipe->sink->consume_record &&
            em->mode == EMIT_RECORDS)
            em->direct = pipe->sink;
        if (em->mode != EMIT_RECORDS) {
            kiln_schema col = {KILN_T_NONE, em->mode == EMIT_KEYS
                                                ? s->node->schema.key
                                                : s->node->schema.value};
            if ((st = kiln__block_init(&em->column, mem, &col)) != KILN_OK)
                return st;
            em->have_column = true;
        }
    }
    return KILN_OK;
}

static kiln_status open_partitions(pipeline *pipe)
{
    for (size_t k = 1; k < pipe->nsteps; k++) {
        step_state *s = &pipe->steps[k];
        if (s->node->kind != KILN__NODE_MAP_PARTITIONS || !s->node->u.mp.fns.open)
            continue;
        kiln_status st = s->node->u.mp.fns.open(s->partition, &s->mp_state,
                                                s->node->u.mp.arg);
        if (st != KILN_OK)
            return user_failed(st, s->node, s->partition);
        s->mp_open = true;
    }
    return KILN_OK;
}

/* End of input: close map_partitions steps bottom-up so what a close emits
 * still flows through the steps above, flushing every buffer on the way. */
static kiln_status drain(pipeline *pipe)
{
    kiln_status st = KILN_OK;
    for (size_t k = 1; k < pipe->nsteps && st == KILN_OK; k++) {
        step_state *s = &pipe->steps[k];
        if (s->mp_open && s->node->u.mp.fns.close) {
            s->mp_open = false;
            s->em.emitted = 0;
            st = s->node->u.mp.fns.close(&s->em, s->mp_state, s->node->u.mp.arg);
            if (st == KILN_OK && s->em.sticky != KILN_OK)
                st = s->em.sticky;
            else if (st != KILN_OK)
                st = user_failed(st, s->node, s->partition);
        }
        if (st == KILN_OK && !pipe->stop)
            st = emitter_flush(&s->em);
    }
    return st;
}

static kiln_status keep_cache(pipeline *pipe)
{
    kiln_context *ctx = pipe->ctx;
    for (size_t k = 0; k < pipe->nsteps; k++) {
        step_state *s = &pipe->steps[k];
        if (!s->tee)
            continue;
        kiln__node *n = s->node;
        if (!n->cache) {
            kiln_status st = kiln__resident_create(&ctx->mem, n->nparts, &n->cache);
            if (st != KILN_OK)
                return st;
        }
        if (n->cache->part[s->partition]) { /* computed twice: keep one */
            kiln__store_release(n->cache->part[s->partition]);
            kiln__mem_free(&ctx->mem, n->cache->part[s->partition]);
        }
        n->cache->part[s->partition] = s->tee_store;
        n->cache->owner[s->partition] = ctx->rank;
        s->tee_store = NULL;
    }
    return KILN_OK;
}

static void pipeline_release(pipeline *pipe)
{
    for (size_t k = 0; pipe->steps && k < pipe->nsteps; k++) {
        step_state *s = &pipe->steps[k];
        if (s->mp_open && s->node->u.mp.fns.close) {
            /* Failure or early stop: only release the user's state. */
            kiln_status st = s->node->u.mp.fns.close(NULL, s->mp_state,
                                                     s->node->u.mp.arg);
            (void)st; /* the task has already failed or stopped */
        }
        if (s->tee_store) {
            kiln__store_release(s->tee_store);
            kiln__mem_free(pipe->mem, s->tee_store);
        }
        if (s->em_ready)
            kiln__block_release(&s->em.out);
        if (s->em.have_column)
            kiln__block_release(&s->em.column);
    }
    kiln__mem_free(pipe->mem, pipe->steps);
    kiln__mem_free(pipe->mem, pipe->keep);
    kiln__chain_release(pipe->mem, &pipe->chain);
}

kiln_status kiln__execute_task(kiln_context *ctx, kiln__node *node, uint32_t p,
                               kiln__sink *sink, const kiln__poll *pl,
                               kiln__task_stats *stats)
{
    pipeline pipe;
    memset(&pipe, 0, sizeof pipe);
    pipe.ctx = ctx;
    pipe.mem = &ctx->mem;
    pipe.sink = sink;
    pipe.partition = p;
    pipe.batch_records = (size_t)ctx->opt.batch_records;
    pipe.batch_bytes = (size_t)ctx->opt.batch_bytes;
    kiln__chain_init(&pipe.chain);

    bool begun = false;
    kiln_status st;
    kiln__running outer = ctx->running; /* a coalesce runs tasks within tasks */
    KILN_CHECK(st, kiln__plan_chain(pipe.mem, node, p, &pipe.chain), done);
    KILN_CHECK(st, pipeline_init(&pipe), done);
    ctx->running.in_task = true;
    ctx->running.partition = p;
    KILN_CHECK(st, sink->begin(sink, p), done);
    begun = true;
    KILN_CHECK(st, open_partitions(&pipe), done);
    KILN_CHECK(st, read_leaf(&pipe, pl), done);
    if (!pipe.stop)
        KILN_CHECK(st, drain(&pipe), done);
    if (!pipe.stop)
        KILN_CHECK(st, keep_cache(&pipe), done);
done:
    ctx->running = outer;
    if (begun) {
        kiln_status end = sink->end(sink, p, st == KILN_OK && !pipe.stop);
        if (st == KILN_OK)
            st = end;
    }
    stats->records += pipe.stats.records;
    stats->bytes += pipe.stats.bytes;
    pipeline_release(&pipe);
    return st;
}
