#!/bin/sh
# test_graph_apps.sh MODE BINDIR REF WORKDIR -- MPIEXEC NPFLAG [PREFLAGS...]
#
# The graph apps (kiln-pagerank, -cc, -bfs, -sssp, -triangles, -graphgen)
# against graph_ref, a serial reference written from the textbook
# definitions, at 1, 2 and 4 ranks. Like test_sort_apps.sh this script is
# not started by mpirun: it runs the launcher once per job ("MPIEXEC NPFLAG
# N --oversubscribe PREFLAGS... APP ..."), because a check needs several
# jobs (the same input at three rank counts; a run, then a resumed one).
#
# Every app's output at 2 and 4 ranks must be byte for byte that at 1 rank
# (sorted lines: the part files' layout does not depend on the rank count,
# but comparing sorted lines is enough); cc, bfs, triangles and sssp must
# equal the reference exactly, pagerank within 1e-12 relative. Inputs: a
# hand-made graph with self-loops, repeated edges, an isolated pair,
# dangling vertices, comments, tabs and the largest 64-bit id; small
# R-MAT graphs from kiln-graphgen.
#
# MODE: pagerank cc bfs sssp triangles  the app, on every input, directed
#                                       and undirected where it matters
#       formats      graphgen text/binary/hdf5 (weighted too) at 1 and 2
#                    ranks give the same edges and the same results; the
#                    range partitioner gives the same results as hash
#       errors       malformed lines name FILE:LINE; a missing column;
#                    negative weights for sssp; a source that is no
#                    vertex; a missing input; an existing output; bad
#                    options - a non-zero exit on every rank, no hang
#       checkpoint   each app stopped after a few iterations with
#                    --checkpoint-every, then resumed with --kiln-resume on
#                    another rank count: the output of an uninterrupted run;
#                    pagerank stopped by SIGUSR1 (exit 75, checkpointed at
#                    once) and resumed likewise
set -u
if [ $# -lt 7 ] || [ "$5" != -- ]; then
    echo "usage: test_graph_apps.sh MODE BINDIR REF WORKDIR -- MPIEXEC NPFLAG [PREFLAGS...]" >&2
    exit 2
fi
mode=$1 bin=$2 ref=$3 base=$4
shift 5
mpiexec=$1 npflag=$2
shift 2
preflags=$*
export LC_ALL=C KILN_QUIET=1
work=$base/graph-apps-$mode
rm -rf "$work"
mkdir -p "$work" || exit 1
limit=
command -v timeout > /dev/null && limit="timeout ${KILN_TEST_WATCHDOG:-60}"
failures=0

fail() {
    echo "FAIL [graph apps $mode]: $*" >&2
    failures=$((failures + 1))
}

# run NAME NP APP ARGS...: one job; stdout/stderr of every rank in
# $work/NAME.out.R / .err.R, exit statuses in $work/NAME.rc.R.
# Helpers use variables of their own (POSIX sh has no locals): _r*, _e*.
run() {
    _rname=$1 _rnp=$2 _rapp=$3
    shift 3
    rm -f "$work/$_rname".*
    # shellcheck disable=SC2086 # the launcher's words split on purpose
    $limit $mpiexec $npflag "$_rnp" --oversubscribe $preflags sh -c '
        r=${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-${PMI_RANK:-0}}}
        p=$1; shift
        "$@" > "$p.out.$r" 2> "$p.err.$r"
        echo $? > "$p.rc.$r"' sh "$work/$_rname" "$bin/$_rapp" "$@" \
        > "$work/$_rname.launcher" 2>&1
    echo $? > "$work/$_rname.rc.launcher"
}

show() {
    for _ef in "$work/$1".err.* "$work/$1".out.* "$work/$1.launcher"; do
        [ -s "$_ef" ] && { echo "--- $_ef"; head -n 20 "$_ef"; } >&2
    done
}

# expect_ok NAME: every rank exited 0.
expect_ok() {
    for _ef in "$work/$1".rc.*; do
        [ "$(cat "$_ef")" = 0 ] || { fail "$1: $(basename "$_ef") is $(cat "$_ef")"; show "$1"; return 1; }
    done
    return 0
}

