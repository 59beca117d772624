// `twstack lab`: TIME_WAIT scenarios, predicted and measured (lab.cc).
#pragma once

#include "apps/twstack/command.hh"

namespace twstack::app {

Command lab_command();

}  // namespace twstack::app
