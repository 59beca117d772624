#!/usr/bin/env python3
"""`twstack lab` with its Linux column: one scenario on both stacks, held to
agreement where docs/linux-timewait.md says Linux and twstack agree (port
exhaustion with the client closing: which errno, after how many connections,
which side holds the TIME_WAIT and how much); then the bad inputs (an unknown
knob, a knob the kernel refuses, no `ip`, no root), each a message naming the
cause; and an interrupted run leaves no namespace behind. Then the two
outcomes of a server that never closes and of a restarted listener: the
client's orphaned FIN_WAIT2 ends at tcp_fin_timeout on both stacks, and a
bind without SO_REUSEADDR is refused (EADDRINUSE) while the server's TIME_WAIT
holds the port, and succeeds with it.

Outcomes, not instants: a loaded machine makes both runs late, never early.

Usage: lab_kernel_test.py TWSTACK_BINARY. Skips (77) without root or network
namespaces.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpdk_harness import expect, skip  # noqa: E402

EXHAUST = """
[exhaust]
title = 200 ports at 100/s, the client closing, no reuse: EADDRNOTAVAIL at 2.00 s on both
rate = 100
duration = 4
client_set = net.ipv4.ip_local_port_range=40000 40199
client_set = net.ipv4.tcp_tw_reuse=0
"""

# 2 s of FIN_WAIT2 at 100/s: 200 entries (500 after 5 s if they lasted 60 s).
HOLD_RESTART = """
[hold]
title = the server never closes: the client's FIN_WAIT2 lasts tcp_fin_timeout=2 s
rate = 100
duration = 5
closer = never
set = net.ipv4.tcp_fin_timeout=2
client_set = net.ipv4.ip_local_port_range=40000 40999

