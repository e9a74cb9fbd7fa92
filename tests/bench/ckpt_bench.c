/* ckpt_bench: time one checkpoint write or one checkpoint load, for
 * tests/bench/checkpoint.sh. Not a test.
 *
 *   mpirun -np R ckpt_bench [--records N] [--parts P] --kiln-checkpoint-dir=D
 *          [--kiln-checkpoint-compress=none|zstd] [--read --kiln-resume]
 *
 * The dataset: range(0, N) in P partitions, mapped to plain FIXED values of
 * 100 bytes (8 bytes of index, 32 pseudo-random bytes, 60 bytes of a
 * repeated phrase: about what zstd's default level halves), cached.
 *
 * Without --read: compute and cache the records (one count()), then time
 * kiln_dataset_checkpoint(), which writes them.
 * With --read (and --kiln-resume, which Kiln takes off the command line
 * before this program sees it): time kiln_dataset_checkpoint() on the same
 * lineage,
 * which loads the checkpoint instead (and fails this program if it did not:
 * the dataset must then come back already cached, with N records).
 *
 * Each timing is between two barriers, so it is the slowest rank's. The
 * master prints one line:
 *   ckpt_bench OP ranks=R records=N bytes=B seconds=S
 * where B = 100 * N, the records' own bytes (the file holds a little more
 * uncompressed: partition headers; less with zstd). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln.h>

enum { RECORD = 100 };

static const char phrase[] = "kiln checkpoint benchmark: the same words again "
                             "and again, so that zstd has something to do. ";

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static kiln_status make_record(const kiln_batch *in, kiln_emitter *out, void *arg)
{
    (void)arg;
    unsigned char rec[RECORD];
    for (size_t i = 0; i < in->n; i++) {
        uint64_t idx = (uint64_t)kiln_batch_value_i64(in, i);
        memcpy(rec, &idx, 8);
        for (int w = 0; w < 4; w++) {
            uint64_t r = mix(idx * 4 + (uint64_t)w);
            memcpy(rec + 8 + 8 * w, &r, 8);
        }
        memcpy(rec + 40, phrase + idx % 7, RECORD - 40);
        kiln_status st = kiln_emit(out, NULL, 0, rec, RECORD);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

int main(int argc, char **argv)
{
    kiln_context *ctx = NULL;
    if (kiln_init(&argc, &argv, &ctx) != KILN_OK)
        return 1;
    long long records = 10 * 1000 * 1000; /* 1.0 GB of records */
    long parts = 32;
    bool resume = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--records") && i + 1 < argc)
            records = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--parts") && i + 1 < argc)
            parts = atol(argv[++i]);
        else if (!strcmp(argv[i], "--read"))
            resume = true;
        else {
            if (kiln_context_is_master(ctx))
                fprintf(stderr, "ckpt_bench: unknown argument '%s'\n", argv[i]);
            kiln_finalize(&ctx);
            return 2;
        }
    }
    if (records <= 0 || parts <= 0) {
        kiln_finalize(&ctx);
        return 2;
    }

    kiln_dataset *ids = NULL, *recs = NULL;
    uint64_t n = 0;
    kiln_schema s = kiln_schema_of(KILN_T_NONE, kiln_type_fixed(RECORD, NULL, NULL, NULL));
    kiln_status st = kiln_range(ctx, 0, records, 1, (uint32_t)parts, &ids);
    if (st == KILN_OK)
        st = kiln_dataset_map(ids, s, make_record, NULL, &recs);
    if (st == KILN_OK)
        kiln_dataset_cache(recs);
    if (st == KILN_OK && !resume)
        st = kiln_dataset_count(recs, &n); /* in memory before the clock starts */

    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    if (st == KILN_OK)
        st = kiln_dataset_checkpoint(recs);
    MPI_Barrier(MPI_COMM_WORLD);
    double t1 = MPI_Wtime();

    /* A load must have brought every record back (and computed nothing:
     * the log says "loaded", which the script checks). */
    if (st == KILN_OK && resume)
        st = kiln_dataset_count(recs, &n);
    if (st == KILN_OK && n != (uint64_t)records) {
        if (kiln_context_is_master(ctx))
            fprintf(stderr, "ckpt_bench: %llu records, expected %lld\n",
                    (unsigned long long)n, records);
        st = KILN_ERR_STATE;
    }
    if (st == KILN_OK && kiln_context_is_master(ctx))
        printf("ckpt_bench %s ranks=%d records=%lld bytes=%lld seconds=%.3f\n",
               resume ? "read" : "write", kiln_context_size(ctx), records,
               records * RECORD, t1 - t0);
    if (st != KILN_OK)
        kiln_report(ctx, "ckpt_bench", st);
    kiln_dataset_destroy(&recs);
    kiln_dataset_destroy(&ids);
    kiln_finalize(&ctx);
    return st == KILN_OK ? 0 : 1;
}
