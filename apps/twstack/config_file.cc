// Reading a sysctl.conf-format file (see config_file.hh).
#include "apps/twstack/config_file.hh"

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace twstack::app {

std::optional<std::string> load_config_file(const std::string& path, StackConfig* cfg) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return path + ": is a directory";
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return path + ": cannot open: " + std::generic_category().message(errno);
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return path + ": read error";
  return parse_config_text(buf.str(), path, cfg);
}

}  // namespace twstack::app
