/* tests/unit/test_checkpoint.c: the checkpoint format and the lineage
 * signature (runtime/checkpoint.h), on a one-rank singleton context (MPI_Init
 * without mpiexec). Residents are built by hand from blocks, written,
 * read back and compared record by record; files are damaged with plain
 * POSIX calls. Each test gets a fresh context and a fresh checkpoint
 * directory under $TMPDIR (removed afterwards). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/checkpoint.h"

enum { NPARTS = 5 };

typedef struct fixture {
    kiln_context *ctx;
    char dir[512];
} fixture;

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[1024];
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "%s/kiln-unit-ckpt.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir) || kiln_init(NULL, NULL, &f->ctx) != KILN_OK) {
        free(f);
        return -1;
    }
    snprintf(f->ctx->opt.checkpoint_dir, sizeof f->ctx->opt.checkpoint_dir, "%s", f->dir);
    f->ctx->opt.quiet = true; /* warnings still print: they say why */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc = kiln_finalize(&f->ctx) == KILN_OK ? 0 : -1;
    remove_dir(f->dir);
    free(f);
    return rc;
}

/* ---- building residents ---- */

typedef struct rec {
    const void *key, *value;
    size_t key_len, value_len;
} rec;

/* Record i of partition p for schema number `kind` (see schema_of). The
 * bytes live in buf (at least 64 bytes), so each call overwrites the last. */
static rec record_of(int kind, uint32_t p, size_t i, unsigned char *buf)
{
    rec r = {0};
    uint64_t a = p * 1000003u + i * 7919u, b = a * 0x9e3779b97f4a7c15ull;
    double d = (double)a / 3.0;
    switch (kind) {
    case 0: /* U64 -> F64 */
        memcpy(buf, &a, 8);
        memcpy(buf + 8, &d, 8);
        r = (rec){buf, buf + 8, 8, 8};
        break;
    case 1: /* STRING -> BYTES, lengths 0..20 */
        r.key_len = (size_t)snprintf((char *)buf, 32, "k%llu-%zu", (unsigned long long)p, i);
        for (size_t k = 0; k < i % 21; k++)
            buf[32 + k] = (unsigned char)(b >> (k % 8 * 8));
        r = (rec){buf, buf + 32, r.key_len, i % 21};
        break;
    case 2: /* no key -> FIXED 12 */
        memcpy(buf, &b, 8);
        memcpy(buf + 8, &a, 4);
        r = (rec){NULL, buf, 0, 12};
        break;
    case 3: { /* I64 -> LIST of U64, 0..3 elements */
        int64_t k = -(int64_t)a;
        memcpy(buf, &k, 8);
        size_t n = i % 4;
        for (size_t e = 0; e < n; e++) {
            uint64_t v = b + e;
            memcpy(buf + 8 + 8 * e, &v, 8);
        }
        r = (rec){buf, buf + 8, 8, 8 * n};
        break;
    }
    default: { /* STRING -> PAIR(STRING, U64), the right side absent at times */
        r.key_len = (size_t)snprintf((char *)buf, 16, "p%zu", i);
        uint64_t l = i % 5, rl = i % 3 ? 8 : UINT64_MAX;
        memcpy(buf + 16, &l, 8);
        memcpy(buf + 24, &rl, 8);
        memset(buf + 32, 'a' + (int)(i % 26), (size_t)l);
        if (rl == 8)
            memcpy(buf + 32 + l, &a, 8);
        r = (rec){buf, buf + 16, r.key_len, 16 + (size_t)l + (rl == 8 ? 8 : 0)};
        break;
    }
    }
    return r;
}

static kiln_schema schema_of(int kind)
{
    switch (kind) {
    case 0: return kiln_schema_of(KILN_T_U64, KILN_T_F64);
    case 1: return kiln_schema_of(KILN_T_STRING, KILN_T_BYTES);
    case 2: return kiln_schema_of(KILN_T_NONE, kiln_type_fixed(12, NULL, NULL, NULL));
    case 3: {
        kiln_type list = {.kind = KILN_KIND_LIST, .elem_kind = KILN_KIND_U64, .elem_size = 8};
        return kiln_schema_of(KILN_T_I64, list);
    }
    default: {
        kiln_type pair = {.kind = KILN_KIND_PAIR};
        pair.left = (kiln_part){KILN_KIND_STRING, 0, KILN_KIND_NONE, 0};
        pair.right = (kiln_part){KILN_KIND_U64, 8, KILN_KIND_NONE, 0};
        return kiln_schema_of(KILN_T_STRING, pair);
    }
    }
}

