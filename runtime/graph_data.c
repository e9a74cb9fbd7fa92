/* runtime/graph_data.c: datasets made from a graph's state, and back
 * (graph module): held datasets (partitions already in memory, no
 * lineage) for results and for the HDF5 edge input; saving edge lists in
 * the three formats; checkpoints of vertex state through Kiln's iteration
 * checkpoints, and resuming from them at any rank count.
 *
 * A held dataset is a node of kind CHECKPOINT whose cache is complete
 * (the kind kiln_iteration_resume() makes): the planner reads it as a
 * leaf, and a checkpoint of it writes its partitions as they are. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/action.h"
#include "runtime/checkpoint.h"
#define KILN_DATASET_IMPL
#include "runtime/dataset_impl.h"
#include "runtime/error.h"
#include "runtime/graph.h"
#include "runtime/hdf5_graph.h"
#include "runtime/log.h"
#include "runtime/schedule.h"

kiln_status kiln__graph_held(kiln_context *ctx, const kiln_schema *schema,
                             kiln__resident *res, const char *what,
                             kiln_dataset **out)
{
    kiln__node *n = NULL;
    char *name = strdup(what);
    kiln_status st = name ? kiln__ds_new(ctx, KILN__NODE_CHECKPOINT, schema, &n)
                          : KILN_ERROR(KILN_ERR_NOMEM, "graph: held dataset");
    if (st != KILN_OK) {
        free(name);
        kiln__resident_destroy(&ctx->mem, &res);
        return st;
    }
    n->u.ckpt.name = name;
    n->nparts = res->nparts;
    n->cache = res;
    n->cache_wanted = true;
    *out = (kiln_dataset *)n;
    return KILN_OK;
}

/* Partition p of a graph-shaped resident, as records (id, row of `width`
 * bytes taken from `columns`). */
static kiln_status state_resident(kiln_graph *g, const kiln_schema *s,
                                  void *const *columns, size_t ncols,
                                  kiln__resident **out)
{
    kiln__mem *mem = &g->ctx->mem;
    kiln__resident *r = NULL;
    kiln__block rows;
    size_t width = 8 * ncols;
    kiln_status st = kiln__resident_create(mem, g->pf.nparts, &r);
    if (st != KILN_OK)
        return st;
    for (uint32_t p = 0; p < g->pf.nparts; p++)
        r->owner[p] = (int32_t)(p % (uint32_t)g->nranks);
    st = kiln__block_init(&rows, mem, s);
    for (uint32_t k = 0; st == KILN_OK && k < g->nlp; k++) {
        uint32_t p = (uint32_t)g->rank + k * (uint32_t)g->nranks;
        kiln__store *store = kiln__mem_alloc(mem, sizeof *store);
        if (!store) {
            st = KILN_ERROR(KILN_ERR_NOMEM, "graph: state partition");
            break;
        }
        kiln__store_init(store, mem, s);
        r->part[p] = store;
        /* Rows in handle order: the same dataset at any rank count. */
        for (uint32_t j = g->part_start[k]; j < g->part_start[k + 1] && st == KILN_OK;
             j++) {
            uint32_t i = g->members[j];
            unsigned char row[8 * 16];
            unsigned char *v = width <= sizeof row ? row : NULL;
            if (!v) {
                st = KILN_ERROR(KILN_ERR_LIMIT, "graph: at most 16 columns");
                break;
            }
            for (size_t c = 0; c < ncols; c++)
                memcpy(v + 8 * c, (const unsigned char *)columns[c] + 8 * (size_t)i, 8);
            st = kiln__block_append(&rows, &g->ids[i], 8, v, width);
            if (st == KILN_OK && (kiln__block_bytes(&rows) >= KILN__STORE_BLOCK_BYTES ||
                                  j + 1 == g->part_start[k + 1]))
                st = kiln__store_adopt(store, &rows);
        }
    }
    kiln__block_release(&rows); /* empty unless a failure stopped it */
    if (st != KILN_OK) {
        kiln__resident_destroy(mem, &r);
        return st;
    }
    r->complete = true;
    *out = r;
    return KILN_OK;
}

