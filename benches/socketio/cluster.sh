#!/usr/bin/env bash
# Two Socket.IO servers on one Redis, 1,000 clients in one room, measured
# by `sockeye bench socketio` with both servers' URLs: sockeye-io pairs
# (crates/io-redis/examples/socketio-bench-cluster-server.rs, the
# sockeye-io-redis adapter) against Node socket.io 4.8 pairs with
# @socket.io/redis-adapter 8.3 (benches/socketio/node/server.mjs with
# REDIS_URL), in the same run.
#
# One measurement: a fresh redis-server of this script's own on a loopback
# port, two servers of one kind on it, the bench. The bench's clients take
# the two servers in turn (500 each), and it has one publisher on each
# server; the blasts take turns between them, so every blast reaches half
# the room through the server it was sent to and half through Redis.
# `blast` asks the server to emit COUNT events to the room, and at most
# IN_FLIGHT blasts are undelivered at once. Deliveries are counted on the
# clients, each timed from the send time its argument carries.
#
# Cores (the machine has 2): both servers share core 1, redis-server and
# the bench share core 0, the same for both kinds.
# - The servers are what is compared, so they get the same budget for
#   either kind: one core for the pair, as run.sh gives one core to its
#   single server. Deliveries/s then compare directly with run.sh's
#   single-server broadcast row, and what the cluster costs shows.
# - Redis works per emit (one PUBLISH, received by two subscribers), not
#   per delivery: with 1,000 clients in the room that is a thousandth of
#   the deliveries' work. On core 1 it would take from the servers' budget,
#   and more from the faster kind (more emits/s); on core 0 it takes a few
#   percent from the bench, which the report shows (`broker`).
# - One server per core would leave the bench no core of its own; the
#   bench then competes with the servers and measures itself.
# The bench reads the CPU time of each server, redis-server and itself
# from /proc over the measured window. A side is "at its limit" at 90% of
# its core or more: the servers together on core 1, or the bench and
# redis together on core 0; the report says which per round.
#
# COUNT 10 as in run.sh's broadcast. IN_FLIGHT 8, twice run.sh's 4: half
# of each blast travels through Redis and the other server, a longer way,
# and with 4 blasts in flight the sockeye-io pair waited on it (its
# servers well under their core; 8 doubled the deliveries, 16 added
# little more and doubled p50). Node's pair is at its core with either.
# The bench spends about as much CPU per delivery as the sockeye-io pair
# does (0.26-0.36 µs against 0.30-0.39 µs in trial runs), so with
# sockeye-io both cores may fill together: the report then says "both",
# and CPU per delivery is the figure to compare.
#
# Each kind is started fresh for each measurement and stopped by its PID,
# the kinds taking turns within each of ROUNDS rounds. Loopback only: redis
# on port 3290, sockeye-io on 3211 and 3212, Node on 3221 and 3222.
#
# Writes the table to stdout and to benches/results/socketio-cluster-DATE.md,
# the raw JSON lines beside it. About a minute per round at the defaults.
#
# Environment: ROUNDS (5), DURATION (5 s measured), WARMUP (2 s),
# CLIENTS (1000), COUNT (10 events per blast), IN_FLIGHT (8 blasts),
# SERVERS (sockeye-io,node), NO_BUILD (set to skip the builds),
# CARGO_TARGET_DIR (target), OUT (the report's path).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/benches/socketio"
ROUNDS="${ROUNDS:-5}"
DURATION="${DURATION:-5}"
WARMUP="${WARMUP:-2}"
CLIENTS="${CLIENTS:-1000}"
COUNT="${COUNT:-10}"
IN_FLIGHT="${IN_FLIGHT:-8}"
SERVERS="${SERVERS:-sockeye-io,node}"
STAMP="$(date -u +%Y-%m-%d-%H%M)"
OUT="${OUT:-$ROOT/benches/results/socketio-cluster-$STAMP.md}"
RAW="${OUT%.md}.jsonl"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BENCH="$TARGET/release/sockeye"
CLUSTER_SERVER="$TARGET/release/examples/socketio-bench-cluster-server"
REDIS_PORT=3290
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
SERVER_CORE=1
BENCH_CORE=0

# PIDs this script started and has not stopped yet.
STARTED=()

build() {
    echo "== building" >&2
    (cd "$ROOT" && nice -n 5 cargo build --release -p sockeye-cli &&
        nice -n 5 cargo build --release -p sockeye-io-redis --example socketio-bench-cluster-server)
    (cd "$HERE/node" && npm ci --no-audit --no-fund)
}

check_tools() {
    local tool
    for tool in redis-server node taskset python3; do
        if ! command -v "$tool" >/dev/null; then
            echo "needs $tool on the PATH" >&2
            exit 1
        fi
    done
    for tool in "$BENCH" "$CLUSTER_SERVER"; do
        if [ ! -x "$tool" ]; then
            echo "missing $tool: run without NO_BUILD" >&2
            exit 1
        fi
    done
}

# server_cmd NAME PORT: the command line that serves NAME on PORT in the
# cluster on $REDIS_URL (Node reads it from the environment).
server_cmd() {
    case "$1" in
    sockeye-io) echo "$CLUSTER_SERVER $2 $REDIS_URL" ;;
    node) echo "node $HERE/node/server.mjs $2" ;;
    *)
        echo "unknown server $1" >&2
        return 1
        ;;
    esac
}

