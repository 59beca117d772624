#include "apps/kernel/netns.hh"

#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "apps/common/spawn.hh"

namespace kernel_churn {
namespace {

std::string errno_text(int e) {
  const char* n = strerrorname_np(e);
  return std::string(n != nullptr ? n : "errno " + std::to_string(e)) + " (" + std::strerror(e) + ")";
}

// The first line ip printed, for a message.
std::string first_line(const std::string& path) {
  std::string text = read_text(path);
  text = text.substr(0, text.find('\n'));
  return text.empty() ? "" : ": " + text;
}

}  // namespace

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string kernel_release() {
  utsname u{};
  return ::uname(&u) == 0 ? std::string(u.release) : std::string("?");
}

std::optional<std::string> netns_unavailable(const std::string& ip) {
  if (::geteuid() != 0) return "needs root to make network namespaces (ip netns add)";
  const twstack::app::ProgramResult r = twstack::app::run_program({ip, "-V"}, "/dev/null");
  if (r.spawn_error == ENOENT) {
    return "the `" + ip + "` command (iproute2) is not installed or not on PATH (apt-get install iproute2)";
  }
  if (!r.ok()) return "`" + ip + " -V` " + r.describe();
  int err = 0;
  std::thread([&] { err = ::unshare(CLONE_NEWNET) == 0 ? 0 : errno; }).join();
  if (err != 0) return "the kernel refuses a new network namespace: unshare(CLONE_NEWNET): " + errno_text(err);
  return std::nullopt;
}

std::optional<std::string> enter_netns(int netns_fd) {
  if (::setns(netns_fd, CLONE_NEWNET) != 0) return "setns(CLONE_NEWNET): " + errno_text(errno);
  return std::nullopt;
}

std::optional<std::string> in_netns(int netns_fd, const std::function<void()>& f) {
  std::optional<std::string> error;
  std::thread([&] {
    error = enter_netns(netns_fd);
    if (!error) f();
  }).join();
  return error;
}

std::optional<std::string> write_sysctl(std::string_view name, std::string_view value) {
  std::string path = "/proc/sys/";
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
    if (!ok) return "'" + std::string(name) + "' is not a sysctl name";
    path += c == '.' ? '/' : c;
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT) return "the kernel has no per-namespace sysctl " + std::string(name) + " (no " + path + ")";
    return "cannot open " + path + ": " + errno_text(e);
  }
  const std::string text = std::string(value) + "\n";
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int e = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    return "the kernel refused " + std::string(name) + "=" + std::string(value) + ": " + errno_text(n < 0 ? e : EIO);
  }
  return std::nullopt;
}

std::optional<std::uint64_t> sockstat_tw(std::string_view text) {
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t nl = text.find('\n', at);
    std::string_view line = text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
    at = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!line.starts_with("TCP: ")) continue;
    std::istringstream in{std::string(line.substr(5))};
    std::string key;
    std::uint64_t v = 0;
    while (in >> key >> v) {
      if (key == "tw") return v;
    }
  }
  return std::nullopt;
}

std::optional<SlabCache> slab_cache(std::string_view text, std::string_view name) {
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t nl = text.find('\n', at);
    std::string_view line = text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
    at = nl == std::string_view::npos ? text.size() : nl + 1;
    // "tw_sock_TCP  <active_objs> <num_objs> <objsize> ..." (slabinfo 2.1)
    if (!line.starts_with(name) || line.size() == name.size() || line[name.size()] != ' ') continue;
    std::istringstream in{std::string(line.substr(name.size()))};
    SlabCache c;
    std::uint64_t num_objs = 0;
    if (in >> c.active_objs >> num_objs >> c.objsize) return c;
    return std::nullopt;
  }
  return std::nullopt;
}

void parse_proc_counters(std::string_view text, std::map<std::string, std::uint64_t>* out) {
  std::istringstream in{std::string(text)};
  std::string names, values;
  while (std::getline(in, names) && std::getline(in, values)) {
    std::istringstream n(names), v(values);
    std::string prefix, vprefix, name;
    n >> prefix;
    v >> vprefix;
    if (prefix != vprefix || prefix.empty()) return;  // not the two-line format
    prefix.pop_back();                                 // the ':'
    std::int64_t x = 0;
    while (n >> name && v >> x) (*out)[prefix + name] = static_cast<std::uint64_t>(x < 0 ? 0 : x);
  }
}

