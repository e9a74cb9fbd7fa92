/* runtime/h5zstd_plugin.c: the entry points that make h5zstd.c an HDF5
 * dynamic filter plugin (libkiln_h5zstd.so), loaded by any HDF5 program -
 * h5dump, h5py - from HDF5_PLUGIN_PATH. Not part of libkiln. */
#include <H5PLextern.h>

#include "runtime/h5zstd.h"

H5PL_type_t H5PLget_plugin_type(void)
{
    return H5PL_TYPE_FILTER;
}

const void *H5PLget_plugin_info(void)
{
    return &kiln__h5z_zstd_class;
}
