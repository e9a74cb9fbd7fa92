/* runtime/htable.c: linear probing over 32-byte slots at load factor <= 1/2.
 * The table is the map-side combiner of reduce_by_key and the reducer
 * behind it, so its lookup is the hot path of a word count: a probe compares
 * the tag and the 16 inline key bytes as two 64-bit words and touches the
 * entry block only for long keys, user compare functions and distinct. */
#include "runtime/htable.h"

enum { MIN_SLOTS = 64 };

static kiln_status alloc_slots(kiln__htable *t, size_t nslots)
{
    kiln__slot *slots = kiln__mem_calloc(t->mem, nslots, sizeof *slots);
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
    const kiln__column *k = &t->entries.key;
    bool user_compare = schema->key.kind == KILN_KIND_FIXED && schema->key.compare;
    t->inline_keys = !user_compare &&
                     (k->variable || !k->present || k->width <= KILN__SLOT_KEY);
    size_t nslots = kiln__mem_grow(MIN_SLOTS, 2 * expected, MIN_SLOTS);
    st = alloc_slots(t, nslots);
    if (st != KILN_OK)
        kiln__block_release(&t->entries);
    return st;
}

bool kiln__htable_inline_values(kiln__htable *t)
{
    const kiln__column *v = &t->entries.value;
    if (t->entries.n || t->match_values || v->variable || v->width > 8)
        return false;
    t->inline_values = true;
    return true;
}

void kiln__htable_flush_values(kiln__htable *t)
{
    if (!t->inline_values || !t->values_stale)
        return;
    size_t w = t->entries.value.width;
    for (size_t i = 0; i < t->nslots; i++)
        if (t->slots[i].index)
            memcpy(t->entries.value.data + (t->slots[i].index - 1) * w,
                   &t->slots[i].value, w);
    t->values_stale = false;
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
    t->values_stale = false;
}

size_t kiln__htable_bytes(const kiln__htable *t)
{
    return t->entries.key.cap + t->entries.value.cap +
           8 * (t->entries.key.offs_cap + t->entries.value.offs_cap) +
           sizeof(kiln__slot) * t->nslots;
}

static kiln_status grow(kiln__htable *t)
{
    size_t nslots = t->nslots * 2;
    kiln__slot *slots = kiln__mem_calloc(t->mem, nslots, sizeof *slots);
    if (!slots)
        return KILN_ERROR(KILN_ERR_NOMEM, "hash table of %zu slots", nslots);
    size_t mask = nslots - 1;
    for (size_t i = 0; i < t->nslots; i++) {
        if (!t->slots[i].index)
            continue;
        size_t pos = (size_t)t->slots[i].tag & mask;
        while (slots[pos].index)
            pos = (pos + 1) & mask;
        slots[pos] = t->slots[i];
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

/* Probe for the key; on a miss, insert it (insert) or give *out = NULL. */
static kiln_status probe(kiln__htable *t, uint64_t hash, const void *key,
                         size_t key_len, const void *value, size_t value_len,
                         bool insert, kiln__slot **out, bool *inserted)
{
    /* Grow before probing, so an insert never has to be undone. */
    if (insert && KILN_UNLIKELY(4 * (t->entries.n + 1) > 3 * t->nslots)) {
        kiln_status st = grow(t);
        if (st != KILN_OK)
            return st;
    }
    unsigned char k[KILN__SLOT_KEY];
    bool fits = kiln__htable_slot_key(t, key, key_len, k);
    /* Inline keys decide equality alone, unless values must match too. */
    bool decided = fits && !t->match_values;
    uint32_t tag = kiln__hash_tag(hash);
    size_t mask = t->nslots - 1;
    size_t pos = (size_t)tag & mask;
    for (;;) {
        kiln__slot *s = &t->slots[pos];
        if (!s->index)
            break;
        if (s->tag == tag && (!fits || kiln__slot_key_equal(s, k)) &&
            (decided || entry_equal(t, s->index - 1, key, key_len, value,
                                    value_len))) {
            *out = s;
            *inserted = false;
            return KILN_OK;
        }
        pos = (pos + 1) & mask;
    }
    *inserted = false;
    if (!insert) {
        *out = NULL;
        return KILN_OK;
    }
    size_t i = t->entries.n;
    if (KILN_UNLIKELY(i >= 0xffffffffu - 1))
        return KILN_ERROR(KILN_ERR_LIMIT, "more than 4G entries in one table");
    kiln_status st =
        kiln__block_append(&t->entries, key, key_len, value, value_len);
    if (st != KILN_OK)
        return st;
    kiln__slot *s = &t->slots[pos];
    s->tag = tag;
    s->index = (uint32_t)(i + 1);
    memcpy(s->key, k, KILN__SLOT_KEY);
    s->value = 0;
    if (t->inline_values) {
        memcpy(&s->value, value, value_len);
        t->values_stale = true;
    }
    *out = s;
    *inserted = true;
    return KILN_OK;
}

kiln_status kiln__htable_upsert(kiln__htable *t, uint64_t hash,
                                const void *key, size_t key_len,
                                const void *value, size_t value_len,
                                size_t *index, bool *inserted)
{
    kiln__slot *s;
    kiln_status st = probe(t, hash, key, key_len, value, value_len, true, &s,
                           inserted);
    if (st == KILN_OK)
        *index = s->index - 1;
    return st;
}

kiln_status kiln__htable_upsert_acc(kiln__htable *t, uint64_t hash,
                                    const void *key, size_t key_len,
                                    const void *value, size_t value_len,
                                    unsigned char **acc, bool *inserted)
{
    kiln__slot *s;
    kiln_status st = probe(t, hash, key, key_len, value, value_len, true, &s,
                           inserted);
    if (st == KILN_OK)
        *acc = t->inline_values ? (unsigned char *)&s->value
                                : kiln__htable_value(t, s->index - 1);
    return st;
}

bool kiln__htable_lookup(kiln__htable *t, uint64_t hash, const void *key,
                         size_t key_len, const void *value, size_t value_len,
                         size_t *index)
{
    kiln__slot *s;
    bool inserted;
    kiln_status st = probe(t, hash, key, key_len, value, value_len, false, &s,
                           &inserted);
    if (st != KILN_OK || !s)
        return false;
    *index = s->index - 1;
    return true;
}
