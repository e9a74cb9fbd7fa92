/* kiln.h: the public C API of Kiln, a distributed compute framework for MPI.
 *
 * A Kiln job is an ordinary SPMD MPI program: every rank runs main(), builds
 * the same lazy datasets in the same order, and calls the same actions.
 * Rank 0 is the master: it plans each action into stages, splits inputs into
 * partitions and hands tasks out; data moves rank-to-rank, never through it.
 *
 * Conventions used throughout this header:
 *  - Every call that can fail returns a kiln_status: 0 is success, errors are
 *    negative. A failed call has no side effects on its out-parameters.
 *  - "Collective" means every rank of the context must make the call, in the
 *    same order relative to other collective calls. Dataset constructors are
 *    collective in this sense but do no communication; actions communicate.
 *    A collective call returns the same status on every rank: an error on one
 *    rank reaches all of them, and kiln_context_last_error() names the rank,
 *    file and line where it started.
 *  - Pointer ownership uses four words: *borrowed* (Kiln reads it during the
 *    call only), *owned by the caller*, *owned by Kiln*, *consumed* (Kiln takes
 *    it over). Destroy functions take the handle's address, set it to NULL and
 *    accept NULL.
 *  - Callbacks receive whole batches of records, never single records, plus
 *    the `void *arg` the caller registered, which Kiln never reads.
 *
 * See docs/api.md for a complete example job.
 */
#ifndef KILN_H
#define KILN_H

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define KILN_API __attribute__((visibility("default")))
#define KILN_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define KILN_API
#define KILN_PRINTF(fmt, args)
#endif

#define KILN_VERSION_MAJOR 0
#define KILN_VERSION_MINOR 1
#define KILN_VERSION_PATCH 0
#define KILN_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------------ */
/* Status codes                                                              */
/* ------------------------------------------------------------------------ */

/* The status enum and kiln_strerror() are both generated from this list, so
 * they cannot drift. A released code keeps its number; new codes go last. */
#define KILN_STATUS_LIST(X)                                                   \
    X(KILN_OK, 0, "success")                                                  \
    X(KILN_ERR_NOMEM, -1, "out of memory")                                    \
    X(KILN_ERR_INVAL, -2, "invalid argument")                                 \
    X(KILN_ERR_MPI, -3, "MPI call failed")                                    \
    X(KILN_ERR_IO, -4, "file or HDF5 operation failed")                       \
    X(KILN_ERR_USER, -5, "a user callback reported failure")                  \
    X(KILN_ERR_PARSE, -6, "malformed input")                                  \
    X(KILN_ERR_EXISTS, -7, "output already exists")                           \
    X(KILN_ERR_EMPTY, -8, "dataset is empty")                                 \
    X(KILN_ERR_LIMIT, -9, "a size limit was exceeded")                        \
    X(KILN_ERR_STATE, -10, "call not valid in this state")

typedef enum kiln_status {
#define KILN__STATUS_ENUM(name, value, text) name = value,
    KILN_STATUS_LIST(KILN__STATUS_ENUM)
#undef KILN__STATUS_ENUM
} kiln_status;

/* A static string describing `status`; never NULL. */
KILN_API const char *kiln_strerror(kiln_status status);

/* Record an error for the calling thread and return `code`, so a callback can
 * write `return kiln_error(KILN_ERR_PARSE, "%s: bad field", where);`. The
 * message is what the job prints when the action fails. Not collective. */
KILN_API kiln_status kiln_error(kiln_status code, const char *fmt, ...)
    KILN_PRINTF(2, 3);

/* ------------------------------------------------------------------------ */
/* Context                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct kiln_context kiln_context; /* opaque; one per communicator */

/* Start Kiln on MPI_COMM_WORLD, calling MPI_Init_thread first if MPI is not
 * yet initialised (a job started without mpirun runs as a one-rank MPI
 * singleton). Parses and removes `--kiln-` options from *argc and *argv, and
 * reads KILN_ environment variables; options win over the environment.
 * With --kiln-help the master prints every option and the process exits 0.
 * Collective over MPI_COMM_WORLD.
 *   argc, argv [in,out] borrowed; may be NULL. Kiln options are removed in
 *                       place (the array is reordered, not reallocated).
 *   out        [out]    on KILN_OK a new context owned by the caller; release
 *                       it with kiln_finalize(). Untouched on error. */
KILN_API kiln_status kiln_init(int *argc, char ***argv, kiln_context **out);

/* As kiln_init(), on a private duplicate of `comm`; MPI must be initialised.
 * Collective on comm. comm: borrowed, duplicated, never used again. */
KILN_API kiln_status kiln_init_comm(MPI_Comm comm, int *argc, char ***argv,
                                    kiln_context **out);

/* Destroy the context and every buffer it owns; finalises MPI when kiln_init()
 * initialised it. Datasets still alive are invalid afterwards and must not be
 * used (destroying them is still allowed and does nothing). Collective. */
KILN_API kiln_status kiln_finalize(kiln_context **ctx);

KILN_API int kiln_context_rank(const kiln_context *ctx);
KILN_API int kiln_context_size(const kiln_context *ctx);
KILN_API bool kiln_context_is_master(const kiln_context *ctx);

/* The message of the last failed call on this context: which rank, file and
 * line reported it and why. Owned by Kiln, valid until the next call on ctx.
 * Identical on every rank after a failed collective call. */
KILN_API const char *kiln_context_last_error(const kiln_context *ctx);

/* The rank where the last failed collective call failed, or -1. */
KILN_API int kiln_context_failed_rank(const kiln_context *ctx);

/* Print "PREFIX: error: MESSAGE" to stderr on the master only (every rank has
 * the same message after a collective failure). Not collective. */
KILN_API void kiln_report(const kiln_context *ctx, const char *prefix,
                          kiln_status status);

/* Print an informational line to stderr on the master unless --kiln-quiet.
 * Not collective. */
KILN_API void kiln_log(const kiln_context *ctx, const char *fmt, ...)
    KILN_PRINTF(2, 3);

/* ------------------------------------------------------------------------ */
/* Record types                                                              */
/* ------------------------------------------------------------------------ */

