/* runtime/hdf5_write.c: kiln_dataset_save_hdf5(), a dataset's values as one
 * HDF5 dataset written by every rank at once (io module).
 *
 * The action computes every partition into a store on the rank that ran
 * it, then all ranks learn every partition's record count, so each knows
 * where its rows go (partitions one after the other, in order), and
 * together they create `<path>.kiln-tmp-<job id>` with the MPI-IO driver.
 * Each rank copies its rows into one buffer (releasing each store as it
 * goes, so the rows are held about once) and writes them with one
 * collective H5Dwrite over the union of its row ranges. Compressed
 * datasets are chunked; parallel HDF5 writes filtered chunks only
 * collectively, which is the only way Kiln writes. Once every rank's write
 * and close succeeded, the master renames the file into place, so `path`
 * holds the whole result or nothing new.
 *
 * File layout (readable by h5dump and h5py as they are): columns > 0 gives
 * an N x columns array of little-endian 8-byte numbers; 1-D U64/I64/F64
 * values give a 1-D array of that type; any other fixed-size value gives a
 * 1-D array of H5T_OPAQUE of the value's size (h5py: numpy void 'V<size>';
 * h5dump: hex bytes), untagged, because h5py reads opaque data only into
 * an untagged type (a tagged one fails with "no appropriate function for
 * conversion path"); the Kiln schema is not recorded. Attributes on the
 * dataset: kiln_version (string) and kiln_partitions (uint32). Empty
 * datasets are never chunked or filtered (HDF5 wants chunks no larger than
 * a fixed-size dataset). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define KILN_HDF5_IMPL
#include "runtime/hdf5_impl.h"
#include "runtime/action.h"
#include "runtime/error.h"
#include "runtime/h5zstd.h"
#include "runtime/log.h"
#include "runtime/schedule.h"

/* Bytes of uncompressed data per chunk: large enough that per-chunk costs
 * (index entries, filter calls, one MPI exchange per shared chunk) vanish,
 * small enough that a reader of a few rows does not inflate much. */
#define CHUNK_BYTES ((size_t)1 << 20)

/* How the values are laid out in the file. */
typedef struct layout {
    int ndims;                   /* 1 or 2 */
    uint64_t cols;               /* 2-D: columns; 1-D: 1 */
    size_t row_bytes;            /* bytes of one value (one row) */
    hid_t filetype, memtype;     /* owned */
    kiln_compression compression;
    int level;                   /* resolved: never 0 when compressing */
} layout;

static void layout_release(layout *l)
{
    if (l->filetype >= 0)
        H5Tclose(l->filetype);
    if (l->memtype >= 0)
        H5Tclose(l->memtype);
    l->filetype = l->memtype = H5I_INVALID_HID;
}

/* Check ds's schema and the options, and choose the file's types. Local;
 * the same verdict on every rank (SPMD arguments). */
