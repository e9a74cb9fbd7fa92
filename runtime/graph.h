/* runtime/graph.h: loaded graphs and the operations on them (graph module,
 * the implementation of api/kiln_graph.h).
 * Owns:     a graph's per-rank structures - the ids of this rank's
 *           vertices in local order, compressed sparse rows of their edges
 *           (OUT and/or IN), the mirrors (copies of neighbours held on
 *           other ranks) and the exchange plan that keeps them - plus the
 *           exchanges of the bulk operations, triangle counting, and the
 *           held datasets made from vertex state (results, checkpoints).
 * Uses:     plan and schedule (edge datasets, their shuffle by vertex, held
 *           datasets), storage (the shuffle's partition stores), hash (the
 *           placement of ids), io (hdf5_graph.h: HDF5 edges and columns),
 *           the public checkpoint calls, the context's communicator.
 * Must not: call user code (every callback in the loading pipeline is
 *           Kiln's own), touch files or HDF5 itself (io does), or keep
 *           per-iteration state other than reusable scratch buffers.
 *
 * Layout on a rank. Partition p (of nparts, fixed whatever the rank count)
 * lives on rank p % nranks; this rank's partitions are rank, rank +
 * nranks, ... (local partition k is p = rank + k * nranks). All its
 * vertices are numbered 0 .. nlocal-1 together, by decreasing degree (the
 * edges kept at the vertex), then increasing id (graph_build.c says why).
 * A handle ((uint64_t)p << 32 | j) names the j-th vertex of partition p in
 * that same order, so the vertices of one partition appear in handle
 * order among the local indices, and members[part_start[k] + j] turns a
 * handle into its local index (one table lookup); handles[i] goes back.
 * Adjacency entries are *slots*: a slot below
 * nlocal is a local vertex, slot nlocal + m is mirror m. Mirrors are
 * sorted by (owner rank, the owner's local index): mirrors of rank r are
 * [mstart[r], mstart[r+1]), and r keeps, in sidx[sstart[me] ..
 * sstart[me+1]), the local indices of those same vertices in the same
 * order. So one list per peer serves both directions: owner -> mirrors (a
 * gather's values, sent from sidx, received straight into the mirror
 * slots) and mirrors -> owner (a scatter's combined offers, sent as
 * positions within the peer's range). Every row is sorted by its
 * neighbours' (degree, id) order, which is local-index order at one rank
 * and the same order at any rank count. Every exchange is collective. */
#ifndef KILN_RUNTIME_GRAPH_H
#define KILN_RUNTIME_GRAPH_H

#include "kiln_graph.h"
#include "runtime/context.h"
#include "runtime/hash.h"
#include "runtime/node.h"

/* ---- where an id lives ---- */

typedef struct kiln__graph_pf {
    uint32_t nparts;
    kiln_partitioner how;
    uint64_t *splitters; /* RANGE: nparts - 1 ascending ids (owned); id goes
                            to the number of splitters <= id */
} kiln__graph_pf;

