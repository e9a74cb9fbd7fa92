/* kiln-kmeans: k-means clustering (Lloyd's algorithm) of dense rows.
 *
 *   mpirun -np N kiln-kmeans -k K [options] --model OUT.h5 INPUT...
 *   mpirun -np N kiln-kmeans predict --model OUT.h5 -o DIR INPUT...
 *
 * Initial centres: k-means|| (Bahmani et al. 2012, as in Spark MLlib, the
 * default), k-means++ (Arthur and Vassilvitskii 2007) on a sample, or the
 * first k rows. Each Lloyd iteration is one kiln_dataset_aggregate over the
 * cached rows: per partition, the sums and counts of the rows nearest each
 * centre and the cost, combined in a fixed order, so every rank computes
 * the same new centres, bit for bit, at any number of ranks. Nearest
 * centres come from ||c||^2 - 2 x.c with x.c from one BLAS dgemm per block
 * of rows when k and d are large enough for it to pay (kmeans_kernel.h,
 * shared with the benchmark's serial baseline); the cost is then
 * recomputed exactly, as sum ||x - c||^2, so it never rises between
 * iterations by more than rounding. The summary line's cost is that of the
 * final centres (one more pass). */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "common.h"
#include "kmeans_kernel.h"

static const char usage[] =
    "usage: kiln-kmeans -k K [options] --model OUT.h5 INPUT...\n"
    "       kiln-kmeans predict --model MODEL.h5 -o DIR INPUT...\n"
    "Cluster the rows of INPUT into K clusters (Lloyd's algorithm); predict\n"
    "writes the index of each row's nearest centre, one per line.\n"
    "  -k, --clusters K    number of clusters\n"
    "  --init I            k-means|| (default; also 'parallel'), k-means++\n"
    "                      (on a sample; also 'plusplus') or first (the first K\n"
    "                      rows of the input)\n"
    "  --init-steps N      k-means|| rounds (default 2)\n"
    "  --init-sample N     k-means++: rows sampled (default 10000)\n"
    "  --max-iter N        at most N Lloyd iterations (default 20)\n"
    "  --tol T             stop once no centre moves farther than T\n"
    "                      (default 1e-4)\n"
    "  --checkpoint-every N  checkpoint the centres every N iterations;\n"
    "                      resume with --kiln-resume\n" ML_COMMON_USAGE ML_INPUT_USAGE
    "Prints: kmeans: k=K iterations=I cost=C (C: the sum of squared distances\n"
    "to the nearest centre).\n";

enum { OPT_INIT = OPT_APP, OPT_INIT_STEPS, OPT_INIT_SAMPLE, OPT_MAX_ITER, OPT_TOL };
enum { INIT_PARALLEL, INIT_PLUSPLUS, INIT_FIRST };
static const char *const init_names[] = {"k-means||", "k-means++", "first"};

enum { CHUNK = KMEANS_BLOCK }; /* rows per dgemm (kmeans_kernel.h) */

/* ---- nearest centres ---- */

typedef struct centres {
    uint32_t k, d;
    const double *c;  /* k x d, row-major */
    double *norm;     /* k: ||c||^2 */
    bool gemm;        /* x.c through dgemm */
    double *g;        /* CHUNK x k scratch for dgemm */
} centres;

static kiln_status centres_init(centres *cs, const double *c, uint32_t k, uint32_t d)
{
    cs->k = k;
    cs->d = d;
    cs->c = c;
    /* Measured on 2M x 16 rows (tests/bench/ml.sh's machine): dgemm wins
     * from about k = 8 on; below, the plain loop. */
    cs->gemm = k >= 8 && (uint64_t)k * d >= 64;
    cs->norm = malloc(k * sizeof *cs->norm);
    cs->g = cs->gemm ? malloc((size_t)CHUNK * k * sizeof *cs->g) : NULL;
    if (!cs->norm || (cs->gemm && !cs->g)) {
        free(cs->norm);
        free(cs->g);
        return kiln_error(KILN_ERR_NOMEM, "kmeans: %u centres", k);
    }
    kmeans_norms(c, k, d, cs->norm);
    return KILN_OK;
}

