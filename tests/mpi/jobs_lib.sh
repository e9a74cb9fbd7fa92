# tests/mpi/jobs_lib.sh: jobs started by a driver script rather than run
# under mpirun (test_sort_apps.sh, test_ml_apps.sh: each check is a
# sequence of jobs). Every rank of a job writes its own exit status, and the
# ranks must agree: an error has to stop every rank, not just the master.
# POSIX sh has no local variables: the helpers' own names start with run_
# or expect_.
#
# The caller sets: work (a directory), launcher (mpiexec and its flags,
# without the rank count), limit (a timeout command, or empty) and
# fail_what (what a failure message names). It gets failures, fail, show,
# run_at and expect_at.
failures=0

fail() {
    echo "FAIL [$fail_what]: $*" >&2
    failures=$((failures + 1))
}

# show DIR: a run's output (master first) under a failure message.
show() {
    for f in "$1"/err.* "$1"/out.*; do
        [ -s "$f" ] && sed "s|^|  ${f##*/}: |" "$f" | head -15 >&2
    done
}

# run_at NP NAME PROGRAM ARG...: one job at NP ranks. Afterwards $rc is the
# exit status every rank agreed on (or 99 if they did not, after a failure
# message), $out and $err the master's stdout and stderr.
run_at() {
    run_np=$1 run_name=$2
    shift 2
    run_dir=$work/run-$run_name
    rm -rf "$run_dir"
    mkdir -p "$run_dir"
    # shellcheck disable=SC2016,SC2086 # expanded by the rank's shell; the
    # launcher's words split on purpose (its path has no spaces)
    $limit $launcher -n "$run_np" sh -c '
        r=${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-${PMI_RANK:-0}}}
        d=$1; shift
        "$@" > "$d/out.$r" 2> "$d/err.$r"
        echo $? > "$d/rc.$r"' sh "$run_dir" "$@" > "$run_dir/launcher" 2>&1
    launched=$?
    out=$run_dir/out.0 err=$run_dir/err.0
    rc=$(cat "$run_dir/rc.0" 2> /dev/null || echo none)
    run_all= run_same=yes run_r=0
    while [ "$run_r" -lt "$run_np" ]; do
        run_got=$(cat "$run_dir/rc.$run_r" 2> /dev/null || echo none)
        run_all="$run_all $run_r:$run_got"
        [ "$run_got" = "$rc" ] || run_same=no
        run_r=$((run_r + 1))
    done
    if [ $run_same = no ]; then
        fail "$run_name: the ranks disagree; rank:status is$run_all (none:" \
             "killed or hung; launcher status $launched, 124 is a hang)"
        show "$run_dir"
        cat "$run_dir/launcher" >&2
        rc=99
        return
    fi
    if [ "$rc" = none ]; then
        fail "$run_name: no rank finished (launcher status $launched; 124 is a hang)"
        cat "$run_dir/launcher" >&2
        rc=99
    fi
}

# expect_at STATUS NP NAME PROGRAM ARG...: run_at, and fail unless every
# rank exited with STATUS. Returns 0 when it did.
expect_at() {
    expect_rc=$1
    shift
    run_at "$@"
    [ "$rc" = 99 ] && return 1
    if [ "$rc" != "$expect_rc" ]; then
        fail "$2: exit status $rc, expected $expect_rc"
        show "$work/run-$2"
        return 1
    fi
    return 0
}
