# Interop between sockeye's C API and a C WebSocket library nobody here wrote, for
# interop-lws.sh and interop-wslay.sh (sourced; `peer_interop lws|wslay` runs the checks).
#
# 1. PEER-client (crates/ffi/tests/peers/) against each of the C API's echo servers,
#    $BIN/echo-server (batteries layer) and $BIN/sansio-echo-server (sans-I/O layer):
#    COUNT messages of every size class, text and binary, checked byte for byte, then a close
#    with 1000; lws-client a third time with permessage-deflate.
# 2. The C API's clients, $BIN/client (batteries) and $BIN/sansio-client (sans-I/O, when
#    built), against PEER-echo-server: each message of MESSAGES must come back on stdout.
#
# Environment (scripts/c-api exports BIN and ROOT):
#   BIN                 the C programs, default ROOT/target/c-api/bin; the peers are taken from
#                       PEER_BIN (default BIN; BIN/asan for the sanitizer builds)
#   PEER_WRAP           a command put before the peer client, e.g.
#                       "valgrind --error-exitcode=1 --leak-check=full"
#   COUNT               messages per peer client run (default 12: every size, text and binary)
#   ECHO_SERVER, SANSIO_ECHO_SERVER
#                       server commands; "{port}" is replaced by the port, otherwise the port is
#                       appended (default $BIN/echo-server, $BIN/sansio-echo-server)
#   CLIENT, SANSIO_CLIENT
#                       client commands; "{url}" and "{message}" are replaced, otherwise URL and
#                       MESSAGE are appended (default $BIN/client, $BIN/sansio-client)
#   STAND_INS=1         while the C API's programs are being written: use sockeye's Rust echo
#                       server (`sockeye serve`) and client (`sockeye connect`) for any of the
#                       four not given above; SOCKEYE names the binary (default
#                       $CARGO_TARGET_DIR/release/sockeye or ROOT/target/release/sockeye)
#
# A C API server or the batteries client that is missing fails the run; the sans-I/O client
# is optional. Loopback only; ports are picked free by the kernel; every process started
# here is stopped by its PID on exit; every run has a time limit.

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${ROOT:-$(cd "$HERE/../../../.." && pwd)}"
BIN="${BIN:-$ROOT/target/c-api/bin}"
PEER_BIN="${PEER_BIN:-$BIN}"
PEER_WRAP="${PEER_WRAP:-}"
COUNT="${COUNT:-12}"
RUN_LIMIT="${RUN_LIMIT:-120}" # seconds per client run (valgrind is slow)
START_LIMIT=15                # seconds for a server to start listening

if [[ "${STAND_INS:-0}" == 1 ]]; then
  SOCKEYE="${SOCKEYE:-${CARGO_TARGET_DIR:-$ROOT/target}/release/sockeye}"
  # (Templates go through variables: a "}" inside ${VAR:-...} would end the expansion.)
  stand_in_server="$SOCKEYE serve 127.0.0.1:{port}"
  stand_in_client="$SOCKEYE connect -n 1 -x {message} {url}"
  stand_in_sansio_client="$SOCKEYE connect --no-deflate -n 1 -x {message} {url}"
  ECHO_SERVER="${ECHO_SERVER:-$stand_in_server}"
  SANSIO_ECHO_SERVER="${SANSIO_ECHO_SERVER:-$stand_in_server}"
  CLIENT="${CLIENT:-$stand_in_client}"
  SANSIO_CLIENT="${SANSIO_CLIENT:-$stand_in_sansio_client}"
fi
ECHO_SERVER="${ECHO_SERVER:-$BIN/echo-server}"
SANSIO_ECHO_SERVER="${SANSIO_ECHO_SERVER:-$BIN/sansio-echo-server}"
CLIENT="${CLIENT:-$BIN/client}"
SANSIO_CLIENT="${SANSIO_CLIENT:-$BIN/sansio-client}"

# bash 5.2 would put the matched text in place of an "&" in a replacement.
shopt -u patsub_replacement 2>/dev/null || true

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sockeye-peers.XXXXXX")"
SERVER_PID=""
FAILURES=0
PASSES=0

