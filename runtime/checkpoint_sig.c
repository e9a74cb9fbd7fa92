/* runtime/checkpoint_sig.c: what identifies a checkpoint's content (the
 * lineage signature), and the two ways a job stops early: a signal asking
 * it to checkpoint and leave, and the fault injection the tests use. */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/checkpoint.h"
#include "runtime/hash.h"
#include "runtime/log.h"
#include "runtime/plan.h"

/* ---- signature ---- */

typedef struct hasher {
    uint64_t h;
} hasher;

static void mix(hasher *x, const void *p, size_t n)
{
    x->h = XXH3_64bits_withSeed(p, n, x->h);
}

static void mix_u64(hasher *x, uint64_t v)
{
    mix(x, &v, 8);
}

static void mix_text(hasher *x, const char *s)
{
    mix(x, s ? s : "", s ? strlen(s) + 1 : 1);
}

static void mix_file(hasher *x, const char *path)
{
    struct stat sb;
    mix_text(x, path);
    if (stat(path, &sb) == 0) {
        mix_u64(x, (uint64_t)sb.st_size);
        mix_u64(x, (uint64_t)sb.st_mtim.tv_sec);
        mix_u64(x, (uint64_t)sb.st_mtim.tv_nsec);
    }
}

/* A callback, as far as a process can tell its code from outside: the
 * size and modification time of the file it was loaded from (the job's
 * executable or a shared library) and its offset in that file's mapping,
 * which address-space randomisation does not change. Rebuilding the job
 * with a changed callback changes the file, so its old checkpoints stop
 * matching (rebuilding without a change does too, which only costs a
 * recomputation). The path is left out: `./job` and `/abs/job` are the same
 * program. What the callback reads through its `arg` stays invisible. */
static void mix_code(hasher *x, const void *fn_bytes, size_t fn_size)
{
    void *fn = NULL;
    memcpy(&fn, fn_bytes, fn_size < sizeof fn ? fn_size : sizeof fn);
    Dl_info info;
    struct stat sb;
    if (!fn) {
        mix_u64(x, 0);
    } else if (dladdr(fn, &info) && info.dli_fname && info.dli_fbase &&
               stat(info.dli_fname, &sb) == 0) {
        mix_u64(x, (uint64_t)sb.st_size);
        mix_u64(x, (uint64_t)sb.st_mtim.tv_sec);
        mix_u64(x, (uint64_t)sb.st_mtim.tv_nsec);
        mix_u64(x, (uint64_t)((const char *)fn - (const char *)info.dli_fbase));
    } else {
        mix_u64(x, 1); /* code of unknown origin: present, nothing more */
    }
}

/* Function pointers go through their bytes: C has no conversion from a
 * function pointer to void *. */
#define MIX_CODE(x, fn) mix_code((x), &(fn), sizeof(fn))

static void mix_type(hasher *x, const kiln_type *t)
{
    uint64_t w[8] = {t->kind, t->size, t->elem_kind, t->elem_size, t->left.kind,
                     t->left.size, t->right.kind, t->right.size};
    mix(x, w, sizeof w);
    MIX_CODE(x, t->hash);
    MIX_CODE(x, t->compare);
}

uint64_t kiln__checkpoint_signature(kiln__mem *mem, kiln__node *target)
{
    kiln__node **all = NULL;
    size_t n = 0;
    hasher x = {0x6b696c6e63707431ull}; /* "kilncpt1" */
    if (kiln__plan_lineage(mem, target, &all, &n) != KILN_OK)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const kiln__node *d = all[i];
        mix_u64(&x, d->id);
        mix_u64(&x, d->kind);
        mix_u64(&x, d->want_parts);
        mix_type(&x, &d->schema.key);
        mix_type(&x, &d->schema.value);
        for (int p = 0; p < d->nparents; p++)
            mix_u64(&x, d->parent[p]->id);
        switch (d->kind) {
        case KILN__NODE_TEXT:
        case KILN__NODE_BINARY:
            for (uint32_t f = 0; d->u.text.splits && f < d->u.text.splits->nfiles; f++)
                mix_file(&x, d->u.text.splits->files[f]);
            break;
        case KILN__NODE_PARALLEL: {
            const kiln__block *b = &d->u.par.data;
            mix_u64(&x, b->n);
            if (b->key.len)
                mix(&x, b->key.data, b->key.len);
            if (b->value.len)
                mix(&x, b->value.data, b->value.len);
            break;
        }
        case KILN__NODE_RANGE:
            mix_u64(&x, (uint64_t)d->u.range.start);
            mix_u64(&x, (uint64_t)d->u.range.step);
            mix_u64(&x, d->u.range.count);
            break;
        case KILN__NODE_HDF5:
            mix_file(&x, d->u.h5.path);
            mix_text(&x, d->u.h5.dataset);
            break;
        case KILN__NODE_CHECKPOINT:
            mix_text(&x, d->u.ckpt.name);
            break;
        case KILN__NODE_MAP:
        case KILN__NODE_FLAT_MAP:
        case KILN__NODE_KEY_BY:
        case KILN__NODE_MAP_VALUES:
            MIX_CODE(&x, d->u.map.fn);
            break;
        case KILN__NODE_FILTER:
            MIX_CODE(&x, d->u.filter.fn);
            break;
        case KILN__NODE_MAP_PARTITIONS:
            MIX_CODE(&x, d->u.mp.fns.open);
            MIX_CODE(&x, d->u.mp.fns.batch);
            MIX_CODE(&x, d->u.mp.fns.close);
            break;
        case KILN__NODE_REDUCE_BY_KEY:
            mix_u64(&x, d->u.reduce.op);
            MIX_CODE(&x, d->u.reduce.fn);
            break;
        case KILN__NODE_PARTITION:
            mix_u64(&x, d->u.part.how);
            break;
        case KILN__NODE_SORT:
            mix_u64(&x, d->u.sort.descending);
            MIX_CODE(&x, d->u.sort.compare);
            break;
        case KILN__NODE_JOIN:
            mix_u64(&x, d->u.join.kind);
            break;
        default:
            break; /* ids, kinds and parents say the rest */
        }
    }
    kiln__mem_free(mem, all);
    return x.h ? x.h : 1; /* 0 means "any" to readers */
}

/* ---- signals ---- */

/* Process-wide by necessity: a signal handler can reach nothing else. It is
 * only ever set to 1, read at stage ends and agreed on there. */
static volatile sig_atomic_t signalled;

static void on_signal(int sig)
{
    (void)sig;
    signalled = 1;
}

void kiln__checkpoint_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

bool kiln__checkpoint_signalled(void)
{
    return signalled != 0;
}

/* ---- fault injection ---- */

void kiln__checkpoint_fail_at(const kiln_context *ctx, uint64_t stage)
{
    unsigned long long want;
    int rank;
    if (!ctx->opt.fail_at[0] || ctx->opt.resume ||
        sscanf(ctx->opt.fail_at, "%llu:%d", &want, &rank) != 2)
        return;
    if (want == stage && rank == ctx->rank) {
        fprintf(stderr, "kiln[%d]: --kiln-fail-at=%s: killing this rank at the "
                "start of stage %llu\n", ctx->rank, ctx->opt.fail_at, want);
        fflush(stderr);
        raise(SIGKILL);
    }
}
