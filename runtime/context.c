/* runtime/context.c: starting and ending Kiln, and the context's getters.
 * kiln_init() is the first collective call of a job: it agrees on options
 * (every rank must accept them), a job id (the master's, for temporary
 * names) and MPI's error behaviour (return codes, never abort in MPI). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/checkpoint.h"
#include "runtime/error.h"
#include "runtime/log.h"
#include "runtime/node.h"
#include "runtime/shared.h"

void kiln__api_begin(kiln_context *ctx)
{
    kiln__error_clear();
    ctx->last_error[0] = '\0';
    ctx->failed_rank = -1;
}

kiln_status kiln__api_end(kiln_context *ctx, kiln_status st)
{
    if (st != KILN_OK && ctx->last_error[0] == '\0') {
        const char *m = kiln__error_message();
        snprintf(ctx->last_error, sizeof ctx->last_error, "rank %d: %s",
                 ctx->rank, m[0] ? m : kiln_strerror(st));
    }
    return st;
}

static kiln_status context_new(MPI_Comm comm, bool owns_mpi, int *argc,
                               char ***argv, kiln_context **out)
{
    kiln_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return KILN_ERR_NOMEM;
    ctx->owns_mpi = owns_mpi;
    ctx->failed_rank = -1;
    kiln__mem_init(&ctx->mem);
    kiln__options_defaults(&ctx->opt);
    if (MPI_Comm_dup(comm, &ctx->comm) != MPI_SUCCESS) {
        free(ctx);
        return KILN_ERR_MPI;
    }
    if (MPI_Comm_dup(comm, &ctx->p2p) != MPI_SUCCESS) {
        MPI_Comm_free(&ctx->comm);
        free(ctx);
        return KILN_ERR_MPI;
    }
    MPI_Comm_set_errhandler(ctx->comm, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(ctx->p2p, MPI_ERRORS_RETURN);
    MPI_Comm_rank(ctx->comm, &ctx->rank);
    MPI_Comm_size(ctx->comm, &ctx->nranks);

    kiln__api_begin(ctx);
    kiln_status st = kiln__options_parse(&ctx->opt, argc, argv);
    st = kiln__error_agree(ctx, st);
    if (st != KILN_OK) {
        if (ctx->rank == 0)
            fprintf(stderr, "kiln: error: %s\n", ctx->last_error);
        goto fail;
    }
    unsigned long long stage;
    int frank;
    if (st == KILN_OK && ctx->opt.fail_at[0] &&
        (sscanf(ctx->opt.fail_at, "%llu:%d", &stage, &frank) != 2 || stage == 0)) {
        st = KILN_ERROR(KILN_ERR_INVAL, "--kiln-fail-at=%s: expected STAGE:RANK "
                        "(STAGE from 1)", ctx->opt.fail_at);
        st = kiln__error_agree(ctx, st);
        if (ctx->rank == 0)
            fprintf(stderr, "kiln: error: %s\n", ctx->last_error);
        goto fail;
    }
    if (ctx->opt.signals)
        kiln__checkpoint_signals_install();
    if (ctx->opt.help) {
        if (ctx->rank == 0)
            kiln__options_help(stdout);
        MPI_Comm_free(&ctx->p2p);
        MPI_Comm_free(&ctx->comm);
        free(ctx);
        if (owns_mpi)
            MPI_Finalize();
        exit(0);
    }
    ctx->progress_tty = ctx->rank == 0 &&
                        ctx->opt.progress != KILN__PROGRESS_NEVER &&
                        (ctx->opt.progress == KILN__PROGRESS_ALWAYS ||
                         isatty(STDERR_FILENO));
    if (ctx->rank == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(ctx->job_id, sizeof ctx->job_id, "%lx-%x", (long)ts.tv_sec,
                 (unsigned)getpid());
    }
    if (MPI_Bcast(ctx->job_id, sizeof ctx->job_id, MPI_CHAR, 0, ctx->comm) !=
        MPI_SUCCESS) {
        st = KILN_ERR_MPI;
        goto fail;
    }
    *out = ctx;
    return KILN_OK;
fail:
    MPI_Comm_free(&ctx->p2p);
    MPI_Comm_free(&ctx->comm);
    free(ctx);
    return st;
}

/* Open MPI as Debian builds it starts its UCX messaging layer by default,
 * which costs about 0.2 s per launch (measured: 0.31 s for mpirun -np 1 of
 * an empty job, 0.12 s with ob1) - a third of a serial word count of 256
 * MiB. When every rank is on this node, ob1 over shared memory serves
 * Kiln's traffic as well, so ask for it - unless the user chose a layer
 * (mpirun --mca pml X sets OMPI_MCA_pml) or KILN_MPI_DEFAULTS=yes keeps
 * Open MPI's own choice. Multi-node jobs are left alone. */
