/* pagerank_serial: the serial baseline of the graph benchmark (graph.sh).
 *
 *   pagerank-serial [-n ITERATIONS] [-d DAMPING] [-o OUT] INPUT...
 *
 * INPUT: binary edge files (16-byte records: uint64 src, uint64 dst, host
 * order) or directories of them (kiln-graphgen's part files). The same
 * PageRank as kiln-pagerank (dangling mass spread evenly, parallel edges
 * and self-loops counted, ranks from 1/n), written as a single-threaded C
 * program should be for speed: ids are numbered densely through one
 * open-addressing table (any 64-bit ids), then renumbered by decreasing
 * in-degree (graph_serial.h says why), in-edges are kept as compressed
 * sparse rows of 32-bit indices built by a counting sort, and each
 * iteration is a pull over them: contributions rank/outdeg first, then
 * one sequential pass per vertex over its in-neighbours.
 *
 * Prints "timing: load=S compute=S iterations=N per_iteration=S" like the
 * Kiln apps' --timing, and with -o writes "vertex<TAB>rank" lines (%.17g)
 * for checking against kiln-pagerank. */
#include "huge_alloc.h" /* first: it asks for madvise() */

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "graph_serial.h"

int main(int argc, char **argv)
{
    int iterations = 10;
    double d = 0.85;
    const char *out = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            iterations = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-d") && i + 1 < argc)
            d = atof(argv[++i]);
        else if (!strcmp(argv[i], "-o") && i + 1 < argc)
            out = argv[++i];
        else {
            fprintf(stderr, "usage: pagerank-serial [-n N] [-d D] [-o OUT] INPUT...\n");
            return 2;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "usage: pagerank-serial [-n N] [-d D] [-o OUT] INPUT...\n");
        return 2;
    }
    double t0 = gs_now();
    gs_graph g;
    if (!gs_load(&g, (const char *const *)argv + i, (size_t)(argc - i), GS_IN))
        return 1;
    double t1 = gs_now();
    uint32_t n = g.n;
    double *rank = huge_alloc((n ? n : 1) * sizeof *rank);
    double *contrib = huge_alloc((n ? n : 1) * sizeof *contrib);
    if (!rank || !contrib) {
        fprintf(stderr, "pagerank-serial: out of memory\n");
        return 1;
    }
    for (uint32_t v = 0; v < n; v++)
        rank[v] = 1.0 / n;
    const uint64_t *restrict off = g.in_off;
    const uint32_t *restrict adj = g.in_adj;
    double delta = 0;
    for (int it = 0; it < iterations; it++) {
        double dangling = 0;
        for (uint32_t v = 0; v < n; v++) {
            if (g.out_deg[v]) {
                contrib[v] = rank[v] / (double)g.out_deg[v];
            } else {
                contrib[v] = 0;
                dangling += rank[v];
            }
        }
        const double base = (1 - d) / n + d * dangling / n;
        delta = 0;
        for (uint32_t v = 0; v < n; v++) {
            double s = 0;
            for (uint64_t e = off[v], end = off[v + 1]; e < end; e++)
                s += contrib[adj[e]];
            double r = base + d * s;
            delta += fabs(r - rank[v]);
            rank[v] = r;
        }
    }
    double t2 = gs_now();
    printf("timing: load=%.3f compute=%.3f iterations=%d per_iteration=%.4f\n",
           t1 - t0, t2 - t1, iterations, iterations ? (t2 - t1) / iterations : 0.0);
    printf("pagerank-serial: vertices=%u edges=%llu delta=%.6g\n", n,
           (unsigned long long)g.m, delta);
    if (out) {
        FILE *f = fopen(out, "w");
        if (!f) {
            perror(out);
            return 1;
        }
        for (uint32_t v = 0; v < n; v++)
            fprintf(f, "%llu\t%.17g\n", (unsigned long long)g.ids[v], rank[v]);
        fclose(f);
    }
    return 0;
}
