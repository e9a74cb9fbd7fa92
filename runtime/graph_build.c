/* runtime/graph_build.c: from the loading shuffle's partition stores to a
 * graph's per-rank structures (graph module).
 *
 * 1. Vertex sets. Every record names its vertex (the key, owned here) and
 *    the other end. Ends owned by this rank go into their partition's id
 *    map; ends owned elsewhere into one map of requests, deduplicated.
 * 2. One Alltoallv sends each owner the ids this rank will mirror; owners
 *    add them to their maps (a vertex that only ever appears as a
 *    destination exists through this), number all their vertices by
 *    (degree, id), and answer every request with the handle, the degree
 *    and the owner's local index in two more. Both sides sort a peer's
 *    mirrors by the owner's local index, which fixes the exchange plan
 *    (see graph.h).
 * 3. The maps counted every vertex's records (and, both ways kept, its IN
 *    records), so the rows are allocated at their final sizes
 *    (graph_rows.c) and a second pass over the records writes each one's
 *    other end straight into its row. The caller then releases the
 *    stores, and graph_rows.c sorts every row by its neighbours' (degree,
 *    id) order, which makes a gather's sums the same at any number of
 *    ranks. */
#include <stdlib.h>
#include <string.h>

#include "runtime/error.h"
#include "runtime/graph.h"
#include "runtime/log.h"

/* ---- small helpers ---- */

static void *alloc_array(kiln__mem *mem, size_t n, size_t size)
{
    return kiln__mem_alloc(mem, (n ? n : 1) * size);
}

