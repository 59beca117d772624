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
   when the 4-tuples suffice; with 300 ports at 100/s, client closing and
   tcp_tw_reuse=0, the first connect fails with EADDRNOTAVAIL at 3.00 s.

Usage: kernel_peer_test.py TWSTACK_BINARY. Skips (77) without root or TUN.
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpdk_harness import Namespace, Twstack, expect, require_root_and_tun, require_tools, run  # noqa: E402

TW = "10.77.0.2"
KERNEL = "10.77.0.1"
TAP = "twt0"
BODY_BYTES = 100

# A kernel HTTP server that never closes first: it answers each request with
# Content-Length and keep-alive and closes only at the client's EOF, so the
# client (twstack churn) is the active closer and holds the TIME_WAIT.
KERNEL_SERVER = r"""
import socket, socketserver, sys
body = b"k" * 100
class H(socketserver.BaseRequestHandler):
    def handle(self):
        buf = b""
        while True:
            d = self.request.recv(4096)
            if not d:
                return
            buf += d
            while b"\r\n\r\n" in buf:
                _, buf = buf.split(b"\r\n\r\n", 1)
                self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + body)
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 1024
S((sys.argv[1], int(sys.argv[2])), H).serve_forever()
"""


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
        time.sleep(1.2)  # the gauges are published once a second
        st = stat_json(binary, tw)
        kernel_tw = ns.timewait_count() - kernel_tw_before
        if closer == "server":
            expect(st["counters"].get("TcpExtTW", 0) == 1000, "twstack entered TIME_WAIT 1000 times (TcpExtTW)")
            # A kernel client reusing a port at once hands twstack's entry over to the new SYN (reference §6).
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


def churn_cases(binary, ns):
    server = subprocess.Popen(ns.exec("python3", "-c", KERNEL_SERVER, "0.0.0.0", "8080"))  # before the TAP exists
    try:
        # Enough 4-tuples: 10000 ports, 2000 connections in 10 s.
        c = churn(binary, ns, ["--rate", "200", "--start-after", "1", "--duration", "11",
                               "--set", "net.ipv4.ip_local_port_range=40000 49999"])
        ns.wait_link(TAP)
        run(["ip", "-n", ns.name, "addr", "replace", f"{KERNEL}/24", "dev", TAP])
        run(["ip", "-n", ns.name, "link", "set", TAP, "up"])
        s = c.wait(timeout=60)
        per = [l for l in c.lines if not l.get("summary")]
        expect(s["failed"] == 0 and s["broken"] == 0, f"churn 200/s x 10 s: no failures ({s['failed']}, {s['broken']})")
        expect(s["completed"] >= 1995, f"churn: {s['completed']} connections completed")
        steady = [l["cps"] for l in per[2:9]]
        expect(all(180 <= x <= 220 for x in steady), f"churn: a steady 200/s ({steady})")
        expect(s["timewait_end"] >= 1990, f"churn: the client holds the TIME_WAIT ({s['timewait_end']})")
        # Not enough: 300 ports at 100/s, no reuse -> EADDRNOTAVAIL at 300/100 = 3.00 s.
        c = churn(binary, ns, ["--rate", "100", "--start-after", "1", "--duration", "5",
                               "--set", "net.ipv4.ip_local_port_range=40000 40299",
                               "--set", "net.ipv4.tcp_tw_reuse=0"])
        ns.wait_link(TAP)
        run(["ip", "-n", ns.name, "addr", "replace", f"{KERNEL}/24", "dev", TAP])
        run(["ip", "-n", ns.name, "link", "set", TAP, "up"])
        s = c.wait(timeout=60)
        expect(s["first_errno"] == "EADDRNOTAVAIL", f"churn exhausted: first errno {s['first_errno']}")
        expect(abs(s["first_failure_s"] - 3.0) < 0.05, f"churn exhausted at {s['first_failure_s']:.3f} s (predicted 3.00)")
        expect(s["ok"] == 300, f"churn exhausted: exactly 300 connections before it ({s['ok']})")
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
