// The lab's scenario files: plain text, one scenario per section.
//
//   # a comment; blank lines are ignored
//   [port-exhaustion]                       a section starts a scenario (name: letters, digits, - _)
//   title = the client closes first, tcp_tw_reuse=0
//   rate = 100                              connections per second (whole; 0: flat out, a
//                                           line-rate scenario: lab_linerate.hh)
//   inflight = 256                          rate = 0: connections in progress
//   tw_capacity = auto                      twstack's tcp_max_tw_buckets (its table's size):
//                                           N, or auto: 1.5 x the best second of a calibration run
//                                           x TIME_WAIT's length; Linux keeps its own value
//   duration = 8                            seconds of churn
//   closer = client                         client | server | never (the client closes,
//                                           the server never does: CLOSE_WAIT on the server,
//                                           the client's orphan in FIN_WAIT2 for tcp_fin_timeout)
//   requests_per_conn = 1                   keep-alive: requests per connection
//   server_ports = 80 81                    the server's ports, taken in turn (more 4-tuples);
//                                           ranges too: 1000-4999
//   restart_after = 3                       the server restarts its listeners 3 s after its
//                                           first connection (0: never; ServeApp::restart)
//   restart_reuseaddr = no                  ... binding again without SO_REUSEADDR (default yes)
//   link = loopback                         addresses 127.0.0.1 -> 127.0.0.2 instead of two hosts'
//                                           (twstack: still over net_memif; Linux: one namespace, lo)
//   set = twstack.tcp_timewait_len=10       a knob for both sides (repeatable)
//   client_set = net.ipv4.tcp_tw_reuse=0    a knob for the client only (repeatable)
//   server_set = net.ipv4.tcp_max_tw_buckets=300
//
// Knobs are the ones `--set` takes (sysctl names, `twstack.` for twstack's
// own). An unknown key, a bad value or a knob the configuration refuses is
// an error naming the file and line. `twstack lab --print-default` prints
// the default set in this format, to copy and edit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apps/workloads/closer.hh"
#include "stack/base/config.hh"

namespace twstack::app {

struct LabScenario {
  std::string name;
  std::string title;
  std::uint64_t rate = 100;     // 0: flat out
  std::uint32_t inflight = 256;  // rate 0: connections in progress
  std::uint32_t duration_s = 8;
  Closer closer = Closer::kClient;
  bool hold = false;  // closer = never: closer is kClient, the server holds (ServeSettings::hold)
  std::uint32_t requests_per_conn = 1;
  std::vector<std::uint16_t> server_ports{80};
  bool loopback = false;  // link = loopback: 127/8 addresses on both sides
  std::uint32_t restart_after_s = 0;
  bool restart_reuseaddr = true;
  // twstack's tcp_max_tw_buckets, for twstack only (0: as `set` says);
  // tw_capacity_auto: sized by the lab from a calibration run.
  std::uint64_t tw_capacity = 0;
  bool tw_capacity_auto = false;
  bool line_rate() const { return rate == 0; }
  // Assignments in order, as written (for the child processes' --set).
  std::vector<std::string> both_sets;
  std::vector<std::string> client_sets;
  std::vector<std::string> server_sets;
  // The resulting configurations (defaults, then `set`, then the side's own).
  StackConfig client{};
  StackConfig server{};
};

// Parses scenario text; `origin` names it in messages ("file.lab").
std::optional<std::string> parse_lab_scenarios(std::string_view text, std::string_view origin,
                                               std::vector<LabScenario>* out);

// The default set: the seed scenarios, at Linux's 60 s TIME_WAIT.
std::string_view default_lab_scenarios();

}  // namespace twstack::app
