/* tests/unit/test_plan.c: cutting lineages into chains and shuffles
 * (runtime/plan.h). Lineages are built with the public constructors on a
 * one-rank singleton context (MPI_Init without mpiexec); nothing is run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "runtime/plan.h"

static kiln_status noop_map(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)in;
    (void)out;
    (void)arg;
    return KILN_OK;
}

static kiln_status noop_filter(const kiln_batch *in, uint8_t *keep, void *arg)
{
    (void)in;
    (void)keep;
    (void)arg;
    return KILN_OK;
}

static const kiln_schema PLAIN_I64 = {{.kind = KILN_KIND_NONE},
                                      {.kind = KILN_KIND_I64, .size = 8}};
static const kiln_type U64 = {.kind = KILN_KIND_U64, .size = 8};

static kiln__node *N(kiln_dataset *ds)
{
    return kiln__node_of(ds);
}

static int ctx_setup(void **state)
{
    kiln_context *ctx = NULL;
    if (kiln_init(NULL, NULL, &ctx) != KILN_OK)
        return -1;
    *state = ctx;
    return 0;
}

static int ctx_teardown(void **state)
{
    kiln_context *ctx = *state;
    return kiln_finalize(&ctx) == KILN_OK ? 0 : -1;
}

/* Destroy handles, then check the context's accountant is back at zero. */
static void destroy_all(kiln_context *ctx, kiln_dataset **ds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kiln_dataset_destroy(&ds[i]);
    assert_null(ctx->nodes);
    assert_int_equal(ctx->mem.in_use, 0);
}

static void check_step(const kiln__chain *c, size_t i, kiln_dataset *ds,
                       uint32_t p, bool tee)
{
    assert_true(i < c->nsteps);
    assert_ptr_equal(c->steps[i].node, N(ds));
    assert_int_equal(c->steps[i].partition, p);
    assert_int_equal(c->steps[i].tee, tee);
}

static void narrow_chain_fuses_map_and_filter(void **state)
{
    kiln_context *ctx = *state;
    kiln_dataset *r, *m, *f;
    assert_int_equal(kiln_range(ctx, 0, 100, 1, 4, &r), KILN_OK);
    assert_int_equal(kiln_dataset_map(r, PLAIN_I64, noop_map, NULL, &m), KILN_OK);
    assert_int_equal(kiln_dataset_filter(m, noop_filter, NULL, &f), KILN_OK);
    assert_int_equal(kiln__plan_resolve(&ctx->mem, N(f), 1, 0), KILN_OK);
    assert_int_equal(N(f)->nparts, 4);
    kiln__chain c;
    kiln__chain_init(&c);
    for (uint32_t p = 0; p < 4; p++) {
        assert_int_equal(kiln__plan_chain(&ctx->mem, N(f), p, &c), KILN_OK);
        assert_int_equal(c.nsteps, 3);
        check_step(&c, 0, r, p, false); /* the leaf first */
        check_step(&c, 1, m, p, false);
        check_step(&c, 2, f, p, false);
        assert_null(c.resident);
        assert_int_equal(c.owner, -1);
    }
    char buf[128];
    kiln__plan_describe(&ctx->mem, N(f), "count", buf, sizeof buf);
    assert_string_equal(buf, "range>map>filter>count");
    char tiny[8];
    kiln__plan_describe(&ctx->mem, N(f), "count", tiny, sizeof tiny);
    assert_int_equal(strlen(tiny), sizeof tiny - 1); /* cut, terminated */
    kiln__chain_release(&ctx->mem, &c);
    assert_int_equal(c.nsteps, 0);
    kiln_dataset *all[] = {r, m, f};
    destroy_all(ctx, all, 3);
}