static void centres_free(centres *cs)
{
    free(cs->norm);
    free(cs->g);
    cs->norm = cs->g = NULL;
}

/* Nearest centre of each of m rows at x (m <= CHUNK) and its exact squared
 * distance. Ties go to the lower index. */
static void nearest(const centres *cs, const double *x, size_t m,
                    uint32_t *best, double *dist)
{
    uint32_t k = cs->k, d = cs->d;
    if (cs->gemm) {
        kmeans_nearest_block(x, m, d, cs->c, cs->norm, k, cs->g, best, dist);
        return;
    }
    for (size_t r = 0; r < m; r++) {
        const double *xr = x + r * d;
        uint32_t b = 0;
        double bv = kmeans_sqdist(xr, cs->c, d);
        for (uint32_t j = 1; j < k; j++) {
            double v = kmeans_sqdist(xr, cs->c + (size_t)j * d, d);
            if (v < bv) {
                bv = v;
                b = j;
            }
        }
        best[r] = b;
        dist[r] = bv;
    }
}

/* ---- one pass: sums, counts and cost per partition ---- */

/* The accumulator: k x d sums, k counts, the cost; all doubles. With
 * cost_only the sums stay zero. */
typedef struct pass_arg {
    centres cs;
    bool cost_only;
} pass_arg;

static kiln_status pass_seq(void *acc, const kiln_batch *in, void *arg)
{
    pass_arg *pa = arg;
    uint32_t k = pa->cs.k, d = pa->cs.d;
    double *sums = acc, *counts = sums + (size_t)k * d, *cost = counts + k;
    const double *x = (const double *)in->values;
    uint32_t best[CHUNK];
    double dist[CHUNK];
    for (size_t i = 0; i < in->n; i += CHUNK) {
        size_t m = in->n - i < CHUNK ? in->n - i : CHUNK;
        nearest(&pa->cs, x + i * d, m, best, dist);
        for (size_t r = 0; r < m; r++) {
            *cost += dist[r];
            counts[best[r]] += 1;
            if (pa->cost_only)
                continue;
            double *s = sums + (size_t)best[r] * d;
            const double *xr = x + (i + r) * d;
            for (uint32_t l = 0; l < d; l++)
                s[l] += xr[l];
        }
    }
    return KILN_OK;
}

static kiln_status pass_comb(void *acc, const void *other, void *arg)
{
    const pass_arg *pa = arg;
    size_t n = (size_t)pa->cs.k * pa->cs.d + pa->cs.k + 1;
    double *a = acc;
    const double *o = other;
    for (size_t i = 0; i < n; i++)
        a[i] += o[i];
    return KILN_OK;
}

/* sums/counts/cost of rows against centres c (k x d): out holds
 * k*d + k + 1 doubles. Collective. */
static kiln_status pass(kiln_dataset *rows, const double *c, uint32_t k, uint32_t d,
                        bool cost_only, double *out)
{
    pass_arg pa = {.cost_only = cost_only};
    size_t n = (size_t)k * d + k + 1;
    double *zero = calloc(n, sizeof *zero);
    kiln_status st = zero ? centres_init(&pa.cs, c, k, d) : KILN_ERR_NOMEM;
    if (st == KILN_OK) {
        st = kiln_dataset_aggregate(rows, zero, n * sizeof *zero, pass_seq, pass_comb,
                                    &pa, out);
        centres_free(&pa.cs);
    }
    free(zero);
    return st;
}

/* ---- initialisation ---- */

/* Random decisions about a row are a hash of (seed, its values), never of
 * where the row is: the same rows give the same centres however they are
 * partitioned (CSV cut by bytes, HDF5 by rows) and at any rank count.
 * Equal rows get equal decisions, which is harmless here. */
