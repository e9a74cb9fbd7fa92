/* runtime/range.c: held records, samples and splitters of a range shuffle. */
#include <limits.h>
#include <stdlib.h>

#include "runtime/error.h"
#include "runtime/hash.h"
#include "runtime/range.h"
#include "runtime/sort.h"

/* Samples in all: enough for even partitions (Spark samples about 20 per
 * output partition per input partition; a fixed total keeps the master's
 * work bounded). */
enum { SAMPLES_PER_OUTPUT = 100, MIN_PER_TASK = 16 };

struct kiln__range {
    kiln__mem *mem;
    const kiln_schema *schema;
    kiln__order order;
    uint32_t nparts_in, nparts_out;
    kiln__store *held;        /* nparts_in: records of the tasks run here */
    uint32_t task;            /* the running task */
    uint64_t seen;            /* its records so far */
    /* The task's sample: the per_task records with the smallest hashes of
     * their bytes, as a max-heap on the hash (heap[0] the largest kept).
     * Chosen by content, not position, the sample does not depend on the
     * order records arrive in - after a shuffle that order is timing. */
    struct sampled { uint64_t hash, index; } *heap;
    size_t per_task, nres;
    kiln__block samples;      /* this rank's samples, all tasks */
    kiln__block splitters;    /* nparts_out - 1 records once chosen */
    uint64_t *split_prefix;   /* their prefixes */
};

kiln_status kiln__range_create(kiln__mem *mem, const kiln_schema *schema,
                               const kiln__order *order, uint32_t nparts_in,
                               uint32_t nparts_out, kiln__range **out)
{
    kiln__range *r = kiln__mem_calloc(mem, 1, sizeof *r);
    if (!r)
        return KILN_ERROR(KILN_ERR_NOMEM, "range partitioner");
    r->mem = mem;
    r->schema = schema;
    r->order = *order;
    r->nparts_in = nparts_in;
    r->nparts_out = nparts_out;
    uint64_t total = (uint64_t)SAMPLES_PER_OUTPUT * nparts_out;
    r->per_task = (size_t)(nparts_in ? (total + nparts_in - 1) / nparts_in : total);
    if (r->per_task < MIN_PER_TASK)
        r->per_task = MIN_PER_TASK;
    r->held = kiln__mem_calloc(mem, nparts_in ? nparts_in : 1, sizeof *r->held);
    r->heap = kiln__mem_alloc(mem, r->per_task * sizeof *r->heap);
    kiln_status st = r->held && r->heap ? KILN_OK
                     : KILN_ERROR(KILN_ERR_NOMEM, "range partitioner");
    if (st == KILN_OK)
        st = kiln__block_init(&r->samples, mem, schema);
    if (st == KILN_OK)
        st = kiln__block_init(&r->splitters, mem, schema);
    for (uint32_t t = 0; st == KILN_OK && t < nparts_in; t++)
        kiln__store_init(&r->held[t], mem, schema);
    if (st != KILN_OK) {
        kiln__range_destroy(&r);
        return st;
    }
    *out = r;
    return KILN_OK;
}

void kiln__range_destroy(kiln__range **rp)
{
    kiln__range *r = rp ? *rp : NULL;
    if (!r)
        return;
    for (uint32_t t = 0; r->held && t < r->nparts_in; t++)
        kiln__store_release(&r->held[t]);
    kiln__block_release(&r->samples);
    kiln__block_release(&r->splitters);
    kiln__mem_free(r->mem, r->held);
    kiln__mem_free(r->mem, r->heap);
    kiln__mem_free(r->mem, r->split_prefix);
    kiln__mem_free(r->mem, r);
    *rp = NULL;
}

kiln_status kiln__range_begin(kiln__range *r, uint32_t task)
{
    r->task = task;
    r->seen = 0;
    r->nres = 0;
    return KILN_OK;
}

static void sift_down(struct sampled *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, top = i;
        if (l < n && h[l].hash > h[top].hash)
            top = l;
        if (r < n && h[r].hash > h[top].hash)
            top = r;
        if (top == i)
            return;
        struct sampled t = h[i];
        h[i] = h[top];
        h[top] = t;
        i = top;
    }
}

