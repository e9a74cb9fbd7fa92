/* tests/unit/test_ml_kmeans_kernel.c: the k-means nearest-centre kernel
 * (apps/ml/kmeans_kernel.h), shared by kiln-kmeans and the benchmark's
 * serial baseline. Its vector scan must make exactly the decisions of the
 * plain loop over ||c||^2 - 2 x.c (ties to the lower index), for every
 * block length (the rows the scan leaves over go through the loop), and
 * its distances must be the squared distances. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "apps/ml/kmeans_kernel.h"

enum { K = 13, D = 7 };

static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Small integers: x.c and the norms are exact, so equal distances are
 * equal bit for bit and ties really happen. */
static double small(uint64_t *s)
{
    return (double)(next(s) % 7) - 3;
}

static void scan_matches_plain_loop(void **state)
{
    (void)state;
    uint64_t s = 42;
    double c[K * D], norm[K], x[KMEANS_BLOCK * D], dist[KMEANS_BLOCK];
    double *g = malloc(sizeof(double) * KMEANS_BLOCK * K);
    uint32_t best[KMEANS_BLOCK];
    assert_non_null(g);
    for (size_t i = 0; i < K * D; i++)
        c[i] = small(&s);
    for (size_t l = 0; l < D; l++)
        c[5 * D + l] = c[2 * D + l]; /* two equal centres: always a tie */
    kmeans_norms(c, K, D, norm);
    for (size_t m = 1; m <= KMEANS_BLOCK; m += 13) {
        for (size_t i = 0; i < m * D; i++)
            x[i] = small(&s);
        kmeans_nearest_block(x, m, D, c, norm, K, g, best, dist);
        for (size_t r = 0; r < m; r++) {
            uint32_t want = 0;
            double bv = kmeans_sqdist(x + r * D, c, D);
            for (uint32_t j = 1; j < K; j++) {
                double v = kmeans_sqdist(x + r * D, c + j * D, D);
                if (v < bv) {
                    bv = v;
                    want = j;
                }
            }
            assert_int_equal(best[r], want);
            assert_true(dist[r] == bv);
            assert_int_not_equal(best[r], 5); /* the tie went to centre 2 */
        }
    }
    free(g);
}

static void sqdist_is_the_squared_distance(void **state)
{
    (void)state;
    double x[9], c[9];
    for (uint32_t d = 1; d <= 9; d++) {
        double want = 0;
        for (uint32_t l = 0; l < d; l++) {
            x[l] = 0.5 * l;
            c[l] = 1.0 - l;
            want += (x[l] - c[l]) * (x[l] - c[l]);
        }
        assert_true(fabs(kmeans_sqdist(x, c, d) - want) <= 1e-12 * want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scan_matches_plain_loop),
        cmocka_unit_test(sqdist_is_the_squared_distance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
