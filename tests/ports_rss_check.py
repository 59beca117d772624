#!/usr/bin/env python3
"""Checks `twstack sim ports --json --dump` independently of the C++ code.

For every tuple it recomputes the Toeplitz hash of the reply packet
(src = remote_ip, dst = local_ip, sport = remote_port, dport = local_port)
from the printed rss_key, takes reta[hash % len(reta)], and requires it to
equal both the printed reply_queue and the allocating queue. The Toeplitz
code here is checked first against the Microsoft RSS verification vectors.

usage: twstack sim ports --queues 16 --json --dump | tests/ports_rss_check.py
       tests/ports_rss_check.py FILE
Exit status 0 when every reply lands on its queue, 1 otherwise.
"""
import ipaddress
import json
import sys

MS_KEY = bytes.fromhex(
    "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa")
# (src, sport, dst, dport, hash) from "Verifying the RSS Hash Calculation".
MS_VECTORS = [
    ("66.9.149.187", 2794, "161.142.100.80", 1766, 0x51CCC178),
    ("199.92.111.2", 14230, "65.69.140.83", 4739, 0xC626B0EA),
    ("24.19.198.95", 12898, "12.22.207.184", 38024, 0x5C2B394A),
    ("38.27.205.30", 48228, "209.142.163.6", 2217, 0xAFC7327F),
    ("153.39.163.191", 44251, "202.188.127.2", 1303, 0x10E828A2),
]


def toeplitz(key: bytes, data: bytes) -> int:
    """The specification's definition: for each set input bit, XOR in the
    32-bit window of the key starting at that bit."""
    key_int = int.from_bytes(key, "big")
    key_bits = len(key) * 8
    result = 0
    for i in range(len(data) * 8):
        if data[i // 8] & (0x80 >> (i % 8)):
            shift = key_bits - 32 - i
            window = (key_int >> shift) if shift >= 0 else (key_int << -shift)
            result ^= window & 0xFFFFFFFF
    return result


def tcp4_input(src: str, dst: str, sport: int, dport: int) -> bytes:
    return (ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed
            + sport.to_bytes(2, "big") + dport.to_bytes(2, "big"))


def self_test() -> None:
    for src, sport, dst, dport, want in MS_VECTORS:
        got = toeplitz(MS_KEY, tcp4_input(src, dst, sport, dport))
        if got != want:
            sys.exit(f"checker self-test failed: {src}:{sport} -> {dst}:{dport} "
                     f"gave {got:#010x}, want {want:#010x}")


def main() -> int:
    self_test()
    text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
    doc = json.loads(text)
    key = bytes.fromhex(doc["rss_key"])
    reta = doc["reta"]
    tuples = doc.get("tuples")
    if not reta or tuples is None:
        print("no reta or no tuples (run with --json --dump)", file=sys.stderr)
        return 1
    bad = 0
    per_queue = {}
    for t in tuples:
        h = toeplitz(key, tcp4_input(t["remote_ip"], t["local_ip"], t["remote_port"], t["local_port"]))
        q = reta[h % len(reta)]
        per_queue[t["queue"]] = per_queue.get(t["queue"], 0) + 1
        if q != t["queue"] or q != t["reply_queue"]:
            bad += 1
            if bad <= 10:
                print(f"MISDIRECTED {t['local_ip']}:{t['local_port']} <- {t['remote_ip']}:{t['remote_port']}: "
                      f"allocated by queue {t['queue']}, printed reply_queue {t['reply_queue']}, "
                      f"recomputed {q} (hash {h:#010x})")
    queues = sorted(per_queue)
    print(f"checked {len(tuples)} tuples from {len(queues)} queues "
          f"({min(per_queue.values()) if per_queue else 0}..{max(per_queue.values()) if per_queue else 0} each), "
          f"reta of {len(reta)} entries: {bad} misdirected")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
