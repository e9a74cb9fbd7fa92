/* runtime/schedule.c: an action's stages, from the master's plan to each
 * stage's sync point.
 *
 * Planning: every rank holds the same lineage (SPMD), but only the master
 * touches the file system to list and split inputs, and only its plan is
 * followed: it broadcasts the splits, a fingerprint of the lineage and the
 * ids of the shuffles to run, and a rank whose lineage hashes differently
 * fails the action at once instead of computing garbage.
 *
 * Sync points, each one all-reduce (kiln__error_agree) unless noted:
 *   prepare   - the master's splitting/planning status;
 *   stage end - every rank's task status, then the stage totals (sum) and
 *               the owners of newly cached partitions (max);
 *   shuffle   - see shuffle.c (per round). */
#include <stdio.h>
#include <stdlib.h>

#include "runtime/checkpoint.h"
#include "runtime/dispatch.h"
#include "runtime/error.h"
#include "runtime/hdf5_io.h"
#include "runtime/io.h"
#include "runtime/join.h"
#include "runtime/log.h"
#include "runtime/schedule.h"
#include "runtime/shuffle.h"

/* ---- plan message: [u64 fingerprint][u32 nsources][u32 nshuffles]
 *      [u32 shuffle ids...] then per source [u32 id][u64 len][splits] ---- */

typedef struct message {
    unsigned char *data;
    size_t len, cap;
} message;

static kiln_status put(message *m, const void *p, size_t n)
{
    if (m->len + n > m->cap) {
        size_t cap = kiln__mem_grow(m->cap, m->len + n, 256);
        unsigned char *d = realloc(m->data, cap);
        if (!d)
            return KILN_ERROR(KILN_ERR_NOMEM, "plan message");
        m->data = d;
        m->cap = cap;
    }
    memcpy(m->data + m->len, p, n);
    m->len += n;
    return KILN_OK;
}

static bool get(const message *m, size_t *pos, void *p, size_t n)
{
    if (m->len - *pos < n)
        return false;
    memcpy(p, m->data + *pos, n);
    *pos += n;
    return true;
}

/* Phase one, master: split every unsplit file source. Message: u32 count,
 * then per source u32 id, u64 length, packed splits. */
static kiln_status master_splits(kiln_context *ctx, kiln__node *target, message *m)
{
    kiln__node **sources = NULL;
    size_t nsources = 0;
    kiln_status st;
    KILN_CHECK(st, kiln__plan_unsplit(&ctx->mem, target, &sources, &nsources), done);
    uint32_t count = (uint32_t)nsources;
    KILN_CHECK(st, put(m, &count, 4), done);
    for (size_t i = 0; i < nsources; i++) {
        kiln__node *n = sources[i];
        uint64_t record = n->kind == KILN__NODE_BINARY
                              ? n->schema.key.size + n->schema.value.size : 0;
        KILN_CHECK(st, kiln__text_split((const char *const *)n->u.text.paths,
                                        n->u.text.npaths, ctx->opt.split_bytes,
                                        record, &n->u.text.splits), done);
        unsigned char *packed = NULL;
        size_t len = 0;
        KILN_CHECK(st, kiln__text_splits_pack(n->u.text.splits, &packed, &len), done);
        uint64_t len64 = len;
        st = put(m, &n->id, 4);
        if (st == KILN_OK)
            st = put(m, &len64, 8);
        if (st == KILN_OK)
            st = put(m, packed, len);
        free(packed);
        if (st != KILN_OK)
            goto done;
    }
done:
    kiln__mem_free(&ctx->mem, sources);
    return st;
}

