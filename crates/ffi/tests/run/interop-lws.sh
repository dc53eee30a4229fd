#!/usr/bin/env bash
# Interop with libwebsockets (Debian's 4.1.6): lws-client against the C API's echo servers, and
# the C API's clients against lws-echo-server (permessage-deflate offered). See peers.bash for
# the checks and the environment variables.
set -euo pipefail
# shellcheck source=crates/ffi/tests/run/peers.bash
source "$(dirname "${BASH_SOURCE[0]}")/peers.bash"
peer_interop lws
