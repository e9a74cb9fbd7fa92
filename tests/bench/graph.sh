#!/usr/bin/env bash
# graph.sh: load time and seconds per iteration of kiln-pagerank and kiln-cc
# at 1 and 2 ranks beside serial compressed-sparse-row baselines of the same
# algorithms (pagerank-serial, cc-serial), all measured in the same run.
#
#   bash tests/bench/graph.sh [BUILD_DIR] [SCALE]
#
# BUILD_DIR (default: build) must hold a build of the tree with the tests
# on. SCALE (default 22) is the R-MAT scale: 2^SCALE vertex ids and
# 16 * 2^SCALE edges (Graph500's parameters, kiln-graphgen); 22 gives the
# issue's size, 18 a quick look. Environment:
#   KILN_BENCH_RUNS   timed runs per configuration (default 3; medians quoted)
#   KILN_BENCH_ITERS  PageRank iterations per run (default 10)
#   KILN_BENCH_EDGE_FACTOR  edges per vertex id (default 16)
#   KILN_BENCH_DIR    where the data and outputs go
#                     (default: ${TMPDIR:-/tmp}/kiln-bench-graph; needs about
#                     1.1 GB of edges at SCALE 22, plus the outputs)
#   KILN_BENCH_WAIT   seconds to wait for an idle machine before a run
#                     (default 120)
#
# Data: kiln-graphgen writes the graph once as binary edge part files
# (16-byte records), reused while newer than apps/graph/graphgen.c. Every program
# reads the same files. The apps run with --timing and print "timing:
# load=S compute=S iterations=N per_iteration=S", the baselines print the
# same line: load is reading the edges and building the adjacency, compute
# the iterations alone. PageRank runs --tol 0 --iterations N (exactly N
# iterations everywhere); CC runs to convergence, FastSV in both, so the
# compared figure is seconds per round (the number of rounds is printed
# too: it may differ by one or two because Kiln numbers vertices in another
# order than the baseline, and hooking is by minimum label). One untimed
# pass first checks that the programs agree: every vertex's rank within
# 1e-9 relative (sums are added in another order), every vertex's
# component label exactly. Runs are interleaved, each round starting with
# another configuration, so drift in the machine's speed falls on all
# alike.
#
# Targets from the issue, on a 2-core machine: Kiln at 1 rank within 1.25x
# of the serial time per iteration; at 2 ranks at least 1.6x faster than
# it. A benchmark, not a test: it reports, and is never run by ctest.
set -euo pipefail
export LC_ALL=C

build=${1:-build}
scale=${2:-22}
runs=${KILN_BENCH_RUNS:-3}
iters=${KILN_BENCH_ITERS:-10}
ef=${KILN_BENCH_EDGE_FACTOR:-16}
dir=${KILN_BENCH_DIR:-${TMPDIR:-/tmp}/kiln-bench-graph}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

graphgen=$build/apps/kiln-graphgen
pagerank=$build/apps/kiln-pagerank
cc=$build/apps/kiln-cc
pr_serial=$build/tests/bench/pagerank-serial
cc_serial=$build/tests/bench/cc-serial
for exe in "$graphgen" "$pagerank" "$cc" "$pr_serial" "$cc_serial"; do
    if [[ ! -x $exe ]]; then
        echo "graph.sh: $exe not found; build first:" >&2
        echo "  cmake -S $src -B $build -DCMAKE_BUILD_TYPE=Release" \
             "&& cmake --build $build -j" >&2
        exit 2
    fi
