#!/usr/bin/env bash
# Cross-compiles Quark for arm64 (Raspberry Pi OS 64-bit = Debian bookworm
# arm64) on a Debian bookworm amd64 machine, runs the unit tests under
# qemu-aarch64-static user emulation, and builds the arm64 .deb packages when
# scripts/package.sh exists.
#
# Installs what is missing: the arm64 architecture in dpkg, the cross
# compiler, qemu-user-static and the :arm64 -dev packages, which Debian's
# multiarch installs beside the amd64 ones (idempotent, like deps.sh). The
# toolchain is cmake/aarch64-linux-gnu.cmake. binfmt_misc is not needed:
# ctest calls qemu-aarch64-static itself (CMAKE_CROSSCOMPILING_EMULATOR).
#
# Usage: scripts/cross-arm64.sh [EXTRA CTEST ARGS...]
#   BUILD_DIR     build directory (default: build-arm64)
#   BUILD_TYPE    CMAKE_BUILD_TYPE (default RelWithDebInfo on the first
#                 configure, left as it is afterwards)
#   TESTS         unit (default): the tests without the integration and fault
#                 labels; all: every test; none: build only
#   TEST_TIMEOUT  per-test timeout in seconds under qemu (default: 300)
#   SKIP_DEPS=1   do not check or install packages
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build_dir=${BUILD_DIR:-build-arm64}
toolchain="$repo/cmake/aarch64-linux-gnu.cmake"

# Tools of the build machine. protoc is the host's: the generated code must
# match libprotobuf-dev:arm64, which bookworm ships in the same version.
readonly HOST_PACKAGES=(
  cmake ninja-build pkg-config file
  protobuf-compiler
  g++-aarch64-linux-gnu
  qemu-user-static
)
# What the project links (CMakeLists.txt, tests/), for arm64.
readonly ARM64_PACKAGES=(
  libzmq3-dev:arm64 cppzmq-dev:arm64
  libprotobuf-dev:arm64
  libabsl-dev:arm64
  libsqlite3-dev:arm64
  libsodium-dev:arm64
  libmicrohttpd-dev:arm64
  libprimesieve-dev:arm64
  libgtest-dev:arm64 libgmock-dev:arm64
  libprimecount-dev:arm64
)

die() {
  echo "cross-arm64.sh: $*" >&2
  exit 1
}

say() {
  echo "cross-arm64.sh: $*"
}

installed() {
  local status
  status=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) || return 1
  [[ "$status" == installed ]]
}

