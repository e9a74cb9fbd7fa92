/* kiln-naivebayes: multinomial naive Bayes over non-negative counts.
 *
 *   mpirun -np N kiln-naivebayes [--alpha A] --model OUT.h5 INPUT...
 *   mpirun -np N kiln-naivebayes predict --model OUT.h5 -o DIR INPUT...
 *
 * One pass sums, per class, the rows and their feature values (a fixed-size
 * aggregate of classes x (features + 1) doubles, combined in a fixed
 * order); the model is then, as in Spark MLlib and scikit-learn's
 * MultinomialNB,
 *   pi[c]       = log(n_c / n)
 *   theta[c][j] = log((F_cj + alpha) / (sum_j F_cj + alpha * d))
 * with Laplace (alpha = 1) or Lidstone smoothing. A row x is given the
 * class maximising pi[c] + sum_j x_j theta[c][j] (dgemm over blocks of
 * dense rows); a second pass measures the training accuracy. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "common.h"

static const char usage[] =
    "usage: kiln-naivebayes [--alpha A] --model OUT.h5 INPUT...\n"
    "       kiln-naivebayes predict --model MODEL.h5 -o DIR INPUT...\n"
    "Fit multinomial naive Bayes to labelled rows of non-negative counts;\n"
    "predict writes each row's most likely class label.\n"
    "  --alpha A           additive (Laplace/Lidstone) smoothing, > 0\n"
    "                      (default 1)\n"
    "  --sparse            LIBSVM input: keep rows sparse (for many features)\n"
    ML_COMMON_USAGE ML_INPUT_USAGE
    "Prints: naivebayes: classes=C accuracy=A (on the training data).\n";

enum { OPT_ALPHA = OPT_APP };
enum { CHUNK = 256, MAX_CLASSES = 1000 };

typedef struct model {
    uint32_t d, nclasses;
    const double *classes;
    const double *pi;     /* nclasses */
    const double *theta;  /* nclasses x d */
    bool sparse;
    double *scores;       /* CHUNK x nclasses scratch */
} model;

/* ---- pass 1: counts and feature sums per class ---- */

/* acc: per class, the row count, then d feature sums. */
typedef struct count_arg {
    uint32_t d;
    size_t nclasses;
    const double *classes;
    bool sparse;
    size_t n;       /* doubles in the accumulator */
} count_arg;

static kiln_status negative(const kiln_batch *in, size_t i, uint32_t j, double v)
{
    char where[256];
    return kiln_error(KILN_ERR_INVAL, "feature %u of %s is %g; multinomial naive "
                      "Bayes needs non-negative counts", j + 1,
                      kiln_batch_where(in, i, where, sizeof where), v);
}

static kiln_status count_seq(void *acc, const kiln_batch *in, void *arg)
{
    const count_arg *ca = arg;
    size_t d = ca->d;
    double *a = acc;
    for (size_t i = 0; i < in->n; i++) {
        double y = kiln_batch_key_f64(in, i);
        long c = ml_class_index(ca->classes, ca->nclasses, y);
        if (c < 0) {
            char where[256];
            return kiln_error(KILN_ERR_INVAL, "%s: label %g is not a class",
                              kiln_batch_where(in, i, where, sizeof where), y);
        }
        double *row = a + (size_t)c * (d + 1);
        row[0] += 1;
        size_t len;
        const void *v = kiln_batch_value(in, i, &len);
        if (ca->sparse) {
            size_t nnz = kiln_ml_sparse_nnz(len);
            for (size_t k = 0; k < nnz; k++) {
                uint32_t j = kiln_ml_sparse_index(v, k);
                double x = kiln_ml_sparse_value(v, len, k);
                if (x < 0)
                    return negative(in, i, j, x);
                row[1 + j] += x;
            }
        } else {
            const double *x = v;
            for (size_t j = 0; j < d; j++) {
                if (x[j] < 0)
                    return negative(in, i, (uint32_t)j, x[j]);
                row[1 + j] += x[j];
            }
        }
    }
    return KILN_OK;
}

static kiln_status count_comb(void *acc, const void *other, void *arg)
{
    const count_arg *ca = arg;
    double *a = acc;
    const double *o = other;
    for (size_t i = 0; i < ca->n; i++)
        a[i] += o[i];
    return KILN_OK;
}

/* ---- scoring ---- */

