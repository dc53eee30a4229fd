#!/usr/bin/env bash
# The `sockeye` command against the tools people use for the same jobs:
#
#   exec   a program per connection: `sockeye serve --exec cat` against
#          Debian's `websocketd cat` and websocat's `cmd:cat`, text messages
#          that are lines;
#   proxy  `sockeye proxy` in front of `sockeye serve --no-deflate` against
#          the same load straight to `sockeye serve --no-deflate`.
#
# Every run starts fresh servers, pinned with taskset to SERVER_CPUS (core 0;
# the programs they start inherit it), and `sockeye bench echo` pinned to
# BENCH_CPUS (core 1). Servers take turns within each repetition, so drift in
# the machine's load spreads over all of them. Medians and ranges go to a
# Markdown report; every run's figures to a JSON-lines file beside it.
#
# CPU of the server side: `sockeye bench --server-pid` reads one process.
# Here a sampler also reads the server (and, for the proxy, the backend)
# and every process descended from it (the `cat`s, websocat's `sh`), at the
# bench's first "measuring" progress line (one second into the measured
# window) and 0.3 s before the window ends: each server's utime + stime
# from /proc/PID/stat, as the bench reads it, and each program's run time
# from /proc/PID/task/*/schedstat, which is exact where stat counts whole
# clock ticks per process (a `cat` serving one connection spends less than
# a tick a second). A run where a process came or went between the two
# samples has no server-side figure. So the exec figures include the
# programs, and "other" (what the bench saw of the machine beyond itself
# and --server-pid) is corrected by taking out what the sampler counted
# for the server side.
#
# Loopback only, ports 9501-9513. Every process started here is stopped by
# its PID; leftover descendants of a server (checked by PID and start time)
# too.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCHES="$ROOT/benches"
ORIG_ARGS=("$@")

DURATION="${DURATION:-4}"
WARMUP="${WARMUP:-1}"
REPS="${REPS:-3}"
PARTS="${PARTS:-exec,proxy}"
EXEC_SERVERS="${EXEC_SERVERS:-sockeye,websocketd,websocat}"
OUT="${OUT:-}"
NO_BUILD="${NO_BUILD:-0}"
SERVER_CPUS="${SERVER_CPUS:-0}"
BENCH_CPUS="${BENCH_CPUS:-1}"
SOCKEYE="${SOCKEYE:-$ROOT/target/release/sockeye}"
WEBSOCKETD="${WEBSOCKETD:-/usr/bin/websocketd}"
WEBSOCAT="${WEBSOCAT:-$ROOT/.venv/bin/websocat}"

usage() {
    cat <<EOF
Usage: benches/cli.sh [OPTIONS]

Messages per second, latency and server-side CPU per message of
  exec:  sockeye serve --exec cat, websocketd cat, websocat cmd:cat
         (text lines: 16 B and 1 KiB, 10 and 100 connections, 1 in
         flight; and 100 connections of 16 B with 8 in flight, which
         websocat 1.13 cannot echo exactly)
  proxy: sockeye bench -> sockeye proxy -> sockeye serve, against
         sockeye bench -> sockeye serve (100 conns of 16 B with 16 in
         flight; 10 conns of 64 KiB binary)
About 5 minutes with the defaults.

Options (each also read from the environment variable in brackets):
  -d SECS   measured seconds per run, at least 2 [DURATION, default $DURATION]
  -w SECS   warm-up seconds per run [WARMUP, default $WARMUP]
  -r N      runs of each server in each scenario [REPS, default $REPS]
  -p LIST   parts to run: exec, proxy [PARTS, default $PARTS]
  -s LIST   exec servers: sockeye, websocketd, websocat [EXEC_SERVERS,
            default $EXEC_SERVERS]
  -o FILE   the report [OUT, default benches/results/cli-DATE.md; the
            runs' JSON lines go beside it with .jsonl]
  -B        do not build; use target/release/sockeye as it is [NO_BUILD=1]
  -h        this text

Also: SERVER_CPUS (default 0) and BENCH_CPUS (default 1) for taskset;
SOCKEYE, WEBSOCKETD (default /usr/bin/websocketd) and WEBSOCAT (default
.venv/bin/websocat, which scripts/setup-cli-peers installs) for the binaries.
A server whose binary is missing is reported as skipped.
EOF
}

while getopts ":d:w:r:p:s:o:Bh" opt; do
    case "$opt" in
    d) DURATION="$OPTARG" ;;
    w) WARMUP="$OPTARG" ;;
    r) REPS="$OPTARG" ;;
    p) PARTS="$OPTARG" ;;
    s) EXEC_SERVERS="$OPTARG" ;;
    o) OUT="$OPTARG" ;;
    B) NO_BUILD=1 ;;
    h)
        usage
        exit 0
        ;;
    :)
        echo "cli.sh: -$OPTARG needs a value" >&2
        exit 2
        ;;
    *)
        echo "cli.sh: unknown option -$OPTARG (see -h)" >&2
        exit 2
        ;;
    esac