# expect_fail NAME TEXT: every rank exited non-zero, and the master's
# stderr holds TEXT.
expect_fail() {
    _en=0
    for _ef in "$work/$1".rc.[0-9]*; do
        [ -e "$_ef" ] || continue
        _en=$((_en + 1))
        [ "$(cat "$_ef")" != 0 ] || { fail "$1: $(basename "$_ef") is 0, expected a failure"; show "$1"; return 1; }
    done
    [ "$_en" -gt 0 ] || { fail "$1: no rank ran"; show "$1"; return 1; }
    grep -q -e "$2" "$work/$1.err.0" ||
        { fail "$1: the master's stderr does not say '$2'"; show "$1"; return 1; }
    return 0
}

summary() { grep -h -e "^$2" "$work/$1.out.0"; }

# same NAME_A NAME_B DIR_A DIR_B: the sorted lines of two outputs are equal.
same() {
    cat "$3"/part-* 2> /dev/null | sort > "$work/$1.sorted"
    cat "$4"/part-* 2> /dev/null | sort > "$work/$2.sorted"
    [ -s "$work/$1.sorted" ] || { fail "$1: empty output"; return 1; }
    cmp -s "$work/$1.sorted" "$work/$2.sorted" ||
        { fail "$2 differs from $1 ($3 vs $4)"; diff "$work/$1.sorted" "$work/$2.sorted" | head -5 >&2; return 1; }
}

# against NAME DIR REFFILE [REL]: the output equals the reference.
against() {
    if [ $# -ge 4 ]; then
        "$ref" cmp -r "$4" "$2" "$3" 2> "$work/$1.cmp" ||
            { fail "$1 vs the reference: $(cat "$work/$1.cmp")"; return 1; }
    else
        "$ref" cmp "$2" "$3" 2> "$work/$1.cmp" ||
            { fail "$1 vs the reference: $(cat "$work/$1.cmp")"; return 1; }
    fi
}

# ---- inputs ----
hand=$work/hand.txt
cat > "$hand" << 'EOF'
# hand-made: self-loops, repeated edges, an isolated pair, dangling vertices
1 2
2 3
3 1
3	3
1 2

4 2
2 5
  5 6
6 5
18446744073709551615 7
7 7
100 200
300 3
10 11
10	11	
12 13
EOF
weighted=$work/weighted.txt
cat > "$weighted" << 'EOF'
# weights: zero, fractional, parallel edges with different weights, a cycle
1 2 4
1 3 1
3 2 1.5
2 4 0
3 4 7
4 1 0.25
4 5 2.5
5 5 1
5 6 0.125
6 4 3
2 4 2
7 8 1
EOF
k4=$work/k4.txt
printf '1 2\n1 3\n1 4\n2 3\n2 4\n3 4\n4 3\n4 4\n5 1\n6 7\n7 8\n8 6\n' > "$k4"

gen() { # gen NAME ARGS...: an R-MAT graph in text part files
    g=$1
    shift
    run "gen-$g" 2 kiln-graphgen -f -o "$work/$g" --format text "$@"
    expect_ok "gen-$g" || exit 1
}

nps="1 2 4"

# check APP NAME INPUT REFARGS APPARGS...: run the app at 1, 2 and 4 ranks,
# compare across rank counts and with graph_ref's output (REL for pagerank).
check() {
    app=$1 name=$2 input=$3 refargs=$4
    shift 4
    # shellcheck disable=SC2086
    "$ref" "${app#kiln-}" $refargs "$input" > "$work/$name.ref" 2> "$work/$name.refsum" ||
        { fail "$name: graph_ref failed"; return; }
    for np in $nps; do
        run "$name-np$np" "$np" "$app" -f -o "$work/$name-np$np.d" "$@" "$input"
        expect_ok "$name-np$np" || return
    done
    for np in 2 4; do
        same "$name-np1" "$name-np$np" "$work/$name-np1.d" "$work/$name-np$np.d"
        a=$(summary "$name-np1" "${app#kiln-}:") b=$(summary "$name-np$np" "${app#kiln-}:")
        [ "$a" = "$b" ] || fail "$name: summary at $np ranks '$b', at 1 rank '$a'"
    done
    if [ "$app" = kiln-pagerank ]; then
        against "$name" "$work/$name-np1.d" "$work/$name.ref" 1e-12
    elif [ "$app" = kiln-sssp ]; then # the same doubles, printed otherwise
        against "$name" "$work/$name-np1.d" "$work/$name.ref" 0
    else
        against "$name" "$work/$name-np1.d" "$work/$name.ref"
    fi
    # The reference's summary fields must appear in the app's.
    for field in $(sed 's/^[a-z]*: //' "$work/$name.refsum"); do
        case " $(summary "$name-np1" "${app#kiln-}:") " in
        *" $field "*) ;;
        *) fail "$name: summary '$(summary "$name-np1" "${app#kiln-}:")' lacks '$field'" ;;
        esac
    done
}

case $mode in
pagerank)
    gen rmat --scale 9 --edge-factor 8 --seed 3
    check kiln-pagerank pr-hand "$hand" ""
    check kiln-pagerank pr-hand-u "$hand" "-u" --undirected
    check kiln-pagerank pr-rmat "$work/rmat" "-n 30 -t 0 -d 0.9" --iterations 30 --tol 0 --damping 0.9
    # The top list: the highest ranks, in order, from the output itself.
    top=$(sort -t "$(printf '\t')" -k2,2gr "$work/pr-rmat.ref" | head -n 3 | cut -f1 | tr '\n' ' ')
    got=$(head -n 3 "$work/pr-rmat-np2.out.0" | cut -f1 | tr '\n' ' ')
    [ "$top" = "$got" ] || fail "pagerank --top: '$got', expected '$top'"
    ;;
