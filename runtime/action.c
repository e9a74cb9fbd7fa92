/* runtime/action.c: the public actions. Each prepares the lineage (plan on
 * the master, run the shuffles), runs one final stage into its sink, then
 * finishes collectively: results are combined across ranks in partition
 * order, so they never depend on which rank computed what. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/error.h"
#include "runtime/io.h"
#include "runtime/node.h"
#include "runtime/schedule.h"
#include "runtime/shared.h"
#include "runtime/shuffle.h"

/* Plain allocations (no accountant): a collection may outlive its context. */
struct kiln_collection {
    kiln__block block;
    kiln_batch view;
};

static kiln_status begin(kiln_dataset *ds, kiln_context **ctx)
{
    if (!ds)
        return KILN_ERR_INVAL;
    if (!ds->node.ctx)
        return KILN_ERR_STATE;
    *ctx = ds->node.ctx;
    kiln__api_begin(*ctx);
    (*ctx)->running.stage = 0;
    (*ctx)->running.nstages = 1;
    (*ctx)->actions++;
    return KILN_OK;
}

/* Every action ends here, on every rank, whatever happened. */
static kiln_status end(kiln_context *ctx, kiln_status st)
{
    kiln_status merged = kiln__accumulators_merge(ctx);
    if (st == KILN_OK)
        st = merged;
    return kiln__api_end(ctx, st);
}

static kiln_status run_all(kiln_context *ctx, kiln__node *n, kiln__sink *sink,
                           const char *name)
{
    kiln__stage_totals totals;
    kiln_status st = kiln__schedule_prepare(ctx, n, name);
    if (st == KILN_OK)
        st = kiln__schedule_stage(ctx, n, 0, n->nparts, sink, name, &totals);
    return st;
}

kiln_status kiln_dataset_count(kiln_dataset *ds, uint64_t *out)
{
    kiln_context *ctx;
    kiln_status st = begin(ds, &ctx);
    if (st != KILN_OK)
        return st;
    kiln__count_sink sink;
    kiln__count_sink_init(&sink);
    st = run_all(ctx, &ds->node, &sink.base, "count");
    uint64_t total = 0;
    if (st == KILN_OK)
        KILN_CHECK(st, KILN_MPI(MPI_Allreduce(&sink.count, &total, 1, MPI_UINT64_T,
                                              MPI_SUM, ctx->comm)), done);
done:
    if (st == KILN_OK && out)
        *out = total;
    return end(ctx, st);
}

kiln_status kiln_dataset_foreach(kiln_dataset *ds, kiln_foreach_fn fn, void *arg)
{
    kiln_context *ctx;
    kiln_status st = begin(ds, &ctx);
    if (st != KILN_OK)
        return st;
    if (!fn) {
        st = KILN_ERROR(KILN_ERR_INVAL, "foreach: callback is NULL");
        return end(ctx, st);
    }
    kiln__foreach_sink sink;
    kiln__foreach_sink_init(&sink, fn, arg);
    st = run_all(ctx, &ds->node, &sink.base, "foreach");
    return end(ctx, st);
}

/* ---- aggregate and reduce: one slot per partition, all-reduced with
 * bitwise OR (each slot is non-zero on exactly one rank), then combined in
 * a fixed tree over partition indices: bit-identical at any rank count. */

static kiln_status aggregate_slots(kiln_context *ctx, kiln__node *n,
                                   const void *zero, size_t size,
                                   kiln_seq_fn seq, kiln_comb_fn comb,
                                   void *arg, void *result)
{
    kiln_status st = kiln__schedule_prepare(ctx, n, "aggregate");
    if (st != KILN_OK)
        return st;
    uint32_t np = n->nparts;
    size_t bytes = (size_t)np * size;
    unsigned char *slots = NULL;
    if (bytes > (size_t)INT_MAX)
        st = KILN_ERROR(KILN_ERR_LIMIT, "aggregate: %u partitions x %zu bytes "
                                        "is over 2 GiB", np, size);
    else if (!(slots = kiln__mem_calloc(&ctx->mem, np ? np : 1, size)))
        st = KILN_ERROR(KILN_ERR_NOMEM, "aggregate slots");
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    kiln__aggregate_sink sink;
    kiln__aggregate_sink_init(&sink, slots, size, zero, seq, arg, 0);
    kiln__stage_totals totals;
    if ((st = kiln__schedule_stage(ctx, n, 0, np, &sink.base, "aggregate",
                                   &totals)) != KILN_OK)
        goto done;
    KILN_CHECK(st, KILN_MPI(MPI_Allreduce(MPI_IN_PLACE, slots, (int)bytes,
                                          MPI_BYTE, MPI_BOR, ctx->comm)), done);
    /* The same tree on every rank: slot i absorbs slot i + stride. */
    for (size_t stride = 1; stride < np && st == KILN_OK; stride *= 2)
        for (size_t i = 0; i + stride < np && st == KILN_OK; i += 2 * stride)
            st = comb(slots + i * size, slots + (i + stride) * size, arg);
    if (st != KILN_OK)
        st = KILN_ERROR(st > 0 ? KILN_ERR_USER : st, "aggregate: combine failed");
    /* comb is user code run identically on every rank; agree anyway. */
    if ((st = kiln__error_agree(ctx, st)) == KILN_OK)
        memcpy(result, np ? slots : zero, size);
done:
    kiln__mem_free(&ctx->mem, slots);
    return st;
}

