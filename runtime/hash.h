/* runtime/hash.h: hashing keys and mapping hashes to partitions.
 * Owns:     the one hash every rank uses to place keys (xxHash's XXH3,
 *           inlined), and the split of its 64 bits: the low 32 pick the
 *           partition, the high 32 pick the hash-table slot, so that the
 *           keys of one partition still spread over a whole table.
 * Uses:     libxxhash's header only.
 * Must not: change without a format note: placement must agree across
 *           ranks and, once checkpoints exist, across releases. */
#ifndef KILN_RUNTIME_HASH_H
#define KILN_RUNTIME_HASH_H

#include <stddef.h>
#include <stdint.h>

/* GCC 12 at -O3 reports -Warray-bounds and -Wmaybe-uninitialized inside
 * xxhash.h's inlined length dispatch (paths it cannot prove dead); the
 * header is sound. */
#define XXH_INLINE_ALL
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <xxhash.h>
#pragma GCC diagnostic pop

#include "kiln.h"

static inline uint64_t kiln__hash_bytes(const void *p, size_t n)
{
    return XXH3_64bits(p, n);
}

/* Lemire's multiply-shift range reduction: unbiased enough, no division. */
static inline uint32_t kiln__hash_partition(uint64_t hash, uint32_t nparts)
{
    return (uint32_t)(((hash & 0xffffffffu) * (uint64_t)nparts) >> 32);
}

/* The table-slot half of a hash. */
static inline uint32_t kiln__hash_tag(uint64_t hash)
{
    return (uint32_t)(hash >> 32);
}

/* Hash one key of type t (user hash for FIXED types that have one). */
static inline uint64_t kiln__hash_key(const kiln_type *t, const void *key,
                                      size_t len)
{
    if (t->kind == KILN_KIND_FIXED && t->hash)
        return t->hash(key, len, t->arg);
    return XXH3_64bits(key, len);
}

/* Hash one record for placement: its key (by the schema, even when empty),
 * then, for distinct or keyless datasets, its value seeded with that. */
static inline uint64_t kiln__hash_record(const kiln_schema *s, const void *key,
                                         size_t key_len, const void *value,
                                         size_t value_len, bool with_values)
{
    bool keyed = s->key.kind != KILN_KIND_NONE;
    uint64_t h = keyed ? kiln__hash_key(&s->key, key, key_len) : 0;
    if (with_values || !keyed)
        h = XXH3_64bits_withSeed(value, value_len, h);
    return h;
}

/* Hash the keys of records [from, to) of b into out[0 .. to - from). With
 * with_values, the value is hashed too (distinct keys whole records). */
void kiln__hash_batch(const kiln_schema *s, const kiln_batch *b, size_t from,
                      size_t to, bool with_values, uint64_t *out);

#endif
