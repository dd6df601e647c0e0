# Fails when a doctest case name holds a ';': doctest_discover_tests (doctest 2.4.9) splits such a
# name into several CTest tests whose filters match no case, so they "pass" without running.
file(GLOB sources "${TEST_DIR}/*.cpp")
set(bad "")
foreach(f ${sources})
  file(STRINGS "${f}" lines REGEX "TEST_CASE[A-Z_]*\\(\"[^\"]*;")
  if(lines)
    string(APPEND bad "${f}\n")
  endif()
endforeach()
if(bad)
  message(FATAL_ERROR "test case names with ';' (CTest would run nothing for them):\n${bad}")
endif()
message("test case names: none holds a ';'")
