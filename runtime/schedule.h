/* runtime/schedule.h: what runs where, and in which order.
 * Owns:     the master's side of every action: splitting inputs, planning
 *           the lineage, broadcasting both; the order of stages; handing
 *           tasks out (dynamic pull for tasks any rank can run, fixed
 *           placement for tasks over data held on one rank); the sync point
 *           that ends each stage.
 * Uses:     plan, execute, shuffle, io (splitting), the context's
 *           communicators.
 * Must not: call user code (execute does) or move records (shuffle does).
 * Every function here is collective over the context. */
#ifndef KILN_RUNTIME_SCHEDULE_H
#define KILN_RUNTIME_SCHEDULE_H

#include "runtime/execute.h"

/* Totals of one stage over every rank. */
typedef struct kiln__stage_totals {
    uint64_t tasks, records, bytes;
} kiln__stage_totals;

/* Start an action on target: the master splits unsplit text inputs and
 * plans; every rank checks it built the same lineage, then every shuffle the
 * target needs is run. `what` names the action in logs. */
kiln_status kiln__schedule_prepare(kiln_context *ctx, kiln__node *target,
                                   const char *what);

/* Run partitions [lo, hi) of node into sink: one stage. Ends with the sync
 * point (agreed status, summed totals, cache owners). */
kiln_status kiln__schedule_stage(kiln_context *ctx, kiln__node *node,
                                 uint32_t lo, uint32_t hi, kiln__sink *sink,
                                 const char *sink_name,
                                 kiln__stage_totals *totals);

/* Gather the records held in parts[0 .. hi - lo) (partitions lo..hi - 1, only
 * those computed here non-empty) to root or every rank, appended to into in
 * partition order, at most limit in all. */
kiln_status kiln__schedule_gather(kiln_context *ctx, const kiln_schema *schema,
                                  kiln__store *parts, uint32_t lo, uint32_t hi,
                                  int root, size_t limit, kiln__block *into);

/* Run partitions [lo, hi) of n, keeping at most `limit` records of each,
 * and append them in partition order to `into` on root (KILN_ALL_RANKS:
 * on every rank). More than 2 GiB in all is KILN_ERR_LIMIT. */
kiln_status kiln__schedule_collect(kiln_context *ctx, kiln__node *n, uint32_t lo,
                                   uint32_t hi, int root, size_t limit,
                                   const char *name, kiln__block *into);

/* ---- checkpoints (persist.c) ---- */

/* node's partitions as held data: a complete cache or shuffle output if
 * there is one (*owned false), else computed now into stores on the ranks
 * that ran them (*owned true; the caller keeps or destroys it). */
kiln_status kiln__schedule_materialize(kiln_context *ctx, kiln__node *node,
                                       kiln__resident **out, bool *owned);
/* Write node as checkpoint "node-<id>" (computing it if needed, and then
 * keeping it as its cache). */
kiln_status kiln__schedule_checkpoint(kiln_context *ctx, kiln__node *node);
/* With --kiln-resume: walk the lineage from target down and load the
 * checkpoint of every candidate (checkpointed, live, or any shuffle with
 * --kiln-checkpoint=stages) that has a valid one, so nothing below it is
 * computed. Before partition counts are settled. */
kiln_status kiln__schedule_load_checkpoints(kiln_context *ctx, kiln__node *target);
/* A signal arrived on some rank (agreed): checkpoint live datasets, then
 * leave with KILN_EXIT_RESUBMIT on every rank. Never returns. */
_Noreturn void kiln__schedule_signal_exit(kiln_context *ctx);
/* Leave after a signal's checkpoint (st: how it went), together: output
 * flushed, every rank at a barrier, MPI finalized when Kiln started it;
 * exit status KILN_EXIT_RESUBMIT, or 1 when the checkpoint failed.
 * Collective. Never returns. */
_Noreturn void kiln__schedule_leave_resubmit(kiln_context *ctx, kiln_status st);

#endif
