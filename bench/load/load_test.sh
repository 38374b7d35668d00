#!/usr/bin/env bash
# Controller load test (issue 3, "Bounded resources"): one quark-controller
# on loopback against WORKERS simulated workers (quark-loadgen, one process,
# fake sieve) and ~100,000 tasks, sampling the controller's memory (VmRSS,
# VmHWM), CPU and API latency (`quark nodes`, `quark jobs`); plus a real
# quark-worker's memory for a few credit settings.
#
# Phases, each printed as it ends:
#   idle      controller just started, no job, no worker
#   jobs      JOBS small jobs count [0, 1e7] submitted: memory per job
#   worker    one real quark-worker --threads=1 counting [0, WORKER_HI],
#             once per value in WORKER_CREDITS: its peak RSS
#   queued    a job of ~100,000 tasks submitted, no worker: tasks are cut
#             lazily, so this is one job record, not 100,000 tasks
#   steady    WORKERS simulated workers, CREDITS each, FAKE_TASK_MS per
#             task: WORKERS x CREDITS leases outstanding, STEADY_S seconds
#   flood     the same workers answering at once (fake task 0 ms): the
#             controller's maximum task rate, FLOOD_S seconds
#
# Usage: bench/load/load_test.sh
#   WORKERS=1000 CREDITS=2 FAKE_TASK_MS=2000 STEADY_S=60 FLOOD_S=20
#   SAMPLE_S=2 JOBS=1000 WORKER_CREDITS="2 16" WORKER_HI=2e10
#   HI=1e16    the big job is `count 0 HI`: the controller's minimum task is
#              max(1e7, 1000 sqrt(HI)) numbers (controller/chunk_policy.h),
#              so 1e16 gives 1e16 / 1e11 = 100,000 tasks
#   FLOOD_HI=1e18  the flood's own job, 1e18 / 1e12 = 1,000,000 tasks, so
#              that it does not run out of work
#   PERF=1     record `perf record -g` of the controller during the flood
#   HEARTBEAT_MS=1000  the controller's --heartbeat_ms
#   BUILD_DIR  Release build directory (default build-load)
#   COMMIT     label printed for the source (default: git rev-parse HEAD)
#   KEEP=1     keep the run directory (logs, perf.data)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

workers=${WORKERS:-1000}
credits=${CREDITS:-2}
fake_task_ms=${FAKE_TASK_MS:-2000}
steady_s=${STEADY_S:-60}
flood_s=${FLOOD_S:-20}
sample_s=${SAMPLE_S:-2}
jobs=${JOBS:-1000}
worker_credits=${WORKER_CREDITS:-2 16}
worker_hi=${WORKER_HI:-2e10}
hi=${HI:-1e16}
flood_hi=${FLOOD_HI:-1e18}
build_dir=${BUILD_DIR:-build-load}
heartbeat_ms=${HEARTBEAT_MS:-1000}

# Sockets: the controller needs one fd per worker connection (two with the
# collector), the load generator two per simulated worker (socket mailbox
# and connection).
need_fds=$((4 * workers + 256))
if (($(ulimit -n) < need_fds)); then
  ulimit -n "$need_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
if (($(ulimit -n) < need_fds)); then
  quark_log "ulimit -n is $(ulimit -n), below the $need_fds that $workers workers need"
  exit 1
fi

cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DQUARK_BUILD_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc)" \
  --target quark-controller quark quark-worker quark-loadgen >/dev/null
