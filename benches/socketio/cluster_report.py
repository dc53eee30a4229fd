#!/usr/bin/env python3
"""The Markdown report of benches/socketio/cluster.sh, from its JSON lines.

Each line: {"scenario": "cluster", "server", "round", "result"} where result
is the JSON line of `sockeye bench socketio --broadcast` run against two
servers with --server-pid, --cluster-pid and --broker-pid. For each kind of
server pair: medians across rounds and their spread (lowest to highest) of
deliveries/s and publishes/s, latency, CPU per delivery of the two servers
together, of the broker and of the bench, which side was at its limit, and
sockeye-io's standing against the targets.

Publishes/s are the emits the servers made, each one PUBLISH on Redis that
reaches every client of the room: deliveries/s divided by the room's size.
The broker's CPU per delivery is redis-server's CPU time over the window
divided by the deliveries, its idle work (timers) included; "per PUBLISH"
is Redis's own count of the time spent in PUBLISH calls (INFO
commandstats, over the whole run), which leaves the idle work out.
"""

import argparse
import json
import statistics
from collections import Counter, defaultdict

SUBJECT = "sockeye-io"
PEER = "node"
# A side at this share of its core or more is at its limit, as the bench
# judges a single server.
BUSY = 90.0
TARGET_RATE = 3.0


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_rate(x):
    return "-" if x is None else f"{x:,.0f}"


def fmt_cpu(x):
    return "-" if x is None else f"{x:.0f}%"


def fmt_ms(us):
    if us is None:
        return "-"
    return f"{us / 1000:.1f} ms" if us >= 10_000 else f"{us / 1000:.2f} ms"


def fmt_ns(ns):
    if ns is None:
        return "-"
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.1f} ns"


def members(result, role):
    return [m for m in result.get("cluster", []) if m["role"] == role]


def figures(result, publish):
    """What one measurement says, flattened."""
    cpu = result["cpu"]
    servers = [cpu["server"]] + [m["cpu"] for m in members(result, "server")]
    servers_ns = [cpu.get("server_ns_per_event")] + [
        m.get("ns_per_event") for m in members(result, "server")
    ]
    broker = members(result, "broker")
    broker_cpu = broker[0]["cpu"] if broker else None
    rate = result["events_per_s"]
    publishes = rate / result["clients"] if result["clients"] else None
    known = None not in servers
    servers_cpu = sum(servers) if known else None
    core0 = None if cpu["bench"] is None or broker_cpu is None else cpu["bench"] + broker_cpu
    if servers_cpu is None or core0 is None:
        limit = "unknown"
    else:
        # The two servers share one core, the bench and redis the other.
        cores = cpu.get("server_cores") or 1
        busy_servers = servers_cpu >= BUSY * cores
        busy_bench = core0 >= BUSY
        limit = {
            (True, True): "both",
            (True, False): "servers",
            (False, True): "bench",
            (False, False): "neither",
        }[(busy_servers, busy_bench)]
    return {
        "rate": rate,
        "publishes": publishes,
        "p50": result["latency_us"]["p50"],
        "p99": result["latency_us"]["p99"],
        "servers_cpu": servers_cpu,
        "servers_ns": sum(servers_ns) if None not in servers_ns else None,
        "broker_cpu": broker_cpu,
        "broker_ns": broker[0].get("ns_per_event") if broker else None,
        "publish_us": publish["usec"] / publish["calls"] if publish and publish["calls"] else None,
        "bench_cpu": cpu["bench"],
        "bench_ns": cpu.get("bench_ns_per_event"),
        "other": cpu.get("other"),
        "limit": limit,
        "errors": result["errors"],
        "undelivered": result.get("undelivered"),
        "opened": result["opened"],
    }


def load(path):
    runs = defaultdict(list)
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line:
            row = json.loads(line)
            runs[row["server"]].append(figures(row["result"], row.get("publish")))
    return runs


def summarize(rows):
    keys = rows[0].keys() - {"limit"}
    summary = {k: median([r[k] for r in rows]) for k in keys}
    summary["rates"] = [r["rate"] for r in rows]
    summary["limits"] = Counter(r["limit"] for r in rows).most_common()
    summary["errors"] = sum(r["errors"] for r in rows)
    summary["undelivered"] = sum(r["undelivered"] or 0 for r in rows)
    summary["other_max"] = max((r["other"] or 0 for r in rows), default=0)
    return summary