typedef enum kiln_kind {
    KILN_KIND_NONE = 0, /* no key: a dataset of plain values */
    KILN_KIND_U64,      /* uint64_t, 8 bytes in host order */
    KILN_KIND_I64,      /* int64_t */
    KILN_KIND_F64,      /* double */
    KILN_KIND_STRING,   /* variable-length bytes, written as text */
    KILN_KIND_BYTES,    /* variable-length bytes, written as hex */
    KILN_KIND_FIXED,    /* user-defined, exactly `size` bytes */
    KILN_KIND_LIST,     /* group_by_key values: a sequence of `elem` values */
    KILN_KIND_PAIR,     /* join and cogroup values: a left and a right part */
    KILN_KIND_U32       /* uint32_t: only a value of kiln_graph_gather() (half
                           the bytes a pull reads at random); datasets
                           refuse it */
} kiln_kind;

/* One side of a PAIR: a scalar kind, or a LIST of elem_kind. */
typedef struct kiln_part {
    kiln_kind kind;
    size_t size;         /* bytes when fixed, else 0 */
    kiln_kind elem_kind; /* LIST only */
    size_t elem_size;    /* LIST only: element size, 0 if variable */
} kiln_part;

/* Hash `size` bytes of one fixed-size record. Must give the same result on
 * every rank for equal records. `arg` is kiln_type.arg. */
typedef uint64_t (*kiln_hash_fn)(const void *rec, size_t size, void *arg);
/* Order two fixed-size records: <0, 0, >0. */
typedef int (*kiln_compare_fn)(const void *a, const void *b, size_t size,
                               void *arg);

/* A key or value type. Plain values: build with the KILN_T_* macros or
 * kiln_type_fixed(). Fixed-size kinds (U64, I64, F64, FIXED) are stored flat,
 * with no per-record header. */
typedef struct kiln_type {
    kiln_kind kind;
    size_t size;             /* bytes per record for fixed kinds, else 0 */
    kiln_hash_fn hash;       /* FIXED only, optional: default hashes bytes */
    kiln_compare_fn compare; /* FIXED only, optional: default memcmp */
    void *arg;               /* passed to hash and compare; borrowed */
    kiln_kind elem_kind;     /* LIST only: the kind of each element */
    size_t elem_size;        /* LIST only: element size, 0 if variable */
    kiln_part left, right;   /* PAIR only: what each side holds */
} kiln_type;

#define KILN_T_NONE ((kiln_type){.kind = KILN_KIND_NONE})
#define KILN_T_U64 ((kiln_type){.kind = KILN_KIND_U64, .size = 8})
#define KILN_T_I64 ((kiln_type){.kind = KILN_KIND_I64, .size = 8})
#define KILN_T_F64 ((kiln_type){.kind = KILN_KIND_F64, .size = 8})
#define KILN_T_STRING ((kiln_type){.kind = KILN_KIND_STRING})
#define KILN_T_BYTES ((kiln_type){.kind = KILN_KIND_BYTES})

static inline kiln_type kiln_type_fixed(size_t size, kiln_hash_fn hash,
                                        kiln_compare_fn compare, void *arg)
{
    kiln_type t;
    memset(&t, 0, sizeof t);
    t.kind = KILN_KIND_FIXED;
    t.size = size;
    t.hash = hash;
    t.compare = compare;
    t.arg = arg;
    return t;
}

/* The key and value types of a dataset. */
typedef struct kiln_schema {
    kiln_type key;   /* KILN_T_NONE for a dataset of plain values */
    kiln_type value;
} kiln_schema;

static inline kiln_schema kiln_schema_of(kiln_type key, kiln_type value)
{
    kiln_schema s = {key, value};
    return s;
}

/* ------------------------------------------------------------------------ */
/* Batches: read-only views of records                                        */
/* ------------------------------------------------------------------------ */

typedef struct kiln_origin kiln_origin; /* where a batch's records were read */

/* A read-only view of n records, valid only during the callback that receives
 * it (borrowed). Columns are flat: a fixed-size column holds n * size bytes;
 * a variable-size column holds a byte heap plus n + 1 offsets, record i being
 * heap[offsets[i] .. offsets[i + 1]). Offsets need not start at 0. */
typedef struct kiln_batch {
    size_t n;                       /* number of records */
    const unsigned char *keys;      /* NULL when the key kind is NONE */
    const uint64_t *key_offsets;    /* variable-size keys only, else NULL */
    size_t key_size;                /* fixed key size, 0 if variable/none */
    const unsigned char *values;
    const uint64_t *value_offsets;  /* variable-size values only, else NULL */
    size_t value_size;              /* fixed value size, 0 if variable */
    uint32_t partition;             /* the partition these records belong to */
    const kiln_origin *origin;      /* set when read straight from a file */
} kiln_batch;

/* Key of record i: a pointer into the batch and its length in bytes. */
static inline const void *kiln_batch_key(const kiln_batch *b, size_t i,
                                         size_t *len)
{
    if (b->key_offsets) {
        *len = (size_t)(b->key_offsets[i + 1] - b->key_offsets[i]);
        return b->keys + b->key_offsets[i];
    }
    *len = b->key_size;
    return b->keys + i * b->key_size;
}

static inline const void *kiln_batch_value(const kiln_batch *b, size_t i,
                                           size_t *len)
{
    if (b->value_offsets) {
        *len = (size_t)(b->value_offsets[i + 1] - b->value_offsets[i]);
        return b->values + b->value_offsets[i];
    }
    *len = b->value_size;
    return b->values + i * b->value_size;
}

static inline uint64_t kiln_batch_key_u64(const kiln_batch *b, size_t i)
{
    uint64_t v;
    memcpy(&v, b->keys + i * 8, 8);
    return v;
}
static inline int64_t kiln_batch_key_i64(const kiln_batch *b, size_t i)
{
    int64_t v;
    memcpy(&v, b->keys + i * 8, 8);
    return v;
}
static inline double kiln_batch_key_f64(const kiln_batch *b, size_t i)
{
    double v;
    memcpy(&v, b->keys + i * 8, 8);
    return v;
}
static inline uint64_t kiln_batch_value_u64(const kiln_batch *b, size_t i)
{
    uint64_t v;
    memcpy(&v, b->values + i * 8, 8);
    return v;
}
static inline int64_t kiln_batch_value_i64(const kiln_batch *b, size_t i)
{
    int64_t v;
    memcpy(&v, b->values + i * 8, 8);
    return v;
}
static inline double kiln_batch_value_f64(const kiln_batch *b, size_t i)
{
    double v;
    memcpy(&v, b->values + i * 8, 8);
    return v;
}

/* Describe record i of a batch for an error message, as "FILE:LINE" when the
 * batch came straight from a text file (the line number is counted only
 * now, by reading the file), "FILE: record N (byte B)" from a binary file
 * (N counted from 1), else "partition P record I". Writes at most
 * `size` bytes including the NUL; returns `buf`. Not collective. */
