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

}  // namespace
}  // namespace twstack
