/* runtime/log.h: messages and progress on the master's stderr.
 * Owns:     the format of every line Kiln prints and the progress display.
 * Uses:     the context's options (quiet, level, progress mode).
 * Must not: communicate; a caller passes whatever totals it has. */
#ifndef KILN_RUNTIME_LOG_H
#define KILN_RUNTIME_LOG_H

#include "runtime/context.h"

/* Log at `level` (kiln__log_level); ERROR and WARN print on any rank, tagged
 * with it, INFO and DEBUG on the master only. */
void kiln__log(const kiln_context *ctx, int level, const char *fmt, ...)
    KILN_PRINTF(3, 4);

/* Per-stage progress, kept by the master. */
typedef struct kiln__progress {
    const char *what;        /* stage description, borrowed */
    uint32_t stage, nstages;
    uint64_t tasks_total, tasks_done;
    uint64_t records, bytes; /* input seen so far on the master's view */
    double start, last_draw; /* seconds, kiln__now() */
    bool drawn;              /* a live line is on the terminal */
} kiln__progress;

double kiln__now(void);
void kiln__progress_begin(const kiln_context *ctx, kiln__progress *p,
                          const char *what, uint32_t stage, uint32_t nstages,
                          uint64_t tasks);
/* Redraw the live line if due (at most 5 times a second). */
void kiln__progress_update(const kiln_context *ctx, kiln__progress *p);
/* Final line for the stage with global totals. */
void kiln__progress_end(const kiln_context *ctx, kiln__progress *p,
                        uint64_t records, uint64_t bytes, bool ok);

#endif
