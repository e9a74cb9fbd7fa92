#!/usr/bin/env bash
# checkpoint.sh: checkpoint write and read throughput (MB/s per rank, with
# and without zstd) at 1 and 2 ranks, beside dd and cat of the same number
# of bytes on the same file system.
#
#   bash tests/bench/checkpoint.sh [BUILD_DIR] [SIZE_MB]
#
# BUILD_DIR (default: build) must hold a build of the tree with the tests
# on; SIZE_MB (default 1000) is the size of the records (10 million
# 100-byte records per 1000 MB; 1 MB = 10^6 bytes). Environment:
#   KILN_BENCH_RUNS  timed runs per configuration (default 3; medians quoted)
#   KILN_BENCH_DIR   where checkpoints and dd's file go (default:
#                    ${TMPDIR:-/tmp}/kiln-bench-checkpoint)
#
# What is timed (tests/bench/ckpt_bench.c): a write is
# kiln_dataset_checkpoint() of a dataset already cached in memory: the
# records are serialised, checksummed, written with one collective
# parallel-HDF5 write (through the zstd filter when asked), flushed to disk
# and committed with a manifest. A read is kiln_dataset_checkpoint() of the
# same lineage with --kiln-resume: the manifest and file are checked, every
# rank reads its partitions with one collective read, verifies checksums
# and rebuilds them in memory. Both are timed between barriers (the slowest
# rank's time). MB/s per rank is the records' bytes / ranks / seconds.
#
# Baselines on the same directory: `dd if=/dev/zero bs=4M conv=fsync` of
# the same number of bytes (Kiln's write ends with a flush to disk too),
# and `cat` of that file to /dev/null. The page cache cannot be dropped
# here (no write access to /proc/sys/vm/drop_caches in the container), so
# every read, Kiln's and cat's, finds the file just written in memory:
# read figures are cache-to-memory rates, optimistic for a cold disk.
#
# The timed runs are interleaved (every configuration once per round), so
# drift in the machine's speed falls on all alike. This is a benchmark, not
# a test: it reports, and is never registered with ctest.
set -euo pipefail
export LC_ALL=C

build=${1:-build}
size_mb=${2:-1000}
runs=${KILN_BENCH_RUNS:-3}
dir=${KILN_BENCH_DIR:-${TMPDIR:-/tmp}/kiln-bench-checkpoint}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench=$build/tests/bench/ckpt-bench

if [[ ! -x $bench ]]; then
    echo "checkpoint.sh: $bench not found; build first:" >&2
    echo "  cmake -S $src -B $build -DCMAKE_BUILD_TYPE=RelWithDebInfo" \
         "&& cmake --build $build -j" >&2
    exit 2
