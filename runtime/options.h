/* runtime/options.h: the --kiln-* command-line options and KILN_* variables.
 * Owns:     the option table (names, defaults, help text) and parsing.
 * Uses:     nothing but libc.
 * Must not: communicate: every rank parses its own argv; mpirun gives every
 *           rank the same arguments and environment.
 * Precedence: built-in default < KILN_* environment variable < --kiln-*. */
#ifndef KILN_RUNTIME_OPTIONS_H
#define KILN_RUNTIME_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kiln.h"

typedef enum { KILN__PROGRESS_AUTO, KILN__PROGRESS_ALWAYS, KILN__PROGRESS_NEVER } kiln__progress_mode;
typedef enum { KILN__CHECKPOINT_OFF, KILN__CHECKPOINT_STAGES } kiln__checkpoint_mode;
typedef enum { KILN__COMPRESS_NONE, KILN__COMPRESS_ZSTD, KILN__COMPRESS_DEFLATE } kiln__compress_mode;
typedef enum { KILN__LOG_ERROR, KILN__LOG_WARN, KILN__LOG_INFO, KILN__LOG_DEBUG } kiln__log_level;

typedef struct kiln__options {
    bool help;                   /* --kiln-help was given */
    bool quiet;                  /* no progress or info lines */
    int log_level;               /* kiln__log_level */
    int progress;                /* kiln__progress_mode */
    uint64_t split_bytes;        /* text input split size, bytes */
    uint64_t partitions;         /* default partitions for parallelize/range */
    uint64_t batch_records;      /* records per batch in a pipeline */
    uint64_t batch_bytes;        /* bytes per batch in a pipeline */
    uint64_t round_bytes;        /* shuffle bytes a rank sends per round */
    uint64_t combine_bytes;      /* map-side combine tables flushed past this */
    uint64_t broadcast_bytes;    /* joins: broadcast a side estimated below this */
    bool master_works;           /* rank 0 also runs tasks */
    char checkpoint_dir[1024];   /* where checkpoints live (shared FS) */
    int checkpoint;              /* kiln__checkpoint_mode */
    int checkpoint_compress;     /* kiln__compress_mode */
    uint64_t checkpoint_level;   /* compression level; 0: the default */
    bool resume;                 /* load committed checkpoints */
    char fail_at[64];            /* tests: "STAGE:RANK" kills RANK at STAGE */
    bool signals;                /* checkpoint and exit on SIGTERM/SIGUSR1 */
} kiln__options;

void kiln__options_defaults(kiln__options *o);

/* Apply KILN_* variables, then remove and apply --kiln-* arguments from
 * argv (argv[0] is kept). An unknown --kiln-* option or a bad value is
 * KILN_ERR_INVAL with a message naming it. argc/argv may be NULL. */
kiln_status kiln__options_parse(kiln__options *o, int *argc, char ***argv);

/* Same, for one "name=value" pair without the "--kiln-" prefix (tests). */
kiln_status kiln__options_set(kiln__options *o, const char *name,
                              const char *value, const char *source);

/* Print every option with its variable, default and help text. */
void kiln__options_help(FILE *f);

/* Parse "123", "64K", "16M", "2G" (powers of 1024). */
bool kiln__options_parse_size(const char *text, uint64_t *out);

#endif