static kiln_status layout_choose(const kiln_schema *s, const kiln_hdf5_options *o,
                                 layout *l)
{
    const kiln_type *v = &s->value;
    l->ndims = 1;
    l->cols = 1;
    l->row_bytes = v->size;
    l->compression = o->compression;
    l->level = o->level;
    if (kiln__type_variable(v) || v->size == 0)
        return KILN_ERROR(KILN_ERR_INVAL, "save_hdf5: values must be fixed-size "
                          "(U64, I64, F64 or FIXED), not STRING, BYTES, LIST or PAIR");
    switch (o->compression) {
    case KILN_COMPRESS_NONE:
        break;
    case KILN_COMPRESS_DEFLATE:
        if (l->level == 0)
            l->level = 6;
        if (l->level < 1 || l->level > 9)
            return KILN_ERROR(KILN_ERR_INVAL, "save_hdf5: deflate level %d is not "
                              "in 1..9 (0: the default, 6)", o->level);
        break;
    case KILN_COMPRESS_ZSTD:
        if (l->level == 0)
            l->level = ZSTD_CLEVEL_DEFAULT;
        if (l->level < ZSTD_minCLevel() || l->level > ZSTD_maxCLevel())
            return KILN_ERROR(KILN_ERR_INVAL, "save_hdf5: zstd level %d is not in "
                              "%d..%d (0: the default, %d)", o->level,
                              ZSTD_minCLevel(), ZSTD_maxCLevel(), ZSTD_CLEVEL_DEFAULT);
        break;
    default:
        return KILN_ERROR(KILN_ERR_INVAL, "save_hdf5: unknown compression %d",
                          (int)o->compression);
    }
    kiln_kind kind = v->kind;
    if (o->columns > 0) {
        kind = o->element == KILN_KIND_NONE ? KILN_KIND_F64 : o->element;
        if (kind != KILN_KIND_F64 && kind != KILN_KIND_I64 && kind != KILN_KIND_U64)
            return KILN_ERROR(KILN_ERR_INVAL, "save_hdf5: element must be F64, I64 "
                              "or U64");
        if (v->size != (size_t)o->columns * 8)
            return KILN_ERROR(KILN_ERR_INVAL, "save_hdf5: values of %zu bytes are "
                              "not rows of %u 8-byte numbers", v->size, o->columns);
        l->ndims = 2;
        l->cols = o->columns;
    }
    if (v->size > UINT32_MAX)
        return KILN_ERROR(KILN_ERR_LIMIT, "save_hdf5: values of %zu bytes are over "
                          "HDF5's 4 GiB limit", v->size);
    char why[512];
    if (kind == KILN_KIND_F64 || kind == KILN_KIND_I64 || kind == KILN_KIND_U64) {
        /* Little-endian on disk whatever the host: the common case, and
         * what every reader expects; HDF5 converts on other hosts. */
        l->filetype = H5Tcopy(kind == KILN_KIND_F64   ? H5T_IEEE_F64LE
                              : kind == KILN_KIND_I64 ? H5T_STD_I64LE
                                                      : H5T_STD_U64LE);
        l->memtype = H5Tcopy(kind == KILN_KIND_F64   ? H5T_NATIVE_DOUBLE
                             : kind == KILN_KIND_I64 ? H5T_NATIVE_INT64
                                                     : H5T_NATIVE_UINT64);
    } else {
        /* No tag: HDF5 converts only between opaque types whose tags match,
         * and h5py reads into an untagged one (numpy void). */
        l->filetype = H5Tcreate(H5T_OPAQUE, v->size);
        l->memtype = l->filetype >= 0 ? H5Tcopy(l->filetype) : H5I_INVALID_HID;
    }
    if (l->filetype < 0 || l->memtype < 0)
        return KILN_ERROR(KILN_ERR_IO, "save_hdf5: cannot make the HDF5 types: %s",
                          kiln__h5_reason(why, sizeof why));
    return KILN_OK;
}

/* Master, before anything is computed: refuse an existing path unless
 * overwriting, and never put a file where a directory is. */
static kiln_status check_target(const char *path, bool overwrite)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return errno == ENOENT ? KILN_OK
                               : KILN_ERROR(KILN_ERR_IO, "save_hdf5: %s: %s", path,
                                            strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return KILN_ERROR(KILN_ERR_EXISTS, "save_hdf5: %s is a directory", path);
    if (!overwrite)
        return KILN_ERROR(KILN_ERR_EXISTS, "save_hdf5: %s already exists (set "
                          "overwrite to replace it)", path);
    return KILN_OK;
}

/* Master, after every rank succeeded: move the file into place. Without
 * overwrite a file that appeared meanwhile is not replaced. */
static kiln_status commit(const char *tmp, const char *path, bool overwrite)
{
    if (overwrite) {
        if (rename(tmp, path) != 0)
            return KILN_ERROR(KILN_ERR_IO, "save_hdf5: cannot rename %s to %s: %s",
                              tmp, path, strerror(errno));
        return KILN_OK;
    }
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return KILN_OK;
    if (errno == EINVAL || errno == ENOSYS) { /* file systems without it */
        if (access(path, F_OK) == 0)
            errno = EEXIST;
        else if (rename(tmp, path) == 0)
            return KILN_OK;
    }
    if (errno == EEXIST)
        return KILN_ERROR(KILN_ERR_EXISTS, "save_hdf5: %s appeared while the job "
                          "ran; not replaced", path);
    return KILN_ERROR(KILN_ERR_IO, "save_hdf5: cannot rename %s to %s: %s", tmp,
                      path, strerror(errno));
}

