/* runtime/io.h: files in and out (the io module).
 * Owns:     listing and splitting text inputs (run by the master), reading a
 *           split line by line, formatting records as text, writing part
 *           files, and the staging-directory protocol that makes an output
 *           directory appear whole or not at all.
 * Uses:     block (records are read into and formatted from blocks), mem.
 * Must not: communicate (schedule broadcasts what the master decides) or
 *           call user code. Only io and checkpoint touch the file system. */
#ifndef KILN_RUNTIME_IO_H
#define KILN_RUNTIME_IO_H

#include "runtime/block.h"
#include "runtime/node.h"

/* ---- inputs (master) ---- */

/* Expand paths (files, directories, glob patterns) into files and cut each
 * into ranges of about split_bytes. A missing path or an unreadable file is
 * KILN_ERR_IO naming it. record_bytes > 0 (binary files): ranges are cut at
 * multiples of it, and a file whose size is not one is KILN_ERR_PARSE.
 * *out owned by the caller. */
kiln_status kiln__text_split(const char *const *paths, size_t npaths,
                             uint64_t split_bytes, uint64_t record_bytes,
                             kiln__text_splits **out);

/* Flatten splits into bytes for a broadcast and back. */
kiln_status kiln__text_splits_pack(const kiln__text_splits *s,
                                   unsigned char **buf, size_t *len);
kiln_status kiln__text_splits_unpack(const unsigned char *buf, size_t len,
                                     kiln__text_splits **out);

/* ---- reading a split ---- */

struct kiln_origin {
    const char *path;              /* borrowed from the splits */
    const uint64_t *line_offsets;  /* text: file offset of each record's line */
    uint64_t first_offset;         /* binary (line_offsets NULL): offset of the
                                      batch's first record */
    size_t record_bytes;           /* binary: bytes per record */
};

typedef struct kiln__text_reader {
    kiln__mem *mem;
    int fd;
    const char *path;     /* borrowed */
    uint64_t end;         /* lines starting before this offset are ours */
    unsigned char *buf;   /* file bytes [buf_off, buf_off + len) */
    size_t cap, len, cursor; /* cursor: next line start, index into buf */
    uint64_t buf_off;
    bool eof, done;
    uint64_t *line_offsets; /* per record of the current batch */
    size_t offsets_cap;
    kiln_origin origin;
    uint64_t bytes_read;
} kiln__text_reader;

kiln_status kiln__text_open(kiln__text_reader *r, kiln__mem *mem,
                            const char *path, uint64_t offset, uint64_t length);
/* Append up to max_records lines (or about max_bytes) to out, a block of
 * plain STRING values, and point r->origin at their offsets. *done when the
 * split is exhausted (out may still hold records). */
kiln_status kiln__text_next(kiln__text_reader *r, kiln__block *out,
                            size_t max_records, size_t max_bytes, bool *done);
void kiln__text_close(kiln__text_reader *r);

/* ---- reading a split of fixed-size binary records ---- */

/* Read records [offset, offset + length) of path (a multiple of the record
 * size) into out, up to max_records per call; *done at the end. */
typedef struct kiln__binary_reader {
    kiln__mem *mem;
    int fd;
    const char *path;
    uint64_t pos, end;
    size_t key_bytes, value_bytes;
    unsigned char *buf;
    size_t cap;
    uint64_t bytes_read;
    kiln_origin origin;   /* of the last batch read */
} kiln__binary_reader;

kiln_status kiln__binary_open(kiln__binary_reader *r, kiln__mem *mem,
                              const char *path, uint64_t offset,
                              uint64_t length, const kiln_schema *schema);
kiln_status kiln__binary_next(kiln__binary_reader *r, kiln__block *out,
                              size_t max_records, bool *done);
void kiln__binary_close(kiln__binary_reader *r);

/* ---- either kind: one split of a file source ---- */

typedef struct kiln__split_reader {
    bool binary;
    kiln__text_reader text;
    kiln__binary_reader bin;
} kiln__split_reader;

/* Open split `partition` of a text or binary source node (split). *done
 * when it has nothing to read. */
kiln_status kiln__split_open(kiln__split_reader *r, kiln__mem *mem,
                             const kiln__node *source, uint32_t partition,
                             bool *done);
/* Append up to max_records records (text: about max_bytes) to out. */
kiln_status kiln__split_next(kiln__split_reader *r, kiln__block *out,
                             size_t max_records, size_t max_bytes, bool *done);
/* Where the last batch's records came from. */
const kiln_origin *kiln__split_origin(const kiln__split_reader *r);
uint64_t kiln__split_bytes_read(const kiln__split_reader *r);
void kiln__split_close(kiln__split_reader *r);

/* Line number (1-based) of the line starting at `offset` in path, counted by
 * reading the file; 0 when it cannot be read. For error messages only. */
uint64_t kiln__text_line_number(const char *path, uint64_t offset);

/* ---- writing text ---- */

/* A growable byte buffer. */
typedef struct kiln__bytes {
    kiln__mem *mem;
    unsigned char *data;
    size_t len, cap;
} kiln__bytes;

kiln_status kiln__bytes_reserve(kiln__bytes *b, size_t more);
void kiln__bytes_release(kiln__bytes *b);

/* Append records of b as text lines ("key<TAB>value\n" or "value\n"). */
kiln_status kiln__text_format(const kiln_schema *s, const kiln_batch *b,
                              kiln__bytes *out);

/* A part file being written. */
typedef struct kiln__part_writer {
    int fd;
    char path[4096];
    kiln__bytes buf;
    uint64_t bytes;
} kiln__part_writer;

kiln_status kiln__part_open(kiln__part_writer *w, kiln__mem *mem,
                            const char *dir, uint32_t partition);
kiln_status kiln__part_write(kiln__part_writer *w, const kiln_schema *s,
                             const kiln_batch *b);
/* Raw records: key bytes then value bytes (fixed-size types). */
kiln_status kiln__part_write_raw(kiln__part_writer *w, const kiln_batch *b);
/* Flush and close; on failure (or when `ok` is false) the file is removed. */
kiln_status kiln__part_close(kiln__part_writer *w, bool ok);

/* ---- output directories (master) ---- */

/* Refuse an existing dir unless overwrite; create a fresh staging directory
 * beside it named after job_id, into `staging` (size bytes). */
kiln_status kiln__output_prepare(const char *dir, bool overwrite,
                                 const char *job_id, char *staging,
                                 size_t size);
/* Move staging into place (replacing dir whole when it exists) and write
 * dir/_SUCCESS last. */
kiln_status kiln__output_commit(const char *dir, const char *staging,
                                const char *job_id);
/* Remove a staging directory after a failure. */
void kiln__output_abort(const char *staging);
/* rm -rf; KILN_OK when path does not exist. */
kiln_status kiln__remove_tree(const char *path);

#endif
