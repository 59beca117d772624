// Reading a sysctl.conf-format file into a StackConfig, for --config. stack/
// reads no files: it parses the text (parse_config_text()); this reads it.
#pragma once

#include <optional>
#include <string>

#include "stack/base/config.hh"

namespace twstack::app {

// parse_config_text() on the file's contents, with `path` as the origin.
std::optional<std::string> load_config_file(const std::string& path, StackConfig* cfg);

}  // namespace twstack::app
