// `twstack sim transfer`: a bulk transfer between two engines over the
// in-process link, with faults (sim_transfer.cc).
#pragma once

#include "apps/common/command.hh"

namespace twstack::app {

Command sim_transfer_command();

}  // namespace twstack::app
