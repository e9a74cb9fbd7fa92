/* kiln-logreg: binary and multinomial logistic regression.
 *
 *   mpirun -np N kiln-logreg [options] --model OUT.h5 INPUT...
 *   mpirun -np N kiln-logreg predict --model OUT.h5 -o DIR INPUT...
 *
 * Minimises F(W, b) = mean log-loss + (l2/2) ||W||^2 + l1 ||W||_1 (the
 * intercepts b are not penalised) with L-BFGS (Nocedal 1980), or OWL-QN
 * (Andrew and Gao 2007) when l1 > 0, both written here. Two classes give
 * one weight vector and the logistic function; more give one row of W per
 * class and the softmax (--family multinomial forces it for two). Every
 * evaluation of F and its gradient is one kiln_dataset_aggregate over the
 * cached rows: the loss and gradient sums of each partition, combined in a
 * fixed order, so every rank takes the same steps and the result is
 * bit-identical at any number of ranks. Dense rows go through BLAS (dgemm
 * for the margins X W^T and for the gradient R^T X, per block of rows);
 * sparse rows (--sparse, LIBSVM input) through plain loops. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "common.h"

static const char usage[] =
    "usage: kiln-logreg [options] --model OUT.h5 INPUT...\n"
    "       kiln-logreg predict --model MODEL.h5 -o DIR INPUT...\n"
    "Fit logistic regression to labelled rows (two classes: binomial; more:\n"
    "multinomial); predict writes each row's most likely class label.\n"
    "  --l2 L              L2 penalty (L/2)||W||^2 (default 0)\n"
    "  --l1 L              L1 penalty L||W||_1, through OWL-QN (default 0)\n"
    "  --family F          auto (default), binomial or multinomial\n"
    "  --max-iter N        at most N L-BFGS iterations (default 100)\n"
    "  --tol T             stop when the objective improves by less than T\n"
    "                      relatively, or the gradient's norm is below\n"
    "                      T max(1, ||w||) (default 1e-6)\n"
    "  --history M         L-BFGS corrections kept (default 10)\n"
    "  --test FILE         also report loss and accuracy on FILE\n"
    "  --sparse            LIBSVM input: keep rows sparse (for many features)\n"
    "  --checkpoint-every N  checkpoint the optimiser every N iterations;\n"
    "                      resume with --kiln-resume\n" ML_COMMON_USAGE ML_INPUT_USAGE
    "Prints: logreg: iterations=I logloss=L accuracy=A [test_logloss=..\n"
    "test_accuracy=..] (on the training data; L is the mean log-loss).\n";

enum { OPT_L2 = OPT_APP, OPT_L1, OPT_FAMILY, OPT_MAX_ITER, OPT_TOL, OPT_HISTORY,
       OPT_TEST };
enum { CHUNK = 256, MAX_CLASSES = 1000 };

/* ---- the model and one pass over the data ---- */

typedef struct shape {
    uint32_t d;           /* features */
    uint32_t r;           /* rows of W: 1 (binomial) or the classes */
    size_t nclasses;
    const double *classes; /* sorted labels */
    size_t np;            /* parameters: r * (d + 1), W then b */
} shape;

/* acc: loss sum, correct predictions, then the gradient sums (np). */
typedef struct eval_arg {
    shape sh;
    const double *theta;
    bool sparse, gradient;
    double *z, *res;      /* CHUNK x r scratch: margins, residuals */
} eval_arg;

/* Class index of a label, or an error naming the row. */
static kiln_status class_of(const eval_arg *ea, const kiln_batch *in, size_t i,
                            long *c)
{
    double y = kiln_batch_key_f64(in, i);
    *c = ml_class_index(ea->sh.classes, ea->sh.nclasses, y);
    if (*c < 0) {
        char where[256];
        return kiln_error(KILN_ERR_INVAL, "label %.17g of %s is not one of the %zu "
                          "classes of the training data", y,
                          kiln_batch_where(in, i, where, sizeof where),
                          ea->sh.nclasses);
    }
    return KILN_OK;
}

/* Multinomial, from the margins zr (without intercepts) of one row: its
 * loss (added to *loss), residuals into res, whether the most likely class
 * is y (added to *right). */