done
shift $((OPTIND - 1))
if (($# > 0)); then
    echo "cli.sh: unexpected argument '$1' (see -h)" >&2
    exit 2
fi
if ! [[ "$DURATION" =~ ^[0-9]+$ ]] || ((DURATION < 2)); then
    echo "cli.sh: -d must be a whole number of seconds, at least 2 (the CPU window is read from the bench's progress lines)" >&2
    exit 2
fi
if ! [[ "$WARMUP" =~ ^[0-9]+$ ]]; then
    echo "cli.sh: -w must be a whole number of seconds" >&2
    exit 2
fi
if ! [[ "$REPS" =~ ^[1-9][0-9]*$ ]]; then
    echo "cli.sh: -r must be a positive whole number" >&2
    exit 2
fi
IFS=',' read -r -a parts <<<"$PARTS"
IFS=',' read -r -a exec_servers <<<"$EXEC_SERVERS"
for p in "${parts[@]}"; do
    case "$p" in
    exec | proxy) ;;
    *)
        echo "cli.sh: unknown part '$p' (known: exec, proxy)" >&2
        exit 2
        ;;
    esac
done
for s in "${exec_servers[@]}"; do
    case "$s" in
    sockeye | websocketd | websocat) ;;
    *)
        echo "cli.sh: unknown exec server '$s' (known: sockeye, websocketd, websocat)" >&2
        exit 2
        ;;
    esac
done
want_part() {
    local p
    for p in "${parts[@]}"; do [[ "$p" == "$1" ]] && return 0; done
    return 1
}

log() { printf '%s\n' "$*" >&2; }

if [[ "$NO_BUILD" != 1 ]]; then
    log "== building sockeye (cargo build --release -p sockeye-cli)"
    (cd "$ROOT" && cargo build --release -p sockeye-cli)
fi
if [[ ! -x "$SOCKEYE" ]]; then
    log "cli.sh: $SOCKEYE is missing (build it, or drop -B)"
    exit 1
fi

STAMP="$(date +%Y%m%d-%H%M%S)"
if [[ -z "$OUT" ]]; then
    OUT="$BENCHES/results/cli-$STAMP.md"
fi
mkdir -p "$(dirname "$OUT")"
JSONL="${OUT%.md}.jsonl"
: >"$JSONL"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sockeye-cli-bench.XXXXXX")"

# ---------------------------------------------------------------- helpers

# The sampler and the report, in Python (standard library only).
cat >"$WORK/cli_bench.py" <<'PYEOF'
"""Runs one `sockeye bench` and samples the server side's CPU; reaps; reports."""
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

HZ = os.sysconf("SC_CLK_TCK")


def read_stat(pid):
    """(ppid, starttime, utime+stime) of a process, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after the last ')'.
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is field 3 (state) of proc(5).
    ppid = int(fields[1])
    ticks = int(fields[11]) + int(fields[12])
    return ppid, int(fields[19]), ticks


def scan():
    """Every process: pid -> (ppid, starttime, ticks)."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = read_stat(int(name))
            if stat is not None:
                table[int(name)] = stat
    return table


def tree(table, root):
    """The root and every process descended from it."""
    children = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            out.append(pid)
            todo.extend(children.get(pid, []))
    return out


