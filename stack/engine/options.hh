// Engine options from the sysctl-named configuration.
#pragma once

#include "stack/base/config.hh"
#include "stack/engine/engine.hh"

namespace twstack::engine {

EngineOptions options_from(const StackConfig& cfg, Secret secret);

}  // namespace twstack::engine
