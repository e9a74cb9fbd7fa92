/* sort-serial: the single-threaded, in-memory sort that tests/bench/sort.sh
 * times kiln-sort against.
 *
 *   sort-serial -o OUTPUT INPUT
 *
 * INPUT holds 100-byte records (10-byte key, 90-byte value, as kiln-gensort
 * writes them); OUTPUT gets them sorted exactly as kiln-sort sorts them: by
 * key, records with equal keys by value bytes, so the two outputs can be
 * compared byte for byte.
 *
 * It is meant to be as fast as a plain serial program reasonably gets, so
 * that the benchmark's ratios mean something. The whole file is read into
 * memory; the sort moves 16-byte items (the key and the record's index)
 * rather than records: one out-of-cache pass scatters them by the key's
 * first byte, and each of the (up to 256) groups, small enough for the L3
 * cache, is finished by an LSD radix sort on the other nine key bytes,
 * skipping bytes that are the same throughout the group. Equal keys are
 * then ordered by value with qsort. One gathering pass copies the records
 * into a 4 MiB buffer in sorted order, prefetching ahead, and write()s it
 * out as it fills. */
#define _GNU_SOURCE /* qsort_r */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    KEY_BYTES = 10,
    RECORD_BYTES = 100,
    READ_BYTES = 64 << 20,
    WRITE_BYTES = 4 << 20,
    PREFETCH = 16,         /* records ahead in the gathering copy */
};

static const char usage[] = "usage: sort-serial -o OUTPUT INPUT\n";

/* A record's key and index. hi: key bytes 0-7, big-endian, so integer
 * order is byte order. lo: key bytes 8-9 in bits 48-63, the index below
 * (inputs up to 2^48 records). */
typedef struct item {
    uint64_t hi, lo;
} item;

/* Byte d of the key counted from the last (d = 0: key byte 9). */
static inline unsigned digit(const item *it, int d)
{
    return d < 2 ? (unsigned)(it->lo >> (48 + 8 * d)) & 0xff
                 : (unsigned)(it->hi >> (8 * (d - 2))) & 0xff;
}

static inline uint64_t load_be64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
}

/* LSD radix sort of v[0..n) on key bytes 1-9 (byte 0 is the same in the
 * whole group), with tmp as scratch. All histograms come from one pass;
 * a byte that has one value throughout costs no pass. */
static void lsd_sort(item *v, item *tmp, size_t n)
{
    enum { DIGITS = KEY_BYTES - 1 };
    size_t count[DIGITS][256];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < DIGITS; d++)
            count[d][digit(&v[i], d)]++;
    item *src = v, *dst = tmp;
    for (int d = 0; d < DIGITS; d++) {
        size_t *c = count[d];
        if (c[digit(&src[0], d)] == n)
            continue;
        size_t sum = 0;
        for (int b = 0; b < 256; b++) {
            size_t t = c[b];
            c[b] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++)
            dst[c[digit(&src[i], d)]++] = src[i];
        item *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, n * sizeof *v);
}

static int by_value(const void *a, const void *b, void *arg)
{
    const unsigned char *data = arg;
    const item *x = a, *y = b;
    const uint64_t mask = ((uint64_t)1 << 48) - 1;
    return memcmp(data + (x->lo & mask) * RECORD_BYTES + KEY_BYTES,
                  data + (y->lo & mask) * RECORD_BYTES + KEY_BYTES,
                  RECORD_BYTES - KEY_BYTES);
}

/* Sort n items of the records at data: by key, then by value. */
static void sort_items(item *v, item *tmp, size_t n, const unsigned char *data)
{
    /* Scatter by key byte 0 (the top byte of hi) into tmp, sort each group
     * back into v. */
    size_t start[257] = {0};
    for (size_t i = 0; i < n; i++)
        start[(v[i].hi >> 56) + 1]++;
    for (int b = 0; b < 256; b++)
        start[b + 1] += start[b];
    size_t next[256];
    memcpy(next, start, sizeof next);
    for (size_t i = 0; i < n; i++)
        tmp[next[v[i].hi >> 56]++] = v[i];
    for (int b = 0; b < 256; b++) {
        size_t lo = start[b], len = start[b + 1] - start[b];
        if (len == 0)
            continue;
        memcpy(v + lo, tmp + lo, len * sizeof *v);
        if (len > 1)
            lsd_sort(v + lo, tmp + lo, len);
    }
    /* Runs of equal keys, in index order now (the sorts are stable). */
    const uint64_t key_lo = ~(((uint64_t)1 << 48) - 1);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && v[j].hi == v[i].hi &&
               (v[j].lo & key_lo) == (v[i].lo & key_lo))
            j++;
        if (j - i > 1)
            qsort_r(v + i, j - i, sizeof *v, by_value, (void *)data);
        i = j;
    }
}

