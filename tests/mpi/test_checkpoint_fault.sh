#!/bin/sh
# test_checkpoint_fault.sh MPIEXEC CKPT_JOB KILN_RUN BASEDIR [WORDCOUNT]
#
# Crash and resume. --kiln-fail-at=STAGE:RANK kills one rank with SIGKILL
# when the job's STAGE-th stage starts (mpirun then ends the whole job);
# hpc/kiln-run relaunches it with --kiln-resume, and with
# --kiln-checkpoint=stages (no line of the job's code asks for
# checkpoints) every shuffle that finished before the crash is loaded
# instead of recomputed. The final output must equal an uninterrupted
# run's byte for byte (ckpt_job writes its records sorted, so this holds
# across rank counts too), and the log must say what was loaded.
#
# ckpt_job's stages: 1 text_file>flat_map>reduce_by_key (checkpoint
# node-2), 2 map>reduce_by_key (node-4), 3 and 4 the two sides of the
# shuffled join (node-6), 5 map>sort_by_key (node-8), 6 save_text.
#
#   kill2     2 ranks, rank 1 killed at stage 3; kiln-run relaunches
#   kill4     4 ranks, the master killed at stage 5; kiln-run relaunches
#   4to2      4 ranks killed at stage 3 with Kiln's default partition
#             counts (4 at 4 ranks), resumed by hand on 2 ranks
#   2to4      2 ranks killed at stage 5, resumed on 4
#   wc_*      kiln-wordcount, unchanged, the same way (its part files hold
#             words in no defined order, so they are compared sorted)
# shellcheck source=ckpt_lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/ckpt_lib.sh"
ckpt_setup fault "$@"
wc=$extra

in=$work/in.txt
gen_input "$in" 11 6000
split=--kiln-split-bytes=20K
stages=--kiln-checkpoint=stages

# after_relaunch NAME TEXT: how many lines of the relaunched attempt's log
# (after kiln-run's "relaunching" line) contain TEXT.
after_relaunch() {
    sed -n '/relaunching with --kiln-resume/,$p' "$work/$1.log" | grep -cF -- "$2"
}

# ---- uninterrupted references, 2 and 4 ranks: the same bytes ----
run ref2 2 $split "$in" "$work/ref2"
expect_rc ref2 0 && output_of "$work/ref2" "$work/ref"
[ -s "$work/ref" ] || fail "the reference output is empty"
run ref4 4 $split "$in" "$work/ref4"
expect_rc ref4 0 && same_output ref4 "$work/ref4" "$work/ref"
expect_no_log ref2 "checkpoint"

# ---- 2 ranks: rank 1 dies at stage 3, kiln-run relaunches ----
runcmd kill2 "$kiln_run" -- "$mpiexec" -n 2 --oversubscribe "$job" $split $stages \
    --kiln-checkpoint-dir="$work/ck2" --kiln-fail-at=3:1 "$in" "$work/out2"
expect_rc kill2 0
expect_log kill2 "kiln[1]: --kiln-fail-at=3:1: killing this rank at the start of stage 3" \
    "attempt 1 ended: a process was killed (SIGKILL); relaunching with --kiln-resume" \
    "attempt 2 succeeded" \
    "checkpoint node-2: loaded 6 partitions" "checkpoint node-4: loaded 6 partitions"
expect_log kill2 "instead of recomputing them"
[ "$(after_relaunch kill2 text_file)" = 0 ] ||
    fail "kill2: the relaunched job read its input again instead of loading node-2"
[ "$(after_relaunch kill2 "not used")" = 0 ] || fail "kill2: a checkpoint was rejected"
same_output kill2 "$work/out2" "$work/ref"
for n in 2 4 6 8; do
    [ -s "$work/ck2/node-$n.manifest" ] || fail "kill2: node-$n was not checkpointed"
done

# ---- 4 ranks: the master dies at stage 5 (node-2, 4 and 6 committed) ----
runcmd kill4 "$kiln_run" -- "$mpiexec" -n 4 --oversubscribe "$job" $split $stages \
    --kiln-checkpoint-dir="$work/ck4" --kiln-fail-at=5:0 "$in" "$work/out4"
expect_rc kill4 0
expect_log kill4 "killing this rank at the start of stage 5" "attempt 2 succeeded" \
    "checkpoint node-6: loaded 6 partitions"
# node-6 is the join's output: nothing below it is read or recomputed.
[ "$(after_relaunch kill4 "node-2: loaded")" = 0 ] ||
    fail "kill4: node-2 was loaded although node-6 above it was"
[ "$(after_relaunch kill4 "join")" = 0 ] || fail "kill4: the join ran again"
[ "$(after_relaunch kill4 "text_file")" = 0 ] || fail "kill4: the input was read again"
same_output kill4 "$work/out4" "$work/ref"

