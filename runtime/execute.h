/* runtime/execute.h: running one task: a partition through its chain.
 * Owns:     the fused pipeline (one emitter buffer per step, flushed upward
 *           in batches), every call into user code (callbacks, reduce
 *           functions, aggregate and foreach), and the action sinks.
 * Uses:     plan (chains), storage, io (sources and part files).
 * Must not: communicate or decide placement (schedule does both); a task
 *           runs on whichever rank schedule hands it to.
 * Narrow steps never materialise a dataset: a batch flows from the leaf
 * through every step to the sink before the next batch is read. */
#ifndef KILN_RUNTIME_EXECUTE_H
#define KILN_RUNTIME_EXECUTE_H

#include "runtime/context.h"
#include "runtime/htable.h"
#include "runtime/plan.h"

/* Where a task's output goes. Embedded first in each concrete sink. */
typedef struct kiln__sink kiln__sink;
struct kiln__sink {
    kiln_status (*begin)(kiln__sink *s, uint32_t partition);
    /* Set *stop to end the task early (take). */
    kiln_status (*consume)(kiln__sink *s, const kiln_batch *b, bool *stop);
    /* complete: the partition's output ended normally (not stopped, no
     * failure). Called after a successful begin, whatever happened. */
    kiln_status (*end)(kiln__sink *s, uint32_t partition, bool complete);
    /* Optional: take one record as the last step emits it, instead of a
     * batch (only sinks that never stop a task early). The record is
     * borrowed for the call. */
    kiln_status (*consume_record)(kiln__sink *s, const void *key, size_t key_len,
                                  const void *value, size_t value_len);
};

/* Called between batches so the master can answer task requests. */
typedef struct kiln__poll {
    kiln_status (*fn)(void *arg);
    void *arg;
} kiln__poll;

typedef struct kiln__task_stats {
    uint64_t records;  /* records read by leaves */
    uint64_t bytes;    /* bytes read from files */
} kiln__task_stats;

/* Compute partition p of node into sink; stats are added to. */
kiln_status kiln__execute_task(kiln_context *ctx, kiln__node *node, uint32_t p,
                               kiln__sink *sink, const kiln__poll *poll,
                               kiln__task_stats *stats);

/* ---- reduce operators (user code runs here) ---- */

typedef struct kiln__reducer {
    kiln_op op;
    kiln_kind kind;        /* value kind, for built-in operators */
    size_t size;           /* value bytes */
    kiln_reduce_fn fn;     /* KILN_OP_CUSTOM */
    void *arg;
} kiln__reducer;

/* Fold one value into one accumulator with a built-in operator. */
static inline void kiln__reduce_builtin(const kiln__reducer *r, void *acc,
                                        const void *value)
{
    switch (r->kind) {
    case KILN_KIND_U64: {
        uint64_t a, v;
        memcpy(&a, acc, 8);
        memcpy(&v, value, 8);
        a = r->op == KILN_OP_SUM ? a + v : r->op == KILN_OP_MIN ? (v < a ? v : a)
                                                                : (v > a ? v : a);
        memcpy(acc, &a, 8);
        break;
    }
    case KILN_KIND_I64: {
        int64_t a, v;
        memcpy(&a, acc, 8);
        memcpy(&v, value, 8);
        a = r->op == KILN_OP_SUM ? (int64_t)((uint64_t)a + (uint64_t)v)
            : r->op == KILN_OP_MIN ? (v < a ? v : a) : (v > a ? v : a);
        memcpy(acc, &a, 8);
        break;
    }
    default: {
        double a, v;
        memcpy(&a, acc, 8);
        memcpy(&v, value, 8);
        a = r->op == KILN_OP_SUM ? a + v : r->op == KILN_OP_MIN ? (v < a ? v : a)
                                                                : (v > a ? v : a);
        memcpy(acc, &a, 8);
        break;
    }
    }
}

/* Fold values[i] into acc[i] for i < n, in order (custom or built-in). */
kiln_status kiln__reduce_apply(const kiln__reducer *r, void *const *acc,
                               const unsigned char *values, size_t n);

