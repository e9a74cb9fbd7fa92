# Run by `cmake --install` (see install(CODE) in CMakeLists.txt): writes the
# Lmod modulefile for the prefix actually being installed to, which
# `cmake --install --prefix DIR` may choose after configuring, then installs
# it as share/modulefiles/kiln/<version>.lua. Set by the caller:
#   KILN_VERSION, KILN_MODULE_TEMPLATE, KILN_MODULE_OUT (a file in the build
#   tree), KILN_MODULE_DEPENDS (module names), KILN_HDF5_DEFAULT_PLUGINDIR,
#   and the relative-or-absolute install directories KILN_DIR_<BIN|LIB|
#   INCLUDE|DATA>.

function(kiln_full_dir var dir)
  if(IS_ABSOLUTE "${dir}")
    set(${var} "${dir}" PARENT_SCOPE)
  else()
    set(${var} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

set(KILN_MODULE_PREFIX "${CMAKE_INSTALL_PREFIX}")
kiln_full_dir(KILN_MODULE_BINDIR "${KILN_DIR_BIN}")
kiln_full_dir(KILN_MODULE_LIBDIR "${KILN_DIR_LIB}")
kiln_full_dir(KILN_MODULE_INCLUDEDIR "${KILN_DIR_INCLUDE}")
kiln_full_dir(KILN_MODULE_DATADIR "${KILN_DIR_DATA}")
set(KILN_MODULE_ROOT "${KILN_MODULE_DATADIR}/modulefiles")
set(KILN_MODULE_DEPENDS_LUA "")
foreach(m IN LISTS KILN_MODULE_DEPENDS)
  string(APPEND KILN_MODULE_DEPENDS_LUA "depends_on(\"${m}\")\n")
endforeach()
configure_file("${KILN_MODULE_TEMPLATE}" "${KILN_MODULE_OUT}" @ONLY)
# file(INSTALL) adds DESTDIR, prints "Installing: ..." and records the file
# in install_manifest.txt, as install(FILES) would.
file(INSTALL DESTINATION "${KILN_MODULE_ROOT}/kiln" TYPE FILE
  FILES "${KILN_MODULE_OUT}")
