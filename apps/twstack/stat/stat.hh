// `twstack stat`: reads a running twstack over DPDK telemetry (no DPDK needed).
#pragma once

#include "apps/common/command.hh"

namespace twstack::app {

Command stat_command();

}  // namespace twstack::app
