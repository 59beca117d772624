// Closing a connection (RFC 9293 §3.6, §3.10.4-5) between two engines: the
// close sequences end to end, abort, half-close, and what TIME-WAIT and
// FIN-WAIT-2 do with late segments and their timers. One connection's
// resets and lost FIN are tests/unit/tcb_close_test.cc.
//
// TIME-WAIT is not a connection state here: the connection hands its 4-tuple
// to the engine's TIME_WAIT table (Linux tcp_time_wait) and closes. An
// orphan is freed (state() is nullopt); a handle the application still holds
// reads CLOSED. The tests follow the entry through engine.time_wait().
#include <gtest/gtest.h>

#include "scenario.hh"

namespace twstack {
namespace {

using namespace scenario;

constexpr std::int64_t kTimeWaitUs = 7500000;  // not a default, so it cannot be hard-coded

EngineOptions close_opts() {
  EngineOptions o = scenario_opts();
  o.tcp.timewait_len = Duration::micros(kTimeWaitUs);
  return o;
}

FaultSpec one_ms() {
  FaultSpec f;
  f.delay = Duration::millis(1);
  return f;
}

// The application on `side` closes as soon as its peer's FIN arrives.
void close_on_peer_fin(Scenario& sc, int side) {
  sc.on_event = [&sc, side](int s, const AppEvent& ev) {
    if (s == side && (ev.events & tcp::kEvPeerClosed)) sc.side(s).close(ev.conn);
  };
}

const Seg* find(const std::vector<Seg>& v, const std::function<bool(const Seg&)>& pred, std::size_t nth = 0) {
  for (const Seg& s : v) {
    if (pred(s) && nth-- == 0) return &s;
  }
  return nullptr;
}

TEST(Close, ActiveCloserWaitsInTimeWaitForExactlyItsLength) {
  Scenario sc(close_opts(), close_opts(), one_ms());
  Conn c = sc.establish();
  const std::size_t mark = sc.trace.size();
  const Seq fin_seq = sc.a().tcb(c.client)->snd_nxt;
  const Seq peer_fin_seq = sc.b().tcb(c.server)->snd_nxt;
  const wire::FourTuple tuple = sc.tuple_of(0, c.client);
  ASSERT_EQ(sc.a().close(c.client), Errc::kOk);
  EXPECT_EQ(sc.a().state(c.client), State::kFinWait1);
  // tcp_fin_timeout (60 s) > the TIME-WAIT length: the orphan waits in
  // FIN-WAIT-2 as a full connection (docs/linux-timewait.md §1 c).
  ASSERT_TRUE(sc.run_until([&] { return sc.a().state(c.client) == State::kFinWait2; }, Duration::seconds(1)));
  EXPECT_FALSE(sc.tw_entry(0, tuple));
  EXPECT_EQ(sc.b().state(c.server), State::kCloseWait);
  EXPECT_TRUE(sc.first_event(1, c.server, tcp::kEvPeerClosed).has_value());
  ASSERT_EQ(sc.b().close(c.server), Errc::kOk);
  EXPECT_EQ(sc.b().state(c.server), State::kLastAck);
  ASSERT_TRUE(sc.run_until([&] { return sc.in_time_wait(0, tuple); }, Duration::seconds(1)));
  const Instant entered = sc.now();
  EXPECT_FALSE(sc.a().state(c.client).has_value()) << "the orphan is freed; the entry holds the tuple";
  EXPECT_EQ(sc.tw(0).expiry_ms(sc.tw_entry(0, tuple)), entered.ms() + kTimeWaitUs / 1000);
  sc.advance(Duration::millis(1));  // the last ACK reaches the server

  // FIN, ACK, FIN, ACK on the wire (RFC 9293 figure 12), nothing else.
  std::vector<Seg> tail(sc.trace.begin() + static_cast<std::ptrdiff_t>(mark), sc.trace.end());
  ASSERT_EQ(tail.size(), 4u) << sc.dump(mark);
  EXPECT_EQ(tail[0].from, 0);
  EXPECT_TRUE(tail[0].is(wire::kFin | wire::kAck));
  EXPECT_EQ(tail[0].seq, fin_seq);
  EXPECT_EQ(tail[1].from, 1);
  EXPECT_TRUE(tail[1].pure_ack());
  EXPECT_EQ(tail[1].ack, fin_seq + 1);
  EXPECT_EQ(tail[2].from, 1);
  EXPECT_TRUE(tail[2].is(wire::kFin | wire::kAck));
  EXPECT_EQ(tail[2].seq, peer_fin_seq);
  EXPECT_EQ(tail[3].from, 0);
  EXPECT_TRUE(tail[3].pure_ack());
  EXPECT_EQ(tail[3].ack, peer_fin_seq + 1);

  EXPECT_FALSE(sc.b().state(c.server).has_value()) << "LAST-ACK -> CLOSED, released";
  EXPECT_EQ(sc.b().gauges().timewait, 0u);
  EXPECT_EQ(sc.b().gauges().in_use(), 0u);
  EXPECT_EQ(sc.a().gauges().timewait, 1u);
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTW), 1u);

