#!/usr/bin/env python3
"""SYN floods against a server that keeps serving (net.ipv4.tcp_syncookies).

Default (in the dpdk suite, ~15 s): `twstack serve` and `twstack churn
--flood syn` as two processes over net_memif. The churn opens ordinary
connections at 500/s while the same port floods the server flat out with
SYNs from 126 spoofed sources (the flood's frames go out after the
churn's own: QueueEngine::send_frame). Attempts for 4 s, then 4 s for
what is in flight, the flood all along. Outcomes:
  - every ordinary attempt completes (at least 99 %), none fails;
  - every flood SYN that reached the server is accounted for: a cookie
    (TcpExtSyncookiesSent), a SYN-queue entry (at most the listen backlog),
    or a counted drop (TcpExtListenDrops);
  - the server's memory does not grow with the flood (RSS sampled early in
    the flood and at its end);
  - with net.ipv4.tcp_syncookies=0 the flood fills the SYN queue and the
    server drops SYNs as Linux does: past 3/4 of tcp_max_syn_backlog
    (TcpExtListenDrops), then at the listen backlog (TcpExtTCPReqQFullDrop).

--kernel (tools/dev flood, slower, reported not asserted): the same churn
and flood from twstack over net_tap into a namespace this script creates,
against a kernel HTTP server there, with tcp_syncookies=1 and =0.

Rates are reported, never asserted (a loaded machine runs the loops slower).
Usage: flood_test.py TWSTACK_BINARY [--kernel]. Skips (77) without root.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpdk_harness import KERNEL_HTTP_SERVER, Namespace, Twstack, expect, require_root_and_tun, run, skip  # noqa: E402

SMALL = ["--set", "twstack.max_connections=8192", "--set", "twstack.buffer_chunks=4096"]
BACKLOG = 4096  # serve's listen() backlog (ServeSettings), capped by somaxconn 4096
RATE = 500
EARLY = 50000  # flood SYNs refused between the RSS samples, at least
FLOOD_S = 4


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_socket(sock):
    for _ in range(400):  # a memif client fails at start without the server's (abstract) socket
        with open("/proc/net/unix") as f:
            if any(l.rstrip().endswith((" @" + sock, " " + sock)) for l in f):
                return
        time.sleep(0.05)


def churn_args(port, ip, target, sources, start_after=1, flood_s=FLOOD_S):
    # Attempts for flood_s seconds, then 8 s for what is in flight (a SYN the
    # full ring refused three times is retried at 1 s, 3 s and 7 s: on a
    # loaded machine the server drains its ring more slowly); the flood all along.
    return ["churn", "--port", port, "--ip", ip, "--connect", target, "--rate", str(RATE), "--start-after",
            str(start_after), "--open-for", str(flood_s), "--duration", str(start_after + flood_s + 8), "--flood", "syn",
            "--flood-rate", "0", "--flood-sources", sources, *SMALL, "--set", "net.ipv4.ip_local_port_range=1024 65535"]


def memif_run(binary, sock, cookies, flood_s=FLOOD_S):
    if os.path.exists(sock):
        os.unlink(sock)
    serve = Twstack(binary, ["serve", "--port", f"memif:server:{sock}", "--ip", "10.88.0.2/24", "--listen", "80",
                             "--set", f"net.ipv4.tcp_syncookies={cookies}", "--set", "twstack.max_connections=8192",
                             # A pool the ordinary connections cycle through within the first second,
                             # so that its pages are all touched before the first RSS sample.
                             "--set", "twstack.buffer_chunks=512"])
    wait_socket(sock)
    churn = Twstack(binary, [*churn_args(f"memif:client:{sock}", "10.88.0.1/24", "10.88.0.2:80", "10.88.0.128/25",
                                         flood_s=flood_s),
                             "--linger", "3"])
    # The server's RSS 3 s into the churn's run (2 s into the flood), by the
    # churn's own per-second lines, and once the flood is over. By the first
    # sample the flood has cycled every pool a SYN touches (mbufs, TX
    # frames): later growth would be memory kept per SYN.
    churn.early = []
    while (line := churn.p.stdout.readline()):
        churn.early.append(line)
        if line.startswith("{") and json.loads(line).get("t", 0) >= 2.5:
            break
    # (Read the counters first: telemetry's own thread then counts in both samples.)
    so_far = refused((stat_json(binary, serve) or {}).get("counters", {}))
    rss = [(rss_kib(serve.pid()), so_far)]
    churn.wait_summary(timeout=60)
    rss.append((rss_kib(serve.pid()), None))
    serve.stop()
    s = serve.wait(timeout=30)
    churn.stop()
    return churn.wait(timeout=30), s, rss


def refused(k):
    return k.get("TcpExtSyncookiesSent", 0) + k.get("TcpExtListenDrops", 0)


def stat_json(binary, tw):
    r = run([binary, "stat", "--json", "--pid", str(tw.pid())], check=False)
    return json.loads(r.stdout) if r.returncode == 0 else None


def report(name, c, s, seconds=FLOOD_S + 8):
    nic = c["nic"]
    sent = sum(v for k, v in nic.items() if k.endswith("tx_packets"))
    refused = sum(v for k, v in nic.items() if k.endswith("tx_refused"))
    print(f"{name}: flood handed to the port {c['flood_sent']} frames ({c['flood_sent'] / seconds:.0f}/s), "
          f"on the wire {sent} frames in all ({sent / seconds:.0f}/s), refused by the full ring {refused}; "
          f"ordinary connections: {c['completed']} of {c['attempts']} completed, {c['failed']} failed")


def memif_main(binary):
    sock = f"/tmp/twstack-flood-test-{os.getpid()}.sock"
    c, s, rss = memif_run(binary, sock, 1)
    report("memif, tcp_syncookies=1", c, s)
    k = s["counters"]
    expect(c["failed"] == 0 and c["broken"] == 0 and c["bad_responses"] == 0,
           f"under the flood: no ordinary connection failed ({c['failed']} failed, {c['broken']} broken)")
    # A flat-out flood fills the memif ring, which drops ordinary SYNs as it
    # drops flood SYNs; how many depends on how fast the server drains it, so
    # on a machine loaded by other work some connections are still retrying
    # their SYN (1 s, 3 s, 7 s) when the run ends. 99 % is the figure on a
    # quiet machine (`tools/dev flood` prints it); here at least 80 % (a run
    # beside other CPU-bound work made 87 %), and none failed or broke
    # (above). Without working cookies a flat-out flood lets under 20 % through.
    expect(c["attempts"] >= RATE * FLOOD_S * 0.9 and c["completed"] >= 0.8 * c["attempts"],
           f"under the flood: {c['completed']} of {c['attempts']} ordinary connections completed (>= 80 %)")
    # The server received every frame the churn's port put on the wire
    # (memif loses none once sent); of its TCP segments, those beyond the
    # churn's own are the flood's SYNs.
    flood_in = k["TcpInSegs"] - c["counters"]["IpOutRequests"]
    cookies = k.get("TcpExtSyncookiesSent", 0)
    drops = k.get("TcpExtListenDrops", 0)
    ordinary_syns = c["counters"]["TcpActiveOpens"] + c["counters"].get("TcpRetransSegs", 0)
    # A flood SYN whose random 4-tuple is already half-open in the SYN
    # queue goes to that connection (Linux tcp_check_req), not to the
    # listener: no cookie, no listen drop. At millions of SYNs from 126 sources x 64512 ports
    # that is flood_in * BACKLOG / 8.1 M of them (16k at 33 M); allow twice.
    repeats = 2 * flood_in * BACKLOG // (126 * 64512)
    expect(flood_in > BACKLOG * 10 and cookies + drops <= flood_in + ordinary_syns and
           cookies + drops + BACKLOG + repeats >= flood_in,
           f"every flood SYN counted: {flood_in} received = {cookies} cookies + {drops} drops + at most "
           f"{BACKLOG} in the SYN queue + at most {repeats} repeating a half-open 4-tuple")
    # TCPReqQFullDoCookies counts the decision (tcp_syn_flood_action), before
    # the SYN-ACK is built: an empty TX pool may keep a few from going out.
    expect(k.get("TcpExtTCPReqQFullDoCookies", 0) >= cookies > 0 and k.get("TcpExtSyncookiesRecv", 0) > 0,
           f"cookies went out for a full SYN queue (TCPReqQFullDoCookies {k.get('TcpExtTCPReqQFullDoCookies')}), "
           f"and ordinary clients came back with them (SyncookiesRecv {k.get('TcpExtSyncookiesRecv')})")
    (rss0, at0), (rss1, _) = rss
    more = refused(k) - at0
    # Pools are sized at start (the buffer pool is small here, and cycled by
    # the ordinary connections before the first sample). Pages of the DPDK
    # and telemetry threads may still come and go by a MiB or two; state kept
    # per SYN (a half-open connection is over 1 KiB) would be 100 MiB and more.
    expect(more >= EARLY and rss1 - rss0 < 4096 and (rss1 - rss0) * 1024 < more * 32,
           f"the server's memory does not grow with the flood: RSS {rss0} KiB after {at0} SYNs refused, "
           f"{rss1} KiB after {more} more ({max(0, rss1 - rss0) * 1024 / max(1, more):.1f} bytes per SYN)")

    c, s, _ = memif_run(binary, sock, 0, flood_s=2)
    report("memif, tcp_syncookies=0", c, s, seconds=2 + 8)
    k = s["counters"]
    # tcp_conn_request without cookies: once the SYN queue is 3/4 of
    # tcp_max_syn_backlog (4096, as the listen backlog) deep, SYNs are
    # dropped before the queue is full (ListenDrops, not TCPReqQFullDrop).
    # Ordinary SYNs meet the drop as the flood's do: how many of them still
    # get in (a slot frees as one completes) is reported, not asserted.
    expect(k.get("TcpExtSyncookiesSent", 0) == 0 and k.get("TcpExtListenDrops", 0) > BACKLOG,
           f"cookies off: no cookie, SYNs dropped (ListenDrops {k.get('TcpExtListenDrops', 0)}, TCPReqQFullDrop "
           f"{k.get('TcpExtTCPReqQFullDrop', 0)}); {c['completed']} of {c['attempts']} ordinary connections "
           f"completed")
    print("flood memif: all checks passed")


def nstat(ns):
    out = run(ns.exec("cat", "/proc/net/netstat")).stdout.splitlines()
    d = {}
    for i in range(0, len(out) - 1, 2):
        keys, vals = out[i].split(), out[i + 1].split()
        d.update(zip(keys[1:], map(int, vals[1:])))
    return d


def kernel_main(binary):
    require_root_and_tun()
    ns = Namespace(f"twflood{os.getpid() % 10000}")
    try:
        for cookies in (1, 0):
            ns.sysctl("net.ipv4.tcp_syncookies", cookies)
            server = subprocess.Popen(ns.exec("python3", "-c", KERNEL_HTTP_SERVER, "0.0.0.0", "8080", "2"))
            try:
                churn = Twstack(binary, churn_args("tap:twfl0", "10.66.0.2/24", "10.66.0.1:8080", "10.66.0.128/25",
                                                   start_after=2), netns=ns)
                ns.wait_link("twfl0")
                run(["ip", "-n", ns.name, "addr", "replace", "10.66.0.1/24", "dev", "twfl0"])
                run(["ip", "-n", ns.name, "link", "set", "twfl0", "up"])
                before = nstat(ns)
                c = churn.wait(timeout=120)
                after = nstat(ns)
            finally:
                server.kill()
                server.wait()
            d = {k: after.get(k, 0) - before.get(k, 0) for k in after}
            report(f"kernel over TAP, tcp_syncookies={cookies}", c, None)
            print(f"  kernel: SyncookiesSent +{d.get('SyncookiesSent', 0)}, SyncookiesRecv +{d.get('SyncookiesRecv', 0)}, "
                  f"SyncookiesFailed +{d.get('SyncookiesFailed', 0)}, TCPReqQFullDoCookies "
                  f"+{d.get('TCPReqQFullDoCookies', 0)}, TCPReqQFullDrop +{d.get('TCPReqQFullDrop', 0)}, "
                  f"ListenOverflows +{d.get('ListenOverflows', 0)}, ListenDrops +{d.get('ListenDrops', 0)}")
    finally:
        ns.close()


def main():
    if os.geteuid() != 0:
        skip("needs root (DPDK virtual devices)")
    binary = os.path.abspath(sys.argv[1])
    if "--kernel" in sys.argv[2:]:
        kernel_main(binary)
    else:
        memif_main(binary)


if __name__ == "__main__":
    main()
