/* apps/graph/common.c: options, loading, output and timing shared by the
 * graph apps (see common.h). */
#define _DEFAULT_SOURCE /* madvise */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common.h"

const char gapp_common_usage[] =
    "  -o, --output PATH        write the result into directory PATH (part\n"
    "                           files \"vertex<TAB>value\"), or with --hdf5 into\n"
    "                           the HDF5 file PATH (/vertex and a value column)\n"
    "      --hdf5               write HDF5 instead of part files\n"
    "  -f, --overwrite          replace PATH if it exists (default: refuse)\n"
    "      --format F           input format: text, binary, wbinary, hdf5 or auto\n"
    "                           (default: by name: .h5/.hdf5, .bin, .wbin, else text)\n"
    "      --undirected         add the reverse of every edge\n"
    "      --partitioner P      place vertices by hash (default) or range of id\n"
    "      --checkpoint-every K checkpoint every K iterations (default 0: never);\n"
    "                           --kiln-resume continues from the newest one\n"
    "      --timing             print load and per-iteration seconds\n"
    "  -h, --help               this text; --kiln-help lists the runtime options\n"
    "Inputs: SNAP text edge lists (\"src dst [weight]\", '#' comments), binary\n"
    "(16-byte src,dst or 24-byte src,dst,weight records) or HDF5 (/src, /dst,\n"
    "/weight); files, directories of part files or globs.\n";

static bool master(const gapp *a)
{
    return kiln_context_is_master(a->ctx);
}

bool gapp_init(gapp *a, const char *name, int *argc, char ***argv)
{
    memset(a, 0, sizeof *a);
    a->name = name;
    if (kiln_init(argc, argv, &a->ctx) != KILN_OK)
        return false; /* kiln_init reported it */
    a->t0 = MPI_Wtime();
    opterr = master(a);
    return true;
}

bool gapp_parse_u64(gapp *a, const char *opt, const char *text, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (!*text || *end || text[0] == '-') {
        if (master(a))
            fprintf(stderr, "%s: bad %s '%s'\n", a->name, opt, text);
        return false;
    }
    *out = v;
    return true;
}

bool gapp_parse_f64(gapp *a, const char *opt, const char *text, double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (!*text || *end || v != v) {
        if (master(a))
            fprintf(stderr, "%s: bad %s '%s'\n", a->name, opt, text);
        return false;
    }
    *out = v;
    return true;
}

int gapp_option(gapp *a, int c, const char *arg)
{
    switch (c) {
    case 'o': a->output = arg; return 1;
    case 'f': a->overwrite = true; return 1;
    case 0x100: a->hdf5 = true; return 1;
    case 0x102: a->load.undirected = true; return 1;
    case 0x105: a->timing = true; return 1;
    case 0x101: {
        static const struct { const char *name; kiln_graph_format f; } names[] = {
            {"auto", KILN_GRAPH_AUTO}, {"text", KILN_GRAPH_TEXT},
            {"binary", KILN_GRAPH_BINARY}, {"wbinary", KILN_GRAPH_BINARY_WEIGHTED},
            {"hdf5", KILN_GRAPH_HDF5}};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (!strcmp(arg, names[i].name)) {
                a->load.format = names[i].f;
                return 1;
            }
        if (master(a))
            fprintf(stderr, "%s: unknown --format '%s'\n", a->name, arg);
        return -1;
    }
    case 0x103:
        if (!strcmp(arg, "hash") || !strcmp(arg, "range")) {
            a->load.partitioner = arg[0] == 'h' ? KILN_PARTITION_HASH
                                                : KILN_PARTITION_RANGE;
            return 1;
        }
        if (master(a))
            fprintf(stderr, "%s: --partitioner is hash or range, not '%s'\n",
                    a->name, arg);
        return -1;
    case 0x104:
        return gapp_parse_u64(a, "--checkpoint-every", arg, &a->checkpoint_every)
                   ? 1 : -1;
    default:
        return 0;
    }
}

int gapp_args(gapp *a, int argc, char **argv, const char *usage, bool bad)
{
    if (!bad && (!a->output || optind >= argc)) {
        if (master(a))
            fprintf(stderr, "%s: %s\n", a->name,
                    !a->output ? "missing -o PATH" : "no INPUT given");
        bad = true;
    }
    if (bad) {
        if (master(a))
            fputs(usage, stderr);
        kiln_finalize(&a->ctx);
        return 2;
    }
    a->inputs = (const char *const *)argv + optind;
    a->ninputs = (size_t)(argc - optind);
    return -1;
}

kiln_status gapp_load(gapp *a, kiln_graph_dir adjacency, bool weighted,
                      bool nonnegative, kiln_graph **g)
{
    kiln_graph_options o = a->load;
    o.adjacency = adjacency;
    o.weighted = weighted;
    o.nonnegative = nonnegative;
    kiln_status st = kiln_graph_load(a->ctx, a->inputs, a->ninputs, &o, g);
    a->t_loaded = MPI_Wtime();
    return st;
}