def machine_busy():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    return sum(fields[:8]) - fields[3] - fields[4]


def run_ns(pid):
    """Nanoseconds on a CPU of every thread of a process, from schedstat.

    Exact, where /proc/PID/stat rounds each process down to whole clock
    ticks: a `cat` that spent 9 ms would count 0.
    """
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def sample(roots):
    """CPU so far, in clock ticks (fractional), of each root and its tree."""
    table = scan()
    out = {"t": time.monotonic(), "machine": machine_busy(), "roots": {}}
    members = []
    for name, pid in roots.items():
        pids = tree(table, pid)
        # The root as `sockeye bench --server-pid` reads it (whole ticks,
        # threads that ended included); the processes under it exactly.
        own = table[pid][2] if pid in table else None
        below = sum(run_ns(p) for p in pids if p != pid) * HZ / 1e9
        out["roots"][name] = {
            "own": own,
            "tree": None if own is None else own + below,
            "processes": len(pids),
        }
        members.extend((p, table[p][1]) for p in pids if p != pid)
    out["members"] = members
    return out


def run(args):
    """run OUT.json META_JSON ROOTS_JSON -- CMD...: one bench, sampled."""
    out_path, meta, roots = args[0], json.loads(args[1]), json.loads(args[2])
    cmd = args[args.index("--") + 1:]
    with open("/proc/loadavg") as f:
        load = [float(x) for x in f.read().split()[:3]]
    samples = []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout = []
    reader = threading.Thread(target=lambda: stdout.extend(proc.stdout))
    reader.start()
    stderr = []
    timer = None
    for line in proc.stderr:
        stderr.append(line)
        # The first "measuring" line comes one second into the measured
        # window; the second sample is taken 0.3 s before the window ends
        # (at its end the connections close and the programs exit).
        if "measuring:" in line and not samples:
            samples.append(sample(roots))
            timer = threading.Timer(meta["duration"] - 1.3, lambda: samples.append(sample(roots)))
            timer.start()
    if timer is not None:
        timer.join()
    reader.join()
    rc = proc.wait()
    record = {"meta": meta, "rc": rc, "load": load, "bench": None, "side": None}
    for line in reversed(stdout):
        if line.startswith("{"):
            record["bench"] = json.loads(line)
            break
    if record["bench"] is None:
        record["error"] = "".join(stderr[-5:] + stdout[-5:]).strip()
    if len(samples) >= 2:
        first, last = samples[0], samples[-1]
        dt = last["t"] - first["t"]
        side = {"window_s": round(dt, 3), "roots": {}}
        # A process that came or went between the samples (the window
        # missed: the programs ended before the second) spoils the sums.
        steady = all(first["roots"][n]["processes"] == last["roots"][n]["processes"] for n in roots)
        for name in roots:
            a, b = first["roots"][name], last["roots"][name]
            pct = lambda k: None if a[k] is None or b[k] is None else (b[k] - a[k]) / HZ / dt * 100
            side["roots"][name] = {
                "own": pct("own"),
                "tree": pct("tree"),
                "processes": b["processes"],
            }
        side["machine"] = (last["machine"] - first["machine"]) / HZ / dt * 100
        if steady:
            record["side"] = side
        else:
            record["unsteady"] = side
    record["members"] = sorted({tuple(m) for s in samples for m in s["members"]})
    with open(out_path, "w") as f:
        json.dump(record, f)
    msg = record["bench"]["msg_per_s"] if record["bench"] else "no result"
    print(f"{meta['part']} {meta['scenario']} {meta['server']} run {meta['rep']}: "
          f"{msg} msg/s, load {load[0]}", file=sys.stderr)


def reap(args):
    """reap RECORD.json: TERM, then KILL, descendants still alive (same PID and start time)."""
    with open(args[0]) as f:
        members = json.load(f).get("members", [])
    alive = lambda: [p for p, start in members
                     if (s := read_stat(p)) is not None and s[1] == start]
    for p in alive():
        os.kill(p, signal.SIGTERM)
    for _ in range(20):
        if not alive():
            return
        time.sleep(0.1)
    for p in alive():
        print(f"cli.sh: process {p} left by a server: killed", file=sys.stderr)
        os.kill(p, signal.SIGKILL)


