/* runtime/dataset.c: the public dataset constructors (plan module). Each
 * checks its arguments and records a lineage node; none computes anything,
 * and only kiln_parallelize() communicates (it broadcasts the master's
 * records once, so every rank can cut its own partitions from them). */
#include <stdlib.h>
#include <string.h>

#define KILN_DATASET_IMPL
#include "runtime/dataset_impl.h"
#include "runtime/error.h"

static const char *names[KILN__NODE_NKINDS] = {
    [KILN__NODE_TEXT] = "text_file",
    [KILN__NODE_PARALLEL] = "parallelize",
    [KILN__NODE_RANGE] = "range",
    [KILN__NODE_MAP] = "map",
    [KILN__NODE_FLAT_MAP] = "flat_map",
    [KILN__NODE_FILTER] = "filter",
    [KILN__NODE_MAP_PARTITIONS] = "map_partitions",
    [KILN__NODE_KEY_BY] = "key_by",
    [KILN__NODE_MAP_VALUES] = "map_values",
    [KILN__NODE_UNION] = "union",
    [KILN__NODE_REDUCE_BY_KEY] = "reduce_by_key",
    [KILN__NODE_GROUP_BY_KEY] = "group_by_key",
    [KILN__NODE_DISTINCT] = "distinct",
    [KILN__NODE_BINARY] = "binary_files",
    [KILN__NODE_PARTITION] = "partition_by",
    [KILN__NODE_SORT] = "sort_by_key",
    [KILN__NODE_JOIN] = "join",
    [KILN__NODE_COALESCE] = "coalesce",
    [KILN__NODE_HDF5] = "hdf5_read",
    [KILN__NODE_CHECKPOINT] = "checkpoint",
};

const char *kiln__node_name(kiln__node_kind kind)
{
    return kind < KILN__NODE_NKINDS ? names[kind] : "?";
}

static kiln_status check_type(const kiln_type *t, bool may_be_none,
                              const char *what)
{
    switch (t->kind) {
    case KILN_KIND_NONE:
        if (!may_be_none)
            return KILN_ERROR(KILN_ERR_INVAL, "%s type may not be NONE", what);
        return KILN_OK;
    case KILN_KIND_U64:
    case KILN_KIND_I64:
    case KILN_KIND_F64:
        if (t->size != 8)
            return KILN_ERROR(KILN_ERR_INVAL, "%s type: 8-byte kind with size %zu",
                              what, t->size);
        return KILN_OK;
    case KILN_KIND_FIXED:
        if (t->size == 0)
            return KILN_ERROR(KILN_ERR_INVAL, "%s type: FIXED of size 0", what);
        return KILN_OK;
    case KILN_KIND_STRING:
    case KILN_KIND_BYTES:
    case KILN_KIND_LIST:
    case KILN_KIND_PAIR:
        return KILN_OK;
    case KILN_KIND_U32:
        return KILN_ERROR(KILN_ERR_INVAL, "%s type: U32 is a graph gather's value "
                          "kind only; datasets take U64", what);
    }
    return KILN_ERROR(KILN_ERR_INVAL, "%s type: unknown kind %d", what,
                      (int)t->kind);
}

kiln_status kiln__ds_check_schema(const kiln_schema *s)
{
    kiln_status st = check_type(&s->key, true, "key");
    return st != KILN_OK ? st : check_type(&s->value, false, "value");
}

bool kiln__ds_type_equal(const kiln_type *a, const kiln_type *b)
{
    return a->kind == b->kind && a->size == b->size &&
           a->elem_kind == b->elem_kind && a->elem_size == b->elem_size;
}

