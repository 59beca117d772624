// What a lab scenario should show, from arithmetic alone, and the verdict
// on a measurement.
//
// With tuples = client ephemeral ports x server ports and len the TIME_WAIT
// length, a client-side closer at `rate` connections per second:
//   - holds rate x min(t, len) TIME_WAIT entries at t, at most the cap;
//   - exhausts the 4-tuples at tuples / rate seconds when rate x len >
//     tuples, unless connect() may take over TIME_WAIT entries (tcp_tw_reuse
//     1, or 2 between loopback addresses; the peer's timestamps needed;
//     docs/linux-timewait.md §5), or the cap (tcp_max_tw_buckets < tuples) keeps entries
//     from piling up (docs/linux-timewait.md §4);
//   - sustains at most tuples / len connections per second without reuse.
// A server-side closer holds the entries instead; the client's ports are
// free at once. Keep-alive divides the connection rate by the requests per
// connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "apps/twstack/lab/lab_scenario.hh"

namespace twstack::app {

struct LabPrediction {
  std::uint64_t tuples = 0;
  double timewait_len_s = 0;
  bool reuse = false;                 // connect() may take over TIME_WAIT entries
  std::optional<double> exhaustion_s; // the first EADDRNOTAVAIL
  std::uint64_t client_tw_peak = 0;
  std::uint64_t server_tw_peak = 0;
  std::uint64_t client_tw_end = 0;
  std::uint64_t server_tw_end = 0;
  std::uint64_t recycled = 0;         // TcpExtTWRecycled on the client
  std::uint64_t overflow = 0;         // TcpExtTCPTimeWaitOverflow on the closer
  double sustainable_rate = 0;        // tuples / len (no reuse, no cap)
  std::uint64_t attempts = 0;
  // The listener restart (restart_after): "ok", "EADDRINUSE", or "" when
  // none or not predicted; rebind: the bind with SO_REUSEADDR after a refusal.
  std::string restart_bind;
  std::string restart_rebind;
  std::string summary;                // one line for the table
  std::string why;                    // the arithmetic, for the report
};

// What the run measured (both modes fill it the same way).
struct LabMeasurement {
  std::uint64_t attempts = 0;
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  std::uint64_t completed = 0;
  std::optional<double> first_failure_s;
  std::string first_errno;
  std::uint64_t client_tw_peak = 0;
  std::uint64_t server_tw_peak = 0;
  std::uint64_t client_tw_end = 0;
  std::uint64_t server_tw_end = 0;
  std::uint64_t recycled = 0;
  std::uint64_t client_overflow = 0;
  std::uint64_t server_overflow = 0;
  double cps = 0;                     // completed per second while nothing failed (held_cps)
  std::string restart_bind;           // as LabPrediction's; "" when no restart was made
  std::string restart_rebind;
  std::string summary;
};

struct LabVerdict {
  bool ok = true;
  std::vector<std::string> checks;    // "agrees: ..." or "DIFFERS: ... because ..."
  std::string line;                   // for the table
};

LabPrediction predict(const LabScenario& s);
// The client's ephemeral ports: ip_local_port_range less the reserved ones.
std::uint64_t free_ports(const StackConfig& c);
// kReal: attempts may run late and SYN takeovers vary with scheduling, so
// the first failure may be late and the server side may hold fewer entries.
enum class LabClock : std::uint8_t { kVirtual, kReal };
// How the measured stack picked ports: as the scenario says (twstack), or as
// Linux always does (the Linux column).
enum class PortSearch : std::uint8_t { kAsConfigured, kLinux };
LabVerdict judge(const LabScenario& s, const LabPrediction& p, const LabMeasurement& m,
                 LabClock clock = LabClock::kVirtual, PortSearch search = PortSearch::kAsConfigured);
// The measurement's table line (first failure, TIME_WAIT, reuse, overflow, CPS).
std::string describe(const LabScenario& s, const LabMeasurement& m);
// Why twstack's listener restart bind may succeed where Linux's is refused.
extern const char* const kTwstackRestartBind;

}  // namespace twstack::app
