// PortAllocator: Linux's scan order and parity (docs/linux-timewait.md §7), exhaustion,
// reserved ports, TIME_WAIT takeover, bind() conflicts and the SO_REUSEADDR
// restart table (§8), agreement with the kernel loop (with and without RSS),
// uniformity. RSS steering proper: toeplitz_test.cc.
#include "stack/ports/allocator.hh"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <new>
#include <set>
#include <tuple>
#include <vector>

// Heap allocations so far: NoAllocationAfterConstruction replaces the global
// operator new of this test binary to count them.
// None of them is inlined, so the compiler never pairs malloc() with a
// visible delete (GCC 12's -Wmismatched-new-delete).
static std::size_t g_allocations = 0;
[[gnu::noinline]] void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n != 0 ? n : 1)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace twstack::ports {
namespace {

using wire::FourTuple;
using wire::Ipv4Addr;

const Ipv4Addr kL1 = Ipv4Addr::from_octets(10, 0, 0, 1);
const Ipv4Addr kL2 = Ipv4Addr::from_octets(10, 0, 0, 2);
const Ipv4Addr kR = Ipv4Addr::from_octets(192, 0, 2, 7);
const Ipv4Addr kAny{};
constexpr std::uint16_t kRport = 443;
constexpr Instant kNow{1'000'000};

// The engine's tables as the check sees them.
struct World {
  using Key = std::tuple<std::uint32_t, std::uint32_t, std::uint16_t, std::uint16_t>;
  std::map<Key, TupleState> tuples;
  std::vector<PortOrigin> origins;

  static Key key(const FourTuple& t) { return {t.laddr.v, t.raddr.v, t.lport, t.rport}; }
  void put(const FourTuple& t, TupleState s) { tuples[key(t)] = s; }
  void erase(const FourTuple& t) { tuples.erase(key(t)); }
  TupleState operator()(const FourTuple& t, PortOrigin o) {
    origins.push_back(o);
    auto it = tuples.find(key(t));
    return it == tuples.end() ? TupleState::kFree : it->second;
  }
};

// The default configuration's ports, or `range`.
AllocatorConfig config(PortSelection mode, std::optional<PortRange> range = std::nullopt) {
  AllocatorConfig c(StackConfig{}, {kL1, kL2});
  c.mode = mode;
  if (range) c.range = *range;
  c.secret = SipKey{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  c.seed = 42;
  return c;
}

// connect() that records the tuple in the world as an established connection.
ConnectResult connect(PortAllocator& pa, World& w, Ipv4Addr r = kR, std::uint16_t rport = kRport) {
  ConnectResult res = pa.connect(kL1, r, rport, kNow, w);
  if (res.err == Errc::kOk) w.put(res.tuple, TupleState::kTaken);
  return res;
}

AllocatorConfig rss_config(PortSelection mode, std::uint16_t queues, std::uint16_t queue,
                           std::optional<PortRange> range = std::nullopt) {
  AllocatorConfig c = config(mode, range);
  c.rss = RssSteering{{kDefaultRssKey.begin(), kDefaultRssKey.end()}, round_robin_reta(128, queues), queue};
  return c;
}

class BothModes : public ::testing::TestWithParam<PortSelection> {};
INSTANTIATE_TEST_SUITE_P(Ports, BothModes, ::testing::Values(PortSelection::kUniform, PortSelection::kLinux),
                         [](const auto& p) { return p.param == PortSelection::kLinux ? "linux" : "uniform"; });

// Connects until EADDRNOTAVAIL; the ports taken, in order. Each connect
// asks the check exactly once (the world never disagrees with the bitmaps).
std::vector<std::uint16_t> drain(PortAllocator& pa, World& w, Ipv4Addr l = kL1, std::uint16_t rport = kRport) {
  std::vector<std::uint16_t> ports;
  for (;;) {
    ConnectResult r = pa.connect(l, kR, rport, kNow, w);
    if (r.err != Errc::kOk) {
      EXPECT_EQ(r.err, Errc::kAddrNotAvail);
      return ports;
    }
    EXPECT_EQ(r.examined, 1u);
    w.put(r.tuple, TupleState::kTaken);
    ports.push_back(r.tuple.lport);
  }
}

// The whole default range for one destination, then EADDRNOTAVAIL at once:
// no check is called once the bitmaps say nothing is left.
TEST_P(BothModes, FullRangeThenAddrNotAvailAtOnce) {
  PortAllocator pa(config(GetParam()));
  World w;
  std::vector<std::uint16_t> ports = drain(pa, w);
  EXPECT_EQ(std::set<std::uint16_t>(ports.begin(), ports.end()).size(), 28232u);
  EXPECT_EQ(*std::min_element(ports.begin(), ports.end()), 32768);
  EXPECT_EQ(*std::max_element(ports.begin(), ports.end()), 60999);
  ConnectResult r = connect(pa, w);
  EXPECT_EQ(r.err, Errc::kAddrNotAvail);
  EXPECT_EQ(r.examined, 0u);
  EXPECT_EQ(pa.stats().connect_fails, 2u);
  EXPECT_EQ(pa.stats().connects, 28232u);
  // Another destination still has the whole range (capacity is per destination).
  EXPECT_EQ(connect(pa, w, kR, 444).err, Errc::kOk);
}

// docs/linux-timewait.md §7: with the default range connect() takes ports of low's parity
// (even) first, steps +2..+16 between consecutive connects to one
// destination, and only after the even half the odd one.
TEST(LinuxMode, EvenFirstThenOdd) {
  PortAllocator pa(config(PortSelection::kLinux));
  World w;
  std::vector<std::uint16_t> ports = drain(pa, w);
  ASSERT_EQ(ports.size(), 28232u);
  for (std::size_t i = 0; i < ports.size(); ++i) ASSERT_EQ(ports[i] % 2, i < 14116 ? 0 : 1) << i;
  for (std::size_t i = 1; i < 200; ++i) {
    std::uint32_t gap = (ports[i] - ports[i - 1] + 28232u) % 28232u;
    EXPECT_TRUE(gap >= 2 && gap <= 16 && gap % 2 == 0) << "gap " << gap;
  }
}

// linux_pass visits exactly the kernel loop's ports, in its order, for even
// and odd window sizes and every offset (docs/linux-timewait.md §7 step 4).
TEST(LinuxMode, PassMatchesKernelLoop) {
  auto find = [](std::uint32_t from, std::uint32_t to, unsigned parity) {
    for (std::uint32_t q = from; q < to; ++q) {
      if (q % 2 == parity) return q;
    }
    return kNone;
  };
  for (std::uint32_t wsize = 1; wsize <= 12; ++wsize) {
    std::uint32_t remaining = wsize > 1 ? wsize & ~1u : wsize;
    for (std::uint32_t offset = 0; offset < std::max<std::uint32_t>(remaining, 2); ++offset) {
      std::vector<std::uint32_t> kernel, ours;
      std::uint32_t port = offset;  // low = 0, high = wsize
      for (std::uint32_t i = 0; i < remaining; i += 2, port += 2) {
        if (port >= wsize) port -= remaining;
        kernel.push_back(port);
      }
      linux_pass(wsize, remaining, offset, find, [&](std::uint32_t q, std::uint32_t i) {
        EXPECT_EQ(kernel.at(i / 2), q) << "i " << i;
        ours.push_back(q);
        return false;
      });
      EXPECT_EQ(ours, kernel) << "wsize " << wsize << " offset " << offset;
    }
  }
}

// docs/linux-timewait.md §7 bind(port 0): odd ports (the parity connect() leaves alone)
// first, EADDRINUSE when none is left; with SO_REUSEADDR the lower half of
// the range until it is used up (inet_csk_find_open_port's attempt_half).
TEST(Bind, PortZero) {
  PortAllocator pa(config(PortSelection::kLinux));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(pa.bind(kAny, 0, {}).port % 2, 1);
  PortAllocator small(config(PortSelection::kUniform, PortRange{40000, 40019}));
  PortAllocator half(config(PortSelection::kUniform, PortRange{40000, 40019}));
  std::set<std::uint16_t> got;
  for (int i = 0; i < 20; ++i) {
    BindResult b = small.bind(kAny, 0, {});
    BindResult h = half.bind(kAny, 0, SocketOpts{.reuseaddr = true});
    ASSERT_EQ(b.err, Errc::kOk);
    ASSERT_EQ(h.err, Errc::kOk);
    got.insert(b.port);
    EXPECT_EQ(b.port % 2, i < 10 ? 1 : 0) << i;
    EXPECT_EQ(h.port < 40010, i < 10) << i;
  }
  EXPECT_EQ(got.size(), 20u);
  EXPECT_EQ(small.bind(kAny, 0, {}).err, Errc::kAddrInUse);
  EXPECT_EQ(small.stats().bind_fails, 1u);
}

// Each local address has the whole range per destination; an address that
// is not ours gets EADDRNOTAVAIL.
TEST_P(BothModes, LocalAddressesAreIndependent) {
  PortAllocator pa(config(GetParam(), PortRange{50000, 50009}));
  World w;
  EXPECT_EQ(drain(pa, w).size(), 10u);
  EXPECT_EQ(drain(pa, w, kL2).size(), 10u);
  EXPECT_EQ(pa.connect(Ipv4Addr::from_octets(10, 9, 9, 9), kR, kRport, kNow, w).err, Errc::kAddrNotAvail);
  EXPECT_EQ(pa.connect(kL1, kR, 0, kNow, w).err, Errc::kInvalid);
}

TEST(Config, FromStackConfig) {
  StackConfig sc;
  ASSERT_EQ(sc.set("net.ipv4.ip_local_port_range", "1024 2047"), std::nullopt);
  ASSERT_EQ(sc.set("twstack.port_selection", "linux"), std::nullopt);
  sc.ip_local_reserved_ports.set(1500);
  PortAllocator pa{AllocatorConfig(sc, {kL1})};
  EXPECT_EQ(pa.range(), (PortRange{1024, 2047}));
  EXPECT_EQ(pa.mode(), PortSelection::kLinux);
  World w;
  std::vector<std::uint16_t> ports = drain(pa, w);
  EXPECT_EQ(ports.size(), 1023u);
  EXPECT_EQ(std::count(ports.begin(), ports.end(), 1500), 0);
}

TEST_P(BothModes, ReservedPortsNeverChosen) {
  AllocatorConfig c = config(GetParam(), PortRange{40000, 40999});
  for (std::uint16_t p : {40000, 40999, 40501}) c.reserved.set(p);
  for (std::uint16_t p = 40100; p < 40300; ++p) c.reserved.set(p);
  PortAllocator pa(c);
  World w;
  std::vector<std::uint16_t> ports = drain(pa, w);
  EXPECT_EQ(ports.size(), 1000u - 203u);
  for (std::uint16_t p : ports) ASSERT_FALSE(c.reserved.test(p)) << p;
  for (int i = 0; i < 100; ++i) ASSERT_FALSE(c.reserved.test(pa.bind(kL2, 0, {}).port));
  // An explicit bind() may take a reserved port (it only affects automatic choice).
  EXPECT_EQ(pa.bind(kL2, 40150, {}).err, Errc::kOk);
}

FourTuple tup(std::uint16_t lport) { return FourTuple{kL1, kR, lport, kRport}; }

// Released ports come back, and an empty destination gives its slot back.
TEST_P(BothModes, ReleaseKeepsBitmapsExact) {
  PortAllocator pa(config(GetParam(), PortRange{50000, 50099}));
  World w;
  std::vector<std::uint16_t> ports = drain(pa, w);
  ASSERT_EQ(ports.size(), 100u);
  for (std::size_t i = 0; i < 100; i += 2) {
    w.erase(tup(ports[i]));
    pa.release(tup(ports[i]));
  }
  EXPECT_EQ(pa.free_ports(kL1, kR, kRport), 50u);
  EXPECT_EQ(drain(pa, w).size(), 50u);
  for (const auto& [k, st] : w.tuples) pa.release(tup(std::get<2>(k)));
  EXPECT_EQ(pa.destinations(), 0u);
  EXPECT_EQ(pa.stats().release_unknown, 0u);
}

// A TIME_WAIT tuple the check accepts (tcp_twsk_unique) is taken over once
// the range is full; the hold passes to the new connection. A stale mark
// costs one check.
TEST_P(BothModes, TakeoverOfReusableTimeWait) {
  PortAllocator pa(config(GetParam(), PortRange{50000, 50063}));
  World w;
  std::vector<std::uint16_t> ports = drain(pa, w);  // then TIME_WAIT, not reusable
  const FourTuple tw = tup(ports[17]);
  w.put(tw, TupleState::kReusableTimeWait);
  ASSERT_TRUE(pa.set_reusable(tw, true));
  ConnectResult r = connect(pa, w);
  ASSERT_EQ(r.err, Errc::kOk);
  EXPECT_TRUE(r.took_over);
  EXPECT_EQ(r.tuple, tw);
  EXPECT_EQ(pa.stats().takeovers, 1u);
  EXPECT_EQ(w.origins.back(), PortOrigin::kEphemeral);
  // No release for the killed entry: the tuple is held by the new connection.
  EXPECT_EQ(connect(pa, w).err, Errc::kAddrNotAvail);
  // A reusable mark the check no longer confirms is dropped: paid for once.
  ASSERT_TRUE(pa.set_reusable(tup(ports[3]), true));
  r = connect(pa, w);  // the check still says kTaken
  EXPECT_EQ(r.err, Errc::kAddrNotAvail);
  EXPECT_EQ(r.examined, 1u);
  EXPECT_EQ(pa.stats().stale_reusable, 1u);
  EXPECT_EQ(connect(pa, w).examined, 0u);
}

// Uniform mode takes a free port before any reusable TIME_WAIT.
TEST(UniformMode, FreeBeforeTakeover) {
  PortAllocator pa(config(PortSelection::kUniform, PortRange{50000, 50031}));
  World w;
  std::vector<std::uint16_t> ports = drain(pa, w);
  for (std::size_t i = 0; i < 31; ++i) {
    w.put(tup(ports[i]), TupleState::kReusableTimeWait);
    pa.set_reusable(tup(ports[i]), true);
  }
  w.erase(tup(ports[31]));
  pa.release(tup(ports[31]));
  for (int round = 0; round < 20; ++round) {
    ConnectResult r = pa.connect(kL1, kR, kRport, kNow, w);
    ASSERT_EQ(r.err, Errc::kOk);
    EXPECT_FALSE(r.took_over);
    EXPECT_EQ(r.tuple.lport, ports[31]);
    pa.release(r.tuple);
  }
}

// The check is the final word: a tuple the allocator did not know about is
// learned, and never proposed again.
TEST_P(BothModes, CheckDisagreementIsLearned) {
  PortAllocator pa(config(GetParam(), PortRange{50000, 50007}));
  World w;
  for (std::uint16_t p = 50000; p <= 50007; ++p) {
    if (p != 50005) w.put(FourTuple{kL1, kR, p, kRport}, TupleState::kTaken);
  }
  ConnectResult r = connect(pa, w);
  ASSERT_EQ(r.err, Errc::kOk);
  EXPECT_EQ(r.tuple.lport, 50005);
  EXPECT_EQ(r.examined, pa.stats().check_disagreed + 1);
  EXPECT_EQ(connect(pa, w).err, Errc::kAddrNotAvail);
  EXPECT_LE(pa.stats().examined, 8u);
}

// A check that refuses everything stops the search after kMaxChecks.
TEST_P(BothModes, WorkIsBounded) {
  PortAllocator pa(config(GetParam()));
  auto never = [](const FourTuple&, PortOrigin) { return TupleState::kTaken; };
  ConnectResult r = pa.connect(kL1, kR, kRport, kNow, never);
  EXPECT_EQ(r.err, Errc::kAddrNotAvail);
  EXPECT_EQ(r.examined, kMaxChecks);
  EXPECT_EQ(pa.stats().budget_exhausted, 1u);
}

// An emptied destination keeps its slot (parked) until the pool runs out;
// then the least recently parked slot is reclaimed; with every slot holding
// ports, connect() falls back to probing, flagged and counted.
TEST_P(BothModes, DestinationPool) {
  AllocatorConfig c = config(GetParam());
  c.max_destinations = 2;
  PortAllocator pa(c);
  World w;
  ConnectResult a = connect(pa, w, kR, 1);
  w.erase(a.tuple);
  pa.release(a.tuple);
  EXPECT_EQ(pa.destinations(), 0u);
  EXPECT_TRUE(pa.free_ports(kL1, kR, 1).has_value());  // parked, not gone
  EXPECT_FALSE(connect(pa, w, kR, 2).dest_fallback);
  EXPECT_FALSE(connect(pa, w, kR, 3).dest_fallback);  // reclaims rport 1's slot
  EXPECT_FALSE(pa.free_ports(kL1, kR, 1).has_value());
  ConnectResult r = connect(pa, w, kR, 1);
  ASSERT_EQ(r.err, Errc::kOk);
  EXPECT_TRUE(r.dest_fallback);
  EXPECT_EQ(pa.stats().dest_pool_full, 1u);
  EXPECT_EQ(pa.destinations(), 2u);
  pa.release(r.tuple);
  EXPECT_EQ(pa.stats().release_unknown, 0u);
}

// DESIGN rule 4: every table is sized at construction. Connects to several
// destinations up to exhaustion, takeovers, releases, the destination-pool
// fallback and reclaim, bind(0), listen and connect_bound allocate nothing.
TEST_P(BothModes, NoAllocationAfterConstruction) {
  AllocatorConfig c = rss_config(GetParam(), 4, 1, PortRange{40000, 40999});
  c.max_destinations = 2;
  PortAllocator pa(c);
  std::vector<std::uint8_t> state(65536 * 3, 0);  // per (rport index, port): 0 free, 1 taken, 2 reusable
  auto check = [&state](const FourTuple& t, PortOrigin) {
    std::uint8_t v = state[(t.rport % 3) * 65536u + t.lport];
    return v == 0 ? TupleState::kFree : v == 1 ? TupleState::kTaken : TupleState::kReusableTimeWait;
  };
  std::vector<FourTuple> held;
  held.reserve(4096);
  const std::size_t before = g_allocations;
  static int* volatile escape = nullptr;  // the allocation cannot be elided
  escape = new int(1);
  delete escape;
  ASSERT_EQ(g_allocations, before + 1);  // the counter sees allocations
  for (int round = 0; round < 3; ++round) {
    for (std::uint16_t rport = 3; rport <= 5; ++rport) {  // the third destination falls back
      for (ConnectResult r; (r = pa.connect(kL1, kR, rport, kNow, check)).err == Errc::kOk;) {
        state[(rport % 3) * 65536u + r.tuple.lport] = 1;
        if (r.took_over) continue;
        held.push_back(r.tuple);
        if (held.size() % 7 == 0) {
          state[(rport % 3) * 65536u + r.tuple.lport] = 2;
          pa.set_reusable(r.tuple, true);
        }
      }
    }
    for (std::size_t i = 0; i < held.size(); i += 2) {
      state[(held[i].rport % 3) * 65536u + held[i].lport] = 0;
      pa.release(held[i]);
    }
    BindResult b = pa.bind(kAny, 0, {});
    pa.listen(b.id);
    pa.hold(b.id);
    BindResult e = pa.bind(kL2, 40500, SocketOpts{.reuseaddr = true});
    pa.connect_bound(e.id, kL2, kR, 9, check);
    pa.release(e.id);
    pa.unlisten(b.id);
    pa.release(b.id);
    pa.release(b.id);
  }
  EXPECT_EQ(g_allocations, before + 1);
  EXPECT_GT(pa.stats().dest_pool_full, 0u);
  EXPECT_GT(pa.stats().takeovers, 0u);
}

// ---- bind() and listeners ----

TEST(Bind, Conflicts) {
  PortAllocator pa(config(PortSelection::kUniform));
  BindResult a = pa.bind(kL1, 80, {});
  ASSERT_EQ(a.err, Errc::kOk);
  EXPECT_EQ(pa.bind(kL1, 80, {}).err, Errc::kAddrInUse);
  EXPECT_EQ(pa.bind(kAny, 80, {}).err, Errc::kAddrInUse);  // the wildcard overlaps
  EXPECT_EQ(pa.bind(kL2, 80, {}).err, Errc::kOk);          // another address does not
  EXPECT_EQ(pa.bind(Ipv4Addr::from_octets(10, 9, 9, 9), 81, {}).err, Errc::kAddrNotAvail);
  // Both SO_REUSEADDR and neither listening: shared; then only one may listen.
  SocketOpts ra{.reuseaddr = true};
  BindResult x = pa.bind(kL1, 8080, ra), y = pa.bind(kL1, 8080, ra);
  ASSERT_TRUE(x.err == Errc::kOk && y.err == Errc::kOk);
  EXPECT_EQ(pa.listen(x.id), Errc::kOk);
  EXPECT_EQ(pa.listen(y.id), Errc::kAddrInUse);
  EXPECT_EQ(pa.bind(kL1, 8080, ra).err, Errc::kAddrInUse);  // a listener is there now
  // SO_REUSEPORT on both: several listeners.
  SocketOpts rp{.reuseport = true};
  BindResult p1 = pa.bind(kAny, 9000, rp), p2 = pa.bind(kAny, 9000, rp);
  ASSERT_TRUE(p1.err == Errc::kOk && p2.err == Errc::kOk);
  EXPECT_EQ(pa.listen(p1.id), Errc::kOk);
  EXPECT_EQ(pa.listen(p2.id), Errc::kOk);
  EXPECT_EQ(pa.bind(kAny, 9000, {}).err, Errc::kAddrInUse);
  // Released: the port is free again; stale handles are refused.
  ASSERT_EQ(pa.release(a.id), Errc::kOk);
  EXPECT_EQ(pa.release(a.id), Errc::kBadHandle);
  EXPECT_EQ(pa.bind(kL1, 80, {}).err, Errc::kOk);
  // A port connect() chose conflicts with an explicit bind() on its address.
  World w;
  ConnectResult r = connect(pa, w);
  ASSERT_EQ(r.err, Errc::kOk);
  EXPECT_EQ(pa.bind(kL1, r.tuple.lport, {}).err, Errc::kAddrInUse);
  EXPECT_EQ(pa.bind(kAny, r.tuple.lport, SocketOpts{.reuseaddr = true}).err, Errc::kAddrInUse);
  EXPECT_EQ(pa.bind(kL2, r.tuple.lport, {}).err, Errc::kOk);
  pa.release(r.tuple);
  EXPECT_EQ(pa.bind(kL1, r.tuple.lport, {}).err, Errc::kOk);
}

// docs/linux-timewait.md §8: restarting a listener while its old connections sit in
// TIME_WAIT. The old listener had accepted three children, which closed
// first (server-side TIME_WAIT), then the listener closed.
TEST(Bind, ListenerRestartTable) {
  const SocketOpts none{};
  const SocketOpts ra{.reuseaddr = true};
  const SocketOpts rp{.reuseport = true};
  struct Row {
    SocketOpts old_opts, new_opts;
    Errc want;
  };
  const Errc busy = Errc::kAddrInUse;
  const Row rows[] = {{ra, ra, Errc::kOk}, {ra, none, busy}, {none, ra, busy}, {none, none, busy},
                      {rp, rp, Errc::kOk}, {rp, none, busy}, {none, rp, busy}, {ra, rp, busy}, {rp, ra, busy}};
  for (const Row& row : rows) {
    PortAllocator pa(config(PortSelection::kUniform));
    BindResult old = pa.bind(kAny, 80, row.old_opts);
    ASSERT_EQ(pa.listen(old.id), Errc::kOk);
    for (int i = 0; i < 3; ++i) ASSERT_EQ(pa.hold(old.id), Errc::kOk);  // accepted children
    ASSERT_EQ(pa.unlisten(old.id), Errc::kOk);                          // the listener closes;
    ASSERT_EQ(pa.release(old.id), Errc::kOk);                           // its children are in TIME_WAIT
    BindResult nu = pa.bind(kAny, 80, row.new_opts);
    EXPECT_EQ(nu.err, row.want) << row.old_opts.reuseaddr << row.old_opts.reuseport << " -> "
                                << row.new_opts.reuseaddr << row.new_opts.reuseport;
    EXPECT_EQ(nu.err == Errc::kOk ? pa.listen(nu.id) : Errc::kOk, Errc::kOk);
    // Once every TIME_WAIT has expired, anything may bind.
    for (int i = 0; i < 3; ++i) ASSERT_EQ(pa.release(old.id), Errc::kOk);
    EXPECT_EQ(nu.err == Errc::kOk ? Errc::kOk : pa.bind(kAny, 80, row.new_opts).err, Errc::kOk);
  }
}

// The client side of §8: bind() onto one's own TIME_WAIT port needs
// SO_REUSEADDR on both; connect() then takes the TIME_WAIT over, asking the
// check with PortOrigin::kBound (no tcp_tw_reuse delay on this path).
TEST(Bind, ClientRebindOntoOwnTimeWait) {
  PortAllocator pa(config(PortSelection::kUniform));
  World w;
  const SocketOpts ra{.reuseaddr = true};
  BindResult old = pa.bind(kL1, 40001, ra);
  ASSERT_EQ(old.err, Errc::kOk);
  ConnectResult c = pa.connect_bound(old.id, kL1, kR, kRport, w);
  ASSERT_EQ(c.err, Errc::kOk);
  EXPECT_EQ(w.origins.back(), PortOrigin::kBound);
  w.put(c.tuple, TupleState::kReusableTimeWait);  // closed: TIME_WAIT keeps old's hold
  EXPECT_EQ(pa.bind(kL1, 40001, {}).err, Errc::kAddrInUse);
  BindResult nu = pa.bind(kL1, 40001, ra);
  ASSERT_EQ(nu.err, Errc::kOk);
  ConnectResult again = pa.connect_bound(nu.id, kL1, kR, kRport, w);
  ASSERT_EQ(again.err, Errc::kOk);
  EXPECT_TRUE(again.took_over);
  EXPECT_EQ(again.tuple, c.tuple);
  w.put(c.tuple, TupleState::kTaken);  // a live connection: EADDRNOTAVAIL
  BindResult third = pa.bind(kL1, 40001, ra);
  EXPECT_EQ(pa.connect_bound(third.id, kL1, kR, kRport, w).err, Errc::kAddrNotAvail);
}

// Ephemeral tuples hold their port against bind() on their address and on
// INADDR_ANY, and against bind(port 0), until the last of them is released
// (docs/linux-timewait.md §8); with one local address as with two (one
// address keeps no per-port count of addresses).
TEST(Bind, EphemeralTuplesHoldPortUntilLastRelease) {
  for (const std::vector<Ipv4Addr>& addrs : {std::vector<Ipv4Addr>{kL1}, std::vector<Ipv4Addr>{kL1, kL2}}) {
    AllocatorConfig c = config(PortSelection::kUniform, PortRange{50000, 50001});
    c.local_addrs = addrs;
    PortAllocator pa(c);
    const FourTuple a{kL1, kR, 50001, kRport};
    const FourTuple b{kL1, kR, 50001, kRport + 1};
    ASSERT_TRUE(pa.occupy(a));
    ASSERT_TRUE(pa.occupy(b));
    for (const FourTuple& t : {a, b}) {
      EXPECT_EQ(pa.bind(kAny, 50001, {}).err, Errc::kAddrInUse) << addrs.size();
      EXPECT_EQ(pa.bind(kL1, 50001, {}).err, Errc::kAddrInUse) << addrs.size();
      BindResult z = pa.bind(kAny, 0, {});  // only 50000 is left
      EXPECT_EQ(z.port, 50000) << addrs.size();
      ASSERT_EQ(pa.release(z.id), Errc::kOk);
      pa.release(t);
    }
    BindResult p = pa.bind(kAny, 0, {});  // both ports are free again
    EXPECT_EQ(pa.bind(kAny, 0, {}).port, p.port == 50000 ? 50001 : 50000) << addrs.size();
    EXPECT_EQ(pa.stats().release_unknown, 0u);
  }
}

// Ports held by bind()/listen() are skipped by connect() for every destination.
TEST_P(BothModes, BoundPortsExcludedFromConnect) {
  PortAllocator pa(config(GetParam(), PortRange{50000, 50009}));
  World w;
  BindResult b = pa.bind(kL2, 50004, {});  // another local address: still skipped
  ASSERT_EQ(b.err, Errc::kOk);
  std::vector<std::uint16_t> ports = drain(pa, w);
  EXPECT_EQ(ports.size(), 9u);
  EXPECT_EQ(std::count(ports.begin(), ports.end(), 50004), 0);
  ASSERT_EQ(pa.release(b.id), Errc::kOk);
  EXPECT_EQ(drain(pa, w), std::vector<std::uint16_t>{50004});
}

// ---- against a transcription of the kernel loop ----

// __inet_hash_connect's loop, literally (docs/linux-timewait.md §7 steps 2-6), over the
// test's world: skip reserved ports, bind()-held ports and (with RSS) ports
// whose replies miss our queue; take the first free tuple or reusable
// TIME_WAIT. Returns 0 for -EADDRNOTAVAIL.
std::uint16_t kernel_connect(const PortAllocator& pa, const World& w, const PortBitmap& reserved,
                             const std::map<std::uint16_t, BindId>& bound, Ipv4Addr raddr, std::uint16_t rport,
                             std::uint32_t offset) {
  const PortRange rg = pa.range();
  const std::uint32_t low = rg.low;
  const std::uint32_t high = std::uint32_t{rg.high} + 1;
  std::uint32_t remaining = high - low;
  if (remaining > 1) remaining &= ~1u;
  offset &= ~1u;
  for (;;) {
    std::uint32_t port = low + offset;
    for (std::uint32_t i = 0; i < remaining; i += 2, port += 2) {
      if (port >= high) port -= remaining;
      auto p = static_cast<std::uint16_t>(port);
      if (reserved.test(p) || bound.count(p) != 0 || !pa.steers_to_us(kL1, raddr, rport, p)) continue;
      auto it = w.tuples.find(World::key(FourTuple{kL1, raddr, p, rport}));
      if (it == w.tuples.end() || it->second == TupleState::kReusableTimeWait) return p;
    }
    ++offset;
    if (!((offset & 1) && remaining > 1)) return 0;
  }
}

// Random connects, releases, reusable marks, binds and clock ticks over three
// destinations: Linux mode takes exactly the port the kernel loop takes, and
// uniform mode takes a port that loop would accept, failing only when it fails.
void random_walk(PortSelection mode, bool rss, std::uint64_t seed, std::uint16_t high = 40199) {
  const PortRange range{40000, high};
  AllocatorConfig c = rss ? rss_config(mode, 4, 1, range) : config(mode, range);
  for (std::uint16_t p : {40000, 40007, 40100, 40101, 40198}) c.reserved.set(p);
  c.seed = seed;
  PortAllocator pa(c);
  World w;
  std::vector<FourTuple> held;
  std::map<std::uint16_t, BindId> binds;
  Rng rng(seed);
  Instant now{0};
  const std::uint16_t rports[] = {80, 443, 8080};
  for (int step = 0; step < 20000; ++step) {
    std::uint32_t op = rng.below(100);
    if (op < 55) {
      std::uint16_t rport = rports[rng.below(3)];
      std::uint16_t want = kernel_connect(pa, w, c.reserved, binds, kR, rport, pa.linux_offset(kL1, kR, rport, now));
      ConnectResult r = pa.connect(kL1, kR, rport, now, w);
      ASSERT_EQ(r.err == Errc::kOk, want != 0) << "step " << step;
      if (r.err != Errc::kOk) continue;
      if (mode == PortSelection::kLinux) {
        ASSERT_EQ(r.tuple.lport, want) << "step " << step;
      }
      auto it = w.tuples.find(World::key(r.tuple));
      ASSERT_TRUE(it == w.tuples.end() || it->second == TupleState::kReusableTimeWait);
      ASSERT_EQ(r.took_over, it != w.tuples.end());
      if (!r.took_over) held.push_back(r.tuple);
      w.put(r.tuple, TupleState::kTaken);
    } else if (op < 80 && !held.empty()) {
      std::size_t k = rng.below(static_cast<std::uint32_t>(held.size()));
      w.erase(held[k]);
      pa.release(held[k]);
      held[k] = held.back();
      held.pop_back();
    } else if (op < 92 && !held.empty()) {
      const FourTuple& t = held[rng.below(static_cast<std::uint32_t>(held.size()))];
      w.put(t, TupleState::kReusableTimeWait);
      ASSERT_TRUE(pa.set_reusable(t, true));
    } else if (op < 96) {
      auto p = static_cast<std::uint16_t>(40000 + rng.below(range.size()));
      if (auto it = binds.find(p); it != binds.end()) {
        ASSERT_EQ(pa.release(it->second), Errc::kOk);
        binds.erase(it);
      } else if (BindResult b = pa.bind(kL2, p, {}); b.err == Errc::kOk) {
        binds[p] = b.id;
      }
    } else {
      now += Duration::seconds(rng.below(15));
    }
  }
  EXPECT_EQ(pa.stats().check_disagreed, 0u);
  EXPECT_EQ(pa.stats().release_unknown, 0u);
  // The walk reached a full range and took TIME_WAIT tuples over.
  EXPECT_GT(pa.stats().connect_fails, 100u);
  EXPECT_GT(pa.stats().takeovers, 100u);
}

TEST_P(BothModes, MatchesKernelLoop) { random_walk(GetParam(), false, 11); }
TEST_P(BothModes, MatchesKernelLoopWithRss) { random_walk(GetParam(), true, 12); }
// An odd-sized range: the kernel's wrap skips position 0 or the last port
// depending on the offset; the allocator does the same.
TEST_P(BothModes, MatchesKernelLoopOddRange) { random_walk(GetParam(), false, 13, 40198); }

// ---- uniformity ----

// With half the range held, the free ports are chosen uniformly: a
// chi-square statistic over 32 free ports (31 degrees of freedom) stays
// far below the 1e-6 tail (~78).
TEST(UniformMode, ChiSquare) {
  PortAllocator pa(config(PortSelection::kUniform, PortRange{50000, 50063}));
  World w;
  for (std::uint16_t p = 50000; p <= 50063; p += 2) {
    ASSERT_TRUE(pa.occupy(FourTuple{kL1, kR, p, kRport}));
    w.put(FourTuple{kL1, kR, p, kRport}, TupleState::kTaken);
  }
  std::map<std::uint16_t, int> hist;
  const int kSamples = 64000;
  for (int i = 0; i < kSamples; ++i) {
    ConnectResult r = pa.connect(kL1, kR, kRport, kNow, w);
    ASSERT_EQ(r.err, Errc::kOk);
    ASSERT_EQ(r.tuple.lport % 2, 1);
    ++hist[r.tuple.lport];
    pa.release(r.tuple);
  }
  ASSERT_EQ(hist.size(), 32u);
  const double expect = kSamples / 32.0;
  double chi2 = 0;
  for (const auto& [port, n] : hist) chi2 += (n - expect) * (n - expect) / expect;
  EXPECT_LT(chi2, 78.0);
}

}  // namespace
}  // namespace twstack::ports