static void softmax_row(const eval_arg *ea, const double *zr, long y, double *res,
                        double *loss, double *right)
{
    const double *b = ea->theta + (size_t)ea->sh.r * ea->sh.d;
    uint32_t r = ea->sh.r, best = 0;
    double mx = -INFINITY;
    for (uint32_t c = 0; c < r; c++) {
        res[c] = zr[c] + b[c];
        if (res[c] > mx) {
            mx = res[c];
            best = c;
        }
    }
    double sum = 0;
    for (uint32_t c = 0; c < r; c++)
        sum += exp(res[c] - mx);
    double lse = mx + log(sum);
    *loss += lse - res[y];
    for (uint32_t c = 0; c < r; c++)
        res[c] = exp(res[c] - lse) - (c == (uint32_t)y);
    *right += best == (uint32_t)y;
}

/* Rows [i, i + m) of a batch whose margins are in ea->z: the loss and the
 * hits added to acc[0], acc[1], residuals into ea->res. Binomial rows need
 * one exp and one log1p each: e = exp(-|z|) serves both the log-loss,
 * max(z, 0) + log1p(e) - y z, and the logistic function. */
static kiln_status block_loss(eval_arg *ea, const kiln_batch *in, size_t i,
                              size_t m, double *acc)
{
    double loss = 0, right = 0;
    if (ea->sh.r == 1) {
        double b0 = ea->theta[ea->sh.d], c0 = ea->sh.classes[0],
               c1 = ea->sh.classes[1];
        for (size_t k = 0; k < m; k++) {
            double y = kiln_batch_key_f64(in, i + k), yb = y == c1;
            if (yb == 0 && y != c0) {
                long c;
                return class_of(ea, in, i + k, &c);
            }
            double z = ea->z[k] + b0, e = exp(-fabs(z));
            loss += (z > 0 ? z : 0) + log1p(e) - yb * z;
            ea->res[k] = (z >= 0 ? 1 / (1 + e) : e / (1 + e)) - yb;
            right += (z > 0) == (yb != 0);
        }
    } else {
        uint32_t r = ea->sh.r;
        for (size_t k = 0; k < m; k++) {
            long y;
            kiln_status st = class_of(ea, in, i + k, &y);
            if (st != KILN_OK)
                return st;
            softmax_row(ea, ea->z + k * r, y, ea->res + k * r, &loss, &right);
        }
    }
    acc[0] += loss;
    acc[1] += right;
    return KILN_OK;
}

static kiln_status eval_dense(eval_arg *ea, double *acc, const kiln_batch *in)
{
    uint32_t d = ea->sh.d, r = ea->sh.r;
    const double *W = ea->theta;
    double *gW = acc + 2, *gb = gW + (size_t)r * d;
    const double *x = (const double *)in->values;
    for (size_t i = 0; i < in->n; i += CHUNK) {
        size_t m = in->n - i < CHUNK ? in->n - i : CHUNK;
        const double *xc = x + i * d;
        if (r == 1)
            cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)m, (int)d, 1.0, xc, (int)d,
                        W, 1, 0.0, ea->z, 1);
        else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)r,
                        (int)d, 1.0, xc, (int)d, W, (int)d, 0.0, ea->z, (int)r);
        kiln_status st = block_loss(ea, in, i, m, acc);
        if (st != KILN_OK)
            return st;
        if (!ea->gradient)
            continue;
        if (r == 1)
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)m, (int)d, 1.0, xc, (int)d,
                        ea->res, 1, 1.0, gW, 1);
        else
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)r, (int)d,
                        (int)m, 1.0, ea->res, (int)r, xc, (int)d, 1.0, gW, (int)d);
        for (uint32_t c = 0; c < r; c++) {
            double g = 0;
            for (size_t k = 0; k < m; k++)
                g += ea->res[k * r + c];
            gb[c] += g;
        }
    }
    return KILN_OK;
}

