/* runtime/shared.c: broadcast variables and deterministic accumulators. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "runtime/error.h"
#include "runtime/shared.h"

struct kiln_broadcast {
    void *data; /* plain allocation: may outlive nothing but itself */
    size_t size;
};

enum { BCAST_CHUNK = 1 << 30 };

kiln_status kiln_broadcast_create(kiln_context *ctx, const void *data,
                                  size_t size, kiln_broadcast **out)
{
    if (!ctx || !out)
        return KILN_ERR_INVAL;
    kiln__api_begin(ctx);
    kiln_status st = KILN_OK;
    uint64_t bytes = size;
    kiln_broadcast *b = calloc(1, sizeof *b);
    if (ctx->rank == 0 && size && !data)
        st = KILN_ERROR(KILN_ERR_INVAL, "broadcast: data is NULL");
    if (!b)
        st = KILN_ERROR(KILN_ERR_NOMEM, "broadcast");
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto fail;
    KILN_CHECK(st, KILN_MPI(MPI_Bcast(&bytes, 1, MPI_UINT64_T, 0, ctx->comm)), mpi);
    b->size = (size_t)bytes;
    b->data = malloc(bytes ? (size_t)bytes : 1);
    st = b->data ? KILN_OK
                 : KILN_ERROR(KILN_ERR_NOMEM, "broadcast of %llu bytes",
                              (unsigned long long)bytes);
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto fail;
    if (ctx->rank == 0 && bytes)
        memcpy(b->data, data, (size_t)bytes);
    for (uint64_t off = 0; off < bytes; off += BCAST_CHUNK) {
        int n = (int)(bytes - off < BCAST_CHUNK ? bytes - off : BCAST_CHUNK);
        KILN_CHECK(st, KILN_MPI(MPI_Bcast((char *)b->data + off, n, MPI_BYTE, 0,
                                          ctx->comm)), mpi);
    }
    *out = b;
    return kiln__api_end(ctx, KILN_OK);
mpi:
    kiln__abort(ctx, kiln__error_message());
fail:
    kiln_broadcast_destroy(&b);
    return kiln__api_end(ctx, st);
}

const void *kiln_broadcast_data(const kiln_broadcast *b, size_t *size)
{
    if (size)
        *size = b ? b->size : 0;
    return b ? b->data : NULL;
}

void kiln_broadcast_destroy(kiln_broadcast **b)
{
    if (!b || !*b)
        return;
    free((*b)->data);
    free(*b);
    *b = NULL;
}

/* ---- accumulators ---- */

typedef struct task_key {
    uint32_t stage, partition;
} task_key;

struct kiln_accumulator {
    kiln_context *ctx;     /* NULL after finalize */
    kiln_kind kind;
    kiln_op op;
    size_t len;            /* elements */
    unsigned char *value;  /* len * 8 bytes: the merged value */
    task_key *keys;        /* this action's additions, one entry per task */
    unsigned char *adds;   /* len * 8 bytes per entry */
    size_t n, cap;
    kiln_accumulator *next, *prev; /* the context's list, creation order */
};

static void identity(const kiln_accumulator *a, unsigned char *dst)
{
    for (size_t i = 0; i < a->len; i++) {
        unsigned char *e = dst + 8 * i;
        if (a->op == KILN_OP_SUM) {
            memset(e, 0, 8);
        } else if (a->kind == KILN_KIND_U64) {
            uint64_t v = a->op == KILN_OP_MIN ? UINT64_MAX : 0;
            memcpy(e, &v, 8);
        } else if (a->kind == KILN_KIND_I64) {
            int64_t v = a->op == KILN_OP_MIN ? INT64_MAX : INT64_MIN;
            memcpy(e, &v, 8);
        } else {
            double v = a->op == KILN_OP_MIN ? INFINITY : -INFINITY;
            memcpy(e, &v, 8);
        }
    }
}

