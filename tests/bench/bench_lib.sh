# tests/bench/bench_lib.sh: helpers the benchmark scripts share (sourced by
# ml.sh and graph.sh; bash). Plain bash and awk: no timing tool needed.

# The machine may be shared: before each timed run, wait_quiet waits (at
# most KILN_BENCH_WAIT seconds, default 120) until the cores have been idle
# for a second (under 5% busy, from /proc/stat), and counts in busy_starts
# the runs that had to start on a busy machine anyway.
busy_starts=0

cpu_busy() { # percent of all cores busy over the next second
    local a b
    read -r -a a < <(head -n 1 /proc/stat)
    sleep 1
    read -r -a b < <(head -n 1 /proc/stat)
    # The parentheses matter: without them awk's printf redirects its output
    # to a file named after the number.
    awk -v a="${a[*]}" -v b="${b[*]}" 'BEGIN {
        n = split(a, x, " "); split(b, y, " "); t = 0
        for (i = 2; i <= n; i++) t += y[i] - x[i]
        idle = (y[5] - x[5]) + (y[6] - x[6])
        printf "%d", (t > 0 ? 100 * (t - idle) / t : 0) }'
}

wait_quiet() {
    local waited=0 limit=${KILN_BENCH_WAIT:-120}
    [[ -r /proc/stat ]] || return 0
    while (( $(cpu_busy) >= 5 )); do
        if (( ++waited >= limit )); then
            busy_starts=$((busy_starts + 1))
            return 0
        fi
    done
}

# median "V V V ...": the median of the numbers among the words ("-" and
# empty words skipped), "%.4f"; "-" when there are none.
median() {
    tr ' ' '\n' <<<"$1" | grep -v '^$' | grep -v '^-$' | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "-"; exit }
            m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.4f\n", m
        }'
}
