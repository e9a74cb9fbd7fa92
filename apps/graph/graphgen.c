/* kiln-graphgen: R-MAT graphs with Graph500's parameters.
 *
 *   mpirun -np N kiln-graphgen --scale S [--edge-factor F] [--seed X]
 *                              [--weights] [--format FMT] -o PATH
 *
 * Edge i of the F * 2^S edges chooses, S times, one quadrant of the
 * adjacency matrix with probabilities a = 0.57, b = 0.19, c = 0.19,
 * d = 0.05 (Graph500's Kronecker generator without its per-level noise),
 * each choice adding one bit to the source and one to the destination.
 * Ids are then scrambled by a pseudo-random permutation of [0, 2^S) (so
 * the high-degree vertices are not the small ids), and with --weights each
 * edge gets a weight uniform in [0, 1). Every random number is a hash of
 * (seed, edge, draw): edges are generated in parallel, each partition of
 * the edge range wherever Kiln runs it, and the output is the same at any
 * number of ranks. Self-loops and repeated edges are kept, as Graph500
 * does. Formats: text (part files of "src<TAB>dst[<TAB>weight]" lines),
 * binary (16- or, with weights, 24-byte records; part files), hdf5 (one
 * file with /src, /dst, /weight). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln.h>
#include <kiln_graph.h>

static const char usage[] =
    "usage: kiln-graphgen --scale S [OPTIONS] -o PATH\n"
    "  -s, --scale S            2^S vertex ids (1 to 40)\n"
    "  -e, --edge-factor F      F * 2^S edges (default 16)\n"
    "      --seed X             random seed (default 1)\n"
    "  -w, --weights            add a weight uniform in [0, 1) to every edge\n"
    "      --format FMT         text, binary or hdf5 (default: hdf5 for a PATH\n"
    "                           ending in .h5/.hdf5, binary for .bin/.wbin,\n"
    "                           else text)\n"
    "  -o, --output PATH        output directory (text, binary) or file (hdf5)\n"
    "  -f, --overwrite          replace PATH if it exists\n"
    "  -h, --help               this text; --kiln-help lists the runtime options\n";

typedef struct gen {
    uint64_t seed;
    unsigned scale;
    bool weights;
} gen;

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The permutation of [0, 2^scale): rounds of bijections on scale-bit
 * numbers (xor with a key, multiplication by an odd number, xor with the
 * value shifted right), all reversible modulo 2^scale. */
static uint64_t permute(const gen *g, uint64_t x)
{
    const uint64_t mask = g->scale >= 64 ? ~0ull : (1ull << g->scale) - 1;
    const unsigned shift = g->scale / 2 + 1;
    for (int r = 0; r < 4; r++) {
        x = (x ^ mix(g->seed * 4 + (uint64_t)r)) & mask;
        x = (x * (mix(g->seed + 0x51 + (uint64_t)r) | 1)) & mask;
        x ^= x >> shift;
    }
    return x;
}

/* Edge i: its ends, before the permutation. 21 random bits per level,
 * three levels per 64-bit draw. */
static void rmat(const gen *g, uint64_t i, uint64_t *u, uint64_t *v)
{
    /* Thresholds of a, a + b, a + b + c in units of 2^-21. */
    const uint64_t ta = 1195376, tab = 1593835, tabc = 1992294;
    uint64_t src = 0, dst = 0, bits = 0;
    for (unsigned level = 0; level < g->scale; level++) {
        if (level % 3 == 0)
            bits = mix(mix(g->seed ^ 0x726d6174ull) ^ (i * 16 + level / 3));
        uint64_t r = bits & ((1u << 21) - 1);
        bits >>= 21;
        unsigned row = r >= tab, col = (r >= ta && r < tab) || r >= tabc;
        src = src << 1 | row;
        dst = dst << 1 | col;
    }
    *u = src;
    *v = dst;
}

