/* tests/unit/test_io.c: text inputs and outputs (runtime/io.h). The central
 * property: however a file is cut into splits, the lines of all splits, in
 * split order, are exactly the file's lines, each once. Every test works in
 * its own temporary directory, removed afterwards. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/io.h"

static const kiln_schema LINES = {{.kind = KILN_KIND_NONE},
                                  {.kind = KILN_KIND_STRING}};

/* ---- helpers ---- */

typedef struct fixture {
    char dir[256];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/kiln-unit-io-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    kiln__error_clear();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    kiln_status st = kiln__remove_tree(f->dir);
    struct stat sb;
    int gone = stat(f->dir, &sb) != 0;
    free(f);
    return st == KILN_OK && gone ? 0 : -1;
}

static void path_in(const fixture *f, const char *name, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s", f->dir, name);
    assert_true(n > 0 && (size_t)n < size);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    if (len)
        assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Lines with the file offset where each starts. */
typedef struct lines {
    size_t n, cap;
    uint64_t *offset;
    size_t *len;
    char **text;
} lines;

static void lines_add(lines *l, uint64_t offset, const void *p, size_t len)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->offset = realloc(l->offset, l->cap * sizeof *l->offset);
        l->len = realloc(l->len, l->cap * sizeof *l->len);
        l->text = realloc(l->text, l->cap * sizeof *l->text);
        assert_non_null(l->offset);
        assert_non_null(l->len);
        assert_non_null(l->text);
    }
    l->offset[l->n] = offset;
    l->len[l->n] = len;
    l->text[l->n] = malloc(len ? len : 1);
    assert_non_null(l->text[l->n]);
    if (len)
        memcpy(l->text[l->n], p, len);
    l->n++;
}

static void lines_free(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->text[i]);
    free(l->offset);
    free(l->len);
    free(l->text);
    memset(l, 0, sizeof *l);
}

/* What a file's lines are: split at '\n'; a '\r' just before the '\n' is
 * part of the terminator; no empty line after a final '\n'. */
static void reference_lines(const unsigned char *d, size_t n, lines *out)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] != '\n')
            continue;
        size_t len = i - start;
        if (len && d[i - 1] == '\r')
            len--;
        lines_add(out, start, d + start, len);
        start = i + 1;
    }
    if (start < n)
        lines_add(out, start, d + start, n - start);
}

/* Read one split to its end, appending its lines to out. */
static void read_split(const char *path, uint64_t offset, uint64_t length,
                       size_t max_records, size_t max_bytes, lines *out)
{
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__text_reader r;
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &LINES), KILN_OK);
    assert_int_equal(kiln__text_open(&r, &m, path, offset, length), KILN_OK);
    bool done = false;
    while (!done) {
        kiln__block_clear(&b);
        assert_int_equal(kiln__text_next(&r, &b, max_records, max_bytes, &done),
                         KILN_OK);
        assert_true(b.n <= max_records);
        if (!done)
            assert_true(b.n > 0); /* progress on every call */
        kiln_batch v;
        kiln__block_view(&b, 0, b.n, 0, &v);
        for (size_t i = 0; i < v.n; i++) {
            size_t len;
            const void *p = kiln_batch_value(&v, i, &len);
            lines_add(out, r.origin.line_offsets[i], p, len);
        }
        assert_string_equal(r.origin.path, path);
    }
    kiln__text_close(&r);
    kiln__block_release(&b);
    assert_int_equal(m.in_use, 0);
}

static void read_all(const kiln__text_splits *s, size_t max_records,
                     size_t max_bytes, lines *out)
{
    for (uint32_t i = 0; i < s->nsplits; i++)
        read_split(s->files[s->splits[i].file], s->splits[i].offset,
                   s->splits[i].length, max_records, max_bytes, out);
}

static void assert_lines_equal(const lines *got, const lines *want,
                               const char *what, uint64_t split_bytes)
{
    if (got->n != want->n)
        fail_msg("%s, splits of %llu: %zu lines read, %zu in the file", what,
                 (unsigned long long)split_bytes, got->n, want->n);
    for (size_t i = 0; i < want->n; i++) {
        if (got->len[i] != want->len[i] || got->offset[i] != want->offset[i] ||
            (want->len[i] && memcmp(got->text[i], want->text[i], want->len[i])))
            fail_msg("%s, splits of %llu: line %zu differs (offset %llu/%llu, "
                     "length %zu/%zu)", what, (unsigned long long)split_bytes, i,
                     (unsigned long long)got->offset[i],
                     (unsigned long long)want->offset[i], got->len[i],
                     want->len[i]);
    }
}

/* Split the file at `path` (holding data) every way in [lo, hi] and with a
 * few batch limits; every way must give the reference lines. */
