/* kiln-gensort: generate 100-byte sort records (10-byte key, 90-byte value,
 * the TeraSort layout) in parallel.
 *
 *   mpirun -np N kiln-gensort -n RECORDS [--seed S] [--skew] [--ascii] -o OUTDIR
 *
 * Record i is a function of (seed, i) only, so the concatenated part files
 * are the same bytes at any number of ranks and partitions. Layout:
 *
 *   bytes  0..9   key: random bytes (--ascii: printable, ' ' to '~')
 *   byte  10      ' '
 *   bytes 11..26  i as 16 upper-case hex digits (unique: ties on the key
 *                 are ordered by it)
 *   byte  27      ' '
 *   bytes 28..98  filler letters A-Z, rotated by i
 *   byte  99      '\n'
 *
 * The value is always printable and ends in '\n', so with --ascii the
 * output is also a text file of 99-character lines whose `LC_ALL=C sort`
 * order is exactly the order of kiln-sort (key, then value bytes). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln.h>

enum { KEY_BYTES = 10, VALUE_BYTES = 90, RECORD_BYTES = KEY_BYTES + VALUE_BYTES };

static const char usage[] =
    "usage: kiln-gensort -n RECORDS [options] -o OUTDIR\n"
    "Write RECORDS 100-byte records (10-byte key, 90-byte value) as raw\n"
    "part files in OUTDIR, generated in parallel; the same seed gives the same\n"
    "bytes at any number of ranks.\n"
    "  -n, --records N     number of records; a suffix k, M or G multiplies by\n"
    "                      1000, 10^6 or 10^9 (10M records are 1 GB)\n"
    "  -s, --seed S        seed, an unsigned 64-bit integer (default 1)\n"
    "  -k, --skew          half of the records share one key; the others are\n"
    "                      random\n"
    "  -a, --ascii         printable keys: every record is then a text line\n"
    "  -p, --partitions N  part files to write (default: --kiln-partitions)\n"
    "  -o, --output DIR    write part-NNNNN files and _SUCCESS into DIR\n"
    "  -f, --overwrite     replace DIR if it exists (default: refuse)\n"
    "  -h, --help          this text; --kiln-help lists the runtime options\n";

typedef struct gen_params {
    uint64_t base; /* the seed, mixed: the splitmix64 state before record 0 */
    bool skew, ascii;
    unsigned char hot_key[KEY_BYTES]; /* --skew: the key half the records share */
} gen_params;

/* The splitmix64 output function (Steele, Lea and Flood, 2014). */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static const uint64_t golden = 0x9e3779b97f4a7c15u; /* splitmix64's increment */

/* Ten key bytes from 112 random bits: r1 whole, r2's low 48 bits. r2's top
 * bit is left for the --skew decision. */
static void make_key(uint64_t r1, uint64_t r2, bool ascii, unsigned char *key)
{
    if (ascii) {
        /* 95^9 < 2^64: nine base-95 digits of r1, one from r2. */
        for (int j = 0; j < 9; j++, r1 /= 95)
            key[j] = (unsigned char)(' ' + r1 % 95);
        key[9] = (unsigned char)(' ' + (r2 & 0xffffffffffffu) % 95);
        return;
    }
    for (int j = 0; j < 8; j++)
        key[j] = (unsigned char)(r1 >> (56 - 8 * j));
    key[8] = (unsigned char)(r2 >> 40);
    key[9] = (unsigned char)(r2 >> 32);
}

static void make_record(const gen_params *g, uint64_t i, unsigned char *rec)
{
    static const char hex[] = "0123456789ABCDEF";
    /* Record i takes outputs 2i + 1 and 2i + 2 of the seed's splitmix64
     * stream, which are independent of each other and of other records. */
    uint64_t r1 = mix64(g->base + (2 * i + 1) * golden);
    uint64_t r2 = mix64(g->base + (2 * i + 2) * golden);
    if (g->skew && (r2 >> 63))
        memcpy(rec, g->hot_key, KEY_BYTES);
    else
        make_key(r1, r2, g->ascii, rec);
    unsigned char *v = rec + KEY_BYTES;
    v[0] = ' ';
    for (int j = 0; j < 16; j++)
        v[1 + j] = (unsigned char)hex[(i >> (60 - 4 * j)) & 15];
    v[17] = ' ';
    for (int j = 0; j < 71; j++)
        v[18 + j] = (unsigned char)('A' + (i + (uint64_t)j) % 26);
    v[89] = '\n';
}