/* ---- this rank's rows ---- */

/* Row ranges [v[2i], v[2i+1]) of the file this rank writes, in order. */
typedef struct runs {
    kiln__mem *mem;
    uint64_t *v;
    size_t n, cap; /* ranges, and their room */
} runs;

static kiln_status runs_add(runs *r, uint64_t lo, uint64_t hi)
{
    if (lo == hi)
        return KILN_OK;
    if (r->n && r->v[2 * r->n - 1] == lo) { /* adjacent: extend */
        r->v[2 * r->n - 1] = hi;
        return KILN_OK;
    }
    if (r->n == r->cap) {
        size_t cap = kiln__mem_grow(r->cap, r->n + 1, 16);
        uint64_t *v = kiln__mem_realloc(r->mem, r->v, 2 * cap * sizeof *v);
        if (!v)
            return KILN_ERROR(KILN_ERR_NOMEM, "save_hdf5: row ranges");
        r->v = v;
        r->cap = cap;
    }
    r->v[2 * r->n] = lo;
    r->v[2 * r->n + 1] = hi;
    r->n++;
    return KILN_OK;
}

/* Move the values of the partitions computed here into *buf (rows back to
 * back, partition order), releasing each store once copied, and note where
 * they go in the file. The buffer grows by realloc, which for large sizes
 * remaps pages instead of copying, so rows are held about once. Local. */
static kiln_status gather_rows(kiln__mem *mem, kiln__store *parts, uint32_t np,
                               const uint64_t *offset, size_t row_bytes,
                               unsigned char **buf, uint64_t *mine, runs *r)
{
    size_t used = 0;
    kiln_status st = KILN_OK;
    for (uint32_t p = 0; p < np && st == KILN_OK; p++) {
        kiln__store *s = &parts[p];
        if (!s->records)
            continue;
        if (s->records > (SIZE_MAX - used) / row_bytes) {
            st = KILN_ERROR(KILN_ERR_LIMIT, "save_hdf5: rows do not fit in memory");
            break;
        }
        size_t bytes = (size_t)s->records * row_bytes;
        unsigned char *grown = kiln__mem_realloc(mem, *buf, used + bytes);
        if (!grown) {
            st = KILN_ERROR(KILN_ERR_NOMEM, "save_hdf5: %zu bytes of rows",
                            used + bytes);
            break;
        }
        *buf = grown;
        for (size_t b = 0; b < s->nblocks; b++) {
            const kiln__block *blk = &s->blocks[b];
            memcpy(*buf + used, blk->value.data, blk->n * row_bytes);
            used += blk->n * row_bytes;
        }
        st = runs_add(r, offset[p], offset[p] + s->records);
        *mine += s->records;
        kiln__store_release(s);
    }
    return st;
}

/* ---- the file ---- */

typedef struct file_state {
    hid_t fapl, file, dcpl, lcpl, fspace, dset, mspace, dxpl;
} file_state;

static void file_close(file_state *f, kiln_status *st, const char *tmp)
{
    char why[512];
    if (f->dxpl >= 0)
        H5Pclose(f->dxpl);
    if (f->mspace >= 0)
        H5Sclose(f->mspace);
    if (f->fspace >= 0)
        H5Sclose(f->fspace);
    if (f->dcpl >= 0)
        H5Pclose(f->dcpl);
    if (f->lcpl >= 0)
        H5Pclose(f->lcpl);
    /* Collective, like the opens; a failure here (a flush that did not
     * reach the disk) fails the save. */
    if (f->dset >= 0 && H5Dclose(f->dset) < 0 && *st == KILN_OK)
        *st = KILN_ERROR(KILN_ERR_IO, "save_hdf5: closing the dataset in %s: %s",
                         tmp, kiln__h5_reason(why, sizeof why));
    if (f->file >= 0 && H5Fclose(f->file) < 0 && *st == KILN_OK)
        *st = KILN_ERROR(KILN_ERR_IO, "save_hdf5: closing %s: %s", tmp,
                         kiln__h5_reason(why, sizeof why));
    if (f->fapl >= 0)
        H5Pclose(f->fapl);
}

