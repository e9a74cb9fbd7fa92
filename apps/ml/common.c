/* apps/ml/common.c: options, loading, classes, iteration checkpoints,
 * predict mode and random numbers shared by the ML apps. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "common.h"

double ml_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

bool ml_begin(ml_app *app, const char *prog, const char *short_name,
              int *argc, char ***argv)
{
    memset(app, 0, sizeof *app);
    app->prog = prog;
    app->short_name = short_name;
    app->seed = 1;
    app->t_start = ml_now();
    if (kiln_init(argc, argv, &app->ctx) != KILN_OK)
        return false;
    app->master = kiln_context_is_master(app->ctx);
    if (*argc > 1 && !strcmp((*argv)[1], "predict")) {
        app->predict = true;
        /* Drop the word so getopt sees options only. */
        for (int i = 1; i + 1 < *argc; i++)
            (*argv)[i] = (*argv)[i + 1];
        (*argc)--;
    }
    /* One rank per core is the MPI way; BLAS threads on top would fight
     * the other ranks for the same cores. */
    if (!getenv("OPENBLAS_NUM_THREADS"))
        openblas_set_num_threads(1);
    return true;
}

static void complain(ml_app *app, const char *fmt, const char *what,
                     const char *value)
{
    if (app->master) {
        fprintf(stderr, "%s: ", app->prog);
        fprintf(stderr, fmt, what, value);
        fputc('\n', stderr);
    }
}

bool ml_parse_u64(ml_app *app, const char *what, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = s && *s >= '0' && *s <= '9' ? strtoull(s, &end, 10) : 0;
    if (!s || *s < '0' || *s > '9' || errno || *end) {
        complain(app, "bad %s '%s'", what, s ? s : "");
        return false;
    }
    *out = v;
    return true;
}

bool ml_parse_double(ml_app *app, const char *what, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || end == s || *end || errno || !isfinite(v)) {
        complain(app, "bad %s '%s'", what, s ? s : "");
        return false;
    }
    *out = v;
    return true;
}

int ml_common_option(ml_app *app, int c, const char *arg)
{
    uint64_t v;
    switch (c) {
    case OPT_FORMAT:
        if (!strcmp(arg, "libsvm") || !strcmp(arg, "svmlight"))
            app->in.format = KILN_ML_LIBSVM;
        else if (!strcmp(arg, "csv"))
            app->in.format = KILN_ML_CSV;
        else if (!strcmp(arg, "hdf5") || !strcmp(arg, "h5"))
            app->in.format = KILN_ML_HDF5;
        else {
            complain(app, "bad %s '%s' (libsvm, csv or hdf5)", "--format", arg);
            return -1;
        }
        return 1;
    case OPT_LABEL_COLUMN:
        if (!strcmp(arg, "last"))
            app->in.label_column = KILN_ML_LABEL_LAST;
        else if (!strcmp(arg, "none"))
            app->in.label_column = KILN_ML_LABEL_NONE;
        else if (ml_parse_u64(app, "--label-column", arg, &v) && v >= 1 &&
                 v <= INT32_MAX)
            app->in.label_column = (int64_t)v;
        else
            return -1;
        return 1;
    case OPT_HEADER:
        if (!strcmp(arg, "auto"))
            app->in.header = KILN_ML_HEADER_AUTO;
        else if (!strcmp(arg, "none") || !strcmp(arg, "0"))
            app->in.header = KILN_ML_HEADER_NONE;
        else if (ml_parse_u64(app, "--header", arg, &v) && v <= 1000)
            app->in.header = (int32_t)v;
        else
            return -1;
        return 1;
    case OPT_DELIMITER:
        if (!strcmp(arg, "tab"))
            app->in.delimiter = '\t';
        else if (!strcmp(arg, "space"))
            app->in.delimiter = ' ';
        else if (strlen(arg) == 1)
            app->in.delimiter = arg[0];
        else {
            complain(app, "bad %s '%s' (one character, 'tab' or 'space')",
                     "--delimiter", arg);
            return -1;
        }
        return 1;
    case OPT_DIM:
        if (!ml_parse_u64(app, "--dim", arg, &v) || v == 0 || v > UINT32_MAX / 8) {
            if (v == 0)
                complain(app, "bad %s '%s'", "--dim", arg);
            return -1;
        }
        app->in.dim = (uint32_t)v;
        return 1;
    case OPT_SPARSE:
        app->in.sparse = true;
        return 1;
    case OPT_SKIP_BAD:
        app->in.skip_bad_lines = true;
        return 1;
    case OPT_PARTITIONS:
        if (!ml_parse_u64(app, "--partitions", arg, &v) || v == 0 || v > 1000000) {
            if (v == 0)
                complain(app, "bad %s '%s'", "--partitions", arg);
            return -1;
        }
        app->in.partitions = (uint32_t)v;
        return 1;
    case OPT_SEED:
        return ml_parse_u64(app, "--seed", arg, &app->seed) ? 1 : -1;
    case OPT_MODEL:
        app->model = arg;
        return 1;
    case OPT_OVERWRITE:
        app->overwrite = true;
        return 1;
    case OPT_CHECKPOINT_EVERY:
        return ml_parse_u64(app, "--checkpoint-every", arg, &app->checkpoint_every)
                   ? 1 : -1;
    case OPT_OUTPUT:
    case 'o':
        app->output = arg;
        return 1;
    case OPT_HELP:
    case 'h':
        return 2;
    default:
        return 0;
    }
}