KILN_API const char *kiln_batch_where(const kiln_batch *b, size_t i, char *buf,
                                      size_t size);

/* Walking the values of a LIST (group_by_key) value: `list`/`len` as returned
 * by kiln_batch_value(). kiln_list_next() returns false at the end. */
typedef struct kiln_list_iter {
    const unsigned char *pos, *end;
    size_t elem_size; /* 0: elements are length-prefixed (uint64_t) */
} kiln_list_iter;

static inline kiln_list_iter kiln_list_begin(const void *list, size_t len,
                                             size_t elem_size)
{
    kiln_list_iter it = {(const unsigned char *)list,
                         (const unsigned char *)list + len, elem_size};
    return it;
}

static inline bool kiln_list_next(kiln_list_iter *it, const void **elem,
                                  size_t *len)
{
    if (it->pos >= it->end)
        return false;
    if (it->elem_size) {
        *elem = it->pos;
        *len = it->elem_size;
        it->pos += it->elem_size;
    } else {
        uint64_t n;
        memcpy(&n, it->pos, 8);
        *elem = it->pos + 8;
        *len = (size_t)n;
        it->pos += 8 + n;
    }
    return true;
}

/* Reading a PAIR value (join, cogroup): each side is present or absent (an
 * outer join's missing side). Encoding: two uint64_t lengths (UINT64_MAX
 * for an absent side), then the left bytes, then the right bytes. */
typedef struct kiln_pair {
    const void *left, *right;
    size_t left_len, right_len;
    bool has_left, has_right;
} kiln_pair;

static inline kiln_pair kiln_pair_get(const void *value, size_t len)
{
    kiln_pair p;
    uint64_t l, r;
    const unsigned char *v = (const unsigned char *)value;
    (void)len;
    memcpy(&l, v, 8);
    memcpy(&r, v + 8, 8);
    p.has_left = l != UINT64_MAX;
    p.has_right = r != UINT64_MAX;
    p.left_len = p.has_left ? (size_t)l : 0;
    p.right_len = p.has_right ? (size_t)r : 0;
    p.left = v + 16;
    p.right = v + 16 + p.left_len;
    return p;
}

/* ------------------------------------------------------------------------ */
/* Emitters: where callbacks produce records                                 */
/* ------------------------------------------------------------------------ */

typedef struct kiln_emitter kiln_emitter; /* opaque; owned by Kiln */

/* Append one record. key/value are borrowed (copied before return); their
 * lengths must match fixed-size types. For a dataset of plain values pass
 * key = NULL, key_len = 0. Emitting may run downstream work, so a failure
 * there comes back here: return it from the callback. */
KILN_API kiln_status kiln_emit(kiln_emitter *out, const void *key,
                               size_t key_len, const void *value,
                               size_t value_len);

/* key_by: emit the key of each input record in order (exactly one per
 * record); map_values: emit the value of each input record in order. */
KILN_API kiln_status kiln_emit_key(kiln_emitter *out, const void *key,
                                   size_t len);
KILN_API kiln_status kiln_emit_value(kiln_emitter *out, const void *value,
                                     size_t len);

/* Pass record i of `b` through unchanged (b must have the output schema). */
KILN_API kiln_status kiln_emit_record(kiln_emitter *out, const kiln_batch *b,
                                      size_t i);

static inline kiln_status kiln_emit_u64(kiln_emitter *out, uint64_t key,
                                        uint64_t value)
{
    return kiln_emit(out, &key, 8, &value, 8);
}

/* ------------------------------------------------------------------------ */
/* Callbacks                                                                 */
/* ------------------------------------------------------------------------ */

/* map, flat_map, key_by, map_values: called once per input batch. `in` is
 * borrowed; `out` is owned by Kiln. map must emit exactly in->n records;
 * flat_map any number. Return KILN_OK, or an error to fail the action on
 * every rank (use kiln_error() to say why). */
typedef kiln_status (*kiln_map_fn)(const kiln_batch *in, kiln_emitter *out,
                                   void *arg);

/* filter: set keep[i] to 1 to keep record i, 0 to drop it. keep has in->n
 * bytes, owned by Kiln, zeroed on entry. */
typedef kiln_status (*kiln_filter_fn)(const kiln_batch *in, uint8_t *keep,
                                      void *arg);

/* map_partitions: open is called before a partition's first batch and may
 * set *state; batch is called for each batch; close is called once after the
 * last batch and may emit final records. When the partition fails or stops
 * early, close is still called with out == NULL, only to release state. */
typedef struct kiln_partition_fns {
    kiln_status (*open)(uint32_t partition, void **state, void *arg);
    kiln_status (*batch)(const kiln_batch *in, kiln_emitter *out, void *state,
                         void *arg);
    kiln_status (*close)(kiln_emitter *out, void *state, void *arg);
} kiln_partition_fns;

/* Reduce operators. The built-in ones apply to U64, I64 and F64 values;
 * KILN_OP_CUSTOM uses a kiln_reduce_fn over any fixed-size value. */
typedef enum kiln_op {
    KILN_OP_CUSTOM = 0,
    KILN_OP_SUM,
    KILN_OP_MIN,
    KILN_OP_MAX
} kiln_op;

/* Custom reduction over a batch: for i in 0..n-1, in order, fold
 * values + i * value_size into the accumulator acc[i] (value_size bytes).
 * Several acc[i] may point at the same accumulator. The function must be
 * associative and commutative. */
typedef kiln_status (*kiln_reduce_fn)(void *const *acc,
                                      const unsigned char *values, size_t n,
                                      size_t value_size, void *arg);

/* aggregate: seq folds a batch into a partition's accumulator; comb merges
 * `other` into `acc`. Both accumulators are `size` bytes, borrowed. */
typedef kiln_status (*kiln_seq_fn)(void *acc, const kiln_batch *in, void *arg);
typedef kiln_status (*kiln_comb_fn)(void *acc, const void *other, void *arg);

/* foreach: called with every batch, on whichever rank computes it. */
typedef kiln_status (*kiln_foreach_fn)(const kiln_batch *in, void *arg);

/* ------------------------------------------------------------------------ */
/* Datasets: sources and transformations (lazy)                              */
/* ------------------------------------------------------------------------ */

typedef struct kiln_dataset kiln_dataset; /* opaque, lazy, immutable */

/* Every constructor below is collective (same calls, same order on every
 * rank) but communicates only where noted; it records lineage and returns a
 * new handle owned by the caller, released with kiln_dataset_destroy(). A
 * derived dataset keeps what it needs of its parents alive, so parents may
 * be destroyed at once. Work happens only when an action runs. */
