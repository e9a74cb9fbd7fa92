/* test_binary: kiln_binary_files and kiln_dataset_save_binary. Fixed-size
 * records (TeraSort's 10-byte key and 90-byte value, U64/FIXED, plain
 * values) read from a file, several files, a directory (hidden and '_'
 * files skipped, names in order, an empty file) and a glob, cut into splits
 * of --kiln-split-bytes (1000 from the command line: record counts that are
 * not a multiple of the split; a second context cuts every record apart);
 * save_binary part files byte for byte, and read back in partition order.
 * Errors: a file whose size is not a whole number of records fails with
 * KILN_ERR_PARSE naming it, on every rank; variable-size types are refused
 * by both calls with KILN_ERR_INVAL; an existing output directory. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

enum { KEY = 10, VALUE = 90, REC = KEY + VALUE };

static kiln_schema tera(void)
{
    return kiln_schema_of(kiln_type_fixed(KEY, NULL, NULL, NULL),
                          kiln_type_fixed(VALUE, NULL, NULL, NULL));
}

/* Record i of file f: key from a hash, value naming (f, i). */
static void make_record(int f, uint64_t i, unsigned char *rec)
{
    uint64_t x = t_mix(((uint64_t)f << 32) | i), y = t_mix(x);
    memcpy(rec, &x, 8);
    memcpy(rec + 8, &y, 2);
    memset(rec + KEY, 'a' + f, VALUE);
    snprintf((char *)rec + KEY, VALUE, "file %d record %llu", f, (unsigned long long)i);
}

static void make_file(const char *path, int f, uint64_t n, t_buf *all)
{
    t_buf b = {0};
    unsigned char rec[REC];
    for (uint64_t i = 0; i < n; i++) {
        make_record(f, i, rec);
        t_buf_add(&b, rec, REC);
    }
    t_write_file(path, b.p ? b.p : "", b.len);
    if (all)
        t_buf_add(all, b.p ? b.p : "", b.len);
    t_buf_free(&b);
}

/* Collect ds and compare its records, in order, with `want` (raw records). */
static void expect_records(kiln_dataset *ds, const t_buf *want, size_t rec_size,
                           const char *what)
{
    kiln_collection *c = NULL;
    EXPECT_OK(kiln_dataset_collect(ds, KILN_ALL_RANKS, &c));
    const kiln_batch *b = kiln_collection_batch(c);
    size_t n = want->len / rec_size;
    CHECK(b->n == n, "%s: %zu records, expected %zu", what, b->n, n);
    for (size_t i = 0; i < b->n && i < n; i++) {
        size_t kl = 0, vl;
        const unsigned char *k = b->keys ? kiln_batch_key(b, i, &kl) : NULL;
        const unsigned char *v = kiln_batch_value(b, i, &vl);
        const unsigned char *w = (const unsigned char *)want->p + i * rec_size;
        if (!CHECK(kl + vl == rec_size && (!kl || memcmp(k, w, kl) == 0) &&
                       memcmp(v, w + kl, vl) == 0,
                   "%s: record %zu of %zu differs", what, i, n))
            break;
    }
    kiln_collection_destroy(&c);
}