kiln_status kiln_graph_values(kiln_graph *g, kiln_type type, const void *values,
                              kiln_dataset **out)
{
    if (!g || !out)
        return KILN_ERR_INVAL;
    kiln_context *ctx = g->ctx;
    kiln__api_begin(ctx);
    kiln_status st = KILN_OK;
    kiln__resident *r = NULL;
    if (type.kind != KILN_KIND_U64 && type.kind != KILN_KIND_I64 &&
        type.kind != KILN_KIND_F64)
        st = KILN_ERROR(KILN_ERR_INVAL, "graph: vertex values must be U64, I64 or F64");
    else if (g->nlocal && !values)
        st = KILN_ERROR(KILN_ERR_INVAL, "graph: vertex values are NULL");
    kiln_schema s = kiln_schema_of(KILN_T_U64, type);
    void *cols[1] = {(void *)values};
    if (st == KILN_OK)
        st = state_resident(g, &s, cols, 1, &r);
    /* No communication: a failure here is this rank's; agree on it. */
    if ((st = kiln__error_agree(ctx, st)) == KILN_OK)
        st = kiln__graph_held(ctx, &s, r, "graph-values", out);
    else
        kiln__resident_destroy(&ctx->mem, &r);
    return kiln__api_end(ctx, st);
}

kiln_status kiln_graph_save_hdf5(kiln_dataset *ds, const char *path,
                                 const kiln_graph_column *cols, size_t ncols,
                                 const kiln_hdf5_options *opts)
{
    kiln_context *ctx;
    kiln_status st = kiln__action_begin(ds, &ctx);
    if (st != KILN_OK)
        return st;
    if (!path || !*path)
        st = kiln__error_agree(ctx, KILN_ERROR(KILN_ERR_INVAL, "graph: save_hdf5 "
                                                "needs a path"));
    else
        st = kiln__hdf5_graph_write(ctx, &ds->node, path, cols, ncols, opts);
    return kiln__action_end(ctx, st);
}

/* ---- edge lists out ---- */

