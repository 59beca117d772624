#include "apps/twstack/stat/telemetry_client.hh"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace twstack::app {

std::string dpdk_runtime_base() {
  // eal_get_runtime_dir(): /var/run/dpdk for root, else XDG_RUNTIME_DIR or /tmp.
  if (::getuid() == 0) return "/var/run/dpdk";
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  return std::string(xdg != nullptr ? xdg : "/tmp") + "/dpdk";
}

std::vector<std::string> find_twstack_sockets(const std::string& base) {
  std::vector<std::pair<long, std::string>> found;
  std::error_code ec;
  for (const auto& d : std::filesystem::directory_iterator(base, ec)) {
    const std::string name = d.path().filename().string();
    if (!name.starts_with("twstack-")) continue;
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + 8, &end, 10);
    if (end == nullptr || *end != '\0' || pid <= 0) continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) continue;  // left by a dead process
    const std::filesystem::path sock = d.path() / "dpdk_telemetry.v2";
    if (std::filesystem::exists(sock, ec)) found.emplace_back(pid, sock.string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

std::optional<TelemetryDict> parse_telemetry_reply(std::string_view json, std::string* error) {
  auto bad = [&](const char* what) {
    *error = std::string("unexpected telemetry reply (") + what + "): " + std::string(json.substr(0, 200));
    return std::nullopt;
  };
  std::string why;
  std::optional<Json> reply = parse_json(json, &why);
  if (!reply) return bad(why.c_str());
  if (!reply->is_object() || reply->size() != 1) return bad("no command key");
  const Json& d = reply->begin().value();
  if (d.is_null()) return bad("the process has no such command (yet: twstack registers its commands once its port is up)");
  if (!d.is_object()) return bad("not an object");
  // Members are numbers or strings, or (/twstack/ages, /twstack/queues)
  // one level of objects of them.
  for (const auto& [k, v] : d.items()) {
    if (v.is_array()) return bad("a value");
    if (!v.is_object()) continue;
    for (const auto& [k2, v2] : v.items()) {
      if (v2.is_structured()) return bad("a value");
    }
  }
  return d;
}

TelemetryClient::TelemetryClient(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    error_ = "socket path too long: " + path;
    return;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    error_ = "cannot connect to " + path + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return;
  }
  std::string greet(4096, '\0');
  const ssize_t n = ::recv(fd, greet.data(), greet.size(), 0);
  if (n <= 0) {
    error_ = "no greeting from " + path;
    ::close(fd);
    return;
  }
  greet.resize(static_cast<std::size_t>(n));
  std::string why;
  if (std::optional<Json> g = parse_json(greet, &why); g && g->is_object()) {
    const auto m = g->find("max_output_len");
    if (m != g->end() && m->is_number_unsigned() && m->get<std::uint64_t>() > 0) max_len_ = m->get<std::size_t>();
  }
  fd_ = fd;
}

TelemetryClient::~TelemetryClient() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<TelemetryDict> TelemetryClient::query(std::string_view cmd) {
  if (fd_ < 0) return std::nullopt;
  if (::send(fd_, cmd.data(), cmd.size(), 0) != static_cast<ssize_t>(cmd.size())) {
    error_ = std::string("send failed: ") + std::strerror(errno);
    return std::nullopt;
  }
  std::string reply(max_len_, '\0');
  const ssize_t n = ::recv(fd_, reply.data(), reply.size(), 0);
  if (n <= 0) {
    error_ = "no reply to " + std::string(cmd);
    return std::nullopt;
  }
  reply.resize(static_cast<std::size_t>(n));
  return parse_telemetry_reply(reply, &error_);
}

}  // namespace twstack::app