static kiln_status write_attributes(hid_t dset, uint32_t np)
{
    hid_t space = H5Screate(H5S_SCALAR), str = H5Tcopy(H5T_C_S1), a;
    herr_t rc = space >= 0 && str >= 0 ? 0 : -1;
    const char *version = KILN_VERSION_STRING;
    if (rc >= 0)
        rc = H5Tset_size(str, strlen(version) + 1);
    if (rc >= 0 && (a = H5Acreate2(dset, "kiln_version", str, space, H5P_DEFAULT,
                                   H5P_DEFAULT)) >= 0) {
        rc = H5Awrite(a, str, version);
        rc = H5Aclose(a) < 0 ? -1 : rc;
    } else {
        rc = -1;
    }
    if (rc >= 0 && (a = H5Acreate2(dset, "kiln_partitions", H5T_STD_U32LE, space,
                                   H5P_DEFAULT, H5P_DEFAULT)) >= 0) {
        rc = H5Awrite(a, H5T_NATIVE_UINT32, &np);
        rc = H5Aclose(a) < 0 ? -1 : rc;
    } else {
        rc = -1;
    }
    if (str >= 0)
        H5Tclose(str);
    if (space >= 0)
        H5Sclose(space);
    char why[512];
    return rc < 0 ? KILN_ERROR(KILN_ERR_IO, "save_hdf5: attributes: %s",
                               kiln__h5_reason(why, sizeof why))
                  : KILN_OK;
}

/* The dataset's creation properties: chunks and filter when compressing,
 * never a fill value (every element is written; filling would write the
 * dataset twice). Local. */
static kiln_status make_dcpl(const layout *l, uint64_t rows, hid_t *out)
{
    char why[512];
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    herr_t rc = dcpl >= 0 ? H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) : -1;
    kiln_status st = KILN_OK;
    if (rc >= 0 && l->compression != KILN_COMPRESS_NONE && rows > 0) {
        uint64_t chunk_rows = CHUNK_BYTES / l->row_bytes;
        if (chunk_rows == 0)
            chunk_rows = 1;
        if (chunk_rows > rows)
            chunk_rows = rows;
        hsize_t chunk[2] = {chunk_rows, l->cols};
        rc = H5Pset_chunk(dcpl, l->ndims, chunk);
        if (rc >= 0 && l->compression == KILN_COMPRESS_DEFLATE) {
            rc = H5Pset_deflate(dcpl, (unsigned)l->level);
        } else if (rc >= 0) {
            /* Mandatory: a file must never hold zstd data the writer
             * silently skipped compressing under the zstd filter's id. */
            unsigned cd[1] = {(unsigned)l->level};
            if ((st = kiln__h5zstd_register()) == KILN_OK)
                rc = H5Pset_filter(dcpl, (H5Z_filter_t)KILN__H5Z_ZSTD,
                                   H5Z_FLAG_MANDATORY, 1, cd);
        }
    }
    if (st == KILN_OK && rc < 0)
        st = KILN_ERROR(KILN_ERR_IO, "save_hdf5: dataset properties: %s",
                        kiln__h5_reason(why, sizeof why));
    if (st != KILN_OK) {
        if (dcpl >= 0)
            H5Pclose(dcpl);
        return st;
    }
    *out = dcpl;
    return KILN_OK;
}

/* Create tmp and the dataset together and write this rank's rows. Every
 * step that a rank could skip is agreed first, so no rank waits in a
 * collective HDF5 call that another never enters. Collective; the status
 * returned is agreed. */
