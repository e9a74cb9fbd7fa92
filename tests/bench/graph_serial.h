/* graph_serial.h: loading for the serial graph baselines (pagerank_serial.c,
 * cc_serial.c): binary edge files into compressed sparse rows, single
 * threaded, no MPI, no Kiln. Header-only: each baseline is one program.
 *
 * Edges are read whole, ids numbered densely in order of first appearance
 * through an open-addressing table (ids may be any 64-bit numbers, as
 * Kiln's loader allows), renumbered by decreasing degree, then rows are
 * built by a counting sort. */
#ifndef KILN_BENCH_GRAPH_SERIAL_H
#define KILN_BENCH_GRAPH_SERIAL_H

#include "huge_alloc.h" /* first: it asks for madvise() */

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

enum { GS_IN = 1, GS_OUT = 2, GS_SYM = 4 };

typedef struct gs_graph {
    uint32_t n;          /* vertices */
    uint64_t m;          /* edges read */
    uint64_t *ids;       /* n: the id of each dense index */
    uint64_t *out_deg;   /* n */
    uint64_t *in_off;    /* GS_IN: n + 1 */
    uint32_t *in_adj;    /* GS_IN: sources of each vertex's in-edges */
    uint64_t *sym_off;   /* GS_SYM: n + 1, both directions in one row */
    uint32_t *sym_adj;
} gs_graph;

static inline double gs_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int gs_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append the bytes of a file (or of a directory's part files) to *buf. */
static int gs_read_path(const char *path, unsigned char **buf, size_t *len, size_t *cap)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        perror(path);
        return 0;
    }
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        char **names = NULL;
        size_t nn = 0;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.' || e->d_name[0] == '_')
                continue;
            names = realloc(names, (nn + 1) * sizeof *names);
            names[nn] = malloc(strlen(path) + strlen(e->d_name) + 2);
            sprintf(names[nn++], "%s/%s", path, e->d_name);
        }
        if (d)
            closedir(d);
        qsort(names, nn, sizeof *names, gs_cmp);
        int ok = 1;
        for (size_t i = 0; i < nn; i++) {
            ok = ok && gs_read_path(names[i], buf, len, cap);
            free(names[i]);
        }
        free(names);
        return ok;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 0;
    }
    size_t need = *len + (size_t)sb.st_size;
    if (need > *cap) {
        *cap = need * 5 / 4 + 4096;
        *buf = realloc(*buf, *cap);
        if (!*buf) {
            fprintf(stderr, "out of memory\n");
            return 0;
        }
    }
    size_t got = fread(*buf + *len, 1, (size_t)sb.st_size, f);
    fclose(f);
    *len += got;
    return got == (size_t)sb.st_size;
}

/* id -> dense index, open addressing with linear probing, load <= 1/2. */
typedef struct gs_slot {
    uint64_t key;
    uint32_t value; /* UINT32_MAX: empty */
    uint32_t pad;
} gs_slot;

static inline size_t gs_home(uint64_t key, size_t mask)
{
    uint64_t x = key * 0x9e3779b97f4a7c15ull;
    return (size_t)((x ^ (x >> 29)) & mask);
}

/* Rows of (key, value) pairs: off[n + 1], adj[m] (both: each pair in the
 * rows of both ends). Two counting sorts, by value and then stably by key,
 * so that every row is sorted: a pull then reads its neighbours' values in
 * address order, which measured 30% faster per PageRank iteration on a
 * scale-22 R-MAT graph than rows in input order. */
static int gs_rows(uint32_t n, const uint32_t *key, const uint32_t *value, uint64_t m,
                   int both, uint64_t **off_out, uint32_t **adj_out)
{
    uint64_t total = both ? 2 * m : m;
    uint64_t *off = huge_calloc((size_t)n + 2, sizeof *off);
    uint64_t *voff = huge_calloc((size_t)n + 2, sizeof *voff);
    uint32_t *adj = huge_alloc((total ? total : 1) * sizeof *adj);
    uint32_t *k2 = huge_alloc((total ? total : 1) * sizeof *k2);
    uint32_t *v2 = huge_alloc((total ? total : 1) * sizeof *v2);
    if (!off || !voff || !adj || !k2 || !v2)
        return 0;
    /* 1: the pairs ordered by value (both directions when `both`). */
    for (uint64_t e = 0; e < m; e++) {
        voff[value[e] + 2]++;
        if (both)
            voff[key[e] + 2]++;
    }
    for (uint32_t v = 2; v < n + 2; v++)
        voff[v] += voff[v - 1];
    for (uint64_t e = 0; e < m; e++) {
        uint64_t at = voff[value[e] + 1]++;
        k2[at] = key[e];
        v2[at] = value[e];
        if (both) {
            at = voff[key[e] + 1]++;
            k2[at] = value[e];
            v2[at] = key[e];
        }
    }
    /* 2: stably by key into rows. */
    for (uint64_t e = 0; e < total; e++)
        off[k2[e] + 2]++;
    for (uint32_t v = 2; v < n + 2; v++)
        off[v] += off[v - 1];
    for (uint64_t e = 0; e < total; e++)
        adj[off[k2[e] + 1]++] = v2[e];
    free(voff);
    free(k2);
    free(v2);
    *off_out = off;
    *adj_out = adj;
    return 1;
}

