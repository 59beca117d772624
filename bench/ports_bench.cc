// PortAllocator costs: a connect() plus the release of a random held tuple
// (steady state at a fixed fill), in uniform and Linux mode, at 0, 50, 90, 99
// and 99.9 % fill, without RSS and with RSS over 4 and 16 queues; a client
// churning over many destinations; bind(0); the Toeplitz hash by table and
// bit by bit.
//
// The fill is a share of the ports this engine may hand out to the one
// destination (with RSS: the ports whose replies hash to its queue), held by
// TIME_WAIT entries the check refuses.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "stack/ports/allocator.hh"

namespace twstack::ports {
namespace {

using wire::FourTuple;
using wire::Ipv4Addr;

const Ipv4Addr kLocal = Ipv4Addr::from_octets(10, 0, 0, 1);
const Ipv4Addr kRemote = Ipv4Addr::from_octets(10, 0, 0, 2);
constexpr std::uint16_t kRport = 80;

AllocatorConfig make_config(bool linux_mode, std::uint16_t queues) {
  AllocatorConfig c(StackConfig{});
  c.mode = linux_mode ? PortSelection::kLinux : PortSelection::kUniform;
  c.local_addrs = {kLocal};
  c.max_destinations = 4;
  c.secret = SipKey{1, 2};
  if (queues > 1) {
    c.rss = RssSteering{{kDefaultRssKey.begin(), kDefaultRssKey.end()}, round_robin_reta(128, queues), 0};
  }
  return c;
}

FourTuple tuple(std::uint16_t port) { return FourTuple{kLocal, kRemote, port, kRport}; }

void BM_ConnectRelease(benchmark::State& state) {
  const bool linux_mode = state.range(0) != 0;
  const double fill = static_cast<double>(state.range(1)) / 1000.0;
  const auto queues = static_cast<std::uint16_t>(state.range(2));
  PortAllocator pa(make_config(linux_mode, queues));
  // The ports this engine can use for the destination, a random `fill` of them held.
  std::vector<std::uint16_t> usable;
  const PortRange r = pa.range();
  for (std::uint32_t p = r.low; p <= r.high; ++p) {
    if (pa.steers_to_us(kLocal, kRemote, kRport, static_cast<std::uint16_t>(p))) {
      usable.push_back(static_cast<std::uint16_t>(p));
    }
  }
  std::mt19937_64 rng(1);
  std::shuffle(usable.begin(), usable.end(), rng);
  const auto target = static_cast<std::size_t>(fill * static_cast<double>(usable.size()) + 0.5);
  std::vector<std::uint8_t> held(65536, 0);
  std::vector<std::uint16_t> list(usable.begin(), usable.begin() + static_cast<std::ptrdiff_t>(target));
  for (std::uint16_t p : list) {
    held[p] = 1;
    pa.occupy(tuple(p));
  }
  auto check = [&held](const FourTuple& t, PortOrigin) {
    return held[t.lport] != 0 ? TupleState::kTaken : TupleState::kFree;
  };
  std::int64_t us = 0;
  std::uint64_t failures = 0;
  for (auto _ : state) {
    ConnectResult c = pa.connect(kLocal, kRemote, kRport, Instant{us += 1000}, check);
    if (c.err != Errc::kOk) {
      ++failures;
      continue;
    }
    held[c.tuple.lport] = 1;
    list.push_back(c.tuple.lport);
    std::size_t k = rng() % list.size();
    std::uint16_t port = list[k];
    list[k] = list.back();
    list.pop_back();
    held[port] = 0;
    pa.release(tuple(port));
  }
  state.counters["usable"] = static_cast<double>(usable.size());
  state.counters["failures"] = static_cast<double>(failures);
}
BENCHMARK(BM_ConnectRelease)
    ->ArgNames({"linux", "fill_permille", "queues"})
    ->ArgsProduct({{0, 1}, {0, 500, 900, 990, 999}, {1, 4, 16}});

// A set of at most a few hundred (remote port, local port) pairs: linear
// probing in 1024 entries, backward-shift deletion.
class HeldSet {
 public:
  bool contains(std::uint16_t rport, std::uint16_t lport) const {
    const std::uint32_t k = key(rport, lport);
    for (std::uint32_t i = home(k);; i = (i + 1) & kMask) {
      if (e_[i] == k) return true;
      if (e_[i] == 0) return false;
    }
  }
  void insert(std::uint16_t rport, std::uint16_t lport) {
    const std::uint32_t k = key(rport, lport);
    std::uint32_t i = home(k);
    while (e_[i] != 0 && e_[i] != k) i = (i + 1) & kMask;
    e_[i] = k;
  }
  void erase(std::uint16_t rport, std::uint16_t lport) {
    const std::uint32_t k = key(rport, lport);
    std::uint32_t i = home(k);
    while (e_[i] != k) {
      if (e_[i] == 0) return;
      i = (i + 1) & kMask;
    }
    e_[i] = 0;
    for (std::uint32_t j = (i + 1) & kMask; e_[j] != 0; j = (j + 1) & kMask) {
      std::uint32_t h = home(e_[j]);
      bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
      if (!stays) {
        e_[i] = e_[j];
        e_[j] = 0;
        i = j;
      }
    }
  }

