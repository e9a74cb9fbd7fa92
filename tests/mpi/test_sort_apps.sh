#!/bin/sh
# test_sort_apps.sh MODE NP BINDIR WORKDIR -- LAUNCHER...
# (LAUNCHER: mpiexec and its flags, without the rank count)
#
# kiln-gensort, kiln-sort and kiln-valsort at NP ranks. Unlike the other
# drivers this one is not started by mpirun: each check is a pipeline of
# several jobs (generate, sort, validate), and an MPI process can be started
# only once per rank, so the script runs LAUNCHER -n NP once per job
# (jobs_lib.sh). Every rank of a job writes its own exit status, and the ranks
# must agree: an error has to stop every rank, not just the master.
#
# Every output is compared byte for byte with a serial reference made by
# coreutils (LC_ALL=C sort, od), which is the same at any rank count: the
# outputs are therefore identical across 1, 2 and 4 ranks.
#
# MODE: records  inputs random, skewed, already sorted, reverse-sorted, all
#                keys equal, all records equal, empty; gensort determinism
#       valsort  swapped, dropped, duplicated and replaced records
#       lines    --lines against LC_ALL=C sort on awkward text
#       errors   missing input, bad sizes, existing output, bad options
set -u
if [ $# -lt 6 ] || [ "$5" != -- ]; then
    echo "usage: test_sort_apps.sh MODE NP BINDIR WORKDIR -- LAUNCHER..." >&2
    exit 2
fi
mode=$1 np=$2 bin=$3 base=$4
shift 5
launcher=$* # split again where used: the launcher's path has no spaces
export LC_ALL=C KILN_QUIET=1
gensort=$bin/kiln-gensort
ksort=$bin/kiln-sort
valsort=$bin/kiln-valsort
work=$base/sort-apps-$mode-np$np
rm -rf "$work"
mkdir -p "$work" || exit 1
# Small splits: inputs of a few hundred kB become many partitions, so that
# every rank reads, and the order between partitions is exercised.
split=--kiln-split-bytes=20000
# A hang ends here, before ctest's timeout.
limit=
command -v timeout > /dev/null && limit="timeout ${KILN_TEST_WATCHDOG:-60}"
fail_what="sort apps $mode, $np ranks"
# shellcheck source=jobs_lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/jobs_lib.sh"

# run NAME PROGRAM ARG...: run_at NP ranks. expect STATUS NAME PROGRAM
# ARG...: expect_at NP ranks.
run() { run_at "$np" "$@"; }
expect() {
    expect_status=$1
    shift
    expect_at "$expect_status" "$np" "$@"
}

# Records as hex lines, one per record: a form sort(1) and cmp can handle.
hexrec() {
    cat "$@" | od -An -v -tx1 -w100 | tr -d ' '
}

# check_output NAME DIR REFERENCE: DIR holds part files and _SUCCESS only,
# and their concatenation is REFERENCE's bytes.
check_output() {
    [ -e "$2/_SUCCESS" ] || fail "$1: no _SUCCESS in $2"
    for f in "$2"/*; do
        case ${f##*/} in
        part-[0-9][0-9][0-9][0-9][0-9] | _SUCCESS) ;;
        *) fail "$1: unexpected file in the output: ${f##*/}" ;;
        esac
    done
    cat "$2"/part-* > "$work/$1.got" 2> /dev/null
    if ! cmp -s "$work/$1.got" "$3"; then
        fail "$1: output differs from the reference" \
             "($(wc -c < "$work/$1.got") bytes, want $(wc -c < "$3"))"
        cmp "$work/$1.got" "$3" >&2
    fi
}

