/* runtime/exchange.c: moving queued records between ranks in rounds
 * (shuffle module).
 *
 * Per round every rank serialises at most round_bytes / nranks for each
 * other rank from the fronts of its queues (records never split; a single
 * larger record goes alone), MPI_Alltoall agrees on the sizes and
 * MPI_Alltoallv moves them; received segments are read in place and merged
 * at once. Rounds continue until no rank has anything queued, agreed by an
 * all-reduce that also carries any rank's failure, so all ranks leave after
 * the same round. */
#include <limits.h>
#include <stdlib.h>

#include "runtime/error.h"
#include "runtime/log.h"
#define KILN_SHUFFLE_IMPL
#include "runtime/shuffle_impl.h"

/* Records of `block` from `from` that fit in `room` wire bytes (at least
 * one when `force`). */
static size_t fit(const kiln__block *b, size_t from, size_t room, bool force)
{
    size_t n = b->n - from;
    if (kiln__block_wire_size(b, from, b->n) <= room)
        return b->n;
    /* Binary search: wire size grows with the record count. */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (kiln__block_wire_size(b, from, from + mid) <= room)
            lo = mid;
        else
            hi = mid - 1;
    }
    if (lo == 0 && force)
        lo = 1;
    return from + lo;
}

typedef struct round_buffers {
    unsigned char *send, *recv;
    size_t send_cap, recv_cap;
    int *scount, *sdispl, *rcount, *rdispl;
} round_buffers;

static kiln_status grow_buffer(kiln__mem *mem, unsigned char **buf, size_t *cap,
                               size_t need)
{
    if (need <= *cap)
        return KILN_OK;
    size_t c = kiln__mem_grow(*cap, need, 1 << 16);
    unsigned char *p = kiln__mem_realloc(mem, *buf, c);
    if (!p)
        return KILN_ERROR(KILN_ERR_NOMEM, "shuffle buffer of %zu bytes", c);
    *buf = p;
    *cap = c;
    return KILN_OK;
}

/* Serialise this round's share of every remote queue into rb->send. */
static kiln_status pack_round(kiln__shuffle *sh, round_buffers *rb, size_t cap)
{
    size_t total = 0;
    kiln_status st = KILN_OK;
    for (int d = 0; d < sh->nranks; d++) {
        rb->sdispl[d] = (int)total;
        rb->scount[d] = 0;
        if (d == sh->rank)
            continue;
        send_queue *q = &sh->queues[d];
        size_t used = 0;
        while (q->head < q->n && st == KILN_OK) {
            queued *it = &q->items[q->head];
            size_t room = used < cap ? cap - used : 0;
            size_t to = fit(&it->block, it->next, room, used == 0);
            if (to == it->next)
                break;
            size_t bytes = kiln__block_wire_size(&it->block, it->next, to);
            if (total + bytes > (size_t)INT_MAX) {
                st = KILN_ERROR(KILN_ERR_LIMIT, "a shuffle round over 2 GiB "
                                                "(a single record of %zu bytes?)",
                                bytes);
                break;
            }
            if ((st = grow_buffer(sh->mem, &rb->send, &rb->send_cap,
                                  total + bytes)) != KILN_OK)
                break;
            kiln__block_wire_write(&it->block, it->next, to, it->partition,
                                   rb->send + total);
            total += bytes;
            used += bytes;
            it->next = to;
            if (to == it->block.n) {
                kiln__block_release(&it->block);
                q->head++;
            }
        }
        rb->scount[d] = (int)used;
    }
    return st;
}

static kiln_status unpack_round(kiln__shuffle *sh, round_buffers *rb)
{
    for (int s = 0; s < sh->nranks; s++) {
        const unsigned char *p = rb->recv + rb->rdispl[s];
        size_t left = (size_t)rb->rcount[s];
        while (left) {
            kiln_batch b;
            size_t used = kiln__block_wire_read(sh->in, p, left, &b);
            if (!used)
                return KILN_ERROR(KILN_ERR_MPI, "garbled shuffle data from rank %d", s);
            kiln_status st = kiln__shuffle_receive(sh, &b);
            if (st != KILN_OK)
                return st;
            p += used;
            left -= used;
        }
    }
    return KILN_OK;
}

