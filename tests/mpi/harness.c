/* tests/mpi/harness.c: checks, sync points, scratch files and record text
 * for the MPI integration tests (see harness.h). Uses MPI_COMM_WORLD
 * directly for its own agreement; Kiln talks on private duplicates, so the
 * two never mix. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

t_state T = {.section = "start"};

enum { MAX_REPORTS = 8 };

/* ---- watchdog ---- */

static void on_alarm(int sig)
{
    (void)sig;
    char msg[512];
    int n = snprintf(msg, sizeof msg,
                     "RANK %d: FAIL [%s]: watchdog: %s did not finish in time "
                     "(a hang?)\n", T.rank, T.section, T.name);
    if (n > 0)
        (void)!write(STDERR_FILENO, msg, (size_t)n);
    _exit(124);
}

void t_watchdog(void)
{
    /* Below every ctest TIMEOUT in CMakeLists.txt (90 s or more): ranks end
     * themselves, so none is left spinning if ctest kills mpirun. */
    unsigned seconds = 75;
    const char *env = getenv("KILN_TEST_WATCHDOG");
    if (env && atoi(env) > 0)
        seconds = (unsigned)atoi(env);
    signal(SIGALRM, on_alarm);
    alarm(seconds);
}

/* ---- verdicts ---- */

