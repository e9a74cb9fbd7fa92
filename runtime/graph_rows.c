/* runtime/graph_rows.c: a graph's compressed sparse rows (graph module):
 * their offsets from per-vertex counts, known before any record is placed,
 * so graph_build.c writes every record straight into its row; then every
 * row sorted, the degrees and the global counts.
 *
 * Offsets double as fill cursors: a vertex v's count goes to off[v + 2],
 * and after the prefix sums off[v + 1] is v's first entry; each record
 * placed at off[v + 1]++ leaves off[v + 1] at v's end, which is exactly
 * the offset it must have. No per-record array is built on the way (the
 * records' local terms took 9 bytes each, 1.2 GB for a scale-22 R-MAT graph
 * kept both ways, all of it fresh pages the kernel zeroed). */
#include <stdlib.h>
#include <string.h>

#include "runtime/error.h"
#include "runtime/graph.h"

static void *alloc_array(kiln__mem *mem, size_t n, size_t size)
{
    return kiln__mem_alloc(mem, (n ? n : 1) * size);
}

/* One row structure from per-vertex counts, count[v] - minus[v] (minus
 * may be NULL), its offsets set as cursors. */
static kiln_status csr_alloc(kiln_graph *g, const uint32_t *count,
                             const uint32_t *minus, kiln__graph_csr *csr)
{
    kiln__mem *mem = &g->ctx->mem;
    size_t n = g->nlocal;
    csr->off = kiln__mem_calloc(mem, n + 2, sizeof *csr->off);
    if (!csr->off)
        return KILN_ERROR(KILN_ERR_NOMEM, "graph: row offsets");
    for (size_t v = 0; v < n; v++)
        csr->off[v + 2] = count[v] - (minus ? minus[v] : 0);
    for (size_t v = 2; v < n + 2; v++)
        csr->off[v] += csr->off[v - 1];
    size_t m = (size_t)csr->off[n + 1];
    csr->adj = alloc_array(mem, m, sizeof *csr->adj);
    csr->w = g->weighted ? alloc_array(mem, m, sizeof *csr->w) : NULL;
    if (!csr->adj || (g->weighted && !csr->w))
        return KILN_ERROR(KILN_ERR_NOMEM, "graph: %zu adjacency entries", m);
    return KILN_OK;
}

kiln_status kiln__graph_rows_alloc(kiln_graph *g, const uint32_t *degree,
                                   const uint32_t *in_count)
{
    if (!in_count) /* one kind of record: all go to the one kept */
        return csr_alloc(g, degree, NULL, g->has_out ? &g->out : &g->in);
    kiln_status st = csr_alloc(g, degree, in_count, &g->out); /* the rest */
    return st == KILN_OK ? csr_alloc(g, in_count, NULL, &g->in) : st;
}

/* Sort every row of csr by its slots' rank (slot_rank; NULL: by slot),
 * weights following. Most rows are short or already in order. */
static kiln_status sort_rows(kiln_graph *g, const uint32_t *slot_rank,
                             kiln__graph_csr *csr)
{
    kiln__mem *mem = &g->ctx->mem;
    size_t n = g->nlocal, maxlen = 0;
    for (size_t v = 0; v < n; v++)
        if (csr->off[v + 1] - csr->off[v] > maxlen)
            maxlen = (size_t)(csr->off[v + 1] - csr->off[v]);
    uint64_t *key = alloc_array(mem, maxlen, sizeof *key);
    uint64_t *ktmp = alloc_array(mem, maxlen, sizeof *ktmp);
    uint32_t *pos = alloc_array(mem, maxlen, sizeof *pos);
    uint32_t *ptmp = alloc_array(mem, maxlen, sizeof *ptmp);
    uint32_t *adj = alloc_array(mem, maxlen, sizeof *adj);
    double *w = csr->w ? alloc_array(mem, maxlen, sizeof *w) : NULL;
    kiln_status st = key && ktmp && pos && ptmp && adj && (!csr->w || w)
                     ? KILN_OK : KILN_ERROR(KILN_ERR_NOMEM, "graph: sorting rows");
    for (size_t v = 0; st == KILN_OK && v < n; v++) {
        uint64_t lo = csr->off[v];
        size_t len = (size_t)(csr->off[v + 1] - lo);
        uint32_t *row = csr->adj + lo;
        bool sorted = true;
        for (size_t i = 0; i < len; i++) {
            key[i] = slot_rank ? slot_rank[row[i]] : row[i];
            pos[i] = (uint32_t)i;
            sorted &= i == 0 || key[i - 1] <= key[i];
        }
        if (sorted)
            continue;
        kiln__graph_sort_pairs(key, pos, len, ktmp, ptmp);
        for (size_t i = 0; i < len; i++) {
            adj[i] = row[pos[i]];
            if (w)
                w[i] = csr->w[lo + pos[i]];
        }
        memcpy(row, adj, len * sizeof *adj);
        if (w)
            memcpy(csr->w + lo, w, len * sizeof *w);
    }
    kiln__mem_free(mem, key);
    kiln__mem_free(mem, ktmp);
    kiln__mem_free(mem, pos);
    kiln__mem_free(mem, ptmp);
    kiln__mem_free(mem, adj);
    kiln__mem_free(mem, w);
    return st;
}