static void union_remaps_partitions(void **state)
{
    kiln_context *ctx = *state;
    kiln_dataset *a, *am, *b, *bf, *u, *um;
    assert_int_equal(kiln_range(ctx, 0, 10, 1, 4, &a), KILN_OK);
    assert_int_equal(kiln_dataset_map(a, PLAIN_I64, noop_map, NULL, &am), KILN_OK);
    assert_int_equal(kiln_range(ctx, 0, 10, 1, 3, &b), KILN_OK);
    assert_int_equal(kiln_dataset_filter(b, noop_filter, NULL, &bf), KILN_OK);
    assert_int_equal(kiln_dataset_union(am, bf, &u), KILN_OK);
    assert_int_equal(kiln_dataset_map(u, PLAIN_I64, noop_map, NULL, &um), KILN_OK);
    assert_int_equal(kiln__plan_resolve(&ctx->mem, N(um), 1, 0), KILN_OK);
    assert_int_equal(N(u)->nparts, 7); /* 4 + 3 */
    assert_int_equal(N(um)->nparts, 7);
    kiln__chain c;
    kiln__chain_init(&c);
    for (uint32_t p = 0; p < 7; p++) {
        assert_int_equal(kiln__plan_chain(&ctx->mem, N(um), p, &c), KILN_OK);
        /* A union adds no step of its own. */
        assert_int_equal(c.nsteps, 3);
        if (p < 4) {
            check_step(&c, 0, a, p, false);
            check_step(&c, 1, am, p, false);
        } else {
            check_step(&c, 0, b, p - 4, false);
            check_step(&c, 1, bf, p - 4, false);
        }
        check_step(&c, 2, um, p, false);
    }

    /* Cached, the union is a step (it tees) at the union's own partition. */
    kiln_dataset_cache(u);
    assert_int_equal(kiln__plan_chain(&ctx->mem, N(um), 5, &c), KILN_OK);
    assert_int_equal(c.nsteps, 4);
    check_step(&c, 0, b, 1, false);
    check_step(&c, 1, bf, 1, false);
    check_step(&c, 2, u, 5, true);
    check_step(&c, 3, um, 5, false);

    /* Nested unions: (a | b) | b. */
    kiln_dataset *u2;
    assert_int_equal(kiln_dataset_union(u, b, &u2), KILN_OK);
    assert_int_equal(kiln__plan_resolve(&ctx->mem, N(u2), 1, 0), KILN_OK);
    assert_int_equal(N(u2)->nparts, 10);
    assert_int_equal(kiln__plan_chain(&ctx->mem, N(u2), 8, &c), KILN_OK);
    assert_int_equal(c.nsteps, 1);
    check_step(&c, 0, b, 1, false);
    assert_int_equal(kiln__plan_chain(&ctx->mem, N(u2), 6, &c), KILN_OK);
    check_step(&c, 0, b, 2, false);
    check_step(&c, c.nsteps - 1, u, 6, true);

    kiln__chain_release(&ctx->mem, &c);
    kiln_dataset *all[] = {a, am, b, bf, u, um, u2};
    destroy_all(ctx, all, 7);
}

static void cached_partition_starts_the_chain(void **state)
{
    kiln_context *ctx = *state;
    kiln_dataset *r, *m, *f;
    assert_int_equal(kiln_range(ctx, 0, 100, 1, 4, &r), KILN_OK);
    assert_int_equal(kiln_dataset_map(r, PLAIN_I64, noop_map, NULL, &m), KILN_OK);
    kiln_dataset_cache(m);
    assert_int_equal(kiln_dataset_filter(m, noop_filter, NULL, &f), KILN_OK);
    assert_int_equal(kiln__plan_resolve(&ctx->mem, N(f), 1, 0), KILN_OK);
    kiln__chain c;
    kiln__chain_init(&c);
    /* Not computed yet: the map step tees its output into the cache. */
    assert_int_equal(kiln__plan_chain(&ctx->mem, N(f), 2, &c), KILN_OK);
    assert_int_equal(c.nsteps, 3);
    check_step(&c, 1, m, 2, true);

    /* Partition 2 cached on rank 0: the chain starts from it. */
    kiln__node *mn = N(m);
    assert_int_equal(kiln__resident_create(&ctx->mem, 4, &mn->cache), KILN_OK);
    kiln__store *st = kiln__mem_calloc(&ctx->mem, 1, sizeof *st);
    assert_non_null(st);
    kiln__store_init(st, &ctx->mem, &mn->schema);
    mn->cache->part[2] = st;
    mn->cache->owner[2] = 0;
    assert_int_equal(kiln__plan_chain(&ctx->mem, N(f), 2, &c), KILN_OK);
    assert_int_equal(c.nsteps, 2);
    check_step(&c, 0, m, 2, false);
    check_step(&c, 1, f, 2, false);
    assert_ptr_equal(c.resident, st);
    assert_int_equal(c.owner, 0);
    char buf[64];
    /* Partition 1 is not cached anywhere: computed from the source. */
    assert_int_equal(kiln__plan_chain(&ctx->mem, N(f), 1, &c), KILN_OK);
    assert_int_equal(c.nsteps, 3);
    assert_null(c.resident);
    kiln__plan_describe(&ctx->mem, N(f), "collect", buf, sizeof buf);
    assert_string_equal(buf, "range>map>filter>collect");
    kiln__chain_release(&ctx->mem, &c);
    kiln_dataset *all[] = {r, m, f};
    destroy_all(ctx, all, 3);
}

