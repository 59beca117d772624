// The options that describe a flood, for `twstack flood` (--kind, --target,
// --rate, --count, --sources) and `twstack churn` (the same with a --flood-
// prefix, --flood KIND turning it on), and the FloodSettings they make.
#pragma once

#include <cstdint>
#include <string>

#include "apps/common/cli.hh"
#include "apps/workloads/flood.hh"

namespace twstack::app {

struct FloodArgs {
  std::string kind;      // empty in churn: no flood
  std::string target;    // ADDR:PORT
  std::uint64_t rate = 1000;
  std::uint64_t count = 0;
  std::string sources;   // ADDR/LEN
};

// `prefix` is "--" for `twstack flood`, "--flood-" for `twstack churn`.
void add_flood_options(CLI::App& app, FloodArgs* a, const std::string& prefix);
// The settings; UsageError naming the option on a mistake, and for a flood
// with no bound (`window` zero: no --duration).
FloodSettings flood_settings_from(const FloodArgs& a, const std::string& prefix, Duration window);

}  // namespace twstack::app
