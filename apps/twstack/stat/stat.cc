// `twstack stat`: a running twstack's counters, read over DPDK telemetry.
#include <cstdio>
#include <ostream>

#include "apps/common/command.hh"
#include "apps/common/json.hh"
#include "apps/twstack/stat/stat.hh"
#include "apps/twstack/stat/telemetry_client.hh"

namespace twstack::app {
namespace {

constexpr OptionSpec kOptions[] = {
    {"pid", "PID", "the twstack process to read (default: the only one running)"},
    {"socket", "PATH", "a telemetry socket to read instead (any DPDK process's dpdk_telemetry.v2)"},
    {"zero", "", "also print counters that are zero (nstat -z)"},
    {"json", "", "one JSON object: info, gauges, app, counters"},
};

constexpr std::string_view kDescription =
    "Reads the counters of a running `twstack serve` or `twstack churn` through DPDK telemetry\n"
    "(its /twstack/... commands; dpdk-telemetry.py -f twstack-<pid> reads the same). Prints\n"
    "the process, the gauges as `ss -s` does, the command's own figures and the counters in\n"
    "nstat's format (kernel names). Exit status 1 if no process could be read.";

std::string socket_for(const Options& o) {
  if (std::optional<std::string_view> s = o.get("socket")) return std::string(*s);
  const std::string base = dpdk_runtime_base();
  if (std::optional<std::string_view> pid = o.get("pid")) {
    return base + "/twstack-" + std::string(*pid) + "/dpdk_telemetry.v2";
  }
  std::vector<std::string> found = find_twstack_sockets(base);
  if (found.empty()) throw UsageError("no running twstack found under " + base + " (is one running? --pid, --socket)");
  if (found.size() > 1) {
    std::string list;
    for (const std::string& f : found) list += "\n  " + f;
    throw UsageError("several twstack processes are running; choose one with --pid:" + list);
  }
  return found.front();
}

std::string value_of(const TelemetryDict& d, std::string_view key) {
  for (const auto& [k, v] : d) {
    if (k == key) return v;
  }
  return "0";
}

void json_dict(JsonWriter& j, std::string_view key, const TelemetryDict& d, bool skip_zero) {
  j.begin_object(key);
  for (const auto& [k, v] : d) {
    std::optional<std::uint64_t> n = parse_u64(v);
    if (n) {
      if (!skip_zero || *n != 0) j.value(k, *n);
    } else {
      j.value(k, v);
    }
  }
  j.end_object();
}

void print_text(std::ostream& out, const TelemetryDict& info, const TelemetryDict& gauges, const TelemetryDict& app,
                const TelemetryDict& counters, bool zero) {
  out << "twstack " << value_of(info, "role") << ", pid " << value_of(info, "pid") << ", port "
      << value_of(info, "port") << ", " << value_of(info, "addresses") << ", " << value_of(info, "queues")
      << " queue(s), up " << value_of(info, "uptime_ms") << " ms\n";
  // The `ss -s` TCP line (print_ss_summary's format).
  out << "TCP:   (estab " << value_of(gauges, "estab") << ", closed " << value_of(gauges, "closed") << ", orphaned "
      << value_of(gauges, "orphaned") << ", timewait " << value_of(gauges, "timewait") << ")\n";
  out << value_of(info, "role") << ":";
  for (const auto& [k, v] : app) {
    if (v != "0" || !k.starts_with("err_")) out << " " << k << " " << v;
  }
  out << "\n#kernel\n";
  char line[128];
  for (const auto& [k, v] : counters) {
    if (v == "0" && !zero) continue;
    std::snprintf(line, sizeof line, "%-32s%-16s%6.1f\n", k.c_str(), v.c_str(), 0.0);  // nstat: name value rate
    out << line;
  }
}

int run_stat(const Options& o, std::ostream& out, std::ostream& err) {
  const std::string path = socket_for(o);
  TelemetryClient c(path);
  if (!c.ok()) {
    err << "twstack stat: " << c.error() << "\n";
    return 1;
  }
  std::optional<TelemetryDict> d[4];
  const char* cmds[] = {"/twstack/info", "/twstack/gauges", "/twstack/app", "/twstack/counters"};
  for (int i = 0; i < 4; ++i) {
    d[i] = c.query(cmds[i]);
    if (!d[i]) {
      err << "twstack stat: " << path << ": " << c.error() << "\n";
      return 1;
    }
  }
  const bool zero = o.flag("zero");
  if (o.flag("json")) {
    JsonWriter j(out);
    j.begin_object();
    json_dict(j, "info", *d[0], false);
    json_dict(j, "gauges", *d[1], false);
    json_dict(j, "app", *d[2], false);
    json_dict(j, "counters", *d[3], !zero);
    j.end_object();
    out << "\n";
  } else {
    print_text(out, *d[0], *d[1], *d[2], *d[3], zero);
  }
  return 0;
}

}  // namespace

Command stat_command() {
  return Command{"stat", "read a running twstack's counters (DPDK telemetry), nstat-style or JSON", kDescription,
                 kOptions, 0, &run_stat};
}

}  // namespace twstack::app
