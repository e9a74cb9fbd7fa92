#!/bin/sh
# run_wordcount.sh MODE WORDCOUNT WC_TOOL WORKDIR
#
# Run under mpirun: every rank runs this script once, and it runs
# kiln-wordcount once (an MPI process can be started only once per rank).
# Rank 0 prepares the inputs before it starts kiln-wordcount, which is safe
# because the other ranks cannot get past kiln_init() without it; after the
# run rank 0 checks the output against wc_tool's serial reference. Every rank
# checks its own exit status, so mpirun's status covers all ranks.
#
# MODE: count      -o OUT (new): part files and top 15 must match
#       overwrite  OUT holds stale files; --overwrite must replace it whole
#       exists     OUT exists; kiln-wordcount must fail on every rank and
#                  leave OUT untouched
set -u
mode=$1 wc=$2 tool=$3 base=$4

rank=${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-${PMI_RANK:-0}}}
size=${OMPI_COMM_WORLD_SIZE:-${PMI_SIZE:-1}}
job=${PMIX_NAMESPACE:-${OMPI_MCA_ess_base_jobid:-np$size}}
work=$base/wordcount-$mode-$job      # the same path on every rank of this job
in=$work/in
out=$work/out
mine=$(mktemp -d "${TMPDIR:-/tmp}/kiln-wc-rank$rank.XXXXXX") || exit 1
trap 'rm -rf "$mine"' EXIT

fail() {
    echo "RANK $rank: FAIL [wordcount $mode]: $*" >&2
    for f in "$mine"/stderr "$mine"/stdout; do
        [ -s "$f" ] && sed "s/^/RANK $rank: $(basename "$f"): /" "$f" | head -20 >&2
    done
    exit 1
}

if [ "$rank" = 0 ]; then
    rm -rf "$work"
    mkdir -p "$in" || fail "cannot create $in"
    "$tool" gen "$in" || fail "wc_tool gen failed"
    case $mode in
    overwrite)
        mkdir -p "$out"
        printf 'stale\t999\n' > "$out/part-99999"
        printf 'junk\n' > "$out/junk.txt"
        : > "$out/_SUCCESS" ;;
    exists)
        mkdir -p "$out"
        printf 'keep me\n' > "$out/marker" ;;
    esac
fi

# The inputs: files (one empty, one only whitespace, one without a final
# newline), a directory with entries that are not data, and a glob (quoted:
# Kiln expands it, and on other ranks the files do not exist yet).
set -- "$in/f0.txt" "$in/f1.txt" "$in/f2.txt" "$in/f3.txt" "$in/f4.txt" \
       "$in/f5.txt" "$in/dir" "$in/g*.txt"
flags=
[ "$mode" = overwrite ] && flags=--overwrite

# A hang ends here, on every rank, before ctest's timeout (90 s or more).
limit=
command -v timeout > /dev/null && limit="timeout ${KILN_TEST_WATCHDOG:-75}"
$limit "$wc" --kiln-split-bytes=1K --top 15 $flags -o "$out" "$@" \
    > "$mine/stdout" 2> "$mine/stderr"
rc=$?

if [ "$mode" = exists ]; then
    [ "$rc" != 0 ] || fail "kiln-wordcount succeeded over an existing output"
    if [ "$rank" = 0 ]; then
        grep -q "already exists" "$mine/stderr" ||
            fail "the error does not say the output exists"
        [ "$(ls -A "$out")" = marker ] || fail "the existing output was changed: $(ls -A "$out")"
        ls -d "$work"/out.* 2>/dev/null && fail "staging directories left behind"
        [ -n "${KILN_TEST_KEEP:-}" ] || rm -rf "$work"
    fi
    exit 0
fi

[ "$rc" = 0 ] || fail "kiln-wordcount exited with status $rc"
[ "$rank" = 0 ] || exit 0

"$tool" count "$work/want" "$work/want_top" 15 "$@" || fail "wc_tool count failed"
[ -e "$out/_SUCCESS" ] || fail "no _SUCCESS"
for f in "$out"/*; do
    case ${f##*/} in
    part-[0-9][0-9][0-9][0-9][0-9]|_SUCCESS) ;;
    *) fail "unexpected file in the output: ${f##*/}" ;;
    esac
done
[ ! -e "$out/part-99999" ] || fail "a stale part file survived --overwrite"
ls -d "$work"/out.* 2>/dev/null && fail "staging directories left behind"
cat "$out"/part-* | LC_ALL=C sort > "$work/got.sorted"
LC_ALL=C sort "$work/want" > "$work/want.sorted"
if ! cmp -s "$work/got.sorted" "$work/want.sorted"; then
    LC_ALL=C diff "$work/got.sorted" "$work/want.sorted" | head -10 | cat -v >&2
    fail "word counts differ from the serial reference ($(wc -l < "$work/got.sorted") vs $(wc -l < "$work/want.sorted") words)"
fi
if ! cmp -s "$mine/stdout" "$work/want_top"; then
    diff "$mine/stdout" "$work/want_top" | cat -v >&2
    fail "the printed top 15 differs from the serial reference"
fi
echo "wordcount $mode at $size ranks: $(wc -l < "$work/want") distinct words match"
[ -n "${KILN_TEST_KEEP:-}" ] || rm -rf "$work"
exit 0