KILN_API void kiln_dataset_destroy(kiln_dataset **ds);

/* Lines of text files: plain values of kind STRING, without the line
 * terminator ("\n", or "\r\n"). `path` is a file, a directory (its regular
 * files whose names do not start with '.' or '_', in name order) or a glob
 * pattern. Files are split into partitions by byte ranges, cut at line
 * boundaries (--kiln-split-bytes); the master lists and splits them when the
 * first action runs, so a missing file fails that action.
 *   path: borrowed. */
KILN_API kiln_status kiln_text_file(kiln_context *ctx, const char *path,
                                    kiln_dataset **out);
/* As kiln_text_file() over several paths, in order. paths: borrowed. */
KILN_API kiln_status kiln_text_files(kiln_context *ctx,
                                     const char *const *paths, size_t npaths,
                                     kiln_dataset **out);

/* Fixed-size records from binary files (a file, a directory or a glob, as
 * for text): each record is the key's bytes then the value's, both of the
 * schema's fixed-size types (e.g. TeraSort's 10-byte key and 90-byte
 * value). Files are cut at record boundaries near --kiln-split-bytes; a
 * file whose size is not a multiple of the record size is an error naming
 * it. paths: borrowed. */
KILN_API kiln_status kiln_binary_files(kiln_context *ctx,
                                       const char *const *paths, size_t npaths,
                                       kiln_schema schema, kiln_dataset **out);

/* A dataset of the master's records in `in` (other ranks may pass NULL):
 * broadcast once, now (this call communicates), then cut into `nparts`
 * partitions of consecutive records (0: --kiln-partitions).
 *   in: borrowed; copied. */
KILN_API kiln_status kiln_parallelize(kiln_context *ctx, kiln_schema schema,
                                      const kiln_batch *in, uint32_t nparts,
                                      kiln_dataset **out);

/* Plain I64 values start, start + step, ... below end (above it when step is
 * negative), in nparts partitions (0: --kiln-partitions). */
KILN_API kiln_status kiln_range(kiln_context *ctx, int64_t start, int64_t end,
                                int64_t step, uint32_t nparts,
                                kiln_dataset **out);

/* Narrow transformations: fused into one pass per partition, no shuffle. */
KILN_API kiln_status kiln_dataset_map(kiln_dataset *ds, kiln_schema out_schema,
                                      kiln_map_fn fn, void *arg,
                                      kiln_dataset **out);
KILN_API kiln_status kiln_dataset_flat_map(kiln_dataset *ds,
                                           kiln_schema out_schema,
                                           kiln_map_fn fn, void *arg,
                                           kiln_dataset **out);
KILN_API kiln_status kiln_dataset_filter(kiln_dataset *ds, kiln_filter_fn fn,
                                         void *arg, kiln_dataset **out);
KILN_API kiln_status kiln_dataset_map_partitions(kiln_dataset *ds,
                                                 kiln_schema out_schema,
                                                 kiln_partition_fns fns,
                                                 void *arg,
                                                 kiln_dataset **out);
/* New key per record: fn emits exactly one key per input record with
 * kiln_emit_key(); each record keeps its value and its old key is dropped
 * (for plain values this is Spark's keyBy: x becomes (f(x), x)). */
KILN_API kiln_status kiln_dataset_key_by(kiln_dataset *ds, kiln_type key_type,
                                         kiln_map_fn fn, void *arg,
                                         kiln_dataset **out);
/* New value per record (fn emits them with kiln_emit_value()), same key. */
KILN_API kiln_status kiln_dataset_map_values(kiln_dataset *ds,
                                             kiln_type value_type,
                                             kiln_map_fn fn, void *arg,
                                             kiln_dataset **out);
/* a's partitions followed by b's; the schemas must be equal. */
KILN_API kiln_status kiln_dataset_union(kiln_dataset *a, kiln_dataset *b,
                                        kiln_dataset **out);

/* Wide transformations: a shuffle, and so a stage boundary. nparts is the
 * number of output partitions (0: the larger of the parent's partition count
 * and the number of ranks). Records are hash-partitioned by key. */

/* Merge the values of each key with `op` (or fn when op is KILN_OP_CUSTOM),
 * combining on the map side first. Values must be fixed-size. Built-in
 * operators give the same bits at any rank count: for KILN_OP_SUM of F64
 * values each input partition's sum of a key is taken in record order,
 * and these partial sums are added in ascending order of their bytes.
 * A custom fn must be associative and commutative; floating-point
 * arithmetic in it may round differently with the number of ranks. */
KILN_API kiln_status kiln_dataset_reduce_by_key(kiln_dataset *ds, kiln_op op,
                                                kiln_reduce_fn fn, void *arg,
                                                uint32_t nparts,
                                                kiln_dataset **out);
/* One record per key whose value is the LIST of all its values (any number:
 * a key is never cut short by a buffer size). Order within a list is not
 * defined. */
KILN_API kiln_status kiln_dataset_group_by_key(kiln_dataset *ds,
                                               uint32_t nparts,
                                               kiln_dataset **out);
/* One copy of each distinct (key, value) record. */
KILN_API kiln_status kiln_dataset_distinct(kiln_dataset *ds, uint32_t nparts,
                                           kiln_dataset **out);

/* ---- partitioning and order ---- */

typedef enum kiln_partitioner {
    KILN_PARTITION_HASH = 0, /* by a hash of the key (reduce_by_key's) */
    KILN_PARTITION_RANGE     /* by key order: sampled splitters, as sort */
} kiln_partitioner;

/* Records moved to partitions by key with the given partitioner; records
 * keep their order of arrival within a partition. */
KILN_API kiln_status kiln_dataset_partition_by(kiln_dataset *ds,
                                               kiln_partitioner how,
                                               uint32_t nparts,
                                               kiln_dataset **out);
/* Spread records evenly over nparts partitions (any dataset, keyed or not):
 * record i of input partition p goes to partition (p + i) % nparts. */
KILN_API kiln_status kiln_dataset_repartition(kiln_dataset *ds, uint32_t nparts,
                                              kiln_dataset **out);
/* Fewer partitions without a shuffle: output partition q is input
 * partitions [q * P / nparts, (q + 1) * P / nparts) one after the other.
 * With nparts >= P this is the dataset itself (use repartition to grow).
 * Partitions held on different ranks (a shuffle's output, a cache) cannot
 * be read by one task: the action fails with KILN_ERR_STATE; ask the
 * shuffle before for fewer partitions instead. */
KILN_API kiln_status kiln_dataset_coalesce(kiln_dataset *ds, uint32_t nparts,
                                           kiln_dataset **out);

