/* runtime/graph_map.c: the graph module's two small tools - a map from
 * 64-bit vertex ids to 32-bit indices, and a radix sort of 64-bit keys.
 *
 * Loading looks every edge end up in a map of the partition that owns it
 * (tens of millions of lookups for a graph of a few million vertices).
 * Per partition, the maps stay small enough for the cache: at 16
 * partitions a 4M-vertex graph has 256K-vertex maps of 8 MiB. */
#include <stdlib.h>
#include <string.h>

#include "runtime/error.h"
#include "runtime/graph.h"

static kiln_status map_alloc(kiln__graph_map *m, size_t nslots)
{
    kiln__graph_slot *s = kiln__mem_alloc(m->mem, nslots * sizeof *s);
    if (!s)
        return KILN_ERROR(KILN_ERR_NOMEM, "graph: id map of %zu slots", nslots);
    for (size_t i = 0; i < nslots; i++)
        s[i].value = KILN__GRAPH_NONE;
    m->slots = s;
    m->mask = nslots - 1;
    return KILN_OK;
}

kiln_status kiln__graph_map_init(kiln__graph_map *m, kiln__mem *mem,
                                 size_t expected)
{
    memset(m, 0, sizeof *m);
    m->mem = mem;
    size_t nslots = 16;
    while (nslots < 2 * expected + 2)
        nslots *= 2;
    return map_alloc(m, nslots);
}

void kiln__graph_map_release(kiln__graph_map *m)
{
    if (m && m->slots)
        kiln__mem_free(m->mem, m->slots);
    if (m)
        m->slots = NULL;
}

static kiln_status grow(kiln__graph_map *m)
{
    kiln__graph_slot *old = m->slots;
    size_t nold = m->mask + 1;
    kiln_status st = map_alloc(m, 2 * nold);
    if (st != KILN_OK) {
        m->slots = old;
        return st;
    }
    for (size_t i = 0; i < nold; i++) {
        if (old[i].value == KILN__GRAPH_NONE)
            continue;
        size_t j = kiln__graph_map_home(m, old[i].key);
        while (m->slots[j].value != KILN__GRAPH_NONE)
            j = (j + 1) & m->mask;
        m->slots[j] = old[i];
    }
    kiln__mem_free(m->mem, old);
    return KILN_OK;
}

/* The slot holding key, or the empty slot where it would go. */
static kiln__graph_slot *probe(const kiln__graph_map *m, uint64_t key)
{
    for (size_t i = kiln__graph_map_home(m, key);; i = (i + 1) & m->mask) {
        kiln__graph_slot *s = &m->slots[i];
        if (s->value == KILN__GRAPH_NONE || s->key == key)
            return s;
    }
}

/* Put an absent key into *s, its empty slot from probe(), growing the map
 * first when it is half full (*s then moves). */
static kiln_status insert(kiln__graph_map *m, kiln__graph_slot **s, uint64_t key,
                          uint32_t value)
{
    if (2 * (m->n + 1) > m->mask + 1) {
        kiln_status st = grow(m);
        if (st != KILN_OK)
            return st;
        *s = probe(m, key);
    }
    (*s)->key = key;
    (*s)->value = value;
    (*s)->pad = 0;
    m->n++;
    return KILN_OK;
}

kiln_status kiln__graph_map_put(kiln__graph_map *m, uint64_t key, uint32_t value,
                                uint32_t *found)
{
    kiln__graph_slot *s = probe(m, key);
    if (s->value != KILN__GRAPH_NONE) {
        *found = s->value;
        return KILN_OK;
    }
    kiln_status st = insert(m, &s, key, value);
    if (st == KILN_OK)
        *found = value;
    return st;
}

