/* test_sources: text_file (a file, a directory, a glob, several paths),
 * parallelize and range, each against the records the test itself wrote.
 * Sources have a defined order (partitions in order, records in order
 * within them), so collect must return exactly that sequence.
 * Run with a small --kiln-split-bytes so text inputs span many partitions. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Lines of varying length, some empty, with odd bytes; appended both to
 * the file text and to the expected lines. */
static void make_lines(t_buf *file, t_strv *want, const char *tag, int n,
                       uint64_t seed)
{
    t_buf line = {0};
    for (int i = 0; i < n; i++) {
        uint64_t r = t_mix(seed * 1000003u + (uint64_t)i);
        line.len = 0;
        t_buf_addf(&line, "%s:%d", tag, i);
        if (r % 11 == 0) {
            line.len = 0; /* an empty line */
        } else {
            for (uint64_t k = 0; k < r % 90; k++)
                t_buf_addf(&line, "%c", (char)('a' + (r >> (k % 48)) % 26));
        }
        t_buf_add(file, line.p ? line.p : "", line.len);
        t_buf_add(file, "\n", 1);
        t_strv_add(want, line.p ? line.p : "", line.len);
    }
    t_buf_free(&line);
}

static void append_strv(t_strv *dst, const t_strv *src)
{
    for (size_t i = 0; i < src->n; i++)
        t_strv_add(dst, src->s[i], src->len[i]);
}

static void check_lines(kiln_dataset *ds, const t_strv *want, const char *what)
{
    t_strv got = {0};
    t_collect_repr(ds, &got);
    CHECK_STRV(&got, want, what);
    CHECK(t_count(ds) == want->n, "%s: count differs from %zu", what, want->n);
    t_strv_free(&got);
}

/* Files a.txt .. plus entries a directory read must skip. */
typedef struct file_spec {
    const char *name;
    int lines;
} file_spec;

static const file_spec dir_files[] = {
    /* listed in strcmp order, which is the order Kiln must read them in */
    {"B.txt", 40}, {"a.txt", 700}, {"b.txt", 0}, {"c10.txt", 3}, {"c9.txt", 500},
};

