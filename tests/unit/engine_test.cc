// Engine-level tests over a direct frame exchange: handshake with ARP, data,
// every close sequence's end states, resets, ICMP echo.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "tests/support/pair.hh"

namespace twstack {
namespace {

using engine::AppEvent;
using engine::ConnId;
using tcp::State;
using test::DirectPair;

using test::Connected;

Connected establish(DirectPair& p, std::uint16_t port = 80) {
  auto est = p.establish(port);
  EXPECT_TRUE(est.has_value());
  Connected c = est.value_or(Connected{});
  EXPECT_EQ(p.a().state(c.client), State::kEstablished);
  EXPECT_EQ(p.b().state(c.server), State::kEstablished);
  return c;
}

TEST(Engine, HandshakeResolvesArpAndEstablishes) {
  DirectPair p;
  establish(p);
  EXPECT_EQ(p.a().counters().get(Counter::TcpActiveOpens), 1u);
  EXPECT_EQ(p.b().counters().get(Counter::TcpPassiveOpens), 1u);
  EXPECT_GE(p.a().counters().get(Counter::TwstackArpRequestsOut), 1u);
}

TEST(Engine, DataArrivesByteExact) {
  DirectPair p;
  Connected c = establish(p);
  std::vector<std::uint8_t> data(200000);
  std::iota(data.begin(), data.end(), 0);
  std::size_t sent = 0;
  std::vector<std::uint8_t> got;
  for (int i = 0; i < 10000 && got.size() < data.size(); ++i) {
    Errc err;
    sent += p.a().send(c.client, std::span(data).subspan(sent), &err);
    p.advance(Duration::millis(1));
    std::uint8_t buf[4096];
    while (std::uint32_t n = p.b().recv(c.server, buf)) got.insert(got.end(), buf, buf + n);
  }
  ASSERT_EQ(got.size(), data.size());
  EXPECT_EQ(got, data);
}

TEST(Engine, ActiveCloseEndsInTimeWaitPassiveInClosed) {
  engine::EngineOptions o = test::small_opts();
  o.tcp.timewait_len = Duration::seconds(2);
  DirectPair p(o, o);
  Connected c = establish(p);
  bool peer_closed = false;
  p.on_event = [&](int side, const AppEvent& ev) {
    if (side == 1 && (ev.events & tcp::kEvPeerClosed)) peer_closed = true;
  };
  ASSERT_EQ(p.a().close(c.client), Errc::kOk);
  p.settle();
  EXPECT_TRUE(peer_closed);
  EXPECT_EQ(p.b().state(c.server), State::kCloseWait);
  ASSERT_EQ(p.b().close(c.server), Errc::kOk);
  p.settle();
  EXPECT_EQ(p.b().gauges().in_use(), 0u);
  EXPECT_EQ(p.a().gauges().timewait, 1u);
  // Linux __inet_twsk_schedule: a TIME_WAIT of 4 s or less counts as TWKilled.
  EXPECT_EQ(p.a().counters().get(Counter::TcpExtTWKilled), 1u);
  EXPECT_EQ(p.a().counters().get(Counter::TcpExtTW), 0u);
  p.advance(Duration::millis(1999));
  EXPECT_EQ(p.a().gauges().timewait, 1u);
  p.advance(Duration::millis(2));
  EXPECT_EQ(p.a().gauges().timewait, 0u);
}

TEST(Engine, SimultaneousCloseBothEndInTimeWait) {
  DirectPair p;
  Connected c = establish(p);
  // Hold frames so both FINs cross.
  std::vector<test::Captured> held;
  p.filter = [&](const test::Captured& f) {
    held.push_back(f);
    return false;
  };
  p.a().close(c.client);
  p.b().close(c.server);
  p.settle();
  p.filter = nullptr;
  for (auto& f : held) p.inject(1 - f.from, f.bytes);
  p.settle();
  EXPECT_EQ(p.a().gauges().timewait, 1u);
  EXPECT_EQ(p.b().gauges().timewait, 1u);
}

TEST(Engine, ConnectToClosedPortIsRefused) {
  DirectPair p;
  ConnId id;
  Errc closed_with = Errc::kOk;
  p.on_event = [&](int side, const AppEvent& ev) {
    if (side == 0 && (ev.events & tcp::kEvClosed)) closed_with = ev.error;
  };
  ASSERT_EQ(p.a().connect(p.addr(1), 9, &id), Errc::kOk);
  p.settle();
  EXPECT_EQ(closed_with, Errc::kConnRefused);
  EXPECT_EQ(p.b().counters().get(Counter::TcpOutRsts), 1u);
  EXPECT_EQ(p.a().counters().get(Counter::TcpAttemptFails), 1u);
  EXPECT_EQ(p.a().close(id), Errc::kOk);
  EXPECT_EQ(p.a().gauges().in_use(), 0u);
}

TEST(Engine, CloseWithUnreadDataSendsReset) {
  DirectPair p;
  Connected c = establish(p);
  Errc err;
  const std::uint8_t msg[] = {1, 2, 3};
  p.a().send(c.client, msg, &err);
  p.advance(Duration::millis(50));
  Errc reset_with = Errc::kOk;
  p.on_event = [&](int side, const AppEvent& ev) {
    if (side == 0 && (ev.events & tcp::kEvClosed)) reset_with = ev.error;
  };
  p.b().close(c.server);  // 3 bytes unread
  p.settle();
  EXPECT_EQ(p.b().counters().get(Counter::TcpExtTCPAbortOnClose), 1u);
  EXPECT_EQ(reset_with, Errc::kConnReset);
  EXPECT_EQ(p.a().counters().get(Counter::TcpEstabResets), 1u);
}

TEST(Engine, LostSynIsRetransmitted) {
  DirectPair p;
  ASSERT_EQ(p.b().listen(80, 4), Errc::kOk);
  p.settle();
  int syns = 0;
  p.filter = [&](const test::Captured& f) {
    // Drop the first TCP SYN (frame long enough, flags byte at 14+20+13).
    if (f.from == 0 && f.bytes.size() > 47 && f.bytes[12] == 0x08 && (f.bytes[47] & wire::kSyn)) {
      return ++syns > 1;
    }
    return true;
  };
  ConnId id;
  ASSERT_EQ(p.a().connect(p.addr(1), 80, &id), Errc::kOk);
  p.settle();
  EXPECT_EQ(p.a().state(id), State::kSynSent);
  p.advance(Duration::millis(1001));
  EXPECT_EQ(p.a().state(id), State::kEstablished);
  EXPECT_EQ(p.a().counters().get(Counter::TcpExtTCPSynRetrans), 1u);
}

}  // namespace
}  // namespace twstack