kiln_status kiln__graph_map_count(kiln__graph_map *m, uint64_t key, bool second)
{
    kiln__graph_slot *s = probe(m, key);
    if (s->value == KILN__GRAPH_NONE) {
        kiln_status st = insert(m, &s, key, 1);
        if (st == KILN_OK)
            s->pad = second;
        return st;
    }
    if (s->value >= KILN__GRAPH_NONE - 1)
        return KILN_ERROR(KILN_ERR_LIMIT, "graph: vertex %llu has 2^32 - 1 edges on "
                          "one rank", (unsigned long long)key);
    s->value++;
    s->pad += second;
    return KILN_OK;
}

kiln__graph_slot *kiln__graph_map_slot(kiln__graph_map *m, uint64_t key)
{
    kiln__graph_slot *s = probe(m, key);
    return s->value == KILN__GRAPH_NONE ? NULL : s;
}

void kiln__graph_map_set(kiln__graph_map *m, uint64_t key, uint32_t value)
{
    kiln__graph_slot *s = probe(m, key);
    if (s->value != KILN__GRAPH_NONE) /* absent: callers only set keys they put */
        s->value = value;
}

/* ---- radix sort ---- */

enum { PASSES = 8 };

void kiln__graph_sort_pairs(uint64_t *keys, uint32_t *payload, size_t n,
                            uint64_t *ktmp, uint32_t *ptmp)
{
    if (n < 2)
        return;
    if (n <= 32) { /* insertion sort: cheaper than eight histograms */
        for (size_t i = 1; i < n; i++) {
            uint64_t k = keys[i];
            uint32_t v = payload ? payload[i] : 0;
            size_t j = i;
            for (; j > 0 && keys[j - 1] > k; j--) {
                keys[j] = keys[j - 1];
                if (payload)
                    payload[j] = payload[j - 1];
            }
            keys[j] = k;
            if (payload)
                payload[j] = v;
        }
        return;
    }
    size_t count[PASSES][256]; /* every histogram in one read pass */
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++)
        for (int p = 0; p < PASSES; p++)
            count[p][(keys[i] >> (8 * p)) & 0xff]++;
    uint64_t *ks = keys, *kd = ktmp;
    uint32_t *ps = payload, *pd = ptmp;
    for (int p = 0; p < PASSES; p++) {
        size_t *c = count[p];
        if (c[(ks[0] >> (8 * p)) & 0xff] == n)
            continue; /* the same byte everywhere */
        size_t sum = 0;
        for (int b = 0; b < 256; b++) {
            size_t t = c[b];
            c[b] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++) {
            size_t at = c[(ks[i] >> (8 * p)) & 0xff]++;
            kd[at] = ks[i];
            if (ps)
                pd[at] = ps[i];
        }
        uint64_t *kt = ks;
        ks = kd;
        kd = kt;
        uint32_t *pt = ps;
        ps = pd;
        pd = pt;
    }
    if (ks != keys) {
        memcpy(keys, ks, n * sizeof *keys);
        if (payload)
            memcpy(payload, ps, n * sizeof *payload);
    }
}

kiln_status kiln__graph_sort_u64(kiln__mem *mem, uint64_t *keys,
                                 uint32_t *payload, size_t n)
{
    if (n <= 32) {
        kiln__graph_sort_pairs(keys, payload, n, NULL, NULL);
        return KILN_OK;
    }
    uint64_t *ktmp = kiln__mem_alloc(mem, n * sizeof *ktmp);
    uint32_t *ptmp = payload ? kiln__mem_alloc(mem, n * sizeof *ptmp) : NULL;
    if (!ktmp || (payload && !ptmp)) {
        kiln__mem_free(mem, ktmp);
        kiln__mem_free(mem, ptmp);
        return KILN_ERROR(KILN_ERR_NOMEM, "graph: sorting %zu keys", n);
    }
    kiln__graph_sort_pairs(keys, payload, n, ktmp, ptmp);
    kiln__mem_free(mem, ktmp);
    kiln__mem_free(mem, ptmp);
    return KILN_OK;
}