  sc.advance_to(entered + Duration::micros(kTimeWaitUs - 1000));
  EXPECT_TRUE(sc.in_time_wait(0, tuple)) << "TIME-WAIT ended early";
  EXPECT_EQ(sc.a().gauges().timewait, 1u);
  sc.advance_to(entered + Duration::micros(kTimeWaitUs));
  EXPECT_FALSE(sc.tw_entry(0, tuple)) << "TIME-WAIT outlived timewait_len_us";
  EXPECT_EQ(sc.a().gauges().timewait, 0u);
  EXPECT_EQ(sc.a().connections(), 0u);
  EXPECT_EQ(sc.trace.size(), mark + 4) << "nothing is sent when TIME-WAIT ends";
  EXPECT_EQ(sc.ctr(0, Counter::TcpOutRsts) + sc.ctr(1, Counter::TcpOutRsts), 0u);
  EXPECT_EQ(sc.ctr(0, Counter::TcpEstabResets) + sc.ctr(1, Counter::TcpEstabResets), 0u);
}

TEST(Close, PassiveCloserGoesThroughCloseWaitAndLastAck) {
  Scenario sc(close_opts(), close_opts(), one_ms());
  Conn c = sc.establish();
  // The server half-closes first (shutdown, not close: data arriving after
  // close() is answered with a reset, see tests/unit/tcb_close_test.cc).
  ASSERT_EQ(sc.b().shutdown(c.server), Errc::kOk);
  ASSERT_TRUE(sc.run_until([&] { return sc.a().state(c.client) == State::kCloseWait; }, Duration::seconds(1)));
  auto pc = sc.first_event(0, c.client, tcp::kEvPeerClosed);
  ASSERT_TRUE(pc.has_value());
  EXPECT_FALSE(pc->ev.events & tcp::kEvClosed);
  // CLOSE-WAIT still sends.
  Endpoint cli{0, c.client};
  cli.to_send = pattern(3000, 3);
  cli.push(sc.a());
  EXPECT_EQ(cli.sent, 3000u);
  sc.advance(Duration::millis(50));
  ASSERT_EQ(sc.a().close(c.client), Errc::kOk);
  EXPECT_EQ(sc.a().state(c.client), State::kLastAck);
  ASSERT_TRUE(sc.run_until([&] { return !sc.a().state(c.client).has_value(); }, Duration::seconds(1)));
  sc.settle();
  EXPECT_EQ(sc.a().gauges().timewait, 0u) << "the passive closer does not enter TIME-WAIT";
  EXPECT_EQ(sc.b().gauges().timewait, 1u) << "the active closer does";
  EXPECT_EQ(sc.ctr(1, Counter::TcpExtTW), 1u);
}

TEST(Close, SimultaneousCloseGoesThroughClosingOnBothSides) {
  Scenario sc(close_opts(), close_opts());  // zero delay: the FINs cross
  Conn c = sc.establish();
  const wire::FourTuple tuple[2] = {sc.tuple_of(0, c.client), sc.tuple_of(1, c.server)};
  const std::size_t mark = sc.trace.size();
  ASSERT_EQ(sc.a().close(c.client), Errc::kOk);
  ASSERT_EQ(sc.b().close(c.server), Errc::kOk);
  bool closing[2] = {false, false};
  for (int i = 0; i < 20 && sc.round(); ++i) {
    closing[0] |= sc.a().state(c.client) == State::kClosing;
    closing[1] |= sc.b().state(c.server) == State::kClosing;
  }
  EXPECT_TRUE(closing[0]);
  EXPECT_TRUE(closing[1]);
  // Both are active closers (CLOSING -> TIME-WAIT, §1 b): both keep an entry.
  EXPECT_TRUE(sc.in_time_wait(0, tuple[0]));
  EXPECT_TRUE(sc.in_time_wait(1, tuple[1]));
  EXPECT_FALSE(sc.a().state(c.client).has_value());
  EXPECT_FALSE(sc.b().state(c.server).has_value());
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTW), 1u);
  EXPECT_EQ(sc.ctr(1, Counter::TcpExtTW), 1u);
  // Each side: its FIN (not acknowledging the other's), then a bare ACK of the other's.
  for (int s = 0; s < 2; ++s) {
    std::vector<Seg> v = sc.sent_by(s, mark);
    ASSERT_EQ(v.size(), 2u) << sc.dump(mark);
    EXPECT_TRUE(v[0].is(wire::kFin | wire::kAck));
    EXPECT_TRUE(v[1].pure_ack());
    EXPECT_EQ(v[1].ack, sc.sent_by(1 - s, mark)[0].seq + 1);
  }
  sc.advance(Duration::micros(kTimeWaitUs));
  EXPECT_FALSE(sc.tw_entry(0, tuple[0]));
  EXPECT_FALSE(sc.tw_entry(1, tuple[1]));
  EXPECT_EQ(sc.a().gauges().timewait + sc.b().gauges().timewait, 0u);
  EXPECT_EQ(sc.a().connections() + sc.b().connections(), 0u);
}

