#!/bin/sh
# test_checkpoint_damage.sh MPIEXEC CKPT_JOB KILN_RUN BASEDIR
#
# Damaged and mismatching checkpoints. ckpt_job --checkpoint calls
# kiln_dataset_checkpoint() on counts (node-2), totals (node-4) and report
# (node-7, a narrow dataset); a first run writes them, uncompressed and
# with zstd. Then, for each kind of
# damage, a copy of those checkpoints is damaged and the job is rerun with
# --kiln-resume at 2 ranks. Every time:
#   - the job succeeds and its output is the uninterrupted run's, byte for
#     byte (a damaged partition used silently would change a word);
#   - the log says "checkpoint node-2 not used: REASON; recomputing" with
#     the reason expected, while the intact node-4 and node-7 are loaded;
#   - node-2 is written again, and (for a few kinds of damage, to save
#     time) a further rerun loads it: recovered.
# Last, checkpoints whose inputs, lineage or callbacks changed since they
# were written are reported and recomputed (a signature mismatch), never
# used.
# shellcheck source=ckpt_lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/ckpt_lib.sh"
ckpt_setup damage "$@"

in=$work/in.txt
gen_input "$in" 23 5000
split=--kiln-split-bytes=16K

run ref 2 $split "$in" "$work/ref.d"
expect_rc ref 0 && output_of "$work/ref.d" "$work/ref"
[ -s "$work/ref" ] || fail "the reference output is empty"

# Pristine checkpoints: P uncompressed (partitions lie in the file as
# written, so a byte of one can be found and flipped), Z with zstd.
run write_none 2 $split --checkpoint --kiln-checkpoint-compress=none \
    --kiln-checkpoint-dir="$work/P" "$in" "$work/out_none"
expect_rc write_none 0 && same_output write_none "$work/out_none" "$work/ref"
run write_zstd 2 $split --checkpoint --kiln-checkpoint-dir="$work/Z" "$in" "$work/out_zstd"
expect_rc write_zstd 0 && same_output write_zstd "$work/out_zstd" "$work/ref"
for d in P Z; do
    for n in 2 4 7; do
        [ -n "$(data_file "$work/$d" node-$n)" ] || fail "$d: node-$n was not checkpointed"
    done
done
expect_log write_none "checkpoint node-2: 6 partitions" "checkpoint node-4: 6 partitions" \
    "checkpoint node-7: 6 partitions"

# resume NAME: rerun on checkpoint directory $work/NAME.
resume() {
    run "$1" 2 $split --checkpoint --kiln-resume --kiln-checkpoint-dir="$work/$1" \
        "$in" "$work/$1.d"
}

# prepare NAME FROM: copy FROM's checkpoints to directory NAME, and set $f2
# to the copy's node-2 data file; the caller damages them, then calls
# check_damaged NAME REASON.
prepare() {
    rm -rf "${work:?}/$1"
    cp -r "$work/$2" "$work/$1"
    f2=$(data_file "$work/$1" node-2)
}

# check_damaged NAME REASON [healed]: rerun on NAME; with "healed", rerun
# once more and check that the rewritten checkpoint is loaded.
check_damaged() {
    resume "$1"
    expect_rc "$1" 0 || return
    expect_log "$1" "checkpoint node-2 not used: " "; recomputing" "$2" \
        "checkpoint node-4: loaded 6 partitions" "checkpoint node-7: loaded 6 partitions" \
        "checkpoint node-2: 6 partitions"
    expect_no_log "$1" "checkpoint node-2: loaded"
    same_output "$1" "$work/$1.d" "$work/ref"
    [ "${3:-}" = healed ] || return
    # Recomputed and written again: the next rerun loads it.
    run "$1_again" 2 $split --checkpoint --kiln-resume --kiln-checkpoint-dir="$work/$1" \
        "$in" "$work/$1.d2"
    expect_rc "$1_again" 0 &&
        expect_log "$1_again" "checkpoint node-2: loaded 6 partitions" \
            "checkpoint node-4: loaded 6 partitions" "checkpoint node-7: loaded 6 partitions"
    expect_no_log "$1_again" "not used"
    same_output "$1_again" "$work/$1.d2" "$work/ref"
    # The damaged file is gone: a commit removes the name's other data files.
    ls "$work/$1"/node-2.*.h5 > "$work/$1.files" 2> /dev/null
    [ "$(wc -l < "$work/$1.files")" = 1 ] ||
        fail "$1: node-2 has $(wc -l < "$work/$1.files") data files after recovery"
}

