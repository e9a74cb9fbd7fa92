/* runtime/graph_ops.c: the public accessors and bulk operations of
 * kiln_graph.h (graph module): gather (a pull over rows), scatter (a push
 * from active vertices, offers to mirrors combined here first), lookup and
 * send by handle, and the partition-ordered combine.
 *
 * The gather loops are the serial kernels of compressed sparse rows: for
 * each local vertex, fold in[] of its row's slots; mirrors' values are
 * first copied into the slots after the local ones (kiln__graph_sync), so
 * the loop never asks where a neighbour lives. One loop per (kind,
 * operator) keeps the fold out of the inner loop. */
#include <stdlib.h>
#include <string.h>

#include "runtime/error.h"
#include "runtime/graph.h"

/* ---- accessors ---- */

uint64_t kiln_graph_vertex_count(const kiln_graph *g) { return g->nvertices; }
uint64_t kiln_graph_edge_count(const kiln_graph *g) { return g->nedges; }
uint32_t kiln_graph_partition_count(const kiln_graph *g) { return g->pf.nparts; }
uint32_t kiln_graph_local_count(const kiln_graph *g) { return g->nlocal; }
uint32_t kiln_graph_slot_count(const kiln_graph *g) { return g->nlocal + g->nmirror; }
const uint64_t *kiln_graph_local_ids(const kiln_graph *g) { return g->ids; }
const uint64_t *kiln_graph_out_degrees(const kiln_graph *g) { return g->out_deg; }
const uint64_t *kiln_graph_in_degrees(const kiln_graph *g) { return g->in_deg; }

uint32_t kiln_graph_local_partitions(const kiln_graph *g, const uint32_t **part_of)
{
    if (part_of)
        *part_of = g->part_of;
    return g->nlp;
}

void kiln_graph_local_handles(const kiln_graph *g, uint64_t *out)
{
    if (g->nlocal)
        memcpy(out, g->handles, (size_t)g->nlocal * sizeof *out);
}

bool kiln_graph_handle32(const kiln_graph *g, unsigned *shift)
{
    if (g->handle_shift < 0)
        return false;
    if (shift)
        *shift = (unsigned)g->handle_shift;
    return true;
}

bool kiln_graph_handle_local(const kiln_graph *g, uint64_t h, uint32_t *index)
{
    uint32_t p = (uint32_t)(h >> 32);
    if (p >= g->pf.nparts || kiln__graph_owner(g, h) != g->rank)
        return false;
    uint32_t k = p / (uint32_t)g->nranks;
    if ((uint32_t)h >= g->part_start[k + 1] - g->part_start[k])
        return false;
    if (index)
        *index = kiln__graph_local_of(g, h);
    return true;
}

