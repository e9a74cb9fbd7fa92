/* runtime/node.h: a dataset's lineage node (part of the plan module).
 * Owns:     what a dataset is: its kind, schema, parents, the user's
 *           callbacks, and the data attached to it once computed (a
 *           source's splits, a cache, a shuffle's output partitions).
 * Uses:     storage (the stores that hold computed partitions).
 * Must not: run anything: plan decides what to compute, execute computes.
 * A kiln_dataset handle is a node. Nodes are reference-counted: the user's
 * handle is one reference and every child holds one on each parent. Node ids
 * follow creation order, which SPMD makes identical on every rank. */
#ifndef KILN_RUNTIME_NODE_H
#define KILN_RUNTIME_NODE_H

#include "runtime/context.h"
#include "runtime/store.h"

typedef enum kiln__node_kind {
    KILN__NODE_TEXT,
    KILN__NODE_PARALLEL,
    KILN__NODE_RANGE,
    KILN__NODE_MAP,
    KILN__NODE_FLAT_MAP,
    KILN__NODE_FILTER,
    KILN__NODE_MAP_PARTITIONS,
    KILN__NODE_KEY_BY,
    KILN__NODE_MAP_VALUES,
    KILN__NODE_UNION,
    KILN__NODE_REDUCE_BY_KEY,
    KILN__NODE_GROUP_BY_KEY,
    KILN__NODE_DISTINCT,
    KILN__NODE_BINARY,     /* fixed-size records from binary files */
    KILN__NODE_PARTITION,  /* partition_by (hash, range) and repartition */
    KILN__NODE_SORT,
    KILN__NODE_JOIN,       /* every two-sided operation: see kiln__join_kind */
    KILN__NODE_COALESCE,
    KILN__NODE_HDF5,       /* rows of an HDF5 dataset, loaded when planned */
    KILN__NODE_CHECKPOINT, /* partitions read back from a checkpoint file */
    KILN__NODE_NKINDS
} kiln__node_kind;

/* How a PARTITION node places records. */
typedef enum kiln__placement {
    KILN__PLACE_HASH,
    KILN__PLACE_RANGE,
    KILN__PLACE_ROUND_ROBIN
} kiln__placement;

/* The two-sided operations share one node kind and one shuffle. */
typedef enum kiln__join_kind {
    KILN__JOIN_INNER,
    KILN__JOIN_LEFT,
    KILN__JOIN_RIGHT,
    KILN__JOIN_FULL,
    KILN__JOIN_COGROUP,
    KILN__JOIN_SUBTRACT
} kiln__join_kind;

/* How a join runs, decided when it is planned. */
typedef enum kiln__join_strategy {
    KILN__STRATEGY_UNDECIDED,
    KILN__STRATEGY_SHUFFLE,        /* both sides hash-partitioned */
    KILN__STRATEGY_BROADCAST_RIGHT, /* b sent to every rank, a stays put */
    KILN__STRATEGY_BROADCAST_LEFT   /* a sent to every rank, b stays put */
} kiln__join_strategy;

/* The byte ranges a text source is cut into, decided by the master. */
typedef struct kiln__split {
    uint32_t file;      /* index into kiln__text_splits.files */
    uint64_t offset;    /* first byte of the range */
    uint64_t length;    /* bytes in the range; lines starting here are ours */
} kiln__split;

typedef struct kiln__text_splits {
    char **files;       /* owned; resolved paths in read order */
    uint32_t nfiles;
    kiln__split *splits; /* owned */
    uint32_t nsplits;
} kiln__text_splits;

/* Partitions held on this rank (a shuffle's output or a cache): part[p] is
 * non-NULL where partition p lives here; owner[p] names its rank on every
 * rank (-1: not computed). */
typedef struct kiln__resident {
    uint32_t nparts;
    kiln__store **part;  /* owned, nparts entries */
    int32_t *owner;      /* owned, nparts entries */
    bool complete;       /* every partition is held somewhere */
} kiln__resident;