static uint64_t row_hash(uint64_t seed, const double *x, uint32_t d)
{
    uint64_t h = ml_mix64(seed);
    for (uint32_t l = 0; l < d; l++) {
        uint64_t u;
        memcpy(&u, &x[l], 8);
        h = ml_mix64(h ^ u);
    }
    return h;
}

static double row_uniform(uint64_t seed, const double *x, uint32_t d)
{
    return (double)(row_hash(seed, x, d) >> 11) * 0x1.0p-53;
}

/* One row chosen uniformly: the row whose hash is smallest (ties: the
 * first). acc: unused, found, hash (uint64), then d doubles. */
typedef struct pick_arg {
    uint64_t seed;
    uint32_t d;
} pick_arg;

static kiln_status pick_seq(void *acc, const kiln_batch *in, void *arg)
{
    const pick_arg *pa = arg;
    uint64_t *h = acc;
    const double *x = (const double *)in->values;
    for (size_t i = 0; i < in->n; i++) {
        uint64_t v = row_hash(pa->seed, x + i * pa->d, pa->d);
        if (!h[1] || v < h[2]) {
            h[1] = 1;
            h[2] = v;
            memcpy(h + 3, in->values + i * in->value_size, in->value_size);
        }
    }
    return KILN_OK;
}

static kiln_status pick_comb(void *acc, const void *other, void *arg)
{
    const pick_arg *pa = arg;
    uint64_t *a = acc;
    const uint64_t *o = other;
    if (o[1] && (!a[1] || o[2] < a[2]))
        memcpy(a + 1, o + 1, 16 + (size_t)pa->d * 8);
    return KILN_OK;
}

/* k-means|| round: rows kept with probability min(1, l * cost(x) / total). */
typedef struct sample_arg {
    centres cs;
    double l, total;
    uint64_t seed;     /* this round's */
} sample_arg;

static kiln_status sample_keep(const kiln_batch *in, uint8_t *keep, void *arg)
{
    const sample_arg *sa = arg;
    uint32_t d = sa->cs.d, best[CHUNK];
    double dist[CHUNK];
    const double *x = (const double *)in->values;
    for (size_t i = 0; i < in->n; i += CHUNK) {
        size_t m = in->n - i < CHUNK ? in->n - i : CHUNK;
        nearest(&sa->cs, x + i * d, m, best, dist);
        for (size_t r = 0; r < m; r++)
            keep[i + r] = row_uniform(sa->seed, x + (i + r) * d, d) * sa->total <
                          sa->l * dist[r];
    }
    return KILN_OK;
}

/* k-means++ sample: rows kept with probability fraction. */
typedef struct fraction_arg {
    uint64_t seed;
    uint32_t d;
    double fraction;
} fraction_arg;

static kiln_status fraction_keep(const kiln_batch *in, uint8_t *keep, void *arg)
{
    const fraction_arg *fa = arg;
    const double *x = (const double *)in->values;
    for (size_t i = 0; i < in->n; i++)
        keep[i] = row_uniform(fa->seed, x + i * fa->d, fa->d) < fa->fraction;
    return KILN_OK;
}

/* Append the rows of a collection to *c (n x d, grown). */
static kiln_status append_rows(const kiln_collection *col, uint32_t d, double **c,
                               size_t *n)
{
    const kiln_batch *b = kiln_collection_batch(col);
    double *grown = realloc(*c, (*n + b->n + 1) * d * sizeof *grown);
    if (!grown)
        return KILN_ERR_NOMEM;
    memcpy(grown + *n * d, b->values, b->n * (size_t)d * 8);
    *c = grown;
    *n += b->n;
    return KILN_OK;
}

/* k-means++ over n weighted points (serial, the same on every rank), then
 * up to 30 weighted Lloyd iterations, as MLlib's LocalKMeans does. */
