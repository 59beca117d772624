// `twstack lab`: TIME_WAIT scenarios, predicted and measured (lab.cc).
#pragma once

#include "apps/common/cli.hh"

namespace twstack::app {

// `have_dpdk`: whether this twstack can start the real-time processes
// (built with DPDK); without, only --sim runs.
Command add_lab_command(CLI::App& top, bool have_dpdk);

}  // namespace twstack::app
