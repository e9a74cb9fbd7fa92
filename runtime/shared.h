/* runtime/shared.h: broadcast variables and accumulators.
 * Owns:     the broadcast buffers and every accumulator's merged value and
 *           its per-task additions during an action.
 * Uses:     the context's communicator and running-task state.
 * Must not: run during a task except kiln_accumulator_add(), which only
 *           writes this rank's memory.
 * Accumulator additions are filed under (stage, partition) while an action
 * runs; at its end every rank gathers all of them and folds them in that
 * order, so the value (a floating-point sum too) does not depend on which
 * rank ran which task. */
#ifndef KILN_RUNTIME_SHARED_H
#define KILN_RUNTIME_SHARED_H

#include "runtime/context.h"

/* Collective; called at the end of every action, success or not. */
kiln_status kiln__accumulators_merge(kiln_context *ctx);
/* Release every accumulator's memory at finalize (handles stay valid to
 * destroy). */
void kiln__accumulators_orphan_all(kiln_context *ctx);

#endif
