/* cc_serial: the serial connected-components baseline of the graph
 * benchmark (graph.sh).
 *
 *   cc-serial [-o OUT] INPUT...
 *
 * INPUT as for pagerank-serial (binary edge files or directories). The
 * same algorithm as kiln-cc, FastSV, over one symmetric compressed sparse
 * row structure (each edge in the rows of both ends) with dense 32-bit
 * labels: per round grandparents gf = f[f], the minimum grandparent
 * around each vertex, then stochastic hooking, aggressive hooking and
 * shortcutting by minimum, until no grandparent changes. Per-round time is
 * what the benchmark compares. It also times a union-find pass over the
 * edges (path halving, union by index), the fastest serial way to the
 * same components, for reference. Prints "timing: ..." as kiln-cc
 * --timing does, then "cc: components=C largest=L rounds=R"; -o writes
 * "vertex<TAB>component" (the smallest id of the component). */
#include "huge_alloc.h" /* first: it asks for madvise() */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_serial.h"

static uint32_t find(uint32_t *p, uint32_t x)
{
    while (p[x] != x) {
        p[x] = p[p[x]];
        x = p[x];
    }
    return x;
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            out = argv[++i];
        } else {
            fprintf(stderr, "usage: cc-serial [-o OUT] INPUT...\n");
            return 2;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "usage: cc-serial [-o OUT] INPUT...\n");
        return 2;
    }
    double t0 = gs_now();
    gs_graph g;
    if (!gs_load(&g, (const char *const *)argv + i, (size_t)(argc - i), GS_SYM))
        return 1;
    double t1 = gs_now();
    uint32_t n = g.n;
    size_t bytes = (n ? n : 1) * sizeof(uint32_t);
    uint32_t *f = huge_alloc(bytes), *gf = huge_alloc(bytes), *gfn = huge_alloc(bytes);
    uint32_t *mngf = huge_alloc(bytes), *fn = huge_alloc(bytes);
    if (!f || !gf || !gfn || !mngf || !fn) {
        fprintf(stderr, "cc-serial: out of memory\n");
        return 1;
    }
    for (uint32_t v = 0; v < n; v++)
        f[v] = gf[v] = v;
    const uint64_t *restrict off = g.sym_off;
    const uint32_t *restrict adj = g.sym_adj;
    unsigned rounds = 0;
    for (int changed = 1; changed;) {
        for (uint32_t v = 0; v < n; v++) {
            uint32_t m = gf[v];
            for (uint64_t e = off[v]; e < off[v + 1]; e++)
                if (gf[adj[e]] < m)
                    m = gf[adj[e]];
            mngf[v] = m;
            fn[v] = f[v];
        }
        for (uint32_t v = 0; v < n; v++)
            if (mngf[v] < fn[f[v]])
                fn[f[v]] = mngf[v];
        for (uint32_t v = 0; v < n; v++) {
            uint32_t m = mngf[v] < gf[v] ? mngf[v] : gf[v];
            if (m < fn[v])
                fn[v] = m;
        }
        memcpy(f, fn, bytes);
        rounds++;
        changed = 0;
        for (uint32_t v = 0; v < n; v++) {
            gfn[v] = f[f[v]];
            changed |= gfn[v] != gf[v];
        }
        memcpy(gf, gfn, bytes);
    }
    double t2 = gs_now();
    /* Union-find over the same edges, for reference. */
    uint32_t *p = fn;
    for (uint32_t v = 0; v < n; v++)
        p[v] = v;
    for (uint32_t v = 0; v < n; v++)
        for (uint64_t e = off[v]; e < off[v + 1]; e++) {
            uint32_t a = find(p, v), b = find(p, adj[e]);
            if (a != b)
                p[a < b ? b : a] = a < b ? a : b;
        }
    double t3 = gs_now();
    /* Components named by their smallest id, sizes. */
    uint64_t *minid = malloc((n ? n : 1) * 8), components = 0, largest = 0;
    uint64_t *size = calloc(n ? n : 1, 8);
    for (uint32_t v = 0; v < n; v++)
        minid[v] = UINT64_MAX;
    for (uint32_t v = 0; v < n; v++) {
        uint32_t r = gf[v];
        if (g.ids[v] < minid[r])
            minid[r] = g.ids[v];
        if (size[r]++ == 0)
            components++;
        if (size[r] > largest)
            largest = size[r];
    }
    printf("timing: load=%.3f compute=%.3f iterations=%u per_iteration=%.4f\n",
           t1 - t0, t2 - t1, rounds, rounds ? (t2 - t1) / rounds : 0.0);
    printf("union-find: %.3f s\n", t3 - t2);
    printf("cc: components=%llu largest=%llu rounds=%u\n",
           (unsigned long long)components, (unsigned long long)largest, rounds);
    if (out) {
        FILE *fo = fopen(out, "w");
        if (!fo) {
            perror(out);
            return 1;
        }
        for (uint32_t v = 0; v < n; v++)
            fprintf(fo, "%llu\t%llu\n", (unsigned long long)g.ids[v],
                    (unsigned long long)minid[gf[v]]);
        fclose(fo);
    }
    return 0;
}
