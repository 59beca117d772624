// Connection churn between a client and a server engine over a SimPair: the
// engine behind `twstack sim churn`.
//
// The client opens connections to the server's listening port, either on a
// fixed schedule (`rate` per virtual second, attempt k at exactly k/rate s)
// or, with rate 0, keeping `inflight` connections in progress. On each
// connection it sends `requests_per_conn` requests of kRequestBytes, one at a
// time; the server answers each complete request with kResponseBytes. Then
// one side closes (`closer`) and the other closes when it reads EOF, so
// TIME_WAIT builds up on the closer's side, as it would between two hosts.
//
// Results are per virtual second of the churn (connections established,
// attempts failed, TIME_WAIT entries on each side) plus totals, the first
// failure and each side's counters. Failures are results: the run always
// goes to the end of `duration`.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "drivers/memory/sim.hh"
#include "stack/base/config.hh"
#include "stack/base/counters.hh"
#include "stack/base/errc.hh"
#include "stack/wire/ipv4.hh"

namespace twstack::app {

enum class Closer : std::uint8_t { kClient, kServer };

const char* closer_name(Closer c);

struct ChurnSettings {
  static constexpr std::uint32_t kRequestBytes = 100;
  static constexpr std::uint32_t kResponseBytes = 200;

  std::uint64_t rate = 100;  // connection attempts per virtual second; 0: as fast as possible
  std::uint32_t inflight = 64;  // with rate 0: connections kept in progress
  std::uint32_t duration_s = 20;
  Closer closer = Closer::kClient;
  std::uint32_t requests_per_conn = 1;
  wire::Ipv4Addr client_ip = wire::Ipv4Addr::from_octets(10, 0, 0, 1);
  wire::Ipv4Addr server_ip = wire::Ipv4Addr::from_octets(10, 0, 0, 2);
  std::uint16_t server_port = 80;
  std::uint64_t seed = 1;  // engine secrets (one per side) and link faults
  memory::FaultSpec faults{.delay = Duration::micros(100)};
  StackConfig client_config{};
  StackConfig server_config{};
};

// One virtual second s of the churn, the interval (s-1, s] (the first one
// also holds t = 0).
struct ChurnSecond {
  std::uint32_t t = 0;
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  std::uint64_t client_timewait = 0;  // gauges().timewait at t
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
  std::uint64_t broken = 0;     // closed with an error after being established
  std::uint64_t completed = 0;  // the client read every response and closed
  std::uint64_t requests_completed = 0;  // responses read in full by the client
  std::optional<Duration> first_failure;  // since the churn started
  std::optional<Errc> first_errno;
  std::array<std::uint64_t, 256> errors{};  // failures and breaks by Errc
  std::vector<ChurnSecond> per_second;
  ChurnSide client;
  ChurnSide server;
  Duration virtual_time{};
  double wall_seconds = 0;  // including building and tearing down the engines
  std::uint64_t rounds = 0;

  std::uint64_t errors_of(Errc e) const { return errors[static_cast<std::uint8_t>(e)]; }
};

// The options each engine gets: its configuration with a secret derived
// from the seed, different per side (0 client, 1 server).
engine::EngineOptions churn_engine_options(const ChurnSettings& s, int side);

// Runs the churn to the end of `duration_s` virtual seconds.
ChurnResult run_churn(const ChurnSettings& s);

}  // namespace twstack::app
