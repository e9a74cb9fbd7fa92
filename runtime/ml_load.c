/* runtime/ml_load.c: kiln_ml_load() and kiln_ml_data (ml module).
 *
 * A text input becomes text_files -> map_partitions(parse): the parse is
 * Kiln's own callback, its argument owned by the node (owned_arg, freed by
 * owned_free with the accumulator that counts skipped lines). It is a
 * map_partitions, not a flat_map, because header lines are recognised by
 * position: a record whose line starts at offset 0 of its file (io's
 * kiln_origin) opens a file, and the lines to skip after it may fall in
 * the next batch. Every decision that needs the data is made here, at load
 * time, by public actions that every rank runs: the first lines (take) for
 * CSV columns and to fail at once on a missing or empty input, and for
 * LIBSVM without a dimension one aggregate over a sparse parse for the
 * largest index. HDF5 input is ml_hdf5.c's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime/error.h"
#include "runtime/io.h"
#include "runtime/log.h"
#include "runtime/ml.h"
#include "runtime/node.h"

struct kiln_ml_data {
    kiln_dataset *rows;        /* owned */
    kiln_dataset **sources;    /* owned: HDF5 /X sources, unpersisted once
                                  the rows are cached */
    size_t nsources;
    kiln_accumulator *skipped; /* borrowed from the rows' parse argument
                                  (the node owns it); NULL for HDF5 */
    uint32_t dim;
    bool sparse, labeled;
    char inputs[300];          /* the inputs, for messages */
};

/* ---- the parse callback ---- */

typedef struct parse_arg {
    kiln_context *ctx;
    kiln_ml_format format;     /* LIBSVM or CSV */
    bool dense;                /* LIBSVM: emit dense rows of dim */
    uint32_t dim;              /* features per row (LIBSVM: 0 while the
                                  largest index is being found) */
    size_t ncols;              /* CSV: fields per line */
    int64_t label_col;         /* CSV: 0-based, -1 for none */
    int32_t header;            /* CSV: KILN_ML_HEADER_* or N lines */
    char delim;
    bool skip;                 /* skip and count malformed lines */
    kiln_accumulator *skipped; /* owned; NULL: do not count or warn */
} parse_arg;

static void parse_arg_free(void *p)
{
    parse_arg *a = p;
    if (a)
        kiln_accumulator_destroy(&a->skipped);
    free(a);
}

/* Scratch for one partition, grown to the longest line seen. */
typedef struct parse_state {
    int64_t header_left;  /* CSV: header lines still to skip in this file */
    unsigned warned;      /* skipped lines reported so far */
    char *line;           /* NUL-terminated copy of the line */
    size_t line_cap;
    uint32_t *idx;        /* LIBSVM entries */
    double *val;
    size_t ent_cap;
    unsigned char *row;   /* the value emitted: dense doubles or sparse */
    size_t row_cap;
} parse_state;

enum { WARN_LIMIT = 3 }; /* skipped lines reported per partition */

static kiln_status parse_open(uint32_t partition, void **state, void *arg)
{
    (void)partition;
    (void)arg;
    parse_state *s = calloc(1, sizeof *s);
    if (!s)
        return kiln_error(KILN_ERR_NOMEM, "ml parse state");
    *state = s;
    return KILN_OK;
}

