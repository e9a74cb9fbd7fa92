/* runtime/context.h: the state of one Kiln context.
 * Owns:     the private communicators, options, memory accountant, the
 *           registry of live dataset nodes and accumulators, and the state of
 *           the action in progress. Everything mutable hangs off this struct:
 *           Kiln may live twice in one process.
 * Uses:     options, mem, error.
 * Must not: hold per-stage buffers (execute and shuffle own those).
 * Public entry points bracket their work with kiln__api_begin/end so that
 * kiln_context_last_error() always describes the last failed call. */
#ifndef KILN_RUNTIME_CONTEXT_H
#define KILN_RUNTIME_CONTEXT_H

#include "kiln.h"
#include "runtime/error.h"
#include "runtime/mem.h"
#include "runtime/options.h"

typedef struct kiln__node kiln__node;
typedef struct kiln__acc_registry kiln__acc_registry;

/* What the action in progress is doing on this rank; accumulators read it to
 * file their additions under the running task. */
typedef struct kiln__running {
    bool in_task;          /* a task's callbacks may be running */
    uint32_t stage;        /* stage number within the action (1-based) */
    uint32_t nstages;      /* stages the action runs (for progress) */
    uint32_t partition;    /* partition of the running task */
} kiln__running;

struct kiln_context {
    MPI_Comm comm;         /* collectives; a private duplicate */
    MPI_Comm p2p;          /* scheduler messages; a second duplicate */
    int rank, nranks;
    bool owns_mpi;         /* kiln_init() called MPI_Init; finalize ends it */
    kiln__options opt;
    kiln__mem mem;
    uint32_t next_node_id; /* the same sequence on every rank (SPMD) */
    uint64_t plan_marks;   /* plan: last mark handed to a lineage walk */
    kiln__node *nodes;     /* every live node, to release at finalize */
    uint64_t actions;      /* actions run so far */
    char job_id[40];       /* the master's, broadcast: names temporary files */
    char last_error[KILN__ERROR_MAX + 64];
    int failed_rank;
    kiln__running running;
    uint64_t stages_started; /* every stage of the job so far (--kiln-fail-at) */
    bool exiting;            /* checkpointing on a signal: no second round */
    bool in_shuffle;         /* a shuffle's map stage runs: leaving on a
                                signal waits until its exchange is done */
    bool signal_pending;     /* a signal was agreed while in_shuffle */
    char unfinished[4300];   /* master: output being written (a staging
                                directory or temporary file) that a signal
                                exit must remove; "" when none */
    kiln_accumulator *accumulators; /* creation order, same on every rank */
    bool progress_tty;     /* master: live progress line on a terminal */
};

/* Start and end a public call: clear the trace; on failure make sure the
 * context holds a message. Returns st. */
void kiln__api_begin(kiln_context *ctx);
kiln_status kiln__api_end(kiln_context *ctx, kiln_status st);

#endif
