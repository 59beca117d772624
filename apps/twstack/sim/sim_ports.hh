// `twstack sim ports`: the 4-tuple allocator measured in-process.
#pragma once

#include "apps/common/cli.hh"

namespace twstack::app {

// Adds `ports` to the `sim` group.
Command add_sim_ports_command(CLI::App& sim);

}  // namespace twstack::app
