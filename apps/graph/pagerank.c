/* kiln-pagerank: PageRank of a graph.
 *
 *   mpirun -np N kiln-pagerank [--damping D] [--tol T] [--iterations N]
 *                              [--top K] -o OUTDIR INPUT...
 *
 * Power iteration: rank(v) = (1 - d) / n + d * (sum over edges u -> v of
 * rank(u) / outdeg(u) + M / n), where M is the rank held by vertices with
 * no out-edges (dangling), spread evenly over all n vertices. Parallel
 * edges count as many times as they appear; self-loops count. Ranks start
 * at 1/n and always sum to 1 (up to rounding). Each iteration pulls the
 * contributions over in-edges (kiln_graph_gather, sums in a fixed order),
 * and both global sums are combined in partition order, so the ranks are
 * bit-identical at any number of ranks. Stops when the L1 change of an
 * iteration falls below --tol, or after --iterations. Output:
 * "vertex<TAB>rank"; the master prints the --top K ranks and a summary. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char usage_head[] =
    "usage: kiln-pagerank [OPTIONS] -o OUTDIR INPUT...\n"
    "      --damping D          damping factor (default 0.85)\n"
    "      --tol T              stop when an iteration changes ranks by less than\n"
    "                           T in L1 norm (default 1e-10; 0: never)\n"
    "      --iterations N       at most N iterations (default 100)\n"
    "  -t, --top K              print the K highest ranks (default 10; 0: none)\n";

/* Print the k highest ranks on the master: (rank, vertex) in descending
 * order, through take_ordered on the ranks as keys. */