static void local_kmeans(const double *p, const double *w, size_t n, uint32_t d,
                         uint32_t k, uint64_t seed, bool lloyd, double *out)
{
    ml_rng rng = {ml_mix64(seed ^ 0x6b6d65616e73ull)};
    double *cost = malloc(n * sizeof *cost);
    uint32_t *assign = malloc(n * sizeof *assign);
    double *sums = calloc((size_t)k * d + k, sizeof *sums);
    if (!cost || !assign || !sums) { /* tiny; treat as fatal */
        fprintf(stderr, "kiln-kmeans: out of memory\n");
        exit(1);
    }
    /* The first centre: a point chosen with probability ~ weight. */
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += w[i];
    double r = ml_rng_uniform(&rng) * total, acc = 0;
    size_t pick = n - 1;
    for (size_t i = 0; i < n; i++) {
        acc += w[i];
        if (acc > r) {
            pick = i;
            break;
        }
    }
    memcpy(out, p + pick * d, (size_t)d * 8);
    for (size_t i = 0; i < n; i++)
        cost[i] = kmeans_sqdist(p + i * d, out, d);
    for (uint32_t j = 1; j < k; j++) {
        double sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += w[i] * cost[i];
        pick = n - 1;
        if (sum > 0) {
            r = ml_rng_uniform(&rng) * sum;
            acc = 0;
            for (size_t i = 0; i < n; i++) {
                acc += w[i] * cost[i];
                if (acc > r) {
                    pick = i;
                    break;
                }
            }
        } else {
            pick = (size_t)(ml_rng_uniform(&rng) * (double)n);
        }
        memcpy(out + (size_t)j * d, p + pick * d, (size_t)d * 8);
        for (size_t i = 0; i < n; i++) {
            double c = kmeans_sqdist(p + i * d, out + (size_t)j * d, d);
            if (c < cost[i])
                cost[i] = c;
        }
    }
    for (int it = 0; lloyd && it < 30; it++) {
        bool changed = it == 0;
        memset(sums, 0, ((size_t)k * d + k) * sizeof *sums);
        for (size_t i = 0; i < n; i++) {
            uint32_t b = 0;
            double bv = kmeans_sqdist(p + i * d, out, d);
            for (uint32_t j = 1; j < k; j++) {
                double v = kmeans_sqdist(p + i * d, out + (size_t)j * d, d);
                if (v < bv) {
                    bv = v;
                    b = j;
                }
            }
            if (it > 0 && assign[i] != b)
                changed = true;
            assign[i] = b;
            for (uint32_t l = 0; l < d; l++)
                sums[(size_t)b * d + l] += w[i] * p[i * d + l];
            sums[(size_t)k * d + b] += w[i];
        }
        if (!changed)
            break;
        for (uint32_t j = 0; j < k; j++) {
            double cw = sums[(size_t)k * d + j];
            if (cw > 0)
                for (uint32_t l = 0; l < d; l++)
                    out[(size_t)j * d + l] = sums[(size_t)j * d + l] / cw;
        }
    }
    free(cost);
    free(assign);
    free(sums);
}

typedef struct job {
    ml_app *app;
    kiln_dataset *rows;
    uint64_t nrows;
    uint32_t k, d;
    int init;
    uint64_t init_steps, init_sample, max_iter;
    double tol;
} job;

