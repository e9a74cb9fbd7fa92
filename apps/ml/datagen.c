/* kiln-datagen: synthetic data with known true parameters, generated in
 * parallel.
 *
 *   mpirun -np N kiln-datagen TYPE -n ROWS -d DIM [options] -o OUT
 *
 * Row i is a function of (seed, i) only, and the true parameters of the
 * seed only, so the output is the same bytes at any number of ranks and
 * partitions. TYPE:
 *   blobs           a Gaussian mixture: K centres drawn uniformly from
 *                   [-spread, spread]^d; each row picks one uniformly and
 *                   adds N(0, noise^2) to every coordinate; label: the
 *                   centre's index
 *   classification  x ~ N(0, I); K classes (default 2) from true weights
 *                   W ~ N(0, 4/d) and intercepts b ~ N(0, 1/4): with
 *                   noise 0 the label is argmax W x + b (linearly
 *                   separable; for two classes w.x + b > 0), else it is
 *                   drawn from the logistic / softmax model of
 *                   (W x + b) / noise
 *   regression      x ~ N(0, I), y = w.x + b + N(0, noise^2), w ~ N(0, 1),
 *                   b ~ N(0, 1)
 *   counts          K classes, each with its own word distribution over d
 *                   features; a row draws 20 to 49 words from its class's:
 *                   non-negative counts for naive Bayes
 * Output: CSV (x1,...,xd,label per line) or LIBSVM (label i:x ..., zeros
 * left out) part files in the directory OUT, or one HDF5 file OUT with /X
 * and /y. --truth FILE writes the true parameters as a model file
 * (centres, weights and intercepts, or per-class word probabilities). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char usage[] =
    "usage: kiln-datagen TYPE -n ROWS -d DIM [options] -o OUT\n"
    "Generate labelled rows with known true parameters; the same seed gives\n"
    "the same output at any number of ranks. TYPE is blobs (Gaussian\n"
    "mixture), classification, regression or counts (for naive Bayes).\n"
    "  -n, --rows N        rows; a suffix k, M or G multiplies by 10^3, 10^6, 10^9\n"
    "  -d, --dim D         features per row\n"
    "  -k, --classes K     blobs: centres (default 3); classification, counts:\n"
    "                      classes (default 2)\n"
    "  --noise S           blobs: standard deviation around a centre (default\n"
    "                      1); classification: 0 for separable, else the\n"
    "                      temperature of the logistic model (default 1);\n"
    "                      regression: standard deviation of y's noise\n"
    "                      (default 0.1)\n"
    "  --spread X          blobs: centres drawn from [-X, X]^d (default 10)\n"
    "  --signed-labels     two classes labelled -1 and +1 instead of 0 and 1\n"
    "  --format F          csv (default), libsvm or hdf5\n"
    "  -o, --output OUT    a directory of part files (csv, libsvm) or a file\n"
    "                      (hdf5: /X and /y)\n"
    "  --truth FILE        write the true parameters as an HDF5 model file\n"
    "  --seed S            seed (default 1)\n"
    "  --partitions P      partitions (default --kiln-partitions)\n"
    "  --overwrite         replace OUT and FILE if they exist\n"
    "  -h, --help          this text; --kiln-help lists the runtime options\n";

enum { T_BLOBS, T_CLASSIFICATION, T_REGRESSION, T_COUNTS };
static const char *const type_names[] = {"blobs", "classification", "regression",
                                         "counts"};
enum { F_CSV, F_LIBSVM, F_HDF5 };
enum { OPT_NOISE = 300, OPT_SPREAD, OPT_SIGNED, OPT_FORMAT_OUT, OPT_TRUTH,
       OPT_SEED_OUT, OPT_PARTS_OUT, OPT_OVERWRITE_OUT, OPT_HELP_OUT };

typedef struct gen {
    int type;
    uint32_t d, k;
    double noise, spread;
    bool signed_labels;
    uint64_t seed_x, seed_u; /* streams of the features and of the choices */
    double *centres;   /* blobs: k x d */
    double *w, *b;     /* classification: r x d, r (r = 1 for two classes);
                          regression: d, 1 */
    uint32_t r;
    double *cdf;       /* counts: k x d cumulative word probabilities */
    double *prob;      /* counts: k x d word probabilities */
} gen;