/* Order of keys: the kind's natural order (numbers by value, STRING/BYTES
 * and FIXED by bytes, shorter first on a common prefix), the key type's
 * compare function when it has one, or `compare` when given (arg passed to
 * it). Records with equal keys are ordered by value bytes, so a sort is the
 * same at any number of ranks; descending reverses the whole order, ties
 * included. */
typedef struct kiln_order {
    bool descending;
    kiln_compare_fn compare; /* optional, overrides the key type's */
    void *arg;
} kiln_order;

/* Globally sorted: partition 0 holds the first keys, and each partition is
 * sorted. The master gathers a sample of keys from every rank and picks
 * splitters; ranks then exchange records and sort their partitions (radix
 * sort for U64, I64, F64 and FIXED keys without a compare function). A key
 * shared by many records is split across partitions by value.
 *   order: borrowed, may be NULL (ascending). */
KILN_API kiln_status kiln_dataset_sort_by_key(kiln_dataset *ds,
                                              const kiln_order *order,
                                              uint32_t nparts,
                                              kiln_dataset **out);

/* ---- joins (values become PAIRs: read them with kiln_pair_get) ---- */

typedef enum kiln_join {
    KILN_JOIN_INNER = 0,
    KILN_JOIN_LEFT_OUTER,
    KILN_JOIN_RIGHT_OUTER,
    KILN_JOIN_FULL_OUTER
} kiln_join;

/* (k, v) in a and (k, w) in b give (k, PAIR(v, w)) for every matching pair;
 * outer joins keep unmatched records with the other side absent. The keys'
 * types must be equal. When one side's input is smaller than
 * --kiln-broadcast-bytes (estimated from the inputs it reads), it is sent
 * to every rank and the other side is joined where it is, without a
 * shuffle (not for the side an outer join must keep, and never when
 * nparts is given: it asks for a partitioning); otherwise both are
 * hash-partitioned into nparts partitions (0: the larger side's count).
 * The job log says which strategy ran. */
KILN_API kiln_status kiln_dataset_join(kiln_dataset *a, kiln_dataset *b,
                                       kiln_join kind, uint32_t nparts,
                                       kiln_dataset **out);
/* One record per key of either side: (k, PAIR(LIST of a's values, LIST of
 * b's values)), a side's list empty where it has no such key. */
KILN_API kiln_status kiln_dataset_cogroup(kiln_dataset *a, kiln_dataset *b,
                                          uint32_t nparts, kiln_dataset **out);
/* The records of a whose key is not in b. */
KILN_API kiln_status kiln_dataset_subtract_by_key(kiln_dataset *a,
                                                  kiln_dataset *b,
                                                  uint32_t nparts,
                                                  kiln_dataset **out);

/* ---- per-key aggregation ---- */

/* (k, U64 number of records with key k). */
KILN_API kiln_status kiln_dataset_count_by_key(kiln_dataset *ds,
                                               uint32_t nparts,
                                               kiln_dataset **out);
/* reduce_by_key, then fn(zero, result) once per key: the zero is applied
 * exactly once per key, whatever the partitioning. zero: borrowed (copied),
 * value_size bytes. Values must be fixed-size. */
KILN_API kiln_status kiln_dataset_fold_by_key(kiln_dataset *ds,
                                              const void *zero, kiln_op op,
                                              kiln_reduce_fn fn, void *arg,
                                              uint32_t nparts,
                                              kiln_dataset **out);
/* aggregate_by_key's fold: for i < in->n, in order, fold the value of
 * record i into the accumulator acc[i] (several acc[i] may be the same). */
typedef kiln_status (*kiln_fold_fn)(void *const *acc, const kiln_batch *in,
                                    void *arg);
/* Per key, an accumulator of acc_type (fixed-size): seq folds values into
 * accumulators that start as copies of zero, comb merges accumulators (as
 * a kiln_reduce_fn over acc_type). Result: (k, accumulator). zero must be
 * neutral for comb (as in Spark, which applies it once per partition and
 * key; Kiln folds each value into its own copy, then merges). zero:
 * borrowed (copied). */
KILN_API kiln_status kiln_dataset_aggregate_by_key(kiln_dataset *ds,
                                                   kiln_type acc_type,
                                                   const void *zero,
                                                   kiln_fold_fn seq,
                                                   kiln_reduce_fn comb,
                                                   void *arg, uint32_t nparts,
                                                   kiln_dataset **out);

/* ---- sampling and numbering ---- */

/* Each record kept with probability fraction (with_replacement: a Poisson
 * number of copies with mean fraction). Decided per record from (seed,
 * partition, position), so the sample is the same at any number of ranks. */
KILN_API kiln_status kiln_dataset_sample(kiln_dataset *ds, bool with_replacement,
                                         double fraction, uint64_t seed,
                                         kiln_dataset **out);
/* (U64 index, value): records numbered 0, 1, ... in partition order (the
 * old key is dropped). Needs each partition's record count: counted now
 * (collective, one pass) unless every partition is cached, whose counts
 * are known. */
KILN_API kiln_status kiln_dataset_zip_with_index(kiln_dataset *ds,
                                                 kiln_dataset **out);

/* Keep each partition in memory (on the rank that computed it) the first
 * time an action computes it, and reuse it in later actions. Returns ds. */
KILN_API kiln_dataset *kiln_dataset_cache(kiln_dataset *ds);
/* Drop cached partitions of ds. Collective. */
KILN_API void kiln_dataset_unpersist(kiln_dataset *ds);

KILN_API kiln_schema kiln_dataset_schema(const kiln_dataset *ds);

/* ------------------------------------------------------------------------ */
/* Actions (collective; each runs the lineage it needs)                      */
/* ------------------------------------------------------------------------ */

KILN_API kiln_status kiln_dataset_count(kiln_dataset *ds, uint64_t *out);

/* Records gathered in partition order (and in order within a partition). */
typedef struct kiln_collection kiln_collection; /* opaque */

#define KILN_ALL_RANKS (-1)

/* Gather every record to `root` (a rank, or KILN_ALL_RANKS). On other ranks
 * *out is an empty collection. out: owned by the caller; release with
 * kiln_collection_destroy(). Fails with KILN_ERR_LIMIT past 2 GiB. */
KILN_API kiln_status kiln_dataset_collect(kiln_dataset *ds, int root,
                                          kiln_collection **out);
/* The first n records in partition order, on every rank. Computes only as
 * many partitions as it needs. */
KILN_API kiln_status kiln_dataset_take(kiln_dataset *ds, size_t n,
                                       kiln_collection **out);
