#!/usr/bin/env bash
# Builds the peer echo servers that benches/compare.sh measures sockeye
# against:
#   rust  target/release/{tungstenite,fastwebsockets,tokio-websockets}-echo
#         (cargo build --release here; this project is outside the main
#         workspace, so the library's own builds never compile it)
#   node  node/node_modules (npm ci: ws and bufferutil, from package-lock.json)
#   uws   target/uws-echo (uws/build.sh: uWebSockets sources from crates.io)
#
# Usage: benches/peers/build.sh [rust] [node] [uws]    (no argument: all three)
# Exits non-zero if any part failed, after trying every part asked for.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
parts=("$@")
if ((${#parts[@]} == 0)); then
    parts=(rust node uws)
fi

failed=()
for part in "${parts[@]}"; do
    echo "== peers: building $part" >&2
    case "$part" in
    rust) (cd "$here" && cargo build --release --locked) || failed+=(rust) ;;
    node) (cd "$here/node" && npm ci --no-audit --no-fund --loglevel=error) || failed+=(node) ;;
    uws) "$here/uws/build.sh" || failed+=(uws) ;;
    *)
        echo "unknown part '$part' (expected rust, node or uws)" >&2
        exit 2
        ;;
    esac
done

if ((${#failed[@]} > 0)); then
    echo "== peers: FAILED: ${failed[*]}" >&2
    exit 1
fi