static kiln_status eval_sparse(eval_arg *ea, double *acc, const kiln_batch *in)
{
    uint32_t d = ea->sh.d, r = ea->sh.r;
    const double *W = ea->theta;
    double *gW = acc + 2, *gb = gW + (size_t)r * d;
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        const void *row = kiln_batch_value(in, i, &len);
        size_t nnz = kiln_ml_sparse_nnz(len);
        for (uint32_t c = 0; c < r; c++) {
            double z = 0;
            for (size_t k = 0; k < nnz; k++) {
                uint32_t j = kiln_ml_sparse_index(row, k);
                if (j >= d)
                    return kiln_error(KILN_ERR_INVAL, "feature index %u of a row is "
                                      "beyond the model's %u", j + 1, d);
                z += W[(size_t)c * d + j] * kiln_ml_sparse_value(row, len, k);
            }
            ea->z[c] = z;
        }
        kiln_status st = block_loss(ea, in, i, 1, acc); /* margins in ea->z */
        if (st != KILN_OK)
            return st;
        if (!ea->gradient)
            continue;
        for (uint32_t c = 0; c < r; c++) {
            double g = ea->res[c];
            for (size_t k = 0; k < nnz; k++)
                gW[(size_t)c * d + kiln_ml_sparse_index(row, k)] +=
                    g * kiln_ml_sparse_value(row, len, k);
            gb[c] += g;
        }
    }
    return KILN_OK;
}

static kiln_status eval_seq(void *acc, const kiln_batch *in, void *arg)
{
    eval_arg *ea = arg;
    return ea->sparse ? eval_sparse(ea, acc, in) : eval_dense(ea, acc, in);
}

static kiln_status eval_comb(void *acc, const void *other, void *arg)
{
    const eval_arg *ea = arg;
    double *a = acc;
    const double *o = other;
    size_t n = 2 + (ea->gradient ? ea->sh.np : 0);
    for (size_t i = 0; i < n; i++)
        a[i] += o[i];
    return KILN_OK;
}

/* out: loss sum, correct, gradient sums (np, when gradient). Collective. */
static kiln_status evaluate(kiln_dataset *rows, const shape *sh, bool sparse,
                            const double *theta, bool gradient, double *out)
{
    size_t n = 2 + (gradient ? sh->np : 0);
    eval_arg ea = {*sh, theta, sparse, gradient, NULL, NULL};
    double *zero = calloc(n, sizeof *zero);
    ea.z = malloc((size_t)CHUNK * sh->r * sizeof *ea.z);
    ea.res = malloc((size_t)CHUNK * sh->r * sizeof *ea.res);
    kiln_status st = zero && ea.z && ea.res ? KILN_OK : KILN_ERR_NOMEM;
    if (st == KILN_OK)
        st = kiln_dataset_aggregate(rows, zero, n * sizeof *zero, eval_seq,
                                    eval_comb, &ea, out);
    free(zero);
    free(ea.z);
    free(ea.res);
    return st;
}

/* ---- the objective ---- */

typedef struct problem {
    kiln_dataset *rows;
    shape sh;
    bool sparse;
    uint64_t nrows;
    double l2, l1;
    double *buf;          /* 2 + np: an evaluation's sums */
    uint64_t evaluations;
} problem;

/* F(theta) (with the L1 term) and the gradient of its smooth part. */
static kiln_status objective(problem *p, const double *theta, double *f, double *g)
{
    kiln_status st = evaluate(p->rows, &p->sh, p->sparse, theta, true, p->buf);
    if (st != KILN_OK)
        return st;
    p->evaluations++;
    size_t nw = (size_t)p->sh.r * p->sh.d;
    double n = (double)p->nrows, reg2 = 0, reg1 = 0;
    for (size_t i = 0; i < nw; i++) {
        reg2 += theta[i] * theta[i];
        reg1 += fabs(theta[i]);
    }
    *f = p->buf[0] / n + 0.5 * p->l2 * reg2 + p->l1 * reg1;
    for (size_t i = 0; i < p->sh.np; i++)
        g[i] = p->buf[2 + i] / n + (i < nw ? p->l2 * theta[i] : 0);
    return KILN_OK;
}

/* OWL-QN's pseudo-gradient: the steepest-descent direction of F, with
 * the L1 term's one-sided derivatives at 0. Without L1, the gradient. */
