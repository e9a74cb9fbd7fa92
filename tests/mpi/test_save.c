/* test_save: save_text. One part file per partition, named part-00000...,
 * then _SUCCESS; content equal to the API's text format written here
 * independently (integers in decimal, F64 as the shortest of %.15g, %.16g
 * and %.17g that reads back to the same double, STRING raw, BYTES and FIXED
 * in hex, LIST comma-separated); an existing directory is refused
 * (KILN_ERR_EXISTS) and left as it was; overwrite replaces it whole; a
 * failed job leaves neither output nor staging directories behind. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static kiln_dataset *range_ds(int64_t start, int64_t end, int64_t step,
                              uint32_t nparts)
{
    kiln_dataset *ds = NULL;
    EXPECT_OK(kiln_range(T.ctx, start, end, step, nparts, &ds));
    return ds;
}

/* The API's text format, written independently: integers in decimal, F64
 * as the shortest of %.15g, %.16g and %.17g that reads back to the same
 * double, STRING raw, BYTES and FIXED in hex, LIST comma-separated. */
static void format_field(t_buf *out, kiln_kind kind, const void *p, size_t len)
{
    switch (kind) {
    case KILN_KIND_U64: {
        uint64_t v;
        memcpy(&v, p, 8);
        t_buf_addf(out, "%llu", (unsigned long long)v);
        break;
    }
    case KILN_KIND_I64: {
        int64_t v;
        memcpy(&v, p, 8);
        t_buf_addf(out, "%lld", (long long)v);
        break;
    }
    case KILN_KIND_F64: {
        double v;
        memcpy(&v, p, 8);
        char text[40];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(text, sizeof text, "%.*g", prec, v);
            if (strtod(text, NULL) == v)
                break;
        }
        t_buf_add(out, text, strlen(text));
        break;
    }
    case KILN_KIND_STRING:
        t_buf_add(out, p, len);
        break;
    default:
        for (size_t i = 0; i < len; i++)
            t_buf_addf(out, "%02x", ((const unsigned char *)p)[i]);
    }
}

