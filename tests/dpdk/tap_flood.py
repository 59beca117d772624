#!/usr/bin/env python3
"""Spoofed SYN floods from a kernel namespace: `twstack serve` over net_tap
beside the Linux kernel over a veth pair, with ordinary HTTP requests
during the flood (`tools/dev flood tap`; about 20 s per row and stack).

twstack: `twstack serve --mode http` runs in a namespace this script makes,
its TAP's kernel side there at 10.67.0.1 (twstack 10.67.0.2, gateway
10.67.0.1). Linux: a namespace pair joined by a veth, the kernel's HTTP
server (tests/dpdk/dpdk_harness.py) at 10.68.0.2, default route back to
10.68.0.1. On both, in the namespace of the link's kernel side:
  - raw_syn_flood (tests/flood) sends spoofed SYNs from 10.99.0.0/16 (off
    the link: the SYN-ACKs go to the gateway, which does not forward them,
    as answers to spoofed sources vanish on the Internet), at a fixed rate
    or flat out, bounded in count and time;
  - after LEAD s of flood, a client makes one request every 1/REQ_RATE s
    for REQ_S s, each a new connection (GET, Connection: close), each
    allowed TIMEOUT s (its SYN retried at 1, 3 and 7 s): it is ok with the
    whole body. The flood lasts until the last request has ended (at most
    LEAD + REQ_S + TIMEOUT s).
Both stacks have the same limits: listen backlog 1024 (somaxconn) and
tcp_max_syn_backlog 1024; tcp_syncookies 1 (Linux's default) and 0. The
kernel saves no TCP metrics (tcp_no_metrics_save=1), as twstack keeps none:
with them, Linux without cookies keeps a quarter of the SYN queue for
clients that completed a connection before (tcp_peer_is_proven).

Prints a table: the flood's rate asked and reached, twstack's ok/total,
the kernel's ok/total, and the counters that say why (kernel names:
SyncookiesSent/Recv, ListenDrops, TCPReqQFullDrop), with the frames the
TAP's queue dropped before twstack read them.

--check asserts the outcomes (the issue's bar): with cookies, at least 99 %
of the requests succeed on both stacks at every rate; without, twstack
counts the refused SYNs (ListenDrops) and sends no cookie.

Usage: tap_flood.py TWSTACK RAW_SYN_FLOOD [--rates 500,0] [--check].
Only to addresses in the namespaces it makes; they are always removed.
Skips (77) without root or /dev/net/tun.
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpdk_harness import KERNEL_HTTP_SERVER, Namespace, Twstack, require_root_and_tun, run  # noqa: E402

LEAD = 2.0      # s of flood before the first request
REQ_RATE = 20   # requests per second
REQ_S = 5.0     # s of requests: REQ_RATE * REQ_S requests
TIMEOUT = 10.0  # s per request (connect, send, whole response)
FLOOD_S = LEAD + REQ_S + TIMEOUT + 1
BACKLOG = 1024
SPOOFED = "10.99.0.0/16"
COUNTERS = ["SyncookiesSent", "SyncookiesRecv", "SyncookiesFailed", "TCPReqQFullDoCookies", "TCPReqQFullDrop",
            "ListenDrops", "ListenOverflows"]

# The ordinary client, run in a namespace: python3 -c CLIENT ADDR PORT N
# INTERVAL TIMEOUT. One thread per request; prints one JSON line.
CLIENT = r"""
import json, socket, sys, threading, time
addr, port, n, every, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
res = [None] * n
def one(i):
    t0 = time.monotonic()
    try:
        s = socket.create_connection((addr, port), timeout=timeout)
        s.settimeout(max(0.1, timeout - (time.monotonic() - t0)))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d: raise ConnectionError("closed before the head")
            buf += d
        head, body = buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 200"): raise ConnectionError("status " + head.split(b"\r\n")[0].decode())
        length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
        while len(body) < length:
            s.settimeout(max(0.1, timeout - (time.monotonic() - t0)))
            d = s.recv(65536)
            if not d: raise ConnectionError("closed in the body")
            body += d
        s.close()
        res[i] = ("ok", time.monotonic() - t0)
    except Exception as e:
        res[i] = (type(e).__name__, time.monotonic() - t0)
