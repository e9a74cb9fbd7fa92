#!/bin/sh
# expect_fail.sh [-e TEXT] [-a PATH] -- COMMAND [ARG...]
#
# Run under mpirun: every rank runs COMMAND once (an MPI program) and this
# script succeeds on that rank only if COMMAND exits with a non-zero status
# (without hanging: ctest's timeout covers that). On rank 0, COMMAND's
# stderr must also contain TEXT (Kiln reports errors on the master), and
# PATH must not exist afterwards. "@JOB@" in TEXT, PATH and the arguments is
# replaced by an id unique to this mpirun job, so that the np1/np2/np4
# variants can run at the same time.
set -u
rank=${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-${PMI_RANK:-0}}}
size=${OMPI_COMM_WORLD_SIZE:-${PMI_SIZE:-1}}
job=${PMIX_NAMESPACE:-${OMPI_MCA_ess_base_jobid:-np$size}}
text= absent=
while [ $# -gt 0 ]; do
    case $1 in
    -e) text=$2; shift 2 ;;
    -a) absent=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "expect_fail.sh: bad argument $1" >&2; exit 2 ;;
    esac
done
sub() { printf '%s' "$1" | sed "s|@JOB@|$job|g"; }
text=$(sub "$text")
absent=$(sub "$absent")
n=$#
while [ "$n" -gt 0 ]; do # rewrite the arguments in place
    a=$(sub "$1")
    shift
    set -- "$@" "$a"
    n=$((n - 1))
done

err=$(mktemp "${TMPDIR:-/tmp}/kiln-expect-fail.XXXXXX") || exit 1
trap 'rm -f "$err"' EXIT
# A hang ends here, on every rank, before ctest's timeout (90 s or more);
# timeout's own status (124) is not a failure of the command under test.
limit=
command -v timeout > /dev/null && limit="timeout ${KILN_TEST_WATCHDOG:-75}"
$limit "$@" > /dev/null 2> "$err"
rc=$?
if [ "$rc" = 0 ]; then
    echo "RANK $rank: FAIL: '$*' exited 0; a failure was expected" >&2
    exit 1
fi
if [ "$rc" = 124 ] && [ -n "$limit" ]; then
    echo "RANK $rank: FAIL: '$*' did not finish (a hang?)" >&2
    exit 1
fi
if [ "$rank" = 0 ] && [ -n "$text" ] && ! grep -qF -- "$text" "$err"; then
    echo "RANK $rank: FAIL: the error output does not mention '$text':" >&2
    cat "$err" >&2
    exit 1
fi
if [ "$rank" = 0 ] && [ -n "$absent" ] && [ -e "$absent" ]; then
    echo "RANK $rank: FAIL: '$absent' exists after the failed run" >&2
    exit 1
fi
[ "$rank" != 0 ] || echo "expected failure at $size ranks (status $rc): $(head -1 "$err")"
exit 0
