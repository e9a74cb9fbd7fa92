/* runtime/graph_load.c: kiln_graph_load() and kiln_graph_from_edges()
 * (graph module): edges in as a Kiln dataset, moved to their vertices'
 * partitions by one shuffle, then built into a graph.
 *
 *   source (text lines | binary records | HDF5 rows | the caller's edges)
 *     -> flat_map (kiln__graph_edges_fn: parse, check, one record per
 *        direction kept, keyed by the vertex that holds it)
 *     -> partition_by (nparts; the key's hash places a record exactly
 *        where kiln__graph_part_of() says, for HASH and RANGE alike)
 *     -> the shuffle's output stores, read in place by graph_build.c.
 *
 * RANGE first samples the distinct ids (an aggregate over the parsed
 * edges: one more read of the input) and picks splitters from it; the
 * sample depends on the input only, so the partitioning does not depend
 * on the number of ranks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/action.h"
#include "runtime/error.h"
#include "runtime/graph.h"
#include "runtime/graph_load.h"
#include "runtime/hdf5_graph.h"
#include "runtime/log.h"
#include "runtime/schedule.h"

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static kiln_graph_format format_of(const char *path)
{
    char name[4096];
    snprintf(name, sizeof name, "%s", path);
    size_t n = strlen(name);
    while (n > 1 && name[n - 1] == '/') /* a directory given as "dir/" */
        name[--n] = '\0';
    if (ends_with(name, ".h5") || ends_with(name, ".hdf5"))
        return KILN_GRAPH_HDF5;
    if (ends_with(name, ".wbin"))
        return KILN_GRAPH_BINARY_WEIGHTED;
    if (ends_with(name, ".bin"))
        return KILN_GRAPH_BINARY;
    return KILN_GRAPH_TEXT;
}

/* A flat_map of src through the loading callback; arg is consumed (owned
 * by the new node). */
static kiln_status edges_map(kiln_dataset *src, const kiln_schema *out_schema,
                             kiln__graph_load_arg *arg, kiln_dataset **out)
{
    kiln_status st = kiln_dataset_flat_map(src, *out_schema, kiln__graph_edges_fn,
                                           arg, out);
    if (st == KILN_OK)
        (*out)->node.owned_arg = arg;
    else
        free(arg);
    return st;
}

/* RANGE: sample the ids, pick splitters into g->pf. Collective. */
static kiln_status range_splitters(kiln_graph *g, kiln_dataset *src,
                                   const kiln__graph_load_arg *base)
{
    kiln_context *ctx = g->ctx;
    kiln__graph_load_arg *a = malloc(sizeof *a);
    if (!a)
        return KILN_ERR_NOMEM;
    *a = *base;
    a->canonical = true;
    kiln_schema s = kiln_schema_of(KILN_T_U64, KILN_T_U64);
    kiln_dataset *canon = NULL;
    kiln_status st = edges_map(src, &s, a, &canon);
    size_t k = 64 * (size_t)g->pf.nparts;
    if (k > 4096)
        k = 4096;
    size_t bytes = kiln__graph_sample_bytes(k);
    void *zero = calloc(1, bytes), *sample = calloc(1, bytes);
    if (st == KILN_OK && (!zero || !sample))
        st = KILN_ERR_NOMEM;
    if (st == KILN_OK)
        st = kiln_dataset_aggregate(canon, zero, bytes, kiln__graph_sample_seq,
                                    kiln__graph_sample_comb, &k, sample);
    if (st == KILN_OK) {
        kiln__api_begin(ctx);
        st = kiln__error_agree(ctx, kiln__graph_splitters(&ctx->mem, sample, &g->pf));
    }
    free(zero);
    free(sample);
    kiln_dataset_destroy(&canon);
    return st;
}