kiln_status kiln_dataset_aggregate(kiln_dataset *ds, const void *zero,
                                   size_t size, kiln_seq_fn seq,
                                   kiln_comb_fn comb, void *arg, void *result)
{
    kiln_context *ctx;
    kiln_status st = begin(ds, &ctx);
    if (st != KILN_OK)
        return st;
    if (!zero || !size || !seq || !comb || !result)
        st = KILN_ERROR(KILN_ERR_INVAL, "aggregate: zero, size, seq, comb and "
                                        "result are required");
    else
        st = aggregate_slots(ctx, &ds->node, zero, size, seq, comb, arg, result);
    return end(ctx, st);
}

/* reduce = aggregate over [u64 present][value]. */
typedef struct reduce_args {
    kiln__reducer r;
} reduce_args;

static kiln_status reduce_seq(void *acc, const kiln_batch *in, void *arg)
{
    reduce_args *ra = arg;
    unsigned char *a = acc;
    size_t size = ra->r.size, i = 0;
    uint64_t present;
    memcpy(&present, a, 8);
    if (!present && in->n) {
        memcpy(a + 8, in->values, size);
        present = 1;
        memcpy(a, &present, 8);
        i = 1;
    }
    enum { CHUNK = 256 };
    void *accs[CHUNK];
    for (size_t k = 0; k < CHUNK; k++)
        accs[k] = a + 8;
    while (i < in->n) {
        size_t n = in->n - i < CHUNK ? in->n - i : CHUNK;
        kiln_status st = kiln__reduce_apply(&ra->r, accs, in->values + i * size, n);
        if (st != KILN_OK)
            return st;
        i += n;
    }
    return KILN_OK;
}

static kiln_status reduce_comb(void *acc, const void *other, void *arg)
{
    reduce_args *ra = arg;
    unsigned char *a = acc;
    const unsigned char *o = other;
    uint64_t pa, po;
    memcpy(&pa, a, 8);
    memcpy(&po, o, 8);
    if (!po)
        return KILN_OK;
    if (!pa) {
        memcpy(a, o, 8 + ra->r.size);
        return KILN_OK;
    }
    void *accs[1] = {a + 8};
    return kiln__reduce_apply(&ra->r, accs, o + 8, 1);
}

kiln_status kiln_dataset_reduce(kiln_dataset *ds, kiln_op op, kiln_reduce_fn fn,
                                void *arg, void *result)
{
    kiln_context *ctx;
    kiln_status st = begin(ds, &ctx);
    if (st != KILN_OK)
        return st;
    const kiln_type *vt = &ds->node.schema.value;
    unsigned char *zero = NULL, *acc = NULL;
    if (kiln__type_variable(vt)) {
        st = KILN_ERROR(KILN_ERR_INVAL, "reduce: values must be fixed-size");
    } else if (op == KILN_OP_CUSTOM ? !fn
               : vt->kind != KILN_KIND_U64 && vt->kind != KILN_KIND_I64 &&
                     vt->kind != KILN_KIND_F64) {
        st = KILN_ERROR(KILN_ERR_INVAL, "reduce: operator does not fit the value type");
    } else if (!result) {
        st = KILN_ERROR(KILN_ERR_INVAL, "reduce: result is NULL");
    }
    if (st != KILN_OK)
        return end(ctx, st);
    reduce_args ra = {{op, vt->kind, vt->size, fn, arg}};
    zero = kiln__mem_calloc(&ctx->mem, 2, 8 + vt->size);
    if (!zero) {
        st = KILN_ERROR(KILN_ERR_NOMEM, "reduce");
        return end(ctx, kiln__error_agree(ctx, st));
    }
    acc = zero + 8 + vt->size;
    st = aggregate_slots(ctx, &ds->node, zero, 8 + vt->size, reduce_seq,
                         reduce_comb, &ra, acc);
    if (st == KILN_OK) {
        uint64_t present;
        memcpy(&present, acc, 8);
        if (!present)
            st = KILN_ERROR(KILN_ERR_EMPTY, "reduce: the dataset is empty");
        else
            memcpy(result, acc + 8, vt->size);
    }
    kiln__mem_free(&ctx->mem, zero);
    return end(ctx, st);
}

