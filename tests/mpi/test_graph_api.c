/* test_graph_api: the graph layer (kiln_graph.h) against serial
 * computations done here, at whatever rank count the job runs (1, 2, 4).
 *
 * A pseudo-random directed multigraph (non-dense ids, self-loops, repeated
 * edges, weights) is loaded from a dataset and from files in every format;
 * each operation's per-vertex result is gathered by id and compared with
 * the serial one: gather (SUM to 1e-12 relative, MIN/MAX exactly), scatter
 * from an active set (weighted MIN, and SUM), lookup and send by handle,
 * reduce and combine. The same computations on contexts over the first 1
 * and 2 ranks (and with the range partitioner) must give bit-identical
 * results. Also: malformed input names FILE:LINE on every rank, a missing
 * HDF5 dataset, directions not kept, bad handles; checkpoints of vertex
 * state resumed on another rank count (and not on another graph); values
 * as part files and HDF5 columns; triangle counting in many small rounds
 * and resumed from a partial state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <kiln_graph.h>

#include "harness.h"

/* ---- the test graph, the same on every rank ---- */

enum { NE = 3000, NPARTS = 7 };

typedef struct edge {
    uint64_t u, v;
    double w;
} edge;

static edge E[NE];
static uint64_t V[2 * NE];
static size_t nv;

static uint64_t vid(uint64_t i) { return t_mix(i % 700) % 100003 + (i % 5 == 0 ? (1ull << 40) : 0); }

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void make_graph(void)
{
    for (size_t i = 0; i < NE; i++) {
        E[i].u = vid(t_mix(2 * i));
        E[i].v = i % 97 == 0 ? E[i].u : vid(t_mix(2 * i + 1) % 900); /* self-loops */
        if (i % 50 == 1)
            E[i] = E[i - 1]; /* repeats */
        E[i].w = (double)(t_mix(i + 77) % 1000) / 64.0;
    }
    for (size_t i = 0; i < NE; i++) {
        V[2 * i] = E[i].u;
        V[2 * i + 1] = E[i].v;
    }
    qsort(V, 2 * NE, 8, cmp_u64);
    nv = 0;
    for (size_t i = 0; i < 2 * NE; i++)
        if (nv == 0 || V[nv - 1] != V[i])
            V[nv++] = V[i];
}

static size_t vindex(uint64_t id)
{
    uint64_t *p = bsearch(&id, V, nv, 8, cmp_u64);
    return p ? (size_t)(p - V) : (size_t)-1;
}

static kiln_status edges_dataset(kiln_context *ctx, kiln_dataset **out)
{
    t_recs r;
    t_recs_init(&r, kiln_schema_of(KILN_T_U64, kiln_type_fixed(16, NULL, NULL, NULL)));
    for (size_t i = 0; i < NE; i++) {
        kiln_graph_wdst d = {E[i].v, E[i].w};
        t_recs_add(&r, &E[i].u, 8, &d, sizeof d);
    }
    kiln_status st = t_parallelize(ctx, kiln_schema_of(KILN_T_U64,
                                                       kiln_type_fixed(16, NULL, NULL,
                                                                       NULL)),
                                   &r, 5, out);
    t_recs_free(&r);
    return st;
}

static kiln_graph_options both_weighted(void)
{
    kiln_graph_options o = {.weighted = true, .adjacency = KILN_GRAPH_BOTH,
                            .nparts = NPARTS};
    return o;
}

/* Per-vertex values of g gathered to every rank, by vertex index (nv). */
static kiln_status by_id(kiln_graph *g, kiln_kind kind, const void *values,
                         uint64_t *out)
{
    kiln_dataset *ds = NULL;
    kiln_collection *c = NULL;
    kiln_type t = kind == KILN_KIND_F64 ? KILN_T_F64
                  : kind == KILN_KIND_I64 ? KILN_T_I64 : KILN_T_U64;
    kiln_status st = kiln_graph_values(g, t, values, &ds);
    if (st == KILN_OK)
        st = kiln_dataset_collect(ds, KILN_ALL_RANKS, &c);
    if (st == KILN_OK) {
        const kiln_batch *b = kiln_collection_batch(c);
        CHECK(b->n == nv, "values of %zu vertices, expected %zu", b->n, nv);
        for (size_t i = 0; i < nv; i++)
            out[i] = 0xdeadbeefull;
        for (size_t i = 0; i < b->n; i++) {
            size_t k = vindex(kiln_batch_key_u64(b, i));
            CHECK(k != (size_t)-1, "unknown vertex %llu",
                  (unsigned long long)kiln_batch_key_u64(b, i));
            if (k != (size_t)-1)
                out[k] = kiln_batch_value_u64(b, i);
        }
    }
    kiln_collection_destroy(&c);
    kiln_dataset_destroy(&ds);
    return st;
}

static uint64_t digest(const uint64_t *v, size_t n)
{
    uint64_t h = 0;
    for (size_t i = 0; i < n; i++)
        h = t_mix(h ^ v[i]);
    return h;
}

/* A value per vertex from its id. */
static double xval(uint64_t id) { return (double)(id % 1013) / 7.0 + 0.5; }

/* ---- what is computed on a graph, as digests and checks ---- */

typedef struct results {
    uint64_t sum_in, min_both, scatter, pr; /* digests by vertex */
} results;

