// `twstack sim ports`: the 4-tuple allocator measured in-process.
#pragma once

#include "apps/twstack/command.hh"

namespace twstack::app {

Command sim_ports_command();

}  // namespace twstack::app
