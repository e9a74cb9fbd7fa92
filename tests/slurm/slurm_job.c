/* tests/slurm/slurm_job.c: the job the Slurm test submits, lets Slurm warn
 * before its time limit, and requeues. An ordinary Kiln job, linked against
 * kiln::kiln only, whose output is a pure function of its options (no input
 * file), written in key order, so any two runs compare byte for byte
 * whatever happened in between.
 *
 *   slurm_job [--stages N] [--slow-ms MS] [--fast-after-requeue]
 *             [--records N] [--keys K] [--parts P] OUTDIR
 *
 * Pipeline (every shuffle into P partitions):
 *   pairs  = map(range(0, N))          (x % K, mix(x))
 *   base   = reduce_by_key(pairs, SUM)                        shuffle 1
 *   state0 = map(base)                 (k, mix(v)), cached and marked live,
 *            computed by a first action (count), so a signal writes it at
 *            once from memory
 *   state_i = reduce_by_key(map(state_{i-1}, step i), SUM)     i = 1..N
 *            step i: (k, v) -> ((k * 2654435761 + i) % K, v * 31 + i), a
 *            bijection of the keys, so every stage keeps K records; with
 *            --slow-ms its map sleeps MS per batch
 *   sorted = sort_by_key(state_N); save_text(sorted, OUTDIR)
 *
 * Run it with --kiln-checkpoint=stages and a signal during the steps
 * finishes the stage in progress, writes state0 (live) and exits 75; the
 * shuffles already done were written as they finished, so a rerun with
 * --kiln-resume loads state0 and the last finished state_i and computes
 * only what follows.
 *
 * --fast-after-requeue: no sleeping when SLURM_RESTART_COUNT is set and
 * not 0, i.e. in a job Slurm requeued. The Slurm test's time limit warns
 * every run of the job, the requeued one too; a resumed run that finishes
 * well before that warning keeps the test to exactly one requeue. Sleeping
 * never changes what the job computes.
 *
 * Exit status: 0 success, 1 a Kiln call failed (reported on the master),
 * 2 usage, 75 (KILN_EXIT_RESUBMIT) from Kiln itself after a signal. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kiln.h>

typedef struct job_opts {
    uint64_t stages, records, keys;
    uint32_t parts;
    long slow_ms; /* sleep per batch of a step's map; 0: none */
    const char *outdir;
} job_opts;

/* What step i's map reads: the options and its number. */
typedef struct step_arg {
    const job_opts *o;
    uint64_t i;
} step_arg;

/* splitmix64's finaliser: a cheap bijection that scrambles bits. */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9u;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ; /* Kiln's signal handler interrupts the nap: finish it */
}