TEST(Close, AbortSendsResetAndPeerSeesConnReset) {
  Scenario sc(close_opts(), close_opts(), one_ms());
  Conn c = sc.establish();
  Endpoint srv{1, c.server};
  sc.attach(srv);
  const std::size_t mark = sc.trace.size();
  const Seq snd_nxt = sc.a().tcb(c.client)->snd_nxt;
  ASSERT_EQ(sc.a().abort(c.client), Errc::kOk);
  EXPECT_FALSE(sc.a().state(c.client).has_value()) << "an aborted handle is released at once";
  sc.advance(Duration::millis(10));
  std::vector<Seg> v = sc.sent_by(0, mark);
  ASSERT_EQ(v.size(), 1u) << sc.dump(mark);
  EXPECT_TRUE(v[0].is(wire::kRst | wire::kAck));
  EXPECT_EQ(v[0].seq, snd_nxt);
  EXPECT_EQ(srv.closed, Errc::kConnReset);
  EXPECT_EQ(sc.b().state(c.server), State::kClosed);
  EXPECT_EQ(sc.ctr(1, Counter::TcpEstabResets), 1u);
  EXPECT_TRUE(sc.sent_by(1, mark).empty()) << "a reset is never answered";
  EXPECT_EQ(sc.b().close(c.server), Errc::kOk);
  EXPECT_EQ(sc.a().connections() + sc.b().connections(), 0u);
  EXPECT_EQ(sc.a().gauges().timewait + sc.b().gauges().timewait, 0u);
}

TEST(Close, HalfCloseKeepsReceivingInFinWait2) {
  Scenario sc(close_opts(), close_opts(), one_ms());
  Conn c = sc.establish();
  Endpoint cli{0, c.client};
  Endpoint srv{1, c.server};
  sc.attach(cli);
  sc.attach(srv);
  const wire::FourTuple tuple = sc.tuple_of(0, c.client);
  ASSERT_EQ(sc.a().shutdown(c.client), Errc::kOk);
  ASSERT_TRUE(sc.run_until([&] { return sc.a().state(c.client) == State::kFinWait2; }, Duration::seconds(1)));
  EXPECT_TRUE(srv.peer_closed);
  Errc err = Errc::kOk;
  const std::uint8_t one = 1;
  EXPECT_EQ(sc.a().send(c.client, {&one, 1}, &err), 0u);
  EXPECT_EQ(err, Errc::kPipe) << "send after shutdown";

  // The server keeps writing, then closes.
  srv.to_send = pattern(300000, 9);
  srv.close_when_sent = true;
  srv.push(sc.b());
  bool fw2_while_receiving = false;
  ASSERT_TRUE(sc.run_until(
      [&] {
        if (!cli.received.empty() && cli.received.size() < srv.to_send.size()) {
          fw2_while_receiving |= sc.a().state(c.client) == State::kFinWait2;
        }
        return sc.in_time_wait(0, tuple);
      },
      Duration::seconds(30)));
  EXPECT_TRUE(fw2_while_receiving);
  // Not orphaned: the handle stays and reads CLOSED; the entry holds the
  // tuple (Linux tcp_time_wait, case a).
  EXPECT_EQ(sc.a().state(c.client), State::kClosed);
  EXPECT_TRUE(cli.received == srv.to_send);
  EXPECT_TRUE(cli.peer_closed);
  EXPECT_EQ(cli.closed, Errc::kOk) << "kEvClosed on entering TIME-WAIT, without error";
  sc.advance(Duration::millis(1));
  EXPECT_FALSE(sc.b().state(c.server).has_value());
  EXPECT_EQ(sc.ctr(0, Counter::TcpOutRsts) + sc.ctr(1, Counter::TcpOutRsts), 0u);
  // The application still holds the handle; TIME-WAIT ends on its own
  // timer, and close() releases the handle.
  EXPECT_EQ(sc.a().gauges().closed, 1u);
  EXPECT_EQ(sc.a().gauges().timewait, 1u);
  sc.advance(Duration::micros(kTimeWaitUs));
  EXPECT_FALSE(sc.tw_entry(0, tuple));
  EXPECT_EQ(sc.a().state(c.client), State::kClosed);
  EXPECT_EQ(sc.a().close(c.client), Errc::kOk);
  EXPECT_FALSE(sc.a().state(c.client).has_value());
  EXPECT_EQ(sc.a().gauges().closed, 0u);
  EXPECT_EQ(sc.a().connections(), 0u);
}

