/* runtime/sinks.c: where actions collect a task's output (execute module:
 * foreach and aggregate call user code). */
#include <stdlib.h>

#include "runtime/error.h"
#include "runtime/execute.h"
#include "runtime/io.h"
#include "runtime/sort.h"

static kiln_status no_begin(kiln__sink *s, uint32_t p)
{
    (void)s;
    (void)p;
    return KILN_OK;
}

static kiln_status no_end(kiln__sink *s, uint32_t p, bool complete)
{
    (void)s;
    (void)p;
    (void)complete;
    return KILN_OK;
}

/* ---- count ---- */

static kiln_status count_consume(kiln__sink *base, const kiln_batch *b, bool *stop)
{
    (void)stop;
    kiln__count_sink *s = (kiln__count_sink *)base;
    s->count += b->n;
    if (s->per_partition)
        s->per_partition[b->partition] += b->n;
    return KILN_OK;
}

void kiln__count_sink_init(kiln__count_sink *s, uint64_t *per_partition)
{
    s->base = (kiln__sink){no_begin, count_consume, no_end, NULL};
    s->count = 0;
    s->per_partition = per_partition;
}

/* ---- take_ordered ---- */

/* Sort a partition's kept records and keep the first limit. */
static kiln_status trim(kiln__top_sink *s, kiln__store *part)
{
    kiln__store sorted;
    kiln__store_init(&sorted, s->mem, &part->schema);
    kiln_status st = kiln__sort_store(s->mem, part, s->order, &sorted);
    kiln__store_release(part);
    kiln__store_init(part, s->mem, &sorted.schema);
    if (st == KILN_OK && sorted.nblocks) {
        kiln_batch b;
        kiln__block_view(&sorted.blocks[0], 0, sorted.blocks[0].n, 0, &b);
        st = kiln__store_append(part, &b, 0, b.n < s->limit ? b.n : s->limit);
    }
    kiln__store_release(&sorted);
    return st;
}

static kiln_status top_consume(kiln__sink *base, const kiln_batch *b, bool *stop)
{
    (void)stop;
    kiln__top_sink *s = (kiln__top_sink *)base;
    kiln__store *part = &s->parts[b->partition];
    kiln_status st = kiln__store_append(part, b, 0, b->n);
    size_t bound = 2 * s->limit > 65536 ? 2 * s->limit : 65536;
    if (st == KILN_OK && part->records > bound)
        st = trim(s, part);
    return st;
}

static kiln_status top_end(kiln__sink *base, uint32_t p, bool complete)
{
    kiln__top_sink *s = (kiln__top_sink *)base;
    return complete ? trim(s, &s->parts[p]) : KILN_OK;
}

void kiln__top_sink_init(kiln__top_sink *s, kiln__mem *mem,
                         const struct kiln__order *order, size_t limit,
                         kiln__store *parts)
{
    s->base = (kiln__sink){no_begin, top_consume, top_end, NULL};
    s->mem = mem;
    s->order = order;
    s->limit = limit;
    s->parts = parts;
}

/* ---- foreach ---- */

static kiln_status foreach_consume(kiln__sink *base, const kiln_batch *b,
                                   bool *stop)
{
    (void)stop;
    kiln__foreach_sink *s = (kiln__foreach_sink *)base;
    kiln_status st = s->fn(b, s->arg);
    if (st != KILN_OK)
        return KILN_ERROR(st > 0 ? KILN_ERR_USER : st,
                          "foreach callback failed on partition %u", b->partition);
    return KILN_OK;
}

void kiln__foreach_sink_init(kiln__foreach_sink *s, kiln_foreach_fn fn, void *arg)
{
    s->base = (kiln__sink){no_begin, foreach_consume, no_end, NULL};
    s->fn = fn;
    s->arg = arg;
}

/* ---- aggregate ---- */

