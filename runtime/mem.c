/* runtime/mem.c: counted allocation. Each block carries a 16-byte header with
 * its size so frees need no size argument; the runtime allocates in bulk, so
 * the header costs nothing measurable. */
#include "runtime/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef struct header {
    size_t bytes;
    size_t mapped; /* bytes of the mapping when mmapped by us, else 0 */
} header;

/* Large buffers (the blocks of a sort, hash-table slots) are touched all
 * over. They are mapped here rather than taken from malloc, and marked for
 * transparent huge pages, which a kernel in "madvise" mode (Debian's
 * default) grants only when asked and only for mappings: malloc's heap
 * (where glibc puts even large blocks once its threshold has adapted)
 * never got them. A 10M-record sort spent a tenth of its time in page
 * faults; the serial baseline gained 1.3-2.2x from huge pages. */
enum { MAP_FROM = 4 << 20, PAGE = 4096 };

static size_t map_size(size_t bytes)
{
    return (sizeof(header) + bytes + PAGE - 1) & ~(size_t)(PAGE - 1);
}

static header *map_new(size_t bytes)
{
    size_t len = map_size(bytes);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    (void)madvise(p, len, MADV_HUGEPAGE); /* advice only */
    header *h = p;
    h->mapped = len;
    return h;
}

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
    if (hook_fires(m) || bytes > SIZE_MAX - sizeof(header) - PAGE)
        return NULL;
    header *h;
    if (bytes >= MAP_FROM) {
        h = map_new(bytes);
    } else {
        h = malloc(sizeof(header) + bytes);
        if (h)
            h->mapped = 0;
    }
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
    /* Fresh mappings are already zero: do not touch them twice. */
    if (p && n * size < MAP_FROM)
        memset(p, 0, n * size);
    return p;
}

void *kiln__mem_realloc(kiln__mem *m, void *p, size_t bytes)
{
    if (!p)
        return kiln__mem_alloc(m, bytes);
    if (hook_fires(m) || bytes > SIZE_MAX - sizeof(header) - PAGE)
        return NULL;
    header *old = (header *)p - 1, *h;
    size_t old_bytes = old->bytes;
    if (old->mapped) {
        size_t len = map_size(bytes), old_len = old->mapped;
        void *q = mremap(old, old_len, len, MREMAP_MAYMOVE); /* old may move */
        if (q == MAP_FAILED)
            return NULL;
        if (len > old_len)
            (void)madvise(q, len, MADV_HUGEPAGE);
        h = q;
        h->mapped = len;
    } else if (bytes >= MAP_FROM) { /* outgrew malloc: move to a mapping */
        h = map_new(bytes);
        if (!h)
            return NULL;
        memcpy(h + 1, p, old_bytes);
        free(old);
    } else {
        h = realloc(old, sizeof(header) + bytes);
        if (!h)
            return NULL;
    }
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
    if (h->mapped)
        munmap(h, h->mapped);
    else
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
