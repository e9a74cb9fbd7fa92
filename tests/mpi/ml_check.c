/* tests/mpi/ml_check.c: known-answer checks of the ML apps' models, run by
 * test_ml_apps.sh (one rank). Each check reads model files with
 * kiln_ml_model_load and, where it needs the data, loads them with
 * kiln_ml_load, then compares against a reference computed here, serially,
 * by a different method than the app's.
 *
 *   ml_check same A.h5 B.h5            every array bit for bit, every
 *                                      attribute as text
 *   ml_check close A.h5 B.h5 TOL       every array within TOL (relative to
 *                                      max(1, |b|))
 *   ml_check linreg-dense MODEL DATA RIDGE
 *                                      weights and intercept within 1e-9 of
 *                                      a Householder QR least-squares solve
 *   ml_check truth MODEL TRUTH TOL     linreg/logreg weights and intercepts,
 *                                      or kmeans centres (matched one to
 *                                      one), within TOL of the true ones
 *   ml_check kmeans-cost MODEL         cost_history never rises (beyond
 *                                      rounding, 1e-12 relative) and the
 *                                      final cost is at most the last entry
 *   ml_check logreg-serial MODEL DATA L2
 *                                      the model's objective within 1e-6 of
 *                                      the optimum found by Newton's method
 *                                      run here to a gradient below 1e-12
 *   ml_check nb-hand MODEL ALPHA       pi and theta of the hand-counted
 *                                      example in test_ml_apps.sh
 *   ml_check lines DIR N               DIR's part files hold N lines
 * Exit status 0 when the check holds, 1 with a message when not, 2 on
 * usage or I/O errors. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>

#include <kiln.h>

static kiln_context *ctx;

static int fail(const char *fmt, ...) KILN_PRINTF(1, 2);
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ml_check: FAIL: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static kiln_ml_model *model(const char *path)
{
    kiln_ml_model *m = NULL;
    if (kiln_ml_model_load(ctx, path, &m) != KILN_OK) {
        fprintf(stderr, "ml_check: %s\n", kiln_context_last_error(ctx));
        exit(2);
    }
    return m;
}

static const double *array(const kiln_ml_model *m, const char *name, uint64_t *rows,
                           uint64_t *cols)
{
    uint64_t r = 0, c = 0;
    const double *v = kiln_ml_model_f64(m, name, &r, &c);
    if (!v) {
        fprintf(stderr, "ml_check: the model has no array %s\n", name);
        exit(2);
    }
    if (rows)
        *rows = r;
    if (cols)
        *cols = c;
    return v;
}

/* Rows of a data file, dense: n x d in *x, labels in *y. */
static void data(const char *path, size_t *n, uint32_t *d, double **x, double **y)
{
    kiln_ml_data *md = NULL;
    kiln_collection *c = NULL;
    uint64_t rows;
    if (kiln_ml_load(ctx, &path, 1, NULL, &md) != KILN_OK ||
        kiln_ml_data_cache(md, &rows, NULL) != KILN_OK ||
        kiln_dataset_collect(kiln_ml_data_rows(md), KILN_ALL_RANKS, &c) != KILN_OK) {
        fprintf(stderr, "ml_check: %s\n", kiln_context_last_error(ctx));
        exit(2);
    }
    const kiln_batch *b = kiln_collection_batch(c);
    *n = b->n;
    *d = kiln_ml_data_dim(md);
    *x = malloc(b->n * *d * 8 + 8);
    *y = malloc(b->n * 8 + 8);
    memcpy(*x, b->values, b->n * *d * 8);
    for (size_t i = 0; i < b->n; i++)
        (*y)[i] = kiln_batch_key_f64(b, i);
    kiln_collection_destroy(&c);
    kiln_ml_data_destroy(&md);
}

/* ---- same / close ---- */

static const char *const arrays[] = {"centres", "cost_history", "weights",
                                     "intercepts", "classes", "pi", "theta",
                                     "probabilities"};
static const char *const attrs[] = {"model", "iterations", "cost", "logloss",
                                    "accuracy", "objective", "rmse", "r2",
                                    "converged", "family", "k", "dim"};

