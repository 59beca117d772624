// `twstack churn`: ChurnClient on every queue of a DPDK port.
#include <cmath>
#include <algorithm>
#include <cstdio>
#include <ostream>

#include "apps/common/json.hh"
#include "apps/common/text.hh"
#include "apps/runtime/dpdk_runtime.hh"
#include "apps/twstack/dpdk/dpdk_commands.hh"
#include "apps/twstack/dpdk/flood_options.hh"
#include "apps/twstack/dpdk/runtime_options.hh"
#include "apps/twstack/dpdk/summary.hh"
#include "apps/workloads/churn_client.hh"

namespace twstack::app {
namespace {

constexpr std::string_view kDescription =
    "Opens and closes connections from a DPDK port: one engine per queue, each on its own\n"
    "lcore. With --rate R, attempt k is made at k/R s after the start (spread over the queues);\n"
    "--rate 0 keeps --inflight connections in progress per queue, flat out. Targets (--connect,\n"
    "repeatable) are taken in turn, so several server ports or addresses multiply the 4-tuples.\n"
    "\n"
    "--proto http sends \"GET / HTTP/1.1\" and reads the response by its Content-Length (works\n"
    "against `twstack serve --mode http`, nginx, python3 -m http.server); --proto echo sends\n"
    "--request-bytes and reads as many back. Each connection runs --requests-per-conn requests\n"
    "one after the other (keep-alive); then --closer client closes, or with --closer server the\n"
    "last request asks the server to close (\"Connection: close\") and the client waits for\n"
    "its FIN. TIME_WAIT collects on the closer's side.\n"
    "\n"
    "A connection is ok when established; an attempt failed when connect() refuses it\n"
    "(EADDRNOTAVAIL: no free 4-tuple, ENOBUFS: no free connection) or it closes before being\n"
    "established (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH). Prints a line per second (CPS =\n"
    "connections completed per second, established per second, failures by errno, open,\n"
    "TIME_WAIT, connect() to established p50/p99) and a summary with the first failure and the\n"
    "latency percentiles over the run (connect_us: connect() to established, response_us:\n"
    "connect() to the end of the first response; microseconds, from log-linear histograms\n"
    "within 3 %); --json prints the same as JSON lines, with every percentile each second.\n"
    "When connections are open but nothing is established, answered or failed for 3 s in a\n"
    "row, it says the peer is not answering (stalled_s in --json counts the seconds).\n"
    "twstack.arp_queue is raised to hold the first flight (--inflight SYNs per queue, or 10 ms\n"
    "of --rate), so no SYN is lost while the peer's address resolves; 0 (no queue) stays 0.\n"
    "\n"
    "Example, port exhaustion against a kernel server:\n"
    "  twstack churn --port tap:tw0 --ip 10.99.0.2/24 --connect 10.99.0.1:8080 --rate 100 \\\n"
    "      --set net.ipv4.ip_local_port_range=\"40000 40499\" --set net.ipv4.tcp_tw_reuse=0 --duration 10\n"
    "  (500 ports at 100/s, client closing: the first EADDRNOTAVAIL at 5.0 s)\n"
    "\n"
    "--flood KIND sends a flood (twstack flood --help) from the same port while the connections\n"
    "run, from --start-after to --duration (required then; --open-for ends the attempts sooner,\n"
    "not the flood): how well a server serves ordinary clients under a SYN flood, measured from\n"
    "one process. Its frames count as flood_sent.";

// The options as given.
struct Args {
  std::vector<std::string> connect;
  std::uint64_t rate = 1000;
  std::uint32_t inflight = 64;
  std::string closer = "client";
  std::uint32_t requests_per_conn = 1;
  std::string proto = "http";
  std::uint32_t request_bytes = 100;
  double start_after_s = 0;
  double open_for_s = 0;
  std::uint32_t sources = 1;
  FloodArgs flood;
  RuntimeArgs runtime;
};

void add_options(CLI::App& app, Args* a) {
  app.add_option("--connect", a->connect,
                 "servers to connect to: ADDR:PORT, or ADDR:1000-4999 for a range of ports (repeatable; the targets are "
                 "taken in turn; required)")
      ->type_name("ADDR:PORTS");
  app.add_option("--rate", a->rate, "connection attempts per second, all queues together; 0: flat out (default 1000)")
      ->type_name("R")->transform(whole(0, 100000000));
  app.add_option("--inflight", a->inflight, "with --rate 0: connections in progress per queue (default 64)")
      ->type_name("N")->transform(whole(1, 1000000));
  app.add_option("--closer", a->closer, "client or server: who closes first (default client)")
      ->type_name("WHO")->transform(one_of({"client", "server"}));
  app.add_option("--requests-per-conn", a->requests_per_conn, "requests per connection, one after the other (default 1)")
      ->type_name("N")->transform(whole(1, 1u << 30));
  app.add_option("--proto", a->proto, "http or echo (default http)")->type_name("P")->transform(one_of({"http", "echo"}));
  app.add_option("--request-bytes", a->request_bytes, "echo: bytes per request (default 100)")
      ->type_name("N")->transform(whole(1, 1u << 20));
  app.add_option("--start-after", a->start_after_s,
                 "wait S seconds (decimal) before the first attempt, e.g. for the peer's interface to come up; the "
                 "schedule and first_failure_s count from then (default 0)")
      ->type_name("S")->transform(real(0, 3600));
  app.add_option("--open-for", a->open_for_s,
                 "make attempts only for the first S seconds (decimal) after --start-after, so that what is in "
                 "flight completes before --duration (default: until --duration); a --flood runs on to --duration")
      ->type_name("S")->transform(real(0, 100000000));
  app.add_option("--sources", a->sources,
                 "connect from N consecutive addresses, the first --ip and those after it in its prefix, each "
                 "target from each in turn (at most 16 addresses in all: an engine's interface holds 16, as its "
                 "TIME_WAIT entries keep a 4-bit local address index to stay at 32 bytes) (default 1)")
      ->type_name("N")->transform(whole(1, engine::Interface::kMaxAddrs));
  add_flood_options(app, &a->flood, "--flood-");
  add_runtime_options(app, &a->runtime);
}

// --sources N: the first --ip and the N-1 addresses after it, added to the
// interface; a usage error when they leave the prefix or the interface is full.
std::vector<wire::Ipv4Addr> add_sources(std::uint32_t n, RuntimeSettings* rs) {
  wire::Ipv4Addr first;
  std::uint8_t len = 0;
  if (rs->ips.empty() || !parse_prefix(rs->ips.front(), &first, &len)) return {};
  if (n <= 1) return {};
  const std::uint32_t mask = len == 0 ? 0 : ~std::uint32_t{0} << (32 - len);
  std::vector<wire::Ipv4Addr> out{first};
  for (std::uint32_t i = 1; i < n; ++i) {
    const wire::Ipv4Addr a{first.v + i};
    // Within the prefix, and not its broadcast address.
    if ((a.v & mask) != (first.v & mask) || (a.v | mask) == ~std::uint32_t{0}) {
      throw UsageError("option --sources: " + std::to_string(n) + " addresses from " + first.to_string() + " leave /" +
                       std::to_string(len));
    }
    out.push_back(a);
    rs->ips.push_back(a.to_string() + "/" + std::to_string(len));
  }
  if (rs->ips.size() > engine::Interface::kMaxAddrs) {
    throw UsageError("option --sources: " + std::to_string(rs->ips.size()) + " addresses in all, and an interface holds " +
                     std::to_string(engine::Interface::kMaxAddrs));
  }
  return out;
}

// Microseconds from connect() to established, and to the first response.
constexpr std::string_view kConnectUs = "connect_us";
constexpr std::string_view kResponseUs = "response_us";

class ChurnQueue : public QueueApp {
 public:
  ChurnQueue(engine::QueueEngine& eng, const ChurnClientSettings& s, std::uint32_t max_conns, Duration start_after,
             const std::optional<FloodSettings>& flood)
      : app_(eng, s, max_conns), start_after_(start_after) {
    if (flood) flood_.emplace(eng, *flood);
  }
  Errc start(Instant now) override {
    begin_ = now + start_after_;
    return Errc::kOk;
  }
  void tick(Instant now) override {
    if (!started_ && now >= begin_) {
      started_ = true;
      app_.start(begin_);  // the schedule counts from the end of --start-after
      if (flood_) flood_->start(begin_);
    }
    app_.tick(now);
    if (flood_) flood_->tick(now);
  }
  void on_event(const engine::AppEvent& ev) override { app_.on_event(ev); }
  void histograms(Histograms* h) const override {
    h->resize(2);
    (*h)[0] = {std::string(kConnectUs), app_.connect_latency()};
    (*h)[1] = {std::string(kResponseUs), app_.response_latency()};
  }
  void stop() override { app_.stop(true); }
  std::uint64_t live() const override { return app_.live(); }
  void metrics(Metrics* m) const override {
    const ChurnCounts& n = app_.counts();
    *m = {{"attempts", n.attempts}, {"ok", n.ok},           {"failed", n.failed},
          {"completed", n.completed}, {"broken", n.broken}, {"requests", n.requests},
          {"bad_responses", n.bad_responses}, {"late", n.late}};
    m->emplace_back(std::string(kFirstFailureUs),
                    app_.first_failure() ? static_cast<std::uint64_t>(app_.first_failure()->us) + 1 : 0);
    m->emplace_back(std::string(kFirstErrno), app_.first_errno() ? static_cast<std::uint64_t>(*app_.first_errno()) : 0);
    for (std::size_t e = 1; e < n.errors.size() && e <= static_cast<std::size_t>(Errc::kHostUnreach); ++e) {
      m->emplace_back(std::string("err_") + errno_name(static_cast<Errc>(e)), n.errors[e]);
    }
    if (flood_) {
      m->emplace_back("flood_sent", flood_->counts().sent);
      m->emplace_back("flood_pool_full", flood_->counts().pool_full);
    }
  }

