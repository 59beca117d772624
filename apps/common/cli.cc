// CLI11 glue: the number and choice validators, and usage messages.
#include "apps/common/cli.hh"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "stack/base/text.hh"

namespace twstack::app {

namespace {

std::string in_quotes(std::string_view v) { return "'" + std::string(v) + "'"; }

std::string shortest(double d) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

bool has_subcommands(const CLI::App& app) {
  return !app.get_subcommands([](const CLI::App*) { return true; }).empty();
}

// A word the command did not expect.
std::string extra_message(const CLI::App& app, std::string_view arg) {
  if (arg.starts_with("--")) {
    const std::string_view name = arg.substr(2, arg.find('=') - 2);
    std::string msg = "unknown option --" + std::string(name);
    std::string best;
    std::size_t best_d = 3;  // suggest only near misses
    const EditDistanceFrom from(name);
    for (const CLI::Option* o : app.get_options()) {
      for (const std::string& l : o->get_lnames()) {
        const std::size_t d = from.to(l, best_d - 1);
        if (d < best_d) best_d = d, best = l;
      }
    }
    if (!best.empty()) msg += " (did you mean --" + best + "?)";
    return msg;
  }
  if (arg.size() >= 2 && arg[0] == '-') return "unknown option " + in_quotes(arg) + " (options are spelled --name)";
  const bool positionals = !app.get_options([](const CLI::Option* o) { return o->get_positional(); }).empty();
  if (positionals) return "too many arguments at " + in_quotes(arg);
  return "unexpected argument " + in_quotes(arg) + " (this command takes only options)";
}

// CLI11's own sentences, in the words the rest of twstack uses.
std::string reworded(std::string m) {
  constexpr std::string_view kOverride = " was given a disallowed flag override";
  if (m.ends_with(kOverride)) return "option --" + m.substr(0, m.size() - kOverride.size()) + " takes no value";
  const std::size_t colon = m.find(": ");
  if (colon == std::string::npos) return m.starts_with("--") ? "option " + m : m;
  const std::string name = m.substr(0, colon), rest = m.substr(colon + 2);
  constexpr std::string_view kAtMost = "At Most ";
  if (!name.starts_with("--") && rest.starts_with(kAtMost)) {  // a positional: "FILE: At Most 2 required ..."
    return "too many " + name + " arguments (at most " + rest.substr(kAtMost.size(), rest.find(' ', kAtMost.size()) - kAtMost.size()) + ")";
  }
  if (!name.starts_with("--")) return m;
  if (rest.starts_with("1 required ") && rest.ends_with(" missing")) {
    return "option " + name + " needs a value (" + rest.substr(11, rest.size() - 19) + ")";
  }
  if (rest.starts_with("At Most 1 required")) return "option " + name + " given more than once";
  return "option " + m;
}

}  // namespace

CLI::Validator whole(std::uint64_t lo, std::uint64_t hi) {
  const std::string allowed = "allowed: " + std::to_string(lo) + " to " + std::to_string(hi);
  return CLI::Validator(
      [lo, hi, allowed](std::string& s) -> std::string {
        const std::optional<std::uint64_t> n = parse_u64(s);
        if (!n) return in_quotes(s) + " is not a whole number (" + allowed + "; suffixes k, M, G, T or Ki, Mi, Gi, Ti)";
        if (*n < lo || *n > hi) return in_quotes(s) + " is out of range (" + allowed + ")";
        s = std::to_string(*n);
        return {};
      },
      "");
}

CLI::Validator real(double lo, double hi) {
  const std::string allowed = "allowed: " + shortest(lo) + " to " + shortest(hi);
  return CLI::Validator(
      [lo, hi, allowed](std::string& s) -> std::string {
        const std::optional<double> x = parse_double(s);
        if (!x) return in_quotes(s) + " is not a number (" + allowed + ")";
        if (*x < lo || *x > hi) return in_quotes(s) + " is out of range (" + allowed + ")";
        return {};
      },
      "");
}

CLI::Validator one_of(std::vector<std::string> allowed) {
  std::string list;
  for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
  return CLI::Validator(
      [allowed, list](std::string& s) -> std::string {
        if (std::find(allowed.begin(), allowed.end(), s) != allowed.end()) return {};
        return in_quotes(s) + " is not allowed (one of: " + list + ")";
      },
      "");
}

void configure_app(CLI::App& app) {
  app.set_help_flag("-h,--help", "show this help and exit");
  app.get_formatter()->column_width(30);
  app.option_defaults()->disable_flag_override();
}

const CLI::App& selected(const CLI::App& top) {
  const CLI::App* app = &top;
  for (;;) {
    const std::vector<const CLI::App*> subs = app->get_subcommands([](const CLI::App* s) { return s->parsed() > 0; });
    if (subs.empty()) return *app;
    app = subs.front();
  }
}

std::string path_of(const CLI::App& app) {
  std::string path = app.get_name();
  for (const CLI::App* p = app.get_parent(); p != nullptr; p = p->get_parent()) path = p->get_name() + " " + path;
  return path;
}

std::string usage_message(const CLI::ParseError& e, const CLI::App& top) {
  const CLI::App& app = selected(top);
  std::vector<std::string> rest = app.remaining();
  // After "--", CLI11 2.1 hands a subcommand's words to the top app.
  if (rest.empty()) rest = top.remaining();
  if (!rest.empty()) {
    if (has_subcommands(app) && !rest.front().starts_with("-")) {
      return std::string(&app == &top ? "unknown command " : "unknown subcommand ") + in_quotes(rest.front());
    }
    return extra_message(app, rest.front());
  }
  if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr && has_subcommands(app)) {
    return &app == &top ? "missing command" : "missing subcommand";
  }
  return reworded(e.what());
}

void parse_args(CLI::App& app, const std::vector<std::string>& args) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    throw;
  } catch (const CLI::ParseError& e) {
    throw UsageError(usage_message(e, app));
  }
}

}  // namespace twstack::app