static uint64_t record_id(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Walk the input, both passes over the records (collecting vertex sets,
 * then filling rows): fn(arg, k, keys, values, m) gets up to CHUNK
 * consecutive records of local partition k (8-byte keys, values of
 * value_bytes), so that it can prefetch the map slots (and cursors) the
 * chunk will touch before touching them: the maps of all partitions
 * together outgrow the cache, and without the prefetch every other-end
 * lookup waited for memory (a load took 3 times as long). */
typedef kiln_status (*chunk_fn)(void *arg, uint32_t k, const unsigned char *keys,
                                const unsigned char *values, size_t m);

enum { CHUNK = 16 };

static kiln_status visit(const kiln_graph *g, const kiln__graph_input *in,
                         chunk_fn fn, void *arg)
{
    const size_t vb = in->value_bytes;
    for (uint32_t k = 0; k < g->nlp; k++) {
        const kiln__store *s = in->parts[k];
        for (size_t b = 0; s && b < s->nblocks; b++) {
            const kiln__block *blk = &s->blocks[b];
            for (size_t i = 0; i < blk->n; i += CHUNK) {
                size_t m = blk->n - i < CHUNK ? blk->n - i : CHUNK;
                kiln_status st = fn(arg, k, blk->key.data + 8 * i,
                                    blk->value.data + vb * i, m);
                if (st != KILN_OK)
                    return st;
            }
        }
    }
    return KILN_OK;
}

/* Prefetch the slots of a record's two ends. */
static void prefetch_ends(const kiln_graph *g, const kiln__graph_map *maps,
                          const kiln__graph_map *remote, uint32_t k, uint64_t key,
                          uint64_t other)
{
    kiln__graph_map_prefetch(&maps[k], key);
    uint32_t p = kiln__graph_part_of(&g->pf, other);
    if ((int)(p % (uint32_t)g->nranks) == g->rank)
        kiln__graph_map_prefetch(&maps[p / (uint32_t)g->nranks], other);
    else
        kiln__graph_map_prefetch(remote, other);
}

/* ---- 1. vertex sets ---- */

typedef struct collect {
    kiln_graph *g;
    kiln__graph_map *maps;   /* nlp */
    kiln__graph_map remote;  /* id -> index in rids */
    uint64_t *rids;          /* requested ids, in first-seen order */
    size_t nrids, cap;
    uint64_t *edge_sum;      /* nlp: sums of edge hashes (the digest) */
    const kiln__graph_input *in;
} collect;

static kiln_status add_end(collect *c, uint64_t id)
{
    kiln_graph *g = c->g;
    uint32_t p = kiln__graph_part_of(&g->pf, id), found;
    if ((int)(p % (uint32_t)g->nranks) == g->rank)
        return kiln__graph_map_put(&c->maps[p / (uint32_t)g->nranks], id, 0, &found);
    kiln_status st = kiln__graph_map_put(&c->remote, id, (uint32_t)c->nrids, &found);
    if (st != KILN_OK || found != c->nrids)
        return st;
    if (c->nrids == c->cap) {
        size_t cap = kiln__mem_grow(c->cap, c->nrids + 1, 1024);
        uint64_t *r = kiln__mem_realloc(&g->ctx->mem, c->rids, cap * sizeof *r);
        if (!r)
            return KILN_ERROR(KILN_ERR_NOMEM, "graph: mirror requests");
        c->rids = r;
        c->cap = cap;
    }
    if (c->nrids >= KILN__GRAPH_NONE - 1)
        return KILN_ERROR(KILN_ERR_LIMIT, "graph: over 2^32 mirrors on one rank");
    c->rids[c->nrids++] = id;
    return KILN_OK;
}

static kiln_status collect_record(collect *c, uint32_t k, uint64_t key,
                                  const unsigned char *value)
{
    /* The key's value counts its records (its degree here, the order of
     * the numbering below, and the length of its rows); the pad counts its
     * IN records when both directions come tagged. */
    bool is_in = c->in->tagged && value[c->in->weighted ? 16 : 8] != 0;
    kiln_status st = kiln__graph_map_count(&c->maps[k], key, is_in);
    if (st == KILN_OK)
        st = add_end(c, record_id(value));
    uint64_t x[4] = {key, 0, 0, 0};
    memcpy(&x[1], value, c->in->value_bytes < 24 ? c->in->value_bytes : 24);
    c->edge_sum[k] += kiln__hash_bytes(x, sizeof x);
    return st;
}

static kiln_status collect_chunk(void *arg, uint32_t k, const unsigned char *keys,
                                 const unsigned char *values, size_t m)
{
    collect *c = arg;
    const size_t vb = c->in->value_bytes;
    for (size_t j = 0; j < m; j++)
        prefetch_ends(c->g, c->maps, &c->remote, k, record_id(keys + 8 * j),
                      record_id(values + vb * j));
    for (size_t j = 0; j < m; j++) {
        kiln_status st = collect_record(c, k, record_id(keys + 8 * j), values + vb * j);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* ---- 2. the exchange of requests and answers ---- */

/* Peers' counts and displacements, in elements. */
typedef struct plan {
    int *scount, *sdispl, *rcount, *rdispl;
} plan;

static kiln_status plan_init(kiln__mem *mem, int nranks, plan *pl)
{
    pl->scount = kiln__mem_calloc(mem, (size_t)nranks, sizeof(int));
    pl->sdispl = kiln__mem_calloc(mem, (size_t)nranks + 1, sizeof(int));
    pl->rcount = kiln__mem_calloc(mem, (size_t)nranks, sizeof(int));
    pl->rdispl = kiln__mem_calloc(mem, (size_t)nranks + 1, sizeof(int));
    if (!pl->scount || !pl->sdispl || !pl->rcount || !pl->rdispl)
        return KILN_ERROR(KILN_ERR_NOMEM, "graph: exchange plan");
    return KILN_OK;
}

static void plan_release(kiln__mem *mem, plan *pl)
{
    kiln__mem_free(mem, pl->scount);
    kiln__mem_free(mem, pl->sdispl);
    kiln__mem_free(mem, pl->rcount);
    kiln__mem_free(mem, pl->rdispl);
}

/* Displacements from counts; false past INT_MAX elements. */
static bool displs(const int *count, int *displ, int n)
{
    long long sum = 0;
    for (int r = 0; r < n; r++) {
        displ[r] = (int)sum;
        sum += count[r];
        if (sum > 2147483647LL)
            return false;
    }
    displ[n] = (int)sum;
    return true;
}

/* ---- 3. the rows, filled straight from the records ---- */

typedef struct row_fill {
    kiln_graph *g;
    const kiln__graph_map *maps;
    const kiln__graph_map *remote;
    const kiln__graph_input *in;
    kiln__graph_csr *first, *second; /* untagged and OUT records; IN ones */
} row_fill;

/* Every record's other end into its vertex's row, at the row's cursor
 * (graph_rows.c says how the offsets double as cursors). Per chunk: the
 * map slots prefetched, the ends looked up while the cursors they will
 * bump are prefetched, then the entries written. Rows are all over
 * memory; fetching each cursor only when writing made the fill as slow as
 * the separate translation and counting sort it replaced. */
static kiln_status fill_chunk(void *arg, uint32_t k, const unsigned char *keys,
                              const unsigned char *values, size_t m)
{
    const row_fill *f = arg;
    const kiln_graph *g = f->g;
    const kiln__graph_input *in = f->in;
    const size_t vb = in->value_bytes, tag_at = in->weighted ? 16 : 8;
    const uint32_t me = (uint32_t)g->rank, nranks = (uint32_t)g->nranks;
    uint32_t src[CHUNK], slot[CHUNK];
    kiln__graph_csr *to[CHUNK];
    for (size_t j = 0; j < m; j++)
        prefetch_ends(g, f->maps, f->remote, k, record_id(keys + 8 * j),
                      record_id(values + vb * j));
    for (size_t j = 0; j < m; j++) {
        const unsigned char *value = values + vb * j;
        uint64_t other = record_id(value);
        uint32_t p = kiln__graph_part_of(&g->pf, other);
        src[j] = kiln__graph_map_get(&f->maps[k], record_id(keys + 8 * j));
        slot[j] = p % nranks == me ? kiln__graph_map_get(&f->maps[p / nranks], other)
                                   : g->nlocal + kiln__graph_map_get(f->remote, other);
        to[j] = in->tagged && value[tag_at] ? f->second : f->first;
        __builtin_prefetch(&to[j]->off[src[j] + 1], 1);
    }
    for (size_t j = 0; j < m; j++) {
        uint64_t at = to[j]->off[src[j] + 1]++;
        to[j]->adj[at] = slot[j];
        if (to[j]->w)
            memcpy(&to[j]->w[at], values + vb * j + 8, 8);
    }
    return KILN_OK;
}

static kiln_status exchange(kiln_graph *g, const void *send, const int *scount,
                            const int *sdispl, void *recv, const int *rcount,
                            const int *rdispl)
{
    if (MPI_Alltoallv(send, scount, sdispl, MPI_UINT64_T, recv, rcount, rdispl,
                      MPI_UINT64_T, g->ctx->comm) != MPI_SUCCESS)
        kiln__abort(g->ctx, "graph: exchange of vertex ids");
    return KILN_OK;
}

/* Sort n local indices ascending (they are distinct and below 2^32). */
static kiln_status sort_u32(kiln__mem *mem, uint32_t *v, size_t n)
{
    uint64_t *k = alloc_array(mem, n, sizeof *k);
    if (!k)
        return KILN_ERROR(KILN_ERR_NOMEM, "graph: sorting a send list");
    for (size_t i = 0; i < n; i++)
        k[i] = v[i];
    kiln_status st = kiln__graph_sort_u64(mem, k, NULL, n);
    for (size_t i = 0; st == KILN_OK && i < n; i++)
        v[i] = (uint32_t)k[i];
    kiln__mem_free(mem, k);
    return st;
}

/* pos[0 .. n) = the positions of n (id, degree) pairs by decreasing
 * degree, then increasing id: two stable radix sorts, by id, then by
 * degree. The ids are distinct, so the order is total. */
static kiln_status order_by_degree(kiln__mem *mem, const uint64_t *ids,
                                   const uint32_t *deg, size_t n, uint32_t *pos)
{
    uint64_t *key = alloc_array(mem, n, sizeof *key);
    if (!key)
        return KILN_ERROR(KILN_ERR_NOMEM, "graph: ordering %zu vertices", n);
    for (size_t i = 0; i < n; i++) {
        key[i] = ids[i];
        pos[i] = (uint32_t)i;
    }
    kiln_status st = kiln__graph_sort_u64(mem, key, pos, n);
    for (size_t i = 0; st == KILN_OK && i < n; i++)
        key[i] = UINT32_MAX - deg[pos[i]];
    if (st == KILN_OK)
        st = kiln__graph_sort_u64(mem, key, pos, n);
    kiln__mem_free(mem, key);
    return st;
}

/* Number this rank's vertices (the keys of the partition maps, whose
 * values count their records: the degree) by decreasing degree, then
 * increasing id, all partitions together, which puts the busiest vertices
 * of the rank next to each other in memory: on a scale-22 R-MAT graph a
 * serial pull took 0.25 s per iteration with vertices in id order, 0.135 s
 * by degree, and numbering each of 16 partitions on its own, hubs at the
 * head of each, took 0.180 s against 0.150 s for one order of them all.
 * Both keys are properties of the graph, so a partition's vertices come
 * in the same order (their handle order) at any rank count. Sets ids,
 * part_start, members, part_of and handles, turns the maps' values into
 * local indices and returns, by local index, the degrees in *degree and
 * the maps' second counts (IN records) in *second (both owned by the
 * caller). */
static kiln_status number_vertices(kiln_graph *g, kiln__graph_map *maps,
                                   size_t nlocal, uint32_t **degree,
                                   uint32_t **second)
{
    kiln__mem *mem = &g->ctx->mem;
    uint64_t *ids = alloc_array(mem, nlocal, sizeof *ids);
    uint32_t *deg = alloc_array(mem, nlocal, sizeof *deg);
    uint32_t *pad = alloc_array(mem, nlocal, sizeof *pad);
    uint32_t *part = alloc_array(mem, nlocal, sizeof *part);
    uint32_t *pos = alloc_array(mem, nlocal, sizeof *pos);
    uint32_t *cursor = alloc_array(mem, g->nlp, sizeof *cursor);
    *degree = alloc_array(mem, nlocal, sizeof **degree);
    *second = alloc_array(mem, nlocal, sizeof **second);
    g->ids = alloc_array(mem, nlocal, sizeof *g->ids);
    g->part_start = kiln__mem_calloc(mem, (size_t)g->nlp + 1, sizeof *g->part_start);
    g->members = alloc_array(mem, nlocal, sizeof *g->members);
    g->part_of = alloc_array(mem, nlocal, sizeof *g->part_of);
    g->handles = alloc_array(mem, nlocal, sizeof *g->handles);
    kiln_status st = ids && deg && pad && part && pos && cursor && *degree &&
                     *second && g->ids &&
                     g->part_start && g->members && g->part_of && g->handles
                     ? KILN_OK
                     : KILN_ERROR(KILN_ERR_NOMEM, "graph: numbering %zu vertices",
                                  nlocal);
    size_t n = 0;
    for (uint32_t k = 0; st == KILN_OK && k < g->nlp; k++) {
        const kiln__graph_map *m = &maps[k];
        g->part_start[k] = cursor[k] = (uint32_t)n;
        for (size_t i = 0; i <= m->mask; i++)
            if (m->slots[i].value != KILN__GRAPH_NONE) {
                ids[n] = m->slots[i].key;
                deg[n] = m->slots[i].value;
                pad[n] = m->slots[i].pad;
                part[n++] = k;
            }
    }
    if (st == KILN_OK) {
        g->part_start[g->nlp] = (uint32_t)n;
        st = order_by_degree(mem, ids, deg, n, pos);
    }
    for (size_t i = 0; st == KILN_OK && i < n; i++) {
        uint32_t o = pos[i], k = part[o];
        uint64_t p = (uint64_t)g->rank + (uint64_t)k * (uint64_t)g->nranks;
        uint32_t j = cursor[k]++;
        g->ids[i] = ids[o];
        (*degree)[i] = deg[o];
        (*second)[i] = pad[o];
        g->part_of[i] = k;
        g->members[j] = (uint32_t)i;
        g->handles[i] = p << 32 | (j - g->part_start[k]);
        kiln__graph_map_set(&maps[k], ids[o], (uint32_t)i);
    }
    kiln__mem_free(mem, ids);
    kiln__mem_free(mem, deg);
    kiln__mem_free(mem, pad);
    kiln__mem_free(mem, part);
    kiln__mem_free(mem, pos);
    kiln__mem_free(mem, cursor);
    return st;
}

/* *out = every slot's place among all slots (local vertices and mirrors)
 * in (degree, id) order: the order rows are sorted in. It is an order of
 * the graph, not of the layout, so sums over rows in it are the same at
 * any rank count; at one rank it is local-index order (no table). */
static kiln_status rank_slots(const kiln_graph *g, const uint32_t *degree,
                              const uint32_t *mirror_deg, uint32_t **out)
{
    kiln__mem *mem = &g->ctx->mem;
    size_t n = (size_t)g->nlocal + g->nmirror;
    uint64_t *ids = alloc_array(mem, n, sizeof *ids);
    uint32_t *deg = alloc_array(mem, n, sizeof *deg);
    uint32_t *pos = alloc_array(mem, n, sizeof *pos);
    uint32_t *rank = alloc_array(mem, n, sizeof *rank);
    kiln_status st = ids && deg && pos && rank
                     ? KILN_OK : KILN_ERROR(KILN_ERR_NOMEM, "graph: slot order");
    if (st == KILN_OK) {
        memcpy(ids, g->ids, (size_t)g->nlocal * 8);
        memcpy(ids + g->nlocal, g->mirror_id, (size_t)g->nmirror * 8);
        memcpy(deg, degree, (size_t)g->nlocal * 4);
        memcpy(deg + g->nlocal, mirror_deg, (size_t)g->nmirror * 4);
        st = order_by_degree(mem, ids, deg, n, pos);
    }
    for (size_t i = 0; st == KILN_OK && i < n; i++)
        rank[pos[i]] = (uint32_t)i;
    kiln__mem_free(mem, ids);
    kiln__mem_free(mem, deg);
    kiln__mem_free(mem, pos);
    if (st == KILN_OK)
        *out = rank;
    else
        kiln__mem_free(mem, rank);
    return st;
}

kiln_status kiln__graph_build_vertices(kiln_graph *g, const kiln__graph_input *in,
                                       uint32_t **slot_rank_out)
{
    kiln_context *ctx = g->ctx;
    kiln__mem *mem = &ctx->mem;
    const int nranks = g->nranks;
    kiln_status st = KILN_OK;
    collect c = {.g = g, .in = in};
    plan pl = {0};
    uint64_t *sendbuf = NULL, *recvbuf = NULL, *answers = NULL, *handles = NULL;
    uint64_t *info = NULL, *rinfo = NULL;
    uint32_t *degree = NULL, *second = NULL, *mirror_deg = NULL;
    uint64_t *keys = NULL;
    uint32_t *order = NULL;
    uint32_t *slot_rank = NULL;
    size_t total_recv = 0;

    /* ---- 1: collect ---- */
    c.maps = kiln__mem_calloc(mem, g->nlp ? g->nlp : 1, sizeof *c.maps);
    c.edge_sum = kiln__mem_calloc(mem, g->nlp ? g->nlp : 1, sizeof *c.edge_sum);
    if (!c.maps || !c.edge_sum)
        st = KILN_ERROR(KILN_ERR_NOMEM, "graph: vertex maps");
    /* Maps start small and double: sized from the records they would be
     * far too large (a vertex has many edges), and a map that misses the
     * cache on every lookup made loading 4x slower. */
    for (uint32_t k = 0; st == KILN_OK && k < g->nlp; k++)
        st = kiln__graph_map_init(&c.maps[k], mem, 1024);
    if (st == KILN_OK)
        st = kiln__graph_map_init(&c.remote, mem, 1024);
    if (st == KILN_OK)
        st = plan_init(mem, nranks, &pl);
    if (st == KILN_OK)
        st = visit(g, in, collect_chunk, &c);

    /* ---- 2: requests, grouped by owner ---- */
    if (st == KILN_OK) {
        for (size_t i = 0; i < c.nrids; i++)
            pl.scount[kiln__graph_part_of(&g->pf, c.rids[i]) % (uint32_t)nranks]++;
        if (!displs(pl.scount, pl.sdispl, nranks))
            st = KILN_ERROR(KILN_ERR_LIMIT, "graph: over 2^31 mirror requests");
    }
    if (st == KILN_OK && !(sendbuf = alloc_array(mem, c.nrids, sizeof *sendbuf)))
        st = KILN_ERROR(KILN_ERR_NOMEM, "graph: mirror requests");
    if (st == KILN_OK) {
        int *fill = pl.rcount; /* borrowed as a cursor until the counts come */
        for (int r = 0; r < nranks; r++)
            fill[r] = pl.sdispl[r];
        for (size_t i = 0; i < c.nrids; i++) {
            int r = (int)(kiln__graph_part_of(&g->pf, c.rids[i]) % (uint32_t)nranks);
            sendbuf[fill[r]++] = c.rids[i];
        }
        memset(pl.rcount, 0, (size_t)nranks * sizeof(int));
    }
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    if (MPI_Alltoall(pl.scount, 1, MPI_INT, pl.rcount, 1, MPI_INT, ctx->comm) !=
        MPI_SUCCESS)
        kiln__abort(ctx, "graph: request counts");
    if (!displs(pl.rcount, pl.rdispl, nranks))
        st = KILN_ERROR(KILN_ERR_LIMIT, "graph: over 2^31 mirror requests");
    total_recv = st == KILN_OK ? (size_t)pl.rdispl[nranks] : 0;
    if (st == KILN_OK && !(recvbuf = alloc_array(mem, total_recv, 8)))
        st = KILN_ERROR(KILN_ERR_NOMEM, "graph: mirror requests");
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    exchange(g, sendbuf, pl.scount, pl.sdispl, recvbuf, pl.rcount, pl.rdispl);
    for (size_t i = 0; st == KILN_OK && i < total_recv; i++) {
        uint32_t p = kiln__graph_part_of(&g->pf, recvbuf[i]), found;
        if ((int)(p % (uint32_t)nranks) != g->rank)
            st = KILN_ERROR(KILN_ERR_STATE, "graph: rank %d was asked for vertex "
                            "%llu of partition %u", g->rank,
                            (unsigned long long)recvbuf[i], p);
        else
            st = kiln__graph_map_put(&c.maps[p / (uint32_t)nranks], recvbuf[i], 0,
                                     &found);
    }

    /* ---- all vertices of this rank, numbered ---- */
    size_t nlocal = 0;
    for (uint32_t k = 0; st == KILN_OK && k < g->nlp; k++)
        nlocal += c.maps[k].n;
    if (st == KILN_OK && nlocal + c.nrids >= KILN__GRAPH_NONE)
        st = KILN_ERROR(KILN_ERR_LIMIT, "graph: %zu vertices and %zu mirrors on "
                        "rank %d (at most 2^32 - 1)", nlocal, c.nrids, g->rank);
    if (st == KILN_OK)
        st = number_vertices(g, c.maps, nlocal, &degree, &second);
    g->nlocal = (uint32_t)nlocal;

    /* ---- answers: the handle, degree and local index of every request ---- */
    if (st == KILN_OK && (!(answers = alloc_array(mem, total_recv, 8)) ||
                          !(info = alloc_array(mem, total_recv, 8)) ||
                          !(handles = alloc_array(mem, c.nrids, 8)) ||
                          !(rinfo = alloc_array(mem, c.nrids, 8))))
        st = KILN_ERROR(KILN_ERR_NOMEM, "graph: mirror requests");
    for (size_t i = 0; st == KILN_OK && i < total_recv; i++) {
        uint32_t p = kiln__graph_part_of(&g->pf, recvbuf[i]);
        uint32_t li = kiln__graph_map_get(&c.maps[p / (uint32_t)nranks], recvbuf[i]);
        answers[i] = g->handles[li];
        info[i] = (uint64_t)degree[li] << 32 | li;
    }
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    exchange(g, answers, pl.rcount, pl.rdispl, handles, pl.scount, pl.sdispl);
    exchange(g, info, pl.rcount, pl.rdispl, rinfo, pl.scount, pl.sdispl);

    /* ---- mirrors sorted by (owner, its local index); send lists likewise ---- */
    g->nmirror = (uint32_t)c.nrids;
    g->mirror_id = alloc_array(mem, c.nrids, sizeof *g->mirror_id);
    g->mirror_handle = alloc_array(mem, c.nrids, sizeof *g->mirror_handle);
    g->mstart = kiln__mem_calloc(mem, (size_t)nranks + 1, sizeof(int));
    g->sstart = kiln__mem_calloc(mem, (size_t)nranks + 1, sizeof(int));
    g->sidx = alloc_array(mem, total_recv, sizeof *g->sidx);
    keys = alloc_array(mem, c.nrids, sizeof *keys);
    order = alloc_array(mem, c.nrids, sizeof *order);
    mirror_deg = alloc_array(mem, c.nrids, sizeof *mirror_deg);
    if (!g->mirror_id || !g->mirror_handle || !g->mstart || !g->sstart ||
        !g->sidx || !keys || !order || !mirror_deg)
        st = KILN_ERROR(KILN_ERR_NOMEM, "graph: %zu mirrors", c.nrids);
    for (int r = 0; st == KILN_OK && r < nranks; r++) {
        size_t lo = (size_t)pl.sdispl[r], n = (size_t)pl.scount[r];
        g->mstart[r] = (int)lo;
        for (size_t i = 0; i < n; i++) {
            keys[lo + i] = (uint32_t)rinfo[lo + i];
            order[lo + i] = (uint32_t)(lo + i);
        }
        st = kiln__graph_sort_u64(mem, keys + lo, order + lo, n);
        for (size_t i = 0; st == KILN_OK && i < n; i++) {
            uint32_t o = order[lo + i];
            g->mirror_id[lo + i] = sendbuf[o];
            g->mirror_handle[lo + i] = handles[o];
            mirror_deg[lo + i] = (uint32_t)(rinfo[o] >> 32);
            kiln__graph_map_set(&c.remote, sendbuf[o], (uint32_t)(lo + i));
        }
        size_t rlo = (size_t)pl.rdispl[r], rn = (size_t)pl.rcount[r];
        g->sstart[r] = (int)rlo;
        for (size_t i = 0; st == KILN_OK && i < rn; i++)
            g->sidx[rlo + i] = (uint32_t)info[rlo + i];
        if (st == KILN_OK)
            st = sort_u32(mem, g->sidx + rlo, rn);
    }
    if (st == KILN_OK) {
        g->mstart[nranks] = (int)c.nrids;
        g->sstart[nranks] = (int)total_recv;
    }

    /* ---- 3: the rows (unsorted), and the order they are sorted in ---- */
    if (st == KILN_OK)
        st = kiln__graph_rows_alloc(g, degree, in->tagged ? second : NULL);
    if (st == KILN_OK && g->nmirror > 0)
        st = rank_slots(g, degree, mirror_deg, &slot_rank);
    if (st == KILN_OK) {
        bool first_out = g->has_out || in->tagged;
        row_fill f = {g, c.maps, &c.remote, in, first_out ? &g->out : &g->in, &g->in};
        st = visit(g, in, fill_chunk, &f);
    }

    /* ---- the digest: partition sums of edge hashes, in partition order ---- */
    uint64_t *sums = kiln__mem_calloc(mem, g->pf.nparts, sizeof *sums);
    if (st == KILN_OK && !sums)
        st = KILN_ERROR(KILN_ERR_NOMEM, "graph: digest");
    for (uint32_t k = 0; st == KILN_OK && k < g->nlp; k++)
        sums[(uint32_t)g->rank + k * (uint32_t)nranks] = c.edge_sum[k];
    if ((st = kiln__error_agree(ctx, st)) == KILN_OK) {
        if (MPI_Allreduce(MPI_IN_PLACE, sums, (int)g->pf.nparts, MPI_UINT64_T,
                          MPI_SUM, ctx->comm) != MPI_SUCCESS)
            kiln__abort(ctx, "graph: digest");
        g->digest = kiln__hash_bytes(sums, g->pf.nparts * sizeof *sums) ^
                    ((uint64_t)g->pf.how << 40) ^ g->pf.nparts;
    }
    kiln__mem_free(mem, sums);

done:
    for (uint32_t k = 0; c.maps && k < g->nlp; k++)
        kiln__graph_map_release(&c.maps[k]);
    kiln__mem_free(mem, c.maps);
    kiln__graph_map_release(&c.remote);
    kiln__mem_free(mem, c.rids);
    kiln__mem_free(mem, c.edge_sum);
    plan_release(mem, &pl);
    kiln__mem_free(mem, sendbuf);
    kiln__mem_free(mem, recvbuf);
    kiln__mem_free(mem, answers);
    kiln__mem_free(mem, info);
    kiln__mem_free(mem, rinfo);
    kiln__mem_free(mem, degree);
    kiln__mem_free(mem, second);
    kiln__mem_free(mem, mirror_deg);
    kiln__mem_free(mem, handles);
    kiln__mem_free(mem, keys);
    kiln__mem_free(mem, order);
    if (st == KILN_OK)
        *slot_rank_out = slot_rank;
    else
        kiln__mem_free(mem, slot_rank);
    return st;
}

/* ---- release ---- */

static void csr_release(kiln__mem *mem, kiln__graph_csr *c)
{
    kiln__mem_free(mem, c->off);
    kiln__mem_free(mem, c->adj);
    kiln__mem_free(mem, c->w);
    memset(c, 0, sizeof *c);
}

void kiln__graph_release(kiln_graph *g)
{
    kiln__mem *mem = &g->ctx->mem;
    if (!g->in_is_out)
        csr_release(mem, &g->in);
    csr_release(mem, &g->out);
    kiln__mem_free(mem, g->pf.splitters);
    kiln__mem_free(mem, g->part_start);
    kiln__mem_free(mem, g->members);
    kiln__mem_free(mem, g->part_of);
    kiln__mem_free(mem, g->handles);
    kiln__mem_free(mem, g->ids);
    kiln__mem_free(mem, g->mirror_id);
    kiln__mem_free(mem, g->mirror_handle);
    kiln__mem_free(mem, g->mstart);
    kiln__mem_free(mem, g->sstart);
    kiln__mem_free(mem, g->sidx);
    kiln__mem_free(mem, g->out_deg);
    kiln__mem_free(mem, g->in_deg);
    kiln__graph_scratch *s = &g->s;
    kiln__mem_free(mem, s->send);
    kiln__mem_free(mem, s->recv);
    kiln__mem_free(mem, s->macc);
    kiln__mem_free(mem, s->touched);
    kiln__mem_free(mem, s->mark);
    kiln__mem_free(mem, s->mmark);
    kiln__mem_free(mem, s->scount);
    kiln__mem_free(mem, s->sdispl);
    kiln__mem_free(mem, s->rcount);
    kiln__mem_free(mem, s->rdispl);
    kiln__mem_free(mem, s->where);
}