/* Five PageRank-like pulls: sums over IN rows, bit-identity's test. */
static kiln_status pulls(kiln_graph *g, uint64_t *pr)
{
    uint32_t n = kiln_graph_local_count(g);
    const uint64_t *deg = kiln_graph_out_degrees(g);
    double *rank = calloc(n + 1, 8), *c = calloc(kiln_graph_slot_count(g) + 1, 8);
    double *s = calloc(n + 1, 8);
    for (uint32_t v = 0; v < n; v++)
        rank[v] = 1.0 / (double)nv;
    kiln_status st = KILN_OK;
    for (int it = 0; it < 5 && st == KILN_OK; it++) {
        for (uint32_t v = 0; v < n; v++)
            c[v] = deg[v] ? rank[v] / (double)deg[v] : 0;
        st = kiln_graph_gather(g, KILN_GRAPH_IN, KILN_KIND_F64, KILN_OP_SUM, c, s);
        for (uint32_t v = 0; v < n; v++)
            rank[v] = 0.15 / (double)nv + 0.85 * s[v];
    }
    if (st == KILN_OK)
        st = by_id(g, KILN_KIND_F64, rank, pr);
    free(rank);
    free(c);
    free(s);
    return st;
}

/* Run the operations on g; check against the serial values when `check`;
 * digests into r. CHECK only (works on sub-contexts). */
static kiln_status run_ops(kiln_graph *g, bool check, results *r)
{
    uint32_t n = kiln_graph_local_count(g), slots = kiln_graph_slot_count(g);
    const uint64_t *ids = kiln_graph_local_ids(g);
    double *x = calloc(slots + 1, 8), *sum = calloc(n + 1, 8), *acc = calloc(n + 1, 8);
    uint64_t *lab = calloc(slots + 1, 8), *mn = calloc(n + 1, 8);
    uint64_t *all = calloc(nv, 8), *pr = calloc(nv, 8);
    uint32_t *active = calloc(n + 1, 4), *changed = calloc(n + 1, 4);
    size_t na = 0, nch = 0;
    uint64_t total = 0;
    for (uint32_t v = 0; v < n; v++) {
        x[v] = xval(ids[v]);
        lab[v] = ids[v];
        acc[v] = ids[v] % 3 == 0 ? 5.0 : INFINITY;
        if (ids[v] % 4 == 1)
            active[na++] = v;
    }
    kiln_status st = kiln_graph_gather(g, KILN_GRAPH_IN, KILN_KIND_F64, KILN_OP_SUM, x, sum);
    if (st == KILN_OK)
        st = kiln_graph_gather(g, KILN_GRAPH_BOTH, KILN_KIND_U64, KILN_OP_MIN, lab, mn);
    if (st == KILN_OK)
        st = kiln_graph_scatter(g, KILN_GRAPH_OUT, KILN_KIND_F64, KILN_OP_MIN, true,
                                active, na, x, acc, changed, &nch, &total);
    /* serial references */
    if (st == KILN_OK && check) {
        double *rs = calloc(nv, 8), *ra = malloc(nv * 8);
        uint64_t *rm = malloc(nv * 8);
        for (size_t i = 0; i < nv; i++) {
            rm[i] = UINT64_MAX;
            ra[i] = V[i] % 3 == 0 ? 5.0 : INFINITY;
        }
        uint64_t rtotal = 0;
        for (size_t e = 0; e < NE; e++) {
            size_t u = vindex(E[e].u), v = vindex(E[e].v);
            rs[v] += xval(E[e].u);
            if (E[e].u < rm[v])
                rm[v] = E[e].u;
            if (E[e].v < rm[u])
                rm[u] = E[e].v;
            if (E[e].u % 4 == 1 && xval(E[e].u) + E[e].w < ra[v])
                ra[v] = xval(E[e].u) + E[e].w;
        }
        for (size_t i = 0; i < nv; i++)
            rtotal += ra[i] < (V[i] % 3 == 0 ? 5.0 : INFINITY);
        CHECK(total == rtotal, "scatter changed %llu vertices, expected %llu",
              (unsigned long long)total, (unsigned long long)rtotal);
        for (uint32_t v = 0; v < n; v++) {
            size_t i = vindex(ids[v]);
            CHECK(fabs(sum[v] - rs[i]) <= 1e-12 * fabs(rs[i]), "gather sum of %llu: "
                  "%.17g, expected %.17g", (unsigned long long)ids[v], sum[v], rs[i]);
            CHECK(mn[v] == rm[i], "gather min of %llu", (unsigned long long)ids[v]);
            CHECK(acc[v] == ra[i], "scatter of %llu: %g, expected %g",
                  (unsigned long long)ids[v], acc[v], ra[i]);
        }
        size_t local_changes = 0;
        for (uint32_t v = 0; v < n; v++)
            local_changes += acc[v] < (ids[v] % 3 == 0 ? 5.0 : INFINITY);
        CHECK(nch == local_changes, "nchanged %zu, expected %zu", nch, local_changes);
        for (size_t i = 0; i < nch; i++)
            CHECK(changed[i] < n && acc[changed[i]] < (ids[changed[i]] % 3 == 0 ? 5.0
                                                        : INFINITY), "changed[%zu]", i);
        free(rs);
        free(ra);
        free(rm);
    }
    if (st == KILN_OK && (st = by_id(g, KILN_KIND_F64, sum, all)) == KILN_OK)
        r->sum_in = digest(all, nv);
    if (st == KILN_OK && (st = by_id(g, KILN_KIND_U64, mn, all)) == KILN_OK)
        r->min_both = digest(all, nv);
    if (st == KILN_OK && (st = by_id(g, KILN_KIND_F64, acc, all)) == KILN_OK)
        r->scatter = digest(all, nv);
    if (st == KILN_OK && (st = pulls(g, pr)) == KILN_OK)
        r->pr = digest(pr, nv);
    free(x);
    free(sum);
    free(acc);
    free(lab);
    free(mn);
    free(all);
    free(pr);
    free(active);
    free(changed);
    return st;
}