static kiln_status parse_close(kiln_emitter *out, void *state, void *arg)
{
    (void)out;
    (void)arg;
    parse_state *s = state;
    if (s) {
        free(s->line);
        free(s->idx);
        free(s->val);
        free(s->row);
    }
    free(s);
    return KILN_OK;
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

/* Room for a line of len bytes: its copy, its entries, its row. */
static kiln_status make_room(parse_state *s, const parse_arg *a, size_t len)
{
    size_t ents = len / 2 + 1, cap = s->ent_cap;
    size_t row = a->format == KILN_ML_CSV ? a->ncols * 8
                 : a->dense               ? (size_t)a->dim * 8
                                          : ents * 12;
    if (!grow((void **)&s->line, &s->line_cap, len + 1, 1) ||
        !grow((void **)&s->idx, &s->ent_cap, ents, sizeof *s->idx) ||
        !grow((void **)&s->val, &cap, ents, sizeof *s->val) ||
        !grow((void **)&s->row, &s->row_cap, row ? row : 1, 1))
        return kiln_error(KILN_ERR_NOMEM, "ml parse: a line of %zu bytes", len);
    return KILN_OK;
}

/* Parse the line in s->line into (label, value bytes). *emit false for a
 * line that holds no row (blank, comment). */
static kiln_status parse_line(parse_state *s, const parse_arg *a, size_t len,
                              double *label, size_t *vlen, bool *emit,
                              char *why)
{
    bool blank;
    kiln_status st;
    *emit = false;
    if (a->format == KILN_ML_CSV) {
        double *features = (double *)s->row;
        st = kiln__ml_parse_csv(s->line, len, a->delim, a->ncols, a->label_col,
                                label, features, &blank, why);
        *vlen = (size_t)a->dim * 8;
        *emit = st == KILN_OK && !blank;
        return st;
    }
    size_t nnz;
    st = kiln__ml_parse_libsvm(s->line, len, a->dense ? a->dim : 0, label, s->idx,
                               s->val, &nnz, &blank, why);
    if (st != KILN_OK || blank)
        return st;
    if (a->dense) {
        double *row = (double *)s->row;
        memset(row, 0, (size_t)a->dim * 8);
        for (size_t k = 0; k < nnz; k++)
            row[s->idx[k]] = s->val[k];
        *vlen = (size_t)a->dim * 8;
    } else {
        memcpy(s->row, s->idx, 4 * nnz);
        memcpy(s->row + 4 * nnz, s->val, 8 * nnz);
        *vlen = 12 * nnz;
    }
    *emit = true;
    return KILN_OK;
}

static kiln_status parse_batch(const kiln_batch *in, kiln_emitter *out,
                               void *state, void *arg)
{
    parse_state *s = state;
    const parse_arg *a = arg;
    uint64_t skipped = 0;
    kiln_status st = KILN_OK;
    char why[KILN__ML_WHY], where[1200];
    for (size_t i = 0; i < in->n && st == KILN_OK; i++) {
        size_t len;
        const char *text = kiln_batch_value(in, i, &len);
        bool file_start = in->origin && in->origin->line_offsets[i] == 0;
        if ((st = make_room(s, a, len)) != KILN_OK)
            break;
        memcpy(s->line, text, len);
        s->line[len] = '\0';
        if (a->format == KILN_ML_CSV) {
            if (file_start)
                s->header_left = a->header > 0 ? a->header : 0;
            if (s->header_left > 0) {
                s->header_left--;
                continue;
            }
            if (file_start && a->header == KILN_ML_HEADER_AUTO &&
                !kiln__ml_csv_numeric(s->line, len, a->delim))
                continue;
        }
        double label;
        size_t vlen;
        bool emit;
        kiln_status bad = parse_line(s, a, len, &label, &vlen, &emit, why);
        if (bad != KILN_OK) {
            if (!a->skip)
                return kiln_error(bad, "%s: %s",
                                  kiln_batch_where(in, i, where, sizeof where), why);
            skipped++;
            if (a->skipped && s->warned++ < WARN_LIMIT)
                kiln__log(a->ctx, KILN__LOG_WARN, "skipping %s: %s%s",
                          kiln_batch_where(in, i, where, sizeof where), why,
                          s->warned == WARN_LIMIT ? " (no more reported for "
                                                    "this partition)" : "");
            continue;
        }
        if (emit)
            st = kiln_emit(out, &label, 8, s->row, vlen);
    }
    if (st == KILN_OK && skipped && a->skipped)
        st = kiln_accumulator_add(a->skipped, &skipped, 1);
    return st;
}

/* map_partitions(lines, parse) with a copy of *a owned by the node. */
static kiln_status parse_rows(kiln_dataset *lines, const parse_arg *a,
                              kiln_dataset **out)
{
    parse_arg *copy = malloc(sizeof *copy);
    if (!copy)
        return KILN_ERROR(KILN_ERR_NOMEM, "ml_load: parse arguments");
    *copy = *a;
    kiln_schema s = {KILN_T_F64, a->format == KILN_ML_LIBSVM && !a->dense
                                     ? KILN_T_BYTES
                                     : kiln_type_fixed((size_t)a->dim * 8, NULL,
                                                       NULL, NULL)};
    kiln_partition_fns fns = {parse_open, parse_batch, parse_close};
    kiln_status st = kiln_dataset_map_partitions(lines, s, fns, copy, out);
    if (st != KILN_OK) {
        parse_arg_free(copy);
        return st;
    }
    (*out)->node.owned_arg = copy;
    (*out)->node.owned_free = parse_arg_free;
    return KILN_OK;
}

/* ---- LIBSVM: the largest index, in one pass ---- */

typedef struct extent {
    uint64_t dim;  /* largest index + 1 */
    uint64_t rows;
} extent;

static kiln_status extent_seq(void *acc, const kiln_batch *in, void *arg)
{
    (void)arg;
    extent *e = acc;
    for (size_t i = 0; i < in->n; i++) {
        size_t len;
        const void *row = kiln_batch_value(in, i, &len);
        size_t nnz = kiln_ml_sparse_nnz(len);
        if (nnz) {
            uint64_t top = (uint64_t)kiln_ml_sparse_index(row, nnz - 1) + 1;
            if (top > e->dim)
                e->dim = top;
        }
    }
    e->rows += in->n;
    return KILN_OK;
}

static kiln_status extent_comb(void *acc, const void *other, void *arg)
{
    (void)arg;
    extent *e = acc;
    const extent *o = other;
    if (o->dim > e->dim)
        e->dim = o->dim;
    e->rows += o->rows;
    return KILN_OK;
}

/* ---- loading ---- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

static kiln_ml_format guess_format(const char *path)
{
    if (ends_with(path, ".h5") || ends_with(path, ".hdf5") || ends_with(path, ".he5"))
        return KILN_ML_HDF5;
    if (ends_with(path, ".csv"))
        return KILN_ML_CSV;
    return KILN_ML_LIBSVM;
}

static void describe_inputs(kiln_ml_data *d, const char *const *paths,
                            size_t npaths)
{
    if (npaths > 1)
        snprintf(d->inputs, sizeof d->inputs, "%s and %zu more", paths[0],
                 npaths - 1);
    else
        snprintf(d->inputs, sizeof d->inputs, "%s", paths[0]);
}

/* The first `want` lines of the input (take): every rank gets them. A
 * missing file fails here. */
static kiln_status first_lines(kiln_dataset *lines, size_t want,
                               kiln_collection **out)
{
    return kiln_dataset_take(lines, want, out);
}

/* CSV: fields per line from the first data line, unless dim says. */
static kiln_status csv_columns(kiln_ml_data *d, kiln_dataset *lines,
                               const kiln_ml_options *o, parse_arg *a)
{
    kiln_collection *c = NULL;
    char *copy = NULL;
    size_t skip = o->header > 0 ? (size_t)o->header : 0;
    size_t want = skip + (o->header == KILN_ML_HEADER_AUTO ? 2 : 1);
    kiln_status st = first_lines(lines, want, &c);
    if (st != KILN_OK)
        return st;
    const kiln_batch *b = kiln_collection_batch(c);
    size_t at = skip, len = 0;
    const char *text = NULL;
    if (b->n > at) {
        text = kiln_batch_value(b, at, &len);
        copy = malloc(len + 1);
        if (!copy) {
            st = KILN_ERROR(KILN_ERR_NOMEM, "ml_load: a line of %zu bytes", len);
            goto done;
        }
        memcpy(copy, text, len);
        copy[len] = '\0';
        if (o->header == KILN_ML_HEADER_AUTO && !kiln__ml_csv_numeric(copy, len, a->delim)) {
            free(copy);
            copy = NULL;
            text = ++at < b->n ? kiln_batch_value(b, at, &len) : NULL;
        }
    }
    if (!text) {
        st = KILN_ERROR(KILN_ERR_EMPTY, "ml_load: no data line in %s", d->inputs);
        goto done;
    }
    a->ncols = kiln__ml_csv_count(text, len, a->delim);
    if (a->ncols == 0)
        st = KILN_ERROR(KILN_ERR_PARSE, "ml_load: the first data line of %s is blank",
                        d->inputs);
done:
    free(copy);
    kiln_collection_destroy(&c);
    return st;
}

static kiln_status load_csv(kiln_ml_data *d, kiln_dataset *lines,
                            const kiln_ml_options *o, parse_arg *a)
{
    kiln_status st = KILN_OK;
    bool labeled = o->label_column != KILN_ML_LABEL_NONE;
    if (o->dim) {
        kiln_collection *c = NULL;
        a->ncols = (size_t)o->dim + labeled;
        if ((st = first_lines(lines, 1, &c)) == KILN_OK &&
            kiln_collection_batch(c)->n == 0)
            st = KILN_ERROR(KILN_ERR_EMPTY, "ml_load: no data line in %s", d->inputs);
        kiln_collection_destroy(&c);
    } else {
        st = csv_columns(d, lines, o, a);
    }
    if (st != KILN_OK)
        return st;
    if (o->label_column > 0 && (size_t)o->label_column > a->ncols)
        return KILN_ERROR(KILN_ERR_INVAL, "ml_load: label column %lld, but %s has "
                          "%zu columns", (long long)o->label_column, d->inputs,
                          a->ncols);
    if (a->ncols < 1u + labeled)
        return KILN_ERROR(KILN_ERR_PARSE, "ml_load: %s has %zu column%s: no room "
                          "for features%s", d->inputs, a->ncols,
                          a->ncols == 1 ? "" : "s", labeled ? " beside the label" : "");
    a->label_col = !labeled                 ? -1
                   : o->label_column == 0 ? (int64_t)a->ncols - 1
                                          : o->label_column - 1;
    a->dim = (uint32_t)(a->ncols - labeled);
    d->labeled = labeled;
    return KILN_OK;
}

static kiln_status load_libsvm(kiln_ml_data *d, kiln_dataset *lines,
                               const kiln_ml_options *o, parse_arg *a)
{
    kiln_status st = KILN_OK;
    d->labeled = true;
    a->dim = o->dim;
    if (o->dim) {
        kiln_collection *c = NULL;
        if ((st = first_lines(lines, 1, &c)) == KILN_OK &&
            kiln_collection_batch(c)->n == 0)
            st = KILN_ERROR(KILN_ERR_EMPTY, "ml_load: no data line in %s", d->inputs);
        kiln_collection_destroy(&c);
        return st;
    }
    /* One pass over a sparse parse that counts nothing and warns nowhere:
     * the rows' own parse does that, once, when they are cached. */
    parse_arg scan = *a;
    kiln_dataset *sparse = NULL;
    extent zero = {0, 0}, e = {0, 0};
    scan.dense = false;
    scan.dim = 0;
    scan.skipped = NULL;
    st = parse_rows(lines, &scan, &sparse);
    if (st == KILN_OK)
        st = kiln_dataset_aggregate(sparse, &zero, sizeof zero, extent_seq,
                                    extent_comb, NULL, &e);
    kiln_dataset_destroy(&sparse);
    if (st != KILN_OK)
        return st;
    if (e.rows == 0)
        return KILN_ERROR(KILN_ERR_EMPTY, "ml_load: no data line in %s", d->inputs);
    if (e.dim == 0)
        return KILN_ERROR(KILN_ERR_PARSE, "ml_load: %s has no feature in any row",
                          d->inputs);
    a->dim = (uint32_t)e.dim;
    return KILN_OK;
}

static kiln_status check_options(const kiln_ml_options *o, kiln_ml_format f)
{
    if (o->label_column < KILN_ML_LABEL_NONE)
        return KILN_ERROR(KILN_ERR_INVAL, "ml_load: bad label column %lld",
                          (long long)o->label_column);
    if (o->header < KILN_ML_HEADER_NONE)
        return KILN_ERROR(KILN_ERR_INVAL, "ml_load: bad header %d", (int)o->header);
    if (o->delimiter == '"' || o->delimiter == '\n' || o->delimiter == '.' ||
        o->delimiter == '-' || o->delimiter == '+' ||
        (o->delimiter >= '0' && o->delimiter <= '9'))
        return KILN_ERROR(KILN_ERR_INVAL, "ml_load: '%c' cannot separate numbers",
                          o->delimiter);
    if (o->sparse && f != KILN_ML_LIBSVM)
        return KILN_ERROR(KILN_ERR_INVAL, "ml_load: sparse rows are for LIBSVM "
                          "input only");
    if (f < KILN_ML_AUTO || f > KILN_ML_HDF5)
        return KILN_ERROR(KILN_ERR_INVAL, "ml_load: unknown format %d", (int)f);
    return KILN_OK;
}

static kiln_status load_hdf5(kiln_context *ctx, kiln_ml_data *d,
                             const char *const *paths, size_t npaths,
                             const kiln_ml_options *o)
{
    kiln_status st = KILN_OK;
    d->sources = calloc(npaths, sizeof *d->sources);
    if (!d->sources)
        return KILN_ERROR(KILN_ERR_NOMEM, "ml_load: sources");
    const char *x = o->x_dataset ? o->x_dataset : "/X";
    const char *y = o->y_dataset ? o->y_dataset : "/y";
    d->labeled = true;
    for (size_t i = 0; i < npaths && st == KILN_OK; i++) {
        kiln_dataset *rows = NULL, *both = NULL;
        uint32_t dim = 0;
        bool labeled = false;
        st = kiln__ml_hdf5_rows(ctx, paths[i], x, y, o->y_dataset != NULL,
                                o->partitions, &rows, &dim, &labeled);
        if (st != KILN_OK)
            break;
        /* The /X source is the rows' parent: keep a handle to unpersist it. */
        kiln__node *x_node = kiln__node_of(rows)->parent[0];
        x_node->refs++;
        d->sources[d->nsources++] = (kiln_dataset *)x_node;
        if (o->dim && dim != o->dim) {
            st = KILN_ERROR(KILN_ERR_INVAL, "ml_load: %s in %s has %u features, "
                            "expected %u", x, paths[i], dim, o->dim);
        } else if (i > 0 && dim != d->dim) {
            st = KILN_ERROR(KILN_ERR_INVAL, "ml_load: %s has %u features, %s has %u",
                            paths[0], d->dim, paths[i], dim);
        } else if (i > 0 && labeled != d->labeled) {
            st = KILN_ERROR(KILN_ERR_INVAL, "ml_load: %s has labels (%s) and %s has "
                            "none", labeled ? paths[i] : paths[0], y,
                            labeled ? paths[0] : paths[i]);
        } else if (d->rows) {
            st = kiln_dataset_union(d->rows, rows, &both);
            if (st == KILN_OK) {
                kiln_dataset_destroy(&d->rows);
                d->rows = both;
            }
        } else {
            d->rows = rows;
            rows = NULL;
        }
        d->dim = dim;
        d->labeled = labeled;
        kiln_dataset_destroy(&rows);
    }
    return st;
}

kiln_status kiln_ml_load(kiln_context *ctx, const char *const *paths,
                         size_t npaths, const kiln_ml_options *opts,
                         kiln_ml_data **out)
{
    if (!ctx || !out)
        return KILN_ERR_INVAL;
    kiln__api_begin(ctx);
    kiln_ml_options o;
    memset(&o, 0, sizeof o);
    if (opts)
        o = *opts;
    kiln_status st = KILN_OK;
    kiln_dataset *lines = NULL;
    kiln_ml_data *d = calloc(1, sizeof *d);
    if (!d)
        return kiln__api_end(ctx, KILN_ERROR(KILN_ERR_NOMEM, "ml_load"));
    if (!paths || npaths == 0 || !paths[0]) {
        st = KILN_ERROR(KILN_ERR_INVAL, "ml_load: no input paths");
        goto done;
    }
    describe_inputs(d, paths, npaths);
    kiln_ml_format f = o.format == KILN_ML_AUTO ? guess_format(paths[0]) : o.format;
    KILN_CHECK(st, check_options(&o, f), done);
    if (f == KILN_ML_HDF5) {
        KILN_CHECK(st, load_hdf5(ctx, d, paths, npaths, &o), done);
        goto done;
    }
    parse_arg a = {.ctx = ctx, .format = f, .dense = !o.sparse, .header = o.header,
                   .delim = o.delimiter ? o.delimiter : ',',
                   .skip = o.skip_bad_lines};
    KILN_CHECK(st, kiln_text_files(ctx, paths, npaths, &lines), done);
    if (f == KILN_ML_CSV)
        KILN_CHECK(st, load_csv(d, lines, &o, &a), done);
    else
        KILN_CHECK(st, load_libsvm(d, lines, &o, &a), done);
    KILN_CHECK(st, kiln_accumulator_create(ctx, KILN_KIND_U64, KILN_OP_SUM, 1,
                                           &a.skipped), done);
    d->skipped = a.skipped;
    st = parse_rows(lines, &a, &d->rows); /* the node owns a.skipped now */
    if (st != KILN_OK) {
        d->skipped = NULL;
        goto done;
    }
    d->dim = a.dim;
    d->sparse = f == KILN_ML_LIBSVM && !a.dense;
done:
    kiln_dataset_destroy(&lines);
    if (st == KILN_OK)
        *out = d;
    else
        kiln_ml_data_destroy(&d);
    return kiln__api_end(ctx, st);
}

kiln_dataset *kiln_ml_data_rows(const kiln_ml_data *d)
{
    return d ? d->rows : NULL;
}

uint32_t kiln_ml_data_dim(const kiln_ml_data *d)
{
    return d ? d->dim : 0;
}

bool kiln_ml_data_sparse(const kiln_ml_data *d)
{
    return d && d->sparse;
}

bool kiln_ml_data_labeled(const kiln_ml_data *d)
{
    return d && d->labeled;
}

kiln_status kiln_ml_data_cache(kiln_ml_data *d, uint64_t *rows, uint64_t *skipped)
{
    if (!d || !d->rows)
        return KILN_ERR_INVAL;
    kiln_context *ctx = d->rows->node.ctx;
    if (!ctx)
        return KILN_ERR_STATE;
    uint64_t before = 0, after = 0, n = 0;
    if (d->skipped)
        kiln_accumulator_value(d->skipped, &before);
    kiln_dataset_cache(d->rows);
    kiln_status st = kiln_dataset_count(d->rows, &n);
    if (st != KILN_OK)
        return st;
    if (d->skipped)
        kiln_accumulator_value(d->skipped, &after);
    /* The rows are in memory now: the /X arrays they came from are not
     * needed again. */
    for (size_t i = 0; i < d->nsources; i++)
        kiln_dataset_unpersist(d->sources[i]);
    if (n == 0) {
        kiln__api_begin(ctx);
        return kiln__api_end(ctx, KILN_ERROR(KILN_ERR_EMPTY, "ml_load: no data row "
                                             "in %s%s", d->inputs,
                                             after > before ? " (every line was "
                                                              "skipped)" : ""));
    }
    if (rows)
        *rows = n;
    if (skipped)
        *skipped = after - before;
    return KILN_OK;
}

void kiln_ml_data_destroy(kiln_ml_data **dp)
{
    kiln_ml_data *d = dp ? *dp : NULL;
    if (!d)
        return;
    kiln_dataset_destroy(&d->rows);
    for (size_t i = 0; i < d->nsources; i++)
        kiln_dataset_destroy(&d->sources[i]);
    free(d->sources);
    free(d);
    *dp = NULL;
}
