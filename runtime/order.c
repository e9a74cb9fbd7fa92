/* runtime/order.c: comparing records and their order-preserving prefixes. */
#include <string.h>

#include "runtime/order.h"

int kiln__order_bytes(const void *a, size_t al, const void *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

/* F64 by IEEE total order: the bits, with negatives flipped, sort as
 * unsigned numbers (-NaN < -inf < ... < -0 < +0 < ... < +inf < NaN). */
static uint64_t f64_bits(const void *p)
{
    uint64_t b;
    memcpy(&b, p, 8);
    return (b >> 63) ? ~b : b | (1ull << 63);
}

static uint64_t numeric_prefix(kiln_kind kind, const void *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    if (kind == KILN_KIND_I64)
        return v ^ (1ull << 63);
    if (kind == KILN_KIND_F64)
        return f64_bits(p);
    return v;
}

void kiln__order_init(kiln__order *o, const kiln_schema *schema,
                      const kiln_order *user)
{
    memset(o, 0, sizeof *o);
    o->schema = schema;
    o->descending = user && user->descending;
    if (user && user->compare) {
        o->compare = user->compare;
        o->arg = user->arg;
    } else if (schema->key.kind == KILN_KIND_FIXED && schema->key.compare) {
        o->compare = schema->key.compare;
        o->arg = schema->key.arg;
    }
    kiln_kind k = schema->key.kind;
    bool numeric = k == KILN_KIND_U64 || k == KILN_KIND_I64 || k == KILN_KIND_F64;
    o->prefixed = !o->compare;
    o->prefix_decides = o->prefixed &&
                        (numeric || (k == KILN_KIND_FIXED && schema->key.size <= 8));
}

uint64_t kiln__order_prefix(const kiln__order *o, const void *key, size_t len)
{
    kiln_kind k = o->schema->key.kind;
    uint64_t p;
    if (k == KILN_KIND_U64 || k == KILN_KIND_I64 || k == KILN_KIND_F64) {
        p = numeric_prefix(k, key);
    } else {
        /* Big-endian first 8 bytes, zero-padded: byte order as a number. */
        const unsigned char *b = key;
        p = 0;
        for (size_t i = 0; i < 8; i++)
            p = (p << 8) | (i < len ? b[i] : 0);
    }
    return o->descending ? ~p : p;
}

static int compare_keys(const kiln__order *o, const void *a, size_t al,
                        const void *b, size_t bl)
{
    if (o->compare) {
        int c = o->compare(a, b, al, o->arg);
        return c < 0 ? -1 : c > 0; /* safe to negate for descending */
    }
    kiln_kind k = o->schema->key.kind;
    if (k == KILN_KIND_U64 || k == KILN_KIND_I64 || k == KILN_KIND_F64) {
        uint64_t x = numeric_prefix(k, a), y = numeric_prefix(k, b);
        return x < y ? -1 : x > y;
    }
    return kiln__order_bytes(a, al, b, bl);
}

int kiln__order_compare(const kiln__order *o, const void *ka, size_t kla,
                        const void *va, size_t vla, const void *kb, size_t klb,
                        const void *vb, size_t vlb)
{
    int c = compare_keys(o, ka, kla, kb, klb);
    if (!c)
        c = kiln__order_bytes(va, vla, vb, vlb);
    return o->descending ? -c : c;
}
