/* runtime/persist.c: when checkpoints are written and loaded (schedule
 * module; the format is checkpoint.c's).
 *
 * Every checkpoint of a node is named "node-<id>": node ids follow the
 * order datasets are made in, which a rerun of the same job repeats, and
 * the signature (checkpoint_sig.c) catches a changed lineage or input. The
 * master computes the signature (it stats the input files) and broadcasts
 * it; reading and writing are collective. */
#include <stdio.h>
#include <stdlib.h>

#include "runtime/checkpoint.h"
#include "runtime/io.h"
#include "runtime/error.h"
#include "runtime/log.h"
#include "runtime/schedule.h"

static uint64_t signature_of(kiln_context *ctx, kiln__node *node)
{
    uint64_t sig = ctx->rank == 0 ? kiln__checkpoint_signature(&ctx->mem, node) : 0;
    if (MPI_Bcast(&sig, 1, MPI_UINT64_T, 0, ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "checkpoint signature");
    return sig;
}

static void name_of(const kiln__node *node, char *buf, size_t size)
{
    snprintf(buf, size, "node-%u", node->id);
}

static bool complete(const kiln__resident *r)
{
    return r && r->complete;
}

/* A store sink that also notes which partitions ran on this rank. Its
 * base is overwritten with the noting functions, so the store sink's own
 * are kept in `store` and called from there (calling through inner.base
 * would call the noting function again, forever). */
typedef struct noting_sink {
    kiln__store_sink inner;
    kiln__sink store;    /* the store sink's functions, as init set them */
    int32_t *owner;
    int rank;
} noting_sink;

static kiln_status noting_begin(kiln__sink *s, uint32_t p)
{
    noting_sink *n = (noting_sink *)s;
    n->owner[p] = n->rank;
    return n->store.begin(&n->inner.base, p);
}

static kiln_status noting_consume(kiln__sink *s, const kiln_batch *b, bool *stop)
{
    noting_sink *n = (noting_sink *)s;
    return n->store.consume(&n->inner.base, b, stop);
}

static kiln_status noting_end(kiln__sink *s, uint32_t p, bool ok)
{
    noting_sink *n = (noting_sink *)s;
    return n->store.end(&n->inner.base, p, ok);
}

kiln_status kiln__schedule_materialize(kiln_context *ctx, kiln__node *node,
                                       kiln__resident **out, bool *owned)
{
    *owned = false;
    if (complete(node->cache)) {
        *out = node->cache;
        return KILN_OK;
    }
    if (kiln__node_is_wide(node) && complete(node->shuffled)) {
        *out = node->shuffled;
        return KILN_OK;
    }
    kiln_status st = kiln__schedule_prepare(ctx, node, "materialize");
    if (st != KILN_OK)
        return st;
    /* Preparing a wide node ran its shuffle (or loaded it): that output is
     * the data, no second copy needed. */
    if (kiln__node_is_wide(node) && complete(node->shuffled)) {
        *out = node->shuffled;
        return KILN_OK;
    }
    uint32_t np = node->nparts;
    kiln__store *parts = kiln__store_array_new(&ctx->mem, &node->schema, np);
    kiln__resident *r = NULL;
    st = parts ? kiln__resident_create(&ctx->mem, np, &r)
               : KILN_ERROR(KILN_ERR_NOMEM, "materialize");
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    noting_sink sink;
    kiln__store_sink_init(&sink.inner, parts, 0, SIZE_MAX);
    sink.store = sink.inner.base;
    /* The noting sink is laid out with the store sink first. */
    sink.inner.base = (kiln__sink){noting_begin, noting_consume, noting_end, NULL};
    sink.owner = r->owner;
    sink.rank = ctx->rank;
    kiln__stage_totals totals;
    st = kiln__schedule_stage(ctx, node, 0, np, &sink.inner.base, "materialize",
                              &totals);
    bool *mine = kiln__mem_calloc(&ctx->mem, np ? np : 1, 1);
    for (uint32_t p = 0; mine && p < np; p++)
        mine[p] = r->owner[p] == ctx->rank;
    if (MPI_Allreduce(MPI_IN_PLACE, r->owner, (int)np, MPI_INT32_T, MPI_MAX,
                      ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "materialize owners");
    if (st == KILN_OK && !mine)
        st = KILN_ERROR(KILN_ERR_NOMEM, "materialize");
    for (uint32_t p = 0; st == KILN_OK && p < np; p++) {
        if (!mine[p])
            continue;
        kiln__store *s = kiln__mem_alloc(&ctx->mem, sizeof *s);
        if (!s) {
            st = KILN_ERROR(KILN_ERR_NOMEM, "materialize");
            break;
        }
        *s = parts[p];
        kiln__store_init(&parts[p], &ctx->mem, &node->schema);
        r->part[p] = s;
    }
    kiln__mem_free(&ctx->mem, mine);
    if ((st = kiln__error_agree(ctx, st)) == KILN_OK) {
        r->complete = true;
        *out = r;
        *owned = true;
        r = NULL;
    }
done:
    kiln__store_array_free(&ctx->mem, parts, np);
    kiln__resident_destroy(&ctx->mem, &r);
    return st;
}

kiln_status kiln__schedule_checkpoint(kiln_context *ctx, kiln__node *node)
{
    kiln__resident *r = NULL;
    bool owned = false;
    char name[64];
    name_of(node, name, sizeof name);
    kiln_status st = kiln__schedule_materialize(ctx, node, &r, &owned);
    if (st != KILN_OK)
        return st;
    st = kiln__checkpoint_write(ctx, name, &node->schema, r, signature_of(ctx, node));
    if (owned) { /* keep what was computed: later actions read it */
        kiln__resident_destroy(&ctx->mem, &node->cache);
        node->cache = r;
        node->cache_wanted = true;
    }
    return st;
}

static bool candidate(const kiln_context *ctx, const kiln__node *n)
{
    return n->checkpoint_wanted || n->live ||
           (kiln__node_is_wide(n) && ctx->opt.checkpoint == KILN__CHECKPOINT_STAGES);
}

/* Load node-<id> into the node; *loaded when it was there and sound. */
static kiln_status try_load(kiln_context *ctx, kiln__node *node, bool *loaded)
{
    char name[64];
    kiln__resident *r = NULL;
    kiln_schema schema;
    name_of(node, name, sizeof name);
    *loaded = false;
    kiln_status st = kiln__checkpoint_read(ctx, name, &node->schema,
                                           signature_of(ctx, node), &r, &schema,
                                           loaded);
    if (st != KILN_OK || !*loaded)
        return st;
    /* The checkpoint's partition count stands: it was chosen for the rank
     * count of the run that wrote it, and what follows is planned from it. */
    node->nparts = r->nparts;
    node->from_checkpoint = true;
    if (kiln__node_is_wide(node)) {
        kiln__resident_destroy(&ctx->mem, &node->shuffled);
        node->shuffled = r;
    } else {
        kiln__resident_destroy(&ctx->mem, &node->cache);
        node->cache = r;
        node->cache_wanted = true;
    }
    return KILN_OK;
}

kiln_status kiln__schedule_load_checkpoints(kiln_context *ctx, kiln__node *target)
{
    if (!ctx->opt.resume)
        return KILN_OK;
    /* Top-down, every rank in the same order; a loaded node's parents are
     * not visited, so nothing below it is read or computed. */
    size_t cap = 64, n = 0;
    kiln__node **todo = malloc(cap * sizeof *todo);
    bool *seen = calloc(ctx->next_node_id + 1, 1);
    kiln_status st = todo && seen ? KILN_OK : KILN_ERROR(KILN_ERR_NOMEM, "resume");
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    todo[n++] = target;
    seen[target->id] = true;
    while (n && st == KILN_OK) {
        kiln__node *node = todo[--n];
        if (complete(node->cache) ||
            (kiln__node_is_wide(node) && complete(node->shuffled)))
            continue;
        bool loaded = false;
        if (candidate(ctx, node) && (st = try_load(ctx, node, &loaded)) != KILN_OK)
            break;
        if (loaded)
            continue;
        for (int p = node->nparents - 1; p >= 0; p--) {
            kiln__node *q = node->parent[p];
            if (seen[q->id])
                continue;
            seen[q->id] = true;
            if (n == cap) {
                kiln__node **t = realloc(todo, 2 * cap * sizeof *t);
                if (!t) /* same everywhere only by luck: agree below */
                    break;
                todo = t;
                cap *= 2;
            }
            todo[n++] = q;
        }
    }
    st = kiln__error_agree(ctx, st);
done:
    free(todo);
    free(seen);
    return st;
}

_Noreturn void kiln__schedule_signal_exit(kiln_context *ctx)
{
    ctx->exiting = true;
    kiln__log(ctx, KILN__LOG_WARN, "signal received: stage finished; "
              "checkpointing live datasets, then exiting with %d "
              "(resubmit with --kiln-resume)", KILN_EXIT_RESUBMIT);
    kiln_status st = KILN_OK;
    for (kiln__node *n = ctx->nodes; n && st == KILN_OK; n = n->next_live)
        if (n->live)
            st = kiln__schedule_checkpoint(ctx, n);
    if (st != KILN_OK)
        kiln__log(ctx, KILN__LOG_ERROR, "checkpoint on signal failed: %s",
                  ctx->last_error);
    /* An output cut short never looks complete: remove what was written. */
    if (ctx->rank == 0 && ctx->unfinished[0])
        kiln__output_abort(ctx->unfinished);
    kiln__schedule_leave_resubmit(ctx, st);
}

_Noreturn void kiln__schedule_leave_resubmit(kiln_context *ctx, kiln_status st)
{
    fflush(stdout);
    fflush(stderr);
    MPI_Barrier(ctx->comm);
    if (ctx->owns_mpi)
        MPI_Finalize();
    exit(st == KILN_OK ? KILN_EXIT_RESUBMIT : 1);
}
