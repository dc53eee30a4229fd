#!/usr/bin/env bash
# JSON-RPC servers compared: sockeye-rpc (rpc-bench-sockeye) against
# jsonrpsee from crates.io (rpc-bench-jsonrpsee), with the same methods,
# both measured by one load generator (rpc-bench-load) in one run on this
# machine. All three are in benches/rpc, a standalone cargo project.
#
# Scenarios, each run ROUNDS times, the two servers taking turns within a
# round (which goes first alternates from round to round) so that drift in
# the machine's load spreads over both:
#   calls1    100 connections, 1 `add` call in flight each: calls/s
#   calls64   100 connections, 64 in flight each: calls/s
#   batch10   100 connections, BATCH_IN_FLIGHT batches of 10 in flight
#             each: calls/s (batches/s = calls/s / 10)
#   batch100  the same with batches of 100
#   subs      100 connections, one subscription each, items pushed as
#             fast as the server's sink takes them: deliveries/s
#   async64   calls64 on `add_async` (an async handler on both servers)
#   peer64    calls64 with sockeye_rpc::Peer as the client (64 tasks per
#             connection, each calling and awaiting)
#
# Before measuring, jsonrpsee's own client (rpc-bench-compat) calls, batches
# and subscribes on both servers: the wire check.
#
# Each server is started fresh for each measurement, pinned to core 1
# (taskset -c 1), and stopped by its PID; the load generator is pinned to
# core 0. The load generator reads the server's and its own CPU time from
# /proc/PID/stat over the measured window, which tells which side was at
# 100% of its core.
#
# Writes the table to stdout and to benches/results/rpc-DATE.md, the raw
# JSON lines beside it. Loopback only, ports 3301 (sockeye-rpc) and 3302
# (jsonrpsee). About 5 minutes with the defaults, after the build.
#
# Environment: ROUNDS (3), DURATION (5 s measured), WARMUP (2 s),
# CONNECTIONS (100), BATCH_IN_FLIGHT (4),
# SCENARIOS (calls1,calls64,batch10,batch100,subs,async64,peer64),
# SERVERS (sockeye-rpc,jsonrpsee), NO_BUILD (set to skip the build),
# OUT (the report's path).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/benches/rpc"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5}"
WARMUP="${WARMUP:-2}"
CONNECTIONS="${CONNECTIONS:-100}"
BATCH_IN_FLIGHT="${BATCH_IN_FLIGHT:-4}"
SCENARIOS="${SCENARIOS:-calls1,calls64,batch10,batch100,subs,async64,peer64}"
SERVERS="${SERVERS:-sockeye-rpc,jsonrpsee}"
STAMP="$(date -u +%Y-%m-%d-%H%M)"
OUT="${OUT:-$ROOT/benches/results/rpc-$STAMP.md}"
RAW="${OUT%.md}.jsonl"
BIN="$HERE/target/release"
SERVER_CORE=1
LOAD_CORE=0
# A measurement that takes longer than this is stopped and counted failed.
LIMIT=$((WARMUP + DURATION + 60))

build() {
    echo "== building" >&2
    (cd "$HERE" && cargo build --release --locked)
}

server_cmd() {
    case "$1" in
    sockeye-rpc) echo "$BIN/rpc-bench-sockeye $2" ;;
    jsonrpsee) echo "$BIN/rpc-bench-jsonrpsee $2" ;;
    *)
        echo "unknown server $1" >&2
        return 1
        ;;
    esac
}

server_port() {
    case "$1" in
    sockeye-rpc) echo 3301 ;;
    jsonrpsee) echo 3302 ;;
    esac
}

