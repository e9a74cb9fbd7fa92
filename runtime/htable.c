/* runtime/htable.c: linear probing at load factor <= 1/2. The table is the
 * map-side combiner of reduce_by_key and the reducer behind it, so its
 * lookup is the hot path of a word count: keep it branch-light. */
#include "runtime/htable.h"

enum { MIN_SLOTS = 64 };

static kiln_status alloc_slots(kiln__htable *t, size_t nslots)
{
    uint64_t *slots = kiln__mem_calloc(t->mem, nslots, sizeof *slots);
    if (!slots)
        return KILN_ERROR(KILN_ERR_NOMEM, "hash table of %zu slots", nslots);
    kiln__mem_free(t->mem, t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return KILN_OK;
}

kiln_status kiln__htable_init(kiln__htable *t, kiln__mem *mem,
                              const kiln_schema *schema, bool match_values,
                              size_t expected)
{
    memset(t, 0, sizeof *t);
    t->mem = mem;
    t->match_values = match_values;
    t->key_type = &schema->key;
    kiln_status st = kiln__block_init(&t->entries, mem, schema);
    if (st != KILN_OK)
        return st;
    size_t nslots = kiln__mem_grow(MIN_SLOTS, 2 * expected, MIN_SLOTS);
    st = alloc_slots(t, nslots);
    if (st != KILN_OK)
        kiln__block_release(&t->entries);
    return st;
}

void kiln__htable_release(kiln__htable *t)
{
    if (!t)
        return;
    kiln__block_release(&t->entries);
    kiln__mem_free(t->mem, t->slots);
    t->slots = NULL;
    t->nslots = 0;
}

void kiln__htable_clear(kiln__htable *t)
{
    kiln__block_clear(&t->entries);
    memset(t->slots, 0, t->nslots * sizeof *t->slots);
}

size_t kiln__htable_bytes(const kiln__htable *t)
{
    return t->entries.key.cap + t->entries.value.cap +
           8 * (t->entries.key.offs_cap + t->entries.value.offs_cap) +
           8 * t->nslots;
}

static kiln_status grow(kiln__htable *t)
{
    size_t nslots = t->nslots * 2;
    uint64_t *slots = kiln__mem_calloc(t->mem, nslots, sizeof *slots);
    if (!slots)
        return KILN_ERROR(KILN_ERR_NOMEM, "hash table of %zu slots", nslots);
    size_t mask = nslots - 1;
    for (size_t i = 0; i < t->nslots; i++) {
        uint64_t s = t->slots[i];
        if (!s)
            continue;
        size_t pos = (size_t)(s >> 32) & mask;
        while (slots[pos])
            pos = (pos + 1) & mask;
        slots[pos] = s;
    }
    kiln__mem_free(t->mem, t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return KILN_OK;
}

static bool column_equal(const kiln__column *c, size_t i, const void *p,
                         size_t len)
{
    if (!c->present)
        return true;
    if (c->variable) {
        uint64_t a = c->offs[i], b = c->offs[i + 1];
        return b - a == len && memcmp(c->data + a, p, len) == 0;
    }
    if (c->width == 8) {
        uint64_t x, y;
        memcpy(&x, c->data + i * 8, 8);
        memcpy(&y, p, 8);
        return x == y;
    }
    return memcmp(c->data + i * c->width, p, c->width) == 0;
}

static bool entry_equal(const kiln__htable *t, size_t i, const void *key,
                        size_t key_len, const void *value, size_t value_len)
{
    const kiln__column *k = &t->entries.key;
    if (t->key_type->kind == KILN_KIND_FIXED && t->key_type->compare) {
        if (t->key_type->compare(k->data + i * k->width, key, k->width,
                                 t->key_type->arg) != 0)
            return false;
    } else if (!column_equal(k, i, key, key_len)) {
        return false;
    }
    return !t->match_values ||
           column_equal(&t->entries.value, i, value, value_len);
}

kiln_status kiln__htable_upsert(kiln__htable *t, uint64_t hash,
                                const void *key, size_t key_len,
                                const void *value, size_t value_len,
                                size_t *index, bool *inserted)
{
    /* Grow before probing, so an insert never has to be undone. */
    if (KILN_UNLIKELY(2 * (t->entries.n + 1) > t->nslots)) {
        kiln_status st = grow(t);
        if (st != KILN_OK)
            return st;
    }
    uint64_t tag = kiln__hash_tag(hash);
    size_t mask = t->nslots - 1;
    size_t pos = (size_t)tag & mask;
    for (;;) {
        uint64_t s = t->slots[pos];
        if (!s)
            break;
        if ((s >> 32) == tag) {
            size_t i = (size_t)(s & 0xffffffffu) - 1;
            if (entry_equal(t, i, key, key_len, value, value_len)) {
                *index = i;
                *inserted = false;
                return KILN_OK;
            }
        }
        pos = (pos + 1) & mask;
    }
    size_t i = t->entries.n;
    if (KILN_UNLIKELY(i >= 0xffffffffu - 1))
        return KILN_ERROR(KILN_ERR_LIMIT, "more than 4G entries in one table");
    kiln_status st =
        kiln__block_append(&t->entries, key, key_len, value, value_len);
    if (st != KILN_OK)
        return st;
    t->slots[pos] = (tag << 32) | (uint64_t)(i + 1);
    *index = i;
    *inserted = true;
    return KILN_OK;
}
