#!/usr/bin/env python3
"""The simulator's fault mix applied to the Linux kernel, SACK on and off
(`tools/dev bench faults`).

`twstack sim transfer --both --loss 0.02 --reorder 0.01 --dup 0.01
--corrupt 0.001` runs two twstack engines over an in-memory link
(drivers/memory/link.cc): per direction every frame takes a one-way delay of
100 us and, independently per frame, is lost (p 0.02), duplicated (p 0.01,
the copy due at the same time), held back an extra 1000 us so that later
frames overtake it (p 0.01), and has one byte of its IP datagram flipped
(p 0.001, so the receiver drops it on a checksum). This script gives the
host kernel's TCP the same link and the same workload, once with
net.ipv4.tcp_sack=1 and once with 0 in both endpoints, trial after trial
(on, off, on, off, ...), and sums the kernel's own counters.

Topology: two network namespaces, client kf-c (10.77.1.1 on tun kfc0) and
server kf-s (10.77.2.1 on tun kfs0), created here and always deleted. The
link between the two tun devices is a process of this script (`--role
link`): it reads each IP packet the kernel sends out of one tun device and
writes it into the other, applying the simulator's faults with the
simulator's rules (every draw made for every packet, the duplicate due with
the original and carrying its corruption, the flipped byte anywhere in the
IP datagram). The tun devices have no offloads enabled (no TUNSETOFFLOAD),
so the kernel hands over one MSS-sized, fully checksummed segment per packet
(no TSO/GSO), and a packet written into a tun device is not merged by GRO
and has its checksums verified by the receiver (a corrupted one counts in
Tcp InCsumErrors or Ip InHdrErrors and is dropped).

Why not netem: this kernel is built without sch_netem (CONFIG_NET_SCH_NETEM
is not set and there are no modules), so `tc qdisc add ... netem` fails.
The userspace link is in any case closer to the simulator than netem would
be: netem's `reorder` sends the chosen packets at once and delays the
others (the reverse of "held back"), its `corrupt` flips a bit possibly in
the Ethernet header, and it cannot be seeded; here each trial's link is
seeded (trial number; the same seed for SACK on and off) - the kernel's
timing still varies from run to run, so the fault pattern diverges once the
two runs send different packets.

What differs from the simulator's link:
  - rate: the simulator's link has none (a frame takes exactly `delay`);
    this one is a Python process, so when the kernel sends faster than it
    forwards (some 100k packets/s, less on a busy machine) packets wait in
    the tun device's queue (txqueuelen 10000, drops there are reported as
    `tun drops` and should be 0) and the RTT grows with the flight;
  - timing: delays are met to within the process's wake-up latency (timer
    slack set to 1 us; typically tens of microseconds late, more when the
    CPUs are busy); a held-back packet is still overtaken by the packets
    sent during its extra delay;
  - the kernel: Linux's defaults in a fresh namespace (tcp_rmem/tcp_wmem
    auto-tuning, CUBIC, RACK-TLP, timestamps, delayed ACKs, min RTO 200 ms),
    not twstack's 64 KiB buffers unless --buf is given; the values used are printed;
  - the end: the client's time runs from connect() to the server's FIN
    (connect to both closed, less the final ACK).

Workload (`--both` of `twstack sim transfer`): the client connects to the
server; each sends --bytes of a seeded pseudorandom stream to the other at
the same time and reads the other's, checking every byte; the client then
shuts down its side, the server closes after the client's FIN, the client
closes after the server's. Counters are read from each namespace's
/proc/net/snmp and /proc/net/netstat before and after each run, after both
sockets have left every state but TIME_WAIT, and summed over both endpoints.

Usage: bench/kernel_faults.py [--bytes N] [--trials N] [--reorder-delay-us US]
       [--buf BYTES] [--loss P] [--dup P] [--reorder P] [--corrupt P] [--delay-us US] [--json]
Needs root, network namespaces and /dev/net/tun (exit 77 without them).
"""

import argparse
import ctypes
import fcntl
import heapq
import json
import os
import platform
import random
import select
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