kiln_status kiln__graph_build_adjacency(kiln_graph *g, const uint32_t *slot_rank)
{
    kiln_context *ctx = g->ctx;
    kiln__mem *mem = &ctx->mem;
    kiln_status st = KILN_OK;
    uint64_t *cnt = NULL;
    if (g->in_is_out)
        g->in = g->out;
    /* Every row sorted by its neighbours' (degree, id) order: sums over
     * rows then do not depend on the number of ranks, and a pull reads its
     * neighbours' values in address order (at one rank, slot order is that
     * order), which the cache rewards: unsorted OUT rows made a MIN gather
     * over both directions about 1.5 times slower on a scale-22 R-MAT
     * graph. */
    if (st == KILN_OK && g->has_out)
        st = sort_rows(g, slot_rank, &g->out);
    if (st == KILN_OK && g->has_in && !g->in_is_out)
        st = sort_rows(g, slot_rank, &g->in);
    size_t n = g->nlocal;
    g->out_deg = alloc_array(mem, n, sizeof *g->out_deg);
    if (st == KILN_OK && !g->out_deg)
        st = KILN_ERROR(KILN_ERR_NOMEM, "graph: degrees");
    if (st == KILN_OK && g->has_in && !(g->in_deg = alloc_array(mem, n, 8)))
        st = KILN_ERROR(KILN_ERR_NOMEM, "graph: degrees");
    for (size_t v = 0; st == KILN_OK && g->has_in && v < n; v++)
        g->in_deg[v] = g->in.off[v + 1] - g->in.off[v];
    if (st == KILN_OK && g->has_out) {
        for (size_t v = 0; v < n; v++)
            g->out_deg[v] = g->out.off[v + 1] - g->out.off[v];
    } else if (st == KILN_OK) {
        /* Only IN kept: count each in-edge at its source, mirrors' counts
         * then summed into their owners. */
        cnt = kiln__mem_calloc(mem, (size_t)n + g->nmirror + 1, sizeof *cnt);
        if (!cnt)
            st = KILN_ERROR(KILN_ERR_NOMEM, "graph: degrees");
        for (uint64_t i = 0; st == KILN_OK && i < g->in.off[n]; i++)
            cnt[g->in.adj[i]]++;
        if (st == KILN_OK)
            memcpy(g->out_deg, cnt, n * sizeof *cnt);
    }
    if (!g->has_out)
        st = kiln__graph_unsync(g, st, KILN_KIND_U64, KILN_OP_SUM,
                                cnt ? cnt + n : NULL, g->out_deg);
    kiln__mem_free(mem, cnt);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        return st;
    uint64_t local[2] = {n, g->has_out ? g->out.off[n] : g->in.off[n]}, total[2];
    uint32_t part = 0, largest; /* the largest partition: do handles fit 32 bits? */
    for (uint32_t k = 0; k < g->nlp; k++)
        if (g->part_start[k + 1] - g->part_start[k] > part)
            part = g->part_start[k + 1] - g->part_start[k];
    if (MPI_Allreduce(local, total, 2, MPI_UINT64_T, MPI_SUM, ctx->comm) !=
            MPI_SUCCESS ||
        MPI_Allreduce(&part, &largest, 1, MPI_UINT32_T, MPI_MAX, ctx->comm) !=
            MPI_SUCCESS)
        kiln__abort(ctx, "graph: counts");
    g->nvertices = total[0];
    g->nedges = total[1];
    int part_bits = 0, index_bits = 0;
    while (part_bits < 32 && (g->pf.nparts - 1) >> part_bits)
        part_bits++;
    while (index_bits < 32 && largest > 0 && (largest - 1) >> index_bits)
        index_bits++;
    g->handle_shift = part_bits + index_bits <= 32 ? 32 - part_bits : -1;
    return KILN_OK;
}

