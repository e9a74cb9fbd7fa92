/* runtime/hash.c: hashing whole batches (one pass, before any lookup, so the
 * hash loop stays tight and the lookups that follow can be grouped). */
#include "runtime/hash.h"

void kiln__hash_batch(const kiln_schema *s, const kiln_batch *b, size_t from,
                      size_t to, bool with_values, uint64_t *out)
{
    /* Keyed by the schema, not by b->keys: a batch whose keys are all ""
     * holds no key bytes (keys may be NULL), yet must place them where ""
     * from any other batch goes. */
    bool keyed = s->key.kind != KILN_KIND_NONE;
    for (size_t i = from; i < to; i++) {
        size_t klen = 0, vlen;
        const void *k = keyed ? kiln_batch_key(b, i, &klen) : NULL;
        const void *v = kiln_batch_value(b, i, &vlen);
        out[i - from] = kiln__hash_record(s, k, klen, v, vlen, with_values);
    }
}
