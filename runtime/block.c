/* runtime/block.c: growing blocks and their wire form. Buffers double when
 * full, so appending n records costs O(n) copies in total and O(log n)
 * allocations; nothing is allocated per record. */
#include "runtime/block.h"

#include <stdlib.h>

enum { MIN_BYTES = 256, MIN_RECORDS = 32 };

static void column_init(kiln__column *c, const kiln_type *t)
{
    memset(c, 0, sizeof *c);
    c->present = t->kind != KILN_KIND_NONE;
    c->variable = kiln__type_variable(t);
    c->width = c->variable ? 0 : t->size;
}

kiln_status kiln__block_init(kiln__block *b, kiln__mem *mem,
                             const kiln_schema *s)
{
    memset(b, 0, sizeof *b);
    b->mem = mem;
    column_init(&b->key, &s->key);
    column_init(&b->value, &s->value);
    if (!b->value.present)
        return KILN_ERROR(KILN_ERR_INVAL, "a record needs a value type");
    if ((b->key.present && !b->key.variable && b->key.width == 0) ||
        (!b->value.variable && b->value.width == 0 &&
         s->value.kind != KILN_KIND_NONE))
        return KILN_ERROR(KILN_ERR_INVAL, "fixed-size type of size 0");
    return KILN_OK;
}

static void column_release(kiln__mem *mem, kiln__column *c)
{
    kiln__mem_free(mem, c->data);
    kiln__mem_free(mem, c->offs);
    c->data = NULL;
    c->offs = NULL;
    c->len = c->cap = c->offs_cap = 0;
}

void kiln__block_release(kiln__block *b)
{
    if (!b)
        return;
    column_release(b->mem, &b->key);
    column_release(b->mem, &b->value);
    b->n = 0;
}

void kiln__block_clear(kiln__block *b)
{
    b->n = 0;
    b->key.len = 0;
    b->value.len = 0;
}

static kiln_status column_reserve(kiln__mem *mem, kiln__column *c, size_t n,
                                  size_t records, size_t bytes)
{
    if (!c->present)
        return KILN_OK;
    if (!c->variable)
        bytes = records * c->width;
    if (c->len + bytes > c->cap) {
        size_t cap = kiln__mem_grow(c->cap, c->len + bytes, MIN_BYTES);
        unsigned char *data = kiln__mem_realloc(mem, c->data, cap);
        if (!data)
            return KILN_ERROR(KILN_ERR_NOMEM, "block column of %zu bytes", cap);
        c->data = data;
        c->cap = cap;
    }
    if (c->variable && n + 1 + records > c->offs_cap) {
        size_t cap = kiln__mem_grow(c->offs_cap, n + 1 + records, MIN_RECORDS);
        uint64_t *offs = kiln__mem_realloc(mem, c->offs, cap * sizeof *offs);
        if (!offs)
            return KILN_ERROR(KILN_ERR_NOMEM, "block offsets for %zu records",
                              cap);
        if (!c->offs)
            offs[0] = 0;
        c->offs = offs;
        c->offs_cap = cap;
    }
    return KILN_OK;
}

kiln_status kiln__block_reserve(kiln__block *b, size_t records,
                                size_t key_bytes, size_t value_bytes)
{
    kiln_status st = column_reserve(b->mem, &b->key, b->n, records, key_bytes);
    if (st == KILN_OK)
        st = column_reserve(b->mem, &b->value, b->n, records, value_bytes);
    return st;
}

/* Bytes of records [from, to) in a column laid out like c, whose offsets
 * (variable columns only) are offs. */
static size_t column_span(const kiln__column *c, const uint64_t *offs,
                          size_t from, size_t to)
{
    if (!c->present)
        return 0;
    if (c->variable) /* no offsets yet: an empty column, from == to == 0 */
        return offs ? (size_t)(offs[to] - offs[from]) : 0;
    return (to - from) * c->width;
}

static void column_copy(kiln__column *c, size_t n, const unsigned char *data,
                        const uint64_t *offs, size_t from, size_t to)
{
    if (!c->present)
        return;
    size_t bytes = column_span(c, offs, from, to);
    const unsigned char *src =
        c->variable ? data + offs[from] : data + from * c->width;
    memcpy(c->data + c->len, src, bytes);
    if (c->variable) {
        /* Rebase the source offsets onto this heap. */
        uint64_t shift = (uint64_t)c->len - offs[from];
        for (size_t i = from; i < to; i++)
            c->offs[n + 1 + (i - from)] = offs[i + 1] + shift;
    }
    c->len += bytes;
}

kiln_status kiln__block_append_batch(kiln__block *b, const kiln_batch *in,
                                     size_t from, size_t to)
{
    if (from >= to)
        return KILN_OK;
    size_t kbytes = column_span(&b->key, in->key_offsets, from, to);
    size_t vbytes =
        column_span(&b->value, in->value_offsets, from, to);
    kiln_status st = kiln__block_reserve(b, to - from, kbytes, vbytes);
    if (st != KILN_OK)
        return st;
    column_copy(&b->key, b->n, in->keys, in->key_offsets, from, to);
    column_copy(&b->value, b->n, in->values, in->value_offsets, from, to);
    b->n += to - from;
    return KILN_OK;
}

