#!/usr/bin/env bash
# Runs `sockeye bench` against sockeye's echo server and against echo servers
# on other libraries (benches/peers/), in one run on one machine, and writes a
# Markdown table of the medians with sockeye's ratio to the best peer.
#
# The server under test runs pinned to core 0 and the load generator to
# core 1 (taskset). Each (server, scenario) gets a freshly started server,
# which is killed by its PID afterwards. Loopback only, ports 9301-9399.
#
# Usage: benches/compare.sh [options]      (see --help)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCHES="$ROOT/benches"
PEERS="$BENCHES/peers"
SOCKEYE="$ROOT/target/release/sockeye"

ALL_SERVERS="sockeye,tungstenite,fastwebsockets,tokio-websockets,node-ws,uws"
ALL_SCENARIOS="a,b,c,d,e,mt"

DURATION="${DURATION:-5}"
WARMUP="${WARMUP:-1}"
REPS="${REPS:-3}"
SERVERS="${SERVERS:-$ALL_SERVERS}"
SCENARIOS="${SCENARIOS:-$ALL_SCENARIOS}"
IDLE_CONNS="${IDLE_CONNS:-10000}"
IDLE_HOLD="${IDLE_HOLD:-2}"
OUT="${OUT:-}"
NO_BUILD="${NO_BUILD:-0}"
ALTERNATE="${ALTERNATE:-0}"
SERVER_CPUS="${SERVER_CPUS:-0}"
BENCH_CPUS="${BENCH_CPUS:-1}"

