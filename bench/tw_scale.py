#!/usr/bin/env python3
"""Connections per second with an empty TIME_WAIT table and with ten million
entries in it, in one run (`tools/dev bench tw`).

One `twstack lab --line-rate --only lr-server-close --no-kernel` run: twstack's
`serve` and `churn` over net_memif, one core each, flat out, the server
closing over 4000 server ports (258 million 4-tuples), TIME_WAIT 60 s, so the
server's table fills at the CPS rate and a second's worth expires every
second from the 61st on. The table is sized by the lab's calibration (its
best second x 1.5 x 60 s). Each second's CPS is set beside the server's
TIME_WAIT population at that second:

  empty   the median CPS of seconds 3 to 10 (the table holds less than
          10 seconds of connections)
  full    the median CPS of the seconds that end with at least --entries
          (default 10,000,000) in the server's table

and the ratio full / empty (issue: within 10 %). When the run never reaches
--entries (a CPS below entries / 60 s), it says so and exits 1.

Usage: bench/tw_scale.py [--twstack BINARY] [--entries N] [--json]
Needs root (DPDK virtual devices).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

from cps import cpu_model  # bench/cps.py, beside this file

SCENARIO = "lr-server-close"


def split_seconds(series, entries):
    """The per-second CPS of the empty-table seconds and of the full-table ones."""
    empty = [x["cps"] for x in series if 3 <= x["t"] <= 10]
    full = [x["cps"] for x in series if x["server_timewait"] >= entries]
    return empty, full


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--twstack", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                      "build-release", "apps", "twstack", "twstack"))
    ap.add_argument("--entries", type=int, default=10_000_000)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("tw_scale: needs root (DPDK virtual devices); skipped", file=sys.stderr)
        return 77
    if a.entries < 1:
        ap.error("--entries at least 1")
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([a.twstack, "lab", "--line-rate", "--only", SCENARIO, "--no-kernel", "--out", d],
                           capture_output=True, text=True, timeout=900)
        if r.returncode not in (0, 1):
            sys.exit(f"tw_scale: twstack lab exited {r.returncode}: {r.stderr[-2000:]}")
        try:
            with open(os.path.join(d, SCENARIO + ".json")) as f:
                series = json.load(f)["per_second"]
        except (OSError, KeyError, ValueError) as e:
            sys.exit(f"tw_scale: no per-second figures from the lab ({e}); its output:\n{r.stdout[-2000:]}")
    empty, full = split_seconds(series, a.entries)
    peak = max((x["server_timewait"] for x in series), default=0)
    result = {
        "machine": f"{platform.node()}, {cpu_model()}, {os.cpu_count()} cores, Linux {platform.release()}",
        "entries": a.entries,
        "peak_server_timewait": peak,
        "empty_cps": statistics.median(empty) if empty else None,
        "full_cps": statistics.median(full) if full else None,
        "full_seconds": len(full),
    }
    ok = bool(empty) and bool(full)
    result["ratio"] = result["full_cps"] / result["empty_cps"] if ok and result["empty_cps"] else None
    if a.json:
        print(json.dumps(result))
        return 0 if ok else 1
    print(f"machine: {result['machine']}")
    print(f"{SCENARIO}: server closing, flat out, TIME_WAIT 60 s; peak server TIME_WAIT {peak:,}")
    if not ok:
        print(f"the server's table never held {a.entries:,} entries (or the run was too short): no comparison")
        return 1
    print(f"empty table (seconds 3-10)        {result['empty_cps']:>12,.0f} CPS")
    print(f">= {a.entries:,} entries ({len(full)} s){'':<4}{result['full_cps']:>12,.0f} CPS")
    print(f"ratio full / empty                {result['ratio']:>12.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
