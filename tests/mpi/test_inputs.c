/* test_inputs: text input edge cases. Empty files, partitions that own no
 * line (splits smaller than lines), every position of a split boundary
 * relative to a line end (many split sizes, one context each), a single
 * 20 MB line, files without a final newline, CRLF, non-UTF-8 and NUL bytes,
 * many small files, kiln_batch_where(), and reading save_text output back.
 * Text sources keep file order, so every check is in order. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* A context whose text inputs are cut every `split` bytes. */
static kiln_context *ctx_split(const char *split)
{
    static char a0[] = "inputs", a2[] = "--kiln-quiet";
    static char a1[64];
    snprintf(a1, sizeof a1, "--kiln-split-bytes=%s", split);
    char *args[] = {a0, a1, a2, NULL};
    char **argv = args;
    int argc = 3;
    kiln_context *ctx = NULL;
    EXPECT_OK(kiln_init_comm(MPI_COMM_WORLD, &argc, &argv, &ctx));
    T.report_ctx = ctx;
    return ctx;
}

static void ctx_done(kiln_context **ctx)
{
    T.report_ctx = NULL;
    EXPECT_OK(kiln_finalize(ctx));
}

/* Split text the way the API defines lines: "\n" or "\r\n" ends a line; a
 * final line without a terminator still counts. */
static void reference_lines(const char *p, size_t len, t_strv *out)
{
    size_t at = 0;
    while (at < len) {
        const char *nl = memchr(p + at, '\n', len - at);
        if (!nl) {
            t_strv_add(out, p + at, len - at);
            return;
        }
        size_t end = (size_t)(nl - p), stop = end;
        if (stop > at && p[stop - 1] == '\r')
            stop--;
        t_strv_add(out, p + at, stop - at);
        at = end + 1;
    }
}

static void check_lines(kiln_context *ctx, const char *path, const t_strv *want,
                        const char *what)
{
    kiln_dataset *ds = NULL;
    EXPECT_OK(kiln_text_file(ctx, path, &ds));
    t_strv got = {0};
    t_collect_repr(ds, &got);
    CHECK_STRV(&got, want, what);
    t_strv_free(&got);
    uint64_t n = 0;
    EXPECT_OK(kiln_dataset_count(ds, &n));
    CHECK(n == want->n, "%s: count %llu, expected %zu", what, (unsigned long long)n,
          want->n);
    kiln_dataset_destroy(&ds);
}

static void check_text(kiln_context *ctx, const char *name, const char *text,
                       size_t len, const char *what)
{
    char *path = t_path("%s", name);
    t_write_file(path, text, len);
    t_barrier();
    t_strv want = {0};
    reference_lines(text, len, &want);
    check_lines(ctx, path, &want, what);
    t_strv_free(&want);
    free(path);
}

#define TEXT(s) s, sizeof(s) - 1

static void test_small_cases(void)
{
    t_section("empty files and final lines without a newline");
    kiln_context *ctx = T.ctx;
    check_text(ctx, "empty.txt", TEXT(""), "an empty file");
    check_text(ctx, "nl.txt", TEXT("\n"), "one empty line");
    check_text(ctx, "nlnl.txt", TEXT("\n\n"), "two empty lines");
    check_text(ctx, "x.txt", TEXT("x"), "one line, no newline");
    check_text(ctx, "abc.txt", TEXT("a\nb\nlast"), "last line without a newline");
    check_text(ctx, "abc2.txt", TEXT("a\nb\n"), "last line with a newline");
    {
        char *e = t_path("empty.txt"), *f = t_path("abc.txt");
        const char *paths[] = {e, f, e, e};
        kiln_dataset *ds = NULL;
        EXPECT_OK(kiln_text_files(ctx, paths, 4, &ds));
        t_strv got = {0}, want = {0};
        t_collect_repr(ds, &got);
        reference_lines(TEXT("a\nb\nlast"), &want);
        CHECK_STRV(&got, &want, "empty files around a file");
        t_strv_free(&got);
        t_strv_free(&want);
        kiln_dataset_destroy(&ds);
        free(e);
        free(f);
    }

    t_section("CRLF line ends are stripped, other CRs kept");
    check_text(ctx, "crlf.txt", TEXT("a\r\nb\r\n\r\nc\r"), "CRLF lines, final bare CR");
    check_text(ctx, "crcrlf.txt", TEXT("a\r\r\nx\ry\n\r\n"), "CR CR LF and a CR inside");
    check_text(ctx, "mixed.txt", TEXT("unix\ndos\r\nunix\n\r"), "mixed line ends");

    t_section("non-UTF-8 and NUL bytes pass through");
    check_text(ctx, "bytes.txt",
               TEXT("caf\xe9\n\xff\xfe\xfd\n\xc3\xa9t\xc3\xa9\n\x80\n\x00mid\x00\n\x01\x1f\x7f\n"),
               "arbitrary bytes");
}

