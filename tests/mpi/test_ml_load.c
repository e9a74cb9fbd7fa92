/* tests/mpi/test_ml_load.c: the ML loaders and model files (the "Machine
 * learning data" section of kiln.h) at any rank count: LIBSVM (dense and
 * sparse, dimension found or given), CSV (headers detected and declared,
 * label columns, delimiters, several files), HDF5 (/X and /y, no /y, other
 * element types, kiln_ml_save_hdf5 round trips), every bad input (wrong
 * column count, non-numeric field, index 0, unsorted indices, an index
 * above the dimension, empty and missing files) failing with the file and
 * line, or skipped and counted; model files written and read back.
 *
 *   test_ml_load [HEART_SCALE]
 *
 * HEART_SCALE: liblinear-tools' examples/heart_scale, a real LIBSVM file
 * (270 rows, 13 features), when CMake found it. Run with small splits
 * (--kiln-split-bytes) so inputs span many partitions. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* A loaded input, collected to every rank. */
typedef struct rows {
    size_t n;
    uint32_t dim;
    bool sparse, labeled;
    double *label;      /* n */
    double *x;          /* n x dim, dense (sparse rows expanded) */
    uint64_t skipped;
} rows;

static void rows_free(rows *r)
{
    free(r->label);
    free(r->x);
    memset(r, 0, sizeof *r);
}

/* Load, cache and collect; the status of the first failing step. */
static kiln_status load(const char *const *paths, size_t n,
                        const kiln_ml_options *o, rows *out)
{
    kiln_ml_data *d = NULL;
    kiln_collection *c = NULL;
    uint64_t count = 0;
    memset(out, 0, sizeof *out);
    kiln_status st = kiln_ml_load(T.ctx, paths, n, o, &d);
    if (st == KILN_OK)
        st = kiln_ml_data_cache(d, &count, &out->skipped);
    if (st == KILN_OK)
        st = kiln_dataset_collect(kiln_ml_data_rows(d), KILN_ALL_RANKS, &c);
    if (st == KILN_OK) {
        const kiln_batch *b = kiln_collection_batch(c);
        out->n = b->n;
        out->dim = kiln_ml_data_dim(d);
        out->sparse = kiln_ml_data_sparse(d);
        out->labeled = kiln_ml_data_labeled(d);
        out->label = calloc(b->n + 1, 8);
        out->x = calloc(b->n * out->dim + 1, 8);
        CHECK(count == b->n, "cache counted %llu rows, collect found %zu",
              (unsigned long long)count, b->n);
        for (size_t i = 0; i < b->n; i++) {
            size_t len;
            const void *v = kiln_batch_value(b, i, &len);
            out->label[i] = kiln_batch_key_f64(b, i);
            if (out->sparse) {
                size_t nnz = kiln_ml_sparse_nnz(len);
                CHECK(len == 12 * nnz, "sparse row %zu has %zu bytes", i, len);
                for (size_t k = 0; k < nnz; k++) {
                    uint32_t j = kiln_ml_sparse_index(v, k);
                    CHECK(j < out->dim, "row %zu: index %u of %u", i, j, out->dim);
                    CHECK(k == 0 || j > kiln_ml_sparse_index(v, k - 1),
                          "row %zu: indices not increasing", i);
                    if (j < out->dim)
                        out->x[i * out->dim + j] = kiln_ml_sparse_value(v, len, k);
                }
            } else {
                CHECK(len == (size_t)out->dim * 8, "dense row of %zu bytes", len);
                memcpy(out->x + i * out->dim, v, (size_t)out->dim * 8);
            }
        }
    }
    kiln_collection_destroy(&c);
    kiln_ml_data_destroy(&d);
    return st;
}

static kiln_status load1(const char *path, const kiln_ml_options *o, rows *out)
{
    return load(&path, 1, o, out);
}