static void fold(const kiln_accumulator *a, unsigned char *acc,
                 const unsigned char *v)
{
    for (size_t i = 0; i < a->len; i++) {
        unsigned char *x = acc + 8 * i;
        const unsigned char *y = v + 8 * i;
        if (a->kind == KILN_KIND_F64) {
            double p, q;
            memcpy(&p, x, 8);
            memcpy(&q, y, 8);
            p = a->op == KILN_OP_SUM ? p + q : a->op == KILN_OP_MIN ? fmin(p, q)
                                                                     : fmax(p, q);
            memcpy(x, &p, 8);
        } else if (a->kind == KILN_KIND_I64) {
            int64_t p, q;
            memcpy(&p, x, 8);
            memcpy(&q, y, 8);
            p = a->op == KILN_OP_SUM ? (int64_t)((uint64_t)p + (uint64_t)q)
                : a->op == KILN_OP_MIN ? (q < p ? q : p) : (q > p ? q : p);
            memcpy(x, &p, 8);
        } else {
            uint64_t p, q;
            memcpy(&p, x, 8);
            memcpy(&q, y, 8);
            p = a->op == KILN_OP_SUM ? p + q : a->op == KILN_OP_MIN ? (q < p ? q : p)
                                                                     : (q > p ? q : p);
            memcpy(x, &p, 8);
        }
    }
}

kiln_status kiln_accumulator_create(kiln_context *ctx, kiln_kind kind,
                                    kiln_op op, size_t len,
                                    kiln_accumulator **out)
{
    if (!ctx || !out)
        return KILN_ERR_INVAL;
    kiln__api_begin(ctx);
    kiln_status st = KILN_OK;
    if (kind != KILN_KIND_U64 && kind != KILN_KIND_I64 && kind != KILN_KIND_F64)
        st = KILN_ERROR(KILN_ERR_INVAL, "accumulator: kind must be U64, I64 or F64");
    else if (op != KILN_OP_SUM && op != KILN_OP_MIN && op != KILN_OP_MAX)
        st = KILN_ERROR(KILN_ERR_INVAL, "accumulator: op must be SUM, MIN or MAX");
    else if (len == 0 || len > (size_t)INT_MAX / 64)
        st = KILN_ERROR(KILN_ERR_INVAL, "accumulator: bad length %zu", len);
    if (st != KILN_OK)
        return kiln__api_end(ctx, st);
    kiln_accumulator *a = calloc(1, sizeof *a);
    if (!a || !(a->value = malloc(8 * len))) {
        free(a);
        return kiln__api_end(ctx, KILN_ERROR(KILN_ERR_NOMEM, "accumulator"));
    }
    a->ctx = ctx;
    a->kind = kind;
    a->op = op;
    a->len = len;
    identity(a, a->value);
    /* Append: merging walks the list in creation order on every rank. */
    kiln_accumulator **tail = &ctx->accumulators;
    while (*tail) {
        a->prev = *tail;
        tail = &(*tail)->next;
    }
    *tail = a;
    *out = a;
    return kiln__api_end(ctx, KILN_OK);
}

kiln_status kiln_accumulator_add(kiln_accumulator *a, const void *values,
                                 size_t len)
{
    if (!a || !values)
        return KILN_ERR_INVAL;
    if (!a->ctx || !a->ctx->running.in_task)
        return kiln_error(KILN_ERR_STATE,
                          "accumulator added to outside a running task");
    if (len != a->len)
        return kiln_error(KILN_ERR_INVAL, "accumulator of %zu elements given %zu",
                          a->len, len);
    task_key key = {a->ctx->running.stage, a->ctx->running.partition};
    if (a->n == 0 || a->keys[a->n - 1].stage != key.stage ||
        a->keys[a->n - 1].partition != key.partition) {
        if (a->n == a->cap) {
            size_t cap = a->cap ? 2 * a->cap : 16;
            task_key *k = realloc(a->keys, cap * sizeof *k);
            if (k)
                a->keys = k;
            unsigned char *v = realloc(a->adds, cap * 8 * a->len);
            if (v)
                a->adds = v;
            if (!k || !v)
                return kiln_error(KILN_ERR_NOMEM, "accumulator entries");
            a->cap = cap;
        }
        a->keys[a->n] = key;
        identity(a, a->adds + a->n * 8 * a->len);
        a->n++;
    }
    fold(a, a->adds + (a->n - 1) * 8 * a->len, values);
    return KILN_OK;
}