def tables(runs, out):
    out.append(
        "| servers | deliveries/s (spread) | publishes/s | p50 | p99 | servers CPU per delivery "
        "| broker CPU per delivery | Redis per PUBLISH | CPU: servers / bench / broker | limit | errors / undelivered |"
    )
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|")
    for server, s in runs.items():
        out.append(
            f"| {server} x2 | {fmt_rate(s['rate'])} ({fmt_rate(min(s['rates']))}-{fmt_rate(max(s['rates']))}) "
            f"| {fmt_rate(s['publishes'])} | {fmt_ms(s['p50'])} | {fmt_ms(s['p99'])} "
            f"| {fmt_ns(s['servers_ns'])} | {fmt_ns(s['broker_ns'])} "
            f"| {fmt_ns(None if s['publish_us'] is None else s['publish_us'] * 1000)} "
            f"| {fmt_cpu(s['servers_cpu'])} / {fmt_cpu(s['bench_cpu'])} / {fmt_cpu(s['broker_cpu'])} "
            f"| {', '.join(f'{name} x{n}' for name, n in s['limits'])} "
            f"| {s['errors']} / {s['undelivered']:,} |"
        )


def targets(runs, out):
    subject, peer = runs.get(SUBJECT), runs.get(PEER)
    if not subject or not peer:
        return
    out.append("")
    rate = subject["rate"] / peer["rate"] if peer["rate"] else None
    if rate is not None:
        verdict = "met" if rate >= TARGET_RATE else "not met"
        out.append(f"- deliveries/s: {rate:.2f}x Node's (target {TARGET_RATE:g}x: {verdict})")
    if subject["servers_ns"] and peer["servers_ns"]:
        out.append(
            f"- servers' CPU per delivery: {peer['servers_ns'] / subject['servers_ns']:.2f}x "
            "less than Node's"
        )
    if subject["p99"] is not None and peer["p99"] is not None:
        verdict = "met" if subject["p99"] <= peer["p99"] else "not met"
        out.append(
            f"- p99: {fmt_ms(subject['p99'])} against {fmt_ms(peer['p99'])} "
            f"(no worse than Node's: {verdict})"
        )
    if subject["broker_ns"] is not None and peer["broker_ns"] is not None:
        verdict = "met" if subject["broker_ns"] <= peer["broker_ns"] else "not met"
        out.append(
            f"- broker CPU per delivery: {fmt_ns(subject['broker_ns'])} against "
            f"{fmt_ns(peer['broker_ns'])} (no higher than Node's: {verdict})"
        )
    if subject["publish_us"] is not None and peer["publish_us"] is not None:
        out.append(
            f"- Redis time per PUBLISH: {subject['publish_us']:.2f} µs against "
            f"{peer['publish_us']:.2f} µs"
        )
    for server, s in runs.items():
        if s["undelivered"]:
            out.append(
                f"- {server}: {s['undelivered']:,} deliveries owed had not arrived when the "
                "receivers stopped (500 ms without one after the window): dropped, or still "
                "queued behind a server's backlog"
            )
        if s["other_max"] >= 10:
            out.append(
                f"- warning: other processes used up to {s['other_max']:.0f}% of a core "
                f"during {server}'s windows"
            )
        if any(name in ("bench", "both") for name, _ in s["limits"]):
            out.append(
                f"- {server}: the bench (with redis, core 0) was at its limit in some rounds: "
                "the deliveries/s of that pair are a floor; its CPU per delivery is the "
                "steadier figure"
            )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("raw")
    parser.add_argument("--command", default="benches/socketio/cluster.sh")
    args = parser.parse_args()
    runs = {server: summarize(rows) for server, rows in load(args.raw).items() if rows}
    rounds = max((len(rows) for rows in load(args.raw).values()), default=0)
    out = [
        f"Command: `{args.command}`",
        "",
        f"### Two servers on one Redis, one room, {rounds} round(s) (medians)",
        "",
    ]
    tables(runs, out)
    targets(runs, out)
    print("\n".join(out))


if __name__ == "__main__":
    main()