static void check_row(const rows *r, size_t i, double label, const double *x)
{
    if (!CHECK(i < r->n, "row %zu of %zu", i, r->n))
        return;
    CHECK(r->label[i] == label || (isnan(label) && isnan(r->label[i])),
          "row %zu: label %.17g, expected %.17g", i, r->label[i], label);
    for (uint32_t j = 0; j < r->dim; j++)
        CHECK(r->x[i * r->dim + j] == x[j], "row %zu feature %u: %.17g, expected %.17g",
              i, j + 1, r->x[i * r->dim + j], x[j]);
}

/* Write text on rank 0; everyone waits. */
static char *file_with(const char *name, const char *text)
{
    char *p = t_path("%s", name);
    t_write_file(p, text, strlen(text));
    t_barrier();
    return p;
}

/* The load must fail with `want`, the message naming `needle`. */
static void expect_failure(const char *path, const kiln_ml_options *o,
                           kiln_status want, const char *needle)
{
    rows r;
    EXPECT_STATUS(load1(path, o, &r), want);
    CHECK_ERROR_MENTIONS(needle);
    rows_free(&r);
}

/* ---- LIBSVM ---- */

static const char svm_text[] =
    "# a comment line, then a blank one\n"
    "\n"
    "+1 1:0.5 3:-2 # trailing comment\n"
    "-1 2:1e-3\n"
    "2 qid:7 4:4\n"
    "0\n"
    "-1 1:1 2:2 3:3 4:4\n";

static void libsvm(const char *heart)
{
    t_section("libsvm");
    char *p = file_with("a.svm", svm_text);
    rows r;
    kiln_ml_options o = {0};
    EXPECT_OK(load1(p, &o, &r)); /* auto: not .h5 or .csv: LIBSVM */
    CHECK(r.n == 5 && r.dim == 4 && !r.sparse && r.labeled,
          "%zu rows of %u (sparse %d)", r.n, r.dim, r.sparse);
    check_row(&r, 0, 1, (double[]){0.5, 0, -2, 0});
    check_row(&r, 1, -1, (double[]){0, 1e-3, 0, 0});
    check_row(&r, 2, 2, (double[]){0, 0, 0, 4});
    check_row(&r, 3, 0, (double[]){0, 0, 0, 0});
    check_row(&r, 4, -1, (double[]){1, 2, 3, 4});
    rows_free(&r);

    o.sparse = true;
    EXPECT_OK(load1(p, &o, &r));
    CHECK(r.n == 5 && r.dim == 4 && r.sparse, "sparse: %zu rows of %u", r.n, r.dim);
    check_row(&r, 4, -1, (double[]){1, 2, 3, 4});
    rows_free(&r);

    o.sparse = false;
    o.dim = 10; /* given: wider rows */
    EXPECT_OK(load1(p, &o, &r));
    CHECK(r.dim == 10 && r.n == 5, "dim %u", r.dim);
    rows_free(&r);

    o.dim = 3; /* given too small: lines 5 and 7 have index 4; either is named,
                * whichever rank reports first */
    expect_failure(p, &o, KILN_ERR_PARSE, "index 4 is above the dimension 3");
    CHECK_ERROR_MENTIONS("a.svm:");
    o.skip_bad_lines = true;
    EXPECT_OK(load1(p, &o, &r));
    CHECK(r.n == 3 && r.skipped == 2, "%zu rows, %llu skipped", r.n,
          (unsigned long long)r.skipped);
    rows_free(&r);
    free(p);

    if (heart) {
        kiln_ml_options h = {0};
        EXPECT_OK(load1(heart, &h, &r));
        CHECK(r.n == 270 && r.dim == 13, "heart_scale: %zu rows of %u", r.n, r.dim);
        check_row(&r, 0, 1, (double[]){0.708333, 1, 1, -0.320755, -0.105023, -1, 1,
                                       -0.419847, -1, -0.225806, 0, 1, -1});
        size_t pos = 0;
        for (size_t i = 0; i < r.n; i++)
            pos += r.label[i] == 1;
        CHECK(pos == 120, "heart_scale: %zu rows labelled +1, expected 120", pos);
        rows_free(&r);
    }
}

