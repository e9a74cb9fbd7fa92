/* runtime/text_split.c: what the master does before reading text: expand
 * paths and cut files into byte ranges. Ranges ignore line boundaries; the
 * reader of each range settles them (a line belongs to the range it starts
 * in), so splitting needs no reading. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/error.h"
#include "runtime/io.h"

typedef struct file_list {
    char **names;
    uint64_t *sizes;
    size_t n, cap;
} file_list;

static void list_free(file_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    free(l->sizes);
}

static kiln_status list_add(file_list *l, const char *path)
{
    struct stat sb;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return KILN_ERROR(KILN_ERR_IO, "cannot open input '%s': %s", path,
                          strerror(errno));
    int rc = fstat(fd, &sb);
    int err = errno;
    close(fd);
    if (rc != 0)
        return KILN_ERROR(KILN_ERR_IO, "cannot stat input '%s': %s", path,
                          strerror(err));
    if (!S_ISREG(sb.st_mode))
        return KILN_ERROR(KILN_ERR_IO, "input '%s' is not a regular file", path);
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **names = realloc(l->names, cap * sizeof *names);
        if (!names)
            return KILN_ERROR(KILN_ERR_NOMEM, "file list");
        l->names = names;
        uint64_t *sizes = realloc(l->sizes, cap * sizeof *sizes);
        if (!sizes)
            return KILN_ERROR(KILN_ERR_NOMEM, "file list");
        l->sizes = sizes;
        l->cap = cap;
    }
    if (!(l->names[l->n] = strdup(path)))
        return KILN_ERROR(KILN_ERR_NOMEM, "file list");
    l->sizes[l->n++] = (uint64_t)sb.st_size;
    return KILN_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Hadoop's convention: names starting with '.' or '_' (_SUCCESS, editor
 * files) are not data. */
static bool hidden(const char *name)
{
    return name[0] == '.' || name[0] == '_';
}

static kiln_status add_directory(file_list *l, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return KILN_ERROR(KILN_ERR_IO, "cannot read directory '%s': %s", dir,
                          strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    kiln_status st = KILN_OK;
    struct dirent *e;
    while ((e = readdir(d)) && st == KILN_OK) {
        if (hidden(e->d_name))
            continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *path = malloc(len);
        if (!path) {
            st = KILN_ERROR(KILN_ERR_NOMEM, "directory listing");
            break;
        }
        snprintf(path, len, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            free(path); /* subdirectories and specials are not inputs */
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **v = realloc(names, cap * sizeof *v);
            if (!v) {
                free(path);
                st = KILN_ERROR(KILN_ERR_NOMEM, "directory listing");
                break;
            }
            names = v;
        }
        names[n++] = path;
    }
    closedir(d);
    if (st == KILN_OK && n)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        if (st == KILN_OK)
            st = list_add(l, names[i]);
        free(names[i]);
    }
    free(names);
    return st;
}

static bool is_pattern(const char *p)
{
    return strpbrk(p, "*?[") != NULL;
}

