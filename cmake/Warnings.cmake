# Project-wide compile flags, applied to our own targets through vgpu_options.
add_library(vgpu_options INTERFACE)
target_compile_options(vgpu_options INTERFACE
  -Wall -Wextra -Wimplicit-fallthrough -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference -Wformat=2)
if(VGPU_WERROR)
  target_compile_options(vgpu_options INTERFACE -Werror)
endif()
if(VGPU_SANITIZE)
  target_compile_options(vgpu_options INTERFACE -fsanitize=${VGPU_SANITIZE} -fno-omit-frame-pointer)
  target_link_options(vgpu_options INTERFACE -fsanitize=${VGPU_SANITIZE})
endif()
target_include_directories(vgpu_options INTERFACE ${PROJECT_SOURCE_DIR}/include)

# vgpu_add_test(NAME SOURCES ... LIBS ... LABEL component): one GoogleTest
# executable, each TEST registered with CTest under one label (select several
# with a regex: ctest -L 'sim|integration'). One label only, because
# gtest_discover_tests flattens a list-valued LABELS property.
function(vgpu_add_test name)
  cmake_parse_arguments(T "" "LABEL" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} vgpu_options GTest::gtest GTest::gmock
                        GTest::gtest_main Threads::Threads)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30 PROPERTIES LABELS "${T_LABEL}")
endfunction()

# Crash-study variants of the daemon (include/vgpu/common/study_arm.h): never
# in a shipped build.
option(VGPU_STUDY_ARMS "Build the guest crash study's daemon variants (tests/e2e/study)" OFF)
if(VGPU_STUDY_ARMS)
  target_compile_definitions(vgpu_options INTERFACE VGPU_STUDY_ARMS=1)
endif()
