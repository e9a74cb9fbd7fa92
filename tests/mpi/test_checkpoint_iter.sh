#!/bin/sh
# test_checkpoint_iter.sh MPIEXEC CKPT_JOB KILN_RUN BASEDIR
#
# Iterative jobs: kiln_iteration_checkpoint() every K iterations, keeping
# the two newest, and kiln_iteration_resume(). ckpt_job --iterations 10
# runs state(i) = reduce_by_key(map(state(i-1))), a step that depends on
# i, so resuming from the wrong iteration changes the output; the last rank
# kills itself after iteration --crash-after (in a run that did not
# resume). Checked:
#   keep      after a crash after iteration 7 with --every 2, the directory
#             holds iterations 4 and 6 only (2 was deleted), and lists them
#   newest    --kiln-resume continues after 6, on another rank count (4
#             ranks crashed, 2 resume), with the uninterrupted output; 8
#             and 10 are then the two kept
#   fallback  with iteration 6's file damaged, the resume says so and
#             continues after 4
#   scratch   with both damaged, it starts again from the input
#   kiln_run  kiln-run relaunches a crashed iterative job, which resumes
# shellcheck source=ckpt_lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/ckpt_lib.sh"
ckpt_setup iter "$@"

in=$work/in.txt
gen_input "$in" 31 3000
split=--kiln-split-bytes=16K

# files DIR: the checkpoint directory's names, job ids replaced by JOB.
files() {
    ls "$1" 2> /dev/null | sed 's/\.[0-9a-f-]*\.h5$/.JOB.h5/' | tr '\n' ' '
}

# expect_kept NAME DIR A B: DIR holds iterations A and B only, listed so.
expect_kept() {
    want="iter-$3.JOB.h5 iter-$3.manifest iter-$4.JOB.h5 iter-$4.manifest iter.iterations "
    got=$(files "$2" | tr ' ' '\n' | sort | tr '\n' ' ')
    want=$(echo "$want" | tr ' ' '\n' | sed '/^$/d' | sort | tr '\n' ' ')
    [ "$got" = "$want" ] || fail "$1: the checkpoint directory holds '$got', expected '$want'"
    [ "$(tr '\n' ' ' < "$2/iter.iterations" 2> /dev/null)" = "$3 $4 " ] ||
        fail "$1: iter.iterations lists '$(cat "$2/iter.iterations" 2> /dev/null)', expected '$3 $4'"
}

run ref 2 $split --iterations 10 --every 0 "$in" "$work/ref.d"
expect_rc ref 0 && output_of "$work/ref.d" "$work/ref"
[ -s "$work/ref" ] || fail "the reference output is empty"
run ref9 2 $split --iterations 9 --every 0 "$in" "$work/ref9.d"
expect_rc ref9 0 && output_of "$work/ref9.d" "$work/ref9"
cmp -s "$work/ref9" "$work/ref" && fail "9 and 10 iterations give the same output"

# ---- keep: 4 ranks, checkpoints at 2, 4, 6, a crash after 7 ----
run crash4 4 $split --iterations 10 --every 2 --crash-after 7 \
    --kiln-checkpoint-dir="$work/ck" "$in" "$work/out.d"
expect_rc crash4 nonzero
expect_log crash4 "crashing after iteration 7" "checkpoint iter-2: " \
    "checkpoint iter-4: " "checkpoint iter-6: "
expect_kept crash4 "$work/ck" 4 6

# ---- newest: resumed on 2 ranks ----
run resume2 2 $split --iterations 10 --every 2 --crash-after 7 --kiln-resume \
    --kiln-checkpoint-dir="$work/ck" "$in" "$work/out.d"
expect_rc resume2 0
expect_log resume2 "checkpoint iter-6: loaded" "instead of recomputing" \
    "iter: resuming after iteration 6" "ckpt_job: resumed at iteration 6"
expect_no_log resume2 "text_file"
expect_no_log resume2 "not used"
same_output resume2 "$work/out.d" "$work/ref"
expect_kept resume2 "$work/ck" 8 10

# ---- fallback: the newest is damaged, the older one is used ----
run crash2 2 $split --iterations 10 --every 2 --crash-after 7 \
    --kiln-checkpoint-dir="$work/fb" "$in" "$work/fb.d"
expect_rc crash2 nonzero
expect_kept crash2 "$work/fb" 4 6
f6=$(data_file "$work/fb" iter-6)
if [ -n "$f6" ]; then
    truncate -s $(($(stat -c %s "$f6") / 2)) "$f6"
fi
cp -r "$work/fb" "$work/both"  # for the next case
run fallback 2 $split --iterations 10 --every 2 --kiln-resume \
    --kiln-checkpoint-dir="$work/fb" "$in" "$work/fb.d"
expect_rc fallback 0
expect_log fallback "checkpoint iter-6 not used: " "checkpoint iter-4: loaded" \
    "iter: resuming after iteration 4"
expect_no_log fallback "resuming after iteration 6"
expect_no_log fallback "text_file"
same_output fallback "$work/fb.d" "$work/ref"
expect_kept fallback "$work/fb" 8 10

# ---- scratch: both damaged ----
f4=$(data_file "$work/both" iter-4)
[ -n "$f4" ] && : > "$f4"
run scratch 2 $split --iterations 10 --every 2 --kiln-resume \
    --kiln-checkpoint-dir="$work/both" "$in" "$work/both.d"
expect_rc scratch 0
expect_log scratch "checkpoint iter-6 not used: " "checkpoint iter-4 not used: " "text_file"
expect_no_log scratch "resuming after"
same_output scratch "$work/both.d" "$work/ref"
expect_kept scratch "$work/both" 8 10

# ---- kiln_run: every 3, a crash after 8, relaunched: resumes after 6 ----
runcmd kiln_run "$kiln_run" -- "$mpiexec" -n 2 --oversubscribe "$job" $split \
    --iterations 10 --every 3 --crash-after 8 --kiln-checkpoint-dir="$work/kr" \
    "$in" "$work/kr.d"
expect_rc kiln_run 0
expect_log kiln_run "crashing after iteration 8" "relaunching with --kiln-resume" \
    "iter: resuming after iteration 6" "attempt 2 succeeded"
same_output kiln_run "$work/kr.d" "$work/ref"
expect_kept kiln_run "$work/kr" 6 9

ckpt_finish
