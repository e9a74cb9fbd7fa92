/* test_joins: join (inner, left, right and full outer), cogroup and
 * subtract_by_key against a serial nested-loop reference, with duplicate
 * keys on both sides, keys on one side only, an empty left side, an empty
 * right side, U64 keys, and STRING keys and values (variable-size PAIR
 * parts, empty strings present vs. absent sides).
 *
 * Every operation runs on several contexts in the same job, each compared
 * with the same reference: the main one (its options come from the command
 * line: ctest also runs this program with --kiln-broadcast-bytes=0), one
 * that always shuffles (--kiln-broadcast-bytes=0), one with the default
 * 10M limit (small sides broadcast), one whose limit only the small left
 * side fits (so the left side is broadcast), and contexts over 1 and 2
 * ranks. On the three with explicit limits the job log is captured to check
 * which strategy ran, as kiln.h documents it: a side an outer join keeps is
 * never the broadcast one. Output order is not defined: records are
 * compared sorted, and cogroup lists with their elements sorted.
 * Also: the PAIR schema, explicit partition counts, save_text of joins and
 * cogroups (key<TAB>left<TAB>right, an absent side empty), misuse. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

enum { INNER, LEFT, RIGHT, FULL, COGROUP, SUBTRACT, NOPS };
static const char *const op_names[] = {"inner join", "left outer join",
                                       "right outer join", "full outer join",
                                       "cogroup", "subtract_by_key"};

/* One side of a two-sided operation: records and how they are partitioned. */
typedef struct side {
    kiln_schema s;
    t_recs r;
    uint32_t parts;
} side;

typedef struct pair_case {
    const char *name;
    side *a, *b;
} pair_case;

/* ------------------------------------------------------------------------ */
/* Text of results and the nested-loop reference                              */
/* ------------------------------------------------------------------------ */

static void rec_at(const t_recs *r, size_t i, const unsigned char **k, size_t *kl,
                   const unsigned char **v, size_t *vl)
{
    *k = (const unsigned char *)r->keys.p + r->koff[i];
    *kl = (size_t)(r->koff[i + 1] - r->koff[i]);
    *v = (const unsigned char *)r->values.p + r->voff[i];
    *vl = (size_t)(r->voff[i + 1] - r->voff[i]);
}

static bool same_key(const t_recs *a, size_t i, const t_recs *b, size_t j)
{
    const unsigned char *ka, *kb, *va, *vb;
    size_t kla, klb, vla, vlb;
    rec_at(a, i, &ka, &kla, &va, &vla);
    rec_at(b, j, &kb, &klb, &vb, &vlb);
    return kla == klb && memcmp(ka, kb, kla) == 0;
}

/* One side of a PAIR: "=text", or "-" when absent. */
static void repr_side(t_buf *out, bool present, kiln_kind kind, const unsigned char *p,
                      size_t len)
{
    if (!present) {
        t_buf_add(out, "-", 1);
        return;
    }
    t_buf_add(out, "=", 1);
    t_repr_exact(out, kind, p, len);
}

/* A LIST side of a cogroup, elements sorted. */
static void repr_list_side(t_buf *out, bool present, const kiln_part *part,
                           const unsigned char *p, size_t len)
{
    if (!present) {
        t_buf_add(out, "-", 1);
        return;
    }
    t_buf_add(out, "=", 1);
    t_strv elems = {0};
    kiln_list_iter it = kiln_list_begin(p, len, part->elem_size);
    const void *e;
    size_t elen;
    while (kiln_list_next(&it, &e, &elen)) {
        t_buf one = {0};
        t_repr_exact(&one, part->elem_kind, e, elen);
        t_strv_add(&elems, one.p ? one.p : "", one.len);
        t_buf_free(&one);
    }
    t_repr_list(out, &elems);
    t_strv_free(&elems);
}

