/* runtime/shuffle_impl.h: the state of one shuffle, shared by the files of
 * the shuffle module (shuffle.c: map and receive sides; exchange.c: the
 * rounds; range.c is separate and has its own header).
 * Must not: be included outside the shuffle module. */
#ifndef KILN_RUNTIME_SHUFFLE_IMPL_H
#define KILN_RUNTIME_SHUFFLE_IMPL_H

#ifndef KILN_SHUFFLE_IMPL
#error "runtime/shuffle_impl.h is private to the shuffle module"
#endif

#include "runtime/htable.h"
#include "runtime/range.h"
#include "runtime/shuffle.h"

enum { SEGMENT_BYTES = 1 << 20 };

/* What the map side does with a record and what the receive side builds. */
typedef enum {
    MODE_GROUP,    /* hash-placed blocks; output grouped by key */
    MODE_REDUCE,   /* combine tables; output the tables */
    MODE_DISTINCT, /* combine tables matching whole records */
    MODE_APPEND,   /* placed blocks (hash or round robin); output as received */
    MODE_RANGE,    /* held, sampled, range-placed; output as received */
    MODE_SORT      /* as RANGE; output sorted */
} shuffle_mode;

typedef struct queued {
    kiln__block block;  /* owned */
    uint32_t partition;
    size_t next;        /* first record not yet sent */
} queued;

/* A record waiting for its table slot to arrive in the cache (see
 * map_record). 40 bytes: keys up to 15 bytes (16 fixed) are kept in their
 * slot form, ready to compare. */
typedef struct pending {
    uint64_t hash;
    uint64_t value;
    uint32_t partition;
    uint32_t key_len;
    unsigned char key[KILN__SLOT_KEY];
} pending;

enum { PIPELINE = 16 }; /* records between a slot's prefetch and its probe */

typedef struct send_queue {
    queued *items;
    size_t head, n, cap;
} send_queue;

struct kiln__shuffle {
    kiln__sink sink;          /* first: the map tasks' sink */
    kiln_context *ctx;
    kiln__mem *mem;
    kiln__node *node;
    int side;                 /* the parent shuffled (joins have two) */
    const kiln_schema *in;    /* that parent's schema: what is shuffled */
    shuffle_mode mode;
    bool round_robin;         /* append: place by position, not by key */
    bool ordered;             /* reduce whose result depends on the order of
                                 its folds (F64 SUM): one partial per task and
                                 key, folded at the owner in record order
                                 (key, then value) - the same at any rank
                                 count */
    uint32_t task;            /* map side: the running task's partition */
    uint64_t task_records;    /* and its records so far */
    kiln__order order;        /* range, sort */
    kiln__range *range;       /* range, sort: held records and splitters */
    kiln__reducer reducer;
    uint32_t nparts;
    int rank, nranks;
    kiln__htable *tables;     /* reduce/distinct: nparts, where ready[p] */
    bool *ready;
    kiln__block *open;        /* appending modes: open blocks, where ready[p] */
    kiln__store *stores;      /* appending modes: records per own partition */
    send_queue *queues;       /* nranks */
    uint64_t *hashes;         /* per-batch scratch */
    uint32_t *parts;
    size_t scratch_cap;
    kiln__combine_scratch combine;
    uint64_t batches;         /* map side: batches seen (memory checks) */
    uint64_t records;         /* map side: records taken one at a time */
    pending ring[PIPELINE];   /* map_record's records in flight */
    unsigned ring_head, ring_n;
};

/* Modes whose map side appends records to per-partition blocks. */
static inline bool kiln__shuffle_appends(shuffle_mode m)
{
    return m == MODE_GROUP || m == MODE_APPEND || m == MODE_RANGE ||
           m == MODE_SORT;
}

/* Merge one received (or local) batch of partition b->partition. */
kiln_status kiln__shuffle_receive(kiln__shuffle *sh, const kiln_batch *b);

/* The exchange rounds (exchange.c). `local`: this rank's status so far,
 * agreed first. Collective; every rank returns the same status. */
kiln_status kiln__shuffle_rounds(kiln__shuffle *sh, kiln_status local,
                                 uint64_t *bytes_sent);

#endif
