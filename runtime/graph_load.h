/* runtime/graph_load.h: the loading pipeline's callbacks, shared by
 * graph_parse.c (which defines them) and graph_load.c (which builds the
 * datasets that call them); graph module only.
 *
 * An edge (u, v, w) becomes records keyed by the vertex whose partition
 * must hold them, with a FIXED value: the other end (8 bytes), then the
 * weight when weighted (8), then a tag byte when both directions are
 * kept (0 = OUT, 1 = IN; one byte, not eight: a third of the shuffled
 * bytes of an unweighted graph kept both ways). Directed: (u: v) for OUT and/or (v: u) for IN;
 * undirected: both, untagged (a self-loop once). */
#ifndef KILN_RUNTIME_GRAPH_LOAD_H
#define KILN_RUNTIME_GRAPH_LOAD_H

#include "runtime/graph.h"

typedef enum kiln__graph_source {
    KILN__GRAPH_SRC_TEXT, /* plain STRING lines */
    KILN__GRAPH_SRC_U64,  /* key U64 src, value U64 dst */
    KILN__GRAPH_SRC_WDST  /* key U64 src, value FIXED(16) kiln_graph_wdst */
} kiln__graph_source;

/* The flat_map's argument; malloc'ed, owned by the node that calls it. */
typedef struct kiln__graph_load_arg {
    kiln__graph_source source;
    bool weighted;    /* records carry weights */
    bool nonnegative; /* a negative or NaN weight is an error */
    bool undirected;
    bool emit_out, emit_in, tagged;
    bool canonical;   /* emit (U64 u, U64 v) only: the RANGE sample's input */
    size_t value_bytes;
} kiln__graph_load_arg;

/* 1: an edge; 0: a comment or blank line; -1: malformed, why in why. */
int kiln__graph_parse_line(const unsigned char *p, size_t len, uint64_t *u,
                           uint64_t *v, double *w, bool *has_w, char *why,
                           size_t why_size);

/* The flat_map callback (arg: kiln__graph_load_arg). */
kiln_status kiln__graph_edges_fn(const kiln_batch *in, kiln_emitter *out,
                                 void *arg);

/* The hash of the records' FIXED(8) key type (arg: the kiln__graph_pf):
 * the shuffle places a record exactly where kiln__graph_part_of() says. */
uint64_t kiln__graph_key_hash(const void *rec, size_t size, void *arg);

/* The RANGE sample: an aggregate of kiln__graph_sample_bytes(k) bytes
 * (arg: a size_t k), then the splitters it gives (pf->nparts set). */
size_t kiln__graph_sample_bytes(size_t k);
kiln_status kiln__graph_sample_seq(void *acc, const kiln_batch *in, void *arg);
kiln_status kiln__graph_sample_comb(void *acc, const void *other, void *arg);
kiln_status kiln__graph_splitters(kiln__mem *mem, const void *sample,
                                  kiln__graph_pf *pf);

#endif