static int compare(const char *a, const char *b, double tol)
{
    kiln_ml_model *ma = model(a), *mb = model(b);
    int bad = 0;
    for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++) {
        uint64_t ra = 0, ca = 0, rb = 0, cb = 0;
        const double *va = kiln_ml_model_f64(ma, arrays[i], &ra, &ca);
        const double *vb = kiln_ml_model_f64(mb, arrays[i], &rb, &cb);
        if (!va && !vb)
            continue;
        if (!va || !vb || ra != rb || ca != cb) {
            bad = fail("%s: %s differs in shape", arrays[i], a);
            continue;
        }
        for (uint64_t k = 0; k < ra * (ca ? ca : 1); k++) {
            bool ok = tol < 0 ? !memcmp(&va[k], &vb[k], 8)
                              : fabs(va[k] - vb[k]) <= tol * fmax(1, fabs(vb[k]));
            if (!ok) {
                bad = fail("%s[%llu]: %.17g in %s, %.17g in %s", arrays[i],
                           (unsigned long long)k, va[k], a, vb[k], b);
                break;
            }
        }
    }
    for (size_t i = 0; tol < 0 && i < sizeof attrs / sizeof *attrs; i++) {
        const char *x = kiln_ml_model_attr(ma, attrs[i]);
        const char *y = kiln_ml_model_attr(mb, attrs[i]);
        if ((x || y) && (!x || !y || strcmp(x, y)))
            bad = fail("attribute %s: '%s' in %s, '%s' in %s", attrs[i],
                       x ? x : "(none)", a, y ? y : "(none)", b);
    }
    kiln_ml_model_destroy(&ma);
    kiln_ml_model_destroy(&mb);
    return bad;
}

/* ---- linreg against a QR solve ---- */

/* Least squares min ||A b - y|| (+ ridge ||w||^2 as extra rows) by
 * Householder QR: A is m x p, column-major, overwritten. */
static void qr_solve(double *A, double *y, size_t m, size_t p, double *out)
{
    for (size_t k = 0; k < p; k++) {
        double norm = 0;
        for (size_t i = k; i < m; i++)
            norm += A[k * m + i] * A[k * m + i];
        norm = sqrt(norm);
        double alpha = A[k * m + k] > 0 ? -norm : norm;
        double *v = calloc(m, 8);
        for (size_t i = k; i < m; i++)
            v[i] = A[k * m + i];
        v[k] -= alpha;
        double vv = 0;
        for (size_t i = k; i < m; i++)
            vv += v[i] * v[i];
        if (vv > 0) {
            for (size_t j = k; j < p; j++) {
                double s = 0;
                for (size_t i = k; i < m; i++)
                    s += v[i] * A[j * m + i];
                for (size_t i = k; i < m; i++)
                    A[j * m + i] -= 2 * s / vv * v[i];
            }
            double s = 0;
            for (size_t i = k; i < m; i++)
                s += v[i] * y[i];
            for (size_t i = k; i < m; i++)
                y[i] -= 2 * s / vv * v[i];
        }
        free(v);
    }
    for (size_t k = p; k-- > 0;) {
        double s = y[k];
        for (size_t j = k + 1; j < p; j++)
            s -= A[j * m + k] * out[j];
        out[k] = s / A[k * m + k];
    }
}

static int linreg_dense(const char *mpath, const char *dpath, double ridge)
{
    size_t n;
    uint32_t d;
    double *x, *y;
    data(dpath, &n, &d, &x, &y);
    size_t p = d + 1, m = n + d; /* ridge: d extra rows sqrt(ridge) e_j */
    double *A = calloc(m * p, 8), *rhs = calloc(m, 8), *ref = calloc(p, 8);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++)
            A[j * m + i] = x[i * d + j];
        A[d * m + i] = 1;
        rhs[i] = y[i];
    }
    for (size_t j = 0; j < d; j++)
        A[j * m + n + j] = sqrt(ridge);
    qr_solve(A, rhs, m, p, ref);
    kiln_ml_model *md = model(mpath);
    uint64_t nw;
    const double *w = array(md, "weights", &nw, NULL);
    const double *b = array(md, "intercepts", NULL, NULL);
    int bad = nw != d ? fail("%llu weights for %u features", (unsigned long long)nw, d)
                      : 0;
    for (size_t j = 0; j < p && !bad; j++) {
        double got = j < d ? w[j] : b[0];
        if (fabs(got - ref[j]) > 1e-9 * fmax(1, fabs(ref[j])))
            bad = fail("coefficient %zu: %.17g, the QR solve gives %.17g", j, got,
                       ref[j]);
    }
    if (!bad)
        printf("linreg-dense: %zu coefficients within 1e-9 of the QR solve\n", p);
    kiln_ml_model_destroy(&md);
    free(A);
    free(rhs);
    free(ref);
    free(x);
    free(y);
    return bad;
}

/* ---- against the true parameters ---- */

