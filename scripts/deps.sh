#!/usr/bin/env bash
# Installs the Debian packages Quark needs to build, test and benchmark,
# whichever of them are missing. Idempotent: when everything is installed it
# only checks and prints one line. Works on Debian bookworm and on Raspberry
# Pi OS (bookworm, arm64). Uses sudo when not run as root.
#
# Usage: scripts/deps.sh
set -euo pipefail

readonly PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libzmq3-dev cppzmq-dev
  libprotobuf-dev protobuf-compiler
  libabsl-dev
  libsqlite3-dev                    # the controller's durable state
  libsodium-dev                     # hashing, join tokens (common/token.h)
  libmicrohttpd-dev                 # the controller's --http (controller/http_server.h)
  libprimesieve-dev primesieve      # primesieve: the command, for bench/
  libgtest-dev libgmock-dev
  libprimecount-dev primecount      # reference values in the tests
  python3-prometheus-client         # the tests parse /metrics with Prometheus' parser
  chromium                          # the tests render the status page headless
  systemd                           # systemd-analyze, to verify the units
  lintian                           # scripts/package.sh checks the .deb files
  iproute2 iptables                 # tests/fault: a network namespace per worker, cuts
  debootstrap                       # tests/system: a bookworm root to boot systemd in
  clang-14 libclang-rt-14-dev       # scripts/sanitize.sh: ASan, UBSan, libFuzzer (the
                                    #   runtime -fsanitize=fuzzer links; not libfuzzer-14-dev)
  clang-format-14                   # scripts/test.sh checks the tree against .clang-format
  clang-tidy-14                     # scripts/tidy.sh, the checks in .clang-tidy
)

die() {
  echo "deps.sh: $*" >&2
  exit 1
}

# Installed for this machine's architecture (or for all): with multiarch
# (scripts/cross-arm64.sh adds the :arm64 -dev packages) dpkg-query prints
# one status per architecture.
installed() {
  local native statuses
  native=$(dpkg --print-architecture)
  statuses=$(dpkg-query -W -f='${db:Status-Status} ${Architecture}\n' "$1" 2>/dev/null) || return 1
  grep -q -x -E "installed ($native|all)" <<<"$statuses"
}

main() {
  if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
    die "needs a Debian-based system (dpkg-query and apt-get); install by hand: ${PACKAGES[*]}"
  fi

  local missing=() package
  for package in "${PACKAGES[@]}"; do
    installed "$package" || missing+=("$package")
  done
  if ((${#missing[@]} == 0)); then
    echo "deps.sh: all ${#PACKAGES[@]} packages are installed"
    return 0
  fi
  echo "deps.sh: installing ${missing[*]}"

  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null \
      || die "not root and sudo is missing; as root run: apt-get install ${missing[*]}"
    sudo=(sudo)
  fi
  local env=(env DEBIAN_FRONTEND=noninteractive)
  "${sudo[@]}" "${env[@]}" apt-get update \
    || die "'apt-get update' failed (network? apt sources?); the packages still missing are: ${missing[*]}"
  "${sudo[@]}" "${env[@]}" apt-get install -y --no-install-recommends "${missing[@]}" \
    || die "'apt-get install ${missing[*]}' failed; see apt's message above"

  for package in "${missing[@]}"; do
    installed "$package" || die "$package is still not installed after apt-get"
  done
  echo "deps.sh: done"
}

main "$@"
