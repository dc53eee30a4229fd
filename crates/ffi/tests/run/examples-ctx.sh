#!/usr/bin/env bash
# The batteries-included layer's examples under AddressSanitizer, against each other:
#  - echo-server with client (text, UTF-8), ending after N connections and on SIGTERM;
#  - chat with two clients: a greeting for each, a message relayed from one to the other.
# Servers print the port they bound (PORT 0), which this script reads; every process it starts
# is stopped by its PID. Run by scripts/c-api with BIN and ROOT exported.
set -euo pipefail
: "${BIN:?BIN is exported by scripts/c-api}"
ASAN="$BIN/asan"
WORK="$(mktemp -d)"
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "examples-ctx: $*" >&2
  local f
  for f in "$WORK"/*; do
    [[ -f "$f" ]] && { echo "--- $(basename "$f")"; cat "$f"; } >&2
  done
  exit 1
}

# start NAME COMMAND...: runs a server in the background; sets PID and PORT once it listens.
start() {
  local name="$1"
  shift
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PID=$!
  PIDS+=("$PID")
  PORT=""
  for _ in $(seq 200); do
    PORT="$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/$name.out")"
    [[ -n "$PORT" ]] && return 0
    kill -0 "$PID" 2>/dev/null || fail "$name exited before listening"
    sleep 0.05
  done
  fail "$name did not listen"
}

# finish NAME PID: waits for a server to exit on its own, with status 0.
finish() {
  local name="$1" pid="$2" status=0
  for _ in $(seq 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$pid" 2>/dev/null && fail "$name did not exit"
  wait "$pid" || status=$?
  [[ $status -eq 0 ]] || fail "$name exited with $status"
}

# expect FILE TEXT: FILE has a line that is exactly TEXT.
expect() {
  grep -qxF -- "$2" "$1" || fail "$(basename "$1") lacks the line '$2'"
}

# Echo: two clients, then the server exits by itself (N = 2).
start echo "$ASAN/echo-server" 0 2
url="ws://127.0.0.1:$PORT/any/path?q=1"
"$ASAN/client" "$url" "hello sockeye" >"$WORK/client1.out" 2>"$WORK/client1.err" || fail "client 1 failed"
expect "$WORK/client1.out" "hello sockeye"
"$ASAN/client" "$url" "héllo ✓ ünïcode" >"$WORK/client2.out" 2>"$WORK/client2.err" || fail "client 2 failed"
expect "$WORK/client2.out" "héllo ✓ ünïcode"
finish echo-server "$PID"

# Echo without N: stopped by SIGTERM, still exit 0 with no leak.
start echo-term "$ASAN/echo-server" 0
"$ASAN/client" "ws://127.0.0.1:$PORT/" "once" >"$WORK/client3.out" 2>"$WORK/client3.err" || fail "client 3 failed"
expect "$WORK/client3.out" "once"
kill -TERM "$PID"
finish "echo-server (SIGTERM)" "$PID"

# A client against a port where nothing listens fails with a message.
if "$ASAN/client" "ws://127.0.0.1:1/" "x" >"$WORK/refused.out" 2>"$WORK/refused.err"; then
  fail "client succeeded against a closed port"
fi
grep -q "SOCKEYE_ERR_IO" "$WORK/refused.err" || fail "refused client did not say SOCKEYE_ERR_IO"

# Chat: A joins and waits for B's line; B joins, says it, reads its greeting.
start chat "$ASAN/chat" 0 2
chat_pid="$PID"
url="ws://127.0.0.1:$PORT/room"
"$ASAN/client" "$url" "a is here" "hello from b" >"$WORK/a.out" 2>"$WORK/a.err" &
a_pid=$!
PIDS+=("$a_pid")
for _ in $(seq 200); do
  grep -q '^joined ' "$WORK/chat.out" && break
  sleep 0.05
done
grep -q '^joined ' "$WORK/chat.out" || fail "A never joined"
"$ASAN/client" "$url" "hello from b" "welcome, 2 online" >"$WORK/b.out" 2>"$WORK/b.err" || fail "client B failed"
expect "$WORK/b.out" "welcome, 2 online"
wait "$a_pid" || fail "client A failed"
expect "$WORK/a.out" "welcome, 1 online"
expect "$WORK/a.out" "hello from b"
finish chat "$chat_pid"
[[ "$(grep -c '^left ' "$WORK/chat.out")" -eq 2 ]] || fail "chat did not see both leave"

echo "examples-ctx: echo-server, client and chat passed under ASan"
