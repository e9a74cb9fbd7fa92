/* zipf-text: write deterministic Zipf-distributed text for the word-count
 * benchmark.
 *
 *   zipf-text [-s SEED] [-w WORDS] [-z EXPONENT] BYTES [OUTPUT]
 *
 * A vocabulary of WORDS (default 1048576) distinct random lowercase words,
 * 2 to 12 letters (mean 7), is drawn first; then lines of 8 to 16 words,
 * each word drawn with probability proportional to 1 / rank^EXPONENT
 * (default 1.0), until BYTES would be exceeded. The same SEED, WORDS and
 * EXPONENT always give the same bytes. Ranks are assigned in the order words
 * were drawn, so word length does not depend on frequency.
 *
 * Sampling uses Walker's alias table: one random number per word and two
 * table reads, where a binary search over a 1M-entry CDF would make 20
 * dependent reads, the last few of them cache misses. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

enum { MIN_LEN = 2, MAX_LEN = 12, OUT_BUF = 4 << 20 };

static const char usage[] =
    "usage: zipf-text [-s SEED] [-w WORDS] [-z EXPONENT] BYTES [OUTPUT]\n"
    "  BYTES may end in K, M or G (powers of 1024); OUTPUT defaults to stdout\n";

/* splitmix64: tiny, fast and good enough for synthetic text. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* A uniform index below n from 32 random bits (n < 2^32). */
static uint32_t below(uint32_t bits, uint32_t n)
{
    return (uint32_t)(((uint64_t)bits * n) >> 32);
}

typedef struct vocab {
    uint32_t nwords;
    char *bytes;      /* every word back to back, owned */
    uint64_t *off;    /* word i is bytes[off[i] .. off[i + 1]), owned */
} vocab;

/* Draw distinct words; a set of hashes (open addressing, load <= 1/2) throws
 * out repeats, which are common among 2- and 3-letter words. */
static int vocab_make(vocab *v, uint32_t nwords, uint64_t *rng)
{
    size_t nslots = 1;
    while (nslots < 2 * (size_t)nwords)
        nslots <<= 1;
    uint32_t *set = calloc(nslots, sizeof *set); /* word index + 1; 0 empty */
    v->bytes = malloc((size_t)nwords * MAX_LEN);
    v->off = malloc(((size_t)nwords + 1) * sizeof *v->off);
    if (!set || !v->bytes || !v->off) {
        free(set);
        return -1;
    }
    v->nwords = nwords;
    v->off[0] = 0;
    for (uint32_t i = 0; i < nwords;) {
        uint64_t r = next_random(rng);
        /* Two dice of 0..5 give lengths 2..12, most often 7. */
        size_t len = MIN_LEN + (r & 0xff) % 6 + ((r >> 8) & 0xff) % 6;
        char *w = v->bytes + v->off[i];
        for (size_t j = 0; j < len; j++)
            w[j] = (char)('a' + below((uint32_t)next_random(rng), 26));
        uint64_t h = XXH3_64bits(w, len);
        size_t pos = (size_t)h & (nslots - 1);
        int seen = 0;
        while (set[pos] && !seen) {
            uint32_t k = set[pos] - 1;
            seen = v->off[k + 1] - v->off[k] == len &&
                   memcmp(v->bytes + v->off[k], w, len) == 0;
            pos = (pos + 1) & (nslots - 1);
        }
        if (seen)
            continue;
        set[pos] = i + 1;
        v->off[i + 1] = v->off[i] + len;
        i++;
    }
    free(set);
    return 0;
}

typedef struct alias_table {
    uint32_t n;
    uint32_t *keep;  /* keep slot i if 32 random bits < keep[i], owned */
    uint32_t *alias; /* else take alias[i], owned */
} alias_table;

