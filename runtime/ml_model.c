/* runtime/ml_model.c: small model files (ml module).
 *
 * A model is a handful of named arrays and string attributes held in
 * memory on every rank. Saving is the master's job alone: it writes the
 * file with serial HDF5 under a temporary name and renames it into place,
 * then every rank learns the outcome (kiln__error_agree). Loading is the
 * master's too: it reads the root group, packs what it found into bytes,
 * and broadcasts them, so every rank unpacks the same model. Arrays are
 * little-endian doubles or 64-bit integers on disk, attributes
 * variable-length UTF-8 strings, which h5py reads as numpy arrays and str. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KILN_HDF5_IMPL
#include "runtime/hdf5_impl.h"
#include "runtime/error.h"
#include "runtime/ml.h"

enum { KIND_F64 = 1, KIND_I64 = 2, KIND_ATTR = 3 };

typedef struct entry {
    int kind;
    char *name;          /* owned */
    uint64_t rows, cols; /* arrays: cols 0 for 1-D */
    void *data;          /* owned: rows * max(cols, 1) values, or the text */
} entry;

struct kiln_ml_model {
    entry *e;            /* owned, n used of cap */
    size_t n, cap;
};

kiln_status kiln_ml_model_create(kiln_ml_model **out)
{
    if (!out)
        return KILN_ERR_INVAL;
    kiln_ml_model *m = calloc(1, sizeof *m);
    if (!m)
        return kiln_error(KILN_ERR_NOMEM, "model");
    *out = m;
    return KILN_OK;
}

void kiln_ml_model_destroy(kiln_ml_model **mp)
{
    kiln_ml_model *m = mp ? *mp : NULL;
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->e[i].name);
        free(m->e[i].data);
    }
    free(m->e);
    free(m);
    *mp = NULL;
}

static bool good_name(const char *name)
{
    if (!name || !*name || strlen(name) > 200)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
            return false;
    return strcmp(name, ".") && strcmp(name, "..");
}

static entry *find(const kiln_ml_model *m, const char *name, int kind)
{
    for (size_t i = 0; m && name && i < m->n; i++)
        if (m->e[i].kind == kind && !strcmp(m->e[i].name, name))
            return &m->e[i];
    return NULL;
}

/* Add an entry, taking over data (freed on failure). */
static kiln_status put(kiln_ml_model *m, int kind, const char *name,
                       uint64_t rows, uint64_t cols, void *data)
{
    entry *old = find(m, name, kind);
    if (old) {
        free(old->data);
        old->data = data;
        old->rows = rows;
        old->cols = cols;
        return KILN_OK;
    }
    char *copy = strdup(name);
    if (copy && m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 8;
        entry *e = realloc(m->e, cap * sizeof *e);
        if (e) {
            m->e = e;
            m->cap = cap;
        }
    }
    if (!copy || m->n == m->cap) {
        free(copy);
        free(data);
        return kiln_error(KILN_ERR_NOMEM, "model entry %s", name);
    }
    m->e[m->n++] = (entry){kind, copy, rows, cols, data};
    return KILN_OK;
}

static kiln_status put_array(kiln_ml_model *m, int kind, const char *name,
                             const void *values, uint64_t rows, uint64_t cols)
{
    if (!m || !good_name(name) || (!values && rows))
        return kiln_error(KILN_ERR_INVAL, "model array name '%s' is not letters, "
                          "digits, '_', '-' and '.', or its values are missing",
                          name ? name : "");
    uint64_t count = rows * (cols ? cols : 1);
    if (cols && count / cols != rows)
        return kiln_error(KILN_ERR_LIMIT, "model array %s is too large", name);
    void *copy = malloc(count ? (size_t)count * 8 : 1);
    if (!copy)
        return kiln_error(KILN_ERR_NOMEM, "model array %s", name);
    if (count)
        memcpy(copy, values, (size_t)count * 8);
    return put(m, kind, name, rows, cols, copy);
}

kiln_status kiln_ml_model_put_f64(kiln_ml_model *m, const char *name,
                                  const double *values, uint64_t rows,
                                  uint64_t cols)
{
    return put_array(m, KIND_F64, name, values, rows, cols);
}

kiln_status kiln_ml_model_put_i64(kiln_ml_model *m, const char *name,
                                  const int64_t *values, uint64_t rows,
                                  uint64_t cols)
{
    return put_array(m, KIND_I64, name, values, rows, cols);
}

kiln_status kiln_ml_model_put_attr(kiln_ml_model *m, const char *name,
                                   const char *value)
{
    if (!m || !good_name(name) || !value)
        return kiln_error(KILN_ERR_INVAL, "model attribute name '%s' is not "
                          "letters, digits, '_', '-' and '.', or it has no value",
                          name ? name : "");
    char *copy = strdup(value);
    if (!copy)
        return kiln_error(KILN_ERR_NOMEM, "model attribute %s", name);
    return put(m, KIND_ATTR, name, 0, 0, copy);
}