/* Renumber the vertices by decreasing degree (the edges in the rows that
 * will be built: in-edges for GS_IN, both ends for GS_SYM), ties in order
 * of first appearance: the hubs, whose values a pull reads most, then
 * share cache lines. Kiln numbers its vertices the same way, and this is
 * what a serial program tuned for speed does too: on a scale-22 R-MAT
 * graph it cut a PageRank iteration from 0.185 s to 0.139 s (first
 * appearance order scatters the hubs over the whole array). A counting
 * sort on the degree, then src, dst and ids rewritten in place. */
static int gs_by_degree(uint32_t n, uint32_t *src, uint32_t *dst, uint64_t m,
                        int want, uint64_t *ids)
{
    uint64_t *deg = huge_calloc((size_t)n + 1, sizeof *deg);
    uint32_t *newof = huge_alloc(((size_t)n + 1) * sizeof *newof);
    uint64_t *oldids = huge_alloc(((size_t)n + 1) * sizeof *oldids);
    if (!deg || !newof || !oldids)
        return 0;
    for (uint64_t e = 0; e < m; e++) {
        deg[dst[e]]++;
        if (want & GS_SYM)
            deg[src[e]]++;
    }
    uint64_t maxdeg = 0;
    for (uint32_t v = 0; v < n; v++)
        maxdeg = deg[v] > maxdeg ? deg[v] : maxdeg;
    /* start[d]: the first new index of degree d, highest degree first. */
    uint64_t *start = calloc(maxdeg + 2, sizeof *start);
    if (!start)
        return 0;
    for (uint32_t v = 0; v < n; v++)
        start[maxdeg - deg[v] + 1]++;
    for (uint64_t d = 1; d <= maxdeg + 1; d++)
        start[d] += start[d - 1];
    for (uint32_t v = 0; v < n; v++)
        newof[v] = (uint32_t)start[maxdeg - deg[v]]++;
    memcpy(oldids, ids, (size_t)n * sizeof *ids);
    for (uint32_t v = 0; v < n; v++)
        ids[newof[v]] = oldids[v];
    for (uint64_t e = 0; e < m; e++) {
        src[e] = newof[src[e]];
        dst[e] = newof[dst[e]];
    }
    free(start);
    free(deg);
    free(newof);
    free(oldids);
    return 1;
}

static int gs_load(gs_graph *g, const char *const *paths, size_t npaths, int want)
{
    memset(g, 0, sizeof *g);
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    for (size_t i = 0; i < npaths; i++)
        if (!gs_read_path(paths[i], &buf, &len, &cap))
            return 0;
    if (len % 16) {
        fprintf(stderr, "input is not a whole number of 16-byte edges\n");
        return 0;
    }
    uint64_t m = len / 16;
    const uint64_t *rec = (const uint64_t *)buf;
    uint32_t *src = huge_alloc((m ? m : 1) * 4), *dst = huge_alloc((m ? m : 1) * 4);
    size_t nslots = 1024;
    gs_slot *t = huge_alloc(nslots * sizeof *t);
    if (!src || !dst || !t)
        return 0;
    for (size_t i = 0; i < nslots; i++)
        t[i].value = UINT32_MAX;
    uint32_t n = 0;
    size_t idcap = 1024;
    uint64_t *ids = malloc(idcap * 8);
    for (uint64_t k = 0; k < 2 * m; k++) {
        uint64_t id = rec[k];
        if (2 * ((size_t)n + 1) > nslots) { /* grow */
            size_t ns = 2 * nslots;
            gs_slot *nt = huge_alloc(ns * sizeof *nt);
            if (!nt)
                return 0;
            for (size_t i = 0; i < ns; i++)
                nt[i].value = UINT32_MAX;
            for (size_t i = 0; i < nslots; i++) {
                if (t[i].value == UINT32_MAX)
                    continue;
                size_t j = gs_home(t[i].key, ns - 1);
                while (nt[j].value != UINT32_MAX)
                    j = (j + 1) & (ns - 1);
                nt[j] = t[i];
            }
            free(t);
            t = nt;
            nslots = ns;
        }
        size_t mask = nslots - 1, j = gs_home(id, mask);
        while (t[j].value != UINT32_MAX && t[j].key != id)
            j = (j + 1) & mask;
        if (t[j].value == UINT32_MAX) {
            t[j].key = id;
            t[j].value = n;
            if (n == idcap) {
                idcap *= 2;
                ids = realloc(ids, idcap * 8);
            }
            ids[n++] = id;
        }
        (k % 2 ? dst : src)[k / 2] = t[j].value;
    }
    free(t);
    free(buf);
    if (!gs_by_degree(n, src, dst, m, want, ids))
        return 0;
    g->n = n;
    g->m = m;
    g->ids = ids;
    g->out_deg = huge_calloc((size_t)n + 1, sizeof *g->out_deg);
    if (!g->out_deg)
        return 0;
    for (uint64_t e = 0; e < m; e++)
        g->out_deg[src[e]]++;
    if ((want & GS_IN) && !gs_rows(n, dst, src, m, 0, &g->in_off, &g->in_adj))
        return 0;
    if ((want & GS_SYM) && !gs_rows(n, src, dst, m, 1, &g->sym_off, &g->sym_adj))
        return 0;
    free(src);
    free(dst);
    return 1;
}

#endif
