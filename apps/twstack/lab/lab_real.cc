// `twstack lab`, real time: `twstack serve` and `twstack churn` as two
// processes over net_memif, one core each where there are two.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>

#include "apps/common/json.hh"
#include "apps/common/text.hh"
#include "apps/twstack/lab/lab_run.hh"
#include "stack/base/errc.hh"

extern char** environ;

namespace twstack::app {
namespace {

using Clock = std::chrono::steady_clock;

// The churn waits this long before its first attempt, so the server is
// listening when it comes (the memif link comes up as the client connects).
constexpr int kStartAfterS = 1;

// A child process whose stdout we read line by line (JSON lines), its
// stderr appended to a log file.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::string& log, std::string* error) {
    int fds[2];
    if (::pipe(fds) != 0) {
      *error = std::string("pipe: ") + std::strerror(errno);
      return;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    std::vector<char*> args;
    std::vector<std::string> copy = argv;
    for (std::string& a : copy) args.push_back(a.data());
    args.push_back(nullptr);
    const int rc = posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      *error = "cannot start " + argv[0] + ": " + std::strerror(rc);
      pid_ = -1;
      return;
    }
    fd_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  int fd() const { return fd_; }
  bool running() const { return pid_ > 0; }
  // Reads what is there; complete lines go to `lines` with their arrival time.
  // False at EOF.
  bool read(std::vector<std::pair<Clock::time_point, std::string>>* lines) {
    char buf[8192];
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) return false;
    partial_.append(buf, static_cast<std::size_t>(n));
    for (std::size_t nl; (nl = partial_.find('\n')) != std::string::npos; partial_.erase(0, nl + 1)) {
      lines->emplace_back(Clock::now(), partial_.substr(0, nl));
    }
    return true;
  }
  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // Waits for the exit; the status, or -1.
  int wait() {
    if (pid_ <= 0) return -1;
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string partial_;
};

// The side's assignments, then, on the closing side, twstack's table size
// (tw_capacity: for twstack only; its index is written at start-up, so the
// side that holds no TIME_WAIT keeps the default).
std::vector<std::string> sets(const LabScenario& s, const std::vector<std::string>& side, bool closer) {
  std::vector<std::string> out;
  for (const auto* v : {&s.both_sets, &side}) {
    for (const std::string& x : *v) {
      out.push_back("--set");
      out.push_back(x);
    }
  }
  if (s.tw_capacity != 0 && closer) {
    out.push_back("--set");
    out.push_back("net.ipv4.tcp_max_tw_buckets=" + std::to_string(s.tw_capacity));
  }
  return out;
}

// twstack's default listener table holds 1024 (twstack.max_listeners).
constexpr std::size_t kDefaultMaxListeners = 1024;

std::pair<std::string, std::string> lcores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) < 2) return {"", ""};
  int first = -1, second = -1;
  for (int c = 0; c < CPU_SETSIZE && second < 0; ++c) {
    if (!CPU_ISSET(c, &set)) continue;
    (first < 0 ? first : second) = c;
  }
  return {"0@" + std::to_string(first), "0@" + std::to_string(second)};
}

std::vector<std::string> serve_argv(const LabScenario& s, const std::string& bin, const std::string& sock,
                                    const std::string& lc) {
  std::vector<std::string> a = {bin, "serve", "--port", "memif:server:" + sock, "--ip",
                                s.loopback ? "127.0.0.2/8" : "10.9.0.2/24", "--mode",
                                "http", "--closer", s.hold ? "never" : closer_name(s.closer), "--json", "--seed", "2",
                                "--link-timeout", "30", "--listen", format_ports(s.server_ports)};
  if (s.server_ports.size() > kDefaultMaxListeners) {
    a.insert(a.end(), {"--set", "twstack.max_listeners=" + std::to_string(s.server_ports.size())});
  }
  if (s.restart_after_s != 0) {
    a.insert(a.end(), {"--restart-after", std::to_string(s.restart_after_s), "--restart-reuseaddr",
                       s.restart_reuseaddr ? "yes" : "no"});
  }
  if (!lc.empty()) a.insert(a.end(), {"--lcores", lc});
  for (std::string& x : sets(s, s.server_sets, s.closer == Closer::kServer)) a.push_back(std::move(x));
  return a;
}

