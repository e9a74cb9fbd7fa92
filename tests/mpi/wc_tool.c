/* wc_tool: inputs and a serial reference for the kiln-wordcount tests.
 * Plain C, no Kiln and no MPI.
 *
 *   wc_tool gen DIR
 *       Write the test inputs into DIR: f0.txt..f5.txt, dir/ (with hidden
 *       and underscore files and a subdirectory that must not be read) and
 *       g1.txt..g9.txt for a glob. Words come from a fixed multiset, so the
 *       top of the ranking (including a tie across the cut) is known; text
 *       mixes spaces, tabs, \v, \f, lone \r, CRLF, non-UTF-8 bytes, control
 *       bytes, and words of up to 3000 bytes that span small splits.
 *   wc_tool count COUNTS TOP N PATH...
 *       Count the words of PATHs expanded as Kiln does (a directory: its
 *       regular files not starting with '.' or '_', in name order; a pattern:
 *       glob; else a file). A word is a maximal run of bytes other than
 *       ' ', \t, \n, \v, \f, \r. Write "word<TAB>count" lines to COUNTS and
 *       the N most frequent (ties in byte order) to TOP. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t rng = 0x5eed;

static uint64_t next(void)
{
    uint64_t x = (rng += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void die(const char *what)
{
    fprintf(stderr, "wc_tool: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("malloc");
    return p;
}

/* ---- gen ---- */

typedef struct token {
    char *w;
    size_t len;
} token;

static token *tokens;
static size_t ntokens, cap_tokens;

static void add_word(const char *w, size_t len, int times)
{
    for (int i = 0; i < times; i++) {
        if (ntokens == cap_tokens) {
            cap_tokens = cap_tokens ? 2 * cap_tokens : 1024;
            tokens = realloc(tokens, cap_tokens * sizeof *tokens);
            if (!tokens)
                die("realloc");
        }
        tokens[ntokens].w = xmalloc(len);
        memcpy(tokens[ntokens].w, w, len);
        tokens[ntokens++].len = len;
    }
}

/* A random word byte: printable ASCII, control bytes or high bytes; never
 * whitespace and never NUL. */
static char word_byte(int kind)
{
    static const char ctl[] = "\x01\x02\x07\x08\x0e\x1b\x1f\x7f";
    if (kind == 0)
        return (char)('a' + next() % 26);
    if (kind == 1)
        return (char)(0x80 + next() % 128);
    if (kind == 2)
        return ctl[next() % (sizeof ctl - 1)];
    return (char)(0x21 + next() % 94);
}

