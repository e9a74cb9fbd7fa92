#!/usr/bin/env bash
# sort.sh: time kiln-sort at 1 and 2 ranks against sort-serial, the serial
# in-memory baseline, and GNU sort, on the same gensort records, all in one
# run.
#
#   bash tests/bench/sort.sh [BUILD_DIR] [RECORDS]
#
# BUILD_DIR (default: build) must hold a build of the tree with the tests on;
# RECORDS (default: 10M, i.e. 1 GB; a suffix k, M or G as kiln-gensort
# takes it) is the number of 100-byte records. Environment:
#   KILN_BENCH_RUNS  timed runs per configuration (default 5; medians quoted)
#   KILN_BENCH_SEED  seed of the records (default 1)
#   KILN_BENCH_DIR   where the records and outputs go (default:
#                    /dev/shm/kiln-bench-sort when /dev/shm has room for
#                    them, else ${TMPDIR:-/tmp}/kiln-bench-sort)
#
# The records are generated once per size and seed (kiln-gensort --ascii at
# 2 ranks, its part files joined into one file) and reused while they are
# newer than kiln-gensort. --ascii keys are printable and every record ends
# in '\n', so the file is also 99-character text lines, which GNU sort
# (LC_ALL=C) orders exactly as kiln-sort and sort-serial order the records:
# by key, then by value. One untimed pass checks that all four outputs are
# the same bytes (and warms the page cache). The timed runs are interleaved,
# and each round starts with a different configuration, so drift in the
# machine's speed falls on all of them alike. Wall time is the shell's clock
# around the whole process, mpirun included; peak RSS, when /usr/bin/time
# (Debian package `time`) is installed, is that of the largest single
# process, so for 2 ranks it is one rank's, not the sum.
#
# Each configuration writes its whole 1 GB output every run. On a disk,
# writing back the last run's gigabytes overlaps the next runs; in /dev/shm
# (tmpfs, memory) there is no writeback, which makes the figures steadier.
#
# Targets from the issue, on a 2-core machine: kiln at 2 ranks faster than
# sort-serial, and at least 3x faster than GNU sort with -S 4G --parallel=2.
# This is a benchmark, not a test: it reports, and is never registered with
# ctest.
set -euo pipefail
export LC_ALL=C # sort order and the decimal point of EPOCHREALTIME

build=${1:-build}
records=${2:-10M}
runs=${KILN_BENCH_RUNS:-5}
seed=${KILN_BENCH_SEED:-1}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

gensort=$build/apps/kiln-gensort
kiln=$build/apps/kiln-sort
serial=$build/tests/bench/sort-serial
for exe in "$gensort" "$kiln" "$serial"; do
    if [[ ! -x $exe ]]; then
        echo "sort.sh: $exe not found; build first:" >&2
        echo "  cmake -S $src -B $build -DCMAKE_BUILD_TYPE=RelWithDebInfo" \
             "&& cmake --build $build -j" >&2
        exit 2
    fi
done
if [[ ! $records =~ ^[1-9][0-9]*[kMG]?$ || ! $runs =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bash tests/bench/sort.sh [BUILD_DIR] [RECORDS]" >&2
    exit 2
fi
case $records in
*k) nrecords=$((${records%k} * 1000)) ;;
*M) nrecords=$((${records%M} * 1000000)) ;;
*G) nrecords=$((${records%G} * 1000000000)) ;;
*) nrecords=$records ;;
esac
bytes=$((nrecords * 100))

# The input and four outputs, with 10% to spare.
need_kib=$((bytes / 1024 * 55 / 10))
if [[ -n ${KILN_BENCH_DIR:-} ]]; then
    dir=$KILN_BENCH_DIR
elif [[ -d /dev/shm && -w /dev/shm ]] &&
     (($(df -Pk /dev/shm | awk 'NR == 2 { print $4 }') > need_kib)); then
    dir=/dev/shm/kiln-bench-sort
else
    dir=${TMPDIR:-/tmp}/kiln-bench-sort
fi

# Figures are quoted with the tree's revision: they must come from it.
stale=$(find "$src/runtime" "$src/api" "$src/apps" -name '*.[ch]' -newer "$kiln"
        find "$src/tests/bench/sort_serial.c" -newer "$serial")
if [[ -n $stale ]]; then
    echo "sort.sh: warning: sources changed since $build was built;" \
         "rebuild it for figures that match the tree" >&2
fi

