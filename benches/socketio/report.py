#!/usr/bin/env python3
"""The Markdown table of benches/socketio/run.sh, from its JSON lines.

Each line: {"scenario", "server", "round", "result"} where result is the
JSON line of `sockeye bench socketio`. For each scenario and server: the
median across rounds and the spread (lowest to highest), the CPU of both
sides and which one was at its limit, and sockeye-io's ratio to the faster
peer (rates) or to the leaner peer (memory per client).
"""

import argparse
import json
import statistics
from collections import Counter, defaultdict

SUBJECT = "sockeye-io"
TITLES = {
    "echo1": "Round trips, 100 clients, 1 in flight (round trips/s)",
    "echo16": "Round trips, 100 clients, 16 in flight (round trips/s)",
    "bcast": "Broadcast to one room (deliveries/s)",
    "idle": "Idle clients (server RSS per client)",
}
TARGETS = {"echo1": 1.5, "echo16": 1.5, "bcast": 1.5, "idle": 1 / 3}


def median(values):
    return statistics.median(values) if values else None


def fmt_rate(x):
    return "-" if x is None else f"{x:,.0f}"


def fmt_bytes(x):
    if x is None:
        return "-"
    return f"{x / 1024:.1f} KiB"


def fmt_cpu(x):
    return "-" if x is None else f"{x:.0f}%"


def fmt_us(x):
    if x is None:
        return "-"
    return f"{x / 1000:.1f} ms" if x >= 10_000 else f"{x:.0f} us"


def load(path):
    runs = defaultdict(lambda: defaultdict(list))
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line:
            row = json.loads(line)
            runs[row["scenario"]][row["server"]].append(row["result"])
    return runs


def rate_section(scenario, by_server, out):
    medians = {s: median([r["events_per_s"] for r in rs]) for s, rs in by_server.items()}
    peers = [m for s, m in medians.items() if s != SUBJECT and m is not None]
    best = max(peers) if peers else None
    out.append(
        "| server | median | spread (min-max) | vs faster peer | p50 | p99 "
        "| server CPU | bench CPU | limit | errors |"
    )
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for server, results in by_server.items():
        rates = [r["events_per_s"] for r in results]
        ratio = (
            f"{medians[server] / best:.2f}x" if best and medians[server] is not None else "-"
        )
        limits = Counter(r["bottleneck"] for r in results).most_common()
        out.append(
            f"| {server} | {fmt_rate(medians[server])} "
            f"| {fmt_rate(min(rates))}-{fmt_rate(max(rates))} | {ratio} "
            f"| {fmt_us(median([r['latency_us']['p50'] for r in results]))} "
            f"| {fmt_us(median([r['latency_us']['p99'] for r in results]))} "
            f"| {fmt_cpu(median([r['cpu']['server'] for r in results if r['cpu']['server'] is not None]))} "
            f"| {fmt_cpu(median([r['cpu']['bench'] for r in results if r['cpu']['bench'] is not None]))} "
            f"| {', '.join(f'{name} x{n}' for name, n in limits)} "
            f"| {sum(r['errors'] for r in results)} |"
        )
    target = TARGETS[scenario]
    subject = medians.get(SUBJECT)
    if subject is not None and best:
        verdict = "met" if subject >= target * best else "not met"
        out.append("")
        out.append(f"Target: at least {target}x the faster peer: {verdict} ({subject / best:.2f}x).")


def idle_section(by_server, out):
    per = {
        s: median([r["bytes_per_client"] for r in rs if r["bytes_per_client"] is not None])
        for s, rs in by_server.items()
    }
    peers = [m for s, m in per.items() if s != SUBJECT and m is not None]
    leanest = min(peers) if peers else None
    out.append(
        "| server | per client (median) | spread (min-max) | vs leaner peer "
        "| RSS with the clients | clients opened | errors |"
    )
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    for server, results in by_server.items():
        values = [r["bytes_per_client"] for r in results if r["bytes_per_client"] is not None]
        ratio = f"{per[server] / leanest:.2f}x" if leanest and per[server] is not None else "-"
        after = median([r["server_rss_after"] for r in results if r["server_rss_after"]])
        out.append(
            f"| {server} | {fmt_bytes(per[server])} "
            f"| {fmt_bytes(min(values) if values else None)}-{fmt_bytes(max(values) if values else None)} "
            f"| {ratio} | {'-' if after is None else f'{after / 2**20:.1f} MiB'} "
            f"| {min(r['opened'] for r in results)} | {sum(r['errors'] for r in results)} |"
        )
    subject = per.get(SUBJECT)
    if subject is not None and leanest:
        verdict = "met" if subject < leanest / 3 else "not met"
        out.append("")
        out.append(
            f"Target: under a third of the leaner peer's memory per client: {verdict} "
            f"({subject / leanest:.2f}x)."
        )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("raw")
    parser.add_argument("--command", default="benches/socketio/run.sh")
    args = parser.parse_args()
    runs = load(args.raw)
    out = [f"Command: `{args.command}`", ""]
    for scenario in ["echo1", "echo16", "bcast", "idle"]:
        if scenario not in runs:
            continue
        rounds = max(len(rs) for rs in runs[scenario].values())
        out.append(f"### {TITLES[scenario]}, {rounds} round(s)")
        out.append("")
        if scenario == "idle":
            idle_section(runs[scenario], out)
        else:
            rate_section(scenario, runs[scenario], out)
        out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