static bool queues_empty(const kiln__shuffle *sh)
{
    for (int d = 0; d < sh->nranks; d++)
        if (d != sh->rank && sh->queues[d].head < sh->queues[d].n)
            return false;
    return true;
}

kiln_status kiln__shuffle_rounds(kiln__shuffle *sh, kiln_status local,
                                 uint64_t *bytes_sent)
{
    kiln_context *ctx = sh->ctx;
    round_buffers rb = {0};
    int n = sh->nranks;
    int *ints = kiln__mem_calloc(sh->mem, 4 * (size_t)n, sizeof *ints);
    if (!ints && local == KILN_OK)
        local = KILN_ERROR(KILN_ERR_NOMEM, "shuffle counts");
    /* Agree before the first collective that everyone can go on. */
    kiln_status st = kiln__error_agree(ctx, local);
    if (st != KILN_OK) {
        kiln__mem_free(sh->mem, ints);
        return st;
    }
    rb.scount = ints;
    rb.sdispl = ints + n;
    rb.rcount = ints + 2 * n;
    rb.rdispl = ints + 3 * n;
    uint64_t round_bytes = ctx->opt.round_bytes;
    if (round_bytes > (uint64_t)INT_MAX / 2)
        round_bytes = (uint64_t)INT_MAX / 2;
    size_t cap = (size_t)(round_bytes / (uint64_t)n);
    if (cap < SEGMENT_BYTES)
        cap = SEGMENT_BYTES;
    uint64_t rounds = 0;
    for (;;) {
        kiln_status mine = pack_round(sh, &rb, cap);
        for (int d = 0; d < n; d++)
            *bytes_sent += (uint64_t)rb.scount[d];
        /* A failed pack still takes part in the round, sending nothing. */
        if (mine != KILN_OK)
            for (int d = 0; d < n; d++)
                rb.scount[d] = 0;
        KILN_CHECK(st, KILN_MPI(MPI_Alltoall(rb.scount, 1, MPI_INT, rb.rcount, 1,
                                             MPI_INT, ctx->comm)), mpi_failed);
        size_t total = 0;
        for (int s = 0; s < n; s++) {
            rb.rdispl[s] = (int)total;
            total += (size_t)rb.rcount[s];
            if (total > (size_t)INT_MAX && mine == KILN_OK)
                mine = KILN_ERROR(KILN_ERR_LIMIT, "a shuffle round over 2 GiB");
        }
        if (mine == KILN_OK)
            mine = grow_buffer(sh->mem, &rb.recv, &rb.recv_cap, total);
        /* Every rank must be able to receive before anyone sends. */
        if ((st = kiln__error_agree(ctx, mine)) != KILN_OK)
            break;
        KILN_CHECK(st, KILN_MPI(MPI_Alltoallv(rb.send, rb.scount, rb.sdispl,
                                              MPI_BYTE, rb.recv, rb.rcount,
                                              rb.rdispl, MPI_BYTE, ctx->comm)),
                   mpi_failed);
        mine = unpack_round(sh, &rb);
        rounds++;
        /* One all-reduce: the worst status, and whether anyone has more. */
        int flags[2] = {(int)mine, queues_empty(sh) ? 0 : -1}, agreed[2];
        KILN_CHECK(st, KILN_MPI(MPI_Allreduce(flags, agreed, 2, MPI_INT, MPI_MIN,
                                              ctx->comm)), mpi_failed);
        if (agreed[0] != KILN_OK) {
            st = kiln__error_agree(ctx, mine);
            break;
        }
        if (agreed[1] == 0)
            break;
    }
    kiln__log(ctx, KILN__LOG_DEBUG, "shuffle of %s: %llu rounds",
              kiln__node_name(sh->node->kind), (unsigned long long)rounds);
    goto done;
mpi_failed:
    /* An MPI failure inside a collective cannot be agreed on reliably. */
    kiln__abort(ctx, kiln__error_message());
done:
    kiln__mem_free(sh->mem, rb.send);
    kiln__mem_free(sh->mem, rb.recv);
    kiln__mem_free(sh->mem, ints);
    return st;
}