static kiln_status generate(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    const gen_params *g = arg;
    unsigned char rec[RECORD_BYTES];
    for (size_t k = 0; k < in->n; k++) {
        uint64_t i = (uint64_t)kiln_batch_value_i64(in, k);
        make_record(g, i, rec);
        kiln_status st = kiln_emit(out, rec, KEY_BYTES, rec + KEY_BYTES, VALUE_BYTES);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* An unsigned decimal with an optional k, M or G suffix; false if bad. */
static bool parse_count(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-' || *s == '+' || *s == ' ')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno)
        return false;
    uint64_t mult = 1;
    switch (*end) {
    case 'k': case 'K': mult = 1000u; end++; break;
    case 'm': case 'M': mult = 1000000u; end++; break;
    case 'g': case 'G': mult = 1000000000u; end++; break;
    }
    if (*end || v > max / mult)
        return false;
    *out = v * mult;
    return true;
}

int main(int argc, char **argv)
{
    kiln_context *ctx = NULL;
    if (kiln_init(&argc, &argv, &ctx) != KILN_OK)
        return 1;
    bool master = kiln_context_is_master(ctx);

    const char *outdir = NULL;
    uint64_t nrecords = 0, seed = 1, nparts = 0;
    bool have_n = false, skew = false, ascii = false, overwrite = false;
    static const struct option longopts[] = {
        {"records", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"skew", no_argument, NULL, 'k'},
        {"ascii", no_argument, NULL, 'a'},
        {"partitions", required_argument, NULL, 'p'},
        {"output", required_argument, NULL, 'o'},
        {"overwrite", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, bad = 0;
    opterr = master;
    while ((c = getopt_long(argc, argv, "n:s:kap:o:fh", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            /* kiln_range counts in int64_t. */
            have_n = parse_count(optarg, INT64_MAX, &nrecords);
            if (!have_n) {
                if (master)
                    fprintf(stderr, "kiln-gensort: bad --records '%s'\n", optarg);
                bad = 1;
            }
            break;
        case 's':
            if (!parse_count(optarg, UINT64_MAX, &seed)) {
                if (master)
                    fprintf(stderr, "kiln-gensort: bad --seed '%s'\n", optarg);
                bad = 1;
            }
            break;
        case 'k': skew = true; break;
        case 'a': ascii = true; break;
        case 'p':
            if (!parse_count(optarg, UINT32_MAX, &nparts) || nparts == 0) {
                if (master)
                    fprintf(stderr, "kiln-gensort: bad --partitions '%s'\n", optarg);
                bad = 1;
            }
            break;
        case 'o': outdir = optarg; break;
        case 'f': overwrite = true; break;
        case 'h':
            if (master)
                fputs(usage, stdout);
            kiln_finalize(&ctx);
            return 0;
        default: bad = 1;
        }
    }
    if (!bad && (!have_n || !outdir || optind < argc)) {
        if (master)
            fprintf(stderr, "kiln-gensort: %s\n",
                    !have_n ? "missing -n RECORDS"
                    : !outdir ? "missing -o OUTDIR"
                              : "unexpected argument");
        bad = 1;
    }
    if (bad) {
        if (master)
            fputs(usage, stderr);
        kiln_finalize(&ctx);
        return 2;
    }

    gen_params g = {.base = mix64(seed), .skew = skew, .ascii = ascii};
    /* Output 0 of the stream, which no record uses. */
    uint64_t h = mix64(g.base);
    make_key(h, mix64(h), ascii, g.hot_key);

    kiln_dataset *index = NULL, *records = NULL;
    kiln_save_options save = {.overwrite = overwrite};
    kiln_schema schema = kiln_schema_of(kiln_type_fixed(KEY_BYTES, NULL, NULL, NULL),
                                        kiln_type_fixed(VALUE_BYTES, NULL, NULL, NULL));
    kiln_status st = kiln_range(ctx, 0, (int64_t)nrecords, 1, (uint32_t)nparts, &index);
    if (st == KILN_OK)
        st = kiln_dataset_map(index, schema, generate, &g, &records);
    if (st == KILN_OK)
        st = kiln_dataset_save_binary(records, outdir, &save);
    if (st != KILN_OK)
        kiln_report(ctx, "kiln-gensort", st);
    kiln_dataset_destroy(&records);
    kiln_dataset_destroy(&index);
    kiln_finalize(&ctx);
    return st == KILN_OK ? 0 : 1;
}
