#include "apps/twstack/lab/lab_kernel.hh"

#include <sched.h>

#include <chrono>
#include <cstring>
#include <tuple>

#include "apps/common/text.hh"
#include "stack/base/text.hh"

namespace twstack::app {
namespace {

// Linux's TIME_WAIT length, TCP_TIMEWAIT_LEN (include/net/tcp.h).
constexpr std::int64_t kLinuxTimewaitUs = 60'000'000;

// What the prediction reads, on both sides.
constexpr const char* kPredictionKnobs[] = {"net.ipv4.ip_local_port_range", "net.ipv4.tcp_tw_reuse",
                                            "net.ipv4.tcp_tw_reuse_delay",  "net.ipv4.tcp_max_tw_buckets",
                                            "net.ipv4.tcp_timestamps",      "net.ipv4.tcp_fin_timeout"};

std::pair<std::string, std::string> split_assignment(std::string_view a) {
  const std::size_t eq = a.find('=');
  std::string key(trim(a.substr(0, eq)));
  for (char& c : key) c = c == '/' ? '.' : c;
  return {key, std::string(eq == std::string_view::npos ? std::string_view{} : trim(a.substr(eq + 1)))};
}

std::pair<int, int> cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) < 2) return {-1, -1};
  int first = -1, second = -1;
  for (int c = 0; c < CPU_SETSIZE && second < 0; ++c) {
    if (CPU_ISSET(c, &set)) (first < 0 ? first : second) = c;
  }
  return {first, second};
}

// The kernel client's nanoseconds as the lab's microseconds.
Percentiles micros(const Percentiles& ns) {
  const auto us = [](std::uint64_t v) { return (v + 500) / 1000; };
  return {ns.count, us(ns.p50), us(ns.p90), us(ns.p99), us(ns.p999), us(ns.max)};
}

}  // namespace

std::vector<kernel_churn::Sysctl> kernel_sysctls(const LabScenario& s, bool client) {
  const StackConfig& c = client ? s.client : s.server;
  std::vector<kernel_churn::Sysctl> out;
  for (const char* k : kPredictionKnobs) {
    // A line-rate scenario runs Linux at its own TIME_WAIT cap (tw_capacity
    // sizes twstack's table only), unless it sets the knob itself.
    if (s.line_rate() && std::string_view(k) == "net.ipv4.tcp_max_tw_buckets") continue;
    out.push_back({k, c.get(k)});
  }
  for (const auto* sets : {&s.both_sets, client ? &s.client_sets : &s.server_sets}) {
    for (const std::string& a : *sets) {
      auto [key, value] = split_assignment(a);
      if (key.starts_with("net.")) out.push_back({key, value});
    }
  }
  return out;
}

std::vector<std::string> twstack_only_knobs(const LabScenario& s) {
  std::vector<std::string> out;
  for (const auto* sets : {&s.both_sets, &s.client_sets, &s.server_sets}) {
    for (const std::string& a : *sets) {
      auto [key, value] = split_assignment(a);
      if (!key.starts_with("twstack.")) continue;
      std::string note = key + "=" + value + " is twstack-only; Linux: ";
      if (key == "twstack.tcp_timewait_len") {
        note += "TIME_WAIT fixed at 60 s (TCP_TIMEWAIT_LEN)";
      } else if (key == "twstack.port_selection") {
        note += "always its own search (__inet_hash_connect), which port_selection=linux follows";
      } else if (key == "twstack.tw_overflow_policy") {
        note += "always drops the new entry at the cap (inet_twsk_alloc fails, TCPTimeWaitOverflow)";
      } else {
        note += "no such knob";
      }
      out.push_back(std::move(note));
    }
  }
  return out;
}

std::optional<std::string> kernel_cannot_run(const LabScenario& s) {
  for (const StackConfig* c : {&s.client, &s.server}) {
    if (c->tcp_timewait_len.us != kLinuxTimewaitUs) {
      return "twstack-only (compressed): TIME_WAIT " + fixed(-1, c->tcp_timewait_len.secs()) +
             " s, and Linux's is fixed at 60 s";
    }
  }
  return std::nullopt;
}