std::vector<std::string> churn_argv(const LabScenario& s, const std::string& bin, const std::string& sock,
                                    const std::string& lc) {
  std::vector<std::string> a = {bin, "churn", "--port", "memif:client:" + sock, "--ip",
                                s.loopback ? "127.0.0.1/8" : "10.9.0.1/24",
                                "--rate", std::to_string(s.rate), "--inflight", std::to_string(s.inflight),
                                "--closer", closer_name(s.closer),
                                "--requests-per-conn", std::to_string(s.requests_per_conn), "--start-after",
                                std::to_string(kStartAfterS), "--duration", std::to_string(s.duration_s + kStartAfterS),
                                "--json", "--seed", "1", "--link-timeout", "30", "--linger", "5"};
  const std::string server = s.loopback ? "127.0.0.2:" : "10.9.0.2:";
  a.insert(a.end(), {"--connect", server + format_ports(s.server_ports)});
  if (!lc.empty()) a.insert(a.end(), {"--lcores", lc});
  for (std::string& x : sets(s, s.client_sets, s.closer == Closer::kClient)) a.push_back(std::move(x));
  return a;
}

using Lines = std::vector<std::pair<Clock::time_point, std::string>>;

// Whether a Unix socket is bound at `path`, as a file or (net_memif's
// default, socket-abstract=yes) in the abstract namespace: /proc/net/unix
// lists the latter as "@path".
bool unix_socket_listening(const std::string& path) {
  std::ifstream in("/proc/net/unix");
  for (std::string line; std::getline(in, line);) {
    if (line.ends_with(" @" + path) || line.ends_with(" " + path)) return true;
  }
  return false;
}

// Runs both processes to the end; their stdout lines with arrival times.
std::optional<std::string> run_pair(const LabScenario& s, const std::string& bin, const std::string& workdir,
                                    const LabProgress& progress, Lines* serve_out, Lines* churn_out, std::string* log,
                                    const volatile std::sig_atomic_t* interrupted) {
  const auto stop = [interrupted] { return interrupted != nullptr && *interrupted != 0; };
  const std::string sock = workdir + "/" + s.name + ".sock";
  *log = workdir + "/" + s.name + ".log";
  ::unlink(sock.c_str());
  const auto [lc_serve, lc_churn] = lcores();
  std::string error;
  Child serve(serve_argv(s, bin, sock, lc_serve), *log, &error);
  if (!serve.running()) return error;
  // A memif client fails at start when the server's socket is not there
  // yet (DPDK 22.11 memif_connect_client): wait for it.
  const auto listen_deadline = Clock::now() + std::chrono::seconds(20);
  while (!unix_socket_listening(sock)) {
    if (stop()) return std::string("interrupted");
    if (Clock::now() > listen_deadline) return "the server never opened " + sock + " (see " + *log + ")";
    ::usleep(10000);
  }
  Child churn(churn_argv(s, bin, sock, lc_churn), *log, &error);
  if (!churn.running()) return error;
  const auto t0 = Clock::now();
  bool churn_open = true, serve_open = true, stopped = false, lingered = false;
  while (churn_open || serve_open) {
    pollfd p[2] = {{churn.fd(), POLLIN, 0}, {serve.fd(), POLLIN, 0}};
    ::poll(p, 2, 200);
    if (churn_open && (p[0].revents & (POLLIN | POLLHUP)) != 0) churn_open = churn.read(churn_out);
    if (serve_open && (p[1].revents & (POLLIN | POLLHUP)) != 0) serve_open = serve.read(serve_out);
    // The churn's summary comes while its port lingers unpolled (--linger):
    // stop the server now, so neither side is polling when the other goes
    // (see RuntimeSettings::linger), and its summary describes the same moment.
    const bool churn_done = !churn_out->empty() && churn_out->back().second.find("\"summary\":true") != std::string::npos;
    if ((churn_done || !churn_open) && !stopped) {
      serve.signal(SIGINT);
      stopped = true;
    }
    if (stopped && !serve_open && !lingered) {
      churn.signal(SIGINT);  // the server is gone: the churn's linger has done its job
      lingered = true;
    }
    if (progress) progress(std::chrono::duration<double>(Clock::now() - t0).count());
    if (stop()) return std::string("interrupted");  // ~Child kills both
    if (Clock::now() - t0 > std::chrono::seconds(s.duration_s + 90)) return "the processes did not finish (see " + *log + ")";
  }
  const int rc_churn = churn.wait(), rc_serve = serve.wait();
  if (rc_churn != 0 || rc_serve != 0) {
    return "serve exited " + std::to_string(rc_serve) + ", churn " + std::to_string(rc_churn) + " (see " + *log + ")";
  }
  return std::nullopt;
}

