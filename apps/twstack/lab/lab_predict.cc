#include "apps/twstack/lab/lab_predict.hh"

#include <algorithm>
#include <cmath>
#include <deque>

#include "apps/common/text.hh"

namespace twstack::app {

std::uint64_t free_ports(const StackConfig& c) {
  std::uint64_t n = 0;
  for (std::uint32_t p = c.ip_local_port_range.low; p <= c.ip_local_port_range.high; ++p) {
    if (!c.ip_local_reserved_ports.test(p)) ++n;
  }
  return n;
}

namespace {

// How long the closer's entries last: TIME_WAIT's length, or with a server
// that never closes (closer = never) the client's orphaned FIN_WAIT2, which
// goes to the TIME_WAIT table for tcp_fin_timeout when that is at most
// TIME_WAIT's length (tcp_rcv_state_process, FIN_WAIT1 case; the scenario
// parser insists) and never becomes TIME_WAIT, as no FIN comes.
std::int64_t entry_len_us(const LabScenario& s) {
  if (s.hold) return s.client.tcp_fin_timeout.us;
  return (s.closer == Closer::kClient ? s.client : s.server).tcp_timewait_len.us;
}

// What the client's table entries are, for the table.
const char* entry_name(const LabScenario& s) { return s.hold ? "FIN_WAIT2" : "TW"; }

// The restart's outcome for the table: "restart: bind without SO_REUSEADDR
// EADDRINUSE, with it ok".
std::string restart_text(const LabScenario& s, const std::string& bind, const std::string& rebind) {
  if (bind.empty()) return {};
  std::string t =
      std::string(", restart: bind ") + (s.restart_reuseaddr ? "with" : "without") + " SO_REUSEADDR " + bind;
  if (!rebind.empty()) t += ", with it " + rebind;
  return t;
}

// The listener restart (docs/linux-timewait.md §8): the old listener set
// SO_REUSEADDR (as twstack's listen() and the kernel server do), and so did
// its connections' TIME_WAIT entries (tw_reuse), so a bind with it succeeds
// (inet_csk_bind_conflict: both sides reuse, none listening). Without it,
// any socket of the port's -- a TIME_WAIT entry, a live connection --
// refuses the bind: with the server closing at `rate`, TIME_WAIT entries are
// there at the restart. With the client closing, whether a connection is
// open at that instant is chance: not predicted.
void predict_restart(const LabScenario& s, LabPrediction* p) {
  if (s.restart_after_s == 0 || s.restart_after_s >= s.duration_s) return;
  if (s.restart_reuseaddr) {
    p->restart_bind = "ok";
  } else if (s.closer == Closer::kServer && s.server.tcp_timewait_len.us > 0) {
    p->restart_bind = "EADDRINUSE";
    p->restart_rebind = "ok";
  }
}

// The arithmetic as a model, attempt by attempt: attempt k at k / rate;
// each connection closes at once and its TIME_WAIT entry (on the closer)
// lasts len. On the client, a port is busy while its entry lives; with
// reuse, connect() takes over the oldest entry once it is older than
// tcp_tw_reuse_delay; past the cap no entry is made (overflow). This is the
// prediction the measurement is held to, not a copy of the engine.
void run_model(const LabScenario& s, LabPrediction* p) {
  const bool client_closes = s.closer == Closer::kClient;
  const StackConfig& side = client_closes ? s.client : s.server;
  // Microseconds, as the churn schedules attempt k at k * 10^6 / rate.
  const std::int64_t len = entry_len_us(s);
  const std::int64_t delay = s.client.tcp_tw_reuse_delay.us;
  const std::uint64_t cap = side.tcp_max_tw_buckets;
  std::deque<std::int64_t> entries;  // entry times, oldest first
  std::uint64_t peak = 0;
  for (std::uint64_t k = 0; k < p->attempts; ++k) {
    const auto t = static_cast<std::int64_t>(k * 1000000 / s.rate);
    while (!entries.empty() && entries.front() + len <= t) entries.pop_front();
    if (client_closes && entries.size() >= p->tuples) {
      if (!p->reuse || t - entries.front() <= delay) {
        if (!p->exhaustion_s) p->exhaustion_s = static_cast<double>(t) / 1e6;
        continue;
      }
      entries.pop_front();
      ++p->recycled;
    }
    if (entries.size() >= cap) {
      ++p->overflow;
      continue;
    }
    entries.push_back(t);
    peak = std::max<std::uint64_t>(peak, entries.size());
  }
  const std::int64_t end = std::int64_t{s.duration_s} * 1000000;
  while (!entries.empty() && entries.front() + len <= end) entries.pop_front();
  (client_closes ? p->client_tw_peak : p->server_tw_peak) = peak;
  (client_closes ? p->client_tw_end : p->server_tw_end) = entries.size();
}

}  // namespace

LabPrediction predict(const LabScenario& s) {
  LabPrediction p;
  p.tuples = free_ports(s.client) * s.server_ports.size();
  const bool client_closes = s.closer == Closer::kClient;
  const StackConfig& side = client_closes ? s.client : s.server;
  p.timewait_len_s = static_cast<double>(entry_len_us(s)) / 1e6;
  // docs/linux-timewait.md §5: tcp_tw_reuse 1, or 2 for loopback only (link =
  // loopback), and the old connection saw the peer's timestamps.
  p.reuse = (s.client.tcp_tw_reuse == 1 || (s.client.tcp_tw_reuse == 2 && s.loopback)) &&
            s.client.tcp_timestamps != 0 && s.server.tcp_timestamps != 0;
  p.attempts = static_cast<std::uint64_t>(std::ceil(static_cast<double>(s.rate) * s.duration_s));
  p.sustainable_rate = static_cast<double>(p.tuples) / p.timewait_len_s;
  run_model(s, &p);
  const double rate = static_cast<double>(s.rate);
  p.why = std::to_string(p.tuples) + " 4-tuples, " + fixed(-1, rate) + " connections/s, " +
          (s.hold ? "the server never closes: the client's orphaned FIN_WAIT2 (tcp_fin_timeout, in the TIME_WAIT "
                    "table, as sockstat's tw counts it) "
                  : "TIME_WAIT ") +
          fixed(-1, p.timewait_len_s) + " s on the " + closer_name(s.closer) + ": population rate x len = " +
          fixed(0, rate * p.timewait_len_s) + " (cap " + std::to_string(side.tcp_max_tw_buckets) +
          "), sustainable without reuse " + fixed(0, p.sustainable_rate) + "/s";
  if (p.exhaustion_s) {
    p.why += "; exhausted at tuples / rate = " + fixed(2, *p.exhaustion_s) + " s";
    p.summary = "EADDRNOTAVAIL at " + fixed(2, *p.exhaustion_s) + " s";
  } else {
    p.summary = "no failure";
  }
  const std::uint64_t peak = client_closes ? p.client_tw_peak : p.server_tw_peak;
  p.summary += std::string(", ") + entry_name(s) + " " + std::to_string(peak) + (client_closes ? " client" : " server");
  if (p.recycled != 0) p.summary += ", reused " + std::to_string(p.recycled);
  if (p.reuse && client_closes) {
    p.why += "; a port search (Linux's, twstack.port_selection=linux) takes entries over before the ports run "
             "out: at most this TIME_WAIT, at least this reuse";
  }
  if (p.overflow != 0) p.summary += ", overflow " + std::to_string(p.overflow);
  predict_restart(s, &p);
  if (!p.restart_bind.empty()) {
    p.why += "; the restart's bind " + std::string(s.restart_reuseaddr ? "with" : "without") + " SO_REUSEADDR: " +
             (p.restart_bind == "ok" ? "the old sockets set it too (inet_csk_bind_conflict)"
                                     : "the port's TIME_WAIT entries refuse it (inet_csk_bind_conflict)");
  }
  p.summary += restart_text(s, p.restart_bind, p.restart_rebind);
  return p;
}

std::string describe(const LabScenario& s, const LabMeasurement& m) {
  std::string d = m.first_failure_s ? m.first_errno + " at " + fixed(2, *m.first_failure_s) + " s" : "no failure";
  const bool client_closes = s.closer == Closer::kClient;
  d += std::string(", ") + entry_name(s) + " " + std::to_string(client_closes ? m.client_tw_peak : m.server_tw_peak) +
       (client_closes ? " client" : " server");
  if (m.recycled != 0) d += ", reused " + std::to_string(m.recycled);
  const std::uint64_t ovf = client_closes ? m.client_overflow : m.server_overflow;
  if (ovf != 0) d += ", overflow " + std::to_string(ovf);
  d += restart_text(s, m.restart_bind, m.restart_rebind);
  d += ", " + fixed(0, m.cps) + " CPS";
  return d;
}

namespace {

bool near(double measured, double predicted, double abs_tol, double rel_tol) {
  return std::fabs(measured - predicted) <= std::max(abs_tol, rel_tol * std::fabs(predicted));
}

void check(LabVerdict* v, bool good, const std::string& what, const std::string& why_not = {}) {
  v->ok = v->ok && good;
  v->checks.push_back((good ? "agrees: " : "DIFFERS: ") + what + (good || why_not.empty() ? "" : " (" + why_not + ")"));
}

}  // namespace

// In real time a loaded machine only ever delays attempts: the first
// failure may come late, never early. In virtual time it is exact.
bool on_time(double measured, double predicted, LabClock clock) {
  if (clock == LabClock::kReal) return measured >= predicted - 0.05;
  return near(measured, predicted, 0.05, 0.02);
}

// Server-side TIME_WAIT under takeovers (docs/linux-timewait.md §6): each
// takeover can only lower the peak and the overflow count, and how many
// happen depends on real-time scheduling; in virtual time they are few.
bool near_with_takeovers(std::uint64_t measured, std::uint64_t predicted, LabClock clock) {
  const auto m = static_cast<double>(measured), p = static_cast<double>(predicted);
  if (clock == LabClock::kReal) return m <= p + 2 && m >= 0.75 * p;
  return near(m, p, 2, 0.05);
}

// A known difference: Linux keeps a TIME_WAIT socket on its port's bind
// bucket, an accepted child's with its listener's flags, so it conflicts with
// a new bind (docs/linux-timewait.md §8); twstack's engine releases a passive
// child's hold on the listener's bind when the child goes to TIME_WAIT
// (QueueEngine::to_time_wait keeps only bound connect()s' binds), so nothing
// is left to refuse it.
const char* const kTwstackRestartBind =
    "twstack's server-side TIME_WAIT entries do not keep the listener's bind: the engine releases an accepted "
    "connection's hold on it at TIME_WAIT (QueueEngine::to_time_wait), where Linux keeps the TIME_WAIT socket on "
    "the port's bind bucket (docs/linux-timewait.md §8); so twstack refuses the bind only while one of the port's "
    "connections is still open, Linux for as long as TIME_WAIT lasts";

LabVerdict judge(const LabScenario& s, const LabPrediction& p, const LabMeasurement& m, LabClock clock,
                 PortSearch search) {
  LabVerdict v;
  const auto n = [](std::uint64_t x) { return std::to_string(x); };
  if (p.exhaustion_s) {
    const bool good = m.first_failure_s && m.first_errno == "EADDRNOTAVAIL" && on_time(*m.first_failure_s, *p.exhaustion_s, clock);
    check(&v, good, "first failure predicted EADDRNOTAVAIL at " + fixed(2, *p.exhaustion_s) + " s, measured " +
                        (m.first_failure_s ? m.first_errno + " at " + fixed(2, *m.first_failure_s) + " s" : "none"));
  } else {
    check(&v, m.failed == 0, "no failure predicted, measured " + n(m.failed) + " failed" +
                                 (m.first_failure_s ? " (first " + m.first_errno + " at " + fixed(2, *m.first_failure_s) + " s)" : ""),
          "a failure the arithmetic does not explain: see the counters");
  }
  const bool client_closes = s.closer == Closer::kClient;
  if (client_closes) {
    // The arithmetic takes an entry over only once every port is taken, as
    // twstack's uniform port choice does. Linux's port search, and
    // twstack.port_selection=linux, take one over as soon as they meet one older
    // than the delay (__inet_hash_connect), so how many depends on where the
    // search starts: held to bounds instead, and to the count that must hold
    // whatever the search (each connection makes an entry or takes one over).
    if (p.reuse && (search == PortSearch::kLinux || s.client.port_selection == PortSelection::kLinux)) {
      const std::string why = "the port search takes TIME_WAIT ports over before the range is used up "
                              "(__inet_hash_connect)";
      check(&v, m.client_tw_peak <= p.client_tw_peak + 2,
            "client TIME_WAIT peak at most " + n(p.client_tw_peak) + " (" + why + "), measured " + n(m.client_tw_peak));
      check(&v, m.recycled + 2 >= p.recycled,
            "reuse (TcpExtTWRecycled) at least " + n(p.recycled) + " (" + why + "), measured " + n(m.recycled));
      if (p.timewait_len_s > s.duration_s) {
        check(&v, near(static_cast<double>(m.client_tw_end + m.recycled), static_cast<double>(m.ok), 2, 0.02),
              "TIME_WAIT at the end + reused = connections (" + n(m.client_tw_end) + " + " + n(m.recycled) + ", " +
                  n(m.ok) + " connections)");
      }
    } else {
      const std::string in_flight = m.ok > m.completed ? n(m.ok - m.completed) +
                                                             " connections were still running their requests when "
                                                             "the run ended, so had no TIME_WAIT yet"
                                                       : "";
      const auto tw_s = static_cast<std::uint64_t>(s.client.tcp_timewait_len.secs());
      const std::string what = s.hold ? "client FIN_WAIT2 peak (tcp_fin_timeout " + fixed(-1, p.timewait_len_s) +
                                            " s; " + n(s.rate * std::min<std::uint64_t>(s.duration_s, tw_s)) +
                                            " if it lasted TIME_WAIT's " + n(tw_s) + " s)"
                                      : std::string("client TIME_WAIT peak");
      // In real time FIN_WAIT2 entries (seconds, not a minute) may end late,
      // never early: Linux's timer wheel rounds a 4-32 s timer up to its
      // level's granularity, 1/8 of it at most (kernel/time/timer.c,
      // calc_index), and a loaded machine makes fewer attempts, never more.
      const auto pk = static_cast<double>(p.client_tw_peak), mk = static_cast<double>(m.client_tw_peak);
      const bool peak_ok = s.hold && clock == LabClock::kReal ? mk <= pk * 1.125 + 2 && mk >= pk * 0.9 - 2
                                                              : near(mk, pk, 2, 0.02);
      check(&v, peak_ok, what + " predicted " + n(p.client_tw_peak) + ", measured " + n(m.client_tw_peak), in_flight);
      check(&v, near(static_cast<double>(m.recycled), static_cast<double>(p.recycled), 2, 0.02),
            "reuse (TcpExtTWRecycled) predicted " + n(p.recycled) + ", measured " + n(m.recycled));
    }
    check(&v, m.server_tw_peak == 0, "server TIME_WAIT predicted 0, measured " + n(m.server_tw_peak));
    check(&v, near(static_cast<double>(m.client_overflow), static_cast<double>(p.overflow), 2, 0.02),
          "overflow (TcpExtTCPTimeWaitOverflow) predicted " + n(p.overflow) + ", measured " + n(m.client_overflow));
  } else {
    // A new SYN on a 4-tuple in TIME_WAIT takes the entry over (RFC 6191,
    // docs/linux-timewait.md §6): the client, holding no TIME_WAIT, may pick a port again
    // at once, so the server holds a few entries less than the arithmetic.
    const std::string takeover = "fewer: new SYNs took entries over (docs/linux-timewait.md §6)";
    check(&v, near_with_takeovers(m.server_tw_peak, p.server_tw_peak, clock),
          "server TIME_WAIT peak predicted " + n(p.server_tw_peak) + ", measured " + n(m.server_tw_peak), takeover);
    check(&v, m.client_tw_peak == 0, "client TIME_WAIT predicted 0, measured " + n(m.client_tw_peak));
    check(&v, near_with_takeovers(m.server_overflow, p.overflow, clock),
          "overflow (TcpExtTCPTimeWaitOverflow) predicted " + n(p.overflow) + ", measured " + n(m.server_overflow),
          takeover);
  }
  if (!p.restart_bind.empty()) {
    check(&v, m.restart_bind == p.restart_bind && m.restart_rebind == p.restart_rebind,
          "listener restart predicted" + restart_text(s, p.restart_bind, p.restart_rebind).substr(10) + ", measured" +
              (m.restart_bind.empty() ? std::string(" no restart")
                                      : restart_text(s, m.restart_bind, m.restart_rebind).substr(10)),
          search == PortSearch::kAsConfigured && p.restart_bind == "EADDRINUSE" && m.restart_bind == "ok"
              ? kTwstackRestartBind
              : "");
  }
  std::uint64_t differ = 0;
  for (const std::string& c : v.checks) differ += c.starts_with("DIFFERS") ? 1 : 0;
  v.line = v.ok ? "as predicted" : "DIFFERS (" + n(differ) + " of " + n(v.checks.size()) + " checks)";
  return v;
}

}  // namespace twstack::app
