/* kiln-cc: connected components (weakly connected for a directed input).
 *
 *   mpirun -np N kiln-cc [--iterations N] -o OUTDIR INPUT...
 *
 * FastSV (Zhang, Azad and Hu, 2020), a Shiloach-Vishkin descendant: every
 * vertex keeps a parent f; each round computes grandparents gf = f[f], the
 * smallest grandparent among each vertex's neighbours (both directions),
 * and hooks with it three ways - the parent's parent (stochastic hooking),
 * the vertex itself (aggressive hooking) and its own grandparent
 * (shortcutting) - all by minimum. Trees shrink to stars in a number of
 * rounds that grows with the logarithm of the component sizes, not with
 * their diameter; the rounds end when no grandparent changes. Parents are
 * vertex handles (the same at any rank count), so the rounds are too; each
 * component's root is then renamed to its smallest vertex id. The pull,
 * most of a round, reads grandparents packed into 32 bits when the
 * graph's handles fit (half the bytes read at random). Output:
 * "vertex<TAB>component"; summary "cc: components=C largest=L rounds=R". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char usage_head[] =
    "usage: kiln-cc [OPTIONS] -o OUTDIR INPUT...\n"
    "      --iterations N       at most N rounds (default: until done); a run\n"
    "                           stopped early writes the labels it has\n";

/* Packed grandparents for the pull, when handles fit in 32 bits. */
typedef struct narrow {
    bool on;
    unsigned shift;
    uint32_t *gf;  /* slot count: the pull's input, mirrors filled by it */
    uint32_t *mn;  /* n: its output */
} narrow;

/* mngf[v] = the smallest grandparent among v's neighbours, both
 * directions (a handle above every vertex's when v has none). */
static kiln_status min_neighbour(kiln_graph *g, uint32_t n, uint64_t *gf,
                                 uint64_t *mngf, narrow *nw)
{
    if (!nw->on)
        return kiln_graph_gather(g, KILN_GRAPH_BOTH, KILN_KIND_U64, KILN_OP_MIN, gf,
                                 mngf);
    for (uint32_t v = 0; v < n; v++)
        nw->gf[v] = kiln_graph_handle_pack(gf[v], nw->shift);
    kiln_status st = kiln_graph_gather(g, KILN_GRAPH_BOTH, KILN_KIND_U32, KILN_OP_MIN,
                                       nw->gf, nw->mn);
    /* Packing keeps the order, so the unpacked identity stays above all. */
    for (uint32_t v = 0; v < n; v++)
        mngf[v] = kiln_graph_handle_unpack(nw->mn[v], nw->shift);
    return st;
}