/* ---- sections ---- */

static results full;

/* U32 gathers: the smallest packed handle around each vertex is the packed
 * smallest handle (packing keeps the order), and 32-bit sums match a
 * serial count; a dataset refuses the kind. */
static void check_u32(kiln_graph *g)
{
    uint32_t n = kiln_graph_local_count(g), slots = kiln_graph_slot_count(g);
    const uint64_t *ids = kiln_graph_local_ids(g);
    unsigned shift = 0;
    CHECK(kiln_graph_handle32(g, &shift), "handles fit in 32 bits");
    uint64_t *h = calloc(slots + 1, 8), *hm = calloc(n + 1, 8), *rs = calloc(nv, 8);
    uint32_t *h32 = calloc(slots + 1, 4), *m32 = calloc(n + 1, 4);
    uint32_t *c32 = calloc(slots + 1, 4), *s32 = calloc(n + 1, 4);
    kiln_graph_local_handles(g, h);
    for (uint32_t v = 0; v < n; v++) {
        h32[v] = kiln_graph_handle_pack(h[v], shift);
        c32[v] = (uint32_t)(ids[v] % 1000);
        CHECK(kiln_graph_handle_unpack(h32[v], shift) == h[v], "handle round trip");
    }
    EXPECT_OK(kiln_graph_gather(g, KILN_GRAPH_BOTH, KILN_KIND_U64, KILN_OP_MIN, h, hm));
    EXPECT_OK(kiln_graph_gather(g, KILN_GRAPH_BOTH, KILN_KIND_U32, KILN_OP_MIN, h32, m32));
    EXPECT_OK(kiln_graph_gather(g, KILN_GRAPH_IN, KILN_KIND_U32, KILN_OP_SUM, c32, s32));
    for (size_t e = 0; e < NE; e++)
        rs[vindex(E[e].v)] += E[e].u % 1000;
    for (uint32_t v = 0; v < n; v++) {
        uint32_t want = hm[v] == UINT64_MAX ? UINT32_MAX
                                            : kiln_graph_handle_pack(hm[v], shift);
        CHECK(m32[v] == want, "U32 MIN gather of %llu", (unsigned long long)ids[v]);
        CHECK(s32[v] == rs[vindex(ids[v])], "U32 SUM gather of %llu",
              (unsigned long long)ids[v]);
    }
    EXPECT_STATUS(kiln_graph_reduce(g, KILN_KIND_U32, KILN_OP_SUM, c32, h),
                  KILN_ERR_INVAL);
    kiln_dataset *ds = NULL;
    EXPECT_STATUS(kiln_graph_values(g, (kiln_type){.kind = KILN_KIND_U32, .size = 4},
                                    h, &ds), KILN_ERR_INVAL);
    kiln_dataset_destroy(&ds);
    free(h);
    free(hm);
    free(rs);
    free(h32);
    free(m32);
    free(c32);
    free(s32);
}