static void check_every_split(const char *path, const void *data, size_t size,
                              uint64_t lo, uint64_t hi, const char *what)
{
    lines want = {0};
    reference_lines(data, size, &want);
    const size_t limits[][2] = {{1, SIZE_MAX}, {3, SIZE_MAX}, {4096, 1 << 20},
                                {4096, 10}};
    for (uint64_t sb = lo; sb <= hi; sb++) {
        kiln__text_splits *s = NULL;
        assert_int_equal(kiln__text_split(&path, 1, sb, 0, &s), KILN_OK);
        for (size_t l = 0; l < 4; l++) {
            lines got = {0};
            read_all(s, limits[l][0], limits[l][1], &got);
            assert_lines_equal(&got, &want, what, sb);
            lines_free(&got);
        }
        kiln__text_splits_destroy(&s);
        assert_null(s);
    }
    lines_free(&want);
}

/* ---- splitting ---- */

static void split_cuts_equal_ranges(void **state)
{
    fixture *f = *state;
    char path[512];
    path_in(f, "data.txt", path, sizeof path);
    char data[1000];
    memset(data, 'a', sizeof data);
    write_file(path, data, sizeof data);
    const char *paths[] = {path};
    const uint64_t sizes[] = {1, 3, 7, 100, 300, 333, 999, 1000, 1001, 1 << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        kiln__text_splits *s = NULL;
        assert_int_equal(kiln__text_split(paths, 1, sizes[k], 0, &s), KILN_OK);
        assert_int_equal(s->nfiles, 1);
        assert_string_equal(s->files[0], path);
        uint64_t want = (1000 + sizes[k] - 1) / sizes[k];
        assert_int_equal(s->nsplits, want);
        uint64_t at = 0, min = UINT64_MAX, max = 0;
        for (uint32_t i = 0; i < s->nsplits; i++) {
            assert_int_equal(s->splits[i].file, 0);
            assert_int_equal(s->splits[i].offset, at); /* contiguous */
            assert_true(s->splits[i].length <= sizes[k]);
            at += s->splits[i].length;
            if (s->splits[i].length < min)
                min = s->splits[i].length;
            if (s->splits[i].length > max)
                max = s->splits[i].length;
        }
        assert_int_equal(at, 1000);
        assert_true(max - min <= 1); /* equal, no sliver at the end */
        kiln__text_splits_destroy(&s);
    }
}

static void split_of_an_empty_file_is_one_empty_range(void **state)
{
    fixture *f = *state;
    char path[512];
    path_in(f, "empty.txt", path, sizeof path);
    write_file(path, "", 0);
    const char *paths[] = {path};
    kiln__text_splits *s = NULL;
    assert_int_equal(kiln__text_split(paths, 1, 0, 0, &s), KILN_OK); /* 0: as 1 */
    assert_int_equal(s->nsplits, 1);
    assert_int_equal(s->splits[0].length, 0);
    kiln__text_splits_destroy(&s);
}

static void split_directory_skips_hidden_names(void **state)
{
    fixture *f = *state;
    char dir[512], p[600];
    path_in(f, "in", dir, sizeof dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    const char *names[] = {"b.txt", "a.txt", ".hidden", "_SUCCESS", "_tmp.txt",
                           "c"};
    for (size_t i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        write_file(p, "x\n", 2);
    }
    snprintf(p, sizeof p, "%s/sub", dir); /* subdirectories are not inputs */
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/sub/inner.txt", dir);
    write_file(p, "y\n", 2);

    const char *paths[] = {dir};
    kiln__text_splits *s = NULL;
    assert_int_equal(kiln__text_split(paths, 1, 1 << 20, 0, &s), KILN_OK);
    assert_int_equal(s->nfiles, 3);
    const char *want[] = {"a.txt", "b.txt", "c"}; /* name order */
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, want[i]);
        assert_string_equal(s->files[i], p);
    }
    assert_int_equal(s->nsplits, 3);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(s->splits[i].file, i);
    kiln__text_splits_destroy(&s);
}