enum { NKINDS = 5 };

/* Records in partition p: one empty partition, the others of different
 * sizes, one large enough to span blocks of the store. */
static size_t records_in(uint32_t p, size_t scale)
{
    static const size_t n[NPARTS] = {37, 0, 1, 500, 4};
    return n[p] * scale;
}

static kiln__resident *make_resident(kiln_context *ctx, int kind, size_t scale)
{
    kiln_schema s = schema_of(kind);
    kiln__resident *r = NULL;
    unsigned char buf[128];
    assert_int_equal(kiln__resident_create(&ctx->mem, NPARTS, &r), KILN_OK);
    for (uint32_t p = 0; p < NPARTS; p++) {
        kiln__block b;
        kiln__store *st = kiln__mem_alloc(&ctx->mem, sizeof *st);
        assert_non_null(st);
        kiln__store_init(st, &ctx->mem, &s);
        assert_int_equal(kiln__block_init(&b, &ctx->mem, &s), KILN_OK);
        for (size_t i = 0; i < records_in(p, scale); i++) {
            rec x = record_of(kind, p, i, buf);
            assert_int_equal(kiln__block_append(&b, x.key, x.key_len, x.value,
                                                x.value_len), KILN_OK);
        }
        assert_int_equal(kiln__store_adopt(st, &b), KILN_OK);
        kiln__block_release(&b);
        r->part[p] = st;
        r->owner[p] = 0;
    }
    r->complete = true;
    return r;
}

/* Every record of partition p of r is what record_of() makes. */
static void check_partition(const kiln__resident *r, int kind, uint32_t p,
                            size_t scale)
{
    unsigned char buf[128];
    kiln__store_iter it;
    kiln_batch b;
    size_t i = 0;
    assert_non_null(r->part[p]);
    assert_int_equal(r->part[p]->records, records_in(p, scale));
    kiln__store_iter_init(&it, r->part[p], p, 64);
    while (kiln__store_next(&it, &b)) {
        for (size_t j = 0; j < b.n; j++, i++) {
            rec want = record_of(kind, p, i, buf);
            size_t kl = 0, vl;
            const void *k = b.keys ? kiln_batch_key(&b, j, &kl) : NULL;
            const void *v = kiln_batch_value(&b, j, &vl);
            assert_int_equal(kl, want.key_len);
            assert_int_equal(vl, want.value_len);
            if (kl)
                assert_memory_equal(k, want.key, kl);
            if (vl)
                assert_memory_equal(v, want.value, vl);
        }
    }
    assert_int_equal(i, records_in(p, scale));
}

static bool types_equal(const kiln_type *a, const kiln_type *b)
{
    return a->kind == b->kind && a->size == b->size && a->elem_kind == b->elem_kind &&
           a->elem_size == b->elem_size && a->left.kind == b->left.kind &&
           a->left.size == b->left.size && a->right.kind == b->right.kind &&
           a->right.size == b->right.size;
}

/* Data files of `name` in the directory. */
static int data_files(const fixture *f, const char *name, char *last, size_t size)
{
    DIR *d = opendir(f->dir);
    struct dirent *e;
    int n = 0;
    size_t len = strlen(name), fl;
    while (d && (e = readdir(d))) {
        fl = strlen(e->d_name);
        if (!strncmp(e->d_name, name, len) && e->d_name[len] == '.' && fl > 3 &&
            !strcmp(e->d_name + fl - 3, ".h5")) {
            n++;
            if (last)
                snprintf(last, size, "%s/%s", f->dir, e->d_name);
        }
    }
    if (d)
        closedir(d);
    return n;
}