if [[ $(id -u) == 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export KILN_QUIET=1

gnu_time=
if /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
    gnu_time=/usr/bin/time
fi

mkdir -p "$dir"
input=$dir/records-$records-seed$seed.dat
if [[ ! -s $input || $gensort -nt $input ]]; then
    echo "generating $input ..."
    rm -rf "$dir/gen"
    mpirun -np 2 "$gensort" --kiln-quiet -n "$records" --seed "$seed" --ascii \
        -o "$dir/gen"
    cat "$dir"/gen/part-* >"$input.partial"
    rm -rf "$dir/gen"
    mv "$input.partial" "$input"
fi

# Each configuration's output, replaced on every run.
declare -A out=(
    [serial]=$dir/serial.out [gnu-sort]=$dir/gnu.out
    [kiln-1rank]=$dir/kiln-np1 [kiln-2ranks]=$dir/kiln-np2
)
configs=(serial gnu-sort kiln-1rank kiln-2ranks)

# command_of CONFIG: set the array $command to the configuration's command.
command_of() {
    case $1 in
    serial) command=("$serial" -o "${out[$1]}" "$input") ;;
    gnu-sort) command=(sort -S 4G --parallel=2 -o "${out[$1]}" "$input") ;;
    kiln-1rank) command=(mpirun -np 1 "$kiln" --kiln-quiet --overwrite
                         -o "${out[$1]}" "$input") ;;
    kiln-2ranks) command=(mpirun -np 2 "$kiln" --kiln-quiet --overwrite
                          -o "${out[$1]}" "$input") ;;
    esac
}

# run CONFIG: run one configuration; sets $elapsed (seconds) and $peak
# (KiB, or - without GNU time). Exits the script if the command fails.
run() {
    local log=$dir/$1.log t0 t1
    local -a wrap=()
    [[ -n $gnu_time ]] && wrap=("$gnu_time" -f %M -o "$dir/$1.rss")
    command_of "$1"
    t0=$EPOCHREALTIME
    if ! "${wrap[@]}" "${command[@]}" >"$log" 2>&1; then
        echo "sort.sh: $1 failed: ${command[*]}" >&2
        cat "$log" >&2
        exit 1
    fi
    t1=$EPOCHREALTIME
    elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    peak=-
    [[ -z $gnu_time ]] || peak=$(tail -n 1 "$dir/$1.rss")
}

# Other work on the machine skews everything, 2 ranks most: keep the load
# averages at the start and the end with the figures.
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)

echo "checking that the outputs agree ..."
for c in "${configs[@]}"; do
    run "$c"
done
for c in gnu-sort kiln-1rank kiln-2ranks; do
    if [[ -d ${out[$c]} ]]; then
        got=(cat "${out[$c]}"/part-*)
    else
        got=(cat "${out[$c]}")
    fi
    if ! "${got[@]}" | cmp -s - "${out[serial]}"; then
        echo "sort.sh: $c and serial disagree; compare ${out[$c]}" \
             "with ${out[serial]}" >&2
        exit 1
    fi
done

declare -A times rsses
for ((r = 0; r < runs; r++)); do
    for ((i = 0; i < ${#configs[@]}; i++)); do
        c=${configs[(i + r) % ${#configs[@]}]}
        run "$c"
        times[$c]+="$elapsed "
        rsses[$c]+="$peak "
        echo "  run $((r + 1))/$runs $c: $elapsed s"
    done
done
# The outputs are 1 GB each; the input stays for the next run.
rm -rf "${out[@]}"

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

cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
rev=$(git -C "$src" describe --always --dirty 2>/dev/null || echo unknown)
fs=$(df -PT "$dir" 2>/dev/null | awk 'NR == 2 { print $2 }')
echo
echo "machine:  ${cpu:-unknown CPU}, $(nproc) cores; source tree at $rev"
echo "input:    $input ($(stat -c %s "$input") bytes, $nrecords records)," \
     "page cache warm; outputs on ${fs:-unknown}"
echo "runs:     $runs per configuration, interleaved; wall seconds"
echo "load:     $load_before at the start," \
     "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown) at the end"
printf '%-12s %8s %8s %8s %10s\n' config median min max "peak MiB"
for c in "${configs[@]}"; do
    read -r med lo hi < <(stats "${times[$c]}")
    printf '%-12s %8s %8s %8s %10s\n' "$c" "$med" "$lo" "$hi" \
        "$(peak_mib "${rsses[$c]}")"
done
# Ratios of the medians, which the targets are about, and beside them the
# median of the ratios within each round, which drift cannot move.
awk -v s="${times[serial]}" -v g="${times[gnu-sort]}" \
    -v k1="${times[kiln-1rank]}" -v k2="${times[kiln-2ranks]}" '
    function median(v, n,   i, j, t) {
        for (i = 2; i <= n; i++)
            for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
                t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
            }
        return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    BEGIN {
        n = split(s, vs, " "); split(g, vg, " ")
        split(k1, v1, " "); split(k2, v2, " ")
        for (i = 1; i <= n; i++) {
            r1[i] = v1[i] / vs[i]; r2[i] = vs[i] / v2[i]; r3[i] = vg[i] / v2[i]
        }
        p1 = median(r1, n); p2 = median(r2, n); p3 = median(r3, n)
        ms = median(vs, n); mg = median(vg, n)
        m1 = median(v1, n); m2 = median(v2, n)
        printf "kiln-1rank / serial    = %.2f  (per round: %.2f)\n", m1 / ms, p1
        printf "serial / kiln-2ranks   = %.2f  (per round: %.2f; target > 1.00: %s)\n",
               ms / m2, p2, (ms / m2 > 1 ? "met" : "not met")
        printf "gnu-sort / kiln-2ranks = %.2f  (per round: %.2f; target >= 3.00: %s)\n",
               mg / m2, p3, (mg / m2 >= 3 ? "met" : "not met")
    }'