static void section_load_and_ops(void)
{
    t_section("load and operations");
    kiln_dataset *edges = NULL;
    kiln_graph *g = NULL;
    kiln_graph_options o = both_weighted();
    EXPECT_OK(edges_dataset(T.ctx, &edges));
    EXPECT_OK(kiln_graph_from_edges(edges, &o, &g));
    kiln_dataset_destroy(&edges);
    CHECK(kiln_graph_vertex_count(g) == nv, "%llu vertices, expected %zu",
          (unsigned long long)kiln_graph_vertex_count(g), nv);
    CHECK(kiln_graph_edge_count(g) == NE, "edge count");
    CHECK(kiln_graph_partition_count(g) == NPARTS, "partitions");
    /* degrees by id */
    uint64_t *rout = calloc(nv, 8), *rin = calloc(nv, 8), *got = calloc(nv, 8);
    for (size_t e = 0; e < NE; e++) {
        rout[vindex(E[e].u)]++;
        rin[vindex(E[e].v)]++;
    }
    EXPECT_OK(by_id(g, KILN_KIND_U64, kiln_graph_out_degrees(g), got));
    CHECK(memcmp(got, rout, nv * 8) == 0, "out-degrees");
    EXPECT_OK(by_id(g, KILN_KIND_U64, kiln_graph_in_degrees(g), got));
    CHECK(memcmp(got, rin, nv * 8) == 0, "in-degrees");
    /* local layout: all the rank's vertices by degree (out + in)
     * decreasing, then id; a partition's vertices in handle order, their
     * handles numbering them 0, 1, ... */
    const uint32_t *part_of;
    uint32_t nlp = kiln_graph_local_partitions(g, &part_of);
    const uint64_t *ids = kiln_graph_local_ids(g);
    const uint64_t *od = kiln_graph_out_degrees(g), *id_ = kiln_graph_in_degrees(g);
    uint32_t nloc = kiln_graph_local_count(g), seen[64] = {0};
    uint64_t *lh = calloc(nloc + 1, 8);
    kiln_graph_local_handles(g, lh);
    for (uint32_t i = 0; i < nloc; i++) {
        uint64_t db = od[i] + id_[i];
        if (i > 0) {
            uint64_t da = od[i - 1] + id_[i - 1];
            CHECK(da > db || (da == db && ids[i - 1] < ids[i]),
                  "local vertices out of order at %u", i);
        }
        uint32_t k = part_of[i], me = (uint32_t)kiln_context_rank(T.ctx);
        uint32_t np = (uint32_t)kiln_context_size(T.ctx);
        CHECK(k < nlp && k < 64, "local partition %u of %u", k, nlp);
        CHECK(lh[i] == ((uint64_t)(me + k * np) << 32 | seen[k]),
              "handle of local vertex %u", i);
        seen[k]++;
    }
    free(lh);
    EXPECT_OK(run_ops(g, true, &full));
    check_u32(g);

    t_section("lookup, send, reduce, combine");
    uint32_t n = kiln_graph_local_count(g);
    uint64_t target, h;
    bool found;
    EXPECT_OK(kiln_graph_find(g, V[nv / 2], &target, &found));
    CHECK(found, "find an existing vertex");
    EXPECT_OK(kiln_graph_find(g, 4, &h, &found));
    CHECK(!found, "vertex 4 does not exist");
    uint64_t *hs = calloc(n + 1, 8), *vals = calloc(n + 1, 8), *out = calloc(n + 1, 8);
    uint64_t *acc = calloc(n + 1, 8), *ones = calloc(n + 1, 8);
    kiln_graph_local_handles(g, hs);
    for (uint32_t v = 0; v < n; v++)
        vals[v] = ids[v] * 3;
    /* every vertex looks up the value of the vertex after it (by handle) */
    uint64_t *all = calloc(nv, 8);
    EXPECT_OK(by_id(g, KILN_KIND_U64, hs, all)); /* handle by vertex index */
    uint64_t *req = calloc(n + 1, 8);
    for (uint32_t v = 0; v < n; v++)
        req[v] = all[(vindex(ids[v]) + 1) % nv];
    EXPECT_OK(kiln_graph_lookup(g, n, req, vals, out));
    for (uint32_t v = 0; v < n; v++)
        CHECK(out[v] == 3 * V[(vindex(ids[v]) + 1) % nv], "lookup of vertex %u", v);
    /* many requests for a few handles, interleaved with distinct ones: the
     * requests are combined on the sending rank, every asker still gets
     * its answer */
    for (uint32_t v = 0; v < n; v++)
        req[v] = all[v % 2 ? vindex(ids[v]) % 3 : (vindex(ids[v]) + 5) % nv];
    EXPECT_OK(kiln_graph_lookup(g, n, req, vals, out));
    for (uint32_t v = 0; v < n; v++)
        CHECK(out[v] == 3 * V[v % 2 ? vindex(ids[v]) % 3 : (vindex(ids[v]) + 5) % nv],
              "repeated lookup of vertex %u", v);
    /* every vertex sends its id to `target` (MIN) and 1 (SUM) */
    for (uint32_t v = 0; v < n; v++) {
        req[v] = target;
        acc[v] = UINT64_MAX;
        ones[v] = 1;
    }
    EXPECT_OK(kiln_graph_send(g, KILN_KIND_U64, KILN_OP_MIN, n, req, ids, acc));
    uint32_t ti;
    if (kiln_graph_handle_local(g, target, &ti))
        CHECK(acc[ti] == V[0], "send MIN reached %llu", (unsigned long long)acc[ti]);
    memset(acc, 0, (n + 1) * 8);
    EXPECT_OK(kiln_graph_send(g, KILN_KIND_U64, KILN_OP_SUM, n, req, ones, acc));
    if (kiln_graph_handle_local(g, target, &ti))
        CHECK(acc[ti] == nv, "send SUM: %llu", (unsigned long long)acc[ti]);
    uint64_t bad = (uint64_t)NPARTS << 32;
    EXPECT_STATUS(kiln_graph_lookup(g, 1, &bad, vals, out), KILN_ERR_INVAL);
    double idsum = 0, rsum = 0;
    double *idf = calloc(n + 1, 8);
    for (uint32_t v = 0; v < n; v++)
        idf[v] = (double)(ids[v] % 100003);
    for (size_t i = 0; i < nv; i++)
        rsum += (double)(V[i] % 100003);
    EXPECT_OK(kiln_graph_reduce(g, KILN_KIND_F64, KILN_OP_SUM, idf, &idsum));
    CHECK(idsum == rsum, "reduce: %.17g, expected %.17g", idsum, rsum);
    uint64_t mx = 0, parts[64][2];
    EXPECT_OK(kiln_graph_reduce(g, KILN_KIND_U64, KILN_OP_MAX, ids, &mx));
    CHECK(mx == V[nv - 1], "reduce MAX");
    for (uint32_t k = 0; k < nlp && k < 64; k++) {
        parts[k][0] = 1;
        parts[k][1] = seen[k];
    }
    uint64_t comb[2];
    EXPECT_OK(kiln_graph_combine(g, KILN_KIND_U64, KILN_OP_SUM, 2, parts, comb));
    CHECK(comb[0] == NPARTS && comb[1] == nv, "combine: %llu %llu",
          (unsigned long long)comb[0], (unsigned long long)comb[1]);
    EXPECT_STATUS(kiln_graph_gather(g, KILN_GRAPH_IN, KILN_KIND_STRING, KILN_OP_SUM,
                                    idf, out), KILN_ERR_INVAL);
    free(rout);
    free(rin);
    free(got);
    free(hs);
    free(vals);
    free(out);
    free(acc);
    free(ones);
    free(all);
    free(req);
    free(idf);
    kiln_graph_destroy(&g);
}