/* Run the shuffle and build g from its output. src: borrowed. */
static kiln_status load_from(kiln_graph *g, kiln_dataset *src,
                             kiln__graph_source source, bool source_weighted,
                             const kiln_graph_options *o)
{
    kiln_context *ctx = g->ctx;
    double start = kiln__now();
    kiln_dataset *mapped = NULL, *placed = NULL;
    uint32_t *slot_rank = NULL;
    kiln__graph_load_arg *a = calloc(1, sizeof *a);
    if (!a)
        return KILN_ERR_NOMEM;
    a->source = source;
    a->weighted = o->weighted;
    a->nonnegative = o->nonnegative && source_weighted;
    a->undirected = o->undirected;
    a->emit_out = g->has_out || g->undirected;
    a->emit_in = g->has_in && !g->undirected;
    a->tagged = a->emit_out && a->emit_in;
    /* IN only: the records are IN records, and the out-degrees are counted
     * from them after the build. */
    a->value_bytes = 8 + (a->weighted ? 8 : 0) + (a->tagged ? 1 : 0);
    kiln_status st = KILN_OK;
    if (o->partitioner == KILN_PARTITION_RANGE &&
        (st = range_splitters(g, src, a)) != KILN_OK) {
        free(a);
        return st;
    }
    size_t value_bytes = a->value_bytes;
    bool weighted = a->weighted, tagged = a->tagged;
    kiln_schema s = kiln_schema_of(kiln_type_fixed(8, kiln__graph_key_hash, NULL,
                                                   &g->pf),
                                   kiln_type_fixed(value_bytes, NULL, NULL, NULL));
    st = edges_map(src, &s, a, &mapped);
    if (st == KILN_OK)
        st = kiln_dataset_partition_by(mapped, KILN_PARTITION_HASH, g->pf.nparts,
                                       &placed);
    if (st != KILN_OK)
        goto done;

    /* The shuffle, as an action. */
    kiln__resident *res = NULL;
    bool owned = false;
    kiln_context *actx;
    if ((st = kiln__action_begin(placed, &actx)) != KILN_OK)
        goto done;
    st = kiln__schedule_materialize(ctx, &placed->node, &res, &owned);
    st = kiln__action_end(ctx, st);
    if (st != KILN_OK)
        goto done;
    double shuffled = kiln__now();

    kiln__api_begin(ctx);
    const kiln__store **parts = kiln__mem_calloc(&ctx->mem, g->nlp ? g->nlp : 1,
                                                 sizeof *parts);
    if (!parts)
        st = KILN_ERROR(KILN_ERR_NOMEM, "graph: partitions");
    for (uint32_t k = 0; parts && k < g->nlp; k++)
        parts[k] = res->part[(uint32_t)g->rank + k * (uint32_t)g->nranks];
    kiln__graph_input in = {(const kiln__store *const *)parts, value_bytes, weighted,
                            tagged};
    if ((st = kiln__error_agree(ctx, st)) == KILN_OK)
        st = kiln__graph_build_vertices(g, &in, &slot_rank);
    kiln__mem_free(&ctx->mem, (void *)parts);
    if (owned)
        kiln__resident_destroy(&ctx->mem, &res);
    /* The records are in the rows: release the shuffle's output now. */
    kiln_dataset_destroy(&placed);
    kiln_dataset_destroy(&mapped);
    if (st == KILN_OK)
        st = kiln__graph_build_adjacency(g, slot_rank);
    kiln__mem_free(&ctx->mem, slot_rank);
    if (st == KILN_OK)
        kiln__log(ctx, KILN__LOG_INFO, "graph: %llu vertices, %llu edges in %u "
                  "partitions, loaded in %.2f s (read and shuffle %.2f s, build "
                  "%.2f s)", (unsigned long long)g->nvertices,
                  (unsigned long long)g->nedges, g->pf.nparts, kiln__now() - start,
                  shuffled - start, kiln__now() - shuffled);
done:
    kiln_dataset_destroy(&placed);
    kiln_dataset_destroy(&mapped);
    return st;
}

static kiln_status graph_new(kiln_context *ctx, const kiln_graph_options *opts,
                             kiln_graph **out)
{
    kiln_graph_options o;
    memset(&o, 0, sizeof o);
    if (opts)
        o = *opts;
    kiln_graph_dir adj = o.adjacency ? o.adjacency : KILN_GRAPH_OUT;
    if (adj != KILN_GRAPH_OUT && adj != KILN_GRAPH_IN && adj != KILN_GRAPH_BOTH)
        return KILN_ERROR(KILN_ERR_INVAL, "graph: adjacency must be OUT, IN or BOTH");
    if (o.partitioner != KILN_PARTITION_HASH && o.partitioner != KILN_PARTITION_RANGE)
        return KILN_ERROR(KILN_ERR_INVAL, "graph: partitioner must be HASH or RANGE");
    uint64_t np = o.nparts ? o.nparts : ctx->opt.partitions;
    if (np == 0 || np > (1u << 24))
        return KILN_ERROR(KILN_ERR_INVAL, "graph: %llu partitions (1 to 2^24)",
                          (unsigned long long)np);
    kiln_graph *g = kiln__mem_calloc(&ctx->mem, 1, sizeof *g);
    if (!g)
        return KILN_ERROR(KILN_ERR_NOMEM, "graph");
    g->ctx = ctx;
    g->rank = ctx->rank;
    g->nranks = ctx->nranks;
    g->pf.nparts = (uint32_t)np;
    g->pf.how = o.partitioner;
    g->nlp = g->rank < (int)np ? ((uint32_t)np - (uint32_t)g->rank - 1) /
                                         (uint32_t)g->nranks + 1
                               : 0;
    g->undirected = o.undirected;
    g->weighted = o.weighted;
    /* Undirected: one set of rows serves both directions. */
    g->has_out = g->undirected || (adj & KILN_GRAPH_OUT);
    g->has_in = g->undirected || (adj & KILN_GRAPH_IN);
    g->in_is_out = g->undirected;
    *out = g;
    return KILN_OK;
}