/* Phase one, the others: take the master's splits. */
static kiln_status follow_splits(kiln_context *ctx, kiln__node *target,
                                 const message *m)
{
    size_t pos = 0;
    uint32_t count;
    if (!get(m, &pos, &count, 4))
        return KILN_ERROR(KILN_ERR_MPI, "garbled plan from the master");
    for (uint32_t i = 0; i < count; i++) {
        uint32_t id;
        uint64_t len;
        if (!get(m, &pos, &id, 4) || !get(m, &pos, &len, 8) || m->len - pos < len)
            return KILN_ERROR(KILN_ERR_MPI, "garbled plan from the master");
        kiln__node *n = kiln__plan_find(&ctx->mem, target, id);
        if (!n || !kiln__node_is_file_source(n))
            return KILN_ERROR(KILN_ERR_STATE,
                              "rank %d has no file source %u: ranks built "
                              "different datasets", ctx->rank, id);
        if (!n->u.text.splits) {
            kiln_status st = kiln__text_splits_unpack(m->data + pos, (size_t)len,
                                                      &n->u.text.splits);
            if (st != KILN_OK)
                return st;
        }
        pos += (size_t)len;
    }
    return KILN_OK;
}

/* Phase two, master: settle partition counts and list the shuffles to run.
 * Message: u64 fingerprint, u32 count, u32 shuffle ids. */
static kiln_status master_stages(kiln_context *ctx, kiln__node *target, message *m)
{
    kiln__node **shuffles = NULL;
    size_t nshuffles = 0;
    kiln_status st;
    KILN_CHECK(st, kiln__plan_resolve(&ctx->mem, target, ctx->nranks,
                                       ctx->opt.broadcast_bytes), done);
    KILN_CHECK(st, kiln__plan_shuffles(&ctx->mem, target, &shuffles, &nshuffles), done);
    uint64_t fp = kiln__plan_fingerprint(&ctx->mem, target);
    uint32_t count = (uint32_t)nshuffles;
    KILN_CHECK(st, put(m, &fp, 8), done);
    KILN_CHECK(st, put(m, &count, 4), done);
    for (size_t i = 0; i < nshuffles; i++)
        KILN_CHECK(st, put(m, &shuffles[i]->id, 4), done);
done:
    kiln__mem_free(&ctx->mem, shuffles);
    return st;
}

/* Phase two, the others: settle counts the same way and compare. */
static kiln_status follow_stages(kiln_context *ctx, kiln__node *target,
                                 const message *m)
{
    size_t pos = 0;
    uint64_t fp;
    if (!get(m, &pos, &fp, 8))
        return KILN_ERROR(KILN_ERR_MPI, "garbled plan from the master");
    kiln_status st = kiln__plan_resolve(&ctx->mem, target, ctx->nranks,
                                       ctx->opt.broadcast_bytes);
    if (st == KILN_OK && kiln__plan_fingerprint(&ctx->mem, target) != fp)
        st = KILN_ERROR(KILN_ERR_STATE,
                        "rank %d built a different lineage than the master "
                        "(every rank must create the same datasets in the "
                        "same order)", ctx->rank);
    return st;
}

/* The master builds a message (st: how that went), everyone receives it and
 * applies it with follow (not called on the master). Agreed throughout. */
