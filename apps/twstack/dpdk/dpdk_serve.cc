// `twstack serve`: ServeApp on every queue of a DPDK port.
#include <cmath>
#include <cstdio>
#include <ostream>

#include "apps/common/json.hh"
#include "apps/common/text.hh"
#include "apps/runtime/dpdk_runtime.hh"
#include "apps/twstack/dpdk/dpdk_commands.hh"
#include "apps/twstack/dpdk/runtime_options.hh"
#include "apps/twstack/dpdk/summary.hh"
#include "apps/workloads/serve_app.hh"

namespace twstack::app {
namespace {

constexpr std::string_view kDescription =
    "Serves TCP on a DPDK port: one engine per queue, each on its own lcore, no locks on the\n"
    "packet path. --mode discard reads and drops; echo sends back what it reads; http answers\n"
    "every request with 200 OK and a body of --body-bytes (a malformed request gets 400).\n"
    "\n"
    "--closer server (the default): in http mode the server closes after answering a request\n"
    "that asks to close (\"Connection: close\", or HTTP/1.0 without keep-alive), as nginx does,\n"
    "so TIME_WAIT collects here; in echo and discard modes it closes once it has read\n"
    "--requests-per-conn x --request-bytes bytes. --closer client: the server never closes\n"
    "first; it closes once it has read the client's FIN, so TIME_WAIT lands on the client.\n"
    "--closer never: as client, but the server never closes: after the client's FIN the\n"
    "connection stays in CLOSE_WAIT (until --idle-timeout), so the client's orphaned\n"
    "connection sits in FIN_WAIT2 for its tcp_fin_timeout.\n"
    "\n"
    "Prints a line per second (connections accepted and closed per second, requests per\n"
    "second, established, TIME_WAIT) and a summary at the end (SIGINT, SIGTERM or --duration),\n"
    "after closing every connection. --json prints the same as JSON lines. A connection on\n"
    "which nothing happens for --idle-timeout seconds (default 60) is reset, so a client that\n"
    "vanished without a FIN does not hold its slot for good. --restart-after S restarts the\n"
    "listeners S seconds after the first connection (stop listening, bind again, listen),\n"
    "without SO_REUSEADDR if --restart-reuseaddr no: the summary's restart_bind_error is then\n"
    "twstack's error code of the bind's refusal (2: EADDRINUSE, while TIME_WAIT entries hold\n"
    "the port), 0 if none, and restart_rebind_error that of the bind with it. While it runs,\n"
    "`twstack stat` (or dpdk-telemetry.py) reads its counters.\n"
    "\n"
    "Example, the kernel as the client over a TAP interface:\n"
    "  twstack serve --port tap:tw0 --ip 10.99.0.2/24 --listen 80 --mode http\n"
    "  ip addr add 10.99.0.1/24 dev tw0; curl http://10.99.0.2/";

// The options as given.
struct Args {
  std::vector<std::string> listen;
  std::string mode = "http";
  std::string closer = "server";
  std::uint32_t body_bytes = 100;
  std::uint32_t request_bytes = 100;
  std::uint32_t requests_per_conn = 1;
  std::uint32_t idle_timeout_s = 60;
  std::uint32_t restart_after_s = 0;
  std::string restart_reuseaddr = "yes";
  RuntimeArgs runtime;
};

void add_options(CLI::App& app, Args* a) {
  app.add_option("--listen", a->listen,
                 "ports to listen on: 80, a range 1000-4999, or a list 80,8080 (repeatable; default 80); more than "
                 "1024 need --set twstack.max_listeners=N")
      ->type_name("PORTS");
  app.add_option("--mode", a->mode, "discard, echo or http (default http)")
      ->type_name("M")->transform(one_of({"discard", "echo", "http"}));
  app.add_option("--closer", a->closer, "server, client or never: who closes first (default server)")
      ->type_name("WHO")->transform(one_of({"server", "client", "never"}));
  app.add_option("--body-bytes", a->body_bytes, "http: bytes of body in each response (default 100)")
      ->type_name("N")->transform(whole(0, 16 << 20));
  app.add_option("--request-bytes", a->request_bytes, "echo/discard with --closer server: bytes per request (default 100)")
      ->type_name("N")->transform(whole(1, 1u << 30));
  app.add_option("--requests-per-conn", a->requests_per_conn,
                 "echo/discard with --closer server: requests before closing (default 1)")
      ->type_name("N")->transform(whole(1, 1u << 30));
  app.add_option("--idle-timeout", a->idle_timeout_s,
                 "reset a connection silent for this long, a peer that vanished without a FIN "
                 "(seconds, default 60 as nginx's client timeouts; 0: never)")
      ->type_name("S")->transform(whole(0, 86400));
  app.add_option("--restart-after", a->restart_after_s,
                 "restart the listeners this long after the first connection (seconds; default 0: never)")
      ->type_name("S")->transform(whole(0, 86400));
  app.add_option("--restart-reuseaddr", a->restart_reuseaddr, "yes or no: bind again with SO_REUSEADDR (default yes)")
      ->type_name("YN")->transform(one_of({"yes", "no"}));
  add_runtime_options(app, &a->runtime);
}

class ServeQueue : public QueueApp {
 public:
  ServeQueue(engine::QueueEngine& eng, const ServeSettings& s, std::uint32_t max_conns) : app_(eng, s, max_conns) {}
  Errc start(Instant) override { return app_.start(); }
  void tick(Instant now) override { app_.tick(now); }
  void on_event(const engine::AppEvent& ev) override { app_.on_event(ev); }
  void stop() override { app_.stop(); }
  std::uint64_t live() const override { return app_.live(); }
  void metrics(Metrics* m) const override {
    const ServeStats& s = app_.stats();
    *m = {{"accepted", s.accepted}, {"closed", s.closed}, {"server_closed", s.server_closed},
          {"aborted", s.aborted},   {"idle_closed", s.idle_closed}, {"requests", s.requests},
          {"bad_requests", s.bad_requests}, {"restarts", s.restarts},
          {"restart_bind_error", static_cast<std::uint64_t>(s.restart_bind)},
          {"restart_rebind_error", static_cast<std::uint64_t>(s.restart_rebind)},
          {"bytes_in", s.bytes_in}, {"bytes_out", s.bytes_out}};
  }

