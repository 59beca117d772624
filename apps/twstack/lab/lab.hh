// `twstack lab`: TIME_WAIT scenarios, predicted and measured (lab.cc).
#pragma once

#include "apps/common/command.hh"

namespace twstack::app {

// `have_dpdk`: whether this twstack can start the real-time processes
// (built with DPDK); without, only --sim runs.
Command lab_command(bool have_dpdk);

}  // namespace twstack::app
