/* runtime/hdf5_graph.c: HDF5 edge lists in, column files out (io module,
 * for the graph layer).
 *
 * Reading: the master opens the file serially, checks /src, /dst and the
 * optional /weight (1-D, numbers, equal lengths) and broadcasts what it
 * found; every rank then opens the file with MPI-IO and reads, with one
 * collective H5Dread per dataset, the rows of the partitions it owns
 * (partition p of P over N rows: rows [p N / P, (p + 1) N / P), on rank
 * p % nranks, as kiln_hdf5_read() cuts them). HDF5 converts any integer
 * type to 64 bits; a signed type is read signed and a negative id refused
 * with the row that holds it.
 *
 * Writing: the dataset is computed (or found held), every rank learns every
 * partition's record count, and together they create `<path>.kiln-tmp-<job
 * id>` and write each column as a 1-D dataset with one collective write of
 * this rank's rows; the master renames the file into place. Layout and
 * compression as kiln_dataset_save_hdf5()'s 1-D U64/I64/F64 datasets. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#define KILN_HDF5_IMPL
#include "runtime/hdf5_impl.h"
#include "runtime/error.h"
#include "runtime/h5zstd.h"
#include "runtime/hdf5_graph.h"
#include "runtime/log.h"
#include "runtime/schedule.h"

enum { WHY = 512 };
#define CHUNK_ROWS ((hsize_t)1 << 17) /* 1 MiB of 8-byte numbers */

/* ---- reading ---- */

typedef struct edge_info {
    uint64_t rows;
    uint64_t src_signed, dst_signed, has_weight;
} edge_info;

static kiln_status describe_column(hid_t file, const char *path, const char *name,
                                   bool integer, uint64_t *rows, uint64_t *is_signed)
{
    char why[WHY];
    kiln_status st = KILN_OK;
    hid_t dset = H5Dopen2(file, name, H5P_DEFAULT), space = -1, type = -1;
    if (dset < 0)
        return KILN_ERROR(KILN_ERR_IO, "graph: no dataset %s in %s: %s", name, path,
                          kiln__h5_reason(why, sizeof why));
    space = H5Dget_space(dset);
    type = H5Dget_type(dset);
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    hsize_t dims[1] = {0};
    if (space < 0 || type < 0 || H5Sget_simple_extent_ndims(space) != 1)
        st = KILN_ERROR(KILN_ERR_INVAL, "graph: dataset %s in %s must be a 1-D "
                        "array", name, path);
    else if (cls != H5T_INTEGER && (integer || cls != H5T_FLOAT))
        st = KILN_ERROR(KILN_ERR_INVAL, "graph: dataset %s in %s must hold %s",
                        name, path, integer ? "integers (vertex ids)" : "numbers");
    else if (H5Tget_size(type) > 8)
        st = KILN_ERROR(KILN_ERR_INVAL, "graph: dataset %s in %s has %zu-byte "
                        "elements; at most 8", name, path, H5Tget_size(type));
    if (st == KILN_OK) {
        H5Sget_simple_extent_dims(space, dims, NULL);
        *rows = dims[0];
        *is_signed = cls == H5T_INTEGER && H5Tget_sign(type) != H5T_SGN_NONE;
    }
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    H5Dclose(dset);
    return st;
}