/* The result of op as sorted text lines. */
static void repr_result(const kiln_batch *b, kiln_schema s, int op, t_strv *out)
{
    for (size_t i = 0; i < b->n; i++) {
        t_buf line = {0};
        size_t kl, vl;
        const unsigned char *k = kiln_batch_key(b, i, &kl);
        const unsigned char *v = kiln_batch_value(b, i, &vl);
        t_repr_exact(&line, s.key.kind, k, kl);
        t_buf_add(&line, "\t", 1);
        if (op == SUBTRACT) {
            t_repr_exact(&line, s.value.kind, v, vl);
        } else {
            kiln_pair p = kiln_pair_get(v, vl);
            bool fits = vl == 16 + p.left_len + p.right_len;
            if (!fits)
                t_buf_addf(&line, "(PAIR of %zu bytes with parts %zu+%zu)", vl,
                           p.left_len, p.right_len);
            if (op == COGROUP) {
                repr_list_side(&line, p.has_left, &s.value.left, p.left, p.left_len);
                t_buf_add(&line, "\t", 1);
                repr_list_side(&line, p.has_right, &s.value.right, p.right,
                               p.right_len);
            } else {
                repr_side(&line, p.has_left, s.value.left.kind, p.left, p.left_len);
                t_buf_add(&line, "\t", 1);
                repr_side(&line, p.has_right, s.value.right.kind, p.right, p.right_len);
            }
        }
        t_strv_add(out, line.p, line.len);
        t_buf_free(&line);
    }
    t_strv_sort(out);
}

static void ref_pair(t_strv *out, const side *a, size_t i, const side *b, size_t j)
{
    const unsigned char *k, *va = NULL, *vb = NULL, *kb;
    size_t kl, vla = 0, vlb = 0, klb;
    if (a)
        rec_at(&a->r, i, &k, &kl, &va, &vla);
    if (b)
        rec_at(&b->r, j, a ? &kb : &k, a ? &klb : &kl, &vb, &vlb);
    const side *any = a ? a : b;
    t_buf line = {0};
    t_repr_exact(&line, any->s.key.kind, k, kl);
    t_buf_add(&line, "\t", 1);
    repr_side(&line, a != NULL, a ? a->s.value.kind : KILN_KIND_NONE, va, vla);
    t_buf_add(&line, "\t", 1);
    repr_side(&line, b != NULL, b ? b->s.value.kind : KILN_KIND_NONE, vb, vlb);
    t_strv_add(out, line.p, line.len);
    t_buf_free(&line);
}

/* Nested loops over both sides, as the API describes each operation. */
static void reference(const side *a, const side *b, int op, t_strv *out)
{
    size_t na = a->r.n, nb = b->r.n;
    bool *a_matched = calloc(na + 1, 1), *b_matched = calloc(nb + 1, 1);
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            if (same_key(&a->r, i, &b->r, j)) {
                a_matched[i] = b_matched[j] = true;
                if (op <= FULL)
                    ref_pair(out, a, i, b, j);
            }
    if (op == LEFT || op == FULL)
        for (size_t i = 0; i < na; i++)
            if (!a_matched[i])
                ref_pair(out, a, i, NULL, 0);
    if (op == RIGHT || op == FULL)
        for (size_t j = 0; j < nb; j++)
            if (!b_matched[j])
                ref_pair(out, NULL, 0, b, j);
    if (op == SUBTRACT) {
        for (size_t i = 0; i < na; i++) {
            if (a_matched[i])
                continue;
            const unsigned char *k, *v;
            size_t kl, vl;
            rec_at(&a->r, i, &k, &kl, &v, &vl);
            t_buf line = {0};
            t_repr_exact(&line, a->s.key.kind, k, kl);
            t_buf_add(&line, "\t", 1);
            t_repr_exact(&line, a->s.value.kind, v, vl);
            t_strv_add(out, line.p, line.len);
            t_buf_free(&line);
        }
    }
    if (op == COGROUP) {
        /* One line per distinct key of either side. */
        const side *sides[2] = {a, b};
        for (int s = 0; s < 2; s++) {
            const t_recs *r = &sides[s]->r;
            for (size_t i = 0; i < r->n; i++) {
                bool first = true; /* first record of its key on this side... */
                for (size_t j = 0; j < i && first; j++)
                    first = !same_key(r, j, r, i);
                if (s == 1) /* ...and, on the right, not a key of the left */
                    for (size_t j = 0; j < na && first; j++)
                        first = !same_key(&a->r, j, r, i);
                if (!first)
                    continue;
                const unsigned char *k, *v;
                size_t kl, vl;
                rec_at(r, i, &k, &kl, &v, &vl);
                t_buf line = {0};
                t_repr_exact(&line, a->s.key.kind, k, kl);
                for (int t = 0; t < 2; t++) {
                    t_strv elems = {0};
                    const t_recs *q = &sides[t]->r;
                    for (size_t j = 0; j < q->n; j++) {
                        if (!same_key(q, j, r, i))
                            continue;
                        const unsigned char *k2, *v2;
                        size_t kl2, vl2;
                        rec_at(q, j, &k2, &kl2, &v2, &vl2);
                        t_buf one = {0};
                        t_repr_exact(&one, sides[t]->s.value.kind, v2, vl2);
                        t_strv_add(&elems, one.p ? one.p : "", one.len);
                        t_buf_free(&one);
                    }
                    t_buf_add(&line, "\t=", 2);
                    t_repr_list(&line, &elems);
                    t_strv_free(&elems);
                }
                t_strv_add(out, line.p, line.len);
                t_buf_free(&line);
            }
        }
    }
    free(a_matched);
    free(b_matched);
    t_strv_sort(out);
}