fi
if [[ ! $size_mb =~ ^[1-9][0-9]*$ || ! $runs =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bash tests/bench/checkpoint.sh [BUILD_DIR] [SIZE_MB]" >&2
    exit 2
fi
stale=$(find "$src/runtime" "$src/api" -name '*.[ch]' -newer "$bench"
        find "$src/tests/bench/ckpt_bench.c" -newer "$bench")
if [[ -n $stale ]]; then
    echo "checkpoint.sh: warning: sources changed since $build was built;" \
         "rebuild it for figures that match the tree" >&2
fi
if [[ $(id -u) == 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
unset KILN_QUIET KILN_RESUME KILN_CHECKPOINT KILN_CHECKPOINT_DIR KILN_CHECKPOINT_COMPRESS

records=$((size_mb * 10000))
bytes=$((records * 100))
mkdir -p "$dir"
ck=$dir/ckpt
log=$dir/last.log
trap 'rm -rf "$ck" "$dir/dd.bin"' EXIT

now() { echo "${EPOCHREALTIME/,/.}"; }

# median of the arguments
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A secs sizes
configs=()
for np in 1 2; do
    for comp in none zstd; do
        configs+=("$np:$comp")
    done
done

# one OP NP COMP: a write or a read; appends its seconds to secs[OP:NP:COMP].
one() {
    local op=$1 np=$2 comp=$3 extra=()
    [[ $op == read ]] && extra=(--read --kiln-resume)
    if ! mpirun -np "$np" --oversubscribe "$bench" --records "$records" \
            --kiln-checkpoint-dir="$ck" --kiln-checkpoint-compress="$comp" \
            --kiln-progress=never "${extra[@]}" > "$log.out" 2> "$log"; then
        echo "checkpoint.sh: $op at $np ranks ($comp) failed:" >&2
        cat "$log" "$log.out" >&2
        exit 1
    fi
    if [[ $op == read ]] && ! grep -q "loaded .* instead of recomputing" "$log"; then
        echo "checkpoint.sh: the read at $np ranks ($comp) did not load the checkpoint:" >&2
        cat "$log" >&2
        exit 1
    fi
    local s
    s=$(sed -n 's/.* seconds=\([0-9.]*\)$/\1/p' "$log.out")
    secs[$op:$np:$comp]+="$s "
}

echo "checkpoint benchmark: $records records of 100 bytes ($size_mb MB) in $dir," \
     "$runs runs, $(nproc) cores"
for ((run = 1; run <= runs; run++)); do
    for c in "${configs[@]}"; do
        np=${c%%:*} comp=${c#*:}
        rm -rf "$ck"
        one write "$np" "$comp"
        sizes[$comp]=$(du -b "$ck"/*.h5 | awk '{ s += $1 } END { print s }')
        one read "$np" "$comp"
        rm -rf "$ck"
    done
    # The baselines: the same bytes through dd (flushed) and cat.
    t0=$(now)
    dd if=/dev/zero of="$dir/dd.bin" bs=4M count="$bytes" iflag=count_bytes conv=fsync \
        status=none
    t1=$(now)
    cat "$dir/dd.bin" > /dev/null
    t2=$(now)
    dd_bytes=$(stat -c %s "$dir/dd.bin")
    rm -f "$dir/dd.bin"
    secs[dd]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') "
    secs[cat]+="$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.3f", b - a }') "
    echo "  round $run done"
done

rate() { awk -v b="$1" -v s="$2" -v n="$3" 'BEGIN { printf "%.0f", b / n / s / 1e6 }'; }

echo
printf '| %-22s | %5s | %9s | %12s | %14s | %s\n' "operation" "ranks" "median s" \
    "MB/s (total)" "MB/s per rank" "all runs (s)"
printf '|%s|%s|%s|%s|%s|%s\n' "------------------------" "-------" "-----------" \
    "--------------" "----------------" "----------"
for op in write read; do
    for c in "${configs[@]}"; do
        np=${c%%:*} comp=${c#*:}
        # shellcheck disable=SC2086 # a list of numbers
        m=$(median ${secs[$op:$np:$comp]})
        printf '| %-22s | %5s | %9.2f | %12s | %14s | %s\n' "checkpoint $op, $comp" "$np" \
            "$m" "$(rate "$bytes" "$m" 1)" "$(rate "$bytes" "$m" "$np")" "${secs[$op:$np:$comp]}"
    done
done
# shellcheck disable=SC2086
m=$(median ${secs[dd]})
printf '| %-22s | %5s | %9.2f | %12s | %14s | %s\n' "dd bs=4M conv=fsync" 1 "$m" \
    "$(rate "$dd_bytes" "$m" 1)" "$(rate "$dd_bytes" "$m" 1)" "${secs[dd]}"
# shellcheck disable=SC2086
m=$(median ${secs[cat]})
printf '| %-22s | %5s | %9.2f | %12s | %14s | %s\n' "cat > /dev/null" 1 "$m" \
    "$(rate "$dd_bytes" "$m" 1)" "$(rate "$dd_bytes" "$m" 1)" "${secs[cat]}"
echo
for comp in none zstd; do
    echo "checkpoint file, $comp: ${sizes[$comp]} bytes for $bytes bytes of records" \
         "(ratio $(awk -v a="$bytes" -v b="${sizes[$comp]}" 'BEGIN { printf "%.2f", a / b }'))"
done
echo "dd and cat: $dd_bytes bytes"
