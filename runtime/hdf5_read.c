/* runtime/hdf5_read.c: HDF5 datasets as Kiln sources (io module).
 *
 * kiln_hdf5_read() only describes: the master opens the file serially (for
 * metadata, no MPI-IO), checks that the dataset is a 1-D or 2-D array of a
 * fixed-size type, and broadcasts rows, row bytes and the value kind, from
 * which every rank makes the same node. Rows are read when an action first
 * plans the node (kiln__hdf5_load_sources, called by
 * kiln__schedule_prepare): every rank opens the file with the MPI-IO driver
 * and reads, in one collective H5Dread, the rows of the partitions it owns.
 * The buffer is then cut into one store per partition, from the last
 * partition back, shrinking the buffer after each, so the peak is about
 * this rank's share once plus one partition, not twice the share. The
 * stores become the node's cache: later actions read memory, not the file.
 *
 * Values arrive in the host's native layout (H5Tget_native_type): 8-byte
 * integers and doubles of any byte order as U64/I64/F64, rows of a 2-D
 * array as `columns` native elements, a compound as the C struct with the
 * same members in the same order. Also here: the HDF5 error-stack helpers
 * that hdf5_write.c shares (hdf5_impl.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KILN_HDF5_IMPL
#include "runtime/hdf5_impl.h"
#define KILN_DATASET_IMPL
#include "runtime/dataset_impl.h"
#include "runtime/error.h"
#include "runtime/h5zstd.h"
#include "runtime/log.h"
#include "runtime/plan.h"

/* ---- HDF5's error stack ---- */

void kiln__h5_quiet_begin(kiln__h5_quiet *q)
{
    if (H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data) < 0) {
        q->fn = NULL;
        q->data = NULL;
    }
    /* Failing leaves HDF5 printing its stack: noisy, not wrong. */
    (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void kiln__h5_quiet_end(const kiln__h5_quiet *q)
{
    (void)H5Eset_auto2(H5E_DEFAULT, q->fn, q->data); /* as above */
}

typedef struct reason_walk {
    char *buf;
    size_t size;
} reason_walk;

/* Walking upward, entry 0 is the innermost call: where HDF5 saw the
 * failure, with the most specific words (file name and errno, object
 * name). The outer entries only say "unable to open dataset". */
static herr_t reason_entry(unsigned n, const H5E_error2_t *e, void *arg)
{
    reason_walk *w = arg;
    if (n == 0 && e->desc && e->desc[0])
        snprintf(w->buf, w->size, "%s", e->desc);
    return 0;
}

const char *kiln__h5_reason(char *buf, size_t size)
{
    reason_walk w = {buf, size};
    snprintf(buf, size, "unknown HDF5 error");
    /* A walk that fails keeps the generic words. */
    (void)H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, reason_entry, &w);
    (void)H5Eclear2(H5E_DEFAULT);
    return buf;
}

