#!/usr/bin/env bash
# Before and after: `sockeye serve` built from two commits, over wss:// and
# with permessage-deflate, each scenario run against both servers in turn
# (alternated) REPS times, with one load generator (the newer build's
# `sockeye bench`). Prints a line per run and a table of the server's CPU
# per echo, median (range), with the ratio before ÷ after (> 1: the newer
# build spends less).
#
# The server runs pinned to core 0 (SERVER_CPUS) and the load generator to
# core 1 (BENCH_CPUS). A throwaway certificate is made with openssl.
# Loopback only, ports from 9441 up; every server started here is stopped
# by its PID.
#
# Usage: benches/ab.sh BEFORE_BINARY AFTER_BINARY [OUT.jsonl]
#   e.g. build the older commit in a worktree, then
#        benches/ab.sh /tmp/old/target/release/sockeye target/release/sockeye
# Environment: REPS (3), DURATION (4), WARMUP (1), SERVER_CPUS, BENCH_CPUS
set -euo pipefail
if [[ $# -lt 2 ]]; then
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
BEFORE="$1"
AFTER="$2"
OUT="${3:-$(mktemp "${TMPDIR:-/tmp}/sockeye-ab.XXXXXX.jsonl")}"
REPS="${REPS:-3}"
DURATION="${DURATION:-4}"
WARMUP="${WARMUP:-1}"
SERVER_CPUS="${SERVER_CPUS:-0}"
BENCH_CPUS="${BENCH_CPUS:-1}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sockeye-ab.XXXXXX")"
SERVER=""
cleanup() {
  if [[ -n "$SERVER" ]]; then
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
"$(dirname "${BASH_SOURCE[0]}")/selfsigned.sh" "$WORK"

# name|scheme|bench arguments
SCENARIOS=(
  "tls-small|wss|-c 100 -s 16 -n 1"
  "tls-pipelined|wss|-c 100 -s 16 -n 16"
  "tls-large|wss|-c 10 -s 64k --binary"
  "deflate-1k|ws|-c 100 -s 1k -n 1 --deflate"
  "deflate-pipelined|ws|-c 100 -s 1k -n 16 --deflate"
  "deflate-64k|ws|-c 10 -s 64k --deflate"
)

# run NAME SCHEME ARGS WHICH BINARY REP PORT: one server, one bench run.
run() {
  local name=$1 scheme=$2 args=$3 which=$4 binary=$5 rep=$6 port=$7
  local tls=() ca=()
  if [[ "$scheme" == wss ]]; then
    tls=(--tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem")
    ca=(--ca "$WORK/cert.pem")
  fi
  taskset -c "$SERVER_CPUS" "$binary" serve "127.0.0.1:$port" "${tls[@]}" >"$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 50); do
    grep -q 'listening on' "$WORK/server.log" && break
    sleep 0.1
  done
  local result
  # shellcheck disable=SC2086 # the scenario's arguments are words
  result="$(taskset -c "$BENCH_CPUS" "$AFTER" bench echo "$scheme://127.0.0.1:$port/" $args \
    "${ca[@]}" -d "$DURATION" -w "$WARMUP" --server-pid "$SERVER" 2>/dev/null | tail -1)"
  kill "$SERVER"
  wait "$SERVER" 2>/dev/null || true
  SERVER=""
  printf '{"scenario":"%s","server":"%s","rep":%s,"result":%s}\n' \
    "$name" "$which" "$rep" "${result:-null}" >>"$OUT"
  echo "$name $which run $rep done"
}

port=9440
for rep in $(seq "$REPS"); do
  for scenario in "${SCENARIOS[@]}"; do
    IFS='|' read -r name scheme args <<<"$scenario"
    for which in before after; do
      binary="$BEFORE"
      [[ "$which" == after ]] && binary="$AFTER"
      port=$((port + 1))
      run "$name" "$scheme" "$args" "$which" "$binary" "$rep" "$port"
    done
  done
done

python3 - "$OUT" <<'EOF'
import json, statistics, sys
from collections import defaultdict
runs = defaultdict(list)
order = []
for line in open(sys.argv[1]):
    row = json.loads(line)
    if row["scenario"] not in order:
        order.append(row["scenario"])
    if row["result"]:
        runs[(row["scenario"], row["server"])].append(row["result"])
def cell(results):
    ns = [r["cpu"]["server_ns_per_msg"] for r in results if r["cpu"]["server_ns_per_msg"]]
    if not ns:
        return None, "—"
    return statistics.median(ns), f"{statistics.median(ns):,.0f} ({min(ns):,.0f}–{max(ns):,.0f})"
print("\n| scenario | before: server ns per echo | after | before ÷ after |")
print("|---|---:|---:|---:|")
for name in order:
    before, b = cell(runs[(name, "before")])
    after, a = cell(runs[(name, "after")])
    ratio = f"{before / after:.2f}×" if before and after else "—"
    print(f"| {name} | {b} | {a} | {ratio} |")
print(f"\nraw: {sys.argv[1]}")
EOF
