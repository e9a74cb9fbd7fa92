/* runtime/error.c: the per-thread error trace and the status agreement. */
#include "runtime/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/context.h"

/* The trace is per thread so that KILN_CHECK needs no context; it is the
 * only process-wide mutable state in the runtime. */
static _Thread_local struct {
    char message[KILN__ERROR_MAX];
    bool has_origin; /* a KILN_ERROR/kiln_error() message is recorded */
    bool has_note;   /* only a KILN_CHECK note is recorded */
} trace;

const char *kiln_strerror(kiln_status status)
{
    switch (status) {
#define KILN__STATUS_TEXT(name, value, text)                                   \
    case name:                                                                 \
        return text;
        KILN_STATUS_LIST(KILN__STATUS_TEXT)
#undef KILN__STATUS_TEXT
    }
    return "unknown status";
}

void kiln__error_clear(void)
{
    trace.message[0] = '\0';
    trace.has_origin = false;
    trace.has_note = false;
}

static void record(const char *file, int line, const char *fmt, va_list ap)
{
    int used = 0;
    if (file)
        used = snprintf(trace.message, sizeof trace.message, "%s:%d: ", file,
                        line);
    if (used < 0 || (size_t)used >= sizeof trace.message)
        used = 0;
    vsnprintf(trace.message + used, sizeof trace.message - (size_t)used, fmt,
              ap);
}

kiln_status kiln__error_set(kiln_status code, const char *file, int line,
                            const char *fmt, ...)
{
    if (trace.has_origin)
        return code;
    va_list ap;
    va_start(ap, fmt);
    record(file, line, fmt, ap);
    va_end(ap);
    trace.has_origin = true;
    return code;
}

kiln_status kiln_error(kiln_status code, const char *fmt, ...)
{
    if (code == KILN_OK)
        code = KILN_ERR_USER;
    if (trace.has_origin)
        return code;
    va_list ap;
    va_start(ap, fmt);
    record(NULL, 0, fmt, ap);
    va_end(ap);
    trace.has_origin = true;
    return code;
}

void kiln__error_note(kiln_status code, const char *file, int line,
                      const char *expr)
{
    if (trace.has_origin || trace.has_note)
        return;
    snprintf(trace.message, sizeof trace.message, "%s:%d: %s: %s", file, line,
             expr, kiln_strerror(code));
    trace.has_note = true;
}

const char *kiln__error_message(void)
{
    return trace.message;
}

kiln_status kiln__mpi(int rc, const char *file, int line)
{
    if (rc == MPI_SUCCESS)
        return KILN_OK;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error %d", rc);
    return kiln__error_set(KILN_ERR_MPI, file, line, "MPI: %s", text);
}

_Noreturn void kiln__abort(kiln_context *ctx, const char *why)
{
    fprintf(stderr, "kiln: rank %d: fatal: %s; aborting the job\n",
            ctx ? ctx->rank : -1, why);
    fflush(stderr);
    MPI_Abort(ctx ? ctx->comm : MPI_COMM_WORLD, 70);
    abort();
}

kiln_status kiln__error_agree(kiln_context *ctx, kiln_status local)
{
    struct {
        int code;
        int rank;
    } mine = {(int)local, ctx->rank}, worst;

    if (MPI_Allreduce(&mine, &worst, 1, MPI_2INT, MPI_MINLOC, ctx->comm) !=
        MPI_SUCCESS)
        kiln__abort(ctx, "status agreement failed");
    if (worst.code == KILN_OK)
        return KILN_OK;

    /* Every rank learns the failed rank's own words. */
    char message[KILN__ERROR_MAX];
    if (ctx->rank == worst.rank) {
        const char *m = kiln__error_message();
        snprintf(message, sizeof message, "%s",
                 m[0] ? m : kiln_strerror((kiln_status)worst.code));
    }
    if (MPI_Bcast(message, sizeof message, MPI_CHAR, worst.rank, ctx->comm) !=
        MPI_SUCCESS)
        kiln__abort(ctx, "error broadcast failed");
    message[sizeof message - 1] = '\0';
    snprintf(ctx->last_error, sizeof ctx->last_error, "rank %d: %s",
             worst.rank, message);
    ctx->failed_rank = worst.rank;
    /* Ranks that did not fail carry the failed rank's message from now on,
     * so a later KILN_CHECK note cannot replace it. */
    kiln__error_clear();
    kiln__error_set((kiln_status)worst.code, NULL, 0, "%s", message);
    return (kiln_status)worst.code;
}
