/* wc-serial: the single-threaded word count that tests/bench/wordcount.sh
 * times kiln-wordcount against, as the per-core baseline.
 *
 *   wc-serial [-t N] -o OUTPUT INPUT...
 *
 * It counts words exactly as kiln-wordcount does (a word is a maximal run of
 * bytes other than space, \t, \n, \v, \f, \r) and writes the same lines:
 * OUTPUT gets "word<TAB>count" for each distinct word, in no set order, and
 * stdout the N most frequent (default 10; count descending, then byte order).
 * It is meant to be as fast as a plain serial program reasonably gets, so
 * the benchmark's ratios mean something: 4 MiB read() calls, a table lookup
 * per byte, XXH3, and one open-addressing table that keeps short words in
 * its slots and longer ones in an arena, probed a batch of words at a time. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

enum { READ_BYTES = 4 << 20 };

static const char usage[] =
    "usage: wc-serial [-t N] -o OUTPUT INPUT...\n"
    "  -o OUTPUT  write word<TAB>count lines to OUTPUT\n"
    "  -t N       print the N most frequent words (default 10; 0: none)\n";

static const uint8_t is_space[256] = {
    [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1,
};

enum { INLINE_BYTES = 16 };

/* 32 bytes, so a slot never straddles a cache line. A word of up to 16
 * bytes (most words) is kept in its slot, so looking it up touches one cache
 * line: with a million words the table is far larger than the caches, and
 * keeping every word in the arena made the benchmark's run 40% slower. */
typedef struct slot {
    uint64_t count; /* 0: slot empty */
    uint32_t tag;   /* the high half of the word's XXH3; the low half placed it */
    uint32_t len;
    union {
        unsigned char bytes[INLINE_BYTES]; /* len <= INLINE_BYTES */
        uint64_t off;                      /* else the word is arena[off..] */
    } key;
} slot;

typedef struct table {
    slot *slots;       /* nslots, a power of two; owned */
    size_t nslots;
    size_t nwords;     /* slots in use, kept <= nslots / 2 */
    char *arena;       /* words longer than INLINE_BYTES; owned */
    size_t arena_used, arena_cap;
} table;

static const unsigned char *slot_word(const table *t, const slot *s)
{
    return s->len <= INLINE_BYTES ? s->key.bytes
                                  : (const unsigned char *)t->arena + s->key.off;
}

static int table_init(table *t, size_t nslots)
{
    memset(t, 0, sizeof *t);
    t->slots = calloc(nslots, sizeof *t->slots);
    t->nslots = nslots;
    return t->slots ? 0 : -1;
}

/* Slots keep only half of each hash, so growing hashes every word again:
 * cheap next to counting, and it happens a handful of times at most. */
static int table_grow(table *t)
{
    size_t nslots = 2 * t->nslots, mask = nslots - 1;
    slot *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < t->nslots; i++) {
        const slot *s = &t->slots[i];
        if (!s->count)
            continue;
        size_t pos = (size_t)XXH3_64bits(slot_word(t, s), s->len) & mask;
        while (slots[pos].count)
            pos = (pos + 1) & mask;
        slots[pos] = *s;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return 0;
}

static int insert(table *t, slot *s, uint32_t tag, const unsigned char *word,
                  size_t len)
{
    if (len > UINT32_MAX)
        return -1;
    *s = (slot){.count = 1, .tag = tag, .len = (uint32_t)len};
    if (len <= INLINE_BYTES) {
        memcpy(s->key.bytes, word, len);
    } else {
        if (t->arena_cap - t->arena_used < len) {
            size_t cap = 2 * t->arena_cap + len;
            char *arena = realloc(t->arena, cap);
            if (!arena)
                return -1;
            t->arena = arena;
            t->arena_cap = cap;
        }
        memcpy(t->arena + t->arena_used, word, len);
        s->key.off = t->arena_used;
        t->arena_used += len;
    }
    /* Grow after inserting, so the probe that found s stays valid. */
    return ++t->nwords * 2 > t->nslots ? table_grow(t) : 0;
}

