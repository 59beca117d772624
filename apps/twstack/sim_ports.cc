// `twstack sim ports`: connect()-side port allocation timed in-process at
// several fill levels, with or without RSS steering.
#include "apps/twstack/sim_ports.hh"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "apps/twstack/json.hh"
#include "stack/ports/allocator.hh"

namespace twstack::app {
namespace {

using ports::PortAllocator;
using wire::Ipv4Addr;

constexpr OptionSpec kOptions[] = {
    {"fill", "LIST",
     "percentages of the range held by TIME_WAIT entries that are not reusable, comma-separated "
     "(default 0,50,90,99,99.9)"},
    {"mode", "MODE", "port selection: uniform or linux (default uniform)"},
    {"queues", "N", "RSS over N queues (default key, 128-entry round-robin RETA), allocating from each "
                    "queue in turn; 1 means no RSS (default 1, at most 128)"},
    {"count", "K", "allocations timed per fill level (default 10000)"},
    {"range", "LOW-HIGH", "net.ipv4.ip_local_port_range (default 32768-60999)"},
    {"seed", "S", "seed of the fill and of the allocators (default 1)"},
    {"json", "", "print one JSON object instead of the table"},
    {"dump", "", "also list every tuple allocated, its queue and the queue its reply hashes to"},
};

constexpr std::string_view kDescription =
    "Measures the 4-tuple allocator (stack/ports) in-process: one client address (10.0.0.1)\n"
    "connecting to one server (10.0.0.2:80). For each --fill level a random share of the\n"
    "ephemeral range is held by TIME_WAIT entries the uniqueness check refuses; then --count\n"
    "connects are timed one by one with a steady clock, each followed (untimed) by the release\n"
    "of a random held tuple of the same queue, so the fill stays put. With --queues N > 1 each\n"
    "queue has its own allocator, which hands out only ports whose replies (10.0.0.2:80 ->\n"
    "10.0.0.1:port) hash to it under the default Toeplitz key and RETA; the TIME_WAIT entries\n"
    "belong to the queue their replies hash to.\n"
    "\n"
    "--json prints: mode, queues, count, range, ports, seed, rss_key (hex), reta (queue per\n"
    "entry), and fills[]: fill, occupied, allocations, failures (EADDRNOTAVAIL),\n"
    "ns_per_alloc_p50, ns_per_alloc_p99, ns_per_alloc_max, checks_per_alloc. --dump adds\n"
    "tuples[]: local_ip, local_port, remote_ip, remote_port, queue, reply_queue, where\n"
    "reply_queue = reta[toeplitz(key, remote_ip, local_ip, remote_port, local_port) mod 128],\n"
    "recomputed bit by bit (tests/ports_rss_check.py checks it independently).\n"
    "\n"
    "Exit status: 0, or 1 if a reply would land on another queue than the one that\n"
    "allocated its port; 2 for a usage error.";

const Ipv4Addr kLocal = Ipv4Addr::from_octets(10, 0, 0, 1);
const Ipv4Addr kRemote = Ipv4Addr::from_octets(10, 0, 0, 2);
constexpr std::uint16_t kRemotePort = 80;
constexpr std::size_t kRetaSize = 128;

struct Settings {
  std::vector<double> fills;
  PortSelection mode = PortSelection::kUniform;
  std::uint16_t queues = 1;
  std::uint64_t count = 10000;
  PortRange range;
  std::uint64_t seed = 1;
  bool json = false;
  bool dump = false;
};

struct Dumped {
  std::uint16_t lport, queue, reply_queue;
};

struct Level {
  double fill = 0;
  std::uint32_t occupied = 0;
  std::uint64_t failures = 0;
  std::uint64_t checks = 0;
  std::uint64_t p50 = 0, p99 = 0, max = 0;
  std::vector<Dumped> tuples;
};

std::vector<double> parse_fills(std::string_view s) {
  std::vector<double> out;
  while (true) {
    std::size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    std::optional<double> v = parse_double(item);
    if (!v || *v < 0 || *v > 100) {
      throw UsageError("option --fill: \"" + std::string(item) + "\" is not a percentage (0 to 100)");
    }
    out.push_back(*v);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

PortRange parse_range(std::string_view s) {
  std::size_t dash = s.find('-');
  std::optional<std::uint64_t> lo = parse_u64(s.substr(0, dash));
  std::optional<std::uint64_t> hi = dash == std::string_view::npos ? std::nullopt : parse_u64(s.substr(dash + 1));
  if (!lo || !hi || *lo < 1 || *hi > 65535 || *lo > *hi) {
    throw UsageError("option --range: \"" + std::string(s) + "\" is not LOW-HIGH with 1 <= LOW <= HIGH <= 65535");
  }
  return PortRange{static_cast<std::uint16_t>(*lo), static_cast<std::uint16_t>(*hi)};
}

Settings settings_from(const Options& o) {
  Settings s;
  s.fills = parse_fills(o.str("fill", "0,50,90,99,99.9"));
  constexpr std::string_view kModes[] = {"uniform", "linux"};
  s.mode = o.choice("mode", "uniform", kModes) == "linux" ? PortSelection::kLinux : PortSelection::kUniform;
  s.queues = static_cast<std::uint16_t>(o.u64("queues", 1, 1, kRetaSize));
  s.count = o.u64("count", 10000, 1, 100000000);
  s.range = parse_range(o.str("range", "32768-60999"));
  s.seed = o.u64("seed", 1, 0, UINT64_MAX);
  s.json = o.flag("json");
  s.dump = o.flag("dump");
  return s;
}

// The queue a reply to 10.0.0.1:port lands on, bit by bit from the key.
std::uint16_t reply_queue(const std::vector<std::uint16_t>& reta, std::uint16_t port) {
  return ports::reta_queue(reta, ports::toeplitz_ipv4_tcp(ports::kDefaultRssKey, kRemote, kLocal, kRemotePort, port));
}

wire::FourTuple tuple(std::uint16_t port) { return wire::FourTuple{kLocal, kRemote, port, kRemotePort}; }

// One allocator per queue, the fill, then the timed connects.
class Run {
 public:
  Run(const Settings& s, const std::vector<std::uint16_t>& reta) : s_(s), reta_(reta), rng_(s.seed) {
    for (std::uint16_t q = 0; q < s.queues; ++q) {
      ports::AllocatorConfig c(StackConfig{});
      c.range = s.range;
      c.mode = s.mode;
      c.local_addrs = {kLocal};
      c.max_destinations = 4;
      c.secret = SipKey{s.seed * 0x9e3779b97f4a7c15ULL, ~s.seed};
      c.seed = s.seed + q;
      if (s.queues > 1) {
        c.rss = ports::RssSteering{{ports::kDefaultRssKey.begin(), ports::kDefaultRssKey.end()}, reta, q};
      }
      engines_.push_back(std::make_unique<PortAllocator>(c));
    }
    held_.assign(65536, 0);
    lists_.resize(s.queues);
  }

  Level level(double fill) {
    Level lv;
    lv.fill = fill;
    lv.occupied = fill_to(fill);
    std::uint64_t warm = std::min<std::uint64_t>(s_.count / 10, 1000);
    for (std::uint64_t i = 0; i < warm; ++i) step(i, nullptr);
    std::vector<std::uint64_t> ns;
    ns.reserve(s_.count);
    for (std::uint64_t i = 0; i < s_.count; ++i) ns.push_back(step(i, &lv));
    std::sort(ns.begin(), ns.end());
    lv.p50 = ns[ns.size() / 2];
    lv.p99 = ns[std::min(ns.size() - 1, ns.size() * 99 / 100)];
    lv.max = ns.back();
    return lv;
  }

 private:
  // Holds round(fill% of the range) random ports with unreusable TIME_WAIT
  // entries, each told to the queue its replies hash to.
  std::uint32_t fill_to(double fill) {
    const std::uint32_t size = s_.range.size();
    auto target = static_cast<std::uint32_t>(std::llround(fill / 100.0 * size));
    std::vector<std::uint32_t> perm(size);
    std::iota(perm.begin(), perm.end(), 0u);
    for (std::uint32_t i = 0; i < target; ++i) {
      std::swap(perm[i], perm[i + static_cast<std::uint32_t>(rng_() % (size - i))]);
      auto port = static_cast<std::uint16_t>(s_.range.low + perm[i]);
      std::uint16_t q = s_.queues > 1 ? reply_queue(reta_, port) : 0;
      held_[port] = 1;
      lists_[q].push_back(port);
      engines_[q]->occupy(tuple(port));
    }
    return target;
  }

  // One connect from queue i % queues (timed), then one release (untimed).
  std::uint64_t step(std::uint64_t i, Level* lv) {
    auto q = static_cast<std::uint16_t>(i % s_.queues);
    auto check = [this](const wire::FourTuple& t, ports::PortOrigin) {
      return held_[t.lport] != 0 ? ports::TupleState::kTaken : ports::TupleState::kFree;
    };
    Instant now{static_cast<std::int64_t>(i) * 1000};  // 1 ms apart: the 10 s time seed moves
    auto t0 = std::chrono::steady_clock::now();
    ports::ConnectResult r = engines_[q]->connect(kLocal, kRemote, kRemotePort, now, check);
    auto t1 = std::chrono::steady_clock::now();
    if (lv != nullptr) lv->checks += r.examined;
    if (r.err != Errc::kOk) {
      if (lv != nullptr) ++lv->failures;
    } else {
      held_[r.tuple.lport] = 1;
      lists_[q].push_back(r.tuple.lport);
      if (lv != nullptr && s_.dump) {
        lv->tuples.push_back(Dumped{r.tuple.lport, q, s_.queues > 1 ? reply_queue(reta_, r.tuple.lport) : q});
      }
      std::vector<std::uint16_t>& l = lists_[q];
      std::size_t k = rng_() % l.size();
      std::uint16_t port = l[k];
      l[k] = l.back();
      l.pop_back();
      held_[port] = 0;
      engines_[q]->release(tuple(port));
    }
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  }

  const Settings& s_;
  const std::vector<std::uint16_t>& reta_;
  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<PortAllocator>> engines_;
  std::vector<std::uint8_t> held_;                 // per port: a tuple exists
  std::vector<std::vector<std::uint16_t>> lists_;  // per queue: its held ports
};

std::string hex(std::span<const std::uint8_t> bytes) {
  std::string s;
  char buf[3];
  for (std::uint8_t b : bytes) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    s += buf;
  }
  return s;
}

const char* mode_name(PortSelection m) { return m == PortSelection::kLinux ? "linux" : "uniform"; }

void print_json(std::ostream& out, const Settings& s, const std::vector<std::uint16_t>& reta,
                const std::vector<Level>& levels) {
  JsonWriter j(out);
  j.begin_object().value("mode", mode_name(s.mode)).value("queues", std::uint64_t{s.queues});
  j.value("count", s.count);
  j.begin_array("range").value({}, std::uint64_t{s.range.low}).value({}, std::uint64_t{s.range.high}).end_array();
  j.value("ports", std::uint64_t{s.range.size()}).value("seed", s.seed);
  j.value("rss_key", hex(ports::kDefaultRssKey));
  j.begin_array("reta");
  for (std::uint16_t q : reta) j.value({}, std::uint64_t{q});
  j.end_array().begin_array("fills");
  for (const Level& lv : levels) {
    j.begin_object().value("fill", lv.fill).value("occupied", std::uint64_t{lv.occupied});
    j.value("allocations", s.count).value("failures", lv.failures);
    j.value("ns_per_alloc_p50", lv.p50).value("ns_per_alloc_p99", lv.p99).value("ns_per_alloc_max", lv.max);
    j.value("checks_per_alloc", static_cast<double>(lv.checks) / static_cast<double>(s.count)).end_object();
  }
  j.end_array();
  if (s.dump) {
    j.begin_array("tuples");
    for (const Level& lv : levels) {
      for (const Dumped& d : lv.tuples) {
        j.begin_object().value("local_ip", kLocal.to_string()).value("local_port", std::uint64_t{d.lport});
        j.value("remote_ip", kRemote.to_string()).value("remote_port", std::uint64_t{kRemotePort});
        j.value("queue", std::uint64_t{d.queue}).value("reply_queue", std::uint64_t{d.reply_queue}).end_object();
      }
    }
    j.end_array();
  }
  j.end_object();
  out << "\n";
}

void print_text(std::ostream& out, const Settings& s, const std::vector<Level>& levels) {
  out << "sim ports: mode " << mode_name(s.mode) << ", " << s.queues << (s.queues == 1 ? " queue (no RSS)" : " queues (RSS)")
      << ", range " << s.range.low << "-" << s.range.high << " (" << s.range.size() << " ports), " << s.count
      << " connects per fill level\n";
  char line[160];
  std::snprintf(line, sizeof line, "%8s %9s %10s %10s %10s %9s %13s\n", "fill%", "occupied", "p50_ns", "p99_ns",
                "max_ns", "failures", "checks/alloc");
  out << line;
  for (const Level& lv : levels) {
    std::snprintf(line, sizeof line, "%8g %9u %10llu %10llu %10llu %9llu %13.3f\n", lv.fill, lv.occupied,
                  static_cast<unsigned long long>(lv.p50), static_cast<unsigned long long>(lv.p99),
                  static_cast<unsigned long long>(lv.max), static_cast<unsigned long long>(lv.failures),
                  static_cast<double>(lv.checks) / static_cast<double>(s.count));
    out << line;
  }
  if (!s.dump) return;
  for (const Level& lv : levels) {
    for (const Dumped& d : lv.tuples) {
      out << kLocal.to_string() << ":" << d.lport << " -> " << kRemote.to_string() << ":" << kRemotePort
          << " queue " << d.queue << " reply_queue " << d.reply_queue << "\n";
    }
  }
}

int run_sim_ports(const Options& o, std::ostream& out, std::ostream& err) {
  Settings s = settings_from(o);
  std::vector<std::uint16_t> reta = ports::round_robin_reta(kRetaSize, s.queues);
  std::vector<Level> levels;
  for (double fill : s.fills) {
    Run run(s, reta);  // fresh allocators per level
    levels.push_back(run.level(fill));
  }
  if (s.json) {
    print_json(out, s, reta, levels);
  } else {
    print_text(out, s, levels);
  }
  std::uint64_t misdirected = 0;
  for (const Level& lv : levels) {
    for (const Dumped& d : lv.tuples) misdirected += d.reply_queue != d.queue ? 1 : 0;
  }
  if (misdirected != 0) {
    err << "twstack sim ports: " << misdirected << " replies hash to another queue than the allocating one\n";
    return 1;
  }
  return 0;
}

}  // namespace

Command sim_ports_command() {
  return Command{"sim ports", "time 4-tuple allocation at several fill levels, with or without RSS",
                 kDescription, kOptions, 0, &run_sim_ports};
}

}  // namespace twstack::app
