/* tests/bench/kmeans_serial.c: the serial baseline of the k-means
 * benchmark (ml.sh): Lloyd iterations over rows held in one array, as one
 * would write them for their own sake, single-threaded.
 *
 *   kmeans-serial FILE.h5 K ITERATIONS
 *
 * Reads /X (N x d doubles) with HDF5, starts from the first K rows (as
 * kiln-kmeans --init first does), runs ITERATIONS iterations and prints
 *   serial: rows=N dim=d k=K iterations=I seconds=T per_iteration=S cost=C
 * T covers the iterations only (not reading); C is the cost of the final
 * centres, computed after the timing.
 *
 * The kernel is the one kiln-kmeans uses, because it is the fastest we
 * know for these sizes: per block of 256 rows, x.c for every centre from
 * one BLAS dgemm (256 x k x d), the nearest centre from ||c||^2 - 2 x.c,
 * then the exact distance and the row added to its centre's sum. Blocks of
 * 256 rows keep the block of x and of x.c in L2 between the dgemm and the
 * sums, so each row is read from memory once per iteration. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

enum { CHUNK = 256 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double *read_x(const char *path, size_t *n, size_t *d)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = f >= 0 ? H5Dopen2(f, "/X", H5P_DEFAULT) : -1;
    hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
    hsize_t dims[2] = {0, 0};
    if (sp < 0 || H5Sget_simple_extent_ndims(sp) != 2) {
        fprintf(stderr, "kmeans-serial: cannot read /X of %s\n", path);
        exit(2);
    }
    H5Sget_simple_extent_dims(sp, dims, NULL);
    double *x = malloc(dims[0] * dims[1] * 8);
    if (!x || H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) < 0) {
        fprintf(stderr, "kmeans-serial: cannot read /X of %s\n", path);
        exit(2);
    }
    H5Sclose(sp);
    H5Dclose(ds);
    H5Fclose(f);
    *n = dims[0];
    *d = dims[1];
    return x;
}

/* One pass: sums (k x d), counts (k) and the cost of x against c. */
static double pass(const double *x, size_t n, size_t d, const double *c, size_t k,
                   double *sums, double *counts)
{
    double *norm = malloc(k * 8), *g = malloc(CHUNK * k * 8), cost = 0;
    for (size_t j = 0; j < k; j++)
        norm[j] = cblas_ddot((int)d, c + j * d, 1, c + j * d, 1);
    memset(sums, 0, k * d * 8);
    memset(counts, 0, k * 8);
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t m = n - i < CHUNK ? n - i : CHUNK;
        const double *xc = x + i * d;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)k, (int)d,
                    1.0, xc, (int)d, c, (int)d, 0.0, g, (int)k);
        for (size_t r = 0; r < m; r++) {
            const double *gr = g + r * k, *xr = xc + r * d;
            size_t b = 0;
            double bv = norm[0] - 2 * gr[0];
            for (size_t j = 1; j < k; j++) {
                double v = norm[j] - 2 * gr[j];
                if (v < bv) {
                    bv = v;
                    b = j;
                }
            }
            double dist = 0, *s = sums + b * d;
            const double *cb = c + b * d;
            for (size_t l = 0; l < d; l++) {
                double t = xr[l] - cb[l];
                dist += t * t;
                s[l] += xr[l];
            }
            cost += dist;
            counts[b] += 1;
        }
    }
    free(norm);
    free(g);
    return cost;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: kmeans-serial FILE.h5 K ITERATIONS\n");
        return 2;
    }
    openblas_set_num_threads(1);
    size_t n, d, k = (size_t)atol(argv[2]);
    int iters = atoi(argv[3]);
    double *x = read_x(argv[1], &n, &d);
    if (k == 0 || k > n || iters < 1) {
        fprintf(stderr, "kmeans-serial: bad K or ITERATIONS\n");
        return 2;
    }
    double *c = malloc(k * d * 8), *sums = malloc(k * d * 8), *counts = malloc(k * 8);
    memcpy(c, x, k * d * 8);
    double t0 = now();
    for (int it = 0; it < iters; it++) {
        pass(x, n, d, c, k, sums, counts);
        for (size_t j = 0; j < k; j++)
            if (counts[j] > 0)
                for (size_t l = 0; l < d; l++)
                    c[j * d + l] = sums[j * d + l] / counts[j];
    }
    double t = now() - t0;
    double cost = pass(x, n, d, c, k, sums, counts);
    printf("serial: rows=%zu dim=%zu k=%zu iterations=%d seconds=%.3f "
           "per_iteration=%.4f cost=%.10g\n", n, d, k, iters, t, t / iters, cost);
    free(x);
    free(c);
    free(sums);
    free(counts);
    return 0;
}
