#!/usr/bin/env python3
"""Writes the Markdown report of benches/c-api/run.sh.

Usage: report.py RUN_DIR OUT.md

RUN_DIR holds manifest.tsv (server, scenario, run, status, output file per
line; status is the bench's exit code, "start" or "died"), meta.tsv (key,
value) and the bench outputs, each with one JSON line (the line starting
with "{"). The report goes to OUT.md and stdout.
"""

import json
import os
import statistics
import sys

SERVERS = ["echo-server", "sansio-echo-server", "lws-echo-server"]
REFERENCE = "lws-echo-server"
LABELS = {
    "echo-server": "C API, batteries",
    "sansio-echo-server": "C API, sans-I/O",
    "lws-echo-server": "libwebsockets",
}
ECHO = ["n1", "n16"]
# A side using at least this share of one core counts as saturated.
SATURATED = 95.0


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def json_line(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("{"):
                    return json.loads(line)
    except (OSError, ValueError):
        return None
    return None


def judge(status, path):
    """(ok, reason, result) of one run."""
    if status == "start":
        return False, "server did not start", None
    result = json_line(path)
    if status == "died":
        return False, "server died", result
    if result is None:
        return False, f"no result (bench exit {status})", None
    if result.get("errors", 0):
        return False, f"{result['errors']} errors", result
    if result.get("opened", 0) < result.get("connections", 0):
        return False, f"opened {result.get('opened')} of {result.get('connections')}", result
    if status != "0":
        return False, f"bench exit {status}", result
    return True, "", result


def num(v, digits=0):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


class Figure:
    """The runs' values of one figure for one server and scenario."""

    def __init__(self, values):
        self.values = [v for v in values if v is not None]

    def median(self):
        return statistics.median(self.values) if self.values else None

    def cell(self, digits=0):
        m = self.median()
        if m is None:
            return "—"
        if len(self.values) < 2:
            return num(m, digits)
        lo, hi = min(self.values), max(self.values)
        spread = (hi - lo) / m * 100 if m else 0
        return f"{num(m, digits)} ({num(lo, digits)}–{num(hi, digits)}, ±{spread / 2:.0f}%)"


def main():
    run_dir, out = sys.argv[1], sys.argv[2]
    meta = {}
    for row in read_tsv(os.path.join(run_dir, "meta.tsv")):
        meta[row[0]] = row[1] if len(row) > 1 else ""
    runs = {}
    for server, scen, rep, status, path in read_tsv(os.path.join(run_dir, "manifest.tsv")):
        runs.setdefault((server, scen), []).append(judge(status, path))

    failures = []

    def results(server, scen):
        rs = runs.get((server, scen), [])
        for ok, reason, _ in rs:
            if not ok:
                failures.append(f"{server}, {scen}: {reason}")
        return [r for ok, _, r in rs if ok]

    def figure(server, scen, get):
        vals = []
        for r in results(server, scen):
            try:
                vals.append(get(r))
            except (KeyError, TypeError):
                vals.append(None)
        return Figure(vals)

    rows = [
        ("msg/s, 1 in flight (higher is better)", "n1", lambda r: r["msg_per_s"], True, 0),
        ("msg/s, 16 in flight (higher is better)", "n16", lambda r: r["msg_per_s"], True, 0),
        ("server CPU ns per echo, 1 in flight", "n1",
         lambda r: r["cpu"]["server_ns_per_msg"], False, 0),
        ("server CPU ns per echo, 16 in flight", "n16",
         lambda r: r["cpu"]["server_ns_per_msg"], False, 0),
        ("latency p50 µs, 1 in flight", "n1", lambda r: r["latency_us"]["p50"], False, 0),
        ("latency p99 µs, 1 in flight", "n1", lambda r: r["latency_us"]["p99"], False, 0),
        ("idle server memory, bytes per connection (lower is better)", "idle",
         lambda r: r["server_rss_per_conn"], False, 0),
    ]

    lines = []
    w = lines.append
    w("# sockeye's C API against libwebsockets")
    w("")
    w(f"- date: {meta.get('date')}; machine: {meta.get('machine')}; load average at start"
      f" {meta.get('load')}")
    dirty = int(meta.get("dirty", "0") or 0)
    w(f"- commit: `{meta.get('commit')}`" + (f" plus {dirty} uncommitted change(s)" if dirty else ""))
    w(f"- {meta.get('settings')}; {meta.get('cpus')}; a fresh server per run, servers in a"
      " rotated order each repetition")
    w(f"- libwebsockets {meta.get('lws')} (Debian)")
    for s in SERVERS:
        w(f"- {s}: `{meta.get('cmd:' + s)}`")
    if meta.get("stand_ins") == "1":
        w("- **STAND_INS=1: both C API columns ran sockeye's Rust echo server (`sockeye serve`),"
          " not the C programs.**")
    w("")
    w("Medians of the runs, with (min–max, ± half the spread relative to the median). Ratio:"
      " the C API's figure over libwebsockets' for msg/s, libwebsockets' over the C API's for"
      " the lower-is-better figures, so > 1 always means the C API is ahead.")
    w("")
    w("| figure | " + " | ".join(f"{s} ({LABELS[s]})" for s in SERVERS)
      + " | batteries vs lws | sans-I/O vs lws |")
    w("|---|" + "---:|" * len(SERVERS) + "---:|---:|")
    for title, scen, get, higher, digits in rows:
        figs = {s: figure(s, scen, get) for s in SERVERS}
        ref = figs[REFERENCE].median()
        ratios = []
        for s in SERVERS[:2]:
            m = figs[s].median()
            if m is None or ref is None or m == 0 or ref == 0:
                ratios.append("—")
            else:
                ratios.append(f"{(m / ref) if higher else (ref / m):.2f}×")
        w(f"| {title} | " + " | ".join(figs[s].cell(digits) for s in SERVERS)
          + f" | {ratios[0]} | {ratios[1]} |")
    w("")

    w("## Which side was the limit")
    w("")
    w(f"CPU use in % of one core, medians: server / `sockeye bench` / other processes. A side at"
      f" {SATURATED:.0f}% or more is saturated: when it is the bench, that server's msg/s is a"
      " floor, not its ceiling. In brackets `sockeye bench`'s own verdict.")
    w("")
    w("| scenario | " + " | ".join(SERVERS) + " |")
    w("|---|" + "---|" * len(SERVERS))
    for scen, title in (("n1", "1 in flight"), ("n16", "16 in flight")):
        cells = []
        for s in SERVERS:
            rs = results(s, scen)
            if not rs:
                cells.append("—")
                continue
            srv = Figure([r.get("cpu", {}).get("server") for r in rs]).median()
            bench = Figure([r.get("cpu", {}).get("bench") for r in rs]).median()
            other = Figure([r.get("cpu", {}).get("other") for r in rs]).median()
            limits = [r.get("bottleneck") for r in rs]
            verdict = max(set(limits), key=limits.count) if limits else None
            at = []
            if srv is not None and srv >= SATURATED:
                at.append("server at 100%")
            if bench is not None and bench >= SATURATED:
                at.append("bench at 100%")
            cells.append(f"{num(srv)} / {num(bench)} / {num(other)} ({verdict})"
                         + (f" **{', '.join(at)}**" if at else ""))
        w(f"| {title} | " + " | ".join(cells) + " |")
    w("")

    if failures:
        w("## Failed runs (left out of the medians)")
        w("")
        for f in sorted(set(failures)):
            w(f"- {f}")
        w("")
    w("## Every run")
    w("")
    w("| server | scenario | runs |")
    w("|---|---|---|")
    for s in SERVERS:
        for scen in ECHO + ["idle"]:
            vals = []
            for ok, reason, r in runs.get((s, scen), []):
                if not ok:
                    vals.append(f"failed: {reason}")
                elif scen == "idle":
                    vals.append(f"{num(r.get('server_rss_per_conn'))} B/conn")
                else:
                    vals.append(f"{num(r.get('msg_per_s'))} msg/s")
            if vals:
                w(f"| {s} | {scen} | {', '.join(vals)} |")
    w("")

    text = "\n".join(lines)
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
