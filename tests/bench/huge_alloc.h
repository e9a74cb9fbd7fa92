/* huge_alloc.h: large arrays for the serial baselines, in 2 MiB-aligned
 * memory marked for transparent huge pages. This kernel grants huge pages
 * in "madvise" mode only when asked, and only Kiln's own buffers asked
 * (runtime/mem.c); a baseline on 4 KiB pages pays a TLB miss every 4 KiB
 * of a streamed array and on almost every read of an array read at
 * random, so it would be slower than it should be. Freed with free().
 * Include it first: it asks for madvise(). */
#ifndef KILN_BENCH_HUGE_ALLOC_H
#define KILN_BENCH_HUGE_ALLOC_H

#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* madvise */
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* n bytes, not initialised; NULL when out of memory. */
static inline void *huge_alloc(size_t n)
{
    size_t huge = 2u << 20;
    n = n ? (n + huge - 1) / huge * huge : huge;
    void *p = aligned_alloc(huge, n);
    if (p)
        (void)madvise(p, n, MADV_HUGEPAGE); /* advice only */
    return p;
}

/* n elements of size bytes, zeroed. */
static inline void *huge_calloc(size_t n, size_t size)
{
    void *p = huge_alloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

#endif
