/* runtime/plan.c: lineage walks. Lineages of iterative jobs grow long (a map
 * per iteration), so every walk here is iterative with an explicit stack:
 * no recursion depth proportional to the lineage. */
#include "runtime/plan.h"

#include "runtime/hash.h"

/* Each walk takes two fresh marks from the context (expanded, emitted), so
 * "visited" needs no set and no clearing pass. */
static uint64_t next_marks(kiln__node *n)
{
    n->ctx->plan_marks += 2;
    return n->ctx->plan_marks;
}

typedef struct stack {
    kiln__mem *mem;
    kiln__node **v;
    size_t n, cap;
} stack;

static kiln_status push(stack *s, kiln__node *n)
{
    if (s->n == s->cap) {
        size_t cap = kiln__mem_grow(s->cap, s->n + 1, 32);
        kiln__node **v = kiln__mem_realloc(s->mem, s->v, cap * sizeof *v);
        if (!v)
            return KILN_ERROR(KILN_ERR_NOMEM, "lineage walk");
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = n;
    return KILN_OK;
}

/* Every node of the lineage, parents before children. `stop` nodes (whose
 * data is already computed) are listed but their parents are not walked. */
typedef bool (*stop_fn)(const kiln__node *n);

static kiln_status postorder(kiln__mem *mem, kiln__node *target, stop_fn stop,
                             stack *out)
{
    const uint64_t expanded = next_marks(target), emitted = expanded + 1;
    stack work = {mem, NULL, 0, 0};
    kiln_status st = push(&work, target);
    /* Two-phase DFS: a node is first expanded (its parents pushed), then
     * emitted when it is on top again. */
    while (st == KILN_OK && work.n) {
        kiln__node *n = work.v[work.n - 1];
        if (n->mark == expanded) { /* expanded: emit */
            work.n--;
            n->mark = emitted;
            st = push(out, n);
            continue;
        }
        if (n->mark == emitted) { /* already emitted via another path */
            work.n--;
            continue;
        }
        n->mark = expanded;
        if (stop && stop(n))
            continue;
        for (int i = n->nparents - 1; i >= 0 && st == KILN_OK; i--)
            if (n->parent[i]->mark != emitted && n->parent[i]->mark != expanded)
                st = push(&work, n->parent[i]);
    }
    kiln__mem_free(mem, work.v);
    return st;
}

static bool resident_complete(const kiln__resident *r)
{
    return r && r->complete;
}

static bool computed(const kiln__node *n)
{
    return resident_complete(n->cache) ||
           (kiln__node_is_wide(n) && resident_complete(n->shuffled));
}

void kiln__chain_init(kiln__chain *c)
{
    memset(c, 0, sizeof *c);
    c->owner = -1;
}

void kiln__chain_release(kiln__mem *mem, kiln__chain *c)
{
    kiln__mem_free(mem, c->steps);
    kiln__chain_init(c);
}

static kiln_status add_step(kiln__mem *mem, kiln__chain *c, kiln__node *n,
                            uint32_t p, bool tee)
{
    if (c->nsteps == c->cap) {
        size_t cap = kiln__mem_grow(c->cap, c->nsteps + 1, 8);
        kiln__step *v = kiln__mem_realloc(mem, c->steps, cap * sizeof *v);
        if (!v)
            return KILN_ERROR(KILN_ERR_NOMEM, "chain of %zu steps", cap);
        c->steps = v;
        c->cap = cap;
    }
    c->steps[c->nsteps++] = (kiln__step){n, p, tee};
    return KILN_OK;
}

static bool cached_here(const kiln__node *n, uint32_t p)
{
    return n->cache && p < n->cache->nparts && n->cache->owner[p] >= 0;
}

void kiln__plan_coalesced(const kiln__node *coalesce, uint32_t q, uint32_t *lo,
                          uint32_t *hi)
{
    uint64_t parts = coalesce->parent[0]->nparts, n = coalesce->nparts;
    *lo = (uint32_t)(q * parts / n);
    *hi = (uint32_t)((q + 1) * parts / n);
}

/* A coalesced partition runs its parent partitions one after the other on
 * one rank: any rank when none is held anywhere, else the rank holding them
 * all. Held on different ranks, they cannot be read by one task. */
static kiln_status coalesce_owner(kiln__mem *mem, kiln__node *n, uint32_t q,
                                  int *owner)
{
    uint32_t lo, hi;
    kiln__plan_coalesced(n, q, &lo, &hi);
    kiln__chain sub;
    kiln__chain_init(&sub);
    kiln_status st = KILN_OK;
    *owner = -1;
    for (uint32_t j = lo; j < hi && st == KILN_OK; j++) {
        st = kiln__plan_chain(mem, n->parent[0], j, &sub);
        if (st != KILN_OK || sub.owner < 0)
            continue;
        if (*owner >= 0 && *owner != sub.owner)
            st = KILN_ERROR(KILN_ERR_STATE,
                            "coalesce: partitions %u..%u are held on different "
                            "ranks; ask the shuffle before it for fewer "
                            "partitions, or use repartition", lo, hi - 1);
        *owner = sub.owner;
    }
    kiln__chain_release(mem, &sub);
    return st;
}

kiln_status kiln__plan_chain(kiln__mem *mem, kiln__node *node, uint32_t p,
                             kiln__chain *c)
{
    c->nsteps = 0;
    c->resident = NULL;
    c->owner = -1;
    kiln_status st = KILN_OK;
    kiln__node *n = node;
    /* Walk down, recording steps top-first; reversed at the end. */
    for (;;) {
        if (cached_here(n, p)) {
            c->resident = n->cache->part[p];
            c->owner = n->cache->owner[p];
            st = add_step(mem, c, n, p, false);
            break;
        }
        if (kiln__node_is_wide(n)) {
            if (!n->shuffled || p >= n->shuffled->nparts ||
                n->shuffled->owner[p] < 0)
                return KILN_ERROR(KILN_ERR_STATE,
                                  "%s output %u is not computed",
                                  kiln__node_name(n->kind), p);
            c->resident = n->shuffled->part[p];
            c->owner = n->shuffled->owner[p];
            st = add_step(mem, c, n, p, n->cache_wanted);
            break;
        }
        if (kiln__node_is_source(n)) {
            st = add_step(mem, c, n, p, n->cache_wanted);
            break;
        }
        if (n->kind == KILN__NODE_COALESCE) { /* a leaf that runs sub-tasks */
            int owner;
            if ((st = coalesce_owner(mem, n, p, &owner)) != KILN_OK)
                return st;
            c->owner = owner;
            st = add_step(mem, c, n, p, n->cache_wanted);
            break;
        }
        if (n->kind == KILN__NODE_UNION) {
            /* A union adds no work; it is a step only when it is cached. */
            if (n->cache_wanted && (st = add_step(mem, c, n, p, true)) != KILN_OK)
                return st;
            uint32_t left = n->parent[0]->nparts;
            if (p < left) {
                n = n->parent[0];
            } else {
                p -= left;
                n = n->parent[1];
            }
            continue;
        }
        if ((st = add_step(mem, c, n, p, n->cache_wanted)) != KILN_OK)
            return st;
        n = n->parent[0];
    }
    if (st != KILN_OK)
        return st;
    for (size_t i = 0, j = c->nsteps - 1; i < j; i++, j--) {
        kiln__step t = c->steps[i];
        c->steps[i] = c->steps[j];
        c->steps[j] = t;
    }
    /* A wide leaf is resident already: keeping a second copy is pointless. */
    if (kiln__node_is_wide(c->steps[0].node))
        c->steps[0].tee = false;
    return KILN_OK;
}

static bool stop_at_computed(const kiln__node *n)
{
    return computed(n);
}

/* The lineage's nodes (not walking below computed ones) that keep(n, arg)
 * accepts, parents first. */
typedef bool (*keep_fn)(const kiln__node *n, const void *arg);

static kiln_status select_nodes(kiln__mem *mem, kiln__node *target, keep_fn keep,
                                const void *arg, kiln__node ***out, size_t *n)
{
    stack all = {mem, NULL, 0, 0}, found = {mem, NULL, 0, 0};
    kiln_status st = postorder(mem, target, stop_at_computed, &all);
    for (size_t i = 0; st == KILN_OK && i < all.n; i++)
        if (keep(all.v[i], arg))
            st = push(&found, all.v[i]);
    kiln__mem_free(mem, all.v);
    if (st != KILN_OK) {
        kiln__mem_free(mem, found.v);
        return st;
    }
    *out = found.v;
    *n = found.n;
    return KILN_OK;
}

static bool unsplit(const kiln__node *n, const void *arg)
{
    (void)arg;
    return kiln__node_is_file_source(n) && !n->u.text.splits;
}

static bool of_kind(const kiln__node *n, const void *arg)
{
    return n->kind == *(const kiln__node_kind *)arg;
}

static bool pending_shuffle(const kiln__node *n, const void *arg)
{
    (void)arg;
    return kiln__node_is_wide(n) && !computed(n);
}

kiln_status kiln__plan_unsplit(kiln__mem *mem, kiln__node *target,
                               kiln__node ***out, size_t *n)
{
    return select_nodes(mem, target, unsplit, NULL, out, n);
}

kiln_status kiln__plan_list_kind(kiln__mem *mem, kiln__node *target,
                                 kiln__node_kind kind, kiln__node ***out,
                                 size_t *n)
{
    return select_nodes(mem, target, of_kind, &kind, out, n);
}

/* What a node is expected to hold, from what its sources read: enough to
 * tell a small join side from a large one, the same on every rank. */
static uint64_t estimate(const kiln__node *n)
{
    switch (n->kind) {
    case KILN__NODE_TEXT:
    case KILN__NODE_BINARY: {
        uint64_t sum = 0;
        const kiln__text_splits *s = n->u.text.splits;
        for (uint32_t i = 0; s && i < s->nsplits; i++)
            sum += s->splits[i].length;
        return sum;
    }
    case KILN__NODE_PARALLEL:
        return kiln__block_bytes(&n->u.par.data);
    case KILN__NODE_RANGE:
        return 8 * n->u.range.count;
    case KILN__NODE_HDF5:
        return n->u.h5.rows * n->u.h5.row_bytes;
    case KILN__NODE_UNION:
    case KILN__NODE_JOIN:
        return n->parent[0]->est_bytes + n->parent[1]->est_bytes;
    default:
        return n->nparents ? n->parent[0]->est_bytes : 0;
    }
}

static void choose_strategy(kiln__node *n, int nranks, uint64_t limit)
{
    const kiln__node *a = n->parent[0], *b = n->parent[1];
    kiln__join_kind k = n->u.join.kind;
    bool right_ok = k == KILN__JOIN_INNER || k == KILN__JOIN_LEFT ||
                    k == KILN__JOIN_SUBTRACT;
    bool left_ok = k == KILN__JOIN_INNER || k == KILN__JOIN_RIGHT;
    kiln__join_strategy s = KILN__STRATEGY_SHUFFLE;
    if (!n->want_parts && limit) {
        if (right_ok && b->est_bytes <= limit)
            s = KILN__STRATEGY_BROADCAST_RIGHT;
        else if (left_ok && a->est_bytes <= limit)
            s = KILN__STRATEGY_BROADCAST_LEFT;
    }
    n->u.join.strategy = s;
    if (s == KILN__STRATEGY_BROADCAST_RIGHT)
        n->nparts = a->nparts; /* a stays where it is */
    else if (s == KILN__STRATEGY_BROADCAST_LEFT)
        n->nparts = b->nparts;
    else if (n->want_parts)
        n->nparts = n->want_parts;
    else {
        /* kiln.h: "0: the larger side's count", whatever the number of
         * ranks, so a join is partitioned alike at any rank count. */
        uint32_t m = a->nparts > b->nparts ? a->nparts : b->nparts;
        (void)nranks;
        n->nparts = m ? m : 1;
    }
}

kiln_status kiln__plan_resolve(kiln__mem *mem, kiln__node *target, int nranks,
                               uint64_t broadcast_bytes)
{
    stack all = {mem, NULL, 0, 0};
    kiln_status st = postorder(mem, target, NULL, &all);
    for (size_t i = 0; st == KILN_OK && i < all.n; i++) {
        kiln__node *n = all.v[i];
        n->est_bytes = estimate(n);
        if (n->nparts)
            continue;
        if (kiln__node_is_file_source(n)) {
            if (!n->u.text.splits)
                st = KILN_ERROR(KILN_ERR_STATE, "text source %u is not split", n->id);
            else
                n->nparts = n->u.text.splits->nsplits;
        } else if (n->kind == KILN__NODE_UNION) {
            uint64_t sum = (uint64_t)n->parent[0]->nparts + n->parent[1]->nparts;
            if (sum > UINT32_MAX)
                st = KILN_ERROR(KILN_ERR_LIMIT, "union of %llu partitions",
                                (unsigned long long)sum);
            n->nparts = (uint32_t)sum;
        } else if (n->kind == KILN__NODE_COALESCE) {
            uint32_t parent = n->parent[0]->nparts;
            n->nparts = n->want_parts < parent ? n->want_parts : parent;
        } else if (n->kind == KILN__NODE_JOIN) {
            choose_strategy(n, nranks, broadcast_bytes);
        } else if (kiln__node_is_wide(n)) {
            uint32_t parent = n->parent[0]->nparts;
            n->nparts = n->want_parts ? n->want_parts
                        : parent > (uint32_t)nranks ? parent : (uint32_t)nranks;
        } else if (n->nparents) {
            n->nparts = n->parent[0]->nparts;
        }
    }
    kiln__mem_free(mem, all.v);
    return st;
}

kiln_status kiln__plan_shuffles(kiln__mem *mem, kiln__node *target,
                                kiln__node ***out, size_t *n)
{
    return select_nodes(mem, target, pending_shuffle, NULL, out, n);
}

kiln_status kiln__plan_lineage(kiln__mem *mem, kiln__node *target,
                               kiln__node ***out, size_t *n)
{
    stack all = {mem, NULL, 0, 0};
    kiln_status st = postorder(mem, target, NULL, &all);
    if (st != KILN_OK) {
        kiln__mem_free(mem, all.v);
        return st;
    }
    *out = all.v;
    *n = all.n;
    return KILN_OK;
}

kiln__node *kiln__plan_find(kiln__mem *mem, kiln__node *target, uint32_t id)
{
    stack all = {mem, NULL, 0, 0};
    kiln__node *found = NULL;
    if (postorder(mem, target, NULL, &all) == KILN_OK)
        for (size_t i = 0; i < all.n && !found; i++)
            if (all.v[i]->id == id)
                found = all.v[i];
    kiln__mem_free(mem, all.v);
    return found;
}

uint64_t kiln__plan_fingerprint(kiln__mem *mem, kiln__node *target)
{
    stack all = {mem, NULL, 0, 0};
    uint64_t h = 0x6b696c6eu;
    if (postorder(mem, target, NULL, &all) != KILN_OK)
        return 0;
    for (size_t i = 0; i < all.n; i++) {
        const kiln__node *n = all.v[i];
        uint64_t shape[10] = {
            n->id, (uint64_t)n->kind, n->nparts,
            (uint64_t)n->schema.key.kind, n->schema.key.size,
            (uint64_t)n->schema.value.kind, n->schema.value.size,
            n->nparents > 0 ? n->parent[0]->id : UINT64_MAX,
            n->nparents > 1 ? n->parent[1]->id : UINT64_MAX, h};
        h = kiln__hash_bytes(shape, sizeof shape);
    }
    kiln__mem_free(mem, all.v);
    return h;
}

void kiln__plan_describe(kiln__mem *mem, kiln__node *node, const char *sink,
                         char *buf, size_t size)
{
    kiln__chain c;
    kiln__chain_init(&c);
    size_t used = 0;
    buf[0] = '\0';
    if (node->nparts && kiln__plan_chain(mem, node, 0, &c) == KILN_OK) {
        for (size_t i = 0; i < c.nsteps && used < size; i++) {
            const kiln__node *n = c.steps[i].node;
            /* c.owner, not c.resident: the same words on every rank. */
            const char *name = i == 0 && c.owner >= 0
                                   ? (kiln__node_is_wide(n) ? "shuffled" : "cached")
                                   : kiln__node_name(n->kind);
            int k = snprintf(buf + used, size - used, "%s%s", i ? ">" : "", name);
            used += k > 0 ? (size_t)k : 0;
        }
    }
    if (used < size)
        snprintf(buf + used, size - used, "%s%s", used ? ">" : "", sink);
    kiln__chain_release(mem, &c);
}