static void split_glob_and_several_paths(void **state)
{
    fixture *f = *state;
    char p[600];
    const char *names[] = {"part-2.txt", "part-1.txt", "other.log", "part-3.csv"};
    for (int i = 0; i < 4; i++) {
        path_in(f, names[i], p, sizeof p);
        write_file(p, "1234567890", 10);
    }
    char pattern[512];
    path_in(f, "part-*.txt", pattern, sizeof pattern);
    char log[512];
    path_in(f, "other.log", log, sizeof log);
    const char *paths[] = {log, pattern}; /* paths keep their order */
    kiln__text_splits *s = NULL;
    assert_int_equal(kiln__text_split(paths, 2, 4, 0, &s), KILN_OK);
    assert_int_equal(s->nfiles, 3);
    assert_string_equal(s->files[0], log);
    path_in(f, "part-1.txt", p, sizeof p);
    assert_string_equal(s->files[1], p);
    path_in(f, "part-2.txt", p, sizeof p);
    assert_string_equal(s->files[2], p);
    assert_int_equal(s->nsplits, 9); /* 3 per 10-byte file */
    for (uint32_t i = 0; i < 9; i++)
        assert_int_equal(s->splits[i].file, i / 3);
    kiln__text_splits_destroy(&s);

    /* A pattern that matches a directory reads the directory. */
    char dir[512];
    path_in(f, "dir-one", dir, sizeof dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(p, sizeof p, "%s/x", dir);
    write_file(p, "x\n", 2);
    path_in(f, "dir-*", pattern, sizeof pattern);
    const char *one[] = {pattern};
    assert_int_equal(kiln__text_split(one, 1, 100, 0, &s), KILN_OK);
    assert_int_equal(s->nfiles, 1);
    assert_string_equal(s->files[0], p);
    kiln__text_splits_destroy(&s);
}

static void split_missing_input_names_it(void **state)
{
    fixture *f = *state;
    char p[512];
    path_in(f, "no-such-file.txt", p, sizeof p);
    const char *paths[] = {p};
    kiln__text_splits *s = (kiln__text_splits *)&s; /* must stay untouched */
    kiln__text_splits *const sentinel = s;
    assert_int_equal(kiln__text_split(paths, 1, 100, 0, &s), KILN_ERR_IO);
    assert_ptr_equal(s, sentinel);
    assert_non_null(strstr(kiln__error_message(), p));

    /* A missing second path fails the whole call. */
    char good[512];
    path_in(f, "good.txt", good, sizeof good);
    write_file(good, "g\n", 2);
    const char *two[] = {good, p};
    kiln__error_clear();
    assert_int_equal(kiln__text_split(two, 2, 100, 0, &s), KILN_ERR_IO);
    assert_ptr_equal(s, sentinel);
    assert_non_null(strstr(kiln__error_message(), "no-such-file.txt"));

    /* A pattern matching nothing. */
    char pattern[512];
    path_in(f, "nothing-*.txt", pattern, sizeof pattern);
    const char *pat[] = {pattern};
    kiln__error_clear();
    assert_int_equal(kiln__text_split(pat, 1, 100, 0, &s), KILN_ERR_IO);
    assert_non_null(strstr(kiln__error_message(), "nothing-*.txt"));
}

/* ---- reading splits ---- */

static void read_check(const fixture *f, const char *name, const char *data,
                       size_t size)
{
    char path[512];
    path_in(f, name, path, sizeof path);
    write_file(path, data, size);
    check_every_split(path, data, size, 1, 50, name);
}

static void lines_with_and_without_trailing_newline(void **state)
{
    fixture *f = *state;
    const char a[] = "one\ntwo\nthree\nfour four\nfive\n";
    read_check(f, "trailing.txt", a, sizeof a - 1);
    const char b[] = "one\ntwo\nthree\nfour four\nfive";
    read_check(f, "no-trailing.txt", b, sizeof b - 1);
    const char c[] = "x";
    read_check(f, "one-char.txt", c, 1);
}

static void crlf_and_empty_lines(void **state)
{
    fixture *f = *state;
    const char crlf[] = "alpha\r\nbeta\r\n\r\ngamma\r\n";
    read_check(f, "crlf.txt", crlf, sizeof crlf - 1);
    const char empty[] = "\n\n\nx\n\n";
    read_check(f, "empty-lines.txt", empty, sizeof empty - 1);
    const char nl[] = "\n";
    read_check(f, "newline.txt", nl, 1);
    /* A '\r' elsewhere is data; at the very end without '\n' too. */
    const char cr[] = "a\rb\n\r\n\r\rc\r";
    read_check(f, "lone-cr.txt", cr, sizeof cr - 1);
}

static void an_empty_file_has_no_lines(void **state)
{
    fixture *f = *state;
    read_check(f, "empty.txt", "", 0);
}

static void mixed_line_lengths(void **state)
{
    fixture *f = *state;
    /* 180 bytes of lines 0..19 long, some CRLF. */
    char data[400];
    size_t n = 0;
    for (int i = 0; n < 180; i++) {
        int len = (i * 7) % 20;
        for (int j = 0; j < len; j++)
            data[n++] = (char)('a' + (i + j) % 26);
        if (i % 4 == 3)
            data[n++] = '\r';
        data[n++] = '\n';
    }
    data[n++] = 'e';
    data[n++] = 'n';
    data[n++] = 'd';
    read_check(f, "mixed.txt", data, n);
}

static void line_longer_than_the_read_buffer(void **state)
{
    fixture *f = *state;
    enum { LONG = (5 << 20) + 123 };
    size_t size = 6 + LONG + 1 + 5;
    char *data = malloc(size);
    assert_non_null(data);
    memcpy(data, "first\n", 6);
    for (size_t i = 0; i < LONG; i++)
        data[6 + i] = (char)('a' + i % 23);
    memcpy(data + 6 + LONG, "\nlast\n", 6);
    char path[512];
    path_in(f, "long.txt", path, sizeof path);
    write_file(path, data, size);
    lines want = {0};
    reference_lines((unsigned char *)data, size, &want);
    assert_int_equal(want.n, 3);
    const uint64_t splits[] = {64 << 20, 1 << 20, 3 << 20, 4 << 20, 6 + LONG,
                               7 + LONG};
    const char *paths[] = {path};
    for (size_t k = 0; k < sizeof splits / sizeof splits[0]; k++) {
        kiln__text_splits *s = NULL;
        assert_int_equal(kiln__text_split(paths, 1, splits[k], 0, &s), KILN_OK);
        lines got = {0};
        read_all(s, 4096, 1 << 20, &got);
        assert_lines_equal(&got, &want, "long line", splits[k]);
        lines_free(&got);
        kiln__text_splits_destroy(&s);
    }
    lines_free(&want);

    /* The same without the last newline: the long line ends the file. */
    path_in(f, "long-end.txt", path, sizeof path);
    write_file(path, data, 6 + LONG);
    reference_lines((unsigned char *)data, 6 + LONG, &want);
    kiln__text_splits *s = NULL;
    assert_int_equal(kiln__text_split(paths, 1, 2 << 20, 0, &s), KILN_OK);
    lines got = {0};
    read_all(s, 1, SIZE_MAX, &got);
    assert_lines_equal(&got, &want, "long last line", 2 << 20);
    lines_free(&got);
    lines_free(&want);
    kiln__text_splits_destroy(&s);
    free(data);
}

static void many_lines_across_read_chunks(void **state)
{
    fixture *f = *state;
    /* About 9 MiB of short lines: one split reads it in several 4 MiB
     * chunks, so lines straddle chunk ends. */
    size_t cap = 10 << 20, n = 0;
    char *data = malloc(cap);
    assert_non_null(data);
    for (uint64_t i = 0; n < (9u << 20); i++) {
        int len = (int)((i * 2654435761u) % 97);
        n += (size_t)snprintf(data + n, cap - n, "%llu:", (unsigned long long)i);
        for (int j = 0; j < len; j++)
            data[n++] = (char)('A' + j % 26);
        if (i % 5 == 0)
            data[n++] = '\r';
        data[n++] = '\n';
    }
    char path[512];
    path_in(f, "many.txt", path, sizeof path);
    write_file(path, data, n);
    lines want = {0};
    reference_lines((unsigned char *)data, n, &want);
    const char *paths[] = {path};
    const uint64_t splits[] = {16 << 20, 1 << 20, (5 << 20) / 2, 999999};
    for (size_t k = 0; k < sizeof splits / sizeof splits[0]; k++) {
        kiln__text_splits *s = NULL;
        assert_int_equal(kiln__text_split(paths, 1, splits[k], 0, &s), KILN_OK);
        lines got = {0};
        read_all(s, 4096, 1 << 20, &got);
        assert_lines_equal(&got, &want, "many lines", splits[k]);
        lines_free(&got);
        kiln__text_splits_destroy(&s);
    }
    lines_free(&want);
    free(data);
}

static void batches_respect_limits(void **state)
{
    fixture *f = *state;
    char path[512];
    path_in(f, "limits.txt", path, sizeof path);
    char data[2000];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(data + n, sizeof data - n, "line %02d\n", i);
    write_file(path, data, n);
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__text_reader r;
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &LINES), KILN_OK);
    assert_int_equal(kiln__text_open(&r, &m, path, 0, n), KILN_OK);
    bool done = false;
    assert_int_equal(kiln__text_next(&r, &b, 7, SIZE_MAX, &done), KILN_OK);
    assert_false(done);
    assert_int_equal(b.n, 7);
    kiln__block_clear(&b);
    /* Byte limit: each line counts its length + 8; stops once reached. */
    assert_int_equal(kiln__text_next(&r, &b, 1000, 40, &done), KILN_OK);
    assert_int_equal(b.n, 3);
    kiln_batch v;
    kiln__block_view(&b, 0, b.n, 0, &v);
    size_t len;
    const void *p = kiln_batch_value(&v, 0, &len);
    assert_int_equal(len, 7);
    assert_memory_equal(p, "line 07", 7);
    assert_int_equal(r.origin.line_offsets[0], 7 * 8);
    kiln__text_close(&r);
    kiln__block_release(&b);
    assert_int_equal(m.in_use, 0);
}

