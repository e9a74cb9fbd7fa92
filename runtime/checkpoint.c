/* runtime/checkpoint.c: writing and reading checkpoint files.
 *
 * Write: every rank serialises its partitions (their wire form, checksummed
 * with XXH3), one all-reduce gives every rank every partition's length, so
 * each knows where its bytes go in /data; one collective parallel-HDF5
 * write puts them there (through the zstd or deflate filter when asked);
 * the file is flushed and closed on every rank, and only when all agree
 * does the master write NAME.manifest (to a temporary name, fsync, rename,
 * fsync of the directory) naming the data file. Data files carry the job id
 * in their name, so a failed write never touches a committed checkpoint.
 *
 * Read: the master reads the manifest and says which file to open; every
 * rank opens it, checks format, schema and signature, reads the index, and
 * reads the partitions it will own (p % nranks) with one collective read,
 * verifying each checksum. Any damage is agreed on and reported as a
 * warning; the caller recomputes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/checkpoint.h"
#include "runtime/error.h"
#include "runtime/h5zstd.h"
#include "runtime/hash.h"
#include "runtime/log.h"
#include "runtime/shuffle.h"

/* Paths: the directory (< 1024, options.h) plus a file name (< 600). */
enum { FORMAT = 1, SCHEMA_WORDS = 16, CHUNK_BYTES = 4 << 20, NAME_BYTES = 600,
       PATH_BYTES = 1700, WHY_BYTES = 2200 };

/* ---- small helpers ---- */

static void schema_words(const kiln_schema *s, uint64_t w[SCHEMA_WORDS])
{
    const kiln_type *t[2] = {&s->key, &s->value};
    for (int i = 0; i < 2; i++) {
        w[8 * i + 0] = (uint64_t)t[i]->kind;
        w[8 * i + 1] = t[i]->size;
        w[8 * i + 2] = (uint64_t)t[i]->elem_kind;
        w[8 * i + 3] = t[i]->elem_size;
        /* PAIR sides: kind and size, their element kinds packed above. */
        w[8 * i + 4] = (uint64_t)t[i]->left.kind | ((uint64_t)t[i]->left.elem_kind << 32);
        w[8 * i + 5] = t[i]->left.size | ((uint64_t)t[i]->left.elem_size << 32);
        w[8 * i + 6] = (uint64_t)t[i]->right.kind | ((uint64_t)t[i]->right.elem_kind << 32);
        w[8 * i + 7] = t[i]->right.size | ((uint64_t)t[i]->right.elem_size << 32);
    }
}

static void schema_from_words(const uint64_t w[SCHEMA_WORDS], kiln_schema *s)
{
    kiln_type *t[2] = {&s->key, &s->value};
    memset(s, 0, sizeof *s);
    for (int i = 0; i < 2; i++) {
        t[i]->kind = (kiln_kind)w[8 * i + 0];
        t[i]->size = (size_t)w[8 * i + 1];
        t[i]->elem_kind = (kiln_kind)w[8 * i + 2];
        t[i]->elem_size = (size_t)w[8 * i + 3];
        t[i]->left = (kiln_part){(kiln_kind)(w[8 * i + 4] & 0xffffffffu),
                                 (size_t)(w[8 * i + 5] & 0xffffffffu),
                                 (kiln_kind)(w[8 * i + 4] >> 32),
                                 (size_t)(w[8 * i + 5] >> 32)};
        t[i]->right = (kiln_part){(kiln_kind)(w[8 * i + 6] & 0xffffffffu),
                                  (size_t)(w[8 * i + 7] & 0xffffffffu),
                                  (kiln_kind)(w[8 * i + 6] >> 32),
                                  (size_t)(w[8 * i + 7] >> 32)};
    }
}

static hid_t mpio_fapl(kiln_context *ctx)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && H5Pset_fapl_mpio(fapl, ctx->comm, MPI_INFO_NULL) < 0) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

static hid_t collective_dxpl(void)
{
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (dxpl >= 0 && H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0) {
        H5Pclose(dxpl);
        return -1;
    }
    return dxpl;
}

