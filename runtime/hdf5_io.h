/* runtime/hdf5_io.h: HDF5 input and output (the io module).
 * Owns:     kiln_hdf5_read() (the master describes the dataset, every rank
 *           makes the same KILN__NODE_HDF5 node), the collective load that
 *           fills an HDF5 node's cache when an action first needs it, and
 *           kiln_dataset_save_hdf5() (a parallel-HDF5 file written under a
 *           temporary name, renamed into place by the master); the
 *           translation of HDF5 failures into KILN_ERROR messages that name
 *           the file and the dataset.
 * Uses:     plan (the lineage walk, nodes and their caches), schedule (to
 *           compute what save_hdf5 writes), storage (partition stores),
 *           h5zstd (filter 32015), parallel HDF5 over the context's
 *           communicator.
 * Must not: call user code, decide task placement, or be included by
 *           modules other than io, schedule (the load hook), checkpoint
 *           and ml (which reads /y by the same partition rows);
 *           only io and checkpoint include <hdf5.h>, and this header does
 *           not.
 * Unlike the text readers, everything here is collective: parallel HDF5
 * opens, creates, reads and writes files together over ctx->comm, so every
 * rank calls these functions, in the same order, and every one returns the
 * status all ranks agreed on (kiln__error_agree), never a local one.
 *
 * Partitions of an HDF5 source: partition p of P over N rows holds rows
 * [p*N/P, (p+1)*N/P) and lives on rank p % nranks, like a shuffle's output.
 * The node's u.h5.type_class holds the kiln_kind of its values (U64, I64,
 * F64 or FIXED). */
#ifndef KILN_RUNTIME_HDF5_IO_H
#define KILN_RUNTIME_HDF5_IO_H

#include "runtime/node.h"

/* Read every HDF5 source in target's lineage that an action still needs and
 * whose cache is missing or incomplete: one collective parallel read per
 * source, each rank reading the rows of the partitions it owns into that
 * node's cache (complete, owners p % nranks, cache_wanted set so it stays).
 * Called by kiln__schedule_prepare() after the plan is agreed, before any
 * stage runs. Collective; the status is agreed. */
kiln_status kiln__hdf5_load_sources(kiln_context *ctx, kiln__node *target);

/* First row of partition p of nparts over rows rows: p * rows / nparts,
 * computed without overflow. p == nparts gives rows. */
static inline uint64_t kiln__hdf5_part_start(uint64_t rows, uint32_t nparts,
                                             uint32_t p)
{
    uint64_t q = rows / nparts, r = rows % nparts;
    return q * p + r * p / nparts;
}

#endif