kiln_status gapp_save(gapp *a, kiln_graph *g, kiln_kind kind, const void *values,
                      const char *column, kiln_filter_fn keep)
{
    kiln_type t = kind == KILN_KIND_F64 ? KILN_T_F64 : KILN_T_U64;
    kiln_dataset *all = NULL, *kept = NULL;
    kiln_status st = kiln_graph_values(g, t, values, &all);
    if (st == KILN_OK && keep)
        st = kiln_dataset_filter(all, keep, NULL, &kept);
    kiln_dataset *out = kept ? kept : all;
    if (st == KILN_OK && a->hdf5) {
        kiln_graph_column cols[2] = {{"vertex", KILN_KIND_U64}, {column, kind}};
        kiln_hdf5_options ho;
        memset(&ho, 0, sizeof ho);
        ho.overwrite = a->overwrite;
        st = kiln_graph_save_hdf5(out, a->output, cols, 2, &ho);
    } else if (st == KILN_OK) {
        kiln_save_options so = {.overwrite = a->overwrite};
        st = kiln_dataset_save_text(out, a->output, &so);
    }
    kiln_dataset_destroy(&kept);
    kiln_dataset_destroy(&all);
    return st;
}

void gapp_timing(const gapp *a, uint64_t iterations)
{
    if (!a->timing || !master(a))
        return;
    double load = a->t_loaded - a->t0, compute = a->t_done - a->t_loaded;
    printf("timing: load=%.3f compute=%.3f iterations=%llu per_iteration=%.4f\n",
           load, compute, (unsigned long long)iterations,
           iterations ? compute / (double)iterations : 0.0);
    fflush(stdout);
}

kiln_status gapp_fail(gapp *a, kiln_status st, const char *fmt, ...)
{
    if (master(a)) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "%s: error: ", a->name);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    a->reported = true;
    return st;
}

int gapp_end(gapp *a, kiln_status st)
{
    if (st != KILN_OK && !a->reported)
        kiln_report(a->ctx, a->name, st);
    fflush(stdout);
    kiln_finalize(&a->ctx);
    return st == KILN_OK ? 0 : 1;
}

kiln_status gapp_checkpoint(gapp *a, kiln_graph *g, const char *name,
                            uint64_t iteration, void *const *cols, size_t ncols)
{
    return kiln_graph_checkpoint(g, name, iteration, a->checkpoint_every, cols, ncols);
}

/* Arrays of 2 MiB or more go to 2 MiB-aligned memory marked for
 * transparent huge pages, which this kernel grants only when asked: a
 * gather reads its input at random, and on 4 KiB pages nearly every read
 * missed the TLB too (CC rounds took about 1.2 times as long, and varied
 * more). */
void *gapp_alloc(size_t n, size_t size)
{
    size_t bytes = (n ? n : 1) * size, huge = 2u << 20;
    if (bytes < huge)
        return calloc(n ? n : 1, size);
    bytes = (bytes + huge - 1) / huge * huge;
    void *p = aligned_alloc(huge, bytes);
    if (p) {
        madvise(p, bytes, MADV_HUGEPAGE);
        memset(p, 0, bytes);
    }
    return p;
}

kiln_status gapp_agree(gapp *a, bool ok, const char *what)
{
    int mine = ok ? 1 : 0, all = 0;
    if (MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS)
        all = 0;
    if (all)
        return KILN_OK;
    return gapp_fail(a, KILN_ERR_NOMEM, "out of memory (%s) on some rank", what);
}

int gapp_traversal_args(gapp *a, int argc, char **argv, const char *usage_head,
                        uint64_t *source, uint64_t *max_rounds)
{
    static const struct option longopts[] = {
        GAPP_OPTIONS,
        {"source", required_argument, NULL, 's'},
        {"iterations", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    char usage[4096];
    snprintf(usage, sizeof usage, "%s%s", usage_head, gapp_common_usage);
    bool bad = false, have_source = false;
    *max_rounds = UINT64_MAX;
    int c;
    while ((c = getopt_long(argc, argv, GAPP_SHORT "s:", longopts, NULL)) != -1) {
        int r = gapp_option(a, c, optarg);
        if (r) {
            bad |= r < 0;
            continue;
        }
        switch (c) {
        case 's':
            have_source = gapp_parse_u64(a, "--source", optarg, source);
            bad |= !have_source;
            break;
        case 'n': bad |= !gapp_parse_u64(a, "--iterations", optarg, max_rounds); break;
        case 'h':
            if (kiln_context_is_master(a->ctx))
                fputs(usage, stdout);
            kiln_finalize(&a->ctx);
            return 0;
        default: bad = true;
        }
    }
    if (!bad && !have_source) {
        if (kiln_context_is_master(a->ctx))
            fprintf(stderr, "%s: missing --source S\n", a->name);
        bad = true;
    }
    return gapp_args(a, argc, argv, usage, bad);
}

kiln_status gapp_find_source(gapp *a, kiln_graph *g, uint64_t source,
                             uint64_t *handle)
{
    bool found;
    kiln_status st = kiln_graph_find(g, source, handle, &found);
    if (st == KILN_OK && !found)
        st = gapp_fail(a, KILN_ERR_INVAL, "source vertex %llu is not in the graph "
                       "(no edge names it)", (unsigned long long)source);
    return st;
}
