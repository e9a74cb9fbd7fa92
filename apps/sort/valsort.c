/* kiln-valsort: check that 100-byte records (10-byte key, 90-byte value)
 * are in key order, and checksum them.
 *
 *   mpirun -np N kiln-valsort INPUT...
 *
 * Every partition is scanned in parallel for its record count, its first
 * and last key, the first record whose key is smaller than its
 * predecessor's, and the sum of a 64-bit hash (XXH3) of every whole record.
 * The master puts the partitions in order (part files in name order, each
 * cut into consecutive ranges) and checks each one's first key against the
 * last key before it. The sum does not depend on order, so comparing the
 * checksum of a sort's input and output catches lost, duplicated or altered
 * records, which order alone cannot. */
#include <dirent.h>
#include <getopt.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <kiln.h>

enum { KEY_BYTES = 10, VALUE_BYTES = 90, RECORD_BYTES = KEY_BYTES + VALUE_BYTES };

/* Exit statuses, as cmp(1) uses them. */
enum { EXIT_SORTED = 0, EXIT_UNSORTED = 1, EXIT_TROUBLE = 2 };

static const char usage[] =
    "usage: kiln-valsort INPUT...\n"
    "Check that 100-byte records (10-byte key, 90-byte value) are sorted by\n"
    "key, across all INPUTs (files, directories of part files in name order,\n"
    "globs). Prints one line, records=N checksum=HEX, where the checksum is\n"
    "the sum of a 64-bit hash of every record: independent of order, so equal\n"
    "for a sort's input and output unless records were lost, duplicated or\n"
    "changed. Records with equal keys may be in any order.\n"
    "Exit status: 0 sorted, 1 not sorted (the first disorder is reported on\n"
    "stderr), 2 bad usage or an error.\n"
    "  -h, --help   this text; --kiln-help lists the runtime options\n";

/* One partition's findings. Emitted as a FIXED value, so no pointers. */
typedef struct part_stats {
    uint64_t partition;
    uint64_t count;
    uint64_t checksum;  /* sum of XXH3_64bits over each 100-byte record */
    uint64_t first_bad; /* index of the first record whose key is below the
                           key before it, in this partition; UINT64_MAX
                           when there is none */
    unsigned char first_key[KEY_BYTES], last_key[KEY_BYTES]; /* if count > 0 */
    unsigned char pad[4];
} part_stats;

static kiln_status scan_open(uint32_t partition, void **state, void *arg)
{
    (void)arg;
    part_stats *s = calloc(1, sizeof *s);
    if (!s)
        return kiln_error(KILN_ERR_NOMEM, "valsort: partition state");
    s->partition = partition;
    s->first_bad = UINT64_MAX;
    *state = s;
    return KILN_OK;
}

static kiln_status scan_batch(const kiln_batch *in, kiln_emitter *out,
                              void *state, void *arg)
{
    (void)out;
    (void)arg;
    part_stats *s = state;
    unsigned char rec[RECORD_BYTES];
    uint64_t sum = s->checksum;
    for (size_t i = 0; i < in->n; i++) {
        const unsigned char *key = in->keys + i * KEY_BYTES;
        memcpy(rec, key, KEY_BYTES);
        memcpy(rec + KEY_BYTES, in->values + i * VALUE_BYTES, VALUE_BYTES);
        sum += XXH3_64bits(rec, RECORD_BYTES);
        const unsigned char *prev = i ? key - KEY_BYTES : s->count ? s->last_key : NULL;
        if (prev && s->first_bad == UINT64_MAX && memcmp(prev, key, KEY_BYTES) > 0)
            s->first_bad = s->count + i;
    }
    if (in->n) {
        if (s->count == 0)
            memcpy(s->first_key, in->keys, KEY_BYTES);
        memcpy(s->last_key, in->keys + (in->n - 1) * KEY_BYTES, KEY_BYTES);
    }
    s->count += in->n;
    s->checksum = sum;
    return KILN_OK;
}

static kiln_status scan_close(kiln_emitter *out, void *state, void *arg)
{
    (void)arg;
    part_stats *s = state;
    kiln_status st = out ? kiln_emit(out, &s->partition, 8, s, sizeof *s) : KILN_OK;
    free(s);
    return st;
}

/* ---- naming the file that holds record N, for the error message ---- */

