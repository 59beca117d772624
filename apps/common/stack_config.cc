#include "apps/common/stack_config.hh"

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "apps/common/options.hh"

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

KnobOptions knob_options(const Options& o) {
  KnobOptions k;
  if (std::optional<std::string_view> path = o.get("config")) k.config = std::string(*path);
  for (std::string_view a : o.all("set")) k.sets.emplace_back(a);
  return k;
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
