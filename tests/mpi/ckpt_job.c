/* tests/mpi/ckpt_job.c: the job the checkpoint tests crash, damage, signal
 * and resume (test_checkpoint_*.sh). An ordinary Kiln job, linked against
 * kiln::kiln only; its output is a pure function of its input, written in
 * key order, so two runs can be compared byte for byte whatever happened in
 * between and at whatever rank count.
 *
 *   ckpt_job [OPTIONS] INPUT OUTDIR
 *
 * Default pipeline (every shuffle into --parts partitions; node ids, which
 * name checkpoints "node-<id>", in brackets):
 *   lines   = text_file(INPUT)                                    [0]
 *   words   = flat_map(lines)            (word, 1)                [1]
 *   counts  = reduce_by_key(words, SUM)  (word, n)     shuffle 1  [2]
 *   firsts  = map(counts)                (first byte, n)          [3]
 *   totals  = reduce_by_key(firsts, SUM) (first byte, total)      [4]
 *   keyed   = map(counts)                (first byte, "word n")   [5]
 *   joined  = join(keyed, totals)        (first byte, PAIR)       [6]
 *   report  = map(joined)                (word, "n/total")        [7]
 *   sorted  = sort_by_key(report)        (word, "n/total")        [8]
 *   save_text(sorted, OUTDIR)
 *
 * Iterative pipeline (--iterations N): state(0) = counts, then
 *   state(i) = reduce_by_key(map(state(i-1): n -> n * 31 + i), SUM)
 * with kiln_iteration_checkpoint(state(i), "iter", i, --every) after each
 * and kiln_iteration_resume() first; the result is sort_by_key(state(N)).
 * The step depends on i, so resuming from the wrong iteration shows.
 *
 * Options:
 *   --parts N        partitions of every shuffle (default 6; 0: Kiln's
 *                    default, which depends on the number of ranks)
 *   --checkpoint     kiln_dataset_checkpoint() counts, totals and report
 *                    (the last narrow: computed for the checkpoint)
 *   --live           mark counts, firsts and totals live and compute totals
 *                    first (one count() action), so that a signal during
 *                    the rest checkpoints them (firsts, narrow, is then
 *                    computed from counts)
 *   --last-byte      firsts keys words by their last byte: the same lineage
 *                    with another callback, which checkpoints must notice
 *   --slow-ms MS     sleep MS ms per batch in keyed's map (the join stage)
 *   --started FILE   keyed's map creates FILE when it first runs on a rank,
 *                    holding the process id of the first rank to get there
 *   --hold FILE      keyed's map waits for FILE to exist before each batch
 *                    (at most 60 s): a test knows the stage is running
 *                    until it creates FILE
 *   --iterations N   the iterative pipeline, N iterations
 *   --every K        iterative: checkpoint every K iterations (default 1)
 *   --crash-after I  iterative: the last rank kills itself (SIGKILL) once
 *                    iteration I is checkpointed (a crash between stages);
 *                    ignored in a run that resumed, as --kiln-fail-at is
 *
 * Exit status: 0 success, 1 a Kiln call failed (reported on the master),
 * 2 usage, 75 (KILN_EXIT_RESUBMIT) from Kiln itself after a signal. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kiln.h>

typedef struct job_opts {
    uint32_t parts;
    bool checkpoint, live, last_byte;
    long slow_ms;
    const char *started, *hold;
    uint64_t iterations, every, crash_after;
    const char *input, *outdir;
} job_opts;

/* ---- callbacks ---- */

static const uint8_t is_space[256] = {
    [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1,
};

static kiln_status split_words(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    const uint64_t one = 1;
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        const unsigned char *p = kiln_batch_value(in, i, &len), *end = p + len;
        while (p < end) {
            while (p < end && is_space[*p])
                p++;
            const unsigned char *word = p;
            while (p < end && !is_space[*p])
                p++;
            if (p > word) {
                kiln_status st = kiln_emit(out, word, (size_t)(p - word), &one, 8);
                if (st != KILN_OK)
                    return st;
            }
        }
    }
    return KILN_OK;
}

