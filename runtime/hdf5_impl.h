/* runtime/hdf5_impl.h: what hdf5_read.c and hdf5_write.c share (io module).
 * Owns:     nothing; declares the HDF5 error-stack helpers (defined in
 *           hdf5_read.c) that turn HDF5's own diagnostics into Kiln
 *           messages instead of letting HDF5 print them.
 * Must not: be included anywhere else but the ml module's HDF5 files
 *           (ml_hdf5.c, ml_model.c) and hdf5_graph.c (HDF5 edge lists for
 *           the graph module), which share the helpers. */
#ifndef KILN_RUNTIME_HDF5_IMPL_H
#define KILN_RUNTIME_HDF5_IMPL_H

#ifndef KILN_HDF5_IMPL
#error "runtime/hdf5_impl.h is private to hdf5_read.c, hdf5_write.c, ml_*.c and hdf5_graph.c"
#endif

#include <hdf5.h>

#include "runtime/hdf5_io.h"

/* HDF5 prints its error stack to stderr on every failed call unless told
 * not to; Kiln reports failures itself, once, on the master. quiet_begin
 * saves the calling thread's handler and turns printing off; quiet_end
 * puts the saved handler back. Bracket every Kiln entry point that calls
 * HDF5 with them. */
typedef struct kiln__h5_quiet {
    H5E_auto2_t fn;
    void *data;
} kiln__h5_quiet;

void kiln__h5_quiet_begin(kiln__h5_quiet *q);
void kiln__h5_quiet_end(const kiln__h5_quiet *q);

/* The most specific message on HDF5's error stack (where the failure was
 * detected, e.g. "unable to open file: name = ..., errno = 2, ..."), or
 * "unknown HDF5 error", into buf; clears the stack. Returns buf. */
const char *kiln__h5_reason(char *buf, size_t size);

/* After a collective open or create (file, dataset): the status every rank
 * agreed on. have: this rank got a handle. Closing is collective too, so
 * when the call failed on some ranks but not on others nothing can be
 * closed together; the job is aborted then (kiln__abort) rather than
 * left to hang. Collective. */
kiln_status kiln__h5_agree_handle(kiln_context *ctx, kiln_status st, bool have);

#endif