usage() {
    cat <<EOF
Usage: benches/compare.sh [options]

Compares sockeye's echo server with peers on other libraries, each pinned to
core $SERVER_CPUS while \`sockeye bench\` runs on core $BENCH_CPUS, and writes a
Markdown report.

Options (each also settable by the environment variable in brackets):
  -d SECS    seconds measured per run            [DURATION, default 5]
  -w SECS    warm-up seconds per run             [WARMUP, default 1]
  -r N       runs of each echo scenario; the
             report shows medians                [REPS, default 3]
  -s LIST    servers, comma-separated            [SERVERS, default all:
             $ALL_SERVERS]
  -S LIST    scenarios, comma-separated          [SCENARIOS, default all: $ALL_SCENARIOS]
               a   echo -c 100 -s 16 -n 1
               b   echo -c 100 -s 16 -n 16
               c   echo -c 10 -s 64k --binary
               d   echo -c 1 -s 1m --binary
               e   idle -c IDLE_CONNS --hold IDLE_HOLD (server bytes per connection)
               mt  sockeye only: b with \`serve --threads 1\` vs \`--threads 2\`
  -i N       connections for e                   [IDLE_CONNS, default 10000]
  -H SECS    hold time for e                     [IDLE_HOLD, default 2]
  -o FILE    Markdown report (raw results go to FILE without .md plus .jsonl)
                                                 [OUT, default
             benches/results/compare-YYYYmmdd-HHMMSS.md]
  -A         alternate: each repetition goes round every server
             (a fresh server per run) before the next starts, so
             drift in the machine's load spreads over all of them
                                                 [ALTERNATE=1]
  -B         skip building sockeye and the peers [NO_BUILD=1]
  -h         this help

Quick check that every server works in every scenario:
  benches/compare.sh -d 1 -w 0 -r 1 -i 2000 -H 1
EOF
}

ORIG_ARGS=("$@")
while getopts ':d:w:r:s:S:i:H:o:ABh' opt; do
    case "$opt" in
    d) DURATION="$OPTARG" ;;
    w) WARMUP="$OPTARG" ;;
    r) REPS="$OPTARG" ;;
    s) SERVERS="$OPTARG" ;;
    S) SCENARIOS="$OPTARG" ;;
    i) IDLE_CONNS="$OPTARG" ;;
    H) IDLE_HOLD="$OPTARG" ;;
    o) OUT="$OPTARG" ;;
    A) ALTERNATE=1 ;;
    B) NO_BUILD=1 ;;
    h)
        usage
        exit 0
        ;;
    :)
        echo "compare.sh: -$OPTARG needs a value" >&2
        exit 2
        ;;
    *)
        echo "compare.sh: unknown option -$OPTARG (see -h)" >&2
        exit 2
        ;;
    esac
done
shift $((OPTIND - 1))
if (($# > 0)); then
    echo "compare.sh: unexpected argument '$1' (see -h)" >&2
    exit 2
fi

for n in "$REPS" "$IDLE_CONNS"; do
    if ! [[ "$n" =~ ^[1-9][0-9]*$ ]]; then
        echo "compare.sh: '$n' is not a positive integer" >&2
        exit 2
    fi
done
for n in "$DURATION" "$WARMUP" "$IDLE_HOLD"; do
    if ! [[ "$n" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
        echo "compare.sh: '$n' is not a number of seconds" >&2
        exit 2
    fi
done

IFS=, read -r -a servers <<<"$SERVERS"
IFS=, read -r -a scenarios <<<"$SCENARIOS"
for s in "${servers[@]}"; do
    case ",$ALL_SERVERS," in
    *",$s,"*) ;;
    *)
        echo "compare.sh: unknown server '$s' (known: $ALL_SERVERS)" >&2
        exit 2
        ;;
    esac
done
for s in "${scenarios[@]}"; do
    case ",$ALL_SCENARIOS," in
    *",$s,"*) ;;
    *)
        echo "compare.sh: unknown scenario '$s' (known: $ALL_SCENARIOS)" >&2
        exit 2
        ;;
    esac
done

STAMP="$(date +%Y%m%d-%H%M%S)"
if [[ -z "$OUT" ]]; then
    OUT="$BENCHES/results/compare-$STAMP.md"
fi
mkdir -p "$(dirname "$OUT")"
RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/sockeye-compare.XXXXXX")"
MANIFEST="$RUN_DIR/manifest.tsv"
META="$RUN_DIR/meta.tsv"
: >"$MANIFEST"
: >"$META"

log() { printf '%s\n' "$*" >&2; }

# Our own children, killed by PID on exit (never by name).
SERVER_PID=""
stop_server() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        # Give it a moment to exit on SIGTERM, then insist.
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
cleanup() {
    stop_server
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- limits

# The idle scenario holds IDLE_CONNS sockets open in the server; the bench
# raises its own limit, the servers inherit this shell's.
want_fds=$((IDLE_CONNS + 1000))
hard_fds="$(ulimit -Hn)"
if [[ "$hard_fds" != unlimited ]] && ((hard_fds < want_fds)); then
    log "warning: hard fd limit $hard_fds < $want_fds: the idle scenario may fail (raise it, or use -i)"
    ulimit -n "$hard_fds"
else
    ulimit -n "$want_fds" 2>/dev/null || ulimit -n "$hard_fds"
fi

# ---------------------------------------------------------------- build

# server name -> "build failed" marker
declare -A BROKEN=()
want_server() {
    local s
    for s in "${servers[@]}"; do [[ "$s" == "$1" ]] && return 0; done
    return 1
}
want_scenario() {
    local s
    for s in "${scenarios[@]}"; do [[ "$s" == "$1" ]] && return 0; done
    return 1
}

if [[ "$NO_BUILD" != 1 ]]; then
    log "== building sockeye (cargo build --release -p sockeye-cli)"
    (cd "$ROOT" && cargo build --release -p sockeye-cli)
    if want_server tungstenite || want_server fastwebsockets || want_server tokio-websockets; then
        if ! "$PEERS/build.sh" rust; then
            BROKEN[tungstenite]=1 BROKEN[fastwebsockets]=1 BROKEN[tokio-websockets]=1
        fi
    fi
    if want_server node-ws && ! "$PEERS/build.sh" node; then BROKEN[node-ws]=1; fi
    if want_server uws && ! "$PEERS/build.sh" uws; then BROKEN[uws]=1; fi
fi
if [[ ! -x "$SOCKEYE" ]]; then
    log "compare.sh: $SOCKEYE is missing (build it, or drop -B)"
    exit 1
fi

# ---------------------------------------------------------------- servers

# Ports 9301-9399: one per server (and per sockeye thread count), so sockets
# of one server in TIME_WAIT never meet the next.
server_port() {
    case "$1" in
    sockeye) echo 9301 ;;
    tungstenite) echo 9302 ;;
    fastwebsockets) echo 9303 ;;
    tokio-websockets) echo 9304 ;;
    node-ws) echo 9305 ;;
    uws) echo 9306 ;;
    sockeye-t1) echo 9311 ;;
    sockeye-t2) echo 9312 ;;
    esac
}

# Prints the server's command line, one word per line.
server_cmd() {
    local addr="$2"
    case "$1" in
    sockeye) printf '%s\n' "$SOCKEYE" serve "$addr" --no-deflate ;;
    sockeye-t1) printf '%s\n' "$SOCKEYE" serve "$addr" --no-deflate --threads 1 ;;
    sockeye-t2) printf '%s\n' "$SOCKEYE" serve "$addr" --no-deflate --threads 2 ;;
    tungstenite) printf '%s\n' "$PEERS/target/release/tungstenite-echo" "$addr" ;;
    fastwebsockets) printf '%s\n' "$PEERS/target/release/fastwebsockets-echo" "$addr" ;;
    tokio-websockets) printf '%s\n' "$PEERS/target/release/tokio-websockets-echo" "$addr" ;;
    node-ws) printf '%s\n' node "$PEERS/node/echo.mjs" "$addr" ;;
    uws) printf '%s\n' "$PEERS/target/uws-echo" "$addr" ;;
    esac
}

port_open() {
    # A TCP connect through bash's /dev/tcp, in a subshell so the fd closes.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# start_server NAME CPUS LOG: starts it pinned to CPUS, sets SERVER_PID,
# returns non-zero if it died or did not accept within 15 s.
start_server() {
    local name="$1" cpus="$2" logf="$3" port addr cmd
    port="$(server_port "$name")"
    addr="127.0.0.1:$port"
    if port_open "$port"; then
        log "compare.sh: something already listens on port $port; not starting $name"
        return 1
    fi
    mapfile -t cmd < <(server_cmd "$name" "$addr")
    taskset -c "$cpus" "${cmd[@]}" >"$logf" 2>&1 &
    SERVER_PID=$!
    local i
    for ((i = 0; i < 150; i++)); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            wait "$SERVER_PID" 2>/dev/null || true
            SERVER_PID=""
            log "compare.sh: $name exited at start; see $logf"
            return 1
        fi
        if port_open "$port"; then
            return 0
        fi
        sleep 0.1
    done
    log "compare.sh: $name did not accept on $addr within 15 s; see $logf"
    stop_server
    return 1
}

scenario_args() {
    case "$1" in
    a) echo "echo -c 100 -s 16 -n 1" ;;
    b | mt) echo "echo -c 100 -s 16 -n 16" ;;
    c) echo "echo -c 10 -s 64k --binary" ;;
    d) echo "echo -c 1 -s 1m --binary" ;;
    e) echo "idle -c $IDLE_CONNS --hold $IDLE_HOLD" ;;
    esac
}

# record SERVER SCENARIO REP RC FILE
record() {
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$MANIFEST"
}

# run_scenario SERVER_LABEL SERVER_NAME SERVER_CPUS SCENARIO [REP]
# Runs the scenario REPS times on one server, or only repetition REP.
run_scenario() {
    local label="$1" name="$2" cpus="$3" scen="$4" only="${5:-}"
    local port reps=$REPS first=1 limit logf
    local -a bench_args
    port="$(server_port "$name")"
    read -r -a bench_args <<<"$(scenario_args "$scen")"
    if [[ -n "$only" ]]; then
        first=$only
        reps=$only
    fi
    if [[ "$scen" == e ]]; then
        first=1
        reps=1
        limit=$(awk -v h="$IDLE_HOLD" 'BEGIN { printf "%d", h + 120 }')
    else
        bench_args+=(-d "$DURATION" -w "$WARMUP")
        limit=$(awk -v d="$DURATION" -v w="$WARMUP" 'BEGIN { printf "%d", d + w + 60 }')
    fi
    if [[ -n "${BROKEN[$label]:-}" ]]; then
        record "$label" "$scen" 0 build "-"
        return
    fi
    logf="$RUN_DIR/$label.$scen.server.log"
    if ! start_server "$name" "$cpus" "$logf"; then
        record "$label" "$scen" 0 start "$logf"
        return
    fi
    local rep out rc
    for ((rep = first; rep <= reps; rep++)); do
        out="$RUN_DIR/$label.$scen.$rep.out"
        rc=0
        timeout --kill-after=5 "$limit" \
            taskset -c "$BENCH_CPUS" "$SOCKEYE" bench "${bench_args[@]}" \
            "ws://127.0.0.1:$port/" --server-pid "$SERVER_PID" >"$out" 2>&1 || rc=$?
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            # The server died under load: this run and any left fail.
            record "$label" "$scen" "$rep" died "$out"
            log "  $label $scen: server died; see $logf"
            SERVER_PID=""
            return
        fi
        record "$label" "$scen" "$rep" "$rc" "$out"
        local summary
        summary="$(grep -E '^  (throughput|server rss) ' "$out" | head -1 | sed 's/^ *//')" || true
        log "  $label $scen run $rep/$REPS: rc=$rc ${summary:-(no summary; see $out)}"
        sleep 0.5
    done
    stop_server
    sleep 0.5
}

# ---------------------------------------------------------------- metadata

meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }
cmdline="$(printf '%q ' "benches/compare.sh" "${ORIG_ARGS[@]}")"
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta command "${cmdline% }"
meta kernel "$(uname -r)"
meta nproc "$(nproc)"
meta cpu "$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: *//')"
meta commit "$(git -C "$ROOT" log -1 --format='%h %s' 2>/dev/null || echo unknown)"
dirty="$(git -C "$ROOT" status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null | wc -l)"
meta dirty "$dirty"
meta duration "$DURATION"
meta warmup "$WARMUP"
meta reps "$REPS"
meta alternate "$ALTERNATE"
meta idle_conns "$IDLE_CONNS"
meta idle_hold "$IDLE_HOLD"
meta servers "$SERVERS"
meta scenarios "$SCENARIOS"
meta server_cpus "$SERVER_CPUS"
meta bench_cpus "$BENCH_CPUS"
meta rustc "$(rustc --version 2>/dev/null || echo unknown)"
meta node "$(node --version 2>/dev/null || echo unknown)"
meta cxx "$(g++ --version 2>/dev/null | head -1 || echo unknown)"
meta peers_lock "$PEERS/Cargo.lock"
meta ws_package "$PEERS/node/node_modules/ws/package.json"
meta bufferutil_package "$PEERS/node/node_modules/bufferutil/package.json"
meta load "$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- run

log "== results and logs in $RUN_DIR"
if [[ "$ALTERNATE" == 1 ]]; then
    for ((round = 1; round <= REPS; round++)); do
        for scen in a b c d e; do
            want_scenario "$scen" || continue
            # The idle scenario runs once, in the first round.
            [[ "$scen" == e && "$round" -gt 1 ]] && continue
            log "== round $round/$REPS, scenario $scen: sockeye bench $(scenario_args "$scen")"
            for s in "${servers[@]}"; do
                run_scenario "$s" "$s" "$SERVER_CPUS" "$scen" "$round"
            done
        done
    done
else
    for scen in a b c d e; do
        want_scenario "$scen" || continue
        log "== scenario $scen: sockeye bench $(scenario_args "$scen")"
        for s in "${servers[@]}"; do
            run_scenario "$s" "$s" "$SERVER_CPUS" "$scen"
        done
    done
fi
if want_scenario mt; then
    log "== scenario mt: sockeye serve --threads 1 vs 2, bench $(scenario_args mt)"
    run_scenario sockeye-t1 sockeye-t1 "$SERVER_CPUS" mt
    # Two server threads cannot be pinned to one core: they get cores 0 and 1,
    # and the bench shares core 1 with one of them.
    run_scenario sockeye-t2 sockeye-t2 "$SERVER_CPUS,$BENCH_CPUS" mt
fi

python3 "$BENCHES/compare_report.py" "$RUN_DIR" "$OUT"
log "== report: $OUT (raw: ${OUT%.md}.jsonl; logs: $RUN_DIR)"