cc)
    gen rmat --scale 9 --edge-factor 2 --seed 5
    check kiln-cc cc-hand "$hand" ""
    check kiln-cc cc-hand-u "$hand" "-u" --undirected
    check kiln-cc cc-rmat "$work/rmat" ""
    check kiln-cc cc-k4 "$k4" ""
    ;;
bfs)
    gen rmat --scale 9 --edge-factor 4 --seed 7
    src=$(grep -v '^#' "$work"/rmat/part-00000 | head -n 1 | cut -f1)
    check kiln-bfs bfs-hand "$hand" "-s 1" --source 1
    check kiln-bfs bfs-hand-u "$hand" "-u -s 5" --undirected --source 5
    check kiln-bfs bfs-big-id "$hand" "-s 18446744073709551615" --source 18446744073709551615
    check kiln-bfs bfs-rmat "$work/rmat" "-s $src" --source "$src"
    ;;
sssp)
    gen wrmat --scale 9 --edge-factor 4 --seed 11 --weights
    src=$(grep -v '^#' "$work"/wrmat/part-00000 | head -n 1 | cut -f1)
    check kiln-sssp sssp-weighted "$weighted" "-s 1" --source 1
    check kiln-sssp sssp-weighted-u "$weighted" "-u -s 6" --undirected --source 6
    check kiln-sssp sssp-hand "$hand" "-s 1" --source 1
    check kiln-sssp sssp-rmat "$work/wrmat" "-s $src" --source "$src"
    ;;
triangles)
    gen rmat --scale 9 --edge-factor 8 --seed 13
    check kiln-triangles tri-k4 "$k4" ""
    check kiln-triangles tri-hand "$hand" ""
    check kiln-triangles tri-rmat "$work/rmat" ""
    # Many small rounds: the counts do not depend on them.
    check kiln-triangles tri-rmat-rounds "$work/rmat" "" --kiln-round-bytes=1K
    ;;