stop_server() {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    local _
    for _ in $(seq 1 50); do
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
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pass() {
  PASSES=$((PASSES + 1))
  echo "ok   $*"
}
fail() {
  FAILURES=$((FAILURES + 1))
  echo "FAIL $*"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The first word of a command template, for the "is it built" check.
program_of() {
  local words
  read -r -a words <<<"$1"
  printf '%s\n' "${words[0]}"
}

# expand TEMPLATE KEY=VALUE...: the template's words with {KEY} replaced, one per line of the
# array EXPANDED; values not named in the template are appended in the order given.
expand() {
  local template="$1" word pair key value used
  shift
  local -a words
  read -r -a words <<<"$template"
  EXPANDED=()
  for word in "${words[@]}"; do
    for pair in "$@"; do
      key="${pair%%=*}"
      value="${pair#*=}"
      word="${word//\{$key\}/$value}"
    done
    EXPANDED+=("$word")
  done
  for pair in "$@"; do
    key="${pair%%=*}"
    used=0
    [[ "$template" == *"{$key}"* ]] && used=1
    ((used)) || EXPANDED+=("${pair#*=}")
  done
}

# start_server LABEL TEMPLATE: starts it on a free port (PORT), waits for its listening line.
start_server() {
  local label="$1" template="$2" log="$WORK/$1.server.log" i
  PORT="$(free_port)"
  expand "$template" "port=$PORT"
  "${EXPANDED[@]}" >"$log" 2>&1 &
  SERVER_PID=$!
  for ((i = 0; i < START_LIMIT * 10; i++)); do
    if grep -Eqs "listening on (ws://)?127\.0\.0\.1:$PORT\b" "$log"; then
      return 0
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      wait "$SERVER_PID" 2>/dev/null || true
      SERVER_PID=""
      echo "  $label exited at start:"
      sed 's/^/    /' "$log" | tail -n 20
      return 1
    fi
    sleep 0.1
  done
  echo "  $label did not print its listening line within ${START_LIMIT}s:"
  sed 's/^/    /' "$log" | tail -n 20
  stop_server
  return 1
}

server_alive() {
  [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null
}

# 1: the peer's client against one of the C API's servers.
peer_client_against() { # PEER LABEL TEMPLATE
  local peer="$1" label="$2" template="$3" out rc
  local client="$PEER_BIN/$peer-client"
  if [[ ! -x "$(program_of "$template")" ]]; then
    fail "$peer-client -> $label: $(program_of "$template") is not built"
    return
  fi
  if ! start_server "$label" "$template"; then
    fail "$peer-client -> $label: the server did not start"
    return
  fi
  # Each run: a path, and the client's extra argument ("deflate": lws-client offers and
  # requires permessage-deflate).
  local run path extra
  for run in "/" "/echo/deeper?query=1" "${PEER_DEFLATE_RUNS[@]}"; do
    read -r path extra <<<"$run"
    out="$WORK/$peer-client.$label.out"
    rc=0
    # shellcheck disable=SC2086
    timeout --kill-after=5 "$RUN_LIMIT" $PEER_WRAP "$client" "ws://127.0.0.1:$PORT$path" \
      "$COUNT" $extra >"$out" 2>&1 || rc=$?
    if ((rc == 0)) && server_alive; then
      pass "$peer-client -> $label ($COUNT messages, path $path${extra:+, $extra})"
    else
      fail "$peer-client -> $label (path $path${extra:+, $extra}): exit $rc$(server_alive || echo ', server died')"
      tail -n 20 "$out" | cut -c1-300 | sed 's/^/    /'
      sed 's/^/    server: /' "$WORK/$label.server.log" | tail -n 10
    fi
  done
  stop_server
}

# 2: one of the C API's clients against the peer's server.
client_against_peer() { # PEER LABEL TEMPLATE
  local peer="$1" label="$2" template="$3" message out got rc i=0
  local server="$PEER_BIN/$peer-echo-server"
  if ! start_server "$peer-echo-server" "$server"; then
    fail "$label -> $peer-echo-server: the server did not start"
    return
  fi
  for message in "${MESSAGES[@]}"; do
    i=$((i + 1))
    out="$WORK/$label.$peer.$i.out"
    expand "$template" "url=ws://127.0.0.1:$PORT/" "message=$message"
    rc=0
    timeout --kill-after=5 "$RUN_LIMIT" "${EXPANDED[@]}" >"$out" 2>"$out.err" || rc=$?
    got="$(cat "$out")"
    if ((rc == 0)) && [[ "$got" == "$message" ]]; then
      pass "$label -> $peer-echo-server (message $i, ${#message} characters)"
    else
      fail "$label -> $peer-echo-server (message $i, ${#message} characters): exit $rc," \
        "echo of ${#got} characters$([[ "$got" == "$message" ]] || echo ', differs')"
      tail -n 20 "$out.err" | cut -c1-300 | sed 's/^/    /'
    fi
  done
  if ! server_alive; then
    fail "$label -> $peer-echo-server: the server died"
    sed 's/^/    server: /' "$WORK/$peer-echo-server.server.log" | tail -n 10
  fi
  stop_server
}

peer_interop() { # PEER
  local peer="$1" p
  PEER_DEFLATE_RUNS=()
  if [[ "$peer" == lws ]]; then
    PEER_DEFLATE_RUNS=("/deflate deflate")
  fi
  for p in "$PEER_BIN/$peer-client" "$PEER_BIN/$peer-echo-server"; do
    if [[ ! -x "$p" ]]; then
      echo "$p is not built (scripts/c-api --build-only builds it)"
      exit 1
    fi
  done
  # Messages for the C API's clients: short, UTF-8 beyond ASCII, at the 125/126 edge of
  # the frame length encoding, and one over 64 KiB.
  local long
  long="$(head -c 70000 /dev/zero | tr '\0' 'x')"
  MESSAGES=(
    "hello"
    "héllo wörld ✓ 日本語"
    "$(printf '%0125d' 0)"
    "$(printf '%0126d' 0)"
    "$long"
  )

  echo "== $peer-client against the C API's echo servers ($COUNT messages each)"
  peer_client_against "$peer" echo-server "$ECHO_SERVER"
  peer_client_against "$peer" sansio-echo-server "$SANSIO_ECHO_SERVER"

  echo "== the C API's clients against $peer-echo-server"
  if [[ -x "$(program_of "$CLIENT")" ]]; then
    client_against_peer "$peer" client "$CLIENT"
  else
    fail "client -> $peer-echo-server: $(program_of "$CLIENT") is not built"
  fi
  if [[ -x "$(program_of "$SANSIO_CLIENT")" ]]; then
    client_against_peer "$peer" sansio-client "$SANSIO_CLIENT"
  else
    echo "skip sansio-client -> $peer-echo-server: $(program_of "$SANSIO_CLIENT") is not built"
  fi

  echo "== $peer: $PASSES passed, $FAILURES failed"
  ((FAILURES == 0))
}
