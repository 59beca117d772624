// ServeApp and ChurnClient against each other over the in-memory link, in
// virtual time: the application logic `twstack serve` and `twstack churn`
// run on DPDK queues, without DPDK.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "apps/workloads/churn_client.hh"
#include "apps/workloads/http_head.hh"
#include "apps/workloads/serve_app.hh"
#include "drivers/memory/sim.hh"
#include "stack/engine/options.hh"
#include "tests/support/pair.hh"

namespace twstack::app {
namespace {

using engine::AppEvent;
using memory::SimPair;

constexpr std::uint32_t kConns = 4096;

struct Rig {
  explicit Rig(const ServeSettings& ss, ChurnClientSettings cs, StackConfig cfg = {},
               engine::Interface client_ifc = memory::sim_interface(0)) {
    cfg.max_connections = kConns;
    cfg.buffer_chunks = 8192;
    pair = std::make_unique<SimPair>(client_ifc, engine::options_from(cfg, Secret{11}),
                                     memory::sim_interface(1), engine::options_from(cfg, Secret{22}),
                                     memory::FaultSpec{.delay = Duration::micros(50)}, 1);
    pair->preload_arp();
    server = std::make_unique<ServeApp>(pair->b(), ss, kConns);
    if (cs.targets.empty()) cs.targets = {{memory::sim_addr(1), ss.ports.front()}};
    client = std::make_unique<ChurnClient>(pair->a(), cs, kConns);
    EXPECT_EQ(server->start(), Errc::kOk);
    client->start(pair->now());
  }
  // Runs for `d`, ticking the client at every 100 us of virtual time.
  void run(Duration d) {
    const Instant end = pair->now() + d;
    auto on_event = [this](int side, const AppEvent& ev) {
      if (side == 0) {
        client->on_event(ev);
      } else {
        server->on_event(ev);
      }
    };
    while (pair->now() < end) {
      client->tick(pair->now());
      pair->settle(on_event);
      pair->run_until([] { return false; }, Duration::micros(100), on_event);
    }
  }
  std::unique_ptr<SimPair> pair;
  std::unique_ptr<ServeApp> server;
  std::unique_ptr<ChurnClient> client;
};

ChurnClientSettings churn(std::uint64_t rate, Closer closer, std::uint32_t requests = 1) {
  ChurnClientSettings s;
  s.rate = rate;
  s.closer = closer;
  s.requests_per_conn = requests;
  return s;
}

TEST(ServeChurn, HttpServerClosesAndTimeWaitIsOnTheServer) {
  ServeSettings ss;
  Rig r(ss, churn(1000, Closer::kServer));
  r.run(Duration::seconds(2));
  const ChurnCounts& n = r.client->counts();
  EXPECT_GE(n.attempts, 1999u);
  EXPECT_EQ(n.failed, 0u);
  EXPECT_EQ(n.broken, 0u);
  EXPECT_EQ(n.bad_responses, 0u);
  EXPECT_GE(n.completed, n.attempts - 5);  // the last few are in flight
  EXPECT_EQ(r.server->stats().requests, n.requests);
  EXPECT_EQ(r.server->stats().server_closed, r.server->stats().closed);
  // Every server-side close entered TIME_WAIT; a few entries were taken
  // over already by a new SYN on the same 4-tuple (docs/linux-timewait.md §6: the
  // client, holding no TIME_WAIT, may pick the port again at once).
  EXPECT_EQ(r.pair->b().counters().get(Counter::TcpExtTW), n.completed);
  EXPECT_GE(r.pair->b().time_wait().live(), n.completed * 9 / 10);
  EXPECT_EQ(r.pair->a().time_wait().live(), 0u);
}

TEST(ServeChurn, HttpClientClosesAndTimeWaitIsOnTheClient) {
  ServeSettings ss;
  ss.closer = Closer::kClient;
  Rig r(ss, churn(500, Closer::kClient));
  r.run(Duration::seconds(2));
  const ChurnCounts& n = r.client->counts();
  EXPECT_EQ(n.failed, 0u);
  EXPECT_EQ(n.broken, 0u);
  EXPECT_GE(n.completed, n.attempts - 5);
  EXPECT_EQ(r.server->stats().server_closed, 0u);
  EXPECT_GE(r.pair->a().time_wait().live(), n.completed);
  EXPECT_EQ(r.pair->b().time_wait().live(), 0u);
}

TEST(ServeChurn, KeepAliveRunsEveryRequestOnOneConnection) {
  ServeSettings ss;
  Rig r(ss, churn(100, Closer::kServer, 10));
  r.run(Duration::seconds(1));
  const ChurnCounts& n = r.client->counts();
  EXPECT_EQ(n.failed, 0u);
  EXPECT_GE(n.completed, 95u);
  EXPECT_EQ(n.requests, r.server->stats().requests);
  EXPECT_GE(n.requests, 10 * n.completed);
  EXPECT_EQ(r.pair->b().counters().get(Counter::TcpPassiveOpens), n.attempts);
}

TEST(ServeChurn, EchoReturnsEveryByteAndTheServerClosesAfterTheRequests) {
  ServeSettings ss;
  ss.mode = ServeMode::kEcho;
  ss.request_bytes = 3000;  // more than one segment each way
  ss.requests_per_conn = 2;
  ChurnClientSettings cs = churn(200, Closer::kServer, 2);
  cs.proto = ChurnProto::kEcho;
  cs.request_bytes = 3000;
  Rig r(ss, cs);
  r.run(Duration::seconds(1));
  const ChurnCounts& n = r.client->counts();
  EXPECT_EQ(n.failed, 0u);
  EXPECT_EQ(n.broken, 0u);
  EXPECT_GE(n.completed, 195u);
  EXPECT_EQ(r.server->stats().bytes_in, r.server->stats().bytes_out);
  EXPECT_GE(r.server->stats().bytes_in, 2 * 3000 * n.completed);
}

TEST(ServeChurn, PortExhaustionFailsWithEaddrnotavailAfterPortsOverRate) {
  // 100 ports at 100/s, client closing, no reuse: the 101st attempt, at
  // exactly 1.00 s, finds every 4-tuple in TIME_WAIT.
  StackConfig cfg;
  ASSERT_FALSE(cfg.set("net.ipv4.ip_local_port_range", "40000 40099"));
  ASSERT_FALSE(cfg.set("net.ipv4.tcp_tw_reuse", "0"));
  ServeSettings ss;
  ss.closer = Closer::kClient;
  Rig r(ss, churn(100, Closer::kClient), cfg);
  r.run(Duration::millis(1500));
  ASSERT_TRUE(r.client->first_failure().has_value());
  EXPECT_EQ(*r.client->first_errno(), Errc::kAddrNotAvail);
  EXPECT_EQ(r.client->first_failure()->ms(), 1000);
  EXPECT_EQ(r.client->counts().ok, 100u);
}

TEST(ServeChurn, SeveralSourcesMultiplyTheTuples) {
  // 100 ports from each of 3 addresses, client closing, no reuse: 300
  // connections, then EADDRNOTAVAIL; the server sees all three addresses.
  StackConfig cfg;
  ASSERT_FALSE(cfg.set("net.ipv4.ip_local_port_range", "40000 40099"));
  ASSERT_FALSE(cfg.set("net.ipv4.tcp_tw_reuse", "0"));
  engine::Interface ifc = memory::sim_interface(0);
  const wire::Ipv4Addr first = memory::sim_addr(0);
  ASSERT_TRUE(ifc.add_addr(wire::Ipv4Addr{first.v + 10}));
  ASSERT_TRUE(ifc.add_addr(wire::Ipv4Addr{first.v + 11}));
  ServeSettings ss;
  ss.closer = Closer::kClient;
  ChurnClientSettings cs = churn(1000, Closer::kClient);
  cs.sources = {first, wire::Ipv4Addr{first.v + 10}, wire::Ipv4Addr{first.v + 11}};
  Rig r(ss, cs, cfg, ifc);
  r.run(Duration::millis(1500));
  EXPECT_EQ(r.client->counts().ok, 300u);
  ASSERT_TRUE(r.client->first_errno().has_value());
  EXPECT_EQ(*r.client->first_errno(), Errc::kAddrNotAvail);
  EXPECT_EQ(r.pair->a().time_wait().live(), 300u);
}

TEST(ServeChurn, SeveralTargetsAreTakenInTurn) {
  ServeSettings ss;
  ss.ports = {80, 81};
  ChurnClientSettings cs = churn(100, Closer::kServer);
  cs.targets = {{memory::sim_addr(1), 80}, {memory::sim_addr(1), 81}};
  Rig r(ss, cs);
  r.run(Duration::millis(995));
  EXPECT_EQ(r.client->counts().attempts, 100u);
  EXPECT_EQ(r.client->counts().failed, 0u);
  EXPECT_EQ(r.server->stats().accepted, 100u);
}

TEST(ServeChurn, StopClosesEveryConnection) {
  ServeSettings ss;
  ss.closer = Closer::kClient;
  ChurnClientSettings cs = churn(0, Closer::kClient, 1000000);  // never done by itself
  cs.inflight = 8;
  Rig r(ss, cs);
  r.run(Duration::millis(100));
  EXPECT_EQ(r.client->live(), 8u);
  EXPECT_EQ(r.server->live(), 8u);
  r.client->stop(true);
  r.run(Duration::millis(100));
  EXPECT_EQ(r.client->live(), 0u);
  EXPECT_EQ(r.server->live(), 0u);
  EXPECT_EQ(r.server->stats().closed, 8u);
}

// A server that never closes (hold): the client's orphaned connections wait
// in FIN_WAIT2 for tcp_fin_timeout, in the TIME_WAIT table, then go; without
// hold they would be TIME_WAIT entries of 60 s (600 here).
TEST(ServeHold, TheClientsFinWait2LastsTcpFinTimeout) {
  ServeSettings ss;
  ss.closer = Closer::kClient;
  ss.hold = true;
  StackConfig cfg;
  cfg.tcp_fin_timeout = Duration::seconds(1);
  Rig r(ss, churn(200, Closer::kClient), cfg);
  r.run(Duration::seconds(3));
  const ChurnCounts& n = r.client->counts();
  EXPECT_EQ(n.failed, 0u);
  EXPECT_GE(n.completed, 590u);
  // Every connection stays in CLOSE_WAIT, but for a few reset: the client,
  // its FIN_WAIT2 entry gone, picked the port again, and its SYN met the
  // server's old connection (an ACK for it, then the client's RST).
  EXPECT_EQ(r.server->stats().server_closed, 0u);
  EXPECT_EQ(r.server->stats().closed, r.server->stats().aborted);
  EXPECT_LE(r.server->stats().closed, 20u);
  EXPECT_EQ(r.server->live() + r.server->stats().closed, r.server->stats().accepted);
  EXPECT_GE(r.pair->a().time_wait().live(), 195u);  // the last second's
  EXPECT_LE(r.pair->a().time_wait().live(), 205u);
  EXPECT_EQ(r.pair->b().time_wait().live(), 0u);
}

// A listener restart: the port's open connections refuse a bind without
// SO_REUSEADDR (inet_csk_bind_conflict); the server then binds with it, and
// the connections carry on.
TEST(ServeRestart, OpenConnectionsRefuseABindWithoutReuseaddr) {
  ServeSettings ss;
  ss.closer = Closer::kClient;
  ChurnClientSettings cs = churn(0, Closer::kClient, 1000000);  // never done by itself
  cs.inflight = 8;
  Rig r(ss, cs);
  r.run(Duration::millis(100));
  ASSERT_EQ(r.server->live(), 8u);
  EXPECT_EQ(r.server->restart(false), Errc::kAddrInUse);
  EXPECT_EQ(r.server->stats().restart_bind, Errc::kAddrInUse);
  EXPECT_EQ(r.server->stats().restart_rebind, Errc::kOk);
  EXPECT_EQ(r.server->restart(true), Errc::kOk);
  EXPECT_EQ(r.server->stats().restarts, 2u);
  EXPECT_EQ(r.pair->b().listen(80, 16), Errc::kAddrInUse);  // listening again
  r.run(Duration::millis(100));
  EXPECT_EQ(r.server->live(), 8u);
  EXPECT_EQ(r.client->counts().failed, 0u);
}

// --- the head parser ------------------------------------------------------

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(HttpHead, RequestInPiecesWithConnectionClose) {
  HttpHead h;
  const std::string req = "GET / HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, Close\r\n\r\nBODY";
  std::size_t used = 0;
  for (std::size_t i = 0; i < req.size() && !h.done(); ++i) used += h.feed(bytes(req).subspan(i, 1));
  ASSERT_TRUE(h.done());
  EXPECT_EQ(used, req.size() - 4);
  EXPECT_FALSE(h.is_response());
  EXPECT_FALSE(h.keep_alive());
}

// CRs are dropped wherever they are, whether a line comes whole (copied in
// one go when its only CR is the last byte) or in pieces.
TEST(HttpHead, StrayCarriageReturnsAreDroppedWholeOrInPieces) {
  const std::string req = "GET / HTTP/1.1\r\nConnection: clo\r\rse\r\nContent-Length: 1\r2\r\n\r\n";
  HttpHead whole;
  EXPECT_EQ(whole.feed(bytes(req)), req.size());
  HttpHead pieces;
  for (std::size_t i = 0; i < req.size(); i += 3) pieces.feed(bytes(req).subspan(i, std::min<std::size_t>(3, req.size() - i)));
  for (const HttpHead* h : {&whole, &pieces}) {
    ASSERT_TRUE(h->done());
    EXPECT_TRUE(h->connection_close());
    EXPECT_EQ(h->content_length(), 12u);
  }
}

TEST(HttpHead, Http10PersistsOnlyWithKeepAlive) {
  HttpHead a;
  a.feed(bytes("GET / HTTP/1.0\n\n"));  // bare LFs end lines too
  ASSERT_TRUE(a.done());
  EXPECT_FALSE(a.keep_alive());
  HttpHead b;
  b.feed(bytes("GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n"));
  EXPECT_TRUE(b.keep_alive());
}

// Field names and Connection tokens are case-insensitive (RFC 9110 §5.1,
// §7.6.1), compared eight bytes a step: both halves of a long name count.
TEST(HttpHead, NamesAndTokensMatchInAnyCase) {
  HttpHead a;
  a.feed(bytes("GET / HTTP/1.0\r\nCONTENT-LENGTH: 7\r\nconnection: Keep-ALIVE\r\n\r\n"));
  ASSERT_TRUE(a.done());
  EXPECT_TRUE(a.has_content_length());
  EXPECT_EQ(a.content_length(), 7u);
  EXPECT_TRUE(a.keep_alive());
  HttpHead b;
  b.feed(bytes("GET / HTTP/1.0\r\nContent-Lengtg: 7\r\nContent-@ength: 8\r\nConnection: keep-alivf\r\n\r\n"));
  ASSERT_TRUE(b.done());
  EXPECT_FALSE(b.has_content_length());
  EXPECT_FALSE(b.keep_alive());
}

TEST(HttpHead, ResponseWithContentLength) {
  HttpHead h;
  h.feed(bytes("HTTP/1.1 404 Not Found\r\nContent-Length: 1234\r\n\r\n"));
  ASSERT_TRUE(h.done());
  EXPECT_TRUE(h.is_response());
  EXPECT_EQ(h.status(), 404);
  EXPECT_EQ(h.content_length(), 1234u);
}

TEST(HttpHead, MalformedHeadsFail) {
  for (std::string_view bad : {"GARBAGE\r\n\r\n", "GET / HTTP/2.0\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n",
                               "GET / HTTP/1.1\r\nContent-Length: 12a\r\n\r\n"}) {
    HttpHead h;
    h.feed(bytes(bad));
    EXPECT_TRUE(h.failed()) << bad;
  }
  HttpHead big;
  const std::string endless = "GET / HTTP/1.1\r\nX: " + std::string(HttpHead::kMaxHead, 'a');
  big.feed(bytes(endless));
  EXPECT_TRUE(big.failed());
}

TEST(HttpHead, LongHeaderLinesAreReadPast) {
  HttpHead h;
  const std::string req = "GET / HTTP/1.1\r\nUser-Agent: " + std::string(500, 'u') + "\r\nConnection: close\r\n\r\n";
  EXPECT_EQ(h.feed(bytes(req)), req.size());
  ASSERT_TRUE(h.done());
  EXPECT_FALSE(h.keep_alive());
}

// connect() to established is one round trip (2 x 50 us of link delay), to
// the response two; every connection that got there is in the histograms.
TEST(ServeChurn, ConnectAndResponseLatencyAreRecordedPerConnection) {
  ServeSettings ss;
  Rig r(ss, churn(1000, Closer::kServer));
  r.run(Duration::seconds(1));
  const ChurnCounts& n = r.client->counts();
  const Percentiles c = percentiles(r.client->connect_latency());
  const Percentiles q = percentiles(r.client->response_latency());
  EXPECT_EQ(c.count, n.ok);
  EXPECT_GE(q.count, n.completed);
  EXPECT_GE(c.p50, 100u);
  EXPECT_LT(c.p50, 400u);
  EXPECT_GE(q.p50, 200u);
  EXPECT_LT(q.p50, 800u);
  EXPECT_GE(q.p50, c.p50 + 100);
  EXPECT_GE(c.max, c.p999);
}

// A client that vanishes without a FIN (every frame lost from then on, both
// ways): its connection is reset and its slot freed within the idle limit
// (plus the 1/16 scan step), not before; a client that keeps talking is
// left alone.
TEST(ServeIdle, VanishedClientFreesItsSlotWithinTheIdleLimit) {
  test::DirectPair p;
  ServeSettings ss;
  ss.idle_timeout = Duration::seconds(10);
  ServeApp srv(p.b(), ss, test::small_opts().max_connections);
  ASSERT_EQ(srv.start(), Errc::kOk);
  p.on_event = [&](int side, const AppEvent& ev) {
    if (side == 1) srv.on_event(ev);
  };
  engine::ConnId gone, alive;
  ASSERT_EQ(p.a().connect(p.addr(1), 80, &gone), Errc::kOk);
  ASSERT_EQ(p.a().connect(p.addr(1), 80, &alive), Errc::kOk);
  p.settle();
  ASSERT_EQ(srv.live(), 2u);
  const std::string part = "GET / HTTP/1.1\r\n";  // a head begun, never finished
  Errc err = Errc::kOk;
  p.a().send(gone, std::span(reinterpret_cast<const std::uint8_t*>(part.data()), part.size()), &err);
  p.settle();
  // From now on nothing of `gone` reaches the server, nor anything back.
  const std::uint16_t gone_port = p.a().tcb(gone)->tuple.lport;
  p.filter = [&](const test::Captured& c) {
    auto eth = wire::EthernetView::parse(c.bytes);
    if (!eth.ok() || eth->ethertype() != wire::kEtherTypeIpv4) return true;
    auto ip = wire::Ipv4View::parse(eth->payload(), false);
    if (!ip.ok() || ip->payload().size() < 4) return true;
    const std::uint8_t* t = ip->payload().data();
    const std::uint16_t client_port = c.from == 0 ? static_cast<std::uint16_t>(t[0] << 8 | t[1])
                                                  : static_cast<std::uint16_t>(t[2] << 8 | t[3]);
    return client_port != gone_port;
  };
  const std::string byte = "x";
  const Instant start = p.now();
  while (p.now() - start < Duration::seconds(12)) {
    p.advance(Duration::millis(250));
    srv.tick(p.now());
    p.a().send(alive, std::span(reinterpret_cast<const std::uint8_t*>(byte.data()), 1), &err);
    if (p.now() - start < Duration::seconds(9)) {
      EXPECT_EQ(srv.live(), 2u) << "reset before the idle limit";
    }
  }
  EXPECT_EQ(srv.live(), 1u);
  EXPECT_EQ(srv.stats().idle_closed, 1u);
  EXPECT_EQ(p.b().gauges().in_use(), 1u) << "the vanished client's slot is free";
  EXPECT_EQ(p.b().self_check(), "");
}

// --idle-timeout 0: no limit.
TEST(ServeIdle, ZeroMeansNoLimit) {
  test::DirectPair p;
  ServeSettings ss;
  ss.idle_timeout = Duration{};
  ServeApp srv(p.b(), ss, test::small_opts().max_connections);
  ASSERT_EQ(srv.start(), Errc::kOk);
  p.on_event = [&](int side, const AppEvent& ev) {
    if (side == 1) srv.on_event(ev);
  };
  engine::ConnId id;
  ASSERT_EQ(p.a().connect(p.addr(1), 80, &id), Errc::kOk);
  p.settle();
  for (int i = 0; i < 30; ++i) {
    p.advance(Duration::seconds(1));
    srv.tick(p.now());
  }
  EXPECT_EQ(srv.live(), 1u);
  EXPECT_EQ(srv.stats().idle_closed, 0u);
}

}  // namespace
}  // namespace twstack::app
