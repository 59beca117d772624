// `twstack sim transfer`: a bulk transfer between two engines over the
// in-process link, with faults (sim_transfer.cc).
#pragma once

#include "apps/common/cli.hh"

namespace twstack::app {

// Adds `transfer` to the `sim` group.
Command add_sim_transfer_command(CLI::App& sim);

}  // namespace twstack::app
