/* runtime/dataset_ops.c: constructors of the partitioning, ordering and
 * two-sided operations (plan module). Like dataset.c, they only check
 * arguments and record lineage nodes. */
#include <stdlib.h>
#include <string.h>

#define KILN_DATASET_IMPL
#include "runtime/dataset_impl.h"
#include "runtime/error.h"

/* Common prologue: a live dataset and an out pointer. */
static kiln_status begin(kiln_dataset *ds, kiln_dataset **out, kiln_context **ctx)
{
    kiln_status st = kiln__ds_check_live(ds);
    if (st != KILN_OK)
        return st;
    if (!out)
        return KILN_ERR_INVAL;
    *ctx = ds->node.ctx;
    kiln__api_begin(*ctx);
    return KILN_OK;
}

static kiln_status placed(kiln_dataset *ds, kiln__placement how,
                          uint32_t nparts, const char *what, kiln_dataset **out)
{
    kiln_context *ctx;
    kiln_status st = begin(ds, out, &ctx);
    if (st != KILN_OK)
        return st;
    kiln__node *n = NULL;
    if (how != KILN__PLACE_ROUND_ROBIN && ds->node.schema.key.kind == KILN_KIND_NONE) {
        st = KILN_ERROR(KILN_ERR_INVAL, "%s: the dataset has no key", what);
        goto done;
    }
    KILN_CHECK(st, kiln__ds_wide(ds, KILN__NODE_PARTITION, &ds->node.schema, nparts,
                                 &n), done);
    n->u.part.how = how;
done:
    return kiln__ds_finish(ctx, st, n, out);
}

kiln_status kiln_dataset_partition_by(kiln_dataset *ds, kiln_partitioner how,
                                      uint32_t nparts, kiln_dataset **out)
{
    if (how != KILN_PARTITION_HASH && how != KILN_PARTITION_RANGE)
        return KILN_ERR_INVAL;
    return placed(ds, how == KILN_PARTITION_RANGE ? KILN__PLACE_RANGE : KILN__PLACE_HASH,
                  nparts, "partition_by", out);
}

kiln_status kiln_dataset_repartition(kiln_dataset *ds, uint32_t nparts,
                                     kiln_dataset **out)
{
    if (nparts == 0)
        return KILN_ERR_INVAL;
    return placed(ds, KILN__PLACE_ROUND_ROBIN, nparts, "repartition", out);
}

kiln_status kiln_dataset_sort_by_key(kiln_dataset *ds, const kiln_order *order,
                                     uint32_t nparts, kiln_dataset **out)
{
    kiln_context *ctx;
    kiln_status st = begin(ds, out, &ctx);
    if (st != KILN_OK)
        return st;
    kiln__node *n = NULL;
    if (ds->node.schema.key.kind == KILN_KIND_NONE) {
        st = KILN_ERROR(KILN_ERR_INVAL, "sort_by_key: the dataset has no key "
                                        "(key_by first)");
        goto done;
    }
    KILN_CHECK(st, kiln__ds_wide(ds, KILN__NODE_SORT, &ds->node.schema, nparts, &n),
               done);
    if (order) {
        n->u.sort.descending = order->descending;
        n->u.sort.compare = order->compare;
        n->u.sort.arg = order->arg;
    }
done:
    return kiln__ds_finish(ctx, st, n, out);
}

kiln_status kiln_dataset_coalesce(kiln_dataset *ds, uint32_t nparts,
                                   kiln_dataset **out)
{
    kiln_context *ctx;
    kiln_status st = begin(ds, out, &ctx);
    if (st != KILN_OK)
        return st;
    kiln__node *n = NULL;
    if (nparts == 0) {
        st = KILN_ERROR(KILN_ERR_INVAL, "coalesce: 0 partitions");
        goto done;
    }
    KILN_CHECK(st, kiln__ds_derive(ds, KILN__NODE_COALESCE, &ds->node.schema, &n),
               done);
    n->want_parts = nparts;
    n->nparts = 0; /* min(nparts, the parent's), once the parent's is known */
done:
    return kiln__ds_finish(ctx, st, n, out);
}

/* ---- two-sided operations ---- */

static kiln_part part_of(const kiln_type *t)
{
    kiln_part p = {t->kind, kiln__type_variable(t) ? 0 : t->size, t->elem_kind,
                   t->elem_size};
    return p;
}

static kiln_part list_of(const kiln_type *t)
{
    kiln_part p = {KILN_KIND_LIST, 0, t->kind,
                   kiln__type_variable(t) ? 0 : t->size};
    return p;
}

static kiln_status two_sided(kiln_dataset *a, kiln_dataset *b,
                             kiln__join_kind kind, uint32_t nparts,
                             const char *what, kiln_dataset **out)
{
    kiln_context *ctx;
    kiln_status st = begin(a, out, &ctx);
    if (st != KILN_OK)
        return st;
    kiln__node *n = NULL;
    if ((st = kiln__ds_check_live(b)) != KILN_OK)
        goto done;
    const kiln_schema *sa = &a->node.schema, *sb = &b->node.schema;
    if (b->node.ctx != ctx) {
        st = KILN_ERROR(KILN_ERR_INVAL, "%s: datasets of different contexts", what);
        goto done;
    }
    if (sa->key.kind == KILN_KIND_NONE || sb->key.kind == KILN_KIND_NONE) {
        st = KILN_ERROR(KILN_ERR_INVAL, "%s: both datasets need keys", what);
        goto done;
    }
    if (!kiln__ds_type_equal(&sa->key, &sb->key)) {
        st = KILN_ERROR(KILN_ERR_INVAL, "%s: the key types differ", what);
        goto done;
    }
    kiln_schema s = *sa; /* subtract keeps a's records as they are */
    if (kind != KILN__JOIN_SUBTRACT) {
        memset(&s.value, 0, sizeof s.value);
        s.value.kind = KILN_KIND_PAIR;
        s.value.left = kind == KILN__JOIN_COGROUP ? list_of(&sa->value) : part_of(&sa->value);
        s.value.right = kind == KILN__JOIN_COGROUP ? list_of(&sb->value) : part_of(&sb->value);
    }
    KILN_CHECK(st, kiln__ds_wide(a, KILN__NODE_JOIN, &s, nparts, &n), done);
    n->parent[1] = kiln__node_of(b);
    n->nparents = 2;
    b->node.refs++;
    n->u.join.kind = kind;
    n->u.join.strategy = KILN__STRATEGY_UNDECIDED;
done:
    return kiln__ds_finish(ctx, st, n, out);
}

kiln_status kiln_dataset_join(kiln_dataset *a, kiln_dataset *b, kiln_join kind,
                              uint32_t nparts, kiln_dataset **out)
{
    static const kiln__join_kind kinds[] = {KILN__JOIN_INNER, KILN__JOIN_LEFT,
                                            KILN__JOIN_RIGHT, KILN__JOIN_FULL};
    if ((unsigned)kind > KILN_JOIN_FULL_OUTER)
        return KILN_ERR_INVAL;
    return two_sided(a, b, kinds[kind], nparts, "join", out);
}

kiln_status kiln_dataset_cogroup(kiln_dataset *a, kiln_dataset *b,
                                 uint32_t nparts, kiln_dataset **out)
{
    return two_sided(a, b, KILN__JOIN_COGROUP, nparts, "cogroup", out);
}

kiln_status kiln_dataset_subtract_by_key(kiln_dataset *a, kiln_dataset *b,
                                         uint32_t nparts, kiln_dataset **out)
{
    return two_sided(a, b, KILN__JOIN_SUBTRACT, nparts, "subtract_by_key", out);
}
