#!/usr/bin/env python3
"""Runs Linux's packetdrill scripts against twstack (libtwstack_packetdrill.so)
and, where root and network namespaces are available, against this machine's
kernel in a namespace made for each script (and always deleted).

Prints a table: script, kernel verdict, twstack verdict, first difference
(packetdrill's error line). The expectations file lists every script twstack
is not expected to pass yet, each with its reason; the run fails when a
script not listed fails on twstack, or a listed one passes (take it off).

packetdrill is not in Debian: it is built from the snapshot in
../shared/third_party/packetdrill (beside the repository) into the build
tree. Without it the run is skipped (exit 77) with the reason.

The scripts' shell commands (sysctl, ip, tc, ethtool, set_sysctls.py in
backticks) must not change the host: on twstack's side a folder of no-op
stand-ins goes first on PATH, and as root the script runs in a namespace of
its own as well; the net.* settings they name are passed to the adapter as
configuration knobs instead (unknown keys skipped, as sysctl -e; a value
twstack refuses fails the script with the knob's reason).
"""
import argparse
import concurrent.futures
import fcntl
import glob
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

SKIP = 77
LOCAL_IP = "192.168.0.1"
# The shell commands scripts run; for twstack they must not touch the host.
SHIMS = ("sysctl", "ip", "tc", "ethtool", "nstat", "ss")
# A value may be quoted: set_sysctls.py /proc/sys/net/ipv4/tcp_wmem="4096 50000 4194304".
PROC_SYS_RE = re.compile(r"/proc/sys/(net/[a-z0-9_/]+)=(\"[^\"]*\"|'[^']*'|\S+)")
SYSCTL_RE = re.compile(r"(net\.[a-z0-9_.]+)\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s`\"']+)")