int main(int argc, char **argv)
{
    gapp a;
    if (!gapp_init(&a, "kiln-cc", &argc, &argv))
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
        switch (c) {
        case 'n': bad |= !gapp_parse_u64(&a, "--iterations", optarg, &max_rounds); break;
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
    narrow nw = {0};
    uint64_t *f = NULL, *gf = NULL, *gfn = NULL, *mngf = NULL, *fn = NULL;
    uint64_t *partials = NULL, rounds = 0, changed = 1;
    /* Weak connectivity ignores direction: load the graph undirected, one
     * symmetric row per vertex for the pull to walk instead of an OUT and
     * an IN row, and records without a direction tag (a scale-22 R-MAT
     * graph loaded in 17 s instead of 20 s at one rank). */
    a.load.undirected = true;
    kiln_status st = gapp_load(&a, KILN_GRAPH_OUT, false, false, &g);
    if (st != KILN_OK)
        goto done;
    const uint32_t n = kiln_graph_local_count(g);
    const uint32_t *part_of;
    const uint32_t nlp = kiln_graph_local_partitions(g, &part_of);
    f = gapp_alloc(n, 8);
    gf = gapp_alloc(kiln_graph_slot_count(g), 8); /* gathered from: mirrors too */
    gfn = gapp_alloc(n, 8);
    mngf = gapp_alloc(n, 8);
    fn = gapp_alloc(n, 8);
    partials = gapp_alloc(nlp, 8);
    if ((nw.on = kiln_graph_handle32(g, &nw.shift))) {
        nw.gf = gapp_alloc(kiln_graph_slot_count(g), 4);
        nw.mn = gapp_alloc(n, 4);
    }
    if ((st = gapp_agree(&a, f && gf && gfn && mngf && fn && partials &&
                                 (!nw.on || (nw.gf && nw.mn)), "labels")) != KILN_OK)
        goto done;
    kiln_graph_local_handles(g, f);
    void *cols[1] = {f};
    if ((st = kiln_graph_resume(g, "cc", cols, 1, &rounds)) != KILN_OK ||
        (st = kiln_graph_lookup(g, n, f, f, gf)) != KILN_OK)
        goto done;
    while (changed && rounds < max_rounds) {
        /* The smallest grandparent around each vertex, its own included. */
        if ((st = min_neighbour(g, n, gf, mngf, &nw)) != KILN_OK)
            goto done;
        for (uint32_t v = 0; v < n; v++) {
            if (gf[v] < mngf[v])
                mngf[v] = gf[v];
            fn[v] = f[v];
        }
        /* Stochastic hooking: the parent takes the smaller grandparent. */
        if ((st = kiln_graph_send(g, KILN_KIND_U64, KILN_OP_MIN, n, f, mngf, fn)) !=
            KILN_OK)
            goto done;
        /* Aggressive hooking and shortcutting. */
        for (uint32_t v = 0; v < n; v++) {
            uint64_t m = mngf[v] < gf[v] ? mngf[v] : gf[v];
            if (m < fn[v])
                fn[v] = m;
        }
        memcpy(f, fn, (size_t)n * 8);
        rounds++;
        if ((st = gapp_checkpoint(&a, g, "cc", rounds, cols, 1)) != KILN_OK ||
            (st = kiln_graph_lookup(g, n, f, f, gfn)) != KILN_OK)
            goto done;
        memset(partials, 0, (size_t)nlp * sizeof *partials);
        for (uint32_t v = 0; v < n; v++)
            partials[part_of[v]] += gfn[v] != gf[v];
        if ((st = kiln_graph_combine(g, KILN_KIND_U64, KILN_OP_SUM, 1, partials,
                                     &changed)) != KILN_OK)
            goto done;
        memcpy(gf, gfn, (size_t)n * 8);
    }
    a.t_done = MPI_Wtime();
    /* Roots are the grandparents now; name each component by its smallest
     * id (ids sent to the root by minimum, then looked up), and count. */
    const uint64_t *ids = kiln_graph_local_ids(g);
    uint64_t *minid = mngf, *size = fn, *label = gfn, *ones = f;
    for (uint32_t v = 0; v < n; v++) {
        minid[v] = UINT64_MAX;
        size[v] = 0;
    }
    if ((st = kiln_graph_send(g, KILN_KIND_U64, KILN_OP_MIN, n, gf, ids, minid)) !=
            KILN_OK ||
        (st = kiln_graph_lookup(g, n, gf, minid, label)) != KILN_OK)
        goto done;
    for (uint32_t v = 0; v < n; v++)
        ones[v] = 1;
    if ((st = kiln_graph_send(g, KILN_KIND_U64, KILN_OP_SUM, n, gf, ones, size)) !=
        KILN_OK)
        goto done;
    uint64_t largest = 0, components = 0;
    for (uint32_t v = 0; v < n; v++)
        ones[v] = size[v] > 0; /* one per root */
    if ((st = kiln_graph_reduce(g, KILN_KIND_U64, KILN_OP_MAX, size, &largest)) !=
            KILN_OK ||
        (st = kiln_graph_reduce(g, KILN_KIND_U64, KILN_OP_SUM, ones, &components)) !=
            KILN_OK)
        goto done;
    if ((st = gapp_save(&a, g, KILN_KIND_U64, label, "component", NULL)) != KILN_OK)
        goto done;
    gapp_timing(&a, rounds);
    if (kiln_context_is_master(a.ctx)) {
        if (changed)
            fprintf(stderr, "kiln-cc: warning: stopped after %llu rounds, before "
                    "the labels settled\n", (unsigned long long)rounds);
        printf("cc: components=%llu largest=%llu rounds=%llu\n",
               (unsigned long long)components, (unsigned long long)largest,
               (unsigned long long)rounds);
    }
done:
    free(f);
    free(gf);
    free(gfn);
    free(mngf);
    free(fn);
    free(partials);
    free(nw.gf);
    free(nw.mn);
    kiln_graph_destroy(&g);
    return gapp_end(&a, st);
}
