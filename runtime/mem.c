/* runtime/mem.c: counted allocation. Each block carries a 16-byte header with
 * its size so frees need no size argument; the runtime allocates in bulk, so
 * the header costs nothing measurable. */
#include "runtime/mem.h"

#include <stdlib.h>
#include <string.h>

typedef struct header {
    size_t bytes;
    size_t pad; /* keeps the payload 16-byte aligned */
} header;

void kiln__mem_init(kiln__mem *m)
{
    m->in_use = 0;
    m->peak = 0;
    m->fail_after = -1;
}

static int hook_fires(kiln__mem *m)
{
    if (!m || m->fail_after < 0)
        return 0;
    if (m->fail_after == 0)
        return 1;
    m->fail_after--;
    return 0;
}

static void count(kiln__mem *m, size_t add, size_t sub)
{
    if (!m)
        return;
    m->in_use = m->in_use + add - sub;
    if (m->in_use > m->peak)
        m->peak = m->in_use;
}

void *kiln__mem_alloc(kiln__mem *m, size_t bytes)
{
    if (hook_fires(m) || bytes > SIZE_MAX - sizeof(header))
        return NULL;
    header *h = malloc(sizeof(header) + bytes);
    if (!h)
        return NULL;
    h->bytes = bytes;
    count(m, bytes, 0);
    return h + 1;
}

void *kiln__mem_calloc(kiln__mem *m, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = kiln__mem_alloc(m, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *kiln__mem_realloc(kiln__mem *m, void *p, size_t bytes)
{
    if (!p)
        return kiln__mem_alloc(m, bytes);
    if (hook_fires(m) || bytes > SIZE_MAX - sizeof(header))
        return NULL;
    header *old = (header *)p - 1;
    size_t old_bytes = old->bytes;
    header *h = realloc(old, sizeof(header) + bytes);
    if (!h)
        return NULL;
    h->bytes = bytes;
    count(m, bytes, old_bytes);
    return h + 1;
}

void kiln__mem_free(kiln__mem *m, void *p)
{
    if (!p)
        return;
    header *h = (header *)p - 1;
    count(m, 0, h->bytes);
    free(h);
}

size_t kiln__mem_grow(size_t cap, size_t need, size_t minimum)
{
    if (cap < minimum)
        cap = minimum;
    if (cap == 0 && need > 0) /* doubling 0 would never reach need */
        cap = 1;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return need;
        cap *= 2;
    }
    return cap;
}