static void wide_partition_counts(void **state)
{
    kiln_context *ctx = *state;
    kiln_dataset *r, *k, *w_default, *w_small, *w_explicit, *r2, *k2, *g;
    assert_int_equal(kiln_range(ctx, 0, 100, 1, 4, &r), KILN_OK);
    assert_int_equal(kiln_dataset_key_by(r, U64, noop_map, NULL, &k), KILN_OK);
    assert_int_equal(kiln_dataset_reduce_by_key(k, KILN_OP_SUM, NULL, NULL, 0,
                                                &w_default), KILN_OK);
    assert_int_equal(kiln_dataset_distinct(k, 0, &w_small), KILN_OK);
    assert_int_equal(kiln_dataset_group_by_key(k, 5, &w_explicit), KILN_OK);
    assert_int_equal(N(w_default)->nparts, 0); /* settled when planned */

    /* Default: the larger of the parent's count and the number of ranks. */
    assert_int_equal(kiln__plan_resolve(&ctx->mem, N(w_default), 8, 0), KILN_OK);
    assert_int_equal(N(w_default)->nparts, 8);
    assert_int_equal(kiln__plan_resolve(&ctx->mem, N(w_small), 2, 0), KILN_OK);
    assert_int_equal(N(w_small)->nparts, 4);
    /* Explicit counts win over both. */
    assert_int_equal(kiln__plan_resolve(&ctx->mem, N(w_explicit), 64, 0), KILN_OK);
    assert_int_equal(N(w_explicit)->nparts, 5);
    /* Once set, a count never changes. */
    assert_int_equal(kiln__plan_resolve(&ctx->mem, N(w_default), 2, 0), KILN_OK);
    assert_int_equal(N(w_default)->nparts, 8);

    /* A union of two wide outputs sums their counts. */
    kiln_dataset *u;
    assert_int_equal(kiln_dataset_union(w_explicit, w_explicit, &u), KILN_OK);
    assert_int_equal(kiln__plan_resolve(&ctx->mem, N(u), 1, 0), KILN_OK);
    assert_int_equal(N(u)->nparts, 10);

    /* Narrow after wide inherits the wide count. */
    assert_int_equal(kiln_range(ctx, 0, 10, 1, 3, &r2), KILN_OK);
    assert_int_equal(kiln_dataset_key_by(r2, U64, noop_map, NULL, &k2), KILN_OK);
    assert_int_equal(kiln_dataset_group_by_key(k2, 0, &g), KILN_OK);
    kiln_dataset *gm;
    assert_int_equal(kiln_dataset_map(g, kiln_dataset_schema(g), noop_map, NULL,
                                      &gm), KILN_OK);
    assert_int_equal(kiln__plan_resolve(&ctx->mem, N(gm), 1, 0), KILN_OK);
    assert_int_equal(N(g)->nparts, 3);
    assert_int_equal(N(gm)->nparts, 3);
    kiln_dataset *all[] = {r, k, w_default, w_small, w_explicit, u, r2, k2, g, gm};
    destroy_all(ctx, all, 10);
}

