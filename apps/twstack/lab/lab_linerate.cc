#include "apps/twstack/lab/lab_linerate.hh"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "apps/common/text.hh"
#include "stack/timewait/table.hh"

namespace twstack::app {
namespace {

// Linux's TIME_WAIT sockets are about 512 bytes each with their share of the
// bind buckets and hash (tw_sock_TCP is 256 here); the memory check uses it.
constexpr std::uint64_t kLinuxBytesPerEntry = 512;
// The processes, their mbuf pools and the connection tables, on top of the
// TIME_WAIT tables.
constexpr std::uint64_t kBaseBytes = 1ULL << 30;

constexpr std::string_view kLineRate = R"(# twstack lab --line-rate: flat out (rate = 0) at the kernel's real values:
# TIME_WAIT 60 s on both stacks, the widest and the default port ranges.
# Linux runs at its own tcp_max_tw_buckets; twstack's table is sized by
# tw_capacity (auto: from a calibration run).

[lr-server-close]
title = the server closes, flat out over 4000 server ports: TIME_WAIT piles up on the server to CPS x 60 s, then a second's worth expires every second while churn goes on
rate = 0
inflight = 256
duration = 75
closer = server
server_ports = 1000-4999
tw_capacity = auto
client_set = net.ipv4.ip_local_port_range=1024 65535

[lr-reuse-ceiling]
title = the client closes with tcp_tw_reuse=1, one server port, the widest range: at most 64512 ports / 1 s (tcp_tw_reuse_delay) connections a second
rate = 0
inflight = 256
duration = 10
closer = client
client_set = net.ipv4.ip_local_port_range=1024 65535
client_set = net.ipv4.tcp_tw_reuse=1

[lr-reuse-ceiling-10k]
title = the same over 10000 ports: a ceiling of 10000 connections a second, below both stacks' own rates
rate = 0
inflight = 256
duration = 8
closer = client
client_set = net.ipv4.ip_local_port_range=40000 49999
client_set = net.ipv4.tcp_tw_reuse=1

[lr-exhaustion]
title = the client closes with tcp_tw_reuse=0, one server port, the widest range: connect() fails after 64512 connections
rate = 0
inflight = 256
duration = 12
closer = client
client_set = net.ipv4.ip_local_port_range=1024 65535
client_set = net.ipv4.tcp_tw_reuse=0

[lr-exhaustion-default-range]
title = the same over Linux's default range, 32768-60999: 28232 connections
rate = 0
inflight = 256
duration = 8
closer = client
client_set = net.ipv4.ip_local_port_range=32768 60999
client_set = net.ipv4.tcp_tw_reuse=0
)";

double mean_cps(const std::vector<LabSample>& v, std::uint32_t from, std::uint32_t to) {
  double sum = 0;
  int n = 0;
  for (const LabSample& x : v) {
    if (x.t >= from && x.t <= to) {
      sum += static_cast<double>(x.completed);
      ++n;
    }
  }
  return n == 0 ? 0 : sum / n;
}

bool reuses(const LabScenario& s) {
  return s.client.tcp_tw_reuse == 1 && s.client.tcp_timestamps != 0 && s.server.tcp_timestamps != 0;
}

std::uint64_t tuples(const LabScenario& s) { return free_ports(s.client) * s.server_ports.size(); }

std::string kilo(double v) {
  if (v >= 1e6) return fixed(2, v / 1e6) + "M";
  if (v >= 1e4) return fixed(0, v / 1e3) + "k";
  return fixed(0, v);
}

void check(LabVerdict* v, bool good, const std::string& what, const std::string& why_not = {}) {
  v->ok = v->ok && good;
  v->checks.push_back((good ? "agrees: " : "DIFFERS: ") + what + (good || why_not.empty() ? "" : " (" + why_not + ")"));
}

void finish(LabVerdict* v) { v->line = v->ok ? "agrees" : "differs"; }

// One stack's cell and its checks against the arithmetic.
struct Judged {
  std::string summary;
  LabVerdict verdict;
};

Judged plateau(const LabScenario& s, const LabRun& run, const LineRateFigures& f, bool linux, double len_s) {
  Judged j;
  const std::uint64_t cap = run.tw_capacity;
  j.summary = "TW " + kilo(static_cast<double>(f.tw_peak)) + " server";
  if (!linux) j.summary += ", " + fixed(1, f.bytes_per_entry) + " B/entry";
  if (linux && run.slab_tw_objsize != 0) j.summary += ", slab " + fixed(0, f.bytes_per_entry) + " B/entry";
  j.summary += ", CPS " + kilo(f.cps_first) + " -> " + kilo(f.cps_plateau);
  if (f.wave) j.summary += ", wave min " + kilo(f.cps_min_wave);
  if (!linux) j.summary += ", stall " + fixed(1, static_cast<double>(f.loop_max_wave_us ? f.loop_max_wave_us : f.loop_max_us) / 1e3) + " ms";
  j.summary += ", connect p99 " + std::to_string(run.connect_us.p99) + " us";
  LabVerdict& v = j.verdict;
  // SYNs on 4-tuples still in TIME_WAIT take entries over (RFC 6191,
  // tcp_timewait_state_process), so a few fewer than the completions stay.
  const bool near = f.tw_peak >= f.tw_expected * 85 / 100 && f.tw_peak <= f.tw_expected * 102 / 100 + 100;
  check(&v, near,
        "server TIME_WAIT " + std::to_string(f.tw_peak) + " of the " + std::to_string(f.tw_expected) +
            " connections closed in the last " + fixed(0, len_s) + " s (cap " + std::to_string(cap) + ")",
        "outside 85-102 %");
  check(&v, f.cps_plateau >= 0.9 * f.cps_first,
        "CPS at the end " + fixed(0, f.cps_plateau) + " is " + fixed(0, 100 * f.cps_plateau / std::max(1.0, f.cps_first)) +
            " % of the first seconds' " + fixed(0, f.cps_first),
        "below 90 %");
  if (!linux) {
    check(&v, f.bytes_per_entry <= 48, "TIME_WAIT table " + fixed(1, f.bytes_per_entry) + " bytes per entry in use at the peak",
          "above 48");
    // At Linux's own TIME_WAIT, over a run that outlasts it: the figure the
    // line-rate set exists to show.
    if (len_s == 60 && s.duration_s >= len_s) {
      check(&v, f.tw_peak >= 10'000'000, "at least 10 million TIME_WAIT entries held",
            "this machine's CPS x " + fixed(0, len_s) + " s stays below");
    }
  }
  return j;
}

Judged ceiling(const LabScenario& s, const LabRun& run, const LineRateFigures& f, double ceiling_cps) {
  (void)s;
  Judged j;
  j.summary = "CPS " + kilo(f.cps_steady) + " from 3 s, reused " + kilo(static_cast<double>(run.m.recycled)) + ", TW " +
              kilo(static_cast<double>(f.tw_peak)) + " client";
  LabVerdict& v = j.verdict;
  check(&v, f.cps_steady <= 1.03 * ceiling_cps,
        "CPS " + fixed(0, f.cps_steady) + " at most the ceiling " + fixed(0, ceiling_cps), "above it");
  // A stack that fills the range before its first entries are old enough
  // is held by the ceiling, and must reach it; a slower one is held by its
  // own rate.
  if (f.filled_within_delay) {
    check(&v, f.cps_steady >= 0.9 * ceiling_cps,
          "every port taken, then held at the ceiling: " + fixed(0, 100 * f.cps_steady / ceiling_cps) + " % of it",
          "below 90 %");
  } else {
    v.checks.push_back("agrees: its own rate (" + fixed(0, f.cps_steady) +
                       " CPS) did not fill the range within tcp_tw_reuse_delay: the ceiling is not reached");
  }
  return j;
}

Judged exhaustion(const LabRun& run, const LineRateFigures& f, std::uint64_t n_tuples, bool linux) {
  Judged j;
  const LabMeasurement& m = run.m;
  j.summary = m.first_failure_s ? m.first_errno + " at " + fixed(3, *m.first_failure_s) + " s" : "no failure";
  j.summary += " after " + std::to_string(m.ok);
  if (linux && f.half_t != 0) {
    j.summary += ", connect() p50 " + std::to_string(f.call_p50_first_us) + " us -> " + std::to_string(f.call_p50_half_us) +
                 " us past half";
  } else {
    j.summary += ", connect p99 " + std::to_string(run.connect_us.p99) + " us";
  }
  LabVerdict& v = j.verdict;
  check(&v, m.first_errno == "EADDRNOTAVAIL", "the first failure is EADDRNOTAVAIL", m.first_errno.empty() ? "none" : m.first_errno);
  const bool exact = m.ok + m.ok / 200 >= n_tuples && m.ok <= n_tuples;
  check(&v, exact, std::to_string(m.ok) + " connections before the ports ran out, of " + std::to_string(n_tuples),
        m.first_failure_s ? "not within 0.5 %" : "the range was not used up within the run, at this CPS");
  return j;
}

std::string comparison_line(LineRateKind kind, const LineRateFigures& tw, const LineRateFigures& lx,
                            const LabRun& twr, const LabRun& lxr) {
  const auto ratio = [](double a, double b) { return b > 0 ? fixed(1, a / b) + "x" : std::string("-"); };
  switch (kind) {
    case LineRateKind::kPlateau:
      return "twstack " + ratio(tw.cps_plateau, lx.cps_plateau) + " the CPS, " +
             ratio(static_cast<double>(tw.tw_peak), static_cast<double>(lx.tw_peak)) + " the TIME_WAIT, " +
             ratio(lx.bytes_per_entry, tw.bytes_per_entry) + " less memory per entry";
    case LineRateKind::kReuseCeiling:
      return "twstack " + ratio(tw.cps_steady, lx.cps_steady) + " the CPS";
    case LineRateKind::kExhaustion: {
      // Say where each stack got: a slow stack may not use its range up
      // within the run, and then it did not "stop at its 4-tuples".
      const auto reach = [](const LabRun& r) {
        const LabMeasurement& m = r.m;
        return m.first_failure_s ? "out of ports at " + fixed(3, *m.first_failure_s) + " s"
                                 : std::to_string(m.ok) + " connections and no failure";
      };
      return "twstack " + reach(twr) + ", Linux " + reach(lxr) + "; connect p50 " +
             std::to_string(twr.connect_us.p50) + " us vs " + std::to_string(lxr.connect_us.p50) + " us";
    }
  }
  return {};
}

}  // namespace