/* Centres to start from, into c (k x d). Collective. */
static kiln_status initial_centres(const job *j, double *c)
{
    kiln_status st = KILN_OK;
    kiln_collection *col = NULL;
    uint32_t k = j->k, d = j->d;
    if (j->init == INIT_FIRST) {
        st = kiln_dataset_take(j->rows, k, &col);
        if (st == KILN_OK)
            memcpy(c, kiln_collection_batch(col)->values, (size_t)k * d * 8);
        kiln_collection_destroy(&col);
        return st;
    }
    if (j->init == INIT_PLUSPLUS) {
        kiln_dataset *sample = NULL;
        double fraction = j->nrows <= j->init_sample
                              ? 1.0 : (double)j->init_sample / (double)j->nrows;
        size_t n = 0;
        double *pts = NULL, *w = NULL;
        fraction_arg fa = {ml_mix64(j->app->seed ^ 0x2b2b), d, fraction};
        if (fraction >= 1.0)
            st = kiln_dataset_collect(j->rows, KILN_ALL_RANKS, &col);
        else if ((st = kiln_dataset_filter(j->rows, fraction_keep, &fa, &sample)) ==
                 KILN_OK)
            st = kiln_dataset_collect(sample, KILN_ALL_RANKS, &col);
        if (st == KILN_OK)
            st = append_rows(col, d, &pts, &n);
        if (st == KILN_OK && n < k)
            st = ml_error(j->app, KILN_ERR_INVAL, "k-means++: the sample has %zu "
                          "rows, fewer than k = %u (raise --init-sample)", n, k);
        if (st == KILN_OK && !(w = malloc(n * sizeof *w)))
            st = KILN_ERR_NOMEM;
        if (st == KILN_OK) {
            for (size_t i = 0; i < n; i++)
                w[i] = 1.0;
            local_kmeans(pts, w, n, d, k, j->app->seed, false, c);
        }
        free(pts);
        free(w);
        kiln_collection_destroy(&col);
        kiln_dataset_destroy(&sample);
        return st;
    }
    /* k-means||: one random row, then init_steps rounds each adding about
     * 2k rows sampled in proportion to their cost, then k-means++ over the
     * candidates weighted by the rows nearest each. */
    size_t ncand = 1, zero_bytes = 24 + (size_t)d * 8;
    double *cand = malloc((size_t)d * 8), *sums = NULL, *w = NULL;
    uint64_t *zero = calloc(1, zero_bytes), *picked = malloc(zero_bytes);
    pick_arg pk = {ml_mix64(j->app->seed), d};
    if (!cand || !zero || !picked)
        st = KILN_ERR_NOMEM;
    if (st == KILN_OK)
        st = kiln_dataset_aggregate(j->rows, zero, zero_bytes, pick_seq, pick_comb,
                                    &pk, picked);
    if (st == KILN_OK)
        memcpy(cand, picked + 3, (size_t)d * 8);
    for (uint64_t round = 0; st == KILN_OK && round < j->init_steps; round++) {
        double *res = malloc(((size_t)ncand * d + ncand + 1) * sizeof *res);
        if (!res) {
            st = KILN_ERR_NOMEM;
            break;
        }
        st = pass(j->rows, cand, (uint32_t)ncand, d, true, res);
        double total = res[(size_t)ncand * d + ncand];
        free(res);
        if (st != KILN_OK || total <= 0)
            break; /* every row is a candidate already */
        sample_arg sa = {.l = 2.0 * k, .total = total,
                         .seed = ml_mix64(j->app->seed ^ (round + 1))};
        kiln_dataset *picks = NULL;
        st = centres_init(&sa.cs, cand, (uint32_t)ncand, d);
        if (st != KILN_OK)
            break;
        st = kiln_dataset_filter(j->rows, sample_keep, &sa, &picks);
        if (st == KILN_OK)
            st = kiln_dataset_collect(picks, KILN_ALL_RANKS, &col);
        centres_free(&sa.cs); /* after the collect: the callbacks use it */
        if (st == KILN_OK)
            st = append_rows(col, d, &cand, &ncand);
        kiln_collection_destroy(&col);
        kiln_dataset_destroy(&picks);
    }
    if (st == KILN_OK && !(sums = malloc(((size_t)ncand * d + ncand + 1) * 8)))
        st = KILN_ERR_NOMEM;
    if (st == KILN_OK)
        st = pass(j->rows, cand, (uint32_t)ncand, d, true, sums);
    if (st == KILN_OK) {
        w = sums + (size_t)ncand * d; /* the counts */
        if (ncand <= k) {
            /* Too few candidates for a choice: all of them, then copies. */
            for (uint32_t i = 0; i < k; i++)
                memcpy(c + (size_t)i * d, cand + (i % ncand) * d, (size_t)d * 8);
        } else {
            local_kmeans(cand, w, ncand, d, k, j->app->seed, true, c);
        }
        kiln_log(j->app->ctx, "kiln-kmeans: k-means|| chose %u centres from %zu "
                 "candidates", k, ncand);
    }
    free(sums);
    free(cand);
    free(zero);
    free(picked);
    return st;
}

