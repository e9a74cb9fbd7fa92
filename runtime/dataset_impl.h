/* runtime/dataset_impl.h: helpers shared by the files that implement the
 * public dataset constructors (dataset.c, dataset_ops.c; plan module, and
 * hdf5_read.c for kiln_hdf5_read()).
 * Owns:     nothing; declares how a constructor makes and returns a node.
 * Must not: be included anywhere else. */
#ifndef KILN_RUNTIME_DATASET_IMPL_H
#define KILN_RUNTIME_DATASET_IMPL_H

#ifndef KILN_DATASET_IMPL
#error "runtime/dataset_impl.h is private to the dataset constructors"
#endif

#include "runtime/node.h"

kiln_status kiln__ds_check_schema(const kiln_schema *s);
bool kiln__ds_type_equal(const kiln_type *a, const kiln_type *b);
/* KILN_ERR_STATE after kiln_finalize(), KILN_ERR_INVAL for NULL. */
kiln_status kiln__ds_check_live(const kiln_dataset *ds);
/* A new node with no parents, registered with the context. */
kiln_status kiln__ds_new(kiln_context *ctx, kiln__node_kind kind,
                         const kiln_schema *schema, kiln__node **out);
/* A node over `parent` (one reference taken); narrow kinds inherit its
 * partition count. */
kiln_status kiln__ds_derive(kiln_dataset *parent, kiln__node_kind kind,
                            const kiln_schema *schema, kiln__node **out);
/* A wide node: nparts as asked, 0 for the planner's default. */
kiln_status kiln__ds_wide(kiln_dataset *ds, kiln__node_kind kind,
                          const kiln_schema *schema, uint32_t nparts,
                          kiln__node **out);
/* End a constructor: set *out on success, then kiln__api_end(). */
kiln_status kiln__ds_finish(kiln_context *ctx, kiln_status st, kiln__node *n,
                            kiln_dataset **out);

#endif
