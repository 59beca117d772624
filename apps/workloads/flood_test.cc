// The flood generator on an engine, against a listener on another, in
// virtual time: its frames are what it says (SYNs from the spoofed range,
// malformed frames each refused and counted), it keeps to its count, and
// its frames leave after the engine's own.
#include "apps/workloads/flood.hh"

#include <gtest/gtest.h>

#include "stack/wire/ipv4.hh"
#include "tests/support/pair.hh"

namespace twstack::app {
namespace {

using test::DirectPair;

FloodSettings settings(FloodKind kind, std::uint64_t count) {
  FloodSettings s;
  s.kind = kind;
  s.target = wire::Ipv4Addr::from_octets(10, 0, 0, 2);
  s.port = 80;
  s.src_first = wire::Ipv4Addr::from_octets(10, 0, 0, 129);
  s.src_count = 126;
  s.rate = 10000;
  s.count = count;
  s.window = Duration::seconds(10);
  return s;
}

// Runs the flood on a for `ms` of virtual time, 1 ms a step.
void run(DirectPair& p, Flooder& f, int ms) {
  f.start(p.now());
  for (int i = 0; i < ms; ++i) {
    f.tick(p.now());
    p.advance(Duration::millis(1));
  }
}

std::uint64_t get(DirectPair& p, int side, Counter c) { return p.side(side).counters().get(c); }

TEST(Flood, SynsFromTheSpoofedRangeMeetTheListenersCookies) {
  DirectPair p;
  ASSERT_EQ(p.b().listen(80, 16), Errc::kOk);
  Flooder f(p.a(), settings(FloodKind::kSyn, 500));
  run(p, f, 100);  // 10000/s: all 500 due by 50 ms
  EXPECT_EQ(f.counts().sent, 500u);
  EXPECT_TRUE(f.done() || f.counts().sent == 500u);
  EXPECT_EQ(f.counts().arp_requests, 1u);  // the target answered the first
  std::uint64_t from_range = 0;
  for (const test::Captured& c : p.log) {
    if (c.from != 0 || c.bytes.size() < 54 || c.bytes[23] != wire::kProtoTcp) continue;
    const std::uint8_t src = c.bytes[29];  // 10.0.0.x
    from_range += (c.bytes[47] == wire::kSyn && src >= 129 && src <= 254) ? 1 : 0;
  }
  EXPECT_EQ(from_range, 500u);
  // The SYN queue holds the listen backlog; every other SYN got a cookie.
  EXPECT_EQ(p.b().gauges().synrecv, 16u);
  EXPECT_EQ(get(p, 1, Counter::TcpExtTCPReqQFullDoCookies), 500u - 16u);
  EXPECT_EQ(get(p, 1, Counter::TcpExtSyncookiesSent), 500u - 16u);
}

TEST(Flood, KeepsToItsRate) {
  DirectPair p;
  ASSERT_EQ(p.b().listen(80, 16), Errc::kOk);
  FloodSettings s = settings(FloodKind::kRst, 0);
  s.rate = 2000;
  Flooder f(p.a(), s);
  run(p, f, 101);
  // Frame k is due at k/R: 2000/s over 100 ms after the ARP answer.
  EXPECT_GE(f.counts().sent, 190u);
  EXPECT_LE(f.counts().sent, 202u);
  EXPECT_EQ(p.b().gauges().synrecv, 0u);  // a listener ignores RSTs (RFC 9293 §3.10.7.2)
}

TEST(Flood, MalformedFramesAreEachRefusedAndCounted) {
  DirectPair p;
  ASSERT_EQ(p.b().listen(80, 16), Errc::kOk);
  Flooder f(p.a(), settings(FloodKind::kMalformed, 80));
  run(p, f, 50);
  ASSERT_EQ(f.counts().sent, 80u);
  EXPECT_EQ(p.b().gauges().synrecv, 0u);
  EXPECT_EQ(get(p, 1, Counter::TcpExtSyncookiesSent), 0u);
  // A bad IPv4 checksum counts IpInHdrErrors (and IpExtInCsumErrors), a
  // total length beyond the frame IpExtInTruncatedPkts only (ip_rcv_core).
  const std::uint64_t refused = get(p, 1, Counter::IpInHdrErrors) + get(p, 1, Counter::IpExtInTruncatedPkts) +
                                get(p, 1, Counter::IpReasmFails) + get(p, 1, Counter::TcpInErrs) +
                                get(p, 1, Counter::TwstackRxMalformed);
  EXPECT_EQ(refused, 80u) << "IpInHdrErrors " << get(p, 1, Counter::IpInHdrErrors) << " IpExtInTruncatedPkts "
                          << get(p, 1, Counter::IpExtInTruncatedPkts) << " IpReasmFails "
                          << get(p, 1, Counter::IpReasmFails) << " TcpInErrs " << get(p, 1, Counter::TcpInErrs)
                          << " TwstackRxMalformed " << get(p, 1, Counter::TwstackRxMalformed);
}

TEST(Flood, RawFramesLeaveAfterTheEnginesOwn) {
  DirectPair p;
  ASSERT_EQ(p.b().listen(80, 16), Errc::kOk);
  Flooder f(p.a(), settings(FloodKind::kSyn, 50));
  f.start(p.now());
  p.settle();  // the ARP exchange
  f.tick(p.now());  // 0 due yet at 10000/s
  p.advance(Duration::millis(5));
  const std::size_t before = p.log.size();
  f.tick(p.now());  // the flood's frames first ...
  engine::ConnId id;
  ASSERT_EQ(p.a().connect(p.addr(1), 80, &id), Errc::kOk);  // ... then a connection's SYN
  p.settle();
  std::size_t first_a = before;
  while (first_a < p.log.size() && p.log[first_a].from != 0) ++first_a;
  ASSERT_LT(first_a, p.log.size());
  const test::Captured& c = p.log[first_a];
  EXPECT_EQ(c.bytes[29], 1) << "the connection's SYN (from 10.0.0.1) goes first";
}

}  // namespace
}  // namespace twstack::app
