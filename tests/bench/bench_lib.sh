# tests/bench/bench_lib.sh: helpers the benchmark scripts share (sourced by
# wordcount.sh, sort.sh, ml.sh and graph.sh; bash). Plain bash and awk: no
# timing tool needed.

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

# ---- whole-process timing (wordcount.sh, sort.sh) ----
# A script sets bench_name (for messages), dir (where logs go) and
# command_of CONFIG (sets the array $command), then calls these.

# Peak RSS comes from GNU time when it is installed (Debian package time).
gnu_time=
if /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
    gnu_time=/usr/bin/time
fi

# run_config CONFIG [STDOUT]: run one configuration, its stdout to STDOUT
# (default: into its log, with stderr); sets $elapsed (seconds) and $peak
# (KiB, or - without GNU time). Exits the script if the command fails.
run_config() {
    local log=$dir/$1.log t0 t1 status=0
    local -a wrap=()
    [[ -n $gnu_time ]] && wrap=("$gnu_time" -f %M -o "$dir/$1.rss")
    command_of "$1"
    t0=$EPOCHREALTIME
    if [[ -n ${2:-} ]]; then
        "${wrap[@]}" "${command[@]}" >"$2" 2>"$log" || status=$?
    else
        "${wrap[@]}" "${command[@]}" >"$log" 2>&1 || status=$?
    fi
    if ((status)); then
        echo "$bench_name: $1 failed: ${command[*]}" >&2
        cat "$log" >&2
        exit 1
    fi
    t1=$EPOCHREALTIME
    elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    peak=-
    [[ -z $gnu_time ]] || peak=$(tail -n 1 "$dir/$1.rss")
}

# timed_rounds RUNS [STDOUT]: RUNS rounds over "${configs[@]}", each round
# starting with another configuration, so drift in the machine's speed
# falls on all alike; appends to the associative arrays times and rsses.
timed_rounds() {
    local r i c
    for ((r = 0; r < $1; r++)); do
        for ((i = 0; i < ${#configs[@]}; i++)); do
            c=${configs[(i + r) % ${#configs[@]}]}
            run_config "$c" "${2:-}"
            times[$c]+="$elapsed "
            rsses[$c]+="$peak "
            echo "  run $((r + 1))/$1 $c: $elapsed s"
        done
    done
}

# stats "N N ...": median, min and max
stats() {
    tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '
        { v[NR] = $1 }
        END {
            m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.3f %.3f %.3f\n", m, v[1], v[NR]
        }'
}

peak_mib() {
    [[ $1 == *-* ]] && { echo "-"; return; }
    tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | tail -n 1 |
        awk '{ printf "%.0f", $1 / 1024 }'
}

# times_table: median, min, max and peak MiB of every configuration.
times_table() {
    local c med lo hi
    printf '%-12s %8s %8s %8s %10s\n' config median min max "peak MiB"
    for c in "${configs[@]}"; do
        read -r med lo hi < <(stats "${times[$c]}")
        printf '%-12s %8s %8s %8s %10s\n' "$c" "$med" "$lo" "$hi" \
            "$(peak_mib "${rsses[$c]}")"
    done
}

# ratio A B: the ratio of A's and B's median times, which the targets are
# about, and beside it the median of their ratios within each round, which
# drift cannot move (6 decimals; callers round for display).
ratio() {
    awk -v a="${times[$1]}" -v b="${times[$2]}" '
    function median(v, n,   i, j, t) {
        for (i = 2; i <= n; i++)
            for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
                t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
            }
        return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    BEGIN {
        n = split(a, va, " "); split(b, vb, " ")
        for (i = 1; i <= n; i++)
            r[i] = va[i] / vb[i]
        printf "%.6f %.6f\n", median(va, n) / median(vb, n), median(r, n)
    }'
}
