/* runtime/dispatch.c: handing a stage's tasks to ranks (schedule module).
 *
 * Tasks over data held on one rank (shuffle outputs, cached partitions) run
 * there. All others are pulled: a worker sends the master a request (which
 * also reports its last task's outcome) and blocks in MPI_Recv for the next
 * task index, -1 meaning "no more". The master, itself a worker unless
 * --kiln-master-works=no, answers pending requests between its own batches
 * (MPI_Iprobe, a few hundred ns) and blocks in MPI_Recv once it has nothing
 * left to run. Nobody spins in user space; a slow or skewed task only
 * delays the rank running it.
 *
 * Failure: a failed task stops its rank from taking more; its next request
 * carries the status, after which the master hands out no more tasks. Every
 * worker is always answered, so every rank reaches the stage's sync point. */
#include <stdlib.h>

#include "runtime/dispatch.h"
#include "runtime/error.h"
#include "runtime/log.h"

enum { TAG_REQUEST = 101, TAG_ASSIGN = 102 };

typedef struct request {
    int64_t status;     /* the sender's worst status so far */
    int64_t tasks;      /* tasks finished since its last request */
    int64_t records, bytes;
} request;

typedef struct dispatch {
    kiln_context *ctx;
    kiln__node *node;
    kiln__sink *sink;
    const int32_t *owner; /* per task in [lo, hi): a rank, or -1 for any */
    uint32_t lo, hi;
    /* master only */
    uint32_t next_free;   /* next pullable task to hand out (index) */
    int answered;         /* workers told "no more" */
    bool stop;            /* a failure was reported: hand out nothing more */
    kiln__progress *progress;
    /* this rank */
    kiln_status status;
    int64_t unreported_tasks;
    kiln__task_stats stats, reported;
    uint64_t tasks_run;
} dispatch;

static int64_t next_free_task(dispatch *d)
{
    while (d->next_free < d->hi && d->owner[d->next_free - d->lo] >= 0)
        d->next_free++;
    return d->next_free < d->hi ? (int64_t)d->next_free++ : -1;
}

static kiln_status answer(dispatch *d, int worker, const request *req)
{
    kiln_context *ctx = d->ctx;
    if (req->status != KILN_OK)
        d->stop = true;
    d->progress->tasks_done += (uint64_t)req->tasks;
    d->progress->records += (uint64_t)req->records;
    d->progress->bytes += (uint64_t)req->bytes;
    int64_t task = d->stop ? -1 : next_free_task(d);
    if (task < 0)
        d->answered++;
    return KILN_MPI(MPI_Send(&task, 1, MPI_INT64_T, worker, TAG_ASSIGN, ctx->p2p));
}

/* Master: answer every request already waiting. */
static kiln_status serve_pending(void *arg)
{
    dispatch *d = arg;
    kiln_context *ctx = d->ctx;
    for (;;) {
        int flag = 0;
        MPI_Status ms;
        kiln_status st = KILN_MPI(MPI_Iprobe(MPI_ANY_SOURCE, TAG_REQUEST, ctx->p2p,
                                             &flag, &ms));
        if (st != KILN_OK || !flag)
            return st;
        request req;
        st = KILN_MPI(MPI_Recv(&req, 4, MPI_INT64_T, ms.MPI_SOURCE, TAG_REQUEST,
                               ctx->p2p, MPI_STATUS_IGNORE));
        if (st == KILN_OK)
            st = answer(d, ms.MPI_SOURCE, &req);
        if (st != KILN_OK)
            return st;
        kiln__progress_update(ctx, d->progress);
    }
}

static void run_one(dispatch *d, uint32_t task, const kiln__poll *poll)
{
    if (d->status != KILN_OK)
        return;
    kiln__task_stats before = d->stats;
    d->status = kiln__execute_task(d->ctx, d->node, task, d->sink, poll, &d->stats);
    d->tasks_run++;
    d->unreported_tasks++;
    if (d->ctx->rank == 0) {
        d->progress->tasks_done++;
        d->progress->records += d->stats.records - before.records;
        d->progress->bytes += d->stats.bytes - before.bytes;
        kiln__progress_update(d->ctx, d->progress);
    }
}