bool ml_finish_options(ml_app *app, int argc, char **argv, bool need_model)
{
    const char *why = NULL;
    if (optind >= argc)
        why = "no INPUT given";
    else if (app->predict && !app->model)
        why = "predict needs --model FILE";
    else if (app->predict && !app->output)
        why = "predict needs -o DIR";
    else if (!app->predict && need_model && !app->model)
        why = "missing --model FILE";
    else if (!app->predict && app->output)
        why = "-o is for predict mode (the model goes to --model)";
    if (why) {
        if (app->master)
            fprintf(stderr, "%s: %s\n", app->prog, why);
        return false;
    }
    app->inputs = argv + optind;
    app->ninputs = argc - optind;
    return true;
}

int ml_fail(ml_app *app, kiln_status st)
{
    if (!app->reported)
        kiln_report(app->ctx, app->prog, st);
    return 1;
}

kiln_status ml_error(ml_app *app, kiln_status st, const char *fmt, ...)
{
    if (app->master && !app->reported) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "%s: error: ", app->prog);
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, " (%s)\n", kiln_strerror(st));
        va_end(ap);
    }
    app->reported = true;
    return st;
}

int ml_usage_exit(ml_app *app, const char *usage, int status)
{
    if (app->master)
        fputs(usage, status ? stderr : stdout);
    kiln_finalize(&app->ctx);
    return status;
}

int ml_end(ml_app *app, int status)
{
    kiln_finalize(&app->ctx);
    return status;
}

/* ---- loading ---- */

kiln_status ml_load_paths(ml_app *app, char **paths, int npaths, uint32_t dim,
                          bool sparse, kiln_ml_data **out, uint64_t *rows)
{
    kiln_ml_options o = app->in;
    double t0 = ml_now();
    uint64_t skipped = 0;
    o.dim = dim;
    o.sparse = sparse;
    kiln_ml_data *d = NULL;
    kiln_status st = kiln_ml_load(app->ctx, (const char *const *)paths,
                                  (size_t)npaths, &o, &d);
    if (st == KILN_OK)
        st = kiln_ml_data_cache(d, rows, &skipped);
    if (st != KILN_OK) {
        kiln_ml_data_destroy(&d);
        return st;
    }
    kiln_log(app->ctx, "%s: %" PRIu64 " rows of %u features from %s%s in %.2f s%s",
             app->prog, *rows, kiln_ml_data_dim(d), paths[0],
             npaths > 1 ? " and more" : "", ml_now() - t0,
             kiln_ml_data_sparse(d) ? " (sparse)" : "");
    if (skipped)
        kiln_log(app->ctx, "%s: skipped %" PRIu64 " malformed lines", app->prog,
                 skipped);
    *out = d;
    return KILN_OK;
}

kiln_status ml_load(ml_app *app, uint32_t dim, bool sparse, kiln_ml_data **out,
                    uint64_t *rows)
{
    return ml_load_paths(app, app->inputs, app->ninputs, dim, sparse, out, rows);
}

/* ---- classes: a sorted set of at most max labels per partition ---- */

typedef struct class_set {
    size_t max;
} class_set;