formats)
    # The same edges in every format, at 1 and 2 ranks.
    for np in 1 2; do
        run "gen-text-$np" "$np" kiln-graphgen -f --scale 8 --edge-factor 4 --seed 9 -o "$work/g$np.txt"
        run "gen-bin-$np" "$np" kiln-graphgen -f --scale 8 --edge-factor 4 --seed 9 -o "$work/g$np.bin"
        run "gen-h5-$np" "$np" kiln-graphgen -f --scale 8 --edge-factor 4 --seed 9 -o "$work/g$np.h5"
        run "gen-wtext-$np" "$np" kiln-graphgen -f --scale 8 --seed 9 --weights -o "$work/w$np.txt"
        run "gen-wbin-$np" "$np" kiln-graphgen -f --scale 8 --seed 9 --weights -o "$work/w$np.wbin"
        run "gen-wh5-$np" "$np" kiln-graphgen -f --scale 8 --seed 9 --weights -o "$work/w$np.h5"
        for f in text bin h5 wtext wbin wh5; do expect_ok "gen-$f-$np"; done
    done
    for f in g w; do
        cat "$work/${f}1.txt"/part-* > "$work/$f.edges1"
        cat "$work/${f}2.txt"/part-* > "$work/$f.edges2"
        cmp -s "$work/$f.edges1" "$work/$f.edges2" || fail "graphgen text differs between 1 and 2 ranks"
    done
    cat "$work/g1.bin"/part-* > "$work/b1"
    cat "$work/g2.bin"/part-* > "$work/b2"
    cmp -s "$work/b1" "$work/b2" || fail "graphgen binary differs between 1 and 2 ranks"
    [ "$(wc -c < "$work/b1")" -eq $((16 * 4 * 256)) ] || fail "binary: $(wc -c < "$work/b1") bytes"
    [ "$(wc -l < "$work/g.edges1")" -eq $((4 * 256)) ] || fail "text: $(wc -l < "$work/g.edges1") lines"
    # Binary records hold the text's edges, in the same order.
    od -A n -t u8 -w16 -v "$work/b1" | awk '{ print $1 "\t" $2 }' > "$work/b1.txt"
    cmp -s "$work/b1.txt" "$work/g.edges1" || fail "binary and text edges differ"
    cat "$work/w1.wbin"/part-* | od -A n -t u8 -w24 -v | awk '{ print $1 "\t" $2 }' > "$work/wb1.txt"
    cut -f1,2 "$work/w.edges1" | cmp -s - "$work/wb1.txt" || fail "weighted binary and text edges differ"
    awk -F'\t' 'NF != 3 || $3 < 0 || $3 >= 1 { bad = 1 } END { exit bad }' "$work/w.edges1" ||
        fail "weighted text lines are not 'src dst weight' with weights in [0, 1)"
    src=$(head -n 1 "$work/g.edges1" | cut -f1)
    wsrc=$(head -n 1 "$work/w.edges1" | cut -f1)
    for f in g1.txt g2.bin g1.h5; do
        run "pr-$f" 2 kiln-pagerank -f -o "$work/pr-$f.d" "$work/$f"
        run "cc-$f" 2 kiln-cc -f -o "$work/cc-$f.d" "$work/$f"
        run "bfs-$f" 2 kiln-bfs --source "$src" -f -o "$work/bfs-$f.d" "$work/$f"
        for j in pr cc bfs; do expect_ok "$j-$f"; done
    done
    for j in pr cc bfs; do
        same "$j-g1.txt" "$j-g2.bin" "$work/$j-g1.txt.d" "$work/$j-g2.bin.d"
        same "$j-g1.txt" "$j-g1.h5" "$work/$j-g1.txt.d" "$work/$j-g1.h5.d"
    done
    for f in w1.txt w2.wbin w1.h5; do
        run "sssp-$f" 4 kiln-sssp --source "$wsrc" -f -o "$work/sssp-$f.d" "$work/$f"
        expect_ok "sssp-$f"
    done
    "$ref" sssp -s "$wsrc" "$work/w1.txt" > "$work/sssp.ref" 2> /dev/null
    against sssp-w1 "$work/sssp-w1.txt.d" "$work/sssp.ref" 0
    same sssp-w1.txt sssp-w2.wbin "$work/sssp-w1.txt.d" "$work/sssp-w2.wbin.d"
    same sssp-w1.txt sssp-w1.h5 "$work/sssp-w1.txt.d" "$work/sssp-w1.h5.d"
    # Range partitioning: the same components exactly, the same ranks within
    # rounding (the sums run in another order).
    run pr-range 2 kiln-pagerank --partitioner range -f -o "$work/pr-range.d" "$work/g1.txt"
    run cc-range 4 kiln-cc --partitioner range -f -o "$work/cc-range.d" "$work/g1.txt"
    expect_ok pr-range && against pr-range "$work/pr-range.d" "$work/pr-g1.txt.d" 1e-12
    expect_ok cc-range && same cc-g1.txt cc-range "$work/cc-g1.txt.d" "$work/cc-range.d"
    # HDF5 output: /vertex and /rank, the same numbers as the part files.
    run pr-h5out 2 kiln-pagerank --hdf5 -f -o "$work/pr.h5" "$work/g1.txt"
    expect_ok pr-h5out
    if command -v h5dump > /dev/null; then
        n=$(cat "$work/pr-g1.txt.d"/part-* | wc -l)
        h5dump -H "$work/pr.h5" > "$work/pr.h5.txt" 2>&1
        for d in vertex rank; do
            grep -q "DATASET \"$d\"" "$work/pr.h5.txt" || fail "pr.h5 has no /$d"
        done
        [ "$(grep -c "( $n )" "$work/pr.h5.txt")" -eq 2 ] || fail "pr.h5: columns are not of $n rows"
        h5dump -d /vertex -y -w 1 "$work/pr.h5" | grep -E '^ *[0-9]+,?$' | tr -d ' ,' | sort > "$work/h5.ids"
        cut -f1 "$work/pr-g1.txt.sorted" 2> /dev/null | sort > "$work/txt.ids"
        cat "$work/pr-g1.txt.d"/part-* | cut -f1 | sort > "$work/txt.ids"
        cmp -s "$work/h5.ids" "$work/txt.ids" || fail "pr.h5's /vertex differs from the part files' vertices"
    fi
    ;;