 private:
  static constexpr std::uint32_t kMask = 1023;
  static std::uint32_t key(std::uint16_t rport, std::uint16_t lport) { return (std::uint32_t{rport} << 16 | lport) + 1; }
  static std::uint32_t home(std::uint32_t k) { return (k * 0x9e3779b1u) >> 22; }
  std::vector<std::uint32_t> e_ = std::vector<std::uint32_t>(kMask + 1, 0);
};

// The churn client's pattern: one local address, D destinations (one server
// address, ports 1000 + d) taken in turn, the full 1024-65535 range, uniform
// selection, 256 tuples in flight released oldest first. Each connect and
// each release lands on another destination's slot than the last, so the
// cost is the slot state's cache lines, not instructions. Time per
// connect + release.
void BM_ChurnManyDestinations(benchmark::State& state) {
  const auto dests = static_cast<std::uint32_t>(state.range(0));
  constexpr std::size_t kInFlight = 256;
  constexpr std::uint16_t kFirstRport = 1000;
  AllocatorConfig c(StackConfig{});
  c.mode = PortSelection::kUniform;
  c.range = PortRange{1024, 65535};
  c.local_addrs = {kLocal};
  c.max_destinations = dests;
  c.secret = SipKey{1, 2};
  PortAllocator pa(c);
  // Held tuples: a small open-addressing set of (destination, port) that
  // stays in L1, so the harness does not add misses of its own.
  HeldSet held;
  auto check = [&held](const FourTuple& t, PortOrigin) {
    return held.contains(t.rport, t.lport) ? TupleState::kTaken : TupleState::kFree;
  };
  std::vector<FourTuple> fifo(kInFlight);  // a ring: head is the oldest once full
  std::size_t head = 0;
  std::size_t count = 0;
  std::uint32_t next = 0;
  std::uint64_t failures = 0;
  for (auto _ : state) {
    const std::uint32_t d = next;
    next = next + 1 == dests ? 0 : next + 1;
    ConnectResult r = pa.connect(kLocal, kRemote, static_cast<std::uint16_t>(kFirstRport + d), Instant{0}, check);
    if (r.err != Errc::kOk) {
      ++failures;
      continue;
    }
    held.insert(r.tuple.rport, r.tuple.lport);
    if (count == kInFlight) {
      FourTuple& old = fifo[head];
      held.erase(old.rport, old.lport);
      pa.release(old);
      old = r.tuple;
      head = head + 1 == kInFlight ? 0 : head + 1;
    } else {
      fifo[(head + count++) % kInFlight] = r.tuple;
    }
  }
  state.counters["failures"] = static_cast<double>(failures);
}
BENCHMARK(BM_ChurnManyDestinations)->ArgName("dests")->Arg(400)->Arg(1)->Arg(4000);

// A full range: EADDRNOTAVAIL without a single check.
void BM_ConnectFullRange(benchmark::State& state) {
  PortAllocator pa(make_config(state.range(0) != 0, 1));
  for (std::uint32_t p = pa.range().low; p <= pa.range().high; ++p) pa.occupy(tuple(static_cast<std::uint16_t>(p)));
  auto check = [](const FourTuple&, PortOrigin) { return TupleState::kTaken; };
  for (auto _ : state) benchmark::DoNotOptimize(pa.connect(kLocal, kRemote, kRport, Instant{0}, check));
}
BENCHMARK(BM_ConnectFullRange)->ArgName("linux")->Arg(0)->Arg(1);

// bind(INADDR_ANY, 0) then release, with half the range bound.
void BM_BindPortZero(benchmark::State& state) {
  AllocatorConfig c = make_config(false, 1);
  c.max_binds = 20000;
  PortAllocator pa(c);
  for (int i = 0; i < 14116; ++i) pa.bind(Ipv4Addr{}, 0, {});
  for (auto _ : state) {
    BindResult b = pa.bind(Ipv4Addr{}, 0, {});
    pa.release(b.id);
  }
}
BENCHMARK(BM_BindPortZero);

void BM_ToeplitzTable(benchmark::State& state) {
  ToeplitzIpv4Tcp t(kDefaultRssKey);
  std::uint16_t port = 0;
  for (auto _ : state) benchmark::DoNotOptimize(t.hash(kRemote, kLocal, kRport, ++port));
}
BENCHMARK(BM_ToeplitzTable);

void BM_ToeplitzBitwise(benchmark::State& state) {
  std::uint16_t port = 0;
  for (auto _ : state) benchmark::DoNotOptimize(toeplitz_ipv4_tcp(kDefaultRssKey, kRemote, kLocal, kRport, ++port));
}
BENCHMARK(BM_ToeplitzBitwise);

}  // namespace
}  // namespace twstack::ports

BENCHMARK_MAIN();
