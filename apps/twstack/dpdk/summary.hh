// What the DPDK commands share: running the runtime with a line a second and
// the end-of-run summary (dpdk_commands.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>

#include "apps/runtime/dpdk_runtime.hh"

namespace twstack::app {

// A figure by name, 0 if absent.
std::uint64_t metric(const Metrics& m, std::string_view name);
// "p50 12 p90 20 p99 45 p99.9 80 max 300" (the histogram's unit), or "-" when empty.
std::string percentiles_text(const LatencyHistogram& h);
// A histogram by name, nullptr if absent.
const LatencyHistogram* histogram(const Histograms& h, std::string_view name);
// The summary after a run: the command's totals, the first failure (churn),
// TIME_WAIT peak and end, the headline counters and what the NIC adapter
// counted; --json: one object with "summary": true.
void print_summary(std::ostream& out, bool json, std::string_view role, const RuntimeResult& r);

// A command's line for one second (text, or one JSON object with --json).
using PrintSecond = std::function<void(std::ostream& out, bool json, const Second& s)>;
// Runs the runtime (run_runtime()), printing each second with print_second
// and, once the loops stop, the summary for rs.role; the exit status.
int run_and_print(const RuntimeSettings& rs, const AppFactory& make, const PrintSecond& print_second, std::ostream& out,
                  std::ostream& err);

}  // namespace twstack::app