static void text_sources(void)
{
    t_section("text_file: one file");
    t_buf text = {0};
    t_strv one = {0};
    make_lines(&text, &one, "one", 3000, 1);
    char *one_path = t_path("one.txt");
    t_write_file(one_path, text.p, text.len);
    t_barrier();
    kiln_dataset *ds = NULL;
    EXPECT_OK(kiln_text_file(T.ctx, one_path, &ds));
    check_lines(ds, &one, "lines of one file, in file order");
    /* A second action on the same source reads it again, identically. */
    check_lines(ds, &one, "second action on the same file");
    kiln_dataset_destroy(&ds);

    t_section("text_file: a directory");
    char *dir = t_path("dir");
    t_mkdir(dir);
    t_strv dir_want = {0};
    t_strv per_file[sizeof dir_files / sizeof dir_files[0]];
    for (size_t f = 0; f < sizeof dir_files / sizeof dir_files[0]; f++) {
        t_buf body = {0};
        memset(&per_file[f], 0, sizeof per_file[f]);
        make_lines(&body, &per_file[f], dir_files[f].name, dir_files[f].lines,
                   10 + f);
        char *p = t_path("dir/%s", dir_files[f].name);
        t_write_file(p, body.p ? body.p : "", body.len);
        free(p);
        append_strv(&dir_want, &per_file[f]);
        t_buf_free(&body);
    }
    /* Not data: hidden and underscore files, and a subdirectory. */
    const char *skipped[] = {".hidden", "_SUCCESS", "_temporary"};
    for (size_t i = 0; i < 3; i++) {
        char *p = t_path("dir/%s", skipped[i]);
        t_write_file(p, "must not be read\n", 17);
        free(p);
    }
    char *sub = t_path("dir/sub");
    t_mkdir(sub);
    char *subfile = t_path("dir/sub/x.txt");
    t_write_file(subfile, "in a subdirectory\n", 18);
    t_barrier();
    EXPECT_OK(kiln_text_file(T.ctx, dir, &ds));
    check_lines(ds, &dir_want, "directory: regular visible files in name order");
    kiln_dataset_destroy(&ds);
    /* A trailing slash names the same directory. */
    char *dir_slash = t_path("dir/");
    EXPECT_OK(kiln_text_file(T.ctx, dir_slash, &ds));
    check_lines(ds, &dir_want, "directory given with a trailing slash");
    kiln_dataset_destroy(&ds);

    t_section("text_file: glob");
    char *pattern = t_path("dir/c*.txt");
    t_strv glob_want = {0};
    append_strv(&glob_want, &per_file[3]); /* c10.txt */
    append_strv(&glob_want, &per_file[4]); /* c9.txt */
    EXPECT_OK(kiln_text_file(T.ctx, pattern, &ds));
    check_lines(ds, &glob_want, "glob dir/c*.txt in name order");
    kiln_dataset_destroy(&ds);
    char *pattern2 = t_path("dir/[aB].tx?");
    t_strv glob2_want = {0};
    append_strv(&glob2_want, &per_file[0]); /* B.txt */
    append_strv(&glob2_want, &per_file[1]); /* a.txt */
    EXPECT_OK(kiln_text_file(T.ctx, pattern2, &ds));
    check_lines(ds, &glob2_want, "glob with a bracket and '?'");
    kiln_dataset_destroy(&ds);

    t_section("text_files: several paths, in the given order");
    const char *paths[4] = {pattern, one_path, dir, one_path};
    t_strv many_want = {0};
    append_strv(&many_want, &glob_want);
    append_strv(&many_want, &one);
    append_strv(&many_want, &dir_want);
    append_strv(&many_want, &one);
    EXPECT_OK(kiln_text_files(T.ctx, paths, 4, &ds));
    check_lines(ds, &many_want, "glob, file, directory, file again");
    kiln_dataset_destroy(&ds);

    t_section("text_files: bad arguments");
    kiln_dataset *sentinel = (kiln_dataset *)&T; /* must stay untouched */
    ds = sentinel;
    EXPECT_STATUS(kiln_text_files(T.ctx, paths, 0, &ds), KILN_ERR_INVAL);
    CHECK(ds == sentinel, "a failed constructor wrote its out-parameter");
    const char *empty_path[1] = {""};
    EXPECT_STATUS(kiln_text_files(T.ctx, empty_path, 1, &ds), KILN_ERR_INVAL);
    CHECK(ds == sentinel, "a failed constructor wrote its out-parameter");

    for (size_t f = 0; f < sizeof dir_files / sizeof dir_files[0]; f++)
        t_strv_free(&per_file[f]);
    t_strv_free(&one);
    t_strv_free(&dir_want);
    t_strv_free(&glob_want);
    t_strv_free(&glob2_want);
    t_strv_free(&many_want);
    t_buf_free(&text);
    free(one_path);
    free(dir);
    free(dir_slash);
    free(sub);
    free(subfile);
    free(pattern);
    free(pattern2);
}

/* ---- parallelize ---- */

/* Records (U64 i, STRING "rec-i" + a few letters), built on the master
 * only: other ranks pass NULL, as the API allows. */
typedef struct records {
    uint64_t *keys;
    uint64_t *offs;
    t_buf heap;
    size_t n;
} records;

static void records_make(records *r, size_t n)
{
    memset(r, 0, sizeof *r);
    r->n = n;
    r->keys = calloc(n ? n : 1, 8);
    r->offs = calloc(n + 1, 8);
    if (!r->keys || !r->offs)
        abort();
    r->offs[0] = 0;
    for (size_t i = 0; i < n; i++) {
        r->keys[i] = t_mix(i) % 1000;
        if (i % 13 != 5) /* every 13th value is empty */
            t_buf_addf(&r->heap, "rec-%zu%.*s", i, (int)(i % 7), "xyzuvw");
        r->offs[i + 1] = r->heap.len;
    }
}

static void records_free(records *r)
{
    free(r->keys);
    free(r->offs);
    t_buf_free(&r->heap);
}

static kiln_batch records_batch(const records *r)
{
    kiln_batch b = {0};
    b.n = r->n;
    b.keys = (const unsigned char *)r->keys;
    b.key_size = 8;
    b.values = (const unsigned char *)(r->heap.p ? r->heap.p : "");
    b.value_offsets = r->offs;
    return b;
}

static void records_repr(const records *r, t_strv *out)
{
    for (size_t i = 0; i < r->n; i++) {
        t_buf line = {0};
        t_buf_addf(&line, "%llu\t", (unsigned long long)r->keys[i]);
        t_buf_add(&line, r->heap.p + r->offs[i], r->offs[i + 1] - r->offs[i]);
        t_strv_add(out, line.p, line.len);
        t_buf_free(&line);
    }
}

