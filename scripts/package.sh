#!/usr/bin/env bash
# Builds the Debian packages quark, quark-worker and quark-controller
# (cmake/packaging.cmake, CPack) into a directory, for the architecture of
# the build: the host's, or arm64 from a cross build directory
# (scripts/cross-arm64.sh). Then checks them with lintian when it is
# installed: an error or warning that the packages do not override fails
# (docs/operations.md, "Packages", explains the overrides).
#
# Usage: scripts/package.sh
#   BUILD_DIR    build directory (default: build-deb). A new one is configured
#                for packages: no tests, and the compiler and linker flags of
#                dpkg-buildflags with all hardening on. An existing one (the
#                tests' build, build-arm64) is built as it is configured.
#   PACKAGE_DIR  where the .deb files go (default: $BUILD_DIR/packages); the
#                previous quark*.deb there are removed first
#   SKIP_DEPS=1  do not run scripts/deps.sh
#   LINTIAN=0    do not run lintian
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build_dir=${BUILD_DIR:-build-deb}
package_dir=${PACKAGE_DIR:-$build_dir/packages}

die() {
  echo "package.sh: $*" >&2
  exit 1
}

configure=()
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  flags() { DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get "$1"; }
  configure=(-DQUARK_BUILD_TESTS=OFF
    "-DCMAKE_CXX_FLAGS=$(flags CPPFLAGS) $(flags CXXFLAGS)"
    "-DCMAKE_EXE_LINKER_FLAGS=$(flags LDFLAGS)")
fi
BUILD_DIR=$build_dir scripts/build.sh "${configure[@]}"

# dpkg-shlibdeps (run by CPack) picks the libraries, and objdump, of this
# architecture.
arch=$(sed -n 's/^QUARK_DEB_ARCHITECTURE:STRING=//p' "$build_dir/CMakeCache.txt")
[[ -n "$arch" ]] || die "$build_dir has no QUARK_DEB_ARCHITECTURE (cmake/packaging.cmake)"

mkdir -p "$package_dir"
package_dir=$(cd "$package_dir" && pwd)
rm -f "$package_dir"/quark_*.deb "$package_dir"/quark-worker_*.deb \
  "$package_dir"/quark-controller_*.deb
(cd "$build_dir" && DEB_HOST_ARCH=$arch cpack -G DEB -B "$package_dir") \
  || die "cpack failed in $build_dir"
rm -rf "$package_dir/_CPack_Packages"
debs=("$package_dir"/quark*_"$arch".deb)
printf 'package.sh: %s\n' "${debs[@]}"

if [[ "${LINTIAN:-1}" == 0 ]]; then
  exit 0
fi
if ! command -v lintian >/dev/null; then
  echo "package.sh: lintian is not installed: packages not checked (apt-get install lintian)"
  exit 0
fi
echo "== lintian"
lintian --fail-on error,warning "${debs[@]}" || die "lintian found errors or warnings"
echo "package.sh: lintian: no errors or warnings"
