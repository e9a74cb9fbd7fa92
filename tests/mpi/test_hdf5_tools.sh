#!/bin/sh
# test_hdf5_tools.sh H5DUMP PLUGIN_DIR TEST_HDF5 WORKDIR
#
# Run under mpirun, once per rank: every rank starts `TEST_HDF5 write-files
# DIR` (one MPI job), which saves the same 10007 x 5 matrix of doubles as
# DIR/plain.h5 (no filter), deflate.h5 and zstd.h5 with
# kiln_dataset_save_hdf5. Then rank 0 checks, with Debian's h5dump (a
# separate, serial HDF5 program that knows nothing of Kiln):
#  - plain.h5 dumps, and its first row is the expected one;
#  - deflate.h5 dumps identically with no plugin at all (deflate is built
#    into every HDF5);
#  - zstd.h5 declares filter 32015, and dumps identically with
#    HDF5_PLUGIN_PATH set to Kiln's plugin directory (PLUGIN_DIR);
#  - without the plugin, h5dump cannot decode zstd.h5's data: so the filter
#    really is an external one under id 32015, and the plugin is what
#    decodes it (Debian ships no zstd plugin of its own).
set -u
if [ $# -ne 4 ]; then
    echo "usage: test_hdf5_tools.sh H5DUMP PLUGIN_DIR TEST_HDF5 WORKDIR" >&2
    exit 2
fi
h5dump=$1 plugins=$2 prog=$3 base=$4
rank=${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-${PMI_RANK:-0}}}
size=${OMPI_COMM_WORLD_SIZE:-${PMI_SIZE:-1}}
work=$base/hdf5-tools-np$size
# The other ranks cannot get past kiln_init before rank 0's program joins
# them, so the directory exists before anyone creates a file in it.
if [ "$rank" = 0 ]; then
    rm -rf "$work"
    mkdir -p "$work/no-plugins" || exit 1
fi
limit=
command -v timeout > /dev/null && limit="timeout ${KILN_TEST_WATCHDOG:-75}"
$limit "$prog" write-files "$work"
rc=$?
[ "$rank" = 0 ] || exit $rc
if [ $rc != 0 ]; then
    echo "FAIL: test_hdf5 write-files exited with $rc" >&2
    exit 1
fi

failures=0
fail() {
    echo "FAIL [hdf5 tools, $size ranks]: $*" >&2
    failures=$((failures + 1))
}

# dump NAME FILE PLUGIN_PATH: h5dump of /points into $work/NAME.txt (the
# first line, which names the file, dropped) and NAME.err; sets $dump_rc.
dump() {
    HDF5_PLUGIN_PATH=$3 $limit "$h5dump" -d /points "$work/$2" \
        > "$work/$1.full" 2> "$work/$1.err"
    dump_rc=$?
    tail -n +2 "$work/$1.full" > "$work/$1.txt"
}

none=$work/no-plugins
first_row='(0,0): -100, -98.5, -97, -95.5, -94'

dump plain plain.h5 "$none"
[ $dump_rc = 0 ] || fail "h5dump plain.h5 exited with $dump_rc: $(head -3 "$work/plain.err")"
grep -qF -- "$first_row" "$work/plain.txt" ||
    fail "plain.h5: the first row is not '$first_row': $(grep -m1 '(0,0)' "$work/plain.txt")"
grep -q 'DATASPACE  SIMPLE { ( 10007, 5 )' "$work/plain.txt" ||
    fail "plain.h5: not a 10007 x 5 array: $(grep -m1 DATASPACE "$work/plain.txt")"

dump deflate deflate.h5 "$none"
[ $dump_rc = 0 ] || fail "h5dump deflate.h5 (no plugins) exited with $dump_rc"
cmp -s "$work/plain.txt" "$work/deflate.txt" ||
    fail "deflate.h5 dumps differently from plain.h5"
HDF5_PLUGIN_PATH=$none "$h5dump" -p -H -d /points "$work/deflate.h5" 2>&1 |
    grep -q 'DEFLATE' || fail "deflate.h5: h5dump -p shows no DEFLATE filter"

props=$(HDF5_PLUGIN_PATH=$none "$h5dump" -p -H -d /points "$work/zstd.h5" 2>&1)
printf '%s\n' "$props" | grep -q 'FILTER_ID 32015' ||
    fail "zstd.h5: h5dump -p shows no filter 32015: $props"

dump zstd zstd.h5 "$plugins"
[ $dump_rc = 0 ] ||
    fail "h5dump zstd.h5 with HDF5_PLUGIN_PATH=$plugins exited with $dump_rc:" \
         "$(head -5 "$work/zstd.err")"
cmp -s "$work/plain.txt" "$work/zstd.txt" ||
    fail "zstd.h5 with Kiln's plugin dumps differently from plain.h5"

dump zstd-noplugin zstd.h5 "$none"
if [ $dump_rc = 0 ]; then
    fail "h5dump decoded zstd.h5 without Kiln's plugin (exit 0)"
fi
if grep -qF -- "$first_row" "$work/zstd-noplugin.txt"; then
    fail "h5dump printed zstd.h5's data without Kiln's plugin"
fi

if [ $failures = 0 ]; then
    echo "hdf5 tools at $size ranks: h5dump reads plain and deflate output as is," \
         "zstd output only with $plugins"
    rm -rf "$work"
    exit 0
fi
echo "(files kept in $work)" >&2
exit 1
