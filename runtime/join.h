/* runtime/join.h: joining two sides' records by key (shuffle module).
 * Owns:     the index of one side (its values grouped per key, found through
 *           a hash table) and the encoding of PAIR values.
 * Uses:     group, htable, store.
 * Must not: communicate or call user code; schedule decides which side is
 *           indexed and where the sides come from (a shuffle, or one side
 *           broadcast to every rank).
 * Every two-sided operation is "index one side, probe with the other":
 * the shuffle strategy indexes the right side of each partition; a
 * broadcast join indexes the broadcast side once per rank. */
#ifndef KILN_RUNTIME_JOIN_H
#define KILN_RUNTIME_JOIN_H

#include "runtime/execute.h"
#include "runtime/htable.h"
#include "runtime/node.h"

typedef struct kiln__join_index {
    kiln__mem *mem;
    kiln_schema grouped_schema; /* (key, LIST of the side's values) */
    kiln__store grouped;        /* one record per key */
    kiln_batch groups;          /* view of grouped's single block */
    kiln_schema table_schema;   /* (key, U64 group number) */
    kiln__htable table;
    bool *matched;              /* per group: some probe record matched */
    bool right;                 /* the indexed side is the right one */
} kiln__join_index;

/* Index `side` (records of schema s); right: whether it is the right side.
 * side may be NULL (no records). */
kiln_status kiln__join_index_build(kiln__mem *mem, const kiln__store *side,
                                   const kiln_schema *s, bool right,
                                   kiln__join_index *ix);
void kiln__join_index_release(kiln__join_index *ix);

/* Records of the other side: append to out what `kind` makes of them
 * (matches; unmatched probe records for the outer side; subtract keeps
 * unmatched ones). */
kiln_status kiln__join_probe(kiln__join_index *ix, kiln__join_kind kind,
                             const kiln_batch *probe, kiln__block *out);
/* After every probe: the index side's unmatched groups, for the outer join
 * that keeps that side. */
kiln_status kiln__join_unmatched(kiln__join_index *ix, kiln__join_kind kind,
                                 kiln__block *out);

/* One partition of a shuffled two-sided operation: left and right may be
 * NULL (no records); out has the node's schema. */
kiln_status kiln__join_partition(kiln__mem *mem, kiln__join_kind kind,
                                 const kiln__store *left,
                                 const kiln_schema *left_schema,
                                 const kiln__store *right,
                                 const kiln_schema *right_schema,
                                 const kiln_schema *out_schema, kiln__store *out);

/* A broadcast join's sink: each local batch is probed against the index;
 * a partition's output is kept in out->part[p] on the rank that ran it. */
typedef struct kiln__join_sink {
    kiln__sink base;
    kiln__join_index *index;    /* borrowed */
    kiln__join_kind kind;
    kiln__mem *mem;
    const kiln_schema *schema;  /* the join node's, borrowed */
    kiln__resident *out;        /* borrowed */
    int rank;
    kiln__block block;          /* the running partition's output */
    bool open;
} kiln__join_sink;

void kiln__join_sink_init(kiln__join_sink *s, kiln__join_index *ix,
                          kiln__join_kind kind, kiln__mem *mem,
                          const kiln_schema *schema, kiln__resident *out,
                          int rank);

#endif
