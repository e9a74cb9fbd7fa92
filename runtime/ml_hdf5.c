/* runtime/ml_hdf5.c: labelled rows in and out of HDF5 (ml module).
 *
 * In: /X (N x dim numbers) is a kiln_hdf5_read source, read collectively
 * when first needed, partition p holding rows [p*N/P, (p+1)*N/P) (see
 * runtime/hdf5_io.h). Its labels come with it: a map_partitions over /X
 * whose open callback reads the same rows of /y with serial HDF5, on
 * whichever rank runs the task, so no rank ever holds more of /y than its
 * own partitions, and the pairing needs no shuffle. Rows of any numeric
 * element type are turned into doubles there; /y is converted by HDF5.
 *
 * Out: kiln_ml_save_hdf5() writes /X with the collective
 * kiln_dataset_save_hdf5 into a temporary file and /y into a second one;
 * the master copies /y into the first (H5Ocopy) and renames it into place,
 * so the file appears whole or not at all. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KILN_HDF5_IMPL
#include "runtime/hdf5_impl.h"
#include "runtime/error.h"
#include "runtime/h5zstd.h"
#include "runtime/log.h"
#include "runtime/ml.h"
#include "runtime/node.h"

/* What the master found in the file, broadcast as numbers. */
enum { I_ROWS, I_DIM, I_CLASS, I_SIZE, I_SIGNED, I_HAS_Y, I_N };
enum { ELEM_FLOAT = 1, ELEM_INT = 2 };

static kiln_status describe_x(hid_t file, const char *path, const char *name,
                              uint64_t info[I_N])
{
    char why[512];
    kiln_status st = KILN_OK;
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT), space = H5I_INVALID_HID,
          type = H5I_INVALID_HID;
    if (d < 0)
        return KILN_ERROR(KILN_ERR_IO, "ml_load: no dataset %s in %s: %s", name,
                          path, kiln__h5_reason(why, sizeof why));
    space = H5Dget_space(d);
    type = H5Dget_type(d);
    hsize_t dims[2] = {0, 0};
    int nd = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (nd != 2) {
        st = KILN_ERROR(KILN_ERR_INVAL, "ml_load: %s in %s has %d dimensions; "
                        "features must be a 2-D array (rows x features)", name,
                        path, nd < 0 ? 0 : nd);
        goto done;
    }
    H5Sget_simple_extent_dims(space, dims, NULL);
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    if ((cls != H5T_FLOAT && cls != H5T_INTEGER) ||
        (cls == H5T_FLOAT && size != 4 && size != 8) ||
        (cls == H5T_INTEGER && size != 1 && size != 2 && size != 4 && size != 8)) {
        st = KILN_ERROR(KILN_ERR_INVAL, "ml_load: %s in %s is not an array of "
                        "numbers (floats of 4 or 8 bytes, integers of 1 to 8)",
                        name, path);
        goto done;
    }
    if (dims[1] == 0 || dims[1] > UINT32_MAX / 8) {
        st = KILN_ERROR(KILN_ERR_INVAL, "ml_load: %s in %s has %llu columns", name,
                        path, (unsigned long long)dims[1]);
        goto done;
    }
    info[I_ROWS] = dims[0];
    info[I_DIM] = dims[1];
    info[I_CLASS] = cls == H5T_FLOAT ? ELEM_FLOAT : ELEM_INT;
    info[I_SIZE] = size;
    info[I_SIGNED] = cls == H5T_INTEGER && H5Tget_sign(type) != H5T_SGN_NONE;
done:
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    H5Dclose(d);
    return st;
}