kiln_status kiln_graph_find(kiln_graph *g, uint64_t id, uint64_t *handle,
                            bool *found)
{
    if (!g || !handle || !found)
        return KILN_ERR_INVAL;
    kiln_context *ctx = g->ctx;
    kiln__api_begin(ctx);
    uint32_t p = kiln__graph_part_of(&g->pf, id);
    int owner = (int)(p % (uint32_t)g->nranks);
    uint64_t answer[2] = {0, 0}; /* found, handle */
    if (owner == g->rank) {
        /* Vertices are in degree order: a scan (find is called once or
         * twice per job, not per vertex). */
        uint32_t k = p / (uint32_t)g->nranks;
        const uint32_t *member = g->members + g->part_start[k];
        for (uint32_t j = 0; j < g->part_start[k + 1] - g->part_start[k]; j++)
            if (g->ids[member[j]] == id) {
                answer[0] = 1;
                answer[1] = ((uint64_t)p << 32) | j;
                break;
            }
    }
    if (MPI_Bcast(answer, 2, MPI_UINT64_T, owner, ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "graph: find");
    *found = answer[0] != 0;
    *handle = answer[1];
    return kiln__api_end(ctx, KILN_OK);
}

/* ---- argument checks, agreed ---- */

static kiln_status check_dir(const kiln_graph *g, kiln_graph_dir dir)
{
    if (dir != KILN_GRAPH_OUT && dir != KILN_GRAPH_IN && dir != KILN_GRAPH_BOTH)
        return KILN_ERROR(KILN_ERR_INVAL, "graph: unknown direction %d", (int)dir);
    if ((dir & KILN_GRAPH_OUT) && !g->has_out)
        return KILN_ERROR(KILN_ERR_STATE, "graph: loaded without OUT adjacency");
    if ((dir & KILN_GRAPH_IN) && !g->has_in)
        return KILN_ERROR(KILN_ERR_STATE, "graph: loaded without IN adjacency");
    return KILN_OK;
}

/* The rows a direction walks: one or two; an undirected graph's IN rows
 * are its OUT rows, walked once. */
static int rows_of(kiln_graph *g, kiln_graph_dir dir, kiln__graph_csr *rows[2])
{
    int n = 0;
    if (dir & KILN_GRAPH_OUT)
        rows[n++] = &g->out;
    if ((dir & KILN_GRAPH_IN) && !(n == 1 && g->in_is_out))
        rows[n++] = &g->in;
    return n;
}

/* ---- gather ---- */

/* One pass over the rows of c and, when given, c2 (BOTH on a directed
 * graph: v's OUT row, then its IN row): out[v] and the row offsets are
 * read once per vertex, where a pass per direction read them twice and
 * wrote out[] twice. The order of the terms is the same either way. */
#define GATHER(NAME, T, FOLD)                                                  \
    static void NAME(const kiln__graph_csr *c, const kiln__graph_csr *c2,      \
                     uint32_t n, const T *restrict x, T *restrict out, T init) \
    {                                                                          \
        const uint64_t *restrict off = c->off;                                 \
        const uint32_t *restrict adj = c->adj;                                 \
        const uint64_t *restrict off2 = c2 ? c2->off : NULL;                   \
        const uint32_t *restrict adj2 = c2 ? c2->adj : NULL;                   \
        for (uint32_t v = 0; v < n; v++) {                                     \
            T a = init;                                                        \
            for (uint64_t e = off[v], end = off[v + 1]; e < end; e++) {        \
                T y = x[adj[e]];                                               \
                FOLD;                                                          \
            }                                                                  \
            if (off2)                                                          \
                for (uint64_t e = off2[v], end = off2[v + 1]; e < end; e++) {  \
                    T y = x[adj2[e]];                                          \
                    FOLD;                                                      \
                }                                                              \
            out[v] = a;                                                        \
        }                                                                      \
    }

GATHER(gather_sum_f64, double, a += y)
GATHER(gather_min_f64, double, a = y < a ? y : a)
GATHER(gather_max_f64, double, a = y > a ? y : a)
GATHER(gather_sum_u64, uint64_t, a += y)
GATHER(gather_min_u64, uint64_t, a = y < a ? y : a)
GATHER(gather_max_u64, uint64_t, a = y > a ? y : a)
GATHER(gather_min_i64, int64_t, a = y < a ? y : a)
GATHER(gather_max_i64, int64_t, a = y > a ? y : a)
GATHER(gather_sum_u32, uint32_t, a += y)
GATHER(gather_min_u32, uint32_t, a = y < a ? y : a)
GATHER(gather_max_u32, uint32_t, a = y > a ? y : a)

static void gather_rows(const kiln__graph_csr *c, const kiln__graph_csr *c2,
                        uint32_t n, kiln_kind kind, kiln_op op, const void *x,
                        void *out, uint64_t init)
{
    double fi;
    int64_t ii;
    memcpy(&fi, &init, 8);
    memcpy(&ii, &init, 8);
    if (kind == KILN_KIND_U32) {
        uint32_t i32 = (uint32_t)init;
        if (op == KILN_OP_SUM)
            gather_sum_u32(c, c2, n, x, out, i32);
        else if (op == KILN_OP_MIN)
            gather_min_u32(c, c2, n, x, out, i32);
        else
            gather_max_u32(c, c2, n, x, out, i32);
    } else if (kind == KILN_KIND_F64) {
        if (op == KILN_OP_SUM)
            gather_sum_f64(c, c2, n, x, out, fi);
        else if (op == KILN_OP_MIN)
            gather_min_f64(c, c2, n, x, out, fi);
        else
            gather_max_f64(c, c2, n, x, out, fi);
    } else if (op == KILN_OP_SUM) { /* two's complement: I64 sums as U64 */
        gather_sum_u64(c, c2, n, x, out, init);
    } else if (kind == KILN_KIND_U64) {
        if (op == KILN_OP_MIN)
            gather_min_u64(c, c2, n, x, out, init);
        else
            gather_max_u64(c, c2, n, x, out, init);
    } else {
        if (op == KILN_OP_MIN)
            gather_min_i64(c, c2, n, x, out, ii);
        else
            gather_max_i64(c, c2, n, x, out, ii);
    }
}

kiln_status kiln_graph_gather(kiln_graph *g, kiln_graph_dir dir, kiln_kind kind,
                              kiln_op op, void *in, void *out)
{
    if (!g)
        return KILN_ERR_INVAL;
    kiln_context *ctx = g->ctx;
    kiln__api_begin(ctx);
    /* U32 as well: the operators are U64's, on 4-byte elements. */
    bool narrow = kind == KILN_KIND_U32;
    kiln_status st = kiln__graph_check_op(narrow ? KILN_KIND_U64 : kind, op);
    if (st == KILN_OK)
        st = check_dir(g, dir);
    if (st == KILN_OK && (!in || !out) && g->nlocal + g->nmirror > 0)
        st = KILN_ERROR(KILN_ERR_INVAL, "graph: gather of a NULL array");
    kiln__graph_csr *rows[2] = {NULL, NULL};
    int nrows = st == KILN_OK ? rows_of(g, dir, rows) : 0;
    /* agrees; at one rank: no peers */
    st = kiln__graph_sync(g, st, in, narrow ? 4 : 8);
    if (st == KILN_OK) {
        uint64_t init = kiln__graph_identity(kind, op);
        if (nrows > 0)
            gather_rows(rows[0], nrows > 1 ? rows[1] : NULL, g->nlocal, kind, op,
                        in, out, init);
    }
    return kiln__api_end(ctx, st);
}

/* ---- scatter ---- */

static kiln_status scatter_ready(kiln_graph *g)
{
    kiln__graph_scratch *s = &g->s;
    kiln__mem *mem = &g->ctx->mem;
    if (!s->mark && !(s->mark = kiln__mem_calloc(mem, (size_t)g->nlocal + 1, 1)))
        return KILN_ERROR(KILN_ERR_NOMEM, "graph: scatter marks");
    if (!s->mmark && !(s->mmark = kiln__mem_calloc(mem, (size_t)g->nmirror + 1, 1)))
        return KILN_ERROR(KILN_ERR_NOMEM, "graph: scatter marks");
    if (!s->macc && !(s->macc = kiln__mem_alloc(mem, ((size_t)g->nmirror + 1) * 8)))
        return KILN_ERROR(KILN_ERR_NOMEM, "graph: scatter offers");
    if (!s->touched &&
        !(s->touched = kiln__mem_alloc(mem, ((size_t)g->nmirror + 1) * 4)))
        return KILN_ERROR(KILN_ERR_NOMEM, "graph: scatter offers");
    return kiln__graph_scratch_reserve(g, 0, 0);
}

typedef struct offer {
    uint32_t pos;  /* position in the receiver's list for this rank */
    uint32_t pad;
    uint64_t value;
} offer;

typedef struct scatter_state {
    kiln_graph *g;
    kiln_kind kind;
    kiln_op op;
    unsigned char *acc;
    uint32_t *changed;
    size_t nchanged;
    size_t ntouched;
} scatter_state;

static inline void offer_local(scatter_state *s, uint32_t t, const void *cand)
{
    if (kiln__graph_fold(s->kind, s->op, s->acc + 8 * (size_t)t, cand) &&
        !s->g->s.mark[t]) {
        s->g->s.mark[t] = 1;
        if (s->changed)
            s->changed[s->nchanged] = t;
        s->nchanged++;
    }
}

static inline void offer_mirror(scatter_state *s, uint32_t m, const void *cand)
{
    kiln__graph_scratch *sc = &s->g->s;
    if (!sc->mmark[m]) {
        sc->mmark[m] = 1;
        memcpy(sc->macc + 8 * (size_t)m, cand, 8);
        sc->touched[s->ntouched++] = m;
    } else {
        kiln__graph_fold(s->kind, s->op, sc->macc + 8 * (size_t)m, cand);
    }
}

static void push_row(scatter_state *s, const kiln__graph_csr *c, uint32_t u,
                     const unsigned char *in, bool add_weights)
{
    const uint32_t nlocal = s->g->nlocal;
    uint64_t raw;
    memcpy(&raw, in + 8 * (size_t)u, 8);
    for (uint64_t e = c->off[u]; e < c->off[u + 1]; e++) {
        uint64_t cand = raw;
        if (add_weights) {
            double d;
            memcpy(&d, &raw, 8);
            d += c->w ? c->w[e] : 1.0;
            memcpy(&cand, &d, 8);
        }
        uint32_t t = c->adj[e];
        if (t < nlocal)
            offer_local(s, t, &cand);
        else
            offer_mirror(s, t - nlocal, &cand);
    }
}

kiln_status kiln_graph_scatter(kiln_graph *g, kiln_graph_dir dir, kiln_kind kind,
                               kiln_op op, bool add_weights,
                               const uint32_t *active, size_t nactive,
                               const void *in, void *acc, uint32_t *changed,
                               size_t *nchanged, uint64_t *total)
{
    if (!g)
        return KILN_ERR_INVAL;
    kiln_context *ctx = g->ctx;
    kiln__api_begin(ctx);
    kiln_status st = kiln__graph_check_op(kind, op);
    if (st == KILN_OK)
        st = check_dir(g, dir);
    if (st == KILN_OK && add_weights && kind != KILN_KIND_F64)
        st = KILN_ERROR(KILN_ERR_INVAL, "graph: scatter adds weights to F64 only");
    if (st == KILN_OK && g->nlocal > 0 && (!in || !acc))
        st = KILN_ERROR(KILN_ERR_INVAL, "graph: scatter of a NULL array");
    for (size_t i = 0; st == KILN_OK && active && i < nactive; i++)
        if (active[i] >= g->nlocal)
            st = KILN_ERROR(KILN_ERR_INVAL, "graph: active vertex %u of %u",
                            active[i], g->nlocal);
    if (st == KILN_OK)
        st = scatter_ready(g);
    scatter_state s = {g, kind, op, acc, changed, 0, 0};
    if (st == KILN_OK) {
        kiln__graph_csr *rows[2] = {NULL, NULL};
        int nrows = rows_of(g, dir, rows);
        size_t n = active ? nactive : g->nlocal;
        for (size_t i = 0; i < n; i++) {
            uint32_t u = active ? active[i] : (uint32_t)i;
            for (int r = 0; r < nrows; r++)
                push_row(&s, rows[r], u, in, add_weights);
        }
    }
    kiln__graph_scratch *sc = &g->s;
    if (g->nranks > 1) {
        /* Combined offers to mirrors go to their owners. */
        offer *send = NULL;
        if (st == KILN_OK)
            st = kiln__graph_scratch_reserve(g, s.ntouched * sizeof *send, 0);
        if (st == KILN_OK) {
            send = sc->send;
            memset(sc->scount, 0, (size_t)g->nranks * sizeof(int));
            for (size_t i = 0; i < s.ntouched; i++)
                sc->scount[kiln__graph_owner(g, g->mirror_handle[sc->touched[i]])]++;
            int at = 0;
            for (int r = 0; r < g->nranks; r++) {
                sc->sdispl[r] = at;
                at += sc->scount[r];
            }
            for (size_t i = 0; i < s.ntouched; i++) {
                uint32_t m = sc->touched[i];
                int r = kiln__graph_owner(g, g->mirror_handle[m]);
                offer *o = &send[sc->sdispl[r]++];
                o->pos = m - (uint32_t)g->mstart[r];
                o->pad = 0;
                memcpy(&o->value, sc->macc + 8 * (size_t)m, 8);
                sc->mmark[m] = 0;
            }
        }
        size_t nrecv = 0;
        st = kiln__graph_alltoallv(g, st, send, sc->scount, sizeof(offer), &nrecv);
        const offer *recv = sc->recv;
        for (int r = 0; st == KILN_OK && r < g->nranks; r++) {
            int lo = sc->rdispl[r], hi = lo + sc->rcount[r];
            int len = g->sstart[r + 1] - g->sstart[r];
            for (int j = lo; j < hi && st == KILN_OK; j++) {
                if ((int)recv[j].pos >= len) {
                    st = KILN_ERROR(KILN_ERR_STATE, "graph: offer to position %u "
                                    "of %d", recv[j].pos, len);
                    break;
                }
                offer_local(&s, g->sidx[g->sstart[r] + recv[j].pos], &recv[j].value);
            }
        }
    }
    for (size_t i = 0; i < s.ntouched; i++) /* when the exchange did not run */
        sc->mmark[sc->touched[i]] = 0;
    /* Marks off again: walk the changed list, or everything without one. */
    if (sc->mark && changed) {
        for (size_t i = 0; i < s.nchanged; i++)
            sc->mark[changed[i]] = 0;
    } else if (sc->mark) {
        memset(sc->mark, 0, g->nlocal);
    }
    st = kiln__error_agree(ctx, st);
    uint64_t mine = s.nchanged, all = mine;
    if (st == KILN_OK && total && g->nranks > 1 &&
        MPI_Allreduce(&mine, &all, 1, MPI_UINT64_T, MPI_SUM, ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "graph: scatter total");
    if (st == KILN_OK) {
        if (nchanged)
            *nchanged = s.nchanged;
        if (total)
            *total = all;
    }
    return kiln__api_end(ctx, st);
}

/* ---- lookup and send by handle ---- */

static kiln_status check_handle(const kiln_graph *g, uint64_t h)
{
    uint32_t p = (uint32_t)(h >> 32);
    if (p >= g->pf.nparts)
        return KILN_ERROR(KILN_ERR_INVAL, "graph: handle %016llx names partition "
                          "%u of %u", (unsigned long long)h, p, g->pf.nparts);
    return KILN_OK;
}

static kiln_status where_ready(kiln_graph *g, size_t n)
{
    kiln__graph_scratch *s = &g->s;
    if (n <= s->where_cap)
        return KILN_OK;
    size_t cap = kiln__mem_grow(s->where_cap, n, 1024);
    uint32_t *w = kiln__mem_realloc(&g->ctx->mem, s->where, cap * sizeof *w);
    if (!w)
        return KILN_ERROR(KILN_ERR_NOMEM, "graph: %zu request positions", n);
    s->where = w;
    s->where_cap = cap;
    return KILN_OK;
}

/* Requests to other ranks, combined here first: one message per distinct
 * remote handle seen close enough together (below), its position in the
 * send buffer (grouped by owner) in s->where[i] for every remote
 * handles[i] (UINT32_MAX for local ones). With values (send), a message
 * carries the handle and op over the values offered to it, folded in
 * index order; without (lookup), the handle alone, and every i asking for
 * it reads the one answer.
 *
 * Why: an algorithm that points many vertices at a few (CC's parents,
 * once components form) otherwise sends one 16-byte message per vertex
 * to the same handle - after CC's first round on a scale-22 R-MAT graph,
 * over a million per rank per call. Duplicates are found with a direct-
 * mapped table of the latest message per hash bucket: no probing, and a
 * bucket taken over by another handle only costs a second message. */
enum { REQ_TABLE_MAX = 1 << 16 };

typedef struct req_entry {
    uint64_t handle;
    uint32_t msg;  /* message number, in first-seen order; UINT32_MAX: empty */
    uint32_t pad;
} req_entry;

static kiln_status pack_requests(kiln_graph *g, size_t count, const uint64_t *handles,
                                 const unsigned char *values, kiln_kind kind,
                                 kiln_op op, size_t *nremote)
{
    kiln__graph_scratch *s = &g->s;
    kiln__mem *mem = &g->ctx->mem;
    size_t elem = values ? 16 : 8, nmsg = 0;
    if (count > UINT32_MAX - 1)
        return KILN_ERROR(KILN_ERR_LIMIT, "graph: over 2^32 requests in one call");
    kiln_status st = where_ready(g, count);
    if (st != KILN_OK)
        return st;
    size_t tsize = 1024;
    while (tsize < count && tsize < REQ_TABLE_MAX)
        tsize *= 2;
    const unsigned shift = 64 - (unsigned)__builtin_ctzll(tsize);
    req_entry *table = kiln__mem_alloc(mem, tsize * sizeof *table);
    /* Per message, in first-seen order: handle, value, owner rank. The
     * position in the send buffer replaces the owner once counts are in. */
    uint64_t *mh = kiln__mem_alloc(mem, (count ? count : 1) * 8);
    uint64_t *mv = values ? kiln__mem_alloc(mem, (count ? count : 1) * 8) : NULL;
    uint32_t *mr = kiln__mem_alloc(mem, (count ? count : 1) * 4);
    if (!table || !mh || !mr || (values && !mv)) {
        st = KILN_ERROR(KILN_ERR_NOMEM, "graph: %zu requests", count);
        goto done;
    }
    for (size_t t = 0; t < tsize; t++)
        table[t].msg = UINT32_MAX;
    memset(s->scount, 0, (size_t)g->nranks * sizeof(int));
    for (size_t i = 0; i < count; i++) {
        uint64_t h = handles[i];
        if ((st = check_handle(g, h)) != KILN_OK)
            goto done;
        int r = kiln__graph_owner(g, h);
        if (r == g->rank) {
            s->where[i] = UINT32_MAX;
            continue;
        }
        req_entry *e = &table[(h * 0x9e3779b97f4a7c15ull) >> shift];
        if (e->msg != UINT32_MAX && e->handle == h) {
            s->where[i] = e->msg;
            if (values)
                kiln__graph_fold(kind, op, &mv[e->msg], values + 8 * i);
            continue;
        }
        uint32_t m = (uint32_t)nmsg++;
        e->handle = h;
        e->msg = m;
        mh[m] = h;
        if (values)
            memcpy(&mv[m], values + 8 * i, 8);
        mr[m] = (uint32_t)r;
        s->scount[r]++;
        s->where[i] = m;
    }
    if ((st = kiln__graph_scratch_reserve(g, nmsg * elem, 0)) != KILN_OK)
        goto done;
    int at = 0;
    for (int r = 0; r < g->nranks; r++) {
        s->sdispl[r] = at;
        at += s->scount[r];
    }
    unsigned char *send = s->send;
    for (size_t m = 0; m < nmsg; m++) {
        int j = s->sdispl[mr[m]]++;
        memcpy(send + elem * (size_t)j, &mh[m], 8);
        if (values)
            memcpy(send + elem * (size_t)j + 8, &mv[m], 8);
        mr[m] = (uint32_t)j;
    }
    for (size_t i = 0; i < count; i++) /* message number -> position */
        if (s->where[i] != UINT32_MAX)
            s->where[i] = mr[s->where[i]];
    *nremote = nmsg;
done:
    kiln__mem_free(mem, table);
    kiln__mem_free(mem, mh);
    kiln__mem_free(mem, mv);
    kiln__mem_free(mem, mr);
    return st;
}

/* The local index of a handle sent here, or an error. */
static kiln_status local_index(const kiln_graph *g, uint64_t h, uint32_t *i)
{
    if (!kiln_graph_handle_local(g, h, i))
        return KILN_ERROR(KILN_ERR_INVAL, "graph: rank %d holds no vertex with "
                          "handle %016llx", g->rank, (unsigned long long)h);
    return KILN_OK;
}

kiln_status kiln_graph_lookup(kiln_graph *g, size_t count, const uint64_t *handles,
                              const void *values, void *out)
{
    if (!g)
        return KILN_ERR_INVAL;
    kiln_context *ctx = g->ctx;
    kiln__api_begin(ctx);
    const unsigned char *vals = values;
    unsigned char *o = out;
    kiln_status st = count && (!handles || !out) ?
        KILN_ERROR(KILN_ERR_INVAL, "graph: lookup of a NULL array") : KILN_OK;
    size_t nremote = 0, nrecv = 0;
    if (st == KILN_OK)
        st = kiln__graph_scratch_reserve(g, 0, 0);
    if (st == KILN_OK && g->nranks > 1)
        st = pack_requests(g, count, handles, NULL, KILN_KIND_U64, KILN_OP_SUM,
                           &nremote);
    for (size_t i = 0; st == KILN_OK && i < count; i++) {
        uint32_t li;
        if (kiln__graph_owner(g, handles[i]) != g->rank)
            continue;
        if ((st = local_index(g, handles[i], &li)) == KILN_OK)
            memcpy(o + 8 * i, vals + 8 * (size_t)li, 8);
    }
    if (g->nranks == 1)
        return kiln__api_end(ctx, kiln__error_agree(ctx, st));
    kiln__graph_scratch *s = &g->s;
    st = kiln__graph_alltoallv(g, st, s->send, s->scount, 8, &nrecv);
    /* Answer in place of the requests, then send the answers back. */
    int *back = NULL;
    if (st == KILN_OK && !(back = kiln__mem_alloc(&ctx->mem, (size_t)g->nranks *
                                                   sizeof *back)))
        st = KILN_ERROR(KILN_ERR_NOMEM, "graph: lookup");
    if (st == KILN_OK)
        st = kiln__graph_scratch_reserve(g, nrecv * 8, 0);
    if (st == KILN_OK) {
        const uint64_t *req = s->recv;
        uint64_t *ans = s->send;
        for (size_t j = 0; j < nrecv && st == KILN_OK; j++) {
            uint32_t li;
            if ((st = local_index(g, req[j], &li)) == KILN_OK)
                memcpy(&ans[j], vals + 8 * (size_t)li, 8);
        }
        memcpy(back, s->rcount, (size_t)g->nranks * sizeof *back);
    }
    st = kiln__graph_alltoallv(g, st, s->send, back ? back : s->scount, 8, &nrecv);
    kiln__mem_free(&ctx->mem, back);
    if (st == KILN_OK) { /* answers arrive where the requests were sent */
        const unsigned char *ans = s->recv;
        for (size_t i = 0; i < count; i++)
            if (s->where[i] != UINT32_MAX)
                memcpy(o + 8 * i, ans + 8 * (size_t)s->where[i], 8);
    }
    return kiln__api_end(ctx, st);
}

kiln_status kiln_graph_send(kiln_graph *g, kiln_kind kind, kiln_op op,
                            size_t count, const uint64_t *handles,
                            const void *values, void *acc)
{
    if (!g)
        return KILN_ERR_INVAL;
    kiln_context *ctx = g->ctx;
    kiln__api_begin(ctx);
    const unsigned char *vals = values;
    unsigned char *a = acc;
    kiln_status st = kiln__graph_check_op(kind, op);
    if (st == KILN_OK && count && (!handles || !values))
        st = KILN_ERROR(KILN_ERR_INVAL, "graph: send of a NULL array");
    if (st == KILN_OK && g->nlocal && !acc)
        st = KILN_ERROR(KILN_ERR_INVAL, "graph: send into a NULL array");
    size_t nremote = 0, nrecv = 0;
    if (st == KILN_OK)
        st = kiln__graph_scratch_reserve(g, 0, 0);
    if (st == KILN_OK && g->nranks > 1)
        st = pack_requests(g, count, handles, vals, kind, op, &nremote);
    for (size_t i = 0; st == KILN_OK && i < count; i++) {
        uint32_t li;
        if (kiln__graph_owner(g, handles[i]) != g->rank)
            continue;
        if ((st = local_index(g, handles[i], &li)) == KILN_OK)
            kiln__graph_fold(kind, op, a + 8 * (size_t)li, vals + 8 * i);
    }
    if (g->nranks > 1) {
        st = kiln__graph_alltoallv(g, st, g->s.send, g->s.scount, 16, &nrecv);
        const unsigned char *recv = g->s.recv;
        for (size_t j = 0; st == KILN_OK && j < nrecv; j++) {
            uint64_t h;
            uint32_t li;
            memcpy(&h, recv + 16 * j, 8);
            if ((st = local_index(g, h, &li)) == KILN_OK)
                kiln__graph_fold(kind, op, a + 8 * (size_t)li, recv + 16 * j + 8);
        }
    }
    return kiln__api_end(ctx, kiln__error_agree(ctx, st));
}

/* ---- combine and reduce ---- */

static MPI_Datatype mpi_type(kiln_kind kind)
{
    return kind == KILN_KIND_F64 ? MPI_DOUBLE
           : kind == KILN_KIND_I64 ? MPI_INT64_T : MPI_UINT64_T;
}

static MPI_Op mpi_op(kiln_op op)
{
    return op == KILN_OP_SUM ? MPI_SUM : op == KILN_OP_MIN ? MPI_MIN : MPI_MAX;
}

kiln_status kiln_graph_combine(kiln_graph *g, kiln_kind kind, kiln_op op,
                               size_t count, const void *partials, void *result)
{
    if (!g)
        return KILN_ERR_INVAL;
    kiln_context *ctx = g->ctx;
    kiln__api_begin(ctx);
    kiln_status st = kiln__graph_check_op(kind, op);
    size_t nparts = g->pf.nparts;
    uint64_t *slots = NULL;
    if (st == KILN_OK && (count == 0 || !result || (g->nlp && !partials)))
        st = KILN_ERROR(KILN_ERR_INVAL, "graph: combine needs values and a result");
    if (st == KILN_OK && count > (size_t)INT32_MAX / (nparts ? nparts : 1))
        st = KILN_ERROR(KILN_ERR_LIMIT, "graph: combine of %zu values", count);
    if (st == KILN_OK && !(slots = kiln__mem_alloc(&ctx->mem, nparts * count * 8)))
        st = KILN_ERROR(KILN_ERR_NOMEM, "graph: combine");
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    uint64_t ident = kiln__graph_identity(kind, op);
    for (size_t i = 0; i < nparts * count; i++)
        slots[i] = ident;
    for (uint32_t k = 0; k < g->nlp; k++) {
        size_t p = (size_t)g->rank + (size_t)k * (size_t)g->nranks;
        memcpy(slots + p * count, (const uint64_t *)partials + (size_t)k * count,
               count * 8);
    }
    /* Every slot is filled on one rank and the identity elsewhere: the
     * all-reduce moves values without changing them. */
    if (g->nranks > 1 &&
        MPI_Allreduce(MPI_IN_PLACE, slots, (int)(nparts * count), mpi_type(kind),
                      mpi_op(op), ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "graph: combine");
    for (size_t j = 0; j < count; j++) {
        uint64_t acc = ident;
        for (size_t p = 0; p < nparts; p++)
            kiln__graph_fold(kind, op, &acc, &slots[p * count + j]);
        memcpy((unsigned char *)result + 8 * j, &acc, 8);
    }
done:
    kiln__mem_free(&ctx->mem, slots);
    return kiln__api_end(ctx, st);
}

kiln_status kiln_graph_reduce(kiln_graph *g, kiln_kind kind, kiln_op op,
                              const void *values, void *result)
{
    if (!g)
        return KILN_ERR_INVAL;
    kiln_context *ctx = g->ctx;
    kiln__api_begin(ctx);
    kiln_status st = kiln__graph_check_op(kind, op);
    uint64_t *partials = kiln__mem_alloc(&ctx->mem, ((size_t)g->nlp + 1) * 8);
    if (st == KILN_OK && !partials)
        st = KILN_ERROR(KILN_ERR_NOMEM, "graph: reduce");
    if (st == KILN_OK && g->nlocal && !values)
        st = KILN_ERROR(KILN_ERR_INVAL, "graph: reduce of a NULL array");
    if (st == KILN_OK) {
        uint64_t ident = kiln__graph_identity(kind, op);
        const uint64_t *v = values;
        for (uint32_t k = 0; k < g->nlp; k++)
            partials[k] = ident;
        /* A partition's vertices come in handle order: the same folds at
         * any rank count. */
        for (uint32_t i = 0; i < g->nlocal; i++)
            kiln__graph_fold(kind, op, &partials[g->part_of[i]], &v[i]);
    }
    if ((st = kiln__error_agree(ctx, st)) == KILN_OK)
        st = kiln_graph_combine(g, kind, op, 1, partials, result);
    kiln__mem_free(&ctx->mem, partials);
    return kiln__api_end(ctx, st);
}
