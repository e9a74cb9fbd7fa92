/* runtime/derived.c: operations made of others (plan module): count_by_key,
 * fold_by_key, aggregate_by_key and sample build a short lineage whose
 * callbacks are Kiln's own; their arguments belong to the node that uses
 * them (kiln__node.owned_arg) and die with it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KILN_DATASET_IMPL
#include "runtime/dataset_impl.h"
#include "runtime/error.h"
#include "runtime/execute.h"
#include "runtime/hash.h"

/* Hand arg (malloc'ed) to the node; on failure it is freed. */
static void give(kiln_dataset *ds, void *arg)
{
    ds->node.owned_arg = arg;
}

/* ---- count_by_key ---- */

static kiln_status one_per_record(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    const uint64_t one = 1;
    for (size_t i = 0; i < in->n; i++) {
        kiln_status st = kiln_emit_value(out, &one, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

kiln_status kiln_dataset_count_by_key(kiln_dataset *ds, uint32_t nparts,
                                      kiln_dataset **out)
{
    kiln_dataset *ones = NULL;
    kiln_status st = kiln_dataset_map_values(ds, KILN_T_U64, one_per_record, NULL,
                                             &ones);
    if (st == KILN_OK)
        st = kiln_dataset_reduce_by_key(ones, KILN_OP_SUM, NULL, NULL, nparts, out);
    kiln_dataset_destroy(&ones);
    return st;
}

/* ---- fold_by_key: reduce, then the zero once per key ---- */

typedef struct fold_arg {
    kiln__reducer r;
    unsigned char zero[]; /* r.size bytes */
} fold_arg;

static kiln_status apply_zero(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    const fold_arg *f = arg;
    size_t size = f->r.size;
    unsigned char *acc = malloc(size ? size : 1); /* one per batch */
    if (!acc)
        return kiln_error(KILN_ERR_NOMEM, "fold_by_key");
    kiln_status st = KILN_OK;
    for (size_t i = 0; i < in->n && st == KILN_OK; i++) {
        size_t len;
        const void *v = kiln_batch_value(in, i, &len);
        memcpy(acc, f->zero, size);
        void *accs[1] = {acc};
        st = kiln__reduce_apply(&f->r, accs, v, 1);
        if (st == KILN_OK)
            st = kiln_emit_value(out, acc, size);
    }
    free(acc);
    return st;
}

kiln_status kiln_dataset_fold_by_key(kiln_dataset *ds, const void *zero,
                                     kiln_op op, kiln_reduce_fn fn, void *arg,
                                     uint32_t nparts, kiln_dataset **out)
{
    kiln_status st = kiln__ds_check_live(ds);
    if (st != KILN_OK || !out || !zero)
        return st != KILN_OK ? st : KILN_ERR_INVAL;
    const kiln_type *vt = &ds->node.schema.value;
    kiln_dataset *reduced = NULL;
    fold_arg *f = NULL;
    st = kiln_dataset_reduce_by_key(ds, op, fn, arg, nparts, &reduced);
    if (st != KILN_OK)
        return st;
    if (!(f = malloc(sizeof *f + vt->size))) {
        kiln_dataset_destroy(&reduced);
        return KILN_ERR_NOMEM;
    }
    f->r = (kiln__reducer){op, vt->kind, vt->size, fn, arg};
    memcpy(f->zero, zero, vt->size);
    st = kiln_dataset_map_values(reduced, *vt, apply_zero, f, out);
    if (st == KILN_OK)
        give(*out, f);
    else
        free(f);
    kiln_dataset_destroy(&reduced);
    return st;
}

/* ---- aggregate_by_key: each value into a fresh accumulator, then comb ---- */

typedef struct agg_arg {
    kiln_fold_fn seq;
    void *arg;
    size_t size;
    unsigned char zero[];
} agg_arg;

static kiln_status into_accumulators(const kiln_batch *in, kiln_emitter *out,
                                     void *arg)
{
    const agg_arg *a = arg;
    size_t n = in->n, size = a->size;
    unsigned char *accs = malloc(n * size + 1); /* per batch, never per record */
    void **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    kiln_status st = KILN_OK;
    if (!accs || !ptrs) {
        st = kiln_error(KILN_ERR_NOMEM, "aggregate_by_key");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(accs + i * size, a->zero, size);
        ptrs[i] = accs + i * size;
    }
    st = a->seq(ptrs, in, a->arg);
    if (st != KILN_OK) {
        st = kiln_error(st > 0 ? KILN_ERR_USER : st, "aggregate_by_key: seq failed");
        goto done;
    }
    for (size_t i = 0; i < n && st == KILN_OK; i++)
        st = kiln_emit_value(out, accs + i * size, size);
done:
    free(ptrs);
    free(accs);
    return st;
}

kiln_status kiln_dataset_aggregate_by_key(kiln_dataset *ds, kiln_type acc_type,
                                          const void *zero, kiln_fold_fn seq,
                                          kiln_reduce_fn comb, void *arg,
                                          uint32_t nparts, kiln_dataset **out)
{
    kiln_status st = kiln__ds_check_live(ds);
    if (st != KILN_OK || !out || !zero || !seq || !comb)
        return st != KILN_OK ? st : KILN_ERR_INVAL;
    if (acc_type.kind == KILN_KIND_NONE || acc_type.size == 0 ||
        acc_type.kind == KILN_KIND_STRING || acc_type.kind == KILN_KIND_BYTES)
        return KILN_ERR_INVAL;
    agg_arg *a = malloc(sizeof *a + acc_type.size);
    if (!a)
        return KILN_ERR_NOMEM;
    a->seq = seq;
    a->arg = arg;
    a->size = acc_type.size;
    memcpy(a->zero, zero, acc_type.size);
    kiln_dataset *accs = NULL;
    st = kiln_dataset_map_values(ds, acc_type, into_accumulators, a, &accs);
    if (st != KILN_OK) {
        free(a);
        return st;
    }
    give(accs, a);
    st = kiln_dataset_reduce_by_key(accs, KILN_OP_CUSTOM, comb, arg, nparts, out);
    kiln_dataset_destroy(&accs);
    return st;
}

/* ---- sample ---- */

typedef struct sample_arg {
    bool replace;
    double fraction;
    uint64_t seed;
} sample_arg;

typedef struct sample_state {
    uint32_t partition;
    uint64_t position; /* records seen in this partition */
} sample_state;

static kiln_status sample_open(uint32_t partition, void **state, void *arg)
{
    (void)arg;
    sample_state *s = calloc(1, sizeof *s);
    if (!s)
        return kiln_error(KILN_ERR_NOMEM, "sample");
    s->partition = partition;
    *state = s;
    return KILN_OK;
}

/* A uniform number in [0, 1) from (seed, partition, position) alone. */
static double uniform(uint64_t seed, uint32_t partition, uint64_t position)
{
    uint64_t x[3] = {seed, partition, position};
    return (double)(kiln__hash_bytes(x, sizeof x) >> 11) * 0x1.0p-53;
}

/* Copies of a record: Bernoulli(fraction), or Poisson(fraction) by
 * inverting its distribution function at u. */
static unsigned copies(const sample_arg *a, double u)
{
    if (!a->replace)
        return u < a->fraction;
    double p = exp(-a->fraction), cdf = p;
    unsigned k = 0;
    while (u >= cdf && k < 1000) {
        k++;
        p *= a->fraction / k;
        cdf += p;
    }
    return k;
}

static kiln_status sample_batch(const kiln_batch *in, kiln_emitter *out,
                                void *state, void *arg)
{
    sample_state *s = state;
    const sample_arg *a = arg;
    kiln_status st = KILN_OK;
    for (size_t i = 0; i < in->n && st == KILN_OK; i++) {
        unsigned k = copies(a, uniform(a->seed, s->partition, s->position++));
        while (k-- && st == KILN_OK)
            st = kiln_emit_record(out, in, i);
    }
    return st;
}

static kiln_status sample_close(kiln_emitter *out, void *state, void *arg)
{
    (void)out;
    (void)arg;
    free(state);
    return KILN_OK;
}

kiln_status kiln_dataset_sample(kiln_dataset *ds, bool with_replacement,
                                double fraction, uint64_t seed,
                                kiln_dataset **out)
{
    kiln_status st = kiln__ds_check_live(ds);
    if (st != KILN_OK || !out)
        return st != KILN_OK ? st : KILN_ERR_INVAL;
    if (!(fraction >= 0) || (!with_replacement && fraction > 1) || fraction > 1e6)
        return KILN_ERR_INVAL;
    sample_arg *a = malloc(sizeof *a);
    if (!a)
        return KILN_ERR_NOMEM;
    *a = (sample_arg){with_replacement, fraction, seed};
    kiln_partition_fns fns = {sample_open, sample_batch, sample_close};
    st = kiln_dataset_map_partitions(ds, ds->node.schema, fns, a, out);
    if (st == KILN_OK)
        give(*out, a);
    else
        free(a);
    return st;
}
