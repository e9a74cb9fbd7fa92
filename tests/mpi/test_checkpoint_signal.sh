#!/bin/sh
# test_checkpoint_signal.sh MPIEXEC CKPT_JOB KILN_RUN BASEDIR
#
# SIGUSR1 and SIGTERM (what Slurm sends ahead of a time limit with
# --signal). ckpt_job --live marks counts (node-2), firsts (node-3, narrow)
# and totals (node-4) as live and computes totals in a first action; its second action's join stage
# then runs a map that waits (--hold) for a file the test creates. So the
# test knows a stage is in progress when it signals: it waits for the
# --started marker, sends the signal, then releases the stage. The job must
# finish that stage, checkpoint the live datasets, and exit with 75
# (KILN_EXIT_RESUBMIT) on every rank without writing its output; a rerun
# with --kiln-resume must load the checkpoints it needs, counts and totals
# ("loaded ... instead of recomputing"; firsts lies below totals and is
# not needed), and give the uninterrupted run's output byte for byte.
#
#   usr1      SIGUSR1 to mpirun (Open MPI forwards it to every rank), 2 ranks
#   term      SIGTERM to one rank only (the others learn of it at the end of
#             the stage), 4 ranks, with --kiln-checkpoint=stages too;
#             resumed on 2
#   kiln_run  SIGUSR1 to the job kiln-run started: it relaunches on 75
#   nosignals --kiln-signals=no: SIGUSR1 just kills, nothing is written
# shellcheck source=ckpt_lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/ckpt_lib.sh"
ckpt_setup signal "$@"

in=$work/in.txt
gen_input "$in" 5 5000
split=--kiln-split-bytes=16K
# Small batches: the held stage has several batches on every rank.
batches=--kiln-batch-records=100

run ref 2 $split "$in" "$work/ref.d"
expect_rc ref 0 && output_of "$work/ref.d" "$work/ref"
[ -s "$work/ref" ] || fail "the reference output is empty"

# forwarded: after SIGUSR1 to mpirun, give it time to pass the signal on
# before the held stage is released. Open MPI says when it does; other
# launchers get a few seconds.
forwarded() {
    bg_await_log "Forwarding signal" 5 || sleep 2
    sleep 0.2
}

# signalled NAME DIR: the checks after a job was signalled and exited 75.
signalled() {
    expect_rc "$1" 75 || return
    expect_log "$1" "signal received: stage finished; checkpointing live datasets, then exiting with 75" \
        "checkpoint node-2: 6 partitions" "checkpoint node-3: 6 partitions" \
        "checkpoint node-4: 6 partitions"
    grep -q "shuffled>map>join: 6 tasks" "$work/$1.log" ||
        fail "$1: the stage in progress (the join's map) did not finish"
    [ ! -e "$2" ] || fail "$1: the signalled job wrote its output $2"
    for n in 2 3 4; do
        [ -n "$(data_file "$work/$1.ck" node-$n)" ] ||
            fail "$1: live dataset node-$n has no committed checkpoint"
    done
}

# resumed NAME NP CKDIR OUT: rerun with --kiln-resume; both live datasets
# are loaded, nothing below them is computed, the output is the reference.
resumed() {
    run "$1" "$2" $split $batches --live --kiln-resume --kiln-checkpoint-dir="$3" "$in" "$4"
    expect_rc "$1" 0 || return
    expect_log "$1" "checkpoint node-4: loaded 6 partitions" \
        "checkpoint node-2: loaded 6 partitions" "instead of recomputing them"
    expect_no_log "$1" "text_file"
    expect_no_log "$1" "not used"
    same_output "$1" "$4" "$work/ref"
}

# ---- SIGUSR1 to mpirun, 2 ranks ----
bg_start usr1 "$mpiexec" -n 2 --oversubscribe "$job" $split $batches --live \
    --started "$work/usr1.started" --hold "$work/usr1.go" \
    --kiln-checkpoint-dir="$work/usr1.ck" "$in" "$work/usr1.d"
