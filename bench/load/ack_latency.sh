#!/usr/bin/env bash
# Ack latency of the durable controller (issue 3): a result is acknowledged
# to its worker only after it is committed (SQLite WAL, synchronous=FULL);
# commits are batched per event-loop iteration. This measures, on a state
# directory on this machine's disk:
#
#   fsync     the disk alone: 4 KiB writes with O_DSYNC (dd), appending to a
#             new file and overwriting an existing one: syncs/s
#   real      REAL_WORKERS simulated workers x REAL_CREDITS credits, tasks
#             of REAL_MIN_MS..REAL_MAX_MS (uniform): ack latency
#   flood-N   N simulated workers (each value in FLOOD_WORKERS), 0 ms tasks
#             reported as 2000 ms so that tasks stay at their minimum size:
#             acked results/s and ack latency
#
# For each load phase: quark-loadgen's final line (results acked per second,
# ack latency p50/p90/p99/max from the first push of a result to its Ack,
# resends), and from the controller's debug lines `committed jobs=N
# tasks=M ms=X`: commits/s, tasks per commit, commit time; and the
# controller's VmRSS every SAMPLE_S s. Each phase has its own controller and
# state directory; the first WARMUP_S s of each are left out.
#
# Usage: bench/load/ack_latency.sh
#   REAL_WORKERS=10 REAL_CREDITS=2 REAL_MIN_MS=50 REAL_MAX_MS=200 REAL_S=60
#   FLOOD_WORKERS="100 1000" FLOOD_S=30 LONG_S=90  (the last flood runs LONG_S)
#   WARMUP_S=5 SAMPLE_S=5 FSYNC_N=1000 PHASES="fsync real flood fsync"
#                  (the disk is measured before and after: a shared disk varies)
#   STATE_PARENT   where the state directories go (default ${TMPDIR:-/tmp});
#                  refused when it is tmpfs or ramfs unless ALLOW_TMPFS=1
#   BUILD_DIR      Release build directory (default build-load)
#   LOG_LEVEL=debug  the controller's; the commit figures need debug
#   KEEP=1         keep the run directory (logs)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

real_workers=${REAL_WORKERS:-10}
real_credits=${REAL_CREDITS:-2}
real_min_ms=${REAL_MIN_MS:-50}
real_max_ms=${REAL_MAX_MS:-200}
real_s=${REAL_S:-60}
flood_workers=${FLOOD_WORKERS:-100 1000}
flood_s=${FLOOD_S:-30}
long_s=${LONG_S:-90}
warmup_s=${WARMUP_S:-5}
sample_s=${SAMPLE_S:-5}
fsync_n=${FSYNC_N:-1000}
phases=${PHASES:-fsync real flood fsync}
build_dir=${BUILD_DIR:-build-load}
log_level=${LOG_LEVEL:-debug}
state_parent=${STATE_PARENT:-${TMPDIR:-/tmp}}

max_workers=$real_workers
for n in $flood_workers; do ((n > max_workers)) && max_workers=$n; done
need_fds=$((4 * max_workers + 256))
if (($(ulimit -n) < need_fds)); then
  ulimit -n "$need_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
if (($(ulimit -n) < need_fds)); then
  quark_log "ulimit -n is $(ulimit -n), below the $need_fds that $max_workers workers need"
  exit 1
fi

cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DQUARK_BUILD_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc)" \
  --target quark-controller quark quark-loadgen >/dev/null