NS = {"c": "kf-c", "s": "kf-s"}
DEV = {"c": "kfc0", "s": "kfs0"}
ADDR = {"c": "10.77.1.1", "s": "10.77.2.1"}
NET = {"c": "10.77.1.0/24", "s": "10.77.2.0/24"}
PORT = 5001
TXQUEUELEN = 10000
SOCK_TIMEOUT_S = 300
COUNTERS = ["Tcp:RetransSegs", "Tcp:InCsumErrors", "Ip:InHdrErrors",
            "TcpExt:TCPSackRecovery", "TcpExt:TCPRenoRecovery", "TcpExt:TCPFastRetrans",
            "TcpExt:TCPSlowStartRetrans", "TcpExt:TCPLostRetransmit", "TcpExt:TCPLossProbes",
            "TcpExt:TCPLossProbeRecovery", "TcpExt:TCPTimeouts", "TcpExt:TCPSpuriousRTOs",
            "TcpExt:TCPSACKReorder", "TcpExt:TCPRenoReorder", "TcpExt:TCPTSReorder",
            "TcpExt:TCPDSACKRecv", "TcpExt:TCPDSACKOldSent", "TcpExt:TCPDSACKUndo",
            "TcpExt:TCPLossUndo", "TcpExt:TCPFullUndo", "TcpExt:TCPPartialUndo",
            "TcpExt:TCPSackRecoveryFail", "TcpExt:TCPRenoRecoveryFail"]
SYSCTLS = ["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem", "net.ipv4.tcp_congestion_control",
           "net.ipv4.tcp_recovery", "net.ipv4.tcp_early_retrans", "net.ipv4.tcp_dsack",
           "net.ipv4.tcp_timestamps", "net.ipv4.tcp_reordering", "net.ipv4.tcp_max_reordering"]

# ---------------------------------------------------------------- the link

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
PR_SET_TIMERSLACK = 29


def libc():
    return ctypes.CDLL(None, use_errno=True)


def open_tun(ns, name):
    """A tun device NAME created in namespace NS, its file descriptor (the
    device lives as long as the descriptor)."""
    c = libc()
    with open(f"/run/netns/{ns}") as f:
        if c.setns(f.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {ns}")
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd


class Direction:
    """One direction of the link: the simulator's Link::send, per IP packet."""

    def __init__(self, a, seed, out_fd):
        self.a = a
        self.rng = random.Random(seed)
        self.out = out_fd
        self.delay_ns = a.delay_us * 1000
        self.reorder_ns = a.reorder_delay_us * 1000
        self.st = dict(sent=0, lost=0, duplicated=0, reordered=0, corrupted=0, delivered=0,
                       late_ns_sum=0, late_ns_max=0)

    def send(self, pkt, now, heap, order):
        """Queues PKT (and its duplicate) on HEAP; returns the next order."""
        r = self.rng
        u_loss, u_dup, u_reorder, u_corrupt = r.random(), r.random(), r.random(), r.random()
        bits = r.getrandbits(64)
        self.st["sent"] += 1
        if u_loss < self.a.loss:
            self.st["lost"] += 1
            return order
        due = now + self.delay_ns
        if u_reorder < self.a.reorder:
            due += self.reorder_ns
            self.st["reordered"] += 1
        if u_corrupt < self.a.corrupt and pkt:
            end = len(pkt)
            if len(pkt) >= 20 and pkt[0] >> 4 == 4:
                end = min(end, max(20, (pkt[2] << 8) | pkt[3]))
            b = bytearray(pkt)
            b[((bits >> 8) % end)] ^= 1 + (bits & 0xFF) % 255  # never 0: always a change
            pkt = bytes(b)
            self.st["corrupted"] += 1
        heapq.heappush(heap, (due, order, self, pkt))
        order += 1
        if u_dup < self.a.dup:
            heapq.heappush(heap, (due, order, self, pkt))
            order += 1
            self.st["duplicated"] += 1
        return order


def link_main(a):
    """Forwards between the two tun devices until stdin closes; prints its counts."""
    libc().prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)
    fd_c = open_tun(NS["c"], DEV["c"])
    fd_s = open_tun(NS["s"], DEV["s"])
    dirs = {fd_c: Direction(a, a.seed * 2, fd_s), fd_s: Direction(a, a.seed * 2 + 1, fd_c)}
    print("ready", flush=True)
    ctl = sys.stdin.fileno()
    heap, order = [], 0
    while True:
        timeout = None
        if heap:
            timeout = max(0.0, (heap[0][0] - time.monotonic_ns()) / 1e9)
        ready, _, _ = select.select([fd_c, fd_s, ctl], [], [], timeout)
        now = time.monotonic_ns()
        if ctl in ready:
            break
        for fd in ready:
            d = dirs[fd]
            for _ in range(256):
                try:
                    pkt = os.read(fd, 65536)
                except BlockingIOError:
                    break
                order = d.send(pkt, now, heap, order)
        now = time.monotonic_ns()
        while heap and heap[0][0] <= now:
            due, _, d, pkt = heapq.heappop(heap)
            try:
                os.write(d.out, pkt)
                d.st["delivered"] += 1
                late = time.monotonic_ns() - due
                d.st["late_ns_sum"] += late
                d.st["late_ns_max"] = max(d.st["late_ns_max"], late)
            except OSError:
                d.st["write_errors"] = d.st.get("write_errors", 0) + 1
    print(json.dumps({"c_to_s": dirs[fd_c].st, "s_to_c": dirs[fd_s].st}), flush=True)
    return 0