/* ---- training ---- */

static kiln_status train(job *j)
{
    ml_app *app = j->app;
    uint32_t k = j->k, d = j->d;
    size_t cd = (size_t)k * d, nres = cd + k + 1;
    double *c = malloc(cd * 8), *res = malloc(nres * 8), *state = NULL;
    double *hist = malloc((j->max_iter + 1) * 8), *saved = NULL;
    kiln_ml_model *m = NULL;
    uint64_t it = 0;
    bool converged = false;
    size_t nsaved = 0;
    kiln_status st = c && res && hist ? KILN_OK : KILN_ERR_NOMEM;
    if (st == KILN_OK)
        st = ml_state_resume(app, "kmeans", &it, &saved, &nsaved);
    if (st == KILN_OK && saved) {
        if (nsaved != 3 + cd + (size_t)it || saved[1] != k || saved[2] != d ||
            it > j->max_iter)
            st = ml_error(app, KILN_ERR_INVAL, "the kmeans checkpoint is of another "
                          "job (k, dimension or iterations differ)");
        else {
            memcpy(c, saved + 3, cd * 8);
            memcpy(hist, saved + 3 + cd, it * 8);
            converged = saved[0] != 0;
        }
    } else if (st == KILN_OK) {
        double t0 = ml_now();
        st = initial_centres(j, c);
        kiln_log(app->ctx, "kiln-kmeans: %s initialisation in %.2f s",
                 init_names[j->init], ml_now() - t0);
    }
    double t_iter = ml_now();
    uint64_t first = it;
    while (st == KILN_OK && !converged && it < j->max_iter) {
        double t0 = ml_now();
        st = pass(j->rows, c, k, d, false, res);
        if (st != KILN_OK)
            break;
        const double *counts = res + cd;
        double moved = 0;
        for (uint32_t q = 0; q < k; q++) {
            if (counts[q] == 0)
                continue; /* an empty cluster keeps its centre */
            double dd = 0;
            for (uint32_t l = 0; l < d; l++) {
                double v = res[(size_t)q * d + l] / counts[q];
                double t = v - c[(size_t)q * d + l];
                dd += t * t;
                c[(size_t)q * d + l] = v;
            }
            if (dd > moved)
                moved = dd;
        }
        hist[it++] = res[cd + k];
        converged = sqrt(moved) <= j->tol;
        kiln_log(app->ctx, "kiln-kmeans: iteration %" PRIu64 ": cost %.10g, largest "
                 "move %.3g, %.3f s", it, hist[it - 1], sqrt(moved), ml_now() - t0);
        if (app->checkpoint_every && it % app->checkpoint_every == 0) {
            free(state);
            if (!(state = malloc((3 + cd + it) * 8))) {
                st = KILN_ERR_NOMEM;
                break;
            }
            state[0] = converged;
            state[1] = k;
            state[2] = d;
            memcpy(state + 3, c, cd * 8);
            memcpy(state + 3 + cd, hist, it * 8);
            st = ml_state_save(app, "kmeans", it, state, 3 + cd + it);
        }
    }
    if (st == KILN_OK && it > first)
        kiln_log(app->ctx, "kiln-kmeans: %" PRIu64 " iterations in %.3f s, %.4f s "
                 "per iteration", it - first, ml_now() - t_iter,
                 (ml_now() - t_iter) / (double)(it - first));
    double cost = 0;
    if (st == KILN_OK)
        st = pass(j->rows, c, k, d, true, res);
    if (st == KILN_OK) {
        cost = res[cd + k];
        st = kiln_ml_model_create(&m);
    }
    if (st == KILN_OK)
        st = kiln_ml_model_put_f64(m, "centres", c, k, d);
    if (st == KILN_OK)
        st = kiln_ml_model_put_f64(m, "cost_history", hist, it, 0);
    if (st == KILN_OK)
        st = kiln_ml_model_put_attr(m, "model", "kmeans");
    if (st == KILN_OK)
        st = ml_attr_u64(m, "k", k);
    if (st == KILN_OK)
        st = ml_attr_u64(m, "dim", d);
    if (st == KILN_OK)
        st = kiln_ml_model_put_attr(m, "init", init_names[j->init]);
    if (st == KILN_OK)
        st = ml_attr_u64(m, "init_steps", j->init_steps);
    if (st == KILN_OK)
        st = ml_attr_u64(m, "max_iter", j->max_iter);
    if (st == KILN_OK)
        st = ml_attr_double(m, "tol", j->tol);
    if (st == KILN_OK)
        st = ml_attr_u64(m, "iterations", it);
    if (st == KILN_OK)
        st = kiln_ml_model_put_attr(m, "converged", converged ? "yes" : "no");
    if (st == KILN_OK)
        st = ml_attr_double(m, "cost", cost);
    if (st == KILN_OK)
        st = ml_attr_inputs(app, m);
    if (st == KILN_OK)
        st = kiln_ml_model_save(app->ctx, m, app->model, app->overwrite);
    if (st == KILN_OK && app->master) {
        printf("kmeans: k=%u iterations=%" PRIu64 " cost=%.10g\n", k, it, cost);
        fflush(stdout);
    }
    kiln_ml_model_destroy(&m);
    free(c);
    free(res);
    free(hist);
    free(state);
    free(saved);
    return st;
}