namespace twstack {
namespace {

// The engine takes ephemeral ports from the allocator: a range of four
// ports gives four connections, the fifth connect() is EADDRNOTAVAIL at
// once, and a port comes back when its connection is gone.
TEST(Engine, EphemeralRangeExhaustsWithAddrNotAvailAndRecovers) {
  engine::EngineOptions client = test::small_opts();
  client.ports.range = PortRange{40000, 40003};
  client.tcp.timewait_len = Duration::seconds(1);
  test::DirectPair p(client, test::small_opts());
  ASSERT_EQ(p.b().listen(80, 16), Errc::kOk);
  // The server accepts everything and closes when the client has.
  p.on_event = [&](int side, const engine::AppEvent& ev) {
    if (side == 1 && ev.kind == engine::AppEvent::Kind::kAcceptReady) {
      while (auto s = p.b().accept(80)) (void)s;
    }
    if (side == 1 && (ev.events & tcp::kEvPeerClosed)) p.b().close(ev.conn);
  };
  std::vector<engine::ConnId> ids(4);
  for (auto& id : ids) ASSERT_EQ(p.a().connect(p.addr(1), 80, &id), Errc::kOk);
  p.settle();
  std::vector<std::uint16_t> ports;
  for (auto& id : ids) ports.push_back(p.a().tcb(id)->tuple.lport);
  std::sort(ports.begin(), ports.end());
  EXPECT_EQ(ports, (std::vector<std::uint16_t>{40000, 40001, 40002, 40003}));
  engine::ConnId extra;
  EXPECT_EQ(p.a().connect(p.addr(1), 80, &extra), Errc::kAddrNotAvail);
  // The client closes first: its tuple stays taken through TIME-WAIT.
  const std::uint16_t freed = p.a().tcb(ids[0])->tuple.lport;
  ASSERT_EQ(p.a().close(ids[0]), Errc::kOk);
  p.settle();
  EXPECT_EQ(p.a().gauges().timewait, 1u);
  EXPECT_EQ(p.a().connect(p.addr(1), 80, &extra), Errc::kAddrNotAvail);
  p.advance(Duration::millis(1001));
  EXPECT_EQ(p.a().gauges().timewait, 0u);
  ASSERT_EQ(p.a().connect(p.addr(1), 80, &extra), Errc::kOk);
  EXPECT_EQ(p.a().tcb(extra)->tuple.lport, freed);
}

// twstack.max_destinations bounds the allocator's per-destination bitmaps:
// a connect to one destination more still gets a port (random probes,
// checked against the tables like any other), and the engine counts it.
TEST(Engine, ConnectBeyondMaxDestinationsProbesAndIsCounted) {
  engine::EngineOptions client = test::small_opts();
  client.ports.max_destinations = 1;
  test::DirectPair p(client, test::small_opts());
  ASSERT_EQ(p.b().listen(80, 16), Errc::kOk);
  ASSERT_EQ(p.b().listen(81, 16), Errc::kOk);
  engine::ConnId first, second, third;
  ASSERT_EQ(p.a().connect(p.addr(1), 80, &first), Errc::kOk);
  EXPECT_EQ(p.a().counters().get(Counter::TwstackConnectNoDestSlot), 0u);
  ASSERT_EQ(p.a().connect(p.addr(1), 81, &second), Errc::kOk);
  EXPECT_EQ(p.a().counters().get(Counter::TwstackConnectNoDestSlot), 1u);
  ASSERT_EQ(p.a().connect(p.addr(1), 80, &third), Errc::kOk);  // the slot's own destination
  EXPECT_EQ(p.a().counters().get(Counter::TwstackConnectNoDestSlot), 1u);
  p.settle();
  EXPECT_EQ(p.a().state(second), State::kEstablished);
  EXPECT_NE(p.a().tcb(first)->tuple.lport, p.a().tcb(third)->tuple.lport);
}

// A listener's port is never handed out as an ephemeral port.
TEST(Engine, ListeningPortIsNotEphemeral) {
  engine::EngineOptions o = test::small_opts();
  o.ports.range = PortRange{40000, 40001};
  test::DirectPair p(o, test::small_opts());
  ASSERT_EQ(p.a().listen(40000, 4), Errc::kOk);
  engine::ConnId id;
  ASSERT_EQ(p.a().connect(p.addr(1), 80, &id), Errc::kOk);
  EXPECT_EQ(p.a().tcb(id)->tuple.lport, 40001);
  engine::ConnId id2;
  EXPECT_EQ(p.a().connect(p.addr(1), 80, &id2), Errc::kAddrNotAvail);
}

// connect() from a given port is bind() with SO_REUSEADDR, then connect
// (docs/linux-timewait.md §7 first case): any port works, inside the
// ephemeral range or not, and while the connection lives its bind keeps
// connect() from handing the port out for any destination (a bind()-made
// bucket in __inet_hash_connect); a second bound connect to the same
// destination finds the tuple taken.
// Listeners are as many as twstack.max_listeners says: thousands of ports
// each take connections, each listener is reported ready once per drain,
// and the one beyond the limit is refused with ENOBUFS.
TEST(Engine, ThousandsOfListenersEachAccept) {
  engine::EngineOptions ob = test::small_opts();
  ob.max_listeners = 3000;
  ob.max_connections = 4096;
  engine::EngineOptions oa = test::small_opts();
  oa.max_connections = 4096;
  oa.arp_queue = 1024;  // every SYN goes out before b's MAC is known
  DirectPair p(oa, ob);
  for (std::uint16_t port = 10000; port < 13000; ++port) ASSERT_EQ(p.b().listen(port, 16), Errc::kOk) << port;
  EXPECT_EQ(p.b().listen(13000, 16), Errc::kNoBufs);
  std::vector<int> ready(65536);
  p.on_event = [&](int side, const AppEvent& ev) {
    if (side == 1 && ev.kind == AppEvent::Kind::kAcceptReady) ++ready[ev.port];
  };
  for (std::uint16_t port = 10000; port < 13000; port += 7) {
    ConnId id;
    ASSERT_EQ(p.a().connect(p.addr(1), port, &id), Errc::kOk);
  }
  p.settle();
  std::size_t accepted = 0;
  for (std::uint16_t port = 10000; port < 13000; ++port) {
    const int want = (port - 10000) % 7 == 0 ? 1 : 0;
    ASSERT_EQ(ready[port], want) << port;
    while (p.b().accept(port)) ++accepted;
  }
  EXPECT_EQ(accepted, 429u);
  // A closed listener's slot is reused; the port it left refuses.
  ASSERT_EQ(p.b().unlisten(10007), Errc::kOk);
  EXPECT_EQ(p.b().listen(20000, 16), Errc::kOk);
  const std::uint64_t rsts = p.b().counters().get(Counter::TcpOutRsts);
  ConnId id;
  ASSERT_EQ(p.a().connect(p.addr(1), 10007, &id), Errc::kOk);
  p.settle();
  EXPECT_EQ(p.b().counters().get(Counter::TcpOutRsts), rsts + 1);  // nobody listens there any more
  EXPECT_EQ(p.a().state(id), State::kClosed);
}

TEST(Engine, BoundConnectBindsThePort) {
  engine::EngineOptions o = test::small_opts();
  o.ports.range = PortRange{40000, 40001};
  test::DirectPair p(o, test::small_opts());
  ASSERT_EQ(p.b().listen(80, 4), Errc::kOk);
  ASSERT_EQ(p.b().listen(81, 4), Errc::kOk);
  engine::ConnId low, in_range, again;
  ASSERT_EQ(p.a().connect(p.addr(1), 80, &low, p.addr(0), 5000), Errc::kOk);
  ASSERT_EQ(p.a().connect(p.addr(1), 80, &in_range, p.addr(0), 40000), Errc::kOk);
  p.settle();
  EXPECT_EQ(p.a().state(low), tcp::State::kEstablished);
  EXPECT_EQ(p.a().state(in_range), tcp::State::kEstablished);
  EXPECT_EQ(p.a().connect(p.addr(1), 80, &again, p.addr(0), 40000), Errc::kAddrNotAvail);
  // Port 40000 is bound: an ephemeral connect() to another destination
  // gets 40001, then nothing.
  engine::ConnId eph, none;
  ASSERT_EQ(p.a().connect(p.addr(1), 81, &eph), Errc::kOk);
  EXPECT_EQ(p.a().tcb(eph)->tuple.lport, 40001);
  EXPECT_EQ(p.a().connect(p.addr(1), 81, &none), Errc::kAddrNotAvail);
}

}  // namespace
}  // namespace twstack

