/* tests/unit/test_h5zstd.c: the Zstandard HDF5 filter (runtime/h5zstd.h).
 * Chunked datasets written through filter 32015 into serial HDF5 files in a
 * temporary directory must read back exactly, at several levels (negative
 * ones too), for compressible and incompressible data and a partial last
 * chunk; the file must record the filter's id and level, and hold fewer
 * bytes than the raw data when the data compresses. A chunk that is not a
 * zstd frame must fail the read, not crash it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/h5zstd.h"

typedef struct fixture {
    char dir[256];
    char path[320];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/kiln-unit-h5zstd-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/data.h5", f->dir);
    /* Failures below are expected in some tests; the test checks them. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    unlink(f->path);
    int rc = rmdir(f->dir);
    free(f);
    return rc;
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Write n doubles as an n/cols x cols dataset "/d" in chunks of
 * chunk_rows rows through the zstd filter at `level` (no level parameter
 * when use_level is false). */
static void write_doubles(const char *path, const double *v, hsize_t rows,
                          hsize_t cols, hsize_t chunk_rows, bool use_level,
                          int level)
{
    assert_int_equal(kiln__h5zstd_register(), KILN_OK);
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(file >= 0);
    hsize_t dims[2] = {rows, cols}, chunk[2] = {chunk_rows, cols};
    hid_t space = H5Screate_simple(2, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    assert_true(H5Pset_chunk(dcpl, 2, chunk) >= 0);
    unsigned cd[1] = {(unsigned)level};
    assert_true(H5Pset_filter(dcpl, KILN__H5Z_ZSTD, H5Z_FLAG_MANDATORY,
                              use_level ? 1 : 0, cd) >= 0);
    hid_t d = H5Dcreate2(file, "/d", H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl,
                         H5P_DEFAULT);
    assert_true(d >= 0);
    assert_true(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    assert_true(H5Fclose(file) >= 0);
}

/* Read "/d" back; check it equals v and report the stored size and the
 * filter's recorded parameters. */
static void read_back(const char *path, const double *v, size_t n,
                      hsize_t *stored, size_t *ncd, unsigned *level)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    hid_t d = H5Dopen2(file, "/d", H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t dcpl = H5Dget_create_plist(d);
    assert_int_equal(H5Pget_nfilters(dcpl), 1);
    unsigned flags = 0, cd[4] = {0};
    *ncd = 4;
    assert_int_equal(H5Pget_filter2(dcpl, 0, &flags, ncd, cd, 0, NULL, NULL),
                     KILN__H5Z_ZSTD);
    assert_false(flags & H5Z_FLAG_OPTIONAL);
    *level = cd[0];
    *stored = H5Dget_storage_size(d);
    double *got = malloc(n * sizeof *got);
    assert_non_null(got);
    assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, got) >= 0);
    assert_memory_equal(got, v, n * sizeof *got);
    free(got);
    H5Pclose(dcpl);
    H5Dclose(d);
    H5Fclose(file);
}

static void registration_is_idempotent(void **state)
{
    (void)state;
    assert_int_equal(kiln__h5zstd_register(), KILN_OK);
    assert_int_equal(kiln__h5zstd_register(), KILN_OK);
    assert_true(H5Zfilter_avail(KILN__H5Z_ZSTD) > 0);
    unsigned config = 0;
    assert_true(H5Zget_filter_info(KILN__H5Z_ZSTD, &config) >= 0);
    assert_true(config & H5Z_FILTER_CONFIG_ENCODE_ENABLED);
    assert_true(config & H5Z_FILTER_CONFIG_DECODE_ENABLED);
}

/* 100003 rows x 3: 13 chunks of 8192 rows, the last one partial. */
static void compressible_round_trip_at_several_levels(void **state)
{
    fixture *f = *state;
    enum { ROWS = 100003, COLS = 3 };
    double *v = malloc(sizeof(double) * ROWS * COLS);
    assert_non_null(v);
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++)
        v[i] = (double)(i % 977) * 0.25;
    static const int levels[] = {1, 3, 19, -5};
    for (size_t k = 0; k < sizeof levels / sizeof levels[0]; k++) {
        write_doubles(f->path, v, ROWS, COLS, 8192, true, levels[k]);
        hsize_t stored;
        size_t ncd;
        unsigned level;
        read_back(f->path, v, (size_t)ROWS * COLS, &stored, &ncd, &level);
        assert_int_equal(ncd, 1);
        assert_int_equal((int)level, levels[k]);
        assert_true(stored < sizeof(double) * ROWS * COLS / 4);
    }
    free(v);
}

/* Random bits do not compress: each chunk's frame is a little larger than
 * the chunk, which the filter must still handle. Also: no level given. */
static void incompressible_round_trip(void **state)
{
    fixture *f = *state;
    enum { ROWS = 20000, COLS = 2 };
    double *v = malloc(sizeof(double) * ROWS * COLS);
    assert_non_null(v);
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++) {
        uint64_t bits = mix(i) & ~(0x7ffull << 52); /* finite: exponent not all ones */
        memcpy(&v[i], &bits, 8);
    }
    write_doubles(f->path, v, ROWS, COLS, 3000, false, 0);
    hsize_t stored;
    size_t ncd;
    unsigned level;
    read_back(f->path, v, (size_t)ROWS * COLS, &stored, &ncd, &level);
    assert_int_equal(ncd, 0);
    free(v);
}

/* A chunk that is not a zstd frame fails the read with an HDF5 error. */
static void corrupt_chunk_fails_the_read(void **state)
{
    fixture *f = *state;
    enum { ROWS = 4096, COLS = 1 };
    double *v = calloc(ROWS * COLS, sizeof *v);
    assert_non_null(v);
    write_doubles(f->path, v, ROWS, COLS, 1024, true, 3);
    hid_t file = H5Fopen(f->path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(file >= 0);
    hid_t d = H5Dopen2(file, "/d", H5P_DEFAULT);
    assert_true(d >= 0);
    unsigned char junk[64];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)mix(i);
    hsize_t offset[2] = {1024, 0};
    assert_true(H5Dwrite_chunk(d, H5P_DEFAULT, 0, offset, sizeof junk, junk) >= 0);
    assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0);
    /* The chunks around it still read. */
    hid_t space = H5Dget_space(d);
    hsize_t start[2] = {0, 0}, count[2] = {1024, COLS};
    assert_true(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL) >= 0);
    hid_t mem = H5Screate_simple(2, count, NULL);
    assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, mem, space, H5P_DEFAULT, v) >= 0);
    H5Sclose(mem);
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(file);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registration_is_idempotent),
        cmocka_unit_test_setup_teardown(compressible_round_trip_at_several_levels,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(incompressible_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_chunk_fails_the_read, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