static int count_word(table *t, const unsigned char *word, size_t len,
                      uint64_t hash)
{
    uint32_t tag = (uint32_t)(hash >> 32);
    size_t mask = t->nslots - 1;
    for (size_t pos = (size_t)hash & mask;; pos = (pos + 1) & mask) {
        slot *s = &t->slots[pos];
        if (!s->count)
            return insert(t, s, tag, word, len);
        if (s->tag == tag && s->len == len &&
            memcmp(slot_word(t, s), word, len) == 0) {
            s->count++;
            return 0;
        }
    }
}

/* Words are hashed, and their slots prefetched, a batch ahead of the
 * lookups: a rare word's slot is a cache miss, and one word at a time those
 * misses came one after another. On the benchmark's 256 MiB text this took
 * the run from about 1.7 s to 0.95 s; batches of 16 and 64 were slower. */
enum { BATCH = 32 };

typedef struct pending {
    size_t n;
    const unsigned char *word[BATCH]; /* borrowed from the read buffer */
    size_t len[BATCH];
    uint64_t hash[BATCH];
} pending;

static int count_pending(table *t, pending *w)
{
    for (size_t i = 0; i < w->n; i++)
        if (count_word(t, w->word[i], w->len[i], w->hash[i]) != 0)
            return -1;
    w->n = 0;
    return 0;
}

/* Count the words of [p, end); *end must be whitespace. When more input
 * follows, a word that reaches end is left for the caller to carry over:
 * returns where it starts (end if there is none). NULL: out of memory. */
static const unsigned char *count_chunk(table *t, const unsigned char *p,
                                        const unsigned char *end, int more)
{
    pending w;
    w.n = 0;
    for (;;) {
        while (p < end && is_space[*p])
            p++;
        if (p == end)
            break;
        const unsigned char *word = p;
        while (!is_space[*p])
            p++;
        if (p == end && more) {
            p = word;
            break;
        }
        size_t len = (size_t)(p - word);
        uint64_t hash = XXH3_64bits(word, len);
        __builtin_prefetch(&t->slots[hash & (t->nslots - 1)]);
        w.word[w.n] = word;
        w.len[w.n] = len;
        w.hash[w.n] = hash;
        if (++w.n == BATCH && count_pending(t, &w) != 0)
            return NULL;
    }
    return count_pending(t, &w) == 0 ? p : NULL;
}

typedef struct buffer {
    unsigned char *data; /* cap bytes plus one for a sentinel; owned */
    size_t cap;
} buffer;

/* Count the words of one file. A word cut by the end of a read is moved to
 * the front of the buffer and finished by the next read; the buffer grows
 * only when a single word fills it. */
static int count_file(table *t, buffer *b, const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    size_t keep = 0; /* bytes of an unfinished word at the buffer's start */
    int rc = 0;
    for (;;) {
        if (keep == b->cap) {
            unsigned char *data = realloc(b->data, 2 * b->cap + 1);
            if (!data) {
                errno = ENOMEM;
                rc = -1;
                break;
            }
            b->data = data;
            b->cap *= 2;
        }
        ssize_t n = read(fd, b->data + keep, b->cap - keep);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -1;
            break;
        }
        const unsigned char *end = b->data + keep + (size_t)n;
        b->data[keep + (size_t)n] = ' '; /* stops count_chunk's word loop */
        const unsigned char *rest = count_chunk(t, b->data, end, n > 0);
        if (!rest) {
            errno = ENOMEM;
            rc = -1;
            break;
        }
        keep = (size_t)(end - rest);
        memmove(b->data, rest, keep);
        if (n == 0)
            break;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

static int write_counts(const table *t, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    for (size_t i = 0; i < t->nslots; i++) {
        const slot *s = &t->slots[i];
        if (!s->count)
            continue;
        fwrite(slot_word(t, s), 1, s->len, f);
        /* Digits right to left: fprintf would cost more than the count. */
        char num[24];
        char *d = num + sizeof num;
        *--d = '\n';
        uint64_t c = s->count;
        do
            *--d = (char)('0' + c % 10);
        while (c /= 10);
        *--d = '\t';
        fwrite(d, 1, (size_t)(num + sizeof num - d), f);
    }
    int bad = ferror(f);
    return fclose(f) != 0 || bad ? -1 : 0;
}

/* ---- top N: a heap whose root is the entry every other ranks before ---- */

/* a ranks before b: more frequent, then smaller in byte order. */
static int before(const table *t, const slot *a, const slot *b)
{
    if (a->count != b->count)
        return a->count > b->count;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(slot_word(t, a), slot_word(t, b), n);
    return c ? c < 0 : a->len < b->len;
}

static void sift_down(const table *t, const slot **heap, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, worst = i;
        if (l < n && before(t, heap[worst], heap[l]))
            worst = l;
        if (r < n && before(t, heap[worst], heap[r]))
            worst = r;
        if (worst == i)
            return;
        const slot *s = heap[i];
        heap[i] = heap[worst];
        heap[worst] = s;
        i = worst;
    }
}

