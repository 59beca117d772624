#!/usr/bin/env python3
"""`twstack lab` in real time (two processes over net_memif) and with --sim
(virtual time) on the same scenario file: both agree with the predictions,
and with each other on every outcome but wall-clock rates; the report folder
has the series and the plot.

Usage: lab_test.py TWSTACK_BINARY. Skips (77) without root.
"""

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpdk_harness import expect, skip  # noqa: E402

SCENARIOS = """
[exhaust]
title = 200 ports at 100/s, client closing, no reuse: EADDRNOTAVAIL at 2.00 s
rate = 100
duration = 4
set = twstack.tcp_timewait_len=5
client_set = net.ipv4.ip_local_port_range=40000 40199
client_set = net.ipv4.tcp_tw_reuse=0

[reuse]
title = the same with tcp_tw_reuse=1
rate = 100
duration = 4
set = twstack.tcp_timewait_len=5
client_set = net.ipv4.ip_local_port_range=40000 40199
client_set = net.ipv4.tcp_tw_reuse=1

[cap]
title = server closing under a cap of 100
rate = 100
duration = 3
closer = server
set = twstack.tcp_timewait_len=5
server_set = net.ipv4.tcp_max_tw_buckets=100
"""


def lab(binary, path, out, sim):
    cmd = [binary, "lab", path, "--json", "--out", out] + (["--sim"] if sim else [])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        if "rte_eal_init failed" in r.stdout + r.stderr:
            skip("the EAL cannot start here")
        raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return {s["name"]: s for s in json.loads(r.stdout.splitlines()[0])["scenarios"]}


def main():
    if os.geteuid() != 0:
        skip("needs root (DPDK virtual devices)")
    binary = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.lab")
        with open(path, "w") as f:
            f.write(SCENARIOS)
        real = lab(binary, path, os.path.join(d, "real"), sim=False)
        sim = lab(binary, path, os.path.join(d, "sim"), sim=True)
        for name in ("exhaust", "reuse", "cap"):
            r, s = real[name]["measured"], sim[name]["measured"]
            expect(real[name]["agrees"], f"{name}, real time: {real[name]['verdict']} {real[name]['checks']}")
            expect(sim[name]["agrees"], f"{name}, virtual time: {sim[name]['verdict']} {sim[name]['checks']}")
            expect(r["first_errno"] == s["first_errno"], f"{name}: same first errno ({r['first_errno']})")
            if r["first_failure_s"] is not None:
                expect(abs(r["first_failure_s"] - s["first_failure_s"]) < 0.05,
                       f"{name}: same first failure ({r['first_failure_s']:.3f} s, {s['first_failure_s']:.3f} s)")
            expect(abs(r["recycled"] - s["recycled"]) <= 2, f"{name}: same reuse ({r['recycled']}, {s['recycled']})")
            for k in ("client_timewait_peak", "server_timewait_peak"):
                expect(abs(r[k] - s[k]) <= max(2, 0.05 * s[k]), f"{name}: same {k} ({r[k]}, {s[k]})")
        for mode in ("real", "sim"):
            folder = os.path.join(d, mode)
            for f in ("summary.json", "exhaust.csv", "exhaust.json", "lab.gp"):
                expect(os.path.getsize(os.path.join(folder, f)) > 0, f"{mode} report: {f}")
            if subprocess.run(["sh", "-c", "command -v gnuplot"], capture_output=True).returncode == 0:
                with open(os.path.join(folder, "lab.png"), "rb") as png:
                    expect(png.read(8) == b"\x89PNG\r\n\x1a\n", f"{mode} report: lab.png is a PNG")
            with open(os.path.join(folder, "exhaust.csv")) as csv:
                rows = csv.read().splitlines()
            expect(rows[0] == "t,ok,failed,cps,client_timewait,server_timewait" and len(rows) == 5,
                   f"{mode} report: a row per second ({len(rows) - 1})")
    print("lab: all checks passed")


if __name__ == "__main__":
    main()