bool t_check(bool ok, const char *file, int line, const char *fmt, ...)
{
    if (ok)
        return true;
    if (T.failures++ < MAX_REPORTS) {
        char msg[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        const char *base = strrchr(file, '/');
        fprintf(stderr, "RANK %d: FAIL [%s] %s:%d: %s\n", T.rank, T.section,
                base ? base + 1 : file, line, msg);
        fflush(stderr);
    }
    return false;
}

static void stop_all(int failed_ranks, int first_rank)
{
    if (T.rank == 0) {
        fprintf(stderr, "%s: FAILED at [%s] (%d of %d ranks failed checks; "
                        "first: rank %d)\n", T.name, T.section, failed_ranks,
                T.nranks, first_rank);
        fflush(stderr);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (T.rank == 0 && !getenv("KILN_TEST_KEEP"))
        t_remove_tree(T.dir);
    kiln_finalize(&T.ctx); /* collective: every rank is here */
    exit(1);
}

void t_sync(void)
{
    int mine[2] = {T.failures ? 1 : 0, T.failures ? T.rank : T.nranks}, sum, min;
    MPI_Allreduce(&mine[0], &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&mine[1], &min, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (sum)
        stop_all(sum, min);
}

void t_section(const char *name)
{
    t_sync();
    T.section = name;
    if (T.rank == 0 && getenv("KILN_TEST_VERBOSE")) {
        fprintf(stderr, "%s: %s\n", T.name, name);
        fflush(stderr);
    }
}

void t_expect_status(kiln_status got, kiln_status want, const char *expr,
                     const char *file, int line)
{
    int mine[2] = {(int)got, -(int)got}, agreed[2];
    MPI_Allreduce(mine, agreed, 2, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    int lo = agreed[0], hi = -agreed[1];
    kiln_context *ctx = T.report_ctx ? T.report_ctx : T.ctx;
    const char *err = ctx ? kiln_context_last_error(ctx) : "";
    if (lo != hi)
        t_check(false, file, line,
                "%s: the status differs between ranks (from %d to %d); here "
                "%d (%s); last error: %s", expr, lo, hi, (int)got,
                kiln_strerror(got), err);
    else if (got != want)
        t_check(false, file, line, "%s returned %d (%s), expected %d (%s); "
                "last error: %s", expr, (int)got, kiln_strerror(got),
                (int)want, kiln_strerror(want), err);
    t_sync();
}

/* ---- start and end ---- */

void t_init(int *argc, char ***argv)
{
    const char *slash = strrchr((*argv)[0], '/');
    T.name = slash ? slash + 1 : (*argv)[0];
    t_watchdog();
    kiln_status st = kiln_init(argc, argv, &T.ctx);
    if (st != KILN_OK) {
        fprintf(stderr, "%s: FAIL: kiln_init: %s\n", T.name, kiln_strerror(st));
        exit(1);
    }
    T.rank = kiln_context_rank(T.ctx);
    T.nranks = kiln_context_size(T.ctx);
    int ok = 1;
    if (T.rank == 0) {
        const char *base = getenv("KILN_TEST_TMPDIR");
        if (!base || !*base)
            base = getenv("TMPDIR");
        if (!base || !*base)
            base = "/tmp";
        snprintf(T.dir, sizeof T.dir, "%s/kiln-%s-XXXXXX", base, T.name);
        if (!mkdtemp(T.dir)) {
            fprintf(stderr, "%s: FAIL: mkdtemp %s: %s\n", T.name, T.dir,
                    strerror(errno));
            ok = 0;
        }
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Bcast(T.dir, sizeof T.dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (!ok) {
        kiln_finalize(&T.ctx);
        exit(1);
    }
    T.section = "setup";
}

int t_finish(void)
{
    t_section("finish");
    if (T.rank == 0 && !getenv("KILN_TEST_KEEP"))
        t_remove_tree(T.dir);
    kiln_status st = kiln_finalize(&T.ctx);
    if (st != KILN_OK) {
        fprintf(stderr, "RANK %d: FAIL: kiln_finalize: %s\n", T.rank,
                kiln_strerror(st));
        return 1;
    }
    if (T.rank == 0)
        printf("%s: PASS at %d rank%s\n", T.name, T.nranks, T.nranks > 1 ? "s" : "");
    return 0;
}

/* ---- files ---- */

char *t_path(const char *fmt, ...)
{
    char rel[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    size_t n = strlen(T.dir) + strlen(rel) + 2;
    char *p = malloc(n);
    if (!p)
        abort();
    snprintf(p, n, "%s/%s", T.dir, rel);
    return p;
}

void t_write_file(const char *path, const void *data, size_t len)
{
    if (T.rank != 0)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    size_t done = 0;
    while (fd >= 0 && done < len) {
        ssize_t n = write(fd, (const char *)data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    CHECK(fd >= 0 && done == len, "cannot write %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
}

void t_mkdir(const char *path)
{
    if (T.rank != 0)
        return;
    CHECK(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", path,
          strerror(errno));
}

static int remove_one(const char *path, const struct stat *sb, int flag,
                      struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void t_remove_tree(const char *path)
{
    if (T.rank != 0)
        return;
    struct stat sb;
    if (lstat(path, &sb) == 0)
        nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

void t_barrier(void)
{
    MPI_Barrier(MPI_COMM_WORLD);
}

char *t_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    t_buf b = {0};
    char chunk[1 << 16];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        t_buf_add(&b, chunk, (size_t)n);
    }
    close(fd);
    t_buf_add(&b, "", 1);
    *len = b.len - 1;
    return b.p;
}

bool t_exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

bool t_list_dir(const char *path, t_strv *out)
{
    DIR *d = opendir(path);
    if (!d)
        return false;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            t_strv_add(out, e->d_name, strlen(e->d_name));
    closedir(d);
    t_strv_sort(out);
    return true;
}

/* ---- buffers ---- */

void t_buf_add(t_buf *b, const void *p, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q)
            abort();
        b->p = q;
        b->cap = cap;
    }
    if (len)
        memcpy(b->p + b->len, p, len);
    b->len += len;
    b->p[b->len] = '\0';
}

void t_buf_addf(t_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    if ((size_t)n < sizeof small) {
        t_buf_add(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big)
        abort();
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t_buf_add(b, big, (size_t)n);
    free(big);
}

void t_buf_free(t_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- string vectors ---- */

void t_strv_add(t_strv *v, const void *p, size_t len)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        char **s = realloc(v->s, cap * sizeof *s);
        size_t *l = realloc(v->len, cap * sizeof *l);
        if (!s || !l)
            abort();
        v->s = s;
        v->len = l;
        v->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        abort();
    if (len)
        memcpy(copy, p, len);
    copy[len] = '\0';
    v->s[v->n] = copy;
    v->len[v->n++] = len;
}

void t_strv_addf(t_strv *v, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof small)
        abort(); /* long strings: use t_strv_add */
    t_strv_add(v, small, (size_t)n);
}

static int cmp_bytes(const char *a, size_t la, const char *b, size_t lb)
{
    int c = memcmp(a, b, la < lb ? la : lb);
    return c ? c : (la < lb ? -1 : la > lb);
}

void t_strv_sort(t_strv *v)
{
    /* Sort an index, then permute: keeps s and len together. */
    size_t n = v->n;
    if (n < 2)
        return;
    size_t *idx = malloc(n * sizeof *idx), *tmp = malloc(n * sizeof *tmp);
    char **s = malloc(n * sizeof *s);
    size_t *l = malloc(n * sizeof *l);
    if (!idx || !tmp || !s || !l)
        abort();
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    /* Bottom-up merge sort (qsort has no context argument in C11). */
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = cmp_bytes(v->s[idx[j]], v->len[idx[j]], v->s[idx[i]],
                                     v->len[idx[i]]) < 0 ? idx[j++] : idx[i++];
            while (i < mid)
                tmp[k++] = idx[i++];
            while (j < hi)
                tmp[k++] = idx[j++];
        }
        size_t *t = idx;
        idx = tmp;
        tmp = t;
    }
    for (size_t i = 0; i < n; i++) {
        s[i] = v->s[idx[i]];
        l[i] = v->len[idx[i]];
    }
    memcpy(v->s, s, n * sizeof *s);
    memcpy(v->len, l, n * sizeof *l);
    free(idx);
    free(tmp);
    free(s);
    free(l);
}

void t_strv_free(t_strv *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->s[i]);
    free(v->s);
    free(v->len);
    memset(v, 0, sizeof *v);
}

void t_strv_join(const t_strv *v, const char *sep, t_buf *out)
{
    for (size_t i = 0; i < v->n; i++) {
        if (i)
            t_buf_add(out, sep, strlen(sep));
        t_buf_add(out, v->s[i], v->len[i]);
    }
}

/* Printable excerpt of a byte string for messages. */
static const char *excerpt(const char *s, size_t len, char *buf, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 8 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 32 && c < 127 && c != '\\')
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
    }
    if (o + 8 >= size && size > 4)
        memcpy(buf + size - 4, "...", 4);
    else
        buf[o] = '\0';
    return buf;
}

bool t_strv_equal(const t_strv *got, const t_strv *want, const char *what,
                  const char *file, int line)
{
    size_t n = got->n < want->n ? got->n : want->n;
    for (size_t i = 0; i < n; i++) {
        if (got->len[i] != want->len[i] ||
            memcmp(got->s[i], want->s[i], got->len[i]) != 0) {
            char a[200], b[200];
            return t_check(false, file, line,
                           "%s: record %zu of %zu is '%s' (%zu bytes), expected "
                           "'%s' (%zu bytes)", what, i, want->n,
                           excerpt(got->s[i], got->len[i], a, sizeof a),
                           got->len[i],
                           excerpt(want->s[i], want->len[i], b, sizeof b),
                           want->len[i]);
        }
    }
    if (got->n != want->n) {
        char a[200];
        const t_strv *longer = got->n > want->n ? got : want;
        return t_check(false, file, line,
                       "%s: %zu records, expected %zu (first %s: '%s')", what,
                       got->n, want->n, got->n > want->n ? "extra" : "missing",
                       excerpt(longer->s[n], longer->len[n], a, sizeof a));
    }
    return true;
}

/* ---- record text ---- */

static void repr_scalar(t_buf *out, kiln_kind kind, const void *p, size_t len)
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
        t_buf_addf(out, "%a", v);
        break;
    }
    case KILN_KIND_FIXED:
        for (size_t i = 0; i < len; i++)
            t_buf_addf(out, "%02x", ((const unsigned char *)p)[i]);
        break;
    default: /* STRING, BYTES */
        t_buf_add(out, p, len);
        break;
    }
}

