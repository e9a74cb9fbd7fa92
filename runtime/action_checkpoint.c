/* runtime/action_checkpoint.c: the public checkpoint calls (actions). What
 * they write and read is checkpoint.c's; when, persist.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/action.h"
#include "runtime/checkpoint.h"
#define KILN_DATASET_IMPL
#include "runtime/dataset_impl.h"
#include "runtime/error.h"
#include "runtime/log.h"
#include "runtime/schedule.h"

kiln_status kiln_dataset_checkpoint(kiln_dataset *ds)
{
    kiln_context *ctx;
    kiln_status st = kiln__action_begin(ds, &ctx);
    if (st != KILN_OK)
        return st;
    kiln__node *n = &ds->node;
    n->checkpoint_wanted = true;
    /* With --kiln-resume, preparing loads a committed checkpoint of n. */
    st = kiln__schedule_prepare(ctx, n, "checkpoint");
    if (st == KILN_OK && !n->from_checkpoint)
        st = kiln__schedule_checkpoint(ctx, n);
    return kiln__action_end(ctx, st);
}

void kiln_dataset_mark_live(kiln_dataset *ds)
{
    if (ds)
        ds->node.live = true;
}

void kiln_dataset_unmark_live(kiln_dataset *ds)
{
    if (ds)
        ds->node.live = false;
}

/* ---- iterations ---- */

enum { KEEP = 2 };

static kiln_status check_name(const char *name)
{
    if (!name || !*name || strlen(name) > 200 || strchr(name, '/'))
        return KILN_ERROR(KILN_ERR_INVAL, "iteration checkpoint name '%s' is empty, "
                          "too long or has a '/'", name ? name : "");
    return KILN_OK;
}

/* NAME.iterations: the committed iterations, oldest first, one per line. */
static size_t read_iterations(const kiln_context *ctx, const char *name,
                              uint64_t its[KEEP])
{
    char path[1400];
    snprintf(path, sizeof path, "%s/%s.iterations", ctx->opt.checkpoint_dir, name);
    FILE *f = fopen(path, "r");
    size_t n = 0;
    unsigned long long v;
    while (f && n < KEEP && fscanf(f, "%llu", &v) == 1)
        its[n++] = v;
    if (f)
        fclose(f);
    return n;
}

static kiln_status write_iterations(const kiln_context *ctx, const char *name,
                                    const uint64_t *its, size_t n)
{
    char path[1400], tmp[1500];
    snprintf(path, sizeof path, "%s/%s.iterations", ctx->opt.checkpoint_dir, name);
    snprintf(tmp, sizeof tmp, "%s.%s.tmp", path, ctx->job_id);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return KILN_ERROR(KILN_ERR_IO, "cannot write '%s'", tmp);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%llu\n", (unsigned long long)its[i]);
    bool bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return KILN_ERROR(KILN_ERR_IO, "cannot commit '%s'", path);
    }
    return KILN_OK;
}

kiln_status kiln_iteration_checkpoint(kiln_dataset *ds, const char *name,
                                      uint64_t iteration, uint64_t every)
{
    if (!every || iteration % every)
        return KILN_OK; /* the same decision on every rank, no talk needed */
    kiln_context *ctx;
    kiln_status st = kiln__action_begin(ds, &ctx);
    if (st != KILN_OK)
        return st;
    kiln__resident *r = NULL;
    bool owned = false;
    char ckpt[300];
    if ((st = kiln__error_agree(ctx, check_name(name))) != KILN_OK)
        return kiln__action_end(ctx, st);
    snprintf(ckpt, sizeof ckpt, "%s-%llu", name, (unsigned long long)iteration);
    st = kiln__schedule_materialize(ctx, &ds->node, &r, &owned);
    if (st == KILN_OK) /* signature 0: resumed from its data alone */
        st = kiln__checkpoint_write(ctx, ckpt, &ds->node.schema, r, 0);
    if (owned) { /* the next iteration reads it from memory */
        kiln__resident_destroy(&ctx->mem, &ds->node.cache);
        ds->node.cache = r;
        ds->node.cache_wanted = true;
    }
    /* The master records the new iteration and retires the oldest. */
    if (st == KILN_OK && ctx->rank == 0) {
        uint64_t its[KEEP + 1];
        size_t n = read_iterations(ctx, name, its);
        if (n && its[n - 1] == iteration)
            n--; /* rewritten: do not list it twice */
        its[n++] = iteration;
        size_t drop = n > KEEP ? n - KEEP : 0;
        st = write_iterations(ctx, name, its + drop, n - drop);
        for (size_t i = 0; st == KILN_OK && i < drop; i++) {
            char old[300];
            snprintf(old, sizeof old, "%s-%llu", name, (unsigned long long)its[i]);
            kiln__checkpoint_remove(ctx, old);
        }
    }
    st = kiln__error_agree(ctx, st);
    return kiln__action_end(ctx, st);
}

kiln_status kiln_iteration_resume(kiln_context *ctx, const char *name,
                                  uint64_t *iteration, kiln_dataset **out)
{
    if (!ctx || !iteration || !out)
        return KILN_ERR_INVAL;
    *out = NULL;
    if (!ctx->opt.resume)
        return KILN_OK;
    kiln__api_begin(ctx);
    kiln_status st = kiln__error_agree(ctx, check_name(name));
    if (st != KILN_OK)
        return kiln__api_end(ctx, st);
    uint64_t its[KEEP + 1] = {0};
    uint64_t n = ctx->rank == 0 ? read_iterations(ctx, name, its) : 0;
    if (MPI_Bcast(&n, 1, MPI_UINT64_T, 0, ctx->comm) != MPI_SUCCESS ||
        MPI_Bcast(its, KEEP, MPI_UINT64_T, 0, ctx->comm) != MPI_SUCCESS)
        kiln__abort(ctx, "iteration list");
    /* Newest first; a damaged one falls back to the one before. */
    for (uint64_t k = n; k-- > 0 && st == KILN_OK;) {
        char ckpt[300];
        kiln__resident *r = NULL;
        kiln_schema schema;
        bool found = false;
        snprintf(ckpt, sizeof ckpt, "%s-%llu", name, (unsigned long long)its[k]);
        st = kiln__checkpoint_read(ctx, ckpt, NULL, 0, &r, &schema, &found);
        if (st != KILN_OK || !found)
            continue;
        kiln__node *node = NULL;
        st = kiln__ds_new(ctx, KILN__NODE_CHECKPOINT, &schema, &node);
        char *copy = st == KILN_OK ? strdup(ckpt) : NULL;
        if (st == KILN_OK && !copy)
            st = KILN_ERROR(KILN_ERR_NOMEM, "checkpoint name");
        st = kiln__error_agree(ctx, st);
        if (st != KILN_OK) {
            free(copy);
            kiln__resident_destroy(&ctx->mem, &r);
            if (node) {
                kiln_dataset *d = (kiln_dataset *)node;
                kiln_dataset_destroy(&d);
            }
            break;
        }
        node->u.ckpt.name = copy;
        node->nparts = r->nparts;
        node->cache = r;
        node->cache_wanted = true;
        node->from_checkpoint = true;
        *iteration = its[k];
        *out = (kiln_dataset *)node;
        kiln__log(ctx, KILN__LOG_INFO, "%s: resuming after iteration %llu", name,
                  (unsigned long long)its[k]);
        break;
    }
    return kiln__api_end(ctx, st);
}
