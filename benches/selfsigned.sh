#!/usr/bin/env bash
# Makes a throwaway P-256 certificate for localhost and 127.0.0.1, valid two
# days, in DIR: DIR/key.pem and DIR/cert.pem. For the benchmark scripts.
#
# Usage: benches/selfsigned.sh DIR
set -euo pipefail
DIR="$1"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -addext "basicConstraints=critical,CA:FALSE" \
  -keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null