static kiln_status write_file(kiln_context *ctx, const char *tmp,
                              const char *name, const layout *l, uint64_t rows,
                              uint32_t np, const runs *r, uint64_t mine,
                              const void *buf)
{
    file_state f = {H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID,
                    H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID,
                    H5I_INVALID_HID, H5I_INVALID_HID};
    char why[512];
    kiln_status st = KILN_OK;
    if ((f.fapl = H5Pcreate(H5P_FILE_ACCESS)) < 0 ||
        H5Pset_fapl_mpio(f.fapl, ctx->comm, MPI_INFO_NULL) < 0 ||
        H5Pset_all_coll_metadata_ops(f.fapl, true) < 0 ||
        H5Pset_coll_metadata_write(f.fapl, true) < 0)
        st = KILN_ERROR(KILN_ERR_IO, "save_hdf5: cannot set up MPI-IO: %s",
                        kiln__h5_reason(why, sizeof why));
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    if ((f.file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, f.fapl)) < 0)
        st = KILN_ERROR(KILN_ERR_IO, "save_hdf5: cannot create %s: %s", tmp,
                        kiln__h5_reason(why, sizeof why));
    if ((st = kiln__h5_agree_handle(ctx, st, f.file >= 0)) != KILN_OK)
        goto done;

    hsize_t dims[2] = {rows, l->cols};
    st = make_dcpl(l, rows, &f.dcpl);
    if (st == KILN_OK &&
        ((f.lcpl = H5Pcreate(H5P_LINK_CREATE)) < 0 ||
         H5Pset_create_intermediate_group(f.lcpl, 1) < 0 ||
         (f.fspace = H5Screate_simple(l->ndims, dims, NULL)) < 0))
        st = KILN_ERROR(KILN_ERR_IO, "save_hdf5: dataspace: %s",
                        kiln__h5_reason(why, sizeof why));
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    if ((f.dset = H5Dcreate2(f.file, name, l->filetype, f.fspace, f.lcpl, f.dcpl,
                             H5P_DEFAULT)) < 0)
        st = KILN_ERROR(KILN_ERR_IO, "save_hdf5: cannot create dataset %s in %s: %s",
                        name, tmp, kiln__h5_reason(why, sizeof why));
    if ((st = kiln__h5_agree_handle(ctx, st, f.dset >= 0)) != KILN_OK)
        goto done;
    if ((st = kiln__error_agree(ctx, write_attributes(f.dset, np))) != KILN_OK)
        goto done;

    /* This rank's rows: its runs in the file, back to back in memory. */
    herr_t rc = H5Sselect_none(f.fspace);
    for (size_t i = 0; i < r->n && rc >= 0; i++) {
        hsize_t start[2] = {r->v[2 * i], 0}, count[2] = {r->v[2 * i + 1] - r->v[2 * i],
                                                        l->cols};
        rc = H5Sselect_hyperslab(f.fspace, i ? H5S_SELECT_OR : H5S_SELECT_SET, start,
                                 NULL, count, NULL);
    }
    hsize_t mdims[2] = {mine ? mine : 1, l->cols};
    if (rc >= 0 && (f.mspace = H5Screate_simple(l->ndims, mdims, NULL)) < 0)
        rc = -1;
    if (rc >= 0 && !mine)
        rc = H5Sselect_none(f.mspace);
    if (rc >= 0 && ((f.dxpl = H5Pcreate(H5P_DATASET_XFER)) < 0 ||
                    H5Pset_dxpl_mpio(f.dxpl, H5FD_MPIO_COLLECTIVE) < 0))
        rc = -1;
    if (rc < 0)
        st = KILN_ERROR(KILN_ERR_IO, "save_hdf5: selecting rows: %s",
                        kiln__h5_reason(why, sizeof why));
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    /* An empty dataset has no storage to write to (HDF5 fails the call). */
    if (rows > 0 &&
        H5Dwrite(f.dset, l->memtype, f.mspace, f.fspace, f.dxpl, buf) < 0)
        st = KILN_ERROR(KILN_ERR_IO, "save_hdf5: writing dataset %s of %s "
                        "failed: %s", name, tmp, kiln__h5_reason(why, sizeof why));
done:
    file_close(&f, &st, tmp);
    return kiln__error_agree(ctx, st);
}

/* ---- the action ---- */