# ---------------------------------------------------------------- endpoints


def stream(seed, n):
    return random.Random(seed).randbytes(n)


def exchange(sock, out, n):
    """Sends OUT while receiving N bytes; returns what was received."""
    err = []

    def sender():
        try:
            sock.sendall(out)
        except OSError as e:
            err.append(f"send: {e}")

    t = threading.Thread(target=sender)
    t.start()
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = sock.recv_into(view[got:])
        if k == 0:
            break
        got += k
    t.join()
    if err:
        raise OSError(err[0])
    return buf[:got]


def tcp_info(sock):
    """A few fields of the kernel's struct tcp_info (include/uapi/linux/tcp.h):
    smoothed and minimum RTT in us, the reordering degree, reorderings seen."""
    b = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    if len(b) < 224:
        return {}
    rtt, = struct.unpack_from("I", b, 68)
    reordering, = struct.unpack_from("I", b, 88)
    min_rtt, = struct.unpack_from("I", b, 148)
    reord_seen, = struct.unpack_from("I", b, 220)
    return {"srtt_us": rtt, "min_rtt_us": min_rtt, "reordering": reordering, "reord_seen": reord_seen}


def expect_eof(sock):
    extra = sock.recv(65536)
    if extra:
        raise OSError(f"{len(extra)} bytes past the end")


def set_buffers(sock, size):
    """SO_SNDBUF and SO_RCVBUF (the kernel doubles them and stops auto-tuning
    that socket); 0 leaves the kernel's defaults and auto-tuning."""
    if size:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


def endpoint_main(a):
    """The server (kf-s) or the client (kf-c) of one run; prints one JSON line."""
    n = a.bytes
    mine = stream(a.seed * 2 + (a.role == "server"), n)
    theirs = stream(a.seed * 2 + (a.role == "client"), n)
    res = {"role": a.role, "ok": False}
    try:
        if a.role == "server":
            ls = socket.socket()
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            set_buffers(ls, a.buf)  # an accepted socket inherits them
            ls.bind((ADDR["s"], PORT))
            ls.listen(1)
            print("listening", flush=True)
            ls.settimeout(SOCK_TIMEOUT_S)
            s, _ = ls.accept()
            s.settimeout(SOCK_TIMEOUT_S)
            got = exchange(s, mine, n)
            expect_eof(s)
            res["tcp_info"] = tcp_info(s)
            s.close()
            ls.close()
        else:
            s = socket.socket()
            set_buffers(s, a.buf)
            s.settimeout(SOCK_TIMEOUT_S)
            t0 = time.monotonic()
            s.connect((ADDR["s"], PORT))
            got = exchange(s, mine, n)
            s.shutdown(socket.SHUT_WR)
            expect_eof(s)
            res["seconds"] = time.monotonic() - t0
            res["tcp_info"] = tcp_info(s)
            s.close()
        res["received"] = len(got)
        res["intact"] = bytes(got) == theirs
        res["ok"] = res["intact"]
    except OSError as e:
        res["error"] = str(e)
    print(json.dumps(res), flush=True)
    return 0 if res["ok"] else 1

# ---------------------------------------------------------------- driver