static void run_fixed(dispatch *d, const kiln__poll *poll)
{
    for (uint32_t t = d->lo; t < d->hi && d->status == KILN_OK; t++)
        if (d->owner[t - d->lo] == d->ctx->rank)
            run_one(d, t, poll);
}

static kiln_status master_loop(dispatch *d, bool any_free)
{
    kiln_context *ctx = d->ctx;
    kiln__poll poll = {serve_pending, d};
    kiln_status mpi = KILN_OK;
    run_fixed(d, any_free && ctx->nranks > 1 ? &poll : NULL);
    if (!any_free)
        return KILN_OK;
    bool works = ctx->opt.master_works || ctx->nranks == 1;
    while (mpi == KILN_OK) {
        if (d->status != KILN_OK)
            d->stop = true;
        if ((mpi = serve_pending(d)) != KILN_OK)
            break;
        int64_t task = works && !d->stop ? next_free_task(d) : -1;
        if (task >= 0) {
            run_one(d, (uint32_t)task, ctx->nranks > 1 ? &poll : NULL);
            continue;
        }
        if (d->answered == ctx->nranks - 1)
            break;
        /* Nothing left to run here: block until a worker asks. */
        request req;
        MPI_Status ms;
        mpi = KILN_MPI(MPI_Recv(&req, 4, MPI_INT64_T, MPI_ANY_SOURCE, TAG_REQUEST,
                                ctx->p2p, &ms));
        if (mpi == KILN_OK)
            mpi = answer(d, ms.MPI_SOURCE, &req);
    }
    return mpi;
}

static kiln_status worker_loop(dispatch *d, bool any_free)
{
    kiln_context *ctx = d->ctx;
    run_fixed(d, NULL);
    if (!any_free)
        return KILN_OK;
    for (;;) {
        request req = {d->status, d->unreported_tasks,
                       (int64_t)(d->stats.records - d->reported.records),
                       (int64_t)(d->stats.bytes - d->reported.bytes)};
        d->unreported_tasks = 0;
        d->reported = d->stats;
        kiln_status st = KILN_MPI(MPI_Send(&req, 4, MPI_INT64_T, 0, TAG_REQUEST,
                                           ctx->p2p));
        int64_t task = -1;
        if (st == KILN_OK)
            st = KILN_MPI(MPI_Recv(&task, 1, MPI_INT64_T, 0, TAG_ASSIGN, ctx->p2p,
                                   MPI_STATUS_IGNORE));
        if (st != KILN_OK)
            return st;
        if (task < 0)
            return KILN_OK;
        run_one(d, (uint32_t)task, NULL);
    }
}

kiln_status kiln__dispatch_run(kiln_context *ctx, kiln__node *node, uint32_t lo,
                               uint32_t hi, const int32_t *owner,
                               kiln__sink *sink, kiln__progress *progress,
                               kiln__task_stats *stats, uint64_t *tasks_run)
{
    dispatch d = {.ctx = ctx, .node = node, .sink = sink, .owner = owner,
                  .lo = lo, .hi = hi, .next_free = lo, .progress = progress,
                  .status = KILN_OK};
    bool any_free = false;
    for (uint32_t t = lo; t < hi && !any_free; t++)
        any_free = owner[t - lo] < 0;
    kiln_status mpi = ctx->rank == 0 ? master_loop(&d, any_free)
                                     : worker_loop(&d, any_free);
    if (mpi != KILN_OK) /* the protocol itself broke: nothing can be agreed */
        kiln__abort(ctx, kiln__error_message());
    *stats = d.stats;
    *tasks_run = d.tasks_run;
    return d.status;
}