static kiln_context *ctx_with(const char *option)
{
    char a0[] = "binary", a2[] = "--kiln-quiet";
    char a1[64];
    snprintf(a1, sizeof a1, "%s", option);
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

static void test_read(void)
{
    t_section("binary_files: one file, several files, a directory, a glob");
    char *dir = t_path("in"), *a = t_path("in/a.bin"), *b = t_path("in/b.bin"),
         *e = t_path("in/c-empty.bin"), *hidden = t_path("in/.hidden"),
         *under = t_path("in/_SUCCESS"), *glob = t_path("in/*.bin");
    t_buf ra = {0}, rb = {0}, all = {0};
    t_mkdir(dir);
    make_file(a, 0, 1234, &ra);
    make_file(b, 1, 7, &rb);
    make_file(e, 2, 0, NULL);
    make_file(hidden, 3, 5, NULL);
    t_write_file(under, "x", 1); /* not a whole record: must not be read */
    t_barrier();
    t_buf_add(&all, ra.p, ra.len);
    t_buf_add(&all, rb.p, rb.len);

    kiln_dataset *ds = NULL;
    const char *one[] = {a};
    EXPECT_OK(kiln_binary_files(T.ctx, one, 1, tera(), &ds));
    expect_records(ds, &ra, REC, "one file");
    /* Split about every 1000 bytes: 10 records, 1234 is no multiple. */
    t_layout lay;
    EXPECT_OK(t_layout_of(ds, &lay));
    CHECK(lay.total == 1234, "%llu records", (unsigned long long)lay.total);
    CHECK(lay.nparts >= 1234 / 20 && lay.nparts <= 1234 / 5 + 1,
          "%u partitions for 123400 bytes in splits of 1000", lay.nparts);
    for (uint32_t p = 0; p < lay.nparts; p++)
        CHECK(lay.counts[p] >= 5 && lay.counts[p] <= 20, "partition %u holds %llu "
              "records", p, (unsigned long long)lay.counts[p]);
    kiln_dataset_destroy(&ds);

    const char *two[] = {b, a};
    t_buf ba = {0};
    t_buf_add(&ba, rb.p, rb.len);
    t_buf_add(&ba, ra.p, ra.len);
    EXPECT_OK(kiln_binary_files(T.ctx, two, 2, tera(), &ds));
    expect_records(ds, &ba, REC, "two files, in the order given");
    kiln_dataset_destroy(&ds);

    const char *d[] = {dir};
    EXPECT_OK(kiln_binary_files(T.ctx, d, 1, tera(), &ds));
    expect_records(ds, &all, REC, "a directory: files in name order, an empty one, "
                   "'.' and '_' files skipped");
    kiln_dataset_destroy(&ds);

    const char *g[] = {glob};
    EXPECT_OK(kiln_binary_files(T.ctx, g, 1, tera(), &ds));
    expect_records(ds, &all, REC, "a glob");
    uint64_t n = 0;
    EXPECT_OK(kiln_dataset_count(ds, &n));
    CHECK(n == 1241, "count: %llu", (unsigned long long)n);
    kiln_dataset_destroy(&ds);

    t_section("binary_files: splits smaller than a record");
    kiln_context *tiny = ctx_with("--kiln-split-bytes=30");
    const char *bb[] = {b};
    EXPECT_OK(kiln_binary_files(tiny, bb, 1, tera(), &ds));
    expect_records(ds, &rb, REC, "one record per split");
    EXPECT_OK(t_layout_of(ds, &lay));
    CHECK(lay.nparts == 7, "%u partitions for 7 records", lay.nparts);
    kiln_dataset_destroy(&ds);
    ctx_done(&tiny);

    t_section("binary_files: other fixed-size schemas");
    /* The same bytes as (U64 key, FIXED 92) and as plain FIXED 100 values. */
    kiln_schema s2 = kiln_schema_of(KILN_T_U64, kiln_type_fixed(92, NULL, NULL, NULL));
    EXPECT_OK(kiln_binary_files(T.ctx, one, 1, s2, &ds));
    expect_records(ds, &ra, REC, "(U64, FIXED 92) records");
    kiln_dataset_destroy(&ds);
    kiln_schema s3 = kiln_schema_of(KILN_T_NONE, kiln_type_fixed(REC, NULL, NULL, NULL));
    EXPECT_OK(kiln_binary_files(T.ctx, one, 1, s3, &ds));
    expect_records(ds, &ra, REC, "plain 100-byte values");
    kiln_dataset_destroy(&ds);

    t_section("binary_files: a size that is not a whole number of records");
    char *odd = t_path("in/d-odd.bin");
    t_write_file(odd, ra.p, 250); /* two and a half records */
    t_barrier();
    const char *o[] = {odd};
    EXPECT_OK(kiln_binary_files(T.ctx, o, 1, tera(), &ds)); /* lazy */
    n = 12345;
    EXPECT_STATUS(kiln_dataset_count(ds, &n), KILN_ERR_PARSE);
    CHECK_ERROR_MENTIONS("d-odd.bin");
    CHECK(n == 12345, "a failed count wrote its out-parameter");
    kiln_dataset_destroy(&ds);
    /* In a directory with good files, the bad one is named. */
    EXPECT_OK(kiln_binary_files(T.ctx, d, 1, tera(), &ds));
    kiln_collection *c = NULL;
    EXPECT_STATUS(kiln_dataset_collect(ds, KILN_ALL_RANKS, &c), KILN_ERR_PARSE);
    CHECK_ERROR_MENTIONS("d-odd.bin");
    CHECK(c == NULL, "a failed collect wrote its out-parameter");
    kiln_dataset_destroy(&ds);
    /* The same bytes are whole records of 10 bytes. */
    kiln_schema s10 = kiln_schema_of(KILN_T_NONE, kiln_type_fixed(10, NULL, NULL, NULL));
    EXPECT_OK(kiln_binary_files(T.ctx, o, 1, s10, &ds));
    CHECK(t_count(ds) == 25, "250 bytes as 10-byte records");
    kiln_dataset_destroy(&ds);

    t_section("binary_files: missing input, variable-size types");
    char *missing = t_path("in/no-such-file.bin");
    const char *m[] = {missing};
    EXPECT_OK(kiln_binary_files(T.ctx, m, 1, tera(), &ds));
    EXPECT_STATUS(kiln_dataset_count(ds, &n), KILN_ERR_IO);
    CHECK_ERROR_MENTIONS("no-such-file.bin");
    kiln_dataset_destroy(&ds);
    kiln_dataset *sentinel = (kiln_dataset *)&T, *bad = sentinel;
    EXPECT_STATUS(kiln_binary_files(T.ctx, one, 1,
                                    kiln_schema_of(KILN_T_U64, KILN_T_STRING), &bad),
                  KILN_ERR_INVAL);
    EXPECT_STATUS(kiln_binary_files(T.ctx, one, 1,
                                    kiln_schema_of(KILN_T_STRING, KILN_T_U64), &bad),
                  KILN_ERR_INVAL);
    CHECK(bad == sentinel, "a failed binary_files wrote its out-parameter");

    free(missing);
    free(odd);
    t_buf_free(&ra);
    t_buf_free(&rb);
    t_buf_free(&all);
    t_buf_free(&ba);
    free(dir);
    free(a);
    free(b);
    free(e);
    free(hidden);
    free(under);
    free(glob);
}

/* ---- save_binary ---- */

/* Part files must hold each partition's records raw, key then value. */
static void check_parts(kiln_dataset *ds, const char *dir, size_t rec_size,
                        const char *what)
{
    t_layout lay;
    EXPECT_OK(t_layout_of(ds, &lay));
    kiln_collection *c = NULL;
    EXPECT_OK(kiln_dataset_collect(ds, KILN_ALL_RANKS, &c));
    const kiln_batch *b = kiln_collection_batch(c);
    t_strv names = {0};
    CHECK(t_list_dir(dir, &names), "%s: cannot list %s", what, dir);
    size_t parts = 0, success = 0;
    for (size_t i = 0; i < names.n; i++) {
        parts += strncmp(names.s[i], "part-", 5) == 0;
        success += strcmp(names.s[i], "_SUCCESS") == 0;
    }
    CHECK(parts == lay.nparts, "%s: %zu part files for %u partitions", what, parts,
          lay.nparts);
    CHECK(success == 1 && names.n == parts + 1, "%s: part files and _SUCCESS only "
          "(%zu names)", what, names.n);
    size_t at = 0;
    for (uint32_t p = 0; p < lay.nparts; p++) {
        char name[64];
        snprintf(name, sizeof name, "%s/part-%05u", dir, p);
        size_t len = 0;
        char *data = t_read_file(name, &len);
        if (!CHECK(data && len == lay.counts[p] * rec_size,
                   "%s: %s holds %zu bytes for %llu records", what, name, len,
                   (unsigned long long)lay.counts[p])) {
            free(data);
            break;
        }
        for (uint64_t r = 0; r < lay.counts[p]; r++, at++) {
            size_t kl = 0, vl;
            const unsigned char *k = b->keys ? kiln_batch_key(b, at, &kl) : NULL;
            const unsigned char *v = kiln_batch_value(b, at, &vl);
            const char *w = data + r * rec_size;
            if (!CHECK((!kl || memcmp(w, k, kl) == 0) && memcmp(w + kl, v, vl) == 0,
                       "%s: record %llu of %s differs", what, (unsigned long long)r,
                       name))
                break;
        }
        free(data);
    }
    t_strv_free(&names);
    kiln_collection_destroy(&c);
}

static void test_save(void)
{
    t_section("save_binary: part files, read back in partition order");
    /* (U64 key, FIXED 12) records from parallelize, sorted into 5. */
    kiln_schema s = kiln_schema_of(KILN_T_U64, kiln_type_fixed(12, NULL, NULL, NULL));
    t_recs r;
    t_recs_init(&r, s);
    for (uint64_t i = 0; i < 5003; i++) {
        uint64_t k = t_mix(i) % 1000;
        unsigned char v[12];
        uint64_t x = t_mix(i + 1);
        memcpy(v, &x, 8);
        memcpy(v + 8, &i, 4);
        t_recs_add(&r, &k, 8, v, 12);
    }
    kiln_dataset *src = NULL, *sorted = NULL, *back = NULL;
    EXPECT_OK(t_parallelize(T.ctx, s, &r, 7, &src));
    EXPECT_OK(kiln_dataset_sort_by_key(src, NULL, 5, &sorted));
    const kiln_dataset *const sets[] = {src, sorted};
    for (int si = 0; si < 2; si++) {
        kiln_dataset *ds = (kiln_dataset *)sets[si];
        char *dir = t_path("out-%d", si);
        EXPECT_OK(kiln_dataset_save_binary(ds, dir, NULL));
        check_parts(ds, dir, 20, si ? "sorted" : "parallelized");
        /* Read back: the same records in the same order. */
        const char *d[] = {dir};
        EXPECT_OK(kiln_binary_files(T.ctx, d, 1, s, &back));
        t_buf want = {0};
        kiln_collection *c = NULL;
        EXPECT_OK(kiln_dataset_collect(ds, KILN_ALL_RANKS, &c));
        const kiln_batch *b = kiln_collection_batch(c);
        for (size_t i = 0; i < b->n; i++) {
            size_t kl, vl;
            const void *k = kiln_batch_key(b, i, &kl);
            const void *v = kiln_batch_value(b, i, &vl);
            t_buf_add(&want, k, kl);
            t_buf_add(&want, v, vl);
        }
        CHECK(b->n == 5003, "%zu records", b->n);
        kiln_collection_destroy(&c);
        expect_records(back, &want, 20, "saved and read back");
        kiln_dataset_destroy(&back);
        t_buf_free(&want);

        /* An existing directory is refused; overwrite replaces it. */
        EXPECT_STATUS(kiln_dataset_save_binary(ds, dir, NULL), KILN_ERR_EXISTS);
        kiln_save_options opts = {.overwrite = true};
        EXPECT_OK(kiln_dataset_save_binary(ds, dir, &opts));
        check_parts(ds, dir, 20, "overwritten");
        free(dir);
    }
    kiln_dataset_destroy(&sorted);
    kiln_dataset_destroy(&src);
    t_recs_free(&r);

    t_section("save_binary: plain values, an empty dataset");
    kiln_dataset *range = NULL, *empty = NULL;
    EXPECT_OK(kiln_range(T.ctx, -500, 1500, 3, 6, &range));
    char *dir = t_path("out-range");
    EXPECT_OK(kiln_dataset_save_binary(range, dir, NULL));
    check_parts(range, dir, 8, "I64 values");
    const char *d[] = {dir};
    EXPECT_OK(kiln_binary_files(T.ctx, d, 1, kiln_schema_of(KILN_T_NONE, KILN_T_I64),
                                &back));
    t_strv got = {0}, want = {0};
    t_collect_repr(back, &got);
    for (int64_t v = -500; v < 1500; v += 3)
        t_strv_addf(&want, "%lld", (long long)v);
    CHECK_STRV(&got, &want, "I64 values read back");
    t_strv_free(&got);
    t_strv_free(&want);
    kiln_dataset_destroy(&back);
    free(dir);
    EXPECT_OK(kiln_range(T.ctx, 0, 0, 1, 3, &empty));
    dir = t_path("out-empty");
    EXPECT_OK(kiln_dataset_save_binary(empty, dir, NULL));
    check_parts(empty, dir, 8, "no records");
    d[0] = dir;
    EXPECT_OK(kiln_binary_files(T.ctx, d, 1, kiln_schema_of(KILN_T_NONE, KILN_T_I64),
                                &back));
    CHECK(t_count(back) == 0, "empty part files read back");
    kiln_dataset_destroy(&back);
    free(dir);

    t_section("save_binary: variable-size types are refused");
    kiln_dataset *text = NULL, *keyed = NULL;
    t_recs tr;
    t_recs_init(&tr, kiln_schema_of(KILN_T_STRING, KILN_T_U64));
    uint64_t one = 1;
    t_recs_add(&tr, "word", 4, &one, 8);
    EXPECT_OK(t_parallelize(T.ctx, kiln_schema_of(KILN_T_STRING, KILN_T_U64), &tr, 2,
                            &keyed));
    char *lines = t_path("lines.txt");
    t_write_file(lines, "a\nbb\n", 5);
    t_barrier();
    EXPECT_OK(kiln_text_file(T.ctx, lines, &text));
    dir = t_path("out-bad");
    EXPECT_STATUS(kiln_dataset_save_binary(text, dir, NULL), KILN_ERR_INVAL);
    CHECK(!t_exists(dir), "a refused save_binary created %s", dir);
    EXPECT_STATUS(kiln_dataset_save_binary(keyed, dir, NULL), KILN_ERR_INVAL);
    CHECK(!t_exists(dir), "a refused save_binary created %s", dir);
    free(dir);
    free(lines);
    t_recs_free(&tr);
    kiln_dataset_destroy(&text);
    kiln_dataset_destroy(&keyed);
    kiln_dataset_destroy(&empty);
    kiln_dataset_destroy(&range);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    test_read();
    test_save();
    return t_finish();
}
