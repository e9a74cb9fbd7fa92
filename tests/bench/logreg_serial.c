/* tests/bench/logreg_serial.c: the serial baseline of the logistic
 * regression benchmark (ml.sh): binary logistic regression with an L2
 * penalty fitted by L-BFGS over rows held in one array, single-threaded,
 * as one would write it for its own sake.
 *
 *   logreg-serial FILE.h5 ITERATIONS L2 [PART NPARTS]
 *
 * Reads /X (N x d doubles) and /y (labels; the larger of two values is the
 * positive class) with HDF5, runs ITERATIONS L-BFGS iterations from zero
 * (10 corrections, backtracking line search with the Armijo condition;
 * the same algorithm, steps and objective as kiln-logreg --tol 0) and
 * prints
 *   serial: rows=N dim=d iterations=I passes=P seconds=T per_iteration=S
 *           per_pass=Q objective=F
 * where a pass is one evaluation of the loss and gradient over all rows,
 * the cost of an iteration (more than one only when the line search
 * backtracks). T covers the iterations only. With PART and NPARTS it fits
 * rows [PART*N/NPARTS, (PART+1)*N/NPARTS) only: ml.sh runs NPARTS of these
 * at once to measure what the machine itself gives NPARTS processes that
 * share nothing.
 *
 * A pass reads each row once: per block of 256 rows (128 KiB for d = 64,
 * in L2), the margins X w by BLAS dgemv, the loss and residuals, then the
 * gradient X^T r by a second dgemv over the block still in cache. */
#include "huge_alloc.h" /* first: it asks for madvise() */

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

