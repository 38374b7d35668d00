#!/usr/bin/env bash
# Builds Quark with clang-14 under AddressSanitizer and
# UndefinedBehaviorSanitizer (cmake/sanitizers.cmake), runs the unit and
# integration tests under ctest, then fuzzes the controller's inbound path
# (fuzz/controller_inbound_fuzz) for a bounded time. Fails on any test
# failure and on any sanitizer or fuzzer finding, in the tests' own
# processes or in the daemons they start. docs/testing.md explains.
#
# Usage: scripts/sanitize.sh
#   SANITIZE_BUILD_DIR  build directory (default: build-asan); not BUILD_DIR,
#                       which scripts/test.sh sets for the plain build
#   FUZZ_SECONDS        how long to fuzz (default: 60; 0 skips fuzzing)
#   SANITIZE_TESTS=0    skip ctest (build and fuzz only)
#   TEST_TIMEOUT        per-test timeout in seconds (default: 600)
#   SKIP_DEPS=1         do not run scripts/deps.sh
# The last line printed starts with "sanitize:" and sums up the run.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build_dir=${SANITIZE_BUILD_DIR:-build-asan}
fuzz_seconds=${FUZZ_SECONDS:-60}
[[ "$build_dir" == /* ]] || build_dir="$repo/$build_dir"

# The sanitizers' run-time options, for every process the tests start:
#  - log_path: reports go to files, one per process, so that a finding in a
#    daemon that an integration test starts and stops is seen even when the
#    test does not look at its exit code or its stderr. Checked after ctest.
#  - detect_leaks=1 (LeakSanitizer, also the default on x86_64): a leak at
#    exit is a finding too.
#  - print_stacktrace=1: UBSan reports say where, not only what.
#  - halt_on_error=1: a UBSan finding stops the process (the code is also
#    built with -fno-sanitize-recover=all), so a test cannot pass over one.
# Not set, because not needed: detect_container_overflow=0 (libstdc++ only
# annotates its containers under _GLIBCXX_SANITIZE_VECTOR, which we do not
# define, so uninstrumented Debian libraries cannot trip it) and
# detect_odr_violation=0 (everything instrumented is linked statically into
# each binary, once).
reports="$build_dir/sanitizer-reports"
asan_base="detect_leaks=1"
ubsan_base="print_stacktrace=1:halt_on_error=1"

if [[ "${SKIP_DEPS:-0}" != 1 ]]; then
  scripts/deps.sh
fi

failed=()
summary=()

echo "== sanitize.sh: build ($build_dir)"
start=$SECONDS
SKIP_DEPS=1 BUILD_DIR="$build_dir" scripts/build.sh \
  -DCMAKE_CXX_COMPILER=clang++-14 \
  -DQUARK_SANITIZE=address,undefined \
  -DQUARK_WERROR=ON \
  -DQUARK_BUILD_FUZZERS=ON \
  -DQUARK_BUILD_FAULT_TESTS=OFF \
  -DQUARK_BUILD_BENCH=OFF
summary+=("build: $((SECONDS - start)) s")

# ------------------------------------------------------------------ ctest
if [[ "${SANITIZE_TESTS:-1}" != 0 ]]; then
  echo "== sanitize.sh: ctest under ASan+UBSan (all but labels fault and docs)"
  start=$SECONDS
  rm -rf "$reports"
  mkdir -p "$reports"
  ctest_rc=0
  ASAN_OPTIONS="$asan_base:log_path=$reports/asan" \
    UBSAN_OPTIONS="$ubsan_base:log_path=$reports/ubsan" \
    ctest --test-dir "$build_dir" --output-on-failure --no-tests=error \
    --timeout "${TEST_TIMEOUT:-600}" -LE "fault|docs" 2>&1 |
    tee "$build_dir/sanitize-ctest.log" || ctest_rc=$?
  ctest_line=$(grep -E 'tests passed|No tests were found' \
    "$build_dir/sanitize-ctest.log" | tail -n 1 || true)
  summary+=("ctest: ${ctest_line:-no summary printed} ($((SECONDS - start)) s)")
  ((ctest_rc == 0)) || failed+=("ctest (exit $ctest_rc)")
  shopt -s nullglob
  found=("$reports"/*)
  shopt -u nullglob
  if ((${#found[@]} > 0)); then
    for report in "${found[@]}"; do
      echo "---- $report"
      cat "$report"
    done
    failed+=("sanitizer reports")
    summary+=("sanitizers: ${#found[@]} report(s) in $reports")
  else
    summary+=("sanitizer reports: none")
  fi
fi

# ------------------------------------------------------------------- fuzz
if ((fuzz_seconds > 0)); then
  echo "== sanitize.sh: controller_inbound_fuzz for $fuzz_seconds s"
  fuzzer="$build_dir/bin/controller_inbound_fuzz"
  fuzz_dir="$build_dir/fuzz"
  # Seeds are made afresh from the current protocol; the corpus grows
  # across local runs (the build directory keeps it) and starts from the
  # seeds in a clean clone.
  rm -rf "$fuzz_dir/seeds"
  mkdir -p "$fuzz_dir/corpus" "$fuzz_dir/artifacts"
  "$fuzzer" --make-seeds="$fuzz_dir/seeds"
  fuzz_rc=0
  # Reports go to stderr here: libFuzzer prints them with the input it
  # saved in artifacts/. -entropic=0: with the enroll path, libFuzzer's
  # entropic bookkeeping took three quarters of the time (perf); without
  # it twice the inputs run, and coverage grows as fast.
  ASAN_OPTIONS="$asan_base" UBSAN_OPTIONS="$ubsan_base" \
    "$fuzzer" -max_total_time="$fuzz_seconds" -max_len=16384 -timeout=20 \
    -entropic=0 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$fuzz_dir/artifacts/" \
    "$fuzz_dir/corpus" "$fuzz_dir/seeds" >"$fuzz_dir/fuzz.log" 2>&1 ||
    fuzz_rc=$?
  tail -n 40 "$fuzz_dir/fuzz.log"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$fuzz_dir/fuzz.log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$fuzz_dir/fuzz.log")
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$fuzz_dir/fuzz.log" |
    tail -n 1 || true)
  if ((fuzz_rc == 0)); then
    summary+=("fuzz: ${runs:-?} inputs in $fuzz_seconds s (${speed:-?}/s), ${cov:-no coverage line}")
  else
    failed+=("fuzz (exit $fuzz_rc)")
    summary+=("fuzz: FINDING after ${runs:-?} inputs, exit $fuzz_rc; log $fuzz_dir/fuzz.log, input in $fuzz_dir/artifacts/")
  fi
fi

echo
echo "== sanitize.sh summary"
printf '%s\n' "${summary[@]}"
if ((${#failed[@]} > 0)); then
  echo "sanitize: FAILED: ${failed[*]}"
  exit 1
fi
joined=$(printf '%s; ' "${summary[@]}")
echo "sanitize: all clean (${joined%; })"