/* The same on contexts over the first 1 and 2 ranks, and with RANGE:
 * bit-identical digests. */
static void section_rank_counts(void)
{
    t_section("the same at other rank counts");
    for (int k = 1; k <= 2; k++) {
        for (int range = 0; range <= 1; range++) {
            kiln_context *sub = t_sub_context(k, NULL);
            results r = {0, 0, 0, 0};
            if (sub) {
                kiln_dataset *edges = NULL;
                kiln_graph *g = NULL;
                kiln_graph_options o = both_weighted();
                if (range)
                    o.partitioner = KILN_PARTITION_RANGE;
                kiln_status st = edges_dataset(sub, &edges);
                if (st == KILN_OK)
                    st = kiln_graph_from_edges(edges, &o, &g);
                if (st == KILN_OK)
                    st = run_ops(g, range == 1, &r);
                CHECK(st == KILN_OK, "on %d ranks: %s", k, kiln_context_last_error(sub));
                kiln_graph_destroy(&g);
                kiln_dataset_destroy(&edges);
                t_sub_done(&sub);
            }
            uint64_t d[4] = {t_bcast_u64(r.sum_in), t_bcast_u64(r.min_both),
                             t_bcast_u64(r.scatter), t_bcast_u64(r.pr)};
            /* Sums follow handle order: hash partitions give bit-identical
             * results at any rank count; range partitions are another
             * order (checked against the reference in run_ops). */
            if (!range)
                CHECK(d[0] == full.sum_in && d[3] == full.pr,
                      "sums on %d ranks differ from the full run's", k);
            CHECK(d[1] == full.min_both && d[2] == full.scatter,
                  "MIN results on %d ranks (range %d) differ", k, range);
        }
    }
}

/* Files: text with comments, blank lines, tabs and CRLF; the three formats
 * kiln_graph_save_edges writes. */
static void section_formats(void)
{
    t_section("formats");
    kiln_dataset *edges = NULL;
    EXPECT_OK(edges_dataset(T.ctx, &edges));
    char *txt = t_path("edges.txt"), *bin = t_path("edges.wbin"), *h5 = t_path("edges.h5");
    char *snap = t_path("snap.txt");
    EXPECT_OK(kiln_graph_save_edges(edges, txt, KILN_GRAPH_TEXT, false));
    EXPECT_OK(kiln_graph_save_edges(edges, bin, KILN_GRAPH_BINARY_WEIGHTED, false));
    EXPECT_OK(kiln_graph_save_edges(edges, h5, KILN_GRAPH_HDF5, false));
    EXPECT_STATUS(kiln_graph_save_edges(edges, h5, KILN_GRAPH_HDF5, false),
                  KILN_ERR_EXISTS);
    kiln_dataset_destroy(&edges);
    if (T.rank == 0) { /* the hand-written SNAP flavour */
        t_buf b = {0};
        t_buf_addf(&b, "# Directed graph\r\n# FromNodeId\tToNodeId\r\n\r\n");
        for (size_t i = 0; i < NE; i++)
            t_buf_addf(&b, i % 3 ? "%llu\t%llu\t%.17g\r\n" : "  %llu  %llu %.17g  \n",
                       (unsigned long long)E[i].u, (unsigned long long)E[i].v, E[i].w);
        t_write_file(snap, b.p, b.len);
        t_buf_free(&b);
    }
    t_barrier();
    const char *paths[] = {txt, bin, h5, snap};
    for (int i = 0; i < 4; i++) {
        kiln_graph *g = NULL;
        kiln_graph_options o = both_weighted();
        results r;
        EXPECT_OK(kiln_graph_load(T.ctx, &paths[i], 1, &o, &g));
        CHECK(kiln_graph_vertex_count(g) == nv && kiln_graph_edge_count(g) == NE,
              "%s: %llu vertices, %llu edges", paths[i],
              (unsigned long long)kiln_graph_vertex_count(g),
              (unsigned long long)kiln_graph_edge_count(g));
        EXPECT_OK(run_ops(g, false, &r));
        CHECK(r.sum_in == full.sum_in && r.min_both == full.min_both &&
              r.scatter == full.scatter && r.pr == full.pr,
              "%s: results differ from the dataset's", paths[i]);
        kiln_graph_destroy(&g);
    }
    /* Unweighted binary: weights are 1. */
    kiln_graph *g = NULL;
    kiln_graph_options o = {.weighted = true, .nparts = 3};
    char *bin16 = t_path("edges.bin");
    EXPECT_OK(edges_dataset(T.ctx, &edges));
    EXPECT_OK(kiln_graph_save_edges(edges, bin16, KILN_GRAPH_BINARY, false));
    kiln_dataset_destroy(&edges);
    EXPECT_OK(kiln_graph_load(T.ctx, (const char *const *)&bin16, 1, &o, &g));
    uint32_t n = kiln_graph_local_count(g), one;
    double *d = calloc(n + 1, 8), *z = calloc(n + 1, 8);
    uint64_t h;
    bool found;
    EXPECT_OK(kiln_graph_find(g, E[0].u, &h, &found));
    for (uint32_t v = 0; v < n; v++)
        d[v] = INFINITY;
    size_t na = kiln_graph_handle_local(g, h, &one) ? 1 : 0;
    if (na)
        d[one] = 0;
    EXPECT_OK(kiln_graph_scatter(g, KILN_GRAPH_OUT, KILN_KIND_F64, KILN_OP_MIN, true,
                                 &one, na, z, d, NULL, NULL, NULL));
    for (uint32_t v = 0; v < n; v++) {
        bool nb = false;
        for (size_t e = 0; e < NE; e++)
            nb |= E[e].u == E[0].u && E[e].v == kiln_graph_local_ids(g)[v];
        if (v != one || !na)
            CHECK(nb ? d[v] == 1.0 : d[v] == INFINITY, "unit weights");
    }
    free(d);
    free(z);
    kiln_graph_destroy(&g);
    free(bin16);
    free(txt);
    free(bin);
    free(h5);
    free(snap);
}