/* The true parameters: from the seed alone, the same on every rank. */
static kiln_status make_truth(gen *g, uint64_t seed)
{
    ml_rng rng = {ml_mix64(seed ^ 0x7472757468ull)};
    uint32_t d = g->d, k = g->k;
    uint64_t slot = 0;
#define NORMAL() ml_normal(ml_mix64(seed ^ 0x747275ull), 0, slot++)
    switch (g->type) {
    case T_BLOBS:
        if (!(g->centres = malloc((size_t)k * d * 8)))
            return KILN_ERR_NOMEM;
        for (size_t i = 0; i < (size_t)k * d; i++)
            g->centres[i] = (2 * ml_rng_uniform(&rng) - 1) * g->spread;
        break;
    case T_CLASSIFICATION:
        g->r = k == 2 ? 1 : k;
        if (!(g->w = malloc((size_t)g->r * d * 8)) || !(g->b = malloc(g->r * 8)))
            return KILN_ERR_NOMEM;
        for (size_t i = 0; i < (size_t)g->r * d; i++)
            g->w[i] = NORMAL() * 2 / sqrt(d);
        for (uint32_t c = 0; c < g->r; c++)
            g->b[c] = NORMAL() * 0.5;
        break;
    case T_REGRESSION:
        g->r = 1;
        if (!(g->w = malloc((size_t)d * 8)) || !(g->b = malloc(8)))
            return KILN_ERR_NOMEM;
        for (uint32_t j = 0; j < d; j++)
            g->w[j] = NORMAL();
        g->b[0] = NORMAL();
        break;
    case T_COUNTS:
        if (!(g->cdf = malloc((size_t)k * d * 8)) || !(g->prob = malloc((size_t)k * d * 8)))
            return KILN_ERR_NOMEM;
        for (uint32_t c = 0; c < k; c++) {
            double *p = g->prob + (size_t)c * d, sum = 0;
            for (uint32_t j = 0; j < d; j++) {
                double u = ml_rng_uniform(&rng) + 0.05;
                p[j] = u * u * u;
                sum += p[j];
            }
            double acc = 0;
            for (uint32_t j = 0; j < d; j++) {
                p[j] /= sum;
                acc += p[j];
                g->cdf[(size_t)c * d + j] = acc;
            }
            g->cdf[(size_t)c * d + d - 1] = 1.0;
        }
        break;
    }
#undef NORMAL
    return KILN_OK;
}