/* Best class index of each of m rows starting at row i of the batch. */
static void classify(model *md, const kiln_batch *in, size_t i, size_t m,
                     uint32_t *best)
{
    size_t d = md->d, nc = md->nclasses;
    double *s = md->scores;
    if (md->sparse) {
        for (size_t r = 0; r < m; r++) {
            size_t len;
            const void *v = kiln_batch_value(in, i + r, &len);
            size_t nnz = kiln_ml_sparse_nnz(len);
            for (size_t c = 0; c < nc; c++) {
                double t = 0;
                for (size_t k = 0; k < nnz; k++) {
                    uint32_t j = kiln_ml_sparse_index(v, k);
                    if (j < d)
                        t += kiln_ml_sparse_value(v, len, k) * md->theta[c * d + j];
                }
                s[r * nc + c] = t;
            }
        }
    } else {
        const double *x = (const double *)in->values + i * d;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)nc, (int)d,
                    1.0, x, (int)d, md->theta, (int)d, 0.0, s, (int)nc);
    }
    for (size_t r = 0; r < m; r++) {
        uint32_t b = 0;
        double bv = s[r * nc] + md->pi[0];
        for (size_t c = 1; c < nc; c++) {
            double v = s[r * nc + c] + md->pi[c];
            if (v > bv) {
                bv = v;
                b = (uint32_t)c;
            }
        }
        best[r] = b;
    }
}

static kiln_status correct_seq(void *acc, const kiln_batch *in, void *arg)
{
    model *md = arg;
    double *a = acc;
    uint32_t best[CHUNK];
    for (size_t i = 0; i < in->n; i += CHUNK) {
        size_t m = in->n - i < CHUNK ? in->n - i : CHUNK;
        classify(md, in, i, m, best);
        for (size_t r = 0; r < m; r++)
            a[0] += md->classes[best[r]] == kiln_batch_key_f64(in, i + r);
    }
    return KILN_OK;
}

static kiln_status add1_comb(void *acc, const void *other, void *arg)
{
    (void)arg;
    *(double *)acc += *(const double *)other;
    return KILN_OK;
}

static kiln_status predict_batch(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    model *md = arg;
    uint32_t best[CHUNK];
    for (size_t i = 0; i < in->n; i += CHUNK) {
        size_t m = in->n - i < CHUNK ? in->n - i : CHUNK;
        classify(md, in, i, m, best);
        for (size_t r = 0; r < m; r++) {
            kiln_status st = kiln_emit(out, NULL, 0, &md->classes[best[r]], 8);
            if (st != KILN_OK)
                return st;
        }
    }
    return KILN_OK;
}

/* ---- training ---- */

