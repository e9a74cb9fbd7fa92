/* runtime/plan.h: from a lineage to stages and per-partition pipelines.
 * Owns:     the rules that cut a lineage into stages (a boundary at each
 *           shuffle, narrow operations fused), settle partition counts, and
 *           resolve one output partition into the chain of steps that
 *           computes it.
 * Uses:     node (lineage), nothing else: plan knows no MPI and no files.
 * Must not: compute, communicate or allocate outside the context's
 *           accountant. The master runs the planner and broadcasts the
 *           result (schedule); every rank uses the chains. */
#ifndef KILN_RUNTIME_PLAN_H
#define KILN_RUNTIME_PLAN_H

#include "runtime/node.h"

/* One step of a chain: apply `node` to partition `partition` of it. */
typedef struct kiln__step {
    kiln__node *node;
    uint32_t partition;
    bool tee;   /* also keep this step's output in node's cache */
} kiln__step;

/* How one output partition is computed: steps[0] is the leaf that produces
 * records (a source read, or resident data), the rest transform them. */
typedef struct kiln__chain {
    kiln__step *steps;          /* owned, nsteps used of cap */
    size_t nsteps, cap;
    const kiln__store *resident; /* leaf data held on this rank, else NULL */
    int owner;                  /* rank holding resident leaf data, or -1 */
} kiln__chain;

void kiln__chain_init(kiln__chain *c);
void kiln__chain_release(kiln__mem *mem, kiln__chain *c);
/* Resolve partition p of node into c (reset first). Fails with
 * KILN_ERR_STATE if a shuffle it needs has not run. */
kiln_status kiln__plan_chain(kiln__mem *mem, kiln__node *node, uint32_t p,
                             kiln__chain *c);

/* The parent partitions [*lo, *hi) that partition q of a coalesce reads. */
void kiln__plan_coalesced(const kiln__node *coalesce, uint32_t q, uint32_t *lo,
                          uint32_t *hi);

/* Text sources in the lineage that have no splits yet (the master splits
 * them). *out owned by the caller (kiln__mem_free). */
kiln_status kiln__plan_unsplit(kiln__mem *mem, kiln__node *target,
                               kiln__node ***out, size_t *n);

/* Nodes of `kind` in the lineage whose data an action may still need,
 * parents first: the walk lists a node already computed (complete cache or
 * shuffle output) but not its parents. *out owned by the caller
 * (kiln__mem_free). */
kiln_status kiln__plan_list_kind(kiln__mem *mem, kiln__node *target,
                                 kiln__node_kind kind, kiln__node ***out,
                                 size_t *n);

/* Settle the partition count of every node in the lineage (text sources must
 * be split), and each join's strategy: a side expected to hold fewer than
 * broadcast_bytes (estimated from what its sources read) is broadcast when
 * the join kind allows and no partition count was asked for. Counts and
 * strategies, once set, never change. */
kiln_status kiln__plan_resolve(kiln__mem *mem, kiln__node *target, int nranks,
                               uint64_t broadcast_bytes);

/* The shuffles to run before target can be computed, each after the ones it
 * depends on. *out owned by the caller. */
kiln_status kiln__plan_shuffles(kiln__mem *mem, kiln__node *target,
                                kiln__node ***out, size_t *n);

/* Every node of the lineage, parents before children. *out owned by the
 * caller (kiln__mem_free). */
kiln_status kiln__plan_lineage(kiln__mem *mem, kiln__node *target,
                               kiln__node ***out, size_t *n);

/* A node of the lineage by id, or NULL. */
kiln__node *kiln__plan_find(kiln__mem *mem, kiln__node *target, uint32_t id);

/* A hash of the lineage's shape (ids, kinds, types, partition counts): two
 * ranks that built different datasets disagree on it. */
uint64_t kiln__plan_fingerprint(kiln__mem *mem, kiln__node *target);

/* "text_file>flat_map>reduce_by_key" for partition 0's chain of node, into
 * buf. */
void kiln__plan_describe(kiln__mem *mem, kiln__node *node, const char *sink,
                         char *buf, size_t size);

#endif
