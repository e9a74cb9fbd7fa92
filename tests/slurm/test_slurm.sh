#!/usr/bin/env bash
# tests/slurm/test_slurm.sh: Kiln jobs on a real Slurm cluster, submitted
# with hpc/kiln-submit. The test brings up a one-node cluster from Debian's
# packages on this machine (cluster.sh: munged, slurmctld and slurmd, as
# root, everything under a temporary directory) and shuts it down at the
# end, whatever happens. Then:
#
#   0. every hpc/templates/*.sbatch parses (bash -n, sbatch --test-only).
#   1. kiln-wordcount on 2 tasks, submitted twice (--launcher auto, which
#      must pick srun with PMIx here, and --launcher mpirun); both outputs
#      must equal a direct `mpirun -n 2` run's.
#   2. slurm_job (slurm_job.c: a chain of slow shuffles) on 2 tasks with a
#      one-minute time limit, four times: warned 20 s ahead through srun,
#      through mpirun, and through hpc/templates/mpirun.sbatch; and once
#      with no warning, killed (SIGTERM) at the limit, through srun. Slurm
#      sends the warning 10 to 40 s after the start (it looks every 30 s,
#      and may send it up to 30 s early) and kills at 60 to 90 s; each job
#      outlasts that. So each is signalled mid-run, checkpoints, exits 75,
#      and its batch script requeues it; the requeued run resumes with
#      --kiln-resume. The test asserts that each job really was signalled
#      (the batch script and Kiln both say so), ran twice (Restarts=1),
#      resumed from checkpoints without redoing the finished steps, and
#      wrote exactly what an uninterrupted run writes.
#
# usage: test_slurm.sh KILN_SUBMIT WORDCOUNT SLURM_JOB MPIEXEC
# Needs root (to start the daemons) and the Debian packages munge,
# slurmctld, slurmd and slurm-client (hpc/setup installs them); without
# them it fails and says why. KILN_TEST_KEEP=1 keeps the temporary
# directory (daemon logs, job logs, outputs). The whole test stops itself
# after KILN_SLURM_TEST_BUDGET seconds (default 240), well within ctest's
# TIMEOUT, so that the cleanup always runs.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=cluster.sh
. "$here/cluster.sh"

if [ $# -ne 4 ]; then
    echo "usage: test_slurm.sh KILN_SUBMIT WORDCOUNT SLURM_JOB MPIEXEC" >&2
    exit 2
fi
# absolute PATH: the test works in a directory of its own.
absolute() {
    case $1 in
    /*) printf '%s\n' "$1" ;;
    */*) printf '%s/%s\n' "$(cd "$(dirname "$1")" && pwd)" "$(basename "$1")" ;;
    *) printf '%s\n' "$1" ;; # a command on PATH
    esac
}
submit=$(absolute "$1") wordcount=$(absolute "$2") job=$(absolute "$3")
mpiexec=$(absolute "$4")
budget=${KILN_SLURM_TEST_BUDGET:-240}

export LC_ALL=C OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# The checks read Kiln's informational lines; the jobs inherit this
# environment through sbatch, so no stray KILN_* setting may leak in.
unset KILN_QUIET KILN_RESUME KILN_CHECKPOINT KILN_CHECKPOINT_DIR KILN_FAIL_AT \
    KILN_SIGNALS KILN_LOG_LEVEL KILN_PROGRESS

failures=0
fail() {
    echo "FAIL [slurm]: $*" >&2
    failures=$((failures + 1))
}
step() { printf '\n== [%3d s] %s\n' "$SECONDS" "$*"; }