static void open_missing_file_fails(void **state)
{
    fixture *f = *state;
    char path[512];
    path_in(f, "gone.txt", path, sizeof path);
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__text_reader r;
    assert_int_equal(kiln__text_open(&r, &m, path, 0, 10), KILN_ERR_IO);
    assert_non_null(strstr(kiln__error_message(), "gone.txt"));
    kiln__text_close(&r); /* safe after a failed open */
    assert_int_equal(m.in_use, 0);
}

static void line_numbers(void **state)
{
    fixture *f = *state;
    char path[512];
    path_in(f, "numbers.txt", path, sizeof path);
    const char data[] = "a\nbb\n\nccc\r\nd";
    write_file(path, data, sizeof data - 1);
    assert_int_equal(kiln__text_line_number(path, 0), 1);
    assert_int_equal(kiln__text_line_number(path, 2), 2);
    assert_int_equal(kiln__text_line_number(path, 5), 3);
    assert_int_equal(kiln__text_line_number(path, 6), 4);
    assert_int_equal(kiln__text_line_number(path, 11), 5);
    assert_int_equal(kiln__text_line_number(path, 1000), 0); /* past the end */
    path_in(f, "absent.txt", path, sizeof path);
    assert_int_equal(kiln__text_line_number(path, 0), 0);

    /* Across the 1 MiB counting chunk. */
    enum { BIG = (3 << 20) + 5 };
    char *big = malloc(BIG);
    assert_non_null(big);
    uint64_t nl = 0;
    for (size_t i = 0; i < BIG; i++) {
        big[i] = i % 1000 == 999 ? '\n' : 'x';
        nl += big[i] == '\n';
    }
    path_in(f, "big-numbers.txt", path, sizeof path);
    write_file(path, big, BIG);
    assert_int_equal(kiln__text_line_number(path, BIG), nl + 1);
    assert_int_equal(kiln__text_line_number(path, 2000000), 2000 + 1);
    free(big);

    /* kiln_batch_where() names file and line from a batch's origin. */
    path_in(f, "numbers.txt", path, sizeof path);
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__text_reader r;
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &LINES), KILN_OK);
    assert_int_equal(kiln__text_open(&r, &m, path, 0, sizeof data - 1), KILN_OK);
    bool done;
    assert_int_equal(kiln__text_next(&r, &b, 100, SIZE_MAX, &done), KILN_OK);
    kiln_batch v;
    kiln__block_view(&b, 0, b.n, 0, &v);
    v.origin = &r.origin;
    char where[600], want[600];
    snprintf(want, sizeof want, "%s:4", path);
    assert_string_equal(kiln_batch_where(&v, 3, where, sizeof where), want);
    v.origin = NULL;
    v.partition = 6;
    assert_string_equal(kiln_batch_where(&v, 3, where, sizeof where),
                        "partition 6 record 3");
    kiln__text_close(&r);
    kiln__block_release(&b);

    /* From a binary file: the record's number and byte. 10 records of 8
     * bytes, a split from record 4 on. */
    uint64_t recs[10];
    for (uint64_t i = 0; i < 10; i++)
        recs[i] = i;
    path_in(f, "records.bin", path, sizeof path);
    write_file(path, recs, sizeof recs);
    const kiln_schema u64s = kiln_schema_of(KILN_T_NONE, KILN_T_U64);
    kiln__binary_reader br;
    assert_int_equal(kiln__block_init(&b, &m, &u64s), KILN_OK);
    assert_int_equal(kiln__binary_open(&br, &m, path, 32, 48, &u64s), KILN_OK);
    assert_int_equal(kiln__binary_next(&br, &b, 100, &done), KILN_OK);
    assert_true(done);
    kiln__block_view(&b, 0, b.n, 0, &v);
    v.origin = &br.origin;
    snprintf(want, sizeof want, "%s: record 6 (byte 40)", path);
    assert_string_equal(kiln_batch_where(&v, 1, where, sizeof where), want);
    kiln__binary_close(&br);
    kiln__block_release(&b);
}