void t_repr_list(t_buf *out, t_strv *elems)
{
    t_strv_sort(elems);
    t_buf_add(out, "[", 1);
    t_strv_join(elems, ",", out);
    t_buf_add(out, "]", 1);
}

void t_repr_field(t_buf *out, kiln_kind kind, size_t elem_size,
                  kiln_kind elem_kind, const void *p, size_t len)
{
    if (kind != KILN_KIND_LIST) {
        repr_scalar(out, kind, p, len);
        return;
    }
    t_strv elems = {0};
    kiln_list_iter it = kiln_list_begin(p, len, elem_size);
    const void *e;
    size_t elen;
    t_buf one = {0};
    while (kiln_list_next(&it, &e, &elen)) {
        one.len = 0;
        repr_scalar(&one, elem_kind, e, elen);
        t_strv_add(&elems, one.p ? one.p : "", one.len);
    }
    t_repr_list(out, &elems);
    t_buf_free(&one);
    t_strv_free(&elems);
}

void t_repr_batch(const kiln_batch *b, kiln_schema s, t_strv *out)
{
    t_buf line = {0};
    for (size_t i = 0; i < b->n; i++) {
        line.len = 0;
        size_t len;
        if (s.key.kind != KILN_KIND_NONE) {
            const void *k = kiln_batch_key(b, i, &len);
            t_repr_field(&line, s.key.kind, s.key.elem_size, s.key.elem_kind, k,
                         len);
            t_buf_add(&line, "\t", 1);
        }
        const void *v = kiln_batch_value(b, i, &len);
        t_repr_field(&line, s.value.kind, s.value.elem_size, s.value.elem_kind,
                     v, len);
        t_strv_add(out, line.p ? line.p : "", line.len);
    }
    t_buf_free(&line);
}

