// The socket-shaped calls of the engine's API: bind() before listen() or
// connect() (inet_bind, inet_autobind), recv(MSG_PEEK), and a listener's
// accept-queue length (what poll() reports on a listening socket).
#include <gtest/gtest.h>

#include <numeric>

#include "tests/support/pair.hh"

namespace twstack {
namespace {

using engine::Bound;
using engine::ConnId;
using tcp::State;
using test::DirectPair;

TEST(EngineApi, BindThenListenAccepts) {
  DirectPair p;
  Bound b;
  ASSERT_EQ(p.b().bind({}, 8080, false, &b), Errc::kOk);
  EXPECT_EQ(b.port, 8080);
  ASSERT_EQ(p.b().listen(b, 4), Errc::kOk);
  ConnId c;
  ASSERT_EQ(p.a().connect(p.addr(1), 8080, &c), Errc::kOk);
  EXPECT_EQ(p.b().accept_queue(8080), 0u);
  p.settle();
  EXPECT_EQ(p.a().state(c), State::kEstablished);
  // Counted while it waits; accept() takes it, and the count follows.
  EXPECT_EQ(p.b().accept_queue(8080), 1u);
  auto s = p.b().accept(8080);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(p.b().accept_queue(8080), 0u);
  EXPECT_EQ(p.b().accept_queue(9999), 0u);  // no listener there
}

// inet_csk_get_port with port 0: a port is picked, and listening on it works.
TEST(EngineApi, BindPortZeroPicksAPort) {
  DirectPair p;
  Bound b;
  ASSERT_EQ(p.b().bind({}, 0, false, &b), Errc::kOk);
  ASSERT_NE(b.port, 0);
  ASSERT_EQ(p.b().listen(b, 4), Errc::kOk);
  ConnId c;
  ASSERT_EQ(p.a().connect(p.addr(1), b.port, &c), Errc::kOk);
  p.settle();
  EXPECT_EQ(p.a().state(c), State::kEstablished);
}

// inet_bind: EADDRINUSE for a taken port (without SO_REUSEADDR on both),
// EADDRNOTAVAIL for an address not ours; unbind() frees the port.
TEST(EngineApi, BindConflictsAndRelease) {
  DirectPair p;
  Bound b1, b2;
  ASSERT_EQ(p.b().bind({}, 8080, false, &b1), Errc::kOk);
  EXPECT_EQ(p.b().bind({}, 8080, false, &b2), Errc::kAddrInUse);
  EXPECT_EQ(p.b().bind(wire::Ipv4Addr::from_octets(10, 9, 9, 9), 8081, false, &b2), Errc::kAddrNotAvail);
  p.b().unbind(b1);
  EXPECT_EQ(p.b().bind({}, 8080, false, &b2), Errc::kOk);
}

// Two SO_REUSEADDR binds of one port coexist, but only one may listen
// (inet_csk_listen_start re-checks the port).
TEST(EngineApi, ReuseaddrBindsButOneListens) {
  DirectPair p;
  Bound b1, b2;
  ASSERT_EQ(p.b().bind({}, 8080, true, &b1), Errc::kOk);
  ASSERT_EQ(p.b().bind({}, 8080, true, &b2), Errc::kOk);
  ASSERT_EQ(p.b().listen(b1, 4), Errc::kOk);
  EXPECT_EQ(p.b().listen(b2, 4), Errc::kAddrInUse);
}

// connect() from a bound socket leaves from its port; the connection then
// holds the bind, so the port stays taken until it is gone.
TEST(EngineApi, BoundConnectUsesThePort) {
  DirectPair p;
  ASSERT_EQ(p.b().listen(80, 4), Errc::kOk);
  Bound b;
  ASSERT_EQ(p.a().bind({}, 5555, true, &b), Errc::kOk);
  ConnId c;
  ASSERT_EQ(p.a().connect(b, p.addr(1), 80, &c), Errc::kOk);
  p.settle();
  EXPECT_EQ(p.a().state(c), State::kEstablished);
  EXPECT_EQ(p.a().tcb(c)->tuple.lport, 5555);
  EXPECT_EQ(p.a().tcb(c)->tuple.laddr, p.addr(0));
  Bound again;
  EXPECT_EQ(p.a().bind({}, 5555, false, &again), Errc::kAddrInUse);
  ConnId c2;
  EXPECT_EQ(p.a().connect(b, p.addr(1), 0, &c2), Errc::kInvalid);
  // An aborted connection (no TIME_WAIT) gives its bind back.
  ASSERT_EQ(p.a().abort(c), Errc::kOk);
  p.settle();
  EXPECT_EQ(p.a().bind({}, 5555, false, &again), Errc::kOk);
}

// recv(MSG_PEEK): the same bytes again, from any offset, nothing consumed.
TEST(EngineApi, PeekConsumesNothing) {
  DirectPair p;
  auto c = p.establish();
  ASSERT_TRUE(c.has_value());
  std::vector<std::uint8_t> data(3000);
  std::iota(data.begin(), data.end(), 0);
  Errc err;
  ASSERT_EQ(p.a().send(c->client, data, &err), data.size());
  p.advance(Duration::millis(50));
  std::vector<std::uint8_t> a(100), b(100), all(5000);
  EXPECT_EQ(p.b().peek(c->server, a), 100u);
  EXPECT_EQ(p.b().peek(c->server, b), 100u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a[99], 99);
  EXPECT_EQ(p.b().peek(c->server, b, 2990), 10u);
  EXPECT_EQ(b[0], static_cast<std::uint8_t>(2990 % 256));
  EXPECT_EQ(p.b().peek(c->server, b, 3000), 0u);
  ASSERT_EQ(p.b().recv(c->server, all), 3000u);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), all.begin()));
  EXPECT_EQ(p.b().peek(c->server, a), 0u);
  EXPECT_EQ(p.b().peek(ConnId{}, a), 0u);
}

}  // namespace
}  // namespace twstack