def spread(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    return statistics.median(values), values[0], values[-1]


def fmt(x, digits=0):
    return "—" if x is None else f"{x:,.{digits}f}"


def fmt_spread(s, digits=0, scale=1.0):
    if s is None:
        return "failed"
    m, lo, hi = (v * scale for v in s)
    return f"{fmt(m, digits)} ({fmt(lo, digits)}–{fmt(hi, digits)})"


def figures(rec):
    """The per-run figures the report uses; None if the run failed."""
    b = rec["bench"]
    if not b or rec["rc"] != 0 or b["errors"] or b["opened"] != b["connections"]:
        return None
    side = rec["side"] or {"roots": {}}
    roots = side["roots"]
    rate = b["msg_per_s"]
    cpu = b["cpu"]
    out = {
        "rate": rate,
        "p50": b["latency_us"]["p50"],
        "p99": b["latency_us"]["p99"],
        "bench": cpu["bench"],
        "server_own": cpu["server"],
        "server_own_ns": cpu["server_ns_per_msg"],
        "load": rec["load"][0],
    }
    # The server side: every process the sampler counted (on SERVER_CPUS).
    total = sum(r["tree"] for r in roots.values() if r["tree"] is not None) if roots else None
    out["side"] = total
    out["side_ns"] = None if total is None or not rate else total / 100 * 1e9 / rate
    for name, r in roots.items():
        out[f"{name}_ns"] = None if r["tree"] is None or not rate else r["tree"] / 100 * 1e9 / rate
        out[f"{name}_own"] = r["own"]
        out[f"{name}_tree"] = r["tree"]
        out[f"{name}_processes"] = r["processes"]
    # What the bench counted as "other" includes the server side beyond
    # --server-pid (the children, the backend): take it out.
    other = cpu["other"]
    if other is not None and total is not None and cpu["server"] is not None:
        other = max(0.0, other - (total - cpu["server"]))
    out["other"] = other
    return out


def verdict(side, bench):
    busy = lambda x: x is not None and x >= 90
    if busy(side) and busy(bench):
        return "both"
    if busy(side):
        return "server side"
    if busy(bench):
        return "bench"
    return "neither"


def report(args):
    """report JSONL OUT.md META_JSON"""
    jsonl, out_path, meta = args[0], args[1], json.loads(args[2])
    recs = [json.loads(line) for line in open(jsonl) if line.strip()]
    lines = []
    w = lines.append
    w(f"# sockeye's command line against websocketd and websocat, and through its proxy\n")
    w(f"Run of {meta['date']} at commit `{meta['commit']}`"
      + (" (with uncommitted changes under crates/)" if meta["dirty"] != "0" else "") + ".")
    w(f"Machine: {meta['cpu']}, {meta['nproc']} cores, Linux {meta['kernel']}; "
      f"load average at the start {meta['load']}.")
    w(f"Command: `{meta['command']}` ({meta['reps']} runs of {meta['duration']} s "
      f"after {meta['warmup']} s of warm-up per server and scenario; servers on CPU "
      f"{meta['server_cpus']}, the bench on CPU {meta['bench_cpus']}).")
    w(f"Versions: {meta['versions']}.\n")
    w("Figures are medians over the runs, with the lowest and highest in brackets. "
      "\"Server side\" CPU is every process of the server side on its core, sampled from "
      "/proc: for exec the server and its `cat`s, for proxy the proxy and the backend; "
      "CPU per message is that divided by the messages echoed. \"Other\" is the rest of "
      "the machine beyond the bench and the server side. \"Limit\": a side at 90% of its "
      "core or more, in most runs.\n")

    def group(part):
        out = {}
        for r in recs:
            m = r["meta"]
            if m["part"] == part:
                out.setdefault((m["scenario"], m["server"]), []).append(r)
        return out

    def limit(figs):
        votes = [verdict(f["side"], f["bench"]) for f in figs]
        return max(set(votes), key=votes.count) if votes else "—"

    exec_runs = group("exec")
    if exec_runs:
        scenarios = list(dict.fromkeys(k[0] for k in exec_runs))
        servers = list(dict.fromkeys(k[1] for k in exec_runs))
        w("## A program per connection (`cat`)\n")
        w("| scenario | server | msg/s | sockeye ÷ it | p50 / p99 µs | server-side CPU per msg, µs | of which the programs | CPU % server side / bench / other | limit | load |")
        w("|---|---|---:|---:|---|---:|---:|---|---|---|")
        notes = []
        for scen in scenarios:
            base = None
            figs_by = {}
            for srv in servers:
                figs_by[srv] = [f for r in exec_runs.get((scen, srv), []) if (f := figures(r))]
            if figs_by.get("sockeye"):
                base = spread(f["rate"] for f in figs_by["sockeye"])
            for srv in servers:
                figs = figs_by[srv]
                runs = exec_runs.get((scen, srv), [])
                if runs and all(r.get("skipped") for r in runs):
                    if runs[0]["skipped"] not in notes:
                        notes.append(runs[0]["skipped"])
                    mark = "*" * (notes.index(runs[0]["skipped"]) + 1)
                    w(f"| {scen} | {srv} | not run{mark} | | | | | | | |")
                    continue
                if not figs:
                    reason = runs[0].get("error", "failed") if runs else "not run"
                    w(f"| {scen} | {srv} | failed ({len(runs)} runs) | | | | | | | {reason.splitlines()[-1] if reason else ''} |")
                    continue
                rate = spread(f["rate"] for f in figs)
                ratio = "" if base is None or srv == "sockeye" else f"{base[0] / rate[0]:.2f}×"
                p50 = spread(f["p50"] for f in figs)
                p99 = spread(f["p99"] for f in figs)
                ns = spread(f["side_ns"] for f in figs)
                kids = spread(
                    (f["server_tree"] - f["server_own"]) / f["server_tree"] * 100
                    if f.get("server_tree") and f.get("server_own") is not None else None
                    for f in figs)
                side = spread(f["side"] for f in figs)
                bench = spread(f["bench"] for f in figs)
                other = spread(f["other"] for f in figs)
                load = spread(f["load"] for f in figs)
                failed = len(runs) - len(figs)
                w(f"| {scen} | {srv}{f' ({failed} failed)' if failed else ''} | {fmt_spread(rate)} | {ratio} "
                  f"| {fmt(p50[0])} / {fmt(p99[0])} "
                  f"| {fmt_spread(ns, 1, 1e-3)} | {fmt(kids[0] if kids else None)}% "
                  f"| {fmt(side[0] if side else None)} / {fmt(bench[0])} / {fmt(other[0] if other else None)} "
                  f"| {limit(figs)} | {load[1]:.1f}–{load[2]:.1f} |")
        w("")
        for i, note in enumerate(notes, 1):
            w(f"{'*' * i} {note}.\n")

    proxy_runs = group("proxy")
    if proxy_runs:
        scenarios = list(dict.fromkeys(k[0] for k in proxy_runs))
        w("## Through `sockeye proxy` against straight to `sockeye serve`\n")
        w("| scenario | path | msg/s | ÷ direct | p50 / p99 µs | proxy CPU per msg, µs | backend CPU per msg, µs | CPU % server side / bench / other | limit | load |")
        w("|---|---|---:|---:|---|---:|---:|---|---|---|")
        for scen in scenarios:
            base = None
            for path in ("direct", "proxy"):
                runs = proxy_runs.get((scen, path), [])
                figs = [f for r in runs if (f := figures(r))]
                if not figs:
                    reason = runs[0].get("error", "failed") if runs else "not run"
                    w(f"| {scen} | {path} | failed ({len(runs)} runs) | | | | | | | {reason.splitlines()[-1] if reason else ''} |")
                    continue
                rate = spread(f["rate"] for f in figs)
                if path == "direct":
                    base = rate
                ratio = f"{rate[0] / base[0]:.2f}×" if base else ""
                p50 = spread(f["p50"] for f in figs)
                p99 = spread(f["p99"] for f in figs)
                front = "server" if path == "direct" else "proxy"
                front_ns = spread(f.get(f"{front}_ns") for f in figs)
                back_ns = spread(f.get("backend_ns") for f in figs) if path == "proxy" else None
                side = spread(f["side"] for f in figs)
                bench = spread(f["bench"] for f in figs)
                other = spread(f["other"] for f in figs)
                load = spread(f["load"] for f in figs)
                failed = len(runs) - len(figs)
                w(f"| {scen} | {path}{f' ({failed} failed)' if failed else ''} | {fmt_spread(rate)} | {ratio} "
                  f"| {fmt(p50[0])} / {fmt(p99[0])} "
                  f"| {fmt_spread(front_ns, 1, 1e-3) if path == 'proxy' else '—'} "
                  f"| {fmt_spread(back_ns, 1, 1e-3) if path == 'proxy' else fmt_spread(front_ns, 1, 1e-3)} "
                  f"| {fmt(side[0] if side else None)} / {fmt(bench[0])} / {fmt(other[0] if other else None)} "
                  f"| {limit(figs)} | {load[1]:.1f}–{load[2]:.1f} |")
        w("")
        w("For the direct path the backend column is the server's own CPU per message.\n")

    w("## Every run (msg/s)\n")
    w("| part | scenario | server | runs |")
    w("|---|---|---|---|")
    seen = {}
    for r in recs:
        m = r["meta"]
        f = figures(r)
        seen.setdefault((m["part"], m["scenario"], m["server"]), []).append(
            fmt(f["rate"]) if f else "skipped" if r.get("skipped") else "failed")
    for (part, scen, srv), runs in seen.items():
        w(f"| {part} | {scen} | {srv} | {', '.join(runs)} |")
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    {"run": run, "reap": reap, "report": report}[sys.argv[1]](sys.argv[2:])
PYEOF
PY="$WORK/cli_bench.py"

# Processes started here, stopped by PID on exit (never by name).
PIDS=()
stop_pid() {
    local pid="$1"
    kill "$pid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    PIDS=()
}
cleanup() {
    stop_all
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_open() {
    # A TCP connect through bash's /dev/tcp, in a subshell so the fd closes.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# start NAME PORT CMD...: starts CMD pinned to SERVER_CPUS, waits until PORT
# accepts; the PID goes to STARTED and onto PIDS.
STARTED=""
start() {
    local name="$1" port="$2"
    shift 2
    if port_open "$port"; then
        log "cli.sh: something already listens on port $port; not starting $name"
        return 1
    fi
    taskset -c "$SERVER_CPUS" "$@" >"$WORK/$name.log" 2>&1 &
    STARTED=$!
    PIDS+=("$STARTED")
    local i
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "$STARTED" 2>/dev/null; then
            log "cli.sh: $name exited at start:"
            tail -5 "$WORK/$name.log" >&2
            return 1
        fi
        port_open "$port" && return 0
        sleep 0.1
    done
    log "cli.sh: $name did not accept on port $port within 10 s"
    return 1
}

RUN=0
# bench PART SCENARIO SERVER REP ROOTS_JSON SERVER_PID URL BENCH_ARGS...:
# one sampled run, its record appended to $JSONL.
bench() {
    local part="$1" scen="$2" server="$3" rep="$4" roots="$5" pid="$6" url="$7"
    shift 7
    RUN=$((RUN + 1))
    local rec="$WORK/run-$RUN.json"
    local meta
    meta="$(printf '{"part":"%s","scenario":"%s","server":"%s","rep":%s,"duration":%s}' "$part" "$scen" "$server" "$rep" "$DURATION")"
    local limit=$((DURATION + WARMUP + 60))
    timeout --kill-after=5 "$limit" python3 "$PY" run "$rec" "$meta" "$roots" -- \
        taskset -c "$BENCH_CPUS" "$SOCKEYE" bench echo "$url" --server-pid "$pid" \
        -d "$DURATION" -w "$WARMUP" "$@" || true
    if [[ -s "$rec" ]]; then
        cat "$rec" >>"$JSONL"
        echo >>"$JSONL"
    else
        printf '{"meta":%s,"rc":1,"load":[0,0,0],"bench":null,"side":null,"error":"the bench did not finish"}\n' "$meta" >>"$JSONL"
    fi
    LAST_RECORD="$rec"
}
LAST_RECORD=""

# Ports: one per server, so sockets of one in TIME_WAIT never meet the next.
exec_port() {
    case "$1" in
    sockeye) echo 9501 ;;
    websocketd) echo 9502 ;;
    websocat) echo 9503 ;;
    esac
}
exec_cmd() {
    local port="$2"
    case "$1" in
    sockeye) printf '%s\n' "$SOCKEYE" serve "127.0.0.1:$port" --exec cat ;;
    websocketd) printf '%s\n' "$WEBSOCKETD" "--port=$port" --address=127.0.0.1 cat ;;
    # --text: cat's lines go out as text messages. Line mode (a message per
    # line) is websocat's default; --linemode-strip-newlines leaves the
    # newline out of each message (without it every echo is one byte
    # longer than what was sent). -E ends the connection when cat ends and
    # cat when the client closes, so no cat waits on a closed socket.
    websocat) printf '%s\n' "$WEBSOCAT" --text -E --linemode-strip-newlines "ws-l:127.0.0.1:$port" cmd:cat ;;
    esac
}
exec_binary() {
    case "$1" in
    sockeye) echo "$SOCKEYE" ;;
    websocketd) echo "$WEBSOCKETD" ;;
    websocat) echo "$WEBSOCAT" ;;
    esac
}

