#!/usr/bin/env bash
# The Autobahn TestSuite against sockeye's batteries-included C layer, both ways at once:
#  - server: kosoku's fuzzing client against $BIN/echo-server (reports/c-api/autobahn-ctx-server)
#  - client: $BIN/autobahn-client against kosoku's fuzzing server
#    (reports/c-api/autobahn-ctx-client)
# Every case must be OK (strict: NON-STRICT and UNIMPLEMENTED fail), as scripts/autobahn checks.
# The two runs take about 4 minutes each here, most of it kosoku's; they run side by side, each
# on its own free port, and their output is shown one after the other.
# Run by scripts/c-api with BIN and ROOT exported.
set -euo pipefail
: "${BIN:?BIN is exported by scripts/c-api}" "${ROOT:?ROOT is exported by scripts/c-api}"
cd "$ROOT"
mkdir -p reports/c-api
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

AUTOBAHN_SERVER_CMD="$BIN/echo-server {port}" \
  scripts/autobahn server -o reports/c-api/autobahn-ctx-server >"$WORK/server.log" 2>&1 &
server=$!
AUTOBAHN_CLIENT_CMD="$BIN/autobahn-client {url} {agent}" \
  scripts/autobahn client -o reports/c-api/autobahn-ctx-client >"$WORK/client.log" 2>&1 &
client=$!

status=0
wait "$server" || status=1
wait "$client" || status=1
cat "$WORK/server.log" "$WORK/client.log"
exit "$status"
