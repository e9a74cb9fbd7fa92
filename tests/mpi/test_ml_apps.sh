#!/bin/sh
# test_ml_apps.sh MODE BINDIR ML_CHECK WORKDIR [HEART_SCALE] -- LAUNCHER...
#
# The ML apps end to end. Like test_sort_apps.sh this script is not started
# by mpirun: each check is a sequence of jobs (generate, train, predict,
# resume), so it runs LAUNCHER (mpiexec plus its flags, without -n) once per
# job, at 1, 2 and 4 ranks. Every rank of a job writes its exit status, and
# the ranks must agree. ML_CHECK (tests/mpi/ml_check.c) compares model files
# and checks known answers.
#
# MODE: kmeans      k-means|| (and k-means++, first) on generated blobs, CSV
#                   and HDF5: equal at 1, 2, 4 ranks and across formats; the
#                   true centres recovered; the cost never rises; predict;
#                   checkpoint and --kiln-resume on another rank count
#       logreg      heart_scale (LIBSVM; HEART_SCALE, liblinear-tools) and
#                   generated 3-class data: equal at 1, 2, 4 ranks; the
#                   objective of a Newton solve in ml_check to 1e-6; L1
#                   (OWL-QN); --sparse; --test; predict; resume
#       linreg      generated data: equal at 1, 2, 4 ranks; the true
#                   coefficients recovered; a QR solve matched to 1e-9, with
#                   and without --ridge; a singular X^T X; predict
#       naivebayes  a hand-counted example; generated counts (LIBSVM, dense
#                   and sparse); equal at 1, 2, 4 ranks; predict
#       errors      missing and malformed inputs, bad options, --help, a
#                   model of the wrong kind: every rank fails, no hang
set -u
if [ $# -lt 6 ]; then
    echo "usage: test_ml_apps.sh MODE BINDIR ML_CHECK WORKDIR [HEART_SCALE] -- LAUNCHER..." >&2
    exit 2
fi
mode=$1 bin=$2 check=$3 base=$4
shift 4
heart=
if [ "$1" != -- ]; then
    heart=$1
    shift
fi
[ "$1" = -- ] || { echo "test_ml_apps.sh: expected -- before the launcher" >&2; exit 2; }
shift
launcher=$* # split again where used: the launcher's path has no spaces
export LC_ALL=C KILN_QUIET=1
work=$base/ml-apps-$mode
rm -rf "$work"
mkdir -p "$work" || exit 1
# Small splits: text inputs become several partitions, so every rank reads.
split=--kiln-split-bytes=20000
limit=
command -v timeout > /dev/null && limit="timeout ${KILN_TEST_WATCHDOG:-60}"
started=$(date +%s)
fail_what="ml apps $mode"
# shellcheck source=jobs_lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/jobs_lib.sh"

# run NP NAME PROGRAM ARG... and expect STATUS NP NAME PROGRAM ARG...:
# jobs_lib.sh's run_at and expect_at.
run() { run_at "$@"; }
expect() { expect_at "$@"; }

# summary NAME: the master's stdout of a run (the summary line).
summary() {
    cat "$work/run-$1/out.0" 2> /dev/null
}

# checker ARGS...: ml_check on one rank; a failure is reported.
checker() {
    if ! $limit $launcher -n 1 "$check" "$@" > "$work/check.out" 2>&1; then
        fail "ml_check $*:"
        sed 's/^/  /' "$work/check.out" >&2
        return 1
    fi
    return 0
}

# h5py_reads MODEL PYTHON: the model as a user reads it, with h5py (the
# issue promises that), when python3-h5py is installed; PYTHON runs with f
# the open file and asserts. Skipped, and said so, without h5py.
h5py_reads() {
    # Debian's python3-h5py is for /usr/bin/python3, which need not be the
    # first python3 on PATH (pyenv).
    py=
    for cand in python3 /usr/bin/python3; do
        if "$cand" -c 'import h5py' > /dev/null 2>&1; then
            py=$cand
            break
        fi
    done
    if [ -z "$py" ]; then
        echo "test_ml_apps.sh: no h5py (python3-h5py); $1 not read with it"
        return 0
    fi
    "$py" -c "import sys, h5py
f = h5py.File(sys.argv[1], 'r')
$2" "$1" > "$work/h5py.out" 2>&1 || {
        fail "h5py cannot read $1 as expected:"
        sed 's/^/  /' "$work/h5py.out" >&2
    }
}

