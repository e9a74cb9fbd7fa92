/* runtime/graph_triangles.c: exact triangle counting (graph module).
 *
 * The undirected simple graph: each vertex's neighbours over both
 * directions, its own handle and repeats dropped. Each edge is oriented
 * from the end with the lower (degree, id) to the higher, so a vertex has
 * at most about sqrt(2m) out-neighbours (N+). A triangle a < b < c (in
 * that order) is then found exactly once: at apex a, from the pair (b, c)
 * of N+(a), by asking b's owner whether c is in N+(b) - a binary search in
 * a list sorted by handle. The hit is credited to a, b and c.
 *
 * Rounds bound the memory: a step walks apexes until it holds
 * --kiln-round-bytes of queries for other ranks (or has examined 64 times
 * as many wedges), exchanges them (answered where they land), then sends the
 * credits for vertices held elsewhere. An apex is marked done once all its
 * wedges are out, and every credit is delivered before the step returns,
 * so (counts, done) is a consistent state to checkpoint between steps. */
#include <stdlib.h>
#include <string.h>

#include "runtime/error.h"
#include "runtime/graph.h"

struct kiln_graph_triangles {
    kiln_graph *g;
    uint64_t *counts, *done;  /* the caller's, nlocal each */
    uint64_t *off;            /* nlocal + 1: N+ rows */
    uint64_t *nb;             /* N+ handles, each row ascending */
    uint64_t *nb_deg, *nb_id; /* each entry's (degree, id): its order key */
    uint32_t cursor;          /* next apex to look at */
};

typedef struct query {
    uint64_t a, b, apex; /* is b in N+(a)? a is held by the receiver */
} query;

/* (deg, id) of x before that of y? */
static bool before(uint64_t dx, uint64_t ix, uint64_t dy, uint64_t iy)
{
    return dx != dy ? dx < dy : ix < iy;
}

/* ---- building N+ ---- */

typedef struct nbr {
    uint64_t handle;
    uint32_t slot;
} nbr;

static int by_handle(const void *x, const void *y)
{
    const nbr *a = x, *b = y;
    return a->handle < b->handle ? -1 : a->handle > b->handle;
}

/* The simple undirected neighbours of u into buf (sorted, unique, not u). */
static size_t neighbours(const kiln_graph *g, uint32_t u, uint64_t self, nbr *buf)
{
    size_t n = 0;
    const kiln__graph_csr *rows[2] = {&g->out, g->in_is_out || !g->has_in ? NULL : &g->in};
    for (int r = 0; r < 2; r++) {
        if (!rows[r])
            continue;
        for (uint64_t e = rows[r]->off[u]; e < rows[r]->off[u + 1]; e++) {
            uint32_t s = rows[r]->adj[e];
            uint64_t h = s < g->nlocal ? kiln__graph_handle_of(g, s)
                                       : g->mirror_handle[s - g->nlocal];
            if (h != self)
                buf[n++] = (nbr){h, s};
        }
    }
    qsort(buf, n, sizeof *buf, by_handle);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || buf[m - 1].handle != buf[i].handle)
            buf[m++] = buf[i];
    return m;
}

static size_t row_len(const kiln_graph *g, uint32_t u)
{
    size_t n = g->out.off[u + 1] - g->out.off[u];
    if (g->has_in && !g->in_is_out)
        n += g->in.off[u + 1] - g->in.off[u];
    return n;
}

