/* kiln-linreg: least squares linear regression with an intercept.
 *
 *   mpirun -np N kiln-linreg [--ridge L] --model OUT.h5 INPUT...
 *   mpirun -np N kiln-linreg predict --model OUT.h5 -o DIR INPUT...
 *
 * One pass aggregates A^T A and A^T y, A being the rows with a column of
 * ones appended (BLAS dsyrk and dgemv per block of rows), in a fixed order,
 * so every rank holds the same (d+1) x (d+1) system, bit for bit, at any
 * number of ranks; LAPACK solves it (Cholesky, dposv; when X^T X is
 * singular, the minimum-norm least-squares solution through the SVD,
 * dgelsd). --ridge L adds L to the diagonal of the weights, not of the
 * intercept. A second pass measures the residuals: rmse and r2 are exact
 * sums, not read off the normal equations, where they would cancel. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "common.h"

static const char usage[] =
    "usage: kiln-linreg [--ridge L] --model OUT.h5 INPUT...\n"
    "       kiln-linreg predict --model MODEL.h5 -o DIR INPUT...\n"
    "Fit y = w.x + b by least squares; predict writes w.x + b per row.\n"
    "  --ridge L           add (L/2)||w||^2 to the half sum of squares (the\n"
    "                      intercept is not penalised; default 0)\n"
    ML_COMMON_USAGE ML_INPUT_USAGE
    "Prints: linreg: rmse=R r2=S (on the training data).\n";

enum { OPT_RIDGE = OPT_APP };
enum { CHUNK = 256 };

/* ---- pass 1: the normal equations ---- */

/* acc: n, sum y, then A^T A (p x p, upper triangle filled), A^T y (p);
 * p = d + 1. */
typedef struct gram_arg {
    uint32_t d;
    size_t n;   /* doubles in the accumulator */
    double *a;  /* CHUNK x p scratch: rows with the 1 appended */
    double *y;  /* CHUNK labels */
} gram_arg;

static kiln_status gram_seq(void *acc, const kiln_batch *in, void *arg)
{
    gram_arg *ga = arg;
    size_t d = ga->d, p = d + 1;
    double *h = acc, *ata = h + 2, *aty = ata + p * p;
    const double *x = (const double *)in->values;
    for (size_t i = 0; i < in->n; i += CHUNK) {
        size_t m = in->n - i < CHUNK ? in->n - i : CHUNK;
        for (size_t r = 0; r < m; r++) {
            double y = kiln_batch_key_f64(in, i + r);
            if (isnan(y)) {
                char where[256];
                return kiln_error(KILN_ERR_INVAL, "%s has no label; linreg needs "
                                  "labels", kiln_batch_where(in, i + r, where,
                                                              sizeof where));
            }
            memcpy(ga->a + r * p, x + (i + r) * d, d * 8);
            ga->a[r * p + d] = 1.0;
            ga->y[r] = y;
            h[0] += 1;
            h[1] += y;
        }
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)p, (int)m, 1.0, ga->a,
                    (int)p, 1.0, ata, (int)p);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)m, (int)p, 1.0, ga->a, (int)p,
                    ga->y, 1, 1.0, aty, 1);
    }
    return KILN_OK;
}

static kiln_status gram_comb(void *acc, const void *other, void *arg)
{
    const gram_arg *ga = arg;
    double *a = acc;
    const double *o = other;
    for (size_t i = 0; i < ga->n; i++)
        a[i] += o[i];
    return KILN_OK;
}

/* ---- pass 2: residuals ---- */

typedef struct resid_arg {
    uint32_t d;
    const double *w; /* d weights, then the intercept */
    double mean;     /* of y */
} resid_arg;

