/* tests/bench/kmeans_serial.c: the serial baseline of the k-means
 * benchmark (ml.sh): Lloyd iterations over rows held in one array, as one
 * would write them for their own sake, single-threaded.
 *
 *   kmeans-serial FILE.h5 K ITERATIONS [PART NPARTS]
 *
 * Reads /X (N x d doubles) with HDF5, starts from the first K rows (as
 * kiln-kmeans --init first does), runs ITERATIONS iterations and prints
 *   serial: rows=N dim=d k=K iterations=I seconds=T per_iteration=S cost=C
 * T covers the iterations only (not reading); C is the cost of the final
 * centres, computed after the timing. With PART and NPARTS it works on
 * rows [PART*N/NPARTS, (PART+1)*N/NPARTS) only (still starting from the
 * file's first K rows): ml.sh runs NPARTS of these at once to measure what
 * the machine itself gives NPARTS processes that share nothing.
 *
 * The kernel is apps/ml/kmeans_kernel.h, the one kiln-kmeans uses,
 * because it is the fastest we know for these sizes: per block of 256
 * rows, -2 x.c for every centre from one BLAS dgemm (256 x k x d), the
 * nearest centre from ||c||^2 - 2 x.c scanned eight rows at a time, then
 * the exact distance and the row added to its centre's sum. Blocks of 256
 * rows keep the block of x and of x.c in L2 between the dgemm and the
 * sums, so each row is read from memory once per iteration. */
#include "huge_alloc.h" /* first: it asks for madvise() */

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "apps/ml/kmeans_kernel.h"

enum { CHUNK = KMEANS_BLOCK };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double *read_x(const char *path, size_t part, size_t nparts, size_t k,
                      double **first, size_t *n, size_t *d)
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
    hsize_t lo = dims[0] * part / nparts, hi = dims[0] * (part + 1) / nparts;
    double *rows[2] = {NULL, NULL};
    hsize_t from[2] = {lo, 0}, count[2][2] = {{hi - lo, dims[1]}, {k, dims[1]}};
    for (int w = 0; w < 2; w++) {
        if (w == 1)
            from[0] = 0;
        hid_t mem = H5Screate_simple(2, count[w], NULL);
        rows[w] = huge_alloc(count[w][0] * dims[1] * 8 + 8);
        if (k > dims[0] || !rows[w] || mem < 0 ||
            H5Sselect_hyperslab(sp, H5S_SELECT_SET, from, NULL, count[w], NULL) < 0 ||
            H5Dread(ds, H5T_NATIVE_DOUBLE, mem, sp, H5P_DEFAULT, rows[w]) < 0) {
            fprintf(stderr, "kmeans-serial: cannot read /X of %s\n", path);
            exit(2);
        }
        H5Sclose(mem);
    }
    H5Sclose(sp);
    H5Dclose(ds);
    H5Fclose(f);
    *first = rows[1];
    *n = hi - lo;
    *d = dims[1];
    return rows[0];
}

/* One pass: sums (k x d), counts (k) and the cost of x against c. */
static double pass(const double *x, size_t n, size_t d, const double *c, size_t k,
                   double *sums, double *counts)
{
    double *norm = malloc(k * 8), *g = malloc(CHUNK * k * 8), cost = 0;
    double dist[CHUNK];
    uint32_t best[CHUNK];
    kmeans_norms(c, (uint32_t)k, (uint32_t)d, norm);
    memset(sums, 0, k * d * 8);
    memset(counts, 0, k * 8);
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t m = n - i < CHUNK ? n - i : CHUNK;
        const double *xc = x + i * d;
        kmeans_nearest_block(xc, m, (uint32_t)d, c, norm, (uint32_t)k, g, best, dist);
        for (size_t r = 0; r < m; r++) {
            double *s = sums + best[r] * d;
            const double *xr = xc + r * d;
            for (size_t l = 0; l < d; l++)
                s[l] += xr[l];
            cost += dist[r];
            counts[best[r]] += 1;
        }
    }
    free(norm);
    free(g);
    return cost;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 6) {
        fprintf(stderr, "usage: kmeans-serial FILE.h5 K ITERATIONS [PART NPARTS]\n");
        return 2;
    }
    openblas_set_num_threads(1);
    size_t n, d, k = (size_t)atol(argv[2]);
    long part = argc == 6 ? atol(argv[4]) : 0, nparts = argc == 6 ? atol(argv[5]) : 1;
    int iters = atoi(argv[3]);
    if (k == 0 || iters < 1 || nparts < 1 || part < 0 || part >= nparts) {
        fprintf(stderr, "kmeans-serial: bad K, ITERATIONS, PART or NPARTS\n");
        return 2;
    }
    double *c;
    double *x = read_x(argv[1], (size_t)part, (size_t)nparts, k, &c, &n, &d);
    double *sums = malloc(k * d * 8), *counts = malloc(k * 8);
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
