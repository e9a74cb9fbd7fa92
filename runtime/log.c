/* runtime/log.c: the lines Kiln prints. Progress goes to the master's stderr:
 * a live line on a terminal, one summary line per stage otherwise, so batch
 * logs stay readable. */
#include "runtime/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static const char *level_names[] = {"error", "warning", "info", "debug"};

void kiln__log(const kiln_context *ctx, int level, const char *fmt, ...)
{
    if (level > ctx->opt.log_level)
        return;
    if (level >= KILN__LOG_INFO && (ctx->rank != 0 || ctx->opt.quiet))
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (ctx->progress_tty)
        fputs("\r\033[K", stderr);
    if (level <= KILN__LOG_WARN && ctx->nranks > 1)
        fprintf(stderr, "kiln[%d]: %s: %s\n", ctx->rank, level_names[level],
                line);
    else if (level <= KILN__LOG_WARN)
        fprintf(stderr, "kiln: %s: %s\n", level_names[level], line);
    else
        fprintf(stderr, "kiln: %s\n", line);
}

double kiln__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 4.1M, 153.1k, 12: three significant figures are plenty for a log. */
static void human(double v, char *buf, size_t size)
{
    static const char *prefixes[] = {"", "k", "M", "G", "T"};
    int i = 0;
    while (v >= 1000.0 && i < 4) {
        v /= 1000.0;
        i++;
    }
    if (i == 0)
        snprintf(buf, size, "%.0f", v);
    else
        snprintf(buf, size, "%.1f%s", v, prefixes[i]);
}

static bool shows_progress(const kiln_context *ctx)
{
    return ctx->rank == 0 && !ctx->opt.quiet &&
           ctx->opt.progress != KILN__PROGRESS_NEVER &&
           ctx->opt.log_level >= KILN__LOG_INFO;
}

void kiln__progress_begin(const kiln_context *ctx, kiln__progress *p,
                          const char *what, uint32_t stage, uint32_t nstages,
                          uint64_t tasks)
{
    p->what = what;
    p->stage = stage;
    /* Checkpoints and broadcast joins can add stages the plan did not
     * count; never show "stage 6/5". */
    p->nstages = nstages > stage ? nstages : stage;
    p->tasks_total = tasks;
    p->tasks_done = 0;
    p->records = 0;
    p->bytes = 0;
    p->start = kiln__now();
    p->last_draw = p->start;
    p->drawn = false;
    (void)ctx; /* nothing is printed until there is something to show */
}

void kiln__progress_update(const kiln_context *ctx, kiln__progress *p)
{
    if (!shows_progress(ctx) || !ctx->progress_tty)
        return;
    double now = kiln__now();
    if (now - p->last_draw < 0.2)
        return;
    p->last_draw = now;
    double secs = now - p->start;
    char rate[32], brate[32];
    human(secs > 0 ? (double)p->records / secs : 0, rate, sizeof rate);
    human(secs > 0 ? (double)p->bytes / secs : 0, brate, sizeof brate);
    fprintf(stderr, "\r\033[Kkiln: stage %u/%u %s: tasks %llu/%llu, %s records/s, %sB/s",
            p->stage, p->nstages, p->what,
            (unsigned long long)p->tasks_done,
            (unsigned long long)p->tasks_total, rate, brate);
    fflush(stderr);
    p->drawn = true;
}

void kiln__progress_end(const kiln_context *ctx, kiln__progress *p,
                        uint64_t records, uint64_t bytes, bool ok)
{
    if (!shows_progress(ctx))
        return;
    double secs = kiln__now() - p->start;
    char recs[32], byts[32] = "";
    human((double)records, recs, sizeof recs);
    if (bytes)
        human((double)bytes, byts, sizeof byts);
    if (p->drawn)
        fputs("\r\033[K", stderr);
    fprintf(stderr, "kiln: stage %u/%u %s: %llu tasks, %s records in%s%s%s, %.2f s%s\n",
            p->stage, p->nstages, p->what,
            (unsigned long long)p->tasks_total, recs, bytes ? ", " : "", byts,
            bytes ? "B read" : "", secs, ok ? "" : " (failed)");
    fflush(stderr);
}