 private:
  ChurnClient app_;
  std::optional<Flooder> flood_;
  Duration start_after_;
  Instant begin_{};
  bool started_ = false;
};

// A stall is said once, after this many seconds (the kernel's first SYN
// retransmission is at 1 s, its second at 3 s: a peer that is merely slow
// has answered by then).
constexpr std::uint32_t kStallWarnS = 3;

std::string failures_by_errno(const Metrics& m) {
  std::string s;
  for (const auto& [k, v] : m) {
    if (k.starts_with("err_") && v != 0) s += (s.empty() ? "" : " ") + k.substr(4) + " " + std::to_string(v);
  }
  return s.empty() ? "-" : s;
}

void print_second(std::ostream& out, bool json, const Second& s, std::uint32_t stalled_s) {
  if (json) {
    Json j;
    j["t"] = s.t;
    j["cps"] = metric(s.app_delta, "completed");
    j["ok"] = metric(s.app_delta, "ok");
    j["failed"] = metric(s.app_delta, "failed");
    Json& errors = j["errors"] = Json::object();
    for (const auto& [k, v] : s.app_delta) {
      if (k.starts_with("err_") && v != 0) errors[k.substr(4)] = v;
    }
    for (const auto& [name, h] : s.hist_delta) j[name] = percentiles_json(h);
    j["open"] = s.live;
    j["stalled_s"] = stalled_s;
    j["estab"] = s.gauges.estab;
    j["timewait"] = s.gauges.timewait;
    j["timewait_bytes"] = s.gauges.timewait_bytes;
    j["timewait_reserved_bytes"] = s.gauges.timewait_reserved_bytes;
    j["rss_bytes"] = s.rss_bytes;
    j["loop_max_us"] = s.loop_max_us;
    j["busy"] = std::round(s.busy * 1000) / 1000;
    print_json_line(out, j);
    out << std::flush;
    return;
  }
  const LatencyHistogram* conn = histogram(s.hist_delta, kConnectUs);
  const Percentiles c = conn != nullptr ? percentiles(*conn) : Percentiles{};
  char line[320];
  std::snprintf(line, sizeof line,
                "%7.1f s  CPS %8llu  ok %8llu/s  failed %6llu/s  open %6llu  timewait %8llu  connect p50/p99 %llu/%llu us  %s\n",
                s.t,
                static_cast<unsigned long long>(metric(s.app_delta, "completed")),
                static_cast<unsigned long long>(metric(s.app_delta, "ok")),
                static_cast<unsigned long long>(metric(s.app_delta, "failed")),
                static_cast<unsigned long long>(s.live), static_cast<unsigned long long>(s.gauges.timewait),
                static_cast<unsigned long long>(c.p50), static_cast<unsigned long long>(c.p99),
                failures_by_errno(s.app_delta).c_str());
  out << line;
  if (stalled_s == kStallWarnS) {
    out << "churn: no answer for " << stalled_s << " s: " << s.live
        << " connections open, none established, answered or failed; is the peer up?\n";
  }
  out << std::flush;
}

// Seconds in a row in which connections were open but none was established,
// answered, failed or broke: the peer has stopped answering.
class StallWatch {
 public:
  std::uint32_t update(const Second& s) {
    const std::uint64_t moved = metric(s.app_delta, "ok") + metric(s.app_delta, "requests") +
                                metric(s.app_delta, "failed") + metric(s.app_delta, "broken");
    stalled_ = moved == 0 && s.live > 0 ? stalled_ + 1 : 0;
    return stalled_;
  }