static void make_tokens(void)
{
    static const struct {
        const char *w;
        int n;
    } known[] = {
        {"the", 520}, {"of", 470}, {"and", 430}, {"to", 380}, {"a", 350},
        {"in", 300}, {"is", 260}, {"it", 220}, {"caf\xc3\xa9", 180},
        {"caf\xe9", 150},
        /* seven words tie at 90 for places 11 to 17: the top 15 cuts the
         * tie, which byte order settles (Tie < ti < tie < tie-\xe9 < ...) */
        {"tie", 90}, {"Tie", 90}, {"tie_a", 90}, {"tie_b", 90}, {"tie_B", 90},
        {"tie-\xe9", 90}, {"ti", 90},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        add_word(known[i].w, strlen(known[i].w), known[i].n);
    char w[4096];
    for (int i = 0; i < 2000; i++) { /* ordinary words, 1 to 20 times; at
                                       * least 4 bytes, so they rarely meet */
        size_t len = 4 + next() % 9;
        for (size_t k = 0; k < len; k++)
            w[k] = word_byte(next() % 10 == 0 ? 3 : 0);
        add_word(w, len, 1 + (int)(next() % 20));
    }
    for (int i = 0; i < 30; i++) { /* long words that span 1 KiB splits */
        size_t len = 500 + next() % 2500;
        for (size_t k = 0; k < len; k++)
            w[k] = word_byte(0);
        add_word(w, len, 3);
    }
    for (int i = 0; i < 60; i++) { /* non-UTF-8 and control bytes */
        size_t len = 1 + next() % 8;
        for (size_t k = 0; k < len; k++)
            w[k] = word_byte((int)(next() % 3));
        add_word(w, len, 1 + (int)(next() % 5));
    }
    for (size_t i = ntokens; i > 1; i--) { /* shuffle */
        size_t j = next() % i;
        token t = tokens[i - 1];
        tokens[i - 1] = tokens[j];
        tokens[j] = t;
    }
}

static const char *const separators[] = {" ", "\t", "  ", "\v", "\f", " \t", "\r", " \r "};

/* Write tokens [from, to) as lines into path. */
static void write_file(const char *path, size_t from, size_t to, int crlf_percent,
                       int final_newline)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        die(path);
    size_t i = from;
    while (i < to) {
        if (next() % 10 == 0) /* leading whitespace */
            fputs(separators[next() % 8], f);
        size_t words = next() % 26;
        for (size_t k = 0; k < words && i < to; k++, i++) {
            if (k)
                fputs(separators[next() % 8], f);
            fwrite(tokens[i].w, 1, tokens[i].len, f);
        }
        if (next() % 10 == 0) /* trailing whitespace */
            fputs(separators[next() % 8], f);
        if (i < to || final_newline)
            fputs((int)(next() % 100) < crlf_percent ? "\r\n" : "\n", f);
        if (next() % 15 == 0)
            fputs(next() % 2 ? "\n" : " \t\v\f\r\n", f); /* blank lines */
    }
    if (fclose(f) != 0)
        die(path);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        die(path);
}

static int gen(const char *dir)
{
    char path[4096];
    make_tokens();
    size_t cut[] = {0, ntokens * 35 / 100, ntokens * 60 / 100, ntokens * 75 / 100,
                    ntokens * 85 / 100, ntokens * 95 / 100, ntokens};
    snprintf(path, sizeof path, "%s/f0.txt", dir);
    write_file(path, cut[0], cut[1], 0, 1);
    snprintf(path, sizeof path, "%s/f1.txt", dir);
    write_file(path, cut[1], cut[2], 50, 1);
    snprintf(path, sizeof path, "%s/f2.txt", dir);
    write_file(path, cut[2], cut[3], 100, 1);
    snprintf(path, sizeof path, "%s/f3.txt", dir);
    write_file(path, cut[3], cut[4], 20, 0); /* no final newline */
    snprintf(path, sizeof path, "%s/f4.txt", dir);
    write_text(path, "");
    snprintf(path, sizeof path, "%s/f5.txt", dir);
    write_text(path, " \t\r\n\v\f\n\r\n");
    snprintf(path, sizeof path, "%s/dir", dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die(path);
    size_t per = (cut[5] - cut[4]) / 30 + 1;
    for (int d = 0; d < 30; d++) {
        size_t from = cut[4] + (size_t)d * per, to = from + per;
        if (from > cut[5])
            from = cut[5];
        if (to > cut[5])
            to = cut[5];
        snprintf(path, sizeof path, "%s/dir/d%02d.txt", dir, d);
        write_file(path, from, to, 30, d % 2);
    }
    /* Not inputs: the reference skips them the way Kiln must. */
    snprintf(path, sizeof path, "%s/dir/.hidden", dir);
    write_text(path, "HIDDEN_DOT_WORD\n");
    snprintf(path, sizeof path, "%s/dir/_SUCCESS", dir);
    write_text(path, "HIDDEN_UNDERSCORE_WORD\n");
    snprintf(path, sizeof path, "%s/dir/sub", dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die(path);
    snprintf(path, sizeof path, "%s/dir/sub/nested.txt", dir);
    write_text(path, "NESTED_WORD\n");
    per = (cut[6] - cut[5]) / 9 + 1;
    for (int g = 1; g <= 9; g++) {
        size_t from = cut[5] + (size_t)(g - 1) * per, to = from + per;
        if (from > cut[6])
            from = cut[6];
        if (to > cut[6])
            to = cut[6];
        snprintf(path, sizeof path, "%s/g%d.txt", dir, g);
        write_file(path, from, to, 0, 1);
    }
    return 0;
}

/* ---- count ---- */

typedef struct word {
    const unsigned char *p;
    size_t len;
} word;

static word *words;
static size_t nwords, cap_words;

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static void count_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path);
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = xmalloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf)
                die("realloc");
        }
    }
    fclose(f);
    for (size_t i = 0; i < len;) {
        while (i < len && is_space(buf[i]))
            i++;
        size_t start = i;
        while (i < len && !is_space(buf[i]))
            i++;
        if (i > start) {
            if (nwords == cap_words) {
                cap_words = cap_words ? 2 * cap_words : 4096;
                words = realloc(words, cap_words * sizeof *words);
                if (!words)
                    die("realloc");
            }
            words[nwords++] = (word){buf + start, i - start};
        }
    }
    /* buf stays alive: words point into it */
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void count_directory(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        die(dir);
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || e->d_name[0] == '_')
            continue;
        char *path = xmalloc(strlen(dir) + strlen(e->d_name) + 2);
        sprintf(path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            free(path);
            continue;
        }
        names = realloc(names, (n + 1) * sizeof *names);
        names[n++] = path;
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++)
        count_file(names[i]);
}