done
if [[ ! $runs =~ ^[1-9][0-9]*$ || ! $iters =~ ^[1-9][0-9]*$ ||
      ! $scale =~ ^[1-9][0-9]?$ || ! $ef =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bash tests/bench/graph.sh [BUILD_DIR] [SCALE]" >&2
    exit 2
fi
stale=$(find "$src/runtime" "$src/api" "$src/apps/graph" -name '*.[ch]' -newer "$pagerank"
        find "$src/tests/bench" -name 'pagerank_serial.c' -newer "$pr_serial"
        find "$src/tests/bench" \( -name 'cc_serial.c' -o -name 'graph_serial.h' \) \
            -newer "$cc_serial")
if [[ -n $stale ]]; then
    echo "graph.sh: warning: sources changed since $build was built;" \
         "rebuild it for figures that match the tree" >&2
fi
if [[ $(id -u) == 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
unset KILN_QUIET

mkdir -p "$dir"
# Generated again when missing or when the generator's source changed (not
# on every rebuild of the library: a scale-22 graph takes a minute or two).
data=$dir/rmat-s$scale-e$ef.bin
if [[ ! -e $data/_SUCCESS || $src/apps/graph/graphgen.c -nt $data/_SUCCESS ]]; then
    echo "generating $data (R-MAT scale $scale, edge factor $ef) ..."
    mpirun -np 2 "$graphgen" --scale "$scale" --edge-factor "$ef" --seed 1 \
        --format binary --overwrite -o "$data" --kiln-quiet
fi

configs=(pagerank-serial pagerank-kiln1 pagerank-kiln2 cc-serial cc-kiln1 cc-kiln2)

# command_of CONFIG CHECK: the command, into the array $command; with
# CHECK=1 the programs write their results for the cross-check (text),
# otherwise the apps write HDF5 (the cheaper output; it is not timed).
command_of() {
    local out=$dir/$1.out
    local pr=(--iterations "$iters" --tol 0 --top 0 --timing --format binary --overwrite)
    local cc_=(--timing --format binary --overwrite)
    local kout=(-o "$out.h5" --hdf5)
    local sout=()
    if [[ $2 == 1 ]]; then
        kout=(-o "$out.d")
        sout=(-o "$out.txt")
    fi
    case $1 in
    pagerank-serial) command=("$pr_serial" -n "$iters" "${sout[@]}" "$data") ;;
    pagerank-kiln1) command=(mpirun -np 1 "$pagerank" "${pr[@]}" "${kout[@]}" "$data") ;;
    pagerank-kiln2) command=(mpirun -np 2 "$pagerank" "${pr[@]}" "${kout[@]}" "$data") ;;
    cc-serial) command=("$cc_serial" "${sout[@]}" "$data") ;;
    cc-kiln1) command=(mpirun -np 1 "$cc" "${cc_[@]}" "${kout[@]}" "$data") ;;
    cc-kiln2) command=(mpirun -np 2 "$cc" "${cc_[@]}" "${kout[@]}" "$data") ;;
    esac
}

# Idle waits (wait_quiet, busy_starts) and median: bench_lib.sh.
# shellcheck source=bench_lib.sh
. "$src/tests/bench/bench_lib.sh"

# run CONFIG CHECK: run it; sets $load, $per, $rounds and $wall from its
# "timing:" line.
run() {
    local log=$dir/$1.log out=$dir/$1.stdout t0 t1 line
    command_of "$1" "$2"
    t0=$EPOCHREALTIME
    if ! "${command[@]}" >"$out" 2>"$log"; then
        echo "graph.sh: $1 failed: ${command[*]}" >&2
        tail -20 "$log" >&2
        exit 1
    fi
    t1=$EPOCHREALTIME
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    line=$(grep '^timing: ' "$out" | tail -n 1 || true)
    load=$(sed -n 's/.* load=\([^ ]*\).*/\1/p' <<<"$line")
    per=$(sed -n 's/.* per_iteration=\([^ ]*\).*/\1/p' <<<"$line")
    rounds=$(sed -n 's/.* iterations=\([^ ]*\).*/\1/p' <<<"$line")
    if [[ -z $load || -z $per || -z $rounds ]]; then
        echo "graph.sh: $1: no timing line in its output ($out, $log)" >&2
        exit 1
    fi
}

# sorted_result CONFIG: its "vertex<TAB>value" lines, sorted by vertex.
sorted_result() {
    local out=$dir/$1.out
    if [[ $1 == *-serial ]]; then
        sort -k1,1 "$out.txt"
    else
        cat "$out.d"/part-* | sort -k1,1
    fi
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)

echo "checking that the programs agree ..."
for c in "${configs[@]}"; do
    run "$c" 1