static int print_top(const table *t, size_t limit)
{
    const slot **heap = malloc((limit ? limit : 1) * sizeof *heap);
    if (!heap)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < t->nslots && limit; i++) {
        const slot *s = &t->slots[i];
        if (!s->count)
            continue;
        if (n < limit) {
            heap[n++] = s;
            if (n == limit) /* heapify once full; a partial heap stays a list */
                for (size_t j = n / 2; j-- > 0;)
                    sift_down(t, heap, n, j);
        } else if (before(t, s, heap[0])) {
            heap[0] = s;
            sift_down(t, heap, n, 0);
        }
    }
    if (n < limit)
        for (size_t j = n / 2; j-- > 0;)
            sift_down(t, heap, n, j);
    /* Heap sort: moving the root to the back each time leaves best first. */
    for (size_t m = n; m > 1; m--) {
        const slot *s = heap[0];
        heap[0] = heap[m - 1];
        heap[m - 1] = s;
        sift_down(t, heap, m - 1, 0);
    }
    for (size_t i = 0; i < n; i++)
        printf("%.*s\t%llu\n", (int)heap[i]->len, slot_word(t, heap[i]),
               (unsigned long long)heap[i]->count);
    free(heap);
    return fflush(stdout);
}

/* Room for one distinct word per 256 input bytes at load 1/2, between 64K
 * and 4M slots: enough that a typical text never rehashes, small enough
 * that a huge file does not start with a huge table (vocabulary grows far
 * more slowly than text). The table still doubles when half full. */
static size_t initial_slots(char **paths, int npaths)
{
    uint64_t bytes = 0;
    for (int i = 0; i < npaths; i++) {
        struct stat st;
        if (stat(paths[i], &st) == 0)
            bytes += (uint64_t)st.st_size;
    }
    size_t nslots = 1 << 16;
    while (nslots < (1u << 22) && nslots < bytes / 128)
        nslots <<= 1;
    return nslots;
}

int main(int argc, char **argv)
{
    const char *output = NULL;
    long topn = 10;
    int c;
    while ((c = getopt(argc, argv, "o:t:h")) != -1) {
        char *end;
        switch (c) {
        case 'o': output = optarg; break;
        case 't':
            topn = strtol(optarg, &end, 10);
            if (*end || topn < 0) {
                fputs(usage, stderr);
                return 2;
            }
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (!output || optind >= argc) {
        fputs(usage, stderr);
        return 2;
    }

    table t;
    buffer b = {malloc(READ_BYTES + 1), READ_BYTES};
    int rc = 1;
    if (table_init(&t, initial_slots(argv + optind, argc - optind)) != 0 ||
        !b.data) {
        fputs("wc-serial: out of memory\n", stderr);
        goto done;
    }
    for (int i = optind; i < argc; i++) {
        if (count_file(&t, &b, argv[i]) != 0) {
            fprintf(stderr, "wc-serial: %s: %s\n", argv[i], strerror(errno));
            goto done;
        }
    }
    if (write_counts(&t, output) != 0) {
        fprintf(stderr, "wc-serial: %s: %s\n", output, strerror(errno));
        goto done;
    }
    if (topn > 0 && print_top(&t, (size_t)topn) != 0) {
        fputs("wc-serial: cannot print the top words\n", stderr);
        goto done;
    }
    rc = 0;
done:
    free(b.data);
    free(t.slots);
    free(t.arena);
    return rc;
}
