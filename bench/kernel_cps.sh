#!/usr/bin/env bash
# Runs kernel_cps, the kernel's connection-churn baseline, inside a private network
# namespace, so that the figure depends neither on the host's sysctls nor on its other
# traffic, and the TIME_WAIT entries of one run do not leak into the next.
#
#   bench/kernel_cps.sh [PROGRAM] [kernel_cps options...]
#   bench/kernel_cps.sh build-release/bench/kernel_cps --closer client --json
#
# PROGRAM defaults to build-release/bench/kernel_cps under the repository root; the
# options go to the program unchanged (see kernel_cps --help). Needs root; exits 77
# (skipped) without it.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "kernel_cps.sh: needs root to create a network namespace (ip netns); skipped" >&2
  exit 77
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prog=$root/build-release/bench/kernel_cps
if [[ $# -gt 0 && $1 != -* ]]; then
  prog=$1
  shift
fi
if [[ ! -x $prog ]]; then
  echo "kernel_cps.sh: $prog: no such program (build it: ninja -C <builddir> bench/kernel_cps)" >&2
  exit 1
fi

ns=twstack-kcps-$$
# shellcheck disable=SC2317  # reached through the trap
cleanup() { ip netns delete "$ns" 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$ns"
ip -n "$ns" link set lo up

# All of these are per namespace; set them so a run is reproducible whatever the host has.
#  - ip_local_port_range: the widest range, 64512 ports, instead of the default 28232.
#  - tcp_tw_reuse=1: with --closer client every connection leaves a 60 s TIME_WAIT on the
#    client, and 64512 ports / 60 s would cap churn near 1 000 per second; tw_reuse lets
#    connect() take over a TIME_WAIT entry older than tcp_tw_reuse_delay (1 s) when its
#    timestamps make old segments recognisable (tcp_twsk_unique). The kernel's default, 2,
#    does this for loopback only; 1 also covers a --listen on another address.
#    With --closer server (the default) TIME_WAIT lands on the server, where a new SYN
#    for the same 4-tuple recycles it (tcp_timewait_state_process), and no reuse is needed.
#  - tcp_max_tw_buckets: above the ~64 k entries either mode can hold (one per 4-tuple),
#    so no TIME_WAIT is dropped whatever the host's memory made the default.
#  - somaxconn, tcp_max_syn_backlog: let kernel_cps's backlog of 4096 stand.
ip netns exec "$ns" sysctl -q -w \
  net.ipv4.ip_local_port_range="1024 65535" \
  net.ipv4.tcp_tw_reuse=1 \
  net.ipv4.tcp_max_tw_buckets=262144 \
  net.core.somaxconn=4096 \
  net.ipv4.tcp_max_syn_backlog=4096
if ip netns exec "$ns" sysctl -q net.ipv4.tcp_tw_reuse_delay >/dev/null 2>&1; then
  ip netns exec "$ns" sysctl -q -w net.ipv4.tcp_tw_reuse_delay=1000  # Linux >= 6.13
fi

status=0
ip netns exec "$ns" "$prog" "$@" || status=$?
exit "$status"