top=$(mktemp -d "${TMPDIR:-/tmp}/kiln-slurm.XXXXXX") || exit 1
chmod 711 "$top"
cleanup() {
    local rc=$?
    cluster_down
    if [ -n "${KILN_TEST_KEEP:-}" ]; then
        echo "kept $top"
    else
        rm -rf "$top"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "test_slurm: interrupted" >&2; exit 130' INT TERM

for exe in "$submit" "$wordcount" "$job"; do
    [ -x "$exe" ] || { echo "test_slurm: $exe is missing" >&2; exit 1; }
done

# The jobs' working directory: a space and a $ in every path they get.
work="$top/jobs \$dir"
mkdir -p "$work"
cd "$work" || exit 1

# ---- helpers ----

# submit NAME KILN-SUBMIT-ARGS...: submit, print the job id. The marker
# lets cluster_down find every process of the job.
submit() {
    local name=$1 id
    shift
    id=$(KILN_SLURM_TEST_DIR=$cluster_dir "$submit" -J "$name" "$@") || return 1
    printf '%s\n' "$id"
}

# field ID NAME: a field of `scontrol show job` (JobState, Restarts, ...).
field() {
    scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}

finished() {
    case $(field "$1" JobState) in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | \
        BOOT_FAIL | DEADLINE | PREEMPTED) return 0 ;;
    esac
    return 1
}

# wait_jobs SECONDS ID...: until every job has finished, at most SECONDS
# (and never past the test's budget). Prints each state change.
wait_jobs() {
    local end=$((SECONDS + $1)) id all line last=
    shift
    local ids=()
    for id in "$@"; do # the ids of jobs that were submitted
        [ -z "$id" ] || ids+=("$id")
    done
    [ ${#ids[@]} -gt 0 ] || return 1
    set -- "${ids[@]}"
    [ "$end" -le "$budget" ] || end=$budget
    while :; do
        all=1 line=
        for id in "$@"; do
            line+=" $id:$(field "$id" JobState)/$(field "$id" Restarts)"
            finished "$id" || all=0
        done
        [ "$line" = "$last" ] || printf '   [%3d s] job:state/restarts%s\n' "$SECONDS" "$line"
        last=$line
        [ "$all" = 0 ] || return 0
        if [ "$SECONDS" -ge "$end" ]; then
            fail "jobs$line did not finish in time (stopped at $SECONDS s)"
            for id in "$@"; do
                scontrol show job "$id" | sed 's/^/  /' >&2
            done
            return 1
        fi
        sleep 1
    done
}

logs_shown=""
# show NAME LOG: the log of a job under a failure, once.
show() {
    case " $logs_shown " in *" $1 "*) return ;; esac
    logs_shown+=" $1"
    echo "--- $1: $2" >&2
    sed 's/^/  | /' "$2" | tail -60 >&2
}

# expect_job NAME ID LOG RESTARTS: the job completed with status 0 after
# RESTARTS requeues.
expect_job() {
    local state exit_code restarts
    state=$(field "$2" JobState) exit_code=$(field "$2" ExitCode) restarts=$(field "$2" Restarts)
    if [ "$state" != COMPLETED ] || [ "$exit_code" != 0:0 ]; then
        fail "$1 (job $2): JobState=$state ExitCode=$exit_code, expected COMPLETED 0:0"
        show "$1" "$3"
    fi
    if [ "$restarts" != "$4" ]; then
        fail "$1 (job $2): Restarts=$restarts, expected $4"
        show "$1" "$3"
    fi
}

# expect_log NAME LOG TEXT...: LOG has a line with each TEXT (fixed strings).
expect_log() {
    local name=$1 log=$2 text
    shift 2
    for text in "$@"; do
        if ! grep -qF -- "$text" "$log" 2>/dev/null; then
            fail "$name: the log does not say '$text'"
            show "$name" "$log"
        fi
    done
}

# records DIR: the part files of a save_text output in partition order
# (fails without _SUCCESS: an output is whole or not there).
records() {
    [ -e "$1/_SUCCESS" ] || return 1
    cat "$1"/part-*
}

# same_output NAME DIR REFERENCE [sort]
same_output() {
    local got=$top/$1.got
    if ! records "$2" >"$got"; then
        fail "$1: no complete output in $2"
        return 1
    fi
    [ "${4:-}" != sort ] || sort -o "$got" "$got"
    if ! cmp -s "$got" "$3"; then
        fail "$1: the output differs from the direct run's ($(wc -l <"$got") vs $(wc -l <"$3") lines)"
        diff "$got" "$3" | head -6 | sed 's/^/  /' >&2
        return 1
    fi
    echo "   $1: output identical to the direct run's ($(wc -l <"$got") records)"
}

# ---- the cluster ----

step "starting a one-node Slurm cluster"
cluster_up "$top/cluster" || exit 1
sinfo -N -o '   %N %T %C %m' || true

# ---- 0. the templates: shell syntax, and sbatch accepts their directives ----

step "0. hpc/templates: bash -n and sbatch --test-only"
for t in "$(dirname "$submit")"/templates/*.sbatch; do
    bash -n "$t" || fail "${t##*/}: not valid bash"
    # Sized down to this cluster; the directives are parsed and checked.
    if out=$(sbatch --test-only --nodes=1 --ntasks-per-node=2 --time=5 "$t" 2>&1); then
        echo "   ${t##*/}: ${out#sbatch: }"
    else
        fail "${t##*/}: sbatch --test-only: $out"
    fi
