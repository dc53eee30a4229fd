#!/usr/bin/env bash
# The C API's echo servers against libwebsockets: the same `sockeye bench` load on three C
# programs in one run, and a Markdown table of medians, spread and ratios to libwebsockets.
#
#   echo-server          crates/ffi/examples, on the C API's batteries layer
#   sansio-echo-server   crates/ffi/examples, on the C API's sans-I/O layer
#   lws-echo-server      crates/ffi/tests/peers, on Debian's libwebsockets 4.1.6
#
# The server runs pinned to core 0 and the load generator to core 1 (taskset). Each run gets a
# freshly started server on a free loopback port, stopped by its PID afterwards. Repetitions
# go round all servers, in a rotated order each time, so drift in the machine's load spreads
# over all of them.
#
# Usage: benches/c-api/run.sh [-h]   (settings through the environment; see -h)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="${BIN:-$ROOT/target/c-api/bin}"
SOCKEYE="${SOCKEYE:-${CARGO_TARGET_DIR:-$ROOT/target}/release/sockeye}"

DURATION="${DURATION:-5}"
WARMUP="${WARMUP:-1}"
REPS="${REPS:-3}"
CONNS="${CONNS:-100}"
SIZE="${SIZE:-16}"
IDLE_CONNS="${IDLE_CONNS:-1000}"
IDLE_HOLD="${IDLE_HOLD:-2}"
SERVER_CPUS="${SERVER_CPUS:-0}"
BENCH_CPUS="${BENCH_CPUS:-1}"
NO_BUILD="${NO_BUILD:-0}"
OUT="${OUT:-}"

if [[ "${STAND_INS:-0}" == 1 ]]; then
  # While the C API's servers are being written: sockeye's Rust echo server in their place.
  # (Templates go through variables: a "}" inside ${VAR:-...} would end the expansion.)
  stand_in="$SOCKEYE serve 127.0.0.1:{port} --no-deflate"
  ECHO_SERVER="${ECHO_SERVER:-$stand_in}"
  SANSIO_ECHO_SERVER="${SANSIO_ECHO_SERVER:-$stand_in}"
fi
default_echo="$BIN/echo-server {port}"
default_sansio="$BIN/sansio-echo-server {port}"
default_lws="$BIN/lws-echo-server {port}"
ECHO_SERVER="${ECHO_SERVER:-$default_echo}"
SANSIO_ECHO_SERVER="${SANSIO_ECHO_SERVER:-$default_sansio}"
LWS_ECHO_SERVER="${LWS_ECHO_SERVER:-$default_lws}"

if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
  cat <<EOF
Usage: benches/c-api/run.sh