/* Compute ds, place its rows and write tmp. Collective; agreed status. */
static kiln_status save(kiln_context *ctx, kiln__node *n, const char *tmp,
                        const char *name, const layout *l)
{
    kiln__store *parts = NULL;
    uint64_t *offset = NULL;
    unsigned char *buf = NULL;
    runs r = {&ctx->mem, NULL, 0, 0};
    uint64_t mine = 0, rows = 0;
    kiln_status st = kiln__schedule_prepare(ctx, n, "save_hdf5");
    if (st != KILN_OK)
        return st;
    uint32_t np = n->nparts;
    parts = kiln__store_array_new(&ctx->mem, &n->schema, np);
    offset = kiln__mem_calloc(&ctx->mem, (size_t)np + 1, sizeof *offset);
    if (!parts || !offset)
        st = KILN_ERROR(KILN_ERR_NOMEM, "save_hdf5: %u partition stores", np);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    kiln__store_sink sink;
    kiln__store_sink_init(&sink, parts, 0, SIZE_MAX);
    kiln__stage_totals totals;
    if ((st = kiln__schedule_stage(ctx, n, 0, np, &sink.base, "save_hdf5",
                                   &totals)) != KILN_OK)
        goto done;
    /* Each partition ran on one rank: the sum is its count everywhere. */
    for (uint32_t p = 0; p < np; p++)
        offset[p + 1] = parts[p].records;
    if (np > (uint32_t)INT32_MAX ||
        MPI_Allreduce(MPI_IN_PLACE, offset + 1, (int)np, MPI_UINT64_T, MPI_SUM,
                      ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "save_hdf5: partition counts");
    for (uint32_t p = 0; p < np; p++)
        offset[p + 1] += offset[p];
    rows = offset[np];
    st = gather_rows(&ctx->mem, parts, np, offset, l->row_bytes, &buf, &mine, &r);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    st = write_file(ctx, tmp, name, l, rows, np, &r, mine, buf ? buf : (void *)&mine);
    if (st == KILN_OK)
        kiln__log(ctx, KILN__LOG_DEBUG, "save_hdf5: %llu rows of %zu bytes written",
                  (unsigned long long)rows, l->row_bytes);
done:
    kiln__mem_free(&ctx->mem, r.v);
    kiln__mem_free(&ctx->mem, buf);
    kiln__mem_free(&ctx->mem, offset);
    kiln__store_array_free(&ctx->mem, parts, np);
    return st;
}

kiln_status kiln_dataset_save_hdf5(kiln_dataset *ds, const char *path,
                                   const char *dataset,
                                   const kiln_hdf5_options *opts)
{
    kiln_context *ctx;
    kiln_status st = kiln__action_begin(ds, &ctx);
    if (st != KILN_OK)
        return st;
    kiln_hdf5_options o;
    memset(&o, 0, sizeof o);
    if (opts)
        o = *opts;
    layout l = {.filetype = H5I_INVALID_HID, .memtype = H5I_INVALID_HID};
    char tmp[4200];
    kiln__h5_quiet q;
    kiln__h5_quiet_begin(&q);
    if (!path || !*path || !dataset || !*dataset)
        st = KILN_ERROR(KILN_ERR_INVAL, "save_hdf5: the file and dataset names "
                                        "must not be empty");
    else if ((size_t)snprintf(tmp, sizeof tmp, "%s.kiln-tmp-%s", path,
                              ctx->job_id) >= sizeof tmp)
        st = KILN_ERROR(KILN_ERR_INVAL, "save_hdf5: path too long: %s", path);
    else
        st = layout_choose(&ds->node.schema, &o, &l);
    /* Refuse before computing anything when the output exists. */
    if (st == KILN_OK && ctx->rank == 0)
        st = check_target(path, o.overwrite);
    bool attempted = false; /* tmp may exist */
    if ((st = kiln__error_agree(ctx, st)) == KILN_OK) {
        attempted = true;
        snprintf(ctx->unfinished, sizeof ctx->unfinished, "%s", tmp);
        st = save(ctx, &ds->node, tmp, dataset, &l);
        ctx->unfinished[0] = '\0';
    }
    /* Only the master moves the file into place, after everyone is done;
     * on failure it removes whatever was created. */
    if (ctx->rank == 0 && attempted) {
        if (st == KILN_OK)
            st = commit(tmp, path, o.overwrite);
        if (st != KILN_OK && unlink(tmp) != 0 && errno != ENOENT)
            kiln__log(ctx, KILN__LOG_WARN, "save_hdf5: cannot remove %s: %s", tmp,
                      strerror(errno));
    }
    st = kiln__error_agree(ctx, st);
    layout_release(&l);
    kiln__h5_quiet_end(&q);
    return kiln__action_end(ctx, st);
}
