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

namespace {

// A cursor over the reply with the few JSON pieces DPDK's dicts use.
struct Cursor {
  std::string_view s;
  std::size_t i = 0;

  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  std::optional<std::string> string() {
    if (!eat('"')) return std::nullopt;
    std::string out;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;  // \" and \\; DPDK escapes nothing else in names
      out += s[i++];
    }
    if (i == s.size()) return std::nullopt;
    ++i;
    return out;
  }
  // A number, true/false/null, or a string: its text.
  std::optional<std::string> scalar() {
    ws();
    if (i < s.size() && s[i] == '"') return string();
    const std::size_t from = i;
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ') ++i;
    if (i == from) return std::nullopt;
    return std::string(s.substr(from, i - from));
  }
};

}  // namespace

std::optional<TelemetryDict> parse_telemetry_reply(std::string_view json, std::string* error) {
  Cursor c{json};
  TelemetryDict out;
  auto bad = [&](const char* what) {
    *error = std::string("unexpected telemetry reply (") + what + "): " + std::string(json.substr(0, 200));
    return std::nullopt;
  };
  if (!c.eat('{') || !c.string() || !c.eat(':')) return bad("no command key");
  if (c.eat('n')) return bad("the process has no such command (yet: twstack registers its commands once its port is up)");
  if (!c.eat('{')) return bad("not an object");
  if (c.eat('}')) return out;
  do {
    std::optional<std::string> k = c.string();
    if (!k || !c.eat(':')) return bad("a key");
    std::optional<std::string> v = c.scalar();
    if (!v) return bad("a value");
    out.emplace_back(std::move(*k), std::move(*v));
  } while (c.eat(','));
  if (!c.eat('}')) return bad("an unclosed object");
  return out;
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
  if (std::size_t at = greet.find("\"max_output_len\":"); at != std::string::npos) {
    const long m = std::strtol(greet.c_str() + at + 17, nullptr, 10);
    if (m > 0) max_len_ = static_cast<std::size_t>(m);
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