errors)
    printf '1 2\n2 3\nx 3\n' > "$work/in-bad-id.txt"
    printf '1 2\n2 3\n\n3\n' > "$work/in-missing.txt"
    printf '1 2 0.5\n2 3 -1\n' > "$work/in-negative.txt"
    printf '1 2 0.5 7\n' > "$work/in-columns.txt"
    for np in 1 2 4; do
        run "bad-id-$np" "$np" kiln-pagerank -f -o "$work/o" "$work/in-bad-id.txt"
        expect_fail "bad-id-$np" "in-bad-id.txt:3: bad source vertex id 'x'"
    done
    run missing 2 kiln-cc -f -o "$work/o" "$work/in-missing.txt"
    expect_fail missing "in-missing.txt:4: missing destination column"
    run columns 2 kiln-bfs --source 1 -f -o "$work/o" "$work/in-columns.txt"
    expect_fail columns "in-columns.txt:1: more than three columns"
    run negative 4 kiln-sssp --source 1 -f -o "$work/o" "$work/in-negative.txt"
    expect_fail negative "in-negative.txt:2: negative weight"
    # The same weights are fine where weights are ignored.
    run negative-bfs 2 kiln-bfs --source 1 -f -o "$work/o" "$work/in-negative.txt"
    expect_ok negative-bfs
    run no-source-bfs 2 kiln-bfs --source 999 -f -o "$work/o2" "$k4"
    expect_fail no-source-bfs "source vertex 999 is not in the graph"
    [ -e "$work/o2" ] && fail "no-source-bfs left an output"
    run no-source-sssp 4 kiln-sssp --source 42 -f -o "$work/o2" "$weighted"
    expect_fail no-source-sssp "source vertex 42 is not in the graph"
    run no-input 2 kiln-triangles -f -o "$work/o3" "$work/no-such-file.txt"
    expect_fail no-input "no-such-file.txt"
    mkdir -p "$work/exists"
    run exists 2 kiln-pagerank -o "$work/exists" "$k4"
    expect_fail exists "exists"
    run bad-damping 2 kiln-pagerank --damping 2 -o "$work/o4" "$k4"
    expect_fail bad-damping "usage"
    run no-output 1 kiln-cc "$k4"
    expect_fail no-output "missing -o"
    run wbin-name 1 kiln-graphgen --scale 4 --weights -o "$work/x.bin"
    expect_fail wbin-name ".wbin"
    run help 1 kiln-sssp --help
    expect_ok help && grep -q -e "--source" "$work/help.out.0" || fail "kiln-sssp --help"
    ;;