# ---- 4 ranks to 2: partition counts chosen for 4 ranks, read by 2 ----
# One text partition: Kiln's default width for reduce_by_key is then the
# number of ranks, so the checkpoints hold 4 partitions.
run c42_crash 4 --kiln-split-bytes=1M --parts 0 $stages --kiln-checkpoint-dir="$work/ck42" \
    --kiln-fail-at=3:2 "$in" "$work/out42"
expect_rc c42_crash nonzero
grep -q '^nparts 4$' "$work/ck42/node-2.manifest" 2> /dev/null ||
    fail "4to2: node-2 was not checkpointed with 4 partitions at 4 ranks"
[ ! -e "$work/out42" ] || fail "4to2: the crashed job left an output"
run c42_resume 2 --kiln-split-bytes=1M --parts 0 $stages --kiln-checkpoint-dir="$work/ck42" \
    --kiln-resume "$in" "$work/out42"
expect_rc c42_resume 0
expect_log c42_resume "checkpoint node-2: loaded 4 partitions" \
    "checkpoint node-4: loaded 4 partitions"
expect_no_log c42_resume "text_file"
same_output c42_resume "$work/out42" "$work/ref"

# ---- 2 ranks to 4 ----
run c24_crash 2 $split $stages --kiln-checkpoint-dir="$work/ck24" --kiln-fail-at=5:0 \
    "$in" "$work/out24"
expect_rc c24_crash nonzero
run c24_resume 4 $split $stages --kiln-checkpoint-dir="$work/ck24" --kiln-resume \
    "$in" "$work/out24"
expect_rc c24_resume 0
expect_log c24_resume "checkpoint node-6: loaded 6 partitions"
expect_no_log c24_resume "text_file"
same_output c24_resume "$work/out24" "$work/ref"

# ---- kiln-wordcount, unchanged: --kiln-checkpoint=stages alone ----
# Its stages: 1 text_file>flat_map>reduce_by_key (node-2), 2 save_text,
# 3 the top words (collect).
if [ -n "$wc" ]; then
    # wc_sorted NAME DIR: the part files' lines, sorted.
    wc_sorted() {
        if [ -e "$2/_SUCCESS" ]; then
            cat "$2"/part-* | sort > "$work/$1.sorted"
        else
            fail "$1: no _SUCCESS in $2"
            : > "$work/$1.sorted"
        fi
    }
    runcmd wc_ref "$mpiexec" -n 2 --oversubscribe "$wc" $split --top 12 -o "$work/wc_ref" "$in"
    expect_rc wc_ref 0
    wc_sorted wc_ref "$work/wc_ref"
    [ -s "$work/wc_ref.sorted" ] || fail "wc_ref: no words counted"

    runcmd wc_kill2 "$kiln_run" -- "$mpiexec" -n 2 --oversubscribe "$wc" $split $stages \
        --kiln-checkpoint-dir="$work/ckwc" --kiln-fail-at=2:1 --top 12 -o "$work/wc2" "$in"
    expect_rc wc_kill2 0
    expect_log wc_kill2 "killing this rank at the start of stage 2" \
        "relaunching with --kiln-resume" "checkpoint node-2: loaded" "attempt 2 succeeded"
    [ "$(after_relaunch wc_kill2 text_file)" = 0 ] ||
        fail "wc_kill2: the relaunched wordcount read its input again"
    wc_sorted wc_kill2 "$work/wc2"
    cmp -s "$work/wc_kill2.sorted" "$work/wc_ref.sorted" ||
        fail "wc_kill2: the word counts differ from the uninterrupted run's"
    # The top words come from the resumed attempt only (the first died
    # before printing), and must be the reference's.
    cmp -s "$work/wc_kill2.out" "$work/wc_ref.out" ||
        fail "wc_kill2: the printed top words differ from the uninterrupted run's"

    # Checkpointed at 4 ranks, resumed at 2.
    runcmd wc_crash4 "$mpiexec" -n 4 --oversubscribe "$wc" $split $stages \
        --kiln-checkpoint-dir="$work/ckwc4" --kiln-fail-at=2:3 --top 12 -o "$work/wc4" "$in"
    expect_rc wc_crash4 nonzero
    runcmd wc_resume2 "$mpiexec" -n 2 --oversubscribe "$wc" $split $stages \
        --kiln-checkpoint-dir="$work/ckwc4" --kiln-resume --top 12 -o "$work/wc4" "$in"
    expect_rc wc_resume2 0
    expect_log wc_resume2 "checkpoint node-2: loaded"
    expect_no_log wc_resume2 "text_file"
    wc_sorted wc_resume2 "$work/wc4"
    cmp -s "$work/wc_resume2.sorted" "$work/wc_ref.sorted" ||
        fail "wc_resume2: the word counts differ from the uninterrupted run's"
    cmp -s "$work/wc_resume2.out" "$work/wc_ref.out" ||
        fail "wc_resume2: the printed top words differ"
fi

ckpt_finish
