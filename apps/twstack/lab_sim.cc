// `twstack lab --sim`: a scenario in virtual time over drivers/memory, with
// the application code the real-time processes run.
#include <chrono>
#include <memory>

#include "apps/twstack/churn_client.hh"
#include "apps/twstack/lab_run.hh"
#include "apps/twstack/serve_app.hh"
#include "drivers/memory/sim.hh"
#include "stack/engine/options.hh"

namespace twstack::app {

namespace {

// What ServeApp is given for a scenario: http, the scenario's closer and ports.
ServeSettings serve_settings(const LabScenario& s) {
  ServeSettings ss;
  ss.ports = s.server_ports;
  ss.mode = ServeMode::kHttp;
  ss.closer = s.closer;
  return ss;
}

ChurnClientSettings churn_settings(const LabScenario& s, wire::Ipv4Addr server) {
  ChurnClientSettings cs;
  for (std::uint16_t p : s.server_ports) cs.targets.push_back({server, p});
  cs.rate = s.rate;
  cs.closer = s.closer;
  cs.requests_per_conn = s.requests_per_conn;
  cs.window = Duration::seconds(s.duration_s);
  return cs;
}

}  // namespace

double held_cps(const std::vector<LabSample>& series) {
  std::uint64_t sum = 0, n = 0;
  for (const LabSample& x : series) {
    if (x.failed == 0) sum += x.completed, ++n;
  }
  return n == 0 ? 0 : static_cast<double>(sum) / static_cast<double>(n);
}

LabRun run_lab_sim(const LabScenario& s, std::uint64_t seed, const LabProgress& progress) {
  const auto wall0 = std::chrono::steady_clock::now();
  LabRun run;
  memory::Rng rng(seed);
  const std::uint64_t secret_a = rng.next(), secret_b = rng.next();
  auto pair = std::make_unique<memory::SimPair>(
      memory::sim_interface(0), engine::options_from(s.client, Secret{secret_a}), memory::sim_interface(1),
      engine::options_from(s.server, Secret{secret_b}), memory::FaultSpec{.delay = Duration::micros(50)}, seed);
  pair->preload_arp();
  ServeApp server(pair->b(), serve_settings(s), s.server.max_connections);
  ChurnClient client(pair->a(), churn_settings(s, memory::sim_addr(1)), s.client.max_connections);
  if (Errc e = server.start(); e != Errc::kOk) {
    run.error = std::string("server: listen failed: ") + errno_name(e);
    return run;
  }
  auto on_event = [&](int side, const engine::AppEvent& ev) {
    if (side == 0) {
      client.on_event(ev);
    } else {
      server.on_event(ev);
    }
  };
  const Instant start = pair->now();
  client.start(start);
  ChurnCounts last{};
  for (std::uint32_t sec = 1; sec <= s.duration_s; ++sec) {
    const Instant end = start + Duration::seconds(sec);
    while (pair->now() < end) {
      client.tick(pair->now());
      pair->settle(on_event);
      // To the next attempt (or the second's end), so each is made on time.
      Instant next = end;
      if (std::optional<Instant> due = client.next_due(); due && *due > pair->now() && *due < next) next = *due;
      pair->run_until([] { return false; }, next - pair->now(), on_event);
    }
    client.tick(pair->now());
    pair->settle(on_event);
    const ChurnCounts& n = client.counts();
    run.series.push_back(LabSample{sec, n.ok - last.ok, n.failed - last.failed, n.completed - last.completed,
                                   pair->a().time_wait().live(), pair->b().time_wait().live()});
    last = n;
    if (progress) progress(sec);
  }
  // As the real-time run does at its end: stop, close what is open, drain.
  client.stop(true);
  server.stop();
  pair->advance(Duration::millis(100), on_event);

  LabMeasurement& m = run.m;
  const ChurnCounts& n = client.counts();
  m.attempts = n.attempts;
  m.ok = n.ok;
  m.failed = n.failed;
  m.completed = n.completed;
  if (client.first_failure()) {
    m.first_failure_s = client.first_failure()->secs();
    m.first_errno = errno_name(*client.first_errno());
  }
  for (const LabSample& x : run.series) {
    m.client_tw_peak = std::max(m.client_tw_peak, x.client_tw);
    m.server_tw_peak = std::max(m.server_tw_peak, x.server_tw);
  }
  m.client_tw_end = run.series.empty() ? 0 : run.series.back().client_tw;
  m.server_tw_end = run.series.empty() ? 0 : run.series.back().server_tw;
  m.recycled = pair->a().counters().get(Counter::TcpExtTWRecycled);
  m.client_overflow = pair->a().counters().get(Counter::TcpExtTCPTimeWaitOverflow);
  m.server_overflow = pair->b().counters().get(Counter::TcpExtTCPTimeWaitOverflow);
  m.cps = held_cps(run.series);
  m.summary = describe(s, m);
  run.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return run;
}

}  // namespace twstack::app