static void prefer_quick_start(void)
{
    const char *keep = getenv("KILN_MPI_DEFAULTS");
    if (getenv("OMPI_MCA_pml") || (keep && strcmp(keep, "no") && strcmp(keep, "0")))
        return;
    const char *size = getenv("OMPI_COMM_WORLD_SIZE");
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    const char *nodes = getenv("SLURM_NNODES");
    bool one_node;
    if (size && local)
        one_node = strcmp(size, local) == 0;           /* mpirun */
    else if (nodes)
        one_node = strcmp(nodes, "1") == 0;            /* srun */
    else
        one_node = !getenv("PMIX_RANK") && !getenv("PMI_RANK"); /* singleton */
    if (one_node)
        setenv("OMPI_MCA_pml", "ob1", 0);
}

kiln_status kiln_init(int *argc, char ***argv, kiln_context **out)
{
    if (!out)
        return KILN_ERR_INVAL;
    int initialized = 0;
    MPI_Initialized(&initialized);
    bool owns = false;
    if (!initialized) {
        prefer_quick_start();
        int provided;
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return KILN_ERR_MPI;
        owns = true;
    }
    kiln_status st = context_new(MPI_COMM_WORLD, owns, argc, argv, out);
    if (st != KILN_OK && owns)
        MPI_Finalize();
    return st;
}

kiln_status kiln_init_comm(MPI_Comm comm, int *argc, char ***argv,
                           kiln_context **out)
{
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!out || !initialized)
        return KILN_ERR_INVAL;
    return context_new(comm, false, argc, argv, out);
}

kiln_status kiln_finalize(kiln_context **ctxp)
{
    kiln_context *ctx = ctxp ? *ctxp : NULL;
    if (!ctx)
        return KILN_OK;
    kiln__nodes_orphan_all(ctx);
    kiln__accumulators_orphan_all(ctx);
    kiln_status st = KILN_OK;
    /* Wait for everyone, so no rank tears MPI down under another. */
    if (MPI_Barrier(ctx->comm) != MPI_SUCCESS)
        st = KILN_ERR_MPI;
    if (ctx->mem.in_use)
        kiln__log(ctx, KILN__LOG_DEBUG, "%zu bytes still allocated at finalize",
                  ctx->mem.in_use);
    kiln__mem_trim(&ctx->mem);
    MPI_Comm_free(&ctx->p2p);
    MPI_Comm_free(&ctx->comm);
    bool owns = ctx->owns_mpi;
    free(ctx);
    *ctxp = NULL;
    if (owns)
        MPI_Finalize();
    return st;
}

int kiln_context_rank(const kiln_context *ctx)
{
    return ctx ? ctx->rank : -1;
}

int kiln_context_size(const kiln_context *ctx)
{
    return ctx ? ctx->nranks : 0;
}

bool kiln_context_is_master(const kiln_context *ctx)
{
    return ctx && ctx->rank == 0;
}

const char *kiln_context_last_error(const kiln_context *ctx)
{
    return ctx ? ctx->last_error : "no context";
}

int kiln_context_failed_rank(const kiln_context *ctx)
{
    return ctx ? ctx->failed_rank : -1;
}

void kiln_report(const kiln_context *ctx, const char *prefix, kiln_status st)
{
    if (!ctx || ctx->rank != 0)
        return;
    if (ctx->progress_tty)
        fputs("\r\033[K", stderr);
    fprintf(stderr, "%s: error: %s (%s)\n", prefix ? prefix : "kiln",
            ctx->last_error[0] ? ctx->last_error : kiln_strerror(st),
            kiln_strerror(st));
}

void kiln_log(const kiln_context *ctx, const char *fmt, ...)
{
    if (!ctx || ctx->rank != 0 || ctx->opt.quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
