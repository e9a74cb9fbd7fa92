/* runtime/group.c: group_by_key over a partition held in memory (storage).
 * Two passes over the records and no per-key allocation: the first counts
 * each key's values and bytes in a hash table, the second scatters the
 * values into one LIST heap at offsets from a prefix sum. A key's list is
 * bounded only by memory, never by a buffer size. */
#include "runtime/error.h"
#include "runtime/group.h"
#include "runtime/hash.h"
#include "runtime/htable.h"

typedef struct group_info {
    uint64_t count;  /* values in the group */
    uint64_t bytes;  /* bytes of its LIST encoding */
} group_info;

static uint64_t encoded(const kiln_type *elem, size_t len)
{
    return kiln__type_variable(elem) ? 8 + len : len;
}

kiln_status kiln__group_store(kiln__mem *mem, const kiln__store *in,
                              const kiln_schema *out_schema, kiln__store *out)
{
    const kiln_schema *s = &in->schema;
    kiln_schema table_schema = {s->key, kiln_type_fixed(sizeof(group_info), NULL,
                                                        NULL, NULL)};
    kiln__htable t;
    uint32_t *group_of = NULL;
    uint64_t *hashes = NULL, *cursor = NULL;
    kiln__block result;
    bool have_result = false;
    kiln_status st = kiln__htable_init(&t, mem, &table_schema, false, 0);
    if (st != KILN_OK)
        return st;
    size_t n = (size_t)in->records, next = 0;
    group_of = kiln__mem_alloc(mem, (n ? n : 1) * sizeof *group_of);
    if (!group_of) {
        st = KILN_ERROR(KILN_ERR_NOMEM, "group_by_key over %zu records", n);
        goto done;
    }

    /* Pass 1: find each record's group; count values and bytes. */
    kiln__store_iter it;
    kiln_batch b;
    size_t cap = 0;
    kiln__store_iter_init(&it, in, 0, 4096);
    while (kiln__store_next(&it, &b)) {
        if (b.n > cap) {
            kiln__mem_free(mem, hashes);
            cap = b.n;
            if (!(hashes = kiln__mem_alloc(mem, cap * sizeof *hashes))) {
                st = KILN_ERROR(KILN_ERR_NOMEM, "group hashes");
                goto done;
            }
        }
        kiln__hash_batch(s, &b, 0, b.n, false, hashes);
        for (size_t i = 0; i < b.n; i++) {
            size_t klen, vlen, g;
            bool inserted;
            const void *k = kiln_batch_key(&b, i, &klen);
            kiln_batch_value(&b, i, &vlen);
            group_info none = {0, 0};
            KILN_CHECK(st, kiln__htable_upsert(&t, hashes[i], k, klen, &none,
                                               sizeof none, &g, &inserted),
                       done);
            group_info *info = (group_info *)kiln__htable_value(&t, g);
            info->count++;
            info->bytes += encoded(&s->value, vlen);
            group_of[next++] = (uint32_t)g;
        }
    }

    /* Lay out the result: the keys as found, one LIST heap. */
    size_t ngroups = t.entries.n;
    uint64_t total = 0;
    cursor = kiln__mem_alloc(mem, (ngroups ? ngroups : 1) * sizeof *cursor);
    if (!cursor) {
        st = KILN_ERROR(KILN_ERR_NOMEM, "group offsets");
        goto done;
    }
    for (size_t g = 0; g < ngroups; g++) {
        cursor[g] = total;
        total += ((group_info *)kiln__htable_value(&t, g))->bytes;
    }
    KILN_CHECK(st, kiln__block_init(&result, mem, out_schema), done);
    have_result = true;
    kiln_batch keys;
    kiln__block_view(&t.entries, 0, ngroups, 0, &keys);
    KILN_CHECK(st, kiln__block_reserve(&result, ngroups,
                                       keys.key_offsets ? (size_t)keys.key_offsets[ngroups] : 0,
                                       (size_t)total), done);
    for (size_t g = 0; g < ngroups; g++) {
        size_t klen;
        const void *k = kiln_batch_key(&keys, g, &klen);
        kiln__column_put(&result, &result.key, k, klen);
        result.value.offs[g + 1] = cursor[g] + ((group_info *)kiln__htable_value(&t, g))->bytes;
        result.n++;
    }
    result.value.len = (size_t)total;

    /* Pass 2: scatter each value to its group's next slot. */
    kiln__store_iter_init(&it, in, 0, 4096);
    next = 0;
    bool variable = kiln__type_variable(&s->value);
    while (kiln__store_next(&it, &b)) {
        for (size_t i = 0; i < b.n; i++) {
            size_t vlen;
            const void *v = kiln_batch_value(&b, i, &vlen);
            uint64_t *at = &cursor[group_of[next++]];
            unsigned char *dst = result.value.data + *at;
            if (variable) {
                uint64_t len64 = vlen;
                memcpy(dst, &len64, 8);
                dst += 8;
            }
            if (vlen)
                memcpy(dst, v, vlen);
            *at += encoded(&s->value, vlen);
        }
    }
    KILN_CHECK(st, kiln__store_adopt(out, &result), done);
done:
    if (have_result)
        kiln__block_release(&result);
    kiln__mem_free(mem, cursor);
    kiln__mem_free(mem, hashes);
    kiln__mem_free(mem, group_of);
    kiln__htable_release(&t);
    return st;
}