void t_collect_repr(kiln_dataset *ds, t_strv *out)
{
    kiln_collection *c = NULL;
    EXPECT_OK(kiln_dataset_collect(ds, KILN_ALL_RANKS, &c));
    t_repr_batch(kiln_collection_batch(c), kiln_dataset_schema(ds), out);
    kiln_collection_destroy(&c);
}

uint64_t t_count(kiln_dataset *ds)
{
    uint64_t n = UINT64_MAX;
    EXPECT_OK(kiln_dataset_count(ds, &n));
    return n;
}

bool t_same_on_all_ranks(const void *p8)
{
    uint64_t v, lo, hi;
    memcpy(&v, p8, 8);
    MPI_Allreduce(&v, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&v, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    return lo == hi;
}

/* ---- the same job at other rank counts ---- */

enum { MAX_KEPT = 32 };
static char *kept[MAX_KEPT];
static int nkept;

void t_keep_options(int argc, char **argv)
{
    for (int i = 1; i < argc && nkept < MAX_KEPT; i++)
        if (argv[i] && strncmp(argv[i], "--kiln-", 7) == 0)
            kept[nkept++] = argv[i]; /* argv strings outlive main's work */
}

kiln_context *t_sub_context(int k, const char *const *extra)
{
    if (k > T.nranks)
        k = T.nranks;
    MPI_Comm sub = MPI_COMM_NULL;
    MPI_Comm_split(MPI_COMM_WORLD, T.rank < k ? 0 : MPI_UNDEFINED, T.rank, &sub);
    if (sub == MPI_COMM_NULL)
        return NULL;
    char *args[2 * MAX_KEPT + 2];
    int argc = 0;
    args[argc++] = (char *)"sub";
    for (int i = 0; i < nkept; i++)
        args[argc++] = kept[i];
    for (int i = 0; extra && extra[i] && argc < 2 * MAX_KEPT; i++)
        args[argc++] = (char *)extra[i];
    args[argc] = NULL;
    char **argv = args;
    kiln_context *ctx = NULL;
    kiln_status st = kiln_init_comm(sub, &argc, &argv, &ctx);
    MPI_Comm_free(&sub);
    CHECK(st == KILN_OK, "kiln_init_comm on %d ranks: %s", k, kiln_strerror(st));
    return st == KILN_OK ? ctx : NULL;
}

void t_sub_done(kiln_context **ctx)
{
    if (!ctx || !*ctx)
        return;
    kiln_status st = kiln_finalize(ctx);
    CHECK(st == KILN_OK, "kiln_finalize of a sub-context: %s", kiln_strerror(st));
}

uint64_t t_bcast_u64(uint64_t v)
{
    MPI_Bcast(&v, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    return v;
}

/* ---- layouts ---- */

static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
    const unsigned char *b = p;
    uint64_t n = len;
    for (int i = 0; i < 8; i++) {
        h ^= (n >> (8 * i)) & 0xff;
        h *= 0x100000001b3ull;
    }
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

typedef struct layout_state {
    uint64_t part, count, ordered, unordered;
} layout_state;

static kiln_status layout_open(uint32_t partition, void **state, void *arg)
{
    (void)arg;
    layout_state *s = calloc(1, sizeof *s);
    if (!s)
        return kiln_error(KILN_ERR_NOMEM, "layout");
    s->part = partition;
    *state = s;
    return KILN_OK;
}

static kiln_status layout_batch(const kiln_batch *in, kiln_emitter *out,
                                void *state, void *arg)
{
    (void)out;
    (void)arg;
    layout_state *s = state;
    CHECK(in->partition == s->part, "layout: a batch of partition %u in the task "
          "of partition %llu", in->partition, (unsigned long long)s->part);
    for (size_t i = 0; i < in->n; i++) {
        uint64_t h = 0xcbf29ce484222325ull;
        size_t len = 0;
        if (in->keys)
            h = fnv(h, kiln_batch_key(in, i, &len), len);
        const void *v = kiln_batch_value(in, i, &len);
        h = t_mix(fnv(h, v, len));
        s->ordered = t_mix(s->ordered ^ h);
        s->unordered += h;
        s->count++;
    }
    return KILN_OK;
}

static kiln_status layout_close(kiln_emitter *out, void *state, void *arg)
{
    (void)arg;
    layout_state *s = state;
    kiln_status st = KILN_OK;
    uint64_t v[3] = {s->count, s->ordered, s->unordered};
    if (out)
        st = kiln_emit(out, &s->part, 8, v, sizeof v);
    free(s);
    return st;
}

kiln_status t_layout_of(kiln_dataset *ds, t_layout *out)
{
    memset(out, 0, sizeof *out);
    kiln_dataset *tags = NULL;
    kiln_collection *c = NULL;
    kiln_partition_fns fns = {layout_open, layout_batch, layout_close};
    kiln_schema s = kiln_schema_of(KILN_T_U64, kiln_type_fixed(24, NULL, NULL, NULL));
    kiln_status st = kiln_dataset_map_partitions(ds, s, fns, NULL, &tags);
    if (st == KILN_OK)
        st = kiln_dataset_collect(tags, KILN_ALL_RANKS, &c);
    if (st == KILN_OK) {
        const kiln_batch *b = kiln_collection_batch(c);
        for (size_t i = 0; i < b->n; i++) {
            uint64_t p = kiln_batch_key_u64(b, i), v[3];
            size_t len;
            memcpy(v, kiln_batch_value(b, i, &len), 24);
            if (!CHECK(p < T_MAX_PARTS && (i == 0 || p >= out->nparts),
                       "layout: partition %llu after %u",
                       (unsigned long long)p, out->nparts))
                break;
            out->nparts = (uint32_t)p + 1;
            out->counts[p] = v[0];
            out->ordered[p] = v[1];
            out->unordered[p] = v[2];
            out->total += v[0];
        }
    }
    kiln_collection_destroy(&c);
    kiln_dataset_destroy(&tags);
    return st;
}

uint64_t t_layout_digest(const t_layout *l, bool ordered)
{
    uint64_t h = t_mix(l->nparts);
    for (uint32_t p = 0; p < l->nparts; p++)
        h = t_mix(h ^ t_mix(l->counts[p] + 1) ^
                  (ordered ? l->ordered[p] : l->unordered[p]));
    return h;
}

/* ---- records for parallelize ---- */

void t_recs_init(t_recs *r, kiln_schema s)
{
    memset(r, 0, sizeof *r);
    r->keyed = s.key.kind != KILN_KIND_NONE;
    r->key_var = s.key.kind == KILN_KIND_STRING || s.key.kind == KILN_KIND_BYTES;
    r->value_var = s.value.kind == KILN_KIND_STRING || s.value.kind == KILN_KIND_BYTES;
    r->key_size = r->keyed && !r->key_var ? s.key.size : 0;
    r->value_size = r->value_var ? 0 : s.value.size;
}

void t_recs_add(t_recs *r, const void *k, size_t kl, const void *v, size_t vl)
{
    if (r->n + 2 > r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 256;
        uint64_t *ko = realloc(r->koff, cap * sizeof *ko);
        if (ko)
            r->koff = ko;
        uint64_t *vo = realloc(r->voff, cap * sizeof *vo);
        if (!ko || !vo)
            abort();
        r->voff = vo;
        r->cap = cap;
        if (r->n == 0)
            r->koff[0] = r->voff[0] = 0;
    }
    if (r->keyed)
        t_buf_add(&r->keys, k, kl);
    t_buf_add(&r->values, v, vl);
    r->n++;
    r->koff[r->n] = r->keys.len;
    r->voff[r->n] = r->values.len;
}

kiln_batch t_recs_batch(const t_recs *r)
{
    static const unsigned char none[1];
    static const uint64_t no_offsets[1];
    kiln_batch b;
    memset(&b, 0, sizeof b);
    b.n = r->n;
    if (r->keyed) {
        b.keys = r->keys.p ? (const unsigned char *)r->keys.p : none;
        b.key_offsets = r->key_var ? (r->n ? r->koff : no_offsets) : NULL;
        b.key_size = r->key_size;
    }
    b.values = r->values.p ? (const unsigned char *)r->values.p : none;
    b.value_offsets = r->value_var ? (r->n ? r->voff : no_offsets) : NULL;
    b.value_size = r->value_size;
    return b;
}

void t_recs_free(t_recs *r)
{
    t_buf_free(&r->keys);
    t_buf_free(&r->values);
    free(r->koff);
    free(r->voff);
    memset(r, 0, sizeof *r);
}

kiln_status t_parallelize(kiln_context *ctx, kiln_schema s, const t_recs *r,
                          uint32_t nparts, kiln_dataset **out)
{
    kiln_batch b = t_recs_batch(r);
    return kiln_parallelize(ctx, s, &b, nparts, out);
}

/* ---- exact record text ---- */

/* Exact text: F64 with its bits (NaN signs and payloads, -0.0), byte
 * strings with non-printable bytes escaped. */
void t_repr_exact(t_buf *out, kiln_kind kind, const unsigned char *p, size_t len)
{
    uint64_t u;
    switch (kind) {
    case KILN_KIND_U64:
        memcpy(&u, p, 8);
        t_buf_addf(out, "%llu", (unsigned long long)u);
        break;
    case KILN_KIND_I64: {
        int64_t s;
        memcpy(&s, p, 8);
        t_buf_addf(out, "%lld", (long long)s);
        break;
    }
    case KILN_KIND_F64: {
        double d;
        memcpy(&d, p, 8);
        memcpy(&u, p, 8);
        t_buf_addf(out, "%a[%016llx]", d, (unsigned long long)u);
        break;
    }
    case KILN_KIND_STRING:
    case KILN_KIND_BYTES:
        t_buf_add(out, "\"", 1);
        for (size_t i = 0; i < len; i++) {
            if (p[i] < 0x20 || p[i] >= 0x7f || p[i] == '\\' || p[i] == '"')
                t_buf_addf(out, "\\x%02x", p[i]);
            else
                t_buf_add(out, p + i, 1);
        }
        t_buf_add(out, "\"", 1);
        break;
    default:
        for (size_t i = 0; i < len; i++)
            t_buf_addf(out, "%02x", p[i]);
        break;
    }
}