/* acc: sum (y - yhat)^2, sum (y - mean)^2 */
static kiln_status resid_seq(void *acc, const kiln_batch *in, void *arg)
{
    const resid_arg *ra = arg;
    double *s = acc;
    const double *x = (const double *)in->values;
    for (size_t i = 0; i < in->n; i++) {
        double y = kiln_batch_key_f64(in, i);
        double e = y - (cblas_ddot((int)ra->d, x + i * ra->d, 1, ra->w, 1) + ra->w[ra->d]);
        s[0] += e * e;
        s[1] += (y - ra->mean) * (y - ra->mean);
    }
    return KILN_OK;
}

static kiln_status add2_comb(void *acc, const void *other, void *arg)
{
    (void)arg;
    double *a = acc;
    const double *o = other;
    a[0] += o[0];
    a[1] += o[1];
    return KILN_OK;
}

static kiln_status train(ml_app *app, double ridge)
{
    kiln_ml_data *data = NULL;
    kiln_ml_model *m = NULL;
    uint64_t nrows = 0;
    kiln_status st = ml_load(app, app->in.dim, false, &data, &nrows);
    if (st != KILN_OK)
        return st;
    kiln_dataset *rows = kiln_ml_data_rows(data);
    uint32_t d = kiln_ml_data_dim(data);
    size_t p = (size_t)d + 1, n = 2 + p * p + p;
    gram_arg ga = {d, n, malloc(CHUNK * p * 8), malloc(CHUNK * 8)};
    double *zero = calloc(n, 8), *acc = malloc(n * 8), *mat = malloc(p * p * 8);
    double *w = malloc(p * 8), *sv = malloc(p * 8);
    bool singular = false;
    lapack_int rank = (lapack_int)p;
    if (!ga.a || !ga.y || !zero || !acc || !mat || !w || !sv)
        st = KILN_ERR_NOMEM;
    if (st == KILN_OK)
        st = kiln_dataset_aggregate(rows, zero, n * 8, gram_seq, gram_comb, &ga, acc);
    if (st == KILN_OK) {
        /* The same system on every rank: solve it everywhere. */
        const double *ata = acc + 2, *aty = ata + p * p;
        for (size_t i = 0; i < p; i++)
            for (size_t j = i; j < p; j++)
                mat[i * p + j] = mat[j * p + i] = ata[i * p + j];
        for (size_t i = 0; i < d; i++)
            mat[i * p + i] += ridge;
        memcpy(w, aty, p * 8);
        double *chol = malloc(p * p * 8);
        if (!chol) {
            st = KILN_ERR_NOMEM;
        } else {
            memcpy(chol, mat, p * p * 8);
            lapack_int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', (lapack_int)p, 1,
                                            chol, (lapack_int)p, w, 1);
            if (info > 0) { /* not positive definite: X^T X is singular */
                singular = true;
                memcpy(w, aty, p * 8);
                info = LAPACKE_dgelsd(LAPACK_ROW_MAJOR, (lapack_int)p, (lapack_int)p, 1,
                                      mat, (lapack_int)p, w, 1, sv, -1.0, &rank);
            }
            if (info != 0)
                st = ml_error(app, KILN_ERR_INVAL, "LAPACK could not solve the "
                              "normal equations (info %d)", (int)info);
            free(chol);
        }
    }
    if (st == KILN_OK && singular)
        kiln_log(app->ctx, "kiln-linreg: X^T X is singular (rank %d of %zu): the "
                 "minimum-norm solution", (int)rank, p);
    double sums[2] = {0, 0}, zero2[2] = {0, 0};
    resid_arg ra = {d, w, acc ? acc[1] / (double)nrows : 0};
    if (st == KILN_OK)
        st = kiln_dataset_aggregate(rows, zero2, sizeof zero2, resid_seq, add2_comb,
                                    &ra, sums);
    double rmse = sqrt(sums[0] / (double)nrows);
    double r2 = sums[1] > 0 ? 1 - sums[0] / sums[1] : (sums[0] == 0 ? 1.0 : 0.0);
    if (st == KILN_OK)
        st = kiln_ml_model_create(&m);
    if (st == KILN_OK)
        st = kiln_ml_model_put_f64(m, "weights", w, d, 0);
    if (st == KILN_OK)
        st = kiln_ml_model_put_f64(m, "intercepts", w + d, 1, 0);
    if (st == KILN_OK)
        st = kiln_ml_model_put_attr(m, "model", "linreg");
    if (st == KILN_OK)
        st = ml_attr_u64(m, "dim", d);
    if (st == KILN_OK)
        st = ml_attr_double(m, "ridge", ridge);
    if (st == KILN_OK)
        st = ml_attr_double(m, "rmse", rmse);
    if (st == KILN_OK)
        st = ml_attr_double(m, "r2", r2);
    if (st == KILN_OK)
        st = ml_attr_u64(m, "rank", (uint64_t)rank);
    if (st == KILN_OK)
        st = ml_attr_inputs(app, m);
    if (st == KILN_OK)
        st = kiln_ml_model_save(app->ctx, m, app->model, app->overwrite);
    if (st == KILN_OK && app->master) {
        printf("linreg: rmse=%.10g r2=%.10g\n", rmse, r2);
        fflush(stdout);
    }
    kiln_ml_model_destroy(&m);
    kiln_ml_data_destroy(&data);
    free(ga.a);
    free(ga.y);
    free(zero);
    free(acc);
    free(mat);
    free(w);
    free(sv);
    return st;
}

