// The knob options (--config FILE, --set KEY=VALUE) of every command that
// runs an engine, applied one way: the defaults, then the file, then each
// assignment in order, then StackConfig::validate().
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stack/base/config.hh"

namespace CLI {
class App;
}

namespace twstack::app {

struct KnobOptions {
  std::optional<std::string> config;  // --config FILE
  std::vector<std::string> sets;      // --set KEY=VALUE, in the order given
};

// Adds --config FILE and --set KEY=VALUE (repeatable) to `app`, bound to
// `*k`; `whose` says whose knobs they are in the help ("both engines").
void add_knob_options(CLI::App& app, KnobOptions* k, std::string_view whose);

// Reads a sysctl.conf-style file and applies it (parse_config_text, all or
// nothing); a message naming the file on a mistake.
std::optional<std::string> read_config_file(const std::string& path, StackConfig* cfg);

// The configuration the options ask for: --config, then each --set, then
// each assignment of `side_option` (e.g. "client-set" for one side of a
// simulation), then validate(). Throws UsageError naming the option.
StackConfig stack_config_from(const KnobOptions& k, std::string_view side_option = {},
                              std::span<const std::string> side_sets = {});

}  // namespace twstack::app
