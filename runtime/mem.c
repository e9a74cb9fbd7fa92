/* runtime/mem.c: counted allocation. Each block carries a 16-byte header with
 * its size so frees need no size argument; the runtime allocates in bulk, so
 * the header costs nothing measurable. */
#include "runtime/mem.h"

#include <stdbool.h>
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

/* Spare mappings. A fresh mapping costs the kernel a zeroed page at each
 * first touch, and stages free and allocate buffers of the same sizes in
 * turn (a sort's partitions: each one's input is released right after its
 * sorted copy is built, and the next partition needs as much again). With
 * 4 KiB pages or huge ones, zeroing 1 GB of fresh output was 16% of a
 * 10M-record sort at one rank. So a freed mapping is kept, up to a bound,
 * and handed to the next allocation it fits without wasting more than
 * half of it. Reused memory is not zero: calloc does not take spares. */
static header *spare_take(kiln__mem *m, size_t bytes)
{
    if (!m)
        return NULL;
    size_t len = map_size(bytes), best = m->nspare;
    for (size_t i = 0; i < m->nspare; i++) {
        size_t have = ((header *)m->spare[i])->mapped;
        if (have >= len && have / 2 <= len &&
            (best == m->nspare || have < ((header *)m->spare[best])->mapped))
            best = i;
    }
    if (best == m->nspare)
        return NULL;
    header *h = m->spare[best];
    m->spare[best] = m->spare[--m->nspare];
    m->spare_bytes -= h->mapped;
    return h;
}

static void spare_give(kiln__mem *m, header *h)
{
    if (!m || h->mapped > KILN__MEM_SPARE_BYTES) {
        munmap(h, h->mapped);
        return;
    }
    /* Make room: the oldest spares go first. */
    while (m->nspare && (m->nspare == KILN__MEM_SPARES ||
                         m->spare_bytes + h->mapped > KILN__MEM_SPARE_BYTES)) {
        header *old = m->spare[0];
        m->spare_bytes -= old->mapped;
        munmap(old, old->mapped);
        memmove(m->spare, m->spare + 1, --m->nspare * sizeof *m->spare);
    }
    m->spare[m->nspare++] = h;
    m->spare_bytes += h->mapped;
}

/* A mapping for `bytes`: a spare when one fits, else a fresh one. */
static header *map_get(kiln__mem *m, size_t bytes)
{
    header *h = spare_take(m, bytes);
    return h ? h : map_new(bytes);
}

void kiln__mem_trim(kiln__mem *m)
{
    while (m && m->nspare) {
        header *h = m->spare[--m->nspare];
        munmap(h, h->mapped);
    }
    if (m)
        m->spare_bytes = 0;
}

void kiln__mem_init(kiln__mem *m)
{
    m->in_use = 0;
    m->peak = 0;
    m->fail_after = -1;
    m->nspare = 0;
    m->spare_bytes = 0;
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

static void *alloc(kiln__mem *m, size_t bytes, bool zeroed)
{
    if (hook_fires(m) || bytes > SIZE_MAX - sizeof(header) - PAGE)
        return NULL;
    header *h;
    if (bytes >= MAP_FROM) {
        h = zeroed ? map_new(bytes) : map_get(m, bytes);
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

void *kiln__mem_alloc(kiln__mem *m, size_t bytes)
{
    return alloc(m, bytes, false);
}

void *kiln__mem_calloc(kiln__mem *m, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = alloc(m, n * size, true);
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
        h = map_get(m, bytes);
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
        spare_give(m, h);
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