static void *big_alloc(size_t n)
{
    size_t huge = 2u << 20;
    n = (n + huge - 1) / huge * huge;
    void *p = aligned_alloc(huge, n ? n : huge);
    if (p)
        madvise(p, n, MADV_HUGEPAGE);
    return p;
}

static int read_all(const char *path, unsigned char **data, size_t *size)
{
    int fd = open(path, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        fprintf(stderr, "sort-serial: %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t n = (size_t)sb.st_size, got = 0;
    unsigned char *buf = big_alloc(n);
    if (!buf) {
        fprintf(stderr, "sort-serial: no memory for %zu bytes\n", n);
        close(fd);
        return -1;
    }
    while (got < n) {
        size_t want = n - got < READ_BYTES ? n - got : READ_BYTES;
        ssize_t r = read(fd, buf + got, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            fprintf(stderr, "sort-serial: %s: %s\n", path,
                    r < 0 ? strerror(errno) : "shorter than its size");
            free(buf);
            close(fd);
            return -1;
        }
        got += (size_t)r;
    }
    close(fd);
    *data = buf;
    *size = n;
    return 0;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Copy the records in item order into a buffer, writing it as it fills. */
static int write_sorted(const char *path, const unsigned char *data,
                        const item *v, size_t n)
{
    const uint64_t mask = ((uint64_t)1 << 48) - 1;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    unsigned char *buf = malloc(WRITE_BYTES);
    int rc = fd < 0 || !buf ? -1 : 0;
    size_t used = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i + PREFETCH < n) {
            const unsigned char *p = data + (v[i + PREFETCH].lo & mask) * RECORD_BYTES;
            __builtin_prefetch(p);
            __builtin_prefetch(p + RECORD_BYTES - 1);
        }
        if (used + RECORD_BYTES > WRITE_BYTES) {
            rc = write_all(fd, buf, used);
            used = 0;
        }
        memcpy(buf + used, data + (v[i].lo & mask) * RECORD_BYTES, RECORD_BYTES);
        used += RECORD_BYTES;
    }
    if (rc == 0)
        rc = write_all(fd, buf, used);
    if (fd >= 0 && close(fd) != 0)
        rc = -1;
    if (rc != 0)
        fprintf(stderr, "sort-serial: %s: %s\n", path, strerror(errno));
    free(buf);
    return rc;
}

int main(int argc, char **argv)
{
    const char *output = NULL;
    int c;
    while ((c = getopt(argc, argv, "o:h")) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (!output || optind != argc - 1) {
        fputs(usage, stderr);
        return 2;
    }
    unsigned char *data;
    size_t size;
    if (read_all(argv[optind], &data, &size) != 0)
        return 1;
    if (size % RECORD_BYTES) {
        fprintf(stderr, "sort-serial: %s: %zu bytes is not a whole number of "
                "%d-byte records\n", argv[optind], size, RECORD_BYTES);
        return 1;
    }
    size_t n = size / RECORD_BYTES;
    if ((uint64_t)n >> 48) {
        fprintf(stderr, "sort-serial: more than 2^48 records\n");
        return 1;
    }
    item *v = big_alloc(n * sizeof *v);
    item *tmp = big_alloc(n * sizeof *tmp);
    if (!v || !tmp) {
        fprintf(stderr, "sort-serial: no memory for %zu records\n", n);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *k = data + i * RECORD_BYTES;
        v[i].hi = load_be64(k);
        v[i].lo = (uint64_t)k[8] << 56 | (uint64_t)k[9] << 48 | i;
    }
    sort_items(v, tmp, n, data);
    int rc = write_sorted(output, data, v, n);
    free(tmp);
    free(v);
    free(data);
    return rc == 0 ? 0 : 1;
}