LabRun run_lab_kernel(const LabScenario& s, const std::string& ip, const std::string& prefix,
                      const volatile std::sig_atomic_t& interrupted) {
  const auto wall0 = std::chrono::steady_clock::now();
  kernel_churn::KernelSpec spec;
  spec.ip = ip;
  spec.prefix = prefix;
  spec.ports = s.server_ports;
  spec.loopback = s.loopback;
  spec.client_sysctls = kernel_sysctls(s, true);
  if (s.loopback) {
    // One namespace: the client's values, then the server's own assignments
    // only (its defaults would undo the client's port range).
    for (const std::string& a : s.server_sets) {
      auto [key, value] = split_assignment(a);
      if (key.starts_with("net.")) spec.server_sysctls.push_back({key, value});
    }
  } else {
    spec.server_sysctls = kernel_sysctls(s, false);
  }
  kernel_churn::Options& o = spec.workload;
  o.rate = static_cast<double>(s.rate);
  o.inflight = s.line_rate() ? static_cast<int>(s.inflight) : 4096;
  o.closer = s.closer == Closer::kServer ? kernel_churn::Closer::kServer : kernel_churn::Closer::kClient;
  o.hold = s.hold;
  o.restart_after_s = s.restart_after_s;
  o.restart_reuseaddr = s.restart_reuseaddr;
  o.requests_per_conn = s.requests_per_conn;
  o.duration_s = s.duration_s;
  o.warmup_s = 0;
  // With a server that never closes the client's entries end after
  // tcp_fin_timeout: the end is read when the attempts stop, as twstack's is.
  o.drain_s = s.hold ? 0 : 1;
  o.json = true;  // no per-second text from the client
  // Pinned as the twstack run's lcores: the server on the first CPU, the client on the second.
  std::tie(o.server_cpu, o.client_cpu) = cpus();
  const kernel_churn::KernelResult k = kernel_churn::run_kernel_churn(spec, interrupted);
  LabRun run;
  run.error = k.error;
  if (interrupted != 0 && run.error.empty()) run.error = "interrupted";
  // Over loopback both sides share a namespace, so its TIME_WAIT is both
  // sides': it goes to the closer (the other side holds none when it closes
  // second), and the counters to the client.
  const bool client_closes = s.closer == Closer::kClient;
  const auto side_tw = [&](std::uint64_t client, std::uint64_t server) -> std::pair<std::uint64_t, std::uint64_t> {
    if (!s.loopback) return {client, server};
    return client_closes ? std::pair<std::uint64_t, std::uint64_t>{client, 0} : std::pair<std::uint64_t, std::uint64_t>{0, client};
  };
  for (const kernel_churn::KernelSecond& x : k.seconds) {
    if (x.t < 1 || x.t > s.duration_s) continue;
    const auto [ctw, stw] = side_tw(x.client_tw, x.server_tw);
    LabSample y{x.t, x.established, x.failed, x.completed, ctw, stw, {}};
    for (const auto& [name, n] : x.errors) y.errors[name] = n;
    y.connect_us = micros(x.connect_ns);
    y.response_us = micros(x.response_ns);
    y.connect_call_us = micros(x.connect_call_ns);
    y.client_tw_bytes = x.slab_tw_bytes + x.slab_bind_bytes;  // machine-wide: both sides
    run.series.push_back(std::move(y));
  }
  LabMeasurement& m = run.m;
  m.attempts = k.client.attempts;
  m.ok = k.client.established;
  m.failed = k.client.failed;
  m.completed = k.client.completed;
  if (k.client.first_failure_s) {
    m.first_failure_s = k.client.first_failure_s;
    m.first_errno = k.client.first_errno;
  }
  std::tie(m.client_tw_peak, m.server_tw_peak) = side_tw(k.client_tw_peak, k.server_tw_peak);
  std::tie(m.client_tw_end, m.server_tw_end) = side_tw(k.client_tw_end, k.server_tw_end);
  const auto counter = [](const std::map<std::string, std::uint64_t>& c, const char* n) {
    const auto it = c.find(n);
    return it == c.end() ? std::uint64_t{0} : it->second;
  };
  m.recycled = counter(k.client_counters, "TcpExtTWRecycled");
  m.client_overflow = counter(k.client_counters, "TcpExtTCPTimeWaitOverflow");
  m.server_overflow = counter(k.server_counters, "TcpExtTCPTimeWaitOverflow");
  if (s.loopback) std::tie(m.client_overflow, m.server_overflow) = side_tw(m.client_overflow, 0);
  if (k.restart_errno >= 0) {
    const auto name = [](int e) { return e == 0 ? std::string("ok") : std::string(::strerrorname_np(e)); };
    m.restart_bind = name(k.restart_errno);
    if (k.restart_errno != 0) m.restart_rebind = name(k.rebind_errno);
  }
  m.cps = held_cps(run.series);
  m.summary = s.line_rate() ? std::string() : describe(s, m);  // line rate: lab_linerate.cc
  run.connect_us = micros(percentiles(k.client.latency.connect));
  run.response_us = micros(percentiles(k.client.latency.response));
  run.connect_call_us = micros(percentiles(k.client.latency.connect_call));
  run.slab_tw_objsize = k.slab_tw_objsize;
  run.tw_capacity = s.closer == Closer::kClient || s.loopback ? k.client_max_tw_buckets : k.server_max_tw_buckets;
  for (const auto& [name, v] : k.client_counters) {
    if (v != 0) run.client_counters[name] = v;
  }
  for (const auto& [name, v] : k.server_counters) {
    if (v != 0 && !s.loopback) run.server_counters[name] = v;  // loopback: the client's, the same namespace
  }
  run.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return run;
}

}  // namespace twstack::app