struct kiln__node {
    kiln_context *ctx;   /* NULL once the context is finalised */
    uint32_t id;
    int refs;
    kiln__node_kind kind;
    kiln_schema schema;
    kiln__node *parent[2];
    int nparents;
    uint32_t nparts;      /* 0 until known: text sources and default widths
                             are settled when an action plans the lineage */
    uint32_t want_parts;  /* wide nodes: as asked (0: the default) */
    union {
        struct { kiln_map_fn fn; void *arg; } map; /* map, flat_map, key_by, map_values */
        struct { kiln_filter_fn fn; void *arg; } filter;
        struct { kiln_partition_fns fns; void *arg; } mp;
        struct { kiln_op op; kiln_reduce_fn fn; void *arg; } reduce;
        struct { char **paths; size_t npaths; kiln__text_splits *splits; } text; /* text and binary */
        struct { kiln__placement how; } part;
        struct { bool descending; kiln_compare_fn compare; void *arg; } sort;
        struct { kiln__join_kind kind; kiln__join_strategy strategy; } join;
        /* HDF5: what the master found when the dataset was made */
        struct { char *path; char *dataset; uint64_t rows; size_t row_bytes;
                 int64_t type_class; } h5;
        /* CHECKPOINT: the checkpoint's name (its data is the node's cache) */
        struct { char *name; } ckpt;
        struct { kiln__block data; } par; /* the master's records, on every rank */
        struct { int64_t start, step; uint64_t count; } range;
    } u;
    void *owned_arg;      /* an internal callback's argument, freed with the node */
    void (*owned_free)(void *); /* how to free owned_arg (NULL: free()) */
    bool cache_wanted;
    bool checkpoint_wanted; /* kiln_dataset_checkpoint(): load it on resume */
    bool live;              /* kiln_dataset_mark_live(): saved on a signal */
    bool from_checkpoint;   /* its data was loaded from a checkpoint */
    kiln__resident *cache;    /* cached partitions, once computed */
    kiln__resident *shuffled; /* wide nodes: output partitions, once computed */
    uint64_t mark;            /* plan: last walk that visited this node */
    uint64_t est_bytes;       /* plan: bytes expected, from its sources */
    kiln__node *next_live, *prev_live; /* the context's list of live nodes */
};

struct kiln_dataset { kiln__node node; };

static inline kiln__node *kiln__node_of(kiln_dataset *ds)
{
    return &ds->node;
}

static inline bool kiln__node_is_wide(const kiln__node *n)
{
    return n->kind == KILN__NODE_REDUCE_BY_KEY ||
           n->kind == KILN__NODE_GROUP_BY_KEY || n->kind == KILN__NODE_DISTINCT ||
           n->kind == KILN__NODE_PARTITION || n->kind == KILN__NODE_SORT ||
           n->kind == KILN__NODE_JOIN;
}

static inline bool kiln__node_is_file_source(const kiln__node *n)
{
    return n->kind == KILN__NODE_TEXT || n->kind == KILN__NODE_BINARY;
}

static inline bool kiln__node_is_source(const kiln__node *n)
{
    return kiln__node_is_file_source(n) || n->kind == KILN__NODE_PARALLEL ||
           n->kind == KILN__NODE_RANGE || n->kind == KILN__NODE_HDF5 ||
           n->kind == KILN__NODE_CHECKPOINT;
}

/* A short name for logs: "text_file", "flat_map", ... */
const char *kiln__node_name(kiln__node_kind kind);

/* Release the data computed for a node (caches, shuffle outputs). */
void kiln__resident_destroy(kiln__mem *mem, kiln__resident **r);
kiln_status kiln__resident_create(kiln__mem *mem, uint32_t nparts,
                                  kiln__resident **out);

/* Free every node of a context being finalised; handles stay valid to
 * destroy. */
void kiln__nodes_orphan_all(kiln_context *ctx);

void kiln__text_splits_destroy(kiln__text_splits **s);

#endif
