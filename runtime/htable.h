/* runtime/htable.h: an open-addressing hash table over a block (storage).
 * Owns:     the slot array and the entry block. Entry i is record i of the
 *           block, so a finished table is already a partition's output: no
 *           copy from table to store.
 * Uses:     block, hash (callers pass hashes), mem.
 * Must not: merge values itself: the caller decides what a hit means (the
 *           reduce operators live in execute/combine, which calls user code).
 * Slots are 64-bit: the high half is the hash's tag (kiln__hash_tag), the
 * low half the entry index + 1, so lookups reject almost every mismatch
 * without touching the entry, and growing rehashes from slots alone. */
#ifndef KILN_RUNTIME_HTABLE_H
#define KILN_RUNTIME_HTABLE_H

#include "runtime/block.h"
#include "runtime/hash.h"

typedef struct kiln__htable {
    kiln__mem *mem;
    kiln__block entries;   /* keys and values (accumulators) of every entry */
    uint64_t *slots;       /* nslots, a power of two; 0 is empty */
    size_t nslots;
    bool match_values;     /* equal means equal key and value (distinct) */
    const kiln_type *key_type; /* borrowed: for user compare functions */
} kiln__htable;

/* expected: entries to size for up front (0 for a small start). */
kiln_status kiln__htable_init(kiln__htable *t, kiln__mem *mem,
                              const kiln_schema *schema, bool match_values,
                              size_t expected);
void kiln__htable_release(kiln__htable *t);
/* Drop every entry, keep the buffers. */
void kiln__htable_clear(kiln__htable *t);
/* Bytes held in entries and slots. */
size_t kiln__htable_bytes(const kiln__htable *t);

/* Find the entry equal to (key, value), or append one holding copies of
 * them. *index: its entry number; *inserted: whether it is new. */
kiln_status kiln__htable_upsert(kiln__htable *t, uint64_t hash,
                                const void *key, size_t key_len,
                                const void *value, size_t value_len,
                                size_t *index, bool *inserted);

/* Start loading the slot a hash probes first: batch callers issue this a few
 * records ahead, so a large table's cache misses overlap. */
static inline void kiln__htable_prefetch(const kiln__htable *t, uint64_t hash)
{
    __builtin_prefetch(&t->slots[(size_t)kiln__hash_tag(hash) & (t->nslots - 1)]);
}

/* Second stage, a few records later: the slot is (likely) cached; start
 * loading the entry it points at. */
static inline void kiln__htable_prefetch_entry(const kiln__htable *t,
                                               uint64_t hash)
{
    uint64_t s = t->slots[(size_t)kiln__hash_tag(hash) & (t->nslots - 1)];
    if (!s)
        return;
    size_t i = (size_t)(s & 0xffffffffu) - 1;
    const kiln__column *k = &t->entries.key;
    if (k->variable)
        __builtin_prefetch(&k->offs[i]);
    else
        __builtin_prefetch(k->data + i * k->width);
    if (t->entries.value.width)
        __builtin_prefetch(t->entries.value.data + i * t->entries.value.width);
}

/* The fixed-size value of entry i (pointer valid until the next insert). */
static inline unsigned char *kiln__htable_value(kiln__htable *t, size_t i)
{
    return t->entries.value.data + i * t->entries.value.width;
}

#endif
