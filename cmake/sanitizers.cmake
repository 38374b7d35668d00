# Sanitizer and fuzzer builds, for scripts/sanitize.sh (docs/testing.md).
#
#   -DQUARK_SANITIZE=address,undefined   every target of the project (its
#       code, the generated protobuf code, the tests) is compiled and linked
#       with -fsanitize=LIST; a finding aborts the process
#       (-fno-sanitize-recover=all), so a test that trips one fails.
#   -DQUARK_BUILD_FUZZERS=ON             builds fuzz/ (clang only). The
#       project's code is then also compiled with -fsanitize=fuzzer-no-link,
#       the coverage feedback libFuzzer steers by; binaries that do not link
#       libFuzzer get the sanitizer runtime's no-op hooks instead.
#
# Debian's libraries (protobuf, abseil, libzmq, SQLite, primesieve, gtest)
# stay uninstrumented: bugs inside them go unseen, and the run-time options
# in scripts/sanitize.sh keep them from reporting false positives.
set(QUARK_SANITIZE "" CACHE STRING
    "Sanitizers for all project code, e.g. address,undefined (empty: none)")
option(QUARK_BUILD_FUZZERS "Build the libFuzzer targets in fuzz/ (clang)" OFF)

if(QUARK_SANITIZE)
  add_compile_options(-fsanitize=${QUARK_SANITIZE} -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${QUARK_SANITIZE})
endif()

if(QUARK_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "QUARK_BUILD_FUZZERS needs clang (libFuzzer), "
                        "not ${CMAKE_CXX_COMPILER_ID}: configure with "
                        "-DCMAKE_CXX_COMPILER=clang++-14")
  endif()
  if(NOT QUARK_SANITIZE)
    # The coverage hooks of the binaries that do not link libFuzzer come
    # from the sanitizer runtime.
    message(FATAL_ERROR "QUARK_BUILD_FUZZERS needs QUARK_SANITIZE "
                        "(e.g. address,undefined)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
