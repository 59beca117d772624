// `twstack sim ports`: connect()-side port allocation timed in-process at
// several fill levels, with or without RSS steering.
#include "apps/twstack/sim/sim_ports.hh"

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

#include "apps/common/cli.hh"
#include "apps/common/json.hh"
#include "stack/ports/allocator.hh"

namespace twstack::app {
namespace {

using ports::PortAllocator;
using wire::Ipv4Addr;

// The options as given.
struct Args {
  std::string fill = "0,50,90,99,99.9";
  std::string mode = "uniform";
  std::uint16_t queues = 1;
  std::uint64_t count = 10000;
  std::string range = "32768-60999";
  std::uint64_t seed = 1;
  bool json = false;
  bool dump = false;
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

void add_options(CLI::App& app, Args* a) {
  app.add_option("--fill", a->fill,
                 "percentages of the range held by TIME_WAIT entries that are not reusable, comma-separated "
                 "(default 0,50,90,99,99.9)")
      ->type_name("LIST");
  app.add_option("--mode", a->mode, "port selection: uniform or linux (default uniform)")
      ->type_name("MODE")->transform(one_of({"uniform", "linux"}));
  app.add_option("--queues", a->queues,
                 "RSS over N queues (default key, 128-entry round-robin RETA), allocating from each queue in turn; "
                 "1 means no RSS (default 1, at most 128)")
      ->type_name("N")->transform(whole(1, kRetaSize));
  app.add_option("--count", a->count, "allocations timed per fill level (default 10000)")
      ->type_name("K")->transform(whole(1, 100000000));
  app.add_option("--range", a->range, "net.ipv4.ip_local_port_range (default 32768-60999)")->type_name("LOW-HIGH");
  app.add_option("--seed", a->seed, "seed of the fill and of the allocators (default 1)")
      ->type_name("S")->transform(whole(0, UINT64_MAX));
  app.add_flag("--json", a->json, "print one JSON object instead of the table");
  app.add_flag("--dump", a->dump, "also list every tuple allocated, its queue and the queue its reply hashes to");
}

Settings settings_from(const Args& a) {
  Settings s;
  s.fills = parse_fills(a.fill);
  s.mode = a.mode == "linux" ? PortSelection::kLinux : PortSelection::kUniform;
  s.queues = a.queues;
  s.count = a.count;
  s.range = parse_range(a.range);
  s.seed = a.seed;
  s.json = a.json;
  s.dump = a.dump;
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
  Json j;
  j["mode"] = mode_name(s.mode);
  j["queues"] = s.queues;
  j["count"] = s.count;
  j["range"] = Json::array({s.range.low, s.range.high});
  j["ports"] = s.range.size();
  j["seed"] = s.seed;
  j["rss_key"] = hex(ports::kDefaultRssKey);
  j["reta"] = reta;
  Json& fills = j["fills"] = Json::array();
  for (const Level& lv : levels) {
    fills.push_back(Json{{"fill", lv.fill},
                         {"occupied", lv.occupied},
                         {"allocations", s.count},
                         {"failures", lv.failures},
                         {"ns_per_alloc_p50", lv.p50},
                         {"ns_per_alloc_p99", lv.p99},
                         {"ns_per_alloc_max", lv.max},
                         {"checks_per_alloc", static_cast<double>(lv.checks) / static_cast<double>(s.count)}});
  }
  if (s.dump) {
    Json& tuples = j["tuples"] = Json::array();
    for (const Level& lv : levels) {
      for (const Dumped& d : lv.tuples) {
        tuples.push_back(Json{{"local_ip", kLocal.to_string()}, {"local_port", d.lport},
                              {"remote_ip", kRemote.to_string()}, {"remote_port", kRemotePort},
                              {"queue", d.queue}, {"reply_queue", d.reply_queue}});
      }
    }
  }
  print_json_line(out, j);
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

int run_sim_ports(const Args& a, std::ostream& out, std::ostream& err) {
  Settings s = settings_from(a);
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

Command add_sim_ports_command(CLI::App& sim) {
  return add_command(sim, "ports", "time 4-tuple allocation at several fill levels, with or without RSS", kDescription,
                     add_options, run_sim_ports);
}

}  // namespace twstack::app