NetnsPair::NetnsPair(std::string ip, std::string prefix)
    : ip_(std::move(ip)), client_(prefix + "-c"), server_(std::move(prefix) + "-s") {
  for (const std::string* n : {&client_, &server_}) {
    made_.push_back(*n);  // first: an `ip` killed half way may have made it
    if (auto e = this->ip({"netns", "add", *n})) {
      error_ = *e;
      return;
    }
  }
  const std::vector<std::vector<std::string>> steps = {
      {"-n", client_, "link", "add", "lab0", "type", "veth", "peer", "name", "lab0", "netns", server_},
      {"-n", client_, "addr", "add", std::string(kClientAddr) + "/24", "dev", "lab0"},
      {"-n", server_, "addr", "add", std::string(kServerAddr) + "/24", "dev", "lab0"},
      {"-n", client_, "link", "set", "lab0", "up"},
      {"-n", server_, "link", "set", "lab0", "up"},
      {"-n", client_, "link", "set", "lo", "up"},
      {"-n", server_, "link", "set", "lo", "up"}};
  for (const auto& s : steps) {
    if (auto e = this->ip(s)) {
      error_ = *e;
      return;
    }
  }
  client_fd_ = ::open(("/run/netns/" + client_).c_str(), O_RDONLY | O_CLOEXEC);
  server_fd_ = ::open(("/run/netns/" + server_).c_str(), O_RDONLY | O_CLOEXEC);
  if (client_fd_ < 0 || server_fd_ < 0) error_ = "cannot open /run/netns/" + client_ + ": " + errno_text(errno);
}

NetnsPair::~NetnsPair() {
  if (client_fd_ >= 0) ::close(client_fd_);
  if (server_fd_ >= 0) ::close(server_fd_);
  for (const std::string& n : made_) remove(n);
}

void remove_stale_netns(const std::string& ip, std::string_view base) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with(base) || name.size() <= base.size() || name[base.size()] != '-') continue;
    const std::size_t end = name.find('-', base.size() + 1);
    const std::string pid = name.substr(base.size() + 1, end == std::string::npos ? end : end - base.size() - 1);
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (::kill(static_cast<pid_t>(std::stol(pid)), 0) == 0 || errno != ESRCH) continue;  // still running
    twstack::app::run_program({ip, "netns", "delete", name}, "/dev/null");
    const std::string path = "/run/netns/" + name;
    if (::access(path.c_str(), F_OK) == 0) {
      ::umount2(path.c_str(), MNT_DETACH);
      ::unlink(path.c_str());
    }
  }
}

// `ip netns delete`; if that did not do it (ip killed by the same Ctrl-C, say),
// what it does: detach the bind mount and unlink it.
void NetnsPair::remove(const std::string& name) {
  ip({"netns", "delete", name});
  const std::string path = "/run/netns/" + name;
  if (::access(path.c_str(), F_OK) == 0) {
    ::umount2(path.c_str(), MNT_DETACH);
    ::unlink(path.c_str());
  }
}

std::optional<std::string> NetnsPair::ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {ip_};
  argv.insert(argv.end(), args.begin(), args.end());
  char log[] = "/tmp/twstack-ip-XXXXXX";
  const int fd = ::mkstemp(log);
  if (fd >= 0) ::close(fd);
  const twstack::app::ProgramResult r = twstack::app::run_program(argv, fd >= 0 ? log : "/dev/null");
  std::string said = fd >= 0 ? first_line(log) : "";
  if (fd >= 0) ::unlink(log);
  if (r.ok()) return std::nullopt;
  std::string cmd;
  for (const std::string& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  if (r.spawn_error == ENOENT) return "the `" + ip_ + "` command (iproute2) is not installed or not on PATH";
  return "`" + cmd + "` " + r.describe() + said;
}

}  // namespace kernel_churn
