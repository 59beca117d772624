#include "apps/twstack/dpdk/dpdk_commands.hh"
#include "apps/twstack/dpdk/summary.hh"

#include <cmath>
#include <cstdio>
#include <ostream>

#include "apps/common/json.hh"

namespace twstack::app {

std::vector<Command> add_dpdk_commands(CLI::App& top) { return {add_serve_command(top), add_churn_command(top), add_flood_command(top)}; }
bool have_dpdk() { return true; }

std::uint64_t metric(const Metrics& m, std::string_view name) {
  for (const auto& [k, v] : m) {
    if (k == name) return v;
  }
  return 0;
}

std::string percentiles_text(const LatencyHistogram& h) {
  if (h.empty()) return "-";
  const Percentiles p = percentiles(h);
  char line[160];
  std::snprintf(line, sizeof line, "p50 %llu p90 %llu p99 %llu p99.9 %llu max %llu",
                static_cast<unsigned long long>(p.p50), static_cast<unsigned long long>(p.p90),
                static_cast<unsigned long long>(p.p99), static_cast<unsigned long long>(p.p999),
                static_cast<unsigned long long>(p.max));
  return line;
}

const LatencyHistogram* histogram(const Histograms& h, std::string_view name) {
  for (const auto& [k, v] : h) {
    if (k == name) return &v;
  }
  return nullptr;
}

namespace {

constexpr Counter kHeadline[] = {
    Counter::TcpActiveOpens,    Counter::TcpPassiveOpens,    Counter::TcpAttemptFails,
    Counter::TcpEstabResets,    Counter::TcpInSegs,          Counter::TcpOutSegs,
    Counter::TcpRetransSegs,    Counter::TcpOutRsts,         Counter::TcpInErrs,
    Counter::TcpExtTW,          Counter::TcpExtTWRecycled,   Counter::TcpExtTCPTimeWaitOverflow,
    Counter::TcpExtListenDrops, Counter::TwstackConnPoolExhausted, Counter::TwstackTxPoolExhausted,
};

void json_summary(std::ostream& out, std::string_view role, const RuntimeResult& r) {
  Json j;
  j["summary"] = true;
  j["role"] = std::string(role);
  j["seconds"] = r.seconds;
  const std::uint64_t first = metric(r.app, kFirstFailureUs);
  for (const auto& [k, v] : r.app) {
    if (k != kFirstFailureUs && k != kFirstErrno) j[k] = v;
  }
  if (role == "churn") {
    j["cps"] = r.seconds > 0 ? static_cast<double>(metric(r.app, "completed")) / r.seconds : 0.0;
    j["first_failure_s"] = first != 0 ? Json(static_cast<double>(first - 1) / 1e6) : Json(nullptr);
    j["first_errno"] = first != 0 ? Json(errno_name(static_cast<Errc>(metric(r.app, kFirstErrno)))) : Json(nullptr);
  }
  for (const auto& [name, h] : r.hist) j[name] = percentiles_json(h);
  j["timewait_peak"] = r.timewait_peak;
  j["timewait_end"] = r.gauges.timewait;
  j["timewait_bytes"] = r.gauges.timewait_bytes;
  j["timewait_reserved_bytes"] = r.gauges.timewait_reserved_bytes;
  j["rss_peak_bytes"] = r.rss_peak_bytes;
  j["loop_max_us"] = r.loop_max_us;
  j["busy"] = std::round(r.busy * 1000) / 1000;
  j["estab_end"] = r.gauges.estab;
  j["counters"] = counters_json(r.counters);
  Json& nic = j["nic"] = Json::object();
  for (const auto& [k, v] : r.nic) nic[k] = v;
  print_json_line(out, j);
}

}  // namespace

void print_summary(std::ostream& out, bool json, std::string_view role, const RuntimeResult& r) {
  if (json) return json_summary(out, role, r);
  char line[160];
  out << "\n" << role << " ran " << r.seconds << " s:";
  for (const auto& [k, v] : r.app) {
    if (k != kFirstFailureUs && k != kFirstErrno && (v != 0 || !k.starts_with("err_"))) out << " " << k << " " << v;
  }
  out << "\n";
  if (role == "churn") {
    const std::uint64_t first = metric(r.app, kFirstFailureUs);
    std::snprintf(line, sizeof line, "CPS %.0f (completed per second)\n",
                  r.seconds > 0 ? static_cast<double>(metric(r.app, "completed")) / r.seconds : 0.0);
    out << line;
    if (first != 0) {
      std::snprintf(line, sizeof line, "first failure at %.2f s: %s\n", static_cast<double>(first - 1) / 1e6,
                    errno_name(static_cast<Errc>(metric(r.app, kFirstErrno))));
      out << line;
    } else {
      out << "no failures\n";
    }
  }
  for (const auto& [name, h] : r.hist) out << name << ": " << percentiles_text(h) << " (" << h.count() << ")\n";
  out << "TIME_WAIT: peak " << r.timewait_peak << ", at the end " << r.gauges.timewait << "\n";
  std::snprintf(line, sizeof line,
                "memory: TIME_WAIT table %.1f MB in use (%.1f bytes per entry at the peak) of %.1f MB reserved, resident "
                "peak %.1f MB\n",
                static_cast<double>(r.gauges.timewait_bytes) / 1e6,
                r.timewait_peak > 0 ? static_cast<double>(r.gauges.timewait_bytes) / static_cast<double>(r.timewait_peak) : 0.0,
                static_cast<double>(r.gauges.timewait_reserved_bytes) / 1e6, static_cast<double>(r.rss_peak_bytes) / 1e6);
  out << line;
  std::snprintf(line, sizeof line, "longest poll-loop iteration: %.3f ms; busy %.1f %% of the time (iterations that moved a frame)\n\n",
                static_cast<double>(r.loop_max_us) / 1e3, r.busy * 100);
  out << line;
  for (Counter c : kHeadline) {
    std::snprintf(line, sizeof line, "%-32s%llu\n", counter_name(c), static_cast<unsigned long long>(r.counters.get(c)));
    out << line;
  }
  std::string nic;
  for (const auto& [k, v] : r.nic) {
    if (v != 0) nic += " " + k + " " + std::to_string(v);
  }
  out << "NIC:" << (nic.empty() ? " nothing" : nic) << "\n";
}

int run_and_print(const RuntimeSettings& rs, const AppFactory& make, const PrintSecond& print_second, std::ostream& out,
                  std::ostream& err) {
  const bool json = rs.json;
  const RuntimeResult r = run_runtime(
      rs, make, [&](const Second& s) { print_second(out, json, s); }, err,
      [&](const RuntimeResult& res) { print_summary(out, json, rs.role, res), out << std::flush; });
  return r.exit_code;
}

}  // namespace twstack::app
