// Flow control (RFC 9293 §3.8.6): a receiver that stops reading closes the
// window, the sender probes it with backoff (§3.8.6.1), a window update
// reopens it; and window scaling (RFC 7323 §2) lets more than 64 KiB fly.
#include <gtest/gtest.h>

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
  Instant closed_at{};  // when the server first advertised a zero window
  std::size_t closed_idx = 0;

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
    for (std::size_t i = 0; i < sc.trace.size(); ++i) {
      const Seg& s = sc.trace[i];
      if (s.from == 1 && s.has(wire::kAck) && s.wnd == 0) {
        closed_at = s.at;
        closed_idx = i;
        break;
      }
    }
    EXPECT_NE(closed_idx, 0u) << "no zero window on the wire";
  }
};

bool is_probe(const Seg& s, Seq una) { return s.from == 0 && s.len == 0 && s.seq == una - 1; }

TEST(Window, ZeroWindowIsProbedWithBackoffAndReopenedByUpdate) {
  EngineOptions server = scenario_opts();
  server.tcp.rcvbuf = kRcvbuf;
  Scenario sc(scenario_opts(), server, delay_ms(5));
  Stalled st(sc, 200000);
  const tcp::Tcb* t = sc.a().tcb(st.c.client);
  const Seq una = t->snd_una;
  EXPECT_EQ(sc.b().tcb(st.c.server)->rcv.size(), kRcvbuf) << "the receive buffer is full";
  EXPECT_LT(st.cli.sent, st.cli.to_send.size());

  sc.advance(Duration::seconds(15));
  ASSERT_EQ(sc.a().state(st.c.client), State::kEstablished);
  std::vector<Seg> probes;
  for (std::size_t i = st.closed_idx; i < sc.trace.size(); ++i) {
    const Seg& s = sc.trace[i];
    if (s.from == 0) {
      EXPECT_TRUE(is_probe(s, una)) << "sent into a zero window: " << describe(s);
      if (is_probe(s, una)) probes.push_back(s);
    }
  }
  ASSERT_GE(probes.size(), 4u) << sc.dump(st.closed_idx);
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTCPWinProbe), probes.size());
  // RFC 9293 §3.8.6.1: the first probe after one RTO, then exponentially
  // further apart.
  const Duration first = probes[0].at - st.closed_at;
  EXPECT_GE(first, Duration::millis(200));
  EXPECT_LE(first, Duration::seconds(1));
  for (std::size_t i = 2; i < probes.size(); ++i) {
    EXPECT_EQ((probes[i].at - probes[i - 1].at).us, 2 * (probes[i - 1].at - probes[i - 2].at).us)
        << "probe " << i;
  }
  // The receiver answers probes with its (still zero) window.
  std::size_t zero_acks = 0;
  for (std::size_t i = st.closed_idx; i < sc.trace.size(); ++i) {
    const Seg& s = sc.trace[i];
    if (s.from == 1) {
      EXPECT_EQ(s.wnd, 0) << describe(s);
      ++zero_acks;
    }
  }
  EXPECT_GE(zero_acks, 2u);

  // The application reads: a window update goes out at once and the rest flows.
  const std::size_t mark = sc.trace.size();
  st.srv.reading = true;
  st.srv.pull(sc.b());
  sc.settle();
  std::optional<Seg> update;
  for (const Seg& s : sc.sent_by(1, mark)) {
    if (s.pure_ack() && s.wnd > 0) {
      update = s;
      break;
    }
  }
  ASSERT_TRUE(update.has_value()) << "no window update after the read\n" << sc.dump(mark);
  EXPECT_EQ(update->at, sc.now());
  EXPECT_GE(std::uint32_t{update->wnd} << sc.b().tcb(st.c.server)->rcv_wscale, 1448u)
      << "RFC 9293 §3.8.6.2.2: open by at least an MSS";
  ASSERT_TRUE(sc.run_until([&] { return st.srv.received.size() == st.cli.to_send.size(); }, Duration::seconds(30)));
  EXPECT_TRUE(st.srv.received == st.cli.to_send);
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTCPTimeouts), 0u) << "probing is not retransmission";
  EXPECT_EQ(sc.ctr(0, Counter::TcpRetransSegs), 0u);
}