done

# ---- 1. kiln-wordcount: through Slurm (srun, mpirun) and directly ----

step "1. kiln-wordcount on 2 tasks: kiln-submit (auto and mpirun) vs mpirun"
# Deterministic text: 60,000 lines of words drawn from 900 (the LCG stays
# below 2^53, so awk's doubles compute it exactly).
awk 'BEGIN { x = 7
    for (l = 0; l < 60000; l++) {
        x = (x * 69069 + 1) % 4294967296; n = int(x / 65536) % 12; s = ""
        for (i = 0; i < n; i++) {
            x = (x * 69069 + 1) % 4294967296; w = int(x / 65536) % 900
            s = s sprintf("%s%c%dx", i ? " " : "", 97 + w % 26, w)
        }
        print s
    } }' >"$work/words in.txt"
if ! "$mpiexec" -n 2 "$wordcount" --top 5 -o "$work/wc direct" "$work/words in.txt" \
    >"$top/wc-direct.out" 2>"$top/wc-direct.log"; then
    fail "direct mpirun of kiln-wordcount failed"
    show wc-direct "$top/wc-direct.log"
fi
records "$work/wc direct" | sort >"$top/wc-direct.sorted" ||
    fail "the direct kiln-wordcount run wrote no complete output"

declare -A wc_id
for l in auto mpirun; do
    wc_id[$l]=$(submit "wc-$l" --launcher "$l" --ntasks-per-node 2 --time 5 -- \
        "$wordcount" --top 5 -o "$work/wc $l" "$work/words in.txt") ||
        fail "kiln-submit of wordcount ($l) failed"
done
wait_jobs 90 "${wc_id[@]}"
for l in auto mpirun; do
    [ -n "${wc_id[$l]}" ] || continue
    id=${wc_id[$l]} log="$work/wc-$l-${wc_id[$l]}.log"
    expect_job "wc-$l" "$id" "$log" 0
    launcher=$l
    [ "$l" != auto ] || launcher=srun # pmix is there: see srun --mpi=list
    expect_log "wc-$l" "$log" "2 tasks, with $launcher" "job $id: finished"
    same_output "wc-$l" "$work/wc $l" "$top/wc-direct.sorted" sort
    # The top 5 the master printed, too.
    grep -P '^\S+\t\d+$' "$log" >"$top/wc-$l.top" || true
    cmp -s "$top/wc-$l.top" "$top/wc-direct.out" ||
        fail "wc-$l: the printed top 5 differs from the direct run's"
done

# ---- 2. time limits: warned (or killed), checkpointed, requeued, resumed ----

