#!/usr/bin/env python3
"""Writes the Markdown report of benches/compare.sh.

Usage: compare_report.py RUN_DIR OUT.md

RUN_DIR holds manifest.tsv (server, scenario, run, exit status, output file
per line), meta.tsv (key, value per line) and the bench outputs. Each
`sockeye bench` output has exactly one line starting with `{`: its JSON
result. The report goes to OUT.md and stdout; every run's record, JSON
included, goes to OUT.jsonl.
"""

import json
import os
import re
import statistics
import sys

SERVERS = ["sockeye", "tungstenite", "fastwebsockets", "tokio-websockets", "node-ws", "uws"]
PEER_NAMES = {
    "sockeye": "sockeye",
    "tungstenite": "tokio-tungstenite",
    "fastwebsockets": "fastwebsockets",
    "tokio-websockets": "tokio-websockets",
    "node-ws": "Node ws",
    "uws": "uWebSockets",
}
ECHO = ["a", "b", "c", "d"]
TITLES = {
    "a": "a: 100 conns, 16 B text, 1 in flight",
    "b": "b: 100 conns, 16 B text, 16 in flight",
    "c": "c: 10 conns, 64 KiB binary",
    "d": "d: 1 conn, 1 MiB binary",
    "e": "e: idle connections",
}


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
    """Returns (ok, reason, result) for one run."""
    if status == "build":
        return False, "build failed", None
    if status == "start":
        return False, "server did not start", None
    result = json_line(path) if path != "-" else None
    if status == "died":
        return False, "server died during the run", result
    rc = int(status)
    if result is None:
        if rc in (124, 137):
            return False, "bench timed out", None
        return False, f"no result (bench exit {rc})", None
    if result.get("errors", 0):
        return False, f"{result['errors']} errors", result
    if result.get("opened", 0) < result.get("connections", 0):
        return False, f"opened {result.get('opened')} of {result.get('connections')} connections", result
    if rc != 0:
        return False, f"bench exit {rc}", result
    return True, "", result


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def num(v, digits=0):
    if v is None:
        return "—"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def spread(values):
    """ " (min–max)" of several runs, or nothing for one."""
    if len(values) < 2:
        return ""
    return f" ({num(min(values))}–{num(max(values))})"


def cargo_lock_versions(path, names):
    versions = {}
    try:
        text = open(path, encoding="utf-8").read()
    except OSError:
        return versions
    for block in text.split("[[package]]"):
        m = re.search(r'^name = "([^"]+)"\s*\nversion = "([^"]+)"', block, re.M)
        if m and m.group(1) in names:
            versions.setdefault(m.group(1), []).append(m.group(2))
    return {k: ", ".join(v) for k, v in versions.items()}


def package_version(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f).get("version", "?")
    except (OSError, ValueError):
        return "not installed"