install_packages() {
  if ! command -v dpkg >/dev/null || ! command -v apt-get >/dev/null; then
    die "needs Debian bookworm (dpkg and apt-get) with its arm64 multiarch packages"
  fi
  local host_arch
  host_arch=$(dpkg --print-architecture)
  [[ "$host_arch" == amd64 ]] \
    || say "warning: tested on amd64 hosts only; this one is $host_arch"

  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "not root and sudo is missing"
    sudo=(sudo)
  fi

  local added=0
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    say "dpkg --add-architecture arm64"
    "${sudo[@]}" dpkg --add-architecture arm64 || die "'dpkg --add-architecture arm64' failed"
    added=1
  fi

  local missing=() package
  for package in "${HOST_PACKAGES[@]}" "${ARM64_PACKAGES[@]}"; do
    installed "$package" || missing+=("$package")
  done
  if ((${#missing[@]} == 0 && added == 0)); then
    say "all $((${#HOST_PACKAGES[@]} + ${#ARM64_PACKAGES[@]})) packages are installed"
    return 0
  fi
  local env=(env DEBIAN_FRONTEND=noninteractive)
  "${sudo[@]}" "${env[@]}" apt-get update \
    || die "'apt-get update' failed (network? apt sources without arm64?)"
  if ((${#missing[@]} > 0)); then
    say "installing ${missing[*]}"
    "${sudo[@]}" "${env[@]}" apt-get install -y --no-install-recommends "${missing[@]}" \
      || die "'apt-get install ${missing[*]}' failed; see apt's message above"
    for package in "${missing[@]}"; do
      installed "$package" || die "$package is still not installed after apt-get"
    done
  fi
}

# The host protoc generates code for the arm64 libprotobuf: same version.
check_protoc() {
  local protoc_version lib_version
  protoc_version=$(protoc --version) || die "protoc does not run"
  protoc_version=${protoc_version#libprotoc }
  lib_version=$(dpkg-query -W -f='${Version}' libprotobuf-dev:arm64) \
    || die "libprotobuf-dev:arm64 is not installed"
  # 3.21.12-3+deb12u1 -> 3.21.12
  lib_version=${lib_version#*:}
  lib_version=${lib_version%%-*}
  [[ "$protoc_version" == "$lib_version" ]] \
    || die "host protoc is $protoc_version but libprotobuf-dev:arm64 is $lib_version"
}

configure() {
  local cache="$build_dir/CMakeCache.txt"
  if [[ -f "$cache" ]]; then
    grep -qx 'CMAKE_GENERATOR:INTERNAL=Ninja' "$cache" \
      || die "$build_dir was configured with another generator than Ninja; remove it"
    grep -qx "CMAKE_TOOLCHAIN_FILE:FILEPATH=$toolchain" "$cache" \
      || die "$build_dir was not configured with $toolchain; remove it or set BUILD_DIR"
  fi
  local args=(cmake -S . -B "$build_dir" -G Ninja "-DCMAKE_TOOLCHAIN_FILE=$toolchain")
  if [[ -n "${BUILD_TYPE:-}" ]]; then
    args+=("-DCMAKE_BUILD_TYPE=$BUILD_TYPE")
  elif [[ ! -f "$cache" ]]; then
    args+=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
  fi
  if [[ ! -f "$build_dir/build.ninja" || -n "${BUILD_TYPE:-}" ]]; then
    "${args[@]}" || die "cmake configure of $build_dir failed"
  fi
}

check_arch() {
  local binary="$build_dir/bin/quark-worker" description
  [[ -f "$binary" ]] || die "$binary was not built"
  description=$(file -b "$binary")
  [[ "$description" == *"ARM aarch64"* ]] \
    || die "$binary is not an arm64 executable: $description"
  say "$binary: ${description%%, BuildID*}"
  qemu-aarch64-static "$build_dir/bin/quark" --version >/dev/null \
    || die "$build_dir/bin/quark does not run under qemu-aarch64-static"
}

run_tests() {
  local selection=()
  case "${TESTS:-unit}" in
    unit) selection=(-LE 'integration|fault') ;;
    all) ;;
    none) return 0 ;;
    *) die "TESTS must be unit, all or none, not '$TESTS'" ;;
  esac
  say "ctest under qemu-aarch64-static (TESTS=${TESTS:-unit})"
  ctest --test-dir "$build_dir" --output-on-failure --no-tests=error \
    --timeout "${TEST_TIMEOUT:-300}" "${selection[@]}" "$@" \
    || die "tests failed under qemu (see above)"
}

# scripts/package.sh (cmake/packaging.cmake, CPack) makes the .deb files.
# Until it exists in the tree this step only says so.
package() {
  if [[ ! -x scripts/package.sh ]]; then
    say "scripts/package.sh is not in the tree yet: no .deb built"
    return 0
  fi
  BUILD_DIR=$build_dir SKIP_DEPS=1 scripts/package.sh \
    || die "scripts/package.sh failed for $build_dir"
}

main() {
  if [[ "${SKIP_DEPS:-0}" != 1 ]]; then
    install_packages
  fi
  check_protoc
  configure
  cmake --build "$build_dir" -j "$(nproc)" || die "build of $build_dir failed"
  check_arch
  run_tests "$@"
  package
  say "done: arm64 binaries in $build_dir/bin"
}

main "$@"