/* (word, n) -> (first byte, n) */
static kiln_status first_byte(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        const void *word = kiln_batch_key(in, i, &len);
        uint64_t n = kiln_batch_value_u64(in, i);
        kiln_status st = kiln_emit(out, word, len ? 1 : 0, &n, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* (word, n) -> (last byte, n): first_byte's stand-in for --last-byte. */
static kiln_status last_byte(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        const char *word = kiln_batch_key(in, i, &len);
        uint64_t n = kiln_batch_value_u64(in, i);
        kiln_status st = kiln_emit(out, len ? word + len - 1 : word, len ? 1 : 0, &n, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ; /* a signal (the one the tests send) must not cut the nap short */
}

/* (word, n) -> (first byte, "word n"), slowly when asked. */
static kiln_status keyed_map(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    const job_opts *o = arg;
    static bool marked; /* per process: once is enough */
    if (o->started && !marked) {
        /* Written under a private name, then linked into place: a reader
         * never sees the file without the process id in it. */
        char tmp[1100], text[32];
        snprintf(tmp, sizeof tmp, "%s.%ld", o->started, (long)getpid());
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
            bool ok = write(fd, text, (size_t)len) == len;
            close(fd);
            if (ok && link(tmp, o->started) != 0 && errno != EEXIST)
                fprintf(stderr, "ckpt_job: cannot create %s\n", o->started);
            unlink(tmp);
        }
        marked = true;
    }
    if (o->slow_ms > 0)
        sleep_ms(o->slow_ms);
    for (int waited = 0; o->hold && access(o->hold, F_OK) != 0; waited += 20) {
        if (waited >= 60000)
            return kiln_error(KILN_ERR_STATE, "%s did not appear in 60 s", o->hold);
        sleep_ms(20);
    }
    char text[4200];
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        const char *word = kiln_batch_key(in, i, &len);
        if (len > 4000)
            return kiln_error(KILN_ERR_LIMIT, "word of %zu bytes", len);
        int tl = snprintf(text, sizeof text, "%.*s %llu", (int)len, word,
                          (unsigned long long)kiln_batch_value_u64(in, i));
        kiln_status st = kiln_emit(out, word, len ? 1 : 0, text, (size_t)tl);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* (first byte, PAIR("word n", total)) -> (word, "n/total") */
static kiln_status report_map(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    char text[64];
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        const void *v = kiln_batch_value(in, i, &len);
        kiln_pair p = kiln_pair_get(v, len);
        uint64_t total;
        const char *s = p.left, *sp = NULL;
        if (!p.has_left || !p.has_right || p.right_len != 8)
            return kiln_error(KILN_ERR_STATE, "join record %zu is not whole", i);
        memcpy(&total, p.right, 8);
        for (size_t k = p.left_len; k-- > 0;)
            if (s[k] == ' ') {
                sp = s + k;
                break;
            }
        if (!sp)
            return kiln_error(KILN_ERR_PARSE, "no count in '%.*s'",
                              (int)p.left_len, s);
        int tl = snprintf(text, sizeof text, "%.*s/%llu",
                          (int)(s + p.left_len - sp - 1), sp + 1,
                          (unsigned long long)total);
        kiln_status st = kiln_emit(out, s, (size_t)(sp - s), text, (size_t)tl);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* One iteration: n -> n * 31 + i (wrapping), i = *arg. */
static kiln_status step_map(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    uint64_t i = *(const uint64_t *)arg;
    for (size_t r = 0; r < in->n; r++) {
        size_t len;
        const void *word = kiln_batch_key(in, r, &len);
        uint64_t n = kiln_batch_value_u64(in, r) * 31u + i;
        kiln_status st = kiln_emit(out, word, len, &n, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* ---- the two pipelines ---- */

#define TRY(call)                                                             \
    do {                                                                      \
        if ((st = (call)) != KILN_OK)                                         \
            goto done;                                                        \
    } while (0)

static kiln_status run_default(kiln_context *ctx, job_opts *o)
{
    kiln_dataset *lines = NULL, *words = NULL, *counts = NULL, *firsts = NULL;
    kiln_dataset *totals = NULL, *keyed = NULL, *joined = NULL, *report = NULL;
    kiln_dataset *sorted = NULL;
    const kiln_schema sk_u64 = kiln_schema_of(KILN_T_STRING, KILN_T_U64);
    kiln_status st;
    TRY(kiln_text_file(ctx, o->input, &lines));
    TRY(kiln_dataset_flat_map(lines, sk_u64, split_words, NULL, &words));
    TRY(kiln_dataset_reduce_by_key(words, KILN_OP_SUM, NULL, NULL, o->parts, &counts));
    TRY(kiln_dataset_map(counts, sk_u64, o->last_byte ? last_byte : first_byte, NULL,
                         &firsts));
    TRY(kiln_dataset_reduce_by_key(firsts, KILN_OP_SUM, NULL, NULL, o->parts, &totals));
    TRY(kiln_dataset_map(counts, kiln_schema_of(KILN_T_STRING, KILN_T_STRING),
                         keyed_map, o, &keyed));
    TRY(kiln_dataset_join(keyed, totals, KILN_JOIN_INNER, o->parts, &joined));
    TRY(kiln_dataset_map(joined, kiln_schema_of(KILN_T_STRING, KILN_T_STRING),
                         report_map, NULL, &report));
    TRY(kiln_dataset_sort_by_key(report, NULL, o->parts, &sorted));
    if (o->checkpoint) {
        TRY(kiln_dataset_checkpoint(counts));
        TRY(kiln_dataset_checkpoint(totals));
        TRY(kiln_dataset_checkpoint(report)); /* narrow: computed for it */
    }
    if (o->live) {
        uint64_t n = 0;
        kiln_dataset_mark_live(counts);
        kiln_dataset_mark_live(firsts); /* narrow: computed on the signal */
        kiln_dataset_mark_live(totals);
        TRY(kiln_dataset_count(totals, &n)); /* computes counts on the way */
        kiln_log(ctx, "ckpt_job: %llu initial letters", (unsigned long long)n);
    }
    kiln_save_options save = {.overwrite = true};
    TRY(kiln_dataset_save_text(sorted, o->outdir, &save));
done:
    kiln_dataset_destroy(&sorted);
    kiln_dataset_destroy(&report);
    kiln_dataset_destroy(&joined);
    kiln_dataset_destroy(&keyed);
    kiln_dataset_destroy(&totals);
    kiln_dataset_destroy(&firsts);
    kiln_dataset_destroy(&counts);
    kiln_dataset_destroy(&words);
    kiln_dataset_destroy(&lines);
    return st;
}

static kiln_status run_iterations(kiln_context *ctx, job_opts *o)
{
    kiln_dataset *lines = NULL, *words = NULL, *state = NULL, *mapped = NULL;
    kiln_dataset *sorted = NULL;
    const kiln_schema sk_u64 = kiln_schema_of(KILN_T_STRING, KILN_T_U64);
    uint64_t start = 0;
    /* Each iteration's map reads its number here, whenever it runs. */
    uint64_t *numbers = calloc(o->iterations + 1, sizeof *numbers);
    kiln_status st = numbers ? KILN_OK : KILN_ERR_NOMEM;
    if (st != KILN_OK)
        goto done;
    for (uint64_t i = 0; i <= o->iterations; i++)
        numbers[i] = i;
    TRY(kiln_iteration_resume(ctx, "iter", &start, &state));
    bool resumed = state != NULL;
    if (resumed) {
        kiln_log(ctx, "ckpt_job: resumed at iteration %llu", (unsigned long long)start);
    } else {
        start = 0;
        TRY(kiln_text_file(ctx, o->input, &lines));
        TRY(kiln_dataset_flat_map(lines, sk_u64, split_words, NULL, &words));
        TRY(kiln_dataset_reduce_by_key(words, KILN_OP_SUM, NULL, NULL, o->parts,
                                       &state));
    }
    int rank = kiln_context_rank(ctx), last = kiln_context_size(ctx) - 1;
    for (uint64_t i = start + 1; i <= o->iterations; i++) {
        kiln_dataset *next = NULL;
        TRY(kiln_dataset_map(state, sk_u64, step_map, &numbers[i], &mapped));
        TRY(kiln_dataset_reduce_by_key(mapped, KILN_OP_SUM, NULL, NULL, o->parts,
                                       &next));
        kiln_dataset_destroy(&mapped);
        kiln_dataset_destroy(&state);
        state = next;
        TRY(kiln_iteration_checkpoint(state, "iter", i, o->every));
        if (!resumed && i == o->crash_after && rank == last) {
            fprintf(stderr, "ckpt_job: rank %d crashing after iteration %llu\n",
                    rank, (unsigned long long)i);
            fflush(stderr);
            raise(SIGKILL);
        }
    }
    TRY(kiln_dataset_sort_by_key(state, NULL, o->parts, &sorted));
    kiln_save_options save = {.overwrite = true};
    TRY(kiln_dataset_save_text(sorted, o->outdir, &save));
done:
    kiln_dataset_destroy(&sorted);
    kiln_dataset_destroy(&mapped);
    kiln_dataset_destroy(&state);
    kiln_dataset_destroy(&words);
    kiln_dataset_destroy(&lines);
    free(numbers);
    return st;
}

/* ---- main ---- */

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
        fprintf(stderr, "ckpt_job: %s\nusage: ckpt_job [--parts N] [--checkpoint] "
                "[--live] [--last-byte] [--slow-ms MS] [--started FILE] [--hold FILE]\n"
                "       [--iterations N [--every K] [--crash-after I]] "
                "INPUT OUTDIR\n", why);
    return 2;
}

int main(int argc, char **argv)
{
    kiln_context *ctx = NULL;
    if (kiln_init(&argc, &argv, &ctx) != KILN_OK)
        return 1;
    job_opts o = {.parts = 6, .every = 1};
    const char *pos[2] = {NULL, NULL};
    int npos = 0, rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n = 0;
        if (!strcmp(a, "--checkpoint")) {
            o.checkpoint = true;
        } else if (!strcmp(a, "--live")) {
            o.live = true;
        } else if (!strcmp(a, "--last-byte")) {
            o.last_byte = true;
        } else if (!strcmp(a, "--started") && v) {
            o.started = v, i++;
        } else if (!strcmp(a, "--hold") && v) {
            o.hold = v, i++;
        } else if (!strcmp(a, "--parts") && number(v, &n) && n < 10000) {
            o.parts = (uint32_t)n, i++;
        } else if (!strcmp(a, "--slow-ms") && number(v, &n) && n < 100000) {
            o.slow_ms = (long)n, i++;
        } else if (!strcmp(a, "--iterations") && number(v, &n) && n < 100000) {
            o.iterations = n, i++;
        } else if (!strcmp(a, "--every") && number(v, &n)) {
            o.every = n, i++;
        } else if (!strcmp(a, "--crash-after") && number(v, &n)) {
            o.crash_after = n, i++;
        } else if (a[0] == '-' && a[1] == '-') {
            rc = usage(ctx, "bad option or value");
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            rc = usage(ctx, "too many arguments");
        }
    }
    if (!rc && npos != 2)
        rc = usage(ctx, "INPUT and OUTDIR are required");
    if (rc) {
        kiln_finalize(&ctx);
        return rc;
    }
    o.input = pos[0];
    o.outdir = pos[1];
    kiln_status st = o.iterations ? run_iterations(ctx, &o) : run_default(ctx, &o);
    if (st != KILN_OK)
        kiln_report(ctx, "ckpt_job", st);
    kiln_finalize(&ctx);
    return st == KILN_OK ? 0 : 1;
}
