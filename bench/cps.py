#!/usr/bin/env python3
"""Connections per second, twstack against the Linux kernel, in alternating
rounds in one window (`tools/dev bench cps`).

Each round is one `twstack lab` run of two flat-out scenarios: twstack's
`serve` and `churn` over net_memif, one core each, then the kernel's epoll
server and client in two namespaces over veth, pinned to the same two cores
(apps/kernel). So every kernel figure is measured right after the twstack
figure it is compared with, and a machine that gets busier or quieter moves
both. Scenarios:

  server-close  the server closes (its TIME_WAIT), 400 server ports, 12 s
  client-reuse  the client closes with tcp_tw_reuse=1 over 400 server ports:
                25.8 million 4-tuples, so the reuse ceiling (4-tuples / 1 s)
                is far above either stack

A round's figure is the median of its per-second CPS from the third second
on; the result is the median of the rounds, and the ratio of the medians.
For twstack it also prints how busy each side's lcore was (the share of
time in poll-loop iterations that moved a frame): the side near 100 % is
the one that bounds the figure.

Usage: bench/cps.py [--rounds N] [--seconds S] [--twstack BINARY] [--json]
Needs root (DPDK virtual devices, network namespaces).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

SCENARIOS = """
[server-close]
title = the server closes, flat out over 400 server ports
rate = 0
inflight = 256
duration = {seconds}
closer = server
server_ports = 1000-1399
tw_capacity = {capacity}
client_set = net.ipv4.ip_local_port_range=1024 65535

[client-reuse]
title = the client closes with tcp_tw_reuse=1 over 400 server ports (a reuse ceiling of 25.8M/s)
rate = 0
inflight = 256
duration = {seconds}
closer = client
server_ports = 1000-1399
tw_capacity = {capacity}
client_set = net.ipv4.ip_local_port_range=1024 65535
client_set = net.ipv4.tcp_tw_reuse=1
"""


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def steady_median(series, key="cps"):
    xs = [x[key] for x in series if x["t"] >= 3 and key in x]
    return statistics.median(xs) if xs else 0.0


def one_round(binary, path, out):
    r = subprocess.run([binary, "lab", path, "--kernel", "--out", out], capture_output=True, text=True,
                       timeout=600)
    if r.returncode not in (0, 1):
        sys.exit(f"cps: twstack lab exited {r.returncode}: {r.stderr[-2000:]}")
    figures = {}
    for name in ("server-close", "client-reuse"):
        with open(os.path.join(out, name + ".json")) as f:
            j = json.load(f)
        if not j.get("per_second") or not j.get("linux_per_second"):
            sys.exit(f"cps: {name} did not run on both stacks (see {out}, and the lab's output:\n{r.stdout[-2000:]})")
        ps = j["per_second"]
        figures[name] = (steady_median(ps), steady_median(j["linux_per_second"]),
                         steady_median(ps, "client_busy"), steady_median(ps, "server_busy"))
    return figures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=12)
    ap.add_argument("--twstack", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                      "build-release", "apps", "twstack", "twstack"))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("cps: needs root (DPDK virtual devices, network namespaces); skipped", file=sys.stderr)
        return 77
    if a.rounds < 1 or a.seconds < 5:
        ap.error("--rounds at least 1, --seconds at least 5")
    # Room for a million connections a second for the whole run, closed on one side.
    capacity = max(1, a.seconds) * 1_250_000
    machine = f"{platform.node()}, {cpu_model()}, {os.cpu_count()} cores, Linux {platform.release()}"
    rounds = []
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "cps.lab")
        with open(path, "w") as f:
            f.write(SCENARIOS.format(seconds=a.seconds, capacity=capacity))
        for i in range(a.rounds):
            rounds.append(one_round(a.twstack, path, os.path.join(d, f"round{i + 1}")))
            if not a.json:
                sc, cr = rounds[-1]["server-close"], rounds[-1]["client-reuse"]
                print(f"round {i + 1}: server-close twstack {sc[0]:.0f} Linux {sc[1]:.0f} "
                      f"(busy client {sc[2]:.0%} server {sc[3]:.0%}); "
                      f"client-reuse twstack {cr[0]:.0f} Linux {cr[1]:.0f} "
                      f"(busy client {cr[2]:.0%} server {cr[3]:.0%})", file=sys.stderr)
    result = {"machine": machine, "rounds": rounds, "median": {}}
    for name in ("server-close", "client-reuse"):
        tw = statistics.median(r[name][0] for r in rounds)
        lx = statistics.median(r[name][1] for r in rounds)
        result["median"][name] = {"twstack": tw, "linux": lx, "ratio": tw / lx if lx else None,
                                  "client_busy": statistics.median(r[name][2] for r in rounds),
                                  "server_busy": statistics.median(r[name][3] for r in rounds)}
    if a.json:
        print(json.dumps(result))
        return 0
    print(f"machine: {machine}")
    print(f"{a.rounds} alternating rounds of {a.seconds} s, median of each round's seconds from the third on")
    print(f"{'scenario':<14}{'twstack CPS':>14}{'Linux CPS':>12}{'ratio':>8}{'twstack busy: client':>22}{'server':>8}")
    for name, m in result["median"].items():
        ratio = f"{m['ratio']:.1f}" if m["ratio"] else "-"
        print(f"{name:<14}{m['twstack']:>14.0f}{m['linux']:>12.0f}{ratio:>8}"
              f"{m['client_busy']:>22.0%}{m['server_busy']:>8.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
