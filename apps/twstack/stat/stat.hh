// `twstack stat`: reads a running twstack over DPDK telemetry (no DPDK needed).
#pragma once

#include "apps/common/cli.hh"

namespace twstack::app {

Command add_stat_command(CLI::App& top);

}  // namespace twstack::app