static kiln_status key_mod10(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        uint64_t k = (uint64_t)(kiln_batch_value_i64(in, i) % 10);
        kiln_status st = kiln_emit_key(out, &k, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* "key<TAB>e1,e2,..." with the elements sorted: list order is not defined. */
static void normalize_list_line(const char *p, size_t len, t_strv *out)
{
    const char *tab = memchr(p, '\t', len);
    if (!tab) {
        t_strv_add(out, p, len);
        return;
    }
    t_strv elems = {0};
    const char *at = tab + 1, *end = p + len;
    while (at <= end) {
        const char *comma = memchr(at, ',', (size_t)(end - at));
        const char *stop = comma ? comma : end;
        t_strv_add(&elems, at, (size_t)(stop - at));
        at = stop + 1;
    }
    t_strv_sort(&elems);
    t_buf line = {0};
    t_buf_add(&line, p, (size_t)(tab - p) + 1);
    t_strv_join(&elems, ",", &line);
    t_strv_add(out, line.p, line.len);
    t_buf_free(&line);
    t_strv_free(&elems);
}

static void split_lines(const char *p, size_t len, bool lists, t_strv *out)
{
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(p + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - p) : len;
        if (lists)
            normalize_list_line(p + at, end - at, out);
        else
            t_strv_add(out, p + at, end - at);
        at = end + 1;
    }
}

static void check_saved_lists(const char *dir, uint32_t nparts, const t_buf *want,
                              const char *what)
{
    if (T.rank != 0)
        return;
    t_buf all = {0};
    for (uint32_t p = 0; p < nparts; p++) {
        t_buf path = {0};
        t_buf_addf(&path, "%s/part-%05u", dir, p);
        size_t len = 0;
        char *body = t_read_file(path.p, &len);
        CHECK(body != NULL, "%s: %s is missing", what, path.p);
        if (body)
            t_buf_add(&all, body, len);
        free(body);
        t_buf_free(&path);
    }
    t_buf succ = {0};
    t_buf_addf(&succ, "%s/_SUCCESS", dir);
    CHECK(t_exists(succ.p), "%s: no _SUCCESS", what);
    t_strv got = {0}, exp = {0};
    split_lines(all.p, all.len, true, &got);
    split_lines(want->p, want->len, true, &exp);
    t_strv_sort(&got);
    t_strv_sort(&exp);
    CHECK_STRV(&got, &exp, what);
    t_strv_free(&got);
    t_strv_free(&exp);
    t_buf_free(&all);
    t_buf_free(&succ);
}

/* Part files, named part-00000 ... in partition order, then _SUCCESS. */
static void check_saved(const char *dir, uint32_t nparts, const t_buf *want,
                        bool sort_lines, const char *what)
{
    if (T.rank != 0)
        return; /* one reader is enough; the verdict is shared at the sync */
    t_strv names = {0}, expect_names = {0};
    CHECK(t_list_dir(dir, &names), "%s: cannot list %s", what, dir);
    for (uint32_t p = 0; p < nparts; p++)
        t_strv_addf(&expect_names, "part-%05u", p);
    t_strv_add(&expect_names, "_SUCCESS", 8);
    t_strv_sort(&expect_names);
    CHECK_STRV(&names, &expect_names, "files of the output directory");
    t_buf all = {0};
    for (uint32_t p = 0; p < nparts; p++) {
        char name[32];
        snprintf(name, sizeof name, "/part-%05u", p);
        t_buf path = {0};
        t_buf_addf(&path, "%s%s", dir, name);
        size_t len = 0;
        char *body = t_read_file(path.p, &len);
        if (body)
            t_buf_add(&all, body, len);
        free(body);
        t_buf_free(&path);
    }
    t_strv got = {0}, exp = {0};
    /* Compare line by line (a difference names the line). */
    split_lines(all.p, all.len, false, &got);
    split_lines(want->p, want->len, false, &exp);
    if (sort_lines) {
        t_strv_sort(&got);
        t_strv_sort(&exp);
    }
    CHECK_STRV(&got, &exp, what);
    CHECK(all.len == want->len, "%s: %zu bytes written, expected %zu", what,
          all.len, want->len);
    t_strv_free(&got);
    t_strv_free(&exp);
    t_strv_free(&names);
    t_strv_free(&expect_names);
    t_buf_free(&all);
}

/* No staging or replaced directories may be left beside an output. */
static void check_no_leftovers(const char *parent, const t_strv *allowed)
{
    if (T.rank != 0)
        return;
    t_strv names = {0};
    t_list_dir(parent, &names);
    CHECK_STRV(&names, allowed, "entries of the output's parent directory");
    t_strv_free(&names);
}

static kiln_status fail_on_partition_3(const kiln_batch *in, kiln_emitter *out,
                                       void *arg)
{
    (void)arg;
    if (in->partition == 3)
        return kiln_error(KILN_ERR_PARSE, "refusing partition 3");
    for (size_t i = 0; i < in->n; i++) {
        kiln_status st = kiln_emit_record(out, in, i);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

typedef struct mixed {
    int64_t k;
    double d;
} mixed;

static void test_save_text(void)
{
    char *out = t_path("out");
    t_mkdir(out);
    t_barrier();
    t_strv parent_entries = {0};

    t_section("save_text: keyed strings in part files");
    enum { NS = 1000 };
    uint64_t keys[NS], offs[NS + 1];
    t_buf heap = {0}, want = {0};
    offs[0] = 0;
    for (int i = 0; i < NS; i++) {
        keys[i] = t_mix((uint64_t)i) % 100000;
        /* raw bytes: tabs, non-UTF-8, sometimes empty */
        if (i % 17 != 3)
            t_buf_addf(&heap, "s%d\t\xff\xfe%.*s", i, i % 5, "\xc3\xa9xyz");
        offs[i + 1] = heap.len;
        t_buf_addf(&want, "%llu\t", (unsigned long long)keys[i]);
        t_buf_add(&want, heap.p + offs[i], offs[i + 1] - offs[i]);
        t_buf_add(&want, "\n", 1);
    }
    kiln_batch kb = {.n = NS, .keys = (const unsigned char *)keys, .key_size = 8,
                     .values = (const unsigned char *)heap.p, .value_offsets = offs};
    kiln_dataset *ds = NULL;
    EXPECT_OK(kiln_parallelize(T.ctx, kiln_schema_of(KILN_T_U64, KILN_T_STRING),
                               T.rank == 0 ? &kb : NULL, 5, &ds));
    char *d1 = t_path("out/strings");
    EXPECT_OK(kiln_dataset_save_text(ds, d1, NULL));
    check_saved(d1, 5, &want, false, "U64<TAB>STRING lines in partition order");
    t_strv_addf(&parent_entries, "strings");

    t_section("save_text: refuses an existing directory");
    t_strv before = {0}, after = {0};
    if (T.rank == 0)
        t_list_dir(d1, &before);
    kiln_save_options keep = {.overwrite = false};
    EXPECT_STATUS(kiln_dataset_save_text(ds, d1, &keep), KILN_ERR_EXISTS);
    CHECK_ERROR_MENTIONS("strings");
    CHECK(kiln_context_failed_rank(T.ctx) == 0, "failed rank %d, expected the master",
          kiln_context_failed_rank(T.ctx));
    check_saved(d1, 5, &want, false, "the refused directory is unchanged");
    if (T.rank == 0) {
        t_list_dir(d1, &after);
        CHECK_STRV(&after, &before, "files after the refusal");
    }
    t_strv_free(&before);
    t_strv_free(&after);
    t_strv_sort(&parent_entries);
    check_no_leftovers(out, &parent_entries);
    char *file_target = t_path("out/a-file");
    t_write_file(file_target, "x", 1);
    t_barrier();
    kiln_save_options over = {.overwrite = true};
    EXPECT_STATUS(kiln_dataset_save_text(ds, file_target, &over), KILN_ERR_EXISTS);
    t_strv_addf(&parent_entries, "a-file");
    t_strv_sort(&parent_entries);
    check_no_leftovers(out, &parent_entries);

    t_section("save_text: integers, doubles, bytes and fixed values");
    /* Doubles needing 15, 16 and 17 digits, huge, subnormal, negative zero. */
    mixed mx[12] = {{-1, 0.1},          {0, -2.5},          {INT64_MIN, 1e300},
                    {INT64_MAX, 5e-324}, {42, 123456789.125}, {-42, -0.0},
                    {7, 1.0 / 3.0},     {8, 1e21},          {9, 2.0 / 3 * 1e-10},
                    {10, 9007199254740993.0}, {11, -1.0 / 7}, {12, 0.3}};
    t_buf want2 = {0};
    int64_t ik[12];
    double dv[12];
    for (int i = 0; i < 12; i++) {
        ik[i] = mx[i].k;
        dv[i] = mx[i].d;
        format_field(&want2, KILN_KIND_I64, &ik[i], 8);
        t_buf_add(&want2, "\t", 1);
        format_field(&want2, KILN_KIND_F64, &dv[i], 8);
        t_buf_add(&want2, "\n", 1);
    }
    kiln_batch mb = {.n = 12, .keys = (const unsigned char *)ik, .key_size = 8,
                     .values = (const unsigned char *)dv, .value_size = 8};
    kiln_dataset *mds = NULL;
    EXPECT_OK(kiln_parallelize(T.ctx, kiln_schema_of(KILN_T_I64, KILN_T_F64),
                               T.rank == 0 ? &mb : NULL, 3, &mds));
    char *d2 = t_path("out/numbers");
    EXPECT_OK(kiln_dataset_save_text(mds, d2, NULL));
    check_saved(d2, 3, &want2, false, "I64<TAB>F64");
    t_strv_addf(&parent_entries, "numbers");

    unsigned char bkeys[] = {0x00, 0xff, 0x10, 'a', 0x80, 0x7f};
    uint64_t boffs[] = {0, 0, 1, 3, 6}; /* "", 00, ff10, 'a'80 7f */
    unsigned char fixed[4][5] = {{1, 2, 3, 4, 5}, {0}, {255, 254, 0, 1, 128}, {9}};
    kiln_batch bb = {.n = 4, .keys = bkeys, .key_offsets = boffs,
                     .values = &fixed[0][0], .value_size = 5};
    t_buf want3 = {0};
    for (int i = 0; i < 4; i++) {
        format_field(&want3, KILN_KIND_BYTES, bkeys + boffs[i],
                     (size_t)(boffs[i + 1] - boffs[i]));
        t_buf_add(&want3, "\t", 1);
        format_field(&want3, KILN_KIND_FIXED, fixed[i], 5);
        t_buf_add(&want3, "\n", 1);
    }
    kiln_dataset *bds = NULL;
    EXPECT_OK(kiln_parallelize(T.ctx,
                               kiln_schema_of(KILN_T_BYTES, kiln_type_fixed(5, NULL, NULL, NULL)),
                               T.rank == 0 ? &bb : NULL, 8, &bds));
    char *d3 = t_path("out/bytes");
    EXPECT_OK(kiln_dataset_save_text(bds, d3, NULL));
    check_saved(d3, 8, &want3, false, "BYTES<TAB>FIXED in hex, 8 parts for 4 records");
    t_strv_addf(&parent_entries, "bytes");

    t_section("save_text: LIST values and plain values");
    kiln_dataset *r = range_ds(0, 300, 1, 0), *kv = NULL, *g = NULL;
    EXPECT_OK(kiln_dataset_key_by(r, KILN_T_U64, key_mod10, NULL, &kv));
    EXPECT_OK(kiln_dataset_group_by_key(kv, 4, &g));
    char *d6 = t_path("out/lists");
    EXPECT_OK(kiln_dataset_save_text(g, d6, NULL));
    t_buf want6 = {0};
    for (int k = 0; k < 10; k++) {
        t_buf_addf(&want6, "%d\t", k);
        for (int v = k; v < 300; v += 10)
            t_buf_addf(&want6, "%s%d", v == k ? "" : ",", v);
        t_buf_add(&want6, "\n", 1);
    }
    check_saved_lists(d6, 4, &want6, "U64<TAB>comma-separated LIST");
    t_strv_addf(&parent_entries, "lists");
    t_buf_free(&want6);
    free(d6);
    char *d4 = t_path("out/plain");
    EXPECT_OK(kiln_dataset_save_text(r, d4, NULL));
    t_buf want4 = {0};
    for (int i = 0; i < 300; i++)
        t_buf_addf(&want4, "%d\n", i);
    check_saved(d4, 16, &want4, false, "plain I64 values, one per line");
    t_strv_addf(&parent_entries, "plain");

    t_section("save_text: overwrite replaces the directory whole");
    char *stale = t_path("out/strings/stale.txt");
    t_write_file(stale, "old\n", 4);
    t_barrier();
    EXPECT_OK(kiln_dataset_save_text(mds, d1, &over));
    check_saved(d1, 3, &want2, false, "overwritten: 3 new parts, no stale files");

    t_section("save_text: a failed job leaves nothing that looks complete");
    kiln_dataset *failing = NULL;
    EXPECT_OK(kiln_dataset_map(r, kiln_dataset_schema(r), fail_on_partition_3, NULL,
                               &failing));
    char *d5 = t_path("out/never");
    EXPECT_STATUS(kiln_dataset_save_text(failing, d5, NULL), KILN_ERR_PARSE);
    CHECK_ERROR_MENTIONS("refusing partition 3");
    CHECK(!t_exists(d5), "a failed save created %s", d5);
    EXPECT_STATUS(kiln_dataset_save_text(failing, d1, &over), KILN_ERR_PARSE);
    check_saved(d1, 3, &want2, false, "a failed overwrite keeps the old output");
    t_strv_sort(&parent_entries);
    check_no_leftovers(out, &parent_entries);

    kiln_dataset_destroy(&failing);
    kiln_dataset_destroy(&g);
    kiln_dataset_destroy(&kv);
    kiln_dataset_destroy(&r);
    kiln_dataset_destroy(&bds);
    kiln_dataset_destroy(&mds);
    kiln_dataset_destroy(&ds);
    t_strv_free(&parent_entries);
    t_buf_free(&heap);
    t_buf_free(&want);
    t_buf_free(&want2);
    t_buf_free(&want3);
    t_buf_free(&want4);
    free(out);
    free(d1);
    free(d2);
    free(d3);
    free(d4);
    free(d5);
    free(stale);
    free(file_target);
}

int main(int argc, char **argv)
{
    t_init(&argc, &argv);
    test_save_text();
    return t_finish();
}
