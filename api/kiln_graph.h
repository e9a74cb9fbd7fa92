/* kiln_graph.h: graphs on Kiln - load an edge list once, keep it cached as
 * compact per-partition adjacency, then iterate with a few bulk operations
 * that move only messages to vertices.
 *
 * Same conventions as kiln.h (which this header includes): statuses, the
 * four ownership words, "collective" meaning every rank of the context
 * calls, in the same order, and gets the same status. Every function that
 * takes a kiln_graph and returns a kiln_status is collective.
 *
 * The model. A graph is loaded from edges (kiln_graph_load()); vertices are
 * the ids that appear in any edge. Vertices are placed in P partitions by
 * their id (hash or range; P does not depend on the number of ranks) and
 * partition p lives on rank p % nranks, with the adjacency of its vertices.
 * A rank numbers the vertices of all its partitions together 0 .. n-1 (its
 * *local indices*), by decreasing degree (the edges kept at the vertex:
 * out-, in- or both summed), then increasing id, which keeps the busiest
 * vertices close in memory. So per-vertex state is a plain C array of n
 * elements that the job reads and writes directly between operations.
 * The operations:
 *
 *  - gather:  out[v] = op over v's neighbours u of in[u]         (a pull)
 *  - scatter: acc[v] = op(acc[v], in[u] (+ weight)) for active u (a push)
 *  - lookup / send: read or combine into the state of any vertex, named by
 *    its handle (below), wherever it lives;
 *  - combine / reduce: a global value in partition order.
 *
 * Messages to one vertex are combined on the sending rank before they
 * travel (the sum or minimum of everything this rank offers it), and
 * values are exchanged with MPI_Alltoallv on the context's communicator.
 * At one rank nothing is copied or exchanged: the operations are loops
 * over compressed sparse rows.
 *
 * Handles. A vertex handle (uint64_t) names a vertex by (partition, index
 * in partition; a partition's vertices indexed in (degree, id) order); it
 * is the same at any number of ranks, and handles order vertices the same
 * way everywhere, so an algorithm that compares handles (minimum labels,
 * orientation) takes the same steps at any rank count. The vertices of
 * one partition appear in handle order among the local indices. Handles
 * are not ids; kiln_graph_find() turns an id into one.
 *
 * Determinism. gather with KILN_OP_SUM adds each vertex's terms in the
 * neighbours' (degree, id) order, which does not depend on the layout,
 * and combine/reduce add partitions in partition order, so F64 results
 * are bit-identical at any rank count.
 * MIN and MAX are exact anyway. scatter with SUM combines per rank first
 * (rank-count dependent rounding for F64); use gather where it matters.
 *
 * Formats (see docs/graph.md):
 *  - text (SNAP): one edge per line, "src dst" or "src dst weight",
 *    separated by spaces or tabs; lines starting with '#' and blank lines
 *    are skipped; ids are unsigned 64-bit decimals, weights decimals. A
 *    malformed line fails the load with FILE:LINE in the message.
 *  - binary: fixed records in host byte order, 16 bytes (uint64 src, uint64
 *    dst) or, weighted, 24 bytes (src, dst, double weight).
 *  - HDF5: 1-D datasets /src and /dst of integers, optional /weight.
 * Paths are files, directories (their part files) or globs, as for
 * kiln_text_file(); kiln-graphgen writes all three. */
#ifndef KILN_GRAPH_H
#define KILN_GRAPH_H

#include <kiln.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kiln_graph kiln_graph; /* opaque; one per loaded graph */

typedef enum kiln_graph_format {
    KILN_GRAPH_AUTO = 0,         /* by the first path's name: *.h5, *.hdf5:
                                    HDF5; *.bin: BINARY; *.wbin:
                                    BINARY_WEIGHTED; anything else: TEXT */
    KILN_GRAPH_TEXT,
    KILN_GRAPH_BINARY,           /* 16-byte records: src, dst */
    KILN_GRAPH_BINARY_WEIGHTED,  /* 24-byte records: src, dst, weight */
    KILN_GRAPH_HDF5              /* /src, /dst, optional /weight */
} kiln_graph_format;

/* Edge directions, as seen from a vertex v: OUT follows v's edges v -> u,
 * IN the edges u -> v pointing at it, BOTH either. Also which adjacency a
 * graph keeps. */
typedef enum kiln_graph_dir {
    KILN_GRAPH_OUT = 1,
    KILN_GRAPH_IN = 2,
    KILN_GRAPH_BOTH = 3
} kiln_graph_dir;