/* ---- formatting ---- */

static void format_block(const kiln_schema *s, const kiln__block *b, char *out,
                         size_t size)
{
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__bytes bytes = {.mem = &m};
    kiln_batch v;
    kiln__block_view(b, 0, b->n, 0, &v);
    assert_int_equal(kiln__text_format(s, &v, &bytes), KILN_OK);
    assert_true(bytes.len < size);
    memcpy(out, bytes.data, bytes.len);
    out[bytes.len] = '\0';
    kiln__bytes_release(&bytes);
    assert_int_equal(m.in_use, 0);
}

static void format_integers_and_strings(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln_schema s = {KILN_T_U64, KILN_T_I64};
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &s), KILN_OK);
    uint64_t k[] = {0, 42, UINT64_MAX};
    int64_t v[] = {-1, INT64_MIN, INT64_MAX};
    for (int i = 0; i < 3; i++)
        assert_int_equal(kiln__block_append(&b, &k[i], 8, &v[i], 8), KILN_OK);
    char out[256];
    format_block(&s, &b, out, sizeof out);
    assert_string_equal(out, "0\t-1\n"
                             "42\t-9223372036854775808\n"
                             "18446744073709551615\t9223372036854775807\n");
    kiln__block_release(&b);

    kiln_schema str = {KILN_T_STRING, KILN_T_STRING};
    assert_int_equal(kiln__block_init(&b, &m, &str), KILN_OK);
    assert_int_equal(kiln__block_append(&b, "key", 3, "a value\twith tab", 16),
                     KILN_OK);
    assert_int_equal(kiln__block_append(&b, "", 0, "", 0), KILN_OK);
    format_block(&str, &b, out, sizeof out);
    assert_string_equal(out, "key\ta value\twith tab\n\t\n"); /* raw */
    kiln__block_release(&b);

    kiln_schema plain = {KILN_T_NONE, KILN_T_U64};
    assert_int_equal(kiln__block_init(&b, &m, &plain), KILN_OK);
    for (uint64_t i = 7; i < 10; i++)
        assert_int_equal(kiln__block_append(&b, NULL, 0, &i, 8), KILN_OK);
    format_block(&plain, &b, out, sizeof out);
    assert_string_equal(out, "7\n8\n9\n"); /* no key, no tab */
    kiln__block_release(&b);
    assert_int_equal(m.in_use, 0);
}

