// `twstack sim churn`: a client engine opening and closing connections to a
// server engine over the in-process link, in virtual time.
#include "apps/twstack/sim/sim_churn.hh"

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "apps/common/json.hh"
#include "apps/common/stack_config.hh"
#include "apps/common/text.hh"

namespace twstack::app {

namespace {

constexpr std::string_view kSummary =
    "open and close connections between two engines at a rate, per virtual second";

constexpr std::string_view kDescription =
    "Runs a client engine and a server engine joined by an in-process link in virtual time,\n"
    "with the application code of `twstack churn` and `twstack serve --mode http`\n"
    "(ChurnClient, ServeApp). The client opens connections to the server: the k-th attempt\n"
    "(k = 0, 1, ...) at exactly k/R virtual seconds after the start, for every such instant\n"
    "before --duration; with --rate 0 it keeps --inflight connections in progress instead and\n"
    "opens the next one the moment one ends (after a connect() refused at once, 1 ms later).\n"
    "On each connection the client sends an HTTP/1.1 GET and the server answers 200 OK with a\n"
    "100-byte body; after each full response the client sends the next request,\n"
    "--requests-per-conn in all. Then the --closer closes (--closer server: the last request\n"
    "says \"Connection: close\"), and the other side closes when it reads EOF, so TIME_WAIT\n"
    "collects on the closer's side.\n"
    "\n"
    "--rate counts connections, not requests: the keep-alive version of --rate 100 at the\n"
    "same request load is --rate 10 --requests-per-conn 10.\n"
    "\n"
    "Knobs (--config, --set, --client-set, --server-set) use the kernel's sysctl names, e.g.\n"
    "--set net.ipv4.ip_local_port_range=\"40000 40999\" --set net.ipv4.tcp_tw_reuse=0. The\n"
    "engines' pools are the configured ones (twstack.max_connections, default 65536 per\n"
    "engine; net.ipv4.tcp_max_tw_buckets): raise them for runs that hold more.\n"
    "\n"
    "A connection is ok when the client sees it established; an attempt failed when connect()\n"
    "refuses it (EADDRNOTAVAIL: no free 4-tuple) or it closes before being established.\n"
    "Failures are results: the exit status is 0 when the run completed, 2 for a usage error.\n"
    "\n"
    "--json prints one object: rate, inflight, duration_s, closer, requests_per_conn,\n"
    "client_ip, server_ip, server_port, seed, loss, delay_us; attempts, ok, failed, broken\n"
    "(closed with an error after being established), completed (every response read),\n"
    "first_failure_s (virtual seconds since the start, or null), first_errno (or null),\n"
    "errors{} (errno name -> count), per_second[] (t, ok, failed, client_timewait,\n"
    "server_timewait; ok and failed in (t-1, t], TIME_WAIT entries at t), client{} and\n"
    "server{} (counters{}: every nonzero counter; timewait: entries at the end),\n"
    "requests_completed, virtual_seconds, wall_seconds (including setting up both engines),\n"
    "rounds.";

CLI::Validator unicast_ipv4() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        wire::Ipv4Addr a;
        if (!wire::Ipv4Addr::parse(text, &a) || a.is_unspecified() || a.is_multicast() || a.is_broadcast()) {
          return "'" + text + "' is not a unicast IPv4 address (dotted quad)";
        }
        return {};
      },
      "");
}