# ---- intact: both loaded, nothing computed below them ----
prepare intact P
resume intact
expect_rc intact 0
expect_log intact "checkpoint node-2: loaded 6 partitions" \
    "checkpoint node-4: loaded 6 partitions" "checkpoint node-7: loaded 6 partitions" \
    "instead of recomputing them"
expect_no_log intact "not used"
# Only the sort and the save run: nothing below report is computed.
expect_no_log intact "text_file"
expect_no_log intact "join"
expect_no_log intact "written"
same_output intact "$work/intact.d" "$work/ref"

# ---- truncated files ----
prepare trunc_half P
truncate -s $(($(stat -c %s "$f2") / 2)) "$f2"
check_damaged trunc_half "truncated or not HDF5" healed

prepare trunc_tail Z
truncate -s $(($(stat -c %s "$f2") - 1000)) "$f2"
check_damaged trunc_tail "truncated"

# ---- one flipped bit inside a partition's records ----
prepare flip_plain P
word=$(head -1 "$work/ref" | cut -f1)
off=$(grep -obUaF -- "$word" "$f2" | head -1 | cut -d: -f1)
if [ -n "$off" ]; then
    flip "$f2" "$off"
    check_damaged flip_plain "fails its checksum" healed
else
    fail "flip_plain: the word '$word' is not in $f2"
fi

# The same in compressed data: the zstd frame (magic 28 b5 2f fd) is the
# chunk holding /data; flip a byte in its middle.
prepare flip_zstd Z
magic=$(find_bytes "$f2" 28 b5 2f fd)
if [ -n "$magic" ]; then
    flip "$f2" $((magic + ($(stat -c %s "$f2") - magic) / 2))
    # The decompressor or the checksum catches it; either way, not used.
    check_damaged flip_zstd "node-2 not used"
else
    fail "flip_zstd: no zstd frame in $f2"
fi

# ---- the manifest ----
prepare no_manifest P
rm -f "$work/no_manifest/node-2.manifest"
check_damaged no_manifest "its manifest '$work/no_manifest/node-2.manifest' is missing" healed

prepare bad_manifest P
printf 'kiln-checkpoint 1\nfile node-2.x.h5\nsignat' > "$work/bad_manifest/node-2.manifest"
check_damaged bad_manifest "manifest '$work/bad_manifest/node-2.manifest' is malformed"

prepare no_data P
rm -f "$f2"
check_damaged no_data "its data file '$f2' is missing"

# A manifest naming another checkpoint's data file.
prepare swapped P
f4=$(data_file "$work/swapped" node-4)
sed "s|^file .*|file ${f4##*/}|" "$work/P/node-2.manifest" > "$work/swapped/node-2.manifest"
check_damaged swapped "does not match its manifest"

# ---- a changed input: every checkpoint's signature differs ----
cp "$in" "$work/in2.txt"
gen_input "$work/more.txt" 99 40
cat "$work/more.txt" >> "$work/in2.txt"
run ref_new 2 $split "$work/in2.txt" "$work/ref_new.d"
expect_rc ref_new 0 && output_of "$work/ref_new.d" "$work/ref_new"
cmp -s "$work/ref_new" "$work/ref" && fail "the changed input gives the same output"
prepare changed P
run changed 2 $split --checkpoint --kiln-resume --kiln-checkpoint-dir="$work/changed" \
    "$work/in2.txt" "$work/changed.d"
