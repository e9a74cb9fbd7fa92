#!/usr/bin/env bash
# tests/install/run.sh: install a built Kiln into a scratch prefix and use it
# from outside the tree, the way a user would:
#   1. cmake --install BUILD --prefix PREFIX
#   2. a CMake project with find_package(Kiln) builds example_job.c
#   3. mpicc $(pkg-config --cflags --libs kiln) builds it again
#   4. the Lmod modulefile written at install time, loaded (and unloaded)
#      by Lmod when it is installed: it must put exactly this install on
#      PATH, LD_LIBRARY_PATH, PKG_CONFIG_PATH, CMAKE_PREFIX_PATH and
#      HDF5_PLUGIN_PATH
#   5. the installed kiln-wordcount runs on 2 ranks (as the jobs of 2 and
#      3 do)
# Nothing from the source or build tree is on any include, library or
# run-time path of the jobs: they see only PREFIX.
#
# usage: run.sh BUILD_DIR WORK_DIR [MPIEXEC [APPS]]
#   BUILD_DIR  a built Kiln build tree
#   WORK_DIR   scratch folder, emptied first, removed when the test passes
#   APPS       ON (default) if the build has the apps (KILN_BUILD_APPS)
# The ctest test install_out_of_tree (tests/install/CMakeLists.txt) calls it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:?usage: run.sh BUILD_DIR WORK_DIR [MPIEXEC]}
work=${2:?usage: run.sh BUILD_DIR WORK_DIR [MPIEXEC]}
mpiexec=${3:-mpiexec}
apps=${4:-ON}
case $apps in ON | on | 1 | TRUE | true | YES | yes) apps=1 ;; *) apps=0 ;; esac
prefix=$work/prefix
np=2
n=100000
expect="example_job: OK (1..$n on $np ranks)"

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'install_out_of_tree: FAIL: %s\n' "$*" >&2; exit 1; }

# Whatever finds libkiln at run time must be the install's RPATH, not this.
unset LD_LIBRARY_PATH
if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_rmaps_base_oversubscribe=1

rm -rf "$work"
mkdir -p "$work"

# ---- 1. install ------------------------------------------------------------
step "install $build into $prefix"
cmake --install "$build" --prefix "$prefix"
lib=$(find "$prefix" -name libkiln.so -print -quit)
[ -n "$lib" ] || fail "no libkiln.so under $prefix"
libdir=$(dirname "$lib")
expected=("$prefix/include/kiln.h" "$libdir/cmake/Kiln/KilnConfig.cmake"
    "$libdir/cmake/Kiln/KilnConfigVersion.cmake"
    "$libdir/cmake/Kiln/kilnTargets.cmake" "$libdir/pkgconfig/kiln.pc"
    "$prefix/bin/kiln-submit" "$prefix/bin/kiln-run"
    "$prefix/share/kiln/templates/mpirun.sbatch")
[ "$apps" -eq 0 ] || expected+=("$prefix/bin/kiln-wordcount")
for f in "${expected[@]}"; do
    [ -e "$f" ] || fail "not installed: ${f#"$prefix"/}"
done
modfile=$(find "$prefix" -path '*/modulefiles/kiln/*.lua' -print -quit)
[ -n "$modfile" ] || fail "not installed: the modulefile (share/modulefiles/kiln/VERSION.lua)"
echo "installed: header, libkiln, CMake package, kiln.pc, kiln-submit, kiln-run, templates, ${modfile#"$prefix"/}$([ "$apps" -eq 0 ] || echo ", kiln-wordcount")"