# same_at_ranks NAME PROGRAM ARG...: train at 1, 2 and 4 ranks with --model
# $work/NAME-npN.h5; the summary lines and the models must be identical.
same_at_ranks() {
    sar=$1
    shift
    for np in 1 2 4; do
        expect 0 "$np" "$sar-np$np" "$@" --model "$work/$sar-np$np.h5" || return 1
    done
    for np in 2 4; do
        [ "$(summary "$sar-np$np")" = "$(summary "$sar-np1")" ] ||
            fail "$sar: $np ranks printed '$(summary "$sar-np$np")'," \
                 "1 rank '$(summary "$sar-np1")'"
        checker same "$work/$sar-np1.h5" "$work/$sar-np$np.h5"
    done
    [ -n "$(summary "$sar-np1")" ] || fail "$sar: no summary line"
    return 0
}

# expect_summary NAME PATTERN: the summary line matches a shell pattern.
expect_summary() {
    # shellcheck disable=SC2254 # the pattern is meant to match
    case $(summary "$1") in
    $2) ;;
    *) fail "$1: printed '$(summary "$1")', expected '$2'" ;;
    esac
}

# same_predictions NAME APP MODEL INPUT... : predict at 1 and 4 ranks; the
# concatenated part files must be equal.
same_predictions() {
    sp=$1 app=$2 mdl=$3
    shift 3
    for np in 1 4; do
        expect 0 "$np" "$sp-np$np" "$bin/$app" predict $split --model "$mdl" \
            -o "$work/$sp-np$np" "$@" || return 1
    done
    cat "$work/$sp-np1"/part-* > "$work/$sp-np1.txt"
    cat "$work/$sp-np4"/part-* > "$work/$sp-np4.txt"
    cmp -s "$work/$sp-np1.txt" "$work/$sp-np4.txt" ||
        fail "$sp: predictions differ between 1 and 4 ranks"
    [ -e "$work/$sp-np1/_SUCCESS" ] || fail "$sp: no _SUCCESS"
}

datagen() {
    dg_name=$1
    shift
    expect 0 2 "$dg_name" "$bin/kiln-datagen" "$@" || {
        echo "FAIL: kiln-datagen failed; nothing else to test" >&2
        exit 1
    }
}

case $mode in
kmeans)
    datagen gen-csv blobs -n 4000 -d 3 -k 4 --noise 0.5 --spread 20 --seed 11 --partitions 6 \
        -o "$work/blobs.csv" --truth "$work/truth.h5"
    datagen gen-h5 blobs -n 4000 -d 3 -k 4 --noise 0.5 --spread 20 --seed 11 --partitions 6 \
        --format hdf5 -o "$work/blobs.h5"
    same_at_ranks km "$bin/kiln-kmeans" $split -k 4 --seed 3 "$work/blobs.csv"
    expect_summary km-np1 "kmeans: k=4 iterations=* cost=*"
    checker truth "$work/km-np1.h5" "$work/truth.h5" 0.05
    checker kmeans-cost "$work/km-np1.h5"
    h5py_reads "$work/km-np1.h5" "
