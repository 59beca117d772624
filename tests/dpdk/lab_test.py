#!/usr/bin/env python3
"""`twstack lab` in real time (two processes over net_memif) and with --sim
(virtual time) on the same scenario file: virtual time agrees with every
prediction; both runs show the same outcomes (which errno, how many
connections before it, reuse, where the TIME_WAIT is and how much); the
report folder has the series and the plot.

Real time is held to outcomes, not to instants or rates: a loaded machine
runs the poll loops late, which moves when things happen (the lab's own
verdict allows 50 ms) and, through SYN takeovers, how many TIME_WAIT
entries a closing server keeps. Those checks are bounded here by what
cannot happen (a failure before its attempt was due, more overflow than the
arithmetic) and by wide margins with the reason stated.

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


def check_outcomes(what, m, p, duration_s, real):
    """What a run must show whatever the timing: the counts, not the instants."""
    if p["first_errno"] is None:
        expect(m["failed"] == 0 and m["first_errno"] is None, f"{what}: no failure ({m['failed']})")
    else:
        # Every 4-tuple is used once, then every later attempt fails: the
        # TIME_WAIT (5 s) outlives the run.
        expect(m["first_errno"] == p["first_errno"], f"{what}: first errno {m['first_errno']}")
        expect(m["ok"] == p["tuples"] and m["failed"] == m["attempts"] - p["tuples"],
               f"{what}: {m['ok']} connections, then {m['failed']} of {m['attempts']} attempts failed "
               f"({p['tuples']} 4-tuples)")
        # Not before its attempt was due; later only by how late the loop was,
        # which the run's length bounds.
        expect(p["first_failure_s"] <= m["first_failure_s"] <= duration_s,
               f"{what}: first failure at {m['first_failure_s']:.3f} s (due at {p['first_failure_s']:.2f} s)")
    # The attempts follow a schedule that catches up after a late loop; the
    # stop may cut the last one or two due.
    expect(p["attempts"] - 5 <= m["attempts"] <= p["attempts"],
           f"{what}: {m['attempts']} attempts ({p['attempts']} scheduled)")
    if p["reuse"]:
        # Past the ports' count, every attempt takes over an entry (older
        # than tcp_tw_reuse_delay by then). Counted against this run's own
        # attempts, with the lab's margin (2%): the port search may come upon
        # an old entry before the range is used up, as Linux
        # __inet_hash_connect takes a reusable TIME_WAIT wherever it finds one.
        past = m["attempts"] - p["tuples"]
        expect(abs(m["recycled"] - past) <= max(2, 0.02 * past),
               f"{what}: {m['recycled']} reused for {past} attempts past the ports")
    else:
        expect(m["recycled"] == 0, f"{what}: no reuse ({m['recycled']})")
    # TIME_WAIT on the closing side, as much as the arithmetic says and
    # never more (the ports, or the cap, bound it). Less by the lab's own
    # margins: a sampled peak can miss a connection between a takeover and
    # its close (client, 2%); on a closing server SYN takeovers end entries
    # early (5%, see the cap scenario below).
    client_closes = p["client_timewait_peak"] > 0
    key, other = ("client", "server") if client_closes else ("server", "client")
    want = p[f"{key}_timewait_peak"]
    got = m[f"{key}_timewait_peak"]
    margin = max(2, (0.02 if client_closes else 0.05) * want)
    expect(want - margin <= got <= want, f"{what}: {key} TIME_WAIT peak {got} ({want} predicted)")
    # None on the other side; in real time the churn's stop closes first the
    # connections it finds in flight (one or two at these rates).
    stray = m[f"{other}_timewait_peak"]
    expect(stray <= (2 if real else 0), f"{what}: no {other} TIME_WAIT ({stray}{', the stop may leave 2' if real else ''})")


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
            expect(sim[name]["agrees"], f"{name}, virtual time: {sim[name]['verdict']} {sim[name]['checks']}")
            # Shown, not required: its tolerances are for virtual time (see above).
            print(f"info: {name}, real time: {real[name]['verdict']} {real[name]['checks']}")
            for mode, run in (("real", real[name]), ("sim", sim[name])):
                check_outcomes(f"{name}, {mode}", run["measured"], run["predicted"], run["duration_s"], mode == "real")
            r, s = real[name]["measured"], sim[name]["measured"]
            expect(r["first_errno"] == s["first_errno"], f"{name}: same first errno ({r['first_errno']})")
            if name == "cap":
                # A new SYN on a 4-tuple the server holds in TIME_WAIT takes the
                # entry over (RFC 6191, docs/linux-timewait.md §6), so that close makes an
                # entry instead of an overflow. How often the client comes back
                # to such a port depends on when each connection ends, which
                # real time varies: 183 against 200 predicted was seen under
                # load. Takeovers only ever lower the count; allow a quarter.
                p = real[name]["predicted"]["overflow"]
                expect(0.75 * p <= r["server_overflow"] <= p + 2,
                       f"{name}: server overflow {r['server_overflow']} real, {s['server_overflow']} virtual, "
                       f"{p} predicted (SYN takeovers make it fewer)")
        for mode in ("real", "sim"):
            folder = os.path.join(d, mode)
            for f in ("summary.json", "exhaust.csv", "exhaust.json", "lab.gp"):
                expect(os.path.getsize(os.path.join(folder, f)) > 0, f"{mode} report: {f}")
            if subprocess.run(["sh", "-c", "command -v gnuplot"], capture_output=True).returncode == 0:
                with open(os.path.join(folder, "lab.png"), "rb") as png:
                    expect(png.read(8) == b"\x89PNG\r\n\x1a\n", f"{mode} report: lab.png is a PNG")
            with open(os.path.join(folder, "exhaust.csv")) as csv:
                rows = csv.read().splitlines()
            t = [int(r.split(",")[0]) for r in rows[1:]]
            expect(rows[0].startswith("t,ok,failed,cps,client_timewait,server_timewait,linux_ok,"),
                   f"{mode} report: the CSV header")
            # A row per second from 0, the prediction in each. In real time a
            # second is a line the churn printed, and a loop late across a
            # second boundary prints that second's line late or folds it into
            # the next: that second's measured columns are NaN then.
            expect(t == [0, 1, 2, 3, 4], f"{mode} report: a row per second ({t})")
            measured = [r for r in rows[2:] if r.split(",")[1] != "NaN"]
            expect(len(measured) == 4 if mode == "sim" else len(measured) >= 1,
                   f"{mode} report: measured seconds ({len(measured)})")
            # These scenarios compress twstack's TIME_WAIT to 5 s: twstack-only.
            with open(os.path.join(folder, "summary.json")) as f:
                ex = {s["name"]: s for s in json.load(f)["scenarios"]}["exhaust"]
            expect(ex["linux"] is None and ex["linux_skipped"],
                   f"{mode} report: no Linux column for a compressed scenario ({ex['linux_skipped']})")
    print("lab: all checks passed")


if __name__ == "__main__":
    main()
