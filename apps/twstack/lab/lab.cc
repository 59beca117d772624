// `twstack lab`: the seed scenarios end to end, each prediction beside its
// measurement, with a verdict, a report folder and plots.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "apps/common/cli.hh"
#include "apps/twstack/lab/lab.hh"
#include "apps/twstack/lab/lab_report.hh"

namespace twstack::app {
namespace {

// The options as given.
struct Args {
  bool sim = false;
  std::vector<std::string> only;
  std::optional<std::string> out;
  std::uint64_t seed = 1;
  bool json = false;
  bool print_default = false;
  std::vector<std::string> files;
};

void add_options(CLI::App& app, Args* a) {
  app.add_flag("--sim", a->sim, "run in virtual time over drivers/memory instead of two processes over net_memif");
  app.add_option("--only", a->only, "run only this scenario (repeatable)")->type_name("NAME");
  app.add_option("--out", a->out, "the report folder (default lab-report/<mode>-<date>-<time>)")->type_name("DIR");
  app.add_option("--seed", a->seed, "--sim: the seed of the engines' secrets (default 1)")
      ->type_name("S")->transform(whole(0, UINT64_MAX));
  app.add_flag("--json", a->json, "print summary.json instead of the table");
  app.add_flag("--print-default", a->print_default,
               "print the default scenario set (the file format, to copy and edit) and exit");
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
    "port exhaustion with the client closing and tcp_tw_reuse=0; the same with tcp_tw_reuse=1,\n"
    "and without timestamps; the server closing under a tcp_max_tw_buckets cap; keep-alive;\n"
    "more 4-tuples. Time is compressed (TIME_WAIT 10 s, 500 ports) and the output says so.\n"
    "\n"
    "By default each scenario runs in real time as two processes, `twstack serve` and `twstack\n"
    "churn`, one core each, joined by net_memif (no NIC, no hugepages; as root). --sim runs the\n"
    "same application code on two engines over the in-memory link in virtual time: seconds of\n"
    "wall time for minutes of virtual time, and the same outcomes but for wall-clock rates.\n"
    "\n"
    "The report folder holds summary.json, a CSV and a JSON series per scenario, and lab.png\n"
    "(one panel per scenario: TIME_WAIT on both sides, CPS and failures per second), drawn by\n"
    "gnuplot. Exit status 0 when every scenario ran (whatever the verdicts), 1 otherwise.";

std::string self_binary() {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
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
    if (auto e = parse_lab_scenarios(default_lab_scenarios(), "(default set)", &all)) throw std::logic_error(*e);
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
  void begin(std::size_t i, const LabScenario& s) {
    i_ = i;
    name_ = s.name;
    expect_ = s.duration_s + 2.0;
    if (!tty_) std::cerr << "[" << i + 1 << "/" << total_ << "] " << s.name << " (" << s.duration_s << " s)\n";
  }
  void update(double done) {
    if (!tty_) return;
    std::fprintf(stderr, "\r[%zu/%zu] %-18s %5.1f s of ~%.0f s ", i_ + 1, total_, name_.c_str(), done, expect_);
  }
  void end(const LabResult& r) {
    if (tty_) std::fprintf(stderr, "\r%*s\r", 60, "");
    std::cerr << "[" << i_ + 1 << "/" << total_ << "] " << r.scenario.name << ": " << r.verdict.line << " ("
              << static_cast<int>(r.run.wall_s * 10) / 10.0 << " s)\n";
  }

 private:
  std::size_t total_;
  bool tty_;
  std::size_t i_ = 0;
  std::string name_;
  double expect_ = 0;
};

int run_lab(const Args& a, std::ostream& out, std::ostream& err, bool have_dpdk) {
  if (a.print_default) {
    out << default_lab_scenarios();
    return 0;
  }
  const bool sim = a.sim;
  const std::uint64_t seed = a.seed;
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
  const std::string work = "/tmp/twstack-lab-" + std::to_string(::getpid());
  std::filesystem::create_directories(work);
  std::vector<LabResult> results;
  Progress progress(scenarios.size());
  bool all_ran = true;
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    LabResult r;
    r.scenario = scenarios[i];
    r.prediction = predict(r.scenario);
    progress.begin(i, r.scenario);
    auto tick = [&](double d) { progress.update(d); };
    r.run = sim ? run_lab_sim(r.scenario, seed, tick) : run_lab_real(r.scenario, self_binary(), work, tick);
    if (r.run.error.empty()) {
      r.verdict = judge(r.scenario, r.prediction, r.run.m, sim ? LabClock::kVirtual : LabClock::kReal);
    } else {
      r.verdict.ok = false;
      r.verdict.line = "did not run";
      all_ran = false;
    }
    progress.end(r);
    results.push_back(std::move(r));
  }
  const std::string plots = write_lab_report(dir, results, sim);
  if (a.json) {
    print_lab_json(out, results, sim);
  } else {
    print_lab_table(out, results, sim);
  }
  std::error_code ec;
  const std::string abs = std::filesystem::absolute(dir, ec).string();
  out << "\nreport: " << abs << (plots.empty() ? " (lab.png, summary.json, a CSV and a JSON series per scenario)" : "")
      << "\n";
  if (!plots.empty()) out << plots << "\n";
  if (all_ran) std::filesystem::remove_all(work, ec);  // sockets and logs; kept when a run failed
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