step "2. slurm_job at a one-minute time limit: warned or killed, requeued, resumed"
# references: uninterrupted runs, direct, without sleeping
for n in 12 28; do
    if ! "$mpiexec" -n 2 "$job" --stages "$n" --kiln-checkpoint=stages \
        --kiln-checkpoint-dir="$top/ref$n-ckpt" "$top/ref$n-out" >"$top/ref$n.log" 2>&1; then
        fail "the uninterrupted run of slurm_job --stages $n failed"
        show "reference-$n" "$top/ref$n.log"
    fi
    records "$top/ref$n-out" >"$top/ref$n.records" ||
        fail "the uninterrupted run of slurm_job --stages $n wrote no output"
done

# Four jobs of 2 tasks, two at a time (the partition lets two jobs share
# a CPU). Every first run sleeps 2 s per batch: a rank runs two partitions
# per step, so a step takes 4 s. Requeued runs do not sleep
# (--fast-after-requeue): they finish long before their own warning.
#   hard-srun   no warning: Slurm kills it at the limit (60 to 90 s, as it
#               looks every 30 s) with SIGTERM, which srun's ranks get too;
#               28 steps (112 s) outlast that. The batch script sees
#               Reason=TimeLimit and requeues.
#   slow-srun, slow-mpirun   warned 20 s ahead (10 to 40 s after the
#               start); 12 steps (48 s) outlast that, and the job is gone
#               long before the limit.
#   tpl-mpirun  the same with hpc/templates/mpirun.sbatch (its job line
#               replaced), submitted with sbatch directly.
declare -A sid slog sout sref
submit_slow() {
    local name=$1 n=$2
    shift 2
    sid[$name]=$(submit "$name" --ntasks-per-node 2 --time 1 --requeues 2 "$@" -- \
        "$job" --stages "$n" --slow-ms 2000 --fast-after-requeue \
        --kiln-checkpoint=stages "$work/$name out") ||
        { fail "kiln-submit of $name failed"; return; }
    slog[$name]="$work/$name-${sid[$name]}.log"
    sout[$name]="$work/$name out"
    sref[$name]="$top/ref$n.records"
}
submit_slow hard-srun 28 --launcher srun --signal-lead 0
submit_slow slow-srun 12 --launcher srun --signal-lead 20
submit_slow slow-mpirun 12 --launcher mpirun --signal-lead 20

templates=$(dirname "$submit")/templates
tpl_job=$(printf '%q ' "$job" --stages 12 --slow-ms 2000 --fast-after-requeue \
    --kiln-checkpoint=stages "$work/tpl-mpirun out")
while IFS= read -r line; do
    case $line in
    'job=('*) printf 'job=(%s)\n' "$tpl_job" ;;
    *) printf '%s\n' "$line" ;;
    esac
done <"$templates/mpirun.sbatch" >"$top/tpl-mpirun.sbatch"
grep -q -- '--fast-after-requeue' "$top/tpl-mpirun.sbatch" ||
    fail "mpirun.sbatch has no job=(...) line to replace"
if id=$(KILN_SLURM_TEST_DIR=$cluster_dir sbatch --parsable --job-name=tpl-mpirun \
    --ntasks-per-node=2 --time=1 --signal=B:USR1@20 --chdir="$work" \
    --output="$work/tpl-mpirun-%j.log" "$top/tpl-mpirun.sbatch"); then
    sid[tpl-mpirun]=$id
    slog[tpl-mpirun]="$work/tpl-mpirun-$id.log"
    sout[tpl-mpirun]="$work/tpl-mpirun out"
    sref[tpl-mpirun]="$top/ref12.records"
else
    fail "sbatch of the mpirun.sbatch template failed"
fi
wait_jobs 220 "${sid[@]}"