bin="$repo/$build_dir/bin"
[[ "$build_dir" == /* ]] && bin="$build_dir/bin"

run=$(mktemp -d "${TMPDIR:-/tmp}/quark-load.XXXXXX")
pids=()
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if ((${#pids[@]} > 0)); then quark_stop 20 "${pids[@]}"; fi
  if [[ "${KEEP:-0}" == 1 ]]; then quark_log "kept $run"; else rm -rf "$run"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

base=$(quark_pick_base)
control="tcp://127.0.0.1:$base"
api="tcp://127.0.0.1:$((base + 2))"
"$bin/quark-controller" --control="$control" --http= --collect="tcp://127.0.0.1:$((base + 1))" \
  --api="$api" --state_dir="$run/state" --log_level=notice --heartbeat_ms="$heartbeat_ms" \
  </dev/null >"$run/controller.log" 2>&1 &
controller=$!
pids+=("$controller")
quark_wait_log "$controller" "$run/controller.log" 'controller ready' 15
quark() { "$bin/quark" --controller="$api" "$@"; }

# kB of VmRSS or VmHWM of PID.
mem_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# Clock ticks a second (quark_cpu_ticks counts in them).
hz=$(getconf CLK_TCK)
now_ms() { date +%s%3N; }
# ms that `quark ARGS` takes; its output goes to $run/api.out.
api_ms() {
  local t0
  t0=$(now_ms)
  quark --timeout=30s "$@" >"$run/api.out" 2>&1 || echo "api $* failed" >>"$run/errors"
  echo $(($(now_ms) - t0))
}
count_nodes() { quark --timeout=30s --json nodes 2>/dev/null | grep -o '"name":' | wc -l; }
job_field() {
  quark --timeout=30s --json job "$1" | grep -o "\"$2\":[^,}]*" | tr -d '"' | cut -d: -f2
}
phase() {
  printf '%-8s controller VmRSS %7s MiB  VmHWM %7s MiB  %s\n' "$1" \
    "$(mib "$(mem_kb "$controller" VmRSS)")" "$(mib "$(mem_kb "$controller" VmHWM)")" "${2:-}"
}

echo "quark-controller load test: $workers simulated workers x $credits credits"
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)," \
  "$(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo)"
echo "commit: ${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}," \
  "load average before: $(cut -d' ' -f1-3 /proc/loadavg), ulimit -n $(ulimit -n)"
sleep 1
phase idle "api: nodes $(api_ms nodes) ms, jobs $(api_ms jobs) ms"

# --- Many jobs, on a fresh heap: a job record stays in memory for good
# (finished ones too), so this is the cost per job ever submitted.
before=$(mem_kb "$controller" VmRSS)
for ((i = 0; i < jobs; i++)); do quark submit count 0 1e7 >/dev/null; done
after=$(mem_kb "$controller" VmRSS)
phase jobs "$jobs jobs (queued, no worker): +$(mib $((after - before))) MiB," \
  "$(((after - before) * 1024 / (jobs > 0 ? jobs : 1))) bytes/job;" \
  "api jobs $(api_ms jobs) ms"

# --- A real worker: its memory is the sieve's plus a queue of <= credits
# small Assign messages.
for c in $worker_credits; do
  "$bin/quark-worker" --controller="$control" --name="real-c$c" --threads=1 \
    --credits="$c" --log_level=notice </dev/null >"$run/worker-$c.log" 2>&1 &
  worker=$!
  pids+=("$worker")
  quark_wait_nodes "$bin/quark" "$api" 30 "real-c$c"
  t0=$(now_ms)
  quark --timeout=30s submit count 0 "$worker_hi" --wait >"$run/worker-job.out"
  printf 'worker   quark-worker --threads=1 --credits=%-2s count [0, %s] in %s ms:' \
    "$c" "$worker_hi" $(($(now_ms) - t0))
  printf ' VmRSS %s MiB, VmHWM %s MiB\n' "$(mib "$(mem_kb "$worker" VmRSS)")" \
    "$(mib "$(mem_kb "$worker" VmHWM)")"
  quark_stop 40 "$worker"
done
phase after-w

# --- ~100,000 tasks, lazily cut.
big=$(quark submit count 0 "$hi" | awk '{ print $2 }')
phase queued "job $big = count [0, $hi]: api nodes $(api_ms nodes) ms, jobs $(api_ms jobs) ms"

# sample SECONDS LABEL: every SAMPLE_S s, a line of controller memory, CPU
# share, API latency, and tasks merged; a summary line at the end.
sample() {
  local seconds=$1 label=$2 deadline t0 c0 d0 t1 c1 d1 cpu n_ms j_ms
  local -a rss=() cpus=() nodes_ms=() jobs_ms=()
  deadline=$((SECONDS + seconds))
  t0=$(now_ms) c0=$(quark_cpu_ticks "$controller") d0=$(job_done)
  local start_t=$t0 start_c=$c0 start_d=$d0
  printf '  %6s %9s %9s %6s %9s %9s %9s\n' t_s rss_MiB hwm_MiB cpu_% nodes_ms jobs_ms tasks/s
  while ((SECONDS < deadline)); do
    sleep "$sample_s"
    n_ms=$(api_ms nodes)
    j_ms=$(api_ms jobs)
    t1=$(now_ms) c1=$(quark_cpu_ticks "$controller") d1=$(job_done)
    cpu=$(awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) -v hz="$hz" \
      'BEGIN { printf "%.0f", 100 * c / hz / (t / 1000) }')
    rss+=("$(mem_kb "$controller" VmRSS)") cpus+=("$cpu") nodes_ms+=("$n_ms") jobs_ms+=("$j_ms")
    printf '  %6.1f %9s %9s %6s %9s %9s %9s\n' "$(((t1 - start_t) / 100))e-1" \
      "$(mib "${rss[-1]}")" "$(mib "$(mem_kb "$controller" VmHWM)")" "$cpu" "$n_ms" "$j_ms" \
      "$(awk -v d=$((d1 - d0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.0f", d / (t / 1000) }')"
    t0=$t1 c0=$c1 d0=$d1
  done
  summary "$label" "$start_t" "$start_c" "$start_d"
  echo "  RSS MiB min/max: $(printf '%s\n' "${rss[@]}" | sort -n | sed -n '1p;$p' |
    awk '{ printf "%s%.1f", (NR > 1 ? " / " : ""), $1 / 1024 }')," \
    "API ms median/max: nodes $(stats "${nodes_ms[@]}"), jobs $(stats "${jobs_ms[@]}")"
}
job_done() {
  local total=0 id
  for id in "${watched[@]}"; do total=$((total + $(job_field "$id" tasks_done))); done
  echo "$total"
}
summary() {
  local t1 c1 d1
  t1=$(now_ms) c1=$(quark_cpu_ticks "$controller") d1=$(job_done)
  phase "$1" "$(awk -v c=$((c1 - $3)) -v t=$((t1 - $2)) -v d=$((d1 - $4)) -v hz="$hz" \
    'BEGIN { printf "CPU %.0f%% of one core, %.0f tasks/s over %.0f s", 100 * c / hz / (t / 1000), d / (t / 1000), t / 1000 }')"
}
stats() {
  printf '%s\n' "$@" | sort -n |
    awk '{ v[NR] = $1 } END { printf "%s/%s", v[int((NR + 1) / 2)], v[NR] }'
}
watched=("$big")

# --- WORKERS simulated workers, FAKE_TASK_MS per task.
reported=$((fake_task_ms > 2000 ? fake_task_ms : 2000))
start_loadgen() {
  "$bin/quark-loadgen" --controller="$control" --workers="$workers" --credits="$credits" \
    --fake_task_ms="$1" --reported_ms="$reported" --report_s=5 \
    </dev/null >"$run/loadgen-$2.out" 2>"$run/loadgen-$2.err" &
  loadgen=$!
  pids+=("$loadgen")
}
t0=$(now_ms)
start_loadgen "$fake_task_ms" steady
deadline=$((SECONDS + 120))
while (($(count_nodes) < workers)); do
  if ((SECONDS >= deadline)) || ! kill -0 "$loadgen" 2>/dev/null; then
    quark_log "only $(count_nodes) of $workers workers registered; loadgen:"
    tail -n 5 "$run/loadgen-steady.out" "$run/loadgen-steady.err" >&2
    exit 1
  fi
  sleep 0.5
done
phase joined "$workers workers registered in $(($(now_ms) - t0)) ms;" \
  "loadgen VmRSS $(mib "$(mem_kb "$loadgen" VmRSS)") MiB"
echo "steady: $workers workers x $credits credits, $fake_task_ms ms per task (reported $reported ms)"
sample "$steady_s" steady
echo "  loadgen: $(tail -n 1 "$run/loadgen-steady.out")"
quark_stop 20 "$loadgen"

# --- Flood: the same number of workers, answering at once.
second=$(quark submit count 0 "$flood_hi" | awk '{ print $2 }')
watched=("$big" "$second")
start_loadgen 0 flood
if [[ "${PERF:-0}" == 1 ]]; then
  perf record -g -o "$run/perf.data" -p "$controller" -- sleep "$flood_s" \
    >/dev/null 2>&1 &
  perf_pid=$!
fi
echo "flood: $workers workers x $credits credits, 0 ms per task (reported $reported ms)"
sample "$flood_s" flood
echo "  loadgen: $(tail -n 1 "$run/loadgen-flood.out")"
if [[ -n "${perf_pid:-}" ]]; then
  wait "$perf_pid" || true
  perf report -i "$run/perf.data" --no-children --percent-limit 2 --stdio 2>/dev/null |
    grep -E '^ +[0-9.]+%' | head -n 15 | sed 's/^/  perf: /'
fi
quark_stop 20 "$loadgen"
for id in "$big" "$second"; do quark cancel "$id" >/dev/null || true; done

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -s "$run/errors" ]]; then
  echo "API errors: $(sort "$run/errors" | uniq -c | tr '\n' ';')"
fi
echo "controller log: $(grep -c '^<[0-4]>' "$run/controller.log") warnings or errors;" \
  "$(grep -c 'node lost' "$run/controller.log") nodes lost"
