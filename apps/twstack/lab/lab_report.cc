#include "apps/twstack/lab/lab_report.hh"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <ostream>

#include "apps/common/json.hh"
#include "apps/common/spawn.hh"
#include "apps/twstack/lab/lab_linerate.hh"

namespace twstack::app {
namespace {

// A cell padded to its column; one wider than its column keeps two spaces
// before the next, so the columns never run together.
std::string pad(std::string s, std::size_t w) {
  s += std::string(s.size() + 2 <= w ? w - s.size() : 2, ' ');
  return s;
}

Json json_measurement(const LabMeasurement& m) {
  Json j;
  j["attempts"] = m.attempts;
  j["ok"] = m.ok;
  j["failed"] = m.failed;
  j["completed"] = m.completed;
  j["first_failure_s"] = m.first_failure_s ? Json(*m.first_failure_s) : Json(nullptr);
  j["first_errno"] = m.first_failure_s ? Json(m.first_errno) : Json(nullptr);
  j["client_timewait_peak"] = m.client_tw_peak;
  j["client_timewait_end"] = m.client_tw_end;
  j["server_timewait_peak"] = m.server_tw_peak;
  j["server_timewait_end"] = m.server_tw_end;
  j["recycled"] = m.recycled;
  j["client_overflow"] = m.client_overflow;
  j["server_overflow"] = m.server_overflow;
  j["cps"] = m.cps;
  j["restart_bind"] = m.restart_bind.empty() ? Json(nullptr) : Json(m.restart_bind);
  j["restart_rebind"] = m.restart_rebind.empty() ? Json(nullptr) : Json(m.restart_rebind);
  return j;
}

Json json_prediction(const LabPrediction& p) {
  Json j;
  j["tuples"] = p.tuples;
  j["timewait_len_s"] = p.timewait_len_s;
  j["reuse"] = p.reuse;
  j["attempts"] = p.attempts;
  j["first_failure_s"] = p.exhaustion_s ? Json(*p.exhaustion_s) : Json(nullptr);
  j["first_errno"] = p.exhaustion_s ? Json("EADDRNOTAVAIL") : Json(nullptr);
  j["client_timewait_peak"] = p.client_tw_peak;
  j["client_timewait_end"] = p.client_tw_end;
  j["server_timewait_peak"] = p.server_tw_peak;
  j["server_timewait_end"] = p.server_tw_end;
  j["recycled"] = p.recycled;
  j["overflow"] = p.overflow;
  j["sustainable_rate"] = p.sustainable_rate;
  j["restart_bind"] = p.restart_bind.empty() ? Json(nullptr) : Json(p.restart_bind);
  j["restart_rebind"] = p.restart_rebind.empty() ? Json(nullptr) : Json(p.restart_rebind);
  j["why"] = p.why;
  return j;
}

Json json_series(const std::vector<LabSample>& series) {
  Json a = Json::array();
  for (const LabSample& x : series) {
    Json j{{"t", x.t}, {"ok", x.ok}, {"failed", x.failed}, {"errors", x.errors}, {"cps", x.completed},
           {"client_timewait", x.client_tw}, {"server_timewait", x.server_tw}};
    if (x.client_busy >= 0) j["client_busy"] = x.client_busy;
    if (x.server_busy >= 0) j["server_busy"] = x.server_busy;
    a.push_back(std::move(j));
  }
  return a;
}

// The scenario's settings, as the first keys of `j`.
void json_scenario(Json& j, const LabScenario& s) {
  j["name"] = s.name;
  j["title"] = s.title;
  j["rate"] = s.rate;
  j["duration_s"] = s.duration_s;
  j["closer"] = s.hold ? "never" : closer_name(s.closer);
  j["requests_per_conn"] = s.requests_per_conn;
  if (s.restart_after_s != 0) {
    j["restart_after_s"] = s.restart_after_s;
    j["restart_reuseaddr"] = s.restart_reuseaddr;
  }
  j["server_ports"] = s.server_ports;
  j["set"] = s.both_sets;
  j["client_set"] = s.client_sets;
  j["server_set"] = s.server_sets;
}

// The closing side's TIME_WAIT the arithmetic gives at t: rate x min(t, len),
// held at the cap, and on the client at the 4-tuples.
double predicted_tw(const LabResult& r, std::uint32_t t) {
  const LabScenario& s = r.scenario;
  if (s.line_rate()) return std::nan("");  // flat out: lab_linerate.cc's own plots
  const bool client = s.closer == Closer::kClient;
  double limit = static_cast<double>((client ? s.client : s.server).tcp_max_tw_buckets);
  if (client) limit = std::min(limit, static_cast<double>(r.prediction.tuples));
  return std::min(static_cast<double>(s.rate) * std::min<double>(t, r.prediction.timewait_len_s), limit);
}

// One panel per scenario: TIME_WAIT on both sides (left axis) for twstack
// (solid) and Linux (dotted, same colours), the prediction dashed, failures
// per second (right axis), the predicted first failure as a vertical line.
// Paths are absolute (`dir`), so gnuplot runs from anywhere.
std::string gnuplot_script(const std::filesystem::path& dir, const std::vector<const LabResult*>& results,
                           const LabMode& mode) {
  const std::size_t n = results.size();
  const std::size_t cols = n > 1 ? 2 : 1, rows = (n + cols - 1) / cols;
  const std::string linux_name = mode.linux_release.empty() ? "" : ", Linux " + mode.linux_release + " over veth";
  std::string g = "set terminal pngcairo size " + std::to_string(720 * cols) + "," + std::to_string(400 * rows) +
                  " font 'sans,9'\nset output " + gp_quote((dir / "lab.png").string()) + "\nset datafile separator ','\n" +
                  "set multiplot layout " + std::to_string(rows) + "," + std::to_string(cols) + " title " +
                  gp_quote("twstack lab (" + std::string(mode.sim ? "virtual time" : "real time, net\\_memif") + linux_name + ")") +
                  "\nset key below horizontal font ',8'\nset offsets 0, 0, graph 0.12, 0\nset xlabel 'seconds'\nset ylabel 'TIME\\_WAIT entries'\n"
                  "set y2label 'failed per second'\nset ytics nomirror\nset y2tics\nset grid\nset yrange [0:*]\nset y2range [0:*]\n";
  for (const LabResult* rp : results) {
    const LabResult& r = *rp;
    g += "unset arrow\n";
    if (r.prediction.exhaustion_s) {
      char a[160];
      std::snprintf(a, sizeof a, "set arrow from %.3f, graph 0 to %.3f, graph 1 nohead dt 2 lc rgb 'gray'\n",
                    *r.prediction.exhaustion_s, *r.prediction.exhaustion_s);
      g += a;
    }
    const std::string verdict = r.kernel && r.kernel->error.empty() ? "twstack vs Linux: " + r.comparison.line
                                                                   : "twstack: " + r.verdict.line;
    g += "set title " + gp_quote(r.scenario.name + ": " + verdict) + " noenhanced\n";
    g += "set xrange [0:" + std::to_string(r.scenario.duration_s) + "]\n";
    const std::string csv = gp_quote((dir / (r.scenario.name + ".csv")).string());
    g += "plot " + csv + " using 1:12 with lines dt 2 lw 2 lc rgb 'gray40' title 'predicted TIME\\_WAIT (" +
         closer_name(r.scenario.closer) + ")'";
    if (!r.run.series.empty()) {
      g += ", '' using 1:5 with lines lw 2 lc 1 title 'twstack client TW', "
           "'' using 1:6 with lines lw 2 lc 2 title 'twstack server TW', "
           "'' using 1:3 axes x1y2 with impulses lw 4 lc 1 title 'twstack failed/s'";
    }
    if (r.kernel && !r.kernel->series.empty()) {
      g += ", '' using 1:10 with linespoints pt 6 lw 2 lc 3 dt 3 title 'Linux client TW', "
           "'' using 1:11 with linespoints pt 4 lw 2 lc 4 dt 3 title 'Linux server TW', "
           "'' using ($1+0.15):8 axes x1y2 with impulses lw 4 lc 3 title 'Linux failed/s'";
    }
    g += "\n";
  }
  return g + "unset multiplot\n";
}

}  // namespace

std::string gp_quote(std::string_view s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

namespace {

std::string linux_header(const LabMode& mode) {
  return mode.linux_release.empty() ? "Linux" : "Linux " + mode.linux_release;
}

// The Linux column of one scenario.
std::string linux_cell(const LabResult& r) {
  if (!r.kernel) return "skipped (below)";
  if (!r.kernel->error.empty()) return "did not run (below)";
  return r.kernel->m.summary;
}

void print_checks(std::ostream& out, const char* who, const LabVerdict& v) {
  for (const std::string& c : v.checks) {
    if (c.starts_with("DIFFERS")) out << "  " << who << c << "\n";
  }
}

}  // namespace

void print_lab_table(std::ostream& out, const std::vector<LabResult>& results, const LabMode& mode) {
  out << "\ntwstack lab, " << (mode.sim ? "virtual time (drivers/memory)" : "real time (two processes over net_memif)");
  if (!mode.linux_release.empty()) out << "; Linux " << mode.linux_release << " (two network namespaces over veth)";
  out << "\n";
  if (!mode.kernel_skipped.empty()) out << "Linux column skipped: " << mode.kernel_skipped << "\n";
  out << "\n";
  const std::size_t wn = 22, wp = 44, wm = 56;
  out << pad("scenario", wn) << pad("predicted", wp) << pad(linux_header(mode), wm) << pad("twstack", wm)
      << "verdict (twstack vs Linux)\n";
  for (const LabResult& r : results) {
    const std::string measured = r.run.error.empty() ? r.run.m.summary : "did not run (below)";
    std::string verdict = "-";
    if (r.kernel && r.kernel->error.empty() && r.run.error.empty()) verdict = r.comparison.line;
    out << pad(r.scenario.name, wn) << pad(r.prediction.summary, wp) << pad(linux_cell(r), wm) << pad(measured, wm)
        << verdict << "\n";
  }
  out << "\n";
  for (const LabResult& r : results) {
    out << r.scenario.name << ": " << r.scenario.title << "\n  " << r.prediction.why << "\n";
    for (const std::string& k : r.twstack_only) out << "  " << k << "\n";
    if (!r.kernel_skipped.empty()) out << "  Linux: " << r.kernel_skipped << "\n";
    if (r.kernel && r.scenario.loopback) {
      out << "  Linux: one namespace over lo (127.0.0.1 -> 127.0.0.2); its TIME_WAIT, both sides' together, is the "
             "closer's; twstack: 127.0.0.1 and 127.0.0.2 over net_memif\n";
    }
    if (r.kernel && !r.kernel->error.empty()) out << "  Linux did not run: " << r.kernel->error << "\n";
    if (!r.run.error.empty()) out << "  twstack did not run: " << r.run.error << "\n";
    if (r.kernel && r.kernel->error.empty()) print_checks(out, "Linux vs predicted: ", r.kernel_verdict);
    if (r.run.error.empty()) print_checks(out, "twstack vs predicted: ", r.verdict);
    if (r.kernel && r.kernel->error.empty() && r.run.error.empty()) print_checks(out, "twstack vs Linux: ", r.comparison);
  }
  out << "\nTIME_WAIT is Linux's fixed 60 s on both sides unless a scenario says it is twstack-only (compressed).\n";
  if (!mode.sim) out << "CPS is the wall-clock rate each run held; --sim runs the same scenarios in virtual time.\n";
}

namespace {

Json counters_json(const LabRun& run) {
  return Json{{"client", run.client_counters}, {"server", run.server_counters}};
}

Json verdict_json(const LabVerdict& v) { return Json{{"line", v.line}, {"agrees", v.ok}, {"checks", v.checks}}; }

Json lab_json(const std::vector<LabResult>& results, const LabMode& mode) {
  Json j;
  j["mode"] = mode.sim ? "sim" : "real";
  j["linux_release"] = mode.linux_release.empty() ? Json(nullptr) : Json(mode.linux_release);
  j["kernel_skipped"] = mode.kernel_skipped.empty() ? Json(nullptr) : Json(mode.kernel_skipped);
  Json& scenarios = j["scenarios"] = Json::array();
  for (const LabResult& r : results) {
    Json x;
    json_scenario(x, r.scenario);
    x["predicted"] = json_prediction(r.prediction);
    x["measured"] = json_measurement(r.run.m);
    x["counters"] = counters_json(r.run);
    x["verdict"] = r.verdict.line;
    x["agrees"] = r.verdict.ok;
    x["checks"] = r.verdict.checks;
    if (!r.run.error.empty()) x["error"] = r.run.error;
    x["wall_s"] = r.run.wall_s;
    x["twstack_only"] = r.twstack_only;
    if (r.scenario.line_rate()) x["line_rate"] = line_rate_json(r);
    if (r.kernel) {
      Json k;
      k["measured"] = json_measurement(r.kernel->m);
      k["counters"] = counters_json(*r.kernel);
      k["against_prediction"] = verdict_json(r.kernel_verdict);
      if (!r.kernel->error.empty()) k["error"] = r.kernel->error;
      k["wall_s"] = r.kernel->wall_s;
      x["linux"] = std::move(k);
      x["twstack_vs_linux"] = verdict_json(r.comparison);
    } else {
      x["linux"] = nullptr;
      x["linux_skipped"] = r.kernel_skipped.empty() ? mode.kernel_skipped : r.kernel_skipped;
    }
    scenarios.push_back(std::move(x));
  }
  return j;
}

void write_csv(const std::filesystem::path& path, const LabResult& r) {
  std::ofstream csv(path);
  csv << "t,ok,failed,cps,client_timewait,server_timewait,linux_ok,linux_failed,linux_cps,linux_client_timewait,"
         "linux_server_timewait,predicted_timewait\n";
  const auto at = [](const std::vector<LabSample>* v, std::uint32_t t) -> const LabSample* {
    if (v == nullptr) return nullptr;
    for (const LabSample& x : *v) {
      if (x.t == t) return &x;
    }
    return nullptr;
  };
  const auto put = [&](const LabSample* x) {
    if (x == nullptr) {
      csv << "NaN,NaN,NaN,NaN,NaN,";
      return;
    }
    csv << x->ok << "," << x->failed << "," << x->completed << "," << x->client_tw << "," << x->server_tw << ",";
  };
  const std::vector<LabSample>* k = r.kernel ? &r.kernel->series : nullptr;
  for (std::uint32_t t = 0; t <= r.scenario.duration_s; ++t) {
    csv << t << ",";
    put(at(&r.run.series, t));
    put(at(k, t));
    csv << predicted_tw(r, t) << "\n";
  }
}

}  // namespace

void print_lab_json(std::ostream& out, const std::vector<LabResult>& results, const LabMode& mode) {
  print_json_line(out, lab_json(results, mode));
}

std::string write_lab_report(const std::string& out_dir, const std::vector<LabResult>& results, const LabMode& mode) {
  const std::filesystem::path dir = std::filesystem::absolute(out_dir);
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir / "summary.json");
    print_lab_json(f, results, mode);
  }
  for (const LabResult& r : results) {
    write_csv(dir / (r.scenario.name + ".csv"), r);
    std::ofstream js(dir / (r.scenario.name + ".json"));
    Json j;
    json_scenario(j, r.scenario);
    j["per_second"] = json_series(r.run.series);
    j["linux_per_second"] = r.kernel ? json_series(r.kernel->series) : Json(nullptr);
    print_json_line(js, j);
  }
  // Flat-out scenarios have their own plots (linerate.png).
  std::vector<const LabResult*> paced;
  for (const LabResult& r : results) {
    if (!r.scenario.line_rate()) paced.push_back(&r);
  }
  if (paced.empty()) return write_line_rate_plots(dir.string(), results, mode);
  const std::string script = (dir / "lab.gp").string();
  {
    std::ofstream gp(script);
    gp << gnuplot_script(dir, paced, mode);
  }
  // No shell: the path goes to gnuplot as one argument, whatever it holds.
  const std::string log = (dir / "lab.gp.log").string();
  const ProgramResult p = run_program({"gnuplot", script}, log);
  if (p.spawn_error == ENOENT) {
    std::filesystem::remove(log);
    return "no plots: gnuplot is not installed (apt-get install gnuplot-nox); lab.gp is ready for it";
  }
  if (!p.ok()) return "no plots: gnuplot " + p.describe() + " (see " + log + ")";
  return write_line_rate_plots(dir.string(), results, mode);
}

}  // namespace twstack::app
