#!/usr/bin/env bash
# Interop with wslay (Debian's 1.1.1, with this repository's own HTTP/1.1 upgrade on top):
# wslay-client against the C API's echo servers, and the C API's clients against
# wslay-echo-server. See peers.bash for the checks and the environment variables.
set -euo pipefail
# shellcheck source=crates/ffi/tests/run/peers.bash
source "$(dirname "${BASH_SOURCE[0]}")/peers.bash"
peer_interop wslay
