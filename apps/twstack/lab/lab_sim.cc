// `twstack lab --sim`: a scenario in virtual time over drivers/memory, with
// the application code the real-time processes run (apps/workloads/churn).
#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "apps/twstack/lab/lab_run.hh"
#include "apps/workloads/churn.hh"
#include "drivers/memory/sim.hh"

namespace twstack::app {

namespace {

// What the scenario asks for, on the standard pair (10.0.0.1 -> 10.0.0.2).
ChurnSettings churn_settings(const LabScenario& s, std::uint64_t seed) {
  ChurnSettings cs;
  cs.rate = s.rate;
  cs.duration_s = s.duration_s;
  cs.closer = s.closer;
  cs.server_hold = s.hold;
  cs.server_restart_after = Duration::seconds(s.restart_after_s);
  cs.server_restart_reuseaddr = s.restart_reuseaddr;
  cs.requests_per_conn = s.requests_per_conn;
  cs.client_ip = s.loopback ? wire::Ipv4Addr::from_octets(127, 0, 0, 1) : memory::sim_addr(0);
  cs.server_ip = s.loopback ? wire::Ipv4Addr::from_octets(127, 0, 0, 2) : memory::sim_addr(1);
  cs.server_ports = s.server_ports;
  cs.seed = seed;
  cs.faults = memory::FaultSpec{.delay = Duration::micros(50)};
  cs.client_config = s.client;
  cs.server_config = s.server;
  // As the real-time run does at its end: stop, close what is open, drain.
  cs.drain = Duration::millis(100);
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
  ChurnResult r;
  try {
    r = run_churn(churn_settings(s, seed), [&](std::uint32_t sec) {
      if (progress) progress(sec);
    });
  } catch (const std::runtime_error& e) {
    run.error = e.what();
    return run;
  }
  for (const ChurnSecond& x : r.per_second) {
    run.series.push_back(LabSample{x.t, x.ok, x.failed, x.completed, x.client_timewait, x.server_timewait, {}});
  }
  LabMeasurement& m = run.m;
  m.attempts = r.attempts;
  m.ok = r.ok;
  m.failed = r.failed;
  m.completed = r.completed;
  if (r.first_failure) {
    m.first_failure_s = r.first_failure->secs();
    m.first_errno = errno_name(*r.first_errno);
  }
  for (const LabSample& x : run.series) {
    m.client_tw_peak = std::max(m.client_tw_peak, x.client_tw);
    m.server_tw_peak = std::max(m.server_tw_peak, x.server_tw);
  }
  m.client_tw_end = run.series.empty() ? 0 : run.series.back().client_tw;
  m.server_tw_end = run.series.empty() ? 0 : run.series.back().server_tw;
  m.recycled = r.client.counters.get(Counter::TcpExtTWRecycled);
  m.client_overflow = r.client.counters.get(Counter::TcpExtTCPTimeWaitOverflow);
  m.server_overflow = r.server.counters.get(Counter::TcpExtTCPTimeWaitOverflow);
  if (r.server_restarts != 0) {
    m.restart_bind = r.server_restart_bind == Errc::kOk ? "ok" : errno_name(r.server_restart_bind);
    if (m.restart_bind != "ok") {
      m.restart_rebind = r.server_restart_rebind == Errc::kOk ? "ok" : errno_name(r.server_restart_rebind);
    }
  }
  m.cps = held_cps(run.series);
  m.summary = describe(s, m);
  run.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return run;
}

}  // namespace twstack::app