# run_job NAME EXE: run EXE on $np ranks, check it used the installed
# libkiln and printed the expected verdict.
run_job() {
    local name=$1 exe=$2 out=$work/$1.out
    local used
    used=$(ldd "$exe" | awk '$1 ~ /^libkiln\.so/ { print $3 }')
    [ -z "$used" ] || used=$(realpath "$used")
    case $used in
        "$(realpath "$libdir")"/*) echo "$name loads $used" ;;
        *) fail "$name loads libkiln from '${used:-nowhere}', not $libdir" ;;
    esac
    if ! "$mpiexec" -np "$np" "$exe" "$n" >"$out" 2>&1; then
        cat "$out"
        fail "$name exited non-zero"
    fi
    cat "$out"
    grep -qxF "$expect" "$out" || fail "$name did not print '$expect'"
}

# ---- 2. CMake: find_package(Kiln) -------------------------------------------
step "CMake project using find_package(Kiln)"
mkdir -p "$work/cmake-src"
cp "$here/example_job.c" "$here/consumer/CMakeLists.txt" "$work/cmake-src/"
cmake -S "$work/cmake-src" -B "$work/cmake-build" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
    -DCMAKE_C_FLAGS="-Wall -Wextra -Werror"
cmake --build "$work/cmake-build"
found=$(sed -n 's/^Kiln_DIR:PATH=//p' "$work/cmake-build/CMakeCache.txt")
case $found in
    "$prefix"/*) echo "Kiln_DIR=$found" ;;
    *) fail "find_package(Kiln) found '$found', not the install under $prefix" ;;
esac
run_job cmake "$work/cmake-build/example_job"

# ---- 3. mpicc + pkg-config --------------------------------------------------
step "mpicc \$(pkg-config --cflags --libs kiln)"
export PKG_CONFIG_PATH=$libdir/pkgconfig
pkg-config --print-errors --exists kiln || fail "pkg-config cannot use kiln.pc"
read -r -a kiln_flags <<<"$(pkg-config --cflags --libs kiln)"
echo "pkg-config: ${kiln_flags[*]}"
mkdir -p "$work/pc-build"
(set -x; mpicc -std=c11 -Wall -Wextra -Wpedantic -Werror \
    -o "$work/pc-build/example_job" "$here/example_job.c" "${kiln_flags[@]}")
run_job pkg-config "$work/pc-build/example_job"

# ---- 4. the Lmod modulefile ---------------------------------------------------
# Lmod turns a modulefile into shell code: `lmod bash load kiln` prints the
# exports, which are evaluated in a clean environment here. Debian's lmod
# package puts the command at LMOD_CMD's usual place.
step "Lmod: module load kiln"
lmod=${LMOD_CMD:-/usr/share/lmod/lmod/libexec/lmod}
modpath=$(dirname "$(dirname "$modfile")")
if [ -x "$lmod" ]; then
    plugins=$libdir/kiln/hdf5-plugins
    # shellcheck disable=SC2016 # the inner script expands its own variables
    env -i HOME="$work" PATH=/usr/bin:/bin MODULEPATH="$modpath" bash -c '
        set -eu
        lmod=$1 prefix=$2 libdir=$3 plugins=$4
        bad() { echo "modulefile: $*" >&2; exit 1; }
        eval "$("$lmod" bash load kiln)"
        case ${LOADEDMODULES:-} in
        kiln/*) echo "loaded $LOADEDMODULES from $_LMFILES_" ;;
        *) bad "not loaded (LOADEDMODULES=${LOADEDMODULES:-})" ;;
        esac
        [ "$KILN_ROOT" = "$prefix" ] || bad "KILN_ROOT=$KILN_ROOT"
        [ "$(command -v kiln-submit)" = "$prefix/bin/kiln-submit" ] || bad "PATH=$PATH"
        [ "${LD_LIBRARY_PATH%%:*}" = "$libdir" ] || bad "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
        [ "${LIBRARY_PATH%%:*}" = "$libdir" ] || bad "LIBRARY_PATH=$LIBRARY_PATH"
        [ "${CMAKE_PREFIX_PATH%%:*}" = "$prefix" ] || bad "CMAKE_PREFIX_PATH=$CMAKE_PREFIX_PATH"
        pkg-config --exists kiln || bad "pkg-config finds no kiln.pc: PKG_CONFIG_PATH=$PKG_CONFIG_PATH"
        [ "${HDF5_PLUGIN_PATH%%:*}" = "$plugins" ] || bad "HDF5_PLUGIN_PATH=$HDF5_PLUGIN_PATH"
        ls "$plugins"/*h5zstd* >/dev/null 2>&1 || bad "no zstd plugin in $plugins"
        echo "PATH, LD_LIBRARY_PATH, LIBRARY_PATH, CPATH, PKG_CONFIG_PATH, CMAKE_PREFIX_PATH and HDF5_PLUGIN_PATH=$HDF5_PLUGIN_PATH"
        eval "$("$lmod" bash unload kiln)"
        case ":$PATH:" in *":$prefix/bin:"*) bad "still on PATH after unload: $PATH" ;; esac
        [ -z "${HDF5_PLUGIN_PATH:-}" ] || bad "HDF5_PLUGIN_PATH=$HDF5_PLUGIN_PATH after unload"
        echo "unloaded: the environment is as before"
    ' modulefile "$lmod" "$prefix" "$libdir" "$plugins" || fail "the modulefile does not set up this install"
elif command -v luac >/dev/null; then
    luac -p "$modfile" || fail "the modulefile is not valid Lua"
    echo "no Lmod here ($lmod): checked the modulefile's Lua syntax only"
else
    echo "no Lmod and no luac here: checked only that the modulefile was installed"
fi

# ---- 5. the installed app ----------------------------------------------------
if [ "$apps" -eq 0 ]; then
    rm -rf "$work"
    printf '\ninstall_out_of_tree: 4 passed, 0 failed (apps not built)\n'
    exit 0
fi
step "installed kiln-wordcount"
printf 'the cat saw the dog\nthe end\n' >"$work/words.txt"
"$mpiexec" -np "$np" "$prefix/bin/kiln-wordcount" --top 2 \
    -o "$work/wordcount-out" "$work/words.txt" >"$work/wordcount.out" 2>&1 ||
    { cat "$work/wordcount.out"; fail "installed kiln-wordcount failed"; }
cat "$work/wordcount.out"
grep -qxP 'the\t3' "$work/wordcount.out" || fail "kiln-wordcount: no 'the<TAB>3'"
[ -e "$work/wordcount-out/_SUCCESS" ] || fail "kiln-wordcount wrote no _SUCCESS"

rm -rf "$work"
echo
echo "install_out_of_tree: 5 passed, 0 failed"