static void libsvm_errors(void)
{
    t_section("libsvm errors");
    kiln_ml_options o = {.format = KILN_ML_LIBSVM};
    char *p = file_with("zero.txt", "1 1:1\n1 0:2\n");
    expect_failure(p, &o, KILN_ERR_PARSE, "zero.txt:2: index 0");
    free(p);
    p = file_with("unsorted.txt", "1 1:1\n1 2:1\n-1 5:1 3:1\n");
    expect_failure(p, &o, KILN_ERR_PARSE, "unsorted.txt:3: index 3 after 5");
    free(p);
    p = file_with("label.txt", "1 1:1\nyes 1:1\n");
    expect_failure(p, &o, KILN_ERR_PARSE, "label.txt:2: label 'yes'");
    free(p);
    p = file_with("value.txt", "1 1:1\n1 1:x\n");
    expect_failure(p, &o, KILN_ERR_PARSE, "value.txt:2: value 'x' of index 1");
    free(p);
    p = file_with("empty.txt", "");
    expect_failure(p, &o, KILN_ERR_EMPTY, "empty.txt");
    o.dim = 4; /* no pass to find the dimension: still refused at load */
    expect_failure(p, &o, KILN_ERR_EMPTY, "empty.txt");
    free(p);
    p = file_with("blank.txt", "\n# nothing\n\n");
    expect_failure(p, &o, KILN_ERR_EMPTY, "no data row in");
    o.dim = 0;
    expect_failure(p, &o, KILN_ERR_EMPTY, "blank.txt");
    free(p);
    p = t_path("missing.svm");
    expect_failure(p, &o, KILN_ERR_IO, "missing.svm");
    free(p);

    /* Skipped and counted: two bad lines among four. */
    p = file_with("skip.txt", "1 1:1\n1 0:1\n-1 2:2\nbad\n");
    o.skip_bad_lines = true;
    rows r;
    EXPECT_OK(load1(p, &o, &r));
    CHECK(r.n == 2 && r.skipped == 2 && r.dim == 2, "%zu rows of %u, %llu skipped",
          r.n, r.dim, (unsigned long long)r.skipped);
    rows_free(&r);
    free(p);
    p = file_with("allbad.txt", "x\ny\n");
    expect_failure(p, &o, KILN_ERR_EMPTY, "allbad.txt");
    free(p);
}

/* ---- CSV ---- */