enum { CHUNK = 256, HISTORY = 10 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double *read_array(hid_t f, const char *name, size_t part, size_t nparts,
                          size_t *rows, size_t *cols)
{
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
    hsize_t dims[2] = {0, 1};
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if (nd < 1 || nd > 2) {
        fprintf(stderr, "logreg-serial: cannot read %s\n", name);
        exit(2);
    }
    H5Sget_simple_extent_dims(sp, dims, NULL);
    hsize_t lo = dims[0] * part / nparts, hi = dims[0] * (part + 1) / nparts;
    hsize_t from[2] = {lo, 0}, count[2] = {hi - lo, dims[1]};
    hid_t mem = H5Screate_simple(nd, count, NULL);
    double *v = huge_alloc(count[0] * count[1] * 8 + 8);
    if (!v || mem < 0 ||
        H5Sselect_hyperslab(sp, H5S_SELECT_SET, from, NULL, count, NULL) < 0 ||
        H5Dread(ds, H5T_NATIVE_DOUBLE, mem, sp, H5P_DEFAULT, v) < 0) {
        fprintf(stderr, "logreg-serial: cannot read %s\n", name);
        exit(2);
    }
    H5Sclose(mem);
    H5Sclose(sp);
    H5Dclose(ds);
    *rows = count[0];
    *cols = count[1];
    return v;
}

typedef struct problem {
    const double *x, *y; /* y: 0 or 1 */
    size_t n, d, np;     /* np = d + 1: weights, then the intercept */
    double l2;
    double *z;           /* CHUNK scratch */
    long passes;
} problem;

/* Objective and gradient at th. */
static double evaluate(problem *p, const double *th, double *g)
{
    size_t d = p->d;
    double loss = 0, gb = 0;
    memset(g, 0, p->np * 8);
    for (size_t i = 0; i < p->n; i += CHUNK) {
        size_t m = p->n - i < CHUNK ? p->n - i : CHUNK;
        const double *xc = p->x + i * d;
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)m, (int)d, 1.0, xc, (int)d, th,
                    1, 0.0, p->z, 1);
        for (size_t r = 0; r < m; r++) {
            /* One exp serves the log-loss and the logistic function. */
            double z = p->z[r] + th[d], yb = p->y[i + r], e = exp(-fabs(z));
            loss += (z > 0 ? z : 0) + log1p(e) - yb * z;
            p->z[r] = (z >= 0 ? 1 / (1 + e) : e / (1 + e)) - yb;
            gb += p->z[r];
        }
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)m, (int)d, 1.0, xc, (int)d, p->z, 1,
                    1.0, g, 1);
    }
    p->passes++;
    double reg = cblas_ddot((int)d, th, 1, th, 1);
    for (size_t j = 0; j < d; j++)
        g[j] = g[j] / p->n + p->l2 * th[j];
    g[d] = gb / p->n;
    return loss / p->n + 0.5 * p->l2 * reg;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 6) {
        fprintf(stderr, "usage: logreg-serial FILE.h5 ITERATIONS L2 [PART NPARTS]\n");
        return 2;
    }
    openblas_set_num_threads(1);
    int iters = atoi(argv[2]);
    long part = argc == 6 ? atol(argv[4]) : 0, nparts = argc == 6 ? atol(argv[5]) : 1;
    if (nparts < 1 || part < 0 || part >= nparts) {
        fprintf(stderr, "logreg-serial: bad PART or NPARTS\n");
        return 2;
    }
    problem p = {.l2 = atof(argv[3])};
    size_t n, d, ny, one;
    hid_t f = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        fprintf(stderr, "logreg-serial: cannot open %s\n", argv[1]);
        return 2;
    }
    double *x = read_array(f, "/X", (size_t)part, (size_t)nparts, &n, &d);
    double *y = read_array(f, "/y", (size_t)part, (size_t)nparts, &ny, &one);
    H5Fclose(f);
    if (ny != n || iters < 1) {
        fprintf(stderr, "logreg-serial: /y does not match /X, or bad ITERATIONS\n");
        return 2;
    }
    double top = -INFINITY;
    for (size_t i = 0; i < n; i++)
        top = fmax(top, y[i]);
    for (size_t i = 0; i < n; i++)
        y[i] = y[i] == top;
    p.x = x;
    p.y = y;
    p.n = n;
    p.d = d;
    p.np = d + 1;
    p.z = malloc(CHUNK * 8);
    size_t np = p.np;
    double *th = calloc(np, 8), *g = malloc(np * 8), *xn = malloc(np * 8);
    double *gn = malloc(np * 8), *dir = malloc(np * 8);
    double *s = calloc(HISTORY * np, 8), *yh = calloc(HISTORY * np, 8);
    double rho[HISTORY], alpha[HISTORY];
    size_t count = 0, head = 0;

    double t0 = now();
    double fx = evaluate(&p, th, g);
    for (int it = 0; it < iters; it++) {
        /* Two-loop recursion: dir = -H g. */
        for (size_t i = 0; i < np; i++)
            dir[i] = -g[i];
        for (size_t t = 0; t < count; t++) {
            size_t k = (head + HISTORY - 1 - t) % HISTORY;
            alpha[k] = rho[k] * cblas_ddot((int)np, s + k * np, 1, dir, 1);
            cblas_daxpy((int)np, -alpha[k], yh + k * np, 1, dir, 1);
        }
        if (count) {
            size_t k = (head + HISTORY - 1) % HISTORY;
            double gamma = cblas_ddot((int)np, s + k * np, 1, yh + k * np, 1) /
                           cblas_ddot((int)np, yh + k * np, 1, yh + k * np, 1);
            cblas_dscal((int)np, gamma, dir, 1);
        }
        for (size_t t = count; t-- > 0;) {
            size_t k = (head + HISTORY - 1 - t) % HISTORY;
            double beta = rho[k] * cblas_ddot((int)np, yh + k * np, 1, dir, 1);
            cblas_daxpy((int)np, alpha[k] - beta, s + k * np, 1, dir, 1);
        }
        double slope = cblas_ddot((int)np, g, 1, dir, 1);
        if (slope >= 0) {
            count = head = 0;
            for (size_t i = 0; i < np; i++)
                dir[i] = -g[i];
            slope = cblas_ddot((int)np, g, 1, dir, 1);
        }
        double step = it == 0 ? fmin(1.0, 1.0 / cblas_dnrm2((int)np, g, 1)) : 1.0, fn = fx;
        int tries;
        for (tries = 0; tries < 40; tries++, step *= 0.5) {
            for (size_t i = 0; i < np; i++)
                xn[i] = th[i] + step * dir[i];
            fn = evaluate(&p, xn, gn);
            if (fn <= fx + 1e-4 * step * slope)
                break;
        }
        if (tries == 40)
            break;
        size_t k = head;
        double *sk = s + k * np, *yk = yh + k * np;
        for (size_t i = 0; i < np; i++) {
            sk[i] = xn[i] - th[i];
            yk[i] = gn[i] - g[i];
        }
        double sy = cblas_ddot((int)np, sk, 1, yk, 1);
        if (sy > 1e-12 * cblas_dnrm2((int)np, sk, 1) * cblas_dnrm2((int)np, yk, 1)) {
            rho[k] = 1 / sy;
            head = (k + 1) % HISTORY;
            if (count < HISTORY)
                count++;
        }
        memcpy(th, xn, np * 8);
        memcpy(g, gn, np * 8);
        fx = fn;
    }
    double t = now() - t0;
    printf("serial: rows=%zu dim=%zu iterations=%d passes=%ld seconds=%.3f "
           "per_iteration=%.4f per_pass=%.4f objective=%.12g\n", n, d, iters, p.passes,
           t, t / iters, t / (double)p.passes, fx);
    free(x);
    free(y);
    free(p.z);
    free(th);
    free(g);
    free(xn);
    free(gn);
    free(dir);
    free(s);
    free(yh);
    return 0;
}
