/* apps/graph/common.h: what the graph apps share - the options every one
 * takes (input format, output, checkpoints), loading, writing a per-vertex
 * result as part files or HDF5, and timing. Uses <kiln.h> and
 * <kiln_graph.h> only. */
#ifndef KILN_APPS_GRAPH_COMMON_H
#define KILN_APPS_GRAPH_COMMON_H

#include <getopt.h>
#include <stdbool.h>

#include <kiln.h>
#include <kiln_graph.h>

typedef struct gapp {
    const char *name;            /* "kiln-pagerank" */
    kiln_context *ctx;
    const char *output;          /* -o: a directory, or with --hdf5 a file */
    bool hdf5, overwrite, timing;
    kiln_graph_options load;     /* --format, --undirected, --partitioner */
    uint64_t checkpoint_every;   /* --checkpoint-every K; 0: never */
    const char *const *inputs;
    size_t ninputs;
    double t0, t_loaded, t_done; /* MPI_Wtime() marks */
    bool reported;               /* the failure was already printed */
} gapp;

/* The options every graph app takes; put them in the app's table. */
#define GAPP_OPTIONS                                                       \
    {"output", required_argument, NULL, 'o'},                              \
    {"hdf5", no_argument, NULL, 0x100},                                    \
    {"overwrite", no_argument, NULL, 'f'},                                 \
    {"format", required_argument, NULL, 0x101},                            \
    {"undirected", no_argument, NULL, 0x102},                              \
    {"partitioner", required_argument, NULL, 0x103},                       \
    {"checkpoint-every", required_argument, NULL, 0x104},                  \
    {"timing", no_argument, NULL, 0x105},                                  \
    {"help", no_argument, NULL, 'h'}
#define GAPP_SHORT "o:fh"

/* Help text of the shared options, for the app's usage. */
extern const char gapp_common_usage[];

/* kiln_init(); returns false (after reporting) when it failed. */
bool gapp_init(gapp *a, const char *name, int *argc, char ***argv);

/* Handle a shared option: 1 handled, 0 not one of them, -1 bad value
 * (reported on the master). */
int gapp_option(gapp *a, int c, const char *arg);

/* After getopt: --help prints usage and returns 0 (exit 0); a missing
 * output or input is reported with usage and returns 2; otherwise returns
 * -1 and sets the inputs from argv[optind ..]. */
int gapp_args(gapp *a, int argc, char **argv, const char *usage, bool bad);

/* The whole command line of a traversal from one vertex (kiln-bfs,
 * kiln-sssp): the shared options, --source S (required) and
 * --iterations N (default: no limit); usage_head is the app's own part of
 * the help. Returns as gapp_args. */
int gapp_traversal_args(gapp *a, int argc, char **argv, const char *usage_head,
                        uint64_t *source, uint64_t *max_rounds);

/* The handle of vertex id `source`, or an error every rank reports when no
 * edge names it. Collective. */
kiln_status gapp_find_source(gapp *a, kiln_graph *g, uint64_t source,
                             uint64_t *handle);

/* Parse numbers for app options; false (reported) when malformed. */
bool gapp_parse_u64(gapp *a, const char *opt, const char *text, uint64_t *out);
bool gapp_parse_f64(gapp *a, const char *opt, const char *text, double *out);

/* Load the inputs with a->load and the given adjacency (and weights). */
kiln_status gapp_load(gapp *a, kiln_graph_dir adjacency, bool weighted,
                      bool nonnegative, kiln_graph **g);

/* Write per-vertex values (n of `kind` U64 or F64) as "vertex<TAB>value"
 * part files in the output directory, or with --hdf5 as /vertex and
 * /<column> of the output file; keep(v) may drop vertices (NULL: all). */
kiln_status gapp_save(gapp *a, kiln_graph *g, kiln_kind kind, const void *values,
                      const char *column, kiln_filter_fn keep);

/* Print "timing: load=S compute=S iterations=N per_iteration=S" on the
 * master with --timing. */
void gapp_timing(const gapp *a, uint64_t iterations);

/* Print "NAME: error: MESSAGE" on the master (every rank calls it with
 * the same verdict) and return st; gapp_end then prints nothing more. */
kiln_status gapp_fail(gapp *a, kiln_status st, const char *fmt, ...)
    KILN_PRINTF(3, 4);

/* Report a failure, finalise, return the exit status for main(). */
int gapp_end(gapp *a, kiln_status st);

/* A checkpoint of `ncols` state columns when due (and on a signal). */
kiln_status gapp_checkpoint(gapp *a, kiln_graph *g, const char *name,
                            uint64_t iteration, void *const *cols, size_t ncols);

/* n zeroed elements (at least one), released with free(); large arrays on
 * huge pages (common.c says why). */
void *gapp_alloc(size_t n, size_t size);
/* Whether ok holds on every rank (an all-reduce over the job's ranks):
 * local failures, such as an allocation, become everyone's before the
 * next collective call. KILN_OK or KILN_ERR_NOMEM. */
kiln_status gapp_agree(gapp *a, bool ok, const char *what);

#endif