/* HDF5's own error printing is off while Kiln works; Kiln reports. */
typedef struct quiet {
    H5E_auto2_t func;
    void *data;
} quiet;

static void quiet_begin(quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void quiet_end(const quiet *q)
{
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

static kiln_status make_dirs(const char *dir)
{
    char buf[PATH_BYTES];
    snprintf(buf, sizeof buf, "%s/", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return KILN_ERROR(KILN_ERR_IO, "cannot create checkpoint directory "
                              "'%s': %s", buf, strerror(errno));
        *p = '/';
    }
    return KILN_OK;
}

static void path_of(const kiln_context *ctx, const char *file, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", ctx->opt.checkpoint_dir, file);
}

/* Collective write of `n` bytes at `offsets` (one range per selected run):
 * select the union of [off[i], off[i] + len[i]) in the file. */
static herr_t select_ranges(hid_t space, const uint64_t *off, const uint64_t *len,
                            size_t n)
{
    herr_t rc = H5Sselect_none(space);
    for (size_t i = 0; i < n && rc >= 0; i++) {
        if (!len[i])
            continue;
        hsize_t start = off[i], count = len[i];
        rc = H5Sselect_hyperslab(space, H5S_SELECT_OR, &start, NULL, &count, NULL);
    }
    return rc;
}

/* ---- manifest ---- */

typedef struct manifest {
    char file[NAME_BYTES];
    uint64_t signature, nparts, bytes;
} manifest;

static kiln_status manifest_write(const kiln_context *ctx, const char *name,
                                  const manifest *m)
{
    char path[PATH_BYTES], tmp[PATH_BYTES + 64];
    snprintf(path, sizeof path, "%s/%s.manifest", ctx->opt.checkpoint_dir, name);
    snprintf(tmp, sizeof tmp, "%s.%s.tmp", path, ctx->job_id);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return KILN_ERROR(KILN_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
    fprintf(f, "kiln-checkpoint %d\nfile %s\nsignature %016llx\nnparts %llu\n"
               "bytes %llu\n", FORMAT, m->file, (unsigned long long)m->signature,
            (unsigned long long)m->nparts, (unsigned long long)m->bytes);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return KILN_ERROR(KILN_ERR_IO, "cannot commit '%s': %s", path, strerror(err));
    }
    /* The rename itself must survive a crash too. */
    int dfd = open(ctx->opt.checkpoint_dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        if (fsync(dfd) != 0)
            kiln__log(ctx, KILN__LOG_WARN, "fsync of '%s' failed: %s",
                      ctx->opt.checkpoint_dir, strerror(errno));
        close(dfd);
    }
    return KILN_OK;
}

/* 1: read; 0: no manifest; -1: unreadable (why in `why`). */
static int manifest_read(const kiln_context *ctx, const char *name, manifest *m,
                         char *why, size_t why_size)
{
    char path[PATH_BYTES], line[NAME_BYTES + 64];
    snprintf(path, sizeof path, "%s/%s.manifest", ctx->opt.checkpoint_dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int format = 0, have = 0;
    memset(m, 0, sizeof *m);
    while (fgets(line, sizeof line, f)) {
        unsigned long long v;
        if (sscanf(line, "kiln-checkpoint %d", &format) == 1)
            have |= 1;
        else if (sscanf(line, "file %599s", m->file) == 1)
            have |= 2;
        else if (sscanf(line, "signature %llx", &v) == 1)
            m->signature = v, have |= 4;
        else if (sscanf(line, "nparts %llu", &v) == 1)
            m->nparts = v, have |= 8;
        else if (sscanf(line, "bytes %llu", &v) == 1)
            m->bytes = v, have |= 16;
    }
    fclose(f);
    if (have != 31 || format != FORMAT || strchr(m->file, '/')) {
        snprintf(why, why_size, "manifest '%s' is malformed", path);
        return -1;
    }
    return 1;
}

/* Whether `file` is a data file of checkpoint `name`: NAME.<jobid>.h5. */
static bool is_data_file(const char *file, const char *name)
{
    size_t len = strlen(name), fl = strlen(file);
    return !strncmp(file, name, len) && file[len] == '.' && fl > len + 4 &&
           !strcmp(file + fl - 3, ".h5");
}

/* Master: remove data files of `name` other than `keep` (NULL: all). */
static void remove_data_files(const kiln_context *ctx, const char *name,
                              const char *keep)
{
    DIR *d = opendir(ctx->opt.checkpoint_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (!is_data_file(n, name) || (keep && !strcmp(n, keep)))
            continue;
        char path[PATH_BYTES];
        path_of(ctx, n, path, sizeof path);
        unlink(path);
    }
    closedir(d);
}

/* Master: the name of some data file of `name` in `out`; false if none. A
 * data file without a manifest is a write that was never committed (or a
 * manifest that was lost): not a checkpoint, but worth saying so. */
static bool find_data_file(const kiln_context *ctx, const char *name, char *out,
                           size_t size)
{
    DIR *d = opendir(ctx->opt.checkpoint_dir);
    bool found = false;
    struct dirent *e;
    while (d && !found && (e = readdir(d)))
        if (is_data_file(e->d_name, name)) {
            snprintf(out, size, "%s", e->d_name);
            found = true;
        }
    if (d)
        closedir(d);
    return found;
}

void kiln__checkpoint_remove(kiln_context *ctx, const char *name)
{
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/%s.manifest", ctx->opt.checkpoint_dir, name);
    unlink(path);
    remove_data_files(ctx, name, NULL);
}

/* ---- write ---- */

/* This rank's partitions, serialised in partition order. meta[3p..3p+2]:
 * length, records, checksum of partition p (zero where not held here). */
static kiln_status serialise(kiln_context *ctx, const kiln__resident *res,
                             unsigned char **buf, size_t *bytes, uint64_t *meta)
{
    size_t total = 0;
    for (uint32_t p = 0; p < res->nparts; p++) {
        const kiln__store *s = res->owner[p] == ctx->rank ? res->part[p] : NULL;
        for (size_t b = 0; s && b < s->nblocks; b++)
            total += kiln__block_wire_size(&s->blocks[b], 0, s->blocks[b].n);
    }
    unsigned char *out = kiln__mem_alloc(&ctx->mem, total ? total : 1);
    if (!out)
        return KILN_ERROR(KILN_ERR_NOMEM, "checkpoint buffer of %zu bytes", total);
    size_t at = 0;
    for (uint32_t p = 0; p < res->nparts; p++) {
        const kiln__store *s = res->owner[p] == ctx->rank ? res->part[p] : NULL;
        size_t start = at;
        for (size_t b = 0; s && b < s->nblocks; b++) {
            const kiln__block *blk = &s->blocks[b];
            kiln__block_wire_write(blk, 0, blk->n, p, out + at);
            at += kiln__block_wire_size(blk, 0, blk->n);
        }
        meta[3 * p] = at - start;
        meta[3 * p + 1] = s ? s->records : 0;
        meta[3 * p + 2] = at > start ? kiln__hash_bytes(out + start, at - start) : 0;
    }
    *buf = out;
    *bytes = total;
    return KILN_OK;
}

static herr_t write_attr(hid_t loc, const char *name, hid_t type, size_t n,
                         const void *data)
{
    hsize_t dims = n;
    hid_t space = H5Screate_simple(1, &dims, NULL);
    hid_t attr = space >= 0 ? H5Acreate2(loc, name, type, space, H5P_DEFAULT,
                                         H5P_DEFAULT) : -1;
    herr_t rc = attr >= 0 ? H5Awrite(attr, type, data) : -1;
    if (attr >= 0)
        H5Aclose(attr);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

/* Create /data (compressed when asked and there is data). */
static hid_t create_data(kiln_context *ctx, hid_t file, uint64_t total)
{
    hsize_t dims = total;
    hid_t space = H5Screate_simple(1, &dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t d = -1;
    if (space < 0 || dcpl < 0)
        goto done;
    int mode = ctx->opt.checkpoint_compress;
    if (total && mode != KILN__COMPRESS_NONE) {
        hsize_t chunk = total < CHUNK_BYTES ? total : CHUNK_BYTES;
        unsigned level = (unsigned)ctx->opt.checkpoint_level;
        if (H5Pset_chunk(dcpl, 1, &chunk) < 0)
            goto done;
        if (mode == KILN__COMPRESS_DEFLATE) {
            if (H5Pset_deflate(dcpl, level ? level : 1) < 0)
                goto done;
        } else if (kiln__h5zstd_register() != KILN_OK ||
                   H5Pset_filter(dcpl, KILN__H5Z_ZSTD, H5Z_FLAG_MANDATORY,
                                 level ? 1 : 0, &level) < 0) {
            goto done;
        }
    }
    d = H5Dcreate2(file, "data", H5T_NATIVE_UINT8, space, H5P_DEFAULT, dcpl,
                   H5P_DEFAULT);
done:
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    return d;
}

/* The collective part of a write; returns this rank's status. mine[p]:
 * bytes of partition p serialised here (0 elsewhere); meta: every
 * partition's length, records and checksum; buf: my bytes, in order. */
static kiln_status write_file(kiln_context *ctx, const char *path,
                              const kiln_schema *schema, uint32_t np,
                              const uint64_t *mine, const uint64_t *meta,
                              const uint64_t *offset, uint64_t total,
                              const unsigned char *buf, size_t bytes,
                              uint64_t signature)
{
    hid_t fapl = mpio_fapl(ctx), dxpl = collective_dxpl();
    hid_t file = -1, data = -1, fspace = -1, mspace = -1, index = -1;
    hid_t ispace = -1, imspace = -1;
    herr_t rc = -1;
    uint64_t *rows = NULL;
    if (fapl < 0 || dxpl < 0)
        goto done;
    if ((file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0)
        goto done;
    uint64_t words[SCHEMA_WORDS], header[4] = {FORMAT, signature, np, total};
    schema_words(schema, words);
    if (write_attr(file, "kiln_checkpoint", H5T_NATIVE_UINT64, 4, header) < 0 ||
        write_attr(file, "schema", H5T_NATIVE_UINT64, SCHEMA_WORDS, words) < 0)
        goto done;
    if ((data = create_data(ctx, file, total)) < 0 ||
        (fspace = H5Dget_space(data)) < 0)
        goto done;
    hsize_t mdims = bytes ? bytes : 1;
    if ((mspace = H5Screate_simple(1, &mdims, NULL)) < 0 ||
        (!bytes && H5Sselect_none(mspace) < 0) ||
        select_ranges(fspace, offset, mine, np) < 0)
        goto done;
    /* An empty dataset (every partition empty, the same on every rank) has
     * an empty /data, which parallel HDF5 refuses to write to at all. */
    static const unsigned char none = 0;
    if (total &&
        H5Dwrite(data, H5T_NATIVE_UINT8, mspace, fspace, dxpl, bytes ? buf : &none) < 0)
        goto done;

    /* /index: written by the master, the others select nothing. */
    hsize_t idims[2] = {np, 4}, icount[2] = {np, 4}, istart[2] = {0, 0};
    rows = kiln__mem_alloc(&ctx->mem, (np ? np : 1) * 4 * sizeof *rows);
    if (!rows || (ispace = H5Screate_simple(2, idims, NULL)) < 0 ||
        (imspace = H5Screate_simple(2, idims, NULL)) < 0)
        goto done;
    index = H5Dcreate2(file, "index", H5T_NATIVE_UINT64, ispace, H5P_DEFAULT,
                       H5P_DEFAULT, H5P_DEFAULT);
    if (index < 0)
        goto done;
    for (uint32_t p = 0; p < np; p++) {
        rows[4 * p] = offset[p];
        rows[4 * p + 1] = meta[3 * p];
        rows[4 * p + 2] = meta[3 * p + 1];
        rows[4 * p + 3] = meta[3 * p + 2];
    }
    if (ctx->rank == 0 && np) {
        if (H5Sselect_hyperslab(ispace, H5S_SELECT_SET, istart, NULL, icount, NULL) < 0)
            goto done;
    } else if (H5Sselect_none(ispace) < 0 || H5Sselect_none(imspace) < 0) {
        goto done;
    }
    if (H5Dwrite(index, H5T_NATIVE_UINT64, imspace, ispace, dxpl, rows) < 0)
        goto done;
    /* On disk before anyone says so: the MPI-IO driver syncs here. */
    rc = H5Fflush(file, H5F_SCOPE_GLOBAL);
done:
    kiln__mem_free(&ctx->mem, rows);
    if (imspace >= 0) H5Sclose(imspace);
    if (ispace >= 0) H5Sclose(ispace);
    if (index >= 0 && H5Dclose(index) < 0) rc = -1;
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    if (data >= 0 && H5Dclose(data) < 0) rc = -1;
    if (file >= 0 && H5Fclose(file) < 0) rc = -1;
    if (dxpl >= 0) H5Pclose(dxpl);
    if (fapl >= 0) H5Pclose(fapl);
    if (rc < 0)
        return KILN_ERROR(KILN_ERR_IO, "cannot write checkpoint file '%s'", path);
    return KILN_OK;
}

kiln_status kiln__checkpoint_write(kiln_context *ctx, const char *name,
                                   const kiln_schema *schema,
                                   const kiln__resident *res, uint64_t signature)
{
    uint32_t np = res->nparts;
    unsigned char *buf = NULL;
    size_t bytes = 0;
    uint64_t *meta = kiln__mem_calloc(&ctx->mem, 3 * (size_t)(np ? np : 1), 8);
    uint64_t *mine = kiln__mem_calloc(&ctx->mem, 2 * (size_t)(np ? np : 1), 8);
    uint64_t *offset = mine ? mine + np : NULL;
    char file[NAME_BYTES], path[PATH_BYTES];
    quiet q;
    kiln_status st = meta && mine ? KILN_OK : KILN_ERROR(KILN_ERR_NOMEM, "checkpoint");
    double start = kiln__now();
    if (st == KILN_OK)
        st = serialise(ctx, res, &buf, &bytes, meta);
    if (st == KILN_OK && ctx->rank == 0)
        st = make_dirs(ctx->opt.checkpoint_dir);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    for (uint32_t p = 0; p < np; p++)
        mine[p] = meta[3 * p];
    /* Each partition is filled on exactly one rank: a sum gathers them. */
    if (MPI_Allreduce(MPI_IN_PLACE, meta, 3 * (int)np, MPI_UINT64_T, MPI_SUM,
                      ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "checkpoint sizes");
    uint64_t total = 0;
    for (uint32_t p = 0; p < np; p++) {
        offset[p] = total;
        total += meta[3 * p];
    }
    /* The data file is named after the job. If this job already committed
     * this checkpoint, that name is the committed file: writing it again
     * would truncate the file the manifest names, and a crash meanwhile
     * would lose the checkpoint. So the master alternates with a second
     * name, and every rank takes its choice. */
    snprintf(file, sizeof file, "%s.%s.h5", name, ctx->job_id);
    if (ctx->rank == 0) {
        manifest old;
        char why[WHY_BYTES];
        if (manifest_read(ctx, name, &old, why, sizeof why) == 1 &&
            !strcmp(old.file, file))
            snprintf(file, sizeof file, "%s.%s-1.h5", name, ctx->job_id);
    }
    if (MPI_Bcast(file, sizeof file, MPI_CHAR, 0, ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "checkpoint file name");
    path_of(ctx, file, path, sizeof path);
    quiet_begin(&q);
    st = write_file(ctx, path, schema, np, mine, meta, offset, total, buf, bytes,
                    signature);
    quiet_end(&q);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK) {
        if (ctx->rank == 0)
            unlink(path);
        goto done;
    }
    /* Every rank's data is on disk: now, and only now, commit. */
    if (ctx->rank == 0) {
        manifest m = {.signature = signature, .nparts = np, .bytes = total};
        snprintf(m.file, sizeof m.file, "%s", file);
        st = manifest_write(ctx, name, &m);
        if (st == KILN_OK)
            remove_data_files(ctx, name, file);
        else
            unlink(path);
    }
    if ((st = kiln__error_agree(ctx, st)) == KILN_OK)
        kiln__log(ctx, KILN__LOG_INFO, "checkpoint %s: %u partitions, %llu bytes "
                  "written in %.2f s", name, np, (unsigned long long)total,
                  kiln__now() - start);
done:
    kiln__mem_free(&ctx->mem, buf);
    kiln__mem_free(&ctx->mem, meta);
    kiln__mem_free(&ctx->mem, mine);
    return st;
}

/* ---- read ---- */

/* The master's verdict on a manifest, sent to every rank. */
typedef struct verdict {
    int32_t code;      /* 1: open it; 0: no checkpoint; -1: unusable */
    char file[NAME_BYTES];
    char why[WHY_BYTES];
    uint64_t nparts, bytes;
} verdict;

static herr_t read_attr(hid_t loc, const char *name, size_t n, uint64_t *out)
{
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    if (attr < 0)
        return -1;
    hid_t space = H5Aget_space(attr);
    herr_t rc = space >= 0 && (size_t)H5Sget_simple_extent_npoints(space) == n
                    ? H5Aread(attr, H5T_NATIVE_UINT64, out) : -1;
    if (space >= 0)
        H5Sclose(space);
    H5Aclose(attr);
    return rc;
}

static bool parts_equal(const kiln_part *a, const kiln_part *b)
{
    return a->kind == b->kind && a->size == b->size &&
           a->elem_kind == b->elem_kind && a->elem_size == b->elem_size;
}

static bool types_equal(const kiln_type *a, const kiln_type *b)
{
    return a->kind == b->kind && a->size == b->size &&
           a->elem_kind == b->elem_kind && a->elem_size == b->elem_size &&
           parts_equal(&a->left, &b->left) && parts_equal(&a->right, &b->right);
}

/* Everything after the master said "open it": this rank's status, with the
 * reason in the error trace when the file is unusable. */
static kiln_status read_file(kiln_context *ctx, const char *path,
                             const verdict *v, const kiln_schema *want,
                             uint64_t signature, kiln__resident *res,
                             kiln_schema *got)
{
    kiln_status st = KILN_OK;
    hid_t fapl = mpio_fapl(ctx), dxpl = collective_dxpl();
    hid_t file = -1, data = -1, fspace = -1, mspace = -1, index = -1;
    uint64_t header[4], words[SCHEMA_WORDS], *rows = NULL, *mine = NULL;
    unsigned char *buf = NULL;
    uint32_t np = (uint32_t)v->nparts;
    if (fapl < 0 || dxpl < 0)
        return KILN_ERROR(KILN_ERR_IO, "HDF5 property lists");
    kiln__h5zstd_register(); /* a zstd checkpoint needs the filter to read */
    if ((file = H5Fopen(path, H5F_ACC_RDONLY, fapl)) < 0) {
        st = KILN_ERROR(KILN_ERR_IO, "cannot open '%s' (truncated or not HDF5?)", path);
        goto done;
    }
    if (read_attr(file, "kiln_checkpoint", 4, header) < 0 ||
        read_attr(file, "schema", SCHEMA_WORDS, words) < 0) {
        st = KILN_ERROR(KILN_ERR_PARSE, "'%s' is not a Kiln checkpoint", path);
        goto done;
    }
    schema_from_words(words, got);
    if (header[0] != FORMAT || header[2] != v->nparts || header[3] != v->bytes) {
        st = KILN_ERROR(KILN_ERR_PARSE, "'%s' does not match its manifest", path);
        goto done;
    }
    if (signature && header[1] != signature) {
        st = KILN_ERROR(KILN_ERR_PARSE, "'%s' was written for a different lineage "
                        "or different inputs", path);
        goto done;
    }
    if (want && (!types_equal(&want->key, &got->key) ||
                 !types_equal(&want->value, &got->value))) {
        st = KILN_ERROR(KILN_ERR_PARSE, "'%s' holds records of other types", path);
        goto done;
    }
    /* The index, on every rank. */
    rows = kiln__mem_alloc(&ctx->mem, (np ? np : 1) * 4 * sizeof *rows);
    mine = kiln__mem_calloc(&ctx->mem, 2 * (size_t)(np ? np : 1), sizeof *mine);
    if (!rows || !mine) {
        st = KILN_ERROR(KILN_ERR_NOMEM, "checkpoint index");
        goto done;
    }
    if ((index = H5Dopen2(file, "index", H5P_DEFAULT)) < 0 ||
        (np && H5Dread(index, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, dxpl, rows) < 0)) {
        st = KILN_ERROR(KILN_ERR_IO, "cannot read the index of '%s'", path);
        goto done;
    }
    uint64_t expect = 0, bytes = 0;
    for (uint32_t p = 0; p < np; p++) {
        if (rows[4 * p] != expect) {
            st = KILN_ERROR(KILN_ERR_PARSE, "the index of '%s' is damaged", path);
            goto done;
        }
        expect += rows[4 * p + 1];
        if (kiln__shuffle_owner(p, ctx->nranks) == ctx->rank) {
            mine[p] = rows[4 * p + 1];
            bytes += mine[p];
        }
    }
    if (expect != v->bytes) {
        st = KILN_ERROR(KILN_ERR_PARSE, "the index of '%s' is damaged", path);
        goto done;
    }
    /* My partitions, one collective read. */
    if (!(buf = kiln__mem_alloc(&ctx->mem, bytes ? bytes : 1))) {
        st = KILN_ERROR(KILN_ERR_NOMEM, "checkpoint read of %llu bytes",
                        (unsigned long long)bytes);
        goto done;
    }
    uint64_t *offs = mine + np;
    for (uint32_t p = 0; p < np; p++)
        offs[p] = rows[4 * p];
    hsize_t mdims = bytes ? bytes : 1;
    if ((data = H5Dopen2(file, "data", H5P_DEFAULT)) < 0 ||
        (fspace = H5Dget_space(data)) < 0 ||
        (hsize_t)H5Sget_simple_extent_npoints(fspace) != v->bytes ||
        (mspace = H5Screate_simple(1, &mdims, NULL)) < 0 ||
        (!bytes && H5Sselect_none(mspace) < 0) ||
        select_ranges(fspace, offs, mine, np) < 0 ||
        (v->bytes && H5Dread(data, H5T_NATIVE_UINT8, mspace, fspace, dxpl, buf) < 0)) {
        st = KILN_ERROR(KILN_ERR_IO, "cannot read the data of '%s' (truncated "
                        "or corrupt?)", path);
        goto done;
    }
    size_t at = 0;
    for (uint32_t p = 0; p < np && st == KILN_OK; p++) {
        res->owner[p] = (int32_t)kiln__shuffle_owner(p, ctx->nranks);
        if (res->owner[p] != ctx->rank)
            continue;
        size_t len = (size_t)rows[4 * p + 1];
        if (len && kiln__hash_bytes(buf + at, len) != rows[4 * p + 3]) {
            st = KILN_ERROR(KILN_ERR_PARSE, "partition %u of '%s' fails its checksum",
                            p, path);
            break;
        }
        kiln__store *s = kiln__mem_alloc(&ctx->mem, sizeof *s);
        if (!s) {
            st = KILN_ERROR(KILN_ERR_NOMEM, "checkpoint partition");
            break;
        }
        kiln__store_init(s, &ctx->mem, got);
        res->part[p] = s;
        for (size_t used, off = 0; off < len && st == KILN_OK; off += used) {
            kiln_batch b;
            used = kiln__block_wire_read(got, buf + at + off, len - off, &b);
            if (!used || b.partition != p)
                st = KILN_ERROR(KILN_ERR_PARSE, "partition %u of '%s' is garbled",
                                p, path);
            else
                st = kiln__store_append(s, &b, 0, b.n);
        }
        if (st == KILN_OK && s->records != rows[4 * p + 2])
            st = KILN_ERROR(KILN_ERR_PARSE, "partition %u of '%s' has %llu records, "
                            "not %llu", p, path, (unsigned long long)s->records,
                            (unsigned long long)rows[4 * p + 2]);
        at += len;
    }
    res->complete = true;
done:
    kiln__mem_free(&ctx->mem, buf);
    kiln__mem_free(&ctx->mem, rows);
    kiln__mem_free(&ctx->mem, mine);
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    if (data >= 0) H5Dclose(data);
    if (index >= 0) H5Dclose(index);
    if (file >= 0) H5Fclose(file);
    H5Pclose(dxpl);
    H5Pclose(fapl);
    return st;
}

kiln_status kiln__checkpoint_read(kiln_context *ctx, const char *name,
                                  const kiln_schema *schema, uint64_t signature,
                                  kiln__resident **out, kiln_schema *schema_out,
                                  bool *found)
{
    verdict v;
    memset(&v, 0, sizeof v);
    *found = false;
    if (ctx->rank == 0) {
        manifest m;
        v.code = manifest_read(ctx, name, &m, v.why, sizeof v.why);
        struct stat sb;
        char path[PATH_BYTES];
        if (v.code == 0 && find_data_file(ctx, name, v.file, sizeof v.file)) {
            v.code = -1;
            snprintf(v.why, sizeof v.why, "its manifest '%s/%s.manifest' is "
                     "missing (data file '%s' was never committed, or the "
                     "manifest was lost)", ctx->opt.checkpoint_dir, name, v.file);
        }
        if (v.code == 1) {
            path_of(ctx, m.file, path, sizeof path);
            snprintf(v.file, sizeof v.file, "%s", m.file);
            v.nparts = m.nparts;
            v.bytes = m.bytes;
            if (signature && m.signature != signature) {
                v.code = -1;
                snprintf(v.why, sizeof v.why, "it was written for a different "
                         "lineage or different inputs");
            } else if (stat(path, &sb) != 0) {
                v.code = -1;
                snprintf(v.why, sizeof v.why, "its data file '%s' is missing", path);
            }
        }
    }
    if (MPI_Bcast(&v, sizeof v, MPI_BYTE, 0, ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "checkpoint verdict");
    if (v.code == 0)
        return KILN_OK;
    if (v.code < 0) { /* the master's verdict: it says so, once */
        if (ctx->rank == 0)
            kiln__log(ctx, KILN__LOG_WARN, "checkpoint %s not used: %s; "
                      "recomputing", name, v.why);
        return KILN_OK;
    }
    char path[PATH_BYTES];
    kiln_schema got;
    kiln__resident *res = NULL;
    quiet q;
    kiln_status st = kiln__resident_create(&ctx->mem, (uint32_t)v.nparts, &res);
    path_of(ctx, v.file, path, sizeof path);
    double start = kiln__now();
    quiet_begin(&q);
    if (st == KILN_OK)
        st = read_file(ctx, path, &v, schema, signature, res, &got);
    quiet_end(&q);
    if (kiln__error_agree(ctx, st) != KILN_OK) {
        /* Damage is not an error for the caller: say so, then recompute. */
        if (ctx->rank == 0) /* agreed: every rank has the same message */
            kiln__log(ctx, KILN__LOG_WARN, "checkpoint %s not used: %s; "
                      "recomputing", name, ctx->last_error);
        ctx->last_error[0] = '\0';
        ctx->failed_rank = -1;
        kiln__error_clear();
        kiln__resident_destroy(&ctx->mem, &res);
        return KILN_OK;
    }
    kiln__log(ctx, KILN__LOG_INFO, "checkpoint %s: loaded %llu partitions (%llu "
              "bytes) in %.2f s instead of recomputing them", name,
              (unsigned long long)v.nparts, (unsigned long long)v.bytes,
              kiln__now() - start);
    *out = res;
    *schema_out = got;
    *found = true;
    return KILN_OK;
}
