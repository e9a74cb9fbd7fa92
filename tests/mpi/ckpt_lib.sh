# ckpt_lib.sh: what the checkpoint drivers (test_checkpoint_*.sh) share.
# Sourced, not run. The drivers are not started by mpirun: each check is a
# sequence of jobs (run, crash, damage, resume), and an MPI process can be
# started only once per rank, so they run the launcher once per job.
#
# A driver calls ckpt_setup NAME "$@" with its arguments
#
#   MPIEXEC CKPT_JOB KILN_RUN BASEDIR [EXTRA...]
#
# and gets: $work, a fresh temporary directory under BASEDIR holding every
# input, output, log and checkpoint of the test (removed at exit unless
# KILN_TEST_KEEP is set); $job, $mpiexec, $kiln_run; $extra, the rest.
# Each job runs under a watchdog (KILN_TEST_WATCHDOG seconds, default 45),
# so a hang is a failure, not a stuck ctest; the first hang ends the driver
# (what follows builds on that run), so a driver takes at most one
# watchdog period longer than usual.
#
# Logs: KILN_QUIET is unset, since the checks read the informational lines
# ("loaded ... instead of recomputing", "not used: ...").

set -u
export LC_ALL=C OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
unset KILN_QUIET KILN_RESUME KILN_CHECKPOINT KILN_CHECKPOINT_DIR KILN_FAIL_AT
unset KILN_CHECKPOINT_COMPRESS KILN_LOG_LEVEL

ckpt_failures=0
ckpt_name=checkpoint
ckpt_limit=${KILN_TEST_WATCHDOG:-45}

ckpt_setup() {
    ckpt_name=$1
    shift
    if [ $# -lt 4 ]; then
        echo "usage: test_checkpoint_$ckpt_name.sh MPIEXEC CKPT_JOB KILN_RUN BASEDIR [EXTRA...]" >&2
        exit 2
    fi
    mpiexec=$1 job=$2 kiln_run=$3
    mkdir -p "$4" || exit 1
    work=$(mktemp -d "$4/ckpt-$ckpt_name.XXXXXX") || exit 1
    shift 4
    # shellcheck disable=SC2034 # for the driver that sources this file
    extra=$*
    trap ckpt_cleanup EXIT
    trap 'exit 130' INT TERM
    for exe in "$job" "$kiln_run"; do
        [ -x "$exe" ] || { echo "test_checkpoint_$ckpt_name: $exe is missing" >&2; exit 1; }
    done
    ckpt_started=$(date +%s)
}

ckpt_cleanup() {
    # Anything still running in the background was started by this driver.
    if [ -n "${bg_pid:-}" ] && kill -0 "$bg_pid" 2> /dev/null; then
        kill -KILL "$bg_pid" 2> /dev/null
    fi
    if [ -n "${KILN_TEST_KEEP:-}" ]; then
        echo "kept $work"
    else
        rm -rf "$work"
    fi
}

fail() {
    echo "FAIL [checkpoint $ckpt_name]: $*" >&2
    ckpt_failures=$((ckpt_failures + 1))
}

# show NAME: the last lines of a run's log under a failure.
show() {
    [ -s "$work/$1.log" ] && sed "s|^|  $1: |" "$work/$1.log" | tail -25 >&2
}

# The finishing line: the status for ctest.
ckpt_finish() {
    if [ "$ckpt_failures" -gt 0 ]; then
        echo "checkpoint $ckpt_name: $ckpt_failures check(s) failed" >&2
        exit 1
    fi
    echo "checkpoint $ckpt_name: all checks passed in $(($(date +%s) - ckpt_started)) s"
    exit 0
}

# gen_input FILE SEED LINES: deterministic text, a few hundred distinct
# words with 26 initial letters. The LCG stays below 2^53, so awk's
# doubles compute it exactly.
gen_input() {
    awk -v seed="$2" -v lines="$3" 'BEGIN {
        x = seed
        for (l = 0; l < lines; l++) {
            x = (x * 69069 + 1) % 4294967296
            n = int(x / 65536) % 13
            line = ""
            for (i = 0; i < n; i++) {
                x = (x * 69069 + 1) % 4294967296
                w = int(x / 65536) % 700
                line = line sprintf("%c%s%d%s", 97 + w % 26, "w", w,
                                    i + 1 < n ? " " : "")
            }
            print line
        }
    }' > "$1"
}

# run NAME NP ARG...: one job (CKPT_JOB ARG...) at NP ranks; its stderr
# (Kiln's log, mpirun's and kiln-run's messages) in $work/NAME.log, its
# stdout in $work/NAME.out, its status in $rc. A hang is killed by the
# watchdog and reported (status 124).
run() {
    run_name=$1 run_np=$2
    shift 2
    runcmd "$run_name" "$mpiexec" -n "$run_np" --oversubscribe "$job" "$@"
}

# runcmd NAME COMMAND...: as run, for any command (kiln-run, wordcount).
runcmd() {
    run_name=$1
    shift
    timeout -k 5 "$ckpt_limit" "$@" > "$work/$run_name.out" 2> "$work/$run_name.log"
    rc=$?
    if [ "$rc" = 124 ]; then
        fail "$run_name: did not finish within $ckpt_limit s (a hang?)"
        show "$run_name"
        ckpt_finish  # later checks build on this run: stop, and stay in time
    fi
}

