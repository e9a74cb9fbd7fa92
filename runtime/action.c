/* runtime/action.c: the public actions. Each prepares the lineage (plan on
 * the master, run the shuffles), runs one final stage into its sink, then
 * finishes collectively: results are combined across ranks in partition
 * order, so they never depend on which rank computed what. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/action.h"
#include "runtime/error.h"
#include "runtime/io.h"
#include "runtime/node.h"
#include "runtime/schedule.h"
#include "runtime/shared.h"
#include "runtime/shuffle.h"
#include "runtime/sort.h"

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

/* The same bracket for actions defined in other files (runtime/action.h). */
kiln_status kiln__action_begin(kiln_dataset *ds, kiln_context **ctx)
{
    return begin(ds, ctx);
}

kiln_status kiln__action_end(kiln_context *ctx, kiln_status st)
{
    return end(ctx, st);
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
    kiln__count_sink_init(&sink, NULL);
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
        st = kiln__schedule_collect(ctx, &ds->node, 0, ds->node.nparts, root,
                                    SIZE_MAX, "collect", &c->block);
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
        st = kiln__schedule_collect(ctx, &ds->node, lo, hi, KILN_ALL_RANKS, n,
                                    "take", &c->block);
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
    snprintf(ctx->unfinished, sizeof ctx->unfinished, "%s", staging);
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
    ctx->unfinished[0] = '\0';
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

/* ---- zip_with_index ---- */

typedef struct zip_state {
    uint64_t next; /* index of the partition's next record */
} zip_state;

static kiln_status zip_open(uint32_t partition, void **state, void *arg)
{
    zip_state *z = malloc(sizeof *z);
    if (!z)
        return kiln_error(KILN_ERR_NOMEM, "zip_with_index");
    z->next = ((const uint64_t *)arg)[partition];
    *state = z;
    return KILN_OK;
}

static kiln_status zip_batch(const kiln_batch *in, kiln_emitter *out, void *state,
                             void *arg)
{
    (void)arg;
    zip_state *z = state;
    kiln_status st = KILN_OK;
    for (size_t i = 0; i < in->n && st == KILN_OK; i++) {
        size_t len;
        const void *v = kiln_batch_value(in, i, &len);
        uint64_t index = z->next++;
        st = kiln_emit(out, &index, 8, v, len);
    }
    return st;
}

static kiln_status zip_close(kiln_emitter *out, void *state, void *arg)
{
    (void)out;
    (void)arg;
    free(state);
    return KILN_OK;
}

/* Records per partition: from a complete cache if there is one (no pass),
 * else counted. Collective. */
static kiln_status partition_counts(kiln_context *ctx, kiln__node *n,
                                    uint64_t *counts)
{
    kiln__resident *c = n->cache;
    if (c && c->complete) {
        for (uint32_t p = 0; p < n->nparts; p++)
            if (c->part[p])
                counts[p] = c->part[p]->records;
    } else {
        kiln__count_sink sink;
        kiln__count_sink_init(&sink, counts);
        kiln__stage_totals totals;
        kiln_status st = kiln__schedule_stage(ctx, n, 0, n->nparts, &sink.base,
                                              "zip_with_index count", &totals);
        if (st != KILN_OK)
            return st;
    }
    if (MPI_Allreduce(MPI_IN_PLACE, counts, (int)n->nparts, MPI_UINT64_T, MPI_SUM,
                      ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "partition counts");
    return KILN_OK;
}

kiln_status kiln_dataset_zip_with_index(kiln_dataset *ds, kiln_dataset **out)
{
    kiln_context *ctx;
    kiln_status st = begin(ds, &ctx);
    if (st != KILN_OK)
        return st;
    if (!out)
        return end(ctx, KILN_ERROR(KILN_ERR_INVAL, "zip_with_index: out is NULL"));
    uint64_t *offsets = NULL;
    if ((st = kiln__schedule_prepare(ctx, &ds->node, "zip_with_index")) != KILN_OK)
        return end(ctx, st);
    uint32_t np = ds->node.nparts;
    offsets = calloc(np ? np : 1, sizeof *offsets); /* owned by the new node */
    st = kiln__error_agree(ctx, offsets ? KILN_OK
                                        : KILN_ERROR(KILN_ERR_NOMEM, "zip offsets"));
    if (st == KILN_OK)
        st = partition_counts(ctx, &ds->node, offsets);
    if (st == KILN_OK) {
        uint64_t sum = 0;
        for (uint32_t p = 0; p < np; p++) {
            uint64_t c = offsets[p];
            offsets[p] = sum;
            sum += c;
        }
        kiln_partition_fns fns = {zip_open, zip_batch, zip_close};
        kiln_schema s = {KILN_T_U64, ds->node.schema.value};
        st = kiln_dataset_map_partitions(ds, s, fns, offsets, out);
        if (st == KILN_OK) {
            (*out)->node.owned_arg = offsets;
            offsets = NULL;
        }
    }
    free(offsets);
    return end(ctx, st);
}

/* ---- take_ordered ---- */

kiln_status kiln_dataset_take_ordered(kiln_dataset *ds, size_t n,
                                      const kiln_order *order,
                                      kiln_collection **out)
{
    kiln_context *ctx;
    kiln_status st = begin(ds, &ctx);
    if (st != KILN_OK)
        return st;
    kiln_collection *c = NULL;
    kiln__store *parts = NULL, all, sorted;
    kiln__order o;
    uint32_t np = 0;
    if (!out)
        return end(ctx, KILN_ERROR(KILN_ERR_INVAL, "take_ordered: out is NULL"));
    if (ds->node.schema.key.kind == KILN_KIND_NONE)
        return end(ctx, KILN_ERROR(KILN_ERR_INVAL, "take_ordered: the dataset "
                                                   "has no key"));
    kiln__order_init(&o, &ds->node.schema, order);
    kiln__store_init(&all, &ctx->mem, &ds->node.schema);
    kiln__store_init(&sorted, &ctx->mem, &ds->node.schema);
    st = kiln__error_agree(ctx, collection_new(&ds->node.schema, &c));
    if (st == KILN_OK)
        st = kiln__schedule_prepare(ctx, &ds->node, "take_ordered");
    if (st == KILN_OK) {
        np = ds->node.nparts;
        parts = kiln__store_array_new(&ctx->mem, &ds->node.schema, np);
        st = kiln__error_agree(ctx, parts ? KILN_OK : KILN_ERR_NOMEM);
    }
    kiln__top_sink sink;
    kiln__stage_totals totals;
    if (st == KILN_OK && n > 0) {
        kiln__top_sink_init(&sink, &ctx->mem, &o, n, parts);
        st = kiln__schedule_stage(ctx, &ds->node, 0, np, &sink.base, "take_ordered",
                                  &totals);
    }
    /* Every partition's first n, to every rank; the first n of those. */
    kiln__block gathered;
    bool have = false;
    if (st == KILN_OK && n > 0) {
        st = kiln__error_agree(ctx, kiln__block_init(&gathered, &ctx->mem,
                                                     &ds->node.schema));
        have = st == KILN_OK;
    }
    if (have)
        st = kiln__schedule_gather(ctx, &ds->node.schema, parts, 0, np,
                                   KILN_ALL_RANKS, SIZE_MAX, &gathered);
    if (have && st == KILN_OK)
        st = kiln__store_adopt(&all, &gathered);
    if (have && st == KILN_OK)
        st = kiln__sort_store(&ctx->mem, &all, &o, &sorted);
    if (have && st == KILN_OK && sorted.nblocks) {
        kiln_batch b;
        kiln__block_view(&sorted.blocks[0], 0, sorted.blocks[0].n, 0, &b);
        st = kiln__block_append_batch(&c->block, &b, 0, b.n < n ? b.n : n);
    }
    if (have)
        kiln__block_release(&gathered);
    kiln__store_array_free(&ctx->mem, parts, np);
    kiln__store_release(&all);
    kiln__store_release(&sorted);
    if (st == KILN_OK) {
        finish_collection(c);
        *out = c;
    } else {
        kiln_collection_destroy(&c);
    }
    return end(ctx, st);
}
