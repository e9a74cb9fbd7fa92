/* kiln-triangles: the exact number of triangles of a graph.
 *
 *   mpirun -np N kiln-triangles -o OUTDIR INPUT...
 *
 * Counts the triangles of the undirected simple graph under the input:
 * edge directions, self-loops and repeated edges are ignored. The graph
 * layer orients each edge from its lower-(degree, id) end and checks each
 * wedge once, at the owner of its middle vertex, in rounds of bounded
 * size (kiln_graph_triangles_*). Output: "vertex<TAB>triangles", the
 * number of triangles each vertex is in (their sum is three times the
 * count); summary "triangles: count=T". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char usage_head[] =
    "usage: kiln-triangles [OPTIONS] -o OUTDIR INPUT...\n"
    "      --iterations N       at most N rounds (default: until done); a run\n"
    "                           stopped early writes the counts it has\n"
    "(the input is always read as undirected; --undirected changes nothing)\n";

int main(int argc, char **argv)
{
    gapp a;
    if (!gapp_init(&a, "kiln-triangles", &argc, &argv))
        return 1;
    uint64_t max_rounds = UINT64_MAX;
    static const struct option longopts[] = {
        GAPP_OPTIONS,
        {"iterations", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    char usage[4096];
    snprintf(usage, sizeof usage, "%s%s", usage_head, gapp_common_usage);
    int c;
    bool bad = false;
    while ((c = getopt_long(argc, argv, GAPP_SHORT, longopts, NULL)) != -1) {
        int r = gapp_option(&a, c, optarg);
        if (r) {
            bad |= r < 0;
            continue;
        }
        if (c == 'n') {
            bad |= !gapp_parse_u64(&a, "--iterations", optarg, &max_rounds);
            continue;
        }
        if (c == 'h') {
            if (kiln_context_is_master(a.ctx))
                fputs(usage, stdout);
            kiln_finalize(&a.ctx);
            return 0;
        }
        bad = true;
    }
    int rc = gapp_args(&a, argc, argv, usage, bad);
    if (rc >= 0)
        return rc;

    kiln_graph *g = NULL;
    kiln_graph_triangles *t = NULL;
    uint64_t *counts = NULL, *done_ = NULL, rounds = 0, sum = 0;
    a.load.undirected = true;
    kiln_status st = gapp_load(&a, KILN_GRAPH_OUT, false, false, &g);
    if (st != KILN_OK)
        goto done;
    const uint32_t n = kiln_graph_local_count(g);
    counts = gapp_alloc(n, 8);
    done_ = gapp_alloc(n, 8);
    if ((st = gapp_agree(&a, counts && done_, "counts")) != KILN_OK)
        goto done;
    void *cols[2] = {counts, done_};
    if ((st = kiln_graph_resume(g, "triangles", cols, 2, &rounds)) != KILN_OK ||
        (st = kiln_graph_triangles_begin(g, counts, done_, &t)) != KILN_OK)
        goto done;
    bool finished = false;
    while (!finished && rounds < max_rounds) {
        if ((st = kiln_graph_triangles_step(t, &finished)) != KILN_OK)
            goto done;
        rounds++;
        if (!finished &&
            (st = gapp_checkpoint(&a, g, "triangles", rounds, cols, 2)) != KILN_OK)
            goto done;
    }
    a.t_done = MPI_Wtime();
    if ((st = kiln_graph_reduce(g, KILN_KIND_U64, KILN_OP_SUM, counts, &sum)) != KILN_OK)
        goto done;
    if ((st = gapp_save(&a, g, KILN_KIND_U64, counts, "triangles", NULL)) != KILN_OK)
        goto done;
    gapp_timing(&a, rounds);
    if (kiln_context_is_master(a.ctx))
        printf("triangles: count=%llu\n", (unsigned long long)(sum / 3));
done:
    kiln_graph_triangles_end(&t);
    free(counts);
    free(done_);
    kiln_graph_destroy(&g);
    return gapp_end(&a, st);
}