static bool manifest_exists(const fixture *f, const char *name)
{
    char path[700];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s.manifest", f->dir, name);
    return stat(path, &sb) == 0;
}

/* Read `name` expecting `found`; on success check every partition. */
static void read_back(fixture *f, const char *name, int kind, const kiln_schema *want,
                      uint64_t sig, bool expect_found, size_t scale)
{
    kiln__resident *out = NULL;
    kiln_schema got;
    bool found = !expect_found;
    assert_int_equal(kiln__checkpoint_read(f->ctx, name, want, sig, &out, &got, &found),
                     KILN_OK);
    assert_int_equal(found, expect_found);
    if (!expect_found) {
        assert_null(out);
        return;
    }
    kiln_schema s = schema_of(kind);
    assert_non_null(out);
    assert_int_equal(out->nparts, NPARTS);
    assert_true(out->complete);
    assert_true(types_equal(&got.key, &s.key));
    assert_true(types_equal(&got.value, &s.value));
    for (uint32_t p = 0; p < NPARTS; p++) {
        assert_int_equal(out->owner[p], 0); /* p % 1 rank */
        check_partition(out, kind, p, scale);
    }
    kiln__resident_destroy(&f->ctx->mem, &out);
}

/* ---- round trips ---- */

static void round_trip_every_kind_and_compression(void **state)
{
    fixture *f = *state;
    static const int modes[] = {KILN__COMPRESS_NONE, KILN__COMPRESS_ZSTD,
                                KILN__COMPRESS_DEFLATE};
    for (int m = 0; m < 3; m++) {
        f->ctx->opt.checkpoint_compress = modes[m];
        for (int kind = 0; kind < NKINDS; kind++) {
            char name[32];
            kiln_schema s = schema_of(kind);
            snprintf(name, sizeof name, "rt-%d-%d", m, kind);
            kiln__resident *r = make_resident(f->ctx, kind, 20);
            assert_int_equal(kiln__checkpoint_write(f->ctx, name, &s, r, 0xabcdef), KILN_OK);
            kiln__resident_destroy(&f->ctx->mem, &r);
            assert_true(manifest_exists(f, name));
            assert_int_equal(data_files(f, name, NULL, 0), 1);
            read_back(f, name, kind, &s, 0xabcdef, true, 20);
            /* Signature 0 and schema NULL accept any. */
            read_back(f, name, kind, NULL, 0, true, 20);
        }
    }
}

static void rewrite_replaces_the_old_checkpoint(void **state)
{
    fixture *f = *state;
    kiln_schema s = schema_of(0);
    kiln__resident *r = make_resident(f->ctx, 0, 1);
    assert_int_equal(kiln__checkpoint_write(f->ctx, "again", &s, r, 7), KILN_OK);
    kiln__resident_destroy(&f->ctx->mem, &r);
    /* The job id names the data file: the second write is another job. */
    strcat(f->ctx->job_id, "-2");
    r = make_resident(f->ctx, 0, 3);
    assert_int_equal(kiln__checkpoint_write(f->ctx, "again", &s, r, 8), KILN_OK);
    kiln__resident_destroy(&f->ctx->mem, &r);
    assert_int_equal(data_files(f, "again", NULL, 0), 1);
    read_back(f, "again", 0, &s, 8, true, 3);
    read_back(f, "again", 0, &s, 7, false, 3);
}

/* A checkpoint written twice by the same job (a live dataset checkpointed
 * again on a signal): the second write must not go into the committed
 * file, which a crash during the write would destroy. */
static void rewrite_in_the_same_job_uses_another_file(void **state)
{
    fixture *f = *state;
    kiln_schema s = schema_of(1);
    char first[700], second[700], third[700];
    for (int round = 0; round < 3; round++) {
        kiln__resident *r = make_resident(f->ctx, 1, (size_t)round + 1);
        assert_int_equal(kiln__checkpoint_write(f->ctx, "twice", &s, r, 9), KILN_OK);
        kiln__resident_destroy(&f->ctx->mem, &r);
        assert_int_equal(data_files(f, "twice", round == 0 ? first
                                               : round == 1 ? second : third, 700), 1);
        read_back(f, "twice", 1, &s, 9, true, (size_t)round + 1);
    }
    assert_string_not_equal(first, second);
    assert_string_not_equal(second, third);
}