TEST(Close, RetransmittedFinInTimeWaitIsAckedAndRestartsTimer) {
  Scenario sc(close_opts(), close_opts(), one_ms());
  Conn c = sc.establish();
  close_on_peer_fin(sc, 1);
  // Lose the client's ACK of the server's FIN: the server resends the FIN.
  Seq server_fin;
  bool have_fin = false;
  int acks = 0;
  sc.drop = [&](const Seg& s) {
    if (s.from == 1 && s.has(wire::kFin)) {
      server_fin = s.seq;
      have_fin = true;
    }
    return s.from == 0 && have_fin && s.pure_ack() && s.ack == server_fin + 1 && ++acks == 1;
  };
  const wire::FourTuple tuple = sc.tuple_of(0, c.client);
  ASSERT_EQ(sc.a().close(c.client), Errc::kOk);
  ASSERT_TRUE(sc.run_until([&] { return sc.in_time_wait(0, tuple); }, Duration::seconds(1)));
  const Instant entered = sc.now();
  EXPECT_EQ(sc.tw(0).expiry_ms(sc.tw_entry(0, tuple)), entered.ms() + kTimeWaitUs / 1000);
  ASSERT_TRUE(sc.run_until([&] { return !sc.b().state(c.server).has_value(); }, Duration::seconds(10)))
      << sc.dump();
  auto fin_from_server = [](const Seg& s) { return s.from == 1 && s.has(wire::kFin); };
  const Seg* f2 = find(sc.trace, fin_from_server, 1);
  ASSERT_NE(f2, nullptr) << sc.dump();
  EXPECT_EQ(sc.ctr(1, Counter::TcpRetransSegs), 1u);
  // RFC 9293 §3.10.7.4 TIME-WAIT: "acknowledge it, and restart the 2 MSL timeout".
  auto ack_of_fin = [&](const Seg& s) { return s.from == 0 && s.pure_ack() && s.ack == server_fin + 1; };
  const Seg* a2 = find(sc.trace, ack_of_fin, 1);
  ASSERT_NE(a2, nullptr) << "the retransmitted FIN was not re-ACKed\n" << sc.dump();
  EXPECT_EQ(a2->at - f2->at, Duration::millis(1)) << "re-ACKed on arrival";
  const Instant restarted = a2->at;
  ASSERT_GT(restarted, entered);
  // The FIN arrived after the ACK left (1 ms link): the entry's timer reads
  // restarted + len (inet_twsk_reschedule).
  ASSERT_TRUE(sc.tw_entry(0, tuple));
  EXPECT_EQ(sc.tw(0).expiry_ms(sc.tw_entry(0, tuple)), restarted.ms() + kTimeWaitUs / 1000);
  sc.advance_to(entered + Duration::micros(kTimeWaitUs) + Duration::millis(1));
  EXPECT_TRUE(sc.in_time_wait(0, tuple)) << "the timer was not restarted";
  sc.advance_to(restarted + Duration::micros(kTimeWaitUs) - Duration::millis(1));
  EXPECT_TRUE(sc.in_time_wait(0, tuple));
  sc.advance_to(restarted + Duration::micros(kTimeWaitUs));
  EXPECT_FALSE(sc.tw_entry(0, tuple));
  EXPECT_FALSE(sc.a().state(c.client).has_value());
}