/* Merge the records of b into tables[table_of[i]] (tables[0] when table_of
 * is NULL): absent keys are inserted with their value, present ones folded
 * with r (r NULL: kept as they are, for distinct). hashes[i] is record i's
 * hash. scratch is reused across calls (owned by the caller, released with
 * kiln__combine_release). */
typedef struct kiln__combine_scratch {
    kiln__mem *mem;
    size_t *entry;          /* entry index per pending fold */
    size_t *record;         /* record index per pending fold */
    uint32_t *table;        /* table per pending fold */
    void **acc;
    unsigned char *values;
    size_t cap;             /* pending folds the index arrays hold */
    size_t values_cap;      /* bytes in values */
} kiln__combine_scratch;

kiln_status kiln__combine_batch(kiln__htable *tables, const uint32_t *table_of,
                                const kiln__reducer *r, const kiln_batch *b,
                                const uint64_t *hashes,
                                kiln__combine_scratch *scratch);
void kiln__combine_release(kiln__combine_scratch *s);

/* ---- action sinks ---- */

/* Counts records. */
typedef struct kiln__count_sink {
    kiln__sink base;
    uint64_t count;
    uint64_t *per_partition; /* optional, borrowed: counts by partition */
} kiln__count_sink;
void kiln__count_sink_init(kiln__count_sink *s, uint64_t *per_partition);

/* Keeps the first `limit` records of each partition in `order` (sorting and
 * trimming as records arrive, so memory stays near 2 * limit). */
typedef struct kiln__top_sink {
    kiln__sink base;
    kiln__mem *mem;
    const struct kiln__order *order; /* borrowed */
    size_t limit;
    kiln__store *parts;     /* borrowed: nparts stores, initialised */
} kiln__top_sink;
void kiln__top_sink_init(kiln__top_sink *s, kiln__mem *mem,
                         const struct kiln__order *order, size_t limit,
                         kiln__store *parts);

/* Calls the user's foreach function. */
typedef struct kiln__foreach_sink {
    kiln__sink base;
    kiln_foreach_fn fn;
    void *arg;
} kiln__foreach_sink;
void kiln__foreach_sink_init(kiln__foreach_sink *s, kiln_foreach_fn fn, void *arg);

/* Folds each partition into its slot, slots + (p - lo) * size, which its
 * task starts from a copy of zero. */
typedef struct kiln__aggregate_sink {
    kiln__sink base;
    unsigned char *slots;   /* borrowed: nparts * size bytes */
    const void *zero;       /* borrowed: size bytes */
    size_t size;
    kiln_seq_fn seq;
    void *arg;
    uint32_t lo;            /* slot 0 is partition lo */
} kiln__aggregate_sink;
void kiln__aggregate_sink_init(kiln__aggregate_sink *s, unsigned char *slots,
                               size_t size, const void *zero, kiln_seq_fn seq,
                               void *arg, uint32_t lo);

/* Keeps records per partition (collect, take). limit: records kept per
 * partition at most (SIZE_MAX: all). parts[p - lo] filled for partitions
 * run here. */
typedef struct kiln__store_sink {
    kiln__sink base;
    kiln__store *parts;     /* borrowed: hi - lo stores, initialised */
    uint32_t lo;
    size_t limit;
} kiln__store_sink;
void kiln__store_sink_init(kiln__store_sink *s, kiln__store *parts,
                           uint32_t lo, size_t limit);

/* Writes part files into a staging directory. */
typedef struct kiln__save_sink {
    kiln__sink base;
    kiln__mem *mem;
    const char *dir;        /* borrowed */
    kiln_schema schema;
    struct kiln__part_writer *writer; /* the open part, owned */
    uint64_t bytes;
    bool raw;               /* save_binary: records as bytes, not text */
} kiln__save_sink;
void kiln__save_sink_init(kiln__save_sink *s, kiln__mem *mem, const char *dir,
                          const kiln_schema *schema, bool raw);

#endif