/* acc: uint64 count, flag (1: a NaN label, 2: too many), then max doubles */
static kiln_status class_insert(unsigned char *acc, size_t max, double y)
{
    uint64_t n, flags;
    memcpy(&n, acc, 8);
    memcpy(&flags, acc + 8, 8);
    double *v = (double *)(acc + 16);
    if (isnan(y)) {
        flags |= 1;
        memcpy(acc + 8, &flags, 8);
        return KILN_OK;
    }
    size_t lo = 0, hi = (size_t)n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid] < y)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < n && v[lo] == y)
        return KILN_OK;
    if (n == max) {
        flags |= 2;
        memcpy(acc + 8, &flags, 8);
        return KILN_OK;
    }
    memmove(v + lo + 1, v + lo, ((size_t)n - lo) * sizeof *v);
    v[lo] = y == 0 ? 0.0 : y; /* -0.0 and 0.0 are one class */
    n++;
    memcpy(acc, &n, 8);
    return KILN_OK;
}

static kiln_status class_seq(void *acc, const kiln_batch *in, void *arg)
{
    const class_set *cs = arg;
    double last = NAN;
    for (size_t i = 0; i < in->n; i++) {
        double y = kiln_batch_key_f64(in, i);
        if (y == last) /* labels come in runs; skip the search */
            continue;
        class_insert(acc, cs->max, y);
        last = y;
    }
    return KILN_OK;
}

static kiln_status class_comb(void *acc, const void *other, void *arg)
{
    const class_set *cs = arg;
    const unsigned char *o = other;
    uint64_t n, flags, mine;
    memcpy(&n, o, 8);
    memcpy(&flags, o + 8, 8);
    memcpy(&mine, (unsigned char *)acc + 8, 8);
    mine |= flags;
    memcpy((unsigned char *)acc + 8, &mine, 8);
    for (uint64_t i = 0; i < n; i++) {
        double y;
        memcpy(&y, o + 16 + 8 * i, 8);
        class_insert(acc, cs->max, y);
    }
    return KILN_OK;
}

kiln_status ml_classes(ml_app *app, kiln_dataset *rows, size_t max,
                       double **classes, size_t *nclasses)
{
    class_set cs = {max};
    size_t size = 16 + 8 * max;
    unsigned char *zero = calloc(1, size), *acc = malloc(size);
    kiln_status st = zero && acc ? KILN_OK : KILN_ERR_NOMEM;
    if (st == KILN_OK)
        st = kiln_dataset_aggregate(rows, zero, size, class_seq, class_comb, &cs, acc);
    uint64_t n = 0, flags = 0;
    if (st == KILN_OK) {
        memcpy(&n, acc, 8);
        memcpy(&flags, acc + 8, 8);
        if (flags & 1)
            st = ml_error(app, KILN_ERR_INVAL, "the input has rows without a "
                          "label (NaN); %s needs labels", app->prog);
        else if (flags & 2)
            st = ml_error(app, KILN_ERR_LIMIT, "more than %zu distinct labels", max);
    }
    double *v = NULL;
    if (st == KILN_OK && !(v = malloc((n ? n : 1) * sizeof *v)))
        st = KILN_ERR_NOMEM;
    if (st == KILN_OK) {
        memcpy(v, acc + 16, 8 * n);
        *classes = v;
        *nclasses = (size_t)n;
    }
    free(zero);
    free(acc);
    return st;
}

long ml_class_index(const double *classes, size_t n, double y)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (classes[mid] < y)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && classes[lo] == y ? (long)lo : -1;
}

/* ---- iteration checkpoints ---- */

kiln_status ml_state_save(ml_app *app, const char *name, uint64_t iteration,
                          const double *state, size_t n)
{
    if (app->checkpoint_every == 0 || iteration % app->checkpoint_every != 0)
        return KILN_OK;
    kiln_batch b;
    memset(&b, 0, sizeof b);
    b.n = n;
    b.values = (const unsigned char *)state;
    b.value_size = 8;
    kiln_dataset *ds = NULL;
    kiln_status st = kiln_parallelize(app->ctx, kiln_schema_of(KILN_T_NONE, KILN_T_F64),
                                      &b, 1, &ds);
    if (st == KILN_OK)
        st = kiln_iteration_checkpoint(ds, name, iteration, app->checkpoint_every);
    kiln_dataset_destroy(&ds);
    return st;
}

