#!/usr/bin/env python3
"""The Linux kernel as twstack's peer, over net_tap in a private network
namespace that this test creates and deletes. twstack runs inside the
namespace (so its TAP interface appears there); the kernel side of the TAP
has 10.77.0.1/24, twstack 10.77.0.2/24.

1. ARP and ping from the kernel.
2. `twstack serve --mode http --closer server`: curl fetches the body 1000
   times in a row with "Connection: close"; every body is right; the
   TIME_WAIT entries are twstack's (1000), none are the kernel's; nc gets an
   answer; the kernel counted no retransmission and no reset.
3. The same with --closer client: the 1000 TIME_WAIT entries are the kernel's.
4. `twstack churn` against a kernel server: 200/s for 10 s with no failure
   when the 4-tuples suffice, every attempt accounted for, the TIME_WAIT on
   twstack; with 300 ports at 100/s, client closing and tcp_tw_reuse=0,
   exactly 300 connections, then EADDRNOTAVAIL (due at 3.00 s).

Outcomes, not wall-clock rates: a loaded machine delays the poll loop, so no
check asks for a count within a given second or a time within a tight
window. Where a rate matters it is taken over the whole run, from the time
the run measured, with a wide bound.

Usage: kernel_peer_test.py TWSTACK_BINARY. Skips (77) without root or TUN.
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpdk_harness import (KERNEL_HTTP_SERVER, Namespace, Twstack, expect, poll_until, require_root_and_tun,  # noqa: E402
                          require_tools, run)

TW = "10.77.0.2"
KERNEL = "10.77.0.1"
TAP = "twt0"
BODY_BYTES = 100

def expected_body(n):
    # ServeApp's body: lines of the alphabet, 64 bytes a line, ending in a newline.
    return "".join("\n" if (i + 1 == n or i % 64 == 63) else chr(ord("a") + i % 64 % 26) for i in range(n))


def start_serve(binary, ns, closer):
    tw = Twstack(binary, ["serve", "--port", f"tap:{TAP}", "--ip", f"{TW}/24", "--listen", "80", "--mode", "http",
                          "--closer", closer, "--body-bytes", str(BODY_BYTES), "--set", "twstack.max_connections=4096",
                          "--set", "twstack.buffer_chunks=4096"], netns=ns)
    ns.wait_link(TAP)
    run(["ip", "-n", ns.name, "addr", "replace", f"{KERNEL}/24", "dev", TAP])
    run(["ip", "-n", ns.name, "link", "set", TAP, "up"])
    return tw


def curl_1000(ns):
    before = ns.snmp_tcp()
    r = run(ns.exec("curl", "-sS", "--max-time", "60", "-H", "Connection: close", f"http://{TW}/[1-1000]"))
    expect(r.stdout == expected_body(BODY_BYTES) * 1000, "curl: 1000 responses, every body byte-exact")
    after = ns.snmp_tcp()
    d = {k: after[k] - before[k] for k in after}
    expect(d["ActiveOpens"] == 1000, f"kernel: 1000 connections opened (ActiveOpens +{d['ActiveOpens']})")
    expect(d["RetransSegs"] == 0, f"kernel: no retransmissions (RetransSegs +{d['RetransSegs']})")
    expect(d["EstabResets"] == 0 and d["AttemptFails"] == 0,
           f"kernel: no resets received (EstabResets +{d['EstabResets']}, AttemptFails +{d['AttemptFails']})")


def stat_json(binary, tw):
    r = run([binary, "stat", "--json", "--pid", str(tw.pid())])
    import json
    return json.loads(r.stdout)


def serve_case(binary, ns, closer):
    tw = start_serve(binary, ns, closer)
    try:
        if closer == "server":
            r = run(ns.exec("ping", "-c", "3", "-i", "0.2", "-W", "2", TW))
            expect(" 0% packet loss" in r.stdout, "ping: 3 of 3 echo replies")
            neigh = run(["ip", "-n", ns.name, "neigh", "show", TW]).stdout
            expect("lladdr" in neigh, f"ARP: the kernel resolved {TW} ({neigh.strip()})")
        kernel_tw_before = ns.timewait_count()  # nc of an earlier case may have left one
        curl_1000(ns)
        # The figures are published about once a second, later on a loaded
        # machine: wait until they show every connection closed (and, when
        # twstack closes first, in TIME_WAIT: that follows the close by the
        # peer's FIN).
        def settled(st):
            tw_done = closer == "client" or st["counters"].get("TcpExtTW", 0) >= 1000
            return st["app"].get("closed", 0) >= 1000 and tw_done
        st = poll_until(lambda: stat_json(binary, tw), settled)
        expect(st["app"].get("closed", 0) == 1000, f"twstack closed the 1000 connections ({st['app'].get('closed')})")
        kernel_tw = ns.timewait_count() - kernel_tw_before
        if closer == "server":
            expect(st["counters"].get("TcpExtTW", 0) == 1000, "twstack entered TIME_WAIT 1000 times (TcpExtTW)")
            # A kernel client reusing a port at once hands twstack's entry over to the new SYN (docs/linux-timewait.md §6).
            expect(st["gauges"]["timewait"] >= 950, f"twstack holds the TIME_WAIT ({st['gauges']['timewait']})")
            expect(kernel_tw == 0, f"the kernel holds none ({kernel_tw})")
        else:
            expect(st["counters"].get("TcpExtTW", 0) == 0, "twstack entered no TIME_WAIT")
            expect(kernel_tw == 1000, f"the kernel holds 1000 TIME_WAIT ({kernel_tw})")
        r = run(ns.exec("nc", "-N", "-w", "5", TW, "80"), input="GET / HTTP/1.0\r\n\r\n")
        expect(r.stdout.startswith("HTTP/1.1 200 OK") and r.stdout.endswith(expected_body(BODY_BYTES)),
               "nc: a plain TCP client gets the response")
    finally:
        tw.stop()
    s = tw.wait()
    expect(s["aborted"] == 0 and s["bad_requests"] == 0, f"serve --closer {closer}: nothing aborted, no bad request")


def churn(binary, ns, args):
    return Twstack(binary, ["churn", "--port", f"tap:{TAP}", "--ip", f"{TW}/24", "--connect", f"{KERNEL}:8080",
                            "--set", "twstack.max_connections=8192", "--set", "twstack.buffer_chunks=4096", *args],
                   netns=ns)


def run_churn(binary, ns, args):
    """Runs a churn to its end; returns its summary and the wall-clock seconds the test saw it take."""
    t0 = time.monotonic()
    c = churn(binary, ns, args)
    ns.wait_link(TAP)
    run(["ip", "-n", ns.name, "addr", "replace", f"{KERNEL}/24", "dev", TAP])
    run(["ip", "-n", ns.name, "link", "set", TAP, "up"])
    s = c.wait(timeout=60)
    return s, time.monotonic() - t0


def churn_cases(binary, ns):
    server = subprocess.Popen(ns.exec("python3", "-c", KERNEL_HTTP_SERVER, "0.0.0.0", "8080", "100"))  # before the TAP exists
    try:
        # Enough 4-tuples: 10000 ports, 2000 connections due in 10 s.
        rate, start_after, window = 200, 1, 10  # --duration 11 counts the start-after
        kernel_tw_before = ns.timewait_count(sport=8080)
        s, elapsed = run_churn(binary, ns, ["--rate", str(rate), "--start-after", str(start_after),
                                            "--duration", str(start_after + window),
                                            "--set", "net.ipv4.ip_local_port_range=40000 49999"])
        expect(s["failed"] == 0 and s["broken"] == 0 and s["bad_responses"] == 0,
               f"churn {rate}/s x {window} s: no failures ({s['failed']} failed, {s['broken']} broken, "
               f"{s['bad_responses']} bad responses)")
        # Attempt k is due at k/rate s and none at or after the window's end;
        # a late loop makes the overdue ones at once (ChurnClient::tick), so
        # load delays attempts but does not lose them. The run's clock starts
        # a moment before the schedule's, so the last one or two due may fall
        # after the stop: at most rate*window, and not far below.
        expect(rate * window - rate // 10 <= s["attempts"] <= rate * window,
               f"churn: {s['attempts']} attempts of the {rate * window} the schedule has")
        # Every attempt is a connection that completed, but those the stop
        # closed in flight. A connection over the TAP to the kernel takes a
        # round trip and a thread start in the Python server; a quarter
        # second of arrivals still open at the stop would be a stall.
        expect(0 <= s["attempts"] - s["completed"] <= rate // 4,
               f"churn: {s['completed']} of {s['attempts']} attempts completed (the rest cut by the stop)")
        # The rate over the whole run, from the run's own clock (which the
        # test's must contain), within a factor of two: the schedule holds
        # the average even when single seconds slip.
        run_s = s["seconds"] - start_after
        expect(s["seconds"] <= elapsed, f"churn: ran {s['seconds']:.2f} s within the {elapsed:.2f} s the test saw")
        expect(rate / 2 <= s["attempts"] / run_s <= rate * 1.05,
               f"churn: {s['attempts'] / run_s:.0f} attempts/s over the run (rate {rate})")
        # The client closes first: the TIME_WAIT is twstack's, one per
        # completed connection (60 s outlives the run), none on the kernel.
        expect(s["timewait_end"] >= s["completed"],
               f"churn: the client holds the TIME_WAIT ({s['timewait_end']} for {s['completed']} completed)")
        kernel_tw = ns.timewait_count(sport=8080) - kernel_tw_before
        expect(kernel_tw == 0, f"churn: the kernel server holds none ({kernel_tw})")

        # Not enough: 300 ports at 100/s, no reuse. Attempt 300, due at
        # 300/100 = 3.00 s, finds every port in TIME_WAIT (60 s, longer than
        # the run), and so does every attempt after it.
        s, elapsed = run_churn(binary, ns, ["--rate", "100", "--start-after", "1", "--duration", "5",
                                            "--set", "net.ipv4.ip_local_port_range=40000 40299",
                                            "--set", "net.ipv4.tcp_tw_reuse=0"])
        expect(s["first_errno"] == "EADDRNOTAVAIL", f"churn exhausted: first errno {s['first_errno']}")
        expect(s["ok"] == 300, f"churn exhausted: exactly 300 connections before it ({s['ok']})")
        expect(s["failed"] == s["attempts"] - 300 and s["broken"] == 0,
               f"churn exhausted: every later attempt failed ({s['failed']} of {s['attempts']})")
        # Not before it was due; later only by as much as the loop ran late.
        # With no attempt late (`late` counts those made over 1 ms after
        # their time) that is within 1 ms; otherwise within the run.
        first = s["first_failure_s"]
        latest = 3.001 if s["late"] == 0 else s["seconds"]
        expect(3.0 <= first <= latest,
               f"churn exhausted at {first:.3f} s (due at 3.00 s, {s['late']} attempts late)")
    finally:
        server.kill()
        server.wait()


def main():
    require_root_and_tun()
    require_tools("ip", "curl", "nc", "ping", "ss")
    binary = os.path.abspath(sys.argv[1])
    ns = Namespace(f"twkp{os.getpid()}")
    try:
        serve_case(binary, ns, "server")
        serve_case(binary, ns, "client")
        churn_cases(binary, ns)
    finally:
        ns.close()
    print("kernel peer: all checks passed")


if __name__ == "__main__":
    main()
