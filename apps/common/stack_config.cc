#include "apps/common/stack_config.hh"

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "apps/common/cli.hh"

namespace twstack::app {

std::optional<std::string> read_config_file(const std::string& path, StackConfig* cfg) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return path + ": is a directory";
  std::ifstream in(path, std::ios::binary);
  if (!in) return path + ": cannot open: " + std::generic_category().message(errno);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return path + ": read error";
  return parse_config_text(text.str(), path, cfg);
}

void add_knob_options(CLI::App& app, KnobOptions* k, std::string_view whose) {
  app.add_option("--config", k->config, "load knobs for " + std::string(whose) + " from a sysctl.conf-style file")
      ->type_name("FILE");
  app.add_option("--set", k->sets, "set one knob for " + std::string(whose) + ", after --config (repeatable)")
      ->type_name("KEY=VALUE");
}

namespace {

void apply(std::string_view option, std::span<const std::string> sets, StackConfig* cfg) {
  for (const std::string& a : sets) {
    if (auto e = cfg->set_assignment(a)) throw UsageError("option --" + std::string(option) + ": " + *e);
  }
}

}  // namespace

StackConfig stack_config_from(const KnobOptions& k, std::string_view side_option,
                              std::span<const std::string> side_sets) {
  StackConfig cfg;
  if (k.config) {
    if (auto e = read_config_file(*k.config, &cfg)) throw UsageError("option --config: " + *e);
  }
  apply("set", k.sets, &cfg);
  apply(side_option, side_sets, &cfg);
  if (auto e = cfg.validate()) {
    throw UsageError(side_option.empty() ? *e : "option --" + std::string(side_option) + ": " + *e);
  }
  return cfg;
}

}  // namespace twstack::app