/* ---- split boundaries ---- */

/* Lines of 0 to 24 bytes, some CRLF, some with odd bytes. */
static void make_sweep(t_buf *text, int nlines, uint64_t seed)
{
    for (int i = 0; i < nlines; i++) {
        uint64_t r = t_mix(seed + (uint64_t)i);
        int len = (int)(r % 25);
        for (int k = 0; k < len; k++)
            t_buf_addf(text, "%c", (char)(k == 3 && r % 7 == 0 ? 0xe9 : 'a' + (r >> k) % 26));
        t_buf_add(text, r % 5 == 0 ? "\r\n" : "\n", r % 5 == 0 ? 2 : 1);
    }
    t_buf_add(text, "tail", 4); /* no final newline */
}

static kiln_status where_map(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        char buf[4200];
        kiln_batch_where(in, i, buf, sizeof buf);
        kiln_status st = kiln_emit(out, NULL, 0, buf, strlen(buf));
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static void test_split_sweep(void)
{
    t_section("split boundaries at every position relative to line ends");
    t_buf text = {0};
    make_sweep(&text, 120, 7);
    char *path = t_path("sweep.txt");
    t_write_file(path, text.p, text.len);
    t_barrier();
    t_strv want = {0};
    reference_lines(text.p, text.len, &want);
    const char *splits[] = {"1", "2", "3", "5", "7", "13", "24", "25", "26", "64", "1000"};
    for (size_t s = 0; s < sizeof splits / sizeof splits[0]; s++) {
        kiln_context *ctx = ctx_split(splits[s]);
        char what[64];
        snprintf(what, sizeof what, "split every %s bytes", splits[s]);
        check_lines(ctx, path, &want, what);
        ctx_done(&ctx);
    }

    t_section("kiln_batch_where names FILE:LINE across splits");
    kiln_context *ctx = ctx_split("7");
    kiln_dataset *ds = NULL, *w = NULL;
    EXPECT_OK(kiln_text_file(ctx, path, &ds));
    EXPECT_OK(kiln_dataset_map(ds, kiln_schema_of(KILN_T_NONE, KILN_T_STRING),
                               where_map, NULL, &w));
    t_strv got = {0}, want_where = {0};
    t_collect_repr(w, &got);
    for (size_t i = 0; i < want.n; i++) {
        t_buf line = {0};
        t_buf_addf(&line, "%s:%zu", path, i + 1);
        t_strv_add(&want_where, line.p, line.len);
        t_buf_free(&line);
    }
    CHECK_STRV(&got, &want_where, "kiln_batch_where of each line");
    t_strv_free(&got);
    t_strv_free(&want_where);
    /* After a map the records no longer come straight from a file. */
    kiln_dataset *w2 = NULL;
    EXPECT_OK(kiln_dataset_map(w, kiln_schema_of(KILN_T_NONE, KILN_T_STRING),
                               where_map, NULL, &w2));
    t_collect_repr(w2, &got);
    bool all_partition = got.n == want.n;
    for (size_t i = 0; i < got.n && all_partition; i++)
        all_partition = !strncmp(got.s[i], "partition ", 10);
    CHECK(all_partition, "kiln_batch_where after a map: '%s'", got.n ? got.s[0] : "");
    t_strv_free(&got);
    kiln_dataset_destroy(&w2);
    kiln_dataset_destroy(&w);
    kiln_dataset_destroy(&ds);
    ctx_done(&ctx);
    t_strv_free(&want);
    t_buf_free(&text);
    free(path);
}

static void test_empty_partitions(void)
{
    t_section("splits that own no line start (empty partitions)");
    t_buf text = {0};
    for (int i = 0; i < 60; i++) {
        for (int k = 0; k < 100 + i * 3; k++)
            t_buf_addf(&text, "%c", 'A' + (i + k) % 26);
        t_buf_add(&text, i % 2 ? "\r\n" : "\n", i % 2 ? 2 : 1);
    }
    char *path = t_path("long-lines.txt");
    t_write_file(path, text.p, text.len);
    t_barrier();
    t_strv want = {0};
    reference_lines(text.p, text.len, &want);
    kiln_context *ctx = ctx_split("16");
    check_lines(ctx, path, &want, "lines of ~200 bytes in 16-byte splits");
    ctx_done(&ctx);
    t_strv_free(&want);
    t_buf_free(&text);
    free(path);
}

/* ---- a 20 MB line ---- */

/* Each line -> STRING "<length>:<hash>" (collecting 20 MB would be heavy). */
static kiln_status digest(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        const unsigned char *p = kiln_batch_value(in, i, &len);
        uint64_t h = 1469598103934665603ull;
        for (size_t k = 0; k < len; k++)
            h = (h ^ p[k]) * 1099511628211ull;
        char text[64];
        int n = snprintf(text, sizeof text, "%zu:%016llx", len, (unsigned long long)h);
        kiln_status st = kiln_emit(out, NULL, 0, text, (size_t)n);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static void digest_ref(const char *p, size_t len, t_strv *out)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t k = 0; k < len; k++)
        h = (h ^ (unsigned char)p[k]) * 1099511628211ull;
    t_strv_addf(out, "%zu:%016llx", len, (unsigned long long)h);
}

