#!/usr/bin/env bash
# shellcheck disable=SC2016  # backquotes in single quotes are Markdown, not expansions
# readme_test.sh BIN_DIR REPO_DIR: runs what README.md and docs/operations.md tell an operator to
# type, literally, and checks that it does what they say.
#
# - README's "Running a real cluster" code blocks, in order, from a directory where build/bin is
#   BIN_DIR, with HOME a fresh temporary directory: keygen, the CURVE controller, `token create`,
#   the worker joining with that token (found by its beacon, as on a LAN), then `quark nodes` and
#   the search, whose output must be the line the README shows under it.
# - Every sentence "`quark ... --wait` ... prints N" in README.md: the command's stdout is N.
# - Every `quark COMMAND ...` quoted in README.md and docs/operations.md, with its placeholders
#   (ID, NODE, ...) filled in from this cluster: it must not exit 2 (bad usage) or 3.
#
# It needs root: it runs in a network namespace of its own, so that the README's default ports
# (7700-7703, UDP 7700) meet nothing else on the machine, with a veth pair to broadcast the
# beacon on. Exits 77 (ctest: skipped) otherwise. Every process it starts is stopped by pid.
set -euo pipefail

bin_dir=$(realpath "$1")
repo=$(realpath "$2")
readme=$repo/README.md

say() { echo "readme_test: $*"; }
fail() {
  say "FAIL: $*"
  exit 1
}

if ((EUID != 0)); then
  say "needs root (a network namespace of its own); skipped"
  exit 77
fi
if [[ -z "${QUARK_README_TEST_NETNS:-}" ]]; then
  exec unshare --net env QUARK_README_TEST_NETNS=1 "$0" "$@"
fi

ip link set lo up
ip link add q0 type veth peer name q1
ip addr add 10.77.0.1/24 brd + dev q0
ip link set q0 up
ip link set q1 up

work=$(mktemp -d /tmp/quark-readme.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  # Nothing it started may outlive it.
  if pgrep -f -- "$work/" >/dev/null; then
    say "FAIL: processes of this test still running: $(pgrep -af -- "$work/" | head -n 3)"
    pkill -KILL -f -- "$work/" || true
    rm -rf "$work"
    exit 1
  fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/clone/build" "$work/home"
ln -s "$bin_dir" "$work/clone/build/bin"
export HOME=$work/home
unset QUARK_CONTROLLER
cd "$work/clone"
quark=build/bin/quark

# The lines of README's "Running a real cluster" code blocks, up to the next "## " section:
# "C command" or "O expected output of the command before".
steps=$(awk '
  /^## / { in_section = ($0 == "## Running a real cluster") }
  in_section && /^```/ { in_block = !in_block; next }
  in_section && in_block {
    line = $0
    if (line ~ /^\$ /) { print "C " substr(line, 3) }
    else if (line ~ /^build\/bin\//) { print "C " line }
    else if (line != "") { print "O " line }
  }' "$readme")
[[ -n "$steps" ]] || fail "no commands found under \"## Running a real cluster\" in README.md"

wait_for_node() {
  local deadline=$((SECONDS + 30))
  until "$quark" --json nodes 2>/dev/null | sed 's/"departed".*//' | grep -q '"name"'; do
    ((SECONDS < deadline)) || fail "no worker listed 30 s after it started"
    sleep 0.2
  done
}

token="" last_out="" last_cmd="" n=0 worker_started=0
while IFS= read -r step; do
  kind=${step:0:1} text=${step:2}
  if [[ $kind == O ]]; then
    [[ "$last_out" == "$text" ]] ||
      fail "\`$last_cmd\` printed '$last_out'; README.md shows '$text'"
    say "ok: \`$last_cmd\` printed $text, as README.md shows"
    continue
  fi
  command=${text%%#*}
  command=${command%"${command##*[![:space:]]}"}  # trailing blanks
  if [[ $command == *qk1_...* ]]; then
    [[ -n "$token" ]] || fail "\`$command\` needs a token, and none was made before it"
    command=${command//qk1_.../$token}
  fi
  n=$((n + 1))
  say "step $n: $command"
  if [[ $command == *quark-controller* || $command == *quark-worker* ]]; then
    # A daemon: README starts the controller with &, and the worker runs on another node.
    command=${command%&}
    # exec: the background job is the daemon itself, so that $! is its pid.
    eval "exec $command" >"$work/daemon-$n.log" 2>&1 &
    pids+=($!)
    sleep 0.5
    kill -0 "${pids[-1]}" 2>/dev/null ||
      fail "\`$command\` exited at once: $(cat "$work/daemon-$n.log")"
    [[ $command == *quark-worker* ]] && worker_started=1
    continue
  fi
  ((worker_started)) && wait_for_node
  rc=0
  last_out=$(eval "$command" 2>"$work/err") || rc=$?
  last_cmd=$command
  ((rc == 0)) || fail "\`$command\` exited $rc: $(cat "$work/err")"
  if [[ $command == *"token create"* ]]; then
    token=$last_out
    [[ $token == qk1_* ]] || fail "\`$command\` printed '$token', not a token"
  fi
done <<<"$steps"
((worker_started)) || fail "README's commands start no worker"
node=$("$quark" --json nodes | grep -o '"name": *"[^"]*"' | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/')
say "the worker joined as $node"

# "`quark submit count 100000 --wait`, which prints 9592" and the like.
while IFS= read -r claim; do
  command=$(sed -E 's/^`quark ([^`]*)`.*/\1/' <<<"$claim")
  want=$(grep -oE '[0-9]+$' <<<"$claim")
  got=$(eval "$quark $command") || fail "\`quark $command\` failed"
  [[ "$got" == "$want" ]] || fail "\`quark $command\` printed '$got'; README.md says $want"
  say "ok: \`quark $command\` printed $want, as README.md says"
done < <(grep -ohE '`quark [^`]*--wait`[^`.;]{0,20}prints `?[0-9]+' "$readme")

# Every command quoted in the docs parses and runs: its placeholders filled in from this cluster.
done_job=$("$quark" --json jobs | grep -o '"job_id": *"[0-9]*"' | head -n 1 | grep -oE '[0-9]+')
# "job N": running all along behind the others (priority -1), for cancel ID.
running=$("$quark" submit count 1e13 --priority -1)
running=${running#job }
checked=0
while IFS= read -r quoted; do
  command=${quoted#\`quark }
  command=${command%\`}
  case "$command" in
    approve* | reject* | "token revoke"* | submit) continue ;;  # need a pending node / destructive
  esac
  if [[ $command == cancel* ]]; then
    command=${command//ID/$running}
  else
    command=${command//ID/$done_job}
  fi
  command=${command//NODE/$node}
  command=${command//pi-3/$node}
  say "run: quark $command"
  rc=0
  out=$(eval "$quark $command" 2>&1) || rc=$?
  ((rc != 2 && rc != 3)) || fail "\`quark $command\` (from the docs' $quoted) exited $rc: $out"
  checked=$((checked + 1))
done < <(grep -ohE '`quark [^`]*`' "$readme" "$repo/docs/operations.md" | awk '!seen[$0]++')
"$quark" undrain "$node" >/dev/null
say "ok: $checked commands quoted in README.md and docs/operations.md run (none exits 2 or 3)"
say "passed"
