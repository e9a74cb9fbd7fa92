/* tests/mpi/harness.h: what every MPI integration test shares.
 *
 * A test is an ordinary SPMD Kiln job linked against kiln::kiln only. It
 * checks results against a serial reference it computes itself, so the same
 * program must pass unchanged at 1, 2 and 4 ranks.
 *
 * Two kinds of checks, so that every rank reaches the same verdict and no
 * rank is ever left waiting in a collective:
 *  - CHECK(cond, fmt, ...) is local: a failure prints
 *    "RANK r: FAIL [section] file:line: message" and is remembered.
 *  - EXPECT_STATUS(call, want) / EXPECT_OK(call) are collective (every rank
 *    must reach them, as with any Kiln action): the status must be the same
 *    on every rank (the API promises it) and equal `want`.
 * Every EXPECT_*, t_section() and t_finish() is a sync point: the ranks
 * agree on whether any check failed so far, and if one did they all stop
 * there together with exit status 1. A watchdog (alarm, 75 s, or
 * KILN_TEST_WATCHDOG seconds) turns a hang into exit status 124 before
 * ctest's own timeout. */
#ifndef KILN_TEST_HARNESS_H
#define KILN_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <kiln.h>

typedef struct t_state {
    kiln_context *ctx;   /* the test's main context */
    int rank, nranks;
    char dir[1024];      /* scratch directory, the same path on every rank */
    const char *name;    /* program name, for messages */
    const char *section; /* what is being checked now */
    int failures;        /* local failed checks */
    kiln_context *report_ctx; /* whose last error to print (NULL: ctx) */
} t_state;

extern t_state T;

typedef struct t_strv t_strv; /* below */

/* kiln_init() with the program's arguments (--kiln-* options are consumed),
 * a scratch directory created by rank 0, and the watchdog. */
void t_init(int *argc, char ***argv);
/* Start the watchdog alone (t_init does it), for programs that cannot
 * use t_init. */
void t_watchdog(void);
/* Final sync point; removes the scratch directory, finalises. Returns the
 * exit status for main() (0: every check passed). */
int t_finish(void);

/* Start a named group of checks (a sync point). */
void t_section(const char *name);
/* Agree on the failures so far; stop every rank if any. Collective. */
void t_sync(void);

bool t_check(bool ok, const char *file, int line, const char *fmt, ...)
    KILN_PRINTF(4, 5);
void t_expect_status(kiln_status got, kiln_status want, const char *expr,
                     const char *file, int line);

#define CHECK(cond, ...) t_check((cond) != 0, __FILE__, __LINE__, __VA_ARGS__)
#define EXPECT_STATUS(call, want)                                             \
    t_expect_status((call), (want), #call, __FILE__, __LINE__)
#define EXPECT_OK(call) EXPECT_STATUS(call, KILN_OK)

/* The last error must mention `needle` (local check). */
#define CHECK_ERROR_MENTIONS(needle)                                          \
    CHECK(strstr(kiln_context_last_error(T.ctx), (needle)) != NULL,           \
          "last error should mention '%s' but is '%s'", (needle),             \
          kiln_context_last_error(T.ctx))

/* ---- files: rank 0 writes, then everyone passes t_barrier() ---- */

/* A path under the scratch directory; returns a malloc'd string. */
char *t_path(const char *fmt, ...) KILN_PRINTF(1, 2);
/* On rank 0 only: create/replace a file, make a directory, remove a tree. */
void t_write_file(const char *path, const void *data, size_t len);
void t_mkdir(const char *path);
void t_remove_tree(const char *path);
void t_barrier(void);
/* Whole file, malloc'd (NUL-terminated for convenience); NULL if missing. */
char *t_read_file(const char *path, size_t *len);
bool t_exists(const char *path);
/* Names in a directory (without "." and ".."), sorted; false if unreadable. */
bool t_list_dir(const char *path, t_strv *out);

/* ---- growable byte buffers ---- */

typedef struct t_buf {
    char *p;
    size_t len, cap;
} t_buf;

void t_buf_add(t_buf *b, const void *p, size_t len);
void t_buf_addf(t_buf *b, const char *fmt, ...) KILN_PRINTF(2, 3);
void t_buf_free(t_buf *b);

/* ---- vectors of byte strings: records as comparable text ---- */

struct t_strv {
    char **s;
    size_t *len;
    size_t n, cap;
};

void t_strv_add(t_strv *v, const void *p, size_t len);
void t_strv_addf(t_strv *v, const char *fmt, ...) KILN_PRINTF(2, 3);
void t_strv_sort(t_strv *v);
void t_strv_free(t_strv *v);
/* Join v's strings with sep into out. */
void t_strv_join(const t_strv *v, const char *sep, t_buf *out);
/* Compare element by element; a difference is one failed check naming the
 * first differing index. */
bool t_strv_equal(const t_strv *got, const t_strv *want, const char *what,
                  const char *file, int line);
#define CHECK_STRV(got, want, what) t_strv_equal(got, want, what, __FILE__, __LINE__)

/* A record as text, for comparisons (not Kiln's save format): U64/I64 in
 * decimal, F64 as %a (exact), STRING/BYTES raw, FIXED in hex, LIST as
 * "[e1,e2,...]" with the element texts sorted (list order is not defined);
 * "key<TAB>value", or "value" without a key. */
void t_repr_field(t_buf *out, kiln_kind kind, size_t elem_size,
                  kiln_kind elem_kind, const void *p, size_t len);
void t_repr_batch(const kiln_batch *b, kiln_schema s, t_strv *out);
/* Build "[...]" from element texts (sorted here) as t_repr_field does. */
void t_repr_list(t_buf *out, t_strv *elems);

/* Collect ds to every rank (EXPECT_OK inside) and turn it into text. */
void t_collect_repr(kiln_dataset *ds, t_strv *out);
/* Count ds (EXPECT_OK inside). */
uint64_t t_count(kiln_dataset *ds);

/* Every rank holds the same 8 bytes? (collective) */
bool t_same_on_all_ranks(const void *p8);

/* splitmix64: deterministic pseudo-random data from an index. */
static inline uint64_t t_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline uint64_t t_f64_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}