kiln_status kiln__h5_agree_handle(kiln_context *ctx, kiln_status st, bool have)
{
    st = kiln__error_agree(ctx, st);
    if (st == KILN_OK)
        return st;
    int flags[2] = {have ? 1 : 0, have ? 0 : 1}, any[2];
    if (MPI_Allreduce(flags, any, 2, MPI_INT, MPI_MAX, ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "HDF5 handle agreement failed");
    if (any[0] && any[1])
        kiln__abort(ctx, "a collective HDF5 open or create succeeded on some "
                         "ranks only; the file cannot be closed collectively");
    return st;
}

/* ---- what a dataset holds ---- */

typedef struct h5_desc {
    uint64_t rows;
    uint64_t cols;      /* elements per row; 1 for a 1-D dataset */
    int ndims;          /* 1 or 2 */
    size_t row_bytes;   /* bytes of one row in memory (native layout) */
    kiln_kind kind;     /* U64, I64, F64 or FIXED */
    hid_t memtype;      /* owned: the native type of one element */
} h5_desc;

static void desc_release(h5_desc *d)
{
    if (d->memtype >= 0)
        H5Tclose(d->memtype);
    d->memtype = H5I_INVALID_HID;
}

/* Check that dset is a 1-D or 2-D array of a fixed-size type and say how
 * its rows look in memory. Local; messages name the file and dataset. */
static kiln_status describe(hid_t dset, const char *path, const char *name,
                            h5_desc *d)
{
    kiln_status st = KILN_OK;
    hid_t space = H5Dget_space(dset), ftype = H5Dget_type(dset);
    char why[512];
    hsize_t dims[2] = {0, 0};
    memset(d, 0, sizeof *d);
    d->memtype = H5I_INVALID_HID;
    if (space < 0 || ftype < 0) {
        st = KILN_ERROR(KILN_ERR_IO, "hdf5_read: cannot read the shape of %s in "
                        "%s: %s", name, path, kiln__h5_reason(why, sizeof why));
        goto done;
    }
    int ndims = H5Sget_simple_extent_ndims(space);
    if (H5Sget_simple_extent_type(space) != H5S_SIMPLE || ndims < 1 || ndims > 2) {
        st = KILN_ERROR(KILN_ERR_INVAL, "hdf5_read: dataset %s in %s has %d "
                        "dimensions; only 1-D and 2-D arrays can be read", name,
                        path, ndims < 0 ? 0 : ndims);
        goto done;
    }
    H5Sget_simple_extent_dims(space, dims, NULL);
    H5T_class_t cls = H5Tget_class(ftype);
    size_t size = H5Tget_size(ftype);
    /* H5Tdetect_class finds variable-length strings too, at any depth. */
    if (H5Tdetect_class(ftype, H5T_VLEN) > 0 || H5Tis_variable_str(ftype) > 0 ||
        H5Tdetect_class(ftype, H5T_REFERENCE) > 0) {
        st = KILN_ERROR(KILN_ERR_INVAL, "hdf5_read: dataset %s in %s has a "
                        "variable-length or reference type; only fixed-size "
                        "types can be read", name, path);
        goto done;
    }
    d->ndims = ndims;
    d->rows = dims[0];
    d->cols = ndims == 2 ? dims[1] : 1;
    if (ndims == 1 && size == 8 && (cls == H5T_INTEGER || cls == H5T_FLOAT)) {
        if (cls == H5T_FLOAT)
            d->kind = KILN_KIND_F64;
        else
            d->kind = H5Tget_sign(ftype) == H5T_SGN_NONE ? KILN_KIND_U64
                                                         : KILN_KIND_I64;
        d->memtype = H5Tcopy(d->kind == KILN_KIND_F64   ? H5T_NATIVE_DOUBLE
                             : d->kind == KILN_KIND_I64 ? H5T_NATIVE_INT64
                                                        : H5T_NATIVE_UINT64);
    } else {
        d->kind = KILN_KIND_FIXED;
        d->memtype = H5Tget_native_type(ftype, H5T_DIR_ASCEND);
    }
    size_t elem = d->memtype >= 0 ? H5Tget_size(d->memtype) : 0;
    if (elem == 0) {
        st = KILN_ERROR(KILN_ERR_INVAL, "hdf5_read: dataset %s in %s has an "
                        "element type with no native equivalent: %s", name, path,
                        kiln__h5_reason(why, sizeof why));
        goto done;
    }
    if (d->cols == 0 || d->cols > SIZE_MAX / elem) {
        st = KILN_ERROR(KILN_ERR_INVAL, "hdf5_read: dataset %s in %s has rows of "
                        "%llu elements; rows must hold at least one", name, path,
                        (unsigned long long)d->cols);
        goto done;
    }
    d->row_bytes = elem * (size_t)d->cols;
done:
    if (space >= 0)
        H5Sclose(space);
    if (ftype >= 0)
        H5Tclose(ftype);
    if (st != KILN_OK)
        desc_release(d);
    return st;
}

/* Every filter the dataset needs must be available here: zstd is Kiln's
 * own; others (blosc, lz4, ...) come from HDF5's plugin path or not at
 * all, and failing now names them instead of failing the read later. */
static kiln_status check_filters(hid_t dset, const char *path, const char *name)
{
    kiln_status st = KILN_OK;
    hid_t dcpl = H5Dget_create_plist(dset);
    int nfilters = dcpl >= 0 ? H5Pget_nfilters(dcpl) : -1;
    char why[512];
    if (nfilters < 0)
        st = KILN_ERROR(KILN_ERR_IO, "hdf5_read: cannot read the filters of %s "
                        "in %s: %s", name, path, kiln__h5_reason(why, sizeof why));
    for (int i = 0; i < nfilters && st == KILN_OK; i++) {
        unsigned flags = 0, info = 0;
        size_t ncd = 0;
        char fname[128] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, NULL,
                                         sizeof fname, fname, &info);
        if (id < 0)
            st = KILN_ERROR(KILN_ERR_IO, "hdf5_read: cannot read filter %d of %s "
                            "in %s: %s", i, name, path,
                            kiln__h5_reason(why, sizeof why));
        else if (!(flags & H5Z_FLAG_OPTIONAL) && H5Zfilter_avail(id) <= 0)
            st = KILN_ERROR(KILN_ERR_IO, "hdf5_read: dataset %s in %s is "
                            "compressed with HDF5 filter %d (%s), which is not "
                            "available here (is its plugin on HDF5_PLUGIN_PATH?)",
                            name, path, (int)id, fname[0] ? fname : "unnamed");
    }
    if (dcpl >= 0)
        H5Pclose(dcpl);
    (void)H5Eclear2(H5E_DEFAULT); /* H5Zfilter_avail may leave entries */
    return st;
}