// RFC 9293 §3.8.6.2.2 / RFC 7323 §2.4: the receiver never moves the right
// edge of its window to the left.
TEST(Window, RightEdgeNeverMovesLeft) {
  EngineOptions server = scenario_opts();
  server.tcp.rcvbuf = kRcvbuf;
  Scenario sc(scenario_opts(), server, delay_ms(5));
  Stalled st(sc, 300000);
  // Read in small bites so the window opens and closes many times.
  for (int i = 0; i < 200 && st.srv.received.size() < st.cli.to_send.size(); ++i) {
    std::uint8_t buf[700];
    std::uint32_t n = sc.b().recv(st.c.server, buf);
    st.srv.received.insert(st.srv.received.end(), buf, buf + n);
    sc.advance(Duration::millis(20));
  }
  st.srv.reading = true;
  st.srv.pull(sc.b());
  ASSERT_TRUE(sc.run_until([&] { return st.srv.received.size() == st.cli.to_send.size(); }, Duration::seconds(60)));
  EXPECT_TRUE(st.srv.received == st.cli.to_send);
  const std::uint8_t shift = sc.b().tcb(st.c.server)->rcv_wscale;
  bool have = false;
  Seq edge;
  for (const Seg& s : sc.trace) {
    if (s.from != 1 || !s.has(wire::kAck) || s.has(wire::kSyn)) continue;
    Seq e = s.ack + (std::uint32_t{s.wnd} << shift);
    if (have) {
      EXPECT_GE(e + (1u << shift), edge) << "window shrank: " << describe(s);
    }
    if (!have || e > edge) edge = e;
    have = true;
  }
}

// RFC 1122 §4.2.2.17: "as long as the receiving TCP continues to send
// acknowledgments in response to the probe segments, the sending TCP MUST
// allow the connection to stay open" (Linux resets icsk_probes_out on
// every ACK in tcp_ack()).
TEST(Window, AnsweredProbesNeverTimeOutTheConnection) {
  EngineOptions client = scenario_opts();
  client.tcp.retries2 = 4;
  EngineOptions server = scenario_opts();
  server.tcp.rcvbuf = kRcvbuf;
  Scenario sc(client, server, delay_ms(5));
  Stalled st(sc, 100000);
  sc.advance(Duration::seconds(60));
  std::size_t answers = 0;
  for (std::size_t i = st.closed_idx + 1; i < sc.trace.size(); ++i) answers += sc.trace[i].from == 1 ? 1 : 0;
  EXPECT_GE(answers, 3u) << "the receiver did not answer the probes";
  ASSERT_FALSE(st.cli.closed.has_value())
      << "the sender gave up on a live peer with " << errno_name(st.cli.closed.value_or(Errc::kOk)) << " after "
      << sc.ctr(0, Counter::TcpExtTCPWinProbe) << " probes, " << answers
      << " of them answered with a zero window (TcpExtTCPAbortOnTimeout "
      << sc.ctr(0, Counter::TcpExtTCPAbortOnTimeout) << ")";
  EXPECT_EQ(sc.a().state(st.c.client), State::kEstablished);
  EXPECT_GE(sc.ctr(0, Counter::TcpExtTCPWinProbe), 6u);
  st.srv.reading = true;
  st.srv.pull(sc.b());
  EXPECT_TRUE(sc.run_until([&] { return st.srv.received.size() == st.cli.to_send.size(); }, Duration::seconds(30)));
  EXPECT_TRUE(st.srv.received == st.cli.to_send);
}

