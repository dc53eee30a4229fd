#!/usr/bin/env python3
"""The Markdown report of benches/rpc/run.sh, from its JSON lines.

Each line: {"scenario", "server", "round", "result"} where result is the
JSON line of rpc-bench-load. For each scenario: each server's median rate
across rounds and its spread (lowest to highest), sockeye-rpc's ratio to
jsonrpsee (of the medians, and the lowest to highest of the rounds' own
ratios), the latency, the CPU of both sides, the server's CPU time per
call, and which side was at its limit.
"""

import argparse
import json
import statistics
from collections import defaultdict

SUBJECT = "sockeye-rpc"
PEER = "jsonrpsee"
TITLES = {
    "calls1": ("100 connections, 1 call in flight each", "calls/s"),
    "calls64": ("100 connections, 64 calls in flight each", "calls/s"),
    "batch10": ("batches of 10", "calls/s"),
    "batch100": ("batches of 100", "calls/s"),
    "subs": ("100 subscriptions, one per connection", "deliveries/s"),
    "async64": ("64 in flight, async handler (`add_async`)", "calls/s"),
    "peer64": ("64 in flight, sockeye_rpc::Peer as the client", "calls/s"),
}
TARGET = 1.5
# A side using this much of its core was the limit.
BUSY = 90.0


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_rate(x):
    return "-" if x is None else f"{x:,.0f}"


def fmt_cpu(x):
    return "-" if x is None else f"{x:.0f}%"


def fmt_us(x):
    if x is None:
        return "-"
    return f"{x / 1000:.1f} ms" if x >= 10_000 else f"{x:.0f} us"


def limit(server_cpu, load_cpu):
    if server_cpu is None or load_cpu is None:
        return "?"
    busy = [name for name, cpu in (("server", server_cpu), ("load", load_cpu)) if cpu >= BUSY]
    if busy:
        return " and ".join(busy)
    return f"neither (server {server_cpu:.0f}%, load {load_cpu:.0f}%)"


def load(path):
    runs = defaultdict(lambda: defaultdict(dict))
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line:
            row = json.loads(line)
            runs[row["scenario"]][row["server"]][row["round"]] = row["result"]
    return runs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("raw")
    parser.add_argument("--command", default="benches/rpc/run.sh")
    parser.add_argument("--commit", default="?")
    parser.add_argument("--load-before", default="?")
    parser.add_argument("--load-after", default="?")
    args = parser.parse_args()
    runs = load(args.raw)

    out = []
    out.append(f"Command: `{args.command}`, commit {args.commit}.")
    out.append("")
    out.append(f"Machine load before: `{args.load_before.strip()}`; after: `{args.load_after.strip()}`.")
    out.append("")
    out.append(
        "| scenario | sockeye-rpc median (min-max) | jsonrpsee median (min-max) "
        "| ratio (rounds min-max) | p50 / p99 sockeye-rpc | p50 / p99 jsonrpsee "
        "| server CPU s / j | load CPU s / j | server CPU per call s / j | limit s / j | errors |"
    )
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    summary = []
    for scenario, (title, unit) in TITLES.items():
        by_server = runs.get(scenario)
        if not by_server:
            continue
        cells = {}
        for server in (SUBJECT, PEER):
            rounds = by_server.get(server, {})
            rates = [r["per_s"] for r in rounds.values()]
            cpu_s = median([r["cpu"]["server"] for r in rounds.values()])
            cpu_l = median([r["cpu"]["load"] for r in rounds.values()])
            # Server CPU time per call (or delivery), in microseconds.
            per_call = median(
                [
                    r["cpu"]["server"] / 100 / r["per_s"] * 1e6
                    for r in rounds.values()
                    if r["cpu"]["server"] is not None and r["per_s"]
                ]
            )
            cells[server] = {
                "median": median(rates),
                "min": min(rates) if rates else None,
                "max": max(rates) if rates else None,
                "p50": median([r["p50_us"] for r in rounds.values()]),
                "p99": median([r["p99_us"] for r in rounds.values()]),
                "cpu_s": cpu_s,
                "cpu_l": cpu_l,
                "per_call": per_call,
                "limit": limit(cpu_s, cpu_l),
                "errors": sum(r["errors"] for r in rounds.values()),
            }
        s, j = cells[SUBJECT], cells[PEER]
        ratio = s["median"] / j["median"] if s["median"] and j["median"] else None
        both = set(by_server.get(SUBJECT, {})) & set(by_server.get(PEER, {}))
        round_ratios = [
            by_server[SUBJECT][r]["per_s"] / by_server[PEER][r]["per_s"]
            for r in sorted(both)
            if by_server[PEER][r]["per_s"]
        ]
        ratio_cell = "-" if ratio is None else f"**{ratio:.2f}x**"
        if round_ratios:
            ratio_cell += f" ({min(round_ratios):.2f}-{max(round_ratios):.2f})"
        per_call = "/".join(
            "-" if c["per_call"] is None else f"{c['per_call']:.2f} us" for c in (s, j)
        )
        out.append(
            f"| {scenario}: {title} ({unit}) "
            f"| {fmt_rate(s['median'])} ({fmt_rate(s['min'])}-{fmt_rate(s['max'])}) "
            f"| {fmt_rate(j['median'])} ({fmt_rate(j['min'])}-{fmt_rate(j['max'])}) "
            f"| {ratio_cell} "
            f"| {fmt_us(s['p50'])} / {fmt_us(s['p99'])} "
            f"| {fmt_us(j['p50'])} / {fmt_us(j['p99'])} "
            f"| {fmt_cpu(s['cpu_s'])} / {fmt_cpu(j['cpu_s'])} "
            f"| {fmt_cpu(s['cpu_l'])} / {fmt_cpu(j['cpu_l'])} "
            f"| {per_call} "
            f"| {s['limit']} / {j['limit']} "
            f"| {s['errors']} / {j['errors']} |"
        )
        if ratio is not None:
            summary.append((scenario, ratio, min(round_ratios) if round_ratios else None))
    out.append("")
    out.append(
        f"Ratio: sockeye-rpc's median over jsonrpsee's (target {TARGET}x); in brackets the "
        "lowest and highest of the rounds' own ratios (each round measures both servers "
        "back to back). CPU: percent of one core over the measured window; "
        f"a side at {BUSY:.0f}% or more was the limit."
    )
    met = [f"{sc} {r:.2f}x" for sc, r, _ in summary if r >= TARGET]
    missed = [f"{sc} {r:.2f}x" for sc, r, _ in summary if r < TARGET]
    out.append("")
    out.append(f"At or above {TARGET}x: {', '.join(met) or 'none'}.")
    out.append(f"Below {TARGET}x: {', '.join(missed) or 'none'}.")
    print("\n".join(out))


if __name__ == "__main__":
    main()