assert f['centres'].shape == (4, 3), f['centres'].shape
assert f.attrs['model'] == 'kmeans' and int(f.attrs['k']) == 4, dict(f.attrs)
assert f.attrs['init'] == 'k-means||' and int(f.attrs['max_iter']) == 20
assert len(f['cost_history']) == int(f.attrs['iterations'])"
    # The same rows from HDF5 (CSV holds %.17g: exact), cut into other
    # partitions: the same initial centres (random choices hash the rows'
    # values, not their places), sums in another order, so equal to 1e-9.
    expect 0 2 km-h5 "$bin/kiln-kmeans" -k 4 --seed 3 --partitions 5 \
        --model "$work/km-h5.h5" "$work/blobs.h5" &&
        checker close "$work/km-np1.h5" "$work/km-h5.h5" 1e-9
    for init in k-means++ first; do
        same_at_ranks "km-$init" "$bin/kiln-kmeans" $split -k 4 --seed 5 \
            --init "$init" "$work/blobs.csv"
        checker kmeans-cost "$work/km-$init-np1.h5"
    done
    checker truth "$work/km-k-means++-np1.h5" "$work/truth.h5" 0.05
    same_predictions km-pred kiln-kmeans "$work/km-np1.h5" "$work/blobs.csv"
    checker lines "$work/km-pred-np1" 4000
    # k and d large enough for the dgemm kernel (apps/ml/kmeans_kernel.h).
    datagen gen-wide blobs -n 3000 -d 8 -k 10 --noise 0.5 --spread 20 --seed 12 \
        --partitions 4 -o "$work/wide.csv" --truth "$work/wide-truth.h5"
    same_at_ranks km-wide "$bin/kiln-kmeans" $split -k 10 --seed 3 "$work/wide.csv"
    # 300 rows per centre, noise 0.5 in 8 dimensions: a fitted centre is
    # about 0.08 from its true one; a wrong clustering would be ~20 off.
    checker truth "$work/km-wide-np1.h5" "$work/wide-truth.h5" 0.25
    checker kmeans-cost "$work/km-wide-np1.h5"
    # Interrupted after 2 of 6 iterations, resumed on another rank count:
    # the uninterrupted model. --tol 0 keeps it iterating.
    km="$bin/kiln-kmeans $split -k 4 --init first --tol 0"
    expect 0 2 km-full $km --max-iter 6 --model "$work/km-full.h5" "$work/blobs.csv"
    expect 0 4 km-part $km --max-iter 2 --checkpoint-every 1 \
        --kiln-checkpoint-dir="$work/ck" --model "$work/km-part.h5" "$work/blobs.csv"
    expect 0 1 km-resume $km --max-iter 6 --checkpoint-every 1 --kiln-resume \
        --kiln-quiet=no --kiln-checkpoint-dir="$work/ck" \
        --model "$work/km-resume.h5" "$work/blobs.csv" &&
        checker same "$work/km-full.h5" "$work/km-resume.h5"
    grep -q "resuming after iteration 2" "$work/run-km-resume/err.0" ||
        fail "km-resume: did not say it resumed after iteration 2"
    ;;
logreg)
    if [ -n "$heart" ] && [ -r "$heart" ]; then
        same_at_ranks lr "$bin/kiln-logreg" --l2 0.01 --tol 1e-12 --max-iter 300 "$heart"
        expect_summary lr-np1 "logreg: iterations=* logloss=0.* accuracy=0.8*"
        checker logreg-serial "$work/lr-np1.h5" "$heart" 0.01
        # No penalty at all, and L1 through OWL-QN (no reference: equality).
        same_at_ranks lr0 "$bin/kiln-logreg" --tol 1e-12 --max-iter 300 "$heart"
        checker logreg-serial "$work/lr0-np1.h5" "$heart" 0
        same_at_ranks lr1 "$bin/kiln-logreg" --l1 0.05 --max-iter 200 "$heart"
        # Sparse rows: the same optimum, summed in another order.
        expect 0 2 lr-sparse "$bin/kiln-logreg" --sparse --l2 0.01 --tol 1e-12 \
            --max-iter 300 --model "$work/lr-sparse.h5" "$heart" &&
            checker close "$work/lr-np1.h5" "$work/lr-sparse.h5" 1e-6
        # --test on the training file reports the training figures again.
        expect 0 2 lr-test "$bin/kiln-logreg" --l2 0.01 --max-iter 20 \
            --test "$heart" --model "$work/lr-test.h5" "$heart"
        line=$(summary lr-test)
        train=$(echo "$line" | sed 's/.* logloss=\([^ ]*\) accuracy=\([^ ]*\) .*/\1 \2/')
        test_=$(echo "$line" | sed 's/.*test_logloss=\([^ ]*\) test_accuracy=\([^ ]*\)$/\1 \2/')
        [ "$train" = "$test_" ] || fail "lr-test: '$line'"
        same_predictions lr-pred kiln-logreg "$work/lr-np1.h5" "$heart"
        checker lines "$work/lr-pred-np1" 270
        # Resume: 3 iterations, then on to 8 on another rank count.
        lr="$bin/kiln-logreg --l2 0.01 --tol 0"
        expect 0 2 lr-full $lr --max-iter 8 --model "$work/lr-full.h5" "$heart"
        expect 0 4 lr-part $lr --max-iter 3 --checkpoint-every 1 \
            --kiln-checkpoint-dir="$work/ck" --model "$work/lr-part.h5" "$heart"
        expect 0 1 lr-resume $lr --max-iter 8 --checkpoint-every 2 --kiln-resume \
            --kiln-quiet=no --kiln-checkpoint-dir="$work/ck" \
            --model "$work/lr-resume.h5" "$heart" &&
            checker same "$work/lr-full.h5" "$work/lr-resume.h5"
        grep -q "resuming after iteration 3" "$work/run-lr-resume/err.0" ||
            fail "lr-resume: did not say it resumed after iteration 3"
    else
        echo "test_ml_apps.sh: no heart_scale (liblinear-tools); LIBSVM cases skipped"
    fi
    # Three classes: multinomial.
    datagen gen-3 classification -n 900 -d 4 -k 3 --seed 5 -o "$work/three.csv"
    same_at_ranks lr3 "$bin/kiln-logreg" $split --l2 0.001 --tol 1e-12 \
        --max-iter 500 "$work/three.csv"
    expect_summary lr3-np1 "logreg: iterations=* logloss=0.* accuracy=0.*"
    checker logreg-serial "$work/lr3-np1.h5" "$work/three.csv" 0.001
    h5py_reads "$work/lr3-np1.h5" "
