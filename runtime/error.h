/* runtime/error.h: statuses, the per-thread error trace, and agreement.
 * Owns:     the per-thread trace (the runtime's only process-wide state: the
 *           macros must work where no context is at hand) and the agreement
 *           that turns one rank's failure into every rank's status.
 * Uses:     the context's communicator (agreement only).
 * Must not: print (log does), or decide what a failure means for a job.
 *
 * Within the runtime a failure travels up as a kiln_status through
 * KILN_CHECK, which notes file and line on the way; the first KILN_ERROR (or
 * kiln_error() from user code) is the message a user finally reads. */
#ifndef KILN_RUNTIME_ERROR_H
#define KILN_RUNTIME_ERROR_H

#include "kiln.h"

#define KILN_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define KILN_LIKELY(x) __builtin_expect(!!(x), 1)

/* Longest message kept; longer ones are cut. */
#define KILN__ERROR_MAX 1024

#define KILN_CHECK(st, expr, label)                                            \
    do {                                                                       \
        (st) = (expr);                                                         \
        if (KILN_UNLIKELY((st) != KILN_OK)) {                                  \
            kiln__error_note((st), __FILE__, __LINE__, #expr);                 \
            goto label;                                                        \
        }                                                                      \
    } while (0)

/* Record where an error was first detected; evaluates to `code`. */
#define KILN_ERROR(code, ...)                                                  \
    kiln__error_set((code), __FILE__, __LINE__, __VA_ARGS__)

/* Forget the calling thread's trace (public entry points do this first). */
void kiln__error_clear(void);

/* Record the origin of an error unless one is already recorded (the first
 * detection is the cause; later ones are consequences). Returns code. */
kiln_status kiln__error_set(kiln_status code, const char *file, int line,
                            const char *fmt, ...) KILN_PRINTF(4, 5);

/* Note a failure passing through a call site; it becomes the message only
 * when nothing recorded an origin. */
void kiln__error_note(kiln_status code, const char *file, int line,
                      const char *expr);

/* The calling thread's message; "" when none. Owned by the runtime. */
const char *kiln__error_message(void);

/* Map an MPI return code to a status, keeping MPI's message. */
kiln_status kiln__mpi(int rc, const char *file, int line);
#define KILN_MPI(call) kiln__mpi((call), __FILE__, __LINE__)

/* Agree on one status across every rank of ctx: the most negative status
 * wins, the lowest rank on ties. On failure the failed rank's message is
 * sent to every rank and stored in the context. Collective; a failure of the
 * agreement itself aborts the job (nothing else could be agreed). */
kiln_status kiln__error_agree(kiln_context *ctx, kiln_status local);

/* Log and MPI_Abort; the last resort when ranks cannot agree. */
_Noreturn void kiln__abort(kiln_context *ctx, const char *why);

#endif
