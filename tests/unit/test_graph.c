/* tests/unit/test_graph.c: the graph module's internals (runtime/graph.h,
 * runtime/graph_load.h): the id map, the radix sort, edge-list lines,
 * placement (HASH and RANGE agree with the shuffle's partition formula),
 * the RANGE sample, and a whole graph built on a one-rank singleton
 * context (MPI_Init without mpiexec) and checked row by row. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/graph.h"
#include "runtime/graph_load.h"

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* ---- map ---- */

static void map_keeps_first_values_and_grows(void **state)
{
    (void)state;
    kiln__mem mem;
    kiln__mem_init(&mem);
    kiln__graph_map m;
    assert_int_equal(kiln__graph_map_init(&m, &mem, 4), KILN_OK);
    enum { N = 50000 };
    for (uint32_t i = 0; i < N; i++) {
        uint32_t found = 0;
        uint64_t key = i == 0 ? 0 : i == 1 ? UINT64_MAX : mix(i);
        assert_int_equal(kiln__graph_map_put(&m, key, i, &found), KILN_OK);
        assert_int_equal(found, i);
    }
    assert_int_equal(m.n, N);
    for (uint32_t i = 0; i < N; i++) {
        uint64_t key = i == 0 ? 0 : i == 1 ? UINT64_MAX : mix(i);
        uint32_t found = 0;
        assert_int_equal(kiln__graph_map_put(&m, key, 7, &found), KILN_OK);
        assert_int_equal(found, i); /* present: the old value stays */
        assert_int_equal(kiln__graph_map_get(&m, key), i);
        kiln__graph_map_set(&m, key, i + 1);
        assert_int_equal(kiln__graph_map_get(&m, key), i + 1);
    }
    assert_int_equal(kiln__graph_map_get(&m, 12345678901ull), KILN__GRAPH_NONE);
    kiln__graph_map_release(&m);
    assert_int_equal(mem.in_use, 0);
}

/* Counting records: a key put first (an other end, value 0) counts from
 * 0; the second count only follows the records flagged; both survive the
 * map's growth. */
static void map_counts_records_through_growth(void **state)
{
    (void)state;
    kiln__mem mem;
    kiln__mem_init(&mem);
    kiln__graph_map m;
    assert_int_equal(kiln__graph_map_init(&m, &mem, 4), KILN_OK);
    enum { N = 20000 };
    uint32_t found;
    assert_int_equal(kiln__graph_map_put(&m, mix(1), 0, &found), KILN_OK);
    for (uint32_t i = 1; i <= N; i++)
        for (uint32_t r = 0; r < i % 5; r++)
            assert_int_equal(kiln__graph_map_count(&m, mix(i), r % 2 == 1), KILN_OK);
    for (uint32_t i = 1; i <= N; i++) {
        kiln__graph_slot *s = kiln__graph_map_slot(&m, mix(i));
        if (i % 5 == 0 && i != 1) {
            assert_null(s); /* never counted, never put */
            continue;
        }
        assert_non_null(s);
        assert_int_equal(s->value, i % 5);
        assert_int_equal(s->pad, (i % 5) / 2);
    }
    assert_null(kiln__graph_map_slot(&m, 12345678901ull));
    kiln__graph_map_release(&m);
    assert_int_equal(mem.in_use, 0);
}

/* ---- sort ---- */

static int cmp_pair(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : (x[1] > y[1]) - (x[1] < y[1]);
}

static void sort_matches_qsort(void **state)
{
    (void)state;
    kiln__mem mem;
    kiln__mem_init(&mem);
    size_t sizes[] = {0, 1, 2, 31, 32, 33, 100, 5000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        uint64_t *k = malloc((n + 1) * 8), *ref = malloc((n + 1) * 16);
        uint32_t *p = malloc((n + 1) * 4);
        for (size_t i = 0; i < n; i++) {
            /* small keys (most bytes equal: skipped passes), repeats, big */
            k[i] = s % 2 ? mix(i) % 97 : mix(i);
            p[i] = (uint32_t)i;
            ref[2 * i] = k[i];
            ref[2 * i + 1] = i;
        }
        assert_int_equal(kiln__graph_sort_u64(&mem, k, p, n), KILN_OK);
        qsort(ref, n, 16, cmp_pair);
        for (size_t i = 0; i < n; i++) {
            assert_true(k[i] == ref[2 * i]);
            assert_true(i == 0 || k[i - 1] <= k[i]);
            assert_true(k[i] == (s % 2 ? mix(p[i]) % 97 : mix(p[i])));
        }
        free(k);
        free(p);
        free(ref);
    }
    assert_int_equal(mem.in_use, 0);
}

