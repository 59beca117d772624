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
