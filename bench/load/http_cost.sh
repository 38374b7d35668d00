#!/usr/bin/env bash
# What the controller's --http costs its event loop (issue 13): the same
# load (quark-loadgen's simulated workers) on three controllers in turn,
#
#   off      --http= : no HTTP server
#   idle     --http on, nobody reads it (the loop still renders /metrics
#            and /status.json once a second)
#   scraped  --http on, curl fetching /metrics every second (Prometheus at
#            a 1 s interval) and /status.json every 2 s (what the page
#            fetches): the controller's side of "watched" without a browser
#   watched  --http on, the status page open in headless chromium and
#            /metrics scraped every second with curl
#
# with KEPT_JOBS small jobs done beforehand (the history a controller
# keeps, up to 10,000) and QUEUED_JOBS waiting behind the measured one. For each: quark-loadgen's final line
# (results acked per second, ack latency p50/p90/p99/max from a result's
# first push to its Ack: the loop's latency as a worker sees it), the
# controller's CPU, the HTTP requests it answered, and what its loop spent
# making the pages (quark_http_publish_seconds).
#
# The browser and curl run at nice 19: on a real cluster they are on
# another machine, and here they must not take the loop's or the load
# generator's CPU. The state directory is on /dev/shm by default: this
# measures the loop, and a virtual disk's fsync stalls (ack_latency.sh)
# would hide it.
#
# Usage: bench/load/http_cost.sh
#   WORKERS=50 CREDITS=2 MIN_MS=50 MAX_MS=200 PHASE_S=40 WARMUP_S=5
#   KEPT_JOBS=10000 QUEUED_JOBS=0 PHASES="off idle scraped watched"
#   STATE_PARENT   where the state directories go (default /dev/shm)
#   BUILD_DIR      Release build directory (default build-load)
#   REBUILD=0      use BUILD_DIR's binaries as they are
#   KEEP=1         keep the run directory (logs)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

workers=${WORKERS:-50}
credits=${CREDITS:-2}
min_ms=${MIN_MS:-50}
max_ms=${MAX_MS:-200}
phase_s=${PHASE_S:-40}
warmup_s=${WARMUP_S:-5}
kept_jobs=${KEPT_JOBS:-10000}
queued_jobs=${QUEUED_JOBS:-0}
phases=${PHASES:-off idle scraped watched}
build_dir=${BUILD_DIR:-build-load}
chromium=${CHROMIUM:-/usr/bin/chromium}

if [[ ! -x "$chromium" ]] || ! command -v curl >/dev/null; then
  quark_log "needs $chromium and curl (apt-get install chromium curl)"
  exit 1
fi
if [[ ! -x "$build_dir/bin/quark-controller" ]] || [[ "${REBUILD:-1}" == 1 ]]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DQUARK_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build_dir" -j "$(nproc)" \
    --target quark-controller quark quark-loadgen >/dev/null