static kiln_status describe_y(hid_t file, const char *path, const char *name,
                              bool required, uint64_t info[I_N])
{
    char why[512];
    kiln_status st = KILN_OK;
    /* H5Lexists fails on "/a/b" when /a is missing; that is "absent" too. */
    htri_t there = H5Lexists(file, name, H5P_DEFAULT);
    (void)H5Eclear2(H5E_DEFAULT);
    if (there <= 0) {
        info[I_HAS_Y] = 0;
        return required ? KILN_ERROR(KILN_ERR_IO, "ml_load: no dataset %s in %s",
                                     name, path)
                        : KILN_OK;
    }
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT), space = H5I_INVALID_HID,
          type = H5I_INVALID_HID;
    if (d < 0)
        return KILN_ERROR(KILN_ERR_IO, "ml_load: cannot open %s in %s: %s", name,
                          path, kiln__h5_reason(why, sizeof why));
    space = H5Dget_space(d);
    type = H5Dget_type(d);
    hsize_t dims[2] = {0, 0};
    int nd = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (nd >= 1 && nd <= 2)
        H5Sget_simple_extent_dims(space, dims, NULL);
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    if (nd < 1 || nd > 2 || (nd == 2 && dims[1] != 1))
        st = KILN_ERROR(KILN_ERR_INVAL, "ml_load: labels %s in %s must be a 1-D "
                        "array (or N x 1)", name, path);
    else if (cls != H5T_FLOAT && cls != H5T_INTEGER)
        st = KILN_ERROR(KILN_ERR_INVAL, "ml_load: labels %s in %s are not numbers",
                        name, path);
    else if (dims[0] != info[I_ROWS])
        st = KILN_ERROR(KILN_ERR_INVAL, "ml_load: %s in %s has %llu labels for "
                        "%llu rows", name, path, (unsigned long long)dims[0],
                        (unsigned long long)info[I_ROWS]);
    info[I_HAS_Y] = st == KILN_OK;
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    H5Dclose(d);
    return st;
}

/* Master: describe /X and /y of path. */
static kiln_status probe(const char *path, const char *x, const char *y,
                         bool y_required, uint64_t info[I_N])
{
    char why[512];
    kiln_status st = kiln__h5zstd_register();
    if (st != KILN_OK)
        return st;
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return KILN_ERROR(KILN_ERR_IO, "ml_load: cannot open %s: %s", path,
                          kiln__h5_reason(why, sizeof why));
    st = describe_x(file, path, x, info);
    if (st == KILN_OK)
        st = describe_y(file, path, y, y_required, info);
    if (st == KILN_OK && info[I_ROWS] == 0)
        st = KILN_ERROR(KILN_ERR_EMPTY, "ml_load: %s in %s has no rows", x, path);
    H5Fclose(file);
    return st;
}

/* ---- pairing rows with labels ---- */

typedef struct pair_arg {
    uint64_t rows;        /* N */
    uint32_t nparts, dim;
    int elem_class;       /* ELEM_FLOAT or ELEM_INT */
    size_t elem_size;
    bool elem_signed, has_y;
    char *path, *y_name;  /* point into text[] */
    char text[];
} pair_arg;

typedef struct pair_state {
    double *y;            /* this partition's labels; NULL without /y */
    uint64_t n, next;     /* rows in the partition, next row */
    double *row;          /* one converted row */
} pair_state;