kiln_status kiln__ds_new(kiln_context *ctx, kiln__node_kind kind,
                         const kiln_schema *schema, kiln__node **out)
{
    kiln_status st = kiln__ds_check_schema(schema);
    if (st != KILN_OK)
        return st;
    /* Plain calloc, not the context's accountant: a handle may outlive its
     * context (destroying it afterwards must still work). */
    kiln_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return KILN_ERROR(KILN_ERR_NOMEM, "dataset node");
    kiln__node *n = &ds->node;
    n->ctx = ctx;
    n->id = ctx->next_node_id++;
    n->refs = 1;
    n->kind = kind;
    n->schema = *schema;
    n->next_live = ctx->nodes;
    if (ctx->nodes)
        ctx->nodes->prev_live = n;
    ctx->nodes = n;
    *out = n;
    return KILN_OK;
}

static void text_paths_free(char **paths, size_t n)
{
    for (size_t i = 0; paths && i < n; i++)
        free(paths[i]);
    free(paths);
}

void kiln__text_splits_destroy(kiln__text_splits **s)
{
    if (!s || !*s)
        return;
    text_paths_free((*s)->files, (*s)->nfiles);
    free((*s)->splits);
    free(*s);
    *s = NULL;
}

kiln_status kiln__resident_create(kiln__mem *mem, uint32_t nparts,
                                  kiln__resident **out)
{
    kiln__resident *r = kiln__mem_calloc(mem, 1, sizeof *r);
    if (!r)
        return KILN_ERROR(KILN_ERR_NOMEM, "resident partitions");
    r->nparts = nparts;
    r->part = kiln__mem_calloc(mem, nparts ? nparts : 1, sizeof *r->part);
    r->owner = kiln__mem_alloc(mem, (nparts ? nparts : 1) * sizeof *r->owner);
    if (!r->part || !r->owner) {
        kiln__mem_free(mem, r->part);
        kiln__mem_free(mem, r->owner);
        kiln__mem_free(mem, r);
        return KILN_ERROR(KILN_ERR_NOMEM, "resident partitions");
    }
    for (uint32_t p = 0; p < nparts; p++)
        r->owner[p] = -1;
    *out = r;
    return KILN_OK;
}

void kiln__resident_destroy(kiln__mem *mem, kiln__resident **rp)
{
    kiln__resident *r = rp ? *rp : NULL;
    if (!r)
        return;
    for (uint32_t p = 0; p < r->nparts; p++) {
        if (r->part[p]) {
            kiln__store_release(r->part[p]);
            kiln__mem_free(mem, r->part[p]);
        }
    }
    kiln__mem_free(mem, r->part);
    kiln__mem_free(mem, r->owner);
    kiln__mem_free(mem, r);
    *rp = NULL;
}

/* Release what a node computed or holds; the struct itself survives. */
static void node_release_data(kiln__node *n)
{
    kiln__mem *mem = n->ctx ? &n->ctx->mem : NULL;
    if (n->owned_free)
        n->owned_free(n->owned_arg);
    else
        free(n->owned_arg);
    n->owned_arg = NULL;
    if (kiln__node_is_file_source(n)) {
        text_paths_free(n->u.text.paths, n->u.text.npaths);
        n->u.text.paths = NULL;
        n->u.text.npaths = 0;
        kiln__text_splits_destroy(&n->u.text.splits);
    } else if (n->kind == KILN__NODE_PARALLEL) {
        kiln__block_release(&n->u.par.data);
    } else if (n->kind == KILN__NODE_HDF5) {
        free(n->u.h5.path);
        free(n->u.h5.dataset);
        n->u.h5.path = n->u.h5.dataset = NULL;
    } else if (n->kind == KILN__NODE_CHECKPOINT) {
        free(n->u.ckpt.name);
        n->u.ckpt.name = NULL;
    }
    kiln__resident_destroy(mem, &n->cache);
    kiln__resident_destroy(mem, &n->shuffled);
}

static void node_unref(kiln__node *n)
{
    while (n && --n->refs == 0) {
        node_release_data(n);
        if (n->ctx) {
            if (n->prev_live)
                n->prev_live->next_live = n->next_live;
            else
                n->ctx->nodes = n->next_live;
            if (n->next_live)
                n->next_live->prev_live = n->prev_live;
        }
        kiln__node *p0 = n->parent[0], *p1 = n->parent[1];
        free((kiln_dataset *)n);
        node_unref(p1);
        n = p0; /* iterate down the first parent: long lineages, no deep recursion */
    }
}

