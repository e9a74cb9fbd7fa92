/* runtime/block.h: flat, growable storage for records (the storage module).
 * Owns:     a block's column buffers: fixed-size columns as n * width bytes,
 *           variable-size ones as a byte heap plus n + 1 offsets. No record
 *           ever has a header or an allocation of its own.
 * Uses:     mem.
 * Must not: know about partitions, ranks or user callbacks.
 * A block is the unit everything else is built from: pipeline buffers,
 * partition stores, hash-table entries and shuffle segments. Its wire form
 * is the same layout with offsets rebased to 0, so a received segment is
 * read in place as a kiln_batch without copying. */
#ifndef KILN_RUNTIME_BLOCK_H
#define KILN_RUNTIME_BLOCK_H

#include <string.h>

#include "kiln.h"
#include "runtime/error.h"
#include "runtime/mem.h"

/* The append path runs once per emitted record; GCC at -O2 declined to
 * inline it (8% of a word count in its own frame), so insist. */
#define KILN__HOT static inline __attribute__((always_inline))

/* Copy len bytes (kiln__copy_short: at most 16). Record fields are mostly short (8-byte numbers, words):
 * a memcpy with a run-time length is a libc call each (two per emitted
 * record in a word count, most of kiln_emit's cost), so copies of up to 16
 * bytes are done with fixed-size moves that overlap, reading nothing
 * outside [src, src + len). */
KILN__HOT void kiln__copy_short(unsigned char *dst, const void *src, size_t len)
{
    const unsigned char *s = (const unsigned char *)src;
    if (len >= 8) { /* 8 to 16 */
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + len - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + len - 8, &b, 8);
    } else if (len >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + len - 4, 4);
        memcpy(dst, &a, 4);
        memcpy(dst + len - 4, &b, 4);
    } else if (len) {
        dst[0] = s[0];
        dst[len / 2] = s[len / 2];
        dst[len - 1] = s[len - 1];
    }
}

/* Up to 128 bytes (TeraSort's 90-byte values): 16-byte moves, the last one
 * overlapping the one before, still reading only [src, src + len). */
KILN__HOT void kiln__copy_medium(unsigned char *dst, const void *src, size_t len)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0;
    for (; i + 16 < len; i += 16) {
        unsigned char t[16];
        memcpy(t, s + i, 16);
        memcpy(dst + i, t, 16);
    }
    unsigned char t[16];
    memcpy(t, s + len - 16, 16);
    memcpy(dst + len - 16, t, 16);
}

KILN__HOT void kiln__copy(unsigned char *dst, const void *src, size_t len)
{
    if (len == 8)
        memcpy(dst, src, 8);
    else if (len <= 16)
        kiln__copy_short(dst, src, len);
    else if (len <= 128)
        kiln__copy_medium(dst, src, len);
    else
        memcpy(dst, src, len);
}

typedef struct kiln__column {
    unsigned char *data; /* fixed: n * width bytes; variable: the heap */
    size_t len, cap;     /* bytes used / allocated in data */
    uint64_t *offs;      /* variable only: n + 1 offsets, offs[0] == 0 */
    size_t offs_cap;     /* entries allocated in offs */
    size_t width;        /* bytes per record when fixed; 0 when variable */
    bool present;        /* false for a NONE key */
    bool variable;
} kiln__column;

typedef struct kiln__block {
    kiln__mem *mem;      /* borrowed accountant (the context's) */
    size_t n;            /* records */
    kiln__column key, value;
} kiln__block;

/* Whether a type is stored variable-size. */
static inline bool kiln__type_variable(const kiln_type *t)
{
    return t->kind == KILN_KIND_STRING || t->kind == KILN_KIND_BYTES ||
           t->kind == KILN_KIND_LIST || t->kind == KILN_KIND_PAIR;
}

kiln_status kiln__block_init(kiln__block *b, kiln__mem *mem,
                             const kiln_schema *s);
void kiln__block_release(kiln__block *b);
/* Forget the records, keep the buffers. */
void kiln__block_clear(kiln__block *b);
/* Bytes of record data held (not capacity): the size that thresholds see. */
static inline size_t kiln__block_bytes(const kiln__block *b)
{
    return b->key.len + b->value.len +
           (b->key.variable || b->value.variable ? 8 * b->n : 0);
}

/* Make room for `records` more records and the given column bytes. */
kiln_status kiln__block_reserve(kiln__block *b, size_t records,
                                size_t key_bytes, size_t value_bytes);

KILN__HOT bool kiln__column_has_room(const kiln__block *b,
                                         const kiln__column *c, size_t len)
{
    return !c->present ||
           (c->len + len <= c->cap && (!c->variable || b->n + 2 <= c->offs_cap));
}

/* Write one column value of record n (room already made; n not bumped). */
KILN__HOT void kiln__column_put(kiln__block *b, kiln__column *c,
                                    const void *p, size_t len)
{
    if (!c->present)
        return;
    kiln__copy(c->data + c->len, p, len);
    c->len += len;
    if (c->variable)
        c->offs[b->n + 1] = c->len;
}

/* Append a record; lengths must already match fixed widths. On failure the
 * block is unchanged. */
KILN__HOT kiln_status kiln__block_append(kiln__block *b, const void *key,
                                             size_t key_len, const void *value,
                                             size_t value_len)
{
    if (KILN_UNLIKELY(!kiln__column_has_room(b, &b->key, key_len) ||
                      !kiln__column_has_room(b, &b->value, value_len))) {
        kiln_status st = kiln__block_reserve(b, 1, key_len, value_len);
        if (st != KILN_OK)
            return st;
    }
    kiln__column_put(b, &b->key, key, key_len);
    kiln__column_put(b, &b->value, value, value_len);
    b->n++;
    return KILN_OK;
}

/* Append records [from, to) of a batch of the same schema. */
kiln_status kiln__block_append_batch(kiln__block *b, const kiln_batch *in,
                                     size_t from, size_t to);

/* A batch view of records [from, to); valid until the block changes. */
void kiln__block_view(const kiln__block *b, size_t from, size_t to,
                      uint32_t partition, kiln_batch *out);

/* Move the contents of src into dst (dst released first); src left empty
 * but initialised. */
void kiln__block_move(kiln__block *dst, kiln__block *src);

/* ---- wire form (shuffle segments, collect) ---- */

typedef struct kiln__wire_header {
    uint32_t magic;       /* KILN__WIRE_MAGIC: catches misparsed streams */
    uint32_t partition;
    uint64_t n;
    uint64_t key_bytes;   /* heap or fixed bytes of the key column */
    uint64_t value_bytes;
} kiln__wire_header;

#define KILN__WIRE_MAGIC 0x4b4c4e31u /* "KLN1" */

/* Bytes records [from, to) take on the wire (a multiple of 8). */
size_t kiln__block_wire_size(const kiln__block *b, size_t from, size_t to);
/* Write them at dst (kiln__block_wire_size() bytes, 8-byte aligned). */
void kiln__block_wire_write(const kiln__block *b, size_t from, size_t to,
                            uint32_t partition, unsigned char *dst);
/* Read one segment at src (8-byte aligned, `avail` bytes left) as a batch
 * pointing into src. Returns the segment's size, or 0 if malformed. */
size_t kiln__block_wire_read(const kiln_schema *s, const unsigned char *src,
                             size_t avail, kiln_batch *out);

#endif
