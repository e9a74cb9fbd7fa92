/* runtime/text_read.c: reading one split of a text file as lines.
 * A line belongs to the split it starts in. A split that does not start the
 * file skips to just after the first '\n' at or after (offset - 1); a line
 * that starts inside the split is read to its end even past the split. Reads
 * are large (up to 4 MiB) and stop a little past the split end, so
 * neighbouring tasks do not read each other's bytes twice. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/error.h"
#include "runtime/io.h"

enum { READ_CHUNK = 4 << 20, LOOKAHEAD = 64 << 10 };

/* Move the unread tail to the front and read more; grows the buffer when a
 * single line fills it. */
static kiln_status fill(kiln__text_reader *r)
{
    if (r->cursor) {
        memmove(r->buf, r->buf + r->cursor, r->len - r->cursor);
        r->buf_off += r->cursor;
        r->len -= r->cursor;
        r->cursor = 0;
    }
    if (r->len == r->cap) {
        size_t cap = r->cap * 2;
        unsigned char *buf = kiln__mem_realloc(r->mem, r->buf, cap);
        if (!buf)
            return KILN_ERROR(KILN_ERR_NOMEM, "%s: a line of over %zu bytes",
                              r->path, r->len);
        r->buf = buf;
        r->cap = cap;
    }
    uint64_t at = r->buf_off + r->len;
    size_t want = r->cap - r->len;
    if (at < r->end) {
        uint64_t left = r->end - at + LOOKAHEAD;
        if (left < want)
            want = (size_t)left;
    } else {
        size_t step = r->len > LOOKAHEAD ? r->len : LOOKAHEAD;
        if (step < want)
            want = step;
    }
    for (;;) {
        ssize_t n = pread(r->fd, r->buf + r->len, want, (off_t)at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return KILN_ERROR(KILN_ERR_IO, "cannot read '%s': %s", r->path,
                              strerror(errno));
        if (n == 0)
            r->eof = true;
        r->len += (size_t)n;
        r->bytes_read += (uint64_t)n;
        return KILN_OK;
    }
}

/* Skip to the first line that starts at or after `offset`: after the first
 * '\n' in [offset - 1, end - 1). No such '\n': no line starts here. */
static kiln_status skip_partial_line(kiln__text_reader *r)
{
    for (;;) {
        uint64_t limit = r->end - 1; /* '\n' must be before this offset */
        size_t stop = r->len;
        if (r->buf_off + stop > limit)
            stop = (size_t)(limit - r->buf_off);
        if (stop > r->cursor) {
            unsigned char *nl = memchr(r->buf + r->cursor, '\n', stop - r->cursor);
            if (nl) {
                r->cursor = (size_t)(nl - r->buf) + 1;
                return KILN_OK;
            }
        }
        r->cursor = stop;
        if (r->buf_off + stop >= limit || r->eof) {
            r->done = true;
            return KILN_OK;
        }
        kiln_status st = fill(r);
        if (st != KILN_OK)
            return st;
    }
}

kiln_status kiln__text_open(kiln__text_reader *r, kiln__mem *mem,
                            const char *path, uint64_t offset, uint64_t length)
{
    memset(r, 0, sizeof *r);
    r->mem = mem;
    r->path = path;
    r->end = offset + length;
    r->buf_off = offset ? offset - 1 : 0;
    r->origin.path = path;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return KILN_ERROR(KILN_ERR_IO, "cannot open input '%s': %s", path,
                          strerror(errno));
    size_t cap = length + LOOKAHEAD < READ_CHUNK ? (size_t)length + LOOKAHEAD
                                                 : READ_CHUNK;
    r->cap = cap;
    r->buf = kiln__mem_alloc(mem, cap);
    if (!r->buf) {
        close(r->fd);
        r->fd = -1;
        return KILN_ERROR(KILN_ERR_NOMEM, "read buffer of %zu bytes", cap);
    }
    if (length == 0) {
        r->done = true;
        return KILN_OK;
    }
    kiln_status st = fill(r);
    if (st == KILN_OK && offset > 0)
        st = skip_partial_line(r);
    return st;
}

static kiln_status note_offset(kiln__text_reader *r, size_t i, uint64_t off)
{
    if (i >= r->offsets_cap) {
        size_t cap = kiln__mem_grow(r->offsets_cap, i + 1, 1024);
        uint64_t *v = kiln__mem_realloc(r->mem, r->line_offsets, cap * sizeof *v);
        if (!v)
            return KILN_ERROR(KILN_ERR_NOMEM, "line offsets");
        r->line_offsets = v;
        r->offsets_cap = cap;
    }
    r->line_offsets[i] = off;
    return KILN_OK;
}

kiln_status kiln__text_next(kiln__text_reader *r, kiln__block *out,
                            size_t max_records, size_t max_bytes, bool *done)
{
    kiln_status st = KILN_OK;
    size_t records = 0, bytes = 0;
    while (!r->done && records < max_records && bytes < max_bytes) {
        if (r->buf_off + r->cursor >= r->end) {
            r->done = true;
            break;
        }
        size_t start = r->cursor;
        unsigned char *nl = memchr(r->buf + start, '\n', r->len - start);
        size_t stop, next;
        if (nl) {
            stop = (size_t)(nl - r->buf);
            next = stop + 1;
        } else if (r->eof) {
            if (start == r->len) { /* the file ended with '\n' */
                r->done = true;
                break;
            }
            stop = next = r->len;
        } else {
            if ((st = fill(r)) != KILN_OK)
                break;
            continue;
        }
        size_t len = stop - start;
        if (len && nl && r->buf[stop - 1] == '\r')
            len--; /* CRLF: the terminator is both bytes */
        if ((st = note_offset(r, records, r->buf_off + start)) != KILN_OK)
            break;
        if ((st = kiln__block_append(out, NULL, 0, r->buf + start, len)) != KILN_OK)
            break;
        records++;
        bytes += len + 8;
        r->cursor = next;
        if (!nl)
            r->done = true;
    }
    r->origin.line_offsets = r->line_offsets;
    *done = r->done;
    return st;
}

void kiln__text_close(kiln__text_reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    kiln__mem_free(r->mem, r->buf);
    kiln__mem_free(r->mem, r->line_offsets);
    r->buf = NULL;
    r->line_offsets = NULL;
}

uint64_t kiln__text_line_number(const char *path, uint64_t offset)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    uint64_t line = 1, pos = 0;
    while (buf && pos < offset) {
        size_t want = offset - pos < CHUNK ? (size_t)(offset - pos) : CHUNK;
        ssize_t n = pread(fd, buf, want, (off_t)pos);
        if (n <= 0)
            break;
        for (const unsigned char *p = buf, *end = buf + n;
             (p = memchr(p, '\n', (size_t)(end - p))); p++)
            line++;
        pos += (uint64_t)n;
    }
    free(buf);
    close(fd);
    return pos >= offset ? line : 0;
}

const char *kiln_batch_where(const kiln_batch *b, size_t i, char *buf,
                             size_t size)
{
    if (!buf || size == 0)
        return buf;
    uint64_t line = 0;
    const kiln_origin *o = b && i < b->n ? b->origin : NULL;
    if (o && o->path && o->line_offsets)
        line = kiln__text_line_number(o->path, o->line_offsets[i]);
    if (line) {
        snprintf(buf, size, "%s:%llu", o->path, (unsigned long long)line);
    } else if (o && o->path && o->record_bytes) {
        /* Binary records: the record's number in the file, and its byte. */
        uint64_t at = o->first_offset + (uint64_t)i * o->record_bytes;
        snprintf(buf, size, "%s: record %llu (byte %llu)", o->path,
                 (unsigned long long)(at / o->record_bytes + 1),
                 (unsigned long long)at);
    } else if (b)
        snprintf(buf, size, "partition %u record %zu", b->partition, i);
    else
        snprintf(buf, size, "?");
    return buf;
}