// Reaches TIME-WAIT on the client and returns a reset the peer could send
// with SEQ = RCV.NXT.
std::vector<std::uint8_t> time_wait_and_reset(Scenario& sc, Conn* c, wire::FourTuple* tuple) {
  *c = sc.establish();
  *tuple = sc.tuple_of(0, c->client);
  close_on_peer_fin(sc, 1);
  sc.a().close(c->client);
  EXPECT_TRUE(sc.run_until([&] { return sc.in_time_wait(0, *tuple); }, Duration::seconds(1)));
  sc.settle();
  SegSpec rst = sc.to_entry(0, *tuple);
  rst.flags = wire::kRst;
  return build_frame(rst);
}

TEST(Close, ResetInTimeWaitEndsItWithoutRfc1337) {
  EngineOptions o = close_opts();
  o.tcp.rfc1337 = false;
  Scenario sc(o, close_opts());
  Conn c;
  wire::FourTuple tuple;
  std::vector<std::uint8_t> rst = time_wait_and_reset(sc, &c, &tuple);
  ASSERT_EQ(sc.a().gauges().timewait, 1u);
  const std::size_t mark = sc.trace.size();
  sc.inject(0, rst);
  sc.settle();
  EXPECT_FALSE(sc.tw_entry(0, tuple)) << "TIME-WAIT survived an exact RST";
  EXPECT_EQ(sc.a().gauges().timewait, 0u);
  EXPECT_TRUE(sc.sent_by(0, mark).empty());
}

TEST(Close, ResetInTimeWaitIsIgnoredWithRfc1337) {
  EngineOptions o = close_opts();
  o.tcp.rfc1337 = true;
  Scenario sc(o, close_opts());
  Conn c;
  wire::FourTuple tuple;
  std::vector<std::uint8_t> rst = time_wait_and_reset(sc, &c, &tuple);
  const Instant entered = sc.now();
  ASSERT_TRUE(sc.tw_entry(0, tuple));
  const std::int64_t expiry = sc.tw(0).expiry_ms(sc.tw_entry(0, tuple));
  EXPECT_EQ(expiry, entered.ms() + kTimeWaitUs / 1000);
  // Later than entry, so that a re-arm would show.
  sc.advance(Duration::seconds(1));
  const std::size_t mark = sc.trace.size();
  sc.inject(0, rst);
  sc.settle();
  ASSERT_TRUE(sc.in_time_wait(0, tuple)) << "RFC 1337: TIME-WAIT ignores resets";
  EXPECT_EQ(sc.tw(0).expiry_ms(sc.tw_entry(0, tuple)), expiry) << "an ignored reset re-armed the timer";
  EXPECT_EQ(sc.a().gauges().timewait, 1u);
  EXPECT_TRUE(sc.sent_by(0, mark).empty());
  sc.advance_to(entered + Duration::micros(kTimeWaitUs) - Duration::millis(1));
  EXPECT_TRUE(sc.in_time_wait(0, tuple));
  sc.advance_to(entered + Duration::micros(kTimeWaitUs));
  EXPECT_FALSE(sc.tw_entry(0, tuple)) << "and still ends on time";
}

