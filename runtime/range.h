/* runtime/range.h: range partitioning for sort and partition_by RANGE
 * (shuffle module).
 * Owns:     the records a rank's map tasks produced, held until the
 *           splitters are known; each task's sample; the splitters.
 * Uses:     order, sort (to order samples), block/store, the context's
 *           communicator (gathering samples, broadcasting splitters).
 * Must not: exchange records (shuffle does) or call user code except
 *           through order.
 * A task's sample is its records with the smallest hashes of their bytes,
 * a fixed number per task: the same records are sampled whichever rank
 * runs the task and in whatever order its records arrive. Splitters are records (key and value), so a key
 * shared by many records is split across partitions by value. */
#ifndef KILN_RUNTIME_RANGE_H
#define KILN_RUNTIME_RANGE_H

#include "runtime/context.h"
#include "runtime/order.h"
#include "runtime/store.h"

typedef struct kiln__range kiln__range;

kiln_status kiln__range_create(kiln__mem *mem, const kiln_schema *schema,
                               const kiln__order *order, uint32_t nparts_in,
                               uint32_t nparts_out, kiln__range **out);
void kiln__range_destroy(kiln__range **r);

/* The map side: a task's records are held and sampled. */
kiln_status kiln__range_begin(kiln__range *r, uint32_t task);
kiln_status kiln__range_hold(kiln__range *r, const kiln_batch *b);
kiln_status kiln__range_end(kiln__range *r);

/* Collective: the master gathers every rank's samples, sorts them and picks
 * nparts_out - 1 splitters, which every rank receives. Agrees on the status. */
kiln_status kiln__range_splitters(kiln__range *r, kiln_context *ctx);

/* Hand every held record to put() with its partition, task by task in
 * order, releasing held memory as it goes. */
typedef kiln_status (*kiln__range_put)(void *arg, uint32_t partition,
                                       const kiln_batch *b, size_t i);
kiln_status kiln__range_place(kiln__range *r, kiln__range_put put, void *arg);

#endif
