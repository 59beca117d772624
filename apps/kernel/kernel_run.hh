// One run of the kernel churn in a private namespace pair (netns.hh): the server
// on one thread in the server namespace, the client on another in the client
// namespace, each pinned to its CPU, the sysctls written in each namespace first.
// Every second of the run: connections established, failed (by errno) and
// completed, and TIME_WAIT on each side (sockstat `tw`); at the end, every
// counter of /proc/net/netstat and /proc/net/snmp on each side, with the kernel's
// names. The namespaces are gone when it returns, whatever happened.
#pragma once

#include <csignal>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "apps/kernel/churn_client.hh"

namespace kernel_churn {

struct Sysctl {
  std::string name;   // net.ipv4.tcp_tw_reuse
  std::string value;  // as /proc/sys takes it
};

struct KernelSpec {
  // The workload; its endpoints are ignored: the client connects to the server
  // namespace's address on each of `ports`.
  Options workload;
  std::vector<std::uint16_t> ports{80};
  std::vector<Sysctl> client_sysctls;
  std::vector<Sysctl> server_sysctls;
  // Both threads in the client namespace, the server on 127.0.0.2 over lo (for
  // what Linux does between loopback addresses, tcp_tw_reuse=2): both lists of
  // sysctls go to that namespace, and each side's TIME_WAIT and counters are
  // the namespace's, both sides' together.
  bool loopback = false;
  std::string ip = "ip";      // the iproute2 program
  std::string prefix;         // of the namespaces' names; unique per run (pid)
};

struct KernelSecond {
  std::uint32_t t = 0;        // whole seconds since the first attempt
  std::uint64_t established = 0;
  std::uint64_t failed = 0;
  std::uint64_t completed = 0;
  std::uint64_t client_tw = 0;
  std::uint64_t server_tw = 0;
  std::vector<std::pair<std::string, std::uint64_t>> errors;
  // The client's latencies this second, nanoseconds (churn_client.hh).
  twstack::app::Percentiles connect_call_ns, connect_ns, response_ns;
  // /proc/slabinfo (machine-wide, less what it held before the run): TIME_WAIT
  // sockets (tw_sock_TCP) and bind buckets (tcp_bind_bucket, tcp_bind2_bucket,
  // where the kernel lists them), objects and bytes.
  std::uint64_t slab_tw_objs = 0, slab_tw_bytes = 0, slab_bind_bytes = 0;
};

struct KernelResult {
  std::string error;          // set-up failed (namespaces, a sysctl, listen): why
  ClientResult client;
  std::uint64_t server_completed = 0;
  int restart_errno = -1;     // the server's listener restart: -1 none, 0 bound, else bind()'s errno
  int rebind_errno = 0;       // after a refusal: the bind with SO_REUSEADDR (0 bound, else its errno)
  std::vector<KernelSecond> seconds;
  std::uint64_t client_tw_peak = 0, client_tw_end = 0;
  std::uint64_t server_tw_peak = 0, server_tw_end = 0;
  // net.ipv4.tcp_max_tw_buckets as each namespace ran with it (0: unreadable).
  std::uint64_t client_max_tw_buckets = 0, server_max_tw_buckets = 0;
  std::uint64_t slab_tw_objsize = 0;   // tw_sock_TCP's object size (0: not listed)
  bool slab_bind_listed = false;       // whether slabinfo lists the bind-bucket caches
  std::map<std::string, std::uint64_t> client_counters;  // TcpExtTWRecycled, TcpActiveOpens, ...
  std::map<std::string, std::uint64_t> server_counters;
};

// Runs it; `interrupted` ends the run early (the namespaces are still removed).
KernelResult run_kernel_churn(const KernelSpec& spec, const volatile std::sig_atomic_t& interrupted);

}  // namespace kernel_churn