 private:
  std::uint32_t stalled_ = 0;
};

// "ADDR:PORTS": one target per port (80, 1000-4999, 80,8080).
std::vector<ChurnTarget> parse_targets(std::string_view t) {
  const std::size_t colon = t.find(':');
  wire::Ipv4Addr ip;
  std::optional<std::vector<std::uint16_t>> ports;
  if (colon != std::string_view::npos) ports = parse_ports(t.substr(colon + 1));
  if (colon == std::string_view::npos || !wire::Ipv4Addr::parse(t.substr(0, colon), &ip) || !ports ||
      ip.is_unspecified()) {
    throw UsageError("option --connect: '" + std::string(t) +
                     "' is not ADDR:PORTS (e.g. 10.99.0.1:80, 10.99.0.1:1000-4999)");
  }
  std::vector<ChurnTarget> out;
  for (std::uint16_t p : *ports) out.push_back({ip, p});
  return out;
}

int run_dpdk_churn(const Args& a, std::ostream& out, std::ostream& err) {
  RuntimeSettings rs;
  rs.role = "churn";
  runtime_settings_from(a.runtime, &rs);
  ChurnClientSettings cs;
  for (const std::string& t : a.connect) {
    for (const ChurnTarget& each : parse_targets(t)) cs.targets.push_back(each);
  }
  if (cs.targets.empty()) throw UsageError("option --connect is required (e.g. --connect 10.99.0.1:80)");
  cs.sources = add_sources(a.sources, &rs);
  cs.rate = a.rate;
  cs.inflight = a.inflight;
  cs.closer = a.closer == "server" ? Closer::kServer : Closer::kClient;
  cs.requests_per_conn = a.requests_per_conn;
  cs.proto = a.proto == "echo" ? ChurnProto::kEcho : ChurnProto::kHttp;
  cs.request_bytes = a.request_bytes;
  // The first flight goes out before the peer's MAC is known: the ARP queue
  // holds all of it (every --inflight connection's SYN, or 10 ms of attempts
  // at --rate), so a flat-out start loses no SYN to ARP.
  const std::uint64_t first_flight =
      cs.rate == 0 ? cs.inflight : std::max<std::uint64_t>(ChurnClient::kMaxBurst, cs.rate / 100 / rs.queues);
  const std::uint32_t arp_queue_was = rs.config.arp_queue;
  if (rs.config.arp_queue != 0) {
    rs.config.arp_queue = static_cast<std::uint32_t>(std::clamp<std::uint64_t>(first_flight, rs.config.arp_queue, 65536));
  }

  const Duration start_after = Duration::micros(static_cast<std::int64_t>(a.start_after_s * 1e6));
  if (rs.duration_s != 0) {
    if (Duration::seconds(rs.duration_s) <= start_after) throw UsageError("option --duration must be longer than --start-after");
    cs.window = Duration::seconds(rs.duration_s) - start_after;
  }
  const Duration flood_window = cs.window;
  if (a.open_for_s > 0) {
    const Duration open_for = Duration::micros(static_cast<std::int64_t>(a.open_for_s * 1e6));
    if (rs.duration_s == 0 || open_for > cs.window) {
      throw UsageError("option --open-for must end within --duration, after --start-after");
    }
    cs.window = open_for;
  }
  std::optional<FloodSettings> flood;
  if (!a.flood.kind.empty()) {
    FloodArgs fa = a.flood;
    if (fa.target.empty()) fa.target = a.connect.front();
    flood = flood_settings_from(fa, "--flood-", flood_window);
    flood->seed = rs.seed != 0 ? rs.seed : 1;
  }
  auto make = [&cs, start_after, flood](engine::QueueEngine& eng, std::uint16_t q, std::uint16_t nq,
                                        std::uint32_t max_conns) {
    ChurnClientSettings mine = cs;
    mine.stride = nq;
    mine.offset = q;
    std::optional<FloodSettings> f = flood;
    if (f) f->stride = nq, f->offset = q;
    return std::make_unique<ChurnQueue>(eng, mine, max_conns, start_after, f);
  };
  if (!rs.json) {
    out << "twstack churn: " << rs.ips.front();
    if (cs.sources.size() > 1) out << " (" << cs.sources.size() << " sources)";
    out << " ->";
    for (const std::string& t : a.connect) out << " " << t;
    if (cs.targets.size() > 1) out << " (" << cs.targets.size() << " targets)";
    if (rs.config.arp_queue != arp_queue_was) {
      out << ", twstack.arp_queue " << arp_queue_was << " -> " << rs.config.arp_queue << " for the first flight";
    }
    out << ", " << (cs.rate == 0 ? "flat out" : std::to_string(cs.rate) + "/s") << ", closer " << closer_name(cs.closer)
        << ", " << cs.requests_per_conn << (cs.requests_per_conn == 1 ? " request" : " requests") << " per connection, "
        << rs.queues << (rs.queues == 1 ? " queue" : " queues");
    if (flood) {
      out << "; " << flood_kind_name(flood->kind) << " flood to " << flood->target.to_string() << ":" << flood->port
          << " at " << (flood->rate == 0 ? "flat out" : std::to_string(flood->rate) + "/s");
    }
    out << "\n" << std::flush;
  }
  StallWatch stall;
  return run_and_print(
      rs, make, [&stall](std::ostream& o, bool json, const Second& s) { print_second(o, json, s, stall.update(s)); },
      out, err);
}

}  // namespace

Command add_churn_command(CLI::App& top) {
  return add_command(top, "churn", "open and close connections at a rate from a DPDK port, against any TCP server",
                     kDescription, add_options, run_dpdk_churn);
}

}  // namespace twstack::app
