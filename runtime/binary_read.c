/* runtime/binary_read.c: reading a split of fixed-size binary records (io).
 * Splits are cut at record boundaries by the master, so a reader owns
 * exactly its bytes. Records are read in large pieces and de-interleaved
 * into the block's key and value columns. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/error.h"
#include "runtime/io.h"

enum { READ_BYTES = 4 << 20 };

kiln_status kiln__binary_open(kiln__binary_reader *r, kiln__mem *mem,
                              const char *path, uint64_t offset,
                              uint64_t length, const kiln_schema *schema)
{
    memset(r, 0, sizeof *r);
    r->mem = mem;
    r->path = path;
    r->pos = offset;
    r->end = offset + length;
    r->key_bytes = schema->key.kind == KILN_KIND_NONE ? 0 : schema->key.size;
    r->value_bytes = schema->value.size;
    size_t record = r->key_bytes + r->value_bytes;
    r->cap = READ_BYTES / record * record;
    if (r->cap == 0)
        r->cap = record;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return KILN_ERROR(KILN_ERR_IO, "cannot open input '%s': %s", path,
                          strerror(errno));
    r->buf = kiln__mem_alloc(mem, r->cap);
    if (!r->buf) {
        close(r->fd);
        r->fd = -1;
        return KILN_ERROR(KILN_ERR_NOMEM, "read buffer of %zu bytes", r->cap);
    }
    return KILN_OK;
}

kiln_status kiln__binary_next(kiln__binary_reader *r, kiln__block *out,
                              size_t max_records, bool *done)
{
    size_t record = r->key_bytes + r->value_bytes;
    uint64_t left = r->end - r->pos;
    size_t want = r->cap;
    if (want / record > max_records)
        want = max_records * record;
    if (want > left)
        want = (size_t)left;
    size_t got = 0;
    while (got < want) {
        ssize_t n = pread(r->fd, r->buf + got, want - got, (off_t)(r->pos + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return KILN_ERROR(KILN_ERR_IO, "cannot read '%s': %s", r->path,
                              strerror(errno));
        if (n == 0)
            return KILN_ERROR(KILN_ERR_IO, "'%s' ended early (was it truncated "
                              "while being read?)", r->path);
        got += (size_t)n;
    }
    size_t n = got / record;
    kiln_status st = kiln__block_reserve(out, n, n * r->key_bytes, n * r->value_bytes);
    if (st != KILN_OK)
        return st;
    const unsigned char *p = r->buf;
    for (size_t i = 0; i < n; i++, p += record) {
        kiln__column_put(out, &out->key, p, r->key_bytes);
        kiln__column_put(out, &out->value, p + r->key_bytes, r->value_bytes);
        out->n++;
    }
    r->origin = (kiln_origin){.path = r->path, .first_offset = r->pos,
                              .record_bytes = record};
    r->pos += got;
    r->bytes_read += got;
    *done = r->pos >= r->end;
    return KILN_OK;
}

void kiln__binary_close(kiln__binary_reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    kiln__mem_free(r->mem, r->buf);
    r->buf = NULL;
}