static void missing_checkpoint_is_not_found(void **state)
{
    fixture *f = *state;
    kiln_schema s = schema_of(1);
    read_back(f, "never-written", 1, &s, 0, false, 1);
}

/* ---- refusals ---- */

static void signature_mismatch_is_refused(void **state)
{
    fixture *f = *state;
    kiln_schema s = schema_of(1);
    kiln__resident *r = make_resident(f->ctx, 1, 2);
    assert_int_equal(kiln__checkpoint_write(f->ctx, "sig", &s, r, 1111), KILN_OK);
    kiln__resident_destroy(&f->ctx->mem, &r);
    read_back(f, "sig", 1, &s, 2222, false, 2);
    read_back(f, "sig", 1, &s, 1111, true, 2); /* still there, still good */
}

static void schema_mismatch_is_refused(void **state)
{
    fixture *f = *state;
    kiln_schema s = schema_of(2); /* FIXED 12 values */
    kiln__resident *r = make_resident(f->ctx, 2, 2);
    assert_int_equal(kiln__checkpoint_write(f->ctx, "schema", &s, r, 0), KILN_OK);
    kiln__resident_destroy(&f->ctx->mem, &r);
    kiln_schema wider = kiln_schema_of(KILN_T_NONE, kiln_type_fixed(16, NULL, NULL, NULL));
    kiln_schema keyed = kiln_schema_of(KILN_T_U64, kiln_type_fixed(12, NULL, NULL, NULL));
    kiln_schema other = schema_of(0);
    kiln_schema list8 = schema_of(3), list4 = schema_of(3);
    list4.value.elem_size = 4;
    read_back(f, "schema", 2, &wider, 0, false, 2);
    read_back(f, "schema", 2, &keyed, 0, false, 2);
    read_back(f, "schema", 2, &other, 0, false, 2);
    /* A LIST whose element size differs is another type too. */
    r = make_resident(f->ctx, 3, 1);
    assert_int_equal(kiln__checkpoint_write(f->ctx, "list", &list8, r, 0), KILN_OK);
    kiln__resident_destroy(&f->ctx->mem, &r);
    read_back(f, "list", 3, &list4, 0, false, 1);
    read_back(f, "list", 3, &list8, 0, true, 1);
    /* A FIXED type's hash and compare are not part of the schema. */
    kiln_schema fn = kiln_schema_of(KILN_T_NONE,
                                    kiln_type_fixed(12, NULL, NULL, (void *)f));
    read_back(f, "schema", 2, &fn, 0, true, 2);
}

/* ---- damage ---- */

static void write_plain(fixture *f, const char *name, char *file, size_t size)
{
    kiln_schema s = schema_of(1);
    f->ctx->opt.checkpoint_compress = KILN__COMPRESS_NONE;
    kiln__resident *r = make_resident(f->ctx, 1, 4);
    assert_int_equal(kiln__checkpoint_write(f->ctx, name, &s, r, 5), KILN_OK);
    kiln__resident_destroy(&f->ctx->mem, &r);
    assert_int_equal(data_files(f, name, file, size), 1);
}

static void flipped_byte_in_a_partition_is_refused(void **state)
{
    fixture *f = *state;
    kiln_schema s = schema_of(1);
    char file[700];
    write_plain(f, "flip", file, sizeof file);
    /* Find a key of partition 3 in the uncompressed data, and change it. */
    int fd = open(file, O_RDWR);
    assert_true(fd >= 0);
    struct stat sb;
    assert_int_equal(fstat(fd, &sb), 0);
    unsigned char *all = malloc((size_t)sb.st_size);
    assert_non_null(all);
    assert_int_equal(pread(fd, all, (size_t)sb.st_size, 0), sb.st_size);
    const char *needle = "k3-77";
    unsigned char *at = memmem(all, (size_t)sb.st_size, needle, strlen(needle));
    assert_non_null(at);
    unsigned char c = at[1] ^ 1;
    assert_int_equal(pwrite(fd, &c, 1, at - all + 1), 1);
    close(fd);
    free(all);
    read_back(f, "flip", 1, &s, 5, false, 4);
}