void kiln__nodes_orphan_all(kiln_context *ctx)
{
    for (kiln__node *n = ctx->nodes; n; n = n->next_live) {
        node_release_data(n);
        n->ctx = NULL;
    }
    ctx->nodes = NULL;
}

void kiln_dataset_destroy(kiln_dataset **ds)
{
    if (!ds || !*ds)
        return;
    node_unref(kiln__node_of(*ds));
    *ds = NULL;
}

kiln_schema kiln_dataset_schema(const kiln_dataset *ds)
{
    return ds->node.schema;
}

kiln_status kiln__ds_check_live(const kiln_dataset *ds)
{
    if (!ds)
        return KILN_ERROR(KILN_ERR_INVAL, "dataset is NULL");
    if (!ds->node.ctx)
        return KILN_ERROR(KILN_ERR_STATE, "dataset used after kiln_finalize()");
    return KILN_OK;
}

kiln_status kiln__ds_finish(kiln_context *ctx, kiln_status st, kiln__node *n,
                            kiln_dataset **out)
{
    if (st == KILN_OK)
        *out = (kiln_dataset *)n;
    return kiln__api_end(ctx, st);
}

/* ---- sources ---- */

/* text_files and binary_files: the paths are kept, listed and split by the
 * master when an action first needs them. */
static kiln_status file_source(kiln_context *ctx, kiln__node_kind kind,
                               const kiln_schema *s, const char *const *paths,
                               size_t npaths, kiln_dataset **out)
{
    if (!ctx || !out)
        return KILN_ERR_INVAL;
    kiln__api_begin(ctx);
    kiln_status st = KILN_OK;
    kiln__node *n = NULL;
    char **copy = NULL;
    const char *what = kiln__node_name(kind);
    if (!paths || npaths == 0) {
        st = KILN_ERROR(KILN_ERR_INVAL, "%s: no input paths", what);
        goto done;
    }
    copy = calloc(npaths, sizeof *copy);
    if (!copy) {
        st = KILN_ERROR(KILN_ERR_NOMEM, "text_file paths");
        goto done;
    }
    for (size_t i = 0; i < npaths; i++) {
        if (!paths[i] || !*paths[i]) {
            st = KILN_ERROR(KILN_ERR_INVAL, "%s: empty path (input %zu)", what, i + 1);
            goto done;
        }
        if (!(copy[i] = strdup(paths[i]))) {
            st = KILN_ERROR(KILN_ERR_NOMEM, "%s paths", what);
            goto done;
        }
    }
    KILN_CHECK(st, kiln__ds_new(ctx, kind, s, &n), done);
    n->u.text.paths = copy;
    n->u.text.npaths = npaths;
    copy = NULL;
done:
    text_paths_free(copy, npaths);
    return kiln__ds_finish(ctx, st, n, out);
}

kiln_status kiln_text_files(kiln_context *ctx, const char *const *paths,
                            size_t npaths, kiln_dataset **out)
{
    kiln_schema s = {KILN_T_NONE, KILN_T_STRING};
    return file_source(ctx, KILN__NODE_TEXT, &s, paths, npaths, out);
}

kiln_status kiln_binary_files(kiln_context *ctx, const char *const *paths,
                              size_t npaths, kiln_schema schema,
                              kiln_dataset **out)
{
    if (!ctx || !out)
        return KILN_ERR_INVAL;
    if (kiln__type_variable(&schema.key) || kiln__type_variable(&schema.value) ||
        schema.value.size == 0) {
        kiln__api_begin(ctx);
        return kiln__api_end(ctx, KILN_ERROR(KILN_ERR_INVAL,
                                             "binary_files: key and value must be "
                                             "fixed-size types"));
    }
    return file_source(ctx, KILN__NODE_BINARY, &schema, paths, npaths, out);
}

