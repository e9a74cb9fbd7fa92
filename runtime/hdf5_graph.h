/* runtime/hdf5_graph.h: HDF5 edge lists in and column files out, for the
 * graph module (io module).
 * Owns:     reading /src, /dst and /weight of one file into held
 *           partitions; writing records as several 1-D datasets of one
 *           file (the graph layer's kiln_graph_save_hdf5).
 * Uses:     parallel HDF5 over the context's communicator, schedule (to
 *           compute what is written), storage.
 * Must not: be included by anything but the graph module; it does not
 *           include <hdf5.h>. Everything here is collective and returns
 *           the status every rank agreed on. */
#ifndef KILN_RUNTIME_HDF5_GRAPH_H
#define KILN_RUNTIME_HDF5_GRAPH_H

#include "kiln_graph.h"
#include "runtime/node.h"

/* Read the edges of `path`: 1-D integer datasets /src and /dst of equal
 * length (ids; negative values of a signed type are refused) and, when
 * want_weight and the file has one, /weight (numbers, as doubles). Rows
 * are cut into nparts partitions like kiln_hdf5_read()'s; partition p is
 * built on rank p % nranks as records (U64 src, U64 dst), or (U64 src,
 * FIXED(16) {dst, weight}) when *weighted is set on return. *out (owned by
 * the caller) is complete. */
kiln_status kiln__hdf5_graph_read(kiln_context *ctx, const char *path,
                                  bool want_weight, uint32_t nparts,
                                  kiln__resident **out, bool *weighted);

/* Compute `node` and write its records as ncols 1-D datasets of one new
 * file: column 0 from the key (8 bytes), column c > 0 from bytes
 * [8 (c - 1), 8 c) of the value. Written under a temporary name and
 * renamed into place by the master once every rank succeeded. */
kiln_status kiln__hdf5_graph_write(kiln_context *ctx, kiln__node *node,
                                   const char *path, const kiln_graph_column *cols,
                                   size_t ncols, const kiln_hdf5_options *opts);

#endif
