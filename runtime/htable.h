/* runtime/htable.h: an open-addressing hash table over a block (storage).
 * Owns:     the slot array and the entry block. Entry i is record i of the
 *           block, so a finished table is already a partition's output: no
 *           copy from table to store.
 * Uses:     block, hash (callers pass hashes), mem.
 * Must not: merge values itself: the caller decides what a hit means (the
 *           reduce operators live in execute/combine, which calls user code).
 *
 * A slot is 32 bytes, half a cache line: the hash's tag, the entry number,
 * and, when they fit, the key itself (fixed keys up to 16 bytes, variable
 * ones up to 15) and the accumulator (up to 8 bytes, "inline values"). A
 * lookup of such a key reads one slot and nothing else. The first version
 * kept only tag and index in an 8-byte slot: on a word count over a million
 * distinct words every lookup then missed the cache up to four times (slot,
 * offsets, key bytes, value) and the job ran 4x slower than a serial count. */
#ifndef KILN_RUNTIME_HTABLE_H
#define KILN_RUNTIME_HTABLE_H

#include "runtime/block.h"
#include "runtime/hash.h"

enum { KILN__SLOT_KEY = 16 };

typedef struct kiln__slot {
    uint32_t tag;        /* kiln__hash_tag() of the key */
    uint32_t index;      /* entry number + 1; 0: the slot is empty */
    uint64_t value;      /* the accumulator, with inline values */
    unsigned char key[KILN__SLOT_KEY]; /* the key zero-padded when it fits;
                                        * variable keys: key[15] = length */
} kiln__slot;

typedef struct kiln__htable {
    kiln__mem *mem;
    kiln__block entries;   /* keys and values of every entry, in insert order */
    kiln__slot *slots;     /* nslots, a power of two */
    size_t nslots;
    bool match_values;     /* equal means equal key and value (distinct) */
    bool inline_keys;      /* keys of up to 15/16 bytes live in their slot */
    bool inline_values;    /* accumulators live in slots until flushed */
    bool values_stale;     /* entries' values lag the slots' */
    const kiln_type *key_type; /* borrowed: for user compare functions */
} kiln__htable;

/* expected: entries to size for up front (0 for a small start). */
kiln_status kiln__htable_init(kiln__htable *t, kiln__mem *mem,
                              const kiln_schema *schema, bool match_values,
                              size_t expected);
/* Keep accumulators in the slots (values of at most 8 bytes, empty table,
 * not match_values). Entry values are then stale until
 * kiln__htable_flush_values(). Returns whether it was switched on. */
bool kiln__htable_inline_values(kiln__htable *t);
/* Copy inline accumulators back into the entries. */
void kiln__htable_flush_values(kiln__htable *t);
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

/* Find without inserting: true and *index when present. */
bool kiln__htable_lookup(kiln__htable *t, uint64_t hash, const void *key,
                         size_t key_len, const void *value, size_t value_len,
                         size_t *index);

/* As upsert, giving the accumulator of the entry instead of its number: in
 * its slot with inline values, else in the entries. Valid until the next
 * insert. */
kiln_status kiln__htable_upsert_acc(kiln__htable *t, uint64_t hash,
                                    const void *key, size_t key_len,
                                    const void *value, size_t value_len,
                                    unsigned char **acc, bool *inserted);

/* The slot form of a key: zero-padded, with the length last for variable
 * keys. false when the key does not fit in a slot. */
static inline bool kiln__htable_slot_key(const kiln__htable *t, const void *key,
                                         size_t len,
                                         unsigned char out[KILN__SLOT_KEY])
{
    memset(out, 0, KILN__SLOT_KEY);
    if (!t->inline_keys)
        return false;
    if (t->entries.key.variable) {
        if (len >= KILN__SLOT_KEY)
            return false;
        out[KILN__SLOT_KEY - 1] = (unsigned char)len;
    }
    kiln__copy_short(out, key, len); /* len <= 16: checked above */
    return true;
}

static inline bool kiln__slot_key_equal(const kiln__slot *s,
                                        const unsigned char k[KILN__SLOT_KEY])
{
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, s->key, 8);
    memcpy(&a1, s->key + 8, 8);
    memcpy(&b0, k, 8);
    memcpy(&b1, k + 8, 8);
    return a0 == b0 && a1 == b1;
}

/* The slot of a key already in slot form (kiln__htable_slot_key()), or
 * NULL when absent. Only for tables without match_values. Inline: this is
 * the whole lookup of a word count's common case. */
static inline kiln__slot *kiln__htable_find(const kiln__htable *t, uint64_t hash,
                                            const unsigned char sk[KILN__SLOT_KEY])
{
    uint32_t tag = kiln__hash_tag(hash);
    size_t mask = t->nslots - 1, pos = (size_t)tag & mask;
    for (;;) {
        kiln__slot *s = &t->slots[pos];
        if (!s->index)
            return NULL;
        if (s->tag == tag && kiln__slot_key_equal(s, sk))
            return s;
        pos = (pos + 1) & mask;
    }
}

/* Start loading the slot a hash probes first: batch callers issue this a few
 * records ahead, so a large table's cache misses overlap. */
static inline void kiln__htable_prefetch(const kiln__htable *t, uint64_t hash)
{
    __builtin_prefetch(&t->slots[(size_t)kiln__hash_tag(hash) & (t->nslots - 1)]);
}

/* The fixed-size value of entry i in the entries (pointer valid until the
 * next insert). With inline values, flush first. */
static inline unsigned char *kiln__htable_value(kiln__htable *t, size_t i)
{
    return t->entries.value.data + i * t->entries.value.width;
}

#endif
