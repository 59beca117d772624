// `twstack sim ports`: the 4-tuple allocator measured in-process.
#pragma once

#include "apps/common/command.hh"

namespace twstack::app {

Command sim_ports_command();

}  // namespace twstack::app