assert f['weights'].shape == (3, 4) and f['intercepts'].shape == (3,)
assert len(f['classes']) == 3, f['classes'][:]
assert f.attrs['model'] == 'logreg' and f.attrs['family'] == 'multinomial'
assert float(f.attrs['l2']) == 0.001, f.attrs['l2']"
    # Many rows from the logistic model itself: close to the true weights.
    datagen gen-2 classification -n 20000 -d 3 --seed 9 --format hdf5 \
        -o "$work/two.h5" --truth "$work/two-truth.h5"
    expect 0 2 lr2 "$bin/kiln-logreg" --model "$work/lr2.h5" "$work/two.h5" &&
        checker truth "$work/lr2.h5" "$work/two-truth.h5" 0.1
    same_predictions lr3-pred kiln-logreg "$work/lr3-np1.h5" "$work/three.csv"
    ;;
linreg)
    datagen gen-reg regression -n 3000 -d 5 --noise 0.01 --seed 4 -o "$work/reg.csv" \
        --truth "$work/truth.h5"
    same_at_ranks lin "$bin/kiln-linreg" $split "$work/reg.csv"
    expect_summary lin-np1 "linreg: rmse=0.0* r2=0.9999*"
    checker truth "$work/lin-np1.h5" "$work/truth.h5" 0.002
    checker linreg-dense "$work/lin-np1.h5" "$work/reg.csv" 0
    # A small case with a wide spread of values, plain and with --ridge.
    datagen gen-small regression -n 40 -d 4 --noise 2 --seed 8 -o "$work/small.csv"
    same_at_ranks lin-small "$bin/kiln-linreg" "$work/small.csv"
    checker linreg-dense "$work/lin-small-np1.h5" "$work/small.csv" 0
    same_at_ranks lin-ridge "$bin/kiln-linreg" --ridge 3.5 "$work/small.csv"
    checker linreg-dense "$work/lin-ridge-np1.h5" "$work/small.csv" 3.5
    # Column 2 is twice column 1: X^T X is singular; still a fit.
    printf '1,2,3,10\n2,4,1,11\n3,6,2,15\n4,8,5,21\n5,10,4,22\n' > "$work/sing.csv"
    expect 0 2 lin-sing "$bin/kiln-linreg" --model "$work/lin-sing.h5" \
        "$work/sing.csv"
    expect_summary lin-sing "linreg: rmse=* r2=0.9*"
    same_predictions lin-pred kiln-linreg "$work/lin-np1.h5" "$work/reg.csv"
    checker lines "$work/lin-pred-np1" 3000
    ;;
naivebayes)
    # Counted by hand in ml_check.c (nb-hand): the last row is misclassified.
    printf 'f1,f2,f3,label\n2,1,0,0\n1,0,1,0\n0,3,1,1\n0,1,2,1\n1,0,0,1\n' \
        > "$work/hand.csv"
    same_at_ranks nb-hand "$bin/kiln-naivebayes" "$work/hand.csv"
    expect_summary nb-hand-np1 "naivebayes: classes=2 accuracy=0.8"
    checker nb-hand "$work/nb-hand-np1.h5" 1
    expect 0 2 nb-hand-a "$bin/kiln-naivebayes" --alpha 0.5 \
        --model "$work/nb-hand-a.h5" "$work/hand.csv" &&
        checker nb-hand "$work/nb-hand-a.h5" 0.5
    datagen gen-counts counts -n 3000 -d 40 -k 3 --seed 2 --format libsvm \
        -o "$work/counts"
    same_at_ranks nb "$bin/kiln-naivebayes" $split "$work/counts"
    expect_summary nb-np1 "naivebayes: classes=3 accuracy=*"
    expect 0 2 nb-sparse "$bin/kiln-naivebayes" $split --sparse \
        --model "$work/nb-sparse.h5" "$work/counts" &&
        checker same "$work/nb-np1.h5" "$work/nb-sparse.h5"
    same_predictions nb-pred kiln-naivebayes "$work/nb-np1.h5" "$work/counts"
    checker lines "$work/nb-pred-np1" 3000
    ;;
