/* kiln-sssp: single-source shortest paths with non-negative weights.
 *
 *   mpirun -np N kiln-sssp --source S -o OUTDIR INPUT...
 *
 * Bellman-Ford over an active set: each round, the vertices whose distance
 * dropped in the last one offer distance + weight along their out-edges
 * (kiln_graph_scatter, minimum, offers to one vertex combined on the
 * sending rank). Offers are read from a copy taken at the start of the
 * round, so the rounds, like the distances, are the same at any rank
 * count. Weights come from the input's third column (1 where a line has
 * none; unweighted binary inputs: all 1); a negative or NaN weight is an
 * error naming where it is. Output: "vertex<TAB>distance" for every vertex
 * reachable from S; summary "sssp: source=S reached=N rounds=R max=D". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char usage_head[] =
    "usage: kiln-sssp --source S [OPTIONS] -o OUTDIR INPUT...\n"
    "  -s, --source S           the vertex id to start from (required)\n"
    "      --iterations N       at most N rounds (default: until done); a run\n"
    "                           stopped early writes what it has found\n";

static kiln_status reached(const kiln_batch *in, uint8_t *keep, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++)
        keep[i] = kiln_batch_value_f64(in, i) != __builtin_inf();
    return KILN_OK;
}

int main(int argc, char **argv)
{
    gapp a;
    if (!gapp_init(&a, "kiln-sssp", &argc, &argv))
        return 1;
    uint64_t source = 0, max_rounds = UINT64_MAX;
    int rc = gapp_traversal_args(&a, argc, argv, usage_head, &source, &max_rounds);
    if (rc >= 0)
        return rc;

    kiln_graph *g = NULL;
    double *dist = NULL, *offer = NULL;
    uint64_t *flag = NULL;
    uint32_t *active = NULL, *next = NULL;
    uint64_t round = 0, total = 1, reach = 0;
    double far = 0;
    size_t na = 0;
    kiln_status st = gapp_load(&a, KILN_GRAPH_OUT, true, true, &g);
    if (st != KILN_OK)
        goto done;
    uint64_t handle;
    if ((st = gapp_find_source(&a, g, source, &handle)) != KILN_OK)
        goto done;
    const uint32_t n = kiln_graph_local_count(g);
    dist = gapp_alloc(n, 8);
    offer = gapp_alloc(n, 8);
    flag = gapp_alloc(n, 8);
    active = gapp_alloc(n, 4);
    next = gapp_alloc(n, 4);
    if ((st = gapp_agree(&a, dist && offer && flag && active && next, "distances")) !=
        KILN_OK)
        goto done;
    for (uint32_t v = 0; v < n; v++)
        dist[v] = __builtin_inf();
    /* State: distances and which vertices are active (flag = 1). */
    void *cols[2] = {dist, flag};
    if ((st = kiln_graph_resume(g, "sssp", cols, 2, &round)) != KILN_OK)
        goto done;
    if (round == 0) {
        uint32_t s;
        if (kiln_graph_handle_local(g, handle, &s)) {
            dist[s] = 0;
            active[na++] = s;
        }
    } else {
        for (uint32_t v = 0; v < n; v++)
            if (flag[v])
                active[na++] = v;
    }
    memset(flag, 0, (size_t)n * 8);
    while (total > 0 && round < max_rounds) {
        for (size_t i = 0; i < na; i++)
            offer[active[i]] = dist[active[i]];
        size_t nn = 0;
        if ((st = kiln_graph_scatter(g, KILN_GRAPH_OUT, KILN_KIND_F64, KILN_OP_MIN,
                                     true, active, na, offer, dist, next, &nn,
                                     &total)) != KILN_OK)
            goto done;
        uint32_t *t = active;
        active = next;
        next = t;
        na = nn;
        if (total == 0)
            break;
        round++;
        for (size_t i = 0; i < na; i++)
            flag[active[i]] = 1;
        st = gapp_checkpoint(&a, g, "sssp", round, cols, 2);
        for (size_t i = 0; i < na; i++)
            flag[active[i]] = 0;
        if (st != KILN_OK)
            goto done;
    }
    a.t_done = MPI_Wtime();
    for (uint32_t v = 0; v < n; v++) {
        flag[v] = dist[v] != __builtin_inf();
        offer[v] = flag[v] ? dist[v] : 0;
    }
    if ((st = kiln_graph_reduce(g, KILN_KIND_U64, KILN_OP_SUM, flag, &reach)) !=
            KILN_OK ||
        (st = kiln_graph_reduce(g, KILN_KIND_F64, KILN_OP_MAX, offer, &far)) != KILN_OK)
        goto done;
    if ((st = gapp_save(&a, g, KILN_KIND_F64, dist, "distance", reached)) != KILN_OK)
        goto done;
    gapp_timing(&a, round + 1);
    if (kiln_context_is_master(a.ctx))
        printf("sssp: source=%llu reached=%llu rounds=%llu max=%.17g\n",
               (unsigned long long)source, (unsigned long long)reach,
               (unsigned long long)round + 1, far);
done:
    free(dist);
    free(offer);
    free(flag);
    free(active);
    free(next);
    kiln_graph_destroy(&g);
    return gapp_end(&a, st);
}
