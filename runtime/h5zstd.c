/* runtime/h5zstd.c: HDF5 filter 32015 with libzstd. Chunks are compressed
 * as single zstd frames, which record their decompressed size, so reading
 * needs no extra bookkeeping; cd_values[0], when given, is the level. */
#include <zstd.h>

#include "runtime/error.h"
#include "runtime/h5zstd.h"

static size_t zstd_filter(unsigned int flags, size_t cd_nelmts,
                          const unsigned int cd_values[], size_t nbytes,
                          size_t *buf_size, void **buf)
{
    void *out;
    size_t n;
    if (flags & H5Z_FLAG_REVERSE) {
        unsigned long long size = ZSTD_getFrameContentSize(*buf, nbytes);
        if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
            return 0;
        if (!(out = H5allocate_memory((size_t)size, 0)))
            return 0;
        n = ZSTD_decompress(out, (size_t)size, *buf, nbytes);
        if (ZSTD_isError(n) || n != size) {
            H5free_memory(out);
            return 0;
        }
        *buf_size = (size_t)size;
    } else {
        int level = cd_nelmts > 0 ? (int)cd_values[0] : 0; /* 0: zstd's default */
        size_t bound = ZSTD_compressBound(nbytes);
        if (!(out = H5allocate_memory(bound, 0)))
            return 0;
        n = ZSTD_compress(out, bound, *buf, nbytes, level);
        if (ZSTD_isError(n)) {
            H5free_memory(out);
            return 0;
        }
        *buf_size = bound;
    }
    H5free_memory(*buf);
    *buf = out;
    return n;
}

const H5Z_class2_t kiln__h5z_zstd_class = {
    H5Z_CLASS_T_VERS,
    (H5Z_filter_t)KILN__H5Z_ZSTD,
    1, /* encoder present */
    1, /* decoder present */
    "Zstandard (Kiln)",
    NULL,
    NULL,
    zstd_filter,
};

kiln_status kiln__h5zstd_register(void)
{
    if (H5Zfilter_avail((H5Z_filter_t)KILN__H5Z_ZSTD) > 0)
        return KILN_OK;
    if (H5Zregister(&kiln__h5z_zstd_class) < 0)
        return KILN_ERROR(KILN_ERR_IO, "cannot register the HDF5 zstd filter");
    return KILN_OK;
}
