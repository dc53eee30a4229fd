#!/usr/bin/env bash
# Socket.IO servers compared: sockeye-io (its `socketio-bench-server`
# example), Node socket.io 4.8 (benches/socketio/node) and socketioxide
# (benches/socketio/socketioxide), all measured by `sockeye bench socketio`
# in one run on this machine.
#
# Scenarios, each run ROUNDS times, the three servers taking turns within a
# round so that drift in the machine's load spreads over all of them:
#   echo1    100 clients, 1 `echo` event in flight each: round trips/s
#   echo16   100 clients, 16 in flight each: round trips/s
#   bcast    1,000 clients in one room; `blast` asks the server to emit
#            COUNT events to the room: deliveries/s counted on the clients
#   idle     10,000 clients connected and idle: server RSS per client
#
# Each server is started fresh for each measurement, pinned to core 1
# (taskset -c 1), and stopped by its PID; the bench is pinned to core 0. The
# bench reads the server's and its own CPU time from /proc/PID/stat over the
# measured window, which tells which side was at 100%.
#
# Writes the table to stdout and to benches/results/socketio-DATE.md, the
# raw JSON lines beside it. Loopback only, ports 3201-3203. About 12 minutes.
#
# Environment: ROUNDS (3), DURATION (5 s measured), WARMUP (2 s),
# BCAST_CLIENTS (1000), COUNT (10 events per blast), IDLE_CLIENTS (10000),
# SCENARIOS (echo1,echo16,bcast,idle), SERVERS (sockeye-io,node,socketioxide),
# NO_BUILD (set to skip the builds), OUT (the report's path).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/benches/socketio"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5}"
WARMUP="${WARMUP:-2}"
BCAST_CLIENTS="${BCAST_CLIENTS:-1000}"
COUNT="${COUNT:-10}"
IDLE_CLIENTS="${IDLE_CLIENTS:-10000}"
SCENARIOS="${SCENARIOS:-echo1,echo16,bcast,idle}"
SERVERS="${SERVERS:-sockeye-io,node,socketioxide}"
STAMP="$(date -u +%Y-%m-%d-%H%M)"
OUT="${OUT:-$ROOT/benches/results/socketio-$STAMP.md}"
RAW="${OUT%.md}.jsonl"
BENCH="$ROOT/target/release/sockeye"
SERVER_CORE=1
BENCH_CORE=0

build() {
    echo "== building" >&2
    (cd "$ROOT" && cargo build --release -p sockeye-cli &&
        cargo build --release -p sockeye-io --example socketio-bench-server)
    (cd "$HERE/socketioxide" && cargo build --release)
    (cd "$HERE/node" && npm ci --no-audit --no-fund)
}

# server_cmd NAME PORT: the command line that serves NAME on PORT.
server_cmd() {
    case "$1" in
    sockeye-io) echo "$ROOT/target/release/examples/socketio-bench-server $2" ;;
    node) echo "node $HERE/node/server.mjs $2" ;;
    socketioxide) echo "$HERE/socketioxide/target/release/socketioxide-bench-server $2" ;;
    *)
        echo "unknown server $1" >&2
        return 1
        ;;
    esac
}

server_port() {
    case "$1" in
    sockeye-io) echo 3201 ;;
    node) echo 3202 ;;
    socketioxide) echo 3203 ;;
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
    taskset -c "$SERVER_CORE" $cmd >"$LOGS/$1.log" 2>&1 &
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
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

# measure SCENARIO NAME ROUND: one run, its JSON line appended to $RAW.
measure() {
    local scenario="$1" name="$2" round="$3" url args line
    url="http://127.0.0.1:$(server_port "$name")"
    case "$scenario" in
    echo1) args=(-c 100 -n 1 -d "$DURATION" -w "$WARMUP") ;;
    echo16) args=(-c 100 -n 16 -d "$DURATION" -w "$WARMUP") ;;
    bcast) args=(--broadcast -c "$BCAST_CLIENTS" --count "$COUNT" -n 4 -d "$DURATION" -w "$WARMUP") ;;
    idle) args=(--idle -c "$IDLE_CLIENTS" --hold 2) ;;
    esac
    start_server "$name" || return 0
    echo "-- $scenario $name round $round" >&2
    if line="$(taskset -c "$BENCH_CORE" "$BENCH" bench socketio "${args[@]}" \
        --server-pid "$SERVER_PID" "$url" 2>>"$LOGS/bench.log" | grep '^{')"; then
        echo "{\"scenario\":\"$scenario\",\"server\":\"$name\",\"round\":$round,\"result\":$line}" >>"$RAW"
        echo "$line" | cut -c1-160 >&2
    else
        echo "   failed; see $LOGS/bench.log" >&2
    fi
    stop_server
    # Let the closed sockets leave TIME_WAIT's way and the machine settle.
    sleep 1
}

main() {
    if [ "$(nproc)" -lt 2 ]; then
        echo "needs 2 cores: the server and the bench each get one" >&2
        exit 1
    fi
    [ -n "${NO_BUILD:-}" ] || build
    # 10,000 clients: a socket each on both sides, in this one shell's tree.
    ulimit -n "$(ulimit -Hn)"
    mkdir -p "$(dirname "$OUT")"
    LOGS="$(mktemp -d)"
    : >"$RAW"
    trap 'stop_server 2>/dev/null || true' EXIT
    IFS=, read -r -a scenarios <<<"$SCENARIOS"
    IFS=, read -r -a servers <<<"$SERVERS"
    for scenario in "${scenarios[@]}"; do
        for round in $(seq "$ROUNDS"); do
            for name in "${servers[@]}"; do
                measure "$scenario" "$name" "$round"
            done
        done
    done
    python3 "$HERE/report.py" "$RAW" \
        --command "benches/socketio/run.sh (ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP COUNT=$COUNT)" |
        tee "$OUT"
    echo "report: $OUT (raw: $RAW, logs: $LOGS)" >&2
}

main "$@"