namespace twstack {
namespace {

// SO_RCVBUF/SO_SNDBUF through the engine (tcp/buffers.hh): sizes given to
// connect() and to a listener (before or after listen()) reach the
// connections, their window scale, and what getsockopt would report.
TEST(EngineApi, SocketBufferSizesReachConnections) {
  DirectPair p;
  Bound b;
  ASSERT_EQ(p.b().bind({}, 8080, false, &b), Errc::kOk);
  const tcp::SockBufs lbufs{p.b().so_rcvbuf_size(65536), p.b().so_sndbuf_size(21000)};
  ASSERT_EQ(p.b().listen(b, 4, lbufs), Errc::kOk);
  ConnId c;
  const tcp::SockBufs cbufs{p.a().so_rcvbuf_size(1 << 20), 0};
  ASSERT_EQ(p.a().connect(p.addr(1), 8080, &c, {}, 0, cbufs), Errc::kOk);
  p.settle();
  auto s = p.b().accept(8080);
  ASSERT_TRUE(s.has_value());
  const tcp::Tcb* ct = p.a().tcb(c);
  const tcp::Tcb* st = p.b().tcb(*s);
  EXPECT_EQ(ct->sk_rcvbuf, 2u << 20);
  EXPECT_EQ(ct->rcv_wscale, 5);  // ilog2(1 MiB full space) - 15
  EXPECT_EQ(st->sk_rcvbuf, 131072u);
  EXPECT_EQ(st->rcv_wscale, 1);  // ilog2(64 KiB) - 15
  EXPECT_EQ(ct->snd_wscale, 1);
  EXPECT_EQ(st->sk_sndbuf, 42000u);
  EXPECT_TRUE(st->sndbuf_lock);
  // Changed on the listener after listen(): the next connection takes it.
  EXPECT_EQ(p.b().set_listener_bufs(8080, tcp::SockBufs{}), Errc::kOk);
  EXPECT_EQ(p.b().set_listener_bufs(9999, tcp::SockBufs{}), Errc::kInvalid);
  ConnId c2;
  ASSERT_EQ(p.a().connect(p.addr(1), 8080, &c2), Errc::kOk);
  p.settle();
  auto s2 = p.b().accept(8080);
  ASSERT_TRUE(s2.has_value());
  EXPECT_EQ(p.b().tcb(*s2)->rcv_wscale, tcp::default_rcv_wscale(tcp::TcpParams(StackConfig{})));
  EXPECT_FALSE(p.b().tcb(*s2)->sndbuf_lock);
  // On a connection: doubled, capped, locked.
  EXPECT_EQ(p.a().set_sndbuf(c, 100000000), Errc::kOk);
  EXPECT_EQ(ct->sk_sndbuf, 2u * 4194304);
  EXPECT_EQ(p.a().set_rcvbuf(ConnId{}, 1000), Errc::kBadHandle);
}

}  // namespace
}  // namespace twstack