# sort_records NAME INPUT...: kiln-sort the records of INPUT (files or
# directories), compare with sort(1) of their hex form, then kiln-valsort
# the output: sorted, and the same records=/checksum= as the input.
sort_records() {
    name=$1
    shift
    files=
    for i in "$@"; do
        if [ -d "$i" ]; then files="$files $i/part-*"; else files="$files $i"; fi
    done
    # shellcheck disable=SC2086 # file lists without spaces
    hexrec $files | sort > "$work/$name.want.hex"
    run "val-in-$name" "$valsort" $split "$@" # sorted or not: 0 or 1
    [ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "val-in-$name: exit status $rc"
    in_line=$(cat "$out")
    expect 0 "sort-$name" "$ksort" $split -o "$work/out-$name" "$@" || return
    [ -e "$work/out-$name/_SUCCESS" ] || fail "sort-$name: no _SUCCESS"
    hexrec "$work/out-$name"/part-* > "$work/$name.got.hex"
    if ! cmp -s "$work/$name.got.hex" "$work/$name.want.hex"; then
        fail "sort-$name: output differs from sort(1) of the input" \
             "($(wc -l < "$work/$name.got.hex") records," \
             "want $(wc -l < "$work/$name.want.hex"))"
        diff "$work/$name.got.hex" "$work/$name.want.hex" | head -6 >&2
    fi
    expect 0 "val-out-$name" "$valsort" $split "$work/out-$name" || return
    want_n=$(wc -l < "$work/$name.want.hex" | tr -d ' ')
    out_line=$(cat "$out")
    case $out_line in
    "records=$want_n checksum="????????????????) ;;
    *) fail "val-out-$name: printed '$out_line', expected records=$want_n" ;;
    esac
    [ "$out_line" = "$in_line" ] ||
        fail "val-out-$name: '$out_line' but the input gave '$in_line'"
}

case $mode in
records)
    in=$work/in
    mkdir -p "$in"
    # Generation is deterministic: the same bytes at any rank count and any
    # number of partitions. The digests pin the record format down.
    expect 0 gen-rand "$gensort" -n 3000 --seed 7 -p 5 -o "$in/rand" &&
    expect 0 gen-skew "$gensort" -n 3000 --seed 7 --skew -p 3 -o "$in/skew" &&
    expect 0 gen-ascii "$gensort" -n 2500 --seed 9 --ascii -p 4 -o "$in/ascii" || {
        echo "FAIL: kiln-gensort failed; nothing else to test" >&2
        exit 1
    }
    for g in rand:5 skew:3 ascii:4; do
        n=$(ls "$in/${g%:*}" | grep -c '^part-')
        [ "$n" = "${g#*:}" ] || fail "gen-${g%:*}: $n part files, expected ${g#*:}"
    done
    for g in "rand 3000 8bb9870484892b0cbd244847eb586458" \
             "skew 3000 b97bba2a0c727a24e1fd6202a8da163c" \
             "ascii 2500 b3936b2a511d053c437ff203e84590d6"; do
        set -- $g
        size=$(cat "$in/$1"/part-* | wc -c | tr -d ' ')
        sum=$(cat "$in/$1"/part-* | md5sum | cut -d' ' -f1)
        [ "$size" = $(($2 * 100)) ] || fail "gen-$1: $size bytes, expected $(($2 * 100))"
        [ "$sum" = "$3" ] || fail "gen-$1: md5 $sum, expected $3 (format changed?)"
    done
    # --skew: half of the records (about) share one key.
    top=$(hexrec "$in/skew"/part-* | cut -c1-20 | sort | uniq -c | sort -rn |
          head -1 | awk '{ print $1 }')
    [ "$top" -gt 1300 ] && [ "$top" -lt 1700 ] ||
        fail "gen-skew: the most common key has $top of 3000 records"
    # --ascii keys are printable, so every record is a 99-byte line.
    bad=$(cat "$in/ascii"/part-* | awk 'length($0) != 99' | wc -l)
    [ "$bad" = 0 ] || fail "gen-ascii: $bad records are not 99-byte lines"

    sort_records random "$in/rand"
    sort_records skewed "$in/skew"
    sort_records ascii "$in/ascii"
    # Already sorted (in three files of 1000, 1000 and 500 records) and
    # reverse-sorted: text tools can make them from the --ascii records.
    cat "$in/ascii"/part-* | sort > "$work/ascii.sorted"
    mkdir -p "$in/sorted"
    split -l 1000 -d -a 5 "$work/ascii.sorted" "$in/sorted/part-"
    sort_records sorted "$in/sorted"
    cat "$in/ascii"/part-* | sort -r > "$in/reverse.dat"
    sort_records reverse "$in/reverse.dat"
    # Every key the same (values differ), and every record the same.
    cat "$in/ascii"/part-* | sed 's/^.........../KKKKKKKKKK /' > "$in/equal-keys.dat"
    sort_records equal-keys "$in/equal-keys.dat"
    head -n 1 "$work/ascii.sorted" |
        awk '{ for (i = 0; i < 300; i++) print }' > "$in/equal.dat"
    sort_records equal-records "$in/equal.dat"
    # A mix of files and a directory, and an empty file.
    : > "$in/empty.dat"
    sort_records mixed "$in/empty.dat" "$in/rand" "$in/reverse.dat"
    sort_records empty "$in/empty.dat"
    # --partitions: exactly that many part files.
    if expect 0 sort-p3 "$ksort" $split -p 3 -o "$work/out-p3" "$in/rand"; then
        n=$(ls "$work/out-p3" | grep -c '^part-')
        [ "$n" = 3 ] || fail "sort -p 3 wrote $n part files"
        hexrec "$work/out-p3"/part-* | cmp -s - "$work/random.want.hex" ||
            fail "sort -p 3: output differs from the reference"
    fi
    ;;