def build_packetdrill(tarball, dest):
    """Unpacks and builds packetdrill under dest once; returns the binary, or
    None where a build tool is missing (a skip), or "" when the build fails."""
    binary = os.path.join(dest, "gtests/net/packetdrill/packetdrill")
    os.makedirs(dest, exist_ok=True)
    with open(os.path.join(dest, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test trees share one build
        if os.access(binary, os.X_OK):
            return binary
        for tool in ("bison", "flex", "make", "cc"):
            if shutil.which(tool) is None:
                print(f"packetdrill: cannot build it: {tool} is missing (apt-get install bison flex)")
                return None
        with tarfile.open(tarball) as t:
            t.extractall(dest)
        src = os.path.dirname(binary)
        log = os.path.join(dest, "build.log")
        with open(log, "w") as out:
            ok = subprocess.call("./configure && make -j2 packetdrill", shell=True, cwd=src,
                                 stdout=out, stderr=subprocess.STDOUT) == 0
        if not ok:
            print(f"packetdrill: build failed, see {log}")
            return ""
    return binary


def load_expectations(path):
    exp = {}
    for n, line in enumerate(open(path), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition(" ")
        if not reason.strip():
            sys.exit(f"{path}:{n}: {name} has no reason")
        exp[name] = reason.strip()
    return exp


def script_knobs(script):
    """The net.* sysctls a script (and ../common/defaults.sh, if it runs it) sets."""
    text = open(script).read()
    cmds = "\n".join(re.findall(r"`([^`]*)`", text))
    knobs = []
    if "defaults.sh" in cmds:
        defaults = os.path.join(os.path.dirname(script), "..", "common", "defaults.sh")
        if os.path.exists(defaults):
            knobs += SYSCTL_RE.findall(open(defaults).read())
    knobs += SYSCTL_RE.findall(cmds)
    knobs += [(k.replace("/", "."), v) for k, v in PROC_SYS_RE.findall(cmds)]
    flags = []
    for key, value in knobs:
        value = value.strip("\"'")
        value = re.sub(r"\$\(\((\d+)\*(\d+)\*(\d+)\)\)", lambda m: str(int(m[1]) * int(m[2]) * int(m[3])), value)
        value = re.sub(r"\$\(\((\d+)\*(\d+)\)\)", lambda m: str(int(m[1]) * int(m[2])), value)
        if "," in value or "$" in value:
            continue
        flags.append(f"-{key}={value}")  # '-': skipped where twstack has no such knob
    return ",".join(flags)


def first_error(output):
    lines = [l for l in output.splitlines() if l.strip()]
    for i, l in enumerate(lines):
        if ": error" in l or "error:" in l or "assertion" in l.lower() or "libtwstack_packetdrill" in l:
            if "error in Python code" in l:  # the assertion that failed says what differs
                why = next((m.strip() for m in lines[i:] if m.startswith("AssertionError")), "")
                return f"{l.strip()} {why}"
            return l.strip()
    return lines[-1].strip() if lines else "(no output)"


def annotate(err, script):
    """A failed call's error names no option: add the script's line."""
    m = re.match(r"\S+\.pkt:(\d+): runtime error in \w+ call", err)
    if m:
        lines = open(script).read().splitlines()
        n = int(m[1])
        if 0 < n <= len(lines):
            err += f" [{lines[n - 1].strip()}]"
    return err


def run_one(cmd, cwd, env, timeout):
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, text=True, errors="replace")
        ok, out = p.returncode == 0, p.stdout
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        ok, out = False, out + f"\ntimed out after {timeout} s"
    return ok, ("" if ok else first_error(out)), time.monotonic() - t0


def run_retrying(cmd, cwd, env, timeout):
    """A timing error on a loaded machine may be the machine's: one more try."""
    ok, err, secs = run_one(cmd, cwd, env, timeout)
    if not ok and "timing error" in err:
        ok, err, more = run_one(cmd, cwd, env, timeout)
        secs += more
    return ok, err, secs


def relaxed_copy(script, wscale):
    """A diagnostic copy of a script whose expected SYN and SYN-ACK options
    take `wscale`: to see what differs after the handshake while twstack
    lacks Linux's buffer sizing (tcp_select_initial_window from tcp_rmem).
    Written beside the script (its ../common paths must resolve); never a
    verdict."""
    out = []
    for line in open(script):
        if re.search(r">\s+S", line):
            line = re.sub(r"wscale \d+", f"wscale {wscale}", line)
        out.append(line)
    path = os.path.join(os.path.dirname(script), f".relaxed-{os.getpid()}-{os.path.basename(script)}")
    with open(path, "w") as f:
        f.writelines(out)
    return path


def twstack_side(args, shims, script, n):
    if args.relax_handshake is not None:
        relaxed = relaxed_copy(script, args.relax_handshake)
        try:
            return twstack_run(args, shims, relaxed, script, n)
        finally:
            os.unlink(relaxed)
    return twstack_run(args, shims, script, script, n)


def twstack_run(args, shims, path, script, n):
    flags = ",".join(f for f in (f"local_ip={LOCAL_IP}", script_knobs(script)) if f)
    # LD_PRELOAD too: packetdrill's code events call libc's getsockopt(TCP_INFO)
    # on the socket's descriptor; the adapter answers those for its own.
    cmd = ["env", f"PATH={shims}:{os.environ.get('PATH', '')}", f"LD_PRELOAD={args.adapter}",
           args.packetdrill_bin, f"--so_filename={args.adapter}", f"--so_flags={flags}",
           f"--local_ip={LOCAL_IP}", f"--tolerance_usecs={args.tolerance_usecs}", os.path.basename(path)]
    if os.geteuid() != 0:
        ok, err, secs = run_retrying(cmd, os.path.dirname(script), dict(os.environ), args.timeout)
        return ok, annotate(err, script), secs
    # As root, a script's own shell commands (set_sysctls.py writes
    # /proc/sys) would change the host: they run in a namespace of their own.
    if not args.netns_ok:
        return False, "not run: root without network namespaces (the script's commands would change the host)", 0.0
    ok, err, secs = in_netns(f"twpd-{os.getpid()}-t{n}", cmd, os.path.dirname(script), args.timeout)
    return ok, annotate(err, script), secs


def kernel_side(args, script, n):
    cmd = [args.packetdrill_bin, f"--local_ip={LOCAL_IP}", f"--tolerance_usecs={args.tolerance_usecs}",
           os.path.basename(script)]
    return in_netns(f"twpd-{os.getpid()}-k{n}", cmd, os.path.dirname(script), args.timeout)


def in_netns(ns, cmd, cwd, timeout):
    if subprocess.call(["ip", "netns", "add", ns], stderr=subprocess.DEVNULL) != 0:
        return None, "could not create a network namespace", 0.0
    try:
        subprocess.call(["ip", "-n", ns, "link", "set", "lo", "up"])
        return run_retrying(["ip", "netns", "exec", ns] + cmd, cwd, dict(os.environ), timeout)
    finally:
        subprocess.call(["ip", "netns", "del", ns])


def can_use_netns():
    if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
        return False
    ns = f"twpd-probe-{os.getpid()}"
    if subprocess.call(["ip", "netns", "add", ns], stderr=subprocess.DEVNULL) != 0:
        return False
    subprocess.call(["ip", "netns", "del", ns])
    return True


ALLOWED_CC = "/proc/sys/net/ipv4/tcp_allowed_congestion_control"


def write_allowed_cc(value):
    with open(ALLOWED_CC, "w") as f:
        f.write(value)


def kernel_cc_note(allow):
    """A namespace may only select the congestion controls the host allows:
    Linux's scripts set cubic (defaults.sh). Returns the value to restore."""
    try:
        allowed = open(ALLOWED_CC).read().split()
    except OSError:
        return None
    if "cubic" in allowed:
        return None
    if not allow:
        print(f"note: cubic is not in the host's net.ipv4.tcp_allowed_congestion_control ({' '.join(allowed)}): "
              "on the kernel side scripts run with the host's default congestion control; "
              "--allow-cubic adds it for the run")
        return None
    write_allowed_cc(" ".join(allowed + ["cubic"]))
    return " ".join(allowed)


def verdict(ok):
    return "-" if ok is None else ("pass" if ok else "FAIL")


def parse_args(root):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--adapter", required=True, help="libtwstack_packetdrill.so")
    ap.add_argument("--build-dir", required=True, help="where packetdrill is built")
    ap.add_argument("--tarball", default=None, help="packetdrill snapshot (default: ../shared/third_party/packetdrill)")
    ap.add_argument("--expectations", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "expectations.txt"))
    ap.add_argument("--kernel", choices=("auto", "yes", "no"), default="auto",
                    help="also run each script against the kernel in a namespace of its own")
    ap.add_argument("--kernel-errors", action="store_true",
                    help="under each script the kernel fails, its first error line")
    ap.add_argument("--allow-cubic", action="store_true",
                    help="add cubic to the host's net.ipv4.tcp_allowed_congestion_control for the run "
                         "(restored after), so that scripts setting it get it in their namespace")
    ap.add_argument("--relax-handshake", type=int, metavar="WSCALE", default=None,
                    help="diagnosis: expect this window scale in SYN and SYN-ACK, "
                         "to see the first difference after the handshake (no expectations check)")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    # Scripts assert timing to packetdrill's tolerance (4 ms by default): too
    # tight for a loaded 2-core machine, where 30 ms still separates a
    # delayed ACK (40 ms) from an immediate one.
    ap.add_argument("--tolerance-usecs", type=int, default=30000)
    ap.add_argument("--timeout", type=int, default=60, help="seconds per script")
    ap.add_argument("dirs", nargs="*", help="directories under gtests/net/tcp (default: the chosen set)")
    return ap.parse_args()


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    args = parse_args(root)
    args.adapter = os.path.abspath(args.adapter)
    args.build_dir = os.path.abspath(args.build_dir)
    global RELAXED, KERNEL_ERRORS
    RELAXED = args.relax_handshake is not None
    KERNEL_ERRORS = args.kernel_errors

    tarball = args.tarball or next(iter(sorted(glob.glob(
        os.path.join(root, "..", "shared", "third_party", "packetdrill", "packetdrill-*.tar.gz")))), None)
    if tarball is None or not os.path.exists(tarball):
        print("SKIP: packetdrill's snapshot is not at ../shared/third_party/packetdrill beside the repository")
        return SKIP
    dest = os.path.join(args.build_dir, "packetdrill")
    args.packetdrill_bin = build_packetdrill(tarball, dest)
    if args.packetdrill_bin is None:
        return SKIP
    if not args.packetdrill_bin:
        return 1
    tcp_dir = os.path.join(dest, "gtests", "net", "tcp")
    expectations = load_expectations(args.expectations)
    dirs = args.dirs or sorted({name.split("/")[0] for name in expectations} | set(DEFAULT_DIRS))
    scripts = sorted(s for d in dirs for s in glob.glob(os.path.join(tcp_dir, d, "*.pkt")))
    if not scripts:
        print(f"no scripts in {', '.join(dirs)}")
        return 1
    missing = sorted(n for n in expectations if not os.path.exists(os.path.join(tcp_dir, n)))
    if missing:
        print(f"{args.expectations}: no such script: {', '.join(missing)}")
        return 1
    args.netns_ok = can_use_netns()
    kernel = args.kernel == "yes" or (args.kernel == "auto" and args.netns_ok)
    if args.kernel == "yes" and not args.netns_ok:
        print("--kernel=yes: needs root, ip and /dev/net/tun")
        return 1

    restore = kernel_cc_note(args.allow_cubic) if kernel else None
    shims = tempfile.mkdtemp(prefix="twpd-shims-")
    for name in SHIMS:
        path = os.path.join(shims, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(path, 0o755)
    t0 = time.monotonic()
    results = {}
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futs = {}
            for n, s in enumerate(scripts):
                futs[pool.submit(twstack_side, args, shims, s, n)] = (s, "twstack")
                if kernel:
                    futs[pool.submit(kernel_side, args, s, n)] = (s, "kernel")
            for f in concurrent.futures.as_completed(futs):
                s, side = futs[f]
                results.setdefault(s, {})[side] = f.result()
    finally:
        shutil.rmtree(shims, ignore_errors=True)
        if restore is not None:
            write_allowed_cc(restore)
    return report(scripts, results, tcp_dir, expectations, kernel, time.monotonic() - t0)


def cause(err):
    """A first difference without its script, line and times: what to group by."""
    err = re.sub(r"^\S+\.pkt:\d+: ", "", err)
    err = re.sub(r"expected (inbound|outbound) packet (in relative time range )?at? ?[-+0-9.~ ]+sec but happened at [-+0-9.]+ sec.*",
                 r"\1 packet at the wrong time", err)
    err = re.sub(r"expected outbound packet in relative time range.*", "outbound packet at the wrong time", err)
    err = re.sub(r"AssertionError: .*", "AssertionError", err)
    m = re.search(r"but got (-1 with errno \d+ \([^)]*\)) \[\S+\s+(\w+)\(\d+, *(\w+), *(\w+)", err)
    if m and m[2] in ("setsockopt", "getsockopt"):
        err = f"{m[2]} {m[3]}, {m[4]}: {m[1]}"
    return err


def print_causes(scripts, results, tcp_dir):
    groups = {}
    for s in scripts:
        ok, err, _ = results[s]["twstack"]
        if not ok:
            groups.setdefault(cause(err), []).append(os.path.relpath(s, tcp_dir))
    if not groups:
        return
    print("\ntwstack's first differences, grouped:")
    for c, names in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        print(f"{len(names):>4}  {c}")


def report(scripts, results, tcp_dir, expectations, kernel, elapsed):
    bad = []
    rows = []
    per_dir = {}
    for s in scripts:
        name = os.path.relpath(s, tcp_dir)
        tw_ok, tw_err, _ = results[s]["twstack"]
        k_ok, k_err, _ = results[s].get("kernel", (None, "", 0.0))
        listed = name in expectations
        note = ""
        if RELAXED:
            pass
        elif not tw_ok and not listed:
            note = "NEW FAILURE"
            bad.append(name)
        elif tw_ok and listed:
            note = "PASSES: take it off the expectations"
            bad.append(name)
        d = per_dir.setdefault(name.split("/")[0], [0, 0, 0])
        d[0] += 1
        d[1] += 1 if k_ok else 0
        d[2] += 1 if tw_ok else 0
        diff = "" if tw_ok else tw_err
        if note:
            diff = f"[{note}] {diff}"
        rows.append((name, verdict(k_ok), verdict(tw_ok), diff))
        if k_ok is False and KERNEL_ERRORS:
            rows.append(("", "", "", "kernel: " + k_err))
    w = max(len(r[0]) for r in rows)
    print(f"{'script':<{w}}  kernel  twstack  first difference")
    for r in rows:
        print(f"{r[0]:<{w}}  {r[1]:<6}  {r[2]:<7}  {r[3]}")
    print()
    print(f"{'directory':<18} scripts  kernel  twstack")
    for d, (n, k, t) in sorted(per_dir.items()):
        print(f"{d:<18} {n:>7}  {k if kernel else '-':>6}  {t:>7}")
    tot = [sum(v[i] for v in per_dir.values()) for i in range(3)]
    print(f"{'total':<18} {tot[0]:>7}  {tot[1] if kernel else '-':>6}  {tot[2]:>7}")
    if kernel:
        both = sum(1 for s in scripts if results[s]["kernel"][0] and results[s]["twstack"][0])
        print(f"of {tot[1]} scripts passing on the kernel, twstack passes {both}")
    print_causes(scripts, results, tcp_dir)
    print(f"{elapsed:.0f} s")
    if bad and RELAXED:
        print("(--relax-handshake: expectations not checked)")
        return 0
    if bad:
        print(f"\n{len(bad)} script(s) disagree with {os.path.basename(EXPECTATIONS_NAME)}: {', '.join(bad)}")
        return 1
    return 0


EXPECTATIONS_NAME = "expectations.txt"
RELAXED = False
KERNEL_ERRORS = False
DEFAULT_DIRS = ("close", "shutdown", "ts_recent", "validate", "blocking", "sack", "fast_retransmit",
                "fast_recovery", "limited_transmit", "nagle", "mss", "slow_start", "cwnd_moderation",
                "user_timeout", "syscall_bad_arg", "inq", "ioctl", "epoll", "cubic")

if __name__ == "__main__":
    sys.exit(main())