[restart]
title = the server closes, then restarts its listener at 1 s without SO_REUSEADDR
rate = 100
duration = 3
closer = server
restart_after = 1
restart_reuseaddr = no
"""


# Flat out (line rate): 2000 ports, the client closing, no reuse: both stacks
# stop after exactly 2000 connections, however fast each is.
FLAT_OUT = """
[flat]
title = flat out over 2000 ports, no reuse: EADDRNOTAVAIL after 2000 on both
rate = 0
inflight = 64
duration = 3
client_set = net.ipv4.ip_local_port_range=40000 41999
client_set = net.ipv4.tcp_tw_reuse=0
"""

# A population no machine here holds: Linux at a cap of two billion over
# 65535 x 64512 4-tuples (about a terabyte of TIME_WAIT sockets).
TOO_BIG = """
[huge]
rate = 0
duration = 3
closer = server
server_ports = 1-65535
server_set = net.ipv4.tcp_max_tw_buckets=2000000000
client_set = net.ipv4.ip_local_port_range=1024 65535
"""


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


def lab_namespaces(pid):
    r = run(["ip", "netns", "list"])
    return [l.split()[0] for l in r.stdout.splitlines() if l.startswith(f"twlab-{pid}-")]


def write(d, name, text):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def both_stacks(binary, d):
    path = write(d, "exhaust.lab", EXHAUST)
    r = run([binary, "lab", path, "--kernel", "--json", "--out", os.path.join(d, "out")])
    if r.returncode != 0 and "rte_eal_init failed" in r.stdout + r.stderr:
        skip("the EAL cannot start here")
    expect(r.returncode == 0, f"lab --kernel exited {r.returncode}: {r.stderr[-2000:]}")
    summary = json.loads(r.stdout.splitlines()[0])
    expect(summary["linux_release"] == os.uname().release, f"the Linux column names {summary['linux_release']}")
    s = summary["scenarios"][0]
    p, t, k = s["predicted"], s["measured"], s["linux"]["measured"]
    for who, m in (("twstack", t), ("Linux", k)):
        expect(m["first_errno"] == "EADDRNOTAVAIL", f"{who}: first errno {m['first_errno']}")
        expect(p["first_failure_s"] - 0.05 <= m["first_failure_s"] <= 4,
               f"{who}: first failure at {m['first_failure_s']:.3f} s (due at 2.00 s)")
        # Every attempt after the 200th fails; but on a loaded machine an
        # early connection may fail before it is established (seen once in
        # several runs: 185 of 400 failed), leaving no TIME_WAIT, so its port
        # serves a later attempt that may still be in progress at the end.
        # A few, never many.
        expect(m["ok"] == 200 and m["attempts"] - 200 - 20 <= m["failed"] <= m["attempts"] - 200,
               f"{who}: 200 connections, then {m['failed']} of {m['attempts']} attempts failed")
        expect(m["client_timewait_end"] == 200, f"{who}: the client holds 200 TIME_WAIT ({m['client_timewait_end']})")
        expect(m["server_timewait_peak"] <= 2, f"{who}: the server holds none ({m['server_timewait_peak']})")
        expect(m["recycled"] == 0, f"{who}: no reuse ({m['recycled']})")
    expect(s["linux"]["counters"]["client"].get("TcpActiveOpens", 0) >= 200, "Linux's counters by their kernel names")
    expect(s["twstack_vs_linux"]["agrees"], f"twstack agrees with Linux: {s['twstack_vs_linux']['checks']}")
    with open(os.path.join(d, "out", "exhaust.csv")) as f:
        header = f.readline().strip().split(",")
    expect("linux_client_timewait" in header and "client_timewait" in header, "the CSV carries both")


def hold_and_restart(binary, d):
    path = write(d, "hold.lab", HOLD_RESTART)
    r = run([binary, "lab", path, "--kernel", "--json", "--out", os.path.join(d, "hold")])
    expect(r.returncode in (0, 1), f"lab --kernel exited {r.returncode}: {r.stderr[-2000:]}")
    hold, restart = json.loads(r.stdout.splitlines()[0])["scenarios"]
    for who, m in (("twstack", hold["measured"]), ("Linux", hold["linux"]["measured"])):
        # A loaded machine makes fewer attempts per 2 s, never more.
        # An entry lasts max(tcp_fin_timeout, 3.5 RTO) (tcp_fin_time), and a
        # loaded machine inflates the RTO; Linux's timer wheel may fire late.
        expect(100 <= m["client_timewait_peak"] <= 320,
               f"{who}: the client's FIN_WAIT2 entries end near tcp_fin_timeout: peak {m['client_timewait_peak']} "
               "(200 due, 500 if they lasted 60 s)")
        expect(m["server_timewait_peak"] <= 2, f"{who}: the server never closes ({m['server_timewait_peak']})")
        expect(m["failed"] == 0, f"{who}: no failure ({m['failed']})")
    for who, m in (("twstack", restart["measured"]), ("Linux", restart["linux"]["measured"])):
        expect(m["server_timewait_peak"] >= 50, f"{who}: the server holds TIME_WAIT ({m['server_timewait_peak']})")
    k, t = restart["linux"]["measured"], restart["measured"]
    expect(k["restart_bind"] == "EADDRINUSE" and k["restart_rebind"] == "ok",
           f"Linux: restart bind without SO_REUSEADDR {k['restart_bind']}, with it {k['restart_rebind']}")
    # twstack's engine releases an accepted connection's hold on the listener's
    # bind at TIME_WAIT, so only a connection still open at the restart refuses
    # its bind: either outcome, and a bind that went through is a difference named.
    expect((t["restart_bind"], t["restart_rebind"]) in (("EADDRINUSE", "ok"), ("ok", None)),
           f"twstack: restart bind without SO_REUSEADDR {t['restart_bind']}, then {t['restart_rebind']}")
    checks = restart["twstack_vs_linux"]["checks"]
    named = [c for c in checks if "listener restart bind" in c]
    expect(len(named) == 1 and (named[0].startswith("agrees") if t["restart_bind"] == "EADDRINUSE"
                                else "to_time_wait" in named[0]), f"the restart in the verdict: {named}")


def bad_inputs(binary, d):
    path = write(d, "exhaust.lab", EXHAUST)
    unknown = write(d, "unknown.lab", "[u]\nclient_set = net.ipv4.tcp_no_such_knob=1\n")
    r = run([binary, "lab", unknown, "--kernel"])
    expect(r.returncode == 2 and "net.ipv4.tcp_no_such_knob" in r.stderr,
           f"an unknown knob is named: {r.returncode} {r.stderr.strip()}")
    # twstack takes any range of ports; Linux keeps it above ip_unprivileged_port_start.
    refused = write(d, "refused.lab", "[r]\nrate = 10\nduration = 1\n"
                    "client_set = net.ipv4.ip_local_port_range=500 1499\n")
    r = run([binary, "lab", refused, "--kernel", "--out", os.path.join(d, "refused")])
    said = [l.strip() for l in r.stdout.splitlines() if "Linux did not run" in l]
    expect(r.returncode == 1 and said and "the kernel refused net.ipv4.ip_local_port_range=500 1499" in said[0],
           f"a knob the kernel refuses is named: {r.returncode} {said}")
    r = run([binary, "lab", path, "--kernel"], env={**os.environ, "PATH": "/nonexistent"})
    expect(r.returncode == 2 and "iproute2" in r.stderr, f"no `ip`: {r.returncode} {r.stderr.strip()}")
    setpriv = shutil.which("setpriv")
    if setpriv:
        # The default set: a scenario file in this test's private folder is not theirs to read.
        r = run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", binary, "lab", "--kernel"])
        expect(r.returncode != 0 and "needs root" in r.stderr, f"no root: {r.returncode} {r.stderr.strip()}")


def line_rate(binary, d):
    path = write(d, "flat.lab", FLAT_OUT)
    out = os.path.join(d, "flat")
    r = run([binary, "lab", path, "--kernel", "--json", "--out", out])
    expect(r.returncode == 0, f"flat out: lab exited {r.returncode}: {r.stderr[-2000:]}")
    s = json.loads(r.stdout.splitlines()[0])["scenarios"][0]
    expect(s["predicted"]["tuples"] == 2000, f"2000 4-tuples ({s['predicted']['tuples']})")
    for who, m in (("twstack", s["measured"]), ("Linux", s["linux"]["measured"])):
        expect(m["first_errno"] == "EADDRNOTAVAIL" and m["ok"] == 2000,
               f"{who}: {m['ok']} connections, then {m['first_errno']}")
    lr = s["line_rate"]
    for who in ("twstack", "linux"):
        c = lr[who]["connect_us"]
        expect(c["n"] >= 2000 and 0 < c["p50"] <= c["p99"] <= c["max"],
               f"{who}: connect latency percentiles over the run: {c}")
    expect(lr["linux"]["connect_call_us"]["n"] >= 2000, "Linux: the connect() call itself, timed")
    with open(os.path.join(out, "linerate.png"), "rb") as png:
        expect(png.read(8) == b"\x89PNG\r\n\x1a\n", "linerate.png is a PNG")
    # Too big for the machine: refused before anything starts, saying why.
    big = write(d, "huge.lab", TOO_BIG)
    p = subprocess.Popen([binary, "lab", big, "--kernel", "--out", os.path.join(d, "huge")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = p.communicate(timeout=60)
    expect(p.returncode == 1 and "does not fit in this machine's memory" in err and "MemAvailable" in err,
           f"a population that does not fit: exit {p.returncode}: {err.strip()[-400:]}")
    expect(lab_namespaces(p.pid) == [], "no namespace made for it")


def interrupted(binary, d):
    path = write(d, "long.lab", EXHAUST.replace("duration = 4", "duration = 8"))
    p = subprocess.Popen([binary, "lab", path, "--kernel", "--out", os.path.join(d, "int")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Wait for the Linux run to start (the twstack run comes first), then Ctrl-C.
    for line in p.stderr:
        if "on twstack:" in line:
            break
    deadline = time.time() + 5
    while not lab_namespaces(p.pid) and time.time() < deadline:
        time.sleep(0.1)
    expect(lab_namespaces(p.pid) != [], "the Linux run has its namespaces")
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=30)
    expect(p.returncode == 130, f"interrupted: exit {p.returncode}")
    expect(lab_namespaces(p.pid) == [], "no namespace left after SIGINT")


def main():
    if os.geteuid() != 0:
        skip("needs root (DPDK virtual devices, network namespaces)")
    if shutil.which("ip") is None:
        skip("no `ip` command (iproute2)")
    if run(["unshare", "--net", "true"]).returncode != 0:
        skip("no network namespaces here")
    binary = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as d:
        both_stacks(binary, d)
        hold_and_restart(binary, d)
        bad_inputs(binary, d)
        line_rate(binary, d)
        interrupted(binary, d)
    print("lab_kernel: all checks passed")


if __name__ == "__main__":
    main()