/* Row i: its label and d features. */
static double make_row(const gen *g, uint64_t i, double *x)
{
    uint32_t d = g->d, k = g->k;
    double u = ml_uniform(g->seed_u, i, 0);
    switch (g->type) {
    case T_BLOBS: {
        uint32_t c = (uint32_t)(u * k);
        for (uint32_t j = 0; j < d; j++)
            x[j] = g->centres[(size_t)c * d + j] + g->noise * ml_normal(g->seed_x, i, j);
        return c;
    }
    case T_CLASSIFICATION: {
        for (uint32_t j = 0; j < d; j++)
            x[j] = ml_normal(g->seed_x, i, j);
        if (g->r == 1) {
            double m = g->b[0];
            for (uint32_t j = 0; j < d; j++)
                m += g->w[j] * x[j];
            bool one = g->noise == 0 ? m > 0 : u < 1 / (1 + exp(-m / g->noise));
            return one ? 1 : g->signed_labels ? -1 : 0;
        }
        double z[1000], mx = -INFINITY, sum = 0;
        uint32_t best = 0;
        for (uint32_t c = 0; c < k; c++) {
            z[c] = g->b[c];
            for (uint32_t j = 0; j < d; j++)
                z[c] += g->w[(size_t)c * d + j] * x[j];
            if (z[c] > mx) {
                mx = z[c];
                best = c;
            }
        }
        if (g->noise == 0)
            return best;
        for (uint32_t c = 0; c < k; c++)
            sum += exp((z[c] - mx) / g->noise);
        double acc = 0;
        for (uint32_t c = 0; c < k; c++) {
            acc += exp((z[c] - mx) / g->noise) / sum;
            if (u < acc)
                return c;
        }
        return k - 1;
    }
    case T_REGRESSION: {
        double y = g->b[0];
        for (uint32_t j = 0; j < d; j++) {
            x[j] = ml_normal(g->seed_x, i, j);
            y += g->w[j] * x[j];
        }
        return y + g->noise * ml_normal(g->seed_x, i, d);
    }
    default: { /* counts */
        uint32_t c = (uint32_t)(u * k);
        uint64_t words = 20 + (uint64_t)(30 * ml_uniform(g->seed_u, i, 1));
        const double *cdf = g->cdf + (size_t)c * d;
        memset(x, 0, (size_t)d * 8);
        for (uint64_t t = 0; t < words; t++) {
            double v = ml_uniform(g->seed_x, i, t);
            uint32_t lo = 0, hi = d - 1;
            while (lo < hi) {
                uint32_t mid = (lo + hi) / 2;
                if (cdf[mid] <= v)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            x[lo] += 1;
        }
        return c;
    }
    }
}

static kiln_status rows_batch(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    const gen *g = arg;
    double x[4096];
    double *row = g->d <= 4096 ? x : malloc((size_t)g->d * 8);
    if (!row)
        return kiln_error(KILN_ERR_NOMEM, "datagen row");
    kiln_status st = KILN_OK;
    for (size_t k = 0; k < in->n && st == KILN_OK; k++) {
        double y = make_row(g, (uint64_t)kiln_batch_value_i64(in, k), row);
        st = kiln_emit(out, &y, 8, row, (size_t)g->d * 8);
    }
    if (row != x)
        free(row);
    return st;
}

/* (label, row) -> one text line. */
typedef struct text_arg {
    uint32_t d;
    bool libsvm;
} text_arg;

static kiln_status text_batch(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    const text_arg *ta = arg;
    size_t cap = (size_t)ta->d * 40 + 64;
    char *line = malloc(cap);
    if (!line)
        return kiln_error(KILN_ERR_NOMEM, "datagen line");
    kiln_status st = KILN_OK;
    for (size_t i = 0; i < in->n && st == KILN_OK; i++) {
        double y = kiln_batch_key_f64(in, i);
        size_t len;
        const double *x = kiln_batch_value(in, i, &len);
        size_t n = 0;
        if (ta->libsvm) {
            n += (size_t)snprintf(line + n, cap - n, "%.17g", y);
            for (uint32_t j = 0; j < ta->d; j++)
                if (x[j] != 0)
                    n += (size_t)snprintf(line + n, cap - n, " %u:%.17g", j + 1, x[j]);
        } else {
            for (uint32_t j = 0; j < ta->d; j++)
                n += (size_t)snprintf(line + n, cap - n, "%.17g,", x[j]);
            n += (size_t)snprintf(line + n, cap - n, "%.17g", y);
        }
        st = kiln_emit(out, NULL, 0, line, n);
    }
    free(line);
    return st;
}

static kiln_status write_truth(kiln_context *ctx, const gen *g, const char *path,
                               uint64_t seed, bool overwrite)
{
    kiln_ml_model *m = NULL;
    kiln_status st = kiln_ml_model_create(&m);
    if (st == KILN_OK && g->type == T_BLOBS)
        st = kiln_ml_model_put_f64(m, "centres", g->centres, g->k, g->d);
    if (st == KILN_OK && (g->type == T_CLASSIFICATION || g->type == T_REGRESSION)) {
        /* Shaped as kiln-logreg and kiln-linreg write theirs. */
        st = g->type == T_REGRESSION
                 ? kiln_ml_model_put_f64(m, "weights", g->w, g->d, 0)
                 : kiln_ml_model_put_f64(m, "weights", g->w, g->r, g->d);
        if (st == KILN_OK)
            st = kiln_ml_model_put_f64(m, "intercepts", g->b, g->r, 0);
    }
    if (st == KILN_OK && g->type == T_COUNTS)
        st = kiln_ml_model_put_f64(m, "probabilities", g->prob, g->k, g->d);
    if (st == KILN_OK)
        st = kiln_ml_model_put_attr(m, "model", "datagen");
    if (st == KILN_OK)
        st = kiln_ml_model_put_attr(m, "type", type_names[g->type]);
    if (st == KILN_OK)
        st = ml_attr_u64(m, "seed", seed);
    if (st == KILN_OK)
        st = ml_attr_double(m, "noise", g->noise);
    if (st == KILN_OK)
        st = kiln_ml_model_save(ctx, m, path, overwrite);
    kiln_ml_model_destroy(&m);
    return st;
}

static bool parse_count(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!s || *s < '0' || *s > '9')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mult = 1;
    switch (*end) {
    case 'k': case 'K': mult = 1000u; end++; break;
    case 'm': case 'M': mult = 1000000u; end++; break;
    case 'g': case 'G': mult = 1000000000u; end++; break;
    }
    if (errno || *end || v > (uint64_t)INT64_MAX / mult)
        return false;
    *out = v * mult;
    return true;
}

