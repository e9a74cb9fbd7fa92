/* runtime/store.h: the records of one partition kept in memory (storage).
 * Owns:     a list of blocks: cached partitions, shuffle outputs, gathered
 *           results. Blocks are filled to about KILN__STORE_BLOCK_BYTES and
 *           never copied again once full.
 * Uses:     block, mem.
 * Must not: know which rank or dataset a partition belongs to. */
#ifndef KILN_RUNTIME_STORE_H
#define KILN_RUNTIME_STORE_H

#include "runtime/block.h"

#define KILN__STORE_BLOCK_BYTES ((size_t)4 << 20)

typedef struct kiln__store {
    kiln__mem *mem;
    kiln_schema schema;
    kiln__block *blocks;  /* owned; nblocks used of cap */
    size_t nblocks, cap;
    uint64_t records;
} kiln__store;

void kiln__store_init(kiln__store *s, kiln__mem *mem, const kiln_schema *schema);
void kiln__store_release(kiln__store *s);
/* Copy records [from, to) of a batch into the store. */
kiln_status kiln__store_append(kiln__store *s, const kiln_batch *b,
                               size_t from, size_t to);
/* Take over a whole block (left empty); no copy. */
kiln_status kiln__store_adopt(kiln__store *s, kiln__block *b);
/* Bytes of record data held. */
size_t kiln__store_bytes(const kiln__store *s);

/* n initialised stores (NULL when out of memory), and their release. */
kiln__store *kiln__store_array_new(kiln__mem *mem, const kiln_schema *s, uint32_t n);
void kiln__store_array_free(kiln__mem *mem, kiln__store *a, uint32_t n);

/* Walk a store in batches of at most `batch_records` records. */
typedef struct kiln__store_iter {
    const kiln__store *store;
    size_t block, record, batch_records;
    uint32_t partition;
} kiln__store_iter;

void kiln__store_iter_init(kiln__store_iter *it, const kiln__store *s,
                           uint32_t partition, size_t batch_records);
/* false at the end. */
bool kiln__store_next(kiln__store_iter *it, kiln_batch *out);

#endif