void add_options(CLI::App& app, SimChurnArgs* a) {
  app.add_option("--rate", a->rate,
                 "connections opened per virtual second, a whole number; 0: keep --inflight open (default 100)")
      ->type_name("R")->transform(whole(0, 1000000));
  app.add_option("--inflight", a->inflight, "with --rate 0: connections kept in progress (default 64)")
      ->type_name("N")->transform(whole(1, 1000000));
  app.add_option("--duration", a->duration_s, "virtual seconds of churn (default 20)")
      ->type_name("S")->transform(whole(1, 1000000));
  app.add_option("--closer", a->closer, "who closes first after the last response: client or server (default client)")
      ->type_name("WHO")->transform(one_of({"client", "server"}));
  app.add_option("--requests-per-conn", a->requests_per_conn, "requests per connection, one after the other (default 1)")
      ->type_name("N")->transform(whole(1, 1000000));
  app.add_option("--client-ip", a->client_ip, "the client's address (default 10.0.0.1)")
      ->type_name("A")->transform(unicast_ipv4());
  app.add_option("--server-ip", a->server_ip, "the server's address (default 10.0.0.2)")
      ->type_name("B")->transform(unicast_ipv4());
  app.add_option("--server-port", a->server_port, "the server's listening port (default 80)")
      ->type_name("P")->transform(whole(1, 65535));
  add_knob_options(app, &a->knobs, "both engines");
  app.add_option("--client-set", a->client_sets, "set one knob for the client only, after --set (repeatable)")
      ->type_name("KEY=VALUE");
  app.add_option("--server-set", a->server_sets, "set one knob for the server only, after --set (repeatable)")
      ->type_name("KEY=VALUE");
  app.add_option("--seed", a->seed, "seed of the engines' secrets and of the link faults (default 1)")
      ->type_name("S")->transform(whole(0, UINT64_MAX));
  app.add_option("--loss", a->loss, "probability a frame is lost, 0..1 (default 0)")
      ->type_name("P")->transform(real(0, 1));
  app.add_option("--delay-us", a->delay_us, "one-way link delay in microseconds (default 100)")
      ->type_name("US")->transform(whole(0, 10000000));
  app.add_flag("--json", a->json, "print one JSON object instead of the table");
}

wire::Ipv4Addr ip_of(const std::string& text) {
  wire::Ipv4Addr a;
  wire::Ipv4Addr::parse(text, &a);  // checked by unicast_ipv4()
  return a;
}

// Counters worth a line in the summary: opens, failures and TIME_WAIT.
constexpr Counter kHeadline[] = {
    Counter::TcpActiveOpens,    Counter::TcpPassiveOpens,           Counter::TcpAttemptFails,
    Counter::TcpEstabResets,    Counter::TcpOutRsts,                Counter::TcpRetransSegs,
    Counter::TcpExtTW,          Counter::TcpExtTWRecycled,          Counter::TcpExtTCPTimeWaitOverflow,
    Counter::TcpExtListenDrops, Counter::TwstackConnPoolExhausted,
};

Json json_side(const ChurnSide& side) {
  return Json{{"counters", counters_json(side.counters)}, {"timewait", side.gauges.timewait}};
}

}  // namespace

ChurnSettings churn_settings_from(const SimChurnArgs& a) {
  ChurnSettings s;
  s.rate = a.rate;
  s.inflight = a.inflight;
  s.duration_s = a.duration_s;
  s.closer = a.closer == "server" ? Closer::kServer : Closer::kClient;
  s.requests_per_conn = a.requests_per_conn;
  s.client_ip = ip_of(a.client_ip);
  s.server_ip = ip_of(a.server_ip);
  if (s.client_ip == s.server_ip) throw UsageError("options --client-ip and --server-ip: the addresses must differ");
  s.server_ports = {a.server_port};
  s.seed = a.seed;
  s.faults.loss = a.loss;
  s.faults.delay = Duration::micros(a.delay_us);
  if (s.rate == 0 && s.faults.delay.us == 0) {
    // Each connection would then open and close without the clock moving.
    throw UsageError("option --rate 0 needs a link delay (--delay-us above 0)");
  }
  s.client_config = stack_config_from(a.knobs, "client-set", a.client_sets);
  s.server_config = stack_config_from(a.knobs, "server-set", a.server_sets);
  return s;
}

ChurnSettings parse_sim_churn(const std::vector<std::string>& args) {
  CLI::App app{std::string(kSummary), "churn"};
  configure_app(app);
  SimChurnArgs a;
  add_options(app, &a);
  parse_args(app, args);
  return churn_settings_from(a);
}

