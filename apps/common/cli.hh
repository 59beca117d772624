// The command line, through CLI11: one CLI::App with a subcommand per
// command, plus what CLI11 does not do the twstack way --
//
//   - whole numbers with the k, M, G, T (x1000) and Ki, Mi, Gi, Ti (x1024)
//     suffixes, and 0x hex, range-checked (whole()); real numbers without
//     NaN or infinities (real()); a choice among words (one_of()). Each is a
//     CLI11 transform: it checks the text and rewrites it as plain decimal;
//   - usage mistakes in the old words, naming the option ("option --rate:
//     'x' is not a whole number ...", "unknown option --byts (did you mean
//     --bytes?)"), for main.cc to print before exiting 2.
//
// A command adds its subcommand to a parent (add_*_command), binds its
// options to variables it owns, and returns a Command whose run() main.cc
// calls once the whole line has parsed. run() may throw UsageError for a
// mistake only visible after parsing (two options that disagree).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "apps/common/text.hh"

namespace twstack::app {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Command {
  CLI::App* app = nullptr;  // the subcommand; its parent owns it
  // The exit status (0 success, 1 a failed run).
  std::function<int(std::ostream& out, std::ostream& err)> run;
};

// Adds subcommand `name` to `parent`, with `summary` (its line in the
// parent's --help) and `description` (its own --help footer). Its options
// bind, through add_options, to an Args the Command owns; run(args, out, err)
// reads them once the whole line has parsed.
template <class Args, class Run>
Command add_command(CLI::App& parent, std::string name, std::string summary, std::string_view description,
                    void (*add_options)(CLI::App& app, Args* a), Run run) {
  CLI::App* app = parent.add_subcommand(std::move(name), std::move(summary));
  app->footer(std::string(description));
  auto a = std::make_shared<Args>();
  add_options(*app, a.get());
  return Command{app, [a, run](std::ostream& out, std::ostream& err) { return run(*a, out, err); }};
}

// The top-level application: help formatting, flags that take no value;
// subcommands added later inherit both.
void configure_app(CLI::App& app);

// Validators (use with ->transform()), on parse_u64() and parse_double().
CLI::Validator whole(std::uint64_t lo, std::uint64_t hi);
CLI::Validator real(double lo, double hi);
CLI::Validator one_of(std::vector<std::string> allowed);

// The innermost subcommand the last parse selected (`top` itself if none),
// and its words ("twstack sim churn").
const CLI::App& selected(const CLI::App& top);
std::string path_of(const CLI::App& app);

// What went wrong, in a sentence that names the option or the word.
std::string usage_message(const CLI::ParseError& e, const CLI::App& top);

// Parses `args` (the words after the program name) for `app`, turning a
// mistake into UsageError(usage_message(...)); CLI::CallForHelp passes
// through. For tests of a command's options.
void parse_args(CLI::App& app, const std::vector<std::string>& args);

}  // namespace twstack::app
