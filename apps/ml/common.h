/* apps/ml/common.h: what the ML apps share (kiln-kmeans, kiln-logreg,
 * kiln-linreg, kiln-naivebayes, kiln-datagen). Public Kiln API only.
 *
 * Every training app runs the same way on every rank: parse options, load
 * and cache the input (kiln_ml_load + kiln_ml_data_cache), then iterate,
 * each pass over the data one kiln_dataset_aggregate whose result is
 * bit-identical on every rank and at any rank count, so every rank updates
 * the model itself from identical numbers and no model is ever broadcast.
 * The master writes the model file and prints the one summary line. */
#ifndef KILN_APPS_ML_COMMON_H
#define KILN_APPS_ML_COMMON_H

#include <getopt.h>
#include <stdio.h>

#include <kiln.h>

/* Long-only option codes shared by the apps (apps use chars for theirs). */
enum {
    OPT_FORMAT = 256, OPT_LABEL_COLUMN, OPT_HEADER, OPT_DELIMITER, OPT_DIM,
    OPT_SPARSE, OPT_SKIP_BAD, OPT_PARTITIONS, OPT_SEED, OPT_MODEL,
    OPT_OVERWRITE, OPT_CHECKPOINT_EVERY, OPT_OUTPUT, OPT_HELP,
    OPT_APP /* first code free for an app's own long-only options */
};

#define ML_COMMON_OPTIONS                                                    \
    {"format", required_argument, NULL, OPT_FORMAT},                         \
    {"label-column", required_argument, NULL, OPT_LABEL_COLUMN},             \
    {"header", required_argument, NULL, OPT_HEADER},                         \
    {"delimiter", required_argument, NULL, OPT_DELIMITER},                   \
    {"dim", required_argument, NULL, OPT_DIM},                               \
    {"sparse", no_argument, NULL, OPT_SPARSE},                               \
    {"skip-bad-lines", no_argument, NULL, OPT_SKIP_BAD},                     \
    {"partitions", required_argument, NULL, OPT_PARTITIONS},                 \
    {"seed", required_argument, NULL, OPT_SEED},                             \
    {"model", required_argument, NULL, OPT_MODEL},                           \
    {"overwrite", no_argument, NULL, OPT_OVERWRITE},                         \
    {"checkpoint-every", required_argument, NULL, OPT_CHECKPOINT_EVERY},     \
    {"output", required_argument, NULL, OPT_OUTPUT},                         \
    {"help", no_argument, NULL, OPT_HELP}

#define ML_INPUT_USAGE                                                       \
    "Input (every app):\n"                                                   \
    "  --format F          libsvm, csv or hdf5 (default: by the first INPUT's\n" \
    "                      name: *.h5/*.hdf5 HDF5, *.csv CSV, else LIBSVM)\n" \
    "  --label-column C    CSV: 1-based column of the label, 'last' (default)\n" \
    "                      or 'none'\n"                                      \
    "  --header H          CSV: 'auto' (default: line 1 of each file is a\n" \
    "                      header if not all numbers), 'none', or N lines\n" \
    "  --delimiter D       CSV: field separator (default ','; 'tab', 'space')\n" \
    "  --dim D             features per row (default: found from the input)\n" \
    "  --skip-bad-lines    skip and count malformed lines instead of failing\n" \
    "  --partitions P      HDF5: partitions per file (default --kiln-partitions)\n" \
    "  INPUT               files, directories or globs (HDF5: /X, /y)\n"

#define ML_COMMON_USAGE                                                      \
    "  --seed S            random seed (default 1)\n"                        \
    "  --model FILE        write (train) or read (predict) the model, HDF5\n" \
    "  --overwrite         replace existing output (model file, -o DIR)\n"   \
    "  -o, --output DIR    predict: part files of one prediction per row\n"  \
    "  -h, --help          this text; --kiln-help lists the runtime options\n"

typedef struct ml_app {
    const char *prog;         /* "kiln-kmeans" */
    const char *short_name;   /* "kmeans": summary prefix, checkpoint name */
    kiln_context *ctx;
    bool master;
    bool predict;             /* first argument was "predict" */
    kiln_ml_options in;       /* input options */
    uint64_t seed;
    const char *model;        /* --model */
    const char *output;       /* predict: -o */
    bool overwrite;
    uint64_t checkpoint_every;
    char **inputs;            /* borrowed from argv */
    int ninputs;
    double t_start;           /* ml_now() at start */
    bool reported;            /* an error was printed already */
} ml_app;

