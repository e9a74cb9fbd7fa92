/* runtime/ml.h: machine learning data (the ml module).
 * Owns:     the public "Machine learning data" section of kiln.h: the
 *           LIBSVM, CSV and HDF5 loaders (kiln_ml_load and kiln_ml_data),
 *           the line parsers they share (ml_parse.c, pure functions that
 *           the unit tests call directly), writing labelled rows as /X and
 *           /y (kiln_ml_save_hdf5), and small model files
 *           (kiln_ml_model_*).
 * Uses:     the public dataset API (text_files, map_partitions, aggregate,
 *           take, hdf5_read, save_hdf5, accumulators) to build lazy
 *           lineages whose callbacks are Kiln's own, with their arguments
 *           owned by the node (kiln__node.owned_arg / owned_free); io's
 *           kiln_origin (which line of which file a record is) and
 *           serial HDF5 on the master (model files, /y slices, probes).
 * Must not: schedule, communicate except through public actions and
 *           kiln__error_agree/MPI_Bcast on the context's communicator in
 *           its own collective entry points, or be included outside
 *           runtime/ml*.c and tests/unit/test_ml_load.c. Only ml_hdf5.c
 *           and ml_model.c include <hdf5.h> (besides io and checkpoint).
 *
 * Files: ml_parse.c (line parsers), ml_load.c (kiln_ml_load, text
 * formats, kiln_ml_data), ml_hdf5.c (HDF5 input and kiln_ml_save_hdf5),
 * ml_model.c (model files). */
#ifndef KILN_RUNTIME_ML_H
#define KILN_RUNTIME_ML_H

#include "runtime/context.h"

/* ---- line parsers (ml_parse.c): local, no allocation ---- */

/* Where a parser says why a line is bad: a short text, no file or line
 * (the caller adds "FILE:LINE: "). */
#define KILN__ML_WHY 160

/* Parse one LIBSVM/SVMlight line `s` of `len` bytes (s[len] must be a
 * NUL: copy lines out of batches first, since strtod reads past them).
 * Writes the label and the nnz entries (0-based indices, strictly
 * increasing) into idx/val, which must hold at least len / 2 + 1 entries.
 * dim > 0: an index above dim is an error. Returns KILN_OK, or
 * KILN_ERR_PARSE with `why` filled; *blank is set for a line with no label
 * (empty, spaces, or only a '#' comment), which is then not an error. */
kiln_status kiln__ml_parse_libsvm(const char *s, size_t len, uint32_t dim,
                                  double *label, uint32_t *idx, double *val,
                                  size_t *nnz, bool *blank, char *why);

/* Fields of a CSV line split on `delim`; a field may be wrapped in double
 * quotes (which may then hold the delimiter). */
size_t kiln__ml_csv_count(const char *s, size_t len, char delim);
/* Whether every field of the line is a finite number (a data line, as
 * opposed to a header). s must be NUL-terminated at len. */
bool kiln__ml_csv_numeric(const char *s, size_t len, char delim);
/* Parse a CSV data line of exactly ncols fields (s NUL-terminated at
 * len). label_col: 0-based column of the label, or -1 for none (label set
 * to NaN). features receives the other ncols (- 1) fields in order.
 * Returns KILN_OK, or KILN_ERR_PARSE with `why`; *blank for a line of only
 * spaces. */
kiln_status kiln__ml_parse_csv(const char *s, size_t len, char delim,
                               size_t ncols, int64_t label_col, double *label,
                               double *features, bool *blank, char *why);

/* ---- HDF5 input (ml_hdf5.c) ---- */

/* The rows of one HDF5 file, (F64 /y or NaN, FIXED dim * 8 doubles). x_name
 * and y_name are set (defaults applied); y_required: the caller named
 * y_name. *labeled: /y was found. Collective. */
kiln_status kiln__ml_hdf5_rows(kiln_context *ctx, const char *path,
                               const char *x_name, const char *y_name,
                               bool y_required, uint32_t nparts,
                               kiln_dataset **out, uint32_t *dim,
                               bool *labeled);

#endif