Runs \`sockeye bench\` against the C API's two echo servers and libwebsockets' one, server on
core $SERVER_CPUS, bench on core $BENCH_CPUS, and prints a Markdown report (also written to OUT).

Environment:
  REPS=N               runs of each (server, scenario)             [3]
  DURATION=S WARMUP=S  seconds measured / warmed up per echo run   [5, 1]
  CONNS=N SIZE=B       connections and message size of echo runs  [100, 16]
  IDLE_CONNS=N         connections held for the idle figure        [1000]
  IDLE_HOLD=S          seconds they are held                       [2]
  NO_BUILD=1           skip cargo build and scripts/c-api --build-only
  OUT=FILE             report file [benches/results/c-api-DATE.md]
  ECHO_SERVER, SANSIO_ECHO_SERVER, LWS_ECHO_SERVER
                       server commands, "{port}" replaced by the port
                       [\$BIN/echo-server {port}, ...; BIN=$BIN]
  STAND_INS=1          sockeye's Rust server in place of the two C API servers
                       (while those are being written)
  SOCKEYE=PATH         the sockeye binary [$SOCKEYE]

Scenarios: echo -c CONNS -s SIZE -n 1; the same with -n 16; idle -c IDLE_CONNS --hold IDLE_HOLD.
EOF
  exit 0
fi

for n in "$REPS" "$CONNS" "$SIZE" "$IDLE_CONNS"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: '$n' is not a positive integer" >&2; exit 2; }
done
for n in "$DURATION" "$WARMUP" "$IDLE_HOLD"; do
  [[ "$n" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "run.sh: '$n' is not a number of seconds" >&2; exit 2; }
done

log() { printf '%s\n' "$*" >&2; }

if [[ "$NO_BUILD" != 1 ]]; then
  log "== cargo build --release -p sockeye-cli"
  (cd "$ROOT" && cargo build --quiet --release -p sockeye-cli)
  log "== scripts/c-api --build-only"
  "$ROOT/scripts/c-api" --build-only >&2
fi

SERVERS=(echo-server sansio-echo-server lws-echo-server)
declare -A TEMPLATE=(
  [echo-server]="$ECHO_SERVER"
  [sansio-echo-server]="$SANSIO_ECHO_SERVER"
  [lws-echo-server]="$LWS_ECHO_SERVER"
)
missing=0
for s in "${SERVERS[@]}"; do
  read -r -a words <<<"${TEMPLATE[$s]}"
  if [[ ! -x "${words[0]}" ]]; then
    log "run.sh: $s: ${words[0]} is not built (scripts/c-api --build-only; STAND_INS=1 to stand in)"
    missing=1
  fi
done
[[ -x "$SOCKEYE" ]] || { log "run.sh: $SOCKEYE is missing"; missing=1; }
((missing == 0)) || exit 1

STAMP="$(date +%Y%m%d-%H%M%S)"
OUT="${OUT:-$ROOT/benches/results/c-api-$STAMP.md}"
mkdir -p "$(dirname "$OUT")"
RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/sockeye-c-api-bench.XXXXXX")"
MANIFEST="$RUN_DIR/manifest.tsv"
META="$RUN_DIR/meta.tsv"
: >"$MANIFEST"
: >"$META"

SERVER_PID=""
stop_server() {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    local _
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The idle scenario holds IDLE_CONNS sockets in the server, which inherits this limit.
want_fds=$((IDLE_CONNS + 1000))
hard_fds="$(ulimit -Hn)"
if [[ "$hard_fds" != unlimited ]] && ((hard_fds < want_fds)); then
  log "warning: hard fd limit $hard_fds < $want_fds: the idle scenario may fail"
  ulimit -n "$hard_fds"
else
  ulimit -n "$want_fds" 2>/dev/null || ulimit -n "$hard_fds"
fi

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server NAME LOG: starts it pinned to SERVER_CPUS on a free port (PORT); waits for its
# listening line (the C programs print "listening on 127.0.0.1:PORT", sockeye serve logs
# "listening on ws://127.0.0.1:PORT").
start_server() {
  local name="$1" logf="$2" i
  local -a cmd
  PORT="$(free_port)"
  read -r -a cmd <<<"${TEMPLATE[$name]//\{port\}/$PORT}"
  taskset -c "$SERVER_CPUS" "${cmd[@]}" >"$logf" 2>&1 &
  SERVER_PID=$!
  for ((i = 0; i < 150; i++)); do
    if grep -Eqs "listening on (ws://)?127\.0\.0\.1:$PORT\b" "$logf"; then
      return 0
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      wait "$SERVER_PID" 2>/dev/null || true
      SERVER_PID=""
      log "run.sh: $name exited at start; see $logf"
      return 1
    fi
    sleep 0.1
  done
  log "run.sh: $name did not start listening within 15 s; see $logf"
  stop_server
  return 1
}

scenario_args() {
  case "$1" in
  n1) echo "echo -c $CONNS -s $SIZE -n 1 -d $DURATION -w $WARMUP" ;;
  n16) echo "echo -c $CONNS -s $SIZE -n 16 -d $DURATION -w $WARMUP" ;;
  idle) echo "idle -c $IDLE_CONNS --hold $IDLE_HOLD" ;;
  esac
}

record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$MANIFEST"; }

run_one() { # SERVER SCENARIO REP
  local name="$1" scen="$2" rep="$3" out logf rc limit summary
  local -a args
  read -r -a args <<<"$(scenario_args "$scen")"
  out="$RUN_DIR/$name.$scen.$rep.out"
  logf="$RUN_DIR/$name.$scen.$rep.server.log"
  if ! start_server "$name" "$logf"; then
    record "$name" "$scen" "$rep" start "$logf"
    return
  fi
  limit=$(awk -v d="$DURATION" -v w="$WARMUP" -v h="$IDLE_HOLD" 'BEGIN { printf "%d", d + w + h + 120 }')
  rc=0
  timeout --kill-after=5 "$limit" taskset -c "$BENCH_CPUS" "$SOCKEYE" bench "${args[@]}" \
    "ws://127.0.0.1:$PORT/" --server-pid "$SERVER_PID" >"$out" 2>&1 || rc=$?
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    record "$name" "$scen" "$rep" died "$out"
    log "  $name $scen run $rep: the server died; see $logf"
    SERVER_PID=""
    return
  fi
  stop_server
  record "$name" "$scen" "$rep" "$rc" "$out"
  summary="$(grep -E '^  (throughput|server rss) ' "$out" | head -1 | sed 's/^ *//')" || true
  log "  $name $scen run $rep/$REPS: rc=$rc ${summary:-(no summary; see $out)}"
  sleep 0.5
}

meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta machine "$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: *//'), $(nproc) CPUs, Linux $(uname -r)"
meta load "$(cut -d' ' -f1-3 /proc/loadavg)"
meta commit "$(git -C "$ROOT" log -1 --format='%h %s' 2>/dev/null || echo unknown)"
meta dirty "$(git -C "$ROOT" status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null | wc -l)"
meta settings "REPS=$REPS DURATION=$DURATION WARMUP=$WARMUP CONNS=$CONNS SIZE=$SIZE IDLE_CONNS=$IDLE_CONNS IDLE_HOLD=$IDLE_HOLD"
meta cpus "server on CPU $SERVER_CPUS, sockeye bench on CPU $BENCH_CPUS"
meta lws "$(pkg-config --modversion libwebsockets 2>/dev/null || echo unknown)"
meta stand_ins "${STAND_INS:-0}"
for s in "${SERVERS[@]}"; do meta "cmd:$s" "${TEMPLATE[$s]}"; done

log "== results and logs in $RUN_DIR"
for ((rep = 1; rep <= REPS; rep++)); do
  for scen in n1 n16 idle; do
    log "== run $rep/$REPS, sockeye bench $(scenario_args "$scen")"
    for ((k = 0; k < ${#SERVERS[@]}; k++)); do
      # Rotate the order each repetition: no server always runs first or last.
      run_one "${SERVERS[$(((k + rep - 1) % ${#SERVERS[@]}))]}" "$scen" "$rep"
    done
  done
done

python3 "$HERE/report.py" "$RUN_DIR" "$OUT"
log "== report: $OUT (logs: $RUN_DIR)"
