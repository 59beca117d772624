// The lab at line rate: flat-out scenarios (rate = 0) at the kernel's real
// values -- 60 s TIME_WAIT, the default and the widest port ranges -- with
// twstack and Linux side by side (`twstack lab --line-rate`, and one short
// scenario in the default set).
//
// A flat-out run has no rate to predict from, so the arithmetic takes the
// rate each stack measured, and holds the stack to what follows from it:
//
//   server closes   the server's TIME_WAIT at the end is the connections it
//                   closed in the last TIME_WAIT length (capped); CPS stays flat
//                   from the first seconds to the plateau and through the
//                   expiry wave (each second from t = len on, a second's worth
//                   of entries expires while churn goes on); twstack's bytes
//                   per entry at the peak (its table in use, measured in-process);
//   client closes,  connect() may take an entry over once it is
//   tcp_tw_reuse=1  tcp_tw_reuse_delay old, so once the ports are all taken a
//                   stack makes at most 4-tuples / delay connections a second:
//                   the ceiling, reached by a stack faster than it;
//   client closes,  connect() fails with EADDRNOTAVAIL after exactly one
//   tcp_tw_reuse=0  connection per 4-tuple; on Linux each connect() searches the
//                   range (__inet_hash_connect), so its latency grows as the
//                   range fills.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "apps/common/json.hh"
#include "apps/twstack/lab/lab_report.hh"

namespace twstack::app {

// The line-rate set, in the scenario file format.
std::string_view line_rate_lab_scenarios();

enum class LineRateKind : std::uint8_t { kPlateau, kReuseCeiling, kExhaustion };
LineRateKind line_rate_kind(const LabScenario& s);

// What one stack's flat-out run showed, from its per-second series.
struct LineRateFigures {
  double cps_first = 0;       // mean of seconds 2-4 (the first is partly start-up)
  double cps_plateau = 0;     // mean of the last five seconds
  double cps_steady = 0;      // mean from second 3 to the end
  bool wave = false;          // the run went past the TIME_WAIT length
  double cps_min_wave = 0;    // the slowest second from then on
  std::uint64_t expired_per_s = 0;  // entries expiring each second in the wave (CPS a length earlier)
  std::uint64_t tw_peak = 0;        // the closer's
  // The client's TIME_WAIT reached 95 % of the 4-tuples within
  // tcp_tw_reuse_delay: the stack asks for more than the reuse ceiling.
  bool filled_within_delay = false;
  std::uint64_t tw_expected = 0;    // completions in the last TIME_WAIT length, capped
  std::uint64_t tw_bytes_at_peak = 0;
  double bytes_per_entry = 0;
  std::uint64_t loop_max_us = 0;       // twstack: the closer's longest poll-loop iteration
  std::uint64_t loop_max_wave_us = 0;  // ... during the expiry wave
  // Linux, tcp_tw_reuse=0: the connect() call's p50 and p99 in the first
  // second and in the second where the connections made passed half the range.
  std::uint64_t call_p50_first_us = 0, call_p50_half_us = 0, call_p99_half_us = 0;
  std::uint32_t half_t = 0;
};
// `linux`: the run is the kernel's (its TIME_WAIT memory is the machine's slabs).
LineRateFigures line_rate_figures(const LabScenario& s, const LabRun& run, double len_s, bool linux);

// tw_capacity = auto: room for 1.5 x the calibration's CPS x `len_s` (the
// TIME_WAIT length, or the run's duration if shorter), in whole millions
// (at least one).
std::uint64_t tw_capacity_for(double cps, double len_s);
// Whether the machine has the memory for twstack's table of `capacity`
// entries and Linux's TIME_WAIT sockets at its cap (`linux_cap`), checked
// against MemAvailable before anything starts; a message saying what is
// needed and what to do, or nullopt.
std::optional<std::string> check_line_rate_memory(const std::string& scenario, std::uint64_t capacity,
                                                  std::uint64_t linux_cap, std::uint64_t mem_available);
// MemAvailable from /proc/meminfo, bytes (0 when unreadable).
std::uint64_t mem_available_bytes();
// The check for a scenario as it will run: twstack's table at tw_capacity (or
// the closer's tcp_max_tw_buckets), at most what one table holds; Linux's
// population at its cap -- the scenario's, or this machine's own -- and at
// most the 4-tuples (`with_linux`: the Linux column runs).
std::optional<std::string> line_rate_memory_check(const LabScenario& s, bool with_linux);

// Fills the prediction, both measurements' table lines and all three verdicts
// of a flat-out scenario's result.
void judge_line_rate(LabResult* r);

// summary.json's "line_rate": each stack's figures, run latencies and table size.
Json line_rate_json(const LabResult& r);

// Draws linerate.png (four panels a scenario: TIME_WAIT, CPS, connect latency,
// memory) from <scenario>-rate.csv, which it writes; "" or why no plot.
std::string write_line_rate_plots(const std::string& dir, const std::vector<LabResult>& results, const LabMode& mode);

}  // namespace twstack::app