static void csv(void)
{
    t_section("csv");
    /* sklearn's iris.csv begins like this: a header that is not numeric. */
    char *p = file_with("iris.csv", "150,4,setosa,versicolor,virginica\n"
                                    "5.1,3.5,1.4,0.2,0\n"
                                    "4.9,3.0,1.4,0.2,0\n"
                                    "\n"
                                    "6.3,3.3,6.0,2.5,2\n");
    rows r;
    kiln_ml_options o = {0};
    EXPECT_OK(load1(p, &o, &r));
    CHECK(r.n == 3 && r.dim == 4 && r.labeled, "%zu rows of %u", r.n, r.dim);
    check_row(&r, 0, 0, (double[]){5.1, 3.5, 1.4, 0.2});
    check_row(&r, 2, 2, (double[]){6.3, 3.3, 6.0, 2.5});
    rows_free(&r);

    o.label_column = 1;
    EXPECT_OK(load1(p, &o, &r));
    check_row(&r, 1, 4.9, (double[]){3.0, 1.4, 0.2, 0});
    rows_free(&r);

    o.label_column = KILN_ML_LABEL_NONE;
    EXPECT_OK(load1(p, &o, &r));
    CHECK(r.dim == 5 && !r.labeled, "no label: dim %u", r.dim);
    check_row(&r, 0, NAN, (double[]){5.1, 3.5, 1.4, 0.2, 0});
    rows_free(&r);

    o.label_column = 6;
    expect_failure(p, &o, KILN_ERR_INVAL, "label column 6");
    o.label_column = 0;
    free(p);

    /* Two header lines, as sklearn's boston_house_prices.csv; semicolons;
     * several files, each with its header. */
    char *a = file_with("a.txt", "2,1\nx;y\n1;10\n2;20\n");
    char *b = file_with("b.txt", "2,1\nx;y\n3;30\n");
    const char *both[] = {a, b};
    kiln_ml_options h = {.format = KILN_ML_CSV, .header = 2, .delimiter = ';'};
    EXPECT_OK(load(both, 2, &h, &r));
    CHECK(r.n == 3 && r.dim == 1, "%zu rows of %u", r.n, r.dim);
    check_row(&r, 0, 10, (double[]){1});
    check_row(&r, 2, 30, (double[]){3});
    rows_free(&r);
    free(a);
    free(b);

    /* No header: numbers on line 1 are data under auto. */
    p = file_with("plain.csv", "1,2,3\n4,5,6\n");
    EXPECT_OK(load1(p, &o, &r));
    CHECK(r.n == 2 && r.dim == 2, "plain: %zu rows of %u", r.n, r.dim);
    check_row(&r, 0, 3, (double[]){1, 2});
    rows_free(&r);
    o.header = KILN_ML_HEADER_NONE;
    o.dim = 2;
    EXPECT_OK(load1(p, &o, &r));
    CHECK(r.n == 2, "declared: %zu rows", r.n);
    rows_free(&r);
    o.header = KILN_ML_HEADER_AUTO;
    o.dim = 0;
    free(p);
}

static void csv_errors(void)
{
    t_section("csv errors");
    kiln_ml_options o = {0};
    char *p = file_with("cols.csv", "a,b,c\n1,2,3\n4,5\n");
    expect_failure(p, &o, KILN_ERR_PARSE, "cols.csv:3: 2 fields, expected 3");
    free(p);
    p = file_with("nonnum.csv", "1,2,3\n4,five,6\n");
    expect_failure(p, &o, KILN_ERR_PARSE, "nonnum.csv:2: field 2 'five'");
    free(p);
    p = file_with("emptyfield.csv", "1,2,3\n4,,6\n");
    expect_failure(p, &o, KILN_ERR_PARSE, "emptyfield.csv:2: field 2 is empty");
    free(p);
    p = file_with("empty.csv", "");
    expect_failure(p, &o, KILN_ERR_EMPTY, "empty.csv");
    free(p);
    p = file_with("header-only.csv", "a,b\n");
    expect_failure(p, &o, KILN_ERR_EMPTY, "header-only.csv");
    free(p);
    p = t_path("missing.csv");
    expect_failure(p, &o, KILN_ERR_IO, "missing.csv");
    free(p);
    p = file_with("one.csv", "1\n2\n");
    expect_failure(p, &o, KILN_ERR_PARSE, "no room for features");
    free(p);

    p = file_with("some-bad.csv", "x,y\n1,2\n3,4,5\n6,z\n7,8\n");
    o.skip_bad_lines = true;
    rows r;
    EXPECT_OK(load1(p, &o, &r));
    CHECK(r.n == 2 && r.skipped == 2, "%zu rows, %llu skipped", r.n,
          (unsigned long long)r.skipped);
    check_row(&r, 1, 8, (double[]){7});
    rows_free(&r);
    free(p);

    kiln_ml_options bad = {.format = KILN_ML_CSV, .sparse = true};
    p = t_path("unused.csv");
    expect_failure(p, &bad, KILN_ERR_INVAL, "sparse rows are for LIBSVM");
    free(p);
}

/* ---- HDF5 ---- */

