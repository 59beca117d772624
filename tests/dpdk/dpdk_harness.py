"""Shared pieces of the process-level DPDK tests: running twstack commands,
private network namespaces, JSON-lines output, and the SKIP convention
(exit 77, which meson reports as SKIP) where root, /dev/net/tun or the EAL
are missing."""

import json
import os
import shutil
import subprocess
import sys
import time

SKIP = 77


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)


def require_root_and_tun():
    if os.geteuid() != 0:
        skip("needs root (DPDK virtual devices, network namespaces)")
    if not os.path.exists("/dev/net/tun"):
        skip("needs /dev/net/tun (net_tap)")


def require_tools(*names):
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        skip("missing tools: " + ", ".join(missing))


def run(cmd, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


class Namespace:
    """A network namespace the test creates and deletes."""

    def __init__(self, name):
        self.name = name
        run(["ip", "netns", "add", name])
        run(["ip", "-n", name, "link", "set", "lo", "up"])

    def exec(self, *cmd):
        return ["ip", "netns", "exec", self.name, *cmd]

    def sysctl(self, key, value):
        run(self.exec("sysctl", "-q", "-w", f"{key}={value}"))

    def snmp_tcp(self):
        out = run(self.exec("cat", "/proc/net/snmp")).stdout.splitlines()
        tcp = [l.split() for l in out if l.startswith("Tcp:")]
        return dict(zip(tcp[0][1:], map(int, tcp[1][1:])))

    def timewait_count(self, sport=None):
        """TIME_WAIT sockets in the namespace, or only those with local port `sport`."""
        cmd = ["ss", "-Htan", "state", "time-wait"] + ([f"( sport = :{sport} )"] if sport else [])
        out = run(self.exec(*cmd)).stdout
        return len([l for l in out.splitlines() if l.strip()])

    def wait_link(self, ifname, timeout=10.0):
        end = time.time() + timeout
        while time.time() < end:
            if run(["ip", "-n", self.name, "link", "show", ifname], check=False).returncode == 0:
                return
            time.sleep(0.05)
        raise AssertionError(f"{ifname} never appeared in {self.name}")

    def close(self):
        run(["ip", "netns", "del", self.name], check=False)


class Twstack:
    """A twstack command in the background, with --json output collected."""

    def __init__(self, binary, args, netns=None):
        cmd = [binary, *args, "--json"]
        if netns is not None:
            cmd = netns.exec(*cmd)
        self.cmd = cmd
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait(self, timeout=60):
        try:
            out, err = self.p.communicate(timeout=timeout)
            out = "".join(getattr(self, "early", [])) + out
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, err = self.p.communicate()
            raise AssertionError(f"{' '.join(self.cmd)} did not finish in {timeout} s:\n{out}\n{err}")
        self.stderr = err
        self.lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        if self.p.returncode != 0 or not self.lines or not self.lines[-1].get("summary"):
            if "rte_eal_init failed" in err:
                skip("the EAL cannot start here: " + err.strip().splitlines()[-1])
            raise AssertionError(f"{' '.join(self.cmd)} exited {self.p.returncode}:\n{out}\n{err}")
        return self.lines[-1]

    def wait_summary(self, timeout=60):
        """Reads stdout until the summary line (printed before --linger), without waiting for the exit."""
        end = time.time() + timeout
        self.early = getattr(self, "early", [])
        while time.time() < end:
            line = self.p.stdout.readline()
            if not line:
                return
            self.early.append(line)
            if line.startswith("{") and json.loads(line).get("summary"):
                return
        raise AssertionError(f"{' '.join(self.cmd)}: no summary in {timeout} s")

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(2)  # SIGINT: a clean stop with a summary

    def pid(self):
        """The twstack process's pid (under `ip netns exec`, which execs it)."""
        return self.p.pid


def poll_until(fetch, done, timeout=15.0, every=0.2):
    """Calls fetch() until done(value) or `timeout` seconds have passed; returns the last value.
    For figures a process publishes on its own schedule: wait for the outcome, not for a guessed delay."""
    end = time.monotonic() + timeout
    while True:
        v = fetch()
        if done(v) or time.monotonic() >= end:
            return v
        time.sleep(every)


def expect(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok: {what}")


# A kernel HTTP server for a namespace: `python3 -c KERNEL_HTTP_SERVER ADDR
# PORT BODY_BYTES`. It answers each request with Content-Length and
# keep-alive and closes only at the client's EOF, so the client is the active
# closer and holds the TIME_WAIT. Backlog 1024 (listen(), capped by somaxconn).
KERNEL_HTTP_SERVER = r"""
import socket, socketserver, sys
body = b"k" * int(sys.argv[3])
head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
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
                self.request.sendall(head + body)
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 1024
S((sys.argv[1], int(sys.argv[2])), H).serve_forever()
"""
