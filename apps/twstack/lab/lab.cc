// `twstack lab`: the seed scenarios end to end, each prediction beside its
// measurement, with a verdict, a report folder and plots.
#include <signal.h>
#include <unistd.h>

#include <csignal>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "apps/common/cli.hh"
#include "apps/kernel/netns.hh"
#include "apps/twstack/lab/lab.hh"
#include "apps/twstack/lab/lab_compare.hh"
#include "apps/twstack/lab/lab_kernel.hh"
#include "apps/twstack/lab/lab_linerate.hh"
#include "apps/twstack/lab/lab_report.hh"

namespace twstack::app {
namespace {

// The options as given.
struct Args {
  bool sim = false;
  bool kernel = false;     // --kernel: the Linux column, or an error saying why it cannot run
  bool no_kernel = false;  // --no-kernel
  std::vector<std::string> only;
  std::optional<std::string> out;
  std::uint64_t seed = 1;
  bool json = false;
  bool print_default = false;
  bool line_rate = false;
  std::vector<std::string> files;
};

void add_options(CLI::App& app, Args* a) {
  app.add_flag("--sim", a->sim, "run in virtual time over drivers/memory instead of two processes over net_memif");
  CLI::Option* on = app.add_flag("--kernel", a->kernel,
                                 "run every scenario on this machine's Linux kernel too, in two network namespaces "
                                 "over veth (the default where root and namespaces are available; not with --sim)");
  app.add_flag("--no-kernel", a->no_kernel, "twstack only: no Linux column")->excludes(on);
  app.add_option("--only", a->only, "run only this scenario (repeatable)")->type_name("NAME");
  app.add_option("--out", a->out, "the report folder (default lab-report/<mode>-<date>-<time>)")->type_name("DIR");
  app.add_option("--seed", a->seed, "--sim: the seed of the engines' secrets (default 1)")
      ->type_name("S")->transform(whole(0, UINT64_MAX));
  app.add_flag("--json", a->json, "print summary.json instead of the table");
  app.add_flag("--print-default", a->print_default,
               "print the default scenario set (the file format, to copy and edit) and exit; with --line-rate, that set");
  app.add_flag("--line-rate", a->line_rate,
               "run the line-rate set instead of the default: flat out, 60 s TIME_WAIT, millions of entries, about 5 min");
  app.add_option("FILE", a->files, "scenario files (default: the default set)")->expected(0, 64);
}

constexpr std::string_view kDescription =
    "Runs TIME_WAIT scenarios end to end and sets each prediction beside its measurement: the\n"
    "first connect() failure (exhaustion after 4-tuples / rate seconds), the TIME_WAIT\n"
    "population (rate x TIME_WAIT length, capped by tcp_max_tw_buckets), tcp_tw_reuse takeovers\n"
    "(TcpExtTWRecycled), cap overflows (TcpExtTCPTimeWaitOverflow) and CPS, with a verdict that\n"
    "says where and why a measurement differs.\n"
    "\n"
    "Without FILE arguments it runs the default set (twstack lab --print-default shows it):\n"
    "port exhaustion with the client closing and tcp_tw_reuse=0; the same with tcp_tw_reuse=1 (with\n"
    "twstack's own port choice and with Linux's port search), and without timestamps; the server\n"
    "closing under a tcp_max_tw_buckets cap; keep-alive;\n"
    "more 4-tuples; tcp_fin_timeout; tcp_max_tw_buckets on the client; tcp_tw_reuse=2 off loopback.\n"
    "Every scenario keeps Linux's 60 s TIME_WAIT on both stacks; port ranges and rates are chosen so\n"
    "each outcome shows within seconds.\n"
    "\n"
    "Each scenario also runs on this machine's Linux kernel (--kernel, the default as root): two\n"
    "network namespaces joined by veth, the scenario's knobs as each namespace's sysctls, an epoll\n"
    "churn client and server (apps/kernel) pinned like twstack's lcores. The table sets predicted,\n"
    "Linux and twstack side by side, with a verdict on whether twstack agrees with Linux, and why\n"
    "not where it does not. twstack-only knobs (twstack.*) are named, with what Linux does instead.\n"
    "The namespaces are removed at the end, on a failure and on Ctrl-C.\n"
    "\n"
    "By default each scenario runs in real time as two processes, `twstack serve` and `twstack\n"
    "churn`, one core each, joined by net_memif (no NIC, no hugepages; as root). --sim runs the\n"
    "same application code on two engines over the in-memory link in virtual time: seconds of\n"
    "wall time for minutes of virtual time, and the same outcomes but for wall-clock rates.\n"
    "\n"
    "The default set ends with one short flat-out scenario (left out with --sim: flat out has no\n"
    "meaning in virtual time); --line-rate runs the line-rate set instead (--print-default --line-rate prints it): flat out\n"
    "(rate = 0) at the kernel's real values, 60 s TIME_WAIT, the widest and the default port\n"
    "ranges: the server closing over 4000 ports until its TIME_WAIT holds CPS x 60 s (millions of\n"
    "entries; twstack's table sized by a 4 s calibration run, and the population checked against\n"
    "the machine's memory first), then through the expiry wave; the client closing with\n"
    "tcp_tw_reuse=1 (the ports / tcp_tw_reuse_delay ceiling) and with tcp_tw_reuse=0 (exhaustion,\n"
    "and the kernel's connect() latency as its range fills). Its plots are linerate.png: TIME_WAIT,\n"
    "CPS, connect latency percentiles and memory over time, for both stacks.\n"
    "\n"
    "The report folder holds summary.json, a CSV and a JSON series per scenario, and lab.png\n"
    "(one panel per scenario: TIME_WAIT on both sides for twstack and Linux, the prediction dashed,\n"
    "failures per second), drawn by gnuplot. Exit status 0 when every scenario ran (whatever the\n"
    "verdicts), 1 otherwise, 130 when interrupted.";

std::string self_binary() {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
  // Rebuilt while the lab runs: the image this process runs is still there.
  if (!ec && p.string().ends_with(" (deleted)")) return "/proc/" + std::to_string(::getpid()) + "/exe";
  return ec ? std::string("twstack") : p.string();
}

std::string default_out(bool sim) {
  char stamp[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&t));
  return std::string("lab-report/") + (sim ? "sim-" : "real-") + stamp;
}

std::vector<LabScenario> load(const Args& a) {
  std::vector<LabScenario> all;
  if (a.files.empty()) {
    const bool lr = a.line_rate;
    if (auto e = parse_lab_scenarios(lr ? line_rate_lab_scenarios() : default_lab_scenarios(),
                                     lr ? "(line-rate set)" : "(default set)", &all)) {
      throw std::logic_error(*e);
    }
  } else if (a.line_rate) {
    throw UsageError("--line-rate runs the line-rate set; scenario files say rate = 0 for flat out instead");
  }
  if (a.sim && a.files.empty() && !a.line_rate) {
    // The default set's flat-out scenario has no meaning in virtual time.
    std::erase_if(all, [](const LabScenario& s) { return s.line_rate(); });
  }
  for (const LabScenario& s : all) {
    if (a.sim && s.line_rate()) {
      throw UsageError("[" + s.name + "] is flat out (rate = 0), which runs in real time only, not with --sim");
    }
  }
  for (const std::string& f : a.files) {
    std::ifstream in{f};
    if (!in) throw UsageError("cannot read scenario file '" + f + "'");
    std::stringstream text;
    text << in.rdbuf();
    if (auto e = parse_lab_scenarios(text.str(), f, &all)) throw UsageError(*e);
  }
  if (a.only.empty()) return all;
  std::vector<LabScenario> picked;
  for (const std::string& name : a.only) {
    bool found = false;
    for (const LabScenario& s : all) {
      if (s.name == name) {
        picked.push_back(s);
        found = true;
      }
    }
    if (!found) throw UsageError("option --only: no scenario named '" + name + "'");
  }
  return picked;
}

// "[2/6] tw-reuse  3.1 s of ~10 s" on one rewritten line (a terminal), or a
// line per scenario (a pipe).
class Progress {
 public:
  explicit Progress(std::size_t total) : total_(total), tty_(::isatty(2) != 0) {}
  void begin(std::size_t i, const LabScenario& s, const char* on) {
    i_ = i;
    name_ = s.name;
    expect_ = s.duration_s + 2.0;
    if (!tty_) std::cerr << "[" << i + 1 << "/" << total_ << "] " << s.name << " on " << on << " (" << s.duration_s << " s)\n";
  }
  void linux_done(const LabResult& r) {
    std::cerr << "[" << i_ + 1 << "/" << total_ << "] " << r.scenario.name << " on Linux: "
              << (r.kernel->error.empty() ? r.kernel_verdict.line : "did not run: " + r.kernel->error) << " ("
              << static_cast<int>(r.kernel->wall_s * 10) / 10.0 << " s)\n";
  }
  void update(double done) {
    if (!tty_) return;
    std::fprintf(stderr, "\r[%zu/%zu] %-18s %5.1f s of ~%.0f s ", i_ + 1, total_, name_.c_str(), done, expect_);
  }
  void end(const LabResult& r) {
    if (tty_) std::fprintf(stderr, "\r%*s\r", 60, "");
    std::cerr << "[" << i_ + 1 << "/" << total_ << "] " << r.scenario.name << " on twstack: " << r.verdict.line << " ("
              << static_cast<int>(r.run.wall_s * 10) / 10.0 << " s)\n";
  }