typedef struct file_list {
    char **names;
    uint64_t *sizes;
    size_t n, cap;
} file_list;

static void list_free(file_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    free(l->sizes);
}

static bool list_add(file_list *l, const char *path, uint64_t size)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **names = realloc(l->names, cap * sizeof *names);
        if (names)
            l->names = names;
        uint64_t *sizes = realloc(l->sizes, cap * sizeof *sizes);
        if (sizes)
            l->sizes = sizes;
        if (!names || !sizes)
            return false;
        l->cap = cap;
    }
    if (!(l->names[l->n] = strdup(path)))
        return false;
    l->sizes[l->n++] = size;
    return true;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of a directory as kiln_binary_files() reads them: regular
 * files not starting with '.' or '_', in name order. */
static bool add_directory(file_list *l, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    file_list here = {0};
    bool ok = true;
    struct dirent *e;
    while (ok && (e = readdir(d))) {
        if (e->d_name[0] == '.' || e->d_name[0] == '_')
            continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *path = malloc(len);
        if (!path) {
            ok = false;
            break;
        }
        snprintf(path, len, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            ok = list_add(&here, path, (uint64_t)sb.st_size);
        free(path);
    }
    closedir(d);
    if (ok && here.n) {
        /* Sort names and sizes together: sort the names, then stat again. */
        qsort(here.names, here.n, sizeof *here.names, by_name);
        for (size_t i = 0; ok && i < here.n; i++) {
            struct stat sb;
            ok = stat(here.names[i], &sb) == 0 &&
                 list_add(l, here.names[i], (uint64_t)sb.st_size);
        }
    }
    list_free(&here);
    return ok;
}

static bool add_path(file_list *l, const char *path)
{
    struct stat sb;
    if (strpbrk(path, "*?[")) {
        glob_t g;
        if (glob(path, 0, NULL, &g) != 0)
            return false;
        bool ok = true;
        for (size_t i = 0; ok && i < g.gl_pathc; i++) {
            if (stat(g.gl_pathv[i], &sb) != 0)
                ok = false;
            else if (S_ISDIR(sb.st_mode))
                ok = add_directory(l, g.gl_pathv[i]);
            else
                ok = list_add(l, g.gl_pathv[i], (uint64_t)sb.st_size);
        }
        globfree(&g);
        return ok;
    }
    if (stat(path, &sb) != 0)
        return false;
    return S_ISDIR(sb.st_mode) ? add_directory(l, path)
                               : list_add(l, path, (uint64_t)sb.st_size);
}

/* "FILE record I" for overall record `index`, when the inputs as listed
 * now hold exactly `total` records; else an empty string. */
static void locate(char *const *paths, size_t npaths, uint64_t total,
                   uint64_t index, char *buf, size_t size)
{
    file_list l = {0};
    bool ok = true;
    uint64_t bytes = 0;
    buf[0] = '\0';
    for (size_t i = 0; ok && i < npaths; i++)
        ok = add_path(&l, paths[i]);
    for (size_t i = 0; ok && i < l.n; i++)
        bytes += l.sizes[i];
    if (ok && bytes == total * RECORD_BYTES) {
        for (size_t i = 0; i < l.n; i++) {
            uint64_t n = l.sizes[i] / RECORD_BYTES;
            if (index < n) {
                snprintf(buf, size, "%s record %llu", l.names[i],
                         (unsigned long long)index);
                break;
            }
            index -= n;
        }
    }
    list_free(&l);
}

/* ---- the verdict ---- */

static void hex_key(const unsigned char *key, char *buf)
{
    for (int i = 0; i < KEY_BYTES; i++)
        snprintf(buf + 2 * i, 3, "%02x", key[i]);
}

/* Check order across the partitions of `all` (one part_stats each), print
 * the summary line on the master, and say where the first disorder is.
 * Allocates nothing, so every rank, holding the same collection, returns
 * the same status. */
static int verdict(const kiln_context *ctx, const kiln_batch *all,
                   char *const *paths, size_t npaths)
{
    uint64_t total = 0, checksum = 0, before = 0, bad_index = 0, prev_part = 0;
    part_stats s, last = {0}, bad = {0}; /* last: the last one with records */
    bool have_last = false, have_bad = false, between = false;
    unsigned char prev_key[KEY_BYTES]; /* valid when between */
    for (size_t i = 0; i < all->n; i++) {
        memcpy(&s, all->values + i * all->value_size, sizeof s);
        /* Collected in partition order; anything else is an engine bug. */
        if (i && s.partition <= prev_part)
            return -1;
        prev_part = s.partition;
        if (!have_bad && s.count && have_last &&
            memcmp(last.last_key, s.first_key, KEY_BYTES) > 0) {
            have_bad = between = true;
            bad = s;
            bad_index = before;
            memcpy(prev_key, last.last_key, KEY_BYTES);
        } else if (!have_bad && s.first_bad != UINT64_MAX) {
            have_bad = true;
            bad = s;
            bad_index = before + s.first_bad;
        }
        total += s.count;
        checksum += s.checksum;
        if (!have_bad)
            before += s.count;
        if (s.count) {
            last = s;
            have_last = true;
        }
    }
    if (kiln_context_is_master(ctx)) {
        printf("records=%llu checksum=%016llx\n", (unsigned long long)total,
               (unsigned long long)checksum);
        fflush(stdout);
    }
    if (!have_bad)
        return EXIT_SORTED;
    if (kiln_context_is_master(ctx)) {
        char where[4200], keys[80] = "";
        locate(paths, npaths, total, bad_index, where, sizeof where);
        if (between) {
            char a[2 * KEY_BYTES + 1], b[2 * KEY_BYTES + 1];
            hex_key(bad.first_key, a);
            hex_key(prev_key, b);
            snprintf(keys, sizeof keys, " (key %s, previous key %s)", a, b);
        }
        fprintf(stderr,
                "kiln-valsort: not sorted: record %llu (%s%spartition %llu "
                "record %llu) has a smaller key than the record before it%s\n",
                (unsigned long long)bad_index, where, *where ? ", " : "",
                (unsigned long long)bad.partition,
                (unsigned long long)(between ? 0 : bad.first_bad), keys);
    }
    return EXIT_UNSORTED;
}

int main(int argc, char **argv)
{
    kiln_context *ctx = NULL;
    if (kiln_init(&argc, &argv, &ctx) != KILN_OK)
        return EXIT_TROUBLE;
    bool master = kiln_context_is_master(ctx);

    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, bad = 0;
    opterr = master;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            if (master)
                fputs(usage, stdout);
            kiln_finalize(&ctx);
            return EXIT_SORTED;
        }
        bad = 1;
    }
    if (!bad && optind >= argc) {
        if (master)
            fprintf(stderr, "kiln-valsort: no INPUT given\n");
        bad = 1;
    }
    if (bad) {
        if (master)
            fputs(usage, stderr);
        kiln_finalize(&ctx);
        return EXIT_TROUBLE;
    }

    kiln_dataset *records = NULL, *stats = NULL;
    kiln_collection *all = NULL;
    kiln_schema schema = kiln_schema_of(kiln_type_fixed(KEY_BYTES, NULL, NULL, NULL),
                                        kiln_type_fixed(VALUE_BYTES, NULL, NULL, NULL));
    kiln_partition_fns fns = {scan_open, scan_batch, scan_close};
    kiln_status st = kiln_binary_files(ctx, (const char *const *)argv + optind,
                                       (size_t)(argc - optind), schema, &records);
    if (st == KILN_OK)
        st = kiln_dataset_map_partitions(
            records,
            kiln_schema_of(KILN_T_U64, kiln_type_fixed(sizeof(part_stats), NULL, NULL, NULL)),
            fns, NULL, &stats);
    /* Every rank gets every partition's findings and reaches the same
     * verdict, so every rank exits with the same status. */
    if (st == KILN_OK)
        st = kiln_dataset_collect(stats, KILN_ALL_RANKS, &all);
    int rc = EXIT_TROUBLE;
    if (st == KILN_OK) {
        rc = verdict(ctx, kiln_collection_batch(all), argv + optind,
                     (size_t)(argc - optind));
        if (rc < 0) { /* the same on every rank */
            if (master)
                fprintf(stderr, "kiln-valsort: error: partition findings "
                                "collected out of order\n");
            rc = EXIT_TROUBLE;
        }
    } else {
        kiln_report(ctx, "kiln-valsort", st);
    }
    kiln_collection_destroy(&all);
    kiln_dataset_destroy(&stats);
    kiln_dataset_destroy(&records);
    kiln_finalize(&ctx);
    return rc;
}
