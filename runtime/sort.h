/* runtime/sort.h: sorting a partition held in memory (storage module).
 * Owns:     nothing beyond the call (temporary index arrays).
 * Uses:     order, store, block.
 * Must not: communicate. Calls user compare functions through order only.
 * Records are sorted by index: an array of (64-bit key prefix, record
 * reference) is radix-sorted (least significant byte first, skipping bytes
 * that are the same in every record), runs of equal prefixes are finished
 * by comparison, then the records are copied once in their final order.
 * Without a usable prefix (a user compare function) the index is sorted by
 * comparison alone. */
#ifndef KILN_RUNTIME_SORT_H
#define KILN_RUNTIME_SORT_H

#include "runtime/order.h"
#include "runtime/store.h"

/* Append every record of `in`, sorted by o, to `out` (same schema). */
kiln_status kiln__sort_store(kiln__mem *mem, const kiln__store *in,
                             const kiln__order *o, kiln__store *out);

#endif
