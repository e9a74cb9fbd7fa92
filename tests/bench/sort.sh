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

# Timing, rounds and statistics: bench_lib.sh.
bench_name=sort.sh
# shellcheck source=bench_lib.sh
. "$src/tests/bench/bench_lib.sh"

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

# Other work on the machine skews everything, 2 ranks most: keep the load
# averages at the start and the end with the figures.
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)

echo "checking that the outputs agree ..."
for c in "${configs[@]}"; do
    run_config "$c"
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
timed_rounds "$runs"
# The outputs are 1 GB each; the input stays for the next run.
rm -rf "${out[@]}"

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
times_table
# Ratios of the medians, which the targets are about, and beside them the
# median of the ratios within each round, which drift cannot move.
read -r r1 p1 < <(ratio kiln-1rank serial)
read -r r2 p2 < <(ratio serial kiln-2ranks)
read -r r3 p3 < <(ratio gnu-sort kiln-2ranks)
awk -v r1="$r1" -v p1="$p1" -v r2="$r2" -v p2="$p2" -v r3="$r3" -v p3="$p3" 'BEGIN {
    printf "kiln-1rank / serial    = %.2f  (per round: %.2f)\n", r1, p1
    printf "serial / kiln-2ranks   = %.2f  (per round: %.2f; target > 1.00: %s)\n",
           r2, p2, (r2 > 1 ? "met" : "not met")
    printf "gnu-sort / kiln-2ranks = %.2f  (per round: %.2f; target >= 3.00: %s)\n",
           r3, p3, (r3 >= 3 ? "met" : "not met")
}'