def run(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def in_ns(side, *cmd):
    return ("ip", "netns", "exec", NS[side]) + cmd


def counters(side):
    """Every Ip/Tcp/TcpExt counter of a namespace, as {"Tcp:RetransSegs": n}."""
    out = run(*in_ns(side, "cat", "/proc/net/snmp", "/proc/net/netstat")).stdout.splitlines()
    vals = {}
    for names, values in zip(out[0::2], out[1::2]):
        p, names = names.split(":", 1)
        _, values = values.split(":", 1)
        for k, v in zip(names.split(), values.split()):
            vals[f"{p}:{k}"] = int(v)
    return vals


def setup_namespaces():
    teardown_namespaces()
    for side in NS:
        run("ip", "netns", "add", NS[side])
        run("ip", "-n", NS[side], "link", "set", "lo", "up")


def teardown_namespaces():
    for side in NS:
        run("ip", "netns", "del", NS[side], check=False)


def configure_tuns():
    for side, peer in (("c", "s"), ("s", "c")):
        ns, dev = NS[side], DEV[side]
        run(*in_ns(side, "sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=1"))
        run("ip", "-n", ns, "link", "set", "dev", dev, "txqueuelen", str(TXQUEUELEN), "up")
        run("ip", "-n", ns, "addr", "add", ADDR[side] + "/24", "dev", dev)
        run("ip", "-n", ns, "route", "add", NET[peer], "dev", dev)


def tun_drops():
    total = 0
    for side in NS:
        info = json.loads(run("ip", "-n", NS[side], "-j", "-s", "link", "show", "dev", DEV[side]).stdout)
        total += info[0]["stats64"]["tx"]["dropped"]
    return total


def wait_quiet(limit_s=10.0):
    """Waits until no TCP socket of either namespace is in a state other than
    LISTEN or TIME_WAIT (a FIN or its ACK still on the way)."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        busy = sum(len(run(*in_ns(side, "ss", "-Htn", "state", "all", "exclude", "time-wait",
                                  "exclude", "listening")).stdout.strip().splitlines()) for side in NS)
        if busy == 0:
            return True
        time.sleep(0.05)
    return False


def endpoint_cmd(a, role, seed):
    return in_ns(role[0], sys.executable, os.path.abspath(__file__), "--role", role,
                 "--bytes", str(a.bytes), "--seed", str(seed), "--buf", str(a.buf))


def link_cmd(a, seed):
    return [sys.executable, os.path.abspath(__file__), "--role", "link", "--seed", str(seed),
            "--loss", str(a.loss), "--dup", str(a.dup), "--reorder", str(a.reorder),
            "--corrupt", str(a.corrupt), "--delay-us", str(a.delay_us),
            "--reorder-delay-us", str(a.reorder_delay_us)]


def run_trial(a, sack, seed):
    """One transfer with tcp_sack=SACK in both namespaces; returns its record."""
    for side in NS:
        run(*in_ns(side, "sysctl", "-qw", f"net.ipv4.tcp_sack={sack}"))
    procs = []
    rec = {"sack": sack, "seed": seed, "ok": False}
    try:
        link = subprocess.Popen(link_cmd(a, seed), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(link)
        if link.stdout.readline().strip() != "ready":
            raise RuntimeError("the link did not start")
        configure_tuns()
        before = {side: counters(side) for side in NS}
        server = subprocess.Popen(endpoint_cmd(a, "server", seed), stdout=subprocess.PIPE, text=True)
        procs.append(server)
        if server.stdout.readline().strip() != "listening":
            raise RuntimeError("the server did not start")
        client = subprocess.run(endpoint_cmd(a, "client", seed), capture_output=True, text=True,
                                timeout=SOCK_TIMEOUT_S + 30)
        rec["client"] = json.loads(client.stdout.strip().splitlines()[-1])
        rec["server"] = json.loads(server.communicate(timeout=SOCK_TIMEOUT_S + 30)[0].strip().splitlines()[-1])
        rec["quiet"] = wait_quiet()
        after = {side: counters(side) for side in NS}
        rec["counters"] = {k: sum(after[s].get(k, 0) - before[s].get(k, 0) for s in NS) for k in COUNTERS}
        rec["tun_drops"] = tun_drops()
        link.stdin.close()
        rec["link"] = json.loads(link.stdout.readline())
        link.wait(timeout=10)
        rec["seconds"] = rec["client"].get("seconds")
        rec["ok"] = rec["client"]["ok"] and rec["server"]["ok"]
    except (RuntimeError, OSError, ValueError, IndexError, subprocess.SubprocessError) as e:
        rec["error"] = f"{type(e).__name__}: {e}"
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return rec


def summarize(recs):
    out = {}
    for sack in (1, 0):
        rs = [r for r in recs if r["sack"] == sack and r["ok"]]
        retr = [r["counters"]["Tcp:RetransSegs"] for r in rs]
        secs = [r["seconds"] for r in rs]
        out[sack] = {
            "trials_ok": len(rs),
            "trials_failed": sum(1 for r in recs if r["sack"] == sack and not r["ok"]),
            "retrans_total": sum(retr),
            "retrans_median": statistics.median(retr) if retr else None,
            "seconds_total": sum(secs),
            "seconds_median": statistics.median(secs) if secs else None,
            "tun_drops": sum(r["tun_drops"] for r in rs),
            "not_quiet": sum(1 for r in rs if not r["quiet"]),  # counters read with a FIN still on the way
            "counters": {k: sum(r["counters"][k] for r in rs) for k in COUNTERS},
            "link": {k: sum(r["link"][d][k] for r in rs for d in ("c_to_s", "s_to_c"))
                     for k in ("sent", "lost", "duplicated", "reordered", "corrupted", "delivered")},
        }
        late = sum(r["link"][d]["late_ns_sum"] for r in rs for d in ("c_to_s", "s_to_c"))
        o = out[sack]
        o["link_late_us_mean"] = late / 1000 / o["link"]["delivered"] if o["link"]["delivered"] else None
        o["link_late_us_max"] = max((r["link"][d]["late_ns_max"] / 1000 for r in rs for d in ("c_to_s", "s_to_c")),
                                    default=None)
        for k in ("srtt_us", "min_rtt_us", "reordering", "reord_seen"):
            v = [r[e]["tcp_info"][k] for r in rs for e in ("client", "server") if r[e].get("tcp_info")]
            o[f"median_{k}"] = statistics.median(v) if v else None
    on, off = out[1], out[0]
    out["ratio_retrans"] = on["retrans_total"] / off["retrans_total"] if off["retrans_total"] else None
    out["ratio_seconds"] = on["seconds_total"] / off["seconds_total"] if off["seconds_total"] else None
    return out


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.1f}"
    return f"{v:,}"


def print_table(a, env, s):
    print(f"machine: {env['machine']}")
    print("kernel settings in both namespaces: " + ", ".join(f"{k}={v}" for k, v in env["sysctls"].items()))
    print(f"link: delay {a.delay_us} us, loss {a.loss}, dup {a.dup}, reorder {a.reorder} "
          f"(+{a.reorder_delay_us} us), corrupt {a.corrupt}; {a.trials} trials per mode, "
          f"{a.bytes:,} bytes each way, seeds 1..{a.trials}")
    print("socket buffers: " + (f"SO_SNDBUF = SO_RCVBUF = {a.buf} (the kernel doubles them)" if a.buf
                                else "the kernel's defaults and auto-tuning"))
    on, off = s[1], s[0]
    rows = [("trials ok / failed", f"{on['trials_ok']} / {on['trials_failed']}",
             f"{off['trials_ok']} / {off['trials_failed']}", "")]
    for label, key, ratio in (("RetransSegs total", "retrans_total", s["ratio_retrans"]),
                              ("RetransSegs median/trial", "retrans_median", None),
                              ("seconds total", "seconds_total", s["ratio_seconds"]),
                              ("seconds median/trial", "seconds_median", None),
                              ("tun queue drops", "tun_drops", None),
                              ("trials read before the close ended", "not_quiet", None),
                              ("link late us, mean", "link_late_us_mean", None),
                              ("link late us, max", "link_late_us_max", None),
                              ("tcp_info srtt us, median at end", "median_srtt_us", None),
                              ("tcp_info min_rtt us, median", "median_min_rtt_us", None),
                              ("tcp_info reordering, median", "median_reordering", None),
                              ("tcp_info reord_seen, median", "median_reord_seen", None)):
        rows.append((label, fmt(on[key]), fmt(off[key]), fmt(ratio) if ratio is not None else ""))
    for k in COUNTERS[1:]:
        rows.append((k, fmt(on["counters"][k]), fmt(off["counters"][k]), ""))
    for k, v in on["link"].items():
        rows.append((f"link {k}", fmt(v), fmt(off["link"][k]), ""))
    print(f"{'':34} {'sack on':>12} {'sack off':>12} {'on/off':>8}")
    for r in rows:
        print(f"{r[0]:34} {r[1]:>12} {r[2]:>12} {r[3]:>8}")


def environment():
    from cps import cpu_model  # bench/cps.py, beside this file
    sysctls = {k: run(*in_ns("c", "sysctl", "-n", k)).stdout.strip().replace("\t", " ") for k in SYSCTLS}
    return {"machine": f"{platform.node()}, {cpu_model()}, {os.cpu_count()} cores, Linux {platform.release()}",
            "sysctls": sysctls}


def prerequisites():
    """None when the script can run, else why not."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, tun devices)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    r = run("ip", "netns", "add", "kf-probe", check=False)
    if r.returncode != 0:
        return f"cannot create a network namespace: {r.stderr.strip()}"
    run("ip", "netns", "del", "kf-probe", check=False)
    return None


def driver_main(a):
    why = prerequisites()
    if why:
        print(f"kernel_faults: {why}; skipped", file=sys.stderr)
        return 77
    recs = []
    try:
        setup_namespaces()
        env = environment()
        for trial in range(1, a.trials + 1):
            for sack in (1, 0):
                rec = run_trial(a, sack, trial)
                recs.append(rec)
                c = rec.get("counters", {})
                print(f"trial {trial} sack {sack}: {'ok' if rec['ok'] else 'FAILED'} "
                      f"{fmt(rec.get('seconds'))} s, {c.get('Tcp:RetransSegs', '-')} retransmissions"
                      + (f" ({rec['error']})" if "error" in rec else ""), file=sys.stderr, flush=True)
    finally:
        teardown_namespaces()
    s = summarize(recs)
    if a.json:
        print(json.dumps({"args": vars(a), "environment": env, "summary": s, "trials": recs}, indent=1))
    else:
        print_table(a, env, s)
    return 0 if all(r["ok"] for r in recs) else 1


def probability(v):
    p = float(v)
    if not 0 <= p <= 1:
        raise argparse.ArgumentTypeError("a probability in 0..1")
    return p


def whole(lo, hi):
    def parse(v):
        n = int(v)
        if not lo <= n <= hi:
            raise argparse.ArgumentTypeError(f"a whole number in {lo}..{hi}")
        return n
    return parse


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bytes", type=whole(1, 1 << 31), default=10_000_000, help="bytes each way (default 10000000)")
    ap.add_argument("--trials", type=whole(1, 1000), default=10, help="trials per mode (default 10)")
    ap.add_argument("--loss", type=probability, default=0.02, help="per-packet loss (default 0.02)")
    ap.add_argument("--dup", type=probability, default=0.01, help="per-packet duplication (default 0.01)")
    ap.add_argument("--reorder", type=probability, default=0.01,
                    help="per-packet hold-back by --reorder-delay-us (default 0.01)")
    ap.add_argument("--corrupt", type=probability, default=0.001, help="one byte flipped per packet (default 0.001)")
    ap.add_argument("--delay-us", type=whole(0, 10_000_000), default=100, help="one-way delay (default 100)")
    ap.add_argument("--reorder-delay-us", type=whole(0, 10_000_000), default=1000,
                    help="extra delay of a held-back packet (default 1000)")
    ap.add_argument("--buf", type=whole(0, 1 << 30), default=0,
                    help="SO_SNDBUF and SO_RCVBUF of both sockets (default 0: the kernel's auto-tuning)")
    ap.add_argument("--json", action="store_true", help="print one JSON object: summary and every trial")
    ap.add_argument("--role", choices=("driver", "link", "server", "client"), default="driver",
                    help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=whole(0, 1 << 62), default=1, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.role == "link":
        return link_main(a)
    if a.role in ("server", "client"):
        return endpoint_main(a)
    return driver_main(a)


if __name__ == "__main__":
    sys.exit(main())