void print_churn_json(std::ostream& out, const ChurnSettings& s, const ChurnResult& r) {
  Json j;
  j["rate"] = s.rate;
  j["inflight"] = s.inflight;
  j["duration_s"] = s.duration_s;
  j["closer"] = closer_name(s.closer);
  j["requests_per_conn"] = s.requests_per_conn;
  j["client_ip"] = s.client_ip.to_string();
  j["server_ip"] = s.server_ip.to_string();
  j["server_port"] = s.server_ports.front();
  j["seed"] = s.seed;
  j["loss"] = s.faults.loss;
  j["delay_us"] = s.faults.delay.us;
  j["attempts"] = r.attempts;
  j["ok"] = r.ok;
  j["failed"] = r.failed;
  j["broken"] = r.broken;
  j["completed"] = r.completed;
  j["first_failure_s"] = r.first_failure ? Json(r.first_failure->secs()) : Json(nullptr);
  j["first_errno"] = r.first_errno ? Json(errno_name(*r.first_errno)) : Json(nullptr);
  Json& errors = j["errors"] = Json::object();
  for (std::size_t e = 0; e < r.errors.size(); ++e) {
    if (r.errors[e] != 0) errors[errno_name(static_cast<Errc>(e))] = r.errors[e];
  }
  Json& per_second = j["per_second"] = Json::array();
  for (const ChurnSecond& p : r.per_second) {
    per_second.push_back(Json{{"t", p.t}, {"ok", p.ok}, {"failed", p.failed}, {"client_timewait", p.client_timewait},
                              {"server_timewait", p.server_timewait}});
  }
  j["client"] = json_side(r.client);
  j["server"] = json_side(r.server);
  j["requests_completed"] = r.requests_completed;
  j["virtual_seconds"] = r.virtual_time.secs();
  j["wall_seconds"] = r.wall_seconds;
  j["rounds"] = r.rounds;
  print_json_line(out, j);
}

void print_churn_text(std::ostream& out, const ChurnSettings& s, const ChurnResult& r) {
  out << "sim churn: ";
  if (s.rate > 0) {
    out << s.rate << " connections/s";
  } else {
    out << "as fast as possible, " << s.inflight << " in flight";
  }
  out << " for " << s.duration_s << " s, closer " << closer_name(s.closer) << ", " << s.requests_per_conn
      << (s.requests_per_conn == 1 ? " request" : " requests") << " per connection, " << s.client_ip.to_string()
      << " -> " << s.server_ip.to_string() << ":" << s.server_ports.front() << ", seed " << s.seed << "\n\n";
  char line[128];
  std::snprintf(line, sizeof line, "%6s %10s %10s %10s %10s\n", "t", "ok", "failed", "client TW", "server TW");
  out << line;
  for (const ChurnSecond& p : r.per_second) {
    std::snprintf(line, sizeof line, "%6u %10llu %10llu %10llu %10llu\n", p.t,
                  static_cast<unsigned long long>(p.ok), static_cast<unsigned long long>(p.failed),
                  static_cast<unsigned long long>(p.client_timewait),
                  static_cast<unsigned long long>(p.server_timewait));
    out << line;
  }
  out << "\nattempts " << r.attempts << ", ok " << r.ok << ", failed " << r.failed << ", broken " << r.broken
      << ", completed " << r.completed << ", requests completed " << r.requests_completed << "\n";
  std::string errors;
  for (std::size_t e = 0; e < r.errors.size(); ++e) {
    if (r.errors[e] == 0) continue;
    errors += (errors.empty() ? "" : ", ") + std::string(errno_name(static_cast<Errc>(e))) + " " +
              std::to_string(r.errors[e]);
  }
  if (!errors.empty()) out << "errors: " << errors << "\n";
  if (r.first_failure) {
    out << "first failure at " << fixed(2, r.first_failure->secs()) << " s: " << errno_name(*r.first_errno) << "\n";
  } else {
    out << "no failures\n";
  }
  out << "time: " << fixed(3, r.virtual_time.secs()) << " s virtual, " << fixed(3, r.wall_seconds)
      << " s wall, " << r.rounds << " rounds\n\n";
  std::snprintf(line, sizeof line, "%-28s %14s %14s\n", "", "client", "server");
  out << line;
  for (Counter c : kHeadline) {
    std::snprintf(line, sizeof line, "%-28s %14llu %14llu\n", counter_name(c),
                  static_cast<unsigned long long>(r.client.counters.get(c)),
                  static_cast<unsigned long long>(r.server.counters.get(c)));
    out << line;
  }
  std::snprintf(line, sizeof line, "%-28s %14llu %14llu\n", "TIME_WAIT at the end",
                static_cast<unsigned long long>(r.client.gauges.timewait),
                static_cast<unsigned long long>(r.server.gauges.timewait));
  out << line;
}

namespace {

int run_sim_churn(const SimChurnArgs& a, std::ostream& out, std::ostream&) {
  const ChurnSettings s = churn_settings_from(a);
  const ChurnResult r = run_churn(s);
  if (a.json) {
    print_churn_json(out, s, r);
  } else {
    print_churn_text(out, s, r);
  }
  return 0;
}

}  // namespace

Command add_sim_churn_command(CLI::App& sim) {
  return add_command(sim, "churn", std::string(kSummary), kDescription, add_options, run_sim_churn);
}

}  // namespace twstack::app
