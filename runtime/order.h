/* runtime/order.h: the order of records (storage module).
 * Owns:     what "sorted" means: the key's natural order (numbers by value,
 *           F64 by IEEE total order, byte kinds by bytes, shorter first), or
 *           a user compare function; ties broken by value bytes, so sorted
 *           output never depends on arrival order; descending flips all.
 *           Also a 64-bit prefix of each key that preserves the order, for
 *           radix sorting and fast comparisons.
 * Uses:     nothing.
 * Must not: allocate or communicate. */
#ifndef KILN_RUNTIME_ORDER_H
#define KILN_RUNTIME_ORDER_H

#include "kiln.h"

typedef struct kiln__order {
    const kiln_schema *schema; /* borrowed */
    bool descending;
    kiln_compare_fn compare;   /* user order of keys, or NULL for natural */
    void *arg;
    bool prefixed;             /* kiln__order_prefix() is meaningful */
    bool prefix_decides;       /* equal prefixes mean equal keys */
} kiln__order;

/* user may be NULL (ascending, natural or the key type's compare). */
void kiln__order_init(kiln__order *o, const kiln_schema *schema,
                      const kiln_order *user);

/* An order-preserving 64-bit prefix of a key (already flipped when
 * descending): a < b implies prefix(a) <= prefix(b). */
uint64_t kiln__order_prefix(const kiln__order *o, const void *key, size_t len);

/* <0, 0, >0: records a and b in the order (keys, then value bytes). */
int kiln__order_compare(const kiln__order *o, const void *ka, size_t kla,
                        const void *va, size_t vla, const void *kb, size_t klb,
                        const void *vb, size_t vlb);

/* Bytes order: memcmp over the common length, then shorter first. */
int kiln__order_bytes(const void *a, size_t al, const void *b, size_t bl);

#endif