def main():
    run_dir, out = sys.argv[1], sys.argv[2]
    meta = {}
    for row in read_tsv(os.path.join(run_dir, "meta.tsv")):
        meta[row[0]] = row[1] if len(row) > 1 else ""

    # (server, scenario) -> list of (ok, reason, result)
    runs = {}
    jsonl = []
    for server, scen, rep, status, path in read_tsv(os.path.join(run_dir, "manifest.tsv")):
        ok, reason, result = judge(status, path)
        runs.setdefault((server, scen), []).append((ok, reason, result))
        jsonl.append({"server": server, "scenario": scen, "run": int(rep), "ok": ok,
                      "reason": reason, "output": path, "result": result})

    def cell(server, scen):
        """Returns (medians dict or None, failure text or None)."""
        rs = runs.get((server, scen))
        if not rs:
            return None, None
        bad = [r for r in rs if not r[0]]
        if bad:
            reasons = sorted({r[1] for r in bad})
            return None, f"failed ({len(bad)}/{len(rs)}: {'; '.join(reasons)})"
        res = [r[2] for r in rs]
        if scen == "e":
            return {
                "rss_per_conn": median([r.get("server_rss_per_conn") for r in res]),
                "conn_per_s": median([r.get("conn_per_s") for r in res]),
            }, None
        cpu = [r.get("cpu", {}) for r in res]
        lat = [r.get("latency_us", {}) for r in res]
        limits = [r.get("bottleneck") for r in res]
        return {
            "msg_per_s": median([r.get("msg_per_s") for r in res]),
            "server_ns": median([c.get("server_ns_per_msg") for c in cpu]),
            "bench_ns": median([c.get("bench_ns_per_msg") for c in cpu]),
            "cpu_server": median([c.get("server") for c in cpu]),
            "cpu_bench": median([c.get("bench") for c in cpu]),
            "cpu_other": median([c.get("other") for c in cpu]),
            "p50": median([x.get("p50") for x in lat]),
            "p99": median([x.get("p99") for x in lat]),
            "limit": max(set(limits), key=limits.count) if limits else None,
            "disturbed": sum(1 for x in limits if x == "disturbed"),
            "runs": [r.get("msg_per_s") for r in res],
            "ns_runs": [c.get("server_ns_per_msg") for c in cpu if c.get("server_ns_per_msg")],
        }, None

    servers = [s for s in SERVERS if any(k[0] == s for k in runs)]
    scen_present = [s for s in ECHO + ["e"] if any(k[1] == s for k in runs)]
    lines = []
    w = lines.append

    w("# sockeye compared with other WebSocket servers")
    w("")
    w(f"- date: {meta.get('date')}")
    commit = meta.get("commit", "?")
    dirty = int(meta.get("dirty", "0") or 0)
    w(f"- commit: `{commit}`" + (f" **plus {dirty} uncommitted change(s) under crates/ or Cargo.*"
                                   " (the build measured included them)**" if dirty else ""))
    w(f"- machine: {meta.get('cpu')}, {meta.get('nproc')} CPUs, Linux {meta.get('kernel')};"
      f" load average at start {meta.get('load')}")
    w(f"- command: `{meta.get('command')}`")
    alternate = meta.get("alternate") == "1"
    fresh = ("a fresh server process per run, the servers taken in turn in each repetition"
             if alternate else "a fresh server process per scenario")
    w(f"- each server pinned to CPU {meta.get('server_cpus')}, `sockeye bench` to CPU"
      f" {meta.get('bench_cpus')}; {fresh}; echo scenarios"
      f" run {meta.get('reps')} time(s) for {meta.get('duration')} s after"
      f" {meta.get('warmup')} s of warm-up, figures are medians; idle: {meta.get('idle_conns')}"
      f" connections held {meta.get('idle_hold')} s, one run")
    w("")

    def ratio_cell(values, higher_better):
        """values: server -> number or None. Ratio > 1 means sockeye is ahead."""
        mine = values.get("sockeye")
        peers = {s: v for s, v in values.items() if s != "sockeye" and v is not None}
        if mine is None or not peers or mine == 0:
            return "—"
        if higher_better:
            best = max(peers, key=peers.get)
            r = mine / peers[best]
        else:
            best = min(peers, key=peers.get)
            r = peers[best] / mine
        return f"{r:.2f}× (vs {best})"

    header = "| scenario | figure | " + " | ".join(servers) + " | sockeye vs best peer |"
    align = "|---|---|" + "---:|" * len(servers) + "---|"

    w("## Summary")
    w("")
    w("Ratio > 1 means sockeye is ahead: msg/s is sockeye ÷ best peer (higher is better);"
      " bytes per connection is best peer ÷ sockeye (lower is better).")
    w("")
    w(header)
    w(align)
    failures = []
    any_disturbed = False
    for scen in scen_present:
        vals, cells = {}, []
        for s in servers:
            m, fail = cell(s, scen)
            if fail:
                failures.append(f"{s}, {scen}: {fail}")
                cells.append("failed")
                vals[s] = None
            elif m is None:
                cells.append("—")
                vals[s] = None
            else:
                v = m["rss_per_conn"] if scen == "e" else m["msg_per_s"]
                vals[s] = v
                cells.append(num(v) + (" †" if m.get("disturbed") else ""))
                if m.get("disturbed"):
                    any_disturbed = True
        what = "server RSS B/conn (lower better)" if scen == "e" else "msg/s (higher better)"
        w(f"| {TITLES[scen]} | {what} | " + " | ".join(cells) + f" | {ratio_cell(vals, scen != 'e')} |")
    w("")
    if any_disturbed:
        w("† `sockeye bench` judged at least one of these runs disturbed: other processes used"
          " a large share of the CPUs (see the CPU table), so the figure is not comparable.")
        w("")

    echo_present = [s for s in ECHO if s in scen_present]
    if echo_present:
        def table(title, note, fmt, ratio=None):
            w(f"## {title}")
            w("")
            if note:
                w(note)
                w("")
            extra = " | sockeye vs best peer |" if ratio is not None else " |"
            w("| scenario | " + " | ".join(servers) + extra)
            w("|---|" + "---:|" * len(servers) + ("---|" if ratio is not None else ""))
            for scen in echo_present:
                vals, cells = {}, []
                for s in servers:
                    m, fail = cell(s, scen)
                    if fail:
                        cells.append("failed")
                    elif m is None:
                        cells.append("—")
                    else:
                        cells.append(fmt(m))
                        if ratio is not None:
                            vals[s] = m[ratio]
                row = f"| {TITLES[scen]} | " + " | ".join(cells)
                row += f" | {ratio_cell(vals, False)} |" if ratio is not None else " |"
                w(row)
            w("")

        table("Server CPU per echo (ns, lower is better)",
              "Server CPU time over the measured seconds divided by the echoes: the median,"
              " and the range of the runs in brackets; the ratio is best peer ÷ sockeye"
              " (> 1: sockeye spends less), of the medians.",
              lambda m: num(m["server_ns"]) + spread(m["ns_runs"]), ratio="server_ns")
        table("Latency p50 / p99 (µs)", None,
              lambda m: f"{num(m['p50'])} / {num(m['p99'])}")
        table("CPU use: server / bench / other processes (% of one core)",
              "When the bench is near 100% the load generator is the limit, and that server's"
              " msg/s is a floor for what it can do. `sockeye bench`'s own verdict on the"
              " bottleneck is in brackets. A high third figure means the machine was not quiet.",
              lambda m: f"{num(m['cpu_server'])} / {num(m['cpu_bench'])} / {num(m['cpu_other'])}"
                        f" ({m['limit']})")

    mt = [(label, cell(label, "mt")) for label in ("sockeye-t1", "sockeye-t2") if (label, "mt") in runs]
    if mt:
        w("## mt: sockeye with one and two server threads (scenario b)")
        w("")
        w("`--threads 1` runs pinned to CPU 0 like every server above. `--threads 2` cannot be"
          " pinned to one core: it runs on CPUs 0 and 1, **sharing core 1 with the bench**, so"
          " its figures understate a machine with a core to spare for the load generator.")
        w("")
        w("| server | CPUs | msg/s | server CPU % | bench CPU % | server ns/echo | p50 / p99 µs |")
        w("|---|---|---:|---:|---:|---:|---|")
        for label, (m, fail) in mt:
            flag = "--threads 1" if label.endswith("t1") else "--threads 2"
            cpus = meta.get("server_cpus") if label.endswith("t1") else \
                f"{meta.get('server_cpus')},{meta.get('bench_cpus')} (shared with the bench)"
            if fail:
                failures.append(f"{label}, mt: {fail}")
                w(f"| `serve {flag}` | {cpus} | failed | | | | |")
            else:
                w(f"| `serve {flag}` | {cpus} | {num(m['msg_per_s'])} | {num(m['cpu_server'])} |"
                  f" {num(m['cpu_bench'])} | {num(m['server_ns'])} |"
                  f" {num(m['p50'])} / {num(m['p99'])} |")
        w("")

    if failures:
        w("## Failures")
        w("")
        for f in failures:
            w(f"- {f}")
        w("")
        w("The bench's output and the server's log of each run are in the run directory"
          " named at the end of compare.sh's output.")
        w("")

    w("## Every run (msg/s)")
    w("")
    w("| server | scenario | runs |")
    w("|---|---|---|")
    order = SERVERS + ["sockeye-t1", "sockeye-t2"]
    scen_order = ECHO + ["e", "mt"]
    for (server, scen), rs in sorted(runs.items(), key=lambda kv: (
            scen_order.index(kv[0][1]) if kv[0][1] in scen_order else 99,
            order.index(kv[0][0]) if kv[0][0] in order else 99)):
        vals = []
        for ok, reason, res in rs:
            if not ok:
                vals.append(f"failed: {reason}")
            elif scen == "e":
                vals.append(f"{num(res.get('server_rss_per_conn'))} B/conn,"
                            f" {num(res.get('conn_per_s'))} conn/s opened")
            else:
                vals.append(num(res.get("msg_per_s")))
        w(f"| {server} | {scen} | {', '.join(vals)} |")
    w("")

    lock = cargo_lock_versions(meta.get("peers_lock", ""), {
        "tokio-tungstenite", "tungstenite", "fastwebsockets", "hyper", "tokio-websockets", "tokio"})
    w("## Versions")
    w("")
    w(f"- sockeye: this repository at the commit above; {meta.get('rustc')}")
    w(f"- tokio-tungstenite {lock.get('tokio-tungstenite', '?')} (tungstenite"
      f" {lock.get('tungstenite', '?')}); fastwebsockets {lock.get('fastwebsockets', '?')}"
      f" (hyper {lock.get('hyper', '?')}); tokio-websockets {lock.get('tokio-websockets', '?')};"
      f" all on tokio {lock.get('tokio', '?')}, from benches/peers/Cargo.lock")
    w(f"- Node ws {package_version(meta.get('ws_package', ''))} (bufferutil"
      f" {package_version(meta.get('bufferutil_package', ''))}) on Node {meta.get('node')}")
    w(f"- uWebSockets and uSockets as shipped in the crate libuwebsockets-sys 0.0.10, built with"
      f" {meta.get('cxx')}")
    w("")

    text = "\n".join(lines)
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)
    base = out[:-3] if out.endswith(".md") else out
    with open(base + ".jsonl", "w", encoding="utf-8") as f:
        for rec in jsonl:
            f.write(json.dumps(rec) + "\n")
    print(text)


if __name__ == "__main__":
    main()