kiln_status kiln_text_file(kiln_context *ctx, const char *path,
                           kiln_dataset **out)
{
    return kiln_text_files(ctx, &path, 1, out);
}

kiln_status kiln_parallelize(kiln_context *ctx, kiln_schema schema,
                             const kiln_batch *in, uint32_t nparts,
                             kiln_dataset **out)
{
    if (!ctx || !out)
        return KILN_ERR_INVAL;
    kiln__api_begin(ctx);
    kiln_status st = kiln__ds_check_schema(&schema);
    kiln__block data;
    bool have_data = false;
    unsigned char *wire = NULL;
    uint64_t bytes = 0;
    kiln__node *n = NULL;

    /* The master packs its records; a bad batch there fails every rank. */
    if (st == KILN_OK)
        st = kiln__block_init(&data, &ctx->mem, &schema);
    have_data = st == KILN_OK;
    if (ctx->rank == 0 && st == KILN_OK && in && in->n) {
        st = kiln__block_append_batch(&data, in, 0, in->n);
        if (st == KILN_OK) {
            bytes = kiln__block_wire_size(&data, 0, data.n);
            wire = kiln__mem_alloc(&ctx->mem, bytes);
            if (!wire)
                st = KILN_ERROR(KILN_ERR_NOMEM, "parallelize: %llu bytes",
                                (unsigned long long)bytes);
            else
                kiln__block_wire_write(&data, 0, data.n, 0, wire);
        }
    }
    KILN_CHECK(st, kiln__error_agree(ctx, st), done);
    KILN_CHECK(st, KILN_MPI(MPI_Bcast(&bytes, 1, MPI_UINT64_T, 0, ctx->comm)),
               done);
    if (bytes > (uint64_t)INT32_MAX) {
        st = KILN_ERROR(KILN_ERR_LIMIT, "parallelize: %llu bytes is over 2 GiB",
                        (unsigned long long)bytes);
        goto done; /* same verdict on every rank: bytes was broadcast */
    }
    if (ctx->rank != 0 && bytes) {
        wire = kiln__mem_alloc(&ctx->mem, bytes);
        st = wire ? KILN_OK : KILN_ERROR(KILN_ERR_NOMEM, "parallelize buffer");
    }
    KILN_CHECK(st, kiln__error_agree(ctx, st), done);
    if (bytes) {
        KILN_CHECK(st, KILN_MPI(MPI_Bcast(wire, (int)bytes, MPI_BYTE, 0, ctx->comm)),
                   done);
        if (ctx->rank != 0) {
            kiln_batch b;
            if (!kiln__block_wire_read(&schema, wire, bytes, &b))
                st = KILN_ERROR(KILN_ERR_MPI, "parallelize: garbled broadcast");
            else
                st = kiln__block_append_batch(&data, &b, 0, b.n);
        }
    }
    KILN_CHECK(st, kiln__error_agree(ctx, st), done);
    KILN_CHECK(st, kiln__ds_new(ctx, KILN__NODE_PARALLEL, &schema, &n), done);
    n->nparts = nparts ? nparts : (uint32_t)ctx->opt.partitions;
    kiln__block_move(&n->u.par.data, &data);
done:
    kiln__mem_free(&ctx->mem, wire);
    if (have_data)
        kiln__block_release(&data);
    return kiln__ds_finish(ctx, st, n, out);
}