 private:
  std::size_t total_;
  bool tty_;
  std::size_t i_ = 0;
  std::string name_;
  double expect_ = 0;
};

// SIGINT and SIGTERM end the run early, the namespaces and processes cleaned up.
volatile std::sig_atomic_t g_interrupted = 0;

void on_signal(int /*signo*/) { g_interrupted = 1; }

class SignalScope {
 public:
  SignalScope() {
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }
  ~SignalScope() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

 private:
  struct sigaction old_int_{};
  struct sigaction old_term_{};
};

// Whether the Linux column runs; why not in `skipped`. An error when asked
// for (--kernel) and impossible.
bool want_kernel(const Args& a, LabMode* mode) {
  if (a.sim) {
    mode->kernel_skipped = "--sim runs twstack only (virtual time has no kernel counterpart)";
    if (a.kernel) throw UsageError("--kernel and --sim: the Linux column runs in real time only");
    return false;
  }
  if (a.no_kernel) {
    mode->kernel_skipped = "--no-kernel";
    return false;
  }
  if (auto why = kernel_churn::netns_unavailable()) {
    if (a.kernel) throw UsageError("--kernel: " + *why);
    mode->kernel_skipped = *why;
    return false;
  }
  mode->linux_release = kernel_churn::kernel_release();
  kernel_churn::remove_stale_netns("ip", "twlab");  // left by a lab killed with SIGKILL
  return true;
}

void run_linux(std::size_t i, LabResult& r) {
  if (auto why = kernel_cannot_run(r.scenario)) {
    r.kernel_skipped = *why;
    return;
  }
  const std::string prefix = "twlab-" + std::to_string(::getpid()) + "-" + std::to_string(i);
  r.kernel = run_lab_kernel(r.scenario, "ip", prefix, g_interrupted);
  if (r.scenario.line_rate()) return;  // judged with twstack's run: judge_line_rate
  if (r.kernel->error.empty()) {
    r.kernel_verdict = judge(r.scenario, r.prediction, r.kernel->m, LabClock::kReal, PortSearch::kLinux);
    if (r.run.error.empty()) r.comparison = compare_with_linux(r.scenario, r.kernel->m, r.run.m);
  } else {
    r.kernel_verdict.ok = false;
    r.kernel_verdict.line = "did not run";
  }
}

// tw_capacity = auto: a short flat-out run of twstack measures its CPS (its
// best second), and the table gets room for 1.5 x CPS x the TIME_WAIT length,
// or x the run's duration when that is shorter (the population the run can
// reach): 32 + 7.3 x 1.5 = 43 bytes per entry at that population.
std::optional<std::string> calibrate(LabScenario* s, const std::string& work) {
  LabScenario c = *s;
  c.name = s->name + "-calibration";
  c.duration_s = 4;
  c.tw_capacity = 4'000'000;
  c.tw_capacity_auto = false;
  const LabRun run = run_lab_real(c, self_binary(), work, nullptr, &g_interrupted);
  if (!run.error.empty()) return "the calibration run failed: " + run.error;
  double cps = 0;  // the best whole second: the table must hold what the run can do
  for (const LabSample& x : run.series) {
    if (x.t >= 2) cps = std::max(cps, static_cast<double>(x.completed));
  }
  const double len = std::min<double>(
      (s->closer == Closer::kClient ? s->client : s->server).tcp_timewait_len.secs(), s->duration_s);
  s->tw_capacity = tw_capacity_for(cps, len);
  std::cerr << "[" << s->name << "] calibration: " << static_cast<std::uint64_t>(cps) << " CPS flat out, so tw_capacity "
            << s->tw_capacity << " (1.5 x CPS x " << len << " s)\n";
  return std::nullopt;
}

// One scenario on twstack, then on Linux.
LabResult run_scenario(std::size_t i, const LabScenario& scenario, const Args& a, bool kernel, const LabMode& mode,
                       const std::string& work, Progress& progress) {
  LabResult r;
  r.scenario = scenario;
  const bool lr = r.scenario.line_rate();
  if (!lr) r.prediction = predict(r.scenario);
  r.twstack_only = twstack_only_knobs(r.scenario);
  progress.begin(i, r.scenario, "twstack");
  auto tick = [&](double d) { progress.update(d); };
  if (lr && r.scenario.tw_capacity_auto) {
    if (auto e = calibrate(&r.scenario, work)) r.run.error = *e;
  }
  if (lr && r.run.error.empty()) {
    if (auto e = line_rate_memory_check(r.scenario, kernel)) r.run.error = *e;
  }
  if (lr && r.scenario.tw_capacity != 0) {
    r.twstack_only.push_back("tw_capacity " + std::to_string(r.scenario.tw_capacity) +
                             " sizes twstack's table (its tcp_max_tw_buckets) on the closing side; Linux keeps its own");
  }
  if (r.run.error.empty()) {
    r.run = a.sim ? run_lab_sim(r.scenario, a.seed, tick)
                  : run_lab_real(r.scenario, self_binary(), work, tick, &g_interrupted);
  }
  if (r.run.error.empty() && !lr) {
    r.verdict = judge(r.scenario, r.prediction, r.run.m, a.sim ? LabClock::kVirtual : LabClock::kReal);
  } else if (!r.run.error.empty()) {
    r.verdict.ok = false;
    r.verdict.line = "did not run";
  }
  if (!lr) progress.end(r);
  const bool ran = r.run.error.empty();
  if (kernel && g_interrupted == 0 && (ran || !lr)) {
    run_linux(i, r);
  } else if (!kernel) {
    r.kernel_skipped = mode.kernel_skipped;
  }
  if (lr) {
    judge_line_rate(&r);
    if (!ran) r.verdict.line = "did not run";
    progress.end(r);
  }
  if (r.kernel) progress.linux_done(r);
  return r;
}

int run_lab(const Args& a, std::ostream& out, std::ostream& err, bool have_dpdk) {
  if (a.print_default) {
    out << (a.line_rate ? line_rate_lab_scenarios() : default_lab_scenarios());
    return 0;
  }
  const bool sim = a.sim;
  const std::vector<LabScenario> scenarios = load(a);
  const std::string dir = a.out.value_or(default_out(sim));
  if (!sim && !have_dpdk) {
    err << "twstack lab: this twstack was built without DPDK, so it cannot run the real-time processes; --sim runs without\n";
    return 1;
  }
  if (!sim && ::geteuid() != 0) {
    err << "twstack lab: the real-time run starts DPDK processes on net_memif and needs root; --sim runs without\n";
    return 1;
  }
  LabMode mode;
  mode.sim = sim;
  const bool kernel = want_kernel(a, &mode);
  // The populations asked for must fit before anything starts (tw_capacity =
  // auto is checked once its calibration has sized it).
  for (const LabScenario& s : scenarios) {
    if (!s.line_rate() || s.tw_capacity_auto) continue;
    if (auto e = line_rate_memory_check(s, kernel)) {
      err << "twstack lab: " << *e << "\n";
      return 1;
    }
  }
  const SignalScope signals;
  g_interrupted = 0;
  const std::string work = "/tmp/twstack-lab-" + std::to_string(::getpid());
  std::filesystem::create_directories(work);
  std::vector<LabResult> results;
  Progress progress(scenarios.size());
  bool all_ran = true;
  for (std::size_t i = 0; i < scenarios.size() && g_interrupted == 0; ++i) {
    LabResult r = run_scenario(i, scenarios[i], a, kernel, mode, work, progress);
    if (!r.run.error.empty() || (r.kernel && !r.kernel->error.empty())) all_ran = false;
    results.push_back(std::move(r));
  }
  if (g_interrupted != 0) {
    err << "twstack lab: interrupted; the namespaces and processes are gone, the report has the scenarios so far\n";
    all_ran = false;
  }
  const std::string plots = write_lab_report(dir, results, mode);
  if (a.json) {
    print_lab_json(out, results, mode);
  } else {
    print_lab_table(out, results, mode);
  }
  std::error_code ec;
  const std::string abs = std::filesystem::absolute(dir, ec).string();
  out << "\nreport: " << abs << (plots.empty() ? " (lab.png, summary.json, a CSV and a JSON series per scenario)" : "")
      << "\n";
  if (!plots.empty()) out << plots << "\n";
  if (all_ran) std::filesystem::remove_all(work, ec);  // sockets and logs; kept when a run failed
  if (g_interrupted != 0) return 130;
  return all_ran ? 0 : 1;
}

}  // namespace

Command add_lab_command(CLI::App& top, bool have_dpdk) {
  return add_command(top, "lab",
                     "run the TIME_WAIT scenarios (default set or FILEs): predictions, measurements, verdicts, plots",
                     kDescription, add_options, [have_dpdk](const Args& a, std::ostream& out, std::ostream& err) {
                       return run_lab(a, out, err, have_dpdk);
                     });
}

}  // namespace twstack::app