valsort)
    in=$work/in
    mkdir -p "$in"
    expect 0 gen "$gensort" -n 2000 --seed 3 --ascii -p 4 -o "$in/gen" || exit 1
    cat "$in/gen"/part-* | sort > "$work/sorted"
    # Sorted records in four part files of 500.
    mk() { # mk NAME: $work/NAME (one record per line) as part files
        mkdir -p "$in/$1"
        split -l 500 -d -a 5 "$work/$1" "$in/$1/part-"
    }
    mk sorted
    expect 0 good "$valsort" $split "$in/sorted"
    good=$(cat "$out")
    case $good in
    records=2000\ checksum=????????????????) ;;
    *) fail "valsort printed '$good'" ;;
    esac
    expect 1 unsorted "$valsort" $split "$in/gen"
    [ "$(cat "$out")" = "$good" ] ||
        fail "the checksum depends on order: '$(cat "$out")' against '$good'"

    # Swapped neighbours inside part-00001 (lines 700 and 701 overall):
    # records 699 and 700, 0-based, so the disorder is record 700, which is
    # part-00001 record 200.
    awk 'NR == 700 { held = $0; next } NR == 701 { print; print held; next }
         { print }' "$work/sorted" > "$work/swapped"
    mk swapped
    expect 1 swapped "$valsort" $split "$in/swapped"
    grep -q "record 700 (.*part-00001 record 200" "$err" ||
        { fail "swapped: the error does not locate record 700"; cat "$err" >&2; }
    [ "$(cat "$out")" = "$good" ] || fail "swapped: checksum changed"
    # Swapped across the boundary of part-00002 and part-00003.
    awk 'NR == 1500 { held = $0; next } NR == 1501 { print; print held; next }
         { print }' "$work/sorted" > "$work/swapped2"
    mk swapped2
    expect 1 swapped-boundary "$valsort" $split "$in/swapped2"
    grep -q "record 1500 (.*part-00003 record 0" "$err" ||
        { fail "swapped-boundary: the error does not locate record 1500"; cat "$err" >&2; }
    # The same at other split sizes: 1 record per partition, and 1 GB.
    expect 1 swapped-tiny "$valsort" --kiln-split-bytes=100 "$in/swapped"
    expect 1 swapped-big "$valsort" --kiln-split-bytes=1G "$in/swapped"
    # A file: the record index is the file's.
    expect 1 swapped-file "$valsort" "$work/swapped"
    grep -q "record 700 (.*swapped record 700" "$err" ||
        { fail "swapped-file: the error does not locate record 700"; cat "$err" >&2; }
    # Dropped, duplicated, replaced by its neighbour: still sorted, so only
    # the line tells, by the count or the checksum.
    sed 1234d "$work/sorted" > "$work/dropped"
    sed 1234p "$work/sorted" > "$work/duplicated"
    awk 'NR == 1235 { print prev; next } { print; prev = $0 }' "$work/sorted" \
        > "$work/replaced"
    for m in dropped duplicated replaced; do
        mk $m
        expect 0 $m "$valsort" $split "$in/$m" || continue
        line=$(cat "$out")
        [ "$line" != "$good" ] || fail "$m: the same line as the original: $line"
        n=$(wc -l < "$work/$m" | tr -d ' ')
        case $line in
        "records=$n checksum="*) ;;
        *) fail "$m: printed '$line', expected records=$n" ;;
        esac
    done
    # Empty input: sorted, no records.
    : > "$in/empty.dat"
    expect 0 empty "$valsort" "$in/empty.dat"
    [ "$(cat "$out")" = "records=0 checksum=0000000000000000" ] ||
        fail "empty: printed '$(cat "$out")'"
    ;;

