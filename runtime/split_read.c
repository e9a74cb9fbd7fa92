/* runtime/split_read.c: one interface over the text and binary split
 * readers (io module), so execute reads any file source the same way. */
#include <string.h>

#include "runtime/io.h"

kiln_status kiln__split_open(kiln__split_reader *r, kiln__mem *mem,
                             const kiln__node *source, uint32_t partition,
                             bool *done)
{
    const kiln__text_splits *sp = source->u.text.splits;
    const kiln__split *split = &sp->splits[partition];
    const char *path = sp->files[split->file];
    memset(r, 0, sizeof *r);
    r->text.fd = r->bin.fd = -1;
    r->binary = source->kind == KILN__NODE_BINARY;
    *done = false;
    if (!r->binary)
        return kiln__text_open(&r->text, mem, path, split->offset, split->length);
    *done = split->length == 0;
    return kiln__binary_open(&r->bin, mem, path, split->offset, split->length,
                             &source->schema);
}

kiln_status kiln__split_next(kiln__split_reader *r, kiln__block *out,
                             size_t max_records, size_t max_bytes, bool *done)
{
    if (r->binary)
        return kiln__binary_next(&r->bin, out, max_records, done);
    return kiln__text_next(&r->text, out, max_records, max_bytes, done);
}

const kiln_origin *kiln__split_origin(const kiln__split_reader *r)
{
    return r->binary ? &r->bin.origin : &r->text.origin;
}

uint64_t kiln__split_bytes_read(const kiln__split_reader *r)
{
    return r->binary ? r->bin.bytes_read : r->text.bytes_read;
}

void kiln__split_close(kiln__split_reader *r)
{
    if (r->binary)
        kiln__binary_close(&r->bin);
    else
        kiln__text_close(&r->text);
}