errors)
    printf '1 1:1\n-1 2:1\n' > "$work/ok.svm"
    printf '1 1:1\n-1 3:1 2:1\n' > "$work/unsorted.svm"
    printf 'a,b,c\n1,2,3\n4,5\n' > "$work/cols.csv"
    for app in kmeans logreg linreg naivebayes; do
        k=
        [ $app = kmeans ] && k="-k 2"
        for np in 1 2 4; do
            expect 1 "$np" "$app-missing-np$np" "$bin/kiln-$app" $k \
                --model "$work/m.h5" "$work/missing-input.csv" &&
                grep -q "missing-input.csv" "$work/run-$app-missing-np$np/err.0" ||
                fail "$app-missing-np$np: the error does not name the file"
        done
        expect 1 2 "$app-unsorted" "$bin/kiln-$app" $k --model "$work/m.h5" \
            "$work/unsorted.svm" &&
            grep -q "unsorted.svm:2: index 2 after 3" "$work/run-$app-unsorted/err.0" ||
            fail "$app-unsorted: no 'unsorted.svm:2: index 2 after 3'"
        expect 1 2 "$app-cols" "$bin/kiln-$app" $k --model "$work/m.h5" \
            "$work/cols.csv" &&
            grep -q "cols.csv:3: 2 fields, expected 3" "$work/run-$app-cols/err.0" ||
            fail "$app-cols: no 'cols.csv:3: 2 fields, expected 3'"
        expect 2 2 "$app-badopt" "$bin/kiln-$app" --no-such-option "$work/ok.svm"
        expect 2 1 "$app-noinput" "$bin/kiln-$app" $k --model "$work/m.h5"
        expect 0 1 "$app-help" "$bin/kiln-$app" --help &&
            grep -q "^usage: kiln-$app" "$work/run-$app-help/out.0" ||
            fail "$app-help: no usage on stdout"
        [ -e "$work/m.h5" ] && fail "$app: a model was written by a failed run"
    done
    # A model of another kind, and an existing model file.
    expect 0 1 lr-ok "$bin/kiln-logreg" --model "$work/lr.h5" "$work/ok.svm"
    expect 1 2 lr-exists "$bin/kiln-logreg" --model "$work/lr.h5" "$work/ok.svm" &&
        grep -q "already exists" "$work/run-lr-exists/err.0" ||
        fail "lr-exists: no 'already exists'"
    expect 1 2 km-wrong "$bin/kiln-kmeans" predict --model "$work/lr.h5" \
        -o "$work/p" "$work/ok.svm" &&
        grep -q "not a kmeans model" "$work/run-km-wrong/err.0" ||
        fail "km-wrong: no 'not a kmeans model'"
    expect 1 2 lr-onecls "$bin/kiln-logreg" --model "$work/one.h5" \
        "$work/cols.csv" --skip-bad-lines
    expect 1 2 km-toomany "$bin/kiln-kmeans" -k 5 --model "$work/km.h5" "$work/ok.svm"
    expect 2 2 dg-badtype "$bin/kiln-datagen" spirals -n 10 -d 2 -o "$work/x"
    expect 2 1 dg-nodim "$bin/kiln-datagen" blobs -n 10 -o "$work/x"
    expect 0 1 dg-help "$bin/kiln-datagen" --help
    ;;
*)
    echo "test_ml_apps.sh: unknown mode $mode" >&2
    exit 2
    ;;
esac

if [ "$failures" -gt 0 ]; then
    echo "ml apps $mode: $failures check(s) failed (work files in $work)" >&2
    exit 1
fi
echo "ml apps $mode: all checks passed in $(($(date +%s) - started)) s"
rm -rf "$work"
exit 0