/* ---- collect and take ---- */

/* Gather partitions [lo, hi) held in `parts` to root (or all ranks) and
 * append them in partition order to c->block, at most `limit` records. */
static kiln_status gather(kiln_context *ctx, const kiln_schema *schema,
                          kiln__store *parts, uint32_t lo, uint32_t hi, int root,
                          size_t limit, kiln_collection *c)
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
    for (uint32_t p = lo; p < hi && c->block.n < limit && st == KILN_OK; p++) {
        for (size_t s = 0; s < nseg && c->block.n < limit && st == KILN_OK; s++) {
            kiln_batch b;
            kiln__block_wire_read(schema, seg_at[s], (size_t)(recv + total - seg_at[s]), &b);
            if (b.partition != p)
                continue;
            size_t take = b.n < limit - c->block.n ? b.n : limit - c->block.n;
            st = kiln__block_append_batch(&c->block, &b, 0, take);
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

static kiln_status collection_new(const kiln_schema *s, kiln_collection **out)
{
    kiln_collection *c = calloc(1, sizeof *c);
    if (!c)
        return KILN_ERROR(KILN_ERR_NOMEM, "collection");
    kiln_status st = kiln__block_init(&c->block, NULL, s);
    if (st != KILN_OK) {
        free(c);
        return st;
    }
    *out = c;
    return KILN_OK;
}

static kiln__store *stores_new(kiln_context *ctx, const kiln_schema *s, uint32_t n)
{
    kiln__store *parts = kiln__mem_calloc(&ctx->mem, n ? n : 1, sizeof *parts);
    for (uint32_t i = 0; parts && i < n; i++)
        kiln__store_init(&parts[i], &ctx->mem, s);
    return parts;
}

static void stores_free(kiln_context *ctx, kiln__store *parts, uint32_t n)
{
    for (uint32_t i = 0; parts && i < n; i++)
        kiln__store_release(&parts[i]);
    kiln__mem_free(&ctx->mem, parts);
}

/* Run partitions [lo, hi) into per-partition stores (at most limit records
 * each) and gather them into c. */
static kiln_status collect_range(kiln_context *ctx, kiln__node *n, uint32_t lo,
                                 uint32_t hi, int root, size_t limit,
                                 const char *name, kiln_collection *c)
{
    kiln__store *parts = stores_new(ctx, &n->schema, hi - lo);
    kiln_status st = parts ? KILN_OK : KILN_ERROR(KILN_ERR_NOMEM, "%s stores", name);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        return st;
    kiln__store_sink sink;
    kiln__store_sink_init(&sink, parts, lo, limit);
    kiln__stage_totals totals;
    st = kiln__schedule_stage(ctx, n, lo, hi, &sink.base, name, &totals);
    if (st == KILN_OK)
        st = gather(ctx, &n->schema, parts, lo, hi, root, limit, c);
    stores_free(ctx, parts, hi - lo);
    return st;
}

static void finish_collection(kiln_collection *c)
{
    kiln__block_view(&c->block, 0, c->block.n, 0, &c->view);
}

kiln_status kiln_dataset_collect(kiln_dataset *ds, int root, kiln_collection **out)
{
    kiln_context *ctx;
    kiln_status st = begin(ds, &ctx);
    if (st != KILN_OK)
        return st;
    kiln_collection *c = NULL;
    if (!out || (root != KILN_ALL_RANKS && (root < 0 || root >= ctx->nranks)))
        return end(ctx, KILN_ERROR(KILN_ERR_INVAL, "collect: bad root %d", root));
    st = kiln__error_agree(ctx, collection_new(&ds->node.schema, &c));
    if (st == KILN_OK)
        st = kiln__schedule_prepare(ctx, &ds->node, "collect");
    if (st == KILN_OK)
        st = collect_range(ctx, &ds->node, 0, ds->node.nparts, root, SIZE_MAX,
                           "collect", c);
    if (st == KILN_OK) {
        finish_collection(c);
        *out = c;
    } else {
        kiln_collection_destroy(&c);
    }
    return end(ctx, st);
}

kiln_status kiln_dataset_take(kiln_dataset *ds, size_t n, kiln_collection **out)
{
    kiln_context *ctx;
    kiln_status st = begin(ds, &ctx);
    if (st != KILN_OK)
        return st;
    kiln_collection *c = NULL;
    if (!out)
        return end(ctx, KILN_ERROR(KILN_ERR_INVAL, "take: out is NULL"));
    st = kiln__error_agree(ctx, collection_new(&ds->node.schema, &c));
    if (st == KILN_OK)
        st = kiln__schedule_prepare(ctx, &ds->node, "take");
    /* Like Spark: one partition first, then four times as many per round,
     * until n records are found or every partition was read. */
    uint32_t lo = 0, width = 1, np = ds->node.nparts;
    while (st == KILN_OK && n > 0 && c->block.n < n && lo < np) {
        uint32_t hi = np - lo < width ? np : lo + width;
        st = collect_range(ctx, &ds->node, lo, hi, KILN_ALL_RANKS, n, "take", c);
        lo = hi;
        width = width > UINT32_MAX / 4 ? UINT32_MAX : width * 4;
    }
    if (st == KILN_OK) {
        finish_collection(c);
        *out = c;
    } else {
        kiln_collection_destroy(&c);
    }
    return end(ctx, st);
}

const kiln_batch *kiln_collection_batch(const kiln_collection *c)
{
    return c ? &c->view : NULL;
}

void kiln_collection_destroy(kiln_collection **c)
{
    if (!c || !*c)
        return;
    kiln__block_release(&(*c)->block);
    free(*c);
    *c = NULL;
}

/* ---- save_text ---- */

static kiln_status save(kiln_dataset *ds, const char *dir,
                        const kiln_save_options *opts, bool raw)
{
    kiln_context *ctx;
    kiln_status st = begin(ds, &ctx);
    if (st != KILN_OK)
        return st;
    const char *name = raw ? "save_binary" : "save_text";
    char staging[4200] = "";
    bool overwrite = opts && opts->overwrite;
    const kiln_schema *s = &ds->node.schema;
    if (!dir || !*dir)
        return end(ctx, KILN_ERROR(KILN_ERR_INVAL, "%s: no directory", name));
    if (raw && (kiln__type_variable(&s->key) || kiln__type_variable(&s->value)))
        return end(ctx, KILN_ERROR(KILN_ERR_INVAL,
                                   "save_binary: keys and values must be fixed-size"));
    /* Refuse before computing anything when the output exists. */
    if (ctx->rank == 0)
        st = kiln__output_prepare(dir, overwrite, ctx->job_id, staging,
                                  sizeof staging);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        return end(ctx, st);
    KILN_CHECK(st, KILN_MPI(MPI_Bcast(staging, sizeof staging, MPI_CHAR, 0,
                                      ctx->comm)), fail);
    st = kiln__schedule_prepare(ctx, &ds->node, name);
    kiln__save_sink sink;
    kiln__save_sink_init(&sink, &ctx->mem, staging, &ds->node.schema, raw);
    kiln__stage_totals totals;
    if (st == KILN_OK)
        st = kiln__schedule_stage(ctx, &ds->node, 0, ds->node.nparts, &sink.base,
                                  name, &totals);
    /* Only the master moves the output into place, after everyone is done. */
    if (ctx->rank == 0) {
        if (st == KILN_OK)
            st = kiln__output_commit(dir, staging, ctx->job_id);
        if (st != KILN_OK)
            kiln__output_abort(staging);
    }
    st = kiln__error_agree(ctx, st);
    return end(ctx, st);
fail:
    kiln__abort(ctx, kiln__error_message());
}

kiln_status kiln_dataset_save_text(kiln_dataset *ds, const char *dir,
                                   const kiln_save_options *opts)
{
    return save(ds, dir, opts, false);
}

kiln_status kiln_dataset_save_binary(kiln_dataset *ds, const char *dir,
                                     const kiln_save_options *opts)
{
    return save(ds, dir, opts, true);
}