checkpoint)
    gen rmat --scale 9 --edge-factor 8 --seed 17
    gen wrmat --scale 9 --edge-factor 4 --seed 19 --weights
    src=$(grep -v '^#' "$work"/wrmat/part-00000 | head -n 1 | cut -f1)
    # resume NAME APP FIRST_NP FIRST_ARGS -- SECOND_NP ARGS...: run APP with
    # FIRST_ARGS (an early stop) at FIRST_NP, then with ARGS and
    # --kiln-resume at SECOND_NP; the result must equal ARGS run at 1 rank
    # from scratch.
    resume() {
        name=$1 app=$2 np1=$3 first=$4 np2=$5
        shift 5
        ck=--kiln-checkpoint-dir=$work/ck-$name
        run "$name-full" 1 "$app" -f -o "$work/$name-full.d" "$@"
        # shellcheck disable=SC2086
        run "$name-stop" "$np1" "$app" -f -o "$work/$name-stop.d" $first "$ck" "$@"
        run "$name-resume" "$np2" "$app" --kiln-quiet=no -f -o "$work/$name-resume.d" --kiln-resume "$ck" "$@"
        expect_ok "$name-full" && expect_ok "$name-stop" && expect_ok "$name-resume" || return
        grep -q "resuming after iteration" "$work/$name-resume.err.0" ||
            { fail "$name: the resumed run did not resume"; show "$name-resume"; }
        same "$name-full" "$name-resume" "$work/$name-full.d" "$work/$name-resume.d"
    }
    resume pr kiln-pagerank 4 "--iterations 5 --checkpoint-every 2" 2 \
        --iterations 12 --tol 0 --checkpoint-every 2 "$work/rmat"
    resume cc kiln-cc 2 "--iterations 1 --checkpoint-every 1" 4 --checkpoint-every 1 "$work/rmat"
    resume bfs kiln-bfs 4 "--iterations 2 --checkpoint-every 1" 1 --source "$src" "$work/wrmat"
    resume sssp kiln-sssp 2 "--iterations 3 --checkpoint-every 1" 4 --source "$src" "$work/wrmat"
    resume tri kiln-triangles 2 "--iterations 2 --checkpoint-every 1" 4 --kiln-round-bytes=1K \
        --checkpoint-every 1 "$work/rmat"
    # SIGUSR1 (Slurm's warning before a time limit) to every rank of a run
    # with no end in sight: the state is checkpointed at the end of the
    # iteration, every rank exits 75 (KILN_EXIT_RESUBMIT) without output,
    # and a resumed run to that same iteration writes what an
    # uninterrupted run of that many iterations writes.
    ck=--kiln-checkpoint-dir=$work/ck-sig
    run sig 2 kiln-pagerank --kiln-quiet=no -f -o "$work/sig.d" --iterations 1000000000 \
        --tol 0 "$ck" "$work/rmat" &
    sig_job=$!
    _i=0
    until grep -q "loaded in" "$work/sig.err.0" 2> /dev/null || [ $_i -ge 300 ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
    sleep 0.5 # into the iterations
    # The apps only, not their sh wrappers (which the signal would kill).
    for _p in $(pgrep -f "$work/sig.d"); do
        [ "$(ps -o comm= -p "$_p")" = kiln-pagerank ] && kill -USR1 "$_p"
    done
    wait "$sig_job"
    for _ef in "$work"/sig.rc.[0-9]*; do
        [ "$(cat "$_ef")" = 75 ] || { fail "sig: $(basename "$_ef") is $(cat "$_ef"), expected 75"; show sig; }
    done
    [ ! -e "$work/sig.d" ] || fail "sig: the signalled run wrote its output"
    its=$(sed -n 's/.*checkpointed after iteration \([0-9]*\);.*/\1/p' "$work/sig.err.0")
    if [ -z "$its" ]; then
        fail "sig: no checkpoint after the signal"
        show sig
    else
        run sig-full 1 kiln-pagerank -f -o "$work/sig-full.d" --iterations "$its" --tol 0 \
            "$work/rmat"
        run sig-resume 4 kiln-pagerank --kiln-quiet=no -f -o "$work/sig-resume.d" \
            --kiln-resume "$ck" --iterations "$its" --tol 0 "$work/rmat"
        expect_ok sig-full && expect_ok sig-resume &&
            grep -q "resuming after iteration $its" "$work/sig-resume.err.0" &&
            same sig-full sig-resume "$work/sig-full.d" "$work/sig-resume.d" ||
            { fail "sig: the resumed run is not the uninterrupted one"; show sig-resume; }
    fi
    # A checkpoint of another graph is not used: the name carries a digest.
    run other 2 kiln-pagerank -f -o "$work/other.d" --kiln-resume --kiln-quiet=no \
        "--kiln-checkpoint-dir=$work/ck-pr" "$k4"
    expect_ok other
    grep -q "resuming" "$work/other.err.0" && fail "other: resumed another graph's checkpoint"
    ;;
*)
    echo "test_graph_apps.sh: unknown mode $mode" >&2
    exit 2
    ;;
esac

if [ "$failures" -gt 0 ]; then
    echo "test_graph_apps.sh $mode: $failures failure(s); files in $work" >&2
    exit 1
fi
rm -rf "$work"
exit 0