/* Start: kiln_init, "predict" as the first argument, BLAS on one thread
 * per rank (unless OPENBLAS_NUM_THREADS says). Returns false (after
 * printing nothing) when kiln_init failed. */
bool ml_begin(ml_app *app, const char *prog, const char *short_name,
              int *argc, char ***argv);

/* Handle one common option from getopt_long; returns 1 if it was one, 0
 * if not, -1 if its value is bad (reported on the master). OPT_HELP is
 * returned as 2: print usage, exit 0. */
int ml_common_option(ml_app *app, int c, const char *arg);

/* Parsers for option values; false on a bad value (reported). */
bool ml_parse_u64(ml_app *app, const char *what, const char *s, uint64_t *out);
bool ml_parse_double(ml_app *app, const char *what, const char *s, double *out);

/* After getopt: inputs from argv[optind..]; checks a model path is given
 * when `need_model` and -o in predict mode. Returns false on a usage
 * error (reported). */
bool ml_finish_options(ml_app *app, int argc, char **argv, bool need_model);

/* Report a failed call (master) and return the exit status 1. */
int ml_fail(ml_app *app, kiln_status st);
/* An error the app found itself (the same on every rank): printed on the
 * master as "PROG: error: MESSAGE"; returns st. */
kiln_status ml_error(ml_app *app, kiln_status st, const char *fmt, ...)
    KILN_PRINTF(3, 4);
/* Usage error: print usage to stderr on the master, finalise, status 2. */
int ml_usage_exit(ml_app *app, const char *usage, int status);
/* Finalise and return status. */
int ml_end(ml_app *app, int status);

double ml_now(void);

/* Load and cache the inputs (with dim, sparse as given, overriding the
 * options); logs rows, features and skipped lines. Collective. */
kiln_status ml_load(ml_app *app, uint32_t dim, bool sparse, kiln_ml_data **out,
                    uint64_t *rows);
/* As ml_load for other paths (--test FILE). */
kiln_status ml_load_paths(ml_app *app, char **paths, int npaths, uint32_t dim,
                          bool sparse, kiln_ml_data **out, uint64_t *rows);

/* The distinct labels of rows, sorted (at most max), into *classes
 * (malloc'ed, owned by the caller): one aggregate. KILN_ERR_INVAL when a
 * label is NaN (no labels) or there are more than max. Collective. */
kiln_status ml_classes(ml_app *app, kiln_dataset *rows, size_t max,
                       double **classes, size_t *nclasses);
/* Index of label y in the sorted classes, or -1. */
long ml_class_index(const double *classes, size_t n, double y);

/* Iteration state as doubles, checkpointed every app->checkpoint_every
 * iterations as checkpoint `name` (kiln_parallelize +
 * kiln_iteration_checkpoint); resumed with --kiln-resume. Collective. */
kiln_status ml_state_save(ml_app *app, const char *name, uint64_t iteration,
                          const double *state, size_t n);
/* *state = NULL (and *iteration 0) when there is nothing to resume.
 * *state malloc'ed, owned by the caller. */
kiln_status ml_state_resume(ml_app *app, const char *name, uint64_t *iteration,
                            double **state, size_t *n);

/* Predict mode: load the inputs with dim and sparse, map each row to one
 * value of type `out` with fn(batch of rows) (fn must emit one plain
 * value per row with kiln_emit(out, NULL, 0, ...)), write the values as
 * text part files into app->output. Collective. */
kiln_status ml_predict(ml_app *app, uint32_t dim, bool sparse, kiln_type out,
                       kiln_map_fn fn, void *arg, uint64_t *rows);

/* Model attributes from numbers. */
kiln_status ml_attr_u64(kiln_ml_model *m, const char *name, uint64_t v);
kiln_status ml_attr_double(kiln_ml_model *m, const char *name, double v);
/* The input options as attributes (format, label column, ...). */
kiln_status ml_attr_inputs(ml_app *app, kiln_ml_model *m);
/* An attribute as a number; false if absent or not one. */
bool ml_model_u64(const kiln_ml_model *m, const char *name, uint64_t *v);

/* ---- deterministic random numbers: a function of (seed, a, b) only ---- */

uint64_t ml_mix64(uint64_t z);
/* Uniform in [0, 1). */
double ml_uniform(uint64_t seed, uint64_t a, uint64_t b);
/* Standard normal (Box-Muller over two uniforms). */
double ml_normal(uint64_t seed, uint64_t a, uint64_t b);

/* A sequential generator (splitmix64) for serial code on every rank. */
typedef struct ml_rng {
    uint64_t state;
} ml_rng;
double ml_rng_uniform(ml_rng *r);

#endif
