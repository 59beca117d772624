// Connection churn in virtual time: ChurnClient on one engine against
// ServeApp (HTTP) on another, joined by drivers/memory -- the application
// code `twstack churn` and `twstack serve` run on DPDK queues. Behind
// `twstack sim churn` and `twstack lab --sim`.
//
// The client opens connections to the server's ports (taken in turn),
// either on a fixed schedule (`rate` per virtual second, attempt k at
// exactly k/rate s) or, with rate 0, keeping `inflight` connections in
// progress. On each connection it sends `requests_per_conn` HTTP/1.1 GETs,
// one at a time; the server answers each with 200 OK and a 100-byte body.
// Then the `closer` closes (closer server: the last request says
// "Connection: close") and the other side closes when it reads EOF, so
// TIME_WAIT builds up on the closer's side, as between two hosts.
//
// Results are per virtual second of the churn (connections established,
// attempts failed, connections completed, TIME_WAIT entries on each side)
// plus totals, the first failure and each side's counters. Failures are
// results: the run always goes to the end of `duration`.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "apps/workloads/closer.hh"
#include "drivers/memory/sim.hh"
#include "stack/base/config.hh"
#include "stack/base/counters.hh"
#include "stack/base/errc.hh"
#include "stack/wire/ipv4.hh"

namespace twstack::app {

struct ChurnSettings {
  std::uint64_t rate = 100;  // connection attempts per virtual second; 0: as fast as possible
  std::uint32_t inflight = 64;  // with rate 0: connections kept in progress
  std::uint32_t duration_s = 20;
  Closer closer = Closer::kClient;
  bool server_hold = false;  // closer client: the server never closes (ServeSettings::hold)
  // That long into the churn (zero: never) the server restarts its listeners
  // (ServeApp::restart), with SO_REUSEADDR or without.
  Duration server_restart_after{};
  bool server_restart_reuseaddr = true;
  std::uint32_t requests_per_conn = 1;
  wire::Ipv4Addr client_ip = wire::Ipv4Addr::from_octets(10, 0, 0, 1);
  wire::Ipv4Addr server_ip = wire::Ipv4Addr::from_octets(10, 0, 0, 2);
  std::vector<std::uint16_t> server_ports{80};  // the server listens on each; attempts take them in turn
  std::uint64_t seed = 1;  // engine secrets (one per side) and link faults
  memory::FaultSpec faults{.delay = Duration::micros(100)};
  StackConfig client_config{};
  StackConfig server_config{};
  // After the churn: both sides stop and close what is open, and the link
  // runs this much longer before the counters are read (0: read at once).
  Duration drain{};
};

// One virtual second s of the churn, the interval (s-1, s] (the first one
// also holds t = 0).
struct ChurnSecond {
  std::uint32_t t = 0;
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  std::uint64_t completed = 0;
  std::uint64_t client_timewait = 0;  // TIME_WAIT entries at t
  std::uint64_t server_timewait = 0;
};

struct ChurnSide {
  Counters counters{};
  Gauges gauges{};  // at the end
};

struct ChurnResult {
  std::uint64_t attempts = 0;   // connect() calls
  std::uint64_t ok = 0;         // the client saw kEvEstablished
  std::uint64_t failed = 0;     // connect() refused, or closed before established
  std::uint64_t broken = 0;     // closed with an error (or short) after being established
  std::uint64_t completed = 0;  // the client read every response and closed
  std::uint64_t requests_completed = 0;  // responses read in full by the client
  std::uint64_t bad_responses = 0;       // unparsable or non-2xx (none from ServeApp)
  std::optional<Duration> first_failure;  // since the churn started
  std::optional<Errc> first_errno;
  std::array<std::uint64_t, 256> errors{};  // failures and breaks by Errc
  std::vector<ChurnSecond> per_second;
  std::uint64_t server_restarts = 0;            // ServeStats::restarts
  Errc server_restart_bind = Errc::kOk;         // ServeStats::restart_bind
  Errc server_restart_rebind = Errc::kOk;       // ServeStats::restart_rebind
  ChurnSide client;
  ChurnSide server;
  Duration virtual_time{};  // from the first attempt to the end of the churn and the drain
  double wall_seconds = 0;  // including building and tearing down the engines
  std::uint64_t rounds = 0;

  std::uint64_t errors_of(Errc e) const { return errors[static_cast<std::uint8_t>(e)]; }
};

// The options each engine gets: its configuration with a secret derived
// from the seed, different per side (0 client, 1 server).
engine::EngineOptions churn_engine_options(const ChurnSettings& s, int side);

// Runs the churn to the end of `duration_s` virtual seconds (then the
// drain); `each_second`, if set, is called with each second done.
// std::runtime_error if the server cannot listen.
ChurnResult run_churn(const ChurnSettings& s, const std::function<void(std::uint32_t)>& each_second = {});

}  // namespace twstack::app
