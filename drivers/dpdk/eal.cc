#include "drivers/dpdk/eal.hh"

#include <rte_eal.h>
#include <rte_errno.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <system_error>

namespace twstack::dpdk {
namespace {

// rte_eal_init may succeed once per process, and the EAL cannot be started
// again after rte_eal_cleanup: this mirrors that state (DPDK's own is
// process-global too), so a second start() gets a message rather than EALREADY.
enum class State : int { kIdle, kStarting, kRunning, kStopped };
std::atomic<State> g_state{State::kIdle};

bool has_option(const std::vector<std::string>& args, std::initializer_list<std::string_view> names) {
  for (const std::string& a : args) {
    for (std::string_view n : names) {
      if (a == n) return true;
      if (n.starts_with("--") ? a.starts_with(std::string(n) + "=") : a.starts_with(n)) return true;
    }
  }
  return false;
}

// The CPUs this process may run on, as an EAL cpuset ("0-1,4").
std::string allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return "0";
  std::string out;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (!CPU_ISSET(c, &set)) continue;
    int last = c;
    while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, &set)) ++last;
    if (!out.empty()) out += ',';
    out += std::to_string(c);
    if (last > c) out += '-' + std::to_string(last);
    c = last;
  }
  return out.empty() ? "0" : out;
}

std::string joined(const std::vector<std::string>& args) {
  std::string s;
  for (const std::string& a : args) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

std::string hint_for(int err) {
  switch (err) {
    case EACCES:
      return " (permission denied: run as root, or give the process the capabilities its "
             "drivers need)";
    case ENOMEM: return " (not enough memory: lower -m)";
    case EALREADY: return " (the EAL was already initialised in this process)";
    case EINVAL: return " (DPDK refused an argument; its log above says which)";
    case ENODEV: return " (a device or bus could not be set up)";
    default: return "";
  }
}

// DPDK leaves its runtime directory behind (config and fbarray files when
// shared config is on, an empty directory otherwise, also after a failed
// init). The one named after our pid goes; a prefix someone chose may be
// shared with other processes, and stays.
void remove_runtime_dir(const std::string& dir, const std::string& prefix) {
  if (dir.empty() || prefix.empty()) return;
  std::filesystem::path p(dir);
  if (p.filename() != prefix) return;
  std::error_code ec;
  std::filesystem::remove_all(p, ec);
}

std::string own_prefix() { return "twstack-" + std::to_string(::getpid()); }

}  // namespace

std::optional<std::string> split_eal_args(std::string_view s, std::vector<std::string>* out) {
  std::vector<std::string> args;
  std::string cur;
  bool in_arg = false;
  char quote = 0;
  for (char c : s) {
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        cur += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_arg = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_arg) args.push_back(std::move(cur));
      cur.clear();
      in_arg = false;
    } else {
      cur += c;
      in_arg = true;
    }
  }
  if (quote != 0) return std::string("unterminated ") + quote + " in EAL arguments";
  if (in_arg) args.push_back(std::move(cur));
  *out = std::move(args);
  return std::nullopt;
}

std::vector<std::string> Eal::build_args(const EalOptions& opt) {
  const std::vector<std::string>& x = opt.extra;
  bool memif = false;
  bool pci = false;
  for (const PortSpec& p : opt.ports) {
    memif = memif || p.kind == PortKind::kMemif;
    pci = pci || p.is_pci();
  }
  std::vector<std::string> a{opt.program};
  if (!opt.hugepages) {
    a.push_back("--no-huge");
    if (!memif && !has_option(x, {"--no-shconf", "--in-memory"})) a.push_back("--no-shconf");
  }
  if (opt.memory_mb != 0 && !has_option(x, {"-m", "--socket-mem"})) {
    a.push_back("-m");
    a.push_back(std::to_string(opt.memory_mb));
  }
  if (!has_option(x, {"--file-prefix"})) {
    a.push_back("--file-prefix=" + (opt.file_prefix.empty() ? own_prefix() : opt.file_prefix));
  }
  if (!has_option(x, {"-l", "-c", "--lcores"})) {
    a.push_back("--lcores=" + (opt.lcores.empty() ? "0@(" + allowed_cpus() + ")" : opt.lcores));
  }
  if (!pci && !has_option(x, {"-a", "--allow", "-b", "--block"})) a.push_back("--no-pci");
  if (!opt.log_level.empty()) a.push_back("--log-level=" + opt.log_level);
  if (!opt.telemetry) a.push_back("--no-telemetry");
  for (const PortSpec& p : opt.ports) {
    for (std::string& s : p.eal_args()) a.push_back(std::move(s));
  }
  a.insert(a.end(), x.begin(), x.end());
  return a;
}

bool Eal::running() { return g_state.load() == State::kRunning; }

std::unique_ptr<Eal> Eal::start(const EalOptions& opt, std::string* error) {
  if (!opt.hugepages && has_option(opt.extra, {"--in-memory"})) {
    *error = "--in-memory needs hugepages on DPDK 22.11 (--no-huge implies legacy memory, which "
             "--in-memory refuses); without hugepages twstack uses --no-shconf instead";
    return nullptr;
  }
  State idle = State::kIdle;
  if (!g_state.compare_exchange_strong(idle, State::kStarting)) {
    *error = idle == State::kStopped
                 ? "the EAL was stopped in this process and DPDK cannot start it again"
                 : "the EAL is already running in this process (one Eal per process)";
    return nullptr;
  }
  std::unique_ptr<Eal> eal(new Eal());
  eal->args_ = build_args(opt);
  // rte_eal_init permutes argv: it gets pointers into copies that live as
  // long as the EAL.
  eal->argv_storage_ = eal->args_;
  std::vector<char*> argv;
  for (std::string& s : eal->argv_storage_) argv.push_back(s.data());
  argv.push_back(nullptr);
  const bool own = opt.file_prefix.empty() && !has_option(opt.extra, {"--file-prefix"});
  if (rte_eal_init(static_cast<int>(argv.size() - 1), argv.data()) < 0) {
    int err = rte_errno;
    *error = std::string("rte_eal_init failed: ") + rte_strerror(err) + hint_for(err) +
             "; arguments: " + joined(eal->args_);
    if (own) remove_runtime_dir(rte_eal_get_runtime_dir(), own_prefix());
    // DPDK lets a failed init be retried in some cases (bad arguments); if
    // it does not, the next start() reports EALREADY.
    g_state.store(State::kIdle);
    return nullptr;
  }
  g_state.store(State::kRunning);
  eal->runtime_dir_ = rte_eal_get_runtime_dir();
  eal->own_prefix_ = own;
  if (!has_option(opt.extra, {"--file-prefix"})) eal->file_prefix_ = own ? own_prefix() : opt.file_prefix;
  return eal;
}

Eal::~Eal() {
  rte_eal_cleanup();
  g_state.store(State::kStopped);
  if (own_prefix_) remove_runtime_dir(runtime_dir_, file_prefix_);
}

}  // namespace twstack::dpdk