/* ---- the same job at other rank counts, within one run ---- */

/* Keep the program's --kiln-* arguments for t_sub_context(); call before
 * t_init(), which consumes them. */
void t_keep_options(int argc, char **argv);

/* A context over ranks 0 .. k-1 of MPI_COMM_WORLD (k is clamped to the
 * world size) made from the kept options, then `extra` (a NULL-terminated
 * list, or NULL); NULL on the other ranks. Collective over MPI_COMM_WORLD.
 * Work on it uses CHECK only (EXPECT_* are collective over every rank);
 * the members end it with t_sub_done(), collective over them alone. */
kiln_context *t_sub_context(int k, const char *const *extra);
void t_sub_done(kiln_context **ctx);

/* Rank 0's v on every rank (collective over MPI_COMM_WORLD). */
uint64_t t_bcast_u64(uint64_t v);

/* ---- a dataset's layout: what each partition holds ---- */

enum { T_MAX_PARTS = 256 };

/* Per partition: records, and digests of their raw key and value bytes in
 * order and as a multiset (for partitions whose order of arrival is not
 * defined). nparts: partitions that ran (every task reports, empty or not). */
typedef struct t_layout {
    uint32_t nparts;
    uint64_t total;
    uint64_t counts[T_MAX_PARTS];
    uint64_t ordered[T_MAX_PARTS];
    uint64_t unordered[T_MAX_PARTS];
} t_layout;

/* One pass (map_partitions, then collect to every rank). Returns the status
 * instead of checking it, so it also serves on a sub-context. */
kiln_status t_layout_of(kiln_dataset *ds, t_layout *out);
/* A digest of the whole layout: partition sizes and contents. */
uint64_t t_layout_digest(const t_layout *l, bool ordered);

/* ---- building records for kiln_parallelize() ---- */

typedef struct t_recs {
    t_buf keys, values;
    uint64_t *koff, *voff; /* n + 1 offsets each */
    size_t n, cap;
    size_t key_size, value_size; /* fixed sizes; 0: variable (or no key) */
    bool keyed, key_var, value_var;
} t_recs;

void t_recs_init(t_recs *r, kiln_schema s);
void t_recs_add(t_recs *r, const void *k, size_t kl, const void *v, size_t vl);
/* A batch view of the records (valid until the next add). */
kiln_batch t_recs_batch(const t_recs *r);
void t_recs_free(t_recs *r);
/* Exact text of one scalar field: F64 as %a with its bits (NaN signs and
 * payloads, -0.0), STRING/BYTES quoted with non-printable bytes escaped,
 * FIXED in hex. */
void t_repr_exact(t_buf *out, kiln_kind kind, const unsigned char *p, size_t len);

/* kiln_parallelize() of the records on ctx (the status is returned). */
kiln_status t_parallelize(kiln_context *ctx, kiln_schema s, const t_recs *r,
                          uint32_t nparts, kiln_dataset **out);

#endif
