#include "apps/twstack/lab/lab_report.hh"

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <ostream>

#include "apps/common/json.hh"
#include "apps/common/spawn.hh"

namespace twstack::app {
namespace {

std::string pad(std::string s, std::size_t w) {
  if (s.size() < w) s += std::string(w - s.size(), ' ');
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
  j["why"] = p.why;
  return j;
}

Json json_series(const std::vector<LabSample>& series) {
  Json a = Json::array();
  for (const LabSample& x : series) {
    a.push_back(Json{{"t", x.t}, {"ok", x.ok}, {"failed", x.failed}, {"cps", x.completed},
                     {"client_timewait", x.client_tw}, {"server_timewait", x.server_tw}});
  }
  return a;
}

// The scenario's settings, as the first keys of `j`.
void json_scenario(Json& j, const LabScenario& s) {
  j["name"] = s.name;
  j["title"] = s.title;
  j["rate"] = s.rate;
  j["duration_s"] = s.duration_s;
  j["closer"] = closer_name(s.closer);
  j["requests_per_conn"] = s.requests_per_conn;
  j["server_ports"] = s.server_ports;
  j["set"] = s.both_sets;
  j["client_set"] = s.client_sets;
  j["server_set"] = s.server_sets;
}

// A gnuplot string: single-quoted, where nothing is special but the quote
// itself, written twice.
std::string gp_quote(std::string_view s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

// One panel per scenario: TIME_WAIT (left axis), CPS and failures per
// second (right axis), with the predicted first failure as a vertical line.
// Paths are absolute (`dir`), so gnuplot runs from anywhere.
std::string gnuplot_script(const std::filesystem::path& dir, const std::vector<LabResult>& results, bool sim) {
  const std::size_t n = results.size();
  const std::size_t cols = n > 1 ? 2 : 1, rows = (n + cols - 1) / cols;
  std::string g = "set terminal pngcairo size " + std::to_string(640 * cols) + "," + std::to_string(360 * rows) +
                  " font 'sans,9'\nset output " + gp_quote((dir / "lab.png").string()) + "\nset datafile separator ','\n" +
                  "set multiplot layout " + std::to_string(rows) + "," + std::to_string(cols) + " title 'twstack lab (" +
                  (sim ? "virtual time" : "real time, net\\_memif") + ")'\n" +
                  "set key below horizontal font ',8'\nset offsets 0, 0, graph 0.12, 0\nset xlabel 'seconds'\nset ylabel 'TIME\\_WAIT entries'\n"
                  "set y2label 'per second'\nset ytics nomirror\nset y2tics\nset grid\nset yrange [0:*]\nset y2range [0:*]\n";
  for (const LabResult& r : results) {
    g += "unset arrow\n";
    if (r.prediction.exhaustion_s) {
      char a[160];
      std::snprintf(a, sizeof a, "set arrow from %.3f, graph 0 to %.3f, graph 1 nohead dt 2 lc rgb 'gray'\n",
                    *r.prediction.exhaustion_s, *r.prediction.exhaustion_s);
      g += a;
    }
    g += "set title " + gp_quote(r.scenario.name + ": " + r.verdict.line) + "\n";
    g += "set xrange [0:" + std::to_string(r.scenario.duration_s) + "]\n";
    if (r.run.series.empty()) {
      g += "plot 1/0 notitle\n";  // the run failed: an empty panel keeps the layout
      continue;
    }
    g += "plot " + gp_quote((dir / (r.scenario.name + ".csv")).string()) +
         " every ::1 using 1:5 with lines lw 2 title 'client TIME\\_WAIT', "
         "'' every ::1 using 1:6 with lines lw 2 title 'server TIME\\_WAIT', "
         "'' every ::1 using 1:4 axes x1y2 with linespoints title 'CPS', "
         "'' every ::1 using 1:3 axes x1y2 with impulses lw 3 title 'failed/s'\n";
  }
  return g + "unset multiplot\n";
}

}  // namespace

void print_lab_table(std::ostream& out, const std::vector<LabResult>& results, bool sim) {
  out << "\ntwstack lab, " << (sim ? "virtual time (drivers/memory)" : "real time (two processes over net_memif)")
      << "\n\n";
  const std::size_t wn = 18, wp = 46, wm = 60;
  out << pad("scenario", wn) << pad("predicted", wp) << pad("measured", wm) << "verdict\n";
  for (const LabResult& r : results) {
    const std::string measured = r.run.error.empty() ? r.run.m.summary : "did not run (below)";
    out << pad(r.scenario.name, wn) << pad(r.prediction.summary, wp) << pad(measured, wm) << r.verdict.line << "\n";
  }
  out << "\n";
  for (const LabResult& r : results) {
    out << r.scenario.name << ": " << r.scenario.title << "\n  " << r.prediction.why << "\n";
    if (!r.run.error.empty()) out << "  did not run: " << r.run.error << "\n";
    for (const std::string& c : r.verdict.checks) {
      if (!r.verdict.ok || c.starts_with("DIFFERS")) out << "  " << c << "\n";
    }
  }
  out << "\nTime is compressed where a scenario sets twstack.tcp_timewait_len (Linux: 60 s) or a small\n"
         "ip_local_port_range (Linux: 28232 ports); the arithmetic is the same at full scale.\n";
  if (!sim) out << "CPS is the wall-clock rate each run held; --sim runs the same scenarios in virtual time.\n";
}

namespace {

Json lab_json(const std::vector<LabResult>& results, bool sim) {
  Json j;
  j["mode"] = sim ? "sim" : "real";
  Json& scenarios = j["scenarios"] = Json::array();
  for (const LabResult& r : results) {
    Json x;
    json_scenario(x, r.scenario);
    x["predicted"] = json_prediction(r.prediction);
    x["measured"] = json_measurement(r.run.m);
    x["verdict"] = r.verdict.line;
    x["agrees"] = r.verdict.ok;
    x["checks"] = r.verdict.checks;
    if (!r.run.error.empty()) x["error"] = r.run.error;
    x["wall_s"] = r.run.wall_s;
    scenarios.push_back(std::move(x));
  }
  return j;
}

}  // namespace

void print_lab_json(std::ostream& out, const std::vector<LabResult>& results, bool sim) {
  print_json_line(out, lab_json(results, sim));
}

std::string write_lab_report(const std::string& out_dir, const std::vector<LabResult>& results, bool sim) {
  const std::filesystem::path dir = std::filesystem::absolute(out_dir);
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir / "summary.json");
    print_lab_json(f, results, sim);
  }
  for (const LabResult& r : results) {
    std::ofstream csv(dir / (r.scenario.name + ".csv"));
    csv << "t,ok,failed,cps,client_timewait,server_timewait\n";
    for (const LabSample& x : r.run.series) {
      csv << x.t << "," << x.ok << "," << x.failed << "," << x.completed << "," << x.client_tw << "," << x.server_tw
          << "\n";
    }
    std::ofstream js(dir / (r.scenario.name + ".json"));
    Json j;
    json_scenario(j, r.scenario);
    j["per_second"] = json_series(r.run.series);
    print_json_line(js, j);
  }
  const std::string script = (dir / "lab.gp").string();
  {
    std::ofstream gp(script);
    gp << gnuplot_script(dir, results, sim);
  }
  // No shell: the path goes to gnuplot as one argument, whatever it holds.
  const std::string log = (dir / "lab.gp.log").string();
  const ProgramResult p = run_program({"gnuplot", script}, log);
  if (p.spawn_error == ENOENT) {
    std::filesystem::remove(log);
    return "no plots: gnuplot is not installed (apt-get install gnuplot-nox); lab.gp is ready for it";
  }
  if (!p.ok()) return "no plots: gnuplot " + p.describe() + " (see " + log + ")";
  return "";
}

}  // namespace twstack::app