expect_rc changed 0
expect_log changed \
    "checkpoint node-2 not used: it was written for a different lineage or different inputs; recomputing" \
    "checkpoint node-4 not used: it was written for a different lineage or different inputs; recomputing" \
    "checkpoint node-7 not used: it was written for a different lineage or different inputs; recomputing"
expect_no_log changed "loaded"
same_output changed "$work/changed.d" "$work/ref_new"

# The same file rewritten with its old size: its modification time differs.
cp "$in" "$work/in3.txt"
run same_size_w 2 $split --checkpoint --kiln-checkpoint-dir="$work/same_size" \
    "$work/in3.txt" "$work/same_size_w.d"
expect_rc same_size_w 0
sed 's/w/W/' "$work/in3.txt" > "$work/in3.new"
touch -d '@1000000000' "$work/in3.new"  # an edit, older or newer: it differs
mv "$work/in3.new" "$work/in3.txt"
run same_size 2 $split --checkpoint --kiln-resume --kiln-checkpoint-dir="$work/same_size" \
    "$work/in3.txt" "$work/same_size.d"
expect_rc same_size 0
expect_log same_size "checkpoint node-2 not used: it was written for a different lineage"
expect_no_log same_size "loaded"
run ref_same_size 2 $split "$work/in3.txt" "$work/ref_same_size.d"
expect_rc ref_same_size 0 && output_of "$work/ref_same_size.d" "$work/ref3"
cmp -s "$work/ref3" "$work/ref" && fail "the edited input gives the same output"
same_output same_size "$work/same_size.d" "$work/ref3"

# ---- a changed lineage: another partition count asked for ----
prepare lineage P
run lineage 2 $split --parts 5 --checkpoint --kiln-resume \
    --kiln-checkpoint-dir="$work/lineage" "$in" "$work/lineage.d"
expect_rc lineage 0
expect_log lineage "checkpoint node-2 not used: it was written for a different lineage"
expect_no_log lineage "loaded"
same_output lineage "$work/lineage.d" "$work/ref"

# ---- a changed callback: the same lineage with another map function ----
# (node-4 and node-7 depend on it; node-2 does not and is still used.)
run ref_last 2 $split --last-byte "$in" "$work/ref_last.d"
expect_rc ref_last 0 && output_of "$work/ref_last.d" "$work/ref_last"
cmp -s "$work/ref_last" "$work/ref" && fail "--last-byte gives the same output"
prepare callback P
run callback 2 $split --last-byte --checkpoint --kiln-resume \
    --kiln-checkpoint-dir="$work/callback" "$in" "$work/callback.d"
expect_rc callback 0
expect_log callback "checkpoint node-2: loaded 6 partitions" \
    "checkpoint node-4 not used: it was written for a different lineage" \
    "checkpoint node-7 not used: it was written for a different lineage"
same_output callback "$work/callback.d" "$work/ref_last"

# ---- an empty dataset is checkpointed and loaded like any other ----
# No word of this input starts with another's last byte: report is empty.
printf 'ab cd\nab\n' > "$work/empty.txt"
run empty_ref 2 --last-byte "$work/empty.txt" "$work/empty_ref.d"
expect_rc empty_ref 0 && output_of "$work/empty_ref.d" "$work/empty_ref"
run empty_w 2 --last-byte --checkpoint --kiln-checkpoint-dir="$work/E" \
    "$work/empty.txt" "$work/empty_w.d"
expect_rc empty_w 0
expect_log empty_w "checkpoint node-7: 6 partitions, 0 bytes written"
run empty_r 1 --last-byte --checkpoint --kiln-resume --kiln-checkpoint-dir="$work/E" \
    "$work/empty.txt" "$work/empty_r.d"
expect_rc empty_r 0
expect_log empty_r "checkpoint node-7: loaded 6 partitions (0 bytes)"
same_output empty_r "$work/empty_r.d" "$work/empty_ref"

ckpt_finish