lines)
    in=$work/in
    mkdir -p "$in/dir"
    # Awkward lines: empty ones, duplicates, leading blanks and tabs, bytes
    # above 127, NUL bytes, a prefix of another line, no final newline, a
    # 100 kB line, an empty file, a file of newlines only.
    printf 'b\na\n\nab\na b\n\377\376\nA\n\tx\nb\na\000z\na\n a\nab\n' > "$in/f1.txt"
    printf 'zz\nno final newline' > "$in/f2.txt"
    : > "$in/f3.txt"
    printf '\n\n\n' > "$in/f4.txt"
    awk 'BEGIN { s = ""; for (i = 0; i < 100000; i++) s = s "q"; print s; print "q" }' \
        > "$in/long.txt"
    # Many lines, many partitions: 20000 pseudo-random lines (an LCG, so the
    # same on every machine), over three files in a directory.
    awk -v dir="$in/dir" 'BEGIN { x = 12345
        for (i = 0; i < 20000; i++) {
            x = (x * 1103515245 + 12345) % 2147483648
            n = 1 + x % 12; s = ""
            for (j = 0; j < n; j++) {
                x = (x * 1103515245 + 12345) % 2147483648
                s = s sprintf("%c", 33 + int(x / 65536) % 90)
            }
            print s > (dir "/part-" (i % 3))
        } }'
    printf 'hidden\n' > "$in/dir/_SUCCESS"
    printf 'hidden\n' > "$in/dir/.dot"
    set -- "$in/f1.txt" "$in/f2.txt" "$in/f3.txt" "$in/f4.txt" "$in/long.txt" "$in/dir"
    sort "$in/f1.txt" "$in/f2.txt" "$in/f3.txt" "$in/f4.txt" "$in/long.txt" \
        "$in/dir/part-0" "$in/dir/part-1" "$in/dir/part-2" > "$work/want"
    if expect 0 lines "$ksort" --lines --kiln-split-bytes=5000 -o "$work/out" "$@"; then
        check_output lines "$work/out" "$work/want"
    fi
    # A glob, and a partition count.
    sort "$in/dir/part-0" "$in/dir/part-1" "$in/dir/part-2" > "$work/want-glob"
    if expect 0 lines-glob "$ksort" --lines -p 5 --kiln-split-bytes=5000 \
            -o "$work/out-glob" "$in/dir/part-*"; then
        check_output lines-glob "$work/out-glob" "$work/want-glob"
        n=$(ls "$work/out-glob" | grep -c '^part-')
        [ "$n" = 5 ] || fail "lines-glob: $n part files, expected 5"
    fi
    # An input smaller than one partition per rank.
    printf 'b\na\n' > "$in/two.txt"
    printf 'a\nb\n' > "$work/want-two"
    if expect 0 lines-tiny "$ksort" --lines -o "$work/out-two" "$in/two.txt"; then
        check_output lines-tiny "$work/out-two" "$work/want-two"
    fi
    ;;

