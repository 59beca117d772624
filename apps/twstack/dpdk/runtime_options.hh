// The options every DPDK command (serve, churn) takes for the runtime:
// the port, addresses, queues and lcores, EAL extras, knobs, capture,
// duration, linger.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/cli.hh"
#include "apps/common/stack_config.hh"
#include "apps/runtime/dpdk_runtime.hh"

namespace twstack::app {

struct RuntimeArgs {
  std::optional<std::string> port;
  std::vector<std::string> ips;
  std::optional<std::string> gateway;
  std::uint16_t queues = 1;
  std::string lcores;
  bool hugepages = false;
  std::string eal;
  KnobOptions knobs;
  std::string capture;
  std::uint32_t duration_s = 0;
  double linger_s = 0;
  std::uint32_t link_timeout_s = 5;
  std::uint64_t seed = 0;
  bool json = false;
};

// Adds them to a command, after its own.
void add_runtime_options(CLI::App& app, RuntimeArgs* a);
// The settings they ask for; UsageError naming the option on a mistake.
void runtime_settings_from(const RuntimeArgs& a, RuntimeSettings* s);

}  // namespace twstack::app
