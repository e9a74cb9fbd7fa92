/* runtime/dispatch.h: the task handout protocol of one stage (schedule
 * module; see dispatch.c for the protocol).
 * Owns:     the request/assign messages on the context's p2p communicator.
 * Uses:     execute (runs each task), log (master's progress line).
 * Must not: be called outside kiln__schedule_stage(), which agrees on the
 *           outcome afterwards. */
#ifndef KILN_RUNTIME_DISPATCH_H
#define KILN_RUNTIME_DISPATCH_H

#include "runtime/execute.h"
#include "runtime/log.h"

/* Run tasks [lo, hi) of node: owner[t - lo] >= 0 pins task t to that rank,
 * -1 lets any rank pull it. Returns this rank's task status (not agreed);
 * stats and tasks_run are this rank's. Collective. */
kiln_status kiln__dispatch_run(kiln_context *ctx, kiln__node *node, uint32_t lo,
                               uint32_t hi, const int32_t *owner,
                               kiln__sink *sink, kiln__progress *progress,
                               kiln__task_stats *stats, uint64_t *tasks_run);

#endif