static void truncated_file_is_refused(void **state)
{
    fixture *f = *state;
    kiln_schema s = schema_of(1);
    char file[700];
    struct stat sb;
    write_plain(f, "trunc", file, sizeof file);
    assert_int_equal(stat(file, &sb), 0);
    assert_int_equal(truncate(file, sb.st_size * 2 / 3), 0);
    read_back(f, "trunc", 1, &s, 5, false, 4);
}

static void data_without_manifest_is_refused(void **state)
{
    fixture *f = *state;
    kiln_schema s = schema_of(1);
    char file[700], manifest[700];
    write_plain(f, "orphan", file, sizeof file);
    snprintf(manifest, sizeof manifest, "%s/orphan.manifest", f->dir);
    assert_int_equal(unlink(manifest), 0);
    read_back(f, "orphan", 1, &s, 5, false, 4);
}

/* ---- the lineage signature ---- */

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static kiln_status split_words(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    const uint64_t one = 1;
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        const char *v = kiln_batch_value(in, i, &len);
        kiln_status st = kiln_emit(out, v, len, &one, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* text_file(path) -> flat_map -> reduce_by_key(nparts) as *out (owned by
 * the caller), and its signature after an action has split the input, as
 * a job's first action does. */
static uint64_t lineage_signature(kiln_context *ctx, const char *path, uint32_t nparts,
                                  kiln_dataset **out)
{
    kiln_dataset *lines = NULL, *words = NULL, *counts = NULL;
    uint64_t n = 0;
    assert_int_equal(kiln_text_file(ctx, path, &lines), KILN_OK);
    assert_int_equal(kiln_dataset_flat_map(lines, kiln_schema_of(KILN_T_STRING, KILN_T_U64),
                                           split_words, NULL, &words), KILN_OK);
    assert_int_equal(kiln_dataset_reduce_by_key(words, KILN_OP_SUM, NULL, NULL, nparts,
                                                &counts), KILN_OK);
    assert_int_equal(kiln_dataset_count(counts, &n), KILN_OK);
    assert_int_equal(n, 3);
    kiln_dataset_destroy(&words); /* counts keeps its parents alive */
    kiln_dataset_destroy(&lines);
    *out = counts;
    return kiln__checkpoint_signature(&ctx->mem, kiln__node_of(counts));
}

/* The signature of the same lineage in a fresh context. */
static uint64_t fresh_signature(const char *path, uint32_t nparts)
{
    kiln_context *ctx = NULL;
    kiln_dataset *counts = NULL;
    assert_int_equal(kiln_init(NULL, NULL, &ctx), KILN_OK);
    ctx->opt.quiet = true;
    uint64_t sig = lineage_signature(ctx, path, nparts, &counts);
    kiln_dataset_destroy(&counts);
    assert_int_equal(kiln_finalize(&ctx), KILN_OK);
    return sig;
}

static void signature_follows_lineage_and_inputs(void **state)
{
    fixture *f = *state;
    char path[700];
    kiln_dataset *counts = NULL;
    snprintf(path, sizeof path, "%s/input.txt", f->dir);
    write_text(path, "alpha\nbeta\ngamma\nalpha\n");
    struct stat before;
    assert_int_equal(stat(path, &before), 0);

    uint64_t a = lineage_signature(f->ctx, path, 3, &counts);
    kiln__node *node = kiln__node_of(counts);
    assert_int_not_equal(a, 0);
    assert_int_equal(kiln__checkpoint_signature(&f->ctx->mem, node), a);
    /* The same lineage built again in a fresh context (node ids start
     * over, as in a rerun of the job): the same signature. */
    assert_int_equal(fresh_signature(path, 3), a);
    /* Another partition count asked for: another lineage. */
    assert_int_not_equal(fresh_signature(path, 4), a);

    /* New contents of another size. */
    write_text(path, "alpha\nbeta\ngamma\nalpha\ndelta\n");
    uint64_t grown = kiln__checkpoint_signature(&f->ctx->mem, node);
    assert_int_not_equal(grown, a);

    /* New contents of the same size, written later (the mtime is set apart
     * explicitly: two writes within one clock tick could share it). */
    write_text(path, "alphA\nbeta\ngamma\nalpha\n");
    struct timespec later[2] = {before.st_atim, before.st_mtim};
    later[1].tv_sec += 10;
    assert_int_equal(utimensat(AT_FDCWD, path, later, 0), 0);
    uint64_t edited = kiln__checkpoint_signature(&f->ctx->mem, node);
    assert_int_not_equal(edited, a);
    assert_int_not_equal(edited, grown);

    /* Name, size and time are what is compared, not the bytes: with all
     * three as they were, the signature is the first one again. */
    write_text(path, "alpha\nbeta\ngamma\nalpha\n");
    struct timespec same[2] = {before.st_atim, before.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, path, same, 0), 0);
    assert_int_equal(kiln__checkpoint_signature(&f->ctx->mem, node), a);
    kiln_dataset_destroy(&counts);
}

static void signature_of_ranges_and_parallelized_data(void **state)
{
    fixture *f = *state;
    kiln_dataset *r1 = NULL, *r2 = NULL, *r3 = NULL, *p1 = NULL, *p2 = NULL;
    assert_int_equal(kiln_range(f->ctx, 0, 100, 1, 4, &r1), KILN_OK);
    assert_int_equal(kiln_range(f->ctx, 0, 100, 1, 4, &r2), KILN_OK);
    assert_int_equal(kiln_range(f->ctx, 0, 101, 1, 4, &r3), KILN_OK);
    uint64_t s1 = kiln__checkpoint_signature(&f->ctx->mem, kiln__node_of(r1));
    uint64_t s2 = kiln__checkpoint_signature(&f->ctx->mem, kiln__node_of(r2));
    uint64_t s3 = kiln__checkpoint_signature(&f->ctx->mem, kiln__node_of(r3));
    /* r1 and r2 differ only in their node id: a rerun makes them in the
     * same order, so the id is part of what identifies a dataset. */
    assert_int_not_equal(s1, s2);
    assert_int_not_equal(s1, s3);
    assert_int_equal(kiln__checkpoint_signature(&f->ctx->mem, kiln__node_of(r1)), s1);

    uint64_t v1[3] = {1, 2, 3}, v2[3] = {1, 2, 4};
    kiln_batch b = {.n = 3, .values = (const unsigned char *)v1, .value_size = 8};
    kiln_schema s = kiln_schema_of(KILN_T_NONE, KILN_T_U64);
    assert_int_equal(kiln_parallelize(f->ctx, s, &b, 2, &p1), KILN_OK);
    b.values = (const unsigned char *)v2;
    assert_int_equal(kiln_parallelize(f->ctx, s, &b, 2, &p2), KILN_OK);
    assert_int_not_equal(kiln__checkpoint_signature(&f->ctx->mem, kiln__node_of(p1)),
                         kiln__checkpoint_signature(&f->ctx->mem, kiln__node_of(p2)));
    kiln_dataset_destroy(&r1);
    kiln_dataset_destroy(&r2);
    kiln_dataset_destroy(&r3);
    kiln_dataset_destroy(&p1);
    kiln_dataset_destroy(&p2);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(int argc, char **argv)
{
    /* A singleton: no mpiexec. kiln_init() sees MPI running and leaves it. */
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS)
        return 1;
    const struct CMUnitTest tests[] = {
        T(round_trip_every_kind_and_compression),
        T(rewrite_replaces_the_old_checkpoint),
        T(rewrite_in_the_same_job_uses_another_file),
        T(missing_checkpoint_is_not_found),
        T(signature_mismatch_is_refused),
        T(schema_mismatch_is_refused),
        T(flipped_byte_in_a_partition_is_refused),
        T(truncated_file_is_refused),
        T(data_without_manifest_is_refused),
        T(signature_follows_lineage_and_inputs),
        T(signature_of_ranges_and_parallelized_data),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return failed;
}