static void chained_shuffles_in_dependency_order(void **state)
{
    kiln_context *ctx = *state;
    kiln_dataset *r, *k, *w1, *mv, *w2, *out;
    assert_int_equal(kiln_range(ctx, 0, 100, 1, 4, &r), KILN_OK);
    assert_int_equal(kiln_dataset_key_by(r, U64, noop_map, NULL, &k), KILN_OK);
    assert_int_equal(kiln_dataset_reduce_by_key(k, KILN_OP_SUM, NULL, NULL, 6, &w1),
                     KILN_OK);
    assert_int_equal(kiln_dataset_map_values(w1, U64, noop_map, NULL, &mv), KILN_OK);
    assert_int_equal(kiln_dataset_group_by_key(mv, 0, &w2), KILN_OK);
    assert_int_equal(kiln_dataset_map(w2, kiln_dataset_schema(w2), noop_map, NULL,
                                      &out), KILN_OK);
    assert_int_equal(kiln__plan_resolve(&ctx->mem, N(out), 1, 0), KILN_OK);
    assert_int_equal(N(w1)->nparts, 6);
    assert_int_equal(N(w2)->nparts, 6);

    kiln__node **sh = NULL;
    size_t n = 0;
    assert_int_equal(kiln__plan_shuffles(&ctx->mem, N(out), &sh, &n), KILN_OK);
    assert_int_equal(n, 2);
    assert_ptr_equal(sh[0], N(w1)); /* w2 reads w1's output */
    assert_ptr_equal(sh[1], N(w2));
    kiln__mem_free(&ctx->mem, sh);

    /* Before the shuffles ran, their outputs cannot be chained. */
    kiln__chain c;
    kiln__chain_init(&c);
    assert_int_equal(kiln__plan_chain(&ctx->mem, N(out), 0, &c), KILN_ERR_STATE);

    /* The map side of w2 is w1's output through map_values. */
    kiln__node *w1n = N(w1);
    assert_int_equal(kiln__resident_create(&ctx->mem, 6, &w1n->shuffled), KILN_OK);
    for (uint32_t p = 0; p < 6; p++) {
        kiln__store *st = kiln__mem_calloc(&ctx->mem, 1, sizeof *st);
        assert_non_null(st);
        kiln__store_init(st, &ctx->mem, &w1n->schema);
        w1n->shuffled->part[p] = st;
        w1n->shuffled->owner[p] = 0;
    }
    w1n->shuffled->complete = true;
    kiln_dataset_cache(w1); /* no second copy of resident data */
    assert_int_equal(kiln__plan_chain(&ctx->mem, N(mv), 4, &c), KILN_OK);
    assert_int_equal(c.nsteps, 2);
    check_step(&c, 0, w1, 4, false);
    check_step(&c, 1, mv, 4, false);
    assert_ptr_equal(c.resident, w1n->shuffled->part[4]);
    assert_int_equal(c.owner, 0);
    char buf[64];
    kiln__plan_describe(&ctx->mem, N(mv), "shuffle", buf, sizeof buf);
    assert_string_equal(buf, "shuffled>map_values>shuffle");

    /* With w1 computed, only w2 is left to run. */
    assert_int_equal(kiln__plan_shuffles(&ctx->mem, N(out), &sh, &n), KILN_OK);
    assert_int_equal(n, 1);
    assert_ptr_equal(sh[0], N(w2));
    kiln__mem_free(&ctx->mem, sh);
    kiln__chain_release(&ctx->mem, &c);
    kiln_dataset *all[] = {r, k, w1, mv, w2, out};
    destroy_all(ctx, all, 6);
}

