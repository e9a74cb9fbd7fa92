/* runtime/graph_comm.c: the exchanges under the graph operations (graph
 * module): owners to mirrors, mirrors to owners, and a counted Alltoallv
 * for requests of any shape. All are collective over the context's
 * communicator; each first agrees on the caller's local status, so a rank
 * that failed before the call does not leave the others waiting. At one
 * rank every exchange is a no-op (there are no mirrors). */
#include <stdlib.h>
#include <string.h>

#include "runtime/error.h"
#include "runtime/graph.h"

static kiln_status grow_buffer(kiln__mem *mem, void **buf, size_t *have,
                               size_t need)
{
    if (need <= *have)
        return KILN_OK;
    size_t cap = kiln__mem_grow(*have, need, 4096);
    void *p = kiln__mem_realloc(mem, *buf, cap);
    if (!p)
        return KILN_ERROR(KILN_ERR_NOMEM, "graph: %zu bytes of exchange buffer",
                          need);
    *buf = p;
    *have = cap;
    return KILN_OK;
}

static kiln_status counts_ready(kiln_graph *g)
{
    kiln__graph_scratch *s = &g->s;
    if (s->scount)
        return KILN_OK;
    kiln__mem *mem = &g->ctx->mem;
    size_t n = (size_t)g->nranks + 1;
    s->scount = kiln__mem_calloc(mem, n, sizeof(int));
    s->sdispl = kiln__mem_calloc(mem, n, sizeof(int));
    s->rcount = kiln__mem_calloc(mem, n, sizeof(int));
    s->rdispl = kiln__mem_calloc(mem, n, sizeof(int));
    if (s->scount && s->sdispl && s->rcount && s->rdispl)
        return KILN_OK;
    kiln__mem_free(mem, s->scount);
    kiln__mem_free(mem, s->sdispl);
    kiln__mem_free(mem, s->rcount);
    kiln__mem_free(mem, s->rdispl);
    s->scount = s->sdispl = s->rcount = s->rdispl = NULL;
    return KILN_ERROR(KILN_ERR_NOMEM, "graph: exchange counts");
}

kiln_status kiln__graph_scratch_reserve(kiln_graph *g, size_t send_bytes,
                                        size_t recv_bytes)
{
    kiln__mem *mem = &g->ctx->mem;
    kiln_status st = counts_ready(g);
    if (st == KILN_OK)
        st = grow_buffer(mem, &g->s.send, &g->s.send_bytes, send_bytes);
    if (st == KILN_OK)
        st = grow_buffer(mem, &g->s.recv, &g->s.recv_bytes, recv_bytes);
    return st;
}

/* Counts and displacements of the mirror plan, in elements. */
static void plan_counts(const kiln_graph *g, const int *start, int *count,
                        int *displ)
{
    for (int r = 0; r < g->nranks; r++) {
        count[r] = start[r + 1] - start[r];
        displ[r] = start[r];
    }
}

kiln_status kiln__graph_sync(kiln_graph *g, kiln_status local, void *vals,
                             size_t width)
{
    if (g->nranks == 1)
        return local;
    kiln__graph_scratch *s = &g->s;
    size_t nsend = (size_t)g->sstart[g->nranks];
    if (local == KILN_OK)
        local = kiln__graph_scratch_reserve(g, nsend * width, 0);
    kiln_status st = kiln__error_agree(g->ctx, local);
    if (st != KILN_OK)
        return st;
    MPI_Datatype type = MPI_UINT64_T;
    void *mirrors = (unsigned char *)vals + width * g->nlocal;
    if (width == 4) {
        uint32_t *send = s->send;
        const uint32_t *v = vals;
        for (size_t j = 0; j < nsend; j++)
            send[j] = v[g->sidx[j]];
        type = MPI_UINT32_T;
    } else {
        uint64_t *send = s->send;
        const uint64_t *v = vals;
        for (size_t j = 0; j < nsend; j++)
            send[j] = v[g->sidx[j]];
    }
    plan_counts(g, g->sstart, s->scount, s->sdispl);
    plan_counts(g, g->mstart, s->rcount, s->rdispl);
    if (MPI_Alltoallv(s->send, s->scount, s->sdispl, type, mirrors, s->rcount,
                      s->rdispl, type, g->ctx->comm) != MPI_SUCCESS)
        kiln__abort(g->ctx, "graph: mirror exchange");
    return KILN_OK;
}