std::optional<Json> parse_line(const std::string& l) {
  std::string e;
  std::optional<Json> v = l.starts_with("{") ? parse_json(l, &e) : std::nullopt;
  return v && v->is_object() ? v : std::nullopt;
}


// Splits a process's lines into per-second samples and the final summary.
void split(const Lines& in, std::vector<std::pair<Clock::time_point, Json>>* seconds,
           std::optional<Json>* summary) {
  for (const auto& [at, l] : in) {
    std::optional<Json> v = parse_line(l);
    if (!v) continue;
    if (v->contains("summary")) {
      *summary = std::move(v);
    } else {
      seconds->emplace_back(at, std::move(*v));
    }
  }
}

// A member's number, 0 when absent or not a number.
double num(const Json& v, const char* key) {
  const auto it = v.find(key);
  return it != v.end() && it->is_number() ? it->get<double>() : 0;
}

std::uint64_t u(const Json& v, const char* key) {
  const auto it = v.find(key);
  return it != v.end() && it->is_number() ? it->get<std::uint64_t>() : 0;
}

// A latency object of the JSON lines ({"n", "p50", "p90", "p99", "p99.9", "max"}).
Percentiles latency(const Json& v, const char* key) {
  const auto it = v.find(key);
  if (it == v.end() || !it->is_object()) return {};
  return {u(*it, "n"), u(*it, "p50"), u(*it, "p90"), u(*it, "p99"), u(*it, "p99.9"), u(*it, "max")};
}

std::uint64_t counter(const Json& summary, const char* name) {
  const auto c = summary.find("counters");
  return c != summary.end() && c->is_object() ? u(*c, name) : 0;
}

// One sample per second of churn: the churn's own lines give ok, failed,
// completed and the client's TIME_WAIT; the server's line printed nearest
// in time gives the server's (the two processes tick independently, so it
// may be up to half a second off).
void build_series(const LabScenario& s, const std::vector<std::pair<Clock::time_point, Json>>& cl,
                  const std::vector<std::pair<Clock::time_point, Json>>& sl, LabRun* run) {
  for (const auto& [at, v] : cl) {
    const long t = std::lround(num(v, "t")) - kStartAfterS;  // churn seconds, from its first attempt
    if (t < 1 || t > static_cast<long>(s.duration_s)) continue;
    LabSample x{static_cast<std::uint32_t>(t), u(v, "ok"), u(v, "failed"), u(v, "cps"), u(v, "timewait"), 0, {}};
    if (const auto e = v.find("errors"); e != v.end() && e->is_object()) {
      for (const auto& [name, n] : e->items()) {
        if (n.is_number_unsigned()) x.errors[name] = n.get<std::uint64_t>();
      }
    }
    x.connect_us = latency(v, "connect_us");
    x.response_us = latency(v, "response_us");
    x.client_tw_bytes = u(v, "timewait_bytes");
    x.client_rss = u(v, "rss_bytes");
    x.client_loop_max_us = u(v, "loop_max_us");
    if (v.contains("busy")) x.client_busy = num(v, "busy");
    double best = 1e9;
    for (const auto& [sat, sv] : sl) {
      const double d = std::fabs(std::chrono::duration<double>(sat - at).count());
      if (d < best) {
        best = d;
        x.server_tw = u(sv, "timewait");
        x.server_tw_bytes = u(sv, "timewait_bytes");
        x.server_rss = u(sv, "rss_bytes");
        x.server_loop_max_us = u(sv, "loop_max_us");
        if (sv.contains("busy")) x.server_busy = num(sv, "busy");
      }
    }
    run->series.push_back(x);
  }
}

