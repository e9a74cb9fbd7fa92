/* runtime/collect.c: bringing records to one rank or to all (schedule
 * module): collect, take and broadcast joins. Each rank keeps the records
 * of the partitions it ran, serialises them with their partition numbers,
 * and one gather (MPI_Gatherv or MPI_Allgatherv) brings them to the
 * receivers, which put them in partition order. */
#include <limits.h>
#include <stdlib.h>

#include "runtime/error.h"
#include "runtime/schedule.h"


/* Gather partitions [lo, hi) held in `parts` to root (or all ranks) and
 * append them in partition order to into, at most `limit` records. */
kiln_status kiln__schedule_gather(kiln_context *ctx, const kiln_schema *schema,
                                  kiln__store *parts, uint32_t lo, uint32_t hi,
                                  int root, size_t limit, kiln__block *into)
{
    kiln_status st = KILN_OK;
    size_t bytes = 0;
    for (uint32_t p = lo; p < hi; p++)
        for (size_t b = 0; b < parts[p - lo].nblocks; b++)
            bytes += kiln__block_wire_size(&parts[p - lo].blocks[b], 0,
                                           parts[p - lo].blocks[b].n);
    int n = ctx->nranks;
    int *counts = kiln__mem_calloc(&ctx->mem, 2 * (size_t)n, sizeof *counts);
    unsigned char *send = kiln__mem_alloc(&ctx->mem, bytes ? bytes : 1);
    unsigned char *recv = NULL;
    const unsigned char **seg_at = NULL;
    if (!counts || !send)
        st = KILN_ERROR(KILN_ERR_NOMEM, "collect buffers");
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    size_t pos = 0;
    for (uint32_t p = lo; p < hi; p++)
        for (size_t b = 0; b < parts[p - lo].nblocks; b++) {
            const kiln__block *blk = &parts[p - lo].blocks[b];
            kiln__block_wire_write(blk, 0, blk->n, p, send + pos);
            pos += kiln__block_wire_size(blk, 0, blk->n);
        }
    uint64_t mine = bytes, *all = kiln__mem_alloc(&ctx->mem, (size_t)n * 8);
    if ((st = kiln__error_agree(ctx, all ? KILN_OK : KILN_ERR_NOMEM)) != KILN_OK)
        goto done;
    KILN_CHECK(st, KILN_MPI(MPI_Allgather(&mine, 1, MPI_UINT64_T, all, 1,
                                          MPI_UINT64_T, ctx->comm)), mpi_fail);
    uint64_t total = 0;
    for (int r = 0; r < n; r++) {
        counts[n + r] = (int)total; /* displacements */
        counts[r] = (int)all[r];
        total += all[r];
    }
    kiln__mem_free(&ctx->mem, all);
    if (total > (uint64_t)INT_MAX) { /* same verdict everywhere */
        st = KILN_ERROR(KILN_ERR_LIMIT, "collect of %llu bytes is over 2 GiB; "
                        "save the dataset instead", (unsigned long long)total);
        goto done;
    }
    bool receives = root == KILN_ALL_RANKS || root == ctx->rank;
    if (receives && !(recv = kiln__mem_alloc(&ctx->mem, total ? (size_t)total : 1)))
        st = KILN_ERROR(KILN_ERR_NOMEM, "collect of %llu bytes", (unsigned long long)total);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    if (root == KILN_ALL_RANKS)
        KILN_CHECK(st, KILN_MPI(MPI_Allgatherv(send, (int)bytes, MPI_BYTE, recv,
                                               counts, counts + n, MPI_BYTE,
                                               ctx->comm)), mpi_fail);
    else
        KILN_CHECK(st, KILN_MPI(MPI_Gatherv(send, (int)bytes, MPI_BYTE, recv,
                                            counts, counts + n, MPI_BYTE, root,
                                            ctx->comm)), mpi_fail);
    if (!receives)
        goto done;
    /* Index segments by partition, then append in partition order. A
     * partition is computed by one rank, so its segments arrive in order. */
    size_t nseg = 0;
    for (size_t at = 0; at < total;) {
        kiln_batch b;
        size_t used = kiln__block_wire_read(schema, recv + at, (size_t)total - at, &b);
        if (!used) {
            st = KILN_ERROR(KILN_ERR_MPI, "garbled collect data");
            goto done;
        }
        at += used;
        nseg++;
    }
    seg_at = kiln__mem_alloc(&ctx->mem, (nseg ? nseg : 1) * sizeof *seg_at);
    if (!seg_at) {
        st = KILN_ERROR(KILN_ERR_NOMEM, "collect index");
        goto done;
    }
    nseg = 0;
    for (size_t at = 0; at < total;) {
        kiln_batch b;
        seg_at[nseg++] = recv + at;
        at += kiln__block_wire_read(schema, recv + at, (size_t)total - at, &b);
    }
    for (uint32_t p = lo; p < hi && into->n < limit && st == KILN_OK; p++) {
        for (size_t s = 0; s < nseg && into->n < limit && st == KILN_OK; s++) {
            kiln_batch b;
            kiln__block_wire_read(schema, seg_at[s], (size_t)(recv + total - seg_at[s]), &b);
            if (b.partition != p)
                continue;
            size_t take = b.n < limit - into->n ? b.n : limit - into->n;
            st = kiln__block_append_batch(into, &b, 0, take);
        }
    }
done:
    kiln__mem_free(&ctx->mem, seg_at);
    kiln__mem_free(&ctx->mem, recv);
    kiln__mem_free(&ctx->mem, send);
    kiln__mem_free(&ctx->mem, counts);
    return st;
mpi_fail:
    kiln__abort(ctx, kiln__error_message());
}

kiln_status kiln__schedule_collect(kiln_context *ctx, kiln__node *n, uint32_t lo,
                                   uint32_t hi, int root, size_t limit,
                                   const char *name, kiln__block *into)
{
    kiln__store *parts = kiln__store_array_new(&ctx->mem, &n->schema, hi - lo);
    kiln_status st = parts ? KILN_OK : KILN_ERROR(KILN_ERR_NOMEM, "%s stores", name);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        return st;
    kiln__store_sink sink;
    kiln__store_sink_init(&sink, parts, lo, limit);
    kiln__stage_totals totals;
    st = kiln__schedule_stage(ctx, n, lo, hi, &sink.base, name, &totals);
    if (st == KILN_OK)
        st = kiln__schedule_gather(ctx, &n->schema, parts, lo, hi, root, limit, into);
    kiln__store_array_free(&ctx->mem, parts, hi - lo);
    return st;
}

