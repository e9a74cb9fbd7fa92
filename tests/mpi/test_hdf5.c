/* test_hdf5: kiln_hdf5_read and kiln_dataset_save_hdf5.
 *
 * Round trips: an N x 5 matrix of doubles saved without compression, with
 * deflate and with zstd (level 5), read back with other partition counts
 * than it was written with (1, 3 and 13 of 7, and the default), at every
 * rank count; the file's layout, filter and attributes are checked with
 * plain serial HDF5 on rank 0. 1-D U64, I64, F64 and FIXED (opaque)
 * values, an empty dataset and one with fewer rows than partitions.
 * Files written by serial HDF5 on rank 0 the way other programs write them
 * (a compound with C padding, the same compound packed as h5py writes it,
 * big-endian numbers, a dataset in a group) must come back in native
 * layout. Two HDF5 sources in one lineage, reading again after unpersist.
 * Refusing an existing file, overwriting it, and errors: a missing file or
 * dataset is named on every rank, with the same status everywhere; a failed
 * save leaves neither the file nor its temporary behind.
 *
 * `test_hdf5 write-files DIR` only writes DIR/plain.h5, deflate.h5 and
 * zstd.h5 (the matrix, dataset /points) for test_hdf5_tools.sh. */
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "harness.h"

enum { ROWS = 10007, COLS = 5, WRITTEN_PARTS = 7 };

/* Compressible, exactly representable values (multiples of 0.5). */
static double cell(uint64_t i, uint64_t j)
{
    return (double)((i * 7 + j * 3) % 1000) * 0.5 - 100.0;
}

