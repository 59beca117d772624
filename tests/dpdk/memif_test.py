#!/usr/bin/env python3
"""`twstack serve` and `twstack churn` as two processes over net_memif (the
server process owns the memif socket, the client connects to it), no
hugepages, no NIC.

1. Flat out, the server closing: no failure, every connection completed,
   the TIME_WAIT entries on the server, none on the client; `twstack stat`
   reads the running server.
2. 1000/s, the client closing: the TIME_WAIT entries on the client.

Correctness only: the CPS figure belongs to the benchmark (README), not to
a test, and no check depends on how fast a loaded machine runs the loops:
counts are held to what the run attempted, not to a rate.
Usage: memif_test.py TWSTACK_BINARY. Skips (77) without root.
"""

import json
import shutil
import struct
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpdk_harness import Twstack, expect, run, skip  # noqa: E402

SMALL = ["--set", "twstack.max_connections=8192", "--set", "twstack.buffer_chunks=4096"]


def pcap_frames(path):
    """Frames in a classic pcap file (LINKTYPE_ETHERNET, microseconds), checking each record."""
    with open(path, "rb") as f:
        head = f.read(24)
        magic, _, _, _, _, snap, link = struct.unpack("<IHHiIII", head)
        assert magic == 0xA1B2C3D4 and link == 1, f"{path}: not an Ethernet pcap"
        n = 0
        while rec := f.read(16):
            _, _, caplen, length = struct.unpack("<IIII", rec)
            assert caplen <= length <= 1514 and len(f.read(caplen)) == caplen, f"{path}: bad record {n}"
            n += 1
    return n


def pair(binary, sock, closer, churn_args, serve_args=()):
    if os.path.exists(sock):
        os.unlink(sock)
    # The server runs until stopped; the churn lingers after its summary, port
    # open and unpolled, while finish() stops the server: DPDK 22.11's memif
    # crashes a poller whose peer disconnects (RuntimeSettings::linger).
    serve = Twstack(binary, ["serve", "--port", f"memif:server:{sock}", "--ip", "10.88.0.2/24", "--listen", "80",
                             "--closer", closer, *SMALL, *serve_args])
    for _ in range(400):  # a memif client fails at start without the server's (abstract) socket
        with open("/proc/net/unix") as f:
            if any(l.rstrip().endswith((" @" + sock, " " + sock)) for l in f):
                break
        time.sleep(0.05)
    churn = Twstack(binary, ["churn", "--port", f"memif:client:{sock}", "--ip", "10.88.0.1/24",
                             "--connect", "10.88.0.2:80", "--closer", closer, "--start-after", "0.5", "--linger", "3", *SMALL,
                             "--set", "net.ipv4.ip_local_port_range=1024 65535", *churn_args])
    return serve, churn


def finish(serve, churn):
    """The churn's summary, then the server's stop, then both exits."""
    churn.wait_summary()
    serve.stop()
    s = serve.wait(timeout=30)
    churn.stop()  # ends its linger: the server is gone
    return churn.wait(timeout=30), s