/* ---- predict ---- */

static kiln_status predict_batch(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    const centres *cs = arg;
    uint32_t best[CHUNK];
    double dist[CHUNK];
    const double *x = (const double *)in->values;
    for (size_t i = 0; i < in->n; i += CHUNK) {
        size_t m = in->n - i < CHUNK ? in->n - i : CHUNK;
        nearest(cs, x + i * cs->d, m, best, dist);
        for (size_t r = 0; r < m; r++) {
            int64_t v = best[r];
            kiln_status st = kiln_emit(out, NULL, 0, &v, 8);
            if (st != KILN_OK)
                return st;
        }
    }
    return KILN_OK;
}

static kiln_status predict(ml_app *app)
{
    kiln_ml_model *m = NULL;
    centres cs = {0};
    uint64_t k = 0, d = 0, rows = 0;
    kiln_status st = kiln_ml_model_load(app->ctx, app->model, &m);
    const double *c = st == KILN_OK ? kiln_ml_model_f64(m, "centres", &k, &d) : NULL;
    if (st == KILN_OK && (!c || k == 0 || d == 0 || d > UINT32_MAX))
        st = ml_error(app, KILN_ERR_INVAL, "%s is not a kmeans model (no centres)",
                      app->model);
    if (st == KILN_OK)
        st = centres_init(&cs, c, (uint32_t)k, (uint32_t)d);
    if (st == KILN_OK) {
        st = ml_predict(app, (uint32_t)d, false, KILN_T_I64, predict_batch, &cs, &rows);
        centres_free(&cs);
    }
    if (st == KILN_OK)
        kiln_log(app->ctx, "kiln-kmeans: %" PRIu64 " predictions in %s", rows,
                 app->output);
    kiln_ml_model_destroy(&m);
    return st;
}