static kiln_status make_rows(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    double row[COLS];
    for (size_t i = 0; i < in->n; i++) {
        uint64_t r = (uint64_t)kiln_batch_value_i64(in, i);
        for (int j = 0; j < COLS; j++)
            row[j] = cell(r, (uint64_t)j);
        kiln_status st = kiln_emit(out, NULL, 0, row, sizeof row);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_dataset *range_ds(int64_t n, uint32_t nparts)
{
    kiln_dataset *ds = NULL;
    EXPECT_OK(kiln_range(T.ctx, 0, n, 1, nparts, &ds));
    return ds;
}

static kiln_dataset *matrix_ds(uint32_t nparts)
{
    kiln_dataset *r = range_ds(ROWS, nparts), *m = NULL;
    kiln_schema s = {KILN_T_NONE, kiln_type_fixed(COLS * 8, NULL, NULL, NULL)};
    EXPECT_OK(kiln_dataset_map(r, s, make_rows, NULL, &m));
    kiln_dataset_destroy(&r);
    return m;
}

static kiln_dataset *read_ds(const char *path, const char *name, uint32_t nparts)
{
    kiln_dataset *ds = NULL;
    EXPECT_OK(kiln_hdf5_read(T.ctx, path, name, nparts, &ds));
    return ds;
}

/* ds holds exactly `want` (n values of size bytes), in order. */
static void check_values(kiln_dataset *ds, const void *want, size_t n,
                         size_t size, const char *what)
{
    kiln_collection *c = NULL;
    EXPECT_OK(kiln_dataset_collect(ds, KILN_ALL_RANKS, &c));
    const kiln_batch *b = kiln_collection_batch(c);
    CHECK(b->n == n, "%s: %zu records, expected %zu", what, b->n, n);
    CHECK(b->value_size == size, "%s: values of %zu bytes, expected %zu", what,
          b->value_size, size);
    if (b->n == n && b->value_size == size) {
        for (size_t i = 0; i < n; i++)
            if (memcmp(b->values + i * size, (const char *)want + i * size, size)) {
                CHECK(false, "%s: record %zu differs", what, i);
                break;
            }
    }
    kiln_collection_destroy(&c);
}

static double *matrix_reference(void)
{
    double *m = malloc(sizeof(double) * ROWS * COLS);
    if (!m)
        abort();
    for (uint64_t i = 0; i < ROWS; i++)
        for (uint64_t j = 0; j < COLS; j++)
            m[i * COLS + j] = cell(i, j);
    return m;
}

/* No "<path>.kiln-tmp-*" left in the scratch directory (rank 0). */
static void check_no_temporaries(const char *what)
{
    if (T.rank != 0)
        return;
    t_strv names = {0};
    CHECK(t_list_dir(T.dir, &names), "%s: cannot list %s", what, T.dir);
    for (size_t i = 0; i < names.n; i++)
        CHECK(strstr(names.s[i], ".kiln-tmp-") == NULL, "%s: %s left behind",
              what, names.s[i]);
    t_strv_free(&names);
}

/* ---- looking at a file with serial HDF5 (rank 0) ---- */

typedef struct file_facts {
    int ndims;
    hsize_t dims[2];
    int filter;        /* first filter's id, -1: none */
    unsigned level;    /* its first parameter */
    hsize_t stored;    /* bytes on disk */
    char version[32];  /* kiln_version attribute */
    unsigned parts;    /* kiln_partitions attribute */
    H5T_class_t cls;
    size_t type_size;
    bool tagged;       /* an opaque type with a tag (h5py cannot read it) */
} file_facts;

static bool inspect(const char *path, const char *name, file_facts *f)
{
    memset(f, 0, sizeof *f);
    f->filter = -1;
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return false;
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    bool ok = d >= 0;
    if (ok) {
        hid_t sp = H5Dget_space(d), dcpl = H5Dget_create_plist(d), ty = H5Dget_type(d);
        f->ndims = H5Sget_simple_extent_dims(sp, f->dims, NULL);
        if (H5Pget_nfilters(dcpl) > 0) {
            unsigned flags, cd[4] = {0};
            size_t ncd = 4;
            f->filter = (int)H5Pget_filter2(dcpl, 0, &flags, &ncd, cd, 0, NULL, NULL);
            f->level = cd[0];
        }
        f->stored = H5Dget_storage_size(d);
        f->cls = H5Tget_class(ty);
        f->type_size = H5Tget_size(ty);
        if (f->cls == H5T_OPAQUE) {
            char *tag = H5Tget_tag(ty);
            f->tagged = tag && tag[0];
            H5free_memory(tag);
        }
        hid_t a = H5Aopen(d, "kiln_version", H5P_DEFAULT);
        if (a >= 0) {
            hid_t at = H5Aget_type(a);
            if (H5Tget_size(at) < sizeof f->version)
                ok = H5Aread(a, at, f->version) >= 0;
            H5Tclose(at);
            H5Aclose(a);
        }
        a = H5Aopen(d, "kiln_partitions", H5P_DEFAULT);
        if (a >= 0) {
            ok = ok && H5Aread(a, H5T_NATIVE_UINT, &f->parts) >= 0;
            H5Aclose(a);
        }
        H5Tclose(ty);
        H5Pclose(dcpl);
        H5Sclose(sp);
        H5Dclose(d);
    }
    H5Fclose(file);
    return ok;
}

/* ---- sections ---- */

static kiln_hdf5_options matrix_options(kiln_compression c, int level)
{
    kiln_hdf5_options o;
    memset(&o, 0, sizeof o);
    o.compression = c;
    o.level = level;
    o.columns = COLS;
    o.element = KILN_KIND_F64;
    return o;
}

static void test_matrix(void)
{
    static const struct {
        const char *name;
        kiln_compression c;
        int level, filter;
        unsigned want_level;
    } cases[] = {
        {"none", KILN_COMPRESS_NONE, 0, -1, 0},
        {"deflate", KILN_COMPRESS_DEFLATE, 0, H5Z_FILTER_DEFLATE, 6},
        {"zstd", KILN_COMPRESS_ZSTD, 5, 32015, 5},
    };
    double *ref = matrix_reference();
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char title[128];
        snprintf(title, sizeof title, "matrix %d x %d, %s: save, inspect, read back",
                 ROWS, COLS, cases[k].name);
        t_section(title);
        char *path = t_path("matrix-%s.h5", cases[k].name);
        kiln_dataset *m = matrix_ds(WRITTEN_PARTS);
        kiln_hdf5_options o = matrix_options(cases[k].c, cases[k].level);
        EXPECT_OK(kiln_dataset_save_hdf5(m, path, "/points", &o));
        check_no_temporaries(title);
        if (T.rank == 0) {
            file_facts f;
            CHECK(inspect(path, "/points", &f), "%s: cannot inspect %s", title, path);
            CHECK(f.ndims == 2 && f.dims[0] == ROWS && f.dims[1] == COLS,
                  "%s: shape %d-D %llu x %llu", title, f.ndims,
                  (unsigned long long)f.dims[0], (unsigned long long)f.dims[1]);
            CHECK(f.cls == H5T_FLOAT && f.type_size == 8, "%s: element type", title);
            CHECK(f.filter == cases[k].filter, "%s: filter %d, expected %d", title,
                  f.filter, cases[k].filter);
            CHECK(cases[k].filter < 0 || f.level == cases[k].want_level,
                  "%s: level %u, expected %u", title, f.level, cases[k].want_level);
            size_t raw = sizeof(double) * ROWS * COLS;
            CHECK(cases[k].filter < 0 ? f.stored == raw : f.stored < raw / 2,
                  "%s: %llu bytes stored for %zu raw", title,
                  (unsigned long long)f.stored, raw);
            CHECK(strcmp(f.version, KILN_VERSION_STRING) == 0,
                  "%s: kiln_version is '%s'", title, f.version);
            CHECK(f.parts == WRITTEN_PARTS, "%s: kiln_partitions is %u", title,
                  f.parts);
        }
        /* Other partition counts than written, including fewer partitions
         * than ranks (a rank with nothing to read) and the default. */
        static const uint32_t nparts[] = {3, 1, 13, 0};
        for (size_t i = 0; i < 4; i++) {
            kiln_dataset *r = read_ds(path, "/points", nparts[i]);
            kiln_schema s = kiln_dataset_schema(r);
            CHECK(s.key.kind == KILN_KIND_NONE && s.value.kind == KILN_KIND_FIXED &&
                      s.value.size == COLS * 8,
                  "%s: schema of the read dataset (value kind %d, size %zu)", title,
                  (int)s.value.kind, s.value.size);
            char what[160];
            snprintf(what, sizeof what, "%s, read into %u partitions", title, nparts[i]);
            check_values(r, ref, ROWS, COLS * 8, what);
            /* A second action reads memory; the result is the same. */
            CHECK(t_count(r) == ROWS, "%s: count", what);
            kiln_dataset_destroy(&r);
        }
        kiln_dataset_destroy(&m);
        free(path);
    }
    free(ref);
}

/* I64 v -> one value of `kind` (or 12 FIXED bytes) derived from v. */
static kiln_status make_value(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    int kind = *(const int *)arg;
    for (size_t i = 0; i < in->n; i++) {
        uint64_t v = (uint64_t)kiln_batch_value_i64(in, i), x = t_mix(v);
        unsigned char fixed[12];
        double d = cell(v, 1) * 3.25;
        const void *p = &x;
        size_t len = 8;
        if (kind == KILN_KIND_F64)
            p = &d;
        else if (kind == KILN_KIND_FIXED) {
            memcpy(fixed, &x, 8);
            memcpy(fixed + 8, &v, 4);
            p = fixed;
            len = 12;
        }
        kiln_status st = kiln_emit(out, NULL, 0, p, len);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static void *value_reference(int kind, size_t n, size_t *size)
{
    *size = kind == KILN_KIND_FIXED ? 12 : 8;
    unsigned char *v = malloc(n * *size + 1);
    if (!v)
        abort();
    for (uint64_t i = 0; i < n; i++) {
        uint64_t x = t_mix(i);
        double d = cell(i, 1) * 3.25;
        if (kind == KILN_KIND_F64)
            memcpy(v + i * 8, &d, 8);
        else if (kind == KILN_KIND_FIXED) {
            memcpy(v + i * 12, &x, 8);
            memcpy(v + i * 12 + 8, &i, 4);
        } else
            memcpy(v + i * 8, &x, 8);
    }
    return v;
}

static kiln_dataset *values_ds(int kind, int64_t n, uint32_t nparts)
{
    kiln_dataset *r = range_ds(n, nparts), *m = NULL;
    kiln_type t = kind == KILN_KIND_U64   ? KILN_T_U64
                  : kind == KILN_KIND_I64 ? KILN_T_I64
                  : kind == KILN_KIND_F64 ? KILN_T_F64
                                          : kiln_type_fixed(12, NULL, NULL, NULL);
    static int kinds[KILN_KIND_PAIR + 1];
    kinds[kind] = kind;
    EXPECT_OK(kiln_dataset_map(r, kiln_schema_of(KILN_T_NONE, t), make_value,
                               &kinds[kind], &m));
    kiln_dataset_destroy(&r);
    return m;
}

static void test_one_dimensional(void)
{
    static const struct {
        int kind;
        const char *name;
        H5T_class_t cls;
    } cases[] = {
        {KILN_KIND_U64, "u64", H5T_INTEGER},
        {KILN_KIND_I64, "i64", H5T_INTEGER},
        {KILN_KIND_F64, "f64", H5T_FLOAT},
        {KILN_KIND_FIXED, "fixed12", H5T_OPAQUE},
    };
    for (size_t k = 0; k < 4; k++) {
        char title[128];
        snprintf(title, sizeof title, "1-D %s values: save (zstd), read back",
                 cases[k].name);
        t_section(title);
        enum { N = 5003 };
        char *path = t_path("values-%s.h5", cases[k].name);
        kiln_dataset *ds = values_ds(cases[k].kind, N, 5);
        kiln_hdf5_options o;
        memset(&o, 0, sizeof o);
        o.compression = k % 2 ? KILN_COMPRESS_ZSTD : KILN_COMPRESS_DEFLATE;
        EXPECT_OK(kiln_dataset_save_hdf5(ds, path, "/group/values", &o));
        if (T.rank == 0) {
            file_facts f;
            CHECK(inspect(path, "/group/values", &f), "%s: cannot inspect", title);
            CHECK(f.ndims == 1 && f.dims[0] == N && f.cls == cases[k].cls,
                  "%s: %d-D, %llu rows, class %d", title, f.ndims,
                  (unsigned long long)f.dims[0], (int)f.cls);
            CHECK(!f.tagged, "%s: the opaque type has a tag", title);
        }
        kiln_dataset *r = read_ds(path, "/group/values", 4);
        kiln_schema s = kiln_dataset_schema(r);
        CHECK(s.value.kind == (kiln_kind)cases[k].kind, "%s: read as kind %d",
              title, (int)s.value.kind);
        size_t size;
        void *want = value_reference(cases[k].kind, N, &size);
        check_values(r, want, N, size, title);
        free(want);
        kiln_dataset_destroy(&r);
        kiln_dataset_destroy(&ds);
        free(path);
    }

    /* 1 MiB chunks: 300007 values make 3 chunks, each written by several
     * ranks (7 partitions), which parallel HDF5 must merge. */
    static const kiln_compression big[] = {KILN_COMPRESS_DEFLATE, KILN_COMPRESS_ZSTD,
                                           KILN_COMPRESS_NONE};
    for (size_t k = 0; k < 3; k++) {
        char title[128];
        snprintf(title, sizeof title, "300007 U64 values, several chunks, "
                 "compression %d", (int)big[k]);
        t_section(title);
        enum { BIG = 300007 };
        char *path = t_path("big-%zu.h5", k);
        kiln_dataset *ds = values_ds(KILN_KIND_U64, BIG, 7);
        kiln_hdf5_options o;
        memset(&o, 0, sizeof o);
        o.compression = big[k];
        o.level = big[k] == KILN_COMPRESS_ZSTD ? -5 : 0; /* a fast, negative level */
        EXPECT_OK(kiln_dataset_save_hdf5(ds, path, "v", &o));
        kiln_dataset *r = read_ds(path, "v", 5);
        size_t size;
        void *want = value_reference(KILN_KIND_U64, BIG, &size);
        check_values(r, want, BIG, 8, title);
        free(want);
        kiln_dataset_destroy(&r);
        kiln_dataset_destroy(&ds);
        free(path);
    }

    t_section("empty dataset and fewer rows than partitions");
    char *empty = t_path("empty.h5"), *few = t_path("few.h5");
    kiln_dataset *e = values_ds(KILN_KIND_U64, 0, 3), *f = values_ds(KILN_KIND_U64, 5, 16);
    kiln_hdf5_options o;
    memset(&o, 0, sizeof o);
    o.compression = KILN_COMPRESS_ZSTD;
    EXPECT_OK(kiln_dataset_save_hdf5(e, empty, "/v", &o));
    EXPECT_OK(kiln_dataset_save_hdf5(f, few, "/v", &o));
    kiln_dataset *re = read_ds(empty, "/v", 5), *rf = read_ds(few, "/v", 16);
    CHECK(t_count(re) == 0, "empty dataset read back non-empty");
    size_t size;
    void *want = value_reference(KILN_KIND_U64, 5, &size);
    check_values(rf, want, 5, 8, "5 rows in 16 partitions");
    free(want);
    kiln_dataset_destroy(&re);
    kiln_dataset_destroy(&rf);
    kiln_dataset_destroy(&e);
    kiln_dataset_destroy(&f);
    free(empty);
    free(few);
}

/* ---- files written by other programs ---- */

typedef struct rec {
    int32_t id;
    double x;   /* 4 bytes of padding before it in C */
    char tag[4];
} rec;

static rec rec_of(uint64_t i)
{
    rec r;
    memset(&r, 0, sizeof r);
    r.id = (int32_t)i - 500;
    r.x = cell(i, 2);
    memcpy(r.tag, "abcd", 4);
    r.tag[i % 4] = (char)('A' + i % 26);
    return r;
}

enum { NREC = 1000 };

static hid_t rec_type(bool packed)
{
    hid_t tag = H5Tcopy(H5T_C_S1);
    H5Tset_size(tag, 4);
    H5Tset_strpad(tag, H5T_STR_NULLPAD);
    hid_t t = H5Tcreate(H5T_COMPOUND, packed ? 16 : sizeof(rec));
    H5Tinsert(t, "id", packed ? 0 : HOFFSET(rec, id), H5T_STD_I32LE);
    H5Tinsert(t, "x", packed ? 4 : HOFFSET(rec, x), H5T_IEEE_F64LE);
    H5Tinsert(t, "tag", packed ? 12 : HOFFSET(rec, tag), tag);
    H5Tclose(tag);
    return t;
}

static void write_dataset(hid_t file, const char *name, hid_t ftype, hid_t mtype,
                          int ndims, const hsize_t *dims, const void *data)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t sp = ndims ? H5Screate_simple(ndims, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(file, name, ftype, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(d >= 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0,
          "serial HDF5: cannot write %s", name);
    H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(lcpl);
}

/* Rank 0 writes foreign.h5 with plain serial HDF5. */
static void write_foreign(const char *path)
{
    if (T.rank != 0)
        return;
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(file >= 0, "serial HDF5: cannot create %s", path);
    rec *recs = malloc(sizeof(rec) * NREC);
    int32_t *m = malloc(sizeof(int32_t) * NREC * 3);
    int64_t *be = malloc(sizeof(int64_t) * NREC);
    for (uint64_t i = 0; i < NREC; i++) {
        recs[i] = rec_of(i);
        for (int j = 0; j < 3; j++)
            m[i * 3 + j] = (int32_t)(i * 3 + j) - 1234;
        be[i] = (int64_t)t_mix(i);
    }
    hsize_t n1[1] = {NREC}, n2[2] = {NREC, 3}, n3[3] = {4, 5, 6};
    hid_t native = rec_type(false), packed = rec_type(true);
    write_dataset(file, "/records", native, native, 1, n1, recs);
    write_dataset(file, "/packed", packed, native, 1, n1, recs);
    write_dataset(file, "/deep/in/groups/matrix_i32be", H5T_STD_I32BE,
                  H5T_NATIVE_INT32, 2, n2, m);
    write_dataset(file, "/i64be", H5T_STD_I64BE, H5T_NATIVE_INT64, 1, n1, be);
    static double cube[4 * 5 * 6];
    write_dataset(file, "/cube", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, n3, cube);
    write_dataset(file, "/scalar", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, NULL, cube);
    hid_t vstr = H5Tcopy(H5T_C_S1);
    H5Tset_size(vstr, H5T_VARIABLE);
    const char *words[3] = {"one", "two", "three"};
    hsize_t n3w[1] = {3};
    write_dataset(file, "/strings", vstr, vstr, 1, n3w, words);
    H5Tclose(vstr);
    H5Tclose(native);
    H5Tclose(packed);
    H5Fclose(file);
    free(recs);
    free(m);
    free(be);
}

static void check_records(kiln_dataset *ds, const char *what)
{
    kiln_schema s = kiln_dataset_schema(ds);
    CHECK(s.value.kind == KILN_KIND_FIXED && s.value.size == sizeof(rec),
          "%s: value kind %d of %zu bytes, expected FIXED of %zu (the C struct)",
          what, (int)s.value.kind, s.value.size, sizeof(rec));
    kiln_collection *c = NULL;
    EXPECT_OK(kiln_dataset_collect(ds, KILN_ALL_RANKS, &c));
    const kiln_batch *b = kiln_collection_batch(c);
    CHECK(b->n == NREC, "%s: %zu records", what, b->n);
    for (size_t i = 0; i < b->n && b->value_size == sizeof(rec); i++) {
        rec got, want = rec_of(i);
        memcpy(&got, b->values + i * sizeof(rec), sizeof got);
        if (got.id != want.id || got.x != want.x || memcmp(got.tag, want.tag, 4)) {
            CHECK(false, "%s: record %zu is {%d, %g, %.4s}, expected {%d, %g, %.4s}",
                  what, i, got.id, got.x, got.tag, want.id, want.x, want.tag);
            break;
        }
    }
    kiln_collection_destroy(&c);
}

static void test_foreign(void)
{
    t_section("files written by serial HDF5: compound, packed, big-endian, groups");
    char *path = t_path("foreign.h5");
    write_foreign(path);
    t_sync();
    t_barrier();

    kiln_dataset *r = read_ds(path, "/records", 6);
    check_records(r, "compound with C padding");
    kiln_dataset_destroy(&r);
    r = read_ds(path, "packed", 3); /* relative names work too */
    check_records(r, "packed compound");
    kiln_dataset_destroy(&r);

    r = read_ds(path, "/deep/in/groups/matrix_i32be", 5);
    kiln_schema s = kiln_dataset_schema(r);
    CHECK(s.value.kind == KILN_KIND_FIXED && s.value.size == 12,
          "int32 matrix: kind %d size %zu", (int)s.value.kind, s.value.size);
    int32_t *m = malloc(sizeof(int32_t) * NREC * 3);
    for (int i = 0; i < NREC * 3; i++)
        m[i] = i - 1234;
    check_values(r, m, NREC, 12, "big-endian int32 matrix");
    free(m);
    kiln_dataset_destroy(&r);

    r = read_ds(path, "/i64be", 2);
    s = kiln_dataset_schema(r);
    CHECK(s.value.kind == KILN_KIND_I64, "big-endian int64: kind %d", (int)s.value.kind);
    int64_t *be = malloc(sizeof(int64_t) * NREC);
    for (uint64_t i = 0; i < NREC; i++)
        be[i] = (int64_t)t_mix(i);
    check_values(r, be, NREC, 8, "big-endian int64");
    free(be);
    kiln_dataset_destroy(&r);

    t_section("unreadable shapes and types are refused, naming the dataset");
    kiln_dataset *bad = NULL;
    EXPECT_STATUS(kiln_hdf5_read(T.ctx, path, "/cube", 0, &bad), KILN_ERR_INVAL);
    CHECK_ERROR_MENTIONS("/cube");
    CHECK_ERROR_MENTIONS("3 dimensions");
    EXPECT_STATUS(kiln_hdf5_read(T.ctx, path, "/scalar", 0, &bad), KILN_ERR_INVAL);
    CHECK_ERROR_MENTIONS("/scalar");
    EXPECT_STATUS(kiln_hdf5_read(T.ctx, path, "/strings", 0, &bad), KILN_ERR_INVAL);
    CHECK_ERROR_MENTIONS("variable-length");
    CHECK_ERROR_MENTIONS(path);
    CHECK(bad == NULL, "a failed read set its out-parameter");
    free(path);
}

static void test_lineage(void)
{
    t_section("two HDF5 sources in one lineage; reading again after unpersist");
    char *a = t_path("lin-a.h5"), *b = t_path("lin-b.h5");
    kiln_dataset *va = values_ds(KILN_KIND_U64, 300, 4), *vb = values_ds(KILN_KIND_U64, 700, 3);
    EXPECT_OK(kiln_dataset_save_hdf5(va, a, "/v", NULL));
    EXPECT_OK(kiln_dataset_save_hdf5(vb, b, "/v", NULL));
    kiln_dataset *ra = read_ds(a, "/v", 2), *rb = read_ds(b, "/v", 5), *u = NULL;
    EXPECT_OK(kiln_dataset_union(ra, rb, &u));
    size_t size;
    unsigned char *wa = value_reference(KILN_KIND_U64, 300, &size);
    unsigned char *wb = value_reference(KILN_KIND_U64, 700, &size);
    unsigned char *both = malloc(1000 * 8);
    memcpy(both, wa, 300 * 8);
    memcpy(both + 300 * 8, wb, 700 * 8);
    check_values(u, both, 1000, 8, "union of two HDF5 reads");
    kiln_dataset_unpersist(ra);
    CHECK(t_count(ra) == 300, "count after unpersist");
    check_values(u, both, 1000, 8, "union after unpersist");
    free(wa);
    free(wb);
    free(both);
    kiln_dataset_destroy(&u);
    kiln_dataset_destroy(&ra);
    kiln_dataset_destroy(&rb);
    kiln_dataset_destroy(&va);
    kiln_dataset_destroy(&vb);
    free(a);
    free(b);
}

static void test_existing(void)
{
    t_section("an existing file is refused, or replaced with overwrite");
    char *path = t_path("existing.h5");
    kiln_dataset *first = values_ds(KILN_KIND_U64, 100, 3),
                 *second = values_ds(KILN_KIND_I64, 250, 4);
    EXPECT_OK(kiln_dataset_save_hdf5(first, path, "/v", NULL));
    kiln_hdf5_options o;
    memset(&o, 0, sizeof o);
    EXPECT_STATUS(kiln_dataset_save_hdf5(second, path, "/v", &o), KILN_ERR_EXISTS);
    CHECK_ERROR_MENTIONS(path);
    kiln_dataset *r = read_ds(path, "/v", 2);
    CHECK(kiln_dataset_schema(r).value.kind == KILN_KIND_U64 && t_count(r) == 100,
          "the refused save changed the file");
    kiln_dataset_destroy(&r);
    o.overwrite = true;
    o.compression = KILN_COMPRESS_ZSTD;
    o.level = 19;
    EXPECT_OK(kiln_dataset_save_hdf5(second, path, "/v", &o));
    r = read_ds(path, "/v", 3);
    size_t size;
    void *want = value_reference(KILN_KIND_I64, 250, &size);
    CHECK(kiln_dataset_schema(r).value.kind == KILN_KIND_I64, "overwritten kind");
    check_values(r, want, 250, 8, "overwritten file");
    free(want);
    kiln_dataset_destroy(&r);
    check_no_temporaries("overwrite");
    kiln_dataset_destroy(&first);
    kiln_dataset_destroy(&second);
    free(path);
}

static kiln_status fail_on_partition_3(const kiln_batch *in, kiln_emitter *out,
                                       void *arg)
{
    (void)arg;
    if (in->partition == 3)
        return kiln_error(KILN_ERR_USER, "partition 3 fails on purpose");
    for (size_t i = 0; i < in->n; i++) {
        kiln_status st = kiln_emit_record(out, in, i);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static void test_errors(void)
{
    t_section("missing file and dataset: named on every rank, same status");
    char *missing = t_path("no-such-file.h5");
    kiln_dataset *ds = NULL;
    EXPECT_STATUS(kiln_hdf5_read(T.ctx, missing, "/points", 0, &ds), KILN_ERR_IO);
    CHECK_ERROR_MENTIONS(missing);
    CHECK_ERROR_MENTIONS("/points");
    CHECK(kiln_context_failed_rank(T.ctx) == 0, "failed rank %d",
          kiln_context_failed_rank(T.ctx));
    char *there = t_path("matrix-none.h5");
    EXPECT_STATUS(kiln_hdf5_read(T.ctx, there, "/no/such/dataset", 0, &ds),
                  KILN_ERR_IO);
    CHECK_ERROR_MENTIONS(there);
    CHECK_ERROR_MENTIONS("/no/such/dataset");
    char *text = t_path("not-hdf5.txt");
    t_write_file(text, "hello\n", 6);
    t_barrier();
    EXPECT_STATUS(kiln_hdf5_read(T.ctx, text, "/points", 0, &ds), KILN_ERR_IO);
    CHECK_ERROR_MENTIONS(text);
    CHECK(ds == NULL, "a failed read set its out-parameter");

    t_section("save_hdf5 refuses what it cannot write");
    kiln_dataset *strings = NULL, *m = matrix_ds(4);
    kiln_dataset *r = range_ds(10, 2);
    char *out = t_path("refused.h5");
    kiln_hdf5_options o = matrix_options(KILN_COMPRESS_NONE, 0);
    o.columns = 4; /* 40-byte rows are not 4 doubles */
    EXPECT_STATUS(kiln_dataset_save_hdf5(m, out, "/points", &o), KILN_ERR_INVAL);
    o = matrix_options(KILN_COMPRESS_DEFLATE, 10);
    EXPECT_STATUS(kiln_dataset_save_hdf5(m, out, "/points", &o), KILN_ERR_INVAL);
    CHECK_ERROR_MENTIONS("deflate level 10");
    o = matrix_options(KILN_COMPRESS_ZSTD, 1000);
    EXPECT_STATUS(kiln_dataset_save_hdf5(m, out, "/points", &o), KILN_ERR_INVAL);
    o = matrix_options(KILN_COMPRESS_NONE, 0);
    o.element = KILN_KIND_STRING;
    EXPECT_STATUS(kiln_dataset_save_hdf5(m, out, "/points", &o), KILN_ERR_INVAL);
    EXPECT_STATUS(kiln_dataset_save_hdf5(m, out, "", NULL), KILN_ERR_INVAL);
    EXPECT_OK(kiln_text_file(T.ctx, text, &strings));
    EXPECT_STATUS(kiln_dataset_save_hdf5(strings, out, "/lines", NULL), KILN_ERR_INVAL);
    CHECK_ERROR_MENTIONS("fixed-size");
    if (T.rank == 0)
        CHECK(!t_exists(out), "%s exists after refused saves", out);

    t_section("a failed save leaves no file and no temporary");
    char *nodir = t_path("no-such-dir/out.h5");
    EXPECT_STATUS(kiln_dataset_save_hdf5(r, nodir, "/v", NULL), KILN_ERR_IO);
    CHECK_ERROR_MENTIONS("no-such-dir");
    /* A failure after the temporary file was created: a bad dataset name. */
    EXPECT_STATUS(kiln_dataset_save_hdf5(r, out, "/", NULL), KILN_ERR_IO);
    CHECK_ERROR_MENTIONS("cannot create dataset /");
    if (T.rank == 0)
        CHECK(!t_exists(out), "%s exists after a failed save", out);
    check_no_temporaries("failed dataset creation");
    kiln_dataset *failing = NULL;
    EXPECT_OK(kiln_dataset_map(m, kiln_dataset_schema(m), fail_on_partition_3, NULL,
                               &failing));
    kiln_hdf5_options z = matrix_options(KILN_COMPRESS_ZSTD, 0);
    EXPECT_STATUS(kiln_dataset_save_hdf5(failing, out, "/points", &z), KILN_ERR_USER);
    CHECK_ERROR_MENTIONS("partition 3 fails on purpose");
    if (T.rank == 0)
        CHECK(!t_exists(out), "%s exists after a failed save", out);
    check_no_temporaries("failed save");

    kiln_dataset_destroy(&failing);
    kiln_dataset_destroy(&strings);
    kiln_dataset_destroy(&m);
    kiln_dataset_destroy(&r);
    free(missing);
    free(there);
    free(text);
    free(out);
    free(nodir);
}

/* For test_hdf5_tools.sh: the matrix three ways, into dir. */
static int write_files(const char *dir)
{
    t_section("write-files");
    static const struct {
        const char *file;
        kiln_compression c;
        int level;
    } files[] = {{"plain.h5", KILN_COMPRESS_NONE, 0},
                 {"deflate.h5", KILN_COMPRESS_DEFLATE, 4},
                 {"zstd.h5", KILN_COMPRESS_ZSTD, 7}};
    kiln_dataset *m = matrix_ds(WRITTEN_PARTS);
    for (size_t k = 0; k < 3; k++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, files[k].file);
        kiln_hdf5_options o = matrix_options(files[k].c, files[k].level);
        o.overwrite = true;
        EXPECT_OK(kiln_dataset_save_hdf5(m, path, "/points", &o));
    }
    kiln_dataset_destroy(&m);
    return t_finish();
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    if (argc == 3 && strcmp(argv[1], "write-files") == 0)
        return write_files(argv[2]);
    test_matrix();
    test_one_dimensional();
    test_foreign();
    test_lineage();
    test_existing();
    test_errors();
    return t_finish();
}