/* range value x -> (x % K, mix(x)) */
static kiln_status pair_map(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    const job_opts *o = arg;
    for (size_t r = 0; r < in->n; r++) {
        uint64_t x = (uint64_t)kiln_batch_value_i64(in, r);
        kiln_status st = kiln_emit_u64(out, x % o->keys, mix(x));
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* (k, v) -> (k, mix(v)) */
static kiln_status state_map(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t r = 0; r < in->n; r++) {
        kiln_status st = kiln_emit_u64(out, kiln_batch_key_u64(in, r),
                                       mix(kiln_batch_value_u64(in, r)));
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* step i: (k, v) -> ((k * 2654435761 + i) % K, v * 31 + i), slowly. */
static kiln_status step_map(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    const step_arg *s = arg;
    if (s->o->slow_ms > 0)
        sleep_ms(s->o->slow_ms);
    for (size_t r = 0; r < in->n; r++) {
        uint64_t k = kiln_batch_key_u64(in, r), v = kiln_batch_value_u64(in, r);
        kiln_status st = kiln_emit_u64(out, (k * 2654435761u + s->i) % s->o->keys,
                                       v * 31u + s->i);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

#define TRY(call)                                                             \
    do {                                                                      \
        if ((st = (call)) != KILN_OK)                                         \
            goto done;                                                        \
    } while (0)

static kiln_status run(kiln_context *ctx, const job_opts *o)
{
    const kiln_schema u64_u64 = kiln_schema_of(KILN_T_U64, KILN_T_U64);
    kiln_dataset *range = NULL, *pairs = NULL, *base = NULL, *state = NULL;
    kiln_dataset *mapped = NULL, *sorted = NULL;
    step_arg *steps = calloc(o->stages + 1, sizeof *steps);
    kiln_status st = steps ? KILN_OK : kiln_error(KILN_ERR_NOMEM, "steps");
    if (st != KILN_OK)
        goto done;
    TRY(kiln_range(ctx, 0, (int64_t)o->records, 1, o->parts, &range));
    TRY(kiln_dataset_map(range, u64_u64, pair_map, (void *)o, &pairs));
    TRY(kiln_dataset_reduce_by_key(pairs, KILN_OP_SUM, NULL, NULL, o->parts, &base));
    TRY(kiln_dataset_map(base, u64_u64, state_map, NULL, &state));
    kiln_dataset_cache(state);
    kiln_dataset_mark_live(state);
    uint64_t n = 0;
    TRY(kiln_dataset_count(state, &n));
    kiln_log(ctx, "slurm_job: %llu keys; %llu steps follow", (unsigned long long)n,
             (unsigned long long)o->stages);
    for (uint64_t i = 1; i <= o->stages; i++) {
        kiln_dataset *next = NULL;
        steps[i] = (step_arg){o, i};
        TRY(kiln_dataset_map(state, u64_u64, step_map, &steps[i], &mapped));
        TRY(kiln_dataset_reduce_by_key(mapped, KILN_OP_SUM, NULL, NULL, o->parts,
                                       &next));
        kiln_dataset_destroy(&mapped);
        kiln_dataset_destroy(&state); /* next keeps what it needs alive */
        state = next;
    }
    TRY(kiln_dataset_sort_by_key(state, NULL, o->parts, &sorted));
    kiln_save_options save = {.overwrite = true};
    TRY(kiln_dataset_save_text(sorted, o->outdir, &save));
done:
    kiln_dataset_destroy(&sorted);
    kiln_dataset_destroy(&mapped);
    kiln_dataset_destroy(&state);
    kiln_dataset_destroy(&base);
    kiln_dataset_destroy(&pairs);
    kiln_dataset_destroy(&range);
    free(steps);
    return st;
}

static bool number(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = s && *s >= '0' && *s <= '9' ? strtoull(s, &end, 10) : 0;
    if (!s || *s < '0' || *s > '9' || errno || *end)
        return false;
    *out = v;
    return true;
}

static int usage(const kiln_context *ctx, const char *why)
{
    if (kiln_context_is_master(ctx))
        fprintf(stderr, "slurm_job: %s\nusage: slurm_job [--stages N] [--slow-ms MS] "
                "[--fast-after-requeue]\n                 [--records N] [--keys K] "
                "[--parts P] OUTDIR\n", why);
    return 2;
}

int main(int argc, char **argv)
{
    kiln_context *ctx = NULL;
    if (kiln_init(&argc, &argv, &ctx) != KILN_OK)
        return 1;
    job_opts o = {.stages = 12, .records = 200000, .keys = 4096, .parts = 4};
    bool fast_after_requeue = false;
    int rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n = 0;
        if (!strcmp(a, "--fast-after-requeue")) {
            fast_after_requeue = true;
        } else if (!strcmp(a, "--stages") && number(v, &n) && n <= 1000) {
            o.stages = n, i++;
        } else if (!strcmp(a, "--slow-ms") && number(v, &n) && n <= 60000) {
            o.slow_ms = (long)n, i++;
        } else if (!strcmp(a, "--records") && number(v, &n) && n > 0 && n <= INT64_MAX) {
            o.records = n, i++;
        } else if (!strcmp(a, "--keys") && number(v, &n) && n > 0 && n <= UINT32_MAX) {
            o.keys = n, i++;
        } else if (!strcmp(a, "--parts") && number(v, &n) && n > 0 && n <= 4096) {
            o.parts = (uint32_t)n, i++;
        } else if (a[0] == '-' && a[1] == '-') {
            rc = usage(ctx, "bad option or value");
        } else if (!o.outdir) {
            o.outdir = a;
        } else {
            rc = usage(ctx, "too many arguments");
        }
    }
    if (!rc && !o.outdir)
        rc = usage(ctx, "OUTDIR is required");
    if (rc) {
        kiln_finalize(&ctx);
        return rc;
    }
    const char *restarts = getenv("SLURM_RESTART_COUNT");
    if (fast_after_requeue && restarts && strcmp(restarts, "0") != 0) {
        kiln_log(ctx, "slurm_job: requeued (SLURM_RESTART_COUNT=%s): not sleeping",
                 restarts);
        o.slow_ms = 0;
    }
    kiln_status st = run(ctx, &o);
    if (st != KILN_OK)
        kiln_report(ctx, "slurm_job", st);
    kiln_finalize(&ctx);
    return st == KILN_OK ? 0 : 1;
}