/* Vose's construction of the alias table for P(rank r) ~ 1 / r^s. */
static int alias_make(alias_table *t, uint32_t n, double s)
{
    double *p = malloc((size_t)n * sizeof *p);
    uint32_t *small = malloc((size_t)n * sizeof *small);
    uint32_t *large = malloc((size_t)n * sizeof *large);
    t->keep = malloc((size_t)n * sizeof *t->keep);
    t->alias = malloc((size_t)n * sizeof *t->alias);
    int ok = p && small && large && t->keep && t->alias;
    if (ok) {
        double sum = 0;
        for (uint32_t i = 0; i < n; i++)
            sum += p[i] = pow((double)i + 1, -s);
        size_t nsmall = 0, nlarge = 0;
        for (uint32_t i = 0; i < n; i++) {
            p[i] *= n / sum; /* mean 1: a slot's share of the total */
            if (p[i] < 1)
                small[nsmall++] = i;
            else
                large[nlarge++] = i;
        }
        while (nsmall && nlarge) {
            uint32_t lo = small[--nsmall], hi = large[nlarge - 1];
            t->keep[lo] = (uint32_t)(p[lo] * 4294967296.0);
            t->alias[lo] = hi;
            p[hi] -= 1 - p[lo];
            if (p[hi] < 1) {
                nlarge--;
                small[nsmall++] = hi;
            }
        }
        /* What is left is 1 up to rounding: always keep it (the alias is
         * read when the random bits are all ones). */
        while (nlarge) {
            uint32_t i = large[--nlarge];
            t->keep[i] = UINT32_MAX;
            t->alias[i] = i;
        }
        while (nsmall) {
            uint32_t i = small[--nsmall];
            t->keep[i] = UINT32_MAX;
            t->alias[i] = i;
        }
        t->n = n;
    }
    free(p);
    free(small);
    free(large);
    return ok ? 0 : -1;
}

static uint32_t alias_draw(const alias_table *t, uint64_t r)
{
    uint32_t i = below((uint32_t)(r >> 32), t->n);
    return (uint32_t)r < t->keep[i] ? i : t->alias[i];
}

/* Parse "256M" and the like; 0 on error. */
static uint64_t parse_bytes(const char *text)
{
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    int shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    }
    if (end == text || *end || *text == '-')
        return 0;
    return (uint64_t)v << shift;
}

static int write_text(FILE *f, const vocab *v, const alias_table *t,
                      uint64_t nbytes, uint64_t *rng)
{
    /* One line is at most 16 words of MAX_LEN plus separators. */
    enum { MAX_LINE = 16 * (MAX_LEN + 1) };
    char *buf = malloc(OUT_BUF);
    if (!buf)
        return -1;
    size_t used = 0;
    uint64_t written = 0;
    for (;;) {
        char line[MAX_LINE];
        size_t len = 0;
        uint32_t nwords = 8 + below((uint32_t)next_random(rng), 9);
        for (uint32_t j = 0; j < nwords; j++) {
            uint32_t w = alias_draw(t, next_random(rng));
            size_t wlen = (size_t)(v->off[w + 1] - v->off[w]);
            memcpy(line + len, v->bytes + v->off[w], wlen);
            len += wlen;
            line[len++] = j + 1 < nwords ? ' ' : '\n';
        }
        if (written + len > nbytes)
            break;
        if (used + len > OUT_BUF) {
            if (fwrite(buf, 1, used, f) != used)
                break;
            used = 0;
        }
        memcpy(buf + used, line, len);
        used += len;
        written += len;
    }
    int ok = fwrite(buf, 1, used, f) == used && fflush(f) == 0 && !ferror(f);
    free(buf);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    uint64_t seed = 1;
    unsigned long nwords = 1u << 20;
    double exponent = 1.0;
    int c;
    while ((c = getopt(argc, argv, "s:w:z:h")) != -1) {
        switch (c) {
        case 's': seed = strtoull(optarg, NULL, 10); break;
        case 'w': nwords = strtoul(optarg, NULL, 10); break;
        case 'z': exponent = strtod(optarg, NULL); break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    uint64_t nbytes = optind < argc ? parse_bytes(argv[optind]) : 0;
    if (!nbytes || argc - optind > 2 || nwords < 1 || nwords > 100000000 ||
        !(exponent > 0)) {
        fputs(usage, stderr);
        return 2;
    }
    const char *path = argc - optind == 2 ? argv[optind + 1] : NULL;
    FILE *f = path ? fopen(path, "wb") : stdout;
    if (!f) {
        perror(path);
        return 1;
    }
    uint64_t rng = seed;
    vocab v = {0};
    alias_table t = {0};
    int rc = vocab_make(&v, (uint32_t)nwords, &rng) ||
             alias_make(&t, (uint32_t)nwords, exponent) ||
             write_text(f, &v, &t, nbytes, &rng);
    if (rc)
        fprintf(stderr, "zipf-text: %s\n", ferror(f) ? "write failed" : "out of memory");
    if (path && fclose(f) != 0 && !rc) {
        perror(path);
        rc = 1;
    }
    free(v.bytes);
    free(v.off);
    free(t.keep);
    free(t.alias);
    return rc ? 1 : 0;
}