std::string_view line_rate_lab_scenarios() { return kLineRate; }

LineRateKind line_rate_kind(const LabScenario& s) {
  if (s.closer == Closer::kServer) return LineRateKind::kPlateau;
  return reuses(s) ? LineRateKind::kReuseCeiling : LineRateKind::kExhaustion;
}

LineRateFigures line_rate_figures(const LabScenario& s, const LabRun& run, double len_s, bool linux) {
  LineRateFigures f;
  const std::vector<LabSample>& v = run.series;
  const std::uint32_t d = s.duration_s;
  f.cps_first = mean_cps(v, 2, 4);
  f.cps_plateau = mean_cps(v, d > 4 ? d - 4 : 1, d);
  f.cps_steady = mean_cps(v, 3, d);
  const bool server = s.closer == Closer::kServer;
  const auto len = static_cast<std::uint32_t>(std::lround(len_s));
  std::uint64_t cum = 0;
  bool first_second = true;
  const std::uint64_t n_tuples = tuples(s);
  for (const LabSample& x : v) {
    const std::uint64_t tw = server ? x.server_tw : x.client_tw;
    if (x.t <= std::max<std::int64_t>(1, s.client.tcp_tw_reuse_delay.us / 1'000'000)) {
      f.filled_within_delay = f.filled_within_delay || (n_tuples != 0 && x.client_tw * 100 >= n_tuples * 95);
    }
    if (tw >= f.tw_peak) {
      f.tw_peak = tw;
      // Linux's slabs are machine-wide (kept in client_tw_bytes): its bytes go
      // over both sides' entries.
      f.tw_bytes_at_peak = server && !linux ? x.server_tw_bytes : x.client_tw_bytes;
      const std::uint64_t n = linux ? x.client_tw + x.server_tw : tw;
      f.bytes_per_entry = n == 0 ? 0 : static_cast<double>(f.tw_bytes_at_peak) / static_cast<double>(n);
    }
    const std::uint64_t loop = server ? x.server_loop_max_us : x.client_loop_max_us;
    f.loop_max_us = std::max(f.loop_max_us, loop);
    if (x.t > len) {
      f.cps_min_wave = f.wave ? std::min(f.cps_min_wave, static_cast<double>(x.completed)) : static_cast<double>(x.completed);
      f.wave = true;
      f.loop_max_wave_us = std::max(f.loop_max_wave_us, loop);
    }
    if (first_second && x.connect_call_us.count != 0) {
      f.call_p50_first_us = x.connect_call_us.p50;
      first_second = false;
    }
    // The first second that starts with half the range or more in use.
    if (f.half_t == 0 && cum * 2 >= n_tuples && x.connect_call_us.count != 0) {
      f.half_t = x.t;
      f.call_p50_half_us = x.connect_call_us.p50;
      f.call_p99_half_us = x.connect_call_us.p99;
    }
    cum += x.ok;
  }
  // The population the arithmetic gives at the last sample: what closed in
  // the TIME_WAIT length before it, capped.
  if (!v.empty()) {
    const std::uint32_t last = v.back().t;
    std::uint64_t closed = 0;
    for (const LabSample& x : v) {
      if (x.t + len > last) closed += x.completed;
      if (x.t + len == last) f.expired_per_s = x.completed;
    }
    f.tw_expected = std::min<std::uint64_t>(closed, run.tw_capacity == 0 ? closed : run.tw_capacity);
  }
  return f;
}

