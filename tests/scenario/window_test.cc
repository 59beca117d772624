// Flow control (RFC 9293 §3.8.6) between two engines: a close queued behind
// a zero window completes once the peer reads. Probing, window updates, SWS
// avoidance and scaling on one connection are tests/unit/tcb_window_test.cc.
#include <gtest/gtest.h>

#include <algorithm>

#include "scenario.hh"

namespace twstack {
namespace {

using namespace scenario;

// Twelve full segments (MSS 1460 less 12 bytes of timestamps), so a
// receiver that does not read ends with exactly a zero window.
constexpr std::uint32_t kRcvbuf = 12 * 1448;

FaultSpec delay_ms(int ms) {
  FaultSpec f;
  f.delay = Duration::millis(ms);
  return f;
}

// Client writes `bytes`; the server application does not read.
struct Stalled {
  Conn c;
  Endpoint cli;
  Endpoint srv;

  Stalled(Scenario& sc, std::size_t bytes) {
    c = sc.establish();
    cli = Endpoint{0, c.client};
    srv = Endpoint{1, c.server};
    cli.to_send = pattern(bytes, 0x77);
    srv.reading = false;
    sc.attach(cli);
    sc.attach(srv);
    cli.push(sc.a());
    const tcp::Tcb* t = sc.a().tcb(c.client);
    EXPECT_TRUE(sc.run_until([&] { return t->snd_wnd == 0 && t->snd_una == t->snd_max; }, Duration::seconds(5)));
    EXPECT_TRUE(std::any_of(sc.trace.begin(), sc.trace.end(),
                            [](const Seg& s) { return s.from == 1 && s.has(wire::kAck) && s.wnd == 0; }))
        << "no zero window on the wire";
  }
};

// A FIN queued while the peer's window is zero. Linux's sender holds it
// behind the window like data (tcp_snd_wnd_test) and its receiver accepts a
// bare FIN at RCV.NXT even into a zero window (tcp_data_queue). Either way
// the close completes once the peer reads; sending the FIN into the zero
// window and having the receiver drop it turns it into RTO retransmissions
// that count toward tcp_retries2.
TEST(Window, CloseBehindAZeroWindowCompletesWhenThePeerReads) {
  EngineOptions client = scenario_opts();
  client.tcp.retries2 = 4;
  EngineOptions server = scenario_opts();
  server.tcp.rcvbuf = kRcvbuf;
  Scenario sc(client, server, delay_ms(5));
  Stalled st(sc, kRcvbuf);  // exactly fills the receive buffer
  ASSERT_EQ(st.cli.sent, kRcvbuf);
  ASSERT_EQ(sc.a().close(st.c.client), Errc::kOk);
  sc.advance(Duration::seconds(30));
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTCPTimeouts), 0u) << "the FIN was retransmitted into a zero window";
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTCPAbortOnTimeout), 0u);
  st.srv.reading = true;
  st.srv.pull(sc.b());
  sc.advance(Duration::seconds(30));
  EXPECT_TRUE(st.srv.received == st.cli.to_send);
  EXPECT_TRUE(st.srv.peer_closed) << "the FIN never arrived";
  EXPECT_FALSE(st.srv.closed.has_value()) << "the server saw " << errno_name(st.srv.closed.value_or(Errc::kOk))
                                          << " instead of an orderly close";
}

// Receive-buffer auto-tuning end to end (net.ipv4.tcp_moderate_rcvbuf,
// tcp_rcv_space_adjust): 10 MB over a 10 ms path with the engines' caps out
// of the way (twstack.rcvbuf 8 MiB, twstack.sndbuf 4 MiB). Without it the
// window the sender sees stays at tcp_rmem[1]'s 64 KiB, about 52 Mbit/s;
// with it the receiver's sk_rcvbuf grows past a megabyte, the window the
// sender sees too, and the transfer ends sooner (in virtual time).
struct LongPath {
  Duration took{};
  std::uint32_t rcvbuf = 0;       // the receiver's sk_rcvbuf at the end
  std::uint32_t max_snd_wnd = 0;  // the largest window the sender saw
};

LongPath bulk_over_long_path(bool moderate) {
  EngineOptions o = scenario_opts();
  o.tcp.rcvbuf = 8u << 20;
  o.tcp.sndbuf = 4u << 20;
  o.tcp.moderate_rcvbuf = moderate;
  o.buffer_chunks = 16384;  // 32 MiB
  Scenario sc(o, o, delay_ms(5));
  sc.record_events = false;
  Conn c = sc.establish();
  Transfer t(sc, c, 10000000, 0);
  const Instant t0 = sc.now();
  t.start();
  EXPECT_TRUE(sc.run_until([&] { return t.done(); }, Duration::seconds(60)));
  EXPECT_TRUE(t.server.received == t.client.to_send);
  return LongPath{sc.now() - t0, sc.b().tcb(c.server)->sk_rcvbuf, sc.a().tcb(c.client)->max_snd_wnd};
}

TEST(Window, ReceiveAutoTuningOpensTheWindowOnALongPath) {
  const LongPath fixed = bulk_over_long_path(false);
  EXPECT_EQ(fixed.rcvbuf, 131072u) << "tcp_rmem[1]";
  EXPECT_EQ(fixed.max_snd_wnd, 65536u);
  EXPECT_GT(fixed.took.secs(), 1.4) << "a 64 KiB window over 10 ms moves about 6.5 MB/s";
  const LongPath tuned = bulk_over_long_path(true);
  EXPECT_GT(tuned.rcvbuf, 1u << 20);
  EXPECT_GT(tuned.max_snd_wnd, 1u << 20);
  EXPECT_LT(tuned.took.secs(), fixed.took.secs() * 0.8);
}

}  // namespace
}  // namespace twstack
