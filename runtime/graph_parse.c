/* runtime/graph_parse.c: the loading pipeline's own callbacks (graph
 * module): edge-list lines parsed, weights checked, each edge turned into
 * the records that carry it to the partitions of its ends, the key hash
 * that places those records, and the sample that picks RANGE splitters.
 * Their arguments belong to the dataset node that uses them
 * (kiln__node.owned_arg), as derived.c's do. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/error.h"
#include "runtime/graph.h"
#include "runtime/graph_load.h"

/* ---- one line of a SNAP edge list ---- */

static bool is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The token at *p (a run of non-blank bytes), advancing *p past it. */
static size_t token(const unsigned char **p, const unsigned char *end)
{
    const unsigned char *s = *p;
    while (*p < end && !is_blank(**p))
        (*p)++;
    return (size_t)(*p - s);
}

static void skip_blanks(const unsigned char **p, const unsigned char *end)
{
    while (*p < end && is_blank(**p))
        (*p)++;
}

static bool parse_u64(const unsigned char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = s[i] - '0';
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static void quote(char *why, size_t size, const char *what,
                  const unsigned char *tok, size_t len)
{
    snprintf(why, size, "%s '%.*s%s'", what, (int)(len > 40 ? 40 : len),
             (const char *)tok, len > 40 ? "..." : "");
}

int kiln__graph_parse_line(const unsigned char *p, size_t len, uint64_t *u,
                           uint64_t *v, double *w, bool *has_w, char *why,
                           size_t why_size)
{
    const unsigned char *end = p + len;
    skip_blanks(&p, end);
    if (p == end || *p == '#')
        return 0;
    const unsigned char *t = p;
    size_t n = token(&p, end);
    if (!parse_u64(t, n, u)) {
        quote(why, why_size, "bad source vertex id", t, n);
        return -1;
    }
    skip_blanks(&p, end);
    if (p == end) {
        snprintf(why, why_size, "missing destination column");
        return -1;
    }
    t = p;
    n = token(&p, end);
    if (!parse_u64(t, n, v)) {
        quote(why, why_size, "bad destination vertex id", t, n);
        return -1;
    }
    skip_blanks(&p, end);
    *has_w = false;
    if (p == end)
        return 1;
    t = p;
    n = token(&p, end);
    char buf[64];
    char *stop = buf;
    if (n < sizeof buf) {
        memcpy(buf, t, n);
        buf[n] = '\0';
        *w = strtod(buf, &stop);
    }
    if (n == 0 || n >= sizeof buf || *stop != '\0') {
        quote(why, why_size, "bad weight", t, n);
        return -1;
    }
    *has_w = true;
    skip_blanks(&p, end);
    if (p != end) {
        t = p;
        n = token(&p, end);
        quote(why, why_size, "more than three columns, at", t, n);
        return -1;
    }
    return 1;
}

/* ---- edges to records ---- */

static kiln_status emit_edge(kiln_emitter *out, const kiln__graph_load_arg *a,
                             uint64_t u, uint64_t v, double w)
{
    if (a->canonical)
        return kiln_emit(out, &u, 8, &v, 8);
    unsigned char rec[17] = {0}; /* other end, weight, tag: as many as kept */
    unsigned char *tag = rec + (a->weighted ? 16 : 8);
    memcpy(rec + 8, &w, 8); /* the tag's byte is set below when tagged */
    kiln_status st = KILN_OK;
    if (a->undirected) {
        memcpy(rec, &v, 8);
        st = kiln_emit(out, &u, 8, rec, a->value_bytes);
        if (st == KILN_OK && u != v) {
            memcpy(rec, &u, 8);
            st = kiln_emit(out, &v, 8, rec, a->value_bytes);
        }
        return st;
    }
    if (a->emit_out) {
        memcpy(rec, &v, 8);
        *tag = 0;
        st = kiln_emit(out, &u, 8, rec, a->value_bytes);
    }
    if (st == KILN_OK && a->emit_in) {
        memcpy(rec, &u, 8);
        *tag = 1;
        st = kiln_emit(out, &v, 8, rec, a->value_bytes);
    }
    return st;
}

static kiln_status bad_weight(const kiln_batch *in, size_t i, double w)
{
    char where[1200];
    return kiln_error(KILN_ERR_PARSE, "%s: negative weight %g (the weights of "
                      "this computation must be non-negative)",
                      kiln_batch_where(in, i, where, sizeof where), w);
}

kiln_status kiln__graph_edges_fn(const kiln_batch *in, kiln_emitter *out,
                                 void *arg)
{
    const kiln__graph_load_arg *a = arg;
    kiln_status st = KILN_OK;
    for (size_t i = 0; i < in->n && st == KILN_OK; i++) {
        uint64_t u, v;
        double w = 1.0;
        if (a->source == KILN__GRAPH_SRC_TEXT) {
            size_t len;
            const unsigned char *line = kiln_batch_value(in, i, &len);
            bool has_w;
            char why[160];
            int r = kiln__graph_parse_line(line, len, &u, &v, &w, &has_w, why,
                                           sizeof why);
            if (r == 0)
                continue;
            if (r < 0) {
                char where[1200];
                return kiln_error(KILN_ERR_PARSE, "%s: %s",
                                  kiln_batch_where(in, i, where, sizeof where), why);
            }
            if (!has_w)
                w = 1.0;
        } else {
            u = kiln_batch_key_u64(in, i);
            if (a->source == KILN__GRAPH_SRC_WDST) { /* 16-byte values */
                memcpy(&v, in->values + 16 * i, 8);
                memcpy(&w, in->values + 16 * i + 8, 8);
            } else {
                v = kiln_batch_value_u64(in, i);
            }
        }
        if (a->nonnegative && !(w >= 0))
            return bad_weight(in, i, w);
        st = emit_edge(out, a, u, v, w);
    }
    return st;
}

/* ---- placement ---- */

uint64_t kiln__graph_key_hash(const void *rec, size_t size, void *arg)
{
    (void)size;
    const kiln__graph_pf *pf = arg;
    uint64_t id;
    memcpy(&id, rec, 8);
    uint64_t h = kiln__hash_bytes(&id, 8);
    if (pf->how == KILN_PARTITION_HASH)
        return h; /* kiln__graph_part_of() takes the same partition from it */
    /* The shuffle keeps partition ((h mod 2^32) * nparts) >> 32; the
     * smallest low half that gives p is ceil(p * 2^32 / nparts). */
    uint64_t p = kiln__graph_part_of(pf, id);
    uint64_t low = ((p << 32) + pf->nparts - 1) / pf->nparts;
    return (h & 0xffffffff00000000ull) | low;
}

/* ---- RANGE: a sample of distinct ids, the same at any rank count ----
 * Each input partition keeps the `k` ids whose seeded hashes are smallest
 * (a bottom-k sketch: a uniform sample of the distinct ids, decided by
 * content alone); kiln_dataset_aggregate merges them in partition order. */

typedef struct sample_entry {
    uint64_t hash, id;
} sample_entry;

typedef struct sample_acc {
    uint64_t n;
    uint64_t pad;
    sample_entry e[]; /* n of them, hash ascending */
} sample_acc;

size_t kiln__graph_sample_bytes(size_t k)
{
    return sizeof(sample_acc) + k * sizeof(sample_entry);
}

static void sample_offer(sample_acc *s, size_t k, uint64_t id)
{
    uint64_t h = XXH3_64bits_withSeed(&id, 8, 0x6b696c6e67726170ull);
    if (s->n == k && h >= s->e[k - 1].hash)
        return;
    size_t lo = 0, hi = (size_t)s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->e[mid].hash < h || (s->e[mid].hash == h && s->e[mid].id < id))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->n && s->e[lo].hash == h && s->e[lo].id == id)
        return; /* already kept */
    size_t move = (size_t)s->n - lo - (s->n == k ? 1 : 0);
    memmove(&s->e[lo + 1], &s->e[lo], move * sizeof *s->e);
    s->e[lo] = (sample_entry){h, id};
    if (s->n < k)
        s->n++;
}