accepts() {
    # A TCP connect through bash's /dev/tcp, in a subshell so the fd closes.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# start_server NAME: starts it on its core, sets SERVER_PID; fails if it
# does not accept within 15 s.
start_server() {
    local port cmd
    port="$(server_port "$1")"
    cmd="$(server_cmd "$1" "$port")"
    # shellcheck disable=SC2086 # the command line is split on purpose
    taskset -c "$SERVER_CORE" $cmd >>"$LOGS/$1.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 150); do
        if accepts "$port"; then return 0; fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
        sleep 0.1
    done
    echo "server $1 did not start; see $LOGS/$1.log" >&2
    stop_server
    return 1
}

stop_server() {
    if [ -n "${SERVER_PID:-}" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}

# compat NAME: jsonrpsee's client against a fresh NAME server.
compat() {
    start_server "$1" || return 1
    local ok=0
    timeout 20 "$BIN/rpc-bench-compat" "ws://127.0.0.1:$(server_port "$1")/" >&2 || ok=1
    stop_server
    return "$ok"
}

# measure SCENARIO NAME ROUND: one run, its JSON line appended to $RAW.
measure() {
    local scenario="$1" name="$2" round="$3" url args line
    url="ws://127.0.0.1:$(server_port "$name")/"
    case "$scenario" in
    calls1) args=(calls -k 1) ;;
    calls64) args=(calls -k 64) ;;
    batch10) args=(batch -b 10 -k "$BATCH_IN_FLIGHT") ;;
    batch100) args=(batch -b 100 -k "$BATCH_IN_FLIGHT") ;;
    subs) args=(subs) ;;
    async64) args=(calls -k 64 --method add_async) ;;
    peer64) args=(calls -k 64 --client peer) ;;
    *)
        echo "unknown scenario $scenario" >&2
        return 1
        ;;
    esac
    start_server "$name" || return 0
    echo "-- $scenario $name round $round" >&2
    if line="$(timeout "$LIMIT" taskset -c "$LOAD_CORE" "$BIN/rpc-bench-load" "${args[@]}" \
        -c "$CONNECTIONS" -d "$DURATION" -w "$WARMUP" --server-pid "$SERVER_PID" "$url" \
        2>>"$LOGS/load.log" | grep '^{')"; then
        echo "{\"scenario\":\"$scenario\",\"server\":\"$name\",\"round\":$round,\"result\":$line}" >>"$RAW"
        echo "$line" | cut -c1-200 >&2
    else
        echo "   failed; see $LOGS/load.log" >&2
    fi
    stop_server
    # Let the closed sockets go and the machine settle.
    sleep 1
}

main() {
    if [ "$(nproc)" -lt 2 ]; then
        echo "needs 2 cores: the server and the load generator each get one" >&2
        exit 1
    fi
    [ -n "${NO_BUILD:-}" ] || build
    mkdir -p "$(dirname "$OUT")"
    LOGS="$(mktemp -d)"
    : >"$RAW"
    SERVER_PID=
    trap 'stop_server' EXIT
    IFS=, read -r -a scenarios <<<"$SCENARIOS"
    IFS=, read -r -a servers <<<"$SERVERS"
    local before after
    before="$(uptime)"
    echo "== machine before: $before" >&2
    for name in "${servers[@]}"; do
        compat "$name" || {
            echo "the wire check failed on $name" >&2
            exit 1
        }
    done
    for scenario in "${scenarios[@]}"; do
        for round in $(seq "$ROUNDS"); do
            # Alternate which server goes first.
            local order=("${servers[@]}")
            if [ $((round % 2)) -eq 0 ]; then
                order=()
                for ((i = ${#servers[@]} - 1; i >= 0; i--)); do order+=("${servers[$i]}"); done
            fi
            for name in "${order[@]}"; do
                measure "$scenario" "$name" "$round"
            done
        done
    done
    after="$(uptime)"
    echo "== machine after: $after" >&2
    python3 "$HERE/report.py" "$RAW" \
        --command "benches/rpc/run.sh (ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP CONNECTIONS=$CONNECTIONS BATCH_IN_FLIGHT=$BATCH_IN_FLIGHT)" \
        --commit "$(git -C "$ROOT" rev-parse --short HEAD)" \
        --load-before "$before" --load-after "$after" |
        tee "$OUT"
    echo "report: $OUT (raw: $RAW, logs: $LOGS)" >&2
}

main "$@"