kiln_status kiln_range(kiln_context *ctx, int64_t start, int64_t end,
                       int64_t step, uint32_t nparts, kiln_dataset **out)
{
    if (!ctx || !out)
        return KILN_ERR_INVAL;
    kiln__api_begin(ctx);
    kiln_status st = KILN_OK;
    kiln__node *n = NULL;
    if (step == 0) {
        st = KILN_ERROR(KILN_ERR_INVAL, "range: step is 0");
        goto done;
    }
    /* Unsigned arithmetic: the span of two int64 values always fits. */
    uint64_t count = 0;
    if (step > 0 && end > start)
        count = ((uint64_t)end - (uint64_t)start - 1) / (uint64_t)step + 1;
    else if (step < 0 && end < start)
        count = ((uint64_t)start - (uint64_t)end - 1) / (0 - (uint64_t)step) + 1;
    kiln_schema s = {KILN_T_NONE, KILN_T_I64};
    KILN_CHECK(st, kiln__ds_new(ctx, KILN__NODE_RANGE, &s, &n), done);
    n->u.range.start = start;
    n->u.range.step = step;
    n->u.range.count = count;
    n->nparts = nparts ? nparts : (uint32_t)ctx->opt.partitions;
done:
    return kiln__ds_finish(ctx, st, n, out);
}

/* ---- narrow transformations ---- */

kiln_status kiln__ds_derive(kiln_dataset *parent, kiln__node_kind kind,
                            const kiln_schema *schema, kiln__node **out)
{
    kiln__node *p = kiln__node_of(parent);
    kiln__node *n = NULL;
    kiln_status st = kiln__ds_new(p->ctx, kind, schema, &n);
    if (st != KILN_OK)
        return st;
    n->parent[0] = p;
    n->nparents = 1;
    p->refs++;
    if (!kiln__node_is_wide(n))
        n->nparts = p->nparts;
    *out = n;
    return KILN_OK;
}

static kiln_status narrow(kiln_dataset *ds, kiln__node_kind kind,
                          kiln_schema schema, kiln_map_fn fn, void *arg,
                          kiln_dataset **out)
{
    kiln_status st = kiln__ds_check_live(ds);
    if (st != KILN_OK || !out)
        return st != KILN_OK ? st : KILN_ERR_INVAL;
    kiln_context *ctx = ds->node.ctx;
    kiln__api_begin(ctx);
    kiln__node *n = NULL;
    if (!fn) {
        st = KILN_ERROR(KILN_ERR_INVAL, "%s: callback is NULL", kiln__node_name(kind));
        goto done;
    }
    KILN_CHECK(st, kiln__ds_derive(ds, kind, &schema, &n), done);
    n->u.map.fn = fn;
    n->u.map.arg = arg;
done:
    return kiln__ds_finish(ctx, st, n, out);
}

kiln_status kiln_dataset_map(kiln_dataset *ds, kiln_schema out_schema,
                             kiln_map_fn fn, void *arg, kiln_dataset **out)
{
    return narrow(ds, KILN__NODE_MAP, out_schema, fn, arg, out);
}

kiln_status kiln_dataset_flat_map(kiln_dataset *ds, kiln_schema out_schema,
                                  kiln_map_fn fn, void *arg, kiln_dataset **out)
{
    return narrow(ds, KILN__NODE_FLAT_MAP, out_schema, fn, arg, out);
}

kiln_status kiln_dataset_key_by(kiln_dataset *ds, kiln_type key_type,
                                kiln_map_fn fn, void *arg, kiln_dataset **out)
{
    kiln_status st = kiln__ds_check_live(ds);
    if (st != KILN_OK)
        return st;
    if (key_type.kind == KILN_KIND_NONE) {
        kiln__api_begin(ds->node.ctx);
        return kiln__api_end(ds->node.ctx,
                             KILN_ERROR(KILN_ERR_INVAL, "key_by: key type is NONE"));
    }
    kiln_schema s = {key_type, ds->node.schema.value};
    return narrow(ds, KILN__NODE_KEY_BY, s, fn, arg, out);
}

kiln_status kiln_dataset_map_values(kiln_dataset *ds, kiln_type value_type,
                                    kiln_map_fn fn, void *arg,
                                    kiln_dataset **out)
{
    kiln_status st = kiln__ds_check_live(ds);
    if (st != KILN_OK)
        return st;
    kiln_schema s = {ds->node.schema.key, value_type};
    return narrow(ds, KILN__NODE_MAP_VALUES, s, fn, arg, out);
}

