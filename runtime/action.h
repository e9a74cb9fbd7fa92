/* runtime/action.h: the bracket every public action runs in (actions).
 * Owns:     nothing; declares how an action starts (argument and context
 *           checks, stage counters) and ends (accumulators merged, the
 *           context's last error set), so actions written outside action.c
 *           (save_hdf5 in hdf5_write.c, the checkpoint calls in
 *           action_checkpoint.c) behave exactly like those inside.
 * Uses:     context, shared (the accumulator merge).
 * Must not: be included by anything but the files that define public
 *           actions. */
#ifndef KILN_RUNTIME_ACTION_H
#define KILN_RUNTIME_ACTION_H

#include "runtime/node.h"

/* KILN_ERR_INVAL for NULL, KILN_ERR_STATE after kiln_finalize(); on
 * KILN_OK *ctx is ds's context and the action has begun. Not collective. */
kiln_status kiln__action_begin(kiln_dataset *ds, kiln_context **ctx);
/* Every action that began ends here, on every rank, whatever happened.
 * Collective (the accumulator merge). Returns the final status. */
kiln_status kiln__action_end(kiln_context *ctx, kiln_status st);

#endif