static void sift_up(struct sampled *h, size_t i)
{
    while (i > 0 && h[(i - 1) / 2].hash < h[i].hash) {
        struct sampled t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

kiln_status kiln__range_hold(kiln__range *r, const kiln_batch *b)
{
    for (size_t i = 0; i < b->n; i++, r->seen++) {
        size_t kl = 0, vl;
        const void *k = b->keys ? kiln_batch_key(b, i, &kl) : NULL;
        const void *v = kiln_batch_value(b, i, &vl);
        uint64_t h = XXH3_64bits_withSeed(v, vl, k ? kiln__hash_bytes(k, kl) : 0);
        if (r->nres < r->per_task) {
            r->heap[r->nres] = (struct sampled){h, r->seen};
            sift_up(r->heap, r->nres++);
        } else if (h < r->heap[0].hash) { /* most records stop at this test */
            r->heap[0] = (struct sampled){h, r->seen};
            sift_down(r->heap, r->nres, 0);
        }
    }
    return kiln__store_append(&r->held[r->task], b, 0, b->n);
}

static int by_index(const void *a, const void *b)
{
    uint64_t x = ((const struct sampled *)a)->index;
    uint64_t y = ((const struct sampled *)b)->index;
    return x < y ? -1 : x > y;
}

kiln_status kiln__range_end(kiln__range *r)
{
    /* Copy the sampled records out of the held store, in record order. */
    qsort(r->heap, r->nres, sizeof *r->heap, by_index);
    const kiln__store *s = &r->held[r->task];
    size_t next = 0;
    uint64_t base = 0;
    kiln_status st = KILN_OK;
    for (size_t bi = 0; bi < s->nblocks && next < r->nres && st == KILN_OK; bi++) {
        kiln_batch b;
        kiln__block_view(&s->blocks[bi], 0, s->blocks[bi].n, r->task, &b);
        while (next < r->nres && r->heap[next].index < base + b.n && st == KILN_OK) {
            size_t i = (size_t)(r->heap[next++].index - base);
            st = kiln__block_append_batch(&r->samples, &b, i, i + 1);
        }
        base += b.n;
    }
    return st;
}

/* ---- splitters ---- */

/* Master: sort every sample, keep nparts_out - 1 evenly spaced. */
static kiln_status choose(kiln__range *r, const unsigned char *all, size_t bytes)
{
    kiln__store gathered, sorted;
    kiln__store_init(&gathered, r->mem, r->schema);
    kiln__store_init(&sorted, r->mem, r->schema);
    kiln_status st = KILN_OK;
    for (size_t at = 0; at < bytes && st == KILN_OK;) {
        kiln_batch b;
        size_t used = kiln__block_wire_read(r->schema, all + at, bytes - at, &b);
        if (!used) {
            st = KILN_ERROR(KILN_ERR_MPI, "garbled samples");
            break;
        }
        st = kiln__store_append(&gathered, &b, 0, b.n);
        at += used;
    }
    if (st == KILN_OK)
        st = kiln__sort_store(r->mem, &gathered, &r->order, &sorted);
    uint64_t total = sorted.records;
    if (st == KILN_OK && total && sorted.nblocks) {
        kiln_batch b;
        kiln__block_view(&sorted.blocks[0], 0, sorted.blocks[0].n, 0, &b);
        for (uint32_t k = 1; k < r->nparts_out && st == KILN_OK; k++) {
            size_t i = (size_t)(total * k / r->nparts_out);
            st = kiln__block_append_batch(&r->splitters, &b, i, i + 1);
        }
    }
    kiln__store_release(&gathered);
    kiln__store_release(&sorted);
    return st;
}

kiln_status kiln__range_splitters(kiln__range *r, kiln_context *ctx)
{
    int n = ctx->nranks;
    kiln_status st = KILN_OK;
    size_t mine = kiln__block_wire_size(&r->samples, 0, r->samples.n);
    unsigned char *send = kiln__mem_alloc(r->mem, mine);
    int *counts = kiln__mem_calloc(r->mem, 2 * (size_t)n, sizeof *counts);
    unsigned char *all = NULL, *wire = NULL;
    uint64_t wire_bytes = 0;
    if (!send || !counts || mine > (size_t)INT_MAX)
        st = KILN_ERROR(KILN_ERR_NOMEM, "samples of %zu bytes", mine);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    kiln__block_wire_write(&r->samples, 0, r->samples.n, 0, send);
    int my_count = (int)mine;
    if (MPI_Gather(&my_count, 1, MPI_INT, counts, 1, MPI_INT, 0, ctx->comm) !=
        MPI_SUCCESS)
        kiln__abort(ctx, "gathering sample sizes");
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        counts[n + i] = (int)total;
        total += (size_t)counts[i];
    }
    if (ctx->rank == 0 && (total > (size_t)INT_MAX ||
                           !(all = kiln__mem_alloc(r->mem, total ? total : 1))))
        st = KILN_ERROR(KILN_ERR_NOMEM, "gathered samples of %zu bytes", total);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    if (MPI_Gatherv(send, my_count, MPI_BYTE, all, counts, counts + n, MPI_BYTE, 0,
                    ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "gathering samples");
    if (ctx->rank == 0) {
        st = choose(r, all, total);
        wire_bytes = kiln__block_wire_size(&r->splitters, 0, r->splitters.n);
        if (st == KILN_OK && !(wire = kiln__mem_alloc(r->mem, wire_bytes)))
            st = KILN_ERROR(KILN_ERR_NOMEM, "splitters");
        if (st == KILN_OK)
            kiln__block_wire_write(&r->splitters, 0, r->splitters.n, 0, wire);
    }
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    if (MPI_Bcast(&wire_bytes, 1, MPI_UINT64_T, 0, ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "broadcasting splitters");
    if (ctx->rank != 0 && !(wire = kiln__mem_alloc(r->mem, wire_bytes ? wire_bytes : 1)))
        st = KILN_ERROR(KILN_ERR_NOMEM, "splitters");
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    if (wire_bytes > (uint64_t)INT_MAX ||
        MPI_Bcast(wire, (int)wire_bytes, MPI_BYTE, 0, ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "broadcasting splitters");
    if (ctx->rank != 0) {
        kiln_batch b;
        if (!kiln__block_wire_read(r->schema, wire, (size_t)wire_bytes, &b))
            st = KILN_ERROR(KILN_ERR_MPI, "garbled splitters");
        else
            st = kiln__block_append_batch(&r->splitters, &b, 0, b.n);
    }
    /* Prefixes make most comparisons against splitters one integer test. */
    size_t ns = r->splitters.n;
    if (st == KILN_OK && !(r->split_prefix = kiln__mem_alloc(r->mem, (ns ? ns : 1) * 8)))
        st = KILN_ERROR(KILN_ERR_NOMEM, "splitter prefixes");
    if (st == KILN_OK) {
        kiln_batch b;
        kiln__block_view(&r->splitters, 0, ns, 0, &b);
        for (size_t i = 0; i < ns; i++) {
            size_t kl = 0;
            const void *k = b.keys ? kiln_batch_key(&b, i, &kl) : NULL;
            r->split_prefix[i] = r->order.prefixed ? kiln__order_prefix(&r->order, k, kl) : 0;
        }
    }
    st = kiln__error_agree(ctx, st);
done:
    kiln__mem_free(r->mem, wire);
    kiln__mem_free(r->mem, all);
    kiln__mem_free(r->mem, counts);
    kiln__mem_free(r->mem, send);
    return st;
}

/* ---- placement ---- */

/* Prefixes in a[0 .. n) (ascending) below x. Without branches on the
 * data: a sort's records land in random partitions, and a branchy search
 * mispredicted about every other step. */
static size_t count_below(const uint64_t *a, size_t n, uint64_t x)
{
    if (n == 0)
        return 0;
    const uint64_t *base = a;
    while (n > 1) {
        size_t half = n / 2;
        base = base[half] < x ? base + half : base;
        n -= half;
    }
    return (size_t)(base - a) + (*base < x);
}

/* The number of splitters not after the record: its output partition. */
static uint32_t place_one(const kiln__range *r, const kiln_batch *sp,
                          const void *k, size_t kl, const void *v, size_t vl)
{
    size_t lo = 0, hi = sp->n;
    if (r->order.prefixed) {
        /* Splitters with a smaller prefix come before the record, those
         * with a larger one after it; only equal prefixes need comparing. */
        uint64_t p = kiln__order_prefix(&r->order, k, kl);
        lo = count_below(r->split_prefix, sp->n, p);
        for (hi = lo; hi < sp->n && r->split_prefix[hi] == p; hi++)
            ; /* usually none: only a key shared with a splitter */
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        size_t skl = 0, svl;
        const void *sk = sp->keys ? kiln_batch_key(sp, mid, &skl) : NULL;
        const void *sv = kiln_batch_value(sp, mid, &svl);
        if (kiln__order_compare(&r->order, k, kl, v, vl, sk, skl, sv, svl) < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return (uint32_t)lo;
}

kiln_status kiln__range_place(kiln__range *r, kiln__range_put put, void *arg)
{
    kiln_batch sp;
    kiln__block_view(&r->splitters, 0, r->splitters.n, 0, &sp);
    kiln_status st = KILN_OK;
    for (uint32_t t = 0; t < r->nparts_in && st == KILN_OK; t++) {
        kiln__store *s = &r->held[t];
        for (size_t bi = 0; bi < s->nblocks && st == KILN_OK; bi++) {
            kiln_batch b;
            kiln__block_view(&s->blocks[bi], 0, s->blocks[bi].n, t, &b);
            for (size_t i = 0; i < b.n && st == KILN_OK; i++) {
                size_t kl = 0, vl;
                const void *k = b.keys ? kiln_batch_key(&b, i, &kl) : NULL;
                const void *v = kiln_batch_value(&b, i, &vl);
                st = put(arg, place_one(r, &sp, k, kl, v, vl), &b, i);
            }
            kiln__block_release(&s->blocks[bi]); /* placed: memory back now */
        }
    }
    return st;
}