/* Options of kiln_graph_load(). Zero-initialise, then set fields. */
typedef struct kiln_graph_options {
    kiln_graph_format format;
    bool undirected;      /* add the reverse of every edge (a self-loop is
                             kept once); IN adjacency is then OUT's */
    bool weighted;        /* keep weights: the text's third column, the
                             weighted binary's, HDF5's /weight; 1.0 where
                             an input has none */
    bool nonnegative;     /* a negative or NaN weight fails the load,
                             naming where it is */
    kiln_graph_dir adjacency; /* kept: OUT, IN or BOTH (0: OUT). The out-
                                 degrees are known in every case. */
    kiln_partitioner partitioner; /* HASH (default) or RANGE of ids; RANGE
                                     reads the input twice (a sample first) */
    uint32_t nparts;      /* graph partitions; 0: --kiln-partitions */
} kiln_graph_options;

/* Value of a weighted edge dataset: key U64 src, value FIXED(16) of this. */
typedef struct kiln_graph_wdst {
    uint64_t dst;
    double weight;
} kiln_graph_wdst;

/* Load a graph from edge files (format in opts). Reads the input, moves
 * each vertex's edges to its partition with one Kiln shuffle, and builds
 * the adjacency on every rank; the input datasets are released before
 * this returns. Collective. paths, opts: borrowed (opts may be NULL).
 * out: on KILN_OK a new graph owned by the caller, released with
 * kiln_graph_destroy(). Fails with KILN_ERR_PARSE naming FILE:LINE for a
 * malformed line, KILN_ERR_IO for a missing input. */
KILN_API kiln_status kiln_graph_load(kiln_context *ctx, const char *const *paths,
                                     size_t npaths,
                                     const kiln_graph_options *opts,
                                     kiln_graph **out);

/* The same from a dataset of edges: key U64 src, value U64 dst, or value
 * FIXED(16) kiln_graph_wdst when weighted (opts->weighted: weights kept;
 * opts->format is ignored). edges: borrowed. Collective. */
KILN_API kiln_status kiln_graph_from_edges(kiln_dataset *edges,
                                           const kiln_graph_options *opts,
                                           kiln_graph **out);

/* Write an edge dataset (as kiln_graph_from_edges takes) in one of the
 * formats: TEXT and the binary formats as part files in the directory
 * `path` (kiln_dataset_save_text/save_binary; BINARY of a weighted
 * dataset drops weights, BINARY_WEIGHTED of an unweighted one writes 1.0),
 * HDF5 as one file with /src, /dst and, weighted, /weight. Collective.
 * path: borrowed. */
KILN_API kiln_status kiln_graph_save_edges(kiln_dataset *edges, const char *path,
                                           kiln_graph_format format,
                                           bool overwrite);

/* Release a graph and everything it holds; accepts NULL. Not collective. */
KILN_API void kiln_graph_destroy(kiln_graph **g);

/* ---- sizes and this rank's vertices (none communicates) ---- */

KILN_API uint64_t kiln_graph_vertex_count(const kiln_graph *g); /* all ranks */
/* Edges kept, over all ranks; with `undirected` each direction counts. */
KILN_API uint64_t kiln_graph_edge_count(const kiln_graph *g);
KILN_API uint32_t kiln_graph_partition_count(const kiln_graph *g);
/* n: the vertices held on this rank; local indices are 0 .. n-1. */
KILN_API uint32_t kiln_graph_local_count(const kiln_graph *g);
/* Elements an array passed as gather's `in` must have: n, plus room for
 * copies of the neighbours held on other ranks (filled by gather). */
KILN_API uint32_t kiln_graph_slot_count(const kiln_graph *g);
/* n ids, by local index. Owned by the graph. */
KILN_API const uint64_t *kiln_graph_local_ids(const kiln_graph *g);
/* n out-degrees (edges v -> *, parallel edges and self-loops counted). */
KILN_API const uint64_t *kiln_graph_out_degrees(const kiln_graph *g);
/* n in-degrees when IN adjacency is kept, else NULL. */
KILN_API const uint64_t *kiln_graph_in_degrees(const kiln_graph *g);
/* The number of partitions held on this rank (local partition k is
 * partition rank + k * nranks), and in *part_of (n elements, owned by the
 * graph; may be NULL) the local partition of every local vertex. Local
 * vertices of one partition are in handle order, so a sum per partition
 * taken in local-index order, then kiln_graph_combine(), is the same at
 * any rank count:  partials[part_of[v]] += x[v]. */
KILN_API uint32_t kiln_graph_local_partitions(const kiln_graph *g,
                                              const uint32_t **part_of);