/* The records, as one batch view owned by the collection. */
KILN_API const kiln_batch *kiln_collection_batch(const kiln_collection *c);
KILN_API void kiln_collection_destroy(kiln_collection **c);

/* The first n records in `order` (ascending by default; top = descending),
 * on every rank, in that order. order: borrowed, may be NULL. */
KILN_API kiln_status kiln_dataset_take_ordered(kiln_dataset *ds, size_t n,
                                               const kiln_order *order,
                                               kiln_collection **out);

/* Reduce all values with op (or fn) into result (value_size bytes, owned by
 * the caller), identical on every rank. KILN_ERR_EMPTY for no records.
 * Partition results are combined in partition order, so the result does
 * not depend on the number of ranks. */
KILN_API kiln_status kiln_dataset_reduce(kiln_dataset *ds, kiln_op op,
                                         kiln_reduce_fn fn, void *arg,
                                         void *result);

/* Fold every partition into a copy of zero (size bytes) with seq, then merge
 * the partition accumulators with comb in a fixed tree over partition
 * indices, after one MPI all-reduce: the result is bit-identical on every
 * rank and at any number of ranks. zero: borrowed; result: owned by caller,
 * size bytes, written on success. */
KILN_API kiln_status kiln_dataset_aggregate(kiln_dataset *ds, const void *zero,
                                            size_t size, kiln_seq_fn seq,
                                            kiln_comb_fn comb, void *arg,
                                            void *result);

KILN_API kiln_status kiln_dataset_foreach(kiln_dataset *ds, kiln_foreach_fn fn,
                                          void *arg);

/* Options for kiln_dataset_save_text(). Zero-initialise, then set fields. */
typedef struct kiln_save_options {
    bool overwrite; /* replace an existing directory whole (else refuse) */
} kiln_save_options;

/* Write one text file per partition, DIR/part-00000, part-00001, ..., then
 * DIR/_SUCCESS. Records are written as "key<TAB>value\n" (or "value\n" for
 * plain values): integers in decimal, F64 as the shortest of %.15g, %.16g
 * and %.17g that reads back to the same double (0.1, not
 * 0.10000000000000001), STRING raw, BYTES and FIXED in hex, LIST elements
 * comma-separated. Output is written under a
 * temporary directory and renamed into place only when every rank
 * succeeded, so a failed job never leaves output that looks complete. An
 * existing DIR is an error (KILN_ERR_EXISTS) unless opts->overwrite.
 *   dir, opts: borrowed; opts may be NULL. */
KILN_API kiln_status kiln_dataset_save_text(kiln_dataset *ds, const char *dir,
                                            const kiln_save_options *opts);

/* As save_text, but records are written raw: key bytes then value bytes,
 * which kiln_binary_files() reads back. Fixed-size types only. */
KILN_API kiln_status kiln_dataset_save_binary(kiln_dataset *ds, const char *dir,
                                              const kiln_save_options *opts);

/* ------------------------------------------------------------------------ */
/* HDF5                                                                      */
/* ------------------------------------------------------------------------ */

/* Rows of an HDF5 dataset as plain values: a 2-D array of N rows gives N
 * records whose value is one row (FIXED, row bytes), a 1-D array of 8-byte
 * integers or doubles gives U64/I64/F64 values, any other 1-D element type
 * (compound, fixed strings) FIXED values of its size. Values are in the
 * host's native layout (H5Tget_native_type): a compound arrives as the C
 * struct with the same members in the same order, however the file packs
 * it. nparts: 0 for --kiln-partitions. When an action first needs them,
 * every rank reads the rows of its partitions with one collective
 * parallel-HDF5 read; they then stay in memory, like a cached dataset. A
 * zstd-compressed dataset (filter 32015) is read with Kiln's own filter.
 * Collective: the master opens the file and broadcasts the dataset's shape;
 * a missing file or dataset, more than 2 dimensions or a variable-length
 * type fail on every rank with a message naming file and dataset.
 * path, dataset: borrowed. */
KILN_API kiln_status kiln_hdf5_read(kiln_context *ctx, const char *path,
                                    const char *dataset, uint32_t nparts,
                                    kiln_dataset **out);

typedef enum kiln_compression {
    KILN_COMPRESS_NONE = 0,
    KILN_COMPRESS_DEFLATE, /* readable by every HDF5 build */
    KILN_COMPRESS_ZSTD     /* filter 32015: Kiln ships the HDF5 plugin */
} kiln_compression;

/* Options of kiln_dataset_save_hdf5(). Zero-initialise, then set fields. */
typedef struct kiln_hdf5_options {
    bool overwrite;              /* replace an existing file (else refuse) */
    kiln_compression compression;
    int level;                   /* compression level, 0: the default */
    uint32_t columns;            /* > 0: values are rows of `columns` 8-byte
                                  * numbers of kind `element`, written as an
                                  * N x columns array; 0: a 1-D array */
    kiln_kind element;           /* F64 (default), I64 or U64 */
} kiln_hdf5_options;

/* Write the values of ds (fixed-size; keys are not written) as `dataset` of
 * a new HDF5 file, partitions one after the other: each rank writes the rows
 * of its partitions with one collective write. The file is written under a
 * temporary name and renamed into place when every rank succeeded. Readable
 * by h5dump and h5py (zstd: with Kiln's plugin on HDF5_PLUGIN_PATH).
 * Collective. path, dataset, opts: borrowed; opts may be NULL. */
KILN_API kiln_status kiln_dataset_save_hdf5(kiln_dataset *ds, const char *path,
                                            const char *dataset,
                                            const kiln_hdf5_options *opts);

/* ------------------------------------------------------------------------ */
/* Checkpoints                                                               */
/* ------------------------------------------------------------------------ */

/* Exit status of a job that checkpointed on SIGTERM or SIGUSR1 (Slurm's
 * warning before a time limit) and wants to be resubmitted with
 * --kiln-resume (EX_TEMPFAIL). */
#define KILN_EXIT_RESUBMIT 75

/* Compute ds and write it to a checkpoint under --kiln-checkpoint-dir: all
 * partitions, their types and a signature of the lineage and inputs; the
 * master commits it with a manifest only after every rank's data is on
 * disk, and a checksum guards every partition. Later actions read ds from
 * memory, like a cached dataset. With --kiln-resume, a committed checkpoint
 * of ds whose signature matches is loaded instead of computing ds (and the
 * log says so); a corrupt or mismatching one is reported and recomputed.
 * Loading works on any number of ranks. Collective. */