static void section_errors(void)
{
    t_section("errors");
    char *bad = t_path("bad.txt"), *h5 = t_path("no-dst.h5");
    if (T.rank == 0)
        t_write_file(bad, "# ok\n1 2\n3 4 5\n\n7 eight\n", 24);
    t_barrier();
    kiln_graph *g = NULL;
    EXPECT_STATUS(kiln_graph_load(T.ctx, (const char *const *)&bad, 1, NULL, &g),
                  KILN_ERR_PARSE);
    CHECK_ERROR_MENTIONS("bad.txt:5: bad destination vertex id 'eight'");
    CHECK(g == NULL, "no graph after a failure");
    /* An HDF5 file with /src but no /dst. */
    kiln_dataset *ids = NULL;
    EXPECT_OK(kiln_range(T.ctx, 0, 10, 1, 0, &ids));
    EXPECT_OK(kiln_dataset_save_hdf5(ids, h5, "src", NULL));
    kiln_dataset_destroy(&ids);
    EXPECT_STATUS(kiln_graph_load(T.ctx, (const char *const *)&h5, 1, NULL, &g),
                  KILN_ERR_IO);
    CHECK_ERROR_MENTIONS("/dst");
    /* Directions a graph did not keep. */
    kiln_dataset *edges = NULL;
    kiln_graph_options o = {.adjacency = KILN_GRAPH_OUT};
    EXPECT_OK(edges_dataset(T.ctx, &edges));
    EXPECT_OK(kiln_graph_from_edges(edges, &o, &g));
    uint32_t n = kiln_graph_local_count(g);
    uint64_t *x = calloc(kiln_graph_slot_count(g) + 1, 8), *y = calloc(n + 1, 8);
    EXPECT_STATUS(kiln_graph_gather(g, KILN_GRAPH_IN, KILN_KIND_U64, KILN_OP_MIN, x, y),
                  KILN_ERR_STATE);
    kiln_graph_triangles *t = NULL;
    EXPECT_STATUS(kiln_graph_triangles_begin(g, x, y, &t), KILN_ERR_STATE);
    EXPECT_STATUS(kiln_graph_scatter(g, KILN_GRAPH_OUT, KILN_KIND_U64, KILN_OP_SUM, true,
                                     NULL, 0, x, y, NULL, NULL, NULL), KILN_ERR_INVAL);
    free(x);
    free(y);
    kiln_graph_destroy(&g);
    kiln_dataset_destroy(&edges);
    o.adjacency = (kiln_graph_dir)9;
    EXPECT_OK(edges_dataset(T.ctx, &edges));
    EXPECT_STATUS(kiln_graph_from_edges(edges, &o, &g), KILN_ERR_INVAL);
    kiln_dataset_destroy(&edges);
    free(bad);
    free(h5);
}