/* map: tag each record with the partition its batch belongs to. */
static kiln_status tag_partition(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        const void *v = kiln_batch_value(in, i, &len);
        uint64_t p = in->partition;
        kiln_status st = kiln_emit(out, &p, 8, v, len);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* Partitions must cover consecutive records: tags never decrease, stay
 * below nparts, and the records are still in order. */
static void check_partition_tags(kiln_dataset *ds, uint32_t nparts, size_t n,
                                 const char *what)
{
    kiln_schema s = kiln_dataset_schema(ds);
    kiln_dataset *tagged = NULL;
    EXPECT_OK(kiln_dataset_map(ds, kiln_schema_of(KILN_T_U64, s.value),
                               tag_partition, NULL, &tagged));
    kiln_collection *c = NULL;
    EXPECT_OK(kiln_dataset_collect(tagged, KILN_ALL_RANKS, &c));
    const kiln_batch *b = kiln_collection_batch(c);
    CHECK(b->n == n, "%s: %zu tagged records, expected %zu", what, b->n, n);
    uint64_t last = 0;
    for (size_t i = 0; i < b->n; i++) {
        uint64_t p = kiln_batch_key_u64(b, i);
        if (!CHECK(p < nparts && p >= last,
                   "%s: record %zu in partition %llu after partition %llu "
                   "(nparts %u)", what, i, (unsigned long long)p,
                   (unsigned long long)last, nparts))
            break;
        last = p;
    }
    kiln_collection_destroy(&c);
    kiln_dataset_destroy(&tagged);
}

static void parallelize_sources(void)
{
    t_section("parallelize: keyed strings from the master");
    records r;
    records_make(&r, T.rank == 0 ? 5000 : 0); /* only the master has data */
    records all;
    records_make(&all, 5000);                 /* the reference, everywhere */
    t_strv want = {0};
    records_repr(&all, &want);
    kiln_schema schema = kiln_schema_of(KILN_T_U64, KILN_T_STRING);
    kiln_batch b = records_batch(&r);
    const uint32_t widths[] = {0, 1, 7, 16, 6000};
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        kiln_dataset *ds = NULL;
        EXPECT_OK(kiln_parallelize(T.ctx, schema, T.rank == 0 ? &b : NULL,
                                   widths[w], &ds));
        char what[128];
        snprintf(what, sizeof what, "parallelize into %u partitions", widths[w]);
        check_lines(ds, &want, what);
        check_partition_tags(ds, widths[w] ? widths[w] : 16, all.n, what);
        kiln_dataset_destroy(&ds);
    }

    t_section("parallelize: the input is copied at once");
    kiln_dataset *ds = NULL;
    EXPECT_OK(kiln_parallelize(T.ctx, schema, T.rank == 0 ? &b : NULL, 0, &ds));
    /* Scribble over the master's buffers: the dataset must not change. */
    if (T.rank == 0) {
        memset(r.keys, 0xab, r.n * 8);
        memset(r.heap.p, '#', r.heap.len);
    }
    check_lines(ds, &want, "records after the caller's buffers changed");
    kiln_dataset_destroy(&ds);

    t_section("parallelize: plain, fixed-size and empty");
    double vals[1000];
    t_strv want_f = {0};
    for (int i = 0; i < 1000; i++) {
        vals[i] = (i % 3 ? 1 : -1) * (double)i / 7.0;
        t_strv_addf(&want_f, "%a", vals[i]);
    }
    kiln_batch fb = {.n = 1000, .values = (const unsigned char *)vals, .value_size = 8};
    EXPECT_OK(kiln_parallelize(T.ctx, kiln_schema_of(KILN_T_NONE, KILN_T_F64),
                               T.rank == 0 ? &fb : NULL, 5, &ds));
    check_lines(ds, &want_f, "plain F64 values");
    kiln_dataset_destroy(&ds);

    struct fixed12 { uint32_t a, b, c; } fx[300];
    t_strv want_x = {0};
    for (uint32_t i = 0; i < 300; i++) {
        fx[i] = (struct fixed12){i, i * 7u, 0xdeadbeefu ^ i};
        t_buf h = {0};
        for (size_t k = 0; k < 12; k++)
            t_buf_addf(&h, "%02x", ((unsigned char *)&fx[i])[k]);
        t_strv_add(&want_x, h.p, h.len);
        t_buf_free(&h);
    }
    kiln_batch xb = {.n = 300, .values = (const unsigned char *)fx, .value_size = 12};
    EXPECT_OK(kiln_parallelize(T.ctx,
                               kiln_schema_of(KILN_T_NONE, kiln_type_fixed(12, NULL, NULL, NULL)),
                               T.rank == 0 ? &xb : NULL, 0, &ds));
    check_lines(ds, &want_x, "FIXED(12) values");
    kiln_dataset_destroy(&ds);

    t_strv none = {0};
    EXPECT_OK(kiln_parallelize(T.ctx, schema, NULL, 0, &ds));
    check_lines(ds, &none, "parallelize of nothing");
    kiln_dataset_destroy(&ds);
    kiln_batch zero = records_batch(&r);
    zero.n = 0;
    EXPECT_OK(kiln_parallelize(T.ctx, schema, T.rank == 0 ? &zero : NULL, 3, &ds));
    check_lines(ds, &none, "parallelize of a zero-record batch");
    kiln_dataset_destroy(&ds);

    t_section("parallelize: bad schema fails on every rank");
    kiln_dataset *sentinel = (kiln_dataset *)&T;
    ds = sentinel;
    EXPECT_STATUS(kiln_parallelize(T.ctx, kiln_schema_of(KILN_T_U64, KILN_T_NONE),
                                   NULL, 0, &ds), KILN_ERR_INVAL);
    CHECK(ds == sentinel, "a failed parallelize wrote its out-parameter");

    t_strv_free(&want);
    t_strv_free(&want_f);
    t_strv_free(&want_x);
    records_free(&r);
    records_free(&all);
}