/* ------------------------------------------------------------------------ */
/* Running an operation on a context                                          */
/* ------------------------------------------------------------------------ */

static kiln_status build_op(kiln_context *ctx, const pair_case *c, int op,
                            uint32_t nparts, kiln_dataset **out)
{
    kiln_dataset *a = NULL, *b = NULL;
    kiln_status st = t_parallelize(ctx, c->a->s, &c->a->r, c->a->parts, &a);
    if (st == KILN_OK)
        st = t_parallelize(ctx, c->b->s, &c->b->r, c->b->parts, &b);
    if (st == KILN_OK) {
        if (op <= FULL)
            st = kiln_dataset_join(a, b, (kiln_join)op, nparts, out);
        else if (op == COGROUP)
            st = kiln_dataset_cogroup(a, b, nparts, out);
        else
            st = kiln_dataset_subtract_by_key(a, b, nparts, out);
    }
    kiln_dataset_destroy(&a);
    kiln_dataset_destroy(&b);
    return st;
}

/* The schema kiln.h promises. */
static void check_schema(kiln_schema s, const pair_case *c, int op)
{
    CHECK(s.key.kind == c->a->s.key.kind, "%s keeps the key type", op_names[op]);
    if (op == SUBTRACT) {
        CHECK(s.value.kind == c->a->s.value.kind, "subtract keeps a's values");
        return;
    }
    CHECK(s.value.kind == KILN_KIND_PAIR, "%s gives PAIR values", op_names[op]);
    const kiln_part *l = &s.value.left, *r = &s.value.right;
    const kiln_type *va = &c->a->s.value, *vb = &c->b->s.value;
    if (op == COGROUP) {
        CHECK(l->kind == KILN_KIND_LIST && l->elem_kind == va->kind &&
                  r->kind == KILN_KIND_LIST && r->elem_kind == vb->kind,
              "cogroup: PAIR(LIST of a's values, LIST of b's)");
        CHECK(l->elem_size == (va->kind == KILN_KIND_STRING ? 0 : va->size) &&
                  r->elem_size == (vb->kind == KILN_KIND_STRING ? 0 : vb->size),
              "cogroup: list element sizes %zu, %zu", l->elem_size, r->elem_size);
    } else {
        CHECK(l->kind == va->kind && r->kind == vb->kind,
              "%s: PAIR(a's value kind, b's)", op_names[op]);
        CHECK(l->size == (va->kind == KILN_KIND_STRING ? 0 : va->size) &&
                  r->size == (vb->kind == KILN_KIND_STRING ? 0 : vb->size),
              "%s: part sizes %zu, %zu", op_names[op], l->size, r->size);
    }
}

/* Where the job log of a context goes while an action runs (rank 0). */
static int capture_begin(const char *path)
{
    if (T.rank != 0)
        return -1;
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (saved < 0 || fd < 0) {
        CHECK(false, "cannot capture the log in %s", path);
        if (fd >= 0)
            close(fd);
        if (saved >= 0)
            close(saved);
        return -1;
    }
    dup2(fd, STDERR_FILENO);
    close(fd);
    return saved;
}

static void capture_end(int saved)
{
    if (saved < 0)
        return;
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
}

/* The result of op on ctx as text, or the status of the first failure.
 * With log_path, rank 0's log goes there meanwhile. */