errors)
    in=$work/in
    mkdir -p "$in"
    expect 0 gen "$gensort" -n 100 -o "$in/gen" || exit 1
    # A missing input: every rank fails, the error names it, no output.
    expect 1 missing "$ksort" -o "$work/out" "$in/no-such-file"
    grep -q "no-such-file" "$err" || fail "missing: the error does not name the file"
    [ ! -e "$work/out" ] || fail "missing: an output directory was left"
    expect 2 missing-val "$valsort" "$in/no-such-file"
    grep -q "no-such-file" "$err" || fail "missing-val: the error does not name the file"
    # A size that is not a whole number of records.
    printf 'short' > "$in/short.dat"
    expect 1 short "$ksort" -o "$work/out" "$in/gen" "$in/short.dat"
    grep -q "short.dat" "$err" || fail "short: the error does not name the file"
    [ ! -e "$work/out" ] || fail "short: an output directory was left"
    expect 2 short-val "$valsort" "$in/short.dat"
    # An existing output is refused and left alone, unless --overwrite.
    mkdir -p "$work/exists"
    echo keep > "$work/exists/marker"
    expect 1 exists "$ksort" -o "$work/exists" "$in/gen"
    grep -q "already exists" "$err" || fail "exists: the error does not say so"
    [ "$(ls "$work/exists")" = marker ] || fail "exists: the output was changed"
    expect 1 exists-gen "$gensort" -n 10 -o "$work/exists"
    [ "$(ls "$work/exists")" = marker ] || fail "exists-gen: the output was changed"
    if expect 0 overwrite "$ksort" --overwrite -o "$work/exists" "$in/gen"; then
        [ ! -e "$work/exists/marker" ] || fail "overwrite: the old file survived"
        expect 0 overwrite-val "$valsort" "$work/exists"
    fi
    # Usage errors: status 2 on every rank, with the usage text.
    expect 2 no-output "$ksort" "$in/gen"
    grep -q "missing -o" "$err" || fail "no-output: no reason given"
    expect 2 no-input "$ksort" -o "$work/x"
    expect 2 bad-parts "$ksort" -p 0 -o "$work/x" "$in/gen"
    expect 2 no-n "$gensort" -o "$work/x"
    expect 2 bad-n "$gensort" -n 12x -o "$work/x"
    expect 2 no-args "$valsort"
    expect 2 unknown "$ksort" --no-such-option -o "$work/x" "$in/gen"
    expect 1 unknown-kiln "$ksort" --kiln-no-such-option=1 -o "$work/x" "$in/gen"
    [ ! -e "$work/x" ] || fail "a usage error left an output directory"
    for app in "$gensort" "$ksort" "$valsort"; do
        expect 0 "help-${app##*/}" "$app" --help
        grep -q "^usage: ${app##*/}" "$out" || fail "${app##*/} --help: no usage line"
    done
    ;;

*)
    echo "test_sort_apps.sh: unknown mode $mode" >&2
    exit 2
    ;;
esac

if [ "$failures" != 0 ]; then
    echo "sort apps $mode at $np ranks: $failures failures (kept $work)" >&2
    exit 1
fi
echo "sort apps $mode at $np ranks: ok"
[ -n "${KILN_TEST_KEEP:-}" ] || rm -rf "$work"
exit 0
