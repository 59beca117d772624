// Engine options from the sysctl-named configuration: the way to make an
// EngineOptions. Every field comes from `cfg` (whose defaults are the knob
// table's); the secret has no default (stack/base/secret.hh).
#pragma once

#include "stack/base/config.hh"
#include "stack/engine/engine.hh"

namespace twstack::engine {

EngineOptions options_from(const StackConfig& cfg, Secret secret);

}  // namespace twstack::engine
