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

#include <cstdint>
#include <functional>
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
};

struct LabRun {
  LabMeasurement m;
  std::vector<LabSample> series;
  std::string error;       // the run itself failed (a process could not start, ...)
  double wall_s = 0;
  std::string log;         // where the processes' stderr went (real time)
};

// The rate the run held: completed per second over the seconds without a
// failure (all of them when none failed), so exhaustion does not drag it down.
double held_cps(const std::vector<LabSample>& series);

// Called now and then with seconds done, for a progress line.
using LabProgress = std::function<void(double done_s)>;

LabRun run_lab_sim(const LabScenario& s, std::uint64_t seed, const LabProgress& progress);
// `binary`: the twstack executable; `workdir`: for the memif socket and logs.
LabRun run_lab_real(const LabScenario& s, const std::string& binary, const std::string& workdir,
                    const LabProgress& progress);

}  // namespace twstack::app
