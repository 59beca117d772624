// twstack's counters over DPDK telemetry, under /twstack/:
//
//   /twstack/info      role, pid, queues, port, addresses, uptime_s
//   /twstack/counters  every counter by its kernel name, summed over queues
//   /twstack/gauges    estab, synsent, synrecv, closing, timewait, orphaned, closed, listen
//   /twstack/app       the command's own figures (churn: attempts, ok, failed, ...)
//   /twstack/ages      connections by state and age: {"ESTABLISHED": {"lt_1s": n, ...}, ...}
//   /twstack/queues    per queue: what the NIC adapter counted ({"q0": {"rx_packets": ...}, ...})
//
// Read them with DPDK's client (`dpdk-telemetry.py -f <file prefix>`, from
// Debian's dpdk-dev) or `twstack stat`. The socket is
// <runtime dir>/dpdk_telemetry.v2 (/var/run/dpdk/twstack-<pid>/ as root).
//
// DPDK calls the handlers on its telemetry thread, with no context
// argument and no way to unregister: the handlers are registered once per
// process and read through the one process-wide Telemetry that is attached,
// under a mutex that only the telemetry thread and detach take. The packet
// path never touches it: the reader copies snapshots the queues published.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "stack/base/counters.hh"

namespace twstack::dpdk {

struct TelemetryView {
  std::string role;  // "serve", "churn"
  std::string port;
  std::vector<std::string> addresses;
  std::uint32_t queues = 0;
  double uptime_s = 0;
  Counters counters{};
  Gauges gauges{};
  std::vector<std::pair<std::string, std::uint64_t>> app;
  std::vector<std::pair<std::string, std::uint64_t>> per_queue;
  // Connections by state ("ESTABLISHED", "SYN_RECEIVED", ...) and age bucket ("lt_1s", ...).
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::uint64_t>>>> ages;
};

class Telemetry {
 public:
  using Reader = std::function<void(TelemetryView*)>;

  // Registers the commands (first time in the process) and answers them
  // from `reader` until destroyed. nullptr and a message if DPDK refused
  // the registration (telemetry disabled: --no-telemetry).
  static std::unique_ptr<Telemetry> attach(Reader reader, std::string* error);
  ~Telemetry();
  Telemetry(const Telemetry&) = delete;
  Telemetry& operator=(const Telemetry&) = delete;

  // What the handlers would answer now (tests, and `serve --json` summaries).
  TelemetryView read() const;

 private:
  explicit Telemetry(Reader r) : reader_(std::move(r)) {}
  Reader reader_;
};

}  // namespace twstack::dpdk