/* The handles of this rank's n vertices into out (n elements, owned by the
 * caller). */
KILN_API void kiln_graph_local_handles(const kiln_graph *g, uint64_t *out);
/* Whether handle h names a vertex held here, and its local index. */
KILN_API bool kiln_graph_handle_local(const kiln_graph *g, uint64_t h,
                                      uint32_t *index);

/* Handles in 32 bits, for labels that name vertices and are gathered as
 * KILN_KIND_U32 (a pull then reads half the bytes). When every handle of g
 * fits (the partition count times the largest partition below 2^32,
 * roughly), sets *shift and returns true; then kiln_graph_handle_pack()
 * and _unpack() convert, and packed handles order vertices as handles do.
 * The same on every rank; false when the graph is too large. */
KILN_API bool kiln_graph_handle32(const kiln_graph *g, unsigned *shift);
static inline uint32_t kiln_graph_handle_pack(uint64_t h, unsigned shift)
{
    return (uint32_t)((h >> 32) << shift | (uint32_t)h);
}
static inline uint64_t kiln_graph_handle_unpack(uint32_t c, unsigned shift)
{
    uint64_t index_mask = ((uint64_t)1 << shift) - 1;
    return ((uint64_t)c >> shift) << 32 | (c & index_mask);
}

/* The handle of vertex `id` on every rank, or *found = false when no edge
 * names it. Collective (one broadcast from the owner). */
KILN_API kiln_status kiln_graph_find(kiln_graph *g, uint64_t id,
                                     uint64_t *handle, bool *found);

/* ---- bulk operations (collective) ----
 * Values are 8-byte elements of `kind` U64, I64 or F64 (gather also takes
 * 4-byte U32); op SUM, MIN or MAX (built-in operators only). Arrays are indexed by local index and owned
 * by the caller. Operations on directions whose adjacency the graph did
 * not keep fail with KILN_ERR_STATE. */

/* For every local v: out[v] = op over the edges of v in direction dir of
 * in[u], u the other end (IN: edges u -> v; OUT: v -> u; BOTH: both), or
 * op's identity (0, or the largest/smallest value) when v has none. `in`
 * has kiln_graph_slot_count() elements: the first n are read, the rest
 * are overwritten with the values of neighbours held elsewhere (one
 * exchange of n-sized arrays' worth of them). in and out must not
 * overlap. Sums are taken in the neighbours' (degree, id) order. With
 * KILN_KIND_U32, in and out are uint32_t arrays (SUM wraps modulo 2^32),
 * e.g. of packed handles (kiln_graph_handle32). */
KILN_API kiln_status kiln_graph_gather(kiln_graph *g, kiln_graph_dir dir,
                                       kiln_kind kind, kiln_op op, void *in,
                                       void *out);

/* For every active local u (active[0 .. nactive); every vertex when active
 * is NULL) and every edge of u in direction dir (OUT: u -> v; IN: v -> u),
 * offer in[u] (plus the edge's weight when add_weights; F64 only) to v:
 * acc[v] = op(acc[v], offer). Offers to a vertex held elsewhere are
 * combined on this rank first, then sent to its owner in one exchange.
 * changed (n elements, may be NULL): the local vertices whose acc changed,
 * each once, in no defined order; *nchanged their number here; *total
 * (may be NULL) their number on all ranks. in and acc may not overlap. */
KILN_API kiln_status kiln_graph_scatter(kiln_graph *g, kiln_graph_dir dir,
                                        kiln_kind kind, kiln_op op,
                                        bool add_weights, const uint32_t *active,
                                        size_t nactive, const void *in,
                                        void *acc, uint32_t *changed,
                                        size_t *nchanged, uint64_t *total);

/* out[i] = values[v] for the vertex v named by handles[i], i < count,
 * wherever v lives (values: this rank's n elements, on every rank).
 * Requests for the same remote handle are combined on the asking rank:
 * one message per distinct handle, so many vertices may ask for a few. */
KILN_API kiln_status kiln_graph_lookup(kiln_graph *g, size_t count,
                                       const uint64_t *handles,
                                       const void *values, void *out);

/* acc[v] = op(acc[v], values[i]) for the vertex v named by handles[i],
 * i < count, wherever v lives. Values for the same remote handle are
 * folded on the sending rank first (in index order), then sent as one. */
KILN_API kiln_status kiln_graph_send(kiln_graph *g, kiln_kind kind, kiln_op op,
                                     size_t count, const uint64_t *handles,
                                     const void *values, void *acc);