done
sorted_result pagerank-serial >"$dir/pr.ref"
sorted_result cc-serial >"$dir/cc.ref"
nv=$(wc -l <"$dir/pr.ref")
for k in kiln1 kiln2; do
    sorted_result "pagerank-$k" | paste "$dir/pr.ref" - | awk -v who="pagerank-$k" '
        $1 != $3 { printf "graph.sh: %s: vertex %s where serial has %s\n", who, $3, $1
                   bad = 1; exit 1 }
        { d = $2 - $4; if (d < 0) d = -d; r = d / ($2 > 0 ? $2 : 1e-300)
          if (r > worst) worst = r
          if (r > 1e-9) { printf "graph.sh: %s: vertex %s rank %s, serial %s\n",
                                 who, $1, $4, $2; bad = 1; exit 1 } }
        END { if (!bad) printf "  %s: %d ranks agree with serial (worst relative" \
                               " difference %.2g)\n", who, NR, worst; exit bad }'
    if [[ $(sorted_result "pagerank-$k" | wc -l) != "$nv" ]]; then
        echo "graph.sh: pagerank-$k writes another number of vertices than serial" >&2
        exit 1
    fi
    if ! sorted_result "cc-$k" | cmp -s - "$dir/cc.ref"; then
        echo "graph.sh: cc-$k: labels differ from serial" \
             "(sorted outputs: $dir/cc.ref and $dir/cc-$k.out.d)" >&2
        exit 1
    fi
    echo "  cc-$k: $nv labels identical to serial"
done
cc_summary=$(grep '^cc: ' "$dir/cc-serial.stdout")
echo "  serial $cc_summary"
for k in kiln1 kiln2; do
    echo "  $k   $(grep '^cc: ' "$dir/cc-$k.stdout")"
done
rm -rf "$dir"/*.out.d "$dir"/*.out.txt "$dir/pr.ref" "$dir/cc.ref"

declare -A loads pers nrounds walls
for ((r = 0; r < runs; r++)); do
    for ((i = 0; i < ${#configs[@]}; i++)); do
        c=${configs[(i + r) % ${#configs[@]}]}
        wait_quiet
        run "$c" 0
        loads[$c]+="$load "
        pers[$c]+="$per "
        nrounds[$c]=$rounds
        walls[$c]+="$wall "
        echo "  run $((r + 1))/$runs $c: load $load s, $per s per iteration" \
             "($rounds), $wall s in all"
    done
done
rm -rf "$dir"/*.out.h5

cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
rev=$(git -C "$src" describe --always --dirty 2>/dev/null || echo unknown)
edges=$(( $(du -bc "$data"/part-* | tail -n 1 | cut -f1) / 16 ))
echo
echo "machine:  ${cpu:-unknown CPU}, $(nproc) cores; source tree at $rev"
echo "graph:    $data: R-MAT scale $scale, edge factor $ef: $nv vertices," \
     "$edges edges"
echo "pagerank: $iters iterations per run; cc: FastSV to convergence"
echo "runs:     $runs per configuration, interleaved; medians"
echo "load:     $load_before at the start," \
     "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown) at the end;" \
     "$busy_starts of $((runs * ${#configs[@]})) runs started on a busy machine"
printf '%-16s %10s %14s %8s %10s\n' config "load s" "s/iteration" rounds "wall s"
for c in "${configs[@]}"; do
    printf '%-16s %10s %14s %8s %10s\n' "$c" "$(median "${loads[$c]}")" \
        "$(median "${pers[$c]}")" "${nrounds[$c]}" "$(median "${walls[$c]}")"
done
for app in pagerank cc; do
    s=$(median "${pers[$app-serial]}")
    k1=$(median "${pers[$app-kiln1]}")
    k2=$(median "${pers[$app-kiln2]}")
    awk -v app="$app" -v s="$s" -v k1="$k1" -v k2="$k2" 'BEGIN {
        # Times too short to print (a tiny SCALE) give no ratio.
        if (s + 0 <= 0 || k1 + 0 <= 0 || k2 + 0 <= 0) {
            printf "%-9s no ratios: a time rounds to 0 (use a larger SCALE)\n", app
            exit
        }
        a = k1 / s; b = s / k2
        printf "%-9s kiln 1 rank / serial  = %.3f  (target <= 1.25: %s)\n", app, a,
               (a <= 1.25 ? "met" : "not met")
        printf "%-9s serial / kiln 2 ranks = %.3f  (target >= 1.60: %s)\n", app, b,
               (b >= 1.60 ? "met" : "not met")
    }'
done
