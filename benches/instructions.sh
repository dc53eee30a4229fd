#!/usr/bin/env bash
# Counts the instructions `sockeye serve` spends per echo, under valgrind's
# callgrind: a figure that stays the same to a few parts in ten thousand from
# run to run whatever else the machine is doing, unlike msg/s or CPU time.
# Use it to compare two builds of the server (before and after a change) when
# the timed benchmarks (compare.sh) are too noisy to show a small difference.
#
# Under callgrind the server runs some 50 times slower, so the load
# generator is never the limit and the server reads more messages per system
# call than at full speed: compare builds with each other, not with the
# timed figures. The count includes starting the server and the handshakes
# of the connections, spread over the echoes.
#
# Usage: benches/instructions.sh [-b SERVER_BIN] [-l BENCH_BIN] [-S b,c] [-d SECS] [-r N]
#   -b  the `sockeye` binary whose `serve` is measured [target/release/sockeye]
#   -l  the `sockeye` binary that generates the load   [target/release/sockeye]
#   -S  scenarios, as in compare.sh: b (100 conns, 16 B text, 16 in flight),
#       c (10 conns, 64 KiB binary)                     [b,c]
#   -d  seconds of load per run                         [10]
#   -r  runs of each scenario                           [1]
# Loopback only; the server listens on a port the OS picks and is stopped by
# its PID.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVER_BIN="$ROOT/target/release/sockeye"
BENCH_BIN="$ROOT/target/release/sockeye"
SCENARIOS="b,c"
DURATION=10
REPS=1
while getopts ':b:l:S:d:r:h' opt; do
    case "$opt" in
    b) SERVER_BIN="$OPTARG" ;;
    l) BENCH_BIN="$OPTARG" ;;
    S) SCENARIOS="$OPTARG" ;;
    d) DURATION="$OPTARG" ;;
    r) REPS="$OPTARG" ;;
    h)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "instructions.sh: bad option (see -h)" >&2
        exit 2
        ;;
    esac
done
command -v valgrind >/dev/null || {
    echo "instructions.sh: needs valgrind (apt-get install valgrind)" >&2
    exit 2
}

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sockeye-instructions.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# measure SCENARIO RUN: prints "echoes instructions" for one run.
measure() {
    local scenario="$1" run="$2" args url i
    case "$scenario" in
    b) args=(-c 100 -s 16 -n 16) ;;
    c) args=(-c 10 -s 64k -n 1 --binary) ;;
    *)
        echo "instructions.sh: unknown scenario '$scenario'" >&2
        exit 2
        ;;
    esac
    local out="$WORK/$scenario-$run"
    valgrind --tool=callgrind --callgrind-out-file="$out.cg" \
        "$SERVER_BIN" serve 127.0.0.1:0 --no-deflate >"$out.serve" 2>&1 &
    SERVER_PID=$!
    url=""
    for ((i = 0; i < 300; i++)); do
        url="$(grep -o 'listening on ws://[^ ]*' "$out.serve" | head -n 1 | sed 's/^listening on //')" || true
        [[ -n "$url" ]] && break
        sleep 0.1
    done
    [[ -n "$url" ]] || {
        echo "instructions.sh: the server did not start (see $out.serve)" >&2
        exit 1
    }
    # No warm-up: every echo the server made is counted, but for the few
    # still in flight when the bench stops.
    "$BENCH_BIN" bench echo "$url" "${args[@]}" -d "$DURATION" -w 0 >"$out.bench" 2>&1
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || true
    SERVER_PID=""
    local echoes total
    echoes="$(grep -o '"messages":[0-9]*' "$out.bench" | cut -d: -f2)"
    total="$(callgrind_annotate "$out.cg" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')"
    echo "$echoes $total"
}

echo "| scenario | run | echoes | instructions | instructions per echo |"
echo "|---|---:|---:|---:|---:|"
IFS=, read -r -a scenarios <<<"$SCENARIOS"
for scenario in "${scenarios[@]}"; do
    for ((run = 1; run <= REPS; run++)); do
        read -r echoes total < <(measure "$scenario" "$run")
        awk -v s="$scenario" -v r="$run" -v e="$echoes" -v t="$total" \
            'BEGIN { printf "| %s | %d | %d | %d | %.1f |\n", s, r, e, t, t / e }'
    done
done