static void format_doubles_read_back_exactly(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln_schema s = {KILN_T_NONE, KILN_T_F64};
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &s), KILN_OK);
    const double v[] = {0.1, 1.0 / 3, -2.5, 1e300, 5e-324, 0.0, 123456789.0,
                        2.0 / 3 * 1e-10, 9007199254740993.0, -1.0 / 7};
    const size_t n = sizeof v / sizeof v[0];
    for (size_t i = 0; i < n; i++)
        assert_int_equal(kiln__block_append(&b, NULL, 0, &v[i], 8), KILN_OK);
    char out[1024];
    format_block(&s, &b, out, sizeof out);
    /* Each value reads back exactly. The digits themselves are not pinned:
     * kiln.h documents %.17g, text_write.c prints the shortest form that
     * reads back (0.1, not 0.10000000000000001); both pass here. */
    char *save = NULL, *line = strtok_r(out, "\n", &save);
    for (size_t i = 0; i < n; i++, line = strtok_r(NULL, "\n", &save)) {
        assert_non_null(line);
        char *end;
        double got = strtod(line, &end);
        assert_true(*end == '\0');
        if (got != v[i])
            fail_msg("%.17g printed as '%s'", v[i], line);
        assert_true(strlen(line) <= 24);
    }
    assert_null(line);
    kiln__block_release(&b);
    assert_int_equal(m.in_use, 0);
}

static void format_bytes_and_fixed_as_hex(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    kiln_schema s = {kiln_type_fixed(3, NULL, NULL, NULL), KILN_T_BYTES};
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &s), KILN_OK);
    const unsigned char key[3] = {0x00, 0xab, 0xff};
    const unsigned char val[4] = {0x10, 0x01, 0x7f, 0x80};
    assert_int_equal(kiln__block_append(&b, key, 3, val, 4), KILN_OK);
    assert_int_equal(kiln__block_append(&b, key, 3, val, 0), KILN_OK);
    char out[128];
    format_block(&s, &b, out, sizeof out);
    assert_string_equal(out, "00abff\t10017f80\n00abff\t\n");
    kiln__block_release(&b);
    assert_int_equal(m.in_use, 0);
}

static void format_lists(void **state)
{
    (void)state;
    kiln__mem m;
    kiln__mem_init(&m);
    /* A LIST of U64: elements back to back. */
    kiln_schema s = {KILN_T_STRING, {.kind = KILN_KIND_LIST,
                                     .elem_kind = KILN_KIND_U64, .elem_size = 8}};
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &s), KILN_OK);
    uint64_t list[3] = {1, 20, 300};
    assert_int_equal(kiln__block_append(&b, "k", 1, list, sizeof list), KILN_OK);
    assert_int_equal(kiln__block_append(&b, "none", 4, list, 0), KILN_OK);
    assert_int_equal(kiln__block_append(&b, "one", 3, &list[2], 8), KILN_OK);
    char out[256];
    format_block(&s, &b, out, sizeof out);
    assert_string_equal(out, "k\t1,20,300\nnone\t\none\t300\n");
    kiln__block_release(&b);

    /* A LIST of STRING: each element length-prefixed. */
    kiln_schema vs = {KILN_T_U64, {.kind = KILN_KIND_LIST,
                                   .elem_kind = KILN_KIND_STRING, .elem_size = 0}};
    assert_int_equal(kiln__block_init(&b, &m, &vs), KILN_OK);
    unsigned char enc[256]; /* > 128 keeps GCC from flagging kiln__copy's memcpy branch */
    size_t len = 0;
    const char *elems[] = {"ab", "", "cde"};
    for (int i = 0; i < 3; i++) {
        uint64_t n = strlen(elems[i]);
        memcpy(enc + len, &n, 8);
        memcpy(enc + len + 8, elems[i], n);
        len += 8 + n;
    }
    uint64_t key = 5;
    assert_int_equal(kiln__block_append(&b, &key, 8, enc, len), KILN_OK);
    format_block(&vs, &b, out, sizeof out);
    assert_string_equal(out, "5\tab,,cde\n");
    kiln__block_release(&b);

    /* A LIST of BYTES: hex elements. */
    kiln_schema bs = {KILN_T_NONE, {.kind = KILN_KIND_LIST,
                                    .elem_kind = KILN_KIND_BYTES, .elem_size = 0}};
    assert_int_equal(kiln__block_init(&b, &m, &bs), KILN_OK);
    len = 0;
    uint64_t one = 1, two = 2;
    memcpy(enc, &one, 8);
    enc[8] = 0xfe;
    memcpy(enc + 9, &two, 8);
    enc[17] = 0x00;
    enc[18] = 0x0a;
    assert_int_equal(kiln__block_append(&b, NULL, 0, enc, 19), KILN_OK);
    format_block(&bs, &b, out, sizeof out);
    assert_string_equal(out, "fe,000a\n");
    kiln__block_release(&b);
    assert_int_equal(m.in_use, 0);
}

/* ---- part files and output directories ---- */

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The names in dir (without "." and ".."), sorted. */
static size_t list_dir(const char *dir, char names[][64], size_t max)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        assert_true(n < max);
        size_t len = strlen(e->d_name);
        assert_true(len < 64);
        memcpy(names[n++], e->d_name, len + 1);
    }
    closedir(d);
    qsort(names, n, 64, by_name);
    return n;
}