/* State checkpointed at 2 and 4 on this context, resumed on one rank. */
static void section_checkpoint(void)
{
    t_section("checkpoints");
    char *dir = t_path("ck");
    char opt[1200];
    snprintf(opt, sizeof opt, "--kiln-checkpoint-dir=%s", dir);
    const char *write_opts[] = {opt, NULL}, *resume_opts[] = {opt, "--kiln-resume", NULL};
    kiln_context *w = t_sub_context(T.nranks, write_opts);
    if (w) {
        kiln_dataset *edges = NULL;
        kiln_graph *g = NULL;
        kiln_graph_options o = both_weighted();
        kiln_status st = edges_dataset(w, &edges);
        if (st == KILN_OK)
            st = kiln_graph_from_edges(edges, &o, &g);
        uint32_t n = st == KILN_OK ? kiln_graph_local_count(g) : 0;
        uint64_t *a = calloc(n + 1, 8), *b = calloc(n + 1, 8);
        void *cols[2] = {a, b};
        for (uint64_t it = 1; it <= 5 && st == KILN_OK; it++) {
            for (uint32_t v = 0; v < n; v++) {
                a[v] = kiln_graph_local_ids(g)[v] * it;
                b[v] = it;
            }
            st = kiln_graph_checkpoint(g, "state", it, 2, cols, 2);
        }
        CHECK(st == KILN_OK, "checkpoints: %s", kiln_context_last_error(w));
        free(a);
        free(b);
        kiln_graph_destroy(&g);
        kiln_dataset_destroy(&edges);
        t_sub_done(&w);
    }
    t_barrier();
    kiln_context *r = t_sub_context(1, resume_opts);
    if (r) {
        kiln_dataset *edges = NULL;
        kiln_graph *g = NULL;
        kiln_graph_options o = both_weighted();
        kiln_status st = edges_dataset(r, &edges);
        if (st == KILN_OK)
            st = kiln_graph_from_edges(edges, &o, &g);
        uint32_t n = st == KILN_OK ? kiln_graph_local_count(g) : 0;
        uint64_t *a = calloc(n + 1, 8), *b = calloc(n + 1, 8), it = 99;
        void *cols[2] = {a, b};
        if (st == KILN_OK)
            st = kiln_graph_resume(g, "state", cols, 2, &it);
        CHECK(st == KILN_OK && it == 4, "resumed at %llu: %s", (unsigned long long)it,
              kiln_context_last_error(r));
        for (uint32_t v = 0; st == KILN_OK && v < n; v++)
            CHECK(a[v] == kiln_graph_local_ids(g)[v] * 4 && b[v] == 4, "state of %u", v);
        /* A wrong number of columns is refused; another name finds nothing. */
        if (st == KILN_OK) {
            CHECK(kiln_graph_resume(g, "state", cols, 1, &it) == KILN_ERR_STATE,
                  "one column of two");
            it = 7;
            CHECK(kiln_graph_resume(g, "other", cols, 2, &it) == KILN_OK && it == 0,
                  "another name");
        }
        kiln_graph_destroy(&g);
        kiln_dataset_destroy(&edges);
        /* Another graph (half the edges): not resumed. */
        o.nparts = NPARTS;
        kiln_dataset *fewer = NULL;
        t_recs rec;
        t_recs_init(&rec, kiln_schema_of(KILN_T_U64, kiln_type_fixed(16, NULL, NULL, NULL)));
        for (size_t i = 0; i < NE / 2; i++) {
            kiln_graph_wdst d = {E[i].v, E[i].w};
            t_recs_add(&rec, &E[i].u, 8, &d, sizeof d);
        }
        if (st == KILN_OK)
            st = t_parallelize(r, rec.keyed ? kiln_schema_of(KILN_T_U64,
                                     kiln_type_fixed(16, NULL, NULL, NULL))
                                            : kiln_schema_of(KILN_T_U64, KILN_T_U64),
                               &rec, 3, &fewer);
        if (st == KILN_OK)
            st = kiln_graph_from_edges(fewer, &o, &g);
        n = st == KILN_OK ? kiln_graph_local_count(g) : 0;
        free(a);
        free(b);
        a = calloc(n + 1, 8);
        b = calloc(n + 1, 8);
        cols[0] = a;
        cols[1] = b;
        it = 9;
        if (st == KILN_OK)
            st = kiln_graph_resume(g, "state", cols, 2, &it);
        CHECK(st == KILN_OK && it == 0, "another graph resumed at %llu",
              (unsigned long long)it);
        t_recs_free(&rec);
        free(a);
        free(b);
        kiln_graph_destroy(&g);
        kiln_dataset_destroy(&fewer);
        t_sub_done(&r);
    }
    free(dir);
}

static void section_values(void)
{
    t_section("values out");
    kiln_dataset *edges = NULL, *vals = NULL, *back = NULL, *vback = NULL;
    kiln_graph *g = NULL;
    kiln_graph_options o = both_weighted();
    EXPECT_OK(edges_dataset(T.ctx, &edges));
    EXPECT_OK(kiln_graph_from_edges(edges, &o, &g));
    uint32_t n = kiln_graph_local_count(g);
    double *x = calloc(n + 1, 8);
    for (uint32_t v = 0; v < n; v++)
        x[v] = xval(kiln_graph_local_ids(g)[v]);
    EXPECT_OK(kiln_graph_values(g, KILN_T_F64, x, &vals));
    CHECK(t_count(vals) == nv, "values dataset size");
    char *h5 = t_path("values.h5");
    kiln_graph_column cols[2] = {{"vertex", KILN_KIND_U64}, {"x", KILN_KIND_F64}};
    EXPECT_OK(kiln_graph_save_hdf5(vals, h5, cols, 2, NULL));
    EXPECT_STATUS(kiln_graph_save_hdf5(vals, h5, cols, 2, NULL), KILN_ERR_EXISTS);
    EXPECT_OK(kiln_hdf5_read(T.ctx, h5, "/vertex", 3, &back));
    EXPECT_OK(kiln_hdf5_read(T.ctx, h5, "/x", 3, &vback));
    kiln_collection *c1 = NULL, *c2 = NULL;
    EXPECT_OK(kiln_dataset_collect(back, KILN_ALL_RANKS, &c1));
    EXPECT_OK(kiln_dataset_collect(vback, KILN_ALL_RANKS, &c2));
    const kiln_batch *b1 = kiln_collection_batch(c1), *b2 = kiln_collection_batch(c2);
    CHECK(b1->n == nv && b2->n == nv, "HDF5 rows: %zu and %zu", b1->n, b2->n);
    for (size_t i = 0; i < b1->n && i < b2->n; i++)
        CHECK(kiln_batch_value_f64(b2, i) == xval(kiln_batch_value_u64(b1, i)),
              "HDF5 row %zu", i);
    kiln_collection_destroy(&c1);
    kiln_collection_destroy(&c2);
    kiln_dataset_destroy(&back);
    kiln_dataset_destroy(&vback);
    kiln_dataset_destroy(&vals);
    kiln_dataset_destroy(&edges);
    kiln_graph_destroy(&g);
    free(x);
    free(h5);
}