static inline uint32_t kiln__graph_part_of(const kiln__graph_pf *pf, uint64_t id)
{
    if (pf->how == KILN_PARTITION_HASH)
        return kiln__hash_partition(kiln__hash_bytes(&id, 8), pf->nparts);
    uint32_t lo = 0, hi = pf->nparts - 1; /* answer in [lo, hi] */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2; /* splitters[mid] bounds mid+1 */
        if (pf->splitters[mid] <= id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- id -> index maps (graph_map.c) ---- */

/* Open addressing, linear probing, load at most 1/2; 16-byte slots so a
 * lookup reads one cache line. */
typedef struct kiln__graph_slot {
    uint64_t key;
    uint32_t value; /* UINT32_MAX: empty */
    uint32_t pad;   /* map_count's second count; 0 from map_put */
} kiln__graph_slot;

typedef struct kiln__graph_map {
    kiln__mem *mem;
    kiln__graph_slot *slots; /* owned; mask + 1 of them */
    size_t mask, n;
} kiln__graph_map;

#define KILN__GRAPH_NONE UINT32_MAX

static inline size_t kiln__graph_map_home(const kiln__graph_map *m, uint64_t key)
{
    uint64_t x = key * 0x9e3779b97f4a7c15ull;
    return (size_t)((x ^ (x >> 29)) & m->mask);
}

kiln_status kiln__graph_map_init(kiln__graph_map *m, kiln__mem *mem,
                                 size_t expected);
void kiln__graph_map_release(kiln__graph_map *m);
/* Insert key with `value` unless present; *found gets the value it has
 * (the old one when present). Grows as needed. */
kiln_status kiln__graph_map_put(kiln__graph_map *m, uint64_t key, uint32_t value,
                                uint32_t *found);
static inline uint32_t kiln__graph_map_get(const kiln__graph_map *m, uint64_t key)
{
    for (size_t i = kiln__graph_map_home(m, key);; i = (i + 1) & m->mask) {
        const kiln__graph_slot *s = &m->slots[i];
        if (s->value == KILN__GRAPH_NONE || s->key == key)
            return s->value;
    }
}
static inline void kiln__graph_map_prefetch(const kiln__graph_map *m, uint64_t key)
{
    __builtin_prefetch(&m->slots[kiln__graph_map_home(m, key)]);
}
/* Set the value of a key that is present. */
void kiln__graph_map_set(kiln__graph_map *m, uint64_t key, uint32_t value);
/* Count a record at key, inserting it unless present: one more in its
 * value and, when `second`, in its pad (a count of some of the records).
 * KILN_ERR_LIMIT when the value would reach UINT32_MAX. */
kiln_status kiln__graph_map_count(kiln__graph_map *m, uint64_t key, bool second);
/* The slot of a key that is present, or NULL. */
kiln__graph_slot *kiln__graph_map_slot(kiln__graph_map *m, uint64_t key);

/* Sort n keys ascending, carrying 32-bit payloads along (payload may be
 * NULL). LSD radix sort that skips bytes equal in every key; tmp space is
 * allocated here. */
kiln_status kiln__graph_sort_u64(kiln__mem *mem, uint64_t *keys,
                                 uint32_t *payload, size_t n);
/* The same with the caller's scratch (n elements each; ptmp only with a
 * payload), which lists longer than 32 need. */
void kiln__graph_sort_pairs(uint64_t *keys, uint32_t *payload, size_t n,
                            uint64_t *ktmp, uint32_t *ptmp);

/* ---- the graph ---- */

typedef struct kiln__graph_csr {
    uint64_t *off;  /* nlocal + 1 */
    uint32_t *adj;  /* off[nlocal] slots */
    double *w;      /* weights per entry, or NULL */
} kiln__graph_csr;

/* Reusable buffers of the operations (grown, never shrunk). */
typedef struct kiln__graph_scratch {
    void *send, *recv;          /* exchange buffers */
    size_t send_bytes, recv_bytes;
    unsigned char *macc;        /* scatter: combined offers per mirror */
    uint32_t *touched;          /* scatter: mirrors offered to */
    uint8_t *mark;              /* scatter: nlocal flags, all zero between calls */
    uint8_t *mmark;             /* scatter: nmirror flags, all zero between calls */
    int *scount, *sdispl, *rcount, *rdispl; /* nranks each */
    uint32_t *where;            /* lookup, send: per handle asked for, its
                                   message's position in the send buffer
                                   (UINT32_MAX: held here) */
    size_t where_cap;
} kiln__graph_scratch;

struct kiln_graph {
    kiln_context *ctx;
    kiln__graph_pf pf;
    int rank, nranks;
    uint32_t nlp;            /* partitions held here */
    uint32_t *part_start;    /* nlp + 1: where local partition k's members
                                begin */
    uint32_t *members;       /* nlocal: local indices, partition after
                                partition, each in handle order */
    uint32_t *part_of;       /* nlocal: the local partition of each vertex */
    uint64_t *handles;       /* nlocal: the handle of each vertex */
    uint32_t nlocal, nmirror;
    uint64_t *ids;           /* nlocal */
    uint64_t *mirror_id;     /* nmirror */
    uint64_t *mirror_handle; /* nmirror */
    int *mstart, *sstart;    /* nranks + 1 each */
    uint32_t *sidx;          /* sstart[nranks] local indices */
    kiln__graph_csr out, in; /* kept as has_out / has_in say */
    bool has_out, has_in, in_is_out; /* in_is_out: undirected, in == out */
    bool weighted, undirected;
    uint64_t *out_deg;       /* nlocal */
    uint64_t *in_deg;        /* nlocal, or NULL without IN */
    uint64_t nvertices, nedges;
    int handle_shift;        /* kiln_graph_handle32's shift, or -1 */
    uint64_t digest;         /* of ids and degrees, the same at any rank count */
    kiln__graph_scratch s;
};

/* Local partition k of this rank is partition rank + k * nranks. */
static inline uint32_t kiln__graph_local_of(const kiln_graph *g, uint64_t handle)
{
    uint32_t p = (uint32_t)(handle >> 32);
    return g->members[g->part_start[p / (uint32_t)g->nranks] + (uint32_t)handle];
}
static inline int kiln__graph_owner(const kiln_graph *g, uint64_t handle)
{
    return (int)((uint32_t)(handle >> 32) % (uint32_t)g->nranks);
}
static inline uint64_t kiln__graph_handle_of(const kiln_graph *g, uint32_t i)
{
    return g->handles[i];
}

/* ---- building (graph_build.c) ---- */

/* What the loading shuffle delivered: per local partition k, a store of
 * records (key: the vertex, FIXED 8; value: other end, then the weight
 * when weighted, then a tag byte 0 = OUT, 1 = IN when tagged). */
typedef struct kiln__graph_input {
    const kiln__store *const *parts; /* nlp stores (NULL: empty) */
    size_t value_bytes;
    bool weighted, tagged; /* untagged records all go to the one CSR kept */
} kiln__graph_input;

/* Phase 1 (g's ctx, pf, rank, nranks, nlp and flags set): vertex sets,
 * mirrors, the exchange plan, and the rows with every record in place
 * (unsorted), after which the input stores can be released. *slot_rank
 * (owned by the caller; NULL without mirrors): the order rows are to be
 * sorted in. Collective; the status is agreed. */
kiln_status kiln__graph_build_vertices(kiln_graph *g, const kiln__graph_input *in,
                                       uint32_t **slot_rank);

/* ---- rows (graph_rows.c) ---- */

/* Allocate the rows from counts by local index: with in_count, OUT rows
 * of degree - in_count entries and IN rows of in_count; without, the one
 * kept (OUT, else IN) of degree. Offsets are set as fill cursors (see
 * graph_rows.c). Local. */
kiln_status kiln__graph_rows_alloc(kiln_graph *g, const uint32_t *degree,
                                   const uint32_t *in_count);
/* Phase 2: every row sorted by slot_rank (NULL: by slot), degrees and
 * global counts. Collective; agreed. */
kiln_status kiln__graph_build_adjacency(kiln_graph *g, const uint32_t *slot_rank);

/* Free everything a graph holds (not the struct). */
void kiln__graph_release(kiln_graph *g);

/* ---- exchanges (graph_comm.c), all collective ---- */

/* Make sure the scratch buffers hold send/recv bytes. Local. */
kiln_status kiln__graph_scratch_reserve(kiln_graph *g, size_t send_bytes,
                                        size_t recv_bytes);
/* Owners -> mirrors: vals[nlocal + m] = the owner's value of mirror m, for
 * elements of `width` bytes (4 or 8). */
kiln_status kiln__graph_sync(kiln_graph *g, kiln_status local, void *vals,
                             size_t width);
/* Mirrors -> owners: vals[sidx[...]] = op(vals[...], mirror value) for
 * every mirror value in mvals (nmirror elements), peers in rank order. */
kiln_status kiln__graph_unsync(kiln_graph *g, kiln_status local,
                               kiln_kind kind, kiln_op op, const void *mvals,
                               void *vals);
/* An Alltoallv of 8-byte elements with counts exchanged first: sends
 * scount[r] elements from send (packed by rank), receives into the
 * scratch recv buffer, setting rcount/rdispl. *nrecv: elements received. */
kiln_status kiln__graph_alltoallv(kiln_graph *g, kiln_status local,
                                  const void *send, const int *scount,
                                  size_t elem_bytes, size_t *nrecv);

/* Fold one value into an accumulator; true when the accumulator changed. */
static inline bool kiln__graph_fold(kiln_kind kind, kiln_op op, void *acc,
                                    const void *value)
{
    if (kind == KILN_KIND_F64) {
        double a, v;
        memcpy(&a, acc, 8);
        memcpy(&v, value, 8);
        double r = op == KILN_OP_SUM ? a + v : op == KILN_OP_MIN ? (v < a ? v : a)
                                                                 : (v > a ? v : a);
        if (memcmp(&r, &a, 8) == 0)
            return false;
        memcpy(acc, &r, 8);
        return true;
    }
    uint64_t a, v, r;
    memcpy(&a, acc, 8);
    memcpy(&v, value, 8);
    if (op == KILN_OP_SUM)
        r = a + v;
    else if (kind == KILN_KIND_I64)
        r = op == KILN_OP_MIN ? ((int64_t)v < (int64_t)a ? v : a)
                              : ((int64_t)v > (int64_t)a ? v : a);
    else
        r = op == KILN_OP_MIN ? (v < a ? v : a) : (v > a ? v : a);
    if (r == a)
        return false;
    memcpy(acc, &r, 8);
    return true;
}

/* The identity of op over kind, as 8 bytes. */
uint64_t kiln__graph_identity(kiln_kind kind, kiln_op op);
/* KILN_ERR_INVAL unless kind is U64/I64/F64 and op SUM/MIN/MAX. */
kiln_status kiln__graph_check_op(kiln_kind kind, kiln_op op);

/* ---- held datasets (graph_data.c) ---- */

/* A dataset whose partitions are already in memory: res (consumed) holds
 * partition p on its owner; the node has no lineage. Collective only in
 * the SPMD sense (no communication). */
kiln_status kiln__graph_held(kiln_context *ctx, const kiln_schema *schema,
                             kiln__resident *res, const char *what,
                             kiln_dataset **out);

#endif