std::uint64_t tw_capacity_for(double cps, double len_s) {
  const double want = 1.5 * std::max(0.0, cps) * len_s;
  return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(want / 1e6))) * 1'000'000;
}

std::optional<std::string> check_line_rate_memory(const std::string& scenario, std::uint64_t capacity,
                                                  std::uint64_t linux_cap, std::uint64_t mem_available) {
  // TimeWaitTable: 32-byte entries, a 128-byte bucket for 17.5 of them.
  const std::uint64_t table = capacity * 32 + (capacity * 2 + 34) / 35 * 128;
  const std::uint64_t need = table + linux_cap * kLinuxBytesPerEntry + kBaseBytes;
  if (mem_available == 0 || need <= mem_available) return std::nullopt;
  const auto gb = [](std::uint64_t b) { return fixed(1, static_cast<double>(b) / (1ULL << 30)); };
  return "[" + scenario + "] the TIME_WAIT population does not fit in this machine's memory: twstack's table for " +
         std::to_string(capacity) + " entries takes " + gb(table) + " GiB, Linux's " + std::to_string(linux_cap) +
         " TIME_WAIT sockets up to " + gb(linux_cap * kLinuxBytesPerEntry) + " GiB, with the processes about " + gb(need) +
         " GiB, and MemAvailable is " + gb(mem_available) + " GiB; set tw_capacity or tcp_max_tw_buckets lower (a scenario "
         "file), or run on a larger machine";
}