static int truth(const char *mpath, const char *tpath, double tol)
{
    kiln_ml_model *m = model(mpath), *t = model(tpath);
    int bad = 0;
    if (kiln_ml_model_f64(t, "centres", NULL, NULL)) {
        uint64_t k, d, tk, td;
        const double *c = array(m, "centres", &k, &d);
        const double *tc = array(t, "centres", &tk, &td);
        if (k != tk || d != td)
            return fail("centres: %llux%llu, truth %llux%llu", (unsigned long long)k,
                        (unsigned long long)d, (unsigned long long)tk,
                        (unsigned long long)td);
        bool *used = calloc(k, 1);
        for (uint64_t i = 0; i < tk && !bad; i++) {
            uint64_t best = k;
            double bd = INFINITY;
            for (uint64_t j = 0; j < k; j++) {
                double s = 0;
                for (uint64_t l = 0; l < d; l++)
                    s += (c[j * d + l] - tc[i * d + l]) * (c[j * d + l] - tc[i * d + l]);
                if (!used[j] && s < bd) {
                    bd = s;
                    best = j;
                }
            }
            if (best == k || sqrt(bd) > tol)
                bad = fail("true centre %llu: the nearest unmatched centre is %g away",
                           (unsigned long long)i, sqrt(bd));
            else
                used[best] = true;
        }
        free(used);
    } else {
        uint64_t r, c, tr, tc, nb, tnb;
        const double *w = array(m, "weights", &r, &c), *tw = array(t, "weights", &tr, &tc);
        const double *b = array(m, "intercepts", &nb, NULL);
        const double *tb = array(t, "intercepts", &tnb, NULL);
        if (r != tr || c != tc || nb != tnb)
            return fail("weights of another shape than the truth's");
        for (uint64_t i = 0; i < r * (c ? c : 1) && !bad; i++)
            if (fabs(w[i] - tw[i]) > tol)
                bad = fail("weight %llu: %.6g, truth %.6g", (unsigned long long)i, w[i],
                           tw[i]);
        for (uint64_t i = 0; i < nb && !bad; i++)
            if (fabs(b[i] - tb[i]) > tol)
                bad = fail("intercept %llu: %.6g, truth %.6g", (unsigned long long)i,
                           b[i], tb[i]);
    }
    if (!bad)
        printf("truth: within %g of the true parameters\n", tol);
    kiln_ml_model_destroy(&m);
    kiln_ml_model_destroy(&t);
    return bad;
}

static int kmeans_cost(const char *mpath)
{
    kiln_ml_model *m = model(mpath);
    uint64_t n;
    const double *h = array(m, "cost_history", &n, NULL);
    const char *cost = kiln_ml_model_attr(m, "cost");
    int bad = 0;
    for (uint64_t i = 1; i < n && !bad; i++)
        if (h[i] > h[i - 1] * (1 + 1e-12))
            bad = fail("cost rose from %.17g to %.17g at iteration %llu", h[i - 1], h[i],
                       (unsigned long long)i + 1);
    if (!bad && n && (!cost || atof(cost) > h[n - 1] * (1 + 1e-12)))
        bad = fail("final cost %s above the last iteration's %.17g", cost ? cost : "?",
                   h[n - 1]);
    if (!bad)
        printf("kmeans-cost: %llu iterations, cost never rose\n", (unsigned long long)n);
    kiln_ml_model_destroy(&m);
    return bad;
}

/* ---- logistic regression by Newton's method ---- */

typedef struct lr {
    size_t n, c, r, d, np; /* rows, classes, weight rows, features, params */
    const double *x, *classes;
    long *y;
    double l2;
} lr;

/* Objective; gradient and Hessian when g, H are not NULL. theta: W (r x d)
 * then b (r). */
