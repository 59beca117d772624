// Command-line options for the twstack subcommands.
//
// Each command declares its options as a table of OptionSpec; parse() takes
// the words after the command name:
//
//   --name value   --name=value   --flag   --   (ends options)
//
// `--help` / `-h` is always accepted. Typed getters convert and range-check
// a value when the command asks for it. Every mistake is a UsageError whose
// message names the option and says what is allowed; the caller prints it
// with the command's usage and exits 2.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace twstack::app {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct OptionSpec {
  std::string_view name;   // without the leading "--"
  std::string_view value;  // placeholder for the value ("N", "P"); empty: a flag
  std::string_view help;   // one line; mention the default
  bool repeatable = false; // may be given more than once (all() collects them)
};

class Options {
 public:
  // Throws UsageError on an unknown option (suggesting a near one), a
  // missing value, a value given to a flag, a repeated option that is not
  // repeatable, or more than `max_positional` positional words. The views
  // point into `args`, which must outlive the Options.
  static Options parse(std::span<const OptionSpec> specs, std::span<const std::string_view> args,
                       std::size_t max_positional = 0);

  bool help() const { return help_; }
  bool has(std::string_view name) const;
  bool flag(std::string_view name) const { return has(name); }
  // The value given, if any.
  std::optional<std::string_view> get(std::string_view name) const;
  // Every value given, in order (repeatable options).
  std::vector<std::string_view> all(std::string_view name) const;
  const std::vector<std::string_view>& positional() const { return positional_; }

  std::string_view str(std::string_view name, std::string_view def) const;
  // Whole numbers in decimal (or 0x hex), with an optional suffix: k, M, G,
  // T (powers of 1000) or Ki, Mi, Gi, Ti (powers of 1024). Range inclusive.
  std::uint64_t u64(std::string_view name, std::uint64_t def, std::uint64_t lo, std::uint64_t hi) const;
  std::int64_t i64(std::string_view name, std::int64_t def, std::int64_t lo, std::int64_t hi) const;
  // Decimal or scientific notation; NaN and infinities are refused.
  double real(std::string_view name, double def, double lo, double hi) const;
  // One of `allowed`, exactly.
  std::string_view choice(std::string_view name, std::string_view def,
                          std::span<const std::string_view> allowed) const;

 private:
  struct Given {
    std::string_view name;
    std::string_view value;
  };
  const OptionSpec& spec(std::string_view name) const;  // std::logic_error if undeclared

  std::span<const OptionSpec> specs_;
  std::vector<Given> given_;
  std::vector<std::string_view> positional_;
  bool help_ = false;
};

// Value parsers the getters use, for callers with their own syntax.
std::optional<std::uint64_t> parse_u64(std::string_view s);
std::optional<double> parse_double(std::string_view s);

// The aligned "Options:" lines of a usage text (including --help).
std::string describe_options(std::span<const OptionSpec> specs);

}  // namespace twstack::app