static kiln_status aggregate_consume(kiln__sink *base, const kiln_batch *b,
                                     bool *stop)
{
    (void)stop;
    kiln__aggregate_sink *s = (kiln__aggregate_sink *)base;
    unsigned char *acc = s->slots + (size_t)(b->partition - s->lo) * s->size;
    kiln_status st = s->seq(acc, b, s->arg);
    if (st != KILN_OK)
        return KILN_ERROR(st > 0 ? KILN_ERR_USER : st,
                          "aggregate callback failed on partition %u", b->partition);
    return KILN_OK;
}

static kiln_status aggregate_begin(kiln__sink *base, uint32_t p)
{
    kiln__aggregate_sink *s = (kiln__aggregate_sink *)base;
    memcpy(s->slots + (size_t)(p - s->lo) * s->size, s->zero, s->size);
    return KILN_OK;
}

void kiln__aggregate_sink_init(kiln__aggregate_sink *s, unsigned char *slots,
                               size_t size, const void *zero, kiln_seq_fn seq,
                               void *arg, uint32_t lo)
{
    s->base = (kiln__sink){aggregate_begin, aggregate_consume, no_end, NULL};
    s->slots = slots;
    s->zero = zero;
    s->size = size;
    s->seq = seq;
    s->arg = arg;
    s->lo = lo;
}

/* ---- collect / take ---- */

static kiln_status store_consume(kiln__sink *base, const kiln_batch *b,
                                 bool *stop)
{
    kiln__store_sink *s = (kiln__store_sink *)base;
    kiln__store *st = &s->parts[b->partition - s->lo];
    size_t room = s->limit - (size_t)st->records;
    size_t n = b->n < room ? b->n : room;
    kiln_status rc = kiln__store_append(st, b, 0, n);
    if (rc == KILN_OK && st->records >= s->limit)
        *stop = true;
    return rc;
}

void kiln__store_sink_init(kiln__store_sink *s, kiln__store *parts,
                           uint32_t lo, size_t limit)
{
    /* A stopped partition (take) keeps its first records, which is exactly
     * what take needs; a failed one fails the whole action. */
    s->base = (kiln__sink){no_begin, store_consume, no_end, NULL};
    s->parts = parts;
    s->lo = lo;
    s->limit = limit;
}

/* ---- save_text ---- */

static kiln_status save_begin(kiln__sink *base, uint32_t p)
{
    kiln__save_sink *s = (kiln__save_sink *)base;
    s->writer = kiln__mem_alloc(s->mem, sizeof *s->writer);
    if (!s->writer)
        return KILN_ERROR(KILN_ERR_NOMEM, "part writer");
    kiln_status st = kiln__part_open(s->writer, s->mem, s->dir, p);
    if (st != KILN_OK) {
        kiln__mem_free(s->mem, s->writer);
        s->writer = NULL;
    }
    return st;
}

static kiln_status save_consume(kiln__sink *base, const kiln_batch *b, bool *stop)
{
    (void)stop;
    kiln__save_sink *s = (kiln__save_sink *)base;
    return s->raw ? kiln__part_write_raw(s->writer, b)
                  : kiln__part_write(s->writer, &s->schema, b);
}

static kiln_status save_end(kiln__sink *base, uint32_t p, bool complete)
{
    (void)p;
    kiln__save_sink *s = (kiln__save_sink *)base;
    kiln_status st = kiln__part_close(s->writer, complete);
    s->bytes += s->writer->bytes;
    kiln__mem_free(s->mem, s->writer);
    s->writer = NULL;
    return st;
}

void kiln__save_sink_init(kiln__save_sink *s, kiln__mem *mem, const char *dir,
                          const kiln_schema *schema, bool raw)
{
    s->raw = raw;
    s->base = (kiln__sink){save_begin, save_consume, save_end, NULL};
    s->mem = mem;
    s->dir = dir;
    s->schema = *schema;
    s->writer = NULL;
    s->bytes = 0;
}
