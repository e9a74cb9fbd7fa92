/* runtime/text_write.c: records to text lines, and part files. Formatting
 * appends straight into one output buffer (no per-record allocation or
 * stdio); part files are written in 1 MiB pieces. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/error.h"
#include "runtime/io.h"

enum { FLUSH_BYTES = 1 << 20 };

kiln_status kiln__bytes_reserve(kiln__bytes *b, size_t more)
{
    if (b->len + more <= b->cap)
        return KILN_OK;
    size_t cap = kiln__mem_grow(b->cap, b->len + more, 4096);
    unsigned char *data = kiln__mem_realloc(b->mem, b->data, cap);
    if (!data)
        return KILN_ERROR(KILN_ERR_NOMEM, "text buffer of %zu bytes", cap);
    b->data = data;
    b->cap = cap;
    return KILN_OK;
}

void kiln__bytes_release(kiln__bytes *b)
{
    kiln__mem_free(b->mem, b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static size_t put_u64(unsigned char *p, uint64_t v)
{
    unsigned char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (unsigned char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

/* The shortest of %.15g..%.17g that reads back to the same double. */
static size_t put_f64(unsigned char *p, double v)
{
    char tmp[32];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v || v != v)
            break;
    }
    memcpy(p, tmp, (size_t)n);
    return (size_t)n;
}

static size_t put_hex(unsigned char *p, const unsigned char *src, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        p[2 * i] = (unsigned char)digits[src[i] >> 4];
        p[2 * i + 1] = (unsigned char)digits[src[i] & 15];
    }
    return 2 * len;
}

/* Room one value of this kind can take when printed. */
static size_t max_width(kiln_kind kind, size_t len)
{
    switch (kind) {
    case KILN_KIND_U64:
    case KILN_KIND_I64:
    case KILN_KIND_F64:
        return 32;
    case KILN_KIND_STRING:
        return len;
    default:
        return 2 * len;
    }
}

static size_t put_scalar(unsigned char *p, kiln_kind kind, const void *v,
                         size_t len)
{
    switch (kind) {
    case KILN_KIND_U64: {
        uint64_t x;
        memcpy(&x, v, 8);
        return put_u64(p, x);
    }
    case KILN_KIND_I64: {
        int64_t x;
        memcpy(&x, v, 8);
        if (x < 0) {
            p[0] = '-';
            return 1 + put_u64(p + 1, (uint64_t)0 - (uint64_t)x);
        }
        return put_u64(p, (uint64_t)x);
    }
    case KILN_KIND_F64: {
        double x;
        memcpy(&x, v, 8);
        return put_f64(p, x);
    }
    case KILN_KIND_STRING:
        if (len)
            memcpy(p, v, len);
        return len;
    default:
        return put_hex(p, v, len);
    }
}

/* A scalar, or a LIST of elem_kind as comma-separated elements. */
static kiln_status put_part(kiln__bytes *out, kiln_kind kind, kiln_kind elem_kind,
                            size_t elem_size, const void *v, size_t len)
{
    kiln_status st;
    if (kind != KILN_KIND_LIST) {
        if ((st = kiln__bytes_reserve(out, max_width(kind, len))) != KILN_OK)
            return st;
        out->len += put_scalar(out->data + out->len, kind, v, len);
        return KILN_OK;
    }
    kiln_list_iter it = kiln_list_begin(v, len, elem_size);
    const void *e;
    size_t elen;
    bool first = true;
    while (kiln_list_next(&it, &e, &elen)) {
        if ((st = kiln__bytes_reserve(out, 1 + max_width(elem_kind, elen))) != KILN_OK)
            return st;
        if (!first)
            out->data[out->len++] = ',';
        out->len += put_scalar(out->data + out->len, elem_kind, e, elen);
        first = false;
    }
    return KILN_OK;
}

/* A field; a PAIR is its two parts separated by a tab, an absent part
 * (outer joins) printed empty. */