static void write_part(const char *dir, uint32_t partition, uint64_t value)
{
    kiln__mem m;
    kiln__mem_init(&m);
    kiln_schema s = {KILN_T_NONE, KILN_T_U64};
    kiln__block b;
    assert_int_equal(kiln__block_init(&b, &m, &s), KILN_OK);
    assert_int_equal(kiln__block_append(&b, NULL, 0, &value, 8), KILN_OK);
    kiln_batch v;
    kiln__block_view(&b, 0, 1, partition, &v);
    kiln__part_writer w;
    assert_int_equal(kiln__part_open(&w, &m, dir, partition), KILN_OK);
    assert_int_equal(kiln__part_write(&w, &s, &v), KILN_OK);
    assert_int_equal(kiln__part_close(&w, true), KILN_OK);
    kiln__block_release(&b);
    assert_int_equal(m.in_use, 0);
}

static void read_text(const char *path, char *out, size_t size)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t n = fread(out, 1, size - 1, fp);
    out[n] = '\0';
    fclose(fp);
}

static void output_appears_whole_with_success_marker(void **state)
{
    fixture *f = *state;
    char dir[512], staging[1024], p[1200];
    path_in(f, "out/nested/result", dir, sizeof dir); /* parents are made */
    assert_int_equal(kiln__output_prepare(dir, false, "job1", staging,
                                          sizeof staging), KILN_OK);
    assert_non_null(strstr(staging, "job1"));
    assert_true(exists(staging));
    assert_false(exists(dir)); /* nothing at the target until commit */
    write_part(staging, 0, 11);
    write_part(staging, 1, 22);
    assert_int_equal(kiln__output_commit(dir, staging, "job1"), KILN_OK);
    assert_false(exists(staging));
    char names[8][64];
    assert_int_equal(list_dir(dir, names, 8), 3);
    assert_string_equal(names[0], "_SUCCESS");
    assert_string_equal(names[1], "part-00000");
    assert_string_equal(names[2], "part-00001");
    snprintf(p, sizeof p, "%s/part-00001", dir);
    char text[64];
    read_text(p, text, sizeof text);
    assert_string_equal(text, "22\n");
    /* Beside the target: only the target (no staging or leftovers). */
    char parent[512];
    path_in(f, "out/nested", parent, sizeof parent);
    assert_int_equal(list_dir(parent, names, 8), 1);
    assert_string_equal(names[0], "result");
}

static void existing_output_is_refused_without_overwrite(void **state)
{
    fixture *f = *state;
    char dir[512], staging[1024], p[1200];
    path_in(f, "result", dir, sizeof dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(p, sizeof p, "%s/part-00000", dir);
    write_file(p, "old\n", 4);
    strcpy(staging, "untouched");
    assert_int_equal(kiln__output_prepare(dir, false, "job2", staging,
                                          sizeof staging), KILN_ERR_EXISTS);
    assert_non_null(strstr(kiln__error_message(), dir));
    assert_true(exists(p)); /* the old output is intact */
    char names[8][64];
    assert_int_equal(list_dir(f->dir, names, 8), 1); /* no staging made */

    /* A plain file in the way is refused even with overwrite. */
    char file[512];
    path_in(f, "a-file", file, sizeof file);
    write_file(file, "x", 1);
    assert_int_equal(kiln__output_prepare(file, true, "job2", staging,
                                          sizeof staging), KILN_ERR_EXISTS);
}

static void overwrite_replaces_the_old_directory_whole(void **state)
{
    fixture *f = *state;
    char dir[512], staging[1024], p[1200];
    path_in(f, "result", dir, sizeof dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    const char *old[] = {"part-00000", "part-00001", "part-00002", "_SUCCESS",
                         "notes.txt"};
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, old[i]);
        write_file(p, "old\n", 4);
    }
    /* A trailing slash names the same directory. */
    char slashed[600];
    snprintf(slashed, sizeof slashed, "%s//", dir);
    assert_int_equal(kiln__output_prepare(slashed, true, "job3", staging,
                                          sizeof staging), KILN_OK);
    assert_true(exists(p)); /* old output stays until commit */
    write_part(staging, 0, 33);
    assert_int_equal(kiln__output_commit(slashed, staging, "job3"), KILN_OK);
    char names[8][64];
    assert_int_equal(list_dir(dir, names, 8), 2); /* no mix of old and new */
    assert_string_equal(names[0], "_SUCCESS");
    assert_string_equal(names[1], "part-00000");
    snprintf(p, sizeof p, "%s/part-00000", dir);
    char text[64];
    read_text(p, text, sizeof text);
    assert_string_equal(text, "33\n");
    assert_int_equal(list_dir(f->dir, names, 8), 1); /* old copy deleted */
    assert_string_equal(names[0], "result");
}

