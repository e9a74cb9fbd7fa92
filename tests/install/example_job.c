/* example_job: a small Kiln job built against an installed Kiln.
 *
 * It sums the numbers 1..N by their last decimal digit:
 *
 *   range(1, N + 1) -> map x to (x % 10, x) -> reduce_by_key(SUM) -> collect
 *
 * and checks each of the ten sums against a plain loop. It uses only
 * <kiln.h>, so it doubles as the smallest complete example of the API.
 * Build it either way (see tests/install/run.sh):
 *
 *   cmake: find_package(Kiln REQUIRED)
 *          target_link_libraries(example_job PRIVATE kiln::kiln)
 *   pkg-config: mpicc example_job.c $(pkg-config --cflags --libs kiln)
 *
 * and run it under MPI: mpirun -np 2 ./example_job [N]
 * It prints the ten sums and "example_job: OK" on the master, and exits 0
 * only if every sum is right. */
#include <stdio.h>
#include <stdlib.h>

#include <kiln.h>

enum { NDIGITS = 10 };

/* map: one (last digit, number) record per input number. Called once per
 * batch of plain I64 values; `in` is borrowed, `out` owned by Kiln. */
static kiln_status by_last_digit(const kiln_batch *in, kiln_emitter *out,
                                 void *arg)
{
    (void)arg;
    for (size_t i = 0; i < in->n; i++) {
        int64_t x = kiln_batch_value_i64(in, i);
        uint64_t digit = (uint64_t)(x % NDIGITS);
        kiln_status st = kiln_emit(out, &digit, 8, &x, 8);
        if (st != KILN_OK)
            return st;
    }
    return KILN_OK;
}

/* Compare the collected (digit, sum) records with sums computed directly.
 * Returns the number of wrong or missing digits. */
static int check_sums(const kiln_batch *b, int64_t n, bool print)
{
    int64_t want[NDIGITS] = {0}, got[NDIGITS] = {0};
    int seen[NDIGITS] = {0}, nbad = 0;

    for (int64_t x = 1; x <= n; x++)
        want[x % NDIGITS] += x;
    for (size_t i = 0; i < b->n; i++) {
        uint64_t digit = kiln_batch_key_u64(b, i);
        if (digit >= NDIGITS || seen[digit]++) {
            nbad++;
            continue;
        }
        got[digit] = kiln_batch_value_i64(b, i);
    }
    for (int d = 0; d < NDIGITS; d++) {
        int ok = seen[d] == 1 && got[d] == want[d];
        nbad += !ok;
        if (print)
            printf("digit %d: sum %lld%s\n", d, (long long)got[d],
                   ok ? "" : "  WRONG");
    }
    return nbad;
}

int main(int argc, char **argv)
{
    kiln_context *ctx = NULL;
    kiln_status st = kiln_init(&argc, &argv, &ctx); /* also starts MPI */
    if (st != KILN_OK)
        return 1;

    int64_t n = argc > 1 ? strtoll(argv[1], NULL, 10) : 100000;
    kiln_dataset *numbers = NULL, *pairs = NULL, *sums = NULL;
    kiln_collection *result = NULL;
    int nbad = -1;

    /* Building datasets is lazy: nothing runs until collect(). Every rank
     * makes the same calls in the same order. */
    st = kiln_range(ctx, 1, n + 1, 1, 0, &numbers);
    if (st == KILN_OK)
        st = kiln_dataset_map(numbers, kiln_schema_of(KILN_T_U64, KILN_T_I64),
                              by_last_digit, NULL, &pairs);
    if (st == KILN_OK)
        st = kiln_dataset_reduce_by_key(pairs, KILN_OP_SUM, NULL, NULL, 0,
                                        &sums);
    /* The action: every rank gets all ten records and checks them, so every
     * rank reaches the same verdict. */
    if (st == KILN_OK)
        st = kiln_dataset_collect(sums, KILN_ALL_RANKS, &result);
    if (st == KILN_OK) {
        bool master = kiln_context_is_master(ctx);
        nbad = check_sums(kiln_collection_batch(result), n, master);
        if (master) {
            if (nbad == 0)
                printf("example_job: OK (1..%lld on %d ranks)\n",
                       (long long)n, kiln_context_size(ctx));
            else
                printf("example_job: FAILED, %d wrong sums\n", nbad);
        }
    } else {
        kiln_report(ctx, "example_job", st);
    }

    kiln_collection_destroy(&result);
    kiln_dataset_destroy(&sums);
    kiln_dataset_destroy(&pairs);
    kiln_dataset_destroy(&numbers);
    kiln_finalize(&ctx);
    return st == KILN_OK && nbad == 0 ? 0 : 1;
}