/* Master: open the file serially and describe the dataset into info:
 * rows, row bytes, value kind. */
static kiln_status probe(const char *path, const char *name, uint64_t info[3])
{
    hid_t file = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    h5_desc d = {.memtype = H5I_INVALID_HID};
    char why[512];
    kiln_status st = kiln__h5zstd_register();
    if (st != KILN_OK)
        goto done;
    if ((file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        st = KILN_ERROR(KILN_ERR_IO, "hdf5_read: cannot open %s (to read dataset "
                        "%s): %s", path, name, kiln__h5_reason(why, sizeof why));
        goto done;
    }
    if ((dset = H5Dopen2(file, name, H5P_DEFAULT)) < 0) {
        st = KILN_ERROR(KILN_ERR_IO, "hdf5_read: no dataset %s in %s: %s", name,
                        path, kiln__h5_reason(why, sizeof why));
        goto done;
    }
    KILN_CHECK(st, describe(dset, path, name, &d), done);
    KILN_CHECK(st, check_filters(dset, path, name), done);
    info[0] = d.rows;
    info[1] = d.row_bytes;
    info[2] = (uint64_t)d.kind;
done:
    desc_release(&d);
    if (dset >= 0)
        H5Dclose(dset);
    if (file >= 0)
        H5Fclose(file);
    return st;
}

kiln_status kiln_hdf5_read(kiln_context *ctx, const char *path,
                           const char *dataset, uint32_t nparts,
                           kiln_dataset **out)
{
    if (!ctx || !out)
        return KILN_ERR_INVAL;
    kiln__api_begin(ctx);
    kiln_status st = KILN_OK;
    kiln__node *n = NULL;
    char *path_copy = NULL, *name_copy = NULL;
    uint64_t info[3] = {0, 0, 0};
    if (!path || !*path || !dataset || !*dataset) {
        st = KILN_ERROR(KILN_ERR_INVAL, "hdf5_read: the file and dataset names "
                                        "must not be empty");
    } else if (ctx->rank == 0) {
        kiln__h5_quiet q;
        kiln__h5_quiet_begin(&q);
        st = probe(path, dataset, info);
        kiln__h5_quiet_end(&q);
    }
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    if (MPI_Bcast(info, 3, MPI_UINT64_T, 0, ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "hdf5_read: broadcast of the dataset's shape");
    path_copy = strdup(path);
    name_copy = strdup(dataset);
    if (!path_copy || !name_copy)
        st = KILN_ERROR(KILN_ERR_NOMEM, "hdf5_read: names");
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    kiln_kind kind = (kiln_kind)info[2];
    kiln_schema s = {KILN_T_NONE, KILN_T_F64};
    if (kind == KILN_KIND_U64)
        s.value = KILN_T_U64;
    else if (kind == KILN_KIND_I64)
        s.value = KILN_T_I64;
    else if (kind == KILN_KIND_FIXED)
        s.value = kiln_type_fixed((size_t)info[1], NULL, NULL, NULL);
    KILN_CHECK(st, kiln__ds_new(ctx, KILN__NODE_HDF5, &s, &n), done);
    n->u.h5.path = path_copy;
    n->u.h5.dataset = name_copy;
    n->u.h5.rows = info[0];
    n->u.h5.row_bytes = (size_t)info[1];
    n->u.h5.type_class = (int64_t)kind;
    n->nparts = nparts ? nparts : (uint32_t)ctx->opt.partitions;
    path_copy = name_copy = NULL;
done:
    free(path_copy);
    free(name_copy);
    return kiln__ds_finish(ctx, st, n, out);
}

/* ---- the collective load ---- */

typedef struct load_state {
    hid_t fapl, file, dset, fspace, mspace, dxpl;
    h5_desc d;
} load_state;

static void load_close(load_state *ls)
{
    /* Closing a file opened with MPI-IO is collective: every rank that
     * opened it gets here (kiln__h5_agree_handle made sure all did). */
    if (ls->dxpl >= 0)
        H5Pclose(ls->dxpl);
    if (ls->mspace >= 0)
        H5Sclose(ls->mspace);
    if (ls->fspace >= 0)
        H5Sclose(ls->fspace);
    desc_release(&ls->d);
    if (ls->dset >= 0)
        H5Dclose(ls->dset);
    if (ls->file >= 0)
        H5Fclose(ls->file);
    if (ls->fapl >= 0)
        H5Pclose(ls->fapl);
}

static herr_t add_run(hid_t space, bool *first, uint64_t lo, uint64_t hi,
                      hsize_t cols)
{
    hsize_t start[2] = {lo, 0}, count[2] = {hi - lo, cols};
    herr_t rc = H5Sselect_hyperslab(space, *first ? H5S_SELECT_SET : H5S_SELECT_OR,
                                    start, NULL, count, NULL);
    *first = false;
    return rc;
}

/* Select this rank's rows in the file: the partitions it owns, runs of
 * adjacent ones merged (at one rank, the whole dataset is one block).
 * Local. */
static kiln_status select_rows(kiln_context *ctx, const kiln__node *n,
                               load_state *ls, uint64_t mine)
{
    const uint64_t rows = n->u.h5.rows, np = n->nparts;
    bool first = true;
    herr_t rc = H5Sselect_none(ls->fspace);
    uint64_t run_lo = 0, run_hi = 0;
    const uint64_t step = (uint64_t)ctx->nranks;
    for (uint64_t p = (uint64_t)ctx->rank; p < np && rc >= 0; p += step) {
        uint64_t lo = kiln__hdf5_part_start(rows, (uint32_t)np, (uint32_t)p);
        uint64_t hi = kiln__hdf5_part_start(rows, (uint32_t)np, (uint32_t)p + 1);
        if (lo == hi)
            continue;
        if (run_hi > run_lo && lo == run_hi) {
            run_hi = hi;
            continue;
        }
        if (run_hi > run_lo)
            rc = add_run(ls->fspace, &first, run_lo, run_hi, ls->d.cols);
        run_lo = lo;
        run_hi = hi;
    }
    if (rc >= 0 && run_hi > run_lo)
        rc = add_run(ls->fspace, &first, run_lo, run_hi, ls->d.cols);
    /* Memory: the rows back to back; a rank without rows selects nothing
     * but still takes part in the collective read. */
    hsize_t mdims[2] = {mine ? mine : 1, ls->d.cols};
    if (rc >= 0 && (ls->mspace = H5Screate_simple(ls->d.ndims, mdims, NULL)) < 0)
        rc = -1;
    if (rc >= 0 && !mine)
        rc = H5Sselect_none(ls->mspace);
    if (rc < 0) {
        char why[512];
        return KILN_ERROR(KILN_ERR_IO, "hdf5_read: cannot select rows of %s in %s: %s",
                          n->u.h5.dataset, n->u.h5.path,
                          kiln__h5_reason(why, sizeof why));
    }
    return KILN_OK;
}

/* Open, check and read this rank's rows of n into buf. Collective. */
static kiln_status read_rows(kiln_context *ctx, kiln__node *n, load_state *ls,
                             uint64_t mine, unsigned char *buf)
{
    const char *path = n->u.h5.path, *name = n->u.h5.dataset;
    char why[512];
    kiln_status st = KILN_OK;
    if ((ls->fapl = H5Pcreate(H5P_FILE_ACCESS)) < 0 ||
        H5Pset_fapl_mpio(ls->fapl, ctx->comm, MPI_INFO_NULL) < 0 ||
        H5Pset_all_coll_metadata_ops(ls->fapl, true) < 0)
        st = KILN_ERROR(KILN_ERR_IO, "hdf5_read: cannot set up MPI-IO for %s: %s",
                        path, kiln__h5_reason(why, sizeof why));
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        return st;
    if ((ls->file = H5Fopen(path, H5F_ACC_RDONLY, ls->fapl)) < 0)
        st = KILN_ERROR(KILN_ERR_IO, "hdf5_read: cannot open %s (to read dataset "
                        "%s): %s", path, name, kiln__h5_reason(why, sizeof why));
    if ((st = kiln__h5_agree_handle(ctx, st, ls->file >= 0)) != KILN_OK)
        return st;
    if ((ls->dset = H5Dopen2(ls->file, name, H5P_DEFAULT)) < 0)
        st = KILN_ERROR(KILN_ERR_IO, "hdf5_read: no dataset %s in %s: %s", name,
                        path, kiln__h5_reason(why, sizeof why));
    if ((st = kiln__h5_agree_handle(ctx, st, ls->dset >= 0)) != KILN_OK)
        return st;
    st = describe(ls->dset, path, name, &ls->d);
    if (st == KILN_OK && (ls->d.rows != n->u.h5.rows ||
                          ls->d.row_bytes != n->u.h5.row_bytes ||
                          (int64_t)ls->d.kind != n->u.h5.type_class))
        st = KILN_ERROR(KILN_ERR_STATE, "hdf5_read: dataset %s in %s changed "
                        "since kiln_hdf5_read() described it (%llu rows of %zu "
                        "bytes then, %llu of %zu now)", name, path,
                        (unsigned long long)n->u.h5.rows, n->u.h5.row_bytes,
                        (unsigned long long)ls->d.rows, ls->d.row_bytes);
    if (st == KILN_OK)
        st = kiln__h5zstd_register();
    if (st == KILN_OK && (ls->fspace = H5Dget_space(ls->dset)) < 0)
        st = KILN_ERROR(KILN_ERR_IO, "hdf5_read: dataspace of %s in %s: %s", name,
                        path, kiln__h5_reason(why, sizeof why));
    if (st == KILN_OK)
        st = select_rows(ctx, n, ls, mine);
    if (st == KILN_OK &&
        ((ls->dxpl = H5Pcreate(H5P_DATASET_XFER)) < 0 ||
         H5Pset_dxpl_mpio(ls->dxpl, H5FD_MPIO_COLLECTIVE) < 0))
        st = KILN_ERROR(KILN_ERR_IO, "hdf5_read: transfer properties: %s",
                        kiln__h5_reason(why, sizeof why));
    /* The read is collective: nobody enters it unless everybody can. */
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        return st;
    /* An empty dataset has no storage to read (rows is the same everywhere). */
    if (n->u.h5.rows > 0 &&
        H5Dread(ls->dset, ls->d.memtype, ls->mspace, ls->fspace, ls->dxpl, buf) < 0)
        st = KILN_ERROR(KILN_ERR_IO, "hdf5_read: reading dataset %s of %s "
                        "failed: %s", name, path, kiln__h5_reason(why, sizeof why));
    return st;
}

/* Cut buf (this rank's partitions, back to back) into one store per owned
 * partition, last first, shrinking buf behind each: the rows are held
 * about once, not twice. Stores hold blocks of about
 * KILN__STORE_BLOCK_BYTES. Local; buf is consumed. */
static kiln_status split_rows(kiln_context *ctx, kiln__node *n,
                              unsigned char *buf, size_t bytes,
                              kiln__resident *r)
{
    const uint64_t rows = n->u.h5.rows, np = n->nparts;
    const size_t row_bytes = n->u.h5.row_bytes;
    size_t chunk = KILN__STORE_BLOCK_BYTES / row_bytes;
    if (chunk == 0) /* rows over 4 MiB: one per block */
        chunk = 1;
    kiln__block blk;
    kiln_status st = kiln__block_init(&blk, &ctx->mem, &n->schema);
    if (st != KILN_OK) {
        kiln__mem_free(&ctx->mem, buf);
        return st;
    }
    uint64_t last = (uint64_t)ctx->rank;
    while (last + (uint64_t)ctx->nranks < np)
        last += (uint64_t)ctx->nranks;
    size_t end = bytes;
    for (uint64_t p = last; p < np && st == KILN_OK; p -= (uint64_t)ctx->nranks) {
        uint64_t lo = kiln__hdf5_part_start(rows, (uint32_t)np, (uint32_t)p);
        uint64_t hi = kiln__hdf5_part_start(rows, (uint32_t)np, (uint32_t)p + 1);
        size_t from = end - (size_t)(hi - lo) * row_bytes;
        kiln__store *s = kiln__mem_alloc(&ctx->mem, sizeof *s);
        if (!s) {
            st = KILN_ERROR(KILN_ERR_NOMEM, "hdf5_read: partition store");
            break;
        }
        kiln__store_init(s, &ctx->mem, &n->schema);
        r->part[p] = s;
        for (uint64_t i = 0; i < hi - lo && st == KILN_OK; i += chunk) {
            size_t take = hi - lo - i < chunk ? (size_t)(hi - lo - i) : chunk;
            kiln_batch b;
            memset(&b, 0, sizeof b);
            b.n = take;
            b.values = buf + from + (size_t)i * row_bytes;
            b.value_size = row_bytes;
            b.partition = (uint32_t)p;
            st = kiln__block_append_batch(&blk, &b, 0, take);
            if (st == KILN_OK)
                st = kiln__store_adopt(s, &blk);
        }
        end = from;
        if (end) { /* give back what is now copied; keep it if realloc fails */
            unsigned char *smaller = kiln__mem_realloc(&ctx->mem, buf, end);
            if (smaller)
                buf = smaller;
        }
        if (p < (uint64_t)ctx->nranks)
            break;
    }
    kiln__block_release(&blk);
    kiln__mem_free(&ctx->mem, buf);
    return st;
}

/* One HDF5 node's rows into its cache. Collective. */
static kiln_status load(kiln_context *ctx, kiln__node *n)
{
    const uint64_t rows = n->u.h5.rows, np = n->nparts;
    const size_t row_bytes = n->u.h5.row_bytes;
    load_state ls = {H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID,
                     H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID,
                     {.memtype = H5I_INVALID_HID}};
    kiln__resident *r = NULL;
    unsigned char *buf = NULL;
    kiln_status st = KILN_OK;
    double start = kiln__now();
    uint64_t mine = 0;
    for (uint64_t p = (uint64_t)ctx->rank; p < np; p += (uint64_t)ctx->nranks)
        mine += kiln__hdf5_part_start(rows, (uint32_t)np, (uint32_t)p + 1) -
                kiln__hdf5_part_start(rows, (uint32_t)np, (uint32_t)p);
    size_t bytes = (size_t)mine * row_bytes; /* checked below */
    if (np == 0)
        st = KILN_ERROR(KILN_ERR_INVAL, "hdf5_read: %s in %s: 0 partitions",
                        n->u.h5.dataset, n->u.h5.path);
    else if (row_bytes == 0 || mine > SIZE_MAX / row_bytes)
        st = KILN_ERROR(KILN_ERR_LIMIT, "hdf5_read: %llu rows of %zu bytes do not "
                        "fit in memory", (unsigned long long)mine, row_bytes);
    else if (!(buf = kiln__mem_alloc(&ctx->mem, bytes ? bytes : 1)))
        st = KILN_ERROR(KILN_ERR_NOMEM, "hdf5_read: %zu bytes for the rows of %s",
                        bytes, n->u.h5.dataset);
    if (st == KILN_OK)
        st = kiln__resident_create(&ctx->mem, (uint32_t)np, &r);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;

    kiln__h5_quiet q;
    kiln__h5_quiet_begin(&q);
    st = read_rows(ctx, n, &ls, mine, buf);
    load_close(&ls);
    kiln__h5_quiet_end(&q);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;

    st = split_rows(ctx, n, buf, bytes, r);
    buf = NULL; /* consumed */
    for (uint64_t p = 0; p < np; p++)
        r->owner[p] = (int32_t)(p % (uint64_t)ctx->nranks);
    r->complete = true;
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    kiln__resident_destroy(&ctx->mem, &n->cache); /* an incomplete one */
    n->cache = r;
    n->cache_wanted = true;
    r = NULL;
    kiln__log(ctx, KILN__LOG_INFO, "hdf5_read: %llu rows of %s from %s into %llu "
              "partitions in %.2f s", (unsigned long long)rows, n->u.h5.dataset,
              n->u.h5.path, (unsigned long long)np, kiln__now() - start);
done:
    kiln__mem_free(&ctx->mem, buf);
    kiln__resident_destroy(&ctx->mem, &r);
    return st;
}

kiln_status kiln__hdf5_load_sources(kiln_context *ctx, kiln__node *target)
{
    kiln__node **nodes = NULL;
    size_t count = 0;
    kiln_status st = kiln__plan_list_kind(&ctx->mem, target, KILN__NODE_HDF5,
                                          &nodes, &count);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        return st;
    /* The same nodes in the same order everywhere: the lineage's
     * fingerprint was checked before this is called. */
    for (size_t i = 0; i < count && st == KILN_OK; i++)
        if (!nodes[i]->cache || !nodes[i]->cache->complete)
            st = load(ctx, nodes[i]);
    kiln__mem_free(&ctx->mem, nodes);
    return st;
}