#include "stack/wire/checksum.hh"
#include "stack/wire/icmp.hh"

namespace twstack {
namespace {

// RFC 792 / RFC 1122 §3.2.2.6: an echo request gets an echo reply with the
// same identifier, sequence number and data; other ICMP is only counted.
TEST(Engine, AnswersIcmpEcho) {
  test::DirectPair p;
  p.settle();
  std::vector<std::uint8_t> f(14 + 20 + 8 + 32);
  wire::write_ethernet(f.data(), wire::MacAddr{{0x02, 0, 0, 0, 0, 2}}, wire::MacAddr{{0x02, 0, 0, 0, 0, 1}},
                       wire::kEtherTypeIpv4);
  wire::write_ipv4(f.data() + 14, p.addr(0), p.addr(1), wire::kProtoIcmp, 40, 7);
  std::uint8_t* icmp = f.data() + 34;
  icmp[0] = wire::kIcmpEchoRequest;
  store_be16(icmp + 4, 0x1234);
  store_be16(icmp + 6, 9);
  for (int i = 0; i < 32; ++i) icmp[8 + i] = static_cast<std::uint8_t>(i);
  store_be16(icmp + 2, wire::checksum_fold(wire::checksum_add(icmp, 40)));
  // b learns nothing of a from this frame: it resolves a by ARP, then replies.
  auto is_ip = [](const test::Captured& c) {
    return c.from == 1 && c.bytes.size() > 34 && c.bytes[12] == 0x08 && c.bytes[13] == 0;
  };
  p.inject(1, f);
  p.settle();
  auto it = std::find_if(p.log.begin(), p.log.end(), is_ip);
  ASSERT_NE(it, p.log.end());
  const auto& r = it->bytes;
  auto ip = wire::Ipv4View::parse(std::span(r).subspan(14));
  ASSERT_TRUE(ip.ok());
  EXPECT_EQ(ip->src(), p.addr(1));
  EXPECT_EQ(ip->dst(), p.addr(0));
  auto reply = wire::IcmpView::parse(ip->payload());
  ASSERT_TRUE(reply.ok());  // checksum verified by parse
  EXPECT_EQ(reply->type(), wire::kIcmpEchoReply);
  EXPECT_EQ(reply->id(), 0x1234);
  EXPECT_EQ(reply->seq(), 9);
  ASSERT_EQ(reply->payload().size(), 32u);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(reply->payload()[i], i);
  EXPECT_EQ(p.b().counters().get(Counter::IcmpInEchos), 1u);
  EXPECT_EQ(p.b().counters().get(Counter::IcmpOutEchoReps), 1u);
  // A corrupted request is counted and not answered.
  f[40] ^= 0xff;
  p.log.clear();
  p.inject(1, f);
  p.settle();
  EXPECT_TRUE(std::none_of(p.log.begin(), p.log.end(), is_ip));
  EXPECT_EQ(p.b().counters().get(Counter::IcmpInCsumErrors), 1u);
}

}  // namespace
}  // namespace twstack