static kiln_status train(ml_app *app, double alpha)
{
    kiln_ml_data *data = NULL;
    kiln_ml_model *mdl = NULL;
    double *classes = NULL, *zero = NULL, *acc = NULL, *pi = NULL, *theta = NULL;
    size_t nc = 0;
    uint64_t nrows = 0;
    kiln_status st = ml_load(app, app->in.dim, app->in.sparse, &data, &nrows);
    if (st == KILN_OK)
        st = ml_classes(app, kiln_ml_data_rows(data), MAX_CLASSES, &classes, &nc);
    if (st != KILN_OK)
        goto done;
    kiln_dataset *rows = kiln_ml_data_rows(data);
    uint32_t d = kiln_ml_data_dim(data);
    size_t n = nc * ((size_t)d + 1);
    count_arg ca = {d, nc, classes, kiln_ml_data_sparse(data), n};
    zero = calloc(n, 8);
    acc = malloc(n * 8);
    pi = malloc(nc * 8);
    theta = malloc(nc * (size_t)d * 8);
    if (!zero || !acc || !pi || !theta) {
        st = KILN_ERR_NOMEM;
        goto done;
    }
    st = kiln_dataset_aggregate(rows, zero, n * 8, count_seq, count_comb, &ca, acc);
    if (st != KILN_OK)
        goto done;
    for (size_t c = 0; c < nc; c++) {
        const double *a = acc + c * ((size_t)d + 1);
        double total = 0;
        for (size_t j = 0; j < d; j++)
            total += a[1 + j];
        pi[c] = log(a[0] / (double)nrows);
        double denom = log(total + alpha * d);
        for (size_t j = 0; j < d; j++)
            theta[c * d + j] = log(a[1 + j] + alpha) - denom;
    }
    model md = {d, (uint32_t)nc, classes, pi, theta, ca.sparse,
                malloc((size_t)CHUNK * nc * 8)};
    double right = 0, zero1 = 0;
    if (!md.scores)
        st = KILN_ERR_NOMEM;
    if (st == KILN_OK)
        st = kiln_dataset_aggregate(rows, &zero1, 8, correct_seq, add1_comb, &md,
                                    &right);
    free(md.scores);
    double accuracy = right / (double)nrows;
    if (st == KILN_OK)
        st = kiln_ml_model_create(&mdl);
    if (st == KILN_OK)
        st = kiln_ml_model_put_f64(mdl, "classes", classes, nc, 0);
    if (st == KILN_OK)
        st = kiln_ml_model_put_f64(mdl, "pi", pi, nc, 0);
    if (st == KILN_OK)
        st = kiln_ml_model_put_f64(mdl, "theta", theta, nc, d);
    if (st == KILN_OK)
        st = kiln_ml_model_put_attr(mdl, "model", "naivebayes");
    if (st == KILN_OK)
        st = kiln_ml_model_put_attr(mdl, "model_type", "multinomial");
    if (st == KILN_OK)
        st = ml_attr_u64(mdl, "dim", d);
    if (st == KILN_OK)
        st = ml_attr_double(mdl, "alpha", alpha);
    if (st == KILN_OK)
        st = ml_attr_double(mdl, "accuracy", accuracy);
    if (st == KILN_OK)
        st = ml_attr_inputs(app, mdl);
    if (st == KILN_OK)
        st = kiln_ml_model_save(app->ctx, mdl, app->model, app->overwrite);
    if (st == KILN_OK && app->master) {
        printf("naivebayes: classes=%zu accuracy=%.10g\n", nc, accuracy);
        fflush(stdout);
    }
done:
    kiln_ml_model_destroy(&mdl);
    kiln_ml_data_destroy(&data);
    free(classes);
    free(zero);
    free(acc);
    free(pi);
    free(theta);
    return st;
}

static kiln_status predict(ml_app *app)
{
    kiln_ml_model *m = NULL;
    uint64_t nc = 0, np = 0, rows = 0, tr = 0, d = 0;
    kiln_status st = kiln_ml_model_load(app->ctx, app->model, &m);
    model md = {0};
    if (st == KILN_OK) {
        md.classes = kiln_ml_model_f64(m, "classes", &nc, NULL);
        md.pi = kiln_ml_model_f64(m, "pi", &np, NULL);
        md.theta = kiln_ml_model_f64(m, "theta", &tr, &d);
        if (!md.classes || !md.pi || !md.theta || nc == 0 || np != nc || tr != nc ||
            d == 0 || d > UINT32_MAX / 8 || nc > MAX_CLASSES)
            st = ml_error(app, KILN_ERR_INVAL, "%s is not a naivebayes model",
                          app->model);
    }
    if (st == KILN_OK) {
        md.d = (uint32_t)d;
        md.nclasses = (uint32_t)nc;
        md.sparse = app->in.sparse;
        if (!(md.scores = malloc((size_t)CHUNK * nc * 8)))
            st = KILN_ERR_NOMEM;
    }
    if (st == KILN_OK)
        st = ml_predict(app, (uint32_t)d, app->in.sparse, KILN_T_F64, predict_batch,
                        &md, &rows);
    if (st == KILN_OK)
        kiln_log(app->ctx, "kiln-naivebayes: %" PRIu64 " predictions in %s", rows,
                 app->output);
    free(md.scores);
    kiln_ml_model_destroy(&m);
    return st;
}

int main(int argc, char **argv)
{
    ml_app app;
    if (!ml_begin(&app, "kiln-naivebayes", "naivebayes", &argc, &argv))
        return 1;
    double alpha = 1.0;
    static const struct option longopts[] = {
        ML_COMMON_OPTIONS,
        {"alpha", required_argument, NULL, OPT_ALPHA},
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
        if (c == OPT_ALPHA)
            bad |= !ml_parse_double(&app, "--alpha", optarg, &alpha) || alpha <= 0;
        else
            bad = 1;
    }
    if (bad || !ml_finish_options(&app, argc, argv, true))
        return ml_usage_exit(&app, usage, 2);
    kiln_status st = app.predict ? predict(&app) : train(&app, alpha);
    return ml_end(&app, st == KILN_OK ? 0 : ml_fail(&app, st));
}