static void shuffles_of_a_diamond_each_once(void **state)
{
    kiln_context *ctx = *state;
    kiln_dataset *r, *k, *w, *a, *b, *u, *d;
    assert_int_equal(kiln_range(ctx, 0, 100, 1, 2, &r), KILN_OK);
    assert_int_equal(kiln_dataset_key_by(r, U64, noop_map, NULL, &k), KILN_OK);
    assert_int_equal(kiln_dataset_reduce_by_key(k, KILN_OP_MAX, NULL, NULL, 0, &w),
                     KILN_OK);
    assert_int_equal(kiln_dataset_filter(w, noop_filter, NULL, &a), KILN_OK);
    assert_int_equal(kiln_dataset_map_values(w, kiln_dataset_schema(w).value,
                                             noop_map, NULL, &b), KILN_OK);
    assert_int_equal(kiln_dataset_union(a, b, &u), KILN_OK);
    assert_int_equal(kiln_dataset_distinct(u, 0, &d), KILN_OK);
    assert_int_equal(kiln__plan_resolve(&ctx->mem, N(d), 3, 0), KILN_OK);
    assert_int_equal(N(w)->nparts, 3);
    assert_int_equal(N(u)->nparts, 6);
    assert_int_equal(N(d)->nparts, 6);
    kiln__node **sh = NULL;
    size_t n = 0;
    assert_int_equal(kiln__plan_shuffles(&ctx->mem, N(d), &sh, &n), KILN_OK);
    assert_int_equal(n, 2);
    assert_ptr_equal(sh[0], N(w));
    assert_ptr_equal(sh[1], N(d));
    kiln__mem_free(&ctx->mem, sh);
    assert_ptr_equal(kiln__plan_find(&ctx->mem, N(d), N(b)->id), N(b));
    assert_ptr_equal(kiln__plan_find(&ctx->mem, N(d), N(r)->id), N(r));
    assert_null(kiln__plan_find(&ctx->mem, N(a), N(b)->id)); /* not upstream */
    kiln_dataset *all[] = {r, k, w, a, b, u, d};
    destroy_all(ctx, all, 7);
}

static void text_sources_must_be_split_first(void **state)
{
    kiln_context *ctx = *state;
    kiln_dataset *t, *m;
    assert_int_equal(kiln_text_file(ctx, "/nonexistent/not-read-yet.txt", &t),
                     KILN_OK);
    kiln_schema lines = kiln_dataset_schema(t);
    assert_int_equal(kiln_dataset_map(t, lines, noop_map, NULL, &m), KILN_OK);
    kiln__node **un = NULL;
    size_t n = 0;
    assert_int_equal(kiln__plan_unsplit(&ctx->mem, N(m), &un, &n), KILN_OK);
    assert_int_equal(n, 1);
    assert_ptr_equal(un[0], N(t));
    kiln__mem_free(&ctx->mem, un);
    assert_int_equal(kiln__plan_resolve(&ctx->mem, N(m), 1, 0), KILN_ERR_STATE);

    kiln__text_splits *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->files = calloc(1, sizeof *s->files);
    s->files[0] = strdup("/nonexistent/not-read-yet.txt");
    s->nfiles = 1;
    s->splits = calloc(3, sizeof *s->splits);
    s->nsplits = 3;
    N(t)->u.text.splits = s;
    assert_int_equal(kiln__plan_unsplit(&ctx->mem, N(m), &un, &n), KILN_OK);
    assert_int_equal(n, 0);
    kiln__mem_free(&ctx->mem, un);
    assert_int_equal(kiln__plan_resolve(&ctx->mem, N(m), 1, 0), KILN_OK);
    assert_int_equal(N(t)->nparts, 3);
    assert_int_equal(N(m)->nparts, 3);
    kiln_dataset *all[] = {t, m};
    destroy_all(ctx, all, 2);
}

/* Build range(nparts) > key_by > first_kind > reduce_by_key on ctx. */
static void build(kiln_context *ctx, uint32_t nparts, bool flat,
                  kiln_dataset *ds[4])
{
    kiln_schema keyed = {U64, {.kind = KILN_KIND_I64, .size = 8}};
    assert_int_equal(kiln_range(ctx, 0, 100, 1, nparts, &ds[0]), KILN_OK);
    assert_int_equal(kiln_dataset_key_by(ds[0], U64, noop_map, NULL, &ds[1]), KILN_OK);
    if (flat)
        assert_int_equal(kiln_dataset_flat_map(ds[1], keyed, noop_map, NULL, &ds[2]),
                         KILN_OK);
    else
        assert_int_equal(kiln_dataset_map(ds[1], keyed, noop_map, NULL, &ds[2]),
                         KILN_OK);
    assert_int_equal(kiln_dataset_reduce_by_key(ds[2], KILN_OP_SUM, NULL, NULL, 0,
                                                &ds[3]), KILN_OK);
    assert_int_equal(kiln__plan_resolve(&ctx->mem, N(ds[3]), 1, 0), KILN_OK);
}

