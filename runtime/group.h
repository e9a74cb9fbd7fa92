/* runtime/group.h: turning a partition's records into (key, LIST of values)
 * records (storage module).
 * Owns:     nothing beyond the call: temporary tables are freed on return.
 * Uses:     htable, store.
 * Must not: call user code. */
#ifndef KILN_RUNTIME_GROUP_H
#define KILN_RUNTIME_GROUP_H

#include "runtime/store.h"

/* Append to `out` (schema out_schema: the key, then a LIST of in's values)
 * one record per distinct key of `in`, in first-seen order; each list keeps
 * the values' order in `in`. */
kiln_status kiln__group_store(kiln__mem *mem, const kiln__store *in,
                              const kiln_schema *out_schema, kiln__store *out);

#endif
