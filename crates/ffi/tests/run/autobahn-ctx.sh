#!/usr/bin/env bash
# The Autobahn TestSuite against sockeye's batteries-included C layer, both ways:
#  - server: kosoku's fuzzing client against $BIN/echo-server (reports/c-api/autobahn-ctx-server)
#  - client: $BIN/autobahn-client against kosoku's fuzzing server
#    (reports/c-api/autobahn-ctx-client)
# Every case must be OK (strict: NON-STRICT and UNIMPLEMENTED fail), as scripts/autobahn checks.
# Run by scripts/c-api with BIN and ROOT exported.
set -euo pipefail
: "${BIN:?BIN is exported by scripts/c-api}" "${ROOT:?ROOT is exported by scripts/c-api}"
cd "$ROOT"

AUTOBAHN_SERVER_CMD="$BIN/echo-server {port}" \
  scripts/autobahn server -o reports/c-api/autobahn-ctx-server
AUTOBAHN_CLIENT_CMD="$BIN/autobahn-client {url} {agent}" \
  scripts/autobahn client -o reports/c-api/autobahn-ctx-client
