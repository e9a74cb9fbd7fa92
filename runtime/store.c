/* runtime/store.c: a partition's records as a list of blocks. */
#include "runtime/store.h"

void kiln__store_init(kiln__store *s, kiln__mem *mem, const kiln_schema *schema)
{
    memset(s, 0, sizeof *s);
    s->mem = mem;
    s->schema = *schema;
}

void kiln__store_release(kiln__store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nblocks; i++)
        kiln__block_release(&s->blocks[i]);
    kiln__mem_free(s->mem, s->blocks);
    s->blocks = NULL;
    s->nblocks = s->cap = 0;
    s->records = 0;
}

static kiln_status add_block(kiln__store *s)
{
    if (s->nblocks == s->cap) {
        size_t cap = kiln__mem_grow(s->cap, s->nblocks + 1, 4);
        kiln__block *blocks =
            kiln__mem_realloc(s->mem, s->blocks, cap * sizeof *blocks);
        if (!blocks)
            return KILN_ERROR(KILN_ERR_NOMEM, "store of %zu blocks", cap);
        s->blocks = blocks;
        s->cap = cap;
    }
    kiln_status st = kiln__block_init(&s->blocks[s->nblocks], s->mem, &s->schema);
    if (st == KILN_OK)
        s->nblocks++;
    return st;
}

kiln_status kiln__store_append(kiln__store *s, const kiln_batch *b,
                               size_t from, size_t to)
{
    if (from >= to)
        return KILN_OK;
    kiln_status st;
    if (s->nblocks == 0 ||
        kiln__block_bytes(&s->blocks[s->nblocks - 1]) >= KILN__STORE_BLOCK_BYTES)
        KILN_CHECK(st, add_block(s), fail);
    KILN_CHECK(st, kiln__block_append_batch(&s->blocks[s->nblocks - 1], b, from, to),
               fail);
    s->records += to - from;
    return KILN_OK;
fail:
    return st;
}

kiln_status kiln__store_adopt(kiln__store *s, kiln__block *b)
{
    if (b->n == 0)
        return KILN_OK;
    kiln_status st;
    KILN_CHECK(st, add_block(s), fail);
    s->records += b->n;
    kiln__block_move(&s->blocks[s->nblocks - 1], b);
    return KILN_OK;
fail:
    return st;
}

size_t kiln__store_bytes(const kiln__store *s)
{
    size_t bytes = 0;
    for (size_t i = 0; i < s->nblocks; i++)
        bytes += kiln__block_bytes(&s->blocks[i]);
    return bytes;
}

void kiln__store_iter_init(kiln__store_iter *it, const kiln__store *s,
                           uint32_t partition, size_t batch_records)
{
    it->store = s;
    it->block = 0;
    it->record = 0;
    it->batch_records = batch_records ? batch_records : 4096;
    it->partition = partition;
}

bool kiln__store_next(kiln__store_iter *it, kiln_batch *out)
{
    const kiln__store *s = it->store;
    while (s && it->block < s->nblocks) {
        const kiln__block *b = &s->blocks[it->block];
        if (it->record < b->n) {
            size_t to = it->record + it->batch_records;
            if (to > b->n)
                to = b->n;
            kiln__block_view(b, it->record, to, it->partition, out);
            it->record = to;
            return true;
        }
        it->block++;
        it->record = 0;
    }
    return false;
}

kiln__store *kiln__store_array_new(kiln__mem *mem, const kiln_schema *s, uint32_t n)
{
    kiln__store *a = kiln__mem_calloc(mem, n ? n : 1, sizeof *a);
    for (uint32_t i = 0; a && i < n; i++)
        kiln__store_init(&a[i], mem, s);
    return a;
}

void kiln__store_array_free(kiln__mem *mem, kiln__store *a, uint32_t n)
{
    for (uint32_t i = 0; a && i < n; i++)
        kiln__store_release(&a[i]);
    kiln__mem_free(mem, a);
}