void kiln_accumulator_value(const kiln_accumulator *a, void *out)
{
    if (a && out)
        memcpy(out, a->value, 8 * a->len);
}

void kiln_accumulator_destroy(kiln_accumulator **ap)
{
    kiln_accumulator *a = ap ? *ap : NULL;
    if (!a)
        return;
    if (a->ctx) {
        if (a->prev)
            a->prev->next = a->next;
        else
            a->ctx->accumulators = a->next;
        if (a->next)
            a->next->prev = a->prev;
    }
    free(a->value);
    free(a->keys);
    free(a->adds);
    free(a);
    *ap = NULL;
}

void kiln__accumulators_orphan_all(kiln_context *ctx)
{
    for (kiln_accumulator *a = ctx->accumulators; a; a = a->next)
        a->ctx = NULL;
    ctx->accumulators = NULL;
}

typedef struct entry_ref {
    task_key key;
    const unsigned char *add;
} entry_ref;

static int by_task(const void *x, const void *y)
{
    const task_key *a = &((const entry_ref *)x)->key, *b = &((const entry_ref *)y)->key;
    if (a->stage != b->stage)
        return a->stage < b->stage ? -1 : 1;
    return a->partition < b->partition ? -1 : a->partition > b->partition;
}

/* Gather every rank's entries (key + len values each), sort them by task,
 * fold in that order. */
static kiln_status merge_one(kiln_context *ctx, kiln_accumulator *a)
{
    size_t entry = sizeof(task_key) + 8 * a->len;
    int n = ctx->nranks;
    kiln_status st = KILN_OK;
    unsigned char *send = malloc(a->n * entry + 1), *recv = NULL;
    int *counts = calloc(2 * (size_t)n, sizeof *counts);
    entry_ref *refs = NULL;
    int mine = (int)(a->n * entry);
    if (!send || !counts || a->n * entry > (size_t)INT_MAX)
        st = KILN_ERROR(KILN_ERR_NOMEM, "accumulator merge");
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    for (size_t i = 0; i < a->n; i++) {
        memcpy(send + i * entry, &a->keys[i], sizeof(task_key));
        memcpy(send + i * entry + sizeof(task_key), a->adds + i * 8 * a->len,
               8 * a->len);
    }
    if (MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "accumulator merge");
    size_t total = 0;
    for (int r = 0; r < n; r++) {
        counts[n + r] = (int)total;
        total += (size_t)counts[r];
    }
    recv = malloc(total + 1);
    refs = malloc((total / entry + 1) * sizeof *refs);
    if (!recv || !refs || total > (size_t)INT_MAX)
        st = KILN_ERROR(KILN_ERR_NOMEM, "accumulator merge");
    if ((st = kiln__error_agree(ctx, st)) != KILN_OK)
        goto done;
    if (MPI_Allgatherv(send, mine, MPI_BYTE, recv, counts, counts + n, MPI_BYTE,
                       ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "accumulator merge");
    size_t m = total / entry;
    for (size_t i = 0; i < m; i++) {
        memcpy(&refs[i].key, recv + i * entry, sizeof(task_key));
        refs[i].add = recv + i * entry + sizeof(task_key);
    }
    qsort(refs, m, sizeof *refs, by_task);
    for (size_t i = 0; i < m; i++)
        fold(a, a->value, refs[i].add);
done:
    a->n = 0;
    free(refs);
    free(recv);
    free(counts);
    free(send);
    return st;
}

kiln_status kiln__accumulators_merge(kiln_context *ctx)
{
    kiln_status st = KILN_OK;
    for (kiln_accumulator *a = ctx->accumulators; a; a = a->next) {
        kiln_status one = merge_one(ctx, a);
        if (st == KILN_OK)
            st = one;
    }
    return st;
}