static void pseudo_gradient(const problem *p, const double *x, const double *g,
                            double *pg)
{
    size_t nw = (size_t)p->sh.r * p->sh.d;
    for (size_t i = 0; i < p->sh.np; i++) {
        if (i >= nw || p->l1 == 0) {
            pg[i] = g[i];
        } else if (x[i] < 0) {
            pg[i] = g[i] - p->l1;
        } else if (x[i] > 0) {
            pg[i] = g[i] + p->l1;
        } else {
            double right = g[i] + p->l1, left = g[i] - p->l1;
            pg[i] = right < 0 ? right : left > 0 ? left : 0;
        }
    }
}

/* ---- L-BFGS / OWL-QN ---- */

/* The optimiser's whole state, as doubles, so a checkpoint of it resumes
 * exactly where the run was: iteration, converged, F, then x, g (np
 * each), count and head of the history, then s, y (m x np each), rho (m). */
typedef struct lbfgs {
    size_t np, m;
    double *mem;          /* everything below, one allocation */
    double *hdr;          /* 5: iteration, converged, f, count, head */
    double *x, *g, *s, *y, *rho;
} lbfgs;

static size_t lbfgs_size(size_t np, size_t m)
{
    return 5 + 2 * np + 2 * m * np + m;
}

static kiln_status lbfgs_init(lbfgs *lb, size_t np, size_t m)
{
    lb->np = np;
    lb->m = m;
    lb->mem = calloc(lbfgs_size(np, m), sizeof *lb->mem);
    if (!lb->mem)
        return KILN_ERR_NOMEM;
    lb->hdr = lb->mem;
    lb->x = lb->hdr + 5;
    lb->g = lb->x + np;
    lb->s = lb->g + np;
    lb->y = lb->s + m * np;
    lb->rho = lb->y + m * np;
    return KILN_OK;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* dir = -H pg, the two-loop recursion over the stored corrections. */
static void two_loop(const lbfgs *lb, const double *pg, double *dir, double *alpha)
{
    size_t np = lb->np, m = lb->m, count = (size_t)lb->hdr[3], head = (size_t)lb->hdr[4];
    for (size_t i = 0; i < np; i++)
        dir[i] = -pg[i];
    for (size_t t = 0; t < count; t++) {
        size_t k = (head + m - 1 - t) % m; /* newest first */
        alpha[k] = lb->rho[k] * dot(lb->s + k * np, dir, np);
        const double *yk = lb->y + k * np;
        for (size_t i = 0; i < np; i++)
            dir[i] -= alpha[k] * yk[i];
    }
    if (count) {
        size_t k = (head + m - 1) % m;
        const double *yk = lb->y + k * np;
        double gamma = dot(lb->s + k * np, yk, np) / dot(yk, yk, np);
        for (size_t i = 0; i < np; i++)
            dir[i] *= gamma;
    }
    for (size_t t = count; t-- > 0;) {
        size_t k = (head + m - 1 - t) % m; /* oldest first */
        double beta = lb->rho[k] * dot(lb->y + k * np, dir, np);
        const double *sk = lb->s + k * np;
        for (size_t i = 0; i < np; i++)
            dir[i] += sk[i] * (alpha[k] - beta);
    }
}

typedef struct fit {
    ml_app *app;
    problem *p;
    uint64_t max_iter, history;
    double tol;
    lbfgs lb;
} fit;

static double norm2(const double *a, size_t n)
{
    return sqrt(dot(a, a, n));
}

static kiln_status minimise(fit *ft)
{
    problem *p = ft->p;
    lbfgs *lb = &ft->lb;
    size_t np = p->sh.np, nw = (size_t)p->sh.r * p->sh.d, m = lb->m;
    double *pg = malloc(np * 8), *dir = malloc(np * 8), *xn = malloc(np * 8);
    double *gn = malloc(np * 8), *alpha = malloc(m * 8), *state = NULL;
    kiln_status st = pg && dir && xn && gn && alpha ? KILN_OK : KILN_ERR_NOMEM;
    double t_start = ml_now();
    uint64_t first = (uint64_t)lb->hdr[0], ev0 = p->evaluations;
    if (st == KILN_OK && first == 0 && lb->hdr[1] == 0)
        st = objective(p, lb->x, &lb->hdr[2], lb->g);
    while (st == KILN_OK && lb->hdr[1] == 0 && (uint64_t)lb->hdr[0] < ft->max_iter) {
        double t0 = ml_now(), f = lb->hdr[2], fn = 0;
        uint64_t it = (uint64_t)lb->hdr[0];
        pseudo_gradient(p, lb->x, lb->g, pg);
        two_loop(lb, pg, dir, alpha);
        if (p->l1 > 0) /* keep to the orthant steepest descent points into */
            for (size_t i = 0; i < nw; i++)
                if (dir[i] * pg[i] >= 0)
                    dir[i] = 0;
        double slope = dot(pg, dir, np);
        if (slope >= 0) { /* not a descent direction: restart the history */
            lb->hdr[3] = lb->hdr[4] = 0;
            for (size_t i = 0; i < np; i++)
                dir[i] = -pg[i];
            slope = dot(pg, dir, np);
        }
        double step = it == 0 ? fmin(1.0, 1.0 / norm2(pg, np)) : 1.0;
        bool accepted = false;
        for (int tries = 0; tries < 40 && st == KILN_OK; tries++, step *= 0.5) {
            for (size_t i = 0; i < np; i++) {
                xn[i] = lb->x[i] + step * dir[i];
                if (p->l1 > 0 && i < nw) {
                    /* The orthant of x, or of -pg where x is 0. */
                    double o = lb->x[i] != 0 ? lb->x[i] : -pg[i];
                    if (xn[i] * o <= 0)
                        xn[i] = 0;
                }
            }
            st = objective(p, xn, &fn, gn);
            double decrease = 0;
            for (size_t i = 0; i < np; i++)
                decrease += pg[i] * (xn[i] - lb->x[i]);
            if (st == KILN_OK && fn <= f + 1e-4 * decrease) {
                accepted = true;
                break;
            }
        }
        if (st != KILN_OK)
            break;
        if (!accepted) { /* no decrease possible: as good as it gets here */
            lb->hdr[1] = 1;
            kiln_log(ft->app->ctx, "kiln-logreg: line search found no decrease "
                     "after iteration %" PRIu64 "; stopping", it);
            break;
        }
        /* The new correction pair, kept only when it curves upwards. */
        size_t k = (size_t)lb->hdr[4];
        double *sk = lb->s + k * np, *yk = lb->y + k * np;
        for (size_t i = 0; i < np; i++) {
            sk[i] = xn[i] - lb->x[i];
            yk[i] = gn[i] - lb->g[i];
        }
        double sy = dot(sk, yk, np);
        if (sy > 1e-12 * norm2(sk, np) * norm2(yk, np)) {
            lb->rho[k] = 1 / sy;
            lb->hdr[4] = (double)((k + 1) % m);
            if (lb->hdr[3] < (double)m)
                lb->hdr[3] += 1;
        }
        memcpy(lb->x, xn, np * 8);
        memcpy(lb->g, gn, np * 8);
        lb->hdr[2] = fn;
        lb->hdr[0] = (double)(it + 1);
        pseudo_gradient(p, lb->x, lb->g, pg);
        double gnorm = norm2(pg, np);
        if (gnorm <= ft->tol * fmax(1.0, norm2(lb->x, np)) ||
            f - fn <= ft->tol * fmax(fmax(fabs(f), fabs(fn)), 1.0))
            lb->hdr[1] = 1;
        kiln_log(ft->app->ctx, "kiln-logreg: iteration %" PRIu64 ": objective "
                 "%.12g, |gradient| %.3g, step %.3g, %.3f s", it + 1, fn, gnorm, step,
                 ml_now() - t0);
        if (ft->app->checkpoint_every) {
            if (!state && !(state = malloc(lbfgs_size(np, m) * 8))) {
                st = KILN_ERR_NOMEM;
                break;
            }
            memcpy(state, lb->mem, lbfgs_size(np, m) * 8);
            st = ml_state_save(ft->app, "logreg", it + 1, state, lbfgs_size(np, m));
        }
    }
    uint64_t done = (uint64_t)lb->hdr[0] - first, evals = p->evaluations - ev0;
    if (st == KILN_OK && done)
        kiln_log(ft->app->ctx, "kiln-logreg: %" PRIu64 " iterations, %" PRIu64
                 " passes over the data in %.3f s: %.4f s per iteration, %.4f s per "
                 "pass", done, evals, ml_now() - t_start,
                 (ml_now() - t_start) / (double)done,
                 (ml_now() - t_start) / (double)(evals ? evals : 1));
    free(pg);
    free(dir);
    free(xn);
    free(gn);
    free(alpha);
    free(state);
    return st;
}

/* ---- training ---- */

typedef struct options {
    double l2, l1, tol;
    int family; /* 0 auto, 1 binomial, 2 multinomial */
    uint64_t max_iter, history;
    const char *test;
} options;

static kiln_status train(ml_app *app, const options *o)
{
    kiln_ml_data *data = NULL, *test = NULL;
    kiln_ml_model *mdl = NULL;
    double *classes = NULL, *saved = NULL;
    size_t nclasses = 0, nsaved = 0;
    uint64_t nrows = 0, ntest = 0, it0 = 0;
    problem p = {.l2 = o->l2, .l1 = o->l1};
    fit ft = {.app = app, .p = &p, .max_iter = o->max_iter, .history = o->history,
              .tol = o->tol};
    kiln_status st = ml_load(app, app->in.dim, app->in.sparse, &data, &nrows);
    if (st == KILN_OK)
        st = ml_classes(app, kiln_ml_data_rows(data), MAX_CLASSES, &classes,
                        &nclasses);
    if (st == KILN_OK && nclasses < 2)
        st = ml_error(app, KILN_ERR_INVAL, "the input has %zu class%s; logistic "
                      "regression needs two or more", nclasses,
                      nclasses == 1 ? "" : "es");
    if (st == KILN_OK && o->family == 1 && nclasses > 2)
        st = ml_error(app, KILN_ERR_INVAL, "--family binomial, but the input has "
                      "%zu classes", nclasses);
    if (st != KILN_OK)
        goto done;
    p.rows = kiln_ml_data_rows(data);
    p.sparse = kiln_ml_data_sparse(data);
    p.nrows = nrows;
    p.sh.d = kiln_ml_data_dim(data);
    p.sh.r = nclasses == 2 && o->family != 2 ? 1 : (uint32_t)nclasses;
    p.sh.nclasses = nclasses;
    p.sh.classes = classes;
    p.sh.np = (size_t)p.sh.r * (p.sh.d + 1);
    if (!(p.buf = malloc((2 + p.sh.np) * 8)) ||
        lbfgs_init(&ft.lb, p.sh.np, o->history) != KILN_OK) {
        st = KILN_ERR_NOMEM;
        goto done;
    }
    kiln_log(app->ctx, "kiln-logreg: %zu classes, %s, %zu parameters", nclasses,
             p.sh.r == 1 ? "binomial" : "multinomial", p.sh.np);
    st = ml_state_resume(app, "logreg", &it0, &saved, &nsaved);
    if (st == KILN_OK && saved) {
        if (nsaved != lbfgs_size(p.sh.np, o->history))
            st = ml_error(app, KILN_ERR_INVAL, "the logreg checkpoint is of another "
                          "job (parameters or --history differ)");
        else
            memcpy(ft.lb.mem, saved, nsaved * 8);
    }
    if (st == KILN_OK)
        st = minimise(&ft);
    if (st != KILN_OK)
        goto done;

    /* Softmax is unchanged by adding a constant to every intercept; centre
     * them, which the L2 term (that leaves them free) cannot. */
    double *x = ft.lb.x;
    size_t nw = (size_t)p.sh.r * p.sh.d;
    if (p.sh.r > 1) {
        double mean = 0;
        for (uint32_t c = 0; c < p.sh.r; c++)
            mean += x[nw + c];
        mean /= p.sh.r;
        for (uint32_t c = 0; c < p.sh.r; c++)
            x[nw + c] -= mean;
    }
    double ttrain[2] = {0, 0}, ttest[2] = {0, 0};
    st = evaluate(p.rows, &p.sh, p.sparse, x, false, ttrain);
    if (st == KILN_OK && o->test) {
        char *paths[1] = {(char *)o->test};
        st = ml_load_paths(app, paths, 1, p.sh.d, p.sparse, &test, &ntest);
        if (st == KILN_OK)
            st = evaluate(kiln_ml_data_rows(test), &p.sh, p.sparse, x, false, ttest);
    }
    double logloss = ttrain[0] / (double)nrows, acc = ttrain[1] / (double)nrows;
    if (st == KILN_OK)
        st = kiln_ml_model_create(&mdl);
    if (st == KILN_OK)
        st = kiln_ml_model_put_f64(mdl, "classes", classes, nclasses, 0);
    if (st == KILN_OK)
        st = kiln_ml_model_put_f64(mdl, "weights", x, p.sh.r, p.sh.d);
    if (st == KILN_OK)
        st = kiln_ml_model_put_f64(mdl, "intercepts", x + nw, p.sh.r, 0);
    if (st == KILN_OK)
        st = kiln_ml_model_put_attr(mdl, "model", "logreg");
    if (st == KILN_OK)
        st = kiln_ml_model_put_attr(mdl, "family",
                                    p.sh.r == 1 ? "binomial" : "multinomial");
    if (st == KILN_OK)
        st = ml_attr_u64(mdl, "dim", p.sh.d);
    if (st == KILN_OK)
        st = ml_attr_double(mdl, "l2", o->l2);
    if (st == KILN_OK)
        st = ml_attr_double(mdl, "l1", o->l1);
    if (st == KILN_OK)
        st = ml_attr_double(mdl, "tol", o->tol);
    if (st == KILN_OK)
        st = ml_attr_u64(mdl, "max_iter", o->max_iter);
    if (st == KILN_OK)
        st = ml_attr_u64(mdl, "history", o->history);
    if (st == KILN_OK)
        st = ml_attr_u64(mdl, "iterations", (uint64_t)ft.lb.hdr[0]);
    if (st == KILN_OK)
        st = kiln_ml_model_put_attr(mdl, "converged", ft.lb.hdr[1] ? "yes" : "no");
    if (st == KILN_OK)
        st = ml_attr_double(mdl, "objective", ft.lb.hdr[2]);
    if (st == KILN_OK)
        st = ml_attr_double(mdl, "logloss", logloss);
    if (st == KILN_OK)
        st = ml_attr_double(mdl, "accuracy", acc);
    if (st == KILN_OK)
        st = ml_attr_inputs(app, mdl);
    if (st == KILN_OK)
        st = kiln_ml_model_save(app->ctx, mdl, app->model, app->overwrite);
    if (st == KILN_OK && app->master) {
        printf("logreg: iterations=%" PRIu64 " logloss=%.10g accuracy=%.10g",
               (uint64_t)ft.lb.hdr[0], logloss, acc);
        if (o->test)
            printf(" test_logloss=%.10g test_accuracy=%.10g", ttest[0] / (double)ntest,
                   ttest[1] / (double)ntest);
        printf("\n");
        fflush(stdout);
    }
done:
    kiln_ml_model_destroy(&mdl);
    kiln_ml_data_destroy(&test);
    kiln_ml_data_destroy(&data);
    free(classes);
    free(saved);
    free(p.buf);
    free(ft.lb.mem);
    return st;
}

/* ---- predict ---- */

typedef struct predictor {
    shape sh;
    const double *theta;
    bool sparse;
} predictor;

static kiln_status predict_batch(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    const predictor *pr = arg;
    uint32_t d = pr->sh.d, r = pr->sh.r;
    const double *W = pr->theta, *b = W + (size_t)r * d;
    double z[MAX_CLASSES];
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        const void *row = kiln_batch_value(in, i, &len);
        for (uint32_t c = 0; c < r; c++) {
            double s = b[c];
            if (pr->sparse) {
                size_t nnz = kiln_ml_sparse_nnz(len);
                for (size_t k = 0; k < nnz; k++)
                    s += W[(size_t)c * d + kiln_ml_sparse_index(row, k)] *
                         kiln_ml_sparse_value(row, len, k);
            } else {
                s += cblas_ddot((int)d, row, 1, W + (size_t)c * d, 1);
            }
            z[c] = s;
        }
        size_t best = 0;
        if (r == 1) {
            best = z[0] > 0;
        } else {
            for (uint32_t c = 1; c < r; c++)
                if (z[c] > z[best])
                    best = c;
        }
        kiln_status st = kiln_emit(out, NULL, 0, &pr->sh.classes[best], 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status predict(ml_app *app)
{
    kiln_ml_model *m = NULL;
    uint64_t nc = 0, r = 0, d = 0, nb = 0, rows = 0;
    kiln_status st = kiln_ml_model_load(app->ctx, app->model, &m);
    const double *classes = NULL, *w = NULL, *b = NULL;
    if (st == KILN_OK) {
        classes = kiln_ml_model_f64(m, "classes", &nc, NULL);
        w = kiln_ml_model_f64(m, "weights", &r, &d);
        b = kiln_ml_model_f64(m, "intercepts", &nb, NULL);
        if (!classes || !w || !b || nb != r || r == 0 || d == 0 || nc < 2 ||
            nc > MAX_CLASSES || (r != 1 && r != nc) || d > UINT32_MAX / 8)
            st = ml_error(app, KILN_ERR_INVAL, "%s is not a logreg model", app->model);
    }
    double *theta = NULL;
    if (st == KILN_OK && !(theta = malloc((size_t)(r * (d + 1)) * 8)))
        st = KILN_ERR_NOMEM;
    if (st == KILN_OK) {
        memcpy(theta, w, (size_t)(r * d) * 8);
        memcpy(theta + r * d, b, (size_t)r * 8);
        predictor pr = {{(uint32_t)d, (uint32_t)r, (size_t)nc, classes,
                         (size_t)(r * (d + 1))}, theta, app->in.sparse};
        st = ml_predict(app, (uint32_t)d, app->in.sparse, KILN_T_F64, predict_batch,
                        &pr, &rows);
    }
    if (st == KILN_OK)
        kiln_log(app->ctx, "kiln-logreg: %" PRIu64 " predictions in %s", rows,
                 app->output);
    free(theta);
    kiln_ml_model_destroy(&m);
    return st;
}

int main(int argc, char **argv)
{
    ml_app app;
    if (!ml_begin(&app, "kiln-logreg", "logreg", &argc, &argv))
        return 1;
    options o = {.tol = 1e-6, .max_iter = 100, .history = 10};
    static const struct option longopts[] = {
        ML_COMMON_OPTIONS,
        {"l2", required_argument, NULL, OPT_L2},
        {"l1", required_argument, NULL, OPT_L1},
        {"family", required_argument, NULL, OPT_FAMILY},
        {"max-iter", required_argument, NULL, OPT_MAX_ITER},
        {"tol", required_argument, NULL, OPT_TOL},
        {"history", required_argument, NULL, OPT_HISTORY},
        {"test", required_argument, NULL, OPT_TEST},
        {NULL, 0, NULL, 0},
    };
    int c, bad = 0;
    opterr = app.master;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        int r = ml_common_option(&app, c, optarg);
        if (r == 2)
            return ml_usage_exit(&app, usage, 0);
        if (r) {
            bad |= r < 0;
            continue;
        }
        switch (c) {
        case OPT_L2:
            bad |= !ml_parse_double(&app, "--l2", optarg, &o.l2) || o.l2 < 0;
            break;
        case OPT_L1:
            bad |= !ml_parse_double(&app, "--l1", optarg, &o.l1) || o.l1 < 0;
            break;
        case OPT_FAMILY:
            o.family = !strcmp(optarg, "auto")       ? 0
                       : !strcmp(optarg, "binomial")    ? 1
                       : !strcmp(optarg, "multinomial") ? 2
                                                        : -1;
            if (o.family < 0) {
                if (app.master)
                    fprintf(stderr, "kiln-logreg: bad --family '%s'\n", optarg);
                bad = 1;
            }
            break;
        case OPT_MAX_ITER:
            bad |= !ml_parse_u64(&app, "--max-iter", optarg, &o.max_iter) ||
                   o.max_iter > 100000000;
            break;
        case OPT_TOL:
            bad |= !ml_parse_double(&app, "--tol", optarg, &o.tol) || o.tol < 0;
            break;
        case OPT_HISTORY:
            bad |= !ml_parse_u64(&app, "--history", optarg, &o.history) ||
                   o.history == 0 || o.history > 1000;
            break;
        case OPT_TEST:
            o.test = optarg;
            break;
        default:
            bad = 1;
        }
    }
    if (bad || !ml_finish_options(&app, argc, argv, true))
        return ml_usage_exit(&app, usage, 2);
    kiln_status st = app.predict ? predict(&app) : train(&app, &o);
    return ml_end(&app, st == KILN_OK ? 0 : ml_fail(&app, st));
}