/* ---- lines ---- */

static int parse(const char *line, uint64_t *u, uint64_t *v, double *w, bool *hw,
                 char *why)
{
    return kiln__graph_parse_line((const unsigned char *)line, strlen(line), u, v, w,
                                  hw, why, 160);
}

static void lines_parse_or_say_why(void **state)
{
    (void)state;
    uint64_t u, v;
    double w;
    bool hw;
    char why[160];
    assert_int_equal(parse("1 2", &u, &v, &w, &hw, why), 1);
    assert_true(u == 1 && v == 2 && !hw);
    assert_int_equal(parse("  30\t40 \t", &u, &v, &w, &hw, why), 1);
    assert_true(u == 30 && v == 40 && !hw);
    assert_int_equal(parse("5 6 0.25\r", &u, &v, &w, &hw, why), 1);
    assert_true(hw && w == 0.25);
    assert_int_equal(parse("5 6 -1e3", &u, &v, &w, &hw, why), 1);
    assert_true(hw && w == -1000);
    assert_int_equal(parse("18446744073709551615 0", &u, &v, &w, &hw, why), 1);
    assert_true(u == UINT64_MAX && v == 0);
    assert_int_equal(parse("# a comment 1 2", &u, &v, &w, &hw, why), 0);
    assert_int_equal(parse("   # indented", &u, &v, &w, &hw, why), 0);
    assert_int_equal(parse("", &u, &v, &w, &hw, why), 0);
    assert_int_equal(parse(" \t ", &u, &v, &w, &hw, why), 0);
    assert_int_equal(parse("7", &u, &v, &w, &hw, why), -1);
    assert_non_null(strstr(why, "missing destination"));
    assert_int_equal(parse("7   ", &u, &v, &w, &hw, why), -1);
    assert_int_equal(parse("a 2", &u, &v, &w, &hw, why), -1);
    assert_non_null(strstr(why, "bad source vertex id 'a'"));
    assert_int_equal(parse("1 x2", &u, &v, &w, &hw, why), -1);
    assert_non_null(strstr(why, "bad destination vertex id 'x2'"));
    assert_int_equal(parse("-1 2", &u, &v, &w, &hw, why), -1);
    assert_int_equal(parse("18446744073709551616 0", &u, &v, &w, &hw, why), -1);
    assert_int_equal(parse("1 2 heavy", &u, &v, &w, &hw, why), -1);
    assert_non_null(strstr(why, "bad weight 'heavy'"));
    assert_int_equal(parse("1 2 3 4", &u, &v, &w, &hw, why), -1);
    assert_non_null(strstr(why, "more than three columns"));
    assert_int_equal(parse("1,2", &u, &v, &w, &hw, why), -1);
}

/* ---- placement ---- */

static void key_hash_places_like_part_of(void **state)
{
    (void)state;
    uint64_t split[3] = {10, 20, 30};
    kiln__graph_pf range = {4, KILN_PARTITION_RANGE, split};
    kiln__graph_pf hash = {7, KILN_PARTITION_HASH, NULL};
    for (uint64_t id = 0; id < 50; id++) {
        uint32_t want = id < 10 ? 0 : id < 20 ? 1 : id < 30 ? 2 : 3;
        assert_int_equal(kiln__graph_part_of(&range, id), want);
        assert_int_equal(kiln__hash_partition(kiln__graph_key_hash(&id, 8, &range), 4),
                         want);
    }
    for (uint64_t i = 0; i < 10000; i++) {
        uint64_t id = mix(i);
        uint32_t p = kiln__graph_part_of(&hash, id);
        assert_true(p < 7);
        assert_int_equal(kiln__hash_partition(kiln__graph_key_hash(&id, 8, &hash), 7), p);
    }
    /* Every partition reachable, including the last of many. */
    uint64_t many[99];
    for (int i = 0; i < 99; i++)
        many[i] = 1000 * (uint64_t)(i + 1);
    kiln__graph_pf wide = {100, KILN_PARTITION_RANGE, many};
    for (uint64_t id = 0; id < 100000; id += 500) {
        uint32_t p = kiln__graph_part_of(&wide, id);
        assert_int_equal(p, id / 1000);
        assert_int_equal(kiln__hash_partition(kiln__graph_key_hash(&id, 8, &wide), 100),
                         p);
    }
}