kiln_status kiln__graph_unsync(kiln_graph *g, kiln_status local, kiln_kind kind,
                               kiln_op op, const void *mvals, void *vals)
{
    if (g->nranks == 1)
        return local;
    kiln__graph_scratch *s = &g->s;
    size_t nrecv = (size_t)g->sstart[g->nranks];
    if (local == KILN_OK)
        local = kiln__graph_scratch_reserve(g, 0, nrecv * 8);
    kiln_status st = kiln__error_agree(g->ctx, local);
    if (st != KILN_OK)
        return st;
    plan_counts(g, g->mstart, s->scount, s->sdispl);
    plan_counts(g, g->sstart, s->rcount, s->rdispl);
    if (MPI_Alltoallv(mvals, s->scount, s->sdispl, MPI_UINT64_T, s->recv,
                      s->rcount, s->rdispl, MPI_UINT64_T, g->ctx->comm) !=
        MPI_SUCCESS)
        kiln__abort(g->ctx, "graph: mirror exchange");
    const unsigned char *r = s->recv;
    unsigned char *v = vals;
    for (size_t j = 0; j < nrecv; j++)
        kiln__graph_fold(kind, op, v + 8 * (size_t)g->sidx[j], r + 8 * j);
    return KILN_OK;
}

kiln_status kiln__graph_alltoallv(kiln_graph *g, kiln_status local,
                                  const void *send, const int *scount,
                                  size_t elem_bytes, size_t *nrecv)
{
    kiln_context *ctx = g->ctx;
    kiln__graph_scratch *s = &g->s;
    *nrecv = 0;
    if (local == KILN_OK)
        local = counts_ready(g);
    kiln_status st = kiln__error_agree(ctx, local);
    if (st != KILN_OK)
        return st;
    int nranks = g->nranks;
    if (MPI_Alltoall(scount, 1, MPI_INT, s->rcount, 1, MPI_INT, ctx->comm) !=
        MPI_SUCCESS)
        kiln__abort(ctx, "graph: exchange counts");
    long long ssum = 0, rsum = 0;
    for (int r = 0; r < nranks; r++) {
        s->sdispl[r] = (int)ssum;
        s->rdispl[r] = (int)rsum;
        ssum += scount[r];
        rsum += s->rcount[r];
    }
    if (ssum > 2147483647LL || rsum > 2147483647LL)
        st = KILN_ERROR(KILN_ERR_LIMIT, "graph: over 2^31 elements in one exchange");
    if (st == KILN_OK && s->scount != scount)
        memcpy(s->scount, scount, (size_t)nranks * sizeof(int));
    if (st == KILN_OK)
        st = kiln__graph_scratch_reserve(g, 0, (size_t)rsum * elem_bytes);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        return st;
    MPI_Datatype t;
    if (MPI_Type_contiguous((int)elem_bytes, MPI_BYTE, &t) != MPI_SUCCESS ||
        MPI_Type_commit(&t) != MPI_SUCCESS)
        kiln__abort(ctx, "graph: exchange type");
    int rc = MPI_Alltoallv(send, s->scount, s->sdispl, t, s->recv, s->rcount,
                           s->rdispl, t, ctx->comm);
    MPI_Type_free(&t);
    if (rc != MPI_SUCCESS)
        kiln__abort(ctx, "graph: exchange");
    *nrecv = (size_t)rsum;
    return KILN_OK;
}

uint64_t kiln__graph_identity(kiln_kind kind, kiln_op op)
{
    uint64_t u = 0;
    if (op == KILN_OP_SUM)
        return 0; /* +0.0 is all zero bits too */
    if (kind == KILN_KIND_U32)
        return op == KILN_OP_MIN ? UINT32_MAX : 0;
    if (kind == KILN_KIND_F64) {
        double d = op == KILN_OP_MIN ? __builtin_inf() : -__builtin_inf();
        memcpy(&u, &d, 8);
    } else if (kind == KILN_KIND_I64) {
        u = op == KILN_OP_MIN ? (uint64_t)INT64_MAX : (uint64_t)INT64_MIN;
    } else {
        u = op == KILN_OP_MIN ? UINT64_MAX : 0;
    }
    return u;
}

kiln_status kiln__graph_check_op(kiln_kind kind, kiln_op op)
{
    if (kind != KILN_KIND_U64 && kind != KILN_KIND_I64 && kind != KILN_KIND_F64)
        return KILN_ERROR(KILN_ERR_INVAL, "graph: values must be U64, I64 or F64 "
                          "(U32 only in a gather)");
    if (op != KILN_OP_SUM && op != KILN_OP_MIN && op != KILN_OP_MAX)
        return KILN_ERROR(KILN_ERR_INVAL, "graph: the operator must be SUM, MIN "
                          "or MAX");
    return KILN_OK;
}
