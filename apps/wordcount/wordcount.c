/* kiln-wordcount: count the words of text files.
 *
 *   mpirun -np N kiln-wordcount [--top N] [--overwrite] -o OUTDIR INPUT...
 *
 * A word is a maximal run of bytes that are not ASCII whitespace (space,
 * \t, \n, \v, \f, \r); any other byte, UTF-8 or not, belongs to a word.
 * OUTDIR receives "word<TAB>count" lines in part files; the master prints
 * the N most frequent words (ties broken by byte order). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln.h>

static const char usage[] =
    "usage: kiln-wordcount [--top N] [--overwrite] -o OUTDIR INPUT...\n"
    "  -o, --output DIR   write word<TAB>count part files into DIR\n"
    "  -t, --top N        print the N most frequent words (default 10; 0: none)\n"
    "  -f, --overwrite    replace DIR if it exists (default: refuse)\n"
    "  -h, --help         this text; --kiln-help lists the runtime options\n";

/* ---- splitting lines into (word, 1) ---- */

static const uint8_t is_space[256] = {
    [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1,
};

static kiln_status split_words(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    const uint64_t one = 1;
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        const unsigned char *p = kiln_batch_value(in, i, &len);
        const unsigned char *end = p + len;
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

/* ---- top N: a bounded heap per partition, merged on the master ---- */

typedef struct entry {
    uint64_t count;
    char *word; /* owned */
    size_t len;
} entry;

/* a ranks before b: more frequent, then smaller in byte order. */
static int before(const entry *a, const entry *b)
{
    if (a->count != b->count)
        return a->count > b->count;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->word, b->word, n);
    return c ? c < 0 : a->len < b->len;
}

typedef struct top {
    size_t limit, n;
    entry *heap; /* heap[0] is the entry every other ranks before */
} top;

static void sift_down(top *t, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, worst = i;
        if (l < t->n && before(&t->heap[worst], &t->heap[l]))
            worst = l;
        if (r < t->n && before(&t->heap[worst], &t->heap[r]))
            worst = r;
        if (worst == i)
            return;
        entry e = t->heap[i];
        t->heap[i] = t->heap[worst];
        t->heap[worst] = e;
        i = worst;
    }
}

static void sift_up(top *t, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&t->heap[parent], &t->heap[i]))
            return;
        entry e = t->heap[i];
        t->heap[i] = t->heap[parent];
        t->heap[parent] = e;
        i = parent;
    }
}

static kiln_status top_offer(top *t, const void *word, size_t len, uint64_t count)
{
    entry cand = {count, (char *)word, len};
    if (t->n == t->limit && !before(&cand, &t->heap[0]))
        return KILN_OK;
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return kiln_error(KILN_ERR_NOMEM, "top-N word copy");
    memcpy(copy, word, len);
    cand.word = copy;
    if (t->n == t->limit) {
        free(t->heap[0].word);
        t->heap[0] = cand;
        sift_down(t, 0);
    } else {
        t->heap[t->n++] = cand;
        sift_up(t, t->n - 1);
    }
    return KILN_OK;
}

static void top_free(top *t)
{
    for (size_t i = 0; t && i < t->n; i++)
        free(t->heap[i].word);
    if (t)
        free(t->heap);
    free(t);
}

static kiln_status top_open(uint32_t partition, void **state, void *arg)
{
    (void)partition;
    top *t = calloc(1, sizeof *t);
    if (t) {
        t->limit = *(const size_t *)arg;
        t->heap = calloc(t->limit, sizeof *t->heap);
    }
    if (!t || !t->heap) {
        top_free(t);
        return kiln_error(KILN_ERR_NOMEM, "top-N heap");
    }
    *state = t;
    return KILN_OK;
}

