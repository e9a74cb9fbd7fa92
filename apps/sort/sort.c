/* kiln-sort: sort 100-byte records (10-byte key, 90-byte value, the
 * TeraSort layout) or text lines, globally.
 *
 *   mpirun -np N kiln-sort [--lines] [-p N] [--overwrite] -o OUTDIR INPUT...
 *
 * The output is part files whose concatenation in name order is sorted:
 * records by key, records with equal keys by value bytes (so the output is
 * the same bytes at any number of ranks); lines by bytes, as LC_ALL=C sort
 * orders them. The sort itself is kiln_dataset_sort_by_key(): sampled
 * splitters, one exchange, a radix sort per partition. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln.h>

enum { KEY_BYTES = 10, VALUE_BYTES = 90 };

static const char usage[] =
    "usage: kiln-sort [--lines] [options] -o OUTDIR INPUT...\n"
    "Sort INPUTs (files, directories of part files, globs) into part files\n"
    "in OUTDIR whose concatenation in name order is sorted.\n"
    "Records (default): 100 bytes each, a 10-byte key and a 90-byte value\n"
    "(the TeraSort layout, as kiln-gensort writes it); sorted by key, equal\n"
    "keys by value bytes. Input sizes must be multiples of 100 bytes.\n"
    "Lines (--lines): sorted by bytes; the output is what `LC_ALL=C sort`\n"
    "prints for the same files, a missing final newline added. Exception:\n"
    "a \"\\r\\n\" line ending is read as \"\\n\" (the \\r is dropped from the\n"
    "line, and its order among lines that differ only there may change),\n"
    "so CRLF input does not give sort's bytes.\n"
    "  -l, --lines         sort text lines instead of records\n"
    "  -p, --partitions N  part files to write (default: as many as the input\n"
    "                      has partitions, at least one per rank)\n"
    "  -o, --output DIR    write part-NNNNN files and _SUCCESS into DIR\n"
    "  -f, --overwrite     replace DIR if it exists (default: refuse)\n"
    "  -h, --help          this text; --kiln-help lists the runtime options\n";

/* ---- --lines: (line, 1 byte) records around the sort ---- */

/* sort_by_key needs a key and a value; a line is the key, and the value is
 * one constant byte, the smallest type the API allows (FIXED of size 0 is
 * refused). */
static kiln_status line_to_record(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    static const unsigned char zero = 0;
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        const void *line = kiln_batch_value(in, i, &len);
        kiln_status st = kiln_emit(out, line, len, &zero, 1);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* save_text writes a keyless STRING as "value\n": the line, unchanged. */
static kiln_status record_to_line(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        const void *line = kiln_batch_key(in, i, &len);
        kiln_status st = kiln_emit(out, NULL, 0, line, len);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

static kiln_status sort_lines(kiln_context *ctx, const char *const *paths,
                              size_t npaths, uint32_t nparts, const char *outdir,
                              const kiln_save_options *save)
{
    kiln_dataset *lines = NULL, *keyed = NULL, *sorted = NULL, *out = NULL;
    kiln_status st = kiln_text_files(ctx, paths, npaths, &lines);
    if (st == KILN_OK)
        st = kiln_dataset_map(lines,
                              kiln_schema_of(KILN_T_STRING,
                                             kiln_type_fixed(1, NULL, NULL, NULL)),
                              line_to_record, NULL, &keyed);
    if (st == KILN_OK)
        st = kiln_dataset_sort_by_key(keyed, NULL, nparts, &sorted);
    if (st == KILN_OK)
        st = kiln_dataset_map(sorted, kiln_schema_of(KILN_T_NONE, KILN_T_STRING),
                              record_to_line, NULL, &out);
    if (st == KILN_OK)
        st = kiln_dataset_save_text(out, outdir, save);
    kiln_dataset_destroy(&out);
    kiln_dataset_destroy(&sorted);
    kiln_dataset_destroy(&keyed);
    kiln_dataset_destroy(&lines);
    return st;
}

static kiln_status sort_records(kiln_context *ctx, const char *const *paths,
                                size_t npaths, uint32_t nparts,
                                const char *outdir, const kiln_save_options *save)
{
    kiln_dataset *records = NULL, *sorted = NULL;
    kiln_schema schema = kiln_schema_of(kiln_type_fixed(KEY_BYTES, NULL, NULL, NULL),
                                        kiln_type_fixed(VALUE_BYTES, NULL, NULL, NULL));
    kiln_status st = kiln_binary_files(ctx, paths, npaths, schema, &records);
    if (st == KILN_OK)
        st = kiln_dataset_sort_by_key(records, NULL, nparts, &sorted);
    if (st == KILN_OK)
        st = kiln_dataset_save_binary(sorted, outdir, save);
    kiln_dataset_destroy(&sorted);
    kiln_dataset_destroy(&records);
    return st;
}

int main(int argc, char **argv)
{
    kiln_context *ctx = NULL;
    if (kiln_init(&argc, &argv, &ctx) != KILN_OK)
        return 1;
    bool master = kiln_context_is_master(ctx);

    const char *outdir = NULL;
    bool lines = false, overwrite = false;
    unsigned long nparts = 0;
    static const struct option longopts[] = {
        {"lines", no_argument, NULL, 'l'},
        {"partitions", required_argument, NULL, 'p'},
        {"output", required_argument, NULL, 'o'},
        {"overwrite", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, bad = 0;
    opterr = master;
    while ((c = getopt_long(argc, argv, "lp:o:fh", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'l': lines = true; break;
        case 'p':
            errno = 0;
            nparts = strtoul(optarg, &end, 10);
            if (*optarg < '0' || *optarg > '9' || *end || errno || nparts == 0 ||
                nparts > UINT32_MAX) {
                if (master)
                    fprintf(stderr, "kiln-sort: bad --partitions '%s'\n", optarg);
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
    if (!bad && (!outdir || optind >= argc)) {
        if (master)
            fprintf(stderr, "kiln-sort: %s\n",
                    !outdir ? "missing -o OUTDIR" : "no INPUT given");
        bad = 1;
    }
    if (bad) {
        if (master)
            fputs(usage, stderr);
        kiln_finalize(&ctx);
        return 2;
    }

    kiln_save_options save = {.overwrite = overwrite};
    const char *const *paths = (const char *const *)argv + optind;
    size_t npaths = (size_t)(argc - optind);
    kiln_status st = lines
        ? sort_lines(ctx, paths, npaths, (uint32_t)nparts, outdir, &save)
        : sort_records(ctx, paths, npaths, (uint32_t)nparts, outdir, &save);
    if (st != KILN_OK)
        kiln_report(ctx, "kiln-sort", st);
    kiln_finalize(&ctx);
    return st == KILN_OK ? 0 : 1;
}
