// Toeplitz: the Microsoft RSS verification vectors (also DPDK
// app/test/test_thash.c), the byte tables against the bit-by-bit definition,
// the XOR split the port allocator relies on; then RSS steering in the
// allocator: every reply lands on the allocating queue, fallbacks flagged.
#include "stack/ports/toeplitz.hh"

#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "stack/ports/allocator.hh"

namespace twstack::ports {
namespace {

using wire::Ipv4Addr;

struct Vector {
  Ipv4Addr src;
  std::uint16_t sport;
  Ipv4Addr dst;
  std::uint16_t dport;
  std::uint32_t ipv4;      // hash of src addr, dst addr
  std::uint32_t ipv4_tcp;  // hash of src addr, dst addr, src port, dst port
};

// "Verifying the RSS Hash Calculation" (Microsoft), IPv4 table, default key.
// The table lists destination first; the input is source first.
const std::array<Vector, 5> kVectors = {{
    {Ipv4Addr::from_octets(66, 9, 149, 187), 2794, Ipv4Addr::from_octets(161, 142, 100, 80), 1766,
     0x323e8fc2, 0x51ccc178},
    {Ipv4Addr::from_octets(199, 92, 111, 2), 14230, Ipv4Addr::from_octets(65, 69, 140, 83), 4739,
     0xd718262a, 0xc626b0ea},
    {Ipv4Addr::from_octets(24, 19, 198, 95), 12898, Ipv4Addr::from_octets(12, 22, 207, 184), 38024,
     0xd2d0a5de, 0x5c2b394a},
    {Ipv4Addr::from_octets(38, 27, 205, 30), 48228, Ipv4Addr::from_octets(209, 142, 163, 6), 2217,
     0x82989176, 0xafc7327f},
    {Ipv4Addr::from_octets(153, 39, 163, 191), 44251, Ipv4Addr::from_octets(202, 188, 127, 2), 1303,
     0x5d1809c5, 0x10e828a2},
}};

std::array<std::uint8_t, 8> addr_bytes(Ipv4Addr s, Ipv4Addr d) {
  return {static_cast<std::uint8_t>(s.v >> 24), static_cast<std::uint8_t>(s.v >> 16),
          static_cast<std::uint8_t>(s.v >> 8),  static_cast<std::uint8_t>(s.v),
          static_cast<std::uint8_t>(d.v >> 24), static_cast<std::uint8_t>(d.v >> 16),
          static_cast<std::uint8_t>(d.v >> 8),  static_cast<std::uint8_t>(d.v)};
}

TEST(Toeplitz, MicrosoftIpv4TcpVectors) {
  for (const Vector& v : kVectors) {
    EXPECT_EQ(toeplitz_ipv4_tcp(kDefaultRssKey, v.src, v.dst, v.sport, v.dport), v.ipv4_tcp)
        << v.src.to_string() << ":" << v.sport << " -> " << v.dst.to_string() << ":" << v.dport;
  }
}

TEST(Toeplitz, MicrosoftIpv4Vectors) {
  for (const Vector& v : kVectors) {
    EXPECT_EQ(toeplitz_hash(kDefaultRssKey, addr_bytes(v.src, v.dst)), v.ipv4) << v.src.to_string();
  }
}

TEST(Toeplitz, TablesMatchTheDefinition) {
  ToeplitzIpv4Tcp t(kDefaultRssKey);
  for (const Vector& v : kVectors) EXPECT_EQ(t.hash(v.src, v.dst, v.sport, v.dport), v.ipv4_tcp);
  std::mt19937 rng(7);
  std::array<std::uint8_t, 40> key{};
  for (int k = 0; k < 4; ++k) {
    for (std::uint8_t& b : key) b = static_cast<std::uint8_t>(rng());
    ToeplitzIpv4Tcp tk(key);
    for (int i = 0; i < 2000; ++i) {
      Ipv4Addr s{static_cast<std::uint32_t>(rng())};
      Ipv4Addr d{static_cast<std::uint32_t>(rng())};
      auto sp = static_cast<std::uint16_t>(rng());
      auto dp = static_cast<std::uint16_t>(rng());
      ASSERT_EQ(tk.hash(s, d, sp, dp), toeplitz_ipv4_tcp(key, s, d, sp, dp));
    }
  }
}

// hash(fixed ^ port) = hash(fixed) ^ hash(port): a port's contribution does
// not depend on the other fields.
TEST(Toeplitz, LinearInXor) {
  ToeplitzIpv4Tcp t(kDefaultRssKey);
  const Vector& v = kVectors[0];
  EXPECT_EQ(toeplitz_ipv4_tcp(kDefaultRssKey, v.src, v.dst, v.sport, 0) ^
                toeplitz_ipv4_tcp(kDefaultRssKey, Ipv4Addr{}, Ipv4Addr{}, 0, v.dport),
            v.ipv4_tcp);
  for (std::uint32_t p = 0; p < 65536; p += 97) {
    auto port = static_cast<std::uint16_t>(p);
    EXPECT_EQ(t.dport_part(port), toeplitz_ipv4_tcp(kDefaultRssKey, Ipv4Addr{}, Ipv4Addr{}, 0, port));
    EXPECT_EQ(t.fixed_part(v.src, v.dst, v.sport) ^ t.dport_part(port),
              toeplitz_ipv4_tcp(kDefaultRssKey, v.src, v.dst, v.sport, port));
  }
}

TEST(Toeplitz, ShortKeyReadsZeros) {
  // Key bits past the end are zero: a 4-byte key hashes only the first input bit's window.
  const std::array<std::uint8_t, 4> key = {0x80, 0, 0, 1};
  const std::array<std::uint8_t, 1> in = {0x80};
  EXPECT_EQ(toeplitz_hash(key, in), 0x80000001u);
  // Input bit 7: key bits 7..38, where only key bit 31 is set (window bit 24).
  const std::array<std::uint8_t, 1> in2 = {0x01};
  EXPECT_EQ(toeplitz_hash(key, in2), 0x00000080u);
}

TEST(Toeplitz, RoundRobinReta) {
  std::vector<std::uint16_t> r = round_robin_reta(128, 3);
  ASSERT_EQ(r.size(), 128u);
  for (std::size_t i = 0; i < r.size(); ++i) EXPECT_EQ(r[i], i % 3);
  EXPECT_EQ(reta_queue(r, 130), r[2]);
  EXPECT_EQ(reta_queue({}, 5), 0);
}

// ---- RSS steering in the allocator ----

const Ipv4Addr kL = Ipv4Addr::from_octets(10, 0, 0, 1);
const Ipv4Addr kR = Ipv4Addr::from_octets(192, 0, 2, 7);
constexpr std::uint16_t kRport = 443;

AllocatorConfig rss_config(PortSelection mode, std::uint16_t queues, std::uint16_t queue,
                           std::optional<PortRange> range = std::nullopt) {
  AllocatorConfig c(StackConfig{}, {kL});
  c.mode = mode;
  if (range) c.range = *range;
  c.rss = RssSteering{{kDefaultRssKey.begin(), kDefaultRssKey.end()}, round_robin_reta(128, queues), queue};
  return c;
}

std::uint16_t reply_queue(std::uint16_t lport, const std::vector<std::uint16_t>& reta) {
  return reta_queue(reta, toeplitz_ipv4_tcp(kDefaultRssKey, kR, kL, kRport, lport));
}

// connect() to kR:kRport, with `held` as the engine's tables (one destination).
ConnectResult connect(PortAllocator& pa, std::set<std::uint16_t>& held) {
  auto check = [&held](const wire::FourTuple& t, PortOrigin) {
    return held.count(t.lport) != 0 ? TupleState::kTaken : TupleState::kFree;
  };
  ConnectResult r = pa.connect(kL, kR, kRport, Instant{0}, check);
  if (r.err == Errc::kOk) held.insert(r.tuple.lport);
  return r;
}

// Every port handed out has its reply hash to the engine's queue, and the
// destination's share of the range is used to the last port, one check each.
TEST(RssSteering, EveryReplyLandsOnOurQueue) {
  for (PortSelection mode : {PortSelection::kUniform, PortSelection::kLinux}) {
    for (std::uint16_t queues : {4, 16}) {
      const auto queue = static_cast<std::uint16_t>(queues - 2);
      AllocatorConfig c = rss_config(mode, queues, queue);
      PortAllocator pa(c);
      ASSERT_EQ(pa.rss_status(), RssStatus::kSteering);
      std::uint32_t expected = 0;
      for (std::uint32_t p = 32768; p <= 60999; ++p) {
        expected += reply_queue(static_cast<std::uint16_t>(p), c.rss->reta) == queue ? 1 : 0;
      }
      std::set<std::uint16_t> held;
      std::uint32_t n = 0;
      for (ConnectResult r; (r = connect(pa, held)).err == Errc::kOk; ++n) {
        ASSERT_EQ(reply_queue(r.tuple.lport, c.rss->reta), queue) << r.tuple.lport;
        ASSERT_TRUE(r.steered);
        ASSERT_FALSE(r.rss_fallback);
        ASSERT_EQ(r.examined, 1u);
      }
      EXPECT_EQ(n, expected);
      EXPECT_NEAR(n, 28232.0 / queues, 28232.0 / queues * 0.2);
    }
  }
}

TEST(RssSteering, UnsteerableIsFlaggedAndFallsBack) {
  PortAllocator pa(rss_config(PortSelection::kUniform, 4, 5));  // queue 5 of 4: more engines than queues
  EXPECT_EQ(pa.rss_status(), RssStatus::kUnsteerable);
  std::set<std::uint16_t> held;
  ConnectResult r = connect(pa, held);
  ASSERT_EQ(r.err, Errc::kOk);
  EXPECT_FALSE(r.steered);
  EXPECT_TRUE(r.rss_fallback);
  EXPECT_EQ(pa.stats().rss_unsteered, 1u);

  AllocatorConfig empty = rss_config(PortSelection::kLinux, 4, 0);
  empty.rss->reta.clear();
  EXPECT_EQ(PortAllocator(empty).rss_status(), RssStatus::kUnsteerable);
  AllocatorConfig short_key = rss_config(PortSelection::kLinux, 4, 0);
  short_key.rss->key.resize(8);  // unknown key
  EXPECT_EQ(PortAllocator(short_key).rss_status(), RssStatus::kUnsteerable);
  AllocatorConfig odd_reta = rss_config(PortSelection::kLinux, 4, 0);
  odd_reta.rss->reta.resize(100);
  EXPECT_EQ(PortAllocator(odd_reta).rss_status(), RssStatus::kUnsteerable);
  AllocatorConfig none = rss_config(PortSelection::kLinux, 4, 0);
  none.rss.reset();
  EXPECT_EQ(PortAllocator(none).rss_status(), RssStatus::kOff);
}

// A destination whose steerable ports are all taken: EADDRNOTAVAIL when
// strict (the default), an unsteered port flagged otherwise.
TEST(RssSteering, NoSteerablePortLeft) {
  AllocatorConfig c = rss_config(PortSelection::kUniform, 16, 3, PortRange{50000, 50063});
  PortAllocator strict(c);
  std::set<std::uint16_t> held;
  while (connect(strict, held).err == Errc::kOk) {
  }
  EXPECT_LT(held.size(), 64u);
  c.rss_strict = false;
  PortAllocator loose(c);
  std::set<std::uint16_t> held2;
  std::uint32_t unsteered = 0;
  for (ConnectResult r; (r = connect(loose, held2)).err == Errc::kOk;) unsteered += r.rss_fallback ? 1 : 0;
  EXPECT_GT(unsteered, 0u);
  EXPECT_EQ(loose.stats().rss_unsteered, unsteered);
}

}  // namespace
}  // namespace twstack::ports
