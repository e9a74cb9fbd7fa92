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