if bg_wait_file "$work/usr1.started"; then
    kill -USR1 "$bg_pid"
    forwarded
    : > "$work/usr1.go"
else
    fail "usr1: the held stage never started"
fi
bg_wait
signalled usr1 "$work/usr1.d"
resumed usr1_resume 2 "$work/usr1.ck" "$work/usr1.d"

# ---- SIGTERM to one rank of 4 (its process id is in the marker) ----
# With --kiln-checkpoint=stages as well: counts and totals were committed
# by this job already, and the signal writes them again. The rewrite must
# go to a new data file, never into the committed one.
bg_start term "$mpiexec" -n 4 --oversubscribe "$job" $split $batches --live \
    --kiln-checkpoint=stages --started "$work/term.started" --hold "$work/term.go" \
    --kiln-checkpoint-dir="$work/term.ck" "$in" "$work/term.d"
if bg_wait_file "$work/term.started"; then
    kill -TERM "$(cat "$work/term.started")"
    : > "$work/term.go"
else
    fail "term: the held stage never started"
fi
bg_wait
signalled term "$work/term.d"
for n in 2 4; do
    [ "$(count_log term "checkpoint node-$n: 6 partitions")" = 2 ] ||
        fail "term: node-$n was not written twice (after its shuffle, on the signal)"
    ls "$work/term.ck"/node-$n.*.h5 > "$work/term.files" 2> /dev/null
    [ "$(wc -l < "$work/term.files")" = 1 ] ||
        fail "term: node-$n has $(wc -l < "$work/term.files") data files"
    case $(data_file "$work/term.ck" node-$n) in
    *-1.h5) ;;
    *) fail "term: node-$n was rewritten into its committed file" ;;
    esac
done
resumed term_resume 2 "$work/term.ck" "$work/term.d"

# ---- under kiln-run: SIGUSR1 to its job, which exits 75 and is relaunched ----
bg_start kiln_run "$kiln_run" -- "$mpiexec" -n 2 --oversubscribe "$job" $split $batches \
    --live --started "$work/kr.started" --hold "$work/kr.go" \
    --kiln-checkpoint-dir="$work/kr.ck" "$in" "$work/kr.d"
if bg_wait_file "$work/kr.started"; then
    launcher=$(pgrep -P "$bg_pid" | head -1)
    if [ -n "$launcher" ]; then
        kill -USR1 "$launcher"
        forwarded
    else
        fail "kiln_run: no launcher process under kiln-run"
    fi
    : > "$work/kr.go"
else
    fail "kiln_run: the held stage never started"
fi
bg_wait
expect_rc kiln_run 0
expect_log kiln_run "signal received: stage finished" \
    "attempt 1 ended: the job checkpointed and asked to be resubmitted; relaunching with --kiln-resume" \
    "checkpoint node-4: loaded 6 partitions" "checkpoint node-2: loaded 6 partitions" \
    "attempt 2 succeeded"
same_output kiln_run "$work/kr.d" "$work/ref"

# ---- --kiln-signals=no: the signal's default action, no checkpoint ----
bg_start nosignals "$mpiexec" -n 2 --oversubscribe "$job" $split $batches --live \
    --kiln-signals=no --started "$work/ns.started" --hold "$work/ns.go" \
    --kiln-checkpoint-dir="$work/ns.ck" "$in" "$work/ns.d"
if bg_wait_file "$work/ns.started"; then
    kill -USR1 "$bg_pid"
    forwarded
    : > "$work/ns.go"
else
    fail "nosignals: the held stage never started"
fi
bg_wait
[ "$rc" != 0 ] && [ "$rc" != 75 ] ||
    fail "nosignals: exit status $rc; with --kiln-signals=no SIGUSR1 must simply kill"
expect_no_log nosignals "signal received"
[ ! -e "$work/ns.ck/node-2.manifest" ] ||
    fail "nosignals: a checkpoint was written although signals were off"

ckpt_finish
