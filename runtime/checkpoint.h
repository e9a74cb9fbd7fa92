/* runtime/checkpoint.h: computed partitions to disk and back (checkpoint
 * module).
 * Owns:     the checkpoint format - one HDF5 file per checkpoint holding a
 *           flat byte dataset /data (each partition's records in their wire
 *           form, partitions in order), /index (per partition: offset,
 *           length, records, XXH3 checksum) and the schema and lineage
 *           signature as attributes - and its manifest, NAME.manifest,
 *           which the master writes and renames into place only after
 *           every rank's data is on disk: no manifest, no checkpoint.
 *           Also the lineage signature, the signal flag and fault injection.
 * Uses:     storage (wire form), io (h5zstd), the context's communicator.
 * Must not: decide what or when to checkpoint (schedule and the actions
 *           do), or call user code.
 * Only io and checkpoint include hdf5.h. */
#ifndef KILN_RUNTIME_CHECKPOINT_H
#define KILN_RUNTIME_CHECKPOINT_H

#include "runtime/node.h"

/* A signature of n's lineage and inputs: kinds, types, parents, asked-for
 * partition counts and what the sources read (file names, sizes and
 * modification times; parallelized bytes; ranges) - not the partition
 * counts the planner chose, which may depend on the number of ranks, so a
 * checkpoint resumes on any number. Master only (it reads file metadata);
 * text and binary sources must be split. */
uint64_t kiln__checkpoint_signature(kiln__mem *mem, kiln__node *n);

/* Write the partitions held in res (part[p] on the rank that has it) as
 * checkpoint `name`. Collective; committed by the master once every rank's
 * data is on disk; replaces an older checkpoint of the same name whole. */
kiln_status kiln__checkpoint_write(kiln_context *ctx, const char *name,
                                   const kiln_schema *schema,
                                   const kiln__resident *res, uint64_t signature);

/* Read checkpoint `name`: on *found, *out holds partition p on rank
 * p % nranks (complete) and *schema_out its schema (borrowed pointers to
 * functions are lost: FIXED types come back without hash or compare).
 * *found is false, with a warning saying why, when the checkpoint is
 * damaged or its signature or schema differs (signature 0, schema NULL:
 * accept any), or when a data file has no manifest (an uncommitted write
 * or a lost manifest); silently when there is neither. Collective. */
kiln_status kiln__checkpoint_read(kiln_context *ctx, const char *name,
                                  const kiln_schema *schema, uint64_t signature,
                                  kiln__resident **out, kiln_schema *schema_out,
                                  bool *found);

/* Remove checkpoint `name`: manifest first, then data. Master only. */
void kiln__checkpoint_remove(kiln_context *ctx, const char *name);

/* ---- signals and fault injection ---- */

/* Catch SIGTERM and SIGUSR1 (flag only; see checkpoint_signal.c). */
void kiln__checkpoint_signals_install(void);
/* Whether a signal arrived on this rank since the start. */
bool kiln__checkpoint_signalled(void);
/* --kiln-fail-at: SIGKILL this rank if `stage` is the one asked for. */
void kiln__checkpoint_fail_at(const kiln_context *ctx, uint64_t stage);

#endif