static kiln_status add_path(file_list *l, const char *path)
{
    if (is_pattern(path)) {
        glob_t g;
        int rc = glob(path, 0, NULL, &g);
        if (rc == GLOB_NOMATCH)
            return KILN_ERROR(KILN_ERR_IO, "no input matches '%s'", path);
        if (rc != 0)
            return KILN_ERROR(KILN_ERR_IO, "cannot expand '%s'", path);
        kiln_status st = KILN_OK;
        for (size_t i = 0; i < g.gl_pathc && st == KILN_OK; i++) {
            struct stat sb;
            if (stat(g.gl_pathv[i], &sb) == 0 && S_ISDIR(sb.st_mode))
                st = add_directory(l, g.gl_pathv[i]);
            else
                st = list_add(l, g.gl_pathv[i]);
        }
        globfree(&g);
        return st;
    }
    struct stat sb;
    if (stat(path, &sb) != 0)
        return KILN_ERROR(KILN_ERR_IO, "cannot open input '%s': %s", path,
                          strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return add_directory(l, path);
    return list_add(l, path);
}

kiln_status kiln__text_split(const char *const *paths, size_t npaths,
                             uint64_t split_bytes, uint64_t record_bytes,
                             kiln__text_splits **out)
{
    file_list l = {0};
    kiln__text_splits *s = NULL;
    kiln_status st = KILN_OK;
    for (size_t i = 0; i < npaths && st == KILN_OK; i++)
        st = add_path(&l, paths[i]);
    if (st != KILN_OK)
        goto fail;
    /* Binary records: sizes must be whole records, ranges cut between them.
     * Working in records (units) keeps one splitting rule for both. */
    uint64_t unit = record_bytes ? record_bytes : 1;
    for (size_t i = 0; i < l.n; i++) {
        if (l.sizes[i] % unit) {
            st = KILN_ERROR(KILN_ERR_PARSE,
                            "'%s': %llu bytes is not a whole number of %llu-byte "
                            "records", l.names[i], (unsigned long long)l.sizes[i],
                            (unsigned long long)unit);
            goto fail;
        }
        l.sizes[i] /= unit;
    }
    split_bytes /= unit;
    if (split_bytes == 0)
        split_bytes = 1;
    if (l.n > UINT32_MAX) {
        st = KILN_ERROR(KILN_ERR_LIMIT, "too many input files");
        goto fail;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < l.n; i++)
        total += l.sizes[i] <= split_bytes ? 1
                 : (l.sizes[i] + split_bytes - 1) / split_bytes;
    if (total > UINT32_MAX) {
        st = KILN_ERROR(KILN_ERR_LIMIT, "%llu splits; raise --kiln-split-bytes",
                        (unsigned long long)total);
        goto fail;
    }
    s = calloc(1, sizeof *s);
    if (!s || !(s->splits = calloc(total ? total : 1, sizeof *s->splits))) {
        st = KILN_ERROR(KILN_ERR_NOMEM, "splits");
        goto fail;
    }
    for (size_t f = 0; f < l.n; f++) {
        uint64_t size = l.sizes[f];
        uint64_t parts = size <= split_bytes ? 1 : (size + split_bytes - 1) / split_bytes;
        /* Equal ranges, so the last one is not a sliver; the first
         * size % parts ranges take one byte more. Written without size * k,
         * which overflows for huge files cut small. */
        uint64_t base = size / parts, extra = size % parts, begin = 0;
        for (uint64_t k = 0; k < parts; k++) {
            uint64_t len = base + (k < extra ? 1 : 0);
            s->splits[s->nsplits++] =
                (kiln__split){(uint32_t)f, begin * unit, len * unit};
            begin += len;
        }
    }
    s->files = l.names;
    s->nfiles = (uint32_t)l.n;
    free(l.sizes);
    *out = s;
    return KILN_OK;
fail:
    list_free(&l);
    if (s) {
        free(s->splits);
        free(s);
    }
    return st;
}

/* Packed form: u32 nfiles, u32 nsplits, per file u32 length + bytes, then
 * the splits as three u64 each (file, offset, length). */
kiln_status kiln__text_splits_pack(const kiln__text_splits *s,
                                   unsigned char **buf, size_t *len)
{
    size_t need = 8 + 24 * (size_t)s->nsplits;
    for (uint32_t i = 0; i < s->nfiles; i++)
        need += 4 + strlen(s->files[i]);
    unsigned char *p = malloc(need ? need : 1);
    if (!p)
        return KILN_ERROR(KILN_ERR_NOMEM, "split list of %zu bytes", need);
    unsigned char *w = p;
    memcpy(w, &s->nfiles, 4);
    memcpy(w + 4, &s->nsplits, 4);
    w += 8;
    for (uint32_t i = 0; i < s->nfiles; i++) {
        uint32_t n = (uint32_t)strlen(s->files[i]);
        memcpy(w, &n, 4);
        memcpy(w + 4, s->files[i], n);
        w += 4 + n;
    }
    for (uint32_t i = 0; i < s->nsplits; i++) {
        uint64_t v[3] = {s->splits[i].file, s->splits[i].offset,
                         s->splits[i].length};
        memcpy(w, v, 24);
        w += 24;
    }
    *buf = p;
    *len = need;
    return KILN_OK;
}

kiln_status kiln__text_splits_unpack(const unsigned char *buf, size_t len,
                                     kiln__text_splits **out)
{
    kiln__text_splits *s = calloc(1, sizeof *s);
    if (!s)
        return KILN_ERROR(KILN_ERR_NOMEM, "splits");
    const unsigned char *r = buf, *end = buf + len;
    uint32_t nfiles, nsplits;
    if (len < 8)
        goto bad;
    memcpy(&nfiles, r, 4);
    memcpy(&nsplits, r + 4, 4);
    r += 8;
    s->files = calloc(nfiles ? nfiles : 1, sizeof *s->files);
    s->splits = calloc(nsplits ? nsplits : 1, sizeof *s->splits);
    if (!s->files || !s->splits)
        goto nomem;
    for (uint32_t i = 0; i < nfiles; i++) {
        uint32_t n;
        if (end - r < 4)
            goto bad;
        memcpy(&n, r, 4);
        if ((size_t)(end - r - 4) < n)
            goto bad;
        if (!(s->files[i] = malloc(n + 1)))
            goto nomem;
        memcpy(s->files[i], r + 4, n);
        s->files[i][n] = '\0';
        s->nfiles = i + 1;
        r += 4 + n;
    }
    if ((size_t)(end - r) != 24 * (size_t)nsplits)
        goto bad;
    for (uint32_t i = 0; i < nsplits; i++) {
        uint64_t v[3];
        memcpy(v, r, 24);
        r += 24;
        if (v[0] >= nfiles)
            goto bad;
        s->splits[i] = (kiln__split){(uint32_t)v[0], v[1], v[2]};
    }
    s->nsplits = nsplits;
    *out = s;
    return KILN_OK;
bad:
    kiln__text_splits_destroy(&s);
    return KILN_ERROR(KILN_ERR_MPI, "garbled split list");
nomem:
    kiln__text_splits_destroy(&s);
    return KILN_ERROR(KILN_ERR_NOMEM, "split list");
}
