#!/usr/bin/env bash
# The Autobahn TestSuite against the sans-I/O layer's C programs, run by scripts/c-api with BIN
# (the built programs) and ROOT (the repository) exported:
#  - the fuzzing client against $BIN/sansio-echo-server (permessage-deflate on), reports in
#    reports/c-api/autobahn-sansio-server;
#  - $BIN/sansio-autobahn-client against the fuzzing server, reports in
#    reports/c-api/autobahn-sansio-client.
# Both runs go at once, to stay within scripts/c-api's time limit per scenario; every case
# must be OK (or INFORMATIONAL where Autobahn says so), as scripts/autobahn checks.
set -euo pipefail

: "${BIN:?BIN must name the directory of the built C programs}"
: "${ROOT:?ROOT must name the repository}"
cd "$ROOT"
REPORTS="$ROOT/reports/c-api"
mkdir -p "$REPORTS"

AUTOBAHN_SERVER_CMD="$BIN/sansio-echo-server {port}" \
  scripts/autobahn server -o "$REPORTS/autobahn-sansio-server" \
  >"$REPORTS/autobahn-sansio-server.log" 2>&1 &
server=$!
AUTOBAHN_CLIENT_CMD="$BIN/sansio-autobahn-client {url} {agent}" \
  scripts/autobahn client -o "$REPORTS/autobahn-sansio-client" \
  >"$REPORTS/autobahn-sansio-client.log" 2>&1 &
client=$!

status=0
wait "$server" || status=1
wait "$client" || status=1
for side in server client; do
  echo "== sans-I/O $side"
  sed -n '/== Autobahn report/,$p' "$REPORTS/autobahn-sansio-$side.log"
done
exit "$status"
