#!/usr/bin/env bash
# What TLS costs `sockeye serve`: the same echo scenarios over ws://, over
# wss:// with HTTP/1.1, and over wss:// with HTTP/2 (RFC 8441), in one run,
# with the ratio of each to ws://. Medians of REPS runs.
#
# The server runs pinned to core 0 (SERVER_CPUS) and the load generator to
# core 1 (BENCH_CPUS). A throwaway certificate is made with openssl in a
# temporary directory. Loopback only, ports 9401-9403; every server started
# here is stopped by its PID.
#
# Usage: benches/tls.sh            (DURATION, WARMUP, REPS, NO_BUILD as in compare.sh)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SOCKEYE="$ROOT/target/release/sockeye"
DURATION="${DURATION:-5}"
WARMUP="${WARMUP:-1}"
REPS="${REPS:-3}"
NO_BUILD="${NO_BUILD:-0}"
SERVER_CPUS="${SERVER_CPUS:-0}"
BENCH_CPUS="${BENCH_CPUS:-1}"

if [[ "$NO_BUILD" != 1 ]]; then
  cargo build --release -p sockeye-cli --manifest-path "$ROOT/Cargo.toml"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sockeye-tls-bench.XXXXXX")"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

"$(dirname "${BASH_SOURCE[0]}")/selfsigned.sh" "$WORK"

# start NAME PORT ARGS...: a server on 127.0.0.1:PORT, its PID in $WORK/NAME.pid.
start() {
  local name=$1 port=$2
  shift 2
  taskset -c "$SERVER_CPUS" "$SOCKEYE" serve "127.0.0.1:$port" "$@" \
    >"$WORK/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  echo "$pid" >"$WORK/$name.pid"
  for _ in $(seq 50); do
    grep -q 'listening on' "$WORK/$name.log" && return 0
    sleep 0.1
  done
  echo "tls.sh: $name did not start" >&2
  cat "$WORK/$name.log" >&2
  exit 1
}

start plain 9401 --no-deflate
start tls 9402 --no-deflate --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"

# One bench run; prints its JSON line.
bench() {
  local url=$1 pid=$2
  shift 2
  taskset -c "$BENCH_CPUS" "$SOCKEYE" bench echo "$url" --server-pid "$pid" \
    -d "$DURATION" -w "$WARMUP" --ca "$WORK/cert.pem" "$@" 2>/dev/null | tail -n 1
}

RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
SCENARIOS=(
  "small|-c 100 -s 16 -n 1"
  "pipelined|-c 100 -s 16 -n 16"
  "large|-c 10 -s 64k -n 1 --binary"
)
TRANSPORTS=(
  "ws|ws://127.0.0.1:9401/|plain|"
  "wss h1|wss://localhost:9402/|tls|"
  "wss h2|wss://localhost:9402/|tls|--http2"
)
for scenario in "${SCENARIOS[@]}"; do
  name=${scenario%%|*}
  read -r -a args <<<"${scenario#*|}"
  for ((rep = 1; rep <= REPS; rep++)); do
    for transport in "${TRANSPORTS[@]}"; do
      IFS='|' read -r label url server extra <<<"$transport"
      pid=$(cat "$WORK/$server.pid")
      extra_args=()
      [[ -n "$extra" ]] && extra_args=("$extra")
      line=$(bench "$url" "$pid" "${args[@]}" "${extra_args[@]}")
      printf '{"scenario":"%s","transport":"%s","run":%s}\n' "$name" "$label" "$line" >>"$RESULTS"
      echo "tls.sh: $name over $label, run $rep: $(echo "$line" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["msg_per_s"]))') msg/s" >&2
    done
  done
done

python3 - "$RESULTS" <<'EOF'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
def median(scenario, transport, key):
    values = [r["run"][key] if key != "server_ns" else r["run"]["cpu"]["server_ns_per_msg"]
              for r in runs if r["scenario"] == scenario and r["transport"] == transport]
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
print("| scenario | transport | msg/s | ratio to ws | MB/s | p50 µs | server CPU ns/msg | ratio to ws |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for scenario in ["small", "pipelined", "large"]:
    base = median(scenario, "ws", "msg_per_s")
    base_cpu = median(scenario, "ws", "server_ns")
    for transport in ["ws", "wss h1", "wss h2"]:
        rate = median(scenario, transport, "msg_per_s")
        mb = median(scenario, transport, "mb_per_s")
        cpu = median(scenario, transport, "server_ns")
        p50 = statistics.median(r["run"]["latency_us"]["p50"] for r in runs
                                if r["scenario"] == scenario and r["transport"] == transport)
        print(f"| {scenario} | {transport} | {rate:,.0f} | {rate / base:.2f}× | {mb:,.1f} | {p50:.1f} | "
              f"{cpu:,.0f} | {cpu / base_cpu:.2f}× |")
EOF