kiln_status kiln_dataset_filter(kiln_dataset *ds, kiln_filter_fn fn, void *arg,
                                kiln_dataset **out)
{
    kiln_status st = kiln__ds_check_live(ds);
    if (st != KILN_OK || !out)
        return st != KILN_OK ? st : KILN_ERR_INVAL;
    kiln_context *ctx = ds->node.ctx;
    kiln__api_begin(ctx);
    kiln__node *n = NULL;
    if (!fn) {
        st = KILN_ERROR(KILN_ERR_INVAL, "filter: callback is NULL");
        goto done;
    }
    KILN_CHECK(st, kiln__ds_derive(ds, KILN__NODE_FILTER, &ds->node.schema, &n), done);
    n->u.filter.fn = fn;
    n->u.filter.arg = arg;
done:
    return kiln__ds_finish(ctx, st, n, out);
}

kiln_status kiln_dataset_map_partitions(kiln_dataset *ds, kiln_schema out_schema,
                                        kiln_partition_fns fns, void *arg,
                                        kiln_dataset **out)
{
    kiln_status st = kiln__ds_check_live(ds);
    if (st != KILN_OK || !out)
        return st != KILN_OK ? st : KILN_ERR_INVAL;
    kiln_context *ctx = ds->node.ctx;
    kiln__api_begin(ctx);
    kiln__node *n = NULL;
    if (!fns.batch) {
        st = KILN_ERROR(KILN_ERR_INVAL, "map_partitions: batch callback is NULL");
        goto done;
    }
    KILN_CHECK(st, kiln__ds_derive(ds, KILN__NODE_MAP_PARTITIONS, &out_schema, &n), done);
    n->u.mp.fns = fns;
    n->u.mp.arg = arg;
done:
    return kiln__ds_finish(ctx, st, n, out);
}

kiln_status kiln_dataset_union(kiln_dataset *a, kiln_dataset *b,
                               kiln_dataset **out)
{
    kiln_status st = kiln__ds_check_live(a);
    if (st == KILN_OK)
        st = kiln__ds_check_live(b);
    if (st != KILN_OK || !out)
        return st != KILN_OK ? st : KILN_ERR_INVAL;
    kiln_context *ctx = a->node.ctx;
    kiln__api_begin(ctx);
    kiln__node *n = NULL;
    if (b->node.ctx != ctx) {
        st = KILN_ERROR(KILN_ERR_INVAL, "union: datasets of different contexts");
        goto done;
    }
    if (!kiln__ds_type_equal(&a->node.schema.key, &b->node.schema.key) ||
        !kiln__ds_type_equal(&a->node.schema.value, &b->node.schema.value)) {
        st = KILN_ERROR(KILN_ERR_INVAL, "union: the two schemas differ");
        goto done;
    }
    KILN_CHECK(st, kiln__ds_derive(a, KILN__NODE_UNION, &a->node.schema, &n), done);
    n->parent[1] = kiln__node_of(b);
    n->nparents = 2;
    b->node.refs++;
    n->nparts = 0; /* a's + b's, once both are known */
done:
    return kiln__ds_finish(ctx, st, n, out);
}

/* ---- wide transformations ---- */

kiln_status kiln__ds_wide(kiln_dataset *ds, kiln__node_kind kind,
                          const kiln_schema *schema, uint32_t nparts,
                          kiln__node **out)
{
    kiln_status st = kiln__ds_derive(ds, kind, schema, out);
    if (st == KILN_OK)
        (*out)->want_parts = nparts;
    return st;
}