kiln_status ml_state_resume(ml_app *app, const char *name, uint64_t *iteration,
                            double **state, size_t *n)
{
    kiln_dataset *ds = NULL;
    kiln_collection *c = NULL;
    *state = NULL;
    *n = 0;
    *iteration = 0;
    uint64_t it = 0;
    kiln_status st = kiln_iteration_resume(app->ctx, name, &it, &ds);
    if (st != KILN_OK || !ds)
        return st;
    st = kiln_dataset_collect(ds, KILN_ALL_RANKS, &c);
    if (st == KILN_OK) {
        const kiln_batch *b = kiln_collection_batch(c);
        double *v = malloc((b->n ? b->n : 1) * sizeof *v);
        if (!v) {
            st = KILN_ERR_NOMEM;
        } else {
            for (size_t i = 0; i < b->n; i++)
                v[i] = kiln_batch_value_f64(b, i);
            *state = v;
            *n = b->n;
            *iteration = it;
            kiln_log(app->ctx, "%s: resuming after iteration %" PRIu64, app->prog, it);
        }
    }
    kiln_collection_destroy(&c);
    kiln_dataset_destroy(&ds);
    return st;
}

/* ---- predict mode ---- */

kiln_status ml_predict(ml_app *app, uint32_t dim, bool sparse, kiln_type out,
                       kiln_map_fn fn, void *arg, uint64_t *rows)
{
    kiln_ml_data *d = NULL;
    kiln_dataset *pred = NULL;
    kiln_ml_options o = app->in;
    o.dim = dim;
    o.sparse = sparse;
    kiln_status st = kiln_ml_load(app->ctx, (const char *const *)app->inputs,
                                  (size_t)app->ninputs, &o, &d);
    if (st == KILN_OK)
        st = kiln_dataset_map(kiln_ml_data_rows(d), kiln_schema_of(KILN_T_NONE, out),
                              fn, arg, &pred);
    kiln_save_options save = {.overwrite = app->overwrite};
    if (st == KILN_OK)
        st = kiln_dataset_save_text(kiln_dataset_cache(pred), app->output, &save);
    if (st == KILN_OK)
        st = kiln_dataset_count(pred, rows);
    kiln_dataset_destroy(&pred);
    kiln_ml_data_destroy(&d);
    return st;
}

/* ---- model attributes ---- */

kiln_status ml_attr_u64(kiln_ml_model *m, const char *name, uint64_t v)
{
    char text[32];
    snprintf(text, sizeof text, "%" PRIu64, v);
    return kiln_ml_model_put_attr(m, name, text);
}

kiln_status ml_attr_double(kiln_ml_model *m, const char *name, double v)
{
    char text[40];
    snprintf(text, sizeof text, "%.17g", v);
    return kiln_ml_model_put_attr(m, name, text);
}

kiln_status ml_attr_inputs(ml_app *app, kiln_ml_model *m)
{
    static const char *const formats[] = {"auto", "libsvm", "csv", "hdf5"};
    char text[64];
    kiln_status st = kiln_ml_model_put_attr(m, "format", formats[app->in.format]);
    if (st == KILN_OK) {
        if (app->in.label_column == KILN_ML_LABEL_LAST)
            snprintf(text, sizeof text, "last");
        else if (app->in.label_column == KILN_ML_LABEL_NONE)
            snprintf(text, sizeof text, "none");
        else
            snprintf(text, sizeof text, "%lld", (long long)app->in.label_column);
        st = kiln_ml_model_put_attr(m, "label_column", text);
    }
    if (st == KILN_OK)
        st = kiln_ml_model_put_attr(m, "sparse", app->in.sparse ? "yes" : "no");
    if (st == KILN_OK)
        st = ml_attr_u64(m, "seed", app->seed);
    if (st == KILN_OK)
        st = kiln_ml_model_put_attr(m, "kiln_version", KILN_VERSION_STRING);
    return st;
}

bool ml_model_u64(const kiln_ml_model *m, const char *name, uint64_t *v)
{
    const char *s = kiln_ml_model_attr(m, name);
    char *end;
    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *v = x;
    return true;
}

/* ---- random numbers ---- */

uint64_t ml_mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

double ml_uniform(uint64_t seed, uint64_t a, uint64_t b)
{
    uint64_t h = ml_mix64(ml_mix64(ml_mix64(seed) ^ a) ^ b);
    return (double)(h >> 11) * 0x1.0p-53;
}

double ml_normal(uint64_t seed, uint64_t a, uint64_t b)
{
    double u1 = ml_uniform(seed, a, 2 * b), u2 = ml_uniform(seed, a, 2 * b + 1);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

double ml_rng_uniform(ml_rng *r)
{
    r->state += 0x9e3779b97f4a7c15u;
    uint64_t z = r->state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}