/* Rows (label i % 3, x = (i, -i / 2)) as a dataset, 5 partitions. */
static kiln_dataset *some_rows(size_t n)
{
    t_recs rec;
    kiln_schema s = kiln_schema_of(KILN_T_F64, kiln_type_fixed(16, NULL, NULL, NULL));
    t_recs_init(&rec, s);
    for (size_t i = 0; i < n; i++) {
        double y = (double)(i % 3), x[2] = {(double)i, -(double)i / 2};
        t_recs_add(&rec, &y, 8, x, 16);
    }
    kiln_dataset *ds = NULL;
    EXPECT_OK(t_parallelize(T.ctx, s, &rec, 5, &ds));
    t_recs_free(&rec);
    return ds;
}

/* Rank 0 writes /X as `n` x 2 int32 with serial HDF5 (no /y). */
static void write_int_x(const char *path, size_t n)
{
    if (T.rank == 0) {
        int32_t *v = malloc(n * 2 * sizeof *v);
        for (size_t i = 0; i < 2 * n; i++)
            v[i] = (int32_t)i - 5;
        hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t dims[2] = {n, 2};
        hid_t sp = H5Screate_simple(2, dims, NULL);
        hid_t d = H5Dcreate2(f, "/X", H5T_STD_I32BE, sp, H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        H5Dclose(d);
        H5Sclose(sp);
        H5Fclose(f);
        free(v);
    }
    t_barrier();
}

static void hdf5(void)
{
    t_section("hdf5");
    const size_t n = 1001;
    kiln_dataset *ds = some_rows(n);
    char *p = t_path("rows.h5");
    EXPECT_OK(kiln_ml_save_hdf5(ds, p, NULL));
    EXPECT_STATUS(kiln_ml_save_hdf5(ds, p, NULL), KILN_ERR_EXISTS);
    kiln_hdf5_options ow = {.overwrite = true, .compression = KILN_COMPRESS_DEFLATE};
    EXPECT_OK(kiln_ml_save_hdf5(ds, p, &ow));
    rows r;
    for (uint32_t parts = 1; parts <= 7; parts += 3) {
        kiln_ml_options o = {.partitions = parts};
        EXPECT_OK(load1(p, &o, &r));
        CHECK(r.n == n && r.dim == 2 && r.labeled, "%u partitions: %zu rows of %u",
              parts, r.n, r.dim);
        for (size_t i = 0; i < r.n; i += 97)
            check_row(&r, i, (double)(i % 3), (double[]){(double)i, -(double)i / 2});
        check_row(&r, n - 1, (double)((n - 1) % 3),
                  (double[]){(double)(n - 1), -(double)(n - 1) / 2});
        rows_free(&r);
    }
    /* Two files: their rows one after the other. */
    const char *twice[] = {p, p};
    kiln_ml_options o = {0};
    EXPECT_OK(load(twice, 2, &o, &r));
    CHECK(r.n == 2 * n, "two files: %zu rows", r.n);
    check_row(&r, n + 4, 1, (double[]){4, -2});
    rows_free(&r);

    o.y_dataset = "/labels";
    expect_failure(p, &o, KILN_ERR_IO, "/labels");
    o.y_dataset = NULL;
    o.x_dataset = "/nothing";
    expect_failure(p, &o, KILN_ERR_IO, "/nothing");
    o.x_dataset = NULL;
    o.dim = 3; /* /X has 2 columns */
    expect_failure(p, &o, KILN_ERR_INVAL, "has 2 features, expected 3");
    o.dim = 0;
    o.x_dataset = "/y"; /* 1-D */
    expect_failure(p, &o, KILN_ERR_INVAL, "2-D");
    o.x_dataset = NULL;

    /* No /y, other element type. */
    char *q = t_path("ints.h5");
    write_int_x(q, 10);
    EXPECT_OK(load1(q, &o, &r));
    CHECK(r.n == 10 && r.dim == 2 && !r.labeled, "ints: %zu rows, labeled %d", r.n,
          r.labeled);
    check_row(&r, 3, NAN, (double[]){1, 2});
    rows_free(&r);

    char *m = t_path("missing.h5");
    expect_failure(m, &o, KILN_ERR_IO, "missing.h5");
    free(m);
    free(q);
    free(p);
    kiln_dataset_destroy(&ds);
}

/* ---- model files ---- */

static void models(void)
{
    t_section("models");
    kiln_ml_model *m = NULL, *back = NULL;
    EXPECT_OK(kiln_ml_model_create(&m));
    double w[6] = {1.5, -2, 0.1, 1e300, -0.0, 3};
    int64_t ids[3] = {7, -1, INT64_MAX};
    EXPECT_OK(kiln_ml_model_put_f64(m, "weights", w, 2, 3));
    EXPECT_OK(kiln_ml_model_put_f64(m, "intercepts", w, 2, 0));
    EXPECT_OK(kiln_ml_model_put_f64(m, "empty", NULL, 0, 0));
    EXPECT_OK(kiln_ml_model_put_i64(m, "ids", ids, 3, 0));
    EXPECT_OK(kiln_ml_model_put_attr(m, "model", "test"));
    EXPECT_OK(kiln_ml_model_put_attr(m, "note", "naïve, UTF-8"));
    EXPECT_OK(kiln_ml_model_put_attr(m, "note", "replaced"));
    EXPECT_STATUS(kiln_ml_model_put_attr(m, "bad/name", "x"), KILN_ERR_INVAL);
    char *p = t_path("model.h5");
    EXPECT_OK(kiln_ml_model_save(T.ctx, m, p, false));
    EXPECT_STATUS(kiln_ml_model_save(T.ctx, m, p, false), KILN_ERR_EXISTS);
    EXPECT_OK(kiln_ml_model_save(T.ctx, T.rank == 0 ? m : NULL, p, true));
    EXPECT_OK(kiln_ml_model_load(T.ctx, p, &back));
    uint64_t nrows = 0, cols = 0;
    const double *v = kiln_ml_model_f64(back, "weights", &nrows, &cols);
    CHECK(v && nrows == 2 && cols == 3 && !memcmp(v, w, sizeof w), "weights");
    v = kiln_ml_model_f64(back, "intercepts", &nrows, &cols);
    CHECK(v && nrows == 2 && cols == 0 && v[1] == -2, "intercepts");
    v = kiln_ml_model_f64(back, "empty", &nrows, &cols);
    CHECK(v && nrows == 0, "empty array");
    const int64_t *iv = kiln_ml_model_i64(back, "ids", &nrows, NULL);
    CHECK(iv && nrows == 3 && iv[2] == INT64_MAX && iv[1] == -1, "ids");
    CHECK(!kiln_ml_model_f64(back, "ids", NULL, NULL), "ids are not doubles");
    const char *a = kiln_ml_model_attr(back, "note");
    CHECK(a && !strcmp(a, "replaced"), "note is '%s'", a ? a : "(none)");
    a = kiln_ml_model_attr(back, "model");
    CHECK(a && !strcmp(a, "test"), "model is '%s'", a ? a : "(none)");
    CHECK(!kiln_ml_model_attr(back, "absent"), "an absent attribute");
    kiln_ml_model_destroy(&back);
    kiln_ml_model *none = NULL;
    char *missing = t_path("no-model.h5");
    EXPECT_STATUS(kiln_ml_model_load(T.ctx, missing, &none), KILN_ERR_IO);
    CHECK_ERROR_MENTIONS("no-model.h5");
    CHECK(none == NULL, "a failed load leaves out untouched");
    free(missing);
    free(p);
    kiln_ml_model_destroy(&m);
    kiln_ml_model_destroy(&m);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    const char *heart = argc > 1 && t_exists(argv[1]) ? argv[1] : NULL;
    libsvm(heart);
    libsvm_errors();
    csv();
    csv_errors();
    hdf5();
    models();
    return t_finish();
}