void kiln__block_view(const kiln__block *b, size_t from, size_t to,
                      uint32_t partition, kiln_batch *out)
{
    memset(out, 0, sizeof *out);
    out->n = to - from;
    out->partition = partition;
    if (b->key.present) {
        if (b->key.variable) {
            out->keys = b->key.data;
            out->key_offsets = b->key.offs ? b->key.offs + from : NULL;
        } else {
            out->keys = b->key.data ? b->key.data + from * b->key.width : NULL;
            out->key_size = b->key.width;
        }
    }
    if (b->value.variable) {
        out->values = b->value.data;
        out->value_offsets = b->value.offs ? b->value.offs + from : NULL;
    } else {
        out->values = b->value.data ? b->value.data + from * b->value.width : NULL;
        out->value_size = b->value.width;
    }
    /* An empty variable column still needs one offset for n == 0. */
    static const uint64_t zero_offset[1] = {0};
    if (b->key.present && b->key.variable && !out->key_offsets)
        out->key_offsets = zero_offset;
    if (b->value.variable && !out->value_offsets)
        out->value_offsets = zero_offset;
}

void kiln__block_move(kiln__block *dst, kiln__block *src)
{
    kiln__block_release(dst);
    *dst = *src;
    src->n = 0;
    memset(&src->key.data, 0, sizeof(kiln__column) - offsetof(kiln__column, data));
    memset(&src->value.data, 0,
           sizeof(kiln__column) - offsetof(kiln__column, data));
    src->key.width = dst->key.width;
    src->key.present = dst->key.present;
    src->key.variable = dst->key.variable;
    src->value.width = dst->value.width;
    src->value.present = dst->value.present;
    src->value.variable = dst->value.variable;
}

/* ---- wire form ---- */

static size_t pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static size_t column_wire_size(const kiln__column *c, size_t from, size_t to)
{
    if (!c->present)
        return 0;
    size_t bytes = column_span(c, c->offs, from, to);
    return pad8(bytes) + (c->variable ? 8 * (to - from + 1) : 0);
}

size_t kiln__block_wire_size(const kiln__block *b, size_t from, size_t to)
{
    return sizeof(kiln__wire_header) + column_wire_size(&b->key, from, to) +
           column_wire_size(&b->value, from, to);
}

static unsigned char *column_wire_write(const kiln__column *c, size_t from,
                                        size_t to, unsigned char *dst)
{
    if (!c->present)
        return dst;
    size_t bytes = column_span(c, c->offs, from, to);
    if (c->variable) {
        /* A column that never held a record has no offsets: write its one
         * offset, 0 (a sample or splitter block can be empty). */
        uint64_t base = c->offs ? c->offs[from] : 0;
        uint64_t *o = (uint64_t *)dst;
        for (size_t i = from; i <= to; i++)
            o[i - from] = c->offs ? c->offs[i] - base : 0;
        dst += 8 * (to - from + 1);
        if (bytes)
            memcpy(dst, c->data + base, bytes);
    } else if (bytes) {
        memcpy(dst, c->data + from * c->width, bytes);
    }
    memset(dst + bytes, 0, pad8(bytes) - bytes);
    return dst + pad8(bytes);
}

void kiln__block_wire_write(const kiln__block *b, size_t from, size_t to,
                            uint32_t partition, unsigned char *dst)
{
    kiln__wire_header h = {
        .magic = KILN__WIRE_MAGIC,
        .partition = partition,
        .n = to - from,
        .key_bytes = column_span(&b->key, b->key.offs, from, to),
        .value_bytes =
            column_span(&b->value, b->value.offs, from, to),
    };
    memcpy(dst, &h, sizeof h);
    dst += sizeof h;
    dst = column_wire_write(&b->key, from, to, dst);
    column_wire_write(&b->value, from, to, dst);
}

/* Read one column at src; false when it does not fit in avail bytes. */
static bool column_wire_read(const kiln_type *t, uint64_t n, uint64_t bytes,
                             const unsigned char *src, size_t avail,
                             size_t *used, const unsigned char **data,
                             const uint64_t **offs, size_t *width)
{
    *used = 0;
    *data = NULL;
    *offs = NULL;
    *width = 0;
    if (t->kind == KILN_KIND_NONE)
        return bytes == 0;
    size_t pos = 0;
    if (kiln__type_variable(t)) {
        if (n >= avail / 8) /* n + 1 offsets; n + 1 itself may wrap */
            return false;
        *offs = (const uint64_t *)src;
        if ((*offs)[0] != 0 || (*offs)[n] != bytes)
            return false;
        pos = 8 * (size_t)(n + 1);
    } else {
        *width = t->size;
        if (t->size == 0 || n > avail / t->size || bytes != n * t->size)
            return false; /* n bounded first: n * size may wrap */
    }
    if (bytes > avail - pos || pad8((size_t)bytes) > avail - pos)
        return false;
    *data = src + pos;
    *used = pos + pad8((size_t)bytes);
    return true;
}

size_t kiln__block_wire_read(const kiln_schema *s, const unsigned char *src,
                             size_t avail, kiln_batch *out)
{
    kiln__wire_header h;
    if (avail < sizeof h)
        return 0;
    memcpy(&h, src, sizeof h);
    if (h.magic != KILN__WIRE_MAGIC)
        return 0;
    size_t pos = sizeof h, used;
    memset(out, 0, sizeof *out);
    out->n = (size_t)h.n;
    out->partition = h.partition;
    if (!column_wire_read(&s->key, h.n, h.key_bytes, src + pos, avail - pos,
                          &used, &out->keys, &out->key_offsets, &out->key_size))
        return 0;
    pos += used;
    if (!column_wire_read(&s->value, h.n, h.value_bytes, src + pos,
                          avail - pos, &used, &out->values,
                          &out->value_offsets, &out->value_size))
        return 0;
    return pos + used;
}