static const void *get(const kiln_ml_model *m, int kind, const char *name,
                       uint64_t *rows, uint64_t *cols)
{
    const entry *e = find(m, name, kind);
    if (e && rows)
        *rows = e->rows;
    if (e && cols)
        *cols = e->cols;
    return e ? e->data : NULL;
}

const double *kiln_ml_model_f64(const kiln_ml_model *m, const char *name,
                                uint64_t *rows, uint64_t *cols)
{
    return get(m, KIND_F64, name, rows, cols);
}

const int64_t *kiln_ml_model_i64(const kiln_ml_model *m, const char *name,
                                 uint64_t *rows, uint64_t *cols)
{
    return get(m, KIND_I64, name, rows, cols);
}

const char *kiln_ml_model_attr(const kiln_ml_model *m, const char *name)
{
    return get(m, KIND_ATTR, name, NULL, NULL);
}

/* ---- writing (master) ---- */

static herr_t write_entry(hid_t file, const entry *e)
{
    herr_t rc = 0;
    if (e->kind == KIND_ATTR) {
        hid_t type = H5Tcopy(H5T_C_S1), space = H5Screate(H5S_SCALAR), a = -1;
        if (type < 0 || space < 0 || H5Tset_size(type, H5T_VARIABLE) < 0 ||
            H5Tset_cset(type, H5T_CSET_UTF8) < 0 ||
            (a = H5Acreate2(file, e->name, type, space, H5P_DEFAULT, H5P_DEFAULT)) < 0)
            rc = -1;
        const char *text = e->data;
        if (rc >= 0)
            rc = H5Awrite(a, type, &text);
        if (a >= 0 && H5Aclose(a) < 0)
            rc = -1;
        if (space >= 0)
            H5Sclose(space);
        if (type >= 0)
            H5Tclose(type);
        return rc;
    }
    hsize_t dims[2] = {e->rows, e->cols};
    hid_t space = H5Screate_simple(e->cols ? 2 : 1, dims, NULL), d = -1;
    bool f64 = e->kind == KIND_F64;
    if (space < 0 ||
        (d = H5Dcreate2(file, e->name, f64 ? H5T_IEEE_F64LE : H5T_STD_I64LE, space,
                        H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        rc = -1;
    if (rc >= 0 && e->rows * (e->cols ? e->cols : 1) > 0)
        rc = H5Dwrite(d, f64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64, H5S_ALL, H5S_ALL,
                      H5P_DEFAULT, e->data);
    if (d >= 0 && H5Dclose(d) < 0)
        rc = -1;
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

static kiln_status save_master(const kiln_ml_model *m, const char *path,
                               const char *tmp, bool overwrite)
{
    char why[512];
    struct stat sb;
    if (stat(path, &sb) == 0 && (!overwrite || S_ISDIR(sb.st_mode)))
        return KILN_ERROR(KILN_ERR_EXISTS, "model %s already exists%s", path,
                          S_ISDIR(sb.st_mode) ? " and is a directory" : "");
    if (!m)
        return KILN_ERROR(KILN_ERR_INVAL, "model_save: no model on the master");
    kiln_status st = KILN_OK;
    kiln__h5_quiet q;
    kiln__h5_quiet_begin(&q);
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0)
        st = KILN_ERROR(KILN_ERR_IO, "cannot create model %s: %s", tmp,
                        kiln__h5_reason(why, sizeof why));
    for (size_t i = 0; i < m->n && st == KILN_OK; i++)
        if (write_entry(file, &m->e[i]) < 0)
            st = KILN_ERROR(KILN_ERR_IO, "writing %s into model %s: %s",
                            m->e[i].name, tmp, kiln__h5_reason(why, sizeof why));
    if (file >= 0 && H5Fclose(file) < 0 && st == KILN_OK)
        st = KILN_ERROR(KILN_ERR_IO, "closing model %s: %s", tmp,
                        kiln__h5_reason(why, sizeof why));
    kiln__h5_quiet_end(&q);
    if (st == KILN_OK && !overwrite && access(path, F_OK) == 0)
        st = KILN_ERROR(KILN_ERR_EXISTS, "model %s appeared meanwhile; not "
                        "replaced", path);
    if (st == KILN_OK && rename(tmp, path) != 0)
        st = KILN_ERROR(KILN_ERR_IO, "cannot rename %s to %s: %s", tmp, path,
                        strerror(errno));
    if (st != KILN_OK)
        unlink(tmp);
    return st;
}

kiln_status kiln_ml_model_save(kiln_context *ctx, const kiln_ml_model *m,
                               const char *path, bool overwrite)
{
    if (!ctx)
        return KILN_ERR_INVAL;
    kiln__api_begin(ctx);
    kiln_status st = KILN_OK;
    char tmp[4300];
    if (!path || !*path ||
        (size_t)snprintf(tmp, sizeof tmp, "%s.kiln-tmp-%s", path, ctx->job_id) >=
            sizeof tmp)
        st = KILN_ERROR(KILN_ERR_INVAL, "model_save: no path, or too long");
    else if (ctx->rank == 0)
        st = save_master(m, path, tmp, overwrite);
    return kiln__api_end(ctx, kiln__error_agree(ctx, st));
}

/* ---- reading (master) and sharing ---- */

typedef struct packer {
    unsigned char *buf;
    size_t len, cap;
    bool failed;
} packer;

static void pack(packer *p, const void *data, size_t n)
{
    if (p->failed)
        return;
    if (p->len + n > p->cap) {
        size_t cap = p->cap ? p->cap : 1024;
        while (cap < p->len + n)
            cap *= 2;
        unsigned char *b = realloc(p->buf, cap);
        if (!b) {
            p->failed = true;
            return;
        }
        p->buf = b;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, data, n);
    p->len += n;
}

static void pack_entry(packer *p, int kind, const char *name, uint64_t rows,
                       uint64_t cols, const void *data, uint64_t bytes)
{
    uint32_t k = (uint32_t)kind, nl = (uint32_t)strlen(name);
    pack(p, &k, 4);
    pack(p, &nl, 4);
    pack(p, name, nl);
    pack(p, &rows, 8);
    pack(p, &cols, 8);
    pack(p, &bytes, 8);
    pack(p, data, (size_t)bytes);
}

typedef struct reader {
    packer *p;
    const char *path;
    kiln_status st;
} reader;

static herr_t read_dataset(hid_t group, const char *name, const H5L_info_t *info,
                           void *arg)
{
    (void)info;
    reader *r = arg;
    char why[512];
    hid_t d = H5Dopen2(group, name, H5P_DEFAULT);
    if (d < 0) { /* a group or something else: not part of a model */
        (void)H5Eclear2(H5E_DEFAULT);
        return 0;
    }
    hid_t space = H5Dget_space(d), type = H5Dget_type(d);
    int nd = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    if ((nd == 1 || nd == 2) && (cls == H5T_FLOAT || cls == H5T_INTEGER)) {
        hsize_t dims[2] = {0, 0};
        H5Sget_simple_extent_dims(space, dims, NULL);
        uint64_t count = dims[0] * (nd == 2 ? dims[1] : 1);
        void *data = malloc(count ? (size_t)count * 8 : 1);
        if (!data)
            r->st = KILN_ERROR(KILN_ERR_NOMEM, "model array %s", name);
        else if (count &&
                 H5Dread(d, cls == H5T_FLOAT ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64,
                         H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
            r->st = KILN_ERROR(KILN_ERR_IO, "reading %s of model %s: %s", name,
                               r->path, kiln__h5_reason(why, sizeof why));
        else
            pack_entry(r->p, cls == H5T_FLOAT ? KIND_F64 : KIND_I64, name, dims[0],
                       nd == 2 ? dims[1] : 0, data, count * 8);
        free(data);
    }
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    H5Dclose(d);
    return r->st == KILN_OK ? 0 : -1;
}

static herr_t read_attribute(hid_t loc, const char *name, const H5A_info_t *info,
                             void *arg)
{
    (void)info;
    reader *r = arg;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t type = a >= 0 ? H5Aget_type(a) : -1, space = a >= 0 ? H5Aget_space(a) : -1;
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    hssize_t npoints = space >= 0 ? H5Sget_simple_extent_npoints(space) : 0;
    char text[64];
    if (cls == H5T_STRING && npoints == 1) {
        if (H5Tis_variable_str(type) > 0) {
            hid_t mem = H5Tcopy(H5T_C_S1);
            char *s = NULL;
            H5Tset_size(mem, H5T_VARIABLE);
            H5Tset_cset(mem, H5Tget_cset(type));
            if (H5Aread(a, mem, &s) >= 0 && s) {
                pack_entry(r->p, KIND_ATTR, name, 0, 0, s, strlen(s) + 1);
                H5free_memory(s);
            }
            H5Tclose(mem);
        } else {
            size_t size = H5Tget_size(type);
            char *s = calloc(1, size + 1);
            hid_t mem = H5Tcopy(type);
            if (s && mem >= 0 && H5Aread(a, mem, s) >= 0)
                pack_entry(r->p, KIND_ATTR, name, 0, 0, s, strlen(s) + 1);
            if (mem >= 0)
                H5Tclose(mem);
            free(s);
        }
    } else if ((cls == H5T_FLOAT || cls == H5T_INTEGER) && npoints == 1) {
        if (cls == H5T_FLOAT) {
            double v;
            if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0) {
                snprintf(text, sizeof text, "%.17g", v);
                pack_entry(r->p, KIND_ATTR, name, 0, 0, text, strlen(text) + 1);
            }
        } else {
            int64_t v;
            if (H5Aread(a, H5T_NATIVE_INT64, &v) >= 0) {
                snprintf(text, sizeof text, "%" PRId64, v);
                pack_entry(r->p, KIND_ATTR, name, 0, 0, text, strlen(text) + 1);
            }
        }
    }
    (void)H5Eclear2(H5E_DEFAULT); /* attributes of other kinds are skipped */
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (a >= 0)
        H5Aclose(a);
    return 0;
}

static kiln_status load_master(const char *path, packer *p)
{
    char why[512];
    kiln_status st = KILN_OK;
    kiln__h5_quiet q;
    kiln__h5_quiet_begin(&q);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    reader r = {p, path, KILN_OK};
    hsize_t at = 0;
    if (file < 0) {
        st = KILN_ERROR(KILN_ERR_IO, "cannot open model %s: %s", path,
                        kiln__h5_reason(why, sizeof why));
    } else {
        H5Literate(file, H5_INDEX_NAME, H5_ITER_INC, NULL, read_dataset, &r);
        if ((st = r.st) == KILN_OK)
            H5Aiterate2(file, H5_INDEX_NAME, H5_ITER_INC, &at, read_attribute, &r);
        H5Fclose(file);
    }
    kiln__h5_quiet_end(&q);
    if (st == KILN_OK && p->failed)
        st = KILN_ERROR(KILN_ERR_NOMEM, "model %s", path);
    return st;
}

static kiln_status unpack(const unsigned char *b, size_t len, kiln_ml_model *m)
{
    size_t at = 0;
    kiln_status st = KILN_OK;
    while (at < len && st == KILN_OK) {
        uint32_t kind, nl;
        uint64_t rows, cols, bytes;
        char name[256];
        if (len - at < 8)
            break;
        memcpy(&kind, b + at, 4);
        memcpy(&nl, b + at + 4, 4);
        at += 8;
        if (nl > 255 || len - at < nl + 24u)
            break;
        memcpy(name, b + at, nl);
        name[nl] = '\0';
        at += nl;
        memcpy(&rows, b + at, 8);
        memcpy(&cols, b + at + 8, 8);
        memcpy(&bytes, b + at + 16, 8);
        at += 24;
        if (len - at < bytes)
            break;
        void *data = malloc(bytes ? (size_t)bytes : 1);
        if (!data)
            return KILN_ERROR(KILN_ERR_NOMEM, "model entry %s", name);
        memcpy(data, b + at, (size_t)bytes);
        at += (size_t)bytes;
        st = put(m, (int)kind, name, rows, cols, data);
    }
    if (st == KILN_OK && at != len)
        st = KILN_ERROR(KILN_ERR_MPI, "model: garbled broadcast");
    return st;
}

kiln_status kiln_ml_model_load(kiln_context *ctx, const char *path,
                               kiln_ml_model **out)
{
    if (!ctx || !out)
        return KILN_ERR_INVAL;
    kiln__api_begin(ctx);
    packer p = {NULL, 0, 0, false};
    kiln_ml_model *m = NULL;
    uint64_t bytes = 0;
    kiln_status st = KILN_OK;
    if (!path || !*path)
        st = KILN_ERROR(KILN_ERR_INVAL, "model_load: no path");
    else if (ctx->rank == 0)
        st = load_master(path, &p);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    bytes = p.len;
    if (MPI_Bcast(&bytes, 1, MPI_UINT64_T, 0, ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "model_load: broadcast");
    if (bytes > INT32_MAX)
        st = KILN_ERROR(KILN_ERR_LIMIT, "model %s: %llu bytes is over 2 GiB", path,
                        (unsigned long long)bytes);
    else if (ctx->rank != 0 && !(p.buf = malloc(bytes ? (size_t)bytes : 1)))
        st = KILN_ERROR(KILN_ERR_NOMEM, "model %s: %llu bytes", path,
                        (unsigned long long)bytes);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    if (bytes && MPI_Bcast(p.buf, (int)bytes, MPI_BYTE, 0, ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "model_load: broadcast");
    st = kiln_ml_model_create(&m);
    if (st == KILN_OK)
        st = unpack(p.buf, (size_t)bytes, m);
    st = kiln__error_agree(ctx, st);
done:
    free(p.buf);
    if (st == KILN_OK)
        *out = m;
    else
        kiln_ml_model_destroy(&m);
    return kiln__api_end(ctx, st);
}
