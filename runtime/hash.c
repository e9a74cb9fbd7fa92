/* runtime/hash.c: hashing whole batches (one pass, before any lookup, so the
 * hash loop stays tight and the lookups that follow can be grouped). */
#include "runtime/hash.h"

void kiln__hash_batch(const kiln_schema *s, const kiln_batch *b, size_t from,
                      size_t to, bool with_values, uint64_t *out)
{
    const kiln_type *kt = &s->key;
    bool user = kt->kind == KILN_KIND_FIXED && kt->hash;
    /* Keyed by the schema, not by b->keys: a batch whose keys are all ""
     * holds no key bytes (keys may be NULL), yet must place them where ""
     * from any other batch goes. */
    bool keyed = kt->kind != KILN_KIND_NONE;
    for (size_t i = from; i < to; i++) {
        size_t klen = 0, vlen;
        const void *k = keyed ? kiln_batch_key(b, i, &klen) : NULL;
        uint64_t h = keyed ? (user ? kt->hash(k, klen, kt->arg)
                                   : XXH3_64bits(k, klen))
                           : 0;
        if (with_values || !keyed) {
            const void *v = kiln_batch_value(b, i, &vlen);
            h = XXH3_64bits_withSeed(v, vlen, h);
        }
        out[i - from] = h;
    }
}