static void count_path(const char *path)
{
    struct stat sb;
    if (strpbrk(path, "*?[")) {
        glob_t g;
        if (glob(path, 0, NULL, &g) != 0) {
            errno = ENOENT;
            die(path);
        }
        for (size_t i = 0; i < g.gl_pathc; i++)
            count_path(g.gl_pathv[i]);
        globfree(&g);
    } else if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        count_directory(path);
    } else {
        count_file(path);
    }
}

static int word_cmp(const word *a, const word *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->p, b->p, n);
    return c ? c : (a->len < b->len ? -1 : a->len > b->len);
}

static int by_bytes(const void *a, const void *b)
{
    return word_cmp(a, b);
}

typedef struct counted {
    word w;
    uint64_t n;
} counted;

static int by_rank(const void *a, const void *b)
{
    const counted *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return word_cmp(&x->w, &y->w);
}

static int count(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: wc_tool count COUNTS TOP N PATH...\n");
        return 2;
    }
    long top = strtol(argv[4], NULL, 10);
    for (int i = 5; i < argc; i++)
        count_path(argv[i]);
    qsort(words, nwords, sizeof *words, by_bytes);
    counted *c = xmalloc(nwords * sizeof *c);
    size_t nc = 0;
    for (size_t i = 0; i < nwords; i++) {
        if (nc && word_cmp(&c[nc - 1].w, &words[i]) == 0)
            c[nc - 1].n++;
        else
            c[nc++] = (counted){words[i], 1};
    }
    FILE *f = fopen(argv[2], "wb");
    if (!f)
        die(argv[2]);
    for (size_t i = 0; i < nc; i++) {
        fwrite(c[i].w.p, 1, c[i].w.len, f);
        fprintf(f, "\t%llu\n", (unsigned long long)c[i].n);
    }
    if (fclose(f) != 0)
        die(argv[2]);
    qsort(c, nc, sizeof *c, by_rank);
    f = fopen(argv[3], "wb");
    if (!f)
        die(argv[3]);
    for (size_t i = 0; i < nc && (long)i < top; i++) {
        fwrite(c[i].w.p, 1, c[i].w.len, f);
        fprintf(f, "\t%llu\n", (unsigned long long)c[i].n);
    }
    if (fclose(f) != 0)
        die(argv[3]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "gen"))
        return gen(argv[2]);
    if (argc >= 2 && !strcmp(argv[1], "count"))
        return count(argc, argv);
    fprintf(stderr, "usage: wc_tool gen DIR | wc_tool count COUNTS TOP N PATH...\n");
    return 2;
}