kiln_status kiln_graph_triangles_begin(kiln_graph *g, uint64_t *counts,
                                       uint64_t *done, kiln_graph_triangles **out)
{
    if (!g || !out)
        return KILN_ERR_INVAL;
    kiln_context *ctx = g->ctx;
    kiln__mem *mem = &ctx->mem;
    kiln__api_begin(ctx);
    kiln_status st = KILN_OK;
    kiln_graph_triangles *t = NULL;
    uint64_t *deg = NULL, *ids = NULL;
    nbr *buf = NULL;
    size_t slots = (size_t)g->nlocal + g->nmirror, maxlen = 0;
    if (!g->has_out || (!g->undirected && !g->has_in))
        st = KILN_ERROR(KILN_ERR_STATE, "graph: triangles need an undirected graph "
                        "or both adjacencies");
    else if (g->nlocal && (!counts || !done))
        st = KILN_ERROR(KILN_ERR_INVAL, "graph: triangles need counts and done");
    for (uint32_t u = 0; st == KILN_OK && u < g->nlocal; u++)
        if (row_len(g, u) > maxlen)
            maxlen = row_len(g, u);
    if (st == KILN_OK) {
        t = kiln__mem_calloc(mem, 1, sizeof *t);
        deg = kiln__mem_calloc(mem, slots + 1, sizeof *deg);
        ids = kiln__mem_alloc(mem, (slots + 1) * sizeof *ids);
        buf = kiln__mem_alloc(mem, (maxlen + 1) * sizeof *buf);
        if (!t || !deg || !ids || !buf)
            st = KILN_ERROR(KILN_ERR_NOMEM, "graph: triangles");
        if (t)
            t->g = g;
    }
    /* Simple degrees here, then on the mirrors. */
    for (uint32_t u = 0; st == KILN_OK && u < g->nlocal; u++)
        deg[u] = neighbours(g, u, kiln__graph_handle_of(g, u), buf);
    st = kiln__graph_sync(g, st, deg, 8);
    if (st == KILN_OK) {
        memcpy(ids, g->ids, (size_t)g->nlocal * 8);
        memcpy(ids + g->nlocal, g->mirror_id, (size_t)g->nmirror * 8);
        t->g = g;
        t->counts = counts;
        t->done = done;
        t->off = kiln__mem_calloc(mem, (size_t)g->nlocal + 1, sizeof *t->off);
        if (!t->off)
            st = KILN_ERROR(KILN_ERR_NOMEM, "graph: triangles");
    }
    /* N+ rows: the neighbours after u in (degree, id) order. */
    size_t total = 0;
    for (uint32_t u = 0; st == KILN_OK && u < g->nlocal; u++) {
        size_t n = neighbours(g, u, kiln__graph_handle_of(g, u), buf);
        for (size_t i = 0; i < n; i++)
            total += before(deg[u], ids[u], deg[buf[i].slot], ids[buf[i].slot]);
        t->off[u + 1] = total;
    }
    if (st == KILN_OK) {
        t->nb = kiln__mem_alloc(mem, (total + 1) * 8);
        t->nb_deg = kiln__mem_alloc(mem, (total + 1) * 8);
        t->nb_id = kiln__mem_alloc(mem, (total + 1) * 8);
        if (!t->nb || !t->nb_deg || !t->nb_id)
            st = KILN_ERROR(KILN_ERR_NOMEM, "graph: %zu oriented edges", total);
    }
    for (uint32_t u = 0; st == KILN_OK && u < g->nlocal; u++) {
        size_t n = neighbours(g, u, kiln__graph_handle_of(g, u), buf), at = t->off[u];
        for (size_t i = 0; i < n; i++) {
            uint32_t s = buf[i].slot;
            if (!before(deg[u], ids[u], deg[s], ids[s]))
                continue;
            t->nb[at] = buf[i].handle;
            t->nb_deg[at] = deg[s];
            t->nb_id[at] = ids[s];
            at++;
        }
    }
    kiln__mem_free(mem, deg);
    kiln__mem_free(mem, ids);
    kiln__mem_free(mem, buf);
    if ((st = kiln__error_agree(ctx, st)) == KILN_OK) {
        *out = t;
        t = NULL;
    }
    kiln_graph_triangles_end(&t);
    return kiln__api_end(ctx, st);
}

void kiln_graph_triangles_end(kiln_graph_triangles **tp)
{
    kiln_graph_triangles *t = tp ? *tp : NULL;
    if (!t)
        return;
    kiln__mem *mem = &t->g->ctx->mem;
    kiln__mem_free(mem, t->off);
    kiln__mem_free(mem, t->nb);
    kiln__mem_free(mem, t->nb_deg);
    kiln__mem_free(mem, t->nb_id);
    kiln__mem_free(mem, t);
    *tp = NULL;
}

/* ---- a step ---- */

typedef struct step {
    kiln_graph_triangles *t;
    query *remote;          /* queries for other ranks */
    size_t nremote, cap;
    uint64_t *credit;       /* handles of vertices held elsewhere to credit */
    size_t ncredit, ccap;
} step;

static bool member(const kiln_graph_triangles *t, uint32_t a, uint64_t b)
{
    uint64_t lo = t->off[a], hi = t->off[a + 1];
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (t->nb[mid] < b)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->off[a + 1] && t->nb[lo] == b;
}

static kiln_status credit(step *s, uint64_t h)
{
    kiln_graph *g = s->t->g;
    uint32_t i;
    if (kiln_graph_handle_local(g, h, &i)) {
        s->t->counts[i]++;
        return KILN_OK;
    }
    if (s->ncredit == s->ccap) {
        size_t cap = kiln__mem_grow(s->ccap, s->ncredit + 1, 1024);
        uint64_t *c = kiln__mem_realloc(&g->ctx->mem, s->credit, cap * 8);
        if (!c)
            return KILN_ERROR(KILN_ERR_NOMEM, "graph: triangle credits");
        s->credit = c;
        s->ccap = cap;
    }
    s->credit[s->ncredit++] = h;
    return KILN_OK;
}

/* Answer one query whose `a` is held here. */
static kiln_status answer(step *s, const query *q)
{
    uint32_t a;
    if (!kiln_graph_handle_local(s->t->g, q->a, &a))
        return KILN_ERROR(KILN_ERR_STATE, "graph: triangle query for a vertex "
                          "held elsewhere");
    if (!member(s->t, a, q->b))
        return KILN_OK;
    s->t->counts[a]++;
    kiln_status st = credit(s, q->b);
    return st == KILN_OK ? credit(s, q->apex) : st;
}

