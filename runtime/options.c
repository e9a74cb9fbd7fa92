/* runtime/options.c: one table describes every option, so parsing, the
 * environment and --kiln-help cannot disagree. */
#include "runtime/options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime/error.h"

/* OPT_LIMIT: a size where 0 means "off"; OPT_TEXT: a string field. */
typedef enum { OPT_FLAG, OPT_SIZE, OPT_COUNT, OPT_CHOICE, OPT_LIMIT, OPT_TEXT } opt_type;

typedef struct option_spec {
    const char *name;        /* after "--kiln-" */
    const char *env;         /* environment variable */
    opt_type type;
    size_t offset;           /* field in kiln__options */
    const char *fallback;    /* default, as text (for --kiln-help) */
    const char *choices;     /* OPT_CHOICE: '|'-separated; index = value */
    const char *help;
} option_spec;

#define FIELD(f) offsetof(kiln__options, f)

static const option_spec specs[] = {
    {"help", "KILN_HELP", OPT_FLAG, FIELD(help), "no", NULL,
     "print these options and exit"},
    {"quiet", "KILN_QUIET", OPT_FLAG, FIELD(quiet), "no", NULL,
     "no progress or informational lines (errors are still printed)"},
    {"log-level", "KILN_LOG_LEVEL", OPT_CHOICE, FIELD(log_level), "info",
     "error|warn|info|debug", "how much the runtime logs"},
    {"progress", "KILN_PROGRESS", OPT_CHOICE, FIELD(progress), "auto",
     "auto|always|never",
     "live progress line (auto: only when the master's stderr is a terminal; "
     "otherwise one line per stage)"},
    {"split-bytes", "KILN_SPLIT_BYTES", OPT_SIZE, FIELD(split_bytes), "16M", NULL,
     "bytes of text input per partition (cut at line boundaries)"},
    {"partitions", "KILN_PARTITIONS", OPT_COUNT, FIELD(partitions), "16", NULL,
     "default partitions of parallelize and range; fixed, so results do not "
     "depend on the number of ranks"},
    {"batch-records", "KILN_BATCH_RECORDS", OPT_COUNT, FIELD(batch_records),
     "4096", NULL, "records per batch handed to a callback"},
    {"batch-bytes", "KILN_BATCH_BYTES", OPT_SIZE, FIELD(batch_bytes), "1M", NULL,
     "bytes per batch handed to a callback"},
    {"round-bytes", "KILN_ROUND_BYTES", OPT_SIZE, FIELD(round_bytes), "256M",
     NULL, "most bytes a rank sends in one shuffle exchange round"},
    {"combine-bytes", "KILN_COMBINE_BYTES", OPT_SIZE, FIELD(combine_bytes),
     "1G", NULL, "map-side combine tables are sent on past this size"},
    {"broadcast-bytes", "KILN_BROADCAST_BYTES", OPT_LIMIT, FIELD(broadcast_bytes),
     "10M", NULL, "a join side estimated below this is sent to every rank "
     "instead of shuffling both (0: never)"},
    {"master-works", "KILN_MASTER_WORKS", OPT_FLAG, FIELD(master_works), "yes",
     NULL, "rank 0 runs tasks as well as scheduling them"},
    {"checkpoint-dir", "KILN_CHECKPOINT_DIR", OPT_TEXT, FIELD(checkpoint_dir),
     "kiln-checkpoints", NULL,
     "directory of checkpoints (on a file system every rank sees)"},
    {"checkpoint", "KILN_CHECKPOINT", OPT_CHOICE, FIELD(checkpoint), "off",
     "off|stages", "stages: checkpoint every shuffle's output, so any job "
     "resumes after a crash"},
    {"checkpoint-compress", "KILN_CHECKPOINT_COMPRESS", OPT_CHOICE,
     FIELD(checkpoint_compress), "zstd", "none|zstd|deflate",
     "compression of checkpoint data"},
    {"checkpoint-level", "KILN_CHECKPOINT_LEVEL", OPT_LIMIT, FIELD(checkpoint_level),
     "0", NULL, "compression level (0: the compressor's default)"},
    {"resume", "KILN_RESUME", OPT_FLAG, FIELD(resume), "no", NULL,
     "load committed checkpoints whose signature matches instead of "
     "recomputing them"},
    {"fail-at", "KILN_FAIL_AT", OPT_TEXT, FIELD(fail_at), "", NULL,
     "tests: STAGE:RANK kills RANK with SIGKILL when stage STAGE starts "
     "(ignored with --kiln-resume)"},
    {"signals", "KILN_SIGNALS", OPT_FLAG, FIELD(signals), "yes", NULL,
     "on SIGTERM or SIGUSR1, finish the stage, checkpoint live datasets and "
     "exit 75"},
};