# expect_rc NAME WANT: the last run's status must be WANT ("nonzero": any
# failure).
expect_rc() {
    case $2 in
    nonzero) [ "$rc" != 0 ] && return 0 ;;
    *) [ "$rc" = "$2" ] && return 0 ;;
    esac
    fail "$1: exit status $rc, expected $2"
    show "$1"
    return 1
}

# expect_log NAME TEXT...: the log of run NAME contains every TEXT (fixed
# strings). expect_no_log NAME TEXT: it does not.
expect_log() {
    el_name=$1
    shift
    for el_text in "$@"; do
        if ! grep -qF -- "$el_text" "$work/$el_name.log"; then
            fail "$el_name: the log does not say '$el_text'"
            show "$el_name"
        fi
    done
}

expect_no_log() {
    if grep -qF -- "$2" "$work/$1.log"; then
        fail "$1: the log says '$2' but should not:"
        grep -F -- "$2" "$work/$1.log" | head -5 | sed 's/^/  /' >&2
    fi
}

# count_log NAME TEXT: how many lines of the log contain TEXT.
count_log() {
    grep -cF -- "$2" "$work/$1.log"
}

# output_of DIR FILE: the part files of a save_text output, concatenated
# in partition order, into FILE. Fails unless DIR is a whole output.
output_of() {
    if [ ! -e "$1/_SUCCESS" ]; then
        fail "no _SUCCESS in $1: the output is missing or incomplete"
        : > "$2"
        return 1
    fi
    cat "$1"/part-* > "$2"
}

# same_output NAME DIR REFERENCE: DIR's records are REFERENCE's, byte for
# byte (the job's output is sorted, so this holds across rank counts).
same_output() {
    output_of "$2" "$work/$1.got" || return 1
    if ! cmp -s "$work/$1.got" "$3"; then
        fail "$1: the output differs from the uninterrupted run's" \
             "($(wc -l < "$work/$1.got") vs $(wc -l < "$3") lines)"
        diff "$work/$1.got" "$3" | head -6 | sed 's/^/  /' >&2
        return 1
    fi
    return 0
}

# flip FILE OFFSET: invert the lowest bit of the byte at OFFSET.
flip() {
    flip_b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    [ -n "$flip_b" ] || { fail "flip: no byte at $2 in $1"; return 1; }
    # shellcheck disable=SC2059 # the octal escape is the point
    printf "\\$(printf %o $((flip_b ^ 1)))" |
        dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# find_bytes FILE HEX...: the offset of the first occurrence of the bytes
# (two hex digits each) in FILE, or nothing. For small files: od and awk.
find_bytes() {
    fb_file=$1
    shift
    od -An -v -tx1 "$fb_file" | tr -s ' ' '\n' | sed '/^$/d' |
        awk -v want="$*" 'BEGIN { n = split(want, w, " ") }
            { b[NR - 1] = $1 }
            END {
                for (i = 0; i + n <= NR; i++) {
                    for (k = 1; k <= n && b[i + k - 1] == w[k]; k++)
                        ;
                    if (k > n) { print i; exit }
                }
            }'
}

# data_file DIR NAME: the committed data file of checkpoint NAME in DIR,
# as its manifest names it ("" when there is none).
data_file() {
    df_file=$(sed -n 's/^file //p' "$1/$2.manifest" 2> /dev/null)
    [ -n "$df_file" ] && echo "$1/$df_file"
}

# ---- a job in the background, for signals ----

# bg_start NAME COMMAND...: start COMMAND in the background, its output in
# $work/NAME.log; $bg_pid is its process id (COMMAND itself: no wrapper,
# so that signals sent to $bg_pid reach it).
bg_start() {
    bg_name=$1
    shift
    "$@" > "$work/$bg_name.log" 2>&1 &
    bg_pid=$!
    bg_deadline=$(($(date +%s) + ckpt_limit))
}

# bg_wait_file FILE: wait until FILE exists (true) or the background job
# ended or the watchdog ran out (false).
bg_wait_file() {
    while [ ! -s "$1" ]; do
        if ! kill -0 "$bg_pid" 2> /dev/null || [ "$(date +%s)" -ge "$bg_deadline" ]; then
            [ -s "$1" ]
            return
        fi
        sleep 0.05
    done
    return 0
}

# bg_await_log TEXT SECONDS: wait until the background job's log contains
# TEXT (true), or SECONDS pass (false).
bg_await_log() {
    bal_end=$(($(date +%s) + $2))
    until grep -qF -- "$1" "$work/$bg_name.log"; do
        [ "$(date +%s)" -lt "$bal_end" ] || return 1
        sleep 0.05
    done
    return 0
}

# bg_wait: wait for the background job; $rc is its status (124 if the
# watchdog had to kill it).
bg_wait() {
    while kill -0 "$bg_pid" 2> /dev/null && [ "$(date +%s)" -lt "$bg_deadline" ]; do
        sleep 0.1
    done
    if kill -0 "$bg_pid" 2> /dev/null; then
        kill -TERM "$bg_pid" 2> /dev/null
        sleep 3
        kill -KILL "$bg_pid" 2> /dev/null
        wait "$bg_pid" 2> /dev/null
        rc=124
        fail "$bg_name: did not finish within $ckpt_limit s (a hang?)"
        show "$bg_name"
        bg_pid=
        ckpt_finish
    else
        wait "$bg_pid"
        rc=$?
    fi
    bg_pid=
}