threads = []
start = time.monotonic()
for i in range(n):
    time.sleep(max(0, start + i * every - time.monotonic()))
    t = threading.Thread(target=one, args=(i,)); t.start(); threads.append(t)
for t in threads: t.join()
ok = sorted(r[1] for r in res if r[0] == "ok")
fails = {}
for r in res:
    if r[0] != "ok": fails[r[0]] = fails.get(r[0], 0) + 1
print(json.dumps({"ok": len(ok), "total": n, "failures": fails,
                  "median_s": ok[len(ok) // 2] if ok else None, "max_s": ok[-1] if ok else None}))
"""


def flood_cmd(ns, gen, target, rate):
    count = int(rate * FLOOD_S) if rate else 10 ** 9
    return subprocess.Popen(ns.exec(gen, "--target", target, "--sources", SPOOFED, "--rate", str(rate),
                                    "--count", str(count), "--seconds", str(FLOOD_S)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def requests(ns, addr, port, n=None, every=None):
    n = n or int(REQ_RATE * REQ_S)
    every = every or 1.0 / REQ_RATE
    r = run(ns.exec("python3", "-c", CLIENT, addr, str(port), str(n), str(every), str(TIMEOUT)),
            timeout=n * every + TIMEOUT + 30)
    return json.loads(r.stdout)


def finish(p):
    out, err = p.communicate(timeout=FLOOD_S + 30)
    if p.returncode != 0:
        raise AssertionError(f"raw_syn_flood exited {p.returncode}: {err.strip()}")
    return json.loads(out)


def during_flood(ns, gen, target, addr, port, rate):
    """The flood, and the requests LEAD s into it; the flood's and the requests' results."""
    flood = flood_cmd(ns, gen, target, rate)
    try:
        time.sleep(LEAD)
        req = requests(ns, addr, port)
    finally:
        flood.send_signal(2)  # SIGINT: it stops and prints its counts
        f = finish(flood)
    return f, req


def twstack_case(binary, gen, ns, rate, cookies):
    serve = Twstack(binary, ["serve", "--port", "tap:twsf0", "--ip", "10.67.0.2/24", "--gateway", "10.67.0.1",
                             "--listen", "80", "--mode", "http", "--set", f"net.ipv4.tcp_syncookies={cookies}",
                             "--set", f"net.core.somaxconn={BACKLOG}", "--set",
                             f"net.ipv4.tcp_max_syn_backlog={BACKLOG}"], netns=ns)
    try:
        ns.wait_link("twsf0")
        run(["ip", "-n", ns.name, "addr", "replace", "10.67.0.1/24", "dev", "twsf0"])
        run(["ip", "-n", ns.name, "link", "set", "twsf0", "up"])
        warm = requests(ns, "10.67.0.2", 80, n=1, every=0.1)  # ARP both ways, and the server is up
        if warm["ok"] != 1:
            raise AssertionError(f"twstack serve over TAP did not answer before the flood: {warm}")
        tap0 = tap_rx_dropped(ns)
        f, req = during_flood(ns, gen, "10.67.0.2:80", "10.67.0.2", 80, rate)
        tap_drops = tap_rx_dropped(ns) - tap0
    finally:
        serve.stop()
    s = serve.wait(timeout=60)
    k = {name: s["counters"].get("TcpExt" + name, 0) for name in COUNTERS}
    k["tap_dropped"] = tap_drops
    return f, req, k


def tap_rx_dropped(ns):
    """Frames the TAP's queue dropped on the way to twstack (the kernel side's TX drops)."""
    j = json.loads(run(["ip", "-n", ns.name, "-s", "-j", "link", "show", "twsf0"]).stdout)
    return j[0]["stats64"]["tx"]["dropped"]


def netstat(ns):
    out = run(ns.exec("cat", "/proc/net/netstat")).stdout.splitlines()
    d = {}
    for i in range(0, len(out) - 1, 2):
        if out[i].startswith("TcpExt:"):
            d.update(zip(out[i].split()[1:], map(int, out[i + 1].split()[1:])))
    return d


class KernelPair:
    """Client and server namespaces joined by a veth: 10.68.0.1 and 10.68.0.2."""

    def __init__(self, tag):
        self.c = Namespace(f"twsf{tag}-c")
        self.s = Namespace(f"twsf{tag}-s")
        run(["ip", "link", "add", "twsfc", "netns", self.c.name, "type", "veth", "peer", "name", "twsfs", "netns",
             self.s.name])
        for ns, dev, addr in ((self.c, "twsfc", "10.68.0.1/24"), (self.s, "twsfs", "10.68.0.2/24")):
            run(["ip", "-n", ns.name, "addr", "add", addr, "dev", dev])
            run(["ip", "-n", ns.name, "link", "set", dev, "up"])
        run(["ip", "-n", self.s.name, "route", "add", "default", "via", "10.68.0.1"])
        self.s.sysctl("net.core.somaxconn", BACKLOG)
        self.s.sysctl("net.ipv4.tcp_max_syn_backlog", BACKLOG)
        # Without cookies Linux keeps the last quarter of the SYN queue for
        # peers "proven to be alive" (tcp_conn_request, tcp_peer_is_proven:
        # an RTT in the peer's TCP metrics, saved when a connection closes).
        # The warm-up request would make the client such a peer; twstack keeps
        # no TCP metrics, so for like with like the kernel saves none either.
        self.s.sysctl("net.ipv4.tcp_no_metrics_save", 1)

    def close(self):
        self.c.close()
        self.s.close()


def kernel_case(gen, pair, rate, cookies):
    pair.s.sysctl("net.ipv4.tcp_syncookies", cookies)
    server = subprocess.Popen(pair.s.exec("python3", "-c", KERNEL_HTTP_SERVER, "0.0.0.0", "80", "100"))
    try:
        for _ in range(100):  # until it listens
            if requests(pair.c, "10.68.0.2", 80, n=1, every=0.1)["ok"] == 1:
                break
            time.sleep(0.1)
        before = netstat(pair.s)
        f, req = during_flood(pair.c, gen, "10.68.0.2:80", "10.68.0.2", 80, rate)
        after = netstat(pair.s)
    finally:
        server.kill()
        server.wait()
    return f, req, {name: after.get(name, 0) - before.get(name, 0) for name in COUNTERS}


def fmt_counters(k):
    return (f"cookies sent {k['SyncookiesSent']} recv {k['SyncookiesRecv']} failed {k['SyncookiesFailed']}, "
            f"ReqQFullDoCookies {k['TCPReqQFullDoCookies']}, ReqQFullDrop {k['TCPReqQFullDrop']}, "
            f"ListenDrops {k['ListenDrops']}, ListenOverflows {k['ListenOverflows']}"
            + (f", TAP queue dropped {k['tap_dropped']}" if "tap_dropped" in k else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("twstack")
    ap.add_argument("generator")
    ap.add_argument("--rates", default="500,0", help="SYNs per second, comma-separated; 0: flat out (default 500,0)")
    ap.add_argument("--cookies", default="1,0", help="tcp_syncookies values (default 1,0)")
    ap.add_argument("--check", action="store_true", help="assert the outcomes (exit 1 if one fails)")
    a = ap.parse_args()
    require_root_and_tun()
    binary, gen = os.path.abspath(a.twstack), os.path.abspath(a.generator)
    rates = [int(r) for r in a.rates.split(",")]
    cookie_modes = [int(c) for c in a.cookies.split(",")]
    tag = os.getpid() % 10000
    ns = Namespace(f"twsf{tag}-t")
    pair = KernelPair(tag)
    rows, failed = [], []
    try:
        for rate in rates:
            for cookies in cookie_modes:
                tf, treq, tk = twstack_case(binary, gen, ns, rate, cookies)
                kf, kreq, kk = kernel_case(gen, pair, rate, cookies)
                rows.append((rate, cookies, tf, treq, tk, kf, kreq, kk))
                print(f"rate {rate or 'flat out'}, tcp_syncookies={cookies}: twstack {treq['ok']}/{treq['total']} "
                      f"(flood {tf['rate']:.0f}/s), kernel {kreq['ok']}/{kreq['total']} (flood {kf['rate']:.0f}/s)",
                      file=sys.stderr, flush=True)
                if a.check:
                    failed += check(rate, cookies, treq, tk, kreq)
    finally:
        ns.close()
        pair.close()
    print_table(rows)
    for f in failed:
        print("FAILED: " + f)
    sys.exit(1 if failed else 0)


def check(rate, cookies, treq, tk, kreq):
    name = f"rate {rate or 'flat out'}, tcp_syncookies={cookies}"
    bad = []
    if cookies:
        for who, req in (("twstack", treq), ("kernel", kreq)):
            if req["ok"] < 0.99 * req["total"]:
                bad.append(f"{name}: {who} {req['ok']}/{req['total']} requests ok (< 99 %)")
        if tk["SyncookiesSent"] == 0 or tk["SyncookiesRecv"] == 0:
            bad.append(f"{name}: twstack sent {tk['SyncookiesSent']} cookies, {tk['SyncookiesRecv']} came back")
    elif tk["SyncookiesSent"] != 0 or tk["ListenDrops"] == 0:
        bad.append(f"{name}: twstack without cookies: {tk['SyncookiesSent']} cookies, {tk['ListenDrops']} drops")
    return bad


def print_table(rows):
    print(f"\nSpoofed SYNs from {SPOOFED} for {FLOOD_S:.0f} s; {int(REQ_RATE * REQ_S)} requests during it "
          f"(from {LEAD:.0f} s, {REQ_RATE}/s, {TIMEOUT:.0f} s each); backlog {BACKLOG}, tcp_max_syn_backlog {BACKLOG}\n")
    print(f"{'flood SYNs/s':<22} {'cookies':>7}  {'twstack ok':>10}  {'kernel ok':>9}  {'twstack flood':>13}  "
          f"{'kernel flood':>12}")
    for rate, cookies, tf, treq, tk, kf, kreq, kk in rows:
        asked = str(rate) if rate else "flat out"
        print(f"{asked:<22} {cookies:>7}  {treq['ok']:>4}/{treq['total']:<5}  {kreq['ok']:>4}/{kreq['total']:<4}  "
              f"{tf['rate']:>11.0f}/s  {kf['rate']:>10.0f}/s")
    print()
    for rate, cookies, tf, treq, tk, kf, kreq, kk in rows:
        asked = str(rate) if rate else "flat out"
        print(f"{asked}, tcp_syncookies={cookies}:")
        print(f"  twstack: {treq['ok']}/{treq['total']} ok {fmt_fail(treq)}; {tf['sent']} SYNs sent "
              f"({tf['refused']} refused by a full queue); {fmt_counters(tk)}")
        print(f"  kernel:  {kreq['ok']}/{kreq['total']} ok {fmt_fail(kreq)}; {kf['sent']} SYNs sent "
              f"({kf['refused']} refused by a full queue); {fmt_counters(kk)}")


def fmt_fail(req):
    lat = f"(median {req['median_s']:.2f} s, slowest {req['max_s']:.2f} s)" if req["median_s"] is not None else ""
    fails = ", ".join(f"{v} {k}" for k, v in req["failures"].items())
    return lat + (f", failed: {fails}" if fails else "")


if __name__ == "__main__":
    main()