static kiln_status ask(step *s, const query *q)
{
    kiln_graph *g = s->t->g;
    if (kiln__graph_owner(g, q->a) == g->rank)
        return answer(s, q);
    if (s->nremote == s->cap) {
        size_t cap = kiln__mem_grow(s->cap, s->nremote + 1, 4096);
        query *r = kiln__mem_realloc(&g->ctx->mem, s->remote, cap * sizeof *r);
        if (!r)
            return KILN_ERROR(KILN_ERR_NOMEM, "graph: triangle queries");
        s->remote = r;
        s->cap = cap;
    }
    s->remote[s->nremote++] = *q;
    return KILN_OK;
}

kiln_status kiln_graph_triangles_step(kiln_graph_triangles *t, bool *finished)
{
    if (!t || !finished)
        return KILN_ERR_INVAL;
    kiln_graph *g = t->g;
    kiln_context *ctx = g->ctx;
    kiln__mem *mem = &ctx->mem;
    kiln__api_begin(ctx);
    step s = {t, NULL, 0, 0, NULL, 0, 0};
    kiln_status st = KILN_OK;
    /* Remote queries per step: --kiln-round-bytes' worth; local work is
     * bounded too (64 wedges per query allowed), so that a step at one
     * rank ends now and then and a checkpoint can be taken. */
    size_t limit = ctx->opt.round_bytes / sizeof(query);
    uint64_t wedges = 0;
    if (limit < 16)
        limit = 16;
    const uint64_t max_wedges = 64 * (uint64_t)limit;
    uint32_t u = t->cursor;
    for (; u < g->nlocal && st == KILN_OK; u++) {
        if (s.nremote >= limit || wedges >= max_wedges)
            break;
        if (t->done[u])
            continue;
        uint64_t self = kiln__graph_handle_of(g, u);
        for (uint64_t i = t->off[u]; i < t->off[u + 1] && st == KILN_OK; i++)
            for (uint64_t j = i + 1; j < t->off[u + 1] && st == KILN_OK; j++) {
                query q = {t->nb[i], t->nb[j], self};
                if (!before(t->nb_deg[i], t->nb_id[i], t->nb_deg[j], t->nb_id[j])) {
                    q.a = t->nb[j];
                    q.b = t->nb[i];
                }
                st = ask(&s, &q);
                wedges++;
            }
        t->done[u] = 1;
    }
    t->cursor = u;
    /* Queries to their owners, answered there. */
    if (g->nranks > 1) {
        kiln__graph_scratch *sc = &g->s;
        size_t nrecv = 0;
        if (st == KILN_OK)
            st = kiln__graph_scratch_reserve(g, s.nremote * sizeof(query), 0);
        if (st == KILN_OK) {
            memset(sc->scount, 0, (size_t)g->nranks * sizeof(int));
            for (size_t i = 0; i < s.nremote; i++)
                sc->scount[kiln__graph_owner(g, s.remote[i].a)]++;
            int at = 0;
            for (int r = 0; r < g->nranks; r++) {
                sc->sdispl[r] = at;
                at += sc->scount[r];
            }
            query *send = sc->send;
            for (size_t i = 0; i < s.nremote; i++)
                send[sc->sdispl[kiln__graph_owner(g, s.remote[i].a)]++] = s.remote[i];
        }
        st = kiln__graph_alltoallv(g, st, sc->send, sc->scount, sizeof(query), &nrecv);
        const query *recv = sc->recv;
        for (size_t i = 0; st == KILN_OK && i < nrecv; i++)
            st = answer(&s, &recv[i]);
        /* Credits for vertices held elsewhere: ones, summed at the owners. */
        uint64_t *ones = NULL;
        if ((st = kiln__error_agree(ctx, st)) == KILN_OK &&
            !(ones = kiln__mem_alloc(mem, (s.ncredit + 1) * 8)))
            st = KILN_ERROR(KILN_ERR_NOMEM, "graph: triangle credits");
        for (size_t i = 0; ones && i < s.ncredit; i++)
            ones[i] = 1;
        if ((st = kiln__error_agree(ctx, st)) == KILN_OK)
            st = kiln_graph_send(g, KILN_KIND_U64, KILN_OP_SUM, s.ncredit, s.credit,
                                 ones, t->counts);
        kiln__mem_free(mem, ones);
    }
    kiln__mem_free(mem, s.remote);
    kiln__mem_free(mem, s.credit);
    st = kiln__error_agree(ctx, st);
    int more = t->cursor < g->nlocal, any = more;
    if (st == KILN_OK && g->nranks > 1 &&
        MPI_Allreduce(&more, &any, 1, MPI_INT, MPI_MAX, ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "graph: triangle rounds");
    if (st == KILN_OK)
        *finished = !any;
    return kiln__api_end(ctx, st);
}