def main():
    if os.geteuid() != 0:
        skip("needs root (DPDK virtual devices)")
    binary = os.path.abspath(sys.argv[1])
    sock = f"/tmp/twstack-memif-test-{os.getpid()}.sock"

    serve, churn = pair(binary, sock, "server", ["--rate", "0", "--inflight", "32", "--duration", "4"])
    st = None
    for _ in range(50):  # the commands appear once the server's port is up
        time.sleep(0.1)
        r = run([binary, "stat", "--json", "--pid", str(serve.pid())], check=False)
        if r.returncode == 0 and json.loads(r.stdout)["app"].get("accepted", 0) > 0:
            st = json.loads(r.stdout)
            break
    if st is None:
        serve.stop()
        churn.stop()
        raise AssertionError(f"twstack stat never answered: {r.stderr}\nserve: {serve.p.communicate()}\n"
                             f"churn: {churn.p.communicate()}")
    expect(st["info"]["role"] == "serve" and st["app"]["accepted"] > 0,
           f"twstack stat reads the running server ({st['app']['accepted']} accepted so far)")
    if shutil.which("dpdk-telemetry.py"):  # DPDK's own client (Debian's dpdk-dev) reads the same commands
        r = run(["dpdk-telemetry.py", "-f", f"twstack-{serve.pid()}"], input="/twstack/gauges\n")
        expect('"/twstack/gauges": {"estab"' in r.stdout, "dpdk-telemetry.py reads /twstack/gauges")
        r = run(["dpdk-telemetry.py", "-f", f"twstack-{serve.pid()}"], input="/twstack/queues\n")
        expect('"/twstack/queues": {"q0": {"rx_packets"' in r.stdout and '"rx_idle_polls"' in r.stdout,
               f"/twstack/queues answers each queue's adapter counts: {r.stdout.strip()[-200:]}")
    c, s = finish(serve, churn)
    expect(c["failed"] == 0 and c["broken"] == 0 and c["bad_responses"] == 0,
           f"flat out, server closing: no failures ({c['failed']} failed, {c['broken']} broken)")
    # Flat out keeps 32 connections going, opening one as each ends: every
    # attempt completed but those the stop closed in flight, and there were
    # more than one round of them (no rate: that is the benchmark's).
    expect(c["completed"] > 32 and 0 <= c["attempts"] - c["completed"] <= 32,
           f"flat out: {c['completed']} of {c['attempts']} attempts completed ({c['cps']:.0f} CPS here)")
    # The stop closes the connections in flight (at most --inflight): their
    # responses may have been sent and never read.
    expect(0 <= s["requests"] - c["requests"] <= 32, f"every request answered ({s['requests']} for {c['requests']})")
    tw = s["counters"].get("TcpExtTW", 0)
    expect(c["completed"] <= tw <= s["server_closed"] <= c["completed"] + 32,
           f"server closing: TIME_WAIT on the server ({tw} for {c['completed']} completed)")
    # ... and on the client only what the stop closed first (at most --inflight).
    expect(c["counters"].get("TcpExtTW", 0) <= 32, f"... none on the client but the stop's ({c['counters'].get('TcpExtTW', 0)})")

    cap = f"/tmp/twstack-memif-test-{os.getpid()}.pcap"
    serve, churn = pair(binary, sock, "client", ["--rate", "1000", "--duration", "3"], ["--capture", cap])
    c, s = finish(serve, churn)
    # Attempt k is due at k/1000 s, none at or after 2.5 s; a late loop makes
    # the overdue ones at once (ChurnClient::tick), so load does not lose
    # them. The run's clock starts a moment before the schedule's (thread
    # launch), so the last few due may fall after the stop: 100 ms of them
    # is more than that moment, however loaded. Of the attempts, all but
    # those the stop caught in flight complete (100 again).
    expect(c["failed"] == 0 and c["broken"] == 0 and c["bad_responses"] == 0,
           f"1000/s for 2.5 s, client closing: no failure ({c['failed']} failed, {c['broken']} broken)")
    expect(2400 <= c["attempts"] <= 2500, f"1000/s for 2.5 s: {c['attempts']} attempts of the 2500 scheduled")
    expect(0 <= c["attempts"] - c["completed"] <= 100,
           f"1000/s: {c['completed']} of {c['attempts']} attempts completed (the rest cut by the stop)")
    expect(c["timewait_end"] == c["counters"].get("TcpExtTW", 0) >= c["completed"],
           f"client closing: TIME_WAIT on the client ({c['timewait_end']})")
    expect(s["server_closed"] == 0 and s["counters"].get("TcpExtTW", 0) == 0, "... and none on the server")
    frames = pcap_frames(cap)
    os.unlink(cap)
    sent_and_received = s["counters"]["IpInReceives"] + s["counters"]["IpOutRequests"]
    # Every IPv4 frame either way, plus the ARP exchange.
    expect(sent_and_received <= frames <= sent_and_received + 4, f"--capture: {frames} frames in the pcap")
    print("memif: all checks passed")


if __name__ == "__main__":
    main()