# Scenarios: name|bench arguments|exec servers left out (with the reason
# below).
EXEC_SCENARIOS=(
    "10 conns, 16 B lines, 1 in flight|-c 10 -s 16 -n 1|"
    "100 conns, 16 B lines, 1 in flight|-c 100 -s 16 -n 1|"
    "100 conns, 1 KiB lines, 1 in flight|-c 100 -s 1k -n 1|"
    "100 conns, 16 B lines, 8 in flight|-c 100 -s 16 -n 8|websocat"
)
# websocat 1.13 with --linemode-strip-newlines sends the newline between two
# lines that cat wrote at once as a message of its own, and without the
# flag every message keeps its newline: with more than one message in
# flight its echoes cannot match what was sent.
SKIP_REASON="websocat: with more than one line in flight, --linemode-strip-newlines sends each newline between two lines read at once as a message of its own"
PROXY_SCENARIOS=(
    "100 conns, 16 B, 16 in flight|-c 100 -s 16 -n 16"
    "10 conns, 64 KiB binary, 1 in flight|-c 10 -s 64k -n 1 --binary"
)
DIRECT_PORT=9511
BACKEND_PORT=9512
PROXY_PORT=9513

# ---------------------------------------------------------------- metadata

cmdline="$(printf '%q ' "benches/cli.sh" "${ORIG_ARGS[@]}")"
dirty="$(git -C "$ROOT" status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null | wc -l)"
versions="sockeye $("$SOCKEYE" --version 2>/dev/null | awk '{print $2}')"
if [[ -x "$WEBSOCKETD" ]]; then
    # Debian's build calls itself DEVBUILD: ask the package manager first.
    wsd_version="$(dpkg-query -W -f '${Version}' websocketd 2>/dev/null || true)"
    [[ -n "$wsd_version" ]] || wsd_version="$("$WEBSOCKETD" --version 2>&1 | head -1 | awk '{print $2}')"
    versions+=", websocketd $wsd_version"
