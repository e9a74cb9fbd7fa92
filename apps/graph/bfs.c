/* kiln-bfs: breadth-first search levels from one vertex.
 *
 *   mpirun -np N kiln-bfs --source S -o OUTDIR INPUT...
 *
 * Level by level: the vertices found last (the frontier) offer level + 1
 * along their out-edges (kiln_graph_scatter, minimum; offers to one vertex
 * combined on the sending rank), and the vertices whose level dropped are
 * the next frontier. Work per level is proportional to the frontier's
 * edges, not to the graph. Output: "vertex<TAB>level" for every vertex
 * reachable from S (S itself at level 0); summary "bfs: source=S
 * reached=N levels=L". A source that is no vertex of the graph (named by
 * no edge) is an error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char usage_head[] =
    "usage: kiln-bfs --source S [OPTIONS] -o OUTDIR INPUT...\n"
    "  -s, --source S           the vertex id to start from (required)\n"
    "      --iterations N       at most N rounds (default: until done); a run\n"
    "                           stopped early writes what it has found\n";

static kiln_status reached(const kiln_batch *in, uint8_t *keep, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++)
        keep[i] = kiln_batch_value_u64(in, i) != UINT64_MAX;
    return KILN_OK;
}

int main(int argc, char **argv)
{
    gapp a;
    if (!gapp_init(&a, "kiln-bfs", &argc, &argv))
        return 1;
    uint64_t source = 0, max_rounds = UINT64_MAX;
    int rc = gapp_traversal_args(&a, argc, argv, usage_head, &source, &max_rounds);
    if (rc >= 0)
        return rc;

    kiln_graph *g = NULL;
    uint64_t *level = NULL, *offer = NULL;
    uint32_t *frontier = NULL, *next = NULL;
    uint64_t round = 0, total = 1, reach = 0, deepest = 0;
    size_t nf = 0;
    kiln_status st = gapp_load(&a, KILN_GRAPH_OUT, false, false, &g);
    if (st != KILN_OK)
        goto done;
    uint64_t handle;
    if ((st = gapp_find_source(&a, g, source, &handle)) != KILN_OK)
        goto done;
    const uint32_t n = kiln_graph_local_count(g);
    level = gapp_alloc(n, 8);
    offer = gapp_alloc(n, 8);
    frontier = gapp_alloc(n, 4);
    next = gapp_alloc(n, 4);
    if ((st = gapp_agree(&a, level && offer && frontier && next, "levels")) != KILN_OK)
        goto done;
    for (uint32_t v = 0; v < n; v++)
        level[v] = UINT64_MAX;
    void *cols[1] = {level};
    if ((st = kiln_graph_resume(g, "bfs", cols, 1, &round)) != KILN_OK)
        goto done;
    if (round == 0) {
        uint32_t s;
        if (kiln_graph_handle_local(g, handle, &s)) {
            level[s] = 0;
            frontier[nf++] = s;
        }
    } else { /* the frontier of a resumed run: the last level found */
        for (uint32_t v = 0; v < n; v++)
            if (level[v] == round)
                frontier[nf++] = v;
    }
    while (total > 0 && round < max_rounds) {
        for (size_t i = 0; i < nf; i++)
            offer[frontier[i]] = level[frontier[i]] + 1;
        size_t nn = 0;
        if ((st = kiln_graph_scatter(g, KILN_GRAPH_OUT, KILN_KIND_U64, KILN_OP_MIN,
                                     false, frontier, nf, offer, level, next, &nn,
                                     &total)) != KILN_OK)
            goto done;
        uint32_t *t = frontier;
        frontier = next;
        next = t;
        nf = nn;
        if (total == 0)
            break;
        round++;
        if ((st = gapp_checkpoint(&a, g, "bfs", round, cols, 1)) != KILN_OK)
            goto done;
    }
    a.t_done = MPI_Wtime();
    for (uint32_t v = 0; v < n; v++)
        offer[v] = level[v] != UINT64_MAX;
    if ((st = kiln_graph_reduce(g, KILN_KIND_U64, KILN_OP_SUM, offer, &reach)) != KILN_OK)
        goto done;
    for (uint32_t v = 0; v < n; v++)
        offer[v] = level[v] != UINT64_MAX ? level[v] : 0;
    if ((st = kiln_graph_reduce(g, KILN_KIND_U64, KILN_OP_MAX, offer, &deepest)) !=
        KILN_OK)
        goto done;
    if ((st = gapp_save(&a, g, KILN_KIND_U64, level, "level", reached)) != KILN_OK)
        goto done;
    gapp_timing(&a, round + 1);
    if (kiln_context_is_master(a.ctx))
        printf("bfs: source=%llu reached=%llu levels=%llu\n",
               (unsigned long long)source, (unsigned long long)reach,
               (unsigned long long)deepest + 1);
done:
    free(level);
    free(offer);
    free(frontier);
    free(next);
    kiln_graph_destroy(&g);
    return gapp_end(&a, st);
}