static kiln_status top_batch(const kiln_batch *in, kiln_emitter *out, void *state,
                             void *arg)
{
    (void)out;
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        const void *word = kiln_batch_key(in, i, &len);
        kiln_status st = top_offer(state, word, len, kiln_batch_value_u64(in, i));
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status top_close(kiln_emitter *out, void *state, void *arg)
{
    (void)arg;
    top *t = state;
    kiln_status st = KILN_OK;
    for (size_t i = 0; out && i < t->n && st == KILN_OK; i++)
        st = kiln_emit(out, t->heap[i].word, t->heap[i].len, &t->heap[i].count, 8);
    top_free(t);
    return st;
}

static int by_rank(const void *a, const void *b)
{
    return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

/* Collect every partition's candidates on the master and print the best. */
static kiln_status print_top(kiln_context *ctx, kiln_dataset *counts, size_t n)
{
    kiln_partition_fns fns = {top_open, top_batch, top_close};
    kiln_dataset *cands = NULL;
    kiln_collection *all = NULL;
    kiln_status st = kiln_dataset_map_partitions(
        counts, kiln_schema_of(KILN_T_STRING, KILN_T_U64), fns, &n, &cands);
    if (st == KILN_OK)
        st = kiln_dataset_collect(cands, 0, &all);
    if (st == KILN_OK && kiln_context_is_master(ctx)) {
        const kiln_batch *b = kiln_collection_batch(all);
        entry *v = malloc((b->n ? b->n : 1) * sizeof *v);
        if (!v) {
            st = KILN_ERR_NOMEM;
        } else {
            for (size_t i = 0; i < b->n; i++) {
                v[i].word = (char *)kiln_batch_key(b, i, &v[i].len);
                v[i].count = kiln_batch_value_u64(b, i);
            }
            qsort(v, b->n, sizeof *v, by_rank);
            for (size_t i = 0; i < b->n && i < n; i++)
                printf("%.*s\t%llu\n", (int)v[i].len, v[i].word,
                       (unsigned long long)v[i].count);
            fflush(stdout);
            free(v);
        }
    }
    kiln_collection_destroy(&all);
    kiln_dataset_destroy(&cands);
    return st;
}

int main(int argc, char **argv)
{
    kiln_context *ctx = NULL;
    kiln_status st = kiln_init(&argc, &argv, &ctx);
    if (st != KILN_OK)
        return 1;

    const char *outdir = NULL;
    long topn = 10;
    bool overwrite = false;
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"top", required_argument, NULL, 't'},
        {"overwrite", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, bad = 0;
    opterr = kiln_context_is_master(ctx);
    while ((c = getopt_long(argc, argv, "o:t:fh", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'o': outdir = optarg; break;
        case 't':
            topn = strtol(optarg, &end, 10);
            if (*end || topn < 0) {
                if (kiln_context_is_master(ctx))
                    fprintf(stderr, "kiln-wordcount: bad --top '%s'\n", optarg);
                bad = 1;
            }
            break;
        case 'f': overwrite = true; break;
        case 'h':
            if (kiln_context_is_master(ctx))
                fputs(usage, stdout);
            kiln_finalize(&ctx);
            return 0;
        default: bad = 1;
        }
    }
    if (!bad && (!outdir || optind >= argc)) {
        if (kiln_context_is_master(ctx))
            fprintf(stderr, "kiln-wordcount: %s\n",
                    !outdir ? "missing -o OUTDIR" : "no INPUT given");
        bad = 1;
    }
    if (bad) {
        if (kiln_context_is_master(ctx))
            fputs(usage, stderr);
        kiln_finalize(&ctx);
        return 2;
    }

    kiln_dataset *lines = NULL, *words = NULL, *counts = NULL;
    kiln_save_options save = {.overwrite = overwrite};
    st = kiln_text_files(ctx, (const char *const *)argv + optind,
                         (size_t)(argc - optind), &lines);
    if (st == KILN_OK)
        st = kiln_dataset_flat_map(lines, kiln_schema_of(KILN_T_STRING, KILN_T_U64),
                                   split_words, NULL, &words);
    if (st == KILN_OK)
        st = kiln_dataset_reduce_by_key(words, KILN_OP_SUM, NULL, NULL, 0, &counts);
    if (st == KILN_OK)
        st = kiln_dataset_save_text(counts, outdir, &save);
    if (st == KILN_OK && topn > 0)
        st = print_top(ctx, counts, (size_t)topn);
    if (st != KILN_OK)
        kiln_report(ctx, "kiln-wordcount", st);
    kiln_dataset_destroy(&counts);
    kiln_dataset_destroy(&words);
    kiln_dataset_destroy(&lines);
    kiln_finalize(&ctx);
    return st == KILN_OK ? 0 : 1;
}