bin="$repo/$build_dir/bin"
[[ "$build_dir" == /* ]] && bin="$build_dir/bin"

run=$(mktemp -d "$state_parent/quark-ack.XXXXXX")
fs_type=$(findmnt -no FSTYPE -T "$run" 2>/dev/null || stat -f -c %T "$run")
fs_source=$(findmnt -no SOURCE -T "$run" 2>/dev/null || echo unknown)
case "$fs_type" in
  tmpfs | ramfs)
    if [[ "${ALLOW_TMPFS:-0}" != 1 ]]; then
      rm -rf "$run"
      quark_log "$state_parent is $fs_type: fsync costs nothing there; set STATE_PARENT to a disk"
      exit 1
    fi
    ;;
esac

pids=()
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if ((${#pids[@]} > 0)); then quark_stop 20 "${pids[@]}"; fi
  if [[ "${KEEP:-0}" == 1 ]]; then quark_log "kept $run"; else rm -rf "$run"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mem_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
hz=$(getconf CLK_TCK)
now_ms() { date +%s%3N; }
# Sorted numbers on stdin -> "p50 p90 p99 max" (nearest rank).
pcts() {
  awk '{ v[NR] = $1 }
    function at(q,  r) { r = int(q * NR); if (r < q * NR) r++; if (r < 1) r = 1; return v[r] }
    END { if (NR == 0) { print "- - - -"; exit }
          printf "%s %s %s %s", at(0.5), at(0.9), at(0.99), v[NR] }'
}

echo "quark ack latency: controller state on $fs_source ($fs_type), $run"
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)," \
  "$(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo)," \
  "kernel $(uname -r)"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(
  git diff --quiet HEAD -- . 2>/dev/null || echo ' (working tree differs)'),"\
  "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- The disk alone.
fsync_phase() {
  local f="$run/fsync.bin" out
  rm -f "$f"
  out=$(dd if=/dev/zero of="$f" bs=4k count="$fsync_n" oflag=dsync 2>&1 | tail -n 1)
  echo "fsync    dd bs=4k count=$fsync_n oflag=dsync, appending:   $(
    awk -v n="$fsync_n" -F, '{ split($3, s, " "); printf "%.0f syncs/s (%.2f ms each)", n / s[1], 1000 * s[1] / n }' <<<"$out")"
  out=$(dd if=/dev/zero of="$f" bs=4k count="$fsync_n" oflag=dsync conv=notrunc 2>&1 | tail -n 1)
  echo "fsync    dd bs=4k count=$fsync_n oflag=dsync, overwriting: $(
    awk -v n="$fsync_n" -F, '{ split($3, s, " "); printf "%.0f syncs/s (%.2f ms each)", n / s[1], 1000 * s[1] / n }' <<<"$out")"
  rm -f "$f"
}

# load_phase NAME WORKERS CREDITS MIN_MS MAX_MS SECONDS HI
load_phase() {
  local name=$1 workers=$2 credits=$3 min_ms=$4 max_ms=$5 seconds=$6 hi=$7
  local dir="$run/$name" base control api controller loadgen reported
  local from to t_from t_to c0 c1 g0 g1 t0 t1 rss=() deadline
  mkdir -p "$dir"
  base=$(quark_pick_base)
  control="tcp://127.0.0.1:$base"
  api="tcp://127.0.0.1:$((base + 2))"
  "$bin/quark-controller" --control="$control" --http= --collect="tcp://127.0.0.1:$((base + 1))" \
    --api="$api" --state_dir="$dir/state" --log_level="$log_level" \
    </dev/null >"$dir/controller.log" 2>&1 &
  controller=$!
  pids+=("$controller")
  quark_wait_log "$controller" "$dir/controller.log" 'controller ready' 15
  "$bin/quark" --controller="$api" submit count 0 "$hi" >/dev/null
  # Every task reports 2 s of compute so that the chunk policy keeps tasks
  # at their minimum size (1e11 numbers on 1e16) and the job lasts: reported
  # as taken, 50-200 ms, tasks would grow and 1e16 end in ~300 tasks.
  reported=2000
  "$bin/quark-loadgen" --controller="$control" --workers="$workers" --credits="$credits" \
    --fake_task_ms="$min_ms" --fake_task_max_ms="$max_ms" --reported_ms="$reported" \
    --duration="$seconds" --warmup_s="$warmup_s" --report_s="$sample_s" \
    </dev/null >"$dir/loadgen.out" 2>"$dir/loadgen.err" &
  loadgen=$!
  pids+=("$loadgen")
  t0=$(now_ms)
  sleep "$warmup_s"
  from=$(wc -l <"$dir/controller.log") t_from=$(now_ms)
  c0=$(quark_cpu_ticks "$controller") g0=$(quark_cpu_ticks "$loadgen")
  echo "$name: $workers workers x $credits credits, tasks $min_ms..$max_ms ms" \
    "(reported $reported ms), $seconds s, first $warmup_s s left out"
  printf '  %6s %9s %9s\n' t_s rss_MiB hwm_MiB
  deadline=$((t0 + seconds * 1000 - 500))
  while (($(now_ms) + sample_s * 1000 <= deadline)); do
    sleep "$sample_s"
    rss+=("$(mem_kb "$controller" VmRSS)")
    printf '  %6.1f %9s %9s\n' "$((($(now_ms) - t0) / 100))e-1" "$(mib "${rss[-1]}")" \
      "$(mib "$(mem_kb "$controller" VmHWM)")"
  done
  while (($(now_ms) < deadline)); do sleep 0.1; done
  to=$(wc -l <"$dir/controller.log") t_to=$(now_ms)
  c1=$(quark_cpu_ticks "$controller") g1=$(quark_cpu_ticks "$loadgen")
  wait "$loadgen" || quark_log "loadgen exited with $?"
  t1=$((t_to - t_from))
  echo "  cpu: controller $(awk -v c=$((c1 - c0)) -v t="$t1" -v hz="$hz" \
    'BEGIN { printf "%.0f%%", 100 * c / hz / (t / 1000) }') of one core," \
    "loadgen $(awk -v c=$((g1 - g0)) -v t="$t1" -v hz="$hz" \
      'BEGIN { printf "%.0f%%", 100 * c / hz / (t / 1000) }')"
  echo "  loadgen: $(grep '^final' "$dir/loadgen.out" | tr ' ' '\n' |
    grep -E '^(acked_per_s|p50_ms|p90_ms|p99_ms|max_ms|resends|unknown_acks|dropped|send_errors|window_s)=' |
    tr '\n' ' ')"
  sed -n "$((from + 1)),${to}p" "$dir/controller.log" |
    sed -n 's/.*committed jobs=\([0-9]*\) tasks=\([0-9]*\) ms=\([0-9.e+-]*\).*/\2 \3/p' \
      >"$dir/commits"
  if [[ -s "$dir/commits" ]]; then
    echo "  commits: $(wc -l <"$dir/commits") in $((t1 / 1000)) s =" \
      "$(awk -v t="$t1" 'END { printf "%.0f", NR / (t / 1000) }' "$dir/commits")/s;" \
      "tasks/commit mean $(awk '{ s += $1 } END { printf "%.1f", s / NR }' "$dir/commits")," \
      "p50/p90/p99/max $(cut -d' ' -f1 "$dir/commits" | sort -n | pcts | tr ' ' /);" \
      "commit ms p50/p90/p99/max $(cut -d' ' -f2 "$dir/commits" | sort -g | pcts |
        awk '{ printf "%.2f/%.2f/%.2f/%.2f", $1, $2, $3, $4 }')," \
      "busy $(awk -v t="$t1" '{ s += $2 } END { printf "%.0f%%", 100 * s / t }' "$dir/commits")"
  else
    echo "  commits: none logged (LOG_LEVEL=$log_level; debug needed)"
  fi
  if ((${#rss[@]} > 0)); then
    echo "  controller VmRSS MiB first/last/max: $(mib "${rss[0]}") / $(mib "${rss[-1]}") /" \
      "$(printf '%s\n' "${rss[@]}" | sort -n | tail -n 1 | awk '{ printf "%.1f", $1 / 1024 }')," \
      "VmHWM $(mib "$(mem_kb "$controller" VmHWM)")"
  fi
  echo "  controller log: $(grep -c '^<[0-4]>' "$dir/controller.log" || true) warnings or errors," \
    "$(grep -c 'node lost' "$dir/controller.log" || true) nodes lost"
  quark_stop 20 "$controller"
}

for p in $phases; do
  case "$p" in
    fsync) fsync_phase ;;
    real)
      load_phase real "$real_workers" "$real_credits" "$real_min_ms" "$real_max_ms" \
        "$real_s" 1e16
      ;;
    flood)
      last=${flood_workers##* }
      for n in $flood_workers; do
        s=$flood_s
        [[ "$n" == "$last" ]] && s=$long_s
        load_phase "flood-$n" "$n" 2 0 0 "$s" 1e18
      done
      ;;
    *)
      quark_log "unknown phase $p (fsync, real, flood)"
      exit 2
      ;;
  esac
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