/* Triangles of the undirected simple graph, against brute force. */
static void section_triangles(void)
{
    t_section("triangles");
    size_t n = nv;
    uint8_t *adj = calloc(n * n, 1);
    for (size_t e = 0; e < NE; e++) {
        size_t u = vindex(E[e].u), v = vindex(E[e].v);
        if (u != v)
            adj[u * n + v] = adj[v * n + u] = 1;
    }
    /* Each triangle credits its three vertices; `resumed` only those whose
     * apex - the lowest by (simple degree, id) - has an even id (the
     * others are marked done before counting starts). */
    uint64_t *want = calloc(n, 8), *resumed = calloc(n, 8), *deg = calloc(n, 8);
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++)
            deg[a] += adj[a * n + b];
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++)
            if (adj[a * n + b])
                for (size_t c = b + 1; c < n; c++)
                    if (adj[a * n + c] && adj[b * n + c]) {
                        size_t tri[3] = {a, b, c}, apex = a;
                        for (int i = 1; i < 3; i++)
                            if (deg[tri[i]] < deg[apex] ||
                                (deg[tri[i]] == deg[apex] && V[tri[i]] < V[apex]))
                                apex = tri[i];
                        for (int i = 0; i < 3; i++) {
                            want[tri[i]]++;
                            resumed[tri[i]] += V[apex] % 2 == 0;
                        }
                    }
    const char *tiny[] = {"--kiln-round-bytes=1", NULL};
    for (int variant = 0; variant < 3; variant++) {
        kiln_context *ctx = variant == 0 ? T.ctx : t_sub_context(variant == 1 ? T.nranks : 2, tiny);
        uint64_t got_digest = 0;
        if (ctx) {
            kiln_dataset *edges = NULL;
            kiln_graph *g = NULL;
            kiln_graph_triangles *t = NULL;
            kiln_graph_options o = {.undirected = variant != 2, .adjacency = variant == 2
                                    ? KILN_GRAPH_BOTH : KILN_GRAPH_OUT, .nparts = NPARTS};
            kiln_status st = edges_dataset(ctx, &edges);
            if (st == KILN_OK)
                st = kiln_graph_from_edges(edges, &o, &g);
            uint32_t nl = st == KILN_OK ? kiln_graph_local_count(g) : 0;
            uint64_t *counts = calloc(nl + 1, 8), *done = calloc(nl + 1, 8);
            /* Variant 2 resumes: vertices with an odd id are done, their
             * triangles' credits already given. */
            if (variant == 2) {
                const uint64_t *ids = kiln_graph_local_ids(g);
                for (uint32_t v = 0; v < nl; v++)
                    done[v] = ids[v] % 2;
            }
            if (st == KILN_OK)
                st = kiln_graph_triangles_begin(g, counts, done, &t);
            bool finished = false;
            int steps = 0;
            while (st == KILN_OK && !finished) {
                st = kiln_graph_triangles_step(t, &finished);
                steps++;
            }
            if (variant == 1)
                CHECK(steps > 3, "tiny rounds: only %d steps", steps);
            uint64_t *all = calloc(n, 8);
            if (st == KILN_OK)
                st = by_id(g, KILN_KIND_U64, counts, all);
            CHECK(st == KILN_OK, "triangles: %s", kiln_context_last_error(ctx));
            got_digest = digest(all, n);
            kiln_graph_triangles_end(&t);
            free(counts);
            free(done);
            free(all);
            kiln_graph_destroy(&g);
            kiln_dataset_destroy(&edges);
            if (variant != 0)
                t_sub_done(&ctx);
        }
        CHECK(t_bcast_u64(got_digest) == digest(variant == 2 ? resumed : want, n),
              "triangle counts (variant %d) differ from brute force", variant);
    }
    free(adj);
    free(want);
    free(resumed);
    free(deg);
}

int main(int argc, char **argv)
{
    t_keep_options(argc, argv);
    t_init(&argc, &argv);
    make_graph();
    section_load_and_ops();
    section_rank_counts();
    section_formats();
    section_errors();
    section_checkpoint();
    section_values();
    section_triangles();
    return t_finish();
}
