#include "apps/twstack/lab/lab_report.hh"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>

#include "apps/common/json.hh"

namespace twstack::app {
namespace {

std::string pad(std::string s, std::size_t w) {
  if (s.size() < w) s += std::string(w - s.size(), ' ');
  return s;
}

void json_measurement(JsonWriter& j, const LabMeasurement& m) {
  j.begin_object("measured").value("attempts", m.attempts).value("ok", m.ok).value("failed", m.failed);
  j.value("completed", m.completed);
  if (m.first_failure_s) {
    j.value("first_failure_s", *m.first_failure_s).value("first_errno", m.first_errno);
  } else {
    j.null("first_failure_s").null("first_errno");
  }
  j.value("client_timewait_peak", m.client_tw_peak).value("client_timewait_end", m.client_tw_end);
  j.value("server_timewait_peak", m.server_tw_peak).value("server_timewait_end", m.server_tw_end);
  j.value("recycled", m.recycled).value("client_overflow", m.client_overflow);
  j.value("server_overflow", m.server_overflow).value("cps", m.cps).end_object();
}

void json_prediction(JsonWriter& j, const LabPrediction& p) {
  j.begin_object("predicted").value("tuples", p.tuples).value("timewait_len_s", p.timewait_len_s);
  j.value("reuse", p.reuse).value("attempts", p.attempts);
  if (p.exhaustion_s) {
    j.value("first_failure_s", *p.exhaustion_s).value("first_errno", "EADDRNOTAVAIL");
  } else {
    j.null("first_failure_s").null("first_errno");
  }
  j.value("client_timewait_peak", p.client_tw_peak).value("client_timewait_end", p.client_tw_end);
  j.value("server_timewait_peak", p.server_tw_peak).value("server_timewait_end", p.server_tw_end);
  j.value("recycled", p.recycled).value("overflow", p.overflow).value("sustainable_rate", p.sustainable_rate);
  j.value("why", p.why).end_object();
}

void json_series(JsonWriter& j, const std::vector<LabSample>& series) {
  j.begin_array("per_second");
  for (const LabSample& x : series) {
    j.begin_object().value("t", x.t).value("ok", x.ok).value("failed", x.failed).value("cps", x.completed);
    j.value("client_timewait", x.client_tw).value("server_timewait", x.server_tw).end_object();
  }
  j.end_array();
}

void json_scenario(JsonWriter& j, const LabScenario& s) {
  j.value("name", s.name).value("title", s.title).value("rate", s.rate).value("duration_s", s.duration_s);
  j.value("closer", closer_name(s.closer)).value("requests_per_conn", s.requests_per_conn);
  j.begin_array("server_ports");
  for (std::uint16_t p : s.server_ports) j.value({}, std::uint32_t{p});
  j.end_array().begin_array("set");
  for (const std::string& x : s.both_sets) j.value({}, x);
  j.end_array().begin_array("client_set");
  for (const std::string& x : s.client_sets) j.value({}, x);
  j.end_array().begin_array("server_set");
  for (const std::string& x : s.server_sets) j.value({}, x);
  j.end_array();
}

// One panel per scenario: TIME_WAIT (left axis), CPS and failures per
// second (right axis), with the predicted first failure as a vertical line.
std::string gnuplot_script(const std::vector<LabResult>& results, bool sim) {
  const std::size_t n = results.size();
  const std::size_t cols = n > 1 ? 2 : 1, rows = (n + cols - 1) / cols;
  std::string g = "set terminal pngcairo size " + std::to_string(640 * cols) + "," + std::to_string(360 * rows) +
                  " font 'sans,9'\nset output 'lab.png'\nset datafile separator ','\n" +
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
    g += "set title '" + r.scenario.name + ": " + r.verdict.line + "'\n";
    g += "set xrange [0:" + std::to_string(r.scenario.duration_s) + "]\n";
    if (r.run.series.empty()) {
      g += "plot 1/0 notitle\n";  // the run failed: an empty panel keeps the layout
      continue;
    }
    g += "plot '" + r.scenario.name + ".csv' every ::1 using 1:5 with lines lw 2 title 'client TIME\\_WAIT', "
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

void print_lab_json(std::ostream& out, const std::vector<LabResult>& results, bool sim) {
  JsonWriter j(out);
  j.begin_object().value("mode", sim ? "sim" : "real").begin_array("scenarios");
  for (const LabResult& r : results) {
    j.begin_object();
    json_scenario(j, r.scenario);
    json_prediction(j, r.prediction);
    json_measurement(j, r.run.m);
    j.value("verdict", r.verdict.line).value("agrees", r.verdict.ok).begin_array("checks");
    for (const std::string& c : r.verdict.checks) j.value({}, c);
    j.end_array();
    if (!r.run.error.empty()) j.value("error", r.run.error);
    j.value("wall_s", r.run.wall_s).end_object();
  }
  j.end_array().end_object();
  out << "\n";
}

std::string write_lab_report(const std::string& dir, const std::vector<LabResult>& results, bool sim) {
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir + "/summary.json");
    print_lab_json(f, results, sim);
  }
  for (const LabResult& r : results) {
    std::ofstream csv(dir + "/" + r.scenario.name + ".csv");
    csv << "t,ok,failed,cps,client_timewait,server_timewait\n";
    for (const LabSample& x : r.run.series) {
      csv << x.t << "," << x.ok << "," << x.failed << "," << x.completed << "," << x.client_tw << "," << x.server_tw
          << "\n";
    }
    std::ofstream js(dir + "/" + r.scenario.name + ".json");
    JsonWriter j(js);
    j.begin_object();
    json_scenario(j, r.scenario);
    json_series(j, r.run.series);
    j.end_object();
    js << "\n";
  }
  {
    std::ofstream gp(dir + "/lab.gp");
    gp << gnuplot_script(results, sim);
  }
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    return "no plots: gnuplot is not installed (apt-get install gnuplot-nox); lab.gp is ready for it";
  }
  const std::string cmd = "cd '" + dir + "' && gnuplot lab.gp 2>lab.gp.log";
  if (std::system(cmd.c_str()) != 0) return "gnuplot failed: see " + dir + "/lab.gp.log";
  return "";
}

}  // namespace twstack::app
