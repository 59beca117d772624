// `twstack sim churn`: a client engine opening and closing connections to a
// server engine over the in-process link, in virtual time.
#include "apps/twstack/sim_churn.hh"

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "apps/twstack/config_file.hh"
#include "apps/twstack/json.hh"

namespace twstack::app {

namespace {

constexpr OptionSpec kOptions[] = {
    {"rate", "R", "connections opened per virtual second, a whole number; 0: keep --inflight open (default 100)"},
    {"inflight", "N", "with --rate 0: connections kept in progress (default 64)"},
    {"duration", "S", "virtual seconds of churn (default 20)"},
    {"closer", "WHO", "who closes first after the last response: client or server (default client)"},
    {"requests-per-conn", "N", "requests per connection, one after the other (default 1)"},
    {"client-ip", "A", "the client's address (default 10.0.0.1)"},
    {"server-ip", "B", "the server's address (default 10.0.0.2)"},
    {"server-port", "P", "the server's listening port (default 80)"},
    {"config", "FILE", "load knobs for both engines from a sysctl.conf-style file"},
    {"set", "KEY=VALUE", "set one knob for both engines, after --config (repeatable)", true},
    {"client-set", "KEY=VALUE", "set one knob for the client only, after --set (repeatable)", true},
    {"server-set", "KEY=VALUE", "set one knob for the server only, after --set (repeatable)", true},
    {"seed", "S", "seed of the engines' secrets and of the link faults (default 1)"},
    {"loss", "P", "probability a frame is lost, 0..1 (default 0)"},
    {"delay-us", "US", "one-way link delay in microseconds (default 100)"},
    {"json", "", "print one JSON object instead of the table"},
};

constexpr std::string_view kDescription =
    "Runs a client engine and a server engine joined by an in-process link in virtual time.\n"
    "The client opens connections to the server: the k-th attempt (k = 0, 1, ...) at exactly\n"
    "k/R virtual seconds after the start, for every such instant before --duration; with\n"
    "--rate 0 it keeps --inflight connections in progress instead and opens the next one the\n"
    "moment one ends (after a connect() refused at once, 1 ms later). On each connection the\n"
    "client sends a 100-byte request and the server answers it with 200 bytes; after each\n"
    "full response the client sends the next request, --requests-per-conn in all. Then the\n"
    "--closer closes, and the other side closes when it reads EOF, so TIME_WAIT collects on\n"
    "the closer's side.\n"
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

wire::Ipv4Addr ip_option(const Options& o, std::string_view name, std::string_view def) {
  const std::string_view v = o.str(name, def);
  wire::Ipv4Addr a;
  if (!wire::Ipv4Addr::parse(v, &a) || a.is_unspecified() || a.is_multicast() || a.is_broadcast()) {
    throw UsageError("option --" + std::string(name) + ": '" + std::string(v) +
                     "' is not a unicast IPv4 address (dotted quad)");
  }
  return a;
}

void apply_sets(const Options& o, std::string_view name, StackConfig* cfg) {
  for (std::string_view a : o.all(name)) {
    if (auto e = cfg->set_assignment(a)) throw UsageError("option --" + std::string(name) + ": " + *e);
  }
}

// Fixed-point with `digits` decimals.
std::string fmt(int digits, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Counters worth a line in the summary: opens, failures and TIME_WAIT.
constexpr Counter kHeadline[] = {
    Counter::TcpActiveOpens,    Counter::TcpPassiveOpens,           Counter::TcpAttemptFails,
    Counter::TcpEstabResets,    Counter::TcpOutRsts,                Counter::TcpRetransSegs,
    Counter::TcpExtTW,          Counter::TcpExtTWRecycled,          Counter::TcpExtTCPTimeWaitOverflow,
    Counter::TcpExtListenDrops, Counter::TwstackConnPoolExhausted,
};

void json_side(JsonWriter& j, std::string_view key, const ChurnSide& side) {
  j.begin_object(key).begin_object("counters");
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    if (side.counters.get(i) != 0) j.value(counter_name(static_cast<Counter>(i)), side.counters.get(i));
  }
  j.end_object().value("timewait", side.gauges.timewait).end_object();
}

}  // namespace

ChurnSettings churn_settings_from(const Options& o) {
  ChurnSettings s;
  s.rate = o.u64("rate", 100, 0, 1000000);
  s.inflight = static_cast<std::uint32_t>(o.u64("inflight", 64, 1, 1000000));
  s.duration_s = static_cast<std::uint32_t>(o.u64("duration", 20, 1, 1000000));
  constexpr std::string_view kClosers[] = {"client", "server"};
  s.closer = o.choice("closer", "client", kClosers) == "server" ? Closer::kServer : Closer::kClient;
  s.requests_per_conn = static_cast<std::uint32_t>(o.u64("requests-per-conn", 1, 1, 1000000));
  s.client_ip = ip_option(o, "client-ip", "10.0.0.1");
  s.server_ip = ip_option(o, "server-ip", "10.0.0.2");
  if (s.client_ip == s.server_ip) throw UsageError("options --client-ip and --server-ip: the addresses must differ");
  s.server_port = static_cast<std::uint16_t>(o.u64("server-port", 80, 1, 65535));
  s.seed = o.u64("seed", 1, 0, UINT64_MAX);
  s.faults.loss = o.real("loss", 0, 0, 1);
  s.faults.delay = Duration::micros(o.i64("delay-us", 100, 0, 10000000));
  if (s.rate == 0 && s.faults.delay.us == 0) {
    // Each connection would then open and close without the clock moving.
    throw UsageError("option --rate 0 needs a link delay (--delay-us above 0)");
  }
  StackConfig both;
  if (std::optional<std::string_view> path = o.get("config")) {
    if (auto e = load_config_file(std::string(*path), &both)) throw UsageError("option --config: " + *e);
  }
  apply_sets(o, "set", &both);
  s.client_config = both;
  s.server_config = both;
  apply_sets(o, "client-set", &s.client_config);
  apply_sets(o, "server-set", &s.server_config);
  if (auto e = s.client_config.validate()) throw UsageError("client: " + *e);
  if (auto e = s.server_config.validate()) throw UsageError("server: " + *e);
  return s;
}

void print_churn_json(std::ostream& out, const ChurnSettings& s, const ChurnResult& r) {
  JsonWriter j(out);
  j.begin_object().value("rate", s.rate).value("inflight", s.inflight).value("duration_s", s.duration_s);
  j.value("closer", closer_name(s.closer)).value("requests_per_conn", s.requests_per_conn);
  j.value("client_ip", s.client_ip.to_string()).value("server_ip", s.server_ip.to_string());
  j.value("server_port", std::uint32_t{s.server_port}).value("seed", s.seed);
  j.value("loss", s.faults.loss).value("delay_us", s.faults.delay.us);
  j.value("attempts", r.attempts).value("ok", r.ok).value("failed", r.failed).value("broken", r.broken);
  j.value("completed", r.completed);
  if (r.first_failure) {
    j.value("first_failure_s", r.first_failure->secs()).value("first_errno", errno_name(*r.first_errno));
  } else {
    j.null("first_failure_s").null("first_errno");
  }
  j.begin_object("errors");
  for (std::size_t e = 0; e < r.errors.size(); ++e) {
    if (r.errors[e] != 0) j.value(errno_name(static_cast<Errc>(e)), r.errors[e]);
  }
  j.end_object().begin_array("per_second");
  for (const ChurnSecond& p : r.per_second) {
    j.begin_object().value("t", p.t).value("ok", p.ok).value("failed", p.failed);
    j.value("client_timewait", p.client_timewait).value("server_timewait", p.server_timewait).end_object();
  }
  j.end_array();
  json_side(j, "client", r.client);
  json_side(j, "server", r.server);
  j.value("requests_completed", r.requests_completed).value("virtual_seconds", r.virtual_time.secs());
  j.value("wall_seconds", r.wall_seconds).value("rounds", r.rounds).end_object();
  out << "\n";
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
      << " -> " << s.server_ip.to_string() << ":" << s.server_port << ", seed " << s.seed << "\n\n";
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
    out << "first failure at " << fmt(2, r.first_failure->secs()) << " s: " << errno_name(*r.first_errno) << "\n";
  } else {
    out << "no failures\n";
  }
  out << "time: " << fmt(3, r.virtual_time.secs()) << " s virtual, " << fmt(3, r.wall_seconds)
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

int run_sim_churn(const Options& o, std::ostream& out, std::ostream&) {
  const ChurnSettings s = churn_settings_from(o);
  const ChurnResult r = run_churn(s);
  if (o.flag("json")) {
    print_churn_json(out, s, r);
  } else {
    print_churn_text(out, s, r);
  }
  return 0;
}

}  // namespace

Command sim_churn_command() {
  return Command{"sim churn", "open and close connections between two engines at a rate, per virtual second",
                 kDescription, kOptions, 0, &run_sim_churn};
}

}  // namespace twstack::app
