// The twstack subcommands: each one a path of words ("sim transfer"), its
// options table and an entry point. main.cc dispatches, parses the options,
// answers --help and turns UsageError into a message, the usage and exit 2.
#pragma once

#include <functional>
#include <ostream>
#include <span>
#include <string_view>

#include "apps/common/options.hh"

namespace twstack::app {

struct Command {
  std::string_view path;         // "sim transfer"
  std::string_view summary;      // one line, for `twstack --help`
  std::string_view description;  // the body of `twstack <path> --help`
  std::span<const OptionSpec> options;
  std::size_t max_positional = 0;
  // Returns the exit status; may throw UsageError for a bad option value.
  std::function<int(const Options& opts, std::ostream& out, std::ostream& err)> run;
};

}  // namespace twstack::app