enum { NSPECS = sizeof specs / sizeof specs[0] };

bool kiln__options_parse_size(const char *text, uint64_t *out)
{
    /* A digit first: strtoull would accept " -5" or "+5" (and wrap "-5"). */
    if (!text || *text < '0' || *text > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text)
        return false;
    unsigned shift = 0;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: return false;
    }
    if (shift && *end == 'i') /* "KiB": the 'i' only after a unit */
        end++;
    if (*end == 'B')
        end++;
    if (*end != '\0')
        return false;
    if (shift && v > (UINT64_MAX >> shift))
        return false;
    *out = (uint64_t)v << shift;
    return true;
}

static bool parse_flag(const char *text, bool *out)
{
    static const char *yes[] = {"1", "yes", "true", "on"};
    static const char *no[] = {"0", "no", "false", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(text, yes[i])) { *out = true; return true; }
        if (!strcasecmp(text, no[i])) { *out = false; return true; }
    }
    return false;
}

static bool parse_choice(const char *choices, const char *text, int *out)
{
    size_t len = strlen(text);
    int index = 0;
    for (const char *c = choices; *c; index++) {
        const char *bar = strchr(c, '|');
        size_t n = bar ? (size_t)(bar - c) : strlen(c);
        if (n == len && !strncasecmp(c, text, n)) {
            *out = index;
            return true;
        }
        c += n + (bar ? 1 : 0);
    }
    return false;
}

static kiln_status apply(kiln__options *o, const option_spec *s,
                         const char *value, const char *source)
{
    /* Parse into a local first: a rejected value leaves the option as it was. */
    char *field = (char *)o + s->offset;
    bool ok = false, flag = true;
    uint64_t size = 0;
    int choice = 0;
    switch (s->type) {
    case OPT_FLAG:
        ok = !value || parse_flag(value, &flag);
        if (ok)
            *(bool *)field = flag;
        break;
    case OPT_SIZE:
    case OPT_COUNT:
        ok = value && kiln__options_parse_size(value, &size) && size > 0;
        if (ok)
            *(uint64_t *)field = size;
        break;
    case OPT_LIMIT:
        ok = value && kiln__options_parse_size(value, &size);
        if (ok)
            *(uint64_t *)field = size;
        break;
    case OPT_TEXT: {
        /* The field is a char array; its size is the gap to the next one. */
        size_t cap = s->offset == FIELD(checkpoint_dir) ? sizeof o->checkpoint_dir
                                                          : sizeof o->fail_at;
        ok = value && strlen(value) < cap;
        if (ok)
            snprintf(field, cap, "%s", value);
        break;
    }
    case OPT_CHOICE:
        ok = value && parse_choice(s->choices, value, &choice);
        if (ok)
            *(int *)field = choice;
        break;
    }
    if (!ok)
        return KILN_ERROR(KILN_ERR_INVAL, "%s: bad value '%s' for --kiln-%s%s%s",
                          source, value ? value : "", s->name,
                          s->choices ? "; expected " : "",
                          s->choices ? s->choices : "");
    return KILN_OK;
}

static const option_spec *find(const char *name, size_t len)
{
    for (size_t i = 0; i < NSPECS; i++)
        if (strlen(specs[i].name) == len && !strncmp(specs[i].name, name, len))
            return &specs[i];
    return NULL;
}

