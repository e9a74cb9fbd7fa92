/* runtime/mem.h: every runtime allocation, counted per context.
 * Owns:     the byte counters of one context, its spare large mappings
 *           (freed, kept for reuse; see mem.c) and the test hook that
 *           makes the n-th allocation fail.
 * Uses:     the C allocator.
 * Must not: be called per record: callers allocate buffers in bulk and grow
 *           them geometrically (see storage).
 * A NULL accountant is allowed and counts nothing. */
#ifndef KILN_RUNTIME_MEM_H
#define KILN_RUNTIME_MEM_H

#include <stddef.h>
#include <stdint.h>

/* Freed large mappings kept for reuse (see mem.c): at most this many, and
 * at most KILN__MEM_SPARE_BYTES in all. */
enum { KILN__MEM_SPARES = 16 };
#define KILN__MEM_SPARE_BYTES ((size_t)256 << 20)

typedef struct kiln__mem {
    size_t in_use;      /* bytes currently allocated through this accountant */
    size_t peak;        /* largest in_use seen */
    long fail_after;    /* tests: fail once this many more calls succeeded; <0 never */
    void *spare[KILN__MEM_SPARES]; /* freed mappings, not counted in in_use */
    size_t nspare, spare_bytes;
} kiln__mem;

void kiln__mem_init(kiln__mem *m);
/* Unmap the spare mappings. Call when the accountant is done with. */
void kiln__mem_trim(kiln__mem *m);
/* NULL when out of memory (or when the test hook fires). */
void *kiln__mem_alloc(kiln__mem *m, size_t bytes);
void *kiln__mem_calloc(kiln__mem *m, size_t count, size_t size);
/* As realloc(); on failure p is untouched and NULL is returned. */
void *kiln__mem_realloc(kiln__mem *m, void *p, size_t bytes);
void kiln__mem_free(kiln__mem *m, void *p);

/* Grow a capacity geometrically until it holds `need`; exactly `need` when
 * doubling would overflow. */
size_t kiln__mem_grow(size_t cap, size_t need, size_t minimum);

#endif