kiln_status kiln_dataset_reduce_by_key(kiln_dataset *ds, kiln_op op,
                                       kiln_reduce_fn fn, void *arg,
                                       uint32_t nparts, kiln_dataset **out)
{
    kiln_status st = kiln__ds_check_live(ds);
    if (st != KILN_OK || !out)
        return st != KILN_OK ? st : KILN_ERR_INVAL;
    kiln_context *ctx = ds->node.ctx;
    kiln__api_begin(ctx);
    kiln__node *n = NULL;
    const kiln_schema *s = &ds->node.schema;
    kiln_kind vk = s->value.kind;
    if (s->key.kind == KILN_KIND_NONE) {
        st = KILN_ERROR(KILN_ERR_INVAL, "reduce_by_key: the dataset has no key");
    } else if (kiln__type_variable(&s->value)) {
        st = KILN_ERROR(KILN_ERR_INVAL,
                        "reduce_by_key: values must be fixed-size (use group_by_key)");
    } else if (op == KILN_OP_CUSTOM && !fn) {
        st = KILN_ERROR(KILN_ERR_INVAL, "reduce_by_key: KILN_OP_CUSTOM needs a function");
    } else if (op != KILN_OP_CUSTOM && vk != KILN_KIND_U64 &&
               vk != KILN_KIND_I64 && vk != KILN_KIND_F64) {
        st = KILN_ERROR(KILN_ERR_INVAL,
                        "reduce_by_key: built-in operators need U64, I64 or F64 values");
    } else if (op < KILN_OP_CUSTOM || op > KILN_OP_MAX) {
        st = KILN_ERROR(KILN_ERR_INVAL, "reduce_by_key: unknown operator %d", (int)op);
    }
    if (st != KILN_OK)
        goto done;
    KILN_CHECK(st, kiln__ds_wide(ds, KILN__NODE_REDUCE_BY_KEY, s, nparts, &n), done);
    n->u.reduce.op = op;
    n->u.reduce.fn = fn;
    n->u.reduce.arg = arg;
done:
    return kiln__ds_finish(ctx, st, n, out);
}

kiln_status kiln_dataset_group_by_key(kiln_dataset *ds, uint32_t nparts,
                                      kiln_dataset **out)
{
    kiln_status st = kiln__ds_check_live(ds);
    if (st != KILN_OK || !out)
        return st != KILN_OK ? st : KILN_ERR_INVAL;
    kiln_context *ctx = ds->node.ctx;
    kiln__api_begin(ctx);
    kiln__node *n = NULL;
    const kiln_schema *in = &ds->node.schema;
    if (in->key.kind == KILN_KIND_NONE) {
        st = KILN_ERROR(KILN_ERR_INVAL, "group_by_key: the dataset has no key");
        goto done;
    }
    if (in->value.kind == KILN_KIND_LIST) {
        st = KILN_ERROR(KILN_ERR_INVAL, "group_by_key: values are already lists");
        goto done;
    }
    kiln_schema s = {in->key, {.kind = KILN_KIND_LIST,
                               .elem_kind = in->value.kind,
                               .elem_size = kiln__type_variable(&in->value)
                                                ? 0 : in->value.size}};
    KILN_CHECK(st, kiln__ds_wide(ds, KILN__NODE_GROUP_BY_KEY, &s, nparts, &n), done);
done:
    return kiln__ds_finish(ctx, st, n, out);
}

kiln_status kiln_dataset_distinct(kiln_dataset *ds, uint32_t nparts,
                                  kiln_dataset **out)
{
    kiln_status st = kiln__ds_check_live(ds);
    if (st != KILN_OK || !out)
        return st != KILN_OK ? st : KILN_ERR_INVAL;
    kiln_context *ctx = ds->node.ctx;
    kiln__api_begin(ctx);
    kiln__node *n = NULL;
    KILN_CHECK(st, kiln__ds_wide(ds, KILN__NODE_DISTINCT, &ds->node.schema, nparts, &n), done);
done:
    return kiln__ds_finish(ctx, st, n, out);
}

kiln_dataset *kiln_dataset_cache(kiln_dataset *ds)
{
    if (ds)
        ds->node.cache_wanted = true;
    return ds;
}

void kiln_dataset_unpersist(kiln_dataset *ds)
{
    if (!ds || !ds->node.ctx)
        return;
    ds->node.cache_wanted = false;
    kiln__resident_destroy(&ds->node.ctx->mem, &ds->node.cache);
}