static kiln_status rank_key(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        double r = kiln_batch_value_f64(in, i);
        uint64_t v = kiln_batch_key_u64(in, i);
        kiln_status st = kiln_emit(out, &r, 8, &v, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status print_top(gapp *a, kiln_graph *g, const double *rank, size_t k)
{
    kiln_dataset *ranks = NULL, *keyed = NULL;
    kiln_collection *top = NULL;
    kiln_order desc = {.descending = true};
    kiln_status st = kiln_graph_values(g, KILN_T_F64, rank, &ranks);
    if (st == KILN_OK)
        st = kiln_dataset_map(ranks, kiln_schema_of(KILN_T_F64, KILN_T_U64), rank_key,
                              NULL, &keyed);
    if (st == KILN_OK)
        st = kiln_dataset_take_ordered(keyed, k, &desc, &top);
    if (st == KILN_OK && kiln_context_is_master(a->ctx)) {
        const kiln_batch *b = kiln_collection_batch(top);
        for (size_t i = 0; i < b->n; i++)
            printf("%llu\t%.12g\n", (unsigned long long)kiln_batch_value_u64(b, i),
                   kiln_batch_key_f64(b, i));
    }
    kiln_collection_destroy(&top);
    kiln_dataset_destroy(&keyed);
    kiln_dataset_destroy(&ranks);
    return st;
}

int main(int argc, char **argv)
{
    gapp a;
    if (!gapp_init(&a, "kiln-pagerank", &argc, &argv))
        return 1;
    double damping = 0.85, tol = 1e-10;
    uint64_t max_it = 100, topk = 10;
    static const struct option longopts[] = {
        GAPP_OPTIONS,
        {"damping", required_argument, NULL, 'd'},
        {"tol", required_argument, NULL, 'e'},
        {"iterations", required_argument, NULL, 'n'},
        {"top", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    char usage[4096];
    snprintf(usage, sizeof usage, "%s%s", usage_head, gapp_common_usage);
    int c;
    bool bad = false;
    while ((c = getopt_long(argc, argv, GAPP_SHORT "t:", longopts, NULL)) != -1) {
        int r = gapp_option(&a, c, optarg);
        if (r) {
            bad |= r < 0;
            continue;
        }
        switch (c) {
        case 'd':
            bad |= !gapp_parse_f64(&a, "--damping", optarg, &damping) ||
                   damping < 0 || damping > 1;
            break;
        case 'e': bad |= !gapp_parse_f64(&a, "--tol", optarg, &tol) || tol < 0; break;
        case 'n': bad |= !gapp_parse_u64(&a, "--iterations", optarg, &max_it); break;
        case 't': bad |= !gapp_parse_u64(&a, "--top", optarg, &topk); break;
        case 'h':
            if (kiln_context_is_master(a.ctx))
                fputs(usage, stdout);
            kiln_finalize(&a.ctx);
            return 0;
        default: bad = true;
        }
    }
    int rc = gapp_args(&a, argc, argv, usage, bad);
    if (rc >= 0)
        return rc;

    kiln_graph *g = NULL;
    double *rank = NULL, *contrib = NULL, *sums = NULL, *partials = NULL;
    uint64_t it = 0;
    double delta = 0, total = 0;
    kiln_status st = gapp_load(&a, KILN_GRAPH_IN, false, false, &g);
    if (st != KILN_OK)
        goto done;
    const uint64_t nv = kiln_graph_vertex_count(g);
    const uint32_t n = kiln_graph_local_count(g);
    const uint64_t *deg = kiln_graph_out_degrees(g);
    const uint32_t *part_of;
    const uint32_t nlp = kiln_graph_local_partitions(g, &part_of);
    rank = gapp_alloc(n, sizeof *rank);
    contrib = gapp_alloc(kiln_graph_slot_count(g), sizeof *contrib);
    sums = gapp_alloc(n, sizeof *sums);
    partials = gapp_alloc(2 * (size_t)nlp, sizeof *partials);
    if ((st = gapp_agree(&a, rank && contrib && sums && partials, "ranks")) != KILN_OK)
        goto done;
    for (uint32_t v = 0; v < n; v++)
        rank[v] = 1.0 / (double)nv;
    void *cols[1] = {rank};
    if ((st = kiln_graph_resume(g, "pagerank", cols, 1, &it)) != KILN_OK)
        goto done;
    const double d = damping, inv_n = nv ? 1.0 / (double)nv : 0;
    while (nv > 0 && it < max_it) {
        /* Contributions, and the dangling mass per partition (added in
         * local order: the same at any rank count). */
        memset(partials, 0, (size_t)nlp * sizeof *partials);
        for (uint32_t v = 0; v < n; v++) {
            if (deg[v]) {
                contrib[v] = rank[v] / (double)deg[v];
            } else {
                contrib[v] = 0;
                partials[part_of[v]] += rank[v];
            }
        }
        double dangling;
        if ((st = kiln_graph_combine(g, KILN_KIND_F64, KILN_OP_SUM, 1, partials,
                                     &dangling)) != KILN_OK ||
            (st = kiln_graph_gather(g, KILN_GRAPH_IN, KILN_KIND_F64, KILN_OP_SUM,
                                    contrib, sums)) != KILN_OK)
            goto done;
        const double base = (1.0 - d) * inv_n + d * dangling * inv_n;
        memset(partials, 0, (size_t)nlp * sizeof *partials);
        for (uint32_t v = 0; v < n; v++) {
            double r = base + d * sums[v];
            partials[part_of[v]] += fabs(r - rank[v]);
            rank[v] = r;
        }
        if ((st = kiln_graph_combine(g, KILN_KIND_F64, KILN_OP_SUM, 1, partials,
                                     &delta)) != KILN_OK)
            goto done;
        it++;
        if ((st = gapp_checkpoint(&a, g, "pagerank", it, cols, 1)) != KILN_OK)
            goto done;
        if (delta < tol)
            break;
    }
    a.t_done = MPI_Wtime();
    if ((st = kiln_graph_reduce(g, KILN_KIND_F64, KILN_OP_SUM, rank, &total)) != KILN_OK)
        goto done;
    if ((st = gapp_save(&a, g, KILN_KIND_F64, rank, "rank", NULL)) != KILN_OK)
        goto done;
    if (topk > 0 && nv > 0 && (st = print_top(&a, g, rank, (size_t)topk)) != KILN_OK)
        goto done;
    gapp_timing(&a, it);
    if (kiln_context_is_master(a.ctx))
        printf("pagerank: vertices=%llu edges=%llu iterations=%llu delta=%.6g "
               "sum=%.12f\n", (unsigned long long)nv,
               (unsigned long long)kiln_graph_edge_count(g), (unsigned long long)it,
               delta, total);
done:
    free(rank);
    free(contrib);
    free(sums);
    free(partials);
    kiln_graph_destroy(&g);
    return gapp_end(&a, st);
}