static kiln_status put_field(kiln__bytes *out, const kiln_type *t,
                             const void *v, size_t len)
{
    if (t->kind != KILN_KIND_PAIR)
        return put_part(out, t->kind, t->elem_kind, t->elem_size, v, len);
    kiln_pair p = kiln_pair_get(v, len);
    kiln_status st = KILN_OK;
    if (p.has_left)
        st = put_part(out, t->left.kind, t->left.elem_kind, t->left.elem_size,
                      p.left, p.left_len);
    if (st == KILN_OK)
        st = kiln__bytes_reserve(out, 1);
    if (st == KILN_OK)
        out->data[out->len++] = '\t';
    if (st == KILN_OK && p.has_right)
        st = put_part(out, t->right.kind, t->right.elem_kind, t->right.elem_size,
                      p.right, p.right_len);
    return st;
}

kiln_status kiln__text_format(const kiln_schema *s, const kiln_batch *b,
                              kiln__bytes *out)
{
    kiln_status st;
    bool keyed = s->key.kind != KILN_KIND_NONE;
    for (size_t i = 0; i < b->n; i++) {
        size_t len;
        if (keyed) {
            const void *k = kiln_batch_key(b, i, &len);
            if ((st = put_field(out, &s->key, k, len)) != KILN_OK)
                return st;
            if ((st = kiln__bytes_reserve(out, 1)) != KILN_OK)
                return st;
            out->data[out->len++] = '\t';
        }
        const void *v = kiln_batch_value(b, i, &len);
        if ((st = put_field(out, &s->value, v, len)) != KILN_OK)
            return st;
        if ((st = kiln__bytes_reserve(out, 1)) != KILN_OK)
            return st;
        out->data[out->len++] = '\n';
    }
    return KILN_OK;
}

static kiln_status write_all(kiln__part_writer *w)
{
    size_t done = 0;
    while (done < w->buf.len) {
        ssize_t n = write(w->fd, w->buf.data + done, w->buf.len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return KILN_ERROR(KILN_ERR_IO, "cannot write '%s': %s", w->path,
                              strerror(errno));
        done += (size_t)n;
    }
    w->bytes += w->buf.len;
    w->buf.len = 0;
    return KILN_OK;
}

kiln_status kiln__part_open(kiln__part_writer *w, kiln__mem *mem,
                            const char *dir, uint32_t partition)
{
    memset(w, 0, sizeof *w);
    w->buf.mem = mem;
    snprintf(w->path, sizeof w->path, "%s/part-%05u", dir, partition);
    w->fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0)
        return KILN_ERROR(KILN_ERR_IO, "cannot create '%s': %s", w->path,
                          strerror(errno));
    return KILN_OK;
}

kiln_status kiln__part_write(kiln__part_writer *w, const kiln_schema *s,
                             const kiln_batch *b)
{
    kiln_status st = kiln__text_format(s, b, &w->buf);
    if (st == KILN_OK && w->buf.len >= FLUSH_BYTES)
        st = write_all(w);
    return st;
}

kiln_status kiln__part_write_raw(kiln__part_writer *w, const kiln_batch *b)
{
    size_t record = b->key_size + b->value_size;
    kiln_status st = kiln__bytes_reserve(&w->buf, b->n * record);
    if (st != KILN_OK)
        return st;
    unsigned char *p = w->buf.data + w->buf.len;
    for (size_t i = 0; i < b->n; i++, p += record) {
        if (b->key_size)
            kiln__copy(p, b->keys + i * b->key_size, b->key_size);
        kiln__copy(p + b->key_size, b->values + i * b->value_size, b->value_size);
    }
    w->buf.len += b->n * record;
    if (w->buf.len >= FLUSH_BYTES)
        st = write_all(w);
    return st;
}

kiln_status kiln__part_close(kiln__part_writer *w, bool ok)
{
    kiln_status st = KILN_OK;
    if (w->fd < 0)
        return KILN_OK;
    if (ok)
        st = write_all(w);
    if (close(w->fd) != 0 && st == KILN_OK && ok)
        st = KILN_ERROR(KILN_ERR_IO, "cannot close '%s': %s", w->path,
                        strerror(errno));
    w->fd = -1;
    if (!ok || st != KILN_OK)
        unlink(w->path);
    kiln__bytes_release(&w->buf);
    return st;
}
