/* runtime/shuffle.h: moving records to the rank that owns their partition.
 * Owns:     one shuffle's map-side state (per-partition combine tables or
 *           buffers, per-destination send queues), the exchange rounds and
 *           the receive side that builds the wide node's output partitions.
 * Uses:     storage (blocks, tables, group), execute (reduce operators),
 *           the context's communicator.
 * Must not: touch files, decide which tasks run where (schedule), or keep
 *           state between shuffles.
 * Modes: reduce_by_key and distinct fold into per-partition tables;
 * group_by_key, partition_by, repartition and each side of a join append
 * records to per-partition blocks (placed by key hash, or round robin);
 * sort and partition_by RANGE hold their records until range.c has chosen
 * splitters, then place them.
 * Partition p of a shuffle's output lives on rank p % nranks. Records for
 * this rank never touch MPI or the wire format: a reduce table built on the
 * map side simply becomes the output (at one rank, a shuffle copies
 * nothing). Remote records go in rounds of MPI_Alltoallv, each rank sending
 * at most --kiln-round-bytes per round, freeing what it sent, and merging
 * what it received at once, so a shuffle never holds its data twice. */
#ifndef KILN_RUNTIME_SHUFFLE_H
#define KILN_RUNTIME_SHUFFLE_H

#include "runtime/execute.h"
#include "runtime/node.h"

typedef struct kiln__shuffle kiln__shuffle;

static inline int kiln__shuffle_owner(uint32_t partition, int nranks)
{
    return (int)(partition % (uint32_t)nranks);
}

/* A shuffle for wide node `node`: the tasks of its parent number `side`
 * (0, or 1 for a join's second input) feed the sink. */
kiln_status kiln__shuffle_create(kiln_context *ctx, kiln__node *node, int side,
                                 kiln__shuffle **out);
/* The sink map tasks write into. Owned by the shuffle. */
kiln__sink *kiln__shuffle_sink(kiln__shuffle *sh);
/* Collective: exchange, then build node's output partitions into *out (owned
 * by the caller). *bytes_sent: bytes this rank sent to other ranks. Every
 * rank returns the same status. */
kiln_status kiln__shuffle_exchange(kiln__shuffle *sh, kiln__resident **out,
                                   uint64_t *bytes_sent);
void kiln__shuffle_destroy(kiln__shuffle **sh);

#endif