KILN_API kiln_status kiln_dataset_checkpoint(kiln_dataset *ds);

/* Mark ds as live state: when a SIGTERM or SIGUSR1 arrives, the job
 * finishes the stage in progress, checkpoints every marked dataset and
 * exits with KILN_EXIT_RESUBMIT on every rank. unmark undoes it. Neither
 * communicates. */
KILN_API void kiln_dataset_mark_live(kiln_dataset *ds);
KILN_API void kiln_dataset_unmark_live(kiln_dataset *ds);

/* Iterative jobs. Checkpoint ds as iteration `iteration` of `name` when
 * every > 0 and iteration % every == 0; keeps the two newest iteration
 * checkpoints of name and deletes older ones. Collective. name: borrowed. */
KILN_API kiln_status kiln_iteration_checkpoint(kiln_dataset *ds, const char *name,
                                               uint64_t iteration,
                                               uint64_t every);
/* With --kiln-resume: the newest valid iteration checkpoint of name, as a
 * dataset read from it (*out, owned by the caller) and its *iteration; the
 * older one when the newest is corrupt. *out = NULL when there is none or
 * the job was not started with --kiln-resume: start from scratch. */
KILN_API kiln_status kiln_iteration_resume(kiln_context *ctx, const char *name,
                                           uint64_t *iteration,
                                           kiln_dataset **out);

/* ------------------------------------------------------------------------ */
/* Shared variables                                                          */
/* ------------------------------------------------------------------------ */

typedef struct kiln_broadcast kiln_broadcast; /* opaque */

/* Send the master's `size` bytes at `data` to every rank. Collective; data
 * and size matter on the master only (others may pass NULL, 0). data:
 * borrowed. out: owned by the caller; kiln_broadcast_destroy(). */
KILN_API kiln_status kiln_broadcast_create(kiln_context *ctx, const void *data,
                                           size_t size, kiln_broadcast **out);
/* The broadcast bytes, owned by the broadcast. */
KILN_API const void *kiln_broadcast_data(const kiln_broadcast *b,
                                         size_t *size);
KILN_API void kiln_broadcast_destroy(kiln_broadcast **b);

typedef struct kiln_accumulator kiln_accumulator; /* opaque */

/* An accumulator of `len` elements of kind U64, I64 or F64 merged with op
 * (SUM, MIN or MAX). Callbacks add to it while an action runs; when the
 * action ends the additions of every task are merged, task by task in
 * partition order, into the value every rank reads. Collective. */
KILN_API kiln_status kiln_accumulator_create(kiln_context *ctx, kiln_kind kind,
                                             kiln_op op, size_t len,
                                             kiln_accumulator **out);
/* Add (or min/max) `len` elements at `values` into the accumulator from a
 * callback. Outside a running action this is KILN_ERR_STATE. */
KILN_API kiln_status kiln_accumulator_add(kiln_accumulator *acc,
                                          const void *values, size_t len);
/* Copy the merged value (len elements) to `out`. Not collective. */
KILN_API void kiln_accumulator_value(const kiln_accumulator *acc, void *out);
KILN_API void kiln_accumulator_destroy(kiln_accumulator **acc);

/* ------------------------------------------------------------------------ */
/* Machine learning data                                                     */
/* ------------------------------------------------------------------------ */

/* Loaders for LIBSVM/SVMlight text, numeric CSV and HDF5 files, shared by
 * the bundled ML apps (apps/ml/) and usable by any job. Each makes a lazy
 * dataset of labelled rows: key F64, the row's label (NaN when the input
 * has none), and value one row of `dim` features, either
 *  - dense: FIXED of dim * 8 bytes, dim doubles in host order, so a batch
 *    of n rows is a row-major n x dim matrix at batch->values (8-byte
 *    aligned), ready for BLAS; or
 *  - sparse (LIBSVM with kiln_ml_options.sparse): BYTES in the CSR-like
 *    encoding read by kiln_ml_sparse_*() below.
 * Cache the rows (kiln_ml_data_cache) to parse them once for many passes.
 * Malformed lines fail the action that parses them with KILN_ERR_PARSE and
 * a message "FILE:LINE: why", or are skipped and counted with
 * skip_bad_lines. Blank lines and LIBSVM lines holding only a '#' comment
 * are ignored everywhere. See docs/ml.md. */

typedef enum kiln_ml_format {
    KILN_ML_AUTO = 0, /* by the first path's name: *.h5, *.hdf5, *.he5 HDF5;
                       * *.csv CSV; anything else LIBSVM */
    KILN_ML_LIBSVM,   /* "label idx:val idx:val ... [# comment]", indices
                       * 1-based and increasing; "qid:N" tokens ignored */
    KILN_ML_CSV,      /* delimited numbers, one row per line */
    KILN_ML_HDF5      /* /X: N x dim numbers, optional /y: N numbers */
} kiln_ml_format;

#define KILN_ML_LABEL_LAST 0    /* CSV: the label is the last column */
#define KILN_ML_LABEL_NONE (-1) /* CSV: no label column (labels are NaN) */
#define KILN_ML_HEADER_AUTO 0   /* CSV: line 1 of each file is a header when
                                 * a field of it is not a number */
#define KILN_ML_HEADER_NONE (-1) /* CSV: no header lines */

/* Options of kiln_ml_load(). Zero-initialise, then set fields. */
typedef struct kiln_ml_options {
    kiln_ml_format format;
    uint32_t dim;         /* features per row; 0: found from the input
                           * (LIBSVM: the largest index, one pass over the
                           * data; CSV: the first data line; HDF5: /X).
                           * Given, a larger LIBSVM index or another number
                           * of CSV columns is a malformed line, and HDF5
                           * /X of another width an error. */
    bool sparse;          /* LIBSVM: sparse rows instead of dense */
    bool skip_bad_lines;  /* text: skip and count malformed lines */
    int64_t label_column; /* CSV: 1-based column of the label,
                           * KILN_ML_LABEL_LAST (0) or KILN_ML_LABEL_NONE */
    int32_t header;       /* CSV: KILN_ML_HEADER_AUTO (0), _NONE, or N > 0:
                           * the first N lines of every file are headers
                           * (they must lie in the file's first split) */
    char delimiter;       /* CSV: field separator; 0 for ',' */
    const char *x_dataset; /* HDF5: features, NULL for "/X"; borrowed */
    const char *y_dataset; /* HDF5: labels, NULL for "/y", which may be
                            * absent (labels NaN); a name given must exist */
    uint32_t partitions;  /* HDF5: partitions per file, 0: --kiln-partitions */
} kiln_ml_options;