static kiln_status run_op(kiln_context *ctx, const pair_case *c, int op,
                          uint32_t nparts, t_strv *got, uint32_t *parts,
                          const char *log_path)
{
    kiln_dataset *ds = NULL;
    kiln_collection *col = NULL;
    t_layout lay;
    kiln_schema s;
    memset(&s, 0, sizeof s);
    int saved = log_path ? capture_begin(log_path) : -1;
    kiln_status st = build_op(ctx, c, op, nparts, &ds);
    if (st == KILN_OK) {
        s = kiln_dataset_schema(ds);
        st = kiln_dataset_collect(ds, KILN_ALL_RANKS, &col);
    }
    if (st == KILN_OK)
        st = t_layout_of(ds, &lay);
    capture_end(saved);
    if (st == KILN_OK) {
        check_schema(s, c, op);
        repr_result(kiln_collection_batch(col), s, op, got);
        *parts = lay.nparts;
    }
    kiln_collection_destroy(&col);
    kiln_dataset_destroy(&ds);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Contexts                                                                   */
/* ------------------------------------------------------------------------ */

/* Left side small enough for TIGHT, right side not. */
#define TIGHT "10000"

enum { ENV_MAIN, ENV_SHUFFLE, ENV_DEFAULT, ENV_TIGHT, ENV_ONE, ENV_TWO, NENVS };

typedef struct env {
    const char *name;
    kiln_context *ctx; /* NULL where this rank is not a member */
    bool member;
    bool logged;       /* its log is checked */
} env;

static env envs[NENVS];

static void envs_open(void)
{
    static const char *const shuffle[] = {"--kiln-broadcast-bytes=0", "--kiln-quiet=no",
                                          NULL};
    static const char *const dflt[] = {"--kiln-broadcast-bytes=10M", "--kiln-quiet=no",
                                       NULL};
    static const char *const tight[] = {"--kiln-broadcast-bytes=" TIGHT,
                                        "--kiln-quiet=no", NULL};
    envs[ENV_MAIN] = (env){"the command line's options", T.ctx, true, false};
    envs[ENV_SHUFFLE] = (env){"--kiln-broadcast-bytes=0", t_sub_context(T.nranks, shuffle),
                              true, true};
    envs[ENV_DEFAULT] = (env){"--kiln-broadcast-bytes=10M", t_sub_context(T.nranks, dflt),
                              true, true};
    envs[ENV_TIGHT] = (env){"--kiln-broadcast-bytes=" TIGHT, t_sub_context(T.nranks, tight),
                            true, true};
    envs[ENV_ONE] = (env){"1 rank", NULL, false, false};
    envs[ENV_TWO] = (env){"2 ranks", NULL, false, false};
    if (T.nranks > 1) {
        envs[ENV_ONE].ctx = t_sub_context(1, NULL);
        envs[ENV_ONE].member = T.rank < 1;
    }
    if (T.nranks > 2) {
        envs[ENV_TWO].ctx = t_sub_context(2, NULL);
        envs[ENV_TWO].member = T.rank < 2;
    }
    t_sync();
}

static void envs_close(void)
{
    for (int e = 1; e < NENVS; e++)
        t_sub_done(&envs[e].ctx);
    t_sync();
}

/* What the log of env must say for op on case c (NULL: not checked). */
static const char *expected_strategy(int e, int op, bool small_left)
{
    if (op == COGROUP || op == SUBTRACT)
        return NULL; /* kiln.h describes the strategies of joins only */
    if (e == ENV_SHUFFLE)
        return "shuffling both sides";
    if (e == ENV_DEFAULT) /* every side here is under 10M */
        return op == LEFT ? "broadcasting the right side"
               : op == RIGHT ? "broadcasting the left side"
               : op == FULL  ? "shuffling both sides"
                             : "broadcasting the";
    if (e == ENV_TIGHT && small_left) /* only the left side fits */
        return op == INNER || op == RIGHT ? "broadcasting the left side"
                                          : "shuffling both sides";
    return NULL;
}

static void check_log(const char *path, const char *want, const char *what)
{
    if (T.rank != 0 || !want)
        return;
    size_t len = 0;
    char *log = t_read_file(path, &len);
    CHECK(log && strstr(log, want), "%s: the log should say '%s' but is '%s'", what,
          want, log ? log : "(missing)");
    free(log);
}

/* ------------------------------------------------------------------------ */
/* The cases                                                                  */
/* ------------------------------------------------------------------------ */

static void run_case(const pair_case *c, bool small_left)
{
    char *log_path = t_path("join.log");
    for (int op = 0; op < NOPS; op++) {
        char what[256];
        snprintf(what, sizeof what, "%s: %s", op_names[op], c->name);
        t_section(what);
        t_strv want = {0};
        reference(c->a, c->b, op, &want);
        for (int e = 0; e < NENVS; e++) {
            if (!envs[e].member)
                continue; /* non-members meet the others at the next sync */
            t_strv got = {0};
            uint32_t parts = 0;
            kiln_status st;
            if (e == ENV_MAIN) {
                EXPECT_OK(st = run_op(T.ctx, c, op, 0, &got, &parts, NULL));
            } else {
                st = run_op(envs[e].ctx, c, op, 0, &got, &parts,
                            envs[e].logged ? log_path : NULL);
                CHECK(st == KILN_OK, "%s on %s: %s: %s", what, envs[e].name,
                      kiln_strerror(st), kiln_context_last_error(envs[e].ctx));
            }
            char w2[400];
            snprintf(w2, sizeof w2, "%s (%s)", what, envs[e].name);
            CHECK_STRV(&got, &want, w2);
            if (envs[e].logged && st == KILN_OK)
                check_log(log_path, expected_strategy(e, op, small_left), w2);
            if (e == ENV_SHUFFLE && op <= FULL && st == KILN_OK) {
                /* Shuffled with nparts 0: "the larger side's count". */
                uint32_t larger = c->a->parts > c->b->parts ? c->a->parts : c->b->parts;
                CHECK(parts == larger, "%s: %u partitions, expected the larger "
                      "side's %u", w2, parts, larger);
            }
            t_strv_free(&got);
        }
        t_sync();
        /* Explicit partition counts: always hash-partitioned into them. */
        const uint32_t widths[] = {1, 5};
        for (int wi = 0; wi < 2; wi++) {
            t_strv got = {0};
            uint32_t parts = 0;
            EXPECT_OK(run_op(T.ctx, c, op, widths[wi], &got, &parts, NULL));
            char w2[300];
            snprintf(w2, sizeof w2, "%s into %u partitions", what, widths[wi]);
            CHECK_STRV(&got, &want, w2);
            CHECK(parts == widths[wi], "%s: %u partitions", w2, parts);
            t_strv_free(&got);
        }
        t_strv_free(&want);
    }
    free(log_path);
}

/* The records of r in a pseudo-random order, so that records of one key
 * are spread over partitions. */
static void permute(t_recs *r, kiln_schema s, uint64_t seed)
{
    size_t n = r->n, *idx = malloc((n ? n : 1) * sizeof *idx);
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(t_mix(seed + i) % i), t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
    t_recs out;
    t_recs_init(&out, s);
    for (size_t i = 0; i < n; i++) {
        const unsigned char *k, *v;
        size_t kl, vl;
        rec_at(r, idx[i], &k, &kl, &v, &vl);
        t_recs_add(&out, k, kl, v, vl);
    }
    t_recs_free(r);
    *r = out;
    free(idx);
}

/* U64 keys: 0..59 left only, 60..119 both (0 to 3 records a side), 120..1059
 * right only; left U64 values, right STRING values (some empty). */
static void make_u64_sides(side *a, side *b)
{
    a->s = kiln_schema_of(KILN_T_U64, KILN_T_U64);
    b->s = kiln_schema_of(KILN_T_U64, KILN_T_STRING);
    a->parts = 3;
    b->parts = 5;
    t_recs_init(&a->r, a->s);
    t_recs_init(&b->r, b->s);
    for (uint64_t k = 0; k < 120; k++) {
        uint64_t dup = k < 60 ? 1 + t_mix(k) % 3 : t_mix(k) % 4;
        for (uint64_t j = 0; j < dup; j++) {
            uint64_t v = k * 1000 + j;
            t_recs_add(&a->r, &k, 8, &v, 8);
        }
    }
    for (uint64_t k = 60; k < 1060; k++) {
        uint64_t dup = k < 120 ? t_mix(k ^ 0x55) % 4 : 1 + t_mix(k ^ 0x55) % 3;
        for (uint64_t j = 0; j < dup; j++) {
            char text[32];
            int len = (k + j) % 7 == 0 ? 0 : snprintf(text, sizeof text, "r%llu.%llu",
                                                      (unsigned long long)k,
                                                      (unsigned long long)j);
            t_recs_add(&b->r, &k, 8, text, (size_t)len);
        }
    }
    permute(&a->r, a->s, 1);
    permute(&b->r, b->s, 2);
}

/* STRING keys and values: "", "k", "k\0", "kk" and "key-N"; both sides
 * have empty values, which must stay present (not absent). */
static void make_string_sides(side *a, side *b)
{
    a->s = b->s = kiln_schema_of(KILN_T_STRING, KILN_T_STRING);
    a->parts = 4;
    b->parts = 2;
    t_recs_init(&a->r, a->s);
    t_recs_init(&b->r, b->s);
    static const struct {
        const char *s;
        size_t len;
    } fixed_keys[] = {{"", 0}, {"k", 1}, {"k\0", 2}, {"kk", 2}, {"\xff", 1}};
    for (int side_i = 0; side_i < 2; side_i++) {
        t_recs *r = side_i ? &b->r : &a->r;
        for (uint64_t i = 0; i < 400; i++) {
            char key[32], val[32];
            size_t kl, vl;
            uint64_t x = t_mix(i * 2 + (uint64_t)side_i);
            if (i < 25) {
                kl = fixed_keys[i % 5].len;
                memcpy(key, fixed_keys[i % 5].s, kl);
                if ((i % 5 == 1 && side_i == 0) || (i % 5 == 3 && side_i == 1))
                    continue; /* "k" on the right only, "kk" on the left only */
            } else {
                kl = (size_t)snprintf(key, sizeof key, "key-%llu",
                                      (unsigned long long)(side_i ? x % 300 : x % 200 + 100));
            }
            vl = x % 5 == 0 ? 0
                            : (size_t)snprintf(val, sizeof val, "%c%llu",
                                               side_i ? 'R' : 'L',
                                               (unsigned long long)i);
            t_recs_add(r, key, kl, val, vl);
        }
    }
}

static void make_empty(side *s, kiln_schema schema, uint32_t parts)
{
    s->s = schema;
    s->parts = parts;
    t_recs_init(&s->r, schema);
}

/* A dataset joined with itself: the same handle on both sides. */
static kiln_status self_join(kiln_context *ctx, const side *a, int op, t_strv *got)
{
    kiln_dataset *ds = NULL, *j = NULL;
    kiln_collection *c = NULL;
    kiln_status st = t_parallelize(ctx, a->s, &a->r, a->parts, &ds);
    if (st == KILN_OK)
        st = op == COGROUP ? kiln_dataset_cogroup(ds, ds, 0, &j)
                           : kiln_dataset_join(ds, ds, (kiln_join)op, 0, &j);
    if (st == KILN_OK)
        st = kiln_dataset_collect(j, KILN_ALL_RANKS, &c);
    if (st == KILN_OK)
        repr_result(kiln_collection_batch(c), kiln_dataset_schema(j), op, got);
    kiln_collection_destroy(&c);
    kiln_dataset_destroy(&j);
    kiln_dataset_destroy(&ds);
    return st;
}

static void test_self_join(side *a)
{
    const int ops[] = {INNER, FULL, COGROUP};
    for (int i = 0; i < 3; i++) {
        char what[128];
        snprintf(what, sizeof what, "%s of a dataset with itself", op_names[ops[i]]);
        t_section(what);
        t_strv want = {0};
        reference(a, a, ops[i], &want);
        for (int e = ENV_MAIN; e <= ENV_DEFAULT; e++) {
            t_strv got = {0};
            char *log = t_path("self.log");
            int saved = envs[e].logged ? capture_begin(log) : -1;
            kiln_status st = self_join(envs[e].ctx, a, ops[i], &got);
            capture_end(saved);
            free(log);
            CHECK(st == KILN_OK, "%s (%s): %s", what, envs[e].name, kiln_strerror(st));
            CHECK_STRV(&got, &want, what);
            t_strv_free(&got);
            t_sync();
        }
        t_strv_free(&want);
    }
}

/* A join, then sort_by_key: sorted by key, ties by the PAIR's bytes, so the
 * sorted sequence must be the same at any rank count and with either
 * strategy. (Where each partition boundary falls is checked by test_order's
 * shuffled-input mode.) */
static kiln_status join_sorted(kiln_context *ctx, const pair_case *c, int op,
                               t_strv *text)
{
    kiln_dataset *j = NULL, *sorted = NULL;
    kiln_collection *col = NULL;
    kiln_status st = build_op(ctx, c, op, 0, &j);
    if (st == KILN_OK)
        st = kiln_dataset_sort_by_key(j, NULL, 4, &sorted);
    if (st == KILN_OK)
        st = kiln_dataset_collect(sorted, KILN_ALL_RANKS, &col);
    if (st == KILN_OK) {
        const kiln_batch *b = kiln_collection_batch(col);
        for (size_t i = 1; i < b->n; i++)
            if (!CHECK(kiln_batch_key_u64(b, i - 1) <= kiln_batch_key_u64(b, i),
                       "key %llu after %llu", (unsigned long long)kiln_batch_key_u64(b, i),
                       (unsigned long long)kiln_batch_key_u64(b, i - 1)))
                break;
        /* The raw records, in order (no sorting of the text). */
        for (size_t i = 0; i < b->n; i++) {
            size_t kl, vl;
            const unsigned char *k = kiln_batch_key(b, i, &kl);
            const unsigned char *v = kiln_batch_value(b, i, &vl);
            t_buf line = {0};
            t_repr_exact(&line, KILN_KIND_BYTES, k, kl);
            t_repr_exact(&line, KILN_KIND_BYTES, v, vl);
            t_strv_add(text, line.p, line.len);
            t_buf_free(&line);
        }
    }
    kiln_collection_destroy(&col);
    kiln_dataset_destroy(&sorted);
    kiln_dataset_destroy(&j);
    return st;
}

static void test_join_then_sort(const pair_case *c)
{
    const int ops[] = {INNER, FULL};
    for (int i = 0; i < 2; i++) {
        char what[160];
        snprintf(what, sizeof what, "%s, then sort_by_key: the same at any rank count",
                 op_names[ops[i]]);
        t_section(what);
        t_strv want = {0}, ref = {0};
        EXPECT_OK(join_sorted(T.ctx, c, ops[i], &want));
        reference(c->a, c->b, ops[i], &ref);
        CHECK(want.n == ref.n, "%s: %zu records, expected %zu", what, want.n, ref.n);
        for (int e = ENV_SHUFFLE; e < NENVS; e++) {
            if (!envs[e].ctx)
                continue;
            t_strv got = {0};
            char *log = t_path("sorted.log");
            int saved = envs[e].logged ? capture_begin(log) : -1;
            kiln_status st = join_sorted(envs[e].ctx, c, ops[i], &got);
            capture_end(saved);
            free(log);
            CHECK(st == KILN_OK, "%s (%s): %s", what, envs[e].name, kiln_strerror(st));
            char w2[300];
            snprintf(w2, sizeof w2, "%s (%s)", what, envs[e].name);
            CHECK_STRV(&got, &want, w2);
            t_strv_free(&got);
        }
        t_sync();
        t_strv_free(&want);
        t_strv_free(&ref);
    }
}

static void test_misuse(side *u_a, side *s_a)
{
    t_section("two-sided operations: misuse");
    kiln_dataset *a = NULL, *b = NULL, *plain = NULL, *sentinel = (kiln_dataset *)&T,
                 *bad = sentinel;
    EXPECT_OK(t_parallelize(T.ctx, u_a->s, &u_a->r, 2, &a));
    EXPECT_OK(t_parallelize(T.ctx, s_a->s, &s_a->r, 2, &b));
    EXPECT_OK(kiln_range(T.ctx, 0, 10, 1, 2, &plain));
    /* Key types must be equal; both sides need keys. */
    EXPECT_STATUS(kiln_dataset_join(a, b, KILN_JOIN_INNER, 0, &bad), KILN_ERR_INVAL);
    EXPECT_STATUS(kiln_dataset_cogroup(a, b, 0, &bad), KILN_ERR_INVAL);
    EXPECT_STATUS(kiln_dataset_subtract_by_key(a, b, 0, &bad), KILN_ERR_INVAL);
    EXPECT_STATUS(kiln_dataset_join(a, plain, KILN_JOIN_LEFT_OUTER, 0, &bad),
                  KILN_ERR_INVAL);
    EXPECT_STATUS(kiln_dataset_join(plain, a, KILN_JOIN_INNER, 0, &bad), KILN_ERR_INVAL);
    EXPECT_STATUS(kiln_dataset_join(a, a, (kiln_join)17, 0, &bad), KILN_ERR_INVAL);
    CHECK(bad == sentinel, "a failed two-sided operation wrote its out-parameter");
    kiln_dataset_destroy(&plain);
    kiln_dataset_destroy(&a);
    kiln_dataset_destroy(&b);
}

/* save_text: "key<TAB>left<TAB>right", an absent side empty. */
static void test_save_text(void)
{
    t_section("save_text of joins and cogroups");
    side a, b;
    a.s = kiln_schema_of(KILN_T_U64, KILN_T_I64);
    b.s = kiln_schema_of(KILN_T_U64, KILN_T_STRING);
    a.parts = 2;
    b.parts = 3;
    t_recs_init(&a.r, a.s);
    t_recs_init(&b.r, b.s);
    const struct {
        uint64_t k;
        int64_t v;
    } left[] = {{1, -10}, {2, 20}, {2, 21}, {4, 40}};
    const struct {
        uint64_t k;
        const char *w;
    } right[] = {{2, "two"}, {3, "three"}, {4, ""}};
    for (int i = 0; i < 4; i++)
        t_recs_add(&a.r, &left[i].k, 8, &left[i].v, 8);
    for (int i = 0; i < 3; i++)
        t_recs_add(&b.r, &right[i].k, 8, right[i].w, strlen(right[i].w));
    pair_case c = {"save", &a, &b};
    const struct {
        int op;
        const char *want; /* sorted lines */
    } cases[] = {
        {FULL, "1\t-10\t\n2\t20\ttwo\n2\t21\ttwo\n3\t\tthree\n4\t40\t\n"},
        {LEFT, "1\t-10\t\n2\t20\ttwo\n2\t21\ttwo\n4\t40\t\n"},
        {INNER, "2\t20\ttwo\n2\t21\ttwo\n4\t40\t\n"},
        {SUBTRACT, "1\t-10\n"},
        /* 2's list has two elements in an undefined order: its line is
         * checked without regard to that order below. */
        {COGROUP, "1\t-10\t\n2\t20,21\ttwo\n3\t\tthree\n4\t40\t\n"},
    };
    for (int ci = 0; ci < 5; ci++) {
        kiln_dataset *ds = NULL;
        EXPECT_OK(build_op(T.ctx, &c, cases[ci].op, 0, &ds));
        char *dir = t_path("save-%d", ci);
        EXPECT_OK(kiln_dataset_save_text(ds, dir, NULL));
        t_strv names = {0}, lines = {0};
        CHECK(t_list_dir(dir, &names), "cannot list %s", dir);
        for (size_t i = 0; i < names.n; i++) {
            if (strncmp(names.s[i], "part-", 5) != 0)
                continue;
            char *path = t_path("save-%d/%s", ci, names.s[i]);
            size_t len;
            char *text = t_read_file(path, &len);
            for (char *p = text, *nl; p && (nl = memchr(p, '\n', len - (size_t)(p - text)));
                 p = nl + 1) {
                if (nl - p == 11 && memcmp(p, "2\t21,20\ttwo", 11) == 0)
                    t_strv_add(&lines, "2\t20,21\ttwo", 11); /* list order */
                else
                    t_strv_add(&lines, p, (size_t)(nl - p));
            }
            free(text);
            free(path);
        }
        t_strv_sort(&lines);
        t_buf joined = {0};
        t_strv_join(&lines, "\n", &joined);
        t_buf_add(&joined, "\n", 1);
        CHECK(strcmp(joined.p, cases[ci].want) == 0, "%s saved as '%s', expected '%s'",
              op_names[cases[ci].op], joined.p, cases[ci].want);
        CHECK(t_exists(t_path("save-%d/_SUCCESS", ci)), "no _SUCCESS");
        t_buf_free(&joined);
        t_strv_free(&lines);
        t_strv_free(&names);
        free(dir);
        kiln_dataset_destroy(&ds);
    }
    t_recs_free(&a.r);
    t_recs_free(&b.r);
}

int main(int argc, char **argv)
{
    t_keep_options(argc, argv);
    t_init(&argc, &argv);
    envs_open();

    side ua, ub, sa, sb, ea, eb, ee;
    make_u64_sides(&ua, &ub);
    make_string_sides(&sa, &sb);
    make_empty(&ea, ua.s, 3);
    make_empty(&eb, ub.s, 2);
    make_empty(&ee, ua.s, 1);
    const pair_case u64 = {"U64 keys, duplicates on both sides", &ua, &ub};
    const pair_case str = {"STRING keys and values", &sa, &sb};
    const pair_case str_rev = {"STRING keys, sides swapped", &sb, &sa};
    const pair_case empty_left = {"an empty left side", &ea, &ub};
    const pair_case empty_right = {"an empty right side", &ua, &eb};
    const pair_case both_empty = {"both sides empty", &ea, &ee};
    run_case(&u64, true);
    run_case(&str, false);
    run_case(&str_rev, false);
    run_case(&empty_left, true);
    run_case(&empty_right, false);
    run_case(&both_empty, false);
    test_self_join(&ua);
    test_join_then_sort(&u64);
    test_misuse(&ua, &sa);
    test_save_text();

    envs_close();
    side *all[] = {&ua, &ub, &sa, &sb, &ea, &eb, &ee};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        t_recs_free(&all[i]->r);
    return t_finish();
}