static void abort_and_failed_parts_leave_nothing(void **state)
{
    fixture *f = *state;
    char dir[512], staging[1024];
    path_in(f, "result", dir, sizeof dir);
    assert_int_equal(kiln__output_prepare(dir, false, "job4", staging,
                                          sizeof staging), KILN_OK);
    write_part(staging, 0, 1);
    /* A part closed after a failure is removed. */
    kiln__mem m;
    kiln__mem_init(&m);
    kiln__part_writer w;
    assert_int_equal(kiln__part_open(&w, &m, staging, 7), KILN_OK);
    char p[1200];
    snprintf(p, sizeof p, "%s/part-00007", staging);
    assert_true(exists(p));
    assert_int_equal(kiln__part_close(&w, false), KILN_OK);
    assert_false(exists(p));
    assert_int_equal(m.in_use, 0);
    kiln__output_abort(staging);
    assert_false(exists(staging));
    assert_false(exists(dir));
    kiln__output_abort(NULL); /* allowed */
    assert_int_equal(kiln__remove_tree(staging), KILN_OK); /* gone: fine */
}

static void prepare_twice_starts_a_fresh_staging_dir(void **state)
{
    fixture *f = *state;
    char dir[512], staging[1024], again[1024];
    path_in(f, "result", dir, sizeof dir);
    assert_int_equal(kiln__output_prepare(dir, false, "job5", staging,
                                          sizeof staging), KILN_OK);
    write_part(staging, 3, 3);
    /* A retried job with the same id: the leftover staging is emptied. */
    assert_int_equal(kiln__output_prepare(dir, false, "job5", again,
                                          sizeof again), KILN_OK);
    assert_string_equal(staging, again);
    char names[4][64];
    assert_int_equal(list_dir(again, names, 4), 0);
    kiln__output_abort(again);
}

/* ---- split lists on the wire ---- */

static void splits_pack_round_trip(void **state)
{
    fixture *f = *state;
    char a[512], b[512];
    path_in(f, "a.txt", a, sizeof a);
    path_in(f, "b-longer-name.txt", b, sizeof b);
    write_file(a, "0123456789abcdef", 16);
    write_file(b, "", 0);
    const char *paths[] = {a, b};
    kiln__text_splits *s = NULL;
    assert_int_equal(kiln__text_split(paths, 2, 5, 0, &s), KILN_OK);
    unsigned char *buf = NULL;
    size_t len = 0;
    assert_int_equal(kiln__text_splits_pack(s, &buf, &len), KILN_OK);
    kiln__text_splits *t = NULL;
    assert_int_equal(kiln__text_splits_unpack(buf, len, &t), KILN_OK);
    assert_int_equal(t->nfiles, s->nfiles);
    assert_int_equal(t->nsplits, s->nsplits);
    for (uint32_t i = 0; i < s->nfiles; i++)
        assert_string_equal(t->files[i], s->files[i]);
    for (uint32_t i = 0; i < s->nsplits; i++) {
        assert_int_equal(t->splits[i].file, s->splits[i].file);
        assert_int_equal(t->splits[i].offset, s->splits[i].offset);
        assert_int_equal(t->splits[i].length, s->splits[i].length);
    }
    kiln__text_splits_destroy(&t);

    /* Every truncation, and a trailing byte, is refused. */
    for (size_t cut = 0; cut < len; cut++) {
        t = NULL;
        if (kiln__text_splits_unpack(buf, cut, &t) == KILN_OK)
            fail_msg("unpacked %zu of %zu bytes", cut, len);
        assert_null(t);
    }
    unsigned char *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, buf, len);
    longer[len] = 0;
    t = NULL;
    assert_int_not_equal(kiln__text_splits_unpack(longer, len + 1, &t), KILN_OK);
    /* A split naming a file that is not in the list. */
    memcpy(longer, buf, len);
    uint64_t bad = 99;
    memcpy(longer + len - 24, &bad, 8);
    assert_int_not_equal(kiln__text_splits_unpack(longer, len, &t), KILN_OK);
    /* A file name length running past the end. */
    memcpy(longer, buf, len);
    uint32_t huge = 0xfffffff0u;
    memcpy(longer + 8, &huge, 4);
    assert_int_not_equal(kiln__text_splits_unpack(longer, len, &t), KILN_OK);
    free(longer);
    free(buf);
    kiln__text_splits_destroy(&s);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(split_cuts_equal_ranges),
        T(split_of_an_empty_file_is_one_empty_range),
        T(split_directory_skips_hidden_names),
        T(split_glob_and_several_paths),
        T(split_missing_input_names_it),
        T(lines_with_and_without_trailing_newline),
        T(crlf_and_empty_lines),
        T(an_empty_file_has_no_lines),
        T(mixed_line_lengths),
        T(line_longer_than_the_read_buffer),
        T(many_lines_across_read_chunks),
        T(batches_respect_limits),
        T(open_missing_file_fails),
        T(line_numbers),
        T(format_integers_and_strings),
        T(format_doubles_read_back_exactly),
        T(format_bytes_and_fixed_as_hex),
        T(format_lists),
        T(output_appears_whole_with_success_marker),
        T(existing_output_is_refused_without_overwrite),
        T(overwrite_replaces_the_old_directory_whole),
        T(abort_and_failed_parts_leave_nothing),
        T(prepare_twice_starts_a_fresh_staging_dir),
        T(splits_pack_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