server_ports() {
    case "$1" in
    sockeye-io) echo "3211 3212" ;;
    node) echo "3221 3222" ;;
    esac
}

accepts() {
    # A TCP connect through bash's /dev/tcp, in a subshell so the fd closes.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# start LOG PORT COMMAND...: starts COMMAND on core $SERVER_CORE unless
# LOG is redis, sets PID; fails if it does not accept on PORT within 15 s.
start() {
    local log="$1" port="$2" core="$SERVER_CORE"
    shift 2
    [ "$log" != redis ] || core="$BENCH_CORE"
    REDIS_URL="$REDIS_URL" taskset -c "$core" "$@" >"$LOGS/$log.log" 2>&1 &
    PID=$!
    STARTED+=("$PID")
    for _ in $(seq 150); do
        if accepts "$port"; then return 0; fi
        if ! kill -0 "$PID" 2>/dev/null; then break; fi
        sleep 0.1
    done
    echo "$log did not start on port $port; see $LOGS/$log.log" >&2
    return 1
}

# subscribed N: waits up to 15 s until N servers have subscribed to the
# request channel of `/` (the adapter's own count of servers, `PUBSUB
# NUMSUB`), so that no blast goes out before both servers hear it.
subscribed() {
    local n=0
    for _ in $(seq 150); do
        n="$(redis-cli -p "$REDIS_PORT" pubsub numsub 'socket.io-request#/#' 2>/dev/null |
            sed -n 2p)"
        if [ "${n:-0}" -ge "$1" ]; then return 0; fi
        sleep 0.1
    done
    echo "the servers did not subscribe on Redis (subscribers: ${n:-0} of $1)" >&2
    return 1
}

# publish_stats: Redis's own count of PUBLISH calls over the run and the
# time it spent in them (INFO commandstats), as JSON: the broker's cost per
# publish without its idle work (its timers run whatever the load).
publish_stats() {
    redis-cli -p "$REDIS_PORT" info commandstats 2>/dev/null | tr -d '\r' |
        sed -n 's/^cmdstat_publish:calls=\([0-9]*\),usec=\([0-9]*\),.*/{"calls":\1,"usec":\2}/p' |
        grep . || echo null
}

# stop_all: stops every process this script started, by PID, newest first.
stop_all() {
    local i
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
        kill "${STARTED[i]}" 2>/dev/null || true
        wait "${STARTED[i]}" 2>/dev/null || true
    done
    STARTED=()
}

# measure NAME ROUND: one run, its JSON line appended to $RAW.
measure() {
    local name="$1" round="$2" ports redis a b line
    read -r -a ports <<<"$(server_ports "$name")"
    echo "-- $name round $round" >&2
    if start redis "$REDIS_PORT" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
        --save '' --appendonly no; then
        redis=$PID
        # shellcheck disable=SC2046 # the command line is split on purpose
        if start "$name-a" "${ports[0]}" $(server_cmd "$name" "${ports[0]}") &&
            a=$PID &&
            start "$name-b" "${ports[1]}" $(server_cmd "$name" "${ports[1]}") &&
            b=$PID &&
            subscribed 2; then
            if line="$(taskset -c "$BENCH_CORE" "$BENCH" bench socketio --broadcast \
                -c "$CLIENTS" --count "$COUNT" -n "$IN_FLIGHT" -d "$DURATION" -w "$WARMUP" \
                --server-pid "$a" --cluster-pid "$b" --broker-pid "$redis" \
                "http://127.0.0.1:${ports[0]}" "http://127.0.0.1:${ports[1]}" \
                2>>"$LOGS/bench.log" | grep '^{')"; then
                echo "{\"scenario\":\"cluster\",\"server\":\"$name\",\"round\":$round,\"result\":$line,\"publish\":$(publish_stats)}" >>"$RAW"
                echo "$line" | cut -c1-160 >&2
            else
                echo "   failed; see $LOGS/bench.log" >&2
            fi
        fi
    fi
    stop_all
    # Let the closed sockets leave TIME_WAIT's way and the machine settle.
    sleep 1
}

main() {
    if [ "$(nproc)" -lt 2 ]; then
        echo "needs 2 cores: the servers share one, the bench and redis the other" >&2
        exit 1
    fi
    IFS=, read -r -a servers <<<"$SERVERS"
    for name in "${servers[@]}"; do
        if [ -z "$(server_ports "$name")" ]; then
            echo "unknown server $name in SERVERS (sockeye-io, node)" >&2
            exit 1
        fi
    done
    [ -n "${NO_BUILD:-}" ] || build
    check_tools
    ulimit -n "$(ulimit -Hn)"
    mkdir -p "$(dirname "$OUT")"
    LOGS="$(mktemp -d)"
    : >"$RAW"
    trap stop_all EXIT
    trap 'exit 130' INT TERM
    for round in $(seq "$ROUNDS"); do
        for name in "${servers[@]}"; do
            measure "$name" "$round"
        done
    done
    python3 "$HERE/cluster_report.py" "$RAW" \
        --command "benches/socketio/cluster.sh (ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP CLIENTS=$CLIENTS COUNT=$COUNT IN_FLIGHT=$IN_FLIGHT)" |
        tee "$OUT"
    echo "report: $OUT (raw: $RAW, logs: $LOGS)" >&2
}

main "$@"