/* A loaded input: its rows and what is known about them. Opaque. */
typedef struct kiln_ml_data kiln_ml_data;

/* Make the rows of `paths` (files, directories or glob patterns as for
 * kiln_text_files; HDF5: files), in order, in the format opts asks for.
 * Collective. It runs actions when it must: LIBSVM without opts->dim
 * parses the input once to find the largest index, CSV reads the first
 * lines to count the columns, HDF5 checks /X and /y on the master. A
 * missing file, an unreadable HDF5 dataset, an empty input (no data row)
 * or a bad option fail here on every rank with a message naming the
 * file; malformed lines fail the first action that parses them.
 *   paths, opts: borrowed; opts may be NULL (defaults).
 *   out: on KILN_OK owned by the caller; kiln_ml_data_destroy(). */
KILN_API kiln_status kiln_ml_load(kiln_context *ctx, const char *const *paths,
                                  size_t npaths, const kiln_ml_options *opts,
                                  kiln_ml_data **out);

/* The rows: (F64 label, dense or sparse row). Owned by d: the handle is
 * valid while d lives; datasets derived from it keep what they need alive,
 * as usual. Not collective. */
KILN_API kiln_dataset *kiln_ml_data_rows(const kiln_ml_data *d);
/* Features per row. */
KILN_API uint32_t kiln_ml_data_dim(const kiln_ml_data *d);
/* Whether rows are sparse (BYTES) rather than dense (FIXED). */
KILN_API bool kiln_ml_data_sparse(const kiln_ml_data *d);
/* Whether the input has labels (false: CSV without a label column, HDF5
 * without /y; every key is then NaN). */
KILN_API bool kiln_ml_data_labeled(const kiln_ml_data *d);

/* Cache the rows in memory and compute them now (one action): later passes
 * read memory, never the files. rows: the number of rows; skipped: the
 * malformed lines skipped while parsing (always 0 without
 * skip_bad_lines). Either may be NULL. KILN_ERR_EMPTY when no row is left.
 * Collective. */
KILN_API kiln_status kiln_ml_data_cache(kiln_ml_data *d, uint64_t *rows,
                                        uint64_t *skipped);

KILN_API void kiln_ml_data_destroy(kiln_ml_data **d);

/* A sparse row (`row`, `len` as kiln_batch_value() gives them) holds nnz
 * entries in 12 * nnz bytes: nnz uint32_t feature indices (0-based,
 * strictly increasing), then nnz doubles, both in host order, unaligned. */
static inline size_t kiln_ml_sparse_nnz(size_t len)
{
    return len / 12;
}
static inline uint32_t kiln_ml_sparse_index(const void *row, size_t k)
{
    uint32_t i;
    memcpy(&i, (const unsigned char *)row + 4 * k, 4);
    return i;
}
static inline double kiln_ml_sparse_value(const void *row, size_t len, size_t k)
{
    double v;
    memcpy(&v, (const unsigned char *)row + 4 * (len / 12) + 8 * k, 8);
    return v;
}

/* Write rows (F64 key, values FIXED of dim * 8 bytes: what kiln_ml_load
 * makes of dense input) as one HDF5 file holding /X (N x dim doubles) and
 * /y (N doubles, the keys), which kiln_ml_load reads back. Computes ds
 * twice (cache it first if that is costly); the file appears whole or not
 * at all. opts as for kiln_dataset_save_hdf5 (columns and element are
 * set here); may be NULL. Collective. path, opts: borrowed. */
KILN_API kiln_status kiln_ml_save_hdf5(kiln_dataset *ds, const char *path,
                                       const kiln_hdf5_options *opts);

/* ---- model files ---- */

/* A small model: named arrays of doubles or 64-bit integers (1-D, or 2-D
 * row-major) and named string attributes, in memory. A model file is an
 * HDF5 file with each array as a dataset and each attribute as a UTF-8
 * string attribute of the root group, so h5py reads it as f["weights"][:]
 * and f.attrs["model"]. Opaque. Only the save and load calls are
 * collective. */
typedef struct kiln_ml_model kiln_ml_model;

/* An empty model. out: owned by the caller; kiln_ml_model_destroy(). */
KILN_API kiln_status kiln_ml_model_create(kiln_ml_model **out);
/* Add (or replace) an array of rows x cols values (cols 0: a 1-D array of
 * rows values). name: letters, digits, '_', '-' or '.'. name, values:
 * borrowed (copied). */
KILN_API kiln_status kiln_ml_model_put_f64(kiln_ml_model *m, const char *name,
                                           const double *values, uint64_t rows,
                                           uint64_t cols);
KILN_API kiln_status kiln_ml_model_put_i64(kiln_ml_model *m, const char *name,
                                           const int64_t *values, uint64_t rows,
                                           uint64_t cols);
/* Add (or replace) a string attribute. name, value: borrowed (copied). */
KILN_API kiln_status kiln_ml_model_put_attr(kiln_ml_model *m, const char *name,
                                            const char *value);
/* An array by name, owned by m; NULL when there is none of that type.
 * rows, cols (0 for a 1-D array) may be NULL. Not collective. */
KILN_API const double *kiln_ml_model_f64(const kiln_ml_model *m,
                                         const char *name, uint64_t *rows,
                                         uint64_t *cols);
KILN_API const int64_t *kiln_ml_model_i64(const kiln_ml_model *m,
                                          const char *name, uint64_t *rows,
                                          uint64_t *cols);
/* An attribute by name, owned by m; NULL when absent. */
KILN_API const char *kiln_ml_model_attr(const kiln_ml_model *m,
                                        const char *name);

/* Write the master's model to `path` (the master writes it with serial
 * HDF5 under a temporary name and renames it into place; other ranks'
 * `m` is not read and may be NULL). An existing file is KILN_ERR_EXISTS
 * unless overwrite. Collective; the same status on every rank. */
KILN_API kiln_status kiln_ml_model_save(kiln_context *ctx,
                                        const kiln_ml_model *m,
                                        const char *path, bool overwrite);
/* Read a model file on the master and give every rank the same copy:
 * every 1-D or 2-D numeric dataset of the root group (floating point as
 * doubles, integers as int64), every string or numeric scalar attribute of
 * the root group (numbers as text). Collective. out: owned by the caller. */
KILN_API kiln_status kiln_ml_model_load(kiln_context *ctx, const char *path,
                                        kiln_ml_model **out);
KILN_API void kiln_ml_model_destroy(kiln_ml_model **m);

#ifdef __cplusplus
}
#endif

#endif /* KILN_H */