kiln_status kiln__graph_sample_seq(void *acc, const kiln_batch *in, void *arg)
{
    size_t k = *(const size_t *)arg;
    for (size_t i = 0; i < in->n; i++) {
        sample_offer(acc, k, kiln_batch_key_u64(in, i));
        sample_offer(acc, k, kiln_batch_value_u64(in, i));
    }
    return KILN_OK;
}

kiln_status kiln__graph_sample_comb(void *acc, const void *other, void *arg)
{
    size_t k = *(const size_t *)arg;
    const sample_acc *o = other;
    for (uint64_t i = 0; i < o->n; i++)
        sample_offer(acc, k, o->e[i].id);
    return KILN_OK;
}

kiln_status kiln__graph_splitters(kiln__mem *mem, const void *sample,
                                  kiln__graph_pf *pf)
{
    const sample_acc *s = sample;
    size_t n = (size_t)s->n, np = pf->nparts;
    uint64_t *ids = kiln__mem_alloc(mem, (n ? n : 1) * sizeof *ids);
    uint64_t *split = kiln__mem_calloc(mem, np, sizeof *split);
    if (!ids || !split) {
        kiln__mem_free(mem, ids);
        kiln__mem_free(mem, split);
        return KILN_ERROR(KILN_ERR_NOMEM, "graph: range splitters");
    }
    for (size_t i = 0; i < n; i++)
        ids[i] = s->e[i].id;
    kiln_status st = kiln__graph_sort_u64(mem, ids, NULL, n);
    for (size_t i = 1; st == KILN_OK && i < np; i++)
        split[i - 1] = n ? ids[i * n / np] : 0;
    kiln__mem_free(mem, ids);
    if (st != KILN_OK) {
        kiln__mem_free(mem, split);
        return st;
    }
    kiln__mem_free(mem, pf->splitters);
    pf->splitters = split;
    return KILN_OK;
}