static void range_sample_is_order_independent(void **state)
{
    (void)state;
    size_t k = 64;
    size_t bytes = kiln__graph_sample_bytes(k);
    unsigned char *a = calloc(1, bytes), *b = calloc(1, bytes), *c = calloc(1, bytes);
    unsigned char *all = calloc(1, bytes);
    enum { N = 3000 };
    uint64_t keys[N], vals[N];
    for (size_t i = 0; i < N; i++) {
        keys[i] = mix(i) % 100000;
        vals[i] = mix(i + N) % 100000;
    }
    kiln_batch first = {.n = N / 2, .keys = (const unsigned char *)keys, .key_size = 8,
                        .values = (const unsigned char *)vals, .value_size = 8};
    kiln_batch second = first;
    second.keys = (const unsigned char *)(keys + N / 2);
    second.values = (const unsigned char *)(vals + N / 2);
    second.n = N - N / 2;
    kiln_batch whole = first;
    whole.n = N;
    assert_int_equal(kiln__graph_sample_seq(a, &first, &k), KILN_OK);
    assert_int_equal(kiln__graph_sample_seq(b, &second, &k), KILN_OK);
    assert_int_equal(kiln__graph_sample_seq(all, &whole, &k), KILN_OK);
    /* b + a in that order, against all at once */
    assert_int_equal(kiln__graph_sample_comb(c, b, &k), KILN_OK);
    assert_int_equal(kiln__graph_sample_comb(c, a, &k), KILN_OK);
    assert_memory_equal(c, all, bytes);
    kiln__mem mem;
    kiln__mem_init(&mem);
    kiln__graph_pf pf = {8, KILN_PARTITION_RANGE, NULL};
    assert_int_equal(kiln__graph_splitters(&mem, all, &pf), KILN_OK);
    for (int i = 1; i < 7; i++)
        assert_true(pf.splitters[i - 1] <= pf.splitters[i]);
    /* Rough balance: no partition gets more than half the ids. */
    size_t count[8] = {0};
    for (size_t i = 0; i < N; i++)
        count[kiln__graph_part_of(&pf, keys[i])]++;
    for (int i = 0; i < 8; i++)
        assert_true(count[i] < N / 2);
    kiln__mem_free(&mem, pf.splitters);
    free(a);
    free(b);
    free(c);
    free(all);
}

/* ---- a whole graph at one rank ---- */

static int ctx_setup(void **state)
{
    kiln_context *ctx = NULL;
    char *argv0[] = {"test_graph", "--kiln-quiet", NULL}, **argv = argv0;
    int argc = 2;
    if (kiln_init(&argc, &argv, &ctx) != KILN_OK)
        return -1;
    *state = ctx;
    return 0;
}

static int ctx_teardown(void **state)
{
    kiln_context *ctx = *state;
    return kiln_finalize(&ctx) == KILN_OK ? 0 : -1;
}

/* Edges of a small directed graph with a self-loop, a repeated edge, a
 * vertex that only receives (9) and ids that are not dense. */
static const uint64_t E[][2] = {{100, 7}, {7, 100}, {7, 3}, {3, 3}, {3, 9},
                                {100, 7}, {5, 100}, {1u << 30, 5}};
enum { NE = sizeof E / sizeof E[0] };

static kiln_graph *load(kiln_context *ctx, kiln_graph_dir adj, uint32_t nparts)
{
    uint64_t keys[NE], vals[NE];
    for (int i = 0; i < NE; i++) {
        keys[i] = E[i][0];
        vals[i] = E[i][1];
    }
    kiln_batch b = {.n = NE, .keys = (const unsigned char *)keys, .key_size = 8,
                    .values = (const unsigned char *)vals, .value_size = 8};
    kiln_dataset *edges = NULL;
    kiln_graph *g = NULL;
    assert_int_equal(kiln_parallelize(ctx, kiln_schema_of(KILN_T_U64, KILN_T_U64), &b,
                                      3, &edges),
                     KILN_OK);
    kiln_graph_options o = {.adjacency = adj, .nparts = nparts};
    assert_int_equal(kiln_graph_from_edges(edges, &o, &g), KILN_OK);
    kiln_dataset_destroy(&edges);
    return g;
}