int main(int argc, char **argv)
{
    ml_app app;
    if (!ml_begin(&app, "kiln-datagen", "datagen", &argc, &argv))
        return 1;
    gen g = {.type = -1, .noise = NAN, .spread = 10};
    uint64_t rows = 0, dim = 0, k = 0, parts = 0, seed = 1;
    int format = F_CSV;
    const char *out = NULL, *truth = NULL;
    bool overwrite = false, bad = false;
    static const struct option longopts[] = {
        {"rows", required_argument, NULL, 'n'},
        {"dim", required_argument, NULL, 'd'},
        {"classes", required_argument, NULL, 'k'},
        {"noise", required_argument, NULL, OPT_NOISE},
        {"spread", required_argument, NULL, OPT_SPREAD},
        {"signed-labels", no_argument, NULL, OPT_SIGNED},
        {"format", required_argument, NULL, OPT_FORMAT_OUT},
        {"output", required_argument, NULL, 'o'},
        {"truth", required_argument, NULL, OPT_TRUTH},
        {"seed", required_argument, NULL, OPT_SEED_OUT},
        {"partitions", required_argument, NULL, OPT_PARTS_OUT},
        {"overwrite", no_argument, NULL, OPT_OVERWRITE_OUT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = app.master;
    if (app.predict) {
        if (app.master)
            fprintf(stderr, "kiln-datagen: there is no predict mode\n");
        return ml_usage_exit(&app, usage, 2);
    }
    while ((c = getopt_long(argc, argv, "n:d:k:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!parse_count(optarg, &rows) || rows == 0) {
                if (app.master)
                    fprintf(stderr, "kiln-datagen: bad --rows '%s'\n", optarg);
                bad = true;
            }
            break;
        case 'd':
            bad |= !ml_parse_u64(&app, "--dim", optarg, &dim) || dim == 0 ||
                   dim > 1000000;
            break;
        case 'k':
            bad |= !ml_parse_u64(&app, "--classes", optarg, &k) || k == 0 || k > 1000;
            break;
        case OPT_NOISE:
            bad |= !ml_parse_double(&app, "--noise", optarg, &g.noise) || g.noise < 0;
            break;
        case OPT_SPREAD:
            bad |= !ml_parse_double(&app, "--spread", optarg, &g.spread) ||
                   g.spread < 0;
            break;
        case OPT_SIGNED:
            g.signed_labels = true;
            break;
        case OPT_FORMAT_OUT:
            format = !strcmp(optarg, "csv")      ? F_CSV
                     : !strcmp(optarg, "libsvm") ? F_LIBSVM
                     : !strcmp(optarg, "hdf5")   ? F_HDF5
                                                 : -1;
            if (format < 0) {
                if (app.master)
                    fprintf(stderr, "kiln-datagen: bad --format '%s'\n", optarg);
                bad = true;
            }
            break;
        case 'o': out = optarg; break;
        case OPT_TRUTH: truth = optarg; break;
        case OPT_SEED_OUT:
            bad |= !ml_parse_u64(&app, "--seed", optarg, &seed);
            break;
        case OPT_PARTS_OUT:
            bad |= !ml_parse_u64(&app, "--partitions", optarg, &parts) || parts == 0 ||
                   parts > 1000000;
            break;
        case OPT_OVERWRITE_OUT: overwrite = true; break;
        case 'h': return ml_usage_exit(&app, usage, 0);
        default: bad = true;
        }
    }
    if (!bad && optind < argc) {
        for (int t = 0; t < 4; t++)
            if (!strcmp(argv[optind], type_names[t]))
                g.type = t;
        if (g.type < 0 || optind + 1 < argc) {
            if (app.master)
                fprintf(stderr, "kiln-datagen: %s '%s'\n", g.type < 0 ? "unknown TYPE"
                        : "unexpected argument", argv[g.type < 0 ? optind : optind + 1]);
            bad = true;
        }
    }
    const char *why = NULL;
    if (!bad) {
        why = g.type < 0 ? "missing TYPE" : !rows ? "missing -n ROWS"
              : !dim ? "missing -d DIM" : !out ? "missing -o OUT" : NULL;
        if (!why && g.signed_labels && (g.type != T_CLASSIFICATION || (k && k != 2)))
            why = "--signed-labels is for two-class classification";
        if (!why && g.type == T_REGRESSION && k)
            why = "-k is not for regression";
    }
    if (why && app.master)
        fprintf(stderr, "kiln-datagen: %s\n", why);
    if (bad || why)
        return ml_usage_exit(&app, usage, 2);

    g.d = (uint32_t)dim;
    g.k = (uint32_t)(k ? k : g.type == T_BLOBS ? 3 : g.type == T_REGRESSION ? 1 : 2);
    if (isnan(g.noise))
        g.noise = g.type == T_REGRESSION ? 0.1 : 1.0;
    g.seed_x = ml_mix64(seed ^ 0x78ull);
    g.seed_u = ml_mix64(seed ^ 0x75ull);
    kiln_status st = make_truth(&g, seed);

    kiln_dataset *index = NULL, *data = NULL, *lines = NULL;
    kiln_schema s = kiln_schema_of(KILN_T_F64,
                                   kiln_type_fixed((size_t)g.d * 8, NULL, NULL, NULL));
    double t0 = ml_now();
    if (st == KILN_OK)
        st = kiln_range(app.ctx, 0, (int64_t)rows, 1, (uint32_t)parts, &index);
    if (st == KILN_OK)
        st = kiln_dataset_map(index, s, rows_batch, &g, &data);
    text_arg ta = {g.d, format == F_LIBSVM};
    if (st == KILN_OK && format == F_HDF5) {
        kiln_hdf5_options ho = {.overwrite = overwrite};
        st = kiln_ml_save_hdf5(data, out, &ho);
    } else if (st == KILN_OK) {
        kiln_save_options so = {.overwrite = overwrite};
        st = kiln_dataset_map(data, kiln_schema_of(KILN_T_NONE, KILN_T_STRING),
                              text_batch, &ta, &lines);
        if (st == KILN_OK)
            st = kiln_dataset_save_text(lines, out, &so);
    }
    if (st == KILN_OK && truth)
        st = write_truth(app.ctx, &g, truth, seed, overwrite);
    if (st == KILN_OK)
        kiln_log(app.ctx, "kiln-datagen: %" PRIu64 " %s rows of %u features in %s "
                 "(%.2f s)", rows, type_names[g.type], g.d, out, ml_now() - t0);
    kiln_dataset_destroy(&lines);
    kiln_dataset_destroy(&data);
    kiln_dataset_destroy(&index);
    free(g.centres);
    free(g.w);
    free(g.b);
    free(g.cdf);
    free(g.prob);
    return ml_end(&app, st == KILN_OK ? 0 : ml_fail(&app, st));
}