static kiln_status edge_lines(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        char line[96];
        uint64_t u = kiln_batch_key_u64(in, i), v;
        memcpy(&v, in->values + in->value_size * i, 8); /* U64 or wdst */
        int len;
        if (in->value_size == 16) {
            double w;
            memcpy(&w, in->values + 16 * i + 8, 8);
            len = snprintf(line, sizeof line, "%" PRIu64 "\t%" PRIu64 "\t%.17g", u,
                           v, w);
        } else {
            len = snprintf(line, sizeof line, "%" PRIu64 "\t%" PRIu64, u, v);
        }
        kiln_status st = kiln_emit(out, NULL, 0, line, (size_t)len);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status drop_weights(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        kiln_status st = kiln_emit_value(out, in->values + 16 * i, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status unit_weights(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        kiln_graph_wdst v = {kiln_batch_value_u64(in, i), 1.0};
        kiln_status st = kiln_emit_value(out, &v, sizeof v);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

kiln_status kiln_graph_save_edges(kiln_dataset *edges, const char *path,
                                  kiln_graph_format format, bool overwrite)
{
    if (!edges || !path)
        return KILN_ERR_INVAL;
    kiln_schema s = kiln_dataset_schema(edges);
    bool weighted = s.value.kind == KILN_KIND_FIXED && s.value.size == 16;
    if (s.key.kind != KILN_KIND_U64 || (!weighted && s.value.kind != KILN_KIND_U64))
        return KILN_ERR_INVAL;
    kiln_save_options so = {.overwrite = overwrite};
    kiln_dataset *mapped = NULL;
    kiln_status st = KILN_OK;
    switch (format) {
    case KILN_GRAPH_TEXT:
        st = kiln_dataset_map(edges, kiln_schema_of(KILN_T_NONE, KILN_T_STRING),
                              edge_lines, NULL, &mapped);
        if (st == KILN_OK)
            st = kiln_dataset_save_text(mapped, path, &so);
        break;
    case KILN_GRAPH_BINARY:
        if (weighted)
            st = kiln_dataset_map_values(edges, KILN_T_U64, drop_weights, NULL,
                                         &mapped);
        if (st == KILN_OK)
            st = kiln_dataset_save_binary(mapped ? mapped : edges, path, &so);
        break;
    case KILN_GRAPH_BINARY_WEIGHTED:
        if (!weighted)
            st = kiln_dataset_map_values(edges, kiln_type_fixed(16, NULL, NULL, NULL),
                                         unit_weights, NULL, &mapped);
        if (st == KILN_OK)
            st = kiln_dataset_save_binary(mapped ? mapped : edges, path, &so);
        break;
    case KILN_GRAPH_HDF5: {
        kiln_graph_column cols[3] = {{"src", KILN_KIND_U64}, {"dst", KILN_KIND_U64},
                                     {"weight", KILN_KIND_F64}};
        kiln_hdf5_options ho;
        memset(&ho, 0, sizeof ho);
        ho.overwrite = overwrite;
        st = kiln_graph_save_hdf5(edges, path, cols, weighted ? 3 : 2, &ho);
        break;
    }
    default:
        st = KILN_ERR_INVAL;
    }
    kiln_dataset_destroy(&mapped);
    return st;
}

/* ---- checkpoints of vertex state ---- */

static kiln_status full_name(const kiln_graph *g, const char *name, char *buf,
                             size_t size)
{
    if (!name || !*name || strchr(name, '/') || strlen(name) > 150)
        return KILN_ERROR(KILN_ERR_INVAL, "graph: checkpoint name '%s' is empty, "
                          "too long or has a '/'", name ? name : "");
    snprintf(buf, size, "%s-g%016llx", name, (unsigned long long)g->digest);
    return KILN_OK;
}

static kiln_status check_columns(const kiln_graph *g, void *const *columns,
                                 size_t ncols)
{
    if (ncols == 0 || ncols > 16 || !columns)
        return KILN_ERROR(KILN_ERR_INVAL, "graph: 1 to 16 state columns");
    for (size_t c = 0; c < ncols; c++)
        if (g->nlocal && !columns[c])
            return KILN_ERROR(KILN_ERR_INVAL, "graph: state column %zu is NULL", c);
    return KILN_OK;
}

static kiln_status write_state(kiln_graph *g, const char *full, uint64_t iteration,
                               void *const *columns, size_t ncols)
{
    kiln_context *ctx = g->ctx;
    kiln_schema s = kiln_schema_of(KILN_T_U64, kiln_type_fixed(8 * ncols, NULL,
                                                               NULL, NULL));
    kiln__resident *r = NULL;
    kiln_dataset *ds = NULL;
    kiln_status st = state_resident(g, &s, columns, ncols, &r);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK) {
        kiln__resident_destroy(&ctx->mem, &r);
        return st;
    }
    if ((st = kiln__graph_held(ctx, &s, r, "graph-state", &ds)) == KILN_OK)
        st = kiln_iteration_checkpoint(ds, full, iteration, 1);
    kiln_dataset_destroy(&ds);
    return st;
}

kiln_status kiln_graph_checkpoint(kiln_graph *g, const char *name,
                                  uint64_t iteration, uint64_t every,
                                  void *const *columns, size_t ncols)
{
    if (!g)
        return KILN_ERR_INVAL;
    kiln_context *ctx = g->ctx;
    kiln__api_begin(ctx);
    char full[200];
    kiln_status st = full_name(g, name, full, sizeof full);
    if (st == KILN_OK)
        st = check_columns(g, columns, ncols);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        return kiln__api_end(ctx, st);
    /* A signal on any rank: checkpoint now and leave, as stages do. */
    int signalled = ctx->opt.signals && kiln__checkpoint_signalled() ? 1 : 0;
    if (ctx->opt.signals && g->nranks > 1 &&
        MPI_Allreduce(MPI_IN_PLACE, &signalled, 1, MPI_INT, MPI_MAX, ctx->comm) !=
            MPI_SUCCESS)
        kiln__abort(ctx, "graph: signal agreement");
    bool due = every > 0 && iteration % every == 0;
    if (!due && !signalled)
        return kiln__api_end(ctx, KILN_OK);
    st = write_state(g, full, iteration, columns, ncols);
    if (signalled) {
        kiln__log(ctx, KILN__LOG_WARN, "signal received: vertex state of %s "
                  "checkpointed after iteration %llu; exiting with %d (resubmit "
                  "with --kiln-resume)", name, (unsigned long long)iteration,
                  KILN_EXIT_RESUBMIT);
        kiln__schedule_leave_resubmit(ctx, st);
    }
    return kiln__api_end(ctx, st);
}

kiln_status kiln_graph_resume(kiln_graph *g, const char *name, void *const *columns,
                              size_t ncols, uint64_t *iteration)
{
    if (!g || !iteration)
        return KILN_ERR_INVAL;
    kiln_context *ctx = g->ctx;
    kiln__api_begin(ctx);
    *iteration = 0;
    char full[200];
    kiln_status st = full_name(g, name, full, sizeof full);
    if (st == KILN_OK)
        st = check_columns(g, columns, ncols);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK || !ctx->opt.resume)
        return kiln__api_end(ctx, st);
    kiln_dataset *ds = NULL;
    uint64_t it = 0;
    if ((st = kiln_iteration_resume(ctx, full, &it, &ds)) != KILN_OK || !ds)
        return kiln__api_end(ctx, st);
    kiln__api_begin(ctx);
    const kiln__node *n = &ds->node;
    const kiln__resident *r = n->cache;
    if (!r || r->nparts != g->pf.nparts || n->schema.value.size != 8 * ncols)
        st = KILN_ERROR(KILN_ERR_STATE, "graph: checkpoint %s holds %u partitions "
                        "of %zu-byte state; the graph has %u partitions and %zu "
                        "columns", full, r ? r->nparts : 0, n->schema.value.size,
                        g->pf.nparts, 8 * ncols);
    for (uint32_t k = 0; st == KILN_OK && k < g->nlp; k++) {
        uint32_t p = (uint32_t)g->rank + k * (uint32_t)g->nranks;
        const kiln__store *s = r->part[p];
        const uint32_t *member = g->members + g->part_start[k];
        uint32_t count = g->part_start[k + 1] - g->part_start[k], at = 0;
        if ((s ? s->records : 0) != count) {
            st = KILN_ERROR(KILN_ERR_STATE, "graph: checkpoint %s partition %u has "
                            "%llu vertices, the graph %u", full, p,
                            (unsigned long long)(s ? s->records : 0), count);
            break;
        }
        for (size_t b = 0; s && b < s->nblocks && st == KILN_OK; b++) {
            const kiln__block *blk = &s->blocks[b];
            for (size_t j = 0; j < blk->n; j++) {
                uint32_t i = member[at++]; /* rows are in handle order */
                uint64_t id;
                memcpy(&id, blk->key.data + 8 * j, 8);
                if (id != g->ids[i]) {
                    st = KILN_ERROR(KILN_ERR_STATE, "graph: checkpoint %s does not "
                                    "match the graph (vertex %llu where %llu is)",
                                    full, (unsigned long long)id,
                                    (unsigned long long)g->ids[i]);
                    break;
                }
                for (size_t c = 0; c < ncols; c++)
                    memcpy((unsigned char *)columns[c] + 8 * (size_t)i,
                           blk->value.data + 8 * ncols * j + 8 * c, 8);
            }
        }
    }
    st = kiln__error_agree(ctx, st);
    if (st == KILN_OK)
        *iteration = it;
    kiln_dataset_destroy(&ds);
    return kiln__api_end(ctx, st);
}