static uint32_t index_of(const kiln_graph *g, uint64_t id)
{
    for (uint32_t i = 0; i < g->nlocal; i++)
        if (g->ids[i] == id)
            return i;
    fail_msg("vertex %llu missing", (unsigned long long)id);
    return 0;
}

static void graph_rows_degrees_and_handles(void **state)
{
    kiln_context *ctx = *state;
    kiln_graph *g = load(ctx, KILN_GRAPH_BOTH, 3);
    assert_int_equal(g->nlocal, 6);
    assert_int_equal(g->nmirror, 0);
    assert_int_equal(kiln_graph_vertex_count(g), 6);
    assert_int_equal(kiln_graph_edge_count(g), NE);
    /* all partitions together: degree (out + in) decreasing, then id */
    for (uint32_t i = 1; i < g->nlocal; i++) {
        uint64_t da = g->out_deg[i - 1] + g->in_deg[i - 1];
        uint64_t db = g->out_deg[i] + g->in_deg[i];
        assert_true(da > db || (da == db && g->ids[i - 1] < g->ids[i]));
    }
    uint64_t handles[6];
    kiln_graph_local_handles(g, handles);
    for (uint32_t i = 0; i < 6; i++) {
        uint32_t back;
        assert_true(handles[i] == kiln__graph_handle_of(g, i));
        assert_true(kiln_graph_handle_local(g, handles[i], &back));
        assert_int_equal(back, i);
        /* a partition's vertices in handle order */
        for (uint32_t j = 0; j < i; j++)
            if (g->part_of[j] == g->part_of[i])
                assert_true(handles[j] < handles[i]);
        uint64_t h;
        bool found;
        assert_int_equal(kiln_graph_find(g, g->ids[i], &h, &found), KILN_OK);
        assert_true(found && h == handles[i]);
    }
    bool found = true;
    uint64_t h;
    assert_int_equal(kiln_graph_find(g, 4, &h, &found), KILN_OK);
    assert_false(found);
    /* degrees: out counts repeats and the self-loop */
    struct { uint64_t id, out, in; } want[] = {
        {100, 2, 2}, {7, 2, 2}, {3, 2, 2}, {9, 0, 1}, {5, 1, 1}, {1u << 30, 1, 0}};
    for (int i = 0; i < 6; i++) {
        uint32_t v = index_of(g, want[i].id);
        assert_int_equal(g->out_deg[v], want[i].out);
        assert_int_equal(g->in_deg[v], want[i].in);
    }
    /* rows: every edge once in its source's OUT row and its target's IN row */
    for (int e = 0; e < NE; e++) {
        uint32_t u = index_of(g, E[e][0]), v = index_of(g, E[e][1]);
        int in_out = 0, in_in = 0;
        for (uint64_t x = g->out.off[u]; x < g->out.off[u + 1]; x++)
            in_out += g->out.adj[x] == v;
        for (uint64_t x = g->in.off[v]; x < g->in.off[v + 1]; x++)
            in_in += g->in.adj[x] == u;
        int copies = 0;
        for (int f = 0; f < NE; f++)
            copies += E[f][0] == E[e][0] && E[f][1] == E[e][1];
        assert_int_equal(in_out, copies);
        assert_int_equal(in_in, copies);
    }
    /* rows sorted by the neighbours' (degree, id) order, the sum order:
     * at one rank, by local index */
    for (uint32_t v = 0; v < g->nlocal; v++) {
        for (uint64_t x = g->in.off[v] + 1; x < g->in.off[v + 1]; x++)
            assert_true(g->in.adj[x - 1] <= g->in.adj[x]);
        for (uint64_t x = g->out.off[v] + 1; x < g->out.off[v + 1]; x++)
            assert_true(g->out.adj[x - 1] <= g->out.adj[x]);
    }
    kiln_graph_destroy(&g);
    assert_null(g);
}