int main(int argc, char **argv)
{
    ml_app app;
    if (!ml_begin(&app, "kiln-kmeans", "kmeans", &argc, &argv))
        return 1;
    job j = {.app = &app, .init = INIT_PARALLEL, .init_steps = 2,
             .init_sample = 10000, .max_iter = 20, .tol = 1e-4};
    uint64_t k = 0;
    static const struct option longopts[] = {
        ML_COMMON_OPTIONS,
        {"clusters", required_argument, NULL, 'k'},
        {"init", required_argument, NULL, OPT_INIT},
        {"init-steps", required_argument, NULL, OPT_INIT_STEPS},
        {"init-sample", required_argument, NULL, OPT_INIT_SAMPLE},
        {"max-iter", required_argument, NULL, OPT_MAX_ITER},
        {"tol", required_argument, NULL, OPT_TOL},
        {NULL, 0, NULL, 0},
    };
    int c, bad = 0;
    opterr = app.master;
    while ((c = getopt_long(argc, argv, "k:o:h", longopts, NULL)) != -1) {
        int r = ml_common_option(&app, c, optarg);
        if (r == 2)
            return ml_usage_exit(&app, usage, 0);
        if (r) {
            bad |= r < 0;
            continue;
        }
        switch (c) {
        case 'k':
            if (!ml_parse_u64(&app, "-k", optarg, &k) || k == 0 || k > 100000) {
                if (k == 0 && app.master)
                    fprintf(stderr, "kiln-kmeans: -k must be at least 1\n");
                bad = 1;
            }
            break;
        case OPT_INIT:
            if (!strcmp(optarg, "k-means||") || !strcmp(optarg, "kmeans||") ||
                !strcmp(optarg, "parallel"))
                j.init = INIT_PARALLEL;
            else if (!strcmp(optarg, "k-means++") || !strcmp(optarg, "kmeans++") ||
                     !strcmp(optarg, "plusplus"))
                j.init = INIT_PLUSPLUS;
            else if (!strcmp(optarg, "first"))
                j.init = INIT_FIRST;
            else {
                if (app.master)
                    fprintf(stderr, "kiln-kmeans: bad --init '%s'\n", optarg);
                bad = 1;
            }
            break;
        case OPT_INIT_STEPS:
            bad |= !ml_parse_u64(&app, "--init-steps", optarg, &j.init_steps);
            break;
        case OPT_INIT_SAMPLE:
            bad |= !ml_parse_u64(&app, "--init-sample", optarg, &j.init_sample);
            break;
        case OPT_MAX_ITER:
            bad |= !ml_parse_u64(&app, "--max-iter", optarg, &j.max_iter) ||
                   j.max_iter > 100000000;
            break;
        case OPT_TOL:
            bad |= !ml_parse_double(&app, "--tol", optarg, &j.tol) || j.tol < 0;
            break;
        default:
            bad = 1;
        }
    }
    if (!bad && !app.predict && k == 0) {
        if (app.master)
            fprintf(stderr, "kiln-kmeans: missing -k K\n");
        bad = 1;
    }
    if (!bad && app.in.sparse) {
        if (app.master)
            fprintf(stderr, "kiln-kmeans: --sparse: k-means works on dense rows\n");
        bad = 1;
    }
    if (bad || !ml_finish_options(&app, argc, argv, true))
        return ml_usage_exit(&app, usage, 2);

    kiln_status st;
    if (app.predict) {
        st = predict(&app);
    } else {
        kiln_ml_data *data = NULL;
        j.k = (uint32_t)k;
        st = ml_load(&app, app.in.dim, false, &data, &j.nrows);
        if (st == KILN_OK && j.nrows < k)
            st = ml_error(&app, KILN_ERR_INVAL, "k = %" PRIu64 " is more than the %"
                          PRIu64 " rows of the input", k, j.nrows);
        if (st == KILN_OK) {
            j.rows = kiln_ml_data_rows(data);
            j.d = kiln_ml_data_dim(data);
            st = train(&j);
        }
        kiln_ml_data_destroy(&data);
    }
    return ml_end(&app, st == KILN_OK ? 0 : ml_fail(&app, st));
}