static void fingerprint_tells_lineages_apart(void **state)
{
    (void)state;
    /* Fresh contexts number their nodes from the same start, as the ranks
     * of one job do. */
    kiln_context *c[4];
    kiln_dataset *ds[4][4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(kiln_init(NULL, NULL, &c[i]), KILN_OK);
    build(c[0], 4, false, ds[0]);
    build(c[1], 4, false, ds[1]); /* the same lineage */
    build(c[2], 4, true, ds[2]);  /* flat_map instead of map */
    build(c[3], 5, false, ds[3]); /* another partition count */
    uint64_t fp[4];
    for (int i = 0; i < 4; i++) {
        fp[i] = kiln__plan_fingerprint(&c[i]->mem, N(ds[i][3]));
        assert_int_not_equal(fp[i], 0);
    }
    assert_int_equal(fp[0], fp[1]);
    assert_int_not_equal(fp[0], fp[2]);
    assert_int_not_equal(fp[0], fp[3]);
    assert_int_not_equal(fp[2], fp[3]);
    /* Stable across calls; the upstream part differs from the whole. */
    assert_int_equal(kiln__plan_fingerprint(&c[0]->mem, N(ds[0][3])), fp[0]);
    assert_int_not_equal(kiln__plan_fingerprint(&c[0]->mem, N(ds[0][2])), fp[0]);
    for (int i = 0; i < 4; i++) {
        destroy_all(c[i], ds[i], 4);
        assert_int_equal(kiln_finalize(&c[i]), KILN_OK);
        assert_null(c[i]);
    }
}

static void long_lineage_needs_no_recursion(void **state)
{
    kiln_context *ctx = *state;
    enum { DEPTH = 50000 };
    kiln_dataset *r, *cur;
    assert_int_equal(kiln_range(ctx, 0, 10, 1, 2, &r), KILN_OK);
    cur = r;
    for (int i = 0; i < DEPTH; i++) {
        kiln_dataset *next;
        assert_int_equal(kiln_dataset_map(cur, PLAIN_I64, noop_map, NULL, &next),
                         KILN_OK);
        if (cur != r)
            kiln_dataset_destroy(&cur); /* children keep parents alive */
        cur = next;
    }
    assert_int_equal(kiln__plan_resolve(&ctx->mem, N(cur), 1, 0), KILN_OK);
    kiln__chain c;
    kiln__chain_init(&c);
    assert_int_equal(kiln__plan_chain(&ctx->mem, N(cur), 1, &c), KILN_OK);
    assert_int_equal(c.nsteps, DEPTH + 1);
    check_step(&c, 0, r, 1, false);
    check_step(&c, DEPTH, cur, 1, false);
    kiln__node **sh;
    size_t n;
    assert_int_equal(kiln__plan_shuffles(&ctx->mem, N(cur), &sh, &n), KILN_OK);
    assert_int_equal(n, 0);
    kiln__mem_free(&ctx->mem, sh);
    assert_int_not_equal(kiln__plan_fingerprint(&ctx->mem, N(cur)), 0);
    kiln__chain_release(&ctx->mem, &c);
    kiln_dataset *all[] = {cur, r};
    destroy_all(ctx, all, 2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)

int main(int argc, char **argv)
{
    /* A singleton: no mpiexec. kiln_init() sees MPI running and leaves it. */
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS)
        return 1;
    const struct CMUnitTest tests[] = {
        T(narrow_chain_fuses_map_and_filter),
        T(union_remaps_partitions),
        T(cached_partition_starts_the_chain),
        T(wide_partition_counts),
        T(chained_shuffles_in_dependency_order),
        T(shuffles_of_a_diamond_each_once),
        T(text_sources_must_be_split_first),
        cmocka_unit_test(fingerprint_tells_lineages_apart),
        T(long_lineage_needs_no_recursion),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return failed;
}