/* Master: what the file holds. */
static kiln_status probe(const char *path, bool want_weight, edge_info *info)
{
    char why[WHY];
    kiln_status st = kiln__h5zstd_register();
    hid_t file = -1;
    if (st == KILN_OK && (file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        st = KILN_ERROR(KILN_ERR_IO, "graph: cannot open %s: %s", path,
                        kiln__h5_reason(why, sizeof why));
    uint64_t drows = 0, wrows = 0, wsigned;
    if (st == KILN_OK)
        st = describe_column(file, path, "/src", true, &info->rows, &info->src_signed);
    if (st == KILN_OK)
        st = describe_column(file, path, "/dst", true, &drows, &info->dst_signed);
    if (st == KILN_OK && drows != info->rows)
        st = KILN_ERROR(KILN_ERR_INVAL, "graph: %s has %llu sources (/src) but "
                        "%llu destinations (/dst)", path,
                        (unsigned long long)info->rows, (unsigned long long)drows);
    if (st == KILN_OK && want_weight) {
        htri_t e = H5Lexists(file, "/weight", H5P_DEFAULT);
        info->has_weight = e > 0;
        if (info->has_weight)
            st = describe_column(file, path, "/weight", false, &wrows, &wsigned);
        if (st == KILN_OK && info->has_weight && wrows != info->rows)
            st = KILN_ERROR(KILN_ERR_INVAL, "graph: %s has %llu edges but %llu "
                            "weights", path, (unsigned long long)info->rows,
                            (unsigned long long)wrows);
    }
    if (file >= 0)
        H5Fclose(file);
    (void)H5Eclear2(H5E_DEFAULT);
    return st;
}

/* Select this rank's rows in `fspace` and size `mspace` for them. */
static herr_t select_mine(kiln_context *ctx, uint64_t rows, uint32_t np,
                          hid_t fspace, hid_t *mspace, uint64_t mine)
{
    herr_t rc = H5Sselect_none(fspace);
    for (uint64_t p = (uint64_t)ctx->rank; p < np && rc >= 0; p += (uint64_t)ctx->nranks) {
        hsize_t lo = kiln__hdf5_part_start(rows, np, (uint32_t)p);
        hsize_t count = kiln__hdf5_part_start(rows, np, (uint32_t)p + 1) - lo;
        if (count)
            rc = H5Sselect_hyperslab(fspace, H5S_SELECT_OR, &lo, NULL, &count, NULL);
    }
    hsize_t mdims[1] = {mine ? mine : 1};
    if (rc >= 0 && (*mspace = H5Screate_simple(1, mdims, NULL)) < 0)
        rc = -1;
    if (rc >= 0 && !mine)
        rc = H5Sselect_none(*mspace);
    return rc;
}

/* One column's rows of this rank into buf (8 bytes each), collectively. */
static kiln_status read_column(kiln_context *ctx, hid_t file, const char *path,
                               const char *name, hid_t memtype, uint64_t rows,
                               uint32_t np, uint64_t mine, void *buf)
{
    char why[WHY];
    kiln_status st = KILN_OK;
    hid_t dset = H5Dopen2(file, name, H5P_DEFAULT), fspace = -1, mspace = -1, dxpl = -1;
    if (dset < 0)
        st = KILN_ERROR(KILN_ERR_IO, "graph: no dataset %s in %s: %s", name, path,
                        kiln__h5_reason(why, sizeof why));
    if ((st = kiln__h5_agree_handle(ctx, st, dset >= 0)) != KILN_OK)
        return st;
    if ((fspace = H5Dget_space(dset)) < 0 ||
        select_mine(ctx, rows, np, fspace, &mspace, mine) < 0 ||
        (dxpl = H5Pcreate(H5P_DATASET_XFER)) < 0 ||
        H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0)
        st = KILN_ERROR(KILN_ERR_IO, "graph: selecting rows of %s in %s: %s", name,
                        path, kiln__h5_reason(why, sizeof why));
    if ((st = kiln__error_agree(ctx, st)) == KILN_OK && rows > 0 &&
        H5Dread(dset, memtype, mspace, fspace, dxpl, buf) < 0)
        st = KILN_ERROR(KILN_ERR_IO, "graph: reading %s of %s failed: %s", name,
                        path, kiln__h5_reason(why, sizeof why));
    if (dxpl >= 0)
        H5Pclose(dxpl);
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    H5Dclose(dset);
    return kiln__error_agree(ctx, st);
}

/* The rows read, back to back, into one store per owned partition. */
static kiln_status build_parts(kiln_context *ctx, const char *path,
                               const edge_info *info, uint32_t np, bool weighted,
                               const uint64_t *src, const uint64_t *dst,
                               const double *w, kiln__resident *r)
{
    kiln_schema s = weighted ? kiln_schema_of(KILN_T_U64, kiln_type_fixed(16, NULL,
                                                                           NULL, NULL))
                             : kiln_schema_of(KILN_T_U64, KILN_T_U64);
    kiln__block blk;
    kiln_status st = kiln__block_init(&blk, &ctx->mem, &s);
    size_t at = 0;
    for (uint64_t p = (uint64_t)ctx->rank; st == KILN_OK && p < np;
         p += (uint64_t)ctx->nranks) {
        uint64_t lo = kiln__hdf5_part_start(info->rows, np, (uint32_t)p);
        uint64_t hi = kiln__hdf5_part_start(info->rows, np, (uint32_t)p + 1);
        kiln__store *store = kiln__mem_alloc(&ctx->mem, sizeof *store);
        if (!store) {
            st = KILN_ERROR(KILN_ERR_NOMEM, "graph: partition store");
            break;
        }
        kiln__store_init(store, &ctx->mem, &s);
        r->part[p] = store;
        for (uint64_t row = lo; row < hi && st == KILN_OK; row++, at++) {
            if ((info->src_signed && (int64_t)src[at] < 0) ||
                (info->dst_signed && (int64_t)dst[at] < 0)) {
                st = KILN_ERROR(KILN_ERR_PARSE, "graph: %s row %llu: negative "
                                "vertex id %lld", path, (unsigned long long)row,
                                (long long)((int64_t)src[at] < 0 ? src[at] : dst[at]));
                break;
            }
            kiln_graph_wdst v = {dst[at], w ? w[at] : 1.0};
            st = kiln__block_append(&blk, &src[at], 8, &v, weighted ? 16 : 8);
            if (st == KILN_OK && (kiln__block_bytes(&blk) >= KILN__STORE_BLOCK_BYTES ||
                                  row + 1 == hi))
                st = kiln__store_adopt(store, &blk);
        }
    }
    kiln__block_release(&blk);
    return st;
}

kiln_status kiln__hdf5_graph_read(kiln_context *ctx, const char *path,
                                  bool want_weight, uint32_t nparts,
                                  kiln__resident **out, bool *weighted)
{
    kiln__h5_quiet q;
    kiln__h5_quiet_begin(&q);
    edge_info info = {0, 0, 0, 0};
    kiln_status st = ctx->rank == 0 ? probe(path, want_weight, &info) : KILN_OK;
    kiln__resident *r = NULL;
    uint64_t *src = NULL, *dst = NULL;
    double *w = NULL;
    hid_t fapl = -1, file = -1;
    char why[WHY];
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    if (MPI_Bcast(&info, 4, MPI_UINT64_T, 0, ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "graph: HDF5 edge description");
    uint64_t mine = 0;
    for (uint64_t p = (uint64_t)ctx->rank; p < nparts; p += (uint64_t)ctx->nranks)
        mine += kiln__hdf5_part_start(info.rows, nparts, (uint32_t)p + 1) -
                kiln__hdf5_part_start(info.rows, nparts, (uint32_t)p);
    size_t n = mine ? (size_t)mine : 1;
    src = kiln__mem_alloc(&ctx->mem, n * 8);
    dst = kiln__mem_alloc(&ctx->mem, n * 8);
    w = info.has_weight ? kiln__mem_alloc(&ctx->mem, n * 8) : NULL;
    if (!src || !dst || (info.has_weight && !w))
        st = KILN_ERROR(KILN_ERR_NOMEM, "graph: %llu edges of %s",
                        (unsigned long long)mine, path);
    if (st == KILN_OK)
        st = kiln__resident_create(&ctx->mem, nparts, &r);
    if (st == KILN_OK &&
        ((fapl = H5Pcreate(H5P_FILE_ACCESS)) < 0 ||
         H5Pset_fapl_mpio(fapl, ctx->comm, MPI_INFO_NULL) < 0 ||
         H5Pset_all_coll_metadata_ops(fapl, true) < 0))
        st = KILN_ERROR(KILN_ERR_IO, "graph: MPI-IO for %s: %s", path,
                        kiln__h5_reason(why, sizeof why));
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    if ((file = H5Fopen(path, H5F_ACC_RDONLY, fapl)) < 0)
        st = KILN_ERROR(KILN_ERR_IO, "graph: cannot open %s: %s", path,
                        kiln__h5_reason(why, sizeof why));
    if ((st = kiln__h5_agree_handle(ctx, st, file >= 0)) != KILN_OK)
        goto done;
    st = read_column(ctx, file, path, "/src", info.src_signed ? H5T_NATIVE_INT64
                     : H5T_NATIVE_UINT64, info.rows, nparts, mine, src);
    if (st == KILN_OK)
        st = read_column(ctx, file, path, "/dst", info.dst_signed ? H5T_NATIVE_INT64
                         : H5T_NATIVE_UINT64, info.rows, nparts, mine, dst);
    if (st == KILN_OK && info.has_weight)
        st = read_column(ctx, file, path, "/weight", H5T_NATIVE_DOUBLE, info.rows,
                         nparts, mine, w);
    if (st == KILN_OK)
        st = build_parts(ctx, path, &info, nparts, info.has_weight, src, dst, w, r);
    if ((st = kiln__error_agree(ctx, st)) == KILN_OK) {
        for (uint32_t p = 0; p < nparts; p++)
            r->owner[p] = (int32_t)(p % (uint32_t)ctx->nranks);
        r->complete = true;
        *out = r;
        *weighted = info.has_weight != 0;
        r = NULL;
    }
done:
    if (file >= 0 && H5Fclose(file) < 0 && st == KILN_OK)
        st = KILN_ERROR(KILN_ERR_IO, "graph: closing %s", path);
    if (fapl >= 0)
        H5Pclose(fapl);
    kiln__mem_free(&ctx->mem, src);
    kiln__mem_free(&ctx->mem, dst);
    kiln__mem_free(&ctx->mem, w);
    kiln__resident_destroy(&ctx->mem, &r);
    kiln__h5_quiet_end(&q);
    return st;
}

/* ---- writing ---- */

static hid_t file_type(kiln_kind k)
{
    return k == KILN_KIND_F64 ? H5T_IEEE_F64LE
           : k == KILN_KIND_I64 ? H5T_STD_I64LE : H5T_STD_U64LE;
}

static hid_t mem_type(kiln_kind k)
{
    return k == KILN_KIND_F64 ? H5T_NATIVE_DOUBLE
           : k == KILN_KIND_I64 ? H5T_NATIVE_INT64 : H5T_NATIVE_UINT64;
}

static kiln_status check_columns(const kiln__node *node, const kiln_graph_column *cols,
                                 size_t ncols, const kiln_hdf5_options *o)
{
    const kiln_schema *s = &node->schema;
    if (ncols == 0 || !cols)
        return KILN_ERROR(KILN_ERR_INVAL, "graph: save_hdf5 needs columns");
    if (s->key.size != 8 || s->value.size == 0 || kiln__type_variable(&s->value) ||
        s->value.size != 8 * (ncols - 1))
        return KILN_ERROR(KILN_ERR_INVAL, "graph: save_hdf5 of %zu columns needs an "
                          "8-byte key and a value of %zu bytes", ncols,
                          8 * (ncols - 1));
    for (size_t c = 0; c < ncols; c++) {
        if (!cols[c].name || !cols[c].name[0])
            return KILN_ERROR(KILN_ERR_INVAL, "graph: column %zu has no name", c);
        if (cols[c].kind != KILN_KIND_U64 && cols[c].kind != KILN_KIND_I64 &&
            cols[c].kind != KILN_KIND_F64)
            return KILN_ERROR(KILN_ERR_INVAL, "graph: column %s must be U64, I64 or "
                              "F64", cols[c].name);
    }
    if (o->compression != KILN_COMPRESS_NONE && o->compression != KILN_COMPRESS_DEFLATE &&
        o->compression != KILN_COMPRESS_ZSTD)
        return KILN_ERROR(KILN_ERR_INVAL, "graph: unknown compression %d",
                          (int)o->compression);
    return KILN_OK;
}

static hid_t make_dcpl(const kiln_hdf5_options *o, uint64_t rows)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl < 0 || H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0)
        goto fail;
    if (o->compression != KILN_COMPRESS_NONE && rows > 0) {
        hsize_t chunk = rows < CHUNK_ROWS ? rows : CHUNK_ROWS;
        if (H5Pset_chunk(dcpl, 1, &chunk) < 0)
            goto fail;
        if (o->compression == KILN_COMPRESS_DEFLATE) {
            if (H5Pset_deflate(dcpl, (unsigned)(o->level ? o->level : 6)) < 0)
                goto fail;
        } else {
            unsigned cd[1] = {(unsigned)(o->level ? o->level : ZSTD_CLEVEL_DEFAULT)};
            if (kiln__h5zstd_register() != KILN_OK ||
                H5Pset_filter(dcpl, (H5Z_filter_t)KILN__H5Z_ZSTD, H5Z_FLAG_MANDATORY,
                              1, cd) < 0)
                goto fail;
        }
    }
    return dcpl;
fail:
    if (dcpl >= 0)
        H5Pclose(dcpl);
    return -1;
}

/* Create tmp and write every column. Collective; agreed. */
static kiln_status write_columns(kiln_context *ctx, const char *tmp,
                                 const kiln_graph_column *cols, size_t ncols,
                                 const kiln_hdf5_options *o, uint64_t rows,
                                 const uint64_t *runs, size_t nruns, uint64_t mine,
                                 uint64_t *const *bufs)
{
    char why[WHY];
    kiln_status st = KILN_OK;
    hid_t fapl = -1, file = -1;
    if ((fapl = H5Pcreate(H5P_FILE_ACCESS)) < 0 ||
        H5Pset_fapl_mpio(fapl, ctx->comm, MPI_INFO_NULL) < 0 ||
        H5Pset_all_coll_metadata_ops(fapl, true) < 0 ||
        H5Pset_coll_metadata_write(fapl, true) < 0)
        st = KILN_ERROR(KILN_ERR_IO, "graph: MPI-IO: %s",
                        kiln__h5_reason(why, sizeof why));
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    if ((file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0)
        st = KILN_ERROR(KILN_ERR_IO, "graph: cannot create %s: %s", tmp,
                        kiln__h5_reason(why, sizeof why));
    if ((st = kiln__h5_agree_handle(ctx, st, file >= 0)) != KILN_OK)
        goto done;
    for (size_t c = 0; c < ncols && st == KILN_OK; c++) {
        hsize_t dims[1] = {rows}, mdims[1] = {mine ? mine : 1};
        hid_t fspace = H5Screate_simple(1, dims, NULL);
        hid_t dcpl = make_dcpl(o, rows), dset = -1, mspace = -1, dxpl = -1;
        if (fspace < 0 || dcpl < 0)
            st = KILN_ERROR(KILN_ERR_IO, "graph: dataset properties: %s",
                            kiln__h5_reason(why, sizeof why));
        if ((st = kiln__error_agree(ctx, st)) == KILN_OK) {
            dset = H5Dcreate2(file, cols[c].name, file_type(cols[c].kind), fspace,
                              H5P_DEFAULT, dcpl, H5P_DEFAULT);
            if (dset < 0)
                st = KILN_ERROR(KILN_ERR_IO, "graph: cannot create %s in %s: %s",
                                cols[c].name, tmp, kiln__h5_reason(why, sizeof why));
            st = kiln__h5_agree_handle(ctx, st, dset >= 0);
        }
        if (st == KILN_OK) {
            herr_t rc = H5Sselect_none(fspace);
            for (size_t i = 0; i < nruns && rc >= 0; i++) {
                hsize_t start = runs[2 * i], count = runs[2 * i + 1] - runs[2 * i];
                rc = H5Sselect_hyperslab(fspace, H5S_SELECT_OR, &start, NULL, &count,
                                         NULL);
            }
            if (rc >= 0 && (mspace = H5Screate_simple(1, mdims, NULL)) < 0)
                rc = -1;
            if (rc >= 0 && !mine)
                rc = H5Sselect_none(mspace);
            if (rc >= 0 && ((dxpl = H5Pcreate(H5P_DATASET_XFER)) < 0 ||
                            H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0))
                rc = -1;
            if (rc < 0)
                st = KILN_ERROR(KILN_ERR_IO, "graph: selecting rows: %s",
                                kiln__h5_reason(why, sizeof why));
            if ((st = kiln__error_agree(ctx, st)) == KILN_OK && rows > 0 &&
                H5Dwrite(dset, mem_type(cols[c].kind), mspace, fspace, dxpl,
                         bufs[c]) < 0)
                st = KILN_ERROR(KILN_ERR_IO, "graph: writing %s of %s: %s",
                                cols[c].name, tmp, kiln__h5_reason(why, sizeof why));
        }
        if (dxpl >= 0)
            H5Pclose(dxpl);
        if (mspace >= 0)
            H5Sclose(mspace);
        if (dset >= 0 && H5Dclose(dset) < 0 && st == KILN_OK)
            st = KILN_ERROR(KILN_ERR_IO, "graph: closing %s", cols[c].name);
        if (dcpl >= 0)
            H5Pclose(dcpl);
        if (fspace >= 0)
            H5Sclose(fspace);
        st = kiln__error_agree(ctx, st);
    }
done:
    if (file >= 0 && H5Fclose(file) < 0 && st == KILN_OK)
        st = KILN_ERROR(KILN_ERR_IO, "graph: closing %s: %s", tmp,
                        kiln__h5_reason(why, sizeof why));
    if (fapl >= 0)
        H5Pclose(fapl);
    return kiln__error_agree(ctx, st);
}

kiln_status kiln__hdf5_graph_write(kiln_context *ctx, kiln__node *node,
                                   const char *path, const kiln_graph_column *cols,
                                   size_t ncols, const kiln_hdf5_options *opts)
{
    kiln_hdf5_options o;
    memset(&o, 0, sizeof o);
    if (opts)
        o = *opts;
    kiln__h5_quiet q;
    kiln__h5_quiet_begin(&q);
    char tmp[4200];
    kiln__resident *res = NULL;
    bool owned = false, attempted = false;
    uint64_t *offset = NULL, *runs = NULL, *bufs[64] = {NULL};
    size_t nruns = 0;
    uint64_t mine = 0, rows = 0;
    kiln_status st = check_columns(node, cols, ncols, &o);
    if (st == KILN_OK && ncols > 64)
        st = KILN_ERROR(KILN_ERR_LIMIT, "graph: at most 64 columns");
    if (st == KILN_OK && (size_t)snprintf(tmp, sizeof tmp, "%s.kiln-tmp-%s", path,
                                          ctx->job_id) >= sizeof tmp)
        st = KILN_ERROR(KILN_ERR_INVAL, "graph: path too long: %s", path);
    if (st == KILN_OK && ctx->rank == 0 && access(path, F_OK) == 0 && !o.overwrite)
        st = KILN_ERROR(KILN_ERR_EXISTS, "graph: %s already exists", path);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    if ((st = kiln__schedule_materialize(ctx, node, &res, &owned)) != KILN_OK)
        goto done;
    uint32_t np = res->nparts;
    offset = kiln__mem_calloc(&ctx->mem, (size_t)np + 1, sizeof *offset);
    runs = kiln__mem_alloc(&ctx->mem, 2 * ((size_t)np + 1) * sizeof *runs);
    if (!offset || !runs)
        st = KILN_ERROR(KILN_ERR_NOMEM, "graph: save_hdf5");
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    for (uint32_t p = 0; p < np; p++)
        if (res->part[p])
            offset[p + 1] = res->part[p]->records;
    if (MPI_Allreduce(MPI_IN_PLACE, offset + 1, (int)np, MPI_UINT64_T, MPI_SUM,
                      ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "graph: save_hdf5 counts");
    for (uint32_t p = 0; p < np; p++)
        offset[p + 1] += offset[p];
    rows = offset[np];
    for (uint32_t p = 0; p < np; p++)
        if (res->part[p] && res->part[p]->records) {
            runs[2 * nruns] = offset[p];
            runs[2 * nruns + 1] = offset[p + 1];
            nruns++;
            mine += res->part[p]->records;
        }
    for (size_t c = 0; c < ncols && st == KILN_OK; c++)
        if (!(bufs[c] = kiln__mem_alloc(&ctx->mem, (mine ? mine : 1) * 8)))
            st = KILN_ERROR(KILN_ERR_NOMEM, "graph: save_hdf5 rows");
    size_t vb = 8 * (ncols - 1), at = 0;
    for (uint32_t p = 0; st == KILN_OK && p < np; p++) {
        const kiln__store *s = res->part[p];
        for (size_t b = 0; s && b < s->nblocks; b++) {
            const kiln__block *blk = &s->blocks[b];
            for (size_t i = 0; i < blk->n; i++, at++) {
                memcpy(&bufs[0][at], blk->key.data + 8 * i, 8);
                for (size_t c = 1; c < ncols; c++)
                    memcpy(&bufs[c][at], blk->value.data + vb * i + 8 * (c - 1), 8);
            }
        }
    }
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    attempted = true;
    st = write_columns(ctx, tmp, cols, ncols, &o, rows, runs, nruns, mine, bufs);
    if (ctx->rank == 0) {
        if (st == KILN_OK && rename(tmp, path) != 0)
            st = KILN_ERROR(KILN_ERR_IO, "graph: cannot rename %s to %s: %s", tmp,
                            path, strerror(errno));
        if (st != KILN_OK && attempted)
            unlink(tmp);
    }
    st = kiln__error_agree(ctx, st);
done:
    for (size_t c = 0; c < ncols && c < 64; c++)
        kiln__mem_free(&ctx->mem, bufs[c]);
    kiln__mem_free(&ctx->mem, offset);
    kiln__mem_free(&ctx->mem, runs);
    if (owned)
        kiln__resident_destroy(&ctx->mem, &res);
    kiln__h5_quiet_end(&q);
    return st;
}