fi
if [[ -x "$WEBSOCAT" ]]; then
    versions+=", websocat $("$WEBSOCAT" --version 2>&1 | awk '{print $2}')"
fi
versions+=", cat from $(cat --version | head -1)"
META="$(python3 -c 'import json, sys; print(json.dumps(dict(zip(sys.argv[1::2], sys.argv[2::2]))))' \
    date "$(date -u '+%Y-%m-%d %H:%M UTC')" \
    command "${cmdline% }" \
    commit "$(git -C "$ROOT" log -1 --format='%h' 2>/dev/null || echo unknown)" \
    dirty "$dirty" \
    kernel "$(uname -r)" \
    nproc "$(nproc)" \
    cpu "$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: *//')" \
    load "$(cut -d' ' -f1-3 /proc/loadavg)" \
    reps "$REPS" duration "$DURATION" warmup "$WARMUP" \
    server_cpus "$SERVER_CPUS" bench_cpus "$BENCH_CPUS" \
    versions "$versions")"

# ---------------------------------------------------------------- exec

if want_part exec; then
    for scenario in "${EXEC_SCENARIOS[@]}"; do
        IFS='|' read -r name argtext skip <<<"$scenario"
        read -r -a args <<<"$argtext"
        log "== exec: $name (sockeye bench echo ${args[*]})"
        for ((rep = 1; rep <= REPS; rep++)); do
            for server in "${exec_servers[@]}"; do
                if [[ ",$skip," == *",$server,"* ]]; then
                    printf '{"meta":{"part":"exec","scenario":"%s","server":"%s","rep":%s},"rc":1,"load":[0,0,0],"bench":null,"side":null,"skipped":"%s"}\n' \
                        "$name" "$server" "$rep" "$SKIP_REASON" >>"$JSONL"
                    continue
                fi
                if [[ ! -x "$(exec_binary "$server")" ]]; then
                    log "cli.sh: $(exec_binary "$server") is missing: $server skipped"
                    printf '{"meta":{"part":"exec","scenario":"%s","server":"%s","rep":%s},"rc":1,"load":[0,0,0],"bench":null,"side":null,"skipped":"%s is missing"}\n' \
                        "$name" "$server" "$rep" "$(exec_binary "$server")" >>"$JSONL"
                    continue
                fi
                port="$(exec_port "$server")"
                mapfile -t cmd < <(exec_cmd "$server" "$port")
                if ! start "$server" "$port" "${cmd[@]}"; then
                    stop_all
                    printf '{"meta":{"part":"exec","scenario":"%s","server":"%s","rep":%s},"rc":1,"load":[0,0,0],"bench":null,"side":null,"error":"server did not start"}\n' \
                        "$name" "$server" "$rep" >>"$JSONL"
                    continue
                fi
                pid="$STARTED"
                bench exec "$name" "$server" "$rep" "{\"server\":$pid}" "$pid" \
                    "ws://127.0.0.1:$port/" "${args[@]}"
                stop_all
                python3 "$PY" reap "$LAST_RECORD" || true
                sleep 0.3
            done
        done
    done