TEST(Close, OrphanedFinWait2TimesOutAfterFinTimeout) {
  EngineOptions o = close_opts();
  o.tcp.fin_timeout = Duration::seconds(5);
  o.tcp.timewait_len = Duration::seconds(60);
  Scenario sc(o, close_opts(), one_ms());
  Conn c = sc.establish();
  ASSERT_LE(sc.a().tcb(c.client)->rto_us * 7 / 2, 5000000) << "precondition: tcp_fin_time() is tcp_fin_timeout";
  const wire::FourTuple tuple = sc.tuple_of(0, c.client);
  ASSERT_EQ(sc.a().close(c.client), Errc::kOk);  // the server never closes
  // tcp_fin_timeout <= the TIME-WAIT length: the orphan becomes a FIN_WAIT2
  // entry as soon as its FIN is acknowledged (docs/linux-timewait.md §1 c).
  ASSERT_TRUE(sc.run_until([&] { return bool(sc.tw_entry(0, tuple)); }, Duration::seconds(1)));
  const Instant entered = sc.now();
  const std::size_t mark = sc.trace.size();
  EXPECT_TRUE(sc.tw(0).fin_wait2(sc.tw_entry(0, tuple)));
  EXPECT_FALSE(sc.a().state(c.client).has_value()) << "the orphan is freed";
  EXPECT_EQ(sc.b().state(c.server), State::kCloseWait);
  EXPECT_EQ(sc.a().gauges().timewait, 1u) << "sockstat tw counts both substates";
  sc.advance_to(entered + Duration::millis(4999));
  EXPECT_TRUE(sc.tw_entry(0, tuple));
  sc.advance_to(entered + Duration::seconds(5));
  EXPECT_FALSE(sc.tw_entry(0, tuple)) << "net.ipv4.tcp_fin_timeout did not end FIN-WAIT-2";
  EXPECT_EQ(sc.a().connections(), 0u);
  EXPECT_EQ(sc.a().gauges().timewait, 0u);
  EXPECT_TRUE(sc.sent_by(0, mark).empty()) << "nothing is sent when it expires";
  EXPECT_EQ(sc.b().state(c.server), State::kCloseWait);
  // When the server finally closes, its FIN finds no connection: a reset
  // (<SEQ=SEG.ACK><CTL=RST>) ends LAST-ACK.
  const std::size_t mark2 = sc.trace.size();
  ASSERT_EQ(sc.b().close(c.server), Errc::kOk);
  sc.advance(Duration::millis(10));
  std::vector<Seg> v = sc.sent_by(0, mark2);
  ASSERT_EQ(v.size(), 1u) << sc.dump(mark2);
  EXPECT_TRUE(v[0].is(wire::kRst));
  EXPECT_EQ(v[0].seq, sc.sent_by(1, mark2)[0].ack);
  EXPECT_EQ(sc.b().connections(), 0u);
}

// RFC 1122 §4.2.2.13 / RFC 6191: a TIME-WAIT may accept a new SYN whose
// sequence number lies beyond the old incarnation's, and Linux does
// (tcp_timewait_state_process -> TCP_TW_SYN), with or without
// tcp_rfc1337. Here the server closed first and a client reconnects from
// the same port; its clock-driven ISN is above the old RCV.NXT.
TEST(Close, NewSynOnATimeWaitTupleReopensAtOnce) {
  EngineOptions server = close_opts();
  server.tcp.rfc1337 = true;
  server.tcp.timewait_len = Duration::seconds(60);
  Scenario sc(close_opts(), server, one_ms());
  ASSERT_EQ(sc.b().listen(80, 8), Errc::kOk);
  const std::uint16_t sport = 40000;
  ConnId first;
  ASSERT_EQ(sc.a().connect(memory::sim_addr(1), 80, &first, memory::sim_addr(0), sport), Errc::kOk);
  ASSERT_TRUE(sc.run_until([&] { return !sc.accepted[1].empty(); }, Duration::seconds(2)));
  const ConnId srv = sc.accepted[1][0];
  const wire::FourTuple tuple = sc.tuple_of(1, srv);
  close_on_peer_fin(sc, 0);
  ASSERT_EQ(sc.b().close(srv), Errc::kOk);
  ASSERT_TRUE(sc.run_until([&] { return !sc.a().state(first).has_value(); }, Duration::seconds(2)));
  sc.settle();
  ASSERT_TRUE(sc.in_time_wait(1, tuple));
  EXPECT_FALSE(sc.b().state(srv).has_value());
  const tw::Handle h = sc.tw_entry(1, tuple);
  const Seq old_rcv_nxt = sc.tw(1).rcv_nxt(h);
  const Seq old_snd_nxt = sc.tw(1).snd_nxt(h);
  sc.advance(Duration::seconds(1));

  const std::size_t mark = sc.trace.size();
  ConnId second;
  ASSERT_EQ(sc.a().connect(memory::sim_addr(1), 80, &second, memory::sim_addr(0), sport), Errc::kOk);
  ASSERT_GT(sc.a().tcb(second)->iss, old_rcv_nxt) << "precondition: the new ISN is beyond the old one";
  const Instant t0 = sc.now();
  ASSERT_TRUE(sc.run_until([&] { return sc.accepted[1].size() == 2; }, Duration::seconds(120)));
  EXPECT_LT(sc.now() - t0, Duration::millis(100))
      << "reconnecting took " << (sc.now() - t0).secs() << " s\n" << sc.dump(mark);
  EXPECT_EQ(sc.a().state(second), State::kEstablished);
  EXPECT_FALSE(sc.tw_entry(1, tuple)) << "the entry gave way to the new connection";
  // Linux tcp_v4_rcv: the new incarnation's ISN is tw_snd_nxt + 65537.
  EXPECT_EQ(sc.b().tcb(sc.accepted[1][1])->iss, old_snd_nxt + 65537);
}

}  // namespace
}  // namespace twstack