static double lr_eval(const lr *p, const double *th, double *g, double *H)
{
    size_t r = p->r, d = p->d, np = p->np;
    double f = 0, z[64], pr[64];
    if (g)
        memset(g, 0, np * 8);
    if (H)
        memset(H, 0, np * np * 8);
    for (size_t i = 0; i < p->n; i++) {
        const double *xi = p->x + i * d;
        double mx = -INFINITY;
        for (size_t k = 0; k < r; k++) {
            z[k] = th[r * d + k];
            for (size_t j = 0; j < d; j++)
                z[k] += th[k * d + j] * xi[j];
            mx = fmax(mx, z[k]);
        }
        if (r == 1) {
            double yb = p->y[i] == 1;
            f += fmax(z[0], 0) + log1p(exp(-fabs(z[0]))) - yb * z[0];
            pr[0] = 1 / (1 + exp(-z[0])); /* probability of class 1 */
        } else {
            double s = 0;
            for (size_t k = 0; k < r; k++)
                s += exp(z[k] - mx);
            f += mx + log(s) - z[p->y[i]];
            for (size_t k = 0; k < r; k++)
                pr[k] = exp(z[k] - mx) / s;
        }
        /* feature vector with the 1 for the intercept: index j < d or d */
        for (size_t k = 0; k < r && g; k++) {
            double res = pr[k] - (r == 1 ? (p->y[i] == 1) : (long)k == p->y[i]);
            for (size_t j = 0; j <= d; j++) {
                double xj = j < d ? xi[j] : 1;
                size_t a = j < d ? k * d + j : r * d + k;
                g[a] += res * xj;
            }
        }
        for (size_t k = 0; k < r && H; k++)
            for (size_t l = 0; l < r; l++) {
                double w = r == 1 ? pr[0] * (1 - pr[0])
                                  : pr[k] * ((k == l) - pr[l]);
                for (size_t j = 0; j <= d; j++) {
                    double xj = j < d ? xi[j] : 1;
                    size_t a = j < d ? k * d + j : r * d + k;
                    for (size_t q = 0; q <= d; q++) {
                        double xq = q < d ? xi[q] : 1;
                        size_t bq = q < d ? l * d + q : r * d + l;
                        H[a * np + bq] += w * xj * xq;
                    }
                }
            }
    }
    double reg = 0;
    for (size_t a = 0; a < r * d; a++)
        reg += th[a] * th[a];
    f = f / p->n + 0.5 * p->l2 * reg;
    for (size_t a = 0; g && a < np; a++)
        g[a] = g[a] / p->n + (a < r * d ? p->l2 * th[a] : 0);
    for (size_t a = 0; H && a < np; a++) {
        for (size_t b = 0; b < np; b++)
            H[a * np + b] /= p->n;
        /* the L2 term, and a whisker for the intercepts' shift invariance */
        H[a * np + a] += a < r * d ? p->l2 : 1e-12;
    }
    return f;
}

/* Solve H s = g in place (Gaussian elimination, partial pivoting). */
static void solve(double *H, double *g, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        size_t piv = k;
        for (size_t i = k + 1; i < n; i++)
            if (fabs(H[i * n + k]) > fabs(H[piv * n + k]))
                piv = i;
        for (size_t j = 0; j < n; j++) {
            double t = H[k * n + j];
            H[k * n + j] = H[piv * n + j];
            H[piv * n + j] = t;
        }
        double t = g[k];
        g[k] = g[piv];
        g[piv] = t;
        for (size_t i = k + 1; i < n; i++) {
            double f = H[i * n + k] / H[k * n + k];
            for (size_t j = k; j < n; j++)
                H[i * n + j] -= f * H[k * n + j];
            g[i] -= f * g[k];
        }
    }
    for (size_t k = n; k-- > 0;) {
        double s = g[k];
        for (size_t j = k + 1; j < n; j++)
            s -= H[k * n + j] * g[j];
        g[k] = s / H[k * n + k];
    }
}

static int logreg_serial(const char *mpath, const char *dpath, double l2)
{
    size_t n;
    uint32_t d;
    double *x, *yv;
    data(dpath, &n, &d, &x, &yv);
    kiln_ml_model *m = model(mpath);
    uint64_t nc, r, c, nb;
    const double *classes = array(m, "classes", &nc, NULL);
    const double *w = array(m, "weights", &r, &c);
    const double *b = array(m, "intercepts", &nb, NULL);
    if (c != d || nb != r || r > 60)
        return fail("weights %llux%llu for %u features", (unsigned long long)r,
                    (unsigned long long)c, d);
    lr p = {n, nc, r, d, r * (d + 1), x, classes, malloc(n * sizeof(long)), l2};
    for (size_t i = 0; i < n; i++) {
        p.y[i] = -1;
        for (size_t k = 0; k < nc; k++)
            if (classes[k] == yv[i])
                p.y[i] = (long)k;
        if (p.y[i] < 0)
            return fail("row %zu: label %g not among the model's classes", i, yv[i]);
    }
    double *th = calloc(p.np, 8), *g = malloc(p.np * 8), *H = malloc(p.np * p.np * 8);
    double *trial = malloc(p.np * 8);
    memcpy(th, w, r * d * 8);
    memcpy(th + r * d, b, r * 8);
    double f_model = lr_eval(&p, th, NULL, NULL);
    memset(th, 0, p.np * 8);
    double f = lr_eval(&p, th, g, H), gnorm = INFINITY;
    int it;
    for (it = 0; it < 200; it++) {
        gnorm = 0;
        for (size_t a = 0; a < p.np; a++)
            gnorm = fmax(gnorm, fabs(g[a]));
        if (gnorm < 1e-12)
            break;
        solve(H, g, p.np); /* g is now the Newton step */
        double step = 1, fn = f;
        for (int t = 0; t < 60; t++, step /= 2) {
            for (size_t a = 0; a < p.np; a++)
                trial[a] = th[a] - step * g[a];
            fn = lr_eval(&p, trial, NULL, NULL);
            if (fn <= f)
                break;
        }
        memcpy(th, trial, p.np * 8);
        f = lr_eval(&p, th, g, H);
    }
    int bad = 0;
    if (gnorm >= 1e-9)
        bad = fail("the reference did not converge: |gradient| %g after %d Newton "
                   "steps", gnorm, it);
    else if (f_model - f > 1e-6 || f - f_model > 1e-9)
        bad = fail("objective %.15g, the optimum is %.15g (difference %.3g)", f_model,
                   f, f_model - f);
    else
        printf("logreg-serial: objective %.15g, optimum %.15g (Newton, %d steps): "
               "difference %.3g\n", f_model, f, it, f_model - f);
    kiln_ml_model_destroy(&m);
    free(th);
    free(g);
    free(H);
    free(trial);
    free(p.y);
    free(x);
    free(yv);
    return bad;
}

