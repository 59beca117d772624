// `twstack sim churn`: connection churn between two engines over the
// in-process link, per virtual second (apps/workloads/churn.hh). The option
// handling and the printing are exposed for the tests.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "apps/common/cli.hh"
#include "apps/common/stack_config.hh"
#include "apps/workloads/churn.hh"

namespace twstack::app {

// `sim churn`'s options, as given.
struct SimChurnArgs {
  std::uint64_t rate = 100;
  std::uint32_t inflight = 64;
  std::uint32_t duration_s = 20;
  std::string closer = "client";
  std::uint32_t requests_per_conn = 1;
  std::string client_ip = "10.0.0.1";
  std::string server_ip = "10.0.0.2";
  std::uint16_t server_port = 80;
  KnobOptions knobs;
  std::vector<std::string> client_sets;
  std::vector<std::string> server_sets;
  std::uint64_t seed = 1;
  double loss = 0;
  std::int64_t delay_us = 100;
  bool json = false;
};

// Adds `churn` to the `sim` group.
Command add_sim_churn_command(CLI::App& sim);

// The settings the options ask for; UsageError for what only shows once
// they are all known (equal addresses, a bad knob, a --config that does not
// load).
ChurnSettings churn_settings_from(const SimChurnArgs& a);
// The words after `sim churn`, parsed and turned into settings (UsageError
// on any mistake).
ChurnSettings parse_sim_churn(const std::vector<std::string>& args);

// One JSON object on one line (see the command's --help for the fields).
void print_churn_json(std::ostream& out, const ChurnSettings& s, const ChurnResult& r);
// The per-second table, the first failure and the headline counters.
void print_churn_text(std::ostream& out, const ChurnSettings& s, const ChurnResult& r);

}  // namespace twstack::app
