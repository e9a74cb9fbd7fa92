/* apps/ml/kmeans_kernel.h: the nearest-centre kernel of k-means, shared by
 * kiln-kmeans and the serial baseline of the benchmark
 * (tests/bench/kmeans_serial.c), so that both do the same arithmetic.
 * Header-only: static functions, no Kiln.
 *
 * Per block of at most KMEANS_BLOCK rows: G = -2 X C^T by one BLAS dgemm
 * (m x k), then for each row the centre j with the least
 * ||c_j||^2 + G[r][j], which is the nearest one (||x||^2 is the same for
 * every centre), ties to the lower index. Blocks of 256 rows keep X and G
 * in L2 between the dgemm and the scan, so each row comes from memory once.
 *
 * Measured on 4 M x 16 rows, k = 32, one Zen 4 core (OpenBLAS 0.3.21):
 * the scan written as the plain loop `if (v < best) ...` is one chain of
 * dependent min/compare instructions per row, 31 long, and took as long
 * as the dgemm; over 8 rows at once with SSE2 (two rows per register,
 * four registers, so four independent chains) the pass went from 0.31 s
 * to 0.24 s. The exact squared distance uses four partial sums for the
 * same reason (a chain of d dependent adds otherwise). The scan makes the
 * same decisions as the plain loop, bit for bit: min(v, best) keeps best
 * unless v < best, exactly when the index moves. */
#ifndef KILN_APPS_ML_KMEANS_KERNEL_H
#define KILN_APPS_ML_KMEANS_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include <cblas.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

enum { KMEANS_BLOCK = 256 }; /* rows per dgemm */

/* sum over l of (x[l] - c[l])^2, in four partial sums. */
static inline double kmeans_sqdist(const double *restrict x, const double *restrict c,
                                   uint32_t d)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    uint32_t l = 0;
    for (; l + 4 <= d; l += 4) {
        double t0 = x[l] - c[l], t1 = x[l + 1] - c[l + 1];
        double t2 = x[l + 2] - c[l + 2], t3 = x[l + 3] - c[l + 3];
        s0 += t0 * t0;
        s1 += t1 * t1;
        s2 += t2 * t2;
        s3 += t3 * t3;
    }
    for (; l < d; l++) {
        double t = x[l] - c[l];
        s0 += t * t;
    }
    return (s0 + s1) + (s2 + s3);
}

/* norm[j] = ||c_j||^2 for the k centres c (k x d). */
static inline void kmeans_norms(const double *restrict c, uint32_t k, uint32_t d,
                                double *restrict norm)
{
    for (uint32_t j = 0; j < k; j++) {
        double s = 0;
        for (uint32_t l = 0; l < d; l++)
            s += c[(size_t)j * d + l] * c[(size_t)j * d + l];
        norm[j] = s;
    }
}

/* The index of the least norm[j] + g[j], j < k, of one row (the plain
 * loop; for the rows the vector scan leaves over, and without SSE2). */
static inline uint32_t kmeans_argmin_row(const double *restrict g,
                                         const double *restrict norm, uint32_t k)
{
    uint32_t b = 0;
    double bv = norm[0] + g[0];
    for (uint32_t j = 1; j < k; j++) {
        double v = norm[j] + g[j];
        if (v < bv) {
            bv = v;
            b = j;
        }
    }
    return b;
}

/* For m <= KMEANS_BLOCK rows at x (m x d), the nearest of the k centres c
 * (k x d, squared norms in norm) into best[r] and its exact squared
 * distance into dist[r]. g: KMEANS_BLOCK * k doubles of scratch. */
static inline void kmeans_nearest_block(const double *restrict x, size_t m, uint32_t d,
                                        const double *restrict c,
                                        const double *restrict norm, uint32_t k,
                                        double *restrict g, uint32_t *restrict best,
                                        double *restrict dist)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)k, (int)d, -2.0,
                x, (int)d, c, (int)d, 0.0, g, (int)k);
    size_t r = 0;
#if defined(__SSE2__)
    /* Eight rows at a time, indices carried as doubles (exact below 2^53)
     * so that compare masks select them directly. */
    double idx[8];
    const __m128d one = _mm_set1_pd(1.0);
    for (; r + 8 <= m; r += 8) {
        const double *g0 = g + r * k;
#define KMEANS_LOAD(q, j) \
    _mm_loadh_pd(_mm_load_sd(g0 + (size_t)(2 * (q)) * k + (j)), \
                 g0 + (size_t)(2 * (q) + 1) * k + (j))
        __m128d nj = _mm_set1_pd(norm[0]);
        __m128d b0 = _mm_add_pd(KMEANS_LOAD(0, 0), nj), b1 = _mm_add_pd(KMEANS_LOAD(1, 0), nj);
        __m128d b2 = _mm_add_pd(KMEANS_LOAD(2, 0), nj), b3 = _mm_add_pd(KMEANS_LOAD(3, 0), nj);
        __m128d i0 = _mm_setzero_pd(), i1 = i0, i2 = i0, i3 = i0, jv = i0;
        for (uint32_t j = 1; j < k; j++) {
            nj = _mm_set1_pd(norm[j]);
            jv = _mm_add_pd(jv, one);
#define KMEANS_STEP(q, bq, iq)                                              \
    do {                                                                    \
        __m128d v = _mm_add_pd(KMEANS_LOAD(q, j), nj), lt = _mm_cmplt_pd(v, bq); \
        bq = _mm_min_pd(v, bq);                                             \
        iq = _mm_or_pd(_mm_and_pd(lt, jv), _mm_andnot_pd(lt, iq));         \
    } while (0)
            KMEANS_STEP(0, b0, i0);
            KMEANS_STEP(1, b1, i1);
            KMEANS_STEP(2, b2, i2);
            KMEANS_STEP(3, b3, i3);
#undef KMEANS_STEP
        }
#undef KMEANS_LOAD
        _mm_storeu_pd(idx, i0);
        _mm_storeu_pd(idx + 2, i1);
        _mm_storeu_pd(idx + 4, i2);
        _mm_storeu_pd(idx + 6, i3);
        for (int q = 0; q < 8; q++)
            best[r + q] = (uint32_t)idx[q];
    }
#endif
    for (; r < m; r++)
        best[r] = kmeans_argmin_row(g + r * k, norm, k);
    for (r = 0; r < m; r++)
        dist[r] = kmeans_sqdist(x + r * d, c + (size_t)best[r] * d, d);
}

#endif