static void graph_operations_at_one_rank(void **state)
{
    kiln_context *ctx = *state;
    kiln_graph *g = load(ctx, KILN_GRAPH_BOTH, 4);
    uint32_t n = g->nlocal;
    double x[6], sum[6];
    uint64_t lab[6], mn[6];
    for (uint32_t i = 0; i < n; i++) {
        x[i] = (double)g->ids[i];
        lab[i] = g->ids[i];
    }
    assert_int_equal(kiln_graph_gather(g, KILN_GRAPH_IN, KILN_KIND_F64, KILN_OP_SUM, x,
                                       sum), KILN_OK);
    assert_int_equal(kiln_graph_gather(g, KILN_GRAPH_BOTH, KILN_KIND_U64, KILN_OP_MIN,
                                       lab, mn), KILN_OK);
    for (uint32_t i = 0; i < n; i++) {
        double s = 0;
        uint64_t m = UINT64_MAX;
        for (int e = 0; e < NE; e++) {
            if (E[e][1] == g->ids[i])
                s += (double)E[e][0];
            if (E[e][1] == g->ids[i] && E[e][0] < m)
                m = E[e][0];
            if (E[e][0] == g->ids[i] && E[e][1] < m)
                m = E[e][1];
        }
        assert_true(sum[i] == s);
        assert_true(mn[i] == m);
    }
    /* scatter from 7 along OUT, MIN: 100 and 3 change */
    uint32_t seven = index_of(g, 7), changed[6];
    uint64_t acc[6], offer[6];
    for (uint32_t i = 0; i < n; i++)
        acc[i] = UINT64_MAX;
    offer[seven] = 1;
    size_t nchanged = 0;
    uint64_t total = 0;
    assert_int_equal(kiln_graph_scatter(g, KILN_GRAPH_OUT, KILN_KIND_U64, KILN_OP_MIN,
                                        false, &seven, 1, offer, acc, changed,
                                        &nchanged, &total), KILN_OK);
    assert_int_equal(nchanged, 2);
    assert_int_equal(total, 2);
    assert_true(acc[index_of(g, 100)] == 1 && acc[index_of(g, 3)] == 1);
    assert_true(acc[seven] == UINT64_MAX);
    /* a direction the graph did not keep */
    kiln_graph *outonly = load(ctx, KILN_GRAPH_OUT, 2);
    assert_int_equal(kiln_graph_gather(outonly, KILN_GRAPH_IN, KILN_KIND_F64,
                                       KILN_OP_SUM, x, sum), KILN_ERR_STATE);
    /* its out-degrees equal the full graph's; IN only: counted from IN rows */
    kiln_graph *inonly = load(ctx, KILN_GRAPH_IN, 5);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t id = g->ids[i];
        assert_int_equal(outonly->out_deg[index_of(outonly, id)], g->out_deg[i]);
        assert_int_equal(inonly->out_deg[index_of(inonly, id)], g->out_deg[i]);
    }
    /* lookup and send by handle */
    uint64_t handles[6], got[6], ones[6], cnt[6] = {0};
    kiln_graph_local_handles(g, handles);
    assert_int_equal(kiln_graph_lookup(g, n, handles, lab, got), KILN_OK);
    assert_memory_equal(got, lab, n * 8);
    for (uint32_t i = 0; i < n; i++) {
        handles[i] = handles[seven]; /* all to 7 */
        ones[i] = 1;
    }
    assert_int_equal(kiln_graph_send(g, KILN_KIND_U64, KILN_OP_SUM, n, handles, ones,
                                     cnt), KILN_OK);
    assert_int_equal(cnt[seven], n);
    uint64_t bad = (uint64_t)99 << 32;
    assert_int_equal(kiln_graph_lookup(g, 1, &bad, lab, got), KILN_ERR_INVAL);
    /* reduce in partition order */
    double total_f = 0;
    assert_int_equal(kiln_graph_reduce(g, KILN_KIND_F64, KILN_OP_SUM, x, &total_f),
                     KILN_OK);
    assert_true(total_f == 100 + 7 + 3 + 9 + 5 + (double)(1u << 30));
    kiln_graph_destroy(&outonly);
    kiln_graph_destroy(&inonly);
    kiln_graph_destroy(&g);
}

#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)

int main(int argc, char **argv)
{
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(map_keeps_first_values_and_grows),
        cmocka_unit_test(map_counts_records_through_growth),
        cmocka_unit_test(sort_matches_qsort),
        cmocka_unit_test(lines_parse_or_say_why),
        cmocka_unit_test(key_hash_places_like_part_of),
        cmocka_unit_test(range_sample_is_order_independent),
        T(graph_rows_degrees_and_handles),
        T(graph_operations_at_one_rank),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return failed;
}