static kiln_status broadcast_plan(kiln_context *ctx, kiln__node *target,
                                  kiln_status st, message *m,
                                  kiln_status (*follow)(kiln_context *, kiln__node *,
                                                        const message *))
{
    uint64_t len = ctx->rank == 0 ? m->len : 0;
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        return st;
    if (MPI_Bcast(&len, 1, MPI_UINT64_T, 0, ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "plan broadcast");
    if (len > (uint64_t)INT32_MAX) /* the same verdict everywhere */
        return KILN_ERROR(KILN_ERR_LIMIT, "plan of %llu bytes", (unsigned long long)len);
    if (ctx->rank != 0) {
        m->data = malloc(len ? (size_t)len : 1);
        m->len = m->cap = (size_t)len;
        st = m->data ? KILN_OK : KILN_ERROR(KILN_ERR_NOMEM, "plan message");
    }
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        return st;
    if (MPI_Bcast(m->data, (int)len, MPI_BYTE, 0, ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "plan broadcast");
    if (ctx->rank != 0)
        st = follow(ctx, target, m);
    return kiln__error_agree(ctx, st);
}

/* One side's map stage and exchange into *out. */
static kiln_status shuffle_side(kiln_context *ctx, kiln__node *node, int side,
                                kiln__resident **out)
{
    kiln__shuffle *sh = NULL;
    kiln__stage_totals totals;
    kiln__node *parent = node->parent[side];
    kiln_status st = kiln__shuffle_create(ctx, node, side, &sh);
    st = kiln__error_agree(ctx, st);
    if (st != KILN_OK)
        return st;
    st = kiln__schedule_stage(ctx, parent, 0, parent->nparts,
                              kiln__shuffle_sink(sh), kiln__node_name(node->kind),
                              &totals);
    if (st == KILN_OK) {
        uint64_t sent = 0, all = 0;
        double start = kiln__now();
        st = kiln__shuffle_exchange(sh, out, &sent);
        if (st == KILN_OK &&
            MPI_Reduce(&sent, &all, 1, MPI_UINT64_T, MPI_SUM, 0, ctx->comm) ==
                MPI_SUCCESS)
            kiln__log(ctx, KILN__LOG_DEBUG, "shuffle %s: %llu bytes between ranks "
                      "in %.2f s", kiln__node_name(node->kind),
                      (unsigned long long)all, kiln__now() - start);
    }
    kiln__shuffle_destroy(&sh);
    return st;
}

static const char *join_names[] = {"inner join", "left outer join",
                                   "right outer join", "full outer join",
                                   "cogroup", "subtract_by_key"};

/* Both sides hash-partitioned alike; each partition joined where it lands. */
static kiln_status join_shuffled(kiln_context *ctx, kiln__node *node)
{
    kiln__resident *sides[2] = {NULL, NULL}, *r = NULL;
    kiln__log(ctx, KILN__LOG_INFO, "%s: shuffling both sides into %u partitions",
              join_names[node->u.join.kind], node->nparts);
    kiln_status st = shuffle_side(ctx, node, 0, &sides[0]);
    if (st == KILN_OK)
        st = shuffle_side(ctx, node, 1, &sides[1]);
    if (st != KILN_OK)
        goto done;
    st = kiln__resident_create(&ctx->mem, node->nparts, &r);
    for (uint32_t p = 0; p < node->nparts && st == KILN_OK; p++) {
        r->owner[p] = sides[0]->owner[p];
        if (r->owner[p] != ctx->rank)
            continue;
        kiln__store *s = kiln__mem_alloc(&ctx->mem, sizeof *s);
        if (!s) {
            st = KILN_ERROR(KILN_ERR_NOMEM, "join output");
            break;
        }
        kiln__store_init(s, &ctx->mem, &node->schema);
        r->part[p] = s;
        st = kiln__join_partition(&ctx->mem, node->u.join.kind, sides[0]->part[p],
                                  &node->parent[0]->schema, sides[1]->part[p],
                                  &node->parent[1]->schema, &node->schema, s);
    }
    if (r)
        r->complete = true;
    if ((st = kiln__error_agree(ctx, st)) == KILN_OK) {
        node->shuffled = r;
        r = NULL;
    }
done:
    kiln__resident_destroy(&ctx->mem, &r);
    kiln__resident_destroy(&ctx->mem, &sides[0]);
    kiln__resident_destroy(&ctx->mem, &sides[1]);
    return st;
}

/* The small side is gathered on every rank and indexed; the other side's
 * partitions are joined against it where they are computed, with no
 * shuffle of the large side at all. */
static kiln_status join_broadcast(kiln_context *ctx, kiln__node *node)
{
    int small = node->u.join.strategy == KILN__STRATEGY_BROADCAST_RIGHT ? 1 : 0;
    kiln__node *s = node->parent[small], *big = node->parent[1 - small];
    kiln__block all;
    kiln__store held;
    kiln__join_index ix;
    kiln__resident *r = NULL;
    bool have_ix = false;
    kiln__log(ctx, KILN__LOG_INFO, "%s: broadcasting the %s side (about %llu "
              "bytes, under --kiln-broadcast-bytes); no shuffle of the other",
              join_names[node->u.join.kind], small ? "right" : "left",
              (unsigned long long)s->est_bytes);
    kiln__store_init(&held, &ctx->mem, &s->schema);
    kiln_status st = kiln__block_init(&all, &ctx->mem, &s->schema);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        return st;
    st = kiln__schedule_collect(ctx, s, 0, s->nparts, KILN_ALL_RANKS, SIZE_MAX,
                                "join broadcast", &all);
    if (st != KILN_OK)
        goto done;
    st = kiln__store_adopt(&held, &all);
    if (st == KILN_OK)
        st = kiln__join_index_build(&ctx->mem, &held, &s->schema, small == 1, &ix);
    have_ix = st == KILN_OK;
    kiln__store_release(&held);
    if (st == KILN_OK)
        st = kiln__resident_create(&ctx->mem, node->nparts, &r);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    kiln__join_sink sink;
    kiln__join_sink_init(&sink, &ix, node->u.join.kind, &ctx->mem, &node->schema,
                         r, ctx->rank);
    kiln__stage_totals totals;
    st = kiln__schedule_stage(ctx, big, 0, big->nparts, &sink.base,
                              join_names[node->u.join.kind], &totals);
    /* Every rank learns where each output partition was computed. */
    if (MPI_Allreduce(MPI_IN_PLACE, r->owner, (int)r->nparts, MPI_INT32_T, MPI_MAX,
                      ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "join owners");
    if (st == KILN_OK) {
        r->complete = true;
        node->shuffled = r;
        r = NULL;
    }
done:
    if (have_ix)
        kiln__join_index_release(&ix);
    kiln__block_release(&all);
    kiln__resident_destroy(&ctx->mem, &r);
    return st;
}

static kiln_status run_shuffle(kiln_context *ctx, kiln__node *node)
{
    if (node->kind == KILN__NODE_JOIN)
        return node->u.join.strategy == KILN__STRATEGY_SHUFFLE
                   ? join_shuffled(ctx, node) : join_broadcast(ctx, node);
    return shuffle_side(ctx, node, 0, &node->shuffled);
}

kiln_status kiln__schedule_prepare(kiln_context *ctx, kiln__node *target,
                                   const char *what)
{
    message splits = {0}, stages = {0};
    kiln_status st = KILN_OK;
    (void)what;
    /* 1. The master lists and splits the inputs. */
    if (ctx->rank == 0)
        st = master_splits(ctx, target, &splits);
    if ((st = broadcast_plan(ctx, target, st, &splits, follow_splits)) != KILN_OK)
        goto done;
    /* 2. Resuming: load what was checkpointed (it fixes partition counts). */
    if ((st = kiln__schedule_load_checkpoints(ctx, target)) != KILN_OK)
        goto done;
    /* 3. The master plans the stages; every rank checks its lineage. */
    if (ctx->rank == 0)
        st = master_stages(ctx, target, &stages);
    if ((st = broadcast_plan(ctx, target, st, &stages, follow_stages)) != KILN_OK)
        goto done;
    /* 4. HDF5 sources not in memory yet are read, collectively, into their
     * caches; the stages then find them there. */
    if ((st = kiln__hdf5_load_sources(ctx, target)) != KILN_OK)
        goto done;

    /* Run the shuffles in the master's order. */
    size_t pos = 8;
    uint32_t count = 0;
    get(&stages, &pos, &count, 4); /* validated above or written by us */
    /* For the progress line: a join runs two stages (one per side). */
    uint32_t nstages = 1;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t id = UINT32_MAX;
        size_t at = 12 + 4 * (size_t)i;
        get(&stages, &at, &id, 4);
        kiln__node *n = kiln__plan_find(&ctx->mem, target, id);
        nstages += n && n->kind == KILN__NODE_JOIN ? 2 : 1;
    }
    ctx->running.nstages = nstages;
    for (uint32_t i = 0; i < count && st == KILN_OK; i++) {
        uint32_t id = UINT32_MAX;
        get(&stages, &pos, &id, 4);
        kiln__node *n = kiln__plan_find(&ctx->mem, target, id);
        if (!n) /* impossible after the fingerprint matched */
            kiln__abort(ctx, "planned shuffle not found");
        ctx->in_shuffle = true;
        st = run_shuffle(ctx, n);
        ctx->in_shuffle = false;
        if (st == KILN_OK && ctx->opt.checkpoint == KILN__CHECKPOINT_STAGES)
            st = kiln__schedule_checkpoint(ctx, n);
        if (ctx->signal_pending && !ctx->exiting) /* agreed on every rank */
            kiln__schedule_signal_exit(ctx);
    }
done:
    free(splits.data);
    free(stages.data);
    return st;
}

/* After a stage: every rank learns who holds each cached partition. */
static kiln_status sync_caches(kiln_context *ctx)
{
    kiln_status st = KILN_OK;
    for (kiln__node *n = ctx->nodes; n && st == KILN_OK; n = n->next_live) {
        if (!n->cache_wanted || n->nparts == 0)
            continue;
        if (!n->cache)
            st = kiln__resident_create(&ctx->mem, n->nparts, &n->cache);
        /* Allocation failure here would desynchronise the ranks' lists. */
        if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
            return st;
        KILN_CHECK(st, KILN_MPI(MPI_Allreduce(MPI_IN_PLACE, n->cache->owner,
                                              (int)n->nparts, MPI_INT32_T, MPI_MAX,
                                              ctx->comm)), fail);
        bool complete = true;
        for (uint32_t p = 0; p < n->nparts; p++)
            complete = complete && n->cache->owner[p] >= 0;
        n->cache->complete = complete;
    }
    return st;
fail:
    kiln__abort(ctx, kiln__error_message());
}

kiln_status kiln__schedule_stage(kiln_context *ctx, kiln__node *node,
                                 uint32_t lo, uint32_t hi, kiln__sink *sink,
                                 const char *sink_name,
                                 kiln__stage_totals *totals)
{
    kiln_status st = KILN_OK;
    int32_t *owner = NULL;
    kiln__chain chain;
    kiln__progress progress;
    char what[256];
    kiln__chain_init(&chain);
    memset(totals, 0, sizeof *totals);
    ctx->running.stage++;
    kiln__checkpoint_fail_at(ctx, ++ctx->stages_started);

    /* Placement: tasks over data held on one rank run there. */
    owner = kiln__mem_alloc(&ctx->mem, (hi > lo ? hi - lo : 1) * sizeof *owner);
    if (!owner)
        st = KILN_ERROR(KILN_ERR_NOMEM, "task table");
    for (uint32_t t = lo; t < hi && st == KILN_OK; t++) {
        st = kiln__plan_chain(&ctx->mem, node, t, &chain);
        owner[t - lo] = chain.owner;
    }
    kiln__chain_release(&ctx->mem, &chain);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;

    kiln__plan_describe(&ctx->mem, node, sink_name, what, sizeof what);
    kiln__progress_begin(ctx, &progress, what, ctx->running.stage,
                         ctx->running.nstages, hi - lo);
    kiln__task_stats stats = {0, 0};
    uint64_t tasks_run = 0;
    st = kiln__dispatch_run(ctx, node, lo, hi, owner, sink, &progress, &stats,
                            &tasks_run);
    st = kiln__error_agree(ctx, st);

    /* Totals, and whether a signal asked any rank to checkpoint and leave. */
    uint64_t mine[4] = {tasks_run, stats.records, stats.bytes,
                        kiln__checkpoint_signalled()}, sum[4];
    if (MPI_Allreduce(mine, sum, 4, MPI_UINT64_T, MPI_SUM, ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "stage totals");
    totals->tasks = sum[0];
    totals->records = sum[1];
    totals->bytes = sum[2];
    kiln__progress_end(ctx, &progress, sum[1], sum[2], st == KILN_OK);
    kiln_status synced = sync_caches(ctx);
    if (st == KILN_OK)
        st = synced;
    /* A signal arrived: leave now, or, in a shuffle's map stage, once its
     * exchange is done (run_shuffles checks), so the work is not lost. */
    if (sum[3] && !ctx->exiting) {
        if (ctx->in_shuffle)
            ctx->signal_pending = true;
        else
            kiln__schedule_signal_exit(ctx);
    }
done:
    kiln__mem_free(&ctx->mem, owner);
    return st;
}
