/* runtime/h5zstd.h: the Zstandard HDF5 filter (io module).
 * Owns:     the filter under the registered Zstandard filter id 32015, so
 *           files Kiln compresses read anywhere the common zstd plugins
 *           (hdf5plugin, the HDF Group's collection) are installed, and
 *           Kiln's own plugin library (h5zstd_plugin.c) serves tools on a
 *           stock Debian, which packages none.
 * Uses:     libzstd, HDF5's filter interface.
 * Must not: be used before HDF5 is initialised; registration is per
 *           process and idempotent (HDF5's registry is process-wide). */
#ifndef KILN_RUNTIME_H5ZSTD_H
#define KILN_RUNTIME_H5ZSTD_H

#include <hdf5.h>

#include "kiln.h"

#define KILN__H5Z_ZSTD 32015

/* The filter class, for H5Zregister() and for the plugin entry points. */
extern const H5Z_class2_t kiln__h5z_zstd_class;

/* Make the filter available in this process (no-op when it already is). */
kiln_status kiln__h5zstd_register(void);

#endif
