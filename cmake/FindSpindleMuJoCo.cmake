# FindSpindleMuJoCo: locate the MuJoCo C library and define MuJoCo::MuJoCo.
#
# Why not find_package(mujoco CONFIG)? Debian 12's libmujoco-dev 2.2.2 ships a
# mujocoConfig.cmake whose imported target lists /usr/include/libqhull_r/ as an
# include directory, and no Debian package provides it, so CMake's generate step
# fails for every target that links mujoco::mujoco. We look up the header and the
# library directly and build our own imported target.
#
# Hints: MUJOCO_ROOT (cache or environment variable) -> <root>/include, <root>/lib.
# Result: SpindleMuJoCo_FOUND, SpindleMuJoCo_VERSION, MuJoCo::MuJoCo.

find_path(SPINDLE_MUJOCO_INCLUDE_DIR NAMES mujoco/mujoco.h
  HINTS ${MUJOCO_ROOT} ENV MUJOCO_ROOT PATH_SUFFIXES include)
find_library(SPINDLE_MUJOCO_LIBRARY NAMES mujoco
  HINTS ${MUJOCO_ROOT} ENV MUJOCO_ROOT PATH_SUFFIXES lib lib64)

if(SPINDLE_MUJOCO_INCLUDE_DIR AND EXISTS "${SPINDLE_MUJOCO_INCLUDE_DIR}/mujoco/mujoco.h")
  file(STRINGS "${SPINDLE_MUJOCO_INCLUDE_DIR}/mujoco/mujoco.h" _spindle_mj_version_line
       REGEX "^#define mjVERSION_HEADER [0-9]+")
  if(_spindle_mj_version_line MATCHES "mjVERSION_HEADER ([0-9]+)")
    # mjVERSION_HEADER is e.g. 222 for 2.2.2
    math(EXPR _mj_major "${CMAKE_MATCH_1} / 100")
    math(EXPR _mj_minor "(${CMAKE_MATCH_1} / 10) % 10")
    math(EXPR _mj_patch "${CMAKE_MATCH_1} % 10")
    set(SpindleMuJoCo_VERSION "${_mj_major}.${_mj_minor}.${_mj_patch}")
  endif()
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(SpindleMuJoCo
  REQUIRED_VARS SPINDLE_MUJOCO_LIBRARY SPINDLE_MUJOCO_INCLUDE_DIR
  VERSION_VAR SpindleMuJoCo_VERSION)

if(SpindleMuJoCo_FOUND AND NOT TARGET MuJoCo::MuJoCo)
  add_library(MuJoCo::MuJoCo UNKNOWN IMPORTED)
  set_target_properties(MuJoCo::MuJoCo PROPERTIES
    IMPORTED_LOCATION "${SPINDLE_MUJOCO_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${SPINDLE_MUJOCO_INCLUDE_DIR}")
endif()
mark_as_advanced(SPINDLE_MUJOCO_INCLUDE_DIR SPINDLE_MUJOCO_LIBRARY)