 private:
  ServeApp app_;
};

void print_second(std::ostream& out, bool json, const Second& s) {
  if (json) {
    Json j;
    j["t"] = s.t;
    for (const auto& [k, v] : s.app_delta) j[k + "_per_s"] = v;
    j["estab"] = s.gauges.estab;
    j["timewait"] = s.gauges.timewait;
    j["timewait_bytes"] = s.gauges.timewait_bytes;
    j["timewait_reserved_bytes"] = s.gauges.timewait_reserved_bytes;
    j["rss_bytes"] = s.rss_bytes;
    j["loop_max_us"] = s.loop_max_us;
    j["busy"] = std::round(s.busy * 1000) / 1000;
    j["live"] = s.live;
    print_json_line(out, j);
    out << std::flush;
    return;
  }
  char line[200];
  std::snprintf(line, sizeof line, "%7.1f s  accepted %8llu/s  closed %8llu/s  requests %8llu/s  estab %7llu  timewait %8llu\n",
                s.t, static_cast<unsigned long long>(metric(s.app_delta, "accepted")),
                static_cast<unsigned long long>(metric(s.app_delta, "closed")),
                static_cast<unsigned long long>(metric(s.app_delta, "requests")),
                static_cast<unsigned long long>(s.gauges.estab), static_cast<unsigned long long>(s.gauges.timewait));
  out << line << std::flush;
}

// The --listen ports, each once; a usage error for a bad list, a port given
// twice, or more ports than the engine has listeners for.
std::vector<std::uint16_t> listen_ports(const std::vector<std::string>& specs, std::uint32_t max_listeners) {
  if (specs.empty()) return {80};
  std::vector<std::uint16_t> ports;
  std::vector<bool> seen(65536);
  for (const std::string& spec : specs) {
    const std::optional<std::vector<std::uint16_t>> got = parse_ports(spec);
    if (!got) throw UsageError("option --listen: '" + spec + "' is not a port list (80, 1000-4999 or 80,8080)");
    for (std::uint16_t p : *got) {
      if (seen[p]) throw UsageError("option --listen: port " + std::to_string(p) + " is given twice");
      seen[p] = true;
      ports.push_back(p);
    }
  }
  if (ports.size() > max_listeners) {
    throw UsageError("option --listen: " + std::to_string(ports.size()) + " ports, but twstack.max_listeners is " +
                     std::to_string(max_listeners) + " (--set twstack.max_listeners=" + std::to_string(ports.size()) +
                     ")");
  }
  return ports;
}

int run_serve(const Args& a, std::ostream& out, std::ostream& err) {
  RuntimeSettings rs;
  rs.role = "serve";
  runtime_settings_from(a.runtime, &rs);
  ServeSettings ss;
  ss.ports = listen_ports(a.listen, rs.config.max_listeners);
  ss.mode = a.mode == "discard" ? ServeMode::kDiscard : a.mode == "echo" ? ServeMode::kEcho : ServeMode::kHttp;
  ss.closer = a.closer == "server" ? Closer::kServer : Closer::kClient;
  ss.hold = a.closer == "never";
  ss.body_bytes = a.body_bytes;
  ss.request_bytes = a.request_bytes;
  ss.requests_per_conn = a.requests_per_conn;
  ss.idle_timeout = Duration::seconds(a.idle_timeout_s);
  ss.restart_after = Duration::seconds(a.restart_after_s);
  ss.restart_reuseaddr = a.restart_reuseaddr == "yes";

  auto make = [&ss](engine::QueueEngine& eng, std::uint16_t, std::uint16_t, std::uint32_t max_conns) {
    return std::make_unique<ServeQueue>(eng, ss, max_conns);
  };
  if (!rs.json) {
    out << "twstack serve: " << serve_mode_name(ss.mode) << " on " << rs.port << ", " << rs.ips.front() << ", port";
    if (a.listen.empty()) out << " 80";
    for (const std::string& p : a.listen) out << " " << p;
    if (ss.ports.size() > 1) out << " (" << ss.ports.size() << " ports)";
    out << ", closer " << (ss.hold ? "never" : closer_name(ss.closer)) << ", " << rs.queues
        << (rs.queues == 1 ? " queue" : " queues")
        << "\n" << std::flush;
  }
  return run_and_print(rs, make, print_second, out, err);
}

}  // namespace

Command add_serve_command(CLI::App& top) {
  return add_command(top, "serve", "serve discard, echo or http on a DPDK port (one engine per queue)", kDescription,
                     add_options, run_serve);
}

}  // namespace twstack::app