/* Rows [lo, hi) of /y as doubles; serial HDF5 (this is a task). */
static kiln_status read_labels(const pair_arg *a, uint64_t lo, uint64_t hi,
                               double *y)
{
    kiln_status st = KILN_OK;
    char why[512];
    kiln__h5_quiet q;
    kiln__h5_quiet_begin(&q);
    hid_t file = H5Fopen(a->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = file >= 0 ? H5Dopen2(file, a->y_name, H5P_DEFAULT) : H5I_INVALID_HID;
    hid_t fspace = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    int nd = fspace >= 0 ? H5Sget_simple_extent_ndims(fspace) : -1;
    hsize_t start[2] = {lo, 0}, count[2] = {hi - lo, 1}, mdims[1] = {hi - lo};
    if (nd < 1 ||
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        (mspace = H5Screate_simple(1, mdims, NULL)) < 0 ||
        H5Dread(d, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT, y) < 0)
        st = kiln_error(KILN_ERR_IO, "ml_load: reading labels %s of %s: %s",
                        a->y_name, a->path, kiln__h5_reason(why, sizeof why));
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    if (d >= 0)
        H5Dclose(d);
    if (file >= 0)
        H5Fclose(file);
    kiln__h5_quiet_end(&q);
    return st;
}

static kiln_status pair_close(kiln_emitter *out, void *state, void *arg)
{
    (void)out;
    (void)arg;
    pair_state *s = state;
    if (s) {
        free(s->y);
        free(s->row);
    }
    free(s);
    return KILN_OK;
}

static kiln_status pair_open(uint32_t partition, void **state, void *arg)
{
    const pair_arg *a = arg;
    uint64_t lo = kiln__hdf5_part_start(a->rows, a->nparts, partition);
    uint64_t hi = kiln__hdf5_part_start(a->rows, a->nparts, partition + 1);
    pair_state *s = calloc(1, sizeof *s);
    if (!s)
        return kiln_error(KILN_ERR_NOMEM, "ml_load: pairing state");
    s->n = hi - lo;
    s->row = malloc((size_t)a->dim * 8);
    if (a->has_y)
        s->y = malloc((size_t)(s->n ? s->n : 1) * sizeof *s->y);
    kiln_status st = KILN_OK;
    if (!s->row || (a->has_y && !s->y))
        st = kiln_error(KILN_ERR_NOMEM, "ml_load: labels of partition %u", partition);
    else if (a->has_y && s->n)
        st = read_labels(a, lo, hi, s->y);
    if (st != KILN_OK) {
        pair_close(NULL, s, arg);
        return st;
    }
    *state = s;
    return KILN_OK;
}

/* One stored row as doubles. */
static void convert(const pair_arg *a, const unsigned char *src, double *dst)
{
    for (uint32_t j = 0; j < a->dim; j++) {
        const unsigned char *e = src + (size_t)j * a->elem_size;
        if (a->elem_class == ELEM_FLOAT) {
            float f;
            memcpy(&f, e, 4);
            dst[j] = f;
        } else if (a->elem_signed) {
            int64_t v = 0;
            switch (a->elem_size) {
            case 1: { int8_t x; memcpy(&x, e, 1); v = x; break; }
            case 2: { int16_t x; memcpy(&x, e, 2); v = x; break; }
            case 4: { int32_t x; memcpy(&x, e, 4); v = x; break; }
            default: memcpy(&v, e, 8);
            }
            dst[j] = (double)v;
        } else {
            uint64_t v = 0;
            switch (a->elem_size) {
            case 1: { uint8_t x; memcpy(&x, e, 1); v = x; break; }
            case 2: { uint16_t x; memcpy(&x, e, 2); v = x; break; }
            case 4: { uint32_t x; memcpy(&x, e, 4); v = x; break; }
            default: memcpy(&v, e, 8);
            }
            dst[j] = (double)v;
        }
    }
}

static kiln_status pair_batch(const kiln_batch *in, kiln_emitter *out,
                              void *state, void *arg)
{
    pair_state *s = state;
    const pair_arg *a = arg;
    bool as_is = a->elem_class == ELEM_FLOAT && a->elem_size == 8;
    if (s->next + in->n > s->n)
        return kiln_error(KILN_ERR_STATE, "ml_load: partition %u of %s has more "
                          "rows than %llu", in->partition, a->path,
                          (unsigned long long)s->n);
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        const unsigned char *v = kiln_batch_value(in, i, &len);
        double y = a->has_y ? s->y[s->next] : NAN;
        s->next++;
        if (!as_is)
            convert(a, v, s->row);
        kiln_status st = kiln_emit(out, &y, 8, as_is ? (const void *)v : s->row,
                                   (size_t)a->dim * 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

kiln_status kiln__ml_hdf5_rows(kiln_context *ctx, const char *path,
                               const char *x_name, const char *y_name,
                               bool y_required, uint32_t nparts,
                               kiln_dataset **out, uint32_t *dim, bool *labeled)
{
    uint64_t info[I_N] = {0};
    kiln_status st = KILN_OK;
    if (ctx->rank == 0) {
        kiln__h5_quiet q;
        kiln__h5_quiet_begin(&q);
        st = probe(path, x_name, y_name, y_required, info);
        kiln__h5_quiet_end(&q);
    }
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        return st;
    if (MPI_Bcast(info, I_N, MPI_UINT64_T, 0, ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "ml_load: broadcast of the shape of /X");
    kiln_dataset *x = NULL;
    st = kiln_hdf5_read(ctx, path, x_name, nparts, &x);
    if (st != KILN_OK)
        return st;
    size_t plen = strlen(path) + 1, ylen = strlen(y_name) + 1;
    pair_arg *a = malloc(sizeof *a + plen + ylen);
    if (!a) {
        kiln_dataset_destroy(&x);
        return KILN_ERROR(KILN_ERR_NOMEM, "ml_load: pairing arguments");
    }
    a->rows = info[I_ROWS];
    a->nparts = kiln__node_of(x)->nparts;
    a->dim = (uint32_t)info[I_DIM];
    a->elem_class = (int)info[I_CLASS];
    a->elem_size = (size_t)info[I_SIZE];
    a->elem_signed = info[I_SIGNED] != 0;
    a->has_y = info[I_HAS_Y] != 0;
    a->path = a->text;
    a->y_name = a->text + plen;
    memcpy(a->path, path, plen);
    memcpy(a->y_name, y_name, ylen);
    kiln_schema s = {KILN_T_F64, kiln_type_fixed((size_t)a->dim * 8, NULL, NULL, NULL)};
    kiln_partition_fns fns = {pair_open, pair_batch, pair_close};
    kiln_dataset *rows = NULL;
    st = kiln_dataset_map_partitions(x, s, fns, a, &rows);
    kiln_dataset_destroy(&x); /* rows keeps it */
    if (st != KILN_OK) {
        free(a);
        return st;
    }
    rows->node.owned_arg = a; /* freed with the node */
    *out = rows;
    *dim = a->dim;
    *labeled = a->has_y;
    return KILN_OK;
}

/* ---- kiln_ml_save_hdf5 ---- */

static kiln_status drop_key(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        const void *v = kiln_batch_value(in, i, &len);
        kiln_status st = kiln_emit(out, NULL, 0, v, len);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status key_as_value(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        kiln_status st = kiln_emit(out, NULL, 0, in->keys + 8 * i, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* Master: copy /y of ytmp into xtmp, then put xtmp at path. */
static kiln_status merge(const char *xtmp, const char *ytmp, const char *path,
                         bool overwrite)
{
    char why[512];
    kiln_status st = kiln__h5zstd_register();
    if (st != KILN_OK)
        return st;
    kiln__h5_quiet q;
    kiln__h5_quiet_begin(&q);
    hid_t fx = H5Fopen(xtmp, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t fy = H5Fopen(ytmp, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (fx < 0 || fy < 0 || H5Ocopy(fy, "/y", fx, "/y", H5P_DEFAULT, H5P_DEFAULT) < 0)
        st = KILN_ERROR(KILN_ERR_IO, "ml_save_hdf5: copying /y into %s: %s", xtmp,
                        kiln__h5_reason(why, sizeof why));
    if (fy >= 0)
        H5Fclose(fy);
    if (fx >= 0 && H5Fclose(fx) < 0 && st == KILN_OK)
        st = KILN_ERROR(KILN_ERR_IO, "ml_save_hdf5: closing %s: %s", xtmp,
                        kiln__h5_reason(why, sizeof why));
    kiln__h5_quiet_end(&q);
    if (st != KILN_OK)
        return st;
    if (!overwrite && access(path, F_OK) == 0)
        return KILN_ERROR(KILN_ERR_EXISTS, "ml_save_hdf5: %s appeared while the "
                          "job ran; not replaced", path);
    if (rename(xtmp, path) != 0)
        return KILN_ERROR(KILN_ERR_IO, "ml_save_hdf5: cannot rename %s to %s: %s",
                          xtmp, path, strerror(errno));
    return KILN_OK;
}

kiln_status kiln_ml_save_hdf5(kiln_dataset *ds, const char *path,
                              const kiln_hdf5_options *opts)
{
    if (!ds)
        return KILN_ERR_INVAL;
    kiln_context *ctx = ds->node.ctx;
    if (!ctx)
        return KILN_ERR_STATE;
    kiln__api_begin(ctx);
    kiln_status st = KILN_OK;
    kiln_schema s = ds->node.schema;
    kiln_dataset *xs = NULL, *ys = NULL;
    char xtmp[4300], ytmp[4300];
    kiln_hdf5_options o;
    memset(&o, 0, sizeof o);
    if (opts)
        o = *opts;
    bool overwrite = o.overwrite;
    if (!path || !*path)
        return kiln__api_end(ctx, KILN_ERROR(KILN_ERR_INVAL, "ml_save_hdf5: no path"));
    if (s.key.kind != KILN_KIND_F64 || s.value.kind != KILN_KIND_FIXED ||
        s.value.size % 8 || s.value.size / 8 > UINT32_MAX)
        return kiln__api_end(ctx, KILN_ERROR(KILN_ERR_INVAL, "ml_save_hdf5: rows "
                             "must be (F64 label, FIXED of dim * 8 bytes)"));
    if ((size_t)snprintf(xtmp, sizeof xtmp, "%s.kiln-X-%s", path, ctx->job_id) >=
            sizeof xtmp ||
        (size_t)snprintf(ytmp, sizeof ytmp, "%s.kiln-y-%s", path, ctx->job_id) >=
            sizeof ytmp)
        return kiln__api_end(ctx, KILN_ERROR(KILN_ERR_INVAL, "ml_save_hdf5: path "
                                             "too long"));
    struct stat sb;
    if (ctx->rank == 0 && stat(path, &sb) == 0 && (!overwrite || S_ISDIR(sb.st_mode)))
        st = KILN_ERROR(KILN_ERR_EXISTS, "ml_save_hdf5: %s already exists%s", path,
                        S_ISDIR(sb.st_mode) ? " and is a directory" : "");
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        return kiln__api_end(ctx, st);
    o.overwrite = true; /* the temporary names are this job's */
    o.columns = (uint32_t)(s.value.size / 8);
    o.element = KILN_KIND_F64;
    st = kiln_dataset_map(ds, kiln_schema_of(KILN_T_NONE, s.value), drop_key, NULL,
                          &xs);
    if (st == KILN_OK)
        st = kiln_dataset_save_hdf5(xs, xtmp, "/X", &o);
    o.columns = 0;
    if (st == KILN_OK)
        st = kiln_dataset_map(ds, kiln_schema_of(KILN_T_NONE, KILN_T_F64),
                              key_as_value, NULL, &ys);
    if (st == KILN_OK)
        st = kiln_dataset_save_hdf5(ys, ytmp, "/y", &o);
    if (ctx->rank == 0) {
        if (st == KILN_OK)
            st = merge(xtmp, ytmp, path, overwrite);
        unlink(ytmp);
        if (st != KILN_OK)
            unlink(xtmp);
    }
    st = kiln__error_agree(ctx, st);
    kiln_dataset_destroy(&xs);
    kiln_dataset_destroy(&ys);
    return kiln__api_end(ctx, st);
}
