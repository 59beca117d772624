// `twstack stat`: a running twstack's counters, read over DPDK telemetry.
#include "apps/twstack/stat/stat.hh"

#include <cstdio>
#include <optional>
#include <ostream>

#include "apps/common/json.hh"
#include "apps/twstack/stat/telemetry_client.hh"

namespace twstack::app {
namespace {

// The options as given.
struct Args {
  std::optional<std::string> pid;
  std::optional<std::string> socket;
  bool zero = false;
  bool json = false;
};

void add_options(CLI::App& app, Args* a) {
  app.add_option("--pid", a->pid, "the twstack process to read (default: the only one running)")
      ->type_name("PID")->transform(whole(1, UINT32_MAX));
  app.add_option("--socket", a->socket, "a telemetry socket to read instead (any DPDK process's dpdk_telemetry.v2)")
      ->type_name("PATH");
  app.add_flag("--zero", a->zero, "also print counters that are zero (nstat -z)");
  app.add_flag("--json", a->json, "one JSON object: info, gauges, app, ages, queues, counters");
}

constexpr std::string_view kDescription =
    "Reads the counters of a running `twstack serve` or `twstack churn` through DPDK telemetry\n"
    "(its /twstack/... commands; dpdk-telemetry.py -f twstack-<pid> reads the same). Prints\n"
    "the process, the gauges as `ss -s` does, the command's own figures, connections by state\n"
    "and age (a leak shows as a column that only grows), each queue's adapter counts and the\n"
    "counters in nstat's format (kernel names). Exit status 1 if no process could be read.";

std::string socket_for(const Args& a) {
  if (a.socket) return *a.socket;
  const std::string base = dpdk_runtime_base();
  if (a.pid) return base + "/twstack-" + *a.pid + "/dpdk_telemetry.v2";
  std::vector<std::string> found = find_twstack_sockets(base);
  if (found.empty()) throw UsageError("no running twstack found under " + base + " (is one running? --pid, --socket)");
  if (found.size() > 1) {
    std::string list;
    for (const std::string& f : found) list += "\n  " + f;
    throw UsageError("several twstack processes are running; choose one with --pid:" + list);
  }
  return found.front();
}

// A member as text: a string as it is, a number as written; "0" if absent.
std::string value_of(const TelemetryDict& d, const std::string& key) {
  const auto it = d.find(key);
  if (it == d.end()) return "0";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

bool is_zero(const Json& v) { return v.is_number() && v == 0; }

// The dictionary as it came, less its zero members with `skip_zero`.
Json json_dict(const TelemetryDict& d, bool skip_zero) {
  Json j = Json::object();
  for (const auto& [k, v] : d.items()) {
    if (!skip_zero || !is_zero(v)) j[k] = v;
  }
  return j;
}

// Connections by state and age: one row per state, a column per bucket.
void print_ages(std::ostream& out, const TelemetryDict& ages) {
  if (ages.empty()) return;
  char line[160];
  std::snprintf(line, sizeof line, "%-14s%9s%9s%9s%9s%9s%9s\n", "age", "<1s", "1s-10s", "10s-1m", "1m-10m", "10m-1h",
                ">=1h");
  out << line;
  for (const auto& [state, row] : ages.items()) {
    out << state;
    for (std::size_t i = state.size(); i < 14; ++i) out << ' ';
    for (const char* b : {"lt_1s", "1s_10s", "10s_1m", "1m_10m", "10m_1h", "ge_1h"}) {
      std::snprintf(line, sizeof line, "%9s", row.is_object() ? value_of(row, b).c_str() : "?");
      out << line;
    }
    out << "\n";
  }
}

// Each queue's adapter counts, one line per queue, zeros left out.
void print_queues(std::ostream& out, const TelemetryDict& queues) {
  for (const auto& [q, row] : queues.items()) {
    if (!row.is_object()) continue;
    out << q << ":";
    for (const auto& [k, v] : row.items()) {
      if (!is_zero(v)) out << " " << k << " " << v.dump();
    }
    out << "\n";
  }
}

void print_text(std::ostream& out, const TelemetryDict& info, const TelemetryDict& gauges, const TelemetryDict& app,
                const TelemetryDict& ages, const TelemetryDict& queues, const TelemetryDict& counters, bool zero) {
  out << "twstack " << value_of(info, "role") << ", pid " << value_of(info, "pid") << ", port "
      << value_of(info, "port") << ", " << value_of(info, "addresses") << ", " << value_of(info, "queues")
      << " queue(s), up " << value_of(info, "uptime_ms") << " ms\n";
  // The `ss -s` TCP line (print_ss_summary's format).
  out << "TCP:   (estab " << value_of(gauges, "estab") << ", closed " << value_of(gauges, "closed") << ", orphaned "
      << value_of(gauges, "orphaned") << ", timewait " << value_of(gauges, "timewait") << ")\n";
  out << "TIME_WAIT table: " << value_of(gauges, "timewait_bytes") << " bytes in use for "
      << value_of(gauges, "timewait") << " entries, " << value_of(gauges, "timewait_reserved_bytes")
      << " bytes reserved for tcp_max_tw_buckets\n";
  out << value_of(info, "role") << ":";
  for (const auto& [k, v] : app.items()) {
    if (!is_zero(v) || !k.starts_with("err_")) out << " " << k << " " << value_of(app, k);
  }
  out << "\n";
  print_ages(out, ages);
  print_queues(out, queues);
  out << "#kernel\n";
  char line[128];
  for (const auto& [k, v] : counters.items()) {
    if (is_zero(v) && !zero) continue;
    // nstat: name value rate
    std::snprintf(line, sizeof line, "%-32s%-16s%6.1f\n", k.c_str(), value_of(counters, k).c_str(), 0.0);
    out << line;
  }
}

int run_stat(const Args& a, std::ostream& out, std::ostream& err) {
  const std::string path = socket_for(a);
  TelemetryClient c(path);
  if (!c.ok()) {
    err << "twstack stat: " << c.error() << "\n";
    return 1;
  }
  std::optional<TelemetryDict> d[6];
  const char* cmds[] = {"/twstack/info", "/twstack/gauges", "/twstack/app", "/twstack/counters", "/twstack/ages",
                        "/twstack/queues"};
  for (int i = 0; i < 6; ++i) {
    d[i] = c.query(cmds[i]);
    if (!d[i] && i >= 4) d[i] = Json::object();  // an older twstack: no ages, no queues
    if (!d[i]) {
      err << "twstack stat: " << path << ": " << c.error() << "\n";
      return 1;
    }
  }
  const bool zero = a.zero;
  if (a.json) {
    print_json_line(out, Json{{"info", json_dict(*d[0], false)},
                              {"gauges", json_dict(*d[1], false)},
                              {"app", json_dict(*d[2], false)},
                              {"ages", *d[4]},
                              {"queues", *d[5]},
                              {"counters", json_dict(*d[3], !zero)}});
  } else {
    print_text(out, *d[0], *d[1], *d[2], *d[4], *d[5], *d[3], zero);
  }
  return 0;
}

}  // namespace

Command add_stat_command(CLI::App& top) {
  return add_command(top, "stat", "read a running twstack's counters (DPDK telemetry), nstat-style or JSON", kDescription,
                     add_options, run_stat);
}

}  // namespace twstack::app
