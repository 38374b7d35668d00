#!/usr/bin/env bash
# Installs what is missing, builds (scripts/build.sh), runs every test under
# ctest, and checks the systemd units with `systemd-analyze verify` (any line
# it prints is a failure), the .deb packages with lintian (scripts/package.sh)
# and under a real systemd (tests/system/run.sh, as root with debootstrap),
# the sources with clang-tidy (scripts/tidy.sh) and clang-format and the
# scripts with shellcheck, when it is installed.
# Prints a summary and exits non-zero when anything failed.
#
# Usage: scripts/test.sh [EXTRA CTEST ARGS...]     e.g. -R scheduler
#   BUILD_DIR     build directory (default: build)
#   TEST_TIMEOUT  per-test timeout in seconds (default: 300)
#   SANITIZE=0    skip scripts/sanitize.sh (ASan/UBSan build, tests, fuzzing)
#   SYSTEM_TESTS=0  skip tests/system/run.sh (the packages under systemd)
#   TIDY=0        skip scripts/tidy.sh
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build_dir=${BUILD_DIR:-build}
export BUILD_DIR=$build_dir

tmp=$(mktemp -d)
tidy_pid=
cleanup() {
  [[ -z "$tidy_pid" ]] || kill -- "-$tidy_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# Warnings are errors in the test run (CMakeLists.txt: QUARK_WERROR).
scripts/build.sh -DQUARK_WERROR=ON

# ---------------------------------------------------------- clang-tidy
# In the background at the lowest priority, in its own process group:
# ctest runs one test at a time and mostly waits, and clang-tidy (3 to 4
# minutes of CPU) takes what it leaves idle. Collected before the summary.
if [[ "${TIDY:-1}" != 0 ]]; then
  echo "== tidy.sh (in the background, output at the end)"
  BUILD_DIR=$build_dir SKIP_DEPS=1 setsid nice -n 19 scripts/tidy.sh \
    >"$tmp/tidy.log" 2>&1 </dev/null &
  tidy_pid=$!
fi

failed=()
summary=()

# ---------------------------------------------------------------- ctest
echo "== ctest"
ctest_rc=0
ctest --test-dir "$build_dir" --output-on-failure --no-tests=error \
  --timeout "${TEST_TIMEOUT:-300}" "$@" 2>&1 | tee "$tmp/ctest.log" || ctest_rc=$?
ctest_line=$(grep -E 'tests passed|No tests were found' "$tmp/ctest.log" | tail -n 1 || true)
summary+=("ctest: ${ctest_line:-no summary printed}")
# The names of the tests that failed, on the summary line, so that a CI
# log that keeps only its tail still says which (ctest lists them after
# "The following tests FAILED:" as "  12 - Name (Failed)").
ctest_failed=$(sed -n '/The following tests FAILED:/,$s/^[[:space:]]*[0-9]* - \(.*\)$/\1/p' \
  "$tmp/ctest.log" | paste -sd ';' - || true)
[[ -z "$ctest_failed" ]] || summary+=("ctest failed: $ctest_failed")
((ctest_rc == 0)) || failed+=("ctest (exit $ctest_rc)")

# ------------------------------------------------------ systemd units
# verify needs ExecStart to exist: check copies that run the binaries just
# built.
echo "== systemd-analyze verify"
units="$tmp/units"
mkdir -p "$units"
bin="$repo/$build_dir/bin"
[[ "$build_dir" == /* ]] && bin="$build_dir/bin"
for unit in quark-worker quark-controller; do
  sed "s|/usr/bin/quark-|$bin/quark-|g" "systemd/$unit.service" >"$units/$unit.service"
done
verify_rc=0
(cd "$units" && systemd-analyze verify ./quark-worker.service ./quark-controller.service) \
  >"$tmp/verify.log" 2>&1 || verify_rc=$?
cat "$tmp/verify.log"
if ((verify_rc != 0)) || [[ -s "$tmp/verify.log" ]]; then
  failed+=("systemd-analyze verify")
  summary+=("systemd: verify printed $(wc -l <"$tmp/verify.log") line(s), exit $verify_rc")
else
  summary+=("systemd: both units verify cleanly")
fi

# ------------------------------------------------------------ packages
# The .deb files of this build, checked by lintian (scripts/package.sh).
echo "== package.sh"
package_rc=0
BUILD_DIR=$build_dir SKIP_DEPS=1 PACKAGE_DIR="$tmp/packages" scripts/package.sh \
  2>&1 | tee "$tmp/package.log" || package_rc=$?
if ((package_rc == 0)); then
  summary+=("packages: $(grep -c '\.deb$' "$tmp/package.log") .deb built; $(tail -n 1 "$tmp/package.log" | sed 's/^package.sh: //')")
else
  failed+=("package.sh (exit $package_rc)")
  summary+=("packages: package.sh failed, exit $package_rc")
fi

# ------------------------------------------------ under a real systemd
# The packages just built, installed in a debootstrapped bookworm root and
# checked under its systemd (docs/operations.md, "Testing under a real
# systemd"). The root is cached: the first run takes 1 to 3 minutes more.
system_skip=
if [[ "${SYSTEM_TESTS:-1}" == 0 ]]; then
  system_skip="SYSTEM_TESTS=0"
elif ((EUID != 0)); then
  system_skip="needs root"
elif ! command -v debootstrap >/dev/null; then
  system_skip="debootstrap is not installed"
elif ((package_rc != 0)); then
  system_skip="no packages"
fi
if [[ -z "$system_skip" ]]; then
  echo "== tests/system/run.sh"
  system_rc=0
  PACKAGE_DIR="$tmp/packages" tests/system/run.sh 2>&1 | tee "$tmp/system.log" || system_rc=$?
  summary+=("$(grep -E '^system: [0-9]+ passed' "$tmp/system.log" | tail -n 1 || echo "system: no summary printed")")
  ((system_rc == 0)) || failed+=("tests/system/run.sh (exit $system_rc)")
else
  summary+=("system: skipped ($system_skip)")
fi

# -------------------------------------------------------- clang-format
# The tree as .clang-format has it (Google style): a habit made a check.
echo "== clang-format"
mapfile -t sources < <(git ls-files '*.cc' '*.h' 2>/dev/null || true)
if ((${#sources[@]} == 0)); then
  summary+=("clang-format: no git checkout, skipped")
elif unformatted=$(clang-format-14 --dry-run --Werror "${sources[@]}" 2>&1 |
  sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' | sort -u) &&
  [[ -z "$unformatted" ]]; then
  summary+=("clang-format: ${#sources[@]} files as .clang-format has them")
else
  echo "$unformatted"
  failed+=("clang-format (clang-format-14 -i on the files above)")
  summary+=("clang-format: $(wc -l <<<"$unformatted") files differ")
fi

# ---------------------------------------------------------- shellcheck
echo "== shellcheck"
if command -v shellcheck >/dev/null; then
  shopt -s nullglob
  scripts=(scripts/*.sh bench/*.sh tests/system/*.sh tests/docs/*.sh .ci/run)
  shopt -u nullglob
  if shellcheck -x "${scripts[@]}"; then
    summary+=("shellcheck: ${#scripts[@]} scripts clean")
  else
    failed+=("shellcheck")
    summary+=("shellcheck: warnings")
  fi
else
  summary+=("shellcheck: not installed, skipped (apt-get install shellcheck)")
fi

# ------------------------------------------- sanitizers and fuzzing
if [[ "${SANITIZE:-1}" != 0 ]]; then
  echo "== sanitize.sh"
  sanitize_rc=0
  SKIP_DEPS=1 scripts/sanitize.sh 2>&1 | tee "$tmp/sanitize.log" || sanitize_rc=$?
  summary+=("$(grep -E '^sanitize:' "$tmp/sanitize.log" | tail -n 1 || echo "sanitize: no summary printed")")
  ((sanitize_rc == 0)) || failed+=("sanitize.sh (exit $sanitize_rc)")
else
  summary+=("sanitize: skipped (SANITIZE=0)")
fi

if [[ -n "$tidy_pid" ]]; then
  echo "== tidy.sh"
  tidy_rc=0
  wait "$tidy_pid" || tidy_rc=$?
  tidy_pid=
  cat "$tmp/tidy.log"
  summary+=("$(grep -E '^tidy:' "$tmp/tidy.log" | tail -n 1 || echo "tidy: no summary printed")")
  ((tidy_rc == 0)) || failed+=("tidy.sh (exit $tidy_rc)")
else
  summary+=("tidy: skipped (TIDY=0)")
fi

echo
echo "== summary"
printf '%s\n' "${summary[@]}"
if ((${#failed[@]} > 0)); then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all passed"