static kiln_status edges_of(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    const gen *g = arg;
    for (size_t k = 0; k < in->n; k++) {
        uint64_t i = (uint64_t)kiln_batch_value_i64(in, k), u, v;
        rmat(g, i, &u, &v);
        u = permute(g, u);
        v = permute(g, v);
        kiln_status st;
        if (g->weights) {
            kiln_graph_wdst d = {v, (double)(mix(g->seed ^ 0x77656967ull ^
                                                 mix(i)) >> 11) * 0x1.0p-53};
            st = kiln_emit(out, &u, 8, &d, sizeof d);
        } else {
            st = kiln_emit(out, &u, 8, &v, 8);
        }
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int main(int argc, char **argv)
{
    kiln_context *ctx = NULL;
    if (kiln_init(&argc, &argv, &ctx) != KILN_OK)
        return 1;
    bool master = kiln_context_is_master(ctx), bad = false, overwrite = false;
    gen g = {1, 0, false};
    uint64_t factor = 16;
    const char *output = NULL, *format = NULL;
    static const struct option longopts[] = {
        {"scale", required_argument, NULL, 's'},
        {"edge-factor", required_argument, NULL, 'e'},
        {"seed", required_argument, NULL, 'S'},
        {"weights", no_argument, NULL, 'w'},
        {"format", required_argument, NULL, 'F'},
        {"output", required_argument, NULL, 'o'},
        {"overwrite", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = master;
    int c;
    while ((c = getopt_long(argc, argv, "s:e:wo:fh", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 's':
            g.scale = (unsigned)strtoul(optarg, &end, 10);
            bad |= *end || g.scale < 1 || g.scale > 40;
            break;
        case 'e':
            factor = strtoull(optarg, &end, 10);
            bad |= *end || factor < 1 || factor > 1024;
            break;
        case 'S':
            g.seed = strtoull(optarg, &end, 10);
            bad |= *end != '\0';
            break;
        case 'w': g.weights = true; break;
        case 'F': format = optarg; break;
        case 'o': output = optarg; break;
        case 'f': overwrite = true; break;
        case 'h':
            if (master)
                fputs(usage, stdout);
            kiln_finalize(&ctx);
            return 0;
        default: bad = true;
        }
    }
    kiln_graph_format f = KILN_GRAPH_TEXT;
    if (!format && output)
        f = ends_with(output, ".h5") || ends_with(output, ".hdf5") ? KILN_GRAPH_HDF5
            : ends_with(output, ".bin") || ends_with(output, ".wbin") ? KILN_GRAPH_BINARY
            : KILN_GRAPH_TEXT;
    else if (format && !strcmp(format, "hdf5"))
        f = KILN_GRAPH_HDF5;
    else if (format && !strcmp(format, "binary"))
        f = KILN_GRAPH_BINARY;
    else if (format && strcmp(format, "text"))
        bad = true;
    if (f == KILN_GRAPH_BINARY && g.weights) {
        f = KILN_GRAPH_BINARY_WEIGHTED;
        /* Readers tell 24-byte records from 16-byte ones by the name. */
        if (output && !ends_with(output, ".wbin")) {
            if (master)
                fprintf(stderr, "kiln-graphgen: weighted binary edges go to a PATH "
                        "ending in .wbin\n");
            bad = true;
        }
    }
    if (!bad && (!output || g.scale == 0 || optind != argc)) {
        if (master)
            fprintf(stderr, "kiln-graphgen: %s\n", !output ? "missing -o PATH"
                    : g.scale == 0 ? "missing --scale S" : "unexpected arguments");
        bad = true;
    }
    if (bad) {
        if (master)
            fputs(usage, stderr);
        kiln_finalize(&ctx);
        return 2;
    }

    const uint64_t nedges = factor << g.scale;
    kiln_dataset *index = NULL, *edges = NULL;
    kiln_schema s = g.weights ? kiln_schema_of(KILN_T_U64, kiln_type_fixed(16, NULL,
                                                                           NULL, NULL))
                              : kiln_schema_of(KILN_T_U64, KILN_T_U64);
    kiln_status st = kiln_range(ctx, 0, (int64_t)nedges, 1, 0, &index);
    if (st == KILN_OK)
        st = kiln_dataset_flat_map(index, s, edges_of, &g, &edges);
    if (st == KILN_OK)
        st = kiln_graph_save_edges(edges, output, f, overwrite);
    if (st == KILN_OK && master)
        printf("graphgen: scale=%u edge_factor=%llu edges=%llu seed=%llu weights=%s "
               "format=%s\n", g.scale, (unsigned long long)factor,
               (unsigned long long)nedges, (unsigned long long)g.seed,
               g.weights ? "yes" : "no",
               f == KILN_GRAPH_HDF5 ? "hdf5" : f == KILN_GRAPH_TEXT ? "text" : "binary");
    if (st != KILN_OK)
        kiln_report(ctx, "kiln-graphgen", st);
    kiln_dataset_destroy(&edges);
    kiln_dataset_destroy(&index);
    kiln_finalize(&ctx);
    return st == KILN_OK ? 0 : 1;
}