static void test_huge_line(void)
{
    t_section("a single 20 MB line in 256 KiB splits");
    enum { BIG = 20 << 20 };
    char *line = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        line[i] = (char)('a' + t_mix(i / 64) % 26); /* no newline in it */
    char *path1 = t_path("huge.txt"), *path2 = t_path("huge-then-more.txt");
    if (T.rank == 0) {
        t_write_file(path1, line, BIG); /* one line, no newline at all */
        t_buf more = {0};
        t_buf_add(&more, line, BIG);
        t_buf_add(&more, "\r\nshort\n\nend", 12);
        t_write_file(path2, more.p, more.len);
        t_buf_free(&more);
    }
    t_barrier();
    kiln_context *ctx = ctx_split("256K");
    const char *paths[2] = {path1, path2};
    for (int f = 0; f < 2; f++) {
        kiln_dataset *ds = NULL, *d = NULL;
        EXPECT_OK(kiln_text_file(ctx, paths[f], &ds));
        EXPECT_OK(kiln_dataset_map(ds, kiln_schema_of(KILN_T_NONE, KILN_T_STRING),
                                   digest, NULL, &d));
        t_strv got = {0}, want = {0};
        t_collect_repr(d, &got);
        digest_ref(line, BIG, &want);
        if (f == 1) {
            digest_ref("short", 5, &want);
            digest_ref("", 0, &want);
            digest_ref("end", 3, &want);
        }
        CHECK_STRV(&got, &want, f ? "20 MB line, then short lines" : "a file that is one 20 MB line");
        t_strv_free(&got);
        t_strv_free(&want);
        kiln_dataset_destroy(&d);
        kiln_dataset_destroy(&ds);
    }
    ctx_done(&ctx);
    free(line);
    free(path1);
    free(path2);
}

/* ---- many small files ---- */

static void test_many_files(void)
{
    t_section("a directory of 400 small files");
    char *dir = t_path("many");
    t_mkdir(dir);
    t_strv want = {0};
    for (int f = 0; f < 400; f++) {
        t_buf body = {0};
        uint64_t r = t_mix((uint64_t)f + 1000);
        int lines = (int)(r % 4); /* 0 to 3 lines */
        for (int l = 0; l < lines; l++)
            t_buf_addf(&body, "file %d line %d%s", f, l,
                       l + 1 < lines || r % 3 ? "\n" : ""); /* some lack the final \n */
        char *p = t_path("many/f%04d.txt", f);
        t_write_file(p, body.p ? body.p : "", body.len);
        reference_lines(body.p ? body.p : "", body.len, &want);
        free(p);
        t_buf_free(&body);
    }
    t_barrier();
    check_lines(T.ctx, dir, &want, "400 files in name order");
    char *pattern = t_path("many/f01*.txt");
    kiln_dataset *ds = NULL;
    EXPECT_OK(kiln_text_file(T.ctx, pattern, &ds));
    uint64_t n = 0;
    EXPECT_OK(kiln_dataset_count(ds, &n));
    uint64_t expect = 0;
    for (size_t i = 0; i < want.n; i++) {
        int f = -1;
        sscanf(want.s[i], "file %d", &f);
        expect += f >= 100 && f < 200;
    }
    CHECK(n == expect, "glob over 100 of the files: %llu lines, expected %llu",
          (unsigned long long)n, (unsigned long long)expect);
    kiln_dataset_destroy(&ds);
    t_strv_free(&want);
    free(pattern);
    free(dir);
}

/* ---- save_text output read back ---- */

static void test_round_trip(void)
{
    t_section("save_text output read back with text_file");
    kiln_dataset *r = NULL, *back = NULL;
    EXPECT_OK(kiln_range(T.ctx, -500, 500, 7, 9, &r));
    char *dir = t_path("saved");
    EXPECT_OK(kiln_dataset_save_text(r, dir, NULL));
    EXPECT_OK(kiln_text_file(T.ctx, dir, &back)); /* _SUCCESS is not data */
    t_strv got = {0}, want = {0};
    t_collect_repr(back, &got);
    for (int v = -500; v < 500; v += 7)
        t_strv_addf(&want, "%d", v);
    CHECK_STRV(&got, &want, "lines of the part files, in order");
    t_strv_free(&got);
    t_strv_free(&want);
    kiln_dataset_destroy(&back);
    kiln_dataset_destroy(&r);
    free(dir);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    test_small_cases();
    test_split_sweep();
    test_empty_partitions();
    test_huge_line();
    test_many_files();
    test_round_trip();
    return t_finish();
}