// Every non-zero number of the summary's "counters" (kernel names).
void counters_into(const Json& summary, std::map<std::string, std::uint64_t>* out) {
  const auto c = summary.find("counters");
  if (c == summary.end() || !c->is_object()) return;
  for (const auto& [name, v] : c->items()) {
    if (v.is_number_unsigned() && v.get<std::uint64_t>() != 0) (*out)[name] = v.get<std::uint64_t>();
  }
}

}  // namespace

LabRun run_lab_real(const LabScenario& s, const std::string& binary, const std::string& workdir,
                    const LabProgress& progress, const volatile std::sig_atomic_t* interrupted) {
  const auto wall0 = Clock::now();
  LabRun run;
  Lines serve_out, churn_out;
  if (auto e = run_pair(s, binary, workdir, progress, &serve_out, &churn_out, &run.log, interrupted)) {
    run.error = *e;
    return run;
  }
  std::vector<std::pair<Clock::time_point, Json>> cl, sl;
  std::optional<Json> cs, ss;
  split(churn_out, &cl, &cs);
  split(serve_out, &sl, &ss);
  if (!cs || !ss) {
    run.error = "no summary from " + std::string(!cs ? "churn" : "serve") + " (see " + run.log + ")";
    return run;
  }
  build_series(s, cl, sl, &run);
  counters_into(*cs, &run.client_counters);
  counters_into(*ss, &run.server_counters);
  LabMeasurement& m = run.m;
  m.attempts = u(*cs, "attempts");
  m.ok = u(*cs, "ok");
  m.failed = u(*cs, "failed");
  m.completed = u(*cs, "completed");
  if (const auto f = cs->find("first_failure_s"); f != cs->end() && f->is_number()) {
    m.first_failure_s = f->get<double>();
    const auto e = cs->find("first_errno");
    m.first_errno = e != cs->end() && e->is_string() ? e->get<std::string>() : "";
  }
  m.client_tw_peak = u(*cs, "timewait_peak");
  m.client_tw_end = u(*cs, "timewait_end");
  m.server_tw_peak = u(*ss, "timewait_peak");
  m.server_tw_end = u(*ss, "timewait_end");
  m.recycled = counter(*cs, "TcpExtTWRecycled");
  m.client_overflow = counter(*cs, "TcpExtTCPTimeWaitOverflow");
  m.server_overflow = counter(*ss, "TcpExtTCPTimeWaitOverflow");
  if (u(*ss, "restarts") != 0) {
    // twstack's error codes (stack/base/errc.hh), 0 for none.
    const auto name = [](std::uint64_t e) { return e == 0 ? std::string("ok") : errno_name(static_cast<Errc>(e)); };
    m.restart_bind = name(u(*ss, "restart_bind_error"));
    if (m.restart_bind != "ok") m.restart_rebind = name(u(*ss, "restart_rebind_error"));
  }
  m.cps = held_cps(run.series);
  m.summary = s.line_rate() ? std::string() : describe(s, m);  // line rate: lab_linerate.cc
  run.connect_us = latency(*cs, "connect_us");
  run.response_us = latency(*cs, "response_us");
  run.client_loop_max_us = u(*cs, "loop_max_us");
  run.server_loop_max_us = u(*ss, "loop_max_us");
  run.server_rss_peak = u(*ss, "rss_peak_bytes");
  run.tw_capacity = (s.closer == Closer::kClient ? s.client : s.server).tcp_max_tw_buckets;
  if (s.tw_capacity != 0) run.tw_capacity = s.tw_capacity;
  run.wall_s = std::chrono::duration<double>(Clock::now() - wall0).count();
  return run;
}

}  // namespace twstack::app