TEST(Window, LostWindowUpdateIsRecoveredByTheNextProbe) {
  EngineOptions server = scenario_opts();
  server.tcp.rcvbuf = kRcvbuf;
  Scenario sc(scenario_opts(), server, delay_ms(5));
  Stalled st(sc, 100000);
  sc.advance(Duration::seconds(2));
  const std::uint64_t probes_before = sc.ctr(0, Counter::TcpExtTCPWinProbe);
  bool dropped = false;
  sc.drop = [&](const Seg& s) {
    if (s.from == 1 && s.pure_ack() && s.wnd > 0 && !dropped) return dropped = true;
    return false;
  };
  const Instant read_at = sc.now();
  st.srv.reading = true;
  st.srv.pull(sc.b());
  ASSERT_TRUE(sc.run_until([&] { return st.srv.received.size() == st.cli.to_send.size(); }, Duration::seconds(60)));
  EXPECT_TRUE(dropped);
  EXPECT_TRUE(st.srv.received == st.cli.to_send);
  EXPECT_GT(sc.ctr(0, Counter::TcpExtTCPWinProbe), probes_before) << "resumed without a probe";
  EXPECT_LT(sc.now() - read_at, Duration::seconds(10));
}

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

// RFC 9293 §3.8.6.2.1 (and RFC 1122 §4.2.3.4): sender SWS avoidance needs
// "a timeout to force transmission of data, overriding the SWS avoidance
// algorithm" or a usable window smaller than an MSS is never used. Linux
// tcp_write_wakeup() sends min(window, MSS) bytes when the persist timer
// fires on a non-zero window.
TEST(Window, SmallWindowIsFilledWhenThePersistTimerFires) {
  EngineOptions server = scenario_opts();
  server.tcp.rcvbuf = 16384;  // 11 full segments, then a 456-byte window
  Scenario sc(scenario_opts(), server, delay_ms(5));
  Conn c = sc.establish();
  Endpoint cli{0, c.client};
  cli.to_send = pattern(100000, 0x55);
  sc.attach(cli);
  cli.push(sc.a());
  sc.advance(Duration::seconds(5));
  const tcp::Tcb* ct = sc.a().tcb(c.client);
  const tcp::Tcb* stcb = sc.b().tcb(c.server);
  EXPECT_EQ(stcb->rcv.size(), 16384u)
      << "the last " << 16384 - stcb->rcv.size() << " bytes of window were never used; sender snd_wnd "
      << ct->snd_wnd << ", " << sc.ctr(0, Counter::TcpExtTCPWinProbe) << " zero-length probes sent";
  EXPECT_EQ(ct->snd_wnd, 0u);
}

TEST(Window, ScalingLetsMoreThan64KiBFly) {
  EngineOptions o = scenario_opts();
  o.tcp.sndbuf = 131072;
  o.tcp.rcvbuf = 131072;
  Scenario sc(o, o, delay_ms(10));
  Conn c = sc.establish();
  const tcp::Tcb* ct = sc.a().tcb(c.client);
  const tcp::Tcb* st = sc.b().tcb(c.server);
  ASSERT_TRUE(ct->wscale_ok);
  EXPECT_GE(st->rcv_wscale, 1);
  EXPECT_EQ(ct->snd_wscale, st->rcv_wscale);
  Transfer t(sc, c, 4000000, 0);
  sc.record_events = false;
  t.start();
  std::uint32_t max_flight = 0;
  ASSERT_TRUE(sc.run_until(
      [&] {
        max_flight = std::max(max_flight, ct->flight());
        return t.done();
      },
      Duration::seconds(60)));
  EXPECT_TRUE(t.server.received == t.client.to_send);
  EXPECT_GT(max_flight, 65535u) << "the scaled window never carried more than 64 KiB";
  std::uint32_t max_wnd = 0;
  for (const Seg& s : sc.trace) {
    if (s.from == 1 && !s.has(wire::kSyn)) max_wnd = std::max(max_wnd, std::uint32_t{s.wnd} << st->rcv_wscale);
  }
  EXPECT_GT(max_wnd, 65535u) << "advertised windows never exceeded 64 KiB";
  EXPECT_EQ(sc.ctr(0, Counter::TcpRetransSegs), 0u);
}

}  // namespace
}  // namespace twstack
