#include "apps/twstack/lab/lab_compare.hh"

#include <algorithm>
#include <cmath>

#include "apps/common/text.hh"

namespace twstack::app {
namespace {

// The prediction's tolerances (lab_predict.cc): 2 entries or 2 %; 25 % where SYN
// takeovers of server-side TIME_WAIT depend on scheduling; first failures 50 ms
// late on a loaded machine, on either side here, so 100 ms apart.
bool close_counts(std::uint64_t a, std::uint64_t b, double rel) {
  const auto x = static_cast<double>(a), y = static_cast<double>(b);
  return std::fabs(x - y) <= std::max(2.0, rel * std::max(x, y));
}

std::string both(std::uint64_t l, std::uint64_t t) {
  return "Linux " + std::to_string(l) + ", twstack " + std::to_string(t);
}

void check(LabVerdict* v, bool good, const std::string& what, const std::string& why_not) {
  v->ok = v->ok && good;
  v->checks.push_back((good ? "agrees: " : "DIFFERS: ") + what + (good ? "" : " (" + why_not + ")"));
}

std::string failure_text(const LabMeasurement& m) {
  return m.first_failure_s ? m.first_errno + " at " + fixed(2, *m.first_failure_s) + " s" : "none";
}

}  // namespace

LabVerdict compare_with_linux(const LabScenario& s, const LabMeasurement& l, const LabMeasurement& t) {
  LabVerdict v;
  const std::string unexplained = "not explained: see both runs' counters in summary.json";
  const bool same_failure =
      l.first_failure_s.has_value() == t.first_failure_s.has_value() &&
      (!l.first_failure_s || (l.first_errno == t.first_errno && std::fabs(*l.first_failure_s - *t.first_failure_s) <= 0.1));
  check(&v, same_failure, "first failure: Linux " + failure_text(l) + ", twstack " + failure_text(t), unexplained);
  check(&v, close_counts(l.ok, t.ok, 0.02), "connections established: " + both(l.ok, t.ok), unexplained);
  const bool client_closes = s.closer == Closer::kClient;
  // Server-side TIME_WAIT: takeovers by new SYNs vary with scheduling on both stacks.
  const double server_rel = client_closes ? 0.02 : 0.25;
  const std::string reuse_scan =
      "Linux's connect() takes a TIME_WAIT port over as soon as its port search meets one older than "
      "tcp_tw_reuse_delay (__inet_hash_connect); twstack.port_selection=uniform, twstack's default, only once "
      "every port is taken; port_selection=linux searches as Linux does";
  const bool reuse = (s.client.tcp_tw_reuse == 1 || (s.client.tcp_tw_reuse == 2 && s.loopback)) &&
                     s.client.tcp_timestamps != 0 && s.server.tcp_timestamps != 0 &&
                     s.client.port_selection == PortSelection::kUniform;
  // A connection makes its TIME_WAIT when it ends: one still running its
  // requests when the run stops has none yet. twstack's churn stops at the end
  // of its duration; the kernel client lets those finish for up to 1 s.
  const auto open = [](const LabMeasurement& m) { return m.ok > m.completed ? m.ok - m.completed : 0; };
  const std::string in_flight =
      open(l) != open(t) ? "connections still running when the run ended: twstack completed " + std::to_string(t.completed) +
                               " of " + std::to_string(t.ok) + ", Linux " + std::to_string(l.completed) + " of " +
                               std::to_string(l.ok) + " (twstack's churn stops at its duration; the kernel client lets "
                               "them finish)"
                         : unexplained;
  // FIN_WAIT2 entries end within the run: Linux's timer wheel rounds their
  // tcp_fin_timeout up to its level's granularity, 1/8 at most
  // (kernel/time/timer.c, calc_index); twstack's timers fire on time.
  const std::string client_why =
      reuse ? reuse_scan
            : s.hold ? "Linux's timer wheel ends a FIN_WAIT2 entry up to 1/8 of tcp_fin_timeout late (kernel/time/"
                       "timer.c, calc_index); beyond that, " + in_flight
                     : in_flight;
  const double client_rel = s.hold ? 0.125 : 0.02;
  const std::string entries = s.hold ? "client FIN_WAIT2 (sockstat tw)" : "client TIME_WAIT";
  check(&v, close_counts(l.client_tw_peak, t.client_tw_peak, client_rel),
        entries + " peak: " + both(l.client_tw_peak, t.client_tw_peak), client_why);
  check(&v, close_counts(l.client_tw_end, t.client_tw_end, client_rel),
        entries + " end: " + both(l.client_tw_end, t.client_tw_end), client_why);
  check(&v, close_counts(l.server_tw_peak, t.server_tw_peak, server_rel),
        "server TIME_WAIT peak: " + both(l.server_tw_peak, t.server_tw_peak), unexplained);
  check(&v, close_counts(l.server_tw_end, t.server_tw_end, server_rel),
        "server TIME_WAIT end: " + both(l.server_tw_end, t.server_tw_end), unexplained);
  check(&v, close_counts(l.recycled, t.recycled, 0.02), "reuse (TcpExtTWRecycled): " + both(l.recycled, t.recycled),
        reuse ? reuse_scan : unexplained);
  const std::uint64_t lo = client_closes ? l.client_overflow : l.server_overflow;
  const std::uint64_t to = client_closes ? t.client_overflow : t.server_overflow;
  check(&v, close_counts(lo, to, server_rel), "overflow (TcpExtTCPTimeWaitOverflow): " + both(lo, to), unexplained);
  if (s.restart_after_s != 0) {
    const auto restart = [](const LabMeasurement& m) {
      if (m.restart_bind.empty()) return std::string("none");
      return m.restart_bind + (m.restart_rebind.empty() ? "" : ", then " + m.restart_rebind);
    };
    check(&v, l.restart_bind == t.restart_bind && l.restart_rebind == t.restart_rebind,
          "listener restart bind: Linux " + restart(l) + ", twstack " + restart(t),
          l.restart_bind == "EADDRINUSE" && t.restart_bind == "ok" ? kTwstackRestartBind : unexplained);
  }
  std::vector<std::string> differ;
  for (const std::string& c : v.checks) {
    if (!c.starts_with("DIFFERS")) continue;
    std::string what = c.substr(9, c.find(':', 9) - 9);
    differ.push_back(what);
  }
  if (differ.empty()) {
    v.line = "agree";
  } else {
    v.line = "differ: ";
    for (std::size_t i = 0; i < differ.size(); ++i) v.line += (i == 0 ? "" : ", ") + differ[i];
  }
  return v;
}

}  // namespace twstack::app
