// linerate.png: a row of four panels for each flat-out scenario -- TIME_WAIT
// population, CPS, connect latency percentiles (log scale), memory -- twstack
// solid, Linux dotted, from <scenario>-rate.csv.
#include <cerrno>
#include <filesystem>
#include <fstream>

#include "apps/common/spawn.hh"
#include "apps/twstack/lab/lab_linerate.hh"

namespace twstack::app {
namespace {

const LabSample* at(const std::vector<LabSample>* v, std::uint32_t t) {
  if (v == nullptr) return nullptr;
  for (const LabSample& x : *v) {
    if (x.t == t) return &x;
  }
  return nullptr;
}

// Columns: 1 t | twstack 2 cps, 3 TW (closer), 4-6 connect p50/p99/p99.9 us,
// 7 TW table bytes in use, 8 resident bytes, 9 longest loop iteration us (closer)
// | Linux 10 cps, 11 TW (closer), 12-14 connect p50/p99/p99.9 us, 15-16 connect()
// call p50/p99 us, 17 TIME_WAIT slab bytes.
void write_rate_csv(const std::filesystem::path& path, const LabResult& r) {
  std::ofstream csv(path);
  csv << "t,cps,timewait,connect_p50_us,connect_p99_us,connect_p999_us,timewait_bytes,rss_bytes,loop_max_us,"
         "linux_cps,linux_timewait,linux_connect_p50_us,linux_connect_p99_us,linux_connect_p999_us,"
         "linux_connect_call_p50_us,linux_connect_call_p99_us,linux_slab_bytes\n";
  const bool server = r.scenario.closer == Closer::kServer;
  const std::vector<LabSample>* k = r.kernel ? &r.kernel->series : nullptr;
  for (std::uint32_t t = 1; t <= r.scenario.duration_s; ++t) {
    csv << t;
    if (const LabSample* x = at(&r.run.series, t)) {
      csv << "," << x->completed << "," << (server ? x->server_tw : x->client_tw) << "," << x->connect_us.p50 << ","
          << x->connect_us.p99 << "," << x->connect_us.p999 << "," << (server ? x->server_tw_bytes : x->client_tw_bytes)
          << "," << (server ? x->server_rss : x->client_rss) << ","
          << (server ? x->server_loop_max_us : x->client_loop_max_us);
    } else {
      csv << ",NaN,NaN,NaN,NaN,NaN,NaN,NaN,NaN";
    }
    if (const LabSample* x = at(k, t)) {
      csv << "," << x->completed << "," << (server ? x->server_tw : x->client_tw) << "," << x->connect_us.p50 << ","
          << x->connect_us.p99 << "," << x->connect_us.p999 << "," << x->connect_call_us.p50 << ","
          << x->connect_call_us.p99 << "," << x->client_tw_bytes;
    } else {
      csv << ",NaN,NaN,NaN,NaN,NaN,NaN,NaN,NaN";
    }
    csv << "\n";
  }
}

std::string script(const std::filesystem::path& dir, const std::vector<const LabResult*>& rs, const LabMode& mode) {
  const std::string linux_name = mode.linux_release.empty() ? "" : ", Linux " + mode.linux_release + " over veth";
  std::string g = "set terminal pngcairo size 1800," + std::to_string(330 * rs.size()) + " font 'sans,9'\n" +
                  "set output " + gp_quote((dir / "linerate.png").string()) + "\nset datafile separator ','\n" +
                  "set multiplot layout " + std::to_string(rs.size()) + ",4 title " +
                  gp_quote("twstack lab --line-rate (twstack over net\\_memif, one core a side" + linux_name + ")") +
                  "\nset key top left font ',7'\nset grid\nset xlabel 'seconds'\n";
  for (const LabResult* r : rs) {
    const std::string csv = gp_quote((dir / (r->scenario.name + "-rate.csv")).string());
    const bool k = r->kernel && !r->kernel->series.empty();
    const std::string side = r->scenario.closer == Closer::kServer ? "server" : "client";
    g += "unset logscale y\nset yrange [0:*]\nset format y '%.1s%c'\n";
    g += "set title " + gp_quote(r->scenario.name + ": TIME\\_WAIT (" + side + ")") + "\nplot " + csv +
         " using 1:3 with lines lw 2 lc 1 title 'twstack'";
    if (k) g += ", '' using 1:11 with linespoints pt 6 dt 3 lw 2 lc 3 title 'Linux'";
    g += "\nset title " + gp_quote(r->scenario.name + ": connections/s") + "\nplot " + csv +
         " using 1:2 with lines lw 2 lc 1 title 'twstack'";
    if (k) g += ", '' using 1:10 with linespoints pt 6 dt 3 lw 2 lc 3 title 'Linux'";
    g += "\nset logscale y\nset yrange [*:*]\nset format y '%g'\nset title " +
         gp_quote(r->scenario.name + ": connect latency (us)") + "\nplot " + csv +
         " using 1:4 with lines lw 2 lc 1 title 'twstack p50', '' using 1:5 with lines lw 1 lc 1 dt 2 title 'twstack p99', "
         "'' using 1:6 with lines lw 1 lc 1 dt 3 title 'twstack p99.9'";
    if (k) {
      g += ", '' using 1:12 with linespoints pt 6 lw 2 lc 3 title 'Linux p50', '' using 1:13 with lines lw 1 lc 3 dt 2 "
           "title 'Linux p99', '' using 1:15 with linespoints pt 4 lw 2 lc 4 title 'Linux connect() call p50', "
           "'' using 1:16 with lines lw 1 lc 4 dt 2 title 'Linux connect() call p99'";
    }
    g += "\nunset logscale y\nset yrange [0:*]\nset format y '%.1s%c'\nset title " +
         gp_quote(r->scenario.name + ": memory (bytes)") + "\nplot " + csv +
         " using 1:7 with lines lw 2 lc 1 title 'twstack TIME\\_WAIT table in use', '' using 1:8 with lines lw 1 lc 2 "
         "title 'twstack process resident'";
    if (k) g += ", '' using 1:17 with linespoints pt 6 dt 3 lw 2 lc 3 title 'Linux tw\\_sock\\_TCP + bind slabs'";
    g += "\n";
  }
  return g + "unset multiplot\n";
}

Json percentiles_json(const Percentiles& p) {
  return Json{{"n", p.count}, {"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}, {"p99.9", p.p999}, {"max", p.max}};
}

Json figures_json(const LabScenario& s, const LabRun& run, bool linux) {
  const double len = (s.closer == Closer::kClient ? s.client : s.server).tcp_timewait_len.secs();
  const LineRateFigures f = line_rate_figures(s, run, len, linux);
  Json j{{"cps_first", f.cps_first},
         {"cps_plateau", f.cps_plateau},
         {"cps_steady", f.cps_steady},
         {"timewait_peak", f.tw_peak},
         {"timewait_expected", f.tw_expected},
         {"timewait_bytes_at_peak", f.tw_bytes_at_peak},
         {"bytes_per_entry", f.bytes_per_entry},
         {"tcp_max_tw_buckets", run.tw_capacity},
         {"connect_us", percentiles_json(run.connect_us)},
         {"response_us", percentiles_json(run.response_us)}};
  if (f.wave) {
    j["expiry_wave"] = Json{{"cps_min", f.cps_min_wave}, {"expired_per_s", f.expired_per_s},
                            {"loop_max_us", f.loop_max_wave_us}};
  }
  if (linux) {
    j["connect_call_us"] = percentiles_json(run.connect_call_us);
    j["slab_tw_objsize"] = run.slab_tw_objsize;
    if (f.half_t != 0) {
      j["connect_call_half_range"] = Json{{"t", f.half_t}, {"p50_first_us", f.call_p50_first_us},
                                          {"p50_us", f.call_p50_half_us}, {"p99_us", f.call_p99_half_us}};
    }
  } else {
    j["loop_max_us"] = f.loop_max_us;
    j["server_loop_max_us"] = run.server_loop_max_us;
    j["client_loop_max_us"] = run.client_loop_max_us;
    j["server_rss_peak"] = run.server_rss_peak;
  }
  return j;
}

}  // namespace

Json line_rate_json(const LabResult& r) {
  Json j;
  j["tw_capacity"] = r.scenario.tw_capacity;
  j["twstack"] = r.run.error.empty() ? figures_json(r.scenario, r.run, false) : Json(nullptr);
  j["linux"] = r.kernel && r.kernel->error.empty() ? figures_json(r.scenario, *r.kernel, true) : Json(nullptr);
  return j;
}

std::string write_line_rate_plots(const std::string& out_dir, const std::vector<LabResult>& results,
                                  const LabMode& mode) {
  const std::filesystem::path dir = std::filesystem::absolute(out_dir);
  std::vector<const LabResult*> rs;
  for (const LabResult& r : results) {
    if (!r.scenario.line_rate()) continue;
    write_rate_csv(dir / (r.scenario.name + "-rate.csv"), r);
    rs.push_back(&r);
  }
  if (rs.empty()) return "";
  const std::string gp = (dir / "linerate.gp").string();
  {
    std::ofstream f(gp);
    f << script(dir, rs, mode);
  }
  const std::string log = (dir / "linerate.gp.log").string();
  const ProgramResult p = run_program({"gnuplot", gp}, log);
  if (p.spawn_error == ENOENT) return "no line-rate plot: gnuplot is not installed; linerate.gp is ready for it";
  if (!p.ok()) return "no line-rate plot: gnuplot " + p.describe() + " (see " + log + ")";
  return "";
}

}  // namespace twstack::app
