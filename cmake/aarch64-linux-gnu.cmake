# Cross-compiles Quark for 64-bit ARM (Raspberry Pi OS 64-bit, which is
# Debian bookworm arm64) on a Debian bookworm amd64 host, against Debian's
# multiarch arm64 -dev packages in /usr/lib/aarch64-linux-gnu. The packages
# it needs (g++-aarch64-linux-gnu, qemu-user-static, libzmq3-dev:arm64, ...)
# are installed by scripts/cross-arm64.sh, which also uses this file:
#
#   cmake -S . -B build-arm64 -G Ninja \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#
# The test binaries run under qemu-aarch64-static user emulation
# (CMAKE_CROSSCOMPILING_EMULATOR), so ctest and gtest_discover_tests work
# without binfmt_misc.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(QUARK_CROSS_TRIPLET aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${QUARK_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${QUARK_CROSS_TRIPLET}-g++)
# The compiler reports this too; set it so find_* use the multiarch
# directories (/usr/lib/aarch64-linux-gnu, /usr/lib/aarch64-linux-gnu/cmake)
# from the first find on.
set(CMAKE_LIBRARY_ARCHITECTURE ${QUARK_CROSS_TRIPLET})

# Multiarch: the arm64 libraries and their CMake packages live beside the
# amd64 ones under /, so the "sysroot" is / and the architecture directory
# tells them apart. Headers in /usr/include are shared (same versions).
# Programs (protoc, pkg-config) are the host's.
set(CMAKE_FIND_ROOT_PATH /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (libzmq for cppzmq, primecount for the tests) reads only the
# arm64 .pc files; the host's would hand out x86_64 library paths.
set(ENV{PKG_CONFIG_LIBDIR}
    /usr/lib/${QUARK_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# Code generation runs protoc on the build machine: the host's
# /usr/bin/protoc (protobuf-compiler), which has the same version as
# libprotobuf-dev:arm64 in bookworm (3.21.12), so the generated code
# matches the arm64 headers and library.
set(Protobuf_PROTOC_EXECUTABLE /usr/bin/protoc CACHE FILEPATH
    "protoc of the build machine")

# Runs arm64 executables built here: ctest, gtest_discover_tests.
find_program(QUARK_QEMU_AARCH64 qemu-aarch64-static)
if(QUARK_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${QUARK_QEMU_AARCH64})
endif()