static void graph_free(kiln_graph *g)
{
    if (!g)
        return;
    kiln__mem *mem = &g->ctx->mem;
    kiln__graph_release(g);
    kiln__mem_free(mem, g);
}

void kiln_graph_destroy(kiln_graph **g)
{
    if (!g || !*g)
        return;
    graph_free(*g);
    *g = NULL;
}

kiln_status kiln_graph_load(kiln_context *ctx, const char *const *paths,
                            size_t npaths, const kiln_graph_options *opts,
                            kiln_graph **out)
{
    if (!ctx || !out)
        return KILN_ERR_INVAL;
    kiln__api_begin(ctx);
    kiln_graph *g = NULL;
    kiln_dataset *src = NULL;
    kiln_status st = KILN_OK;
    kiln_graph_options o;
    memset(&o, 0, sizeof o);
    if (opts)
        o = *opts;
    if (!paths || npaths == 0 || !paths[0])
        st = KILN_ERROR(KILN_ERR_INVAL, "graph: no input paths");
    if (st == KILN_OK)
        st = graph_new(ctx, &o, &g);
    if (st != KILN_OK)
        return kiln__api_end(ctx, st);
    kiln_graph_format f = o.format == KILN_GRAPH_AUTO ? format_of(paths[0]) : o.format;
    kiln__graph_source source = KILN__GRAPH_SRC_U64;
    bool source_weighted = true;
    switch (f) {
    case KILN_GRAPH_TEXT:
        source = KILN__GRAPH_SRC_TEXT;
        st = kiln_text_files(ctx, paths, npaths, &src);
        break;
    case KILN_GRAPH_BINARY:
        source_weighted = false;
        st = kiln_binary_files(ctx, paths, npaths,
                               kiln_schema_of(KILN_T_U64, KILN_T_U64), &src);
        break;
    case KILN_GRAPH_BINARY_WEIGHTED:
        source = KILN__GRAPH_SRC_WDST;
        st = kiln_binary_files(ctx, paths, npaths,
                               kiln_schema_of(KILN_T_U64,
                                              kiln_type_fixed(16, NULL, NULL, NULL)),
                               &src);
        break;
    case KILN_GRAPH_HDF5: {
        kiln__resident *r = NULL;
        bool w = false;
        if (npaths != 1) {
            st = KILN_ERROR(KILN_ERR_INVAL, "graph: HDF5 edges come from one file, "
                            "not %zu", npaths);
            break;
        }
        st = kiln__hdf5_graph_read(ctx, paths[0], o.weighted,
                                   (uint32_t)ctx->opt.partitions, &r, &w);
        kiln_schema s = w ? kiln_schema_of(KILN_T_U64, kiln_type_fixed(16, NULL,
                                                                       NULL, NULL))
                          : kiln_schema_of(KILN_T_U64, KILN_T_U64);
        if (st == KILN_OK)
            st = kiln__graph_held(ctx, &s, r, "graph-hdf5-edges", &src);
        source = w ? KILN__GRAPH_SRC_WDST : KILN__GRAPH_SRC_U64;
        source_weighted = w;
        break;
    }
    default:
        st = KILN_ERROR(KILN_ERR_INVAL, "graph: unknown format %d", (int)f);
    }
    if (st == KILN_OK)
        st = load_from(g, src, source, source_weighted, &o);
    kiln_dataset_destroy(&src);
    if (st == KILN_OK) {
        *out = g;
        g = NULL;
    }
    graph_free(g);
    return kiln__api_end(ctx, st);
}

kiln_status kiln_graph_from_edges(kiln_dataset *edges,
                                  const kiln_graph_options *opts, kiln_graph **out)
{
    if (!edges || !out || !edges->node.ctx)
        return KILN_ERR_INVAL;
    kiln_context *ctx = edges->node.ctx;
    kiln__api_begin(ctx);
    kiln_graph *g = NULL;
    kiln_graph_options o;
    memset(&o, 0, sizeof o);
    if (opts)
        o = *opts;
    kiln_schema s = kiln_dataset_schema(edges);
    bool weighted = s.value.kind == KILN_KIND_FIXED && s.value.size == 16;
    kiln_status st = KILN_OK;
    if (s.key.kind != KILN_KIND_U64 || (!weighted && s.value.kind != KILN_KIND_U64))
        st = KILN_ERROR(KILN_ERR_INVAL, "graph: edges must be (U64 src, U64 dst) or "
                        "(U64 src, FIXED(16) kiln_graph_wdst)");
    if (st == KILN_OK)
        st = graph_new(ctx, &o, &g);
    if (st == KILN_OK)
        st = load_from(g, edges, weighted ? KILN__GRAPH_SRC_WDST : KILN__GRAPH_SRC_U64,
                       weighted, &o);
    if (st == KILN_OK) {
        *out = g;
        g = NULL;
    }
    graph_free(g);
    return kiln__api_end(ctx, st);
}