# done_steps TEXT: how many step stages (map>reduce_by_key) a run did,
# from Kiln's progress lines (one per stage when not on a terminal).
done_steps() {
    grep -cE 'stage [0-9]+/[0-9]+ (cached|shuffled)>map>reduce_by_key' <<<"$1"
}

for name in hard-srun slow-srun slow-mpirun tpl-mpirun; do
    [ -n "${sid[$name]:-}" ] || continue
    id=${sid[$name]} log=${slog[$name]}
    expect_job "$name" "$id" "$log" 1
    expect_log "$name" "$log" \
        "signal received: stage finished; checkpointing live datasets, then exiting with 75" \
        "slurm_job: requeued (SLURM_RESTART_COUNT=1)" "instead of recomputing them"
    case $name in
    tpl-*)
        expect_log "$name" "$log" "checkpointed; requeueing (restart 1)"
        run1=$(sed -n '1,/requeueing/p' "$log") run2=$(sed -n '/requeueing/,$p' "$log")
        ;;
    *)
        launcher=${name#*-}
        expect_log "$name" "$log" "job $id: run 1 on 1 node(s)" \
            "the job checkpointed (exit 75); requeued (restart 1 of at most 2)" \
            "job $id: run 2 on 1 node(s)" "with $launcher, resuming" "job $id: finished"
        run1=$(sed -n '1,/run 2 on/p' "$log") run2=$(sed -n '/run 2 on/,$p' "$log")
        ;;
    esac
    case $name in
    hard-*)
        expect_log "$name" "$log" "DUE TO TIME LIMIT" \
            "SIGTERM: the job was cancelled or reached its time limit"
        ! grep -q 'time limit warning' "$log" || fail "$name: warned, though it asked for no warning"
        what="killed at the time limit"
        ;;
    *)
        if [ "$name" = slow-srun ] || [ "$name" = slow-mpirun ]; then
            expect_log "$name" "$log" "time limit warning (SIGUSR1): passing it on to ${name#*-}"
        fi
        ! grep -q 'DUE TO TIME LIMIT' "$log" ||
            fail "$name: reached its time limit: the warning did not stop it in time"
        what=warned
        ;;
    esac
    # When: the steps done before the signal, and those the requeued run
    # had left to do (fewer than all: it resumed from checkpoints), and
    # (from the batch script's time stamps) how long after the start.
    n=12
    [ "$name" != hard-srun ] || n=28
    done1=$(done_steps "$run1") done2=$(done_steps "$run2")
    t0=$(sed -n 's/^kiln-submit: \(.*\) job [0-9]*: run 1 on.*/\1/p' <<<"$run1")
    t1=$(sed -n 's/^kiln-submit: \(.*\) job [0-9]*: \(time limit warning\|SIGTERM\).*/\1/p' <<<"$run1" | head -1)
    after=
    if [ -n "$t0" ] && [ -n "$t1" ]; then
        after=" $(($(date -d "$t1" +%s) - $(date -d "$t0" +%s))) s after the start,"
    fi
    echo "   $name: $what$after after $done1 of $n steps; the requeued run did $done2"
    if [ "$done1" -ge "$n" ] || [ "$done2" -ge "$n" ] || [ "$done2" -lt 1 ]; then
        fail "$name: not signalled mid-run, or the resumed run redid every step ($done1 steps before, $done2 after)"
        show "$name" "$log"
    fi
    same_output "$name" "${sout[$name]}" "${sref[$name]}"
    # Not a failure of this test: Kiln's signal exit leaves save_text's
    # staging directory of the interrupted action behind.
    for d in "${sout[$name]}".kiln-staging-*; do
        [ ! -e "$d" ] || echo "   note: $name: the interrupted run left ${d##*/} behind"
    done
done

step "stopping the cluster"
if [ "$failures" -gt 0 ]; then
    echo "slurm: $failures check(s) failed in $SECONDS s" >&2
    exit 1
fi
echo "slurm: all checks passed in $SECONDS s"
exit 0