/* ---- naive Bayes, counted by hand ---- */

/* test_ml_apps.sh's example: class 0 rows (2,1,0) and (1,0,1); class 1
 * rows (0,3,1), (0,1,2), (1,0,0). Per class: n = 2 and 3; feature sums
 * (3,1,1), total 5, and (1,4,3), total 8. */
static int nb_hand(const char *mpath, double alpha)
{
    const double n[2] = {2, 3}, F[2][3] = {{3, 1, 1}, {1, 4, 3}}, tot[2] = {5, 8};
    kiln_ml_model *m = model(mpath);
    uint64_t nc, tr, tc;
    const double *pi = array(m, "pi", &nc, NULL), *th = array(m, "theta", &tr, &tc);
    int bad = nc != 2 || tr != 2 || tc != 3 ? fail("shapes") : 0;
    for (int c = 0; c < 2 && !bad; c++) {
        double want = log(n[c] / 5);
        if (fabs(pi[c] - want) > 1e-15)
            bad = fail("pi[%d] = %.17g, by hand %.17g", c, pi[c], want);
        for (int j = 0; j < 3 && !bad; j++) {
            want = log((F[c][j] + alpha) / (tot[c] + 3 * alpha));
            if (fabs(th[c * 3 + j] - want) > 1e-14)
                bad = fail("theta[%d][%d] = %.17g, by hand %.17g", c, j, th[c * 3 + j],
                           want);
        }
    }
    if (!bad)
        printf("nb-hand: pi and theta as counted by hand (alpha %g)\n", alpha);
    kiln_ml_model_destroy(&m);
    return bad;
}

static int lines(const char *dir, long want)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return fail("%s: cannot open", dir);
    long count = 0;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (strncmp(e->d_name, "part-", 5))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        for (int ch; f && (ch = fgetc(f)) != EOF;)
            count += ch == '\n';
        if (f)
            fclose(f);
    }
    closedir(dp);
    return count == want ? 0 : fail("%s: %ld lines, expected %ld", dir, count, want);
}

int main(int argc, char **argv)
{
    if (kiln_init(&argc, &argv, &ctx) != KILN_OK)
        return 2;
    int rc = 2;
    const char *cmd = argc > 1 ? argv[1] : "";
    if (!strcmp(cmd, "same") && argc == 4)
        rc = compare(argv[2], argv[3], -1);
    else if (!strcmp(cmd, "close") && argc == 5)
        rc = compare(argv[2], argv[3], atof(argv[4]));
    else if (!strcmp(cmd, "linreg-dense") && argc == 5)
        rc = linreg_dense(argv[2], argv[3], atof(argv[4]));
    else if (!strcmp(cmd, "truth") && argc == 5)
        rc = truth(argv[2], argv[3], atof(argv[4]));
    else if (!strcmp(cmd, "kmeans-cost") && argc == 3)
        rc = kmeans_cost(argv[2]);
    else if (!strcmp(cmd, "logreg-serial") && argc == 5)
        rc = logreg_serial(argv[2], argv[3], atof(argv[4]));
    else if (!strcmp(cmd, "nb-hand") && argc == 4)
        rc = nb_hand(argv[2], atof(argv[3]));
    else if (!strcmp(cmd, "lines") && argc == 4)
        rc = lines(argv[2], atol(argv[3]));
    else
        fprintf(stderr, "usage: see tests/mpi/ml_check.c\n");
    kiln_finalize(&ctx);
    return rc;
}