/* ---- range ---- */

static void check_range(int64_t start, int64_t end, int64_t step,
                        uint32_t nparts)
{
    t_strv want = {0};
    if (step > 0)
        for (int64_t v = start; v < end; v += step) {
            t_strv_addf(&want, "%lld", (long long)v);
            if (v > INT64_MAX - step)
                break;
        }
    else
        for (int64_t v = start; v > end; v += step) {
            t_strv_addf(&want, "%lld", (long long)v);
            if (v < INT64_MIN - step)
                break;
        }
    char what[160];
    snprintf(what, sizeof what, "range(%lld, %lld, %lld) in %u partitions",
             (long long)start, (long long)end, (long long)step, nparts);
    kiln_dataset *ds = NULL;
    EXPECT_OK(kiln_range(T.ctx, start, end, step, nparts, &ds));
    check_lines(ds, &want, what);
    if (want.n)
        check_partition_tags(ds, nparts ? nparts : 16, want.n, what);
    kiln_dataset_destroy(&ds);
    t_strv_free(&want);
}

static void range_sources(void)
{
    t_section("range: positive steps");
    check_range(0, 100000, 3, 0);
    check_range(-50, 50, 1, 0);
    check_range(0, 10, 1, 3);
    check_range(7, 8, 1, 0);      /* one value, 15 empty partitions */
    check_range(0, 1000, 1, 1);   /* one partition */
    check_range(0, 37, 5, 64);    /* more partitions than values */

    t_section("range: negative steps");
    check_range(10, -25, -4, 0);
    check_range(0, -100000, -7, 0);
    check_range(3, 2, -1, 0);

    t_section("range: empty");
    check_range(5, 5, 1, 0);
    check_range(5, 0, 1, 0);
    check_range(0, 10, -1, 0);
    check_range(-3, -3, -2, 4);

    t_section("range: near the int64 limits");
    check_range(INT64_MAX - 10, INT64_MAX, 3, 0);
    check_range(INT64_MIN + 5, INT64_MIN, -2, 0);
    check_range(INT64_MIN, INT64_MAX, INT64_MAX, 2);
    check_range(INT64_MAX, INT64_MIN, INT64_MIN, 0);

    t_section("range: step 0 is invalid");
    kiln_dataset *sentinel = (kiln_dataset *)&T, *ds = sentinel;
    EXPECT_STATUS(kiln_range(T.ctx, 0, 10, 0, 0, &ds), KILN_ERR_INVAL);
    CHECK(ds == sentinel, "a failed range wrote its out-parameter");
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    text_sources();
    parallelize_sources();
    range_sources();
    return t_finish();
}