/* Combine `count` values per local partition (partials[k * count + j] for
 * local partition k, as kiln_graph_local_partitions() orders them) over
 * every partition, in partition order, into result[0 .. count) on every
 * rank: bit-identical at any rank count. */
KILN_API kiln_status kiln_graph_combine(kiln_graph *g, kiln_kind kind,
                                        kiln_op op, size_t count,
                                        const void *partials, void *result);
/* op over values[0 .. n) of every rank, partition by partition. */
KILN_API kiln_status kiln_graph_reduce(kiln_graph *g, kiln_kind kind,
                                       kiln_op op, const void *values,
                                       void *result);

/* ---- results ---- */

/* A dataset of (U64 vertex id, value) records, value of `type` (U64, I64
 * or F64) from values[0 .. n): one partition per graph partition, held
 * where the graph holds it, vertices in local order. Save it with
 * kiln_dataset_save_text ("id<TAB>value" part files), filter it, take its
 * top records... values: borrowed (copied). out: owned by the caller. */
KILN_API kiln_status kiln_graph_values(kiln_graph *g, kiln_type type,
                                       const void *values, kiln_dataset **out);

/* One HDF5 column: a 1-D dataset `name` of 8-byte numbers of `kind`. */
typedef struct kiln_graph_column {
    const char *name;
    kiln_kind kind; /* U64, I64 or F64 */
} kiln_graph_column;

/* Write ds's records as columns of one new HDF5 file: cols[0] is the key
 * (8 bytes), cols[1 ..] the value's consecutive 8-byte fields. Rows in
 * partition order; the file appears whole (renamed into place) or not at
 * all. opts (may be NULL): overwrite and compression as for
 * kiln_dataset_save_hdf5 (columns/element ignored). Collective. */
KILN_API kiln_status kiln_graph_save_hdf5(kiln_dataset *ds, const char *path,
                                          const kiln_graph_column *cols,
                                          size_t ncols,
                                          const kiln_hdf5_options *opts);

/* ---- checkpoints of vertex state ---- */

/* When every > 0 and iteration % every == 0, checkpoint `ncols` columns of
 * vertex state (each n 8-byte elements) as iteration `iteration` of
 * `name` (kiln_iteration_checkpoint: the two newest are kept). The name is
 * extended with a digest of the graph, so a checkpoint is only ever
 * resumed on the same graph. Call it every iteration: it also notices a
 * SIGTERM/SIGUSR1 (as Kiln's stages do), then checkpoints at once and
 * exits with KILN_EXIT_RESUBMIT on every rank. columns, name: borrowed. */
KILN_API kiln_status kiln_graph_checkpoint(kiln_graph *g, const char *name,
                                           uint64_t iteration, uint64_t every,
                                           void *const *columns, size_t ncols);
/* With --kiln-resume and a checkpoint of name for this graph: fill the
 * columns and set *iteration to its iteration; otherwise leave the
 * columns alone and set *iteration = 0. Works at any rank count. */
KILN_API kiln_status kiln_graph_resume(kiln_graph *g, const char *name,
                                       void *const *columns, size_t ncols,
                                       uint64_t *iteration);

/* ---- triangles ---- */

typedef struct kiln_graph_triangles kiln_graph_triangles; /* opaque */

/* Exact triangle counting on the undirected simple graph under g
 * (directions, self-loops and parallel edges ignored; g must keep BOTH
 * adjacencies or be undirected). Each undirected edge is oriented from the
 * lower (degree, id) end to the higher; for each vertex u and each pair
 * v < w of its out-neighbours, the wedge (v, w) is checked at v's owner by
 * a membership test in v's sorted out-neighbours. A found triangle adds 1
 * to counts[] of each of its three vertices; done[u] is set to 1 once u's
 * wedges are checked, and vertices with done[u] != 0 on entry are skipped
 * (resuming). counts, done: n elements each, borrowed until _end. */
KILN_API kiln_status kiln_graph_triangles_begin(kiln_graph *g, uint64_t *counts,
                                                uint64_t *done,
                                                kiln_graph_triangles **out);
/* One round: every rank checks wedges until it has --kiln-round-bytes of
 * queries for other ranks (24 bytes each; or has checked 64 times as many
 * wedges), then queries are exchanged and answered.
 * *finished (the same on every rank) once no rank has wedges left. */
KILN_API kiln_status kiln_graph_triangles_step(kiln_graph_triangles *t,
                                               bool *finished);
/* Not collective; accepts NULL. */
KILN_API void kiln_graph_triangles_end(kiln_graph_triangles **t);

#ifdef __cplusplus
}
#endif

#endif /* KILN_GRAPH_H */
