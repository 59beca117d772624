// Running a lab scenario, two ways, measured the same way:
//
//   real time  two twstack processes, `serve` and `churn`, one core each,
//              joined by net_memif; the lab reads their JSON lines.
//   --sim      ServeApp and ChurnClient (the same application code) on two
//              engines over drivers/memory, in virtual time.
//
// The churn's clock starts at its first attempt; the series has one sample
// per second of it (ok, failed and completed in (t-1, t], TIME_WAIT on both
// sides at t).
#pragma once

#include <csignal>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "apps/common/histogram.hh"
#include "apps/twstack/lab/lab_predict.hh"
#include "apps/twstack/lab/lab_scenario.hh"

namespace twstack::app {

struct LabSample {
  std::uint32_t t = 0;
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  std::uint64_t completed = 0;
  std::uint64_t client_tw = 0;
  std::uint64_t server_tw = 0;
  std::map<std::string, std::uint64_t> errors;  // this second's failures by errno name
  // This second's latencies, microseconds: connect() to established, connect()
  // to the end of the first response, and (Linux) the connect() call itself.
  Percentiles connect_us{}, response_us{}, connect_call_us{};
  // TIME_WAIT memory in use: twstack's tables (TimeWaitTable::touched_bytes) on
  // each side; Linux's tw_sock_TCP and bind-bucket slabs, machine-wide, in client_.
  std::uint64_t client_tw_bytes = 0, server_tw_bytes = 0;
  std::uint64_t client_rss = 0, server_rss = 0;                 // twstack processes' resident memory
  std::uint64_t client_loop_max_us = 0, server_loop_max_us = 0;  // twstack: the longest poll-loop iteration
  // twstack: the share of the second each side's lcore spent on iterations that
  // moved a frame (the processes' "busy"); near 1, that side bounds the CPS. -1: not measured.
  double client_busy = -1, server_busy = -1;
};

struct LabRun {
  LabMeasurement m;
  std::vector<LabSample> series;
  std::string error;       // the run itself failed (a process could not start, ...)
  double wall_s = 0;
  std::string log;         // where the processes' stderr went (real time)
  // Every non-zero counter at the end, by its kernel name (TcpExtTWRecycled, ...).
  std::map<std::string, std::uint64_t> client_counters;
  std::map<std::string, std::uint64_t> server_counters;
  // Over the run: the client's latencies (microseconds), and the longest
  // poll-loop iteration on each side (twstack).
  Percentiles connect_us{}, response_us{}, connect_call_us{};
  std::uint64_t client_loop_max_us = 0, server_loop_max_us = 0;
  std::uint64_t server_rss_peak = 0;
  std::uint64_t tw_capacity = 0;   // the closer's tcp_max_tw_buckets as the stack ran it
  std::uint64_t slab_tw_objsize = 0;  // Linux: tw_sock_TCP's object size
};

// The rate the run held: completed per second over the seconds without a
// failure (all of them when none failed), so exhaustion does not drag it down.
double held_cps(const std::vector<LabSample>& series);

// Called now and then with seconds done, for a progress line.
using LabProgress = std::function<void(double done_s)>;

LabRun run_lab_sim(const LabScenario& s, std::uint64_t seed, const LabProgress& progress);
// `binary`: the twstack executable; `workdir`: for the memif socket and logs.
// `interrupted` (SIGINT, SIGTERM) stops the processes and ends the run with an error.
LabRun run_lab_real(const LabScenario& s, const std::string& binary, const std::string& workdir,
                    const LabProgress& progress, const volatile std::sig_atomic_t* interrupted = nullptr);

}  // namespace twstack::app