fi

# ---------------------------------------------------------------- proxy

if want_part proxy; then
    for scenario in "${PROXY_SCENARIOS[@]}"; do
        name="${scenario%%|*}"
        read -r -a args <<<"${scenario#*|}"
        log "== proxy: $name (sockeye bench echo ${args[*]})"
        for ((rep = 1; rep <= REPS; rep++)); do
            # Straight to the server.
            if start direct "$DIRECT_PORT" "$SOCKEYE" serve "127.0.0.1:$DIRECT_PORT" --no-deflate; then
                pid="$STARTED"
                bench proxy "$name" direct "$rep" "{\"server\":$pid}" "$pid" \
                    "ws://127.0.0.1:$DIRECT_PORT/" "${args[@]}"
            fi
            stop_all
            sleep 0.3
            # Through the proxy; the backend shares the server's core.
            if start backend "$BACKEND_PORT" "$SOCKEYE" serve "127.0.0.1:$BACKEND_PORT" --no-deflate; then
                backend="$STARTED"
                if start proxy "$PROXY_PORT" "$SOCKEYE" proxy "127.0.0.1:$PROXY_PORT" \
                    --to "ws://127.0.0.1:$BACKEND_PORT/"; then
                    pid="$STARTED"
                    bench proxy "$name" proxy "$rep" "{\"proxy\":$pid,\"backend\":$backend}" "$pid" \
                        "ws://127.0.0.1:$PROXY_PORT/" "${args[@]}"
                fi
            fi
            stop_all
            sleep 0.3
        done
    done
fi

python3 "$PY" report "$JSONL" "$OUT" "$META"
log "== report: $OUT (every run: $JSONL)"
cat "$OUT"