fi
bin="$repo/$build_dir/bin"
[[ "$build_dir" == /* ]] && bin="$build_dir/bin"

run=$(mktemp -d "${STATE_PARENT:-/dev/shm}/quark-http.XXXXXX")
pids=()
groups=()
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local g
  for g in "${groups[@]}"; do kill -- "-$g" 2>/dev/null || true; done
  if ((${#pids[@]} > 0)); then quark_stop 20 "${pids[@]}"; fi
  if [[ "${KEEP:-0}" == 1 ]]; then quark_log "kept $run"; else rm -rf "$run"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

hz=$(getconf CLK_TCK)

echo "quark --http cost: $workers workers x $credits credits, tasks $min_ms..$max_ms ms," \
  "$phase_s s a phase (first $warmup_s s left out), $kept_jobs jobs kept," \
  "$queued_jobs queued"
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)," \
  "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(
    git diff --quiet HEAD -- . 2>/dev/null || echo ' (working tree differs)'),"\
  "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# phase NAME
phase() {
  local name=$1 dir="$run/$1" base control api http_flag=() url controller loadgen
  local c0 c1 t0 t1 g scraper='' page='' requests=- publish=-
  mkdir -p "$dir"
  base=$(quark_pick_base)
  control="tcp://127.0.0.1:$base"
  api="tcp://127.0.0.1:$((base + 2))"
  url="http://127.0.0.1:$((base + 3))"
  if [[ "$name" == off ]]; then http_flag=(--http=); else http_flag=("--http=127.0.0.1:$((base + 3))"); fi
  "$bin/quark-controller" --control="$control" "${http_flag[@]}" \
    --collect="tcp://127.0.0.1:$((base + 1))" --api="$api" --state_dir="$dir/state" \
    </dev/null >"$dir/controller.log" 2>&1 &
  controller=$!
  pids+=("$controller")
  quark_wait_log "$controller" "$dir/controller.log" 'controller ready' 15
  # The kept jobs, done by a first fleet that leaves once they are.
  if ((kept_jobs > 0)); then
    for ((i = 0; i < kept_jobs; i++)); do
      "$bin/quark" --controller="$api" submit count 0 1000 >/dev/null
    done
    "$bin/quark-loadgen" --controller="$control" --workers="$workers" --credits="$credits" \
      --fake_task_ms=1 --name_prefix=history- </dev/null >"$dir/history.out" 2>&1 &
    loadgen=$!
    pids+=("$loadgen")
    for ((i = 0; i < 600; i++)); do
      "$bin/quark" --controller="$api" jobs | grep -q -E ' (queued|running) ' || break
      sleep 1
    done
    quark_stop 20 "$loadgen"
  fi
  # Then one that lasts, ahead of the queued ones: tasks report 2 s so
  # that they stay at their minimum size (as in ack_latency.sh).
  "$bin/quark" --controller="$api" submit count 0 1e16 --priority 1 >/dev/null
  for ((i = 0; i < queued_jobs; i++)); do
    "$bin/quark" --controller="$api" submit count 0 1000 >/dev/null
  done
  "$bin/quark-loadgen" --controller="$control" --workers="$workers" --credits="$credits" \
    --fake_task_ms="$min_ms" --fake_task_max_ms="$max_ms" --reported_ms=2000 \
    --duration="$phase_s" --warmup_s="$warmup_s" --report_s="$phase_s" \
    </dev/null >"$dir/loadgen.out" 2>"$dir/loadgen.err" &
  loadgen=$!
  pids+=("$loadgen")
  if [[ "$name" == scraped ]]; then
    # shellcheck disable=SC2016 # the inner script expands its own $1
    setsid nice -n 19 bash -c 'while :; do curl -s -o /dev/null "$1/status.json"; sleep 2; done' \
      page "$url" </dev/null >/dev/null 2>&1 &
    page=$!
    groups+=("$page")
  fi
  if [[ "$name" == watched ]]; then
    setsid nice -n 19 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
      --user-data-dir="$dir/chromium" --remote-debugging-port=0 "$url/" \
      </dev/null >"$dir/chromium.log" 2>&1 &
    page=$!
    groups+=("$page")
  fi
  if [[ "$name" == scraped || "$name" == watched ]]; then
    # shellcheck disable=SC2016 # the inner script expands its own $1
    setsid nice -n 19 bash -c 'while :; do curl -s -o /dev/null "$1/metrics"; sleep 1; done' \
      scrape "$url" </dev/null >/dev/null 2>&1 &
    scraper=$!
    groups+=("$scraper")
  fi
  sleep "$warmup_s"
  c0=$(quark_cpu_ticks "$controller") t0=$(date +%s%3N)
  [[ "$name" == off ]] || curl -s "$url/metrics" >"$dir/metrics.0"
  wait "$loadgen" || quark_log "loadgen exited with $?"
  c1=$(quark_cpu_ticks "$controller") t1=$(date +%s%3N)
  if [[ "$name" != off ]]; then
    curl -s "$url/metrics" >"$dir/metrics.1"
    requests=$(awk '$1 == "quark_http_requests_total" { print $2 }' "$dir/metrics.1")
    # Over the window only (the second scrape less the first): snapshots
    # taken, their mean, and the bucket bound that 99% are under.
    publish=$(awk -F'[ "]' '
      FNR == 1 { f++ }
      /^quark_http_publish_seconds_bucket/ {
        c[$2] += (f == 1 ? -$NF : $NF); if (f == 2) le[n++] = $2 }
      /^quark_http_publish_seconds_sum/ { sum += (f == 1 ? -$NF : $NF) }
      /^quark_http_publish_seconds_count/ { count += (f == 1 ? -$NF : $NF) }
      END { for (i = 0; i < n - 1 && c[le[i]] < 0.99 * count; i++) {}
            printf "%d snapshots, mean %.3f ms, 99%% under %s s", count,
              count ? 1000 * sum / count : 0, le[i] }' "$dir/metrics.0" "$dir/metrics.1")
  fi
  for g in $page $scraper; do kill -- "-$g" 2>/dev/null || true; done
  echo "$name: controller cpu $(awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) -v hz="$hz" \
    'BEGIN { printf "%.1f%%", 100 * c / hz / (t / 1000) }') of one core," \
    "http requests answered $requests"
  echo "  publish: $publish"
  echo "  loadgen: $(grep '^final' "$dir/loadgen.out" | tr ' ' '\n' |
    grep -E '^(acked_per_s|p50_ms|p90_ms|p99_ms|max_ms|resends|window_s)=' | tr '\n' ' ')"
  quark_stop 20 "$controller"
}

for p in $phases; do
  case "$p" in
    off | idle | scraped | watched) phase "$p" ;;
    *)
      quark_log "unknown phase $p (off, idle, scraped, watched)"
      exit 2
      ;;
  esac
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
