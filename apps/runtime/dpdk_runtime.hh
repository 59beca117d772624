// The DPDK runtime behind `twstack serve` and `twstack churn`: one port,
// one QueueEngine per queue, each queue polled on its own lcore by the loop
//
//   rx burst -> events to the app -> app.tick(now) -> poll -> events -> poll -> tx burst
//
// with no lock on the packet path. Every 100 ms a queue publishes a copy
// of its counters and its application's figures to a board (try_lock: a
// queue never waits); the main lcore (which also runs queue 0) reads the
// boards once a second for the live line, DPDK's telemetry thread reads
// them for /twstack/... (drivers/dpdk/telemetry.hh).
//
// Stopping (SIGINT, SIGTERM, or --duration reached): the applications stop
// opening and close every connection, the loops run on for up to
// `drain` so FINs and their ACKs cross, then the summary is printed and the
// EAL is shut down.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "apps/common/histogram.hh"
#include "stack/base/config.hh"
#include "stack/base/counters.hh"
#include "stack/engine/engine.hh"

namespace twstack::app {

// A command's figures, by name, in a fixed order (per queue; summed).
using Metrics = std::vector<std::pair<std::string, std::uint64_t>>;
// Two figures are not summed over queues: the earliest failure wins, in
// microseconds since the start plus one (0: none), with its Errc.
inline constexpr std::string_view kFirstFailureUs = "first_failure_us";
inline constexpr std::string_view kFirstErrno = "first_errno";
// A command's latency histograms, by name, in a fixed order (per queue; added up).
using Histograms = std::vector<std::pair<std::string, LatencyHistogram>>;

// The application on one queue's engine.
class QueueApp {
 public:
  virtual ~QueueApp() = default;
  virtual Errc start(Instant now) = 0;
  virtual void tick(Instant now) = 0;
  virtual void on_event(const engine::AppEvent& ev) = 0;
  // Graceful stop: no new connections; close the live ones.
  virtual void stop() = 0;
  virtual std::uint64_t live() const = 0;
  // Fills `m` (same names, same order, every call); called every 100 ms.
  virtual void metrics(Metrics* m) const = 0;
  // Fills `h` like metrics() (most commands have none); called once a second.
  virtual void histograms(Histograms* h) const { h->clear(); }
};

struct RuntimeSettings {
  std::string role;                  // "serve", "churn": names the process in telemetry
  std::string port;                  // --port spec
  std::vector<std::string> ips;      // --ip ADDR/LEN
  std::string gateway;               // --gateway
  std::uint16_t queues = 1;
  std::string lcores;                // --lcores, EAL syntax; empty: one per queue from the CPUs we may use
  std::string eal;                   // --eal "...", passed last
  bool hugepages = false;            // --hugepages: drop --no-huge
  StackConfig config{};
  std::string capture;               // --capture FILE.pcap
  bool json = false;
  std::uint32_t duration_s = 0;      // 0: until SIGINT/SIGTERM
  Duration drain = Duration::seconds(2);
  Duration link_timeout = Duration::seconds(5);
  Duration linger{};                 // --linger: the port stays open, unpolled, this long after the summary
  std::uint64_t seed = 0;            // 0: a random secret
};

// One second of the live output, all queues summed.
struct Second {
  double t = 0;                // seconds since the start
  Metrics app;                 // totals at t
  Metrics app_delta;           // over the last second
  Histograms hist;             // totals at t
  Histograms hist_delta;       // over the last second
  Counters counters{};         // totals at t
  Gauges gauges{};
  std::uint64_t live = 0;
  std::uint64_t rss_bytes = 0;  // the process's resident memory
  std::uint64_t loop_max_us = 0;  // the longest poll-loop iteration this second, any queue
  double busy = 0;  // of this second, the share the queues spent receiving or sending (mean over queues)
};

struct RuntimeResult {
  int exit_code = 0;
  std::string error;           // set when the run could not start
  Errc start_error = Errc::kOk;  // the application's start() (listen) refused
  double seconds = 0;          // from start to the stop signal or duration
  Metrics app;                 // totals at the end
  Histograms hist;             // totals at the end
  Counters counters{};
  Gauges gauges{};             // after draining
  std::uint64_t timewait_peak = 0;
  std::uint64_t rss_peak_bytes = 0;  // the process's resident memory, the most seen
  std::uint64_t loop_max_us = 0;     // the longest poll-loop iteration of the run, any queue
  double busy = 0;                   // the same as Second::busy, over the whole run
  std::vector<std::pair<std::string, std::uint64_t>> nic;  // summed adapter counts
};

using AppFactory = std::function<std::unique_ptr<QueueApp>(engine::QueueEngine& eng, std::uint16_t queue,
                                                            std::uint16_t queues, std::uint32_t max_connections)>;
// Called on the main lcore once a second while running.
using SecondFn = std::function<void(const Second&)>;
// Called once the loops have stopped, before --linger and the port's close
// (the summary goes out here, so a watcher sees it while the port lingers).
using StoppedFn = std::function<void(const RuntimeResult&)>;

// "ADDR/LEN" (LEN 24 when left out), as --ip takes it; false if it is not.
bool parse_prefix(std::string_view text, wire::Ipv4Addr* a, std::uint8_t* len);

// Runs until stopped; prints nothing itself but errors to `err`.
RuntimeResult run_runtime(const RuntimeSettings& s, const AppFactory& make_app, const SecondFn& each_second,
                          std::ostream& err, const StoppedFn& on_stopped = {});

}  // namespace twstack::app
