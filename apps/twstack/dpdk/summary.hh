// What the DPDK commands share: the end-of-run summary (dpdk_commands.cc).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string_view>

#include "apps/runtime/dpdk_runtime.hh"

namespace twstack::app {

// A figure by name, 0 if absent.
std::uint64_t metric(const Metrics& m, std::string_view name);
// The summary after a run: the command's totals, the first failure (churn),
// TIME_WAIT peak and end, the headline counters and what the NIC adapter
// counted; --json: one object with "summary": true.
void print_summary(std::ostream& out, bool json, std::string_view role, const RuntimeResult& r);

}  // namespace twstack::app