/* ---- predict ---- */

static kiln_status predict_batch(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    const resid_arg *ra = arg;
    const double *x = (const double *)in->values;
    for (size_t i = 0; i < in->n; i++) {
        double v = cblas_ddot((int)ra->d, x + i * ra->d, 1, ra->w, 1) + ra->w[ra->d];
        kiln_status st = kiln_emit(out, NULL, 0, &v, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status predict(ml_app *app)
{
    kiln_ml_model *m = NULL;
    uint64_t d = 0, nb = 0, rows = 0;
    double *w = NULL;
    kiln_status st = kiln_ml_model_load(app->ctx, app->model, &m);
    const double *wm = NULL, *b = NULL;
    if (st == KILN_OK) {
        wm = kiln_ml_model_f64(m, "weights", &d, NULL);
        b = kiln_ml_model_f64(m, "intercepts", &nb, NULL);
        if (!wm || !b || nb != 1 || d == 0 || d > UINT32_MAX / 8)
            st = ml_error(app, KILN_ERR_INVAL, "%s is not a linreg model", app->model);
    }
    if (st == KILN_OK && !(w = malloc((size_t)(d + 1) * 8)))
        st = KILN_ERR_NOMEM;
    if (st == KILN_OK) {
        memcpy(w, wm, (size_t)d * 8);
        w[d] = b[0];
        resid_arg ra = {(uint32_t)d, w, 0};
        st = ml_predict(app, (uint32_t)d, false, KILN_T_F64, predict_batch, &ra, &rows);
    }
    if (st == KILN_OK)
        kiln_log(app->ctx, "kiln-linreg: %" PRIu64 " predictions in %s", rows,
                 app->output);
    free(w);
    kiln_ml_model_destroy(&m);
    return st;
}

int main(int argc, char **argv)
{
    ml_app app;
    if (!ml_begin(&app, "kiln-linreg", "linreg", &argc, &argv))
        return 1;
    double ridge = 0;
    static const struct option longopts[] = {
        ML_COMMON_OPTIONS,
        {"ridge", required_argument, NULL, OPT_RIDGE},
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
        if (c == OPT_RIDGE)
            bad |= !ml_parse_double(&app, "--ridge", optarg, &ridge) || ridge < 0;
        else
            bad = 1;
    }
    if (!bad && app.in.sparse) {
        if (app.master)
            fprintf(stderr, "kiln-linreg: --sparse: linreg works on dense rows\n");
        bad = 1;
    }
    if (bad || !ml_finish_options(&app, argc, argv, true))
        return ml_usage_exit(&app, usage, 2);
    kiln_status st = app.predict ? predict(&app) : train(&app, ridge);
    return ml_end(&app, st == KILN_OK ? 0 : ml_fail(&app, st));
}
