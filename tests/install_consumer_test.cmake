# Installs the spindle build tree into a fresh prefix, then configures, builds
# and runs tests/consumer against it with find_package(spindle CONFIG REQUIRED).
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message("${out}")
endfunction()
run(${CMAKE_COMMAND} --install "${SPINDLE_BINARY_DIR}" --prefix "${WORK_DIR}/prefix")
# The installed targets must not force flags on consumers (the release preset builds spindle's own
# binaries with -march=native; that must stay out of the package).
file(GLOB_RECURSE exported "${WORK_DIR}/prefix/*Targets*.cmake")
foreach(f ${exported})
  file(READ "${f}" text)
  if(text MATCHES "-march|-O3|-fsanitize")
    message(FATAL_ERROR "${f} exports a compile flag (-march, -O3 or -fsanitize) to consumers")
  endif()
endforeach()
if(NOT exported)
  message(FATAL_ERROR "no exported target files found under ${WORK_DIR}/prefix")
endif()
run(${CMAKE_COMMAND} -S "${CONSUMER_SOURCE_DIR}" -B "${WORK_DIR}/build"
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
    -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build "${WORK_DIR}/build")
run("${WORK_DIR}/build/consumer")