std::uint64_t mem_available_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::uint64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit) {
    if (key == "MemAvailable:") return kb * 1024;
  }
  return 0;
}

std::optional<std::string> line_rate_memory_check(const LabScenario& s, bool with_linux) {
  const bool client = s.closer == Closer::kClient;
  const StackConfig& side = client ? s.client : s.server;
  std::uint64_t twstack = s.tw_capacity != 0 ? s.tw_capacity : side.tcp_max_tw_buckets;
  twstack = std::min<std::uint64_t>(twstack, tw::TimeWaitTable::kMaxCapacity);
  std::uint64_t linux_cap = 0;
  if (with_linux) {
    bool set = false;
    for (const auto* v : {&s.both_sets, client ? &s.client_sets : &s.server_sets}) {
      for (const std::string& a : *v) set = set || a.find("tcp_max_tw_buckets") != std::string::npos;
    }
    std::ifstream in("/proc/sys/net/ipv4/tcp_max_tw_buckets");
    std::uint64_t host = 0;
    in >> host;
    linux_cap = std::min(set ? std::uint64_t{side.tcp_max_tw_buckets} : host, tuples(s));
  }
  return check_line_rate_memory(s.name, twstack, linux_cap, mem_available_bytes());
}

void judge_line_rate(LabResult* r) {
  const LabScenario& s = r->scenario;
  const LineRateKind kind = line_rate_kind(s);
  const double len_s = (s.closer == Closer::kClient ? s.client : s.server).tcp_timewait_len.secs();
  const std::uint64_t n_tuples = tuples(s);
  const double ceiling_cps = static_cast<double>(n_tuples) / s.client.tcp_tw_reuse_delay.secs();
  LabPrediction& p = r->prediction;
  p.tuples = n_tuples;
  p.timewait_len_s = len_s;
  p.reuse = reuses(s);
  switch (kind) {
    case LineRateKind::kPlateau:
      p.summary = "TW CPS x " + fixed(0, len_s) + " s server, CPS flat";
      p.why = std::to_string(n_tuples) + " 4-tuples; flat out, the server closing: its TIME_WAIT is what it closed in "
              "the last " + fixed(0, len_s) + " s (a few fewer: SYNs take entries over), at most tcp_max_tw_buckets; "
              "from " + fixed(0, len_s) + " s on, each second's entries expire a TIME_WAIT length later while churn "
              "goes on (the expiry wave), and CPS stays within 10 % of the first seconds'";
      break;
    case LineRateKind::kReuseCeiling:
      p.summary = "CPS at most " + kilo(ceiling_cps) + " (ports / reuse delay)";
      p.why = std::to_string(n_tuples) + " 4-tuples, tcp_tw_reuse=1, tcp_tw_reuse_delay " +
              fixed(-1, s.client.tcp_tw_reuse_delay.secs()) + " s: once every port is in TIME_WAIT, a port comes "
              "free for reuse when its entry is that old, so at most " + fixed(0, ceiling_cps) + " connections a second";
      break;
    case LineRateKind::kExhaustion:
      p.summary = "EADDRNOTAVAIL after " + std::to_string(n_tuples);
      p.exhaustion_s.reset();
      p.why = std::to_string(n_tuples) + " 4-tuples, tcp_tw_reuse=0, the client closing: every connection leaves its "
              "4-tuple in TIME_WAIT for " + fixed(0, len_s) + " s, so connect() fails after exactly one connection "
              "per 4-tuple, at 4-tuples / CPS seconds; Linux searches the range at each connect() "
              "(__inet_hash_connect), so its connect() slows as the range fills";
      break;
  }
  const auto judge_one = [&](const LabRun& run, bool linux, LineRateFigures* f) {
    *f = line_rate_figures(s, run, len_s, linux);
    switch (kind) {
      case LineRateKind::kPlateau: return plateau(s, run, *f, linux, len_s);
      case LineRateKind::kReuseCeiling: return ceiling(s, run, *f, ceiling_cps);
      case LineRateKind::kExhaustion: return exhaustion(run, *f, n_tuples, linux);
    }
    return Judged{};
  };
  LineRateFigures tw, lx;
  if (r->run.error.empty()) {
    Judged j = judge_one(r->run, false, &tw);
    r->run.m.summary = j.summary;
    r->verdict = j.verdict;
    finish(&r->verdict);
  }
  if (r->kernel && r->kernel->error.empty()) {
    Judged j = judge_one(*r->kernel, true, &lx);
    r->kernel->m.summary = j.summary;
    r->kernel_verdict = j.verdict;
    finish(&r->kernel_verdict);
    if (r->run.error.empty()) {
      r->comparison = LabVerdict{};
      r->comparison.line = comparison_line(kind, tw, lx, r->run, *r->kernel);
      r->comparison.checks = {"agrees: " + r->comparison.line};
    }
  }
}

}  // namespace twstack::app