kiln_status kiln__options_set(kiln__options *o, const char *name,
                              const char *value, const char *source)
{
    const option_spec *s = find(name, strlen(name));
    if (!s)
        return KILN_ERROR(KILN_ERR_INVAL,
                          "%s: unknown option --kiln-%s (see --kiln-help)",
                          source, name);
    return apply(o, s, value, source);
}

void kiln__options_defaults(kiln__options *o)
{
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < NSPECS; i++) {
        kiln_status st = apply(o, &specs[i], specs[i].fallback, "default");
        (void)st; /* the table's defaults are valid; test_options checks it */
    }
}

/* One pass over argv. With `strip`, Kiln's arguments are removed in place;
 * without, argv is only read. */
static kiln_status scan_args(kiln__options *o, int argc, char **args,
                             bool strip, int *kept_out)
{
    kiln_status st;
    int kept = 1;
    for (int i = 1; i < argc; i++) {
        const char *arg = args[i];
        if (!strcmp(arg, "--")) { /* the job's own arguments follow */
            for (; i < argc; i++)
                if (strip)
                    args[kept++] = args[i];
            break;
        }
        if (strncmp(arg, "--kiln-", 7)) {
            if (strip)
                args[kept] = args[i];
            kept++;
            continue;
        }
        const char *name = arg + 7;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const option_spec *s = find(name, len);
        if (!s)
            return KILN_ERROR(KILN_ERR_INVAL,
                              "unknown option %s (see --kiln-help)", arg);
        const char *value = eq ? eq + 1 : NULL;
        if (!value && s->type != OPT_FLAG) {
            if (i + 1 >= argc)
                return KILN_ERROR(KILN_ERR_INVAL, "option %s needs a value", arg);
            value = args[++i];
        }
        KILN_CHECK(st, apply(o, s, value, "command line"), fail);
    }
    *kept_out = kept;
    return KILN_OK;
fail:
    return st;
}

kiln_status kiln__options_parse(kiln__options *o, int *argc, char ***argv)
{
    /* Everything is applied to a copy and argv is read-only until every
     * option proved valid: a failed parse changes neither. */
    kiln__options next = *o;
    kiln_status st;
    int kept = 0;
    for (size_t i = 0; i < NSPECS; i++) {
        const char *value = getenv(specs[i].env);
        if (value && *value)
            KILN_CHECK(st, apply(&next, &specs[i], value, specs[i].env), fail);
    }
    /* argc 0 (an empty argv) has no argv[1] to write the NULL into. */
    bool have_args = argc && argv && *argv && *argc >= 1;
    if (have_args)
        KILN_CHECK(st, scan_args(&next, *argc, *argv, false, &kept), fail);
    *o = next;
    if (have_args) {
        KILN_CHECK(st, scan_args(&next, *argc, *argv, true, &kept), fail);
        *argc = kept;
        (*argv)[kept] = NULL;
    }
    return KILN_OK;
fail:
    return st;
}

void kiln__options_help(FILE *f)
{
    fprintf(f, "Kiln %s runtime options (also read from the environment; "
               "the command line wins):\n", KILN_VERSION_STRING);
    for (size_t i = 0; i < NSPECS; i++) {
        const option_spec *s = &specs[i];
        char left[64];
        snprintf(left, sizeof left, "--kiln-%s%s", s->name,
                 s->type == OPT_FLAG ? "[=yes|no]"
                 : s->type == OPT_CHOICE ? "=WORD"
                 : s->type == OPT_TEXT ? "=TEXT" : "=N");
        fprintf(f, "  %-28s %-24s %s (default %s%s%s)\n", left, s->env,
                s->help, *s->fallback ? s->fallback : "none",
                s->choices ? "; one of " : "", s->choices ? s->choices : "");
    }
    fprintf(f, "Sizes take K, M, G or T suffixes (powers of 1024).\n");
}
