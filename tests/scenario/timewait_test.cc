// TIME_WAIT as docs/linux-timewait.md describes Linux 6.18, one
// test per rule, two engines in virtual time: how long entries live (both
// substates, tcp_fin_timeout, TW/TWKilled) and the tcp_max_tw_buckets cap.
// timewait_reuse_test.cc covers connect()'s reuse, timewait_segments_test.cc
// the segment verdicts. Every expected number is derived from the rule it checks.

#include <gtest/gtest.h>

#include <set>

#include "timewait_support.hh"

namespace twstack::twtest {
namespace {

// §1, §2, §13 (b): TIME_WAIT lasts TCP_TIMEWAIT_LEN (twstack.tcp_timewait_len)
// whatever tcp_fin_timeout says; tcp_fin_timeout only decides whether an orphan
// first becomes a FIN_WAIT2 entry, and so whether the entry is counted TW or
// TWKilled (__inet_twsk_schedule counts at first arming: timeo <= 4 s is
// TWKilled). [run: fin_timeout 3 counted TWKilled, TIME_WAIT still 60 s]
TEST(TimeWait, LastsTimewaitLenWhateverFinTimeout) {
  struct Case {
    std::int64_t fin_timeout_us;
    bool fin_wait2_entry;  // tcp_fin_time() <= len: a FIN_WAIT2 entry at once
    Counter counted;
  };
  const Case cases[] = {
      {3000000, true, Counter::TcpExtTWKilled},
      {10000000, false, Counter::TcpExtTW},
      {StackConfig{}.tcp_fin_timeout.us, false, Counter::TcpExtTW},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE("tcp_fin_timeout " + std::to_string(k.fin_timeout_us) + " us");
    EngineOptions o = tw_opts();
    o.tcp.fin_timeout = Duration::micros(k.fin_timeout_us);
    Scenario sc(o, tw_opts(), one_ms());
    ASSERT_EQ(sc.b().listen(kPort, 8), Errc::kOk);
    Conn c = open(sc);
    ASSERT_LE(sc.a().tcb(c.client)->rto_us * 7 / 2, 4000000) << "precondition: tcp_fin_time() <= 4 s";
    ASSERT_EQ(sc.tw(0).granularity_ms(), 1u);
    const wire::FourTuple t = sc.tuple_of(0, c.client);
    ASSERT_EQ(sc.a().close(c.client), Errc::kOk);
    // The server delays its FIN by 100 ms: the client passes through FIN_WAIT2.
    sc.advance(Duration::millis(100));
    ASSERT_EQ(sc.b().state(c.server), State::kCloseWait);
    if (k.fin_wait2_entry) {
      const tw::Handle h = sc.tw_entry(0, t);
      ASSERT_TRUE(h);
      EXPECT_TRUE(sc.tw(0).fin_wait2(h));
      EXPECT_FALSE(sc.a().state(c.client).has_value());
    } else {
      EXPECT_FALSE(sc.tw_entry(0, t));
      EXPECT_EQ(sc.a().state(c.client), State::kFinWait2) << "a full connection until the FIN";
    }
    ASSERT_EQ(sc.b().close(c.server), Errc::kOk);
    ASSERT_TRUE(sc.run_until([&] { return sc.in_time_wait(0, t); }, Duration::seconds(1)));
    const Instant entered = sc.now();
    EXPECT_EQ(expiry(sc, 0, t), entered.ms() + kLenMs);
    EXPECT_EQ(sc.ctr(0, k.counted), 1u);
    EXPECT_EQ(sc.ctr(0, Counter::TcpExtTW) + sc.ctr(0, Counter::TcpExtTWKilled), 1u) << "counted once";
    sc.advance_to(entered + kLen - Duration::millis(1));
    EXPECT_TRUE(sc.in_time_wait(0, t)) << "TIME_WAIT ended before tcp_timewait_len";
    sc.advance_to(entered + kLen);
    EXPECT_FALSE(sc.tw_entry(0, t)) << "TIME_WAIT outlived tcp_timewait_len";
    EXPECT_EQ(sc.a().gauges().timewait, 0u);
  }
}

// §1 c, §2: an orphan whose FIN is acknowledged becomes a FIN_WAIT2 entry
// (tw_substate FIN_WAIT2) for tcp_fin_timeout when that is <= the TIME_WAIT
// length; it counts in sockstat's tw, and nothing is sent when it expires. A
// FIN after that finds no socket: RST (RFC 9293 §3.10.7.1).
TEST(TimeWait, OrphanFinWait2EntryLastsFinTimeout) {
  EngineOptions o = tw_opts();
  o.tcp.fin_timeout = Duration::seconds(5);
  Scenario sc(o, tw_opts(), one_ms());
  ASSERT_EQ(sc.b().listen(kPort, 8), Errc::kOk);
  Conn c = open(sc);
  ASSERT_LE(sc.a().tcb(c.client)->rto_us * 7 / 2, 5000000) << "precondition: tcp_fin_time() = 5 s";
  const wire::FourTuple t = sc.tuple_of(0, c.client);
  ASSERT_EQ(sc.a().close(c.client), Errc::kOk);  // the server never closes
  ASSERT_TRUE(sc.run_until([&] { return bool(sc.tw_entry(0, t)); }, Duration::seconds(1)));
  const Instant entered = sc.now();
  const std::size_t mark = sc.trace.size();
  EXPECT_TRUE(sc.tw(0).fin_wait2(sc.tw_entry(0, t)));
  EXPECT_EQ(expiry(sc, 0, t), entered.ms() + 5000);
  EXPECT_FALSE(sc.a().state(c.client).has_value()) << "the orphan is freed";
  EXPECT_EQ(sc.a().gauges().timewait, 1u);
  EXPECT_EQ(sc.a().gauges().orphaned, 0u);
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTW), 1u) << "5 s > 4 s: TW, not TWKilled";
  sc.advance_to(entered + Duration::millis(4999));
  EXPECT_TRUE(sc.tw_entry(0, t));
  sc.advance_to(entered + Duration::seconds(5));
  EXPECT_FALSE(sc.tw_entry(0, t));
  EXPECT_EQ(sc.a().gauges().timewait, 0u);
  EXPECT_TRUE(sc.sent_by(0, mark).empty()) << "nothing is sent on expiry";

  const Seq server_fin = sc.b().tcb(c.server)->snd_nxt;
  const std::size_t mark2 = sc.trace.size();
  ASSERT_EQ(sc.b().close(c.server), Errc::kOk);
  sc.advance(Duration::millis(10));
  std::vector<Seg> v = sc.sent_by(0, mark2);
  ASSERT_EQ(v.size(), 1u) << sc.dump(mark2);
  EXPECT_TRUE(v[0].is(wire::kRst));
  EXPECT_EQ(v[0].seq, sc.sent_by(1, mark2)[0].ack);
  EXPECT_EQ(sc.sent_by(1, mark2)[0].seq, server_fin);
  EXPECT_FALSE(sc.b().state(c.server).has_value()) << "the reset ended LAST-ACK";
}

// §1 c, the tcp_fin_timeout > TCP_TIMEWAIT_LEN quirk: the full connection
// waits tmo - len in FIN_WAIT2 (tcp_keepalive_timer), then a FIN_WAIT2 entry
// lasts tmo - len more. [run: fin_timeout 65 gave 5 s + 5 s, ~10 s in all]
TEST(TimeWait, FinTimeoutAboveLenWaitsTwiceTheExcess) {
  EngineOptions o = tw_opts();
  o.tcp.timewait_len = Duration::seconds(60);
  o.tcp.fin_timeout = Duration::seconds(65);
  Scenario sc(o, tw_opts(), one_ms());
  ASSERT_EQ(sc.b().listen(kPort, 8), Errc::kOk);
  Conn c = open(sc);
  ASSERT_LE(sc.a().tcb(c.client)->rto_us * 7 / 2, 5000000) << "precondition: timeo = 5 s (>= 3.5 RTO)";
  const wire::FourTuple t = sc.tuple_of(0, c.client);
  ASSERT_EQ(sc.a().close(c.client), Errc::kOk);
  ASSERT_TRUE(sc.run_until([&] { return sc.a().state(c.client) == State::kFinWait2; }, Duration::seconds(1)));
  const Instant t0 = sc.now();
  sc.advance_to(t0 + Duration::millis(4999));
  EXPECT_EQ(sc.a().state(c.client), State::kFinWait2);
  EXPECT_EQ(sc.a().gauges().orphaned, 1u);
  EXPECT_FALSE(sc.tw_entry(0, t));
  EXPECT_EQ(sc.a().gauges().timewait, 0u);
  sc.advance_to(t0 + Duration::seconds(5));
  EXPECT_FALSE(sc.a().state(c.client).has_value());
  ASSERT_TRUE(sc.tw_entry(0, t)) << "no FIN_WAIT2 entry after tmo - len";
  EXPECT_TRUE(sc.tw(0).fin_wait2(sc.tw_entry(0, t)));
  EXPECT_EQ(expiry(sc, 0, t), t0.ms() + 10000);
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTW), 1u);
  sc.advance_to(t0 + Duration::millis(9999));
  EXPECT_TRUE(sc.tw_entry(0, t));
  sc.advance_to(t0 + Duration::seconds(10));
  EXPECT_FALSE(sc.tw_entry(0, t)) << "2 * (tmo - len) in all, not tmo";
  EXPECT_EQ(sc.ctr(0, Counter::TcpOutRsts), 0u);
}

// §1 (FIN_WAIT2 timewait socket receiving the in-order FIN), §3 FIN_WAIT2
// step 6: substate TIME_WAIT, rcv_nxt advanced, ts_recent refreshed from
// the FIN, timer re-armed to the full length, and an ACK. Not counted again.
TEST(TimeWait, FinIntoFinWait2EntryMovesItToTimeWait) {
  Scenario sc(fw2_opts(), tw_opts(), one_ms());
  Conn c;
  const wire::FourTuple t = orphan_in_fin_wait2(sc, &c);
  const Instant fw2_at = sc.now();
  sc.advance(Duration::seconds(2));
  const Snap before = snap(sc, 0, t);

  const Seq fin_seq = sc.b().tcb(c.server)->snd_nxt;
  const std::size_t mark = sc.trace.size();
  ASSERT_EQ(sc.b().close(c.server), Errc::kOk);
  ASSERT_TRUE(sc.run_until([&] { return sc.in_time_wait(0, t); }, Duration::seconds(1)));
  const Instant entered = sc.now();
  sc.advance(Duration::millis(1));
  const Snap e = snap(sc, 0, t);
  EXPECT_EQ(e.rcv_nxt, fin_seq + 1);
  EXPECT_EQ(e.rcv_nxt, before.rcv_nxt + 1);
  EXPECT_EQ(e.snd_nxt, before.snd_nxt);
  EXPECT_EQ(e.expiry_ms, entered.ms() + kLenMs) << "re-armed to the TIME_WAIT length";
  EXPECT_EQ(e.entry_ms, entered.ms()) << "tw_entry_stamp refreshed by a FIN with a timestamp";
  std::vector<Seg> fin = sc.sent_by(1, mark);
  ASSERT_EQ(fin.size(), 1u) << sc.dump(mark);
  ASSERT_TRUE(fin[0].has(wire::kFin) && fin[0].opt.has_timestamps);
  EXPECT_EQ(e.ts_recent, fin[0].opt.tsval);
  std::vector<Seg> ack = sc.sent_by(0, mark);
  ASSERT_EQ(ack.size(), 1u) << sc.dump(mark);
  expect_tw_ack(ack[0], e, fin[0].opt.tsval);
  EXPECT_FALSE(sc.b().state(c.server).has_value()) << "the ACK ended LAST-ACK";
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTW), 1u);
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTWKilled), 0u);
  // It outlives the FIN_WAIT2 timeout it had.
  sc.advance_to(fw2_at + Duration::seconds(5));
  EXPECT_TRUE(sc.in_time_wait(0, t));
  sc.advance_to(entered + kLen - Duration::millis(1));
  EXPECT_TRUE(sc.in_time_wait(0, t));
  sc.advance_to(entered + kLen);
  EXPECT_FALSE(sc.tw_entry(0, t));
}

// §1 step 3 (tcp_time_wait: timeo = max(timeo, 3.5 RTO)): a FIN_WAIT2
// entry's timeout is never below 3.5 RTO; 3.5 s <= 4 s still counts TWKilled.
TEST(TimeWait, FinWait2TimeoutIsAtLeastThreeAndAHalfRto) {
  EngineOptions o = tw_opts();
  o.tcp.fin_timeout = Duration::seconds(1);
  o.tcp.rto_min = Duration::seconds(1);
  Scenario sc(o, tw_opts());
  ASSERT_EQ(sc.b().listen(kPort, 8), Errc::kOk);
  Conn c = open(sc);
  ASSERT_EQ(sc.a().tcb(c.client)->rto_us, 1000000);
  const wire::FourTuple t = sc.tuple_of(0, c.client);
  ASSERT_EQ(sc.a().close(c.client), Errc::kOk);
  sc.settle();
  ASSERT_TRUE(sc.tw_entry(0, t));
  EXPECT_TRUE(sc.tw(0).fin_wait2(sc.tw_entry(0, t)));
  // 3.5 x (1 s + SRTT): the FIN's ACK gave a timestamp sample of 1 ms.
  EXPECT_GE(expiry(sc, 0, t), sc.now().ms() + 3500);
  EXPECT_LE(expiry(sc, 0, t), sc.now().ms() + 3510);
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTWKilled), 1u);
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTW), 0u);
}

// §1 d: a FIN_WAIT2 connection the application still holds (after
// shutdown) has no timeout and never becomes an entry.
TEST(TimeWait, HeldFinWait2HasNoTimeout) {
  EngineOptions o = tw_opts();
  o.tcp.fin_timeout = Duration::seconds(5);
  Scenario sc(o, tw_opts(), one_ms());
  ASSERT_EQ(sc.b().listen(kPort, 8), Errc::kOk);
  Conn c = open(sc);
  const wire::FourTuple t = sc.tuple_of(0, c.client);
  ASSERT_EQ(sc.a().shutdown(c.client), Errc::kOk);
  sc.advance(Duration::seconds(12));
  EXPECT_EQ(sc.a().state(c.client), State::kFinWait2);
  EXPECT_FALSE(sc.tw_entry(0, t));
  EXPECT_EQ(sc.a().gauges().timewait, 0u);
  EXPECT_EQ(sc.b().state(c.server), State::kCloseWait);
}

// §4: inet_twsk_alloc fails once tcp_max_tw_buckets entries are armed; the
// connection goes straight to CLOSED (TCPTimeWaitOverflow++) and its port is
// free at once. [run: limit 5, 10 active closes -> tw 5, TW +5, overflow +5]
// With twstack.tw_overflow_policy evict-oldest the entry nearest to expiry
// gives way instead (not a Linux behaviour).
TEST(TimeWait, CapHoldsExactly) {
  for (TwOverflowPolicy policy : {TwOverflowPolicy::kDrop, TwOverflowPolicy::kEvictOldest}) {
    const bool evict = policy == TwOverflowPolicy::kEvictOldest;
    SCOPED_TRACE(evict ? "evict-oldest" : "refuse");
    EngineOptions o = tw_opts();
    o.max_tw_buckets = 5;
    o.tw_overflow = policy;
    o.tw_reuse = 0;
    o.ports.range = PortRange{40000, 40009};
    Scenario sc(o, tw_opts());
    ASSERT_EQ(sc.b().listen(kPort, 16), Errc::kOk);
    std::vector<Conn> conns;
    std::vector<wire::FourTuple> tuples;
    for (int i = 0; i < 10; ++i) {
      conns.push_back(open(sc));
      tuples.push_back(sc.tuple_of(0, conns.back().client));
    }
    close_on_peer_fin(sc, 1);
    // One at a time, 10 ms apart, so "oldest" is well defined.
    for (int i = 0; i < 10; ++i) {
      ASSERT_EQ(sc.a().close(conns[i].client), Errc::kOk);
      sc.settle();
      EXPECT_FALSE(sc.a().state(conns[i].client).has_value()) << i;
      sc.advance(Duration::millis(10));
    }
    EXPECT_EQ(sc.tw(0).live(), 5u);
    EXPECT_EQ(sc.a().gauges().timewait, 5u);
    EXPECT_EQ(sc.ctr(0, Counter::TcpExtTCPTimeWaitOverflow), evict ? 0u : 5u);
    EXPECT_EQ(sc.ctr(0, Counter::TwstackTwEvicted), evict ? 5u : 0u);
    EXPECT_EQ(sc.ctr(0, Counter::TcpExtTW), evict ? 10u : 5u);
    // Refuse keeps the first five; evict-oldest the last five.
    std::set<std::uint16_t> freed;
    for (int i = 0; i < 10; ++i) {
      const bool kept = evict ? i >= 5 : i < 5;
      EXPECT_EQ(sc.in_time_wait(0, tuples[i]), kept) << i;
      if (!kept) freed.insert(tuples[i].lport);
    }
    // Every close completed: the final ACK went out even when no entry
    // followed (tcp_fin sends it before tcp_time_wait, §4).
    EXPECT_EQ(sc.b().connections(), 0u);
    EXPECT_EQ(sc.ctr(0, Counter::TcpOutRsts), 0u);
    EXPECT_EQ(sc.ctr(1, Counter::TcpRetransSegs), 0u);
    // A retransmitted FIN for a tuple without an entry finds no socket: RST.
    const wire::FourTuple gone = tuples[evict ? 0 : 9];
    SegSpec fin = toward(sc, 0, gone);
    fin.seq = Seq(12345);
    fin.ack = Seq(67890);
    fin.flags = wire::kFin | wire::kAck;
    std::vector<Seg> r = inject(sc, 0, fin);
    ASSERT_EQ(r.size(), 1u) << sc.dump();
    EXPECT_TRUE(r[0].is(wire::kRst));
    EXPECT_EQ(r[0].seq, Seq(67890));
    // The five ports without an entry are free at once; the five with one are not.
    for (int i = 0; i < 5; ++i) {
      Conn n = open(sc);
      EXPECT_EQ(freed.count(sc.tuple_of(0, n.client).lport), 1u) << i;
    }
    ConnId extra;
    EXPECT_EQ(sc.a().connect(sc.addr(1), kPort, &extra), Errc::kAddrNotAvail);
  }
}

// §4: the cap counts both substates. An orphan reaching FIN_WAIT2 when the
// table is full goes straight to CLOSED (no FIN_WAIT2 wait, overflow
// counted), its port is free at once, and the peer's later FIN gets a RST.
TEST(TimeWait, CapCountsFinWait2Entries) {
  EngineOptions o = tw_opts();
  o.max_tw_buckets = 2;
  o.tcp.fin_timeout = Duration::seconds(5);
  o.tw_reuse = 0;
  o.ports.range = PortRange{40000, 40002};
  Scenario sc(o, tw_opts());
  ASSERT_EQ(sc.b().listen(kPort, 16), Errc::kOk);
  std::vector<Conn> conns;
  std::vector<wire::FourTuple> tuples;
  for (int i = 0; i < 3; ++i) {
    conns.push_back(open(sc));
    tuples.push_back(sc.tuple_of(0, conns.back().client));
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(sc.a().close(conns[i].client), Errc::kOk);  // the server never closes
    sc.settle();
    EXPECT_FALSE(sc.a().state(conns[i].client).has_value()) << i;
  }
  EXPECT_TRUE(sc.tw_entry(0, tuples[0]) && sc.tw(0).fin_wait2(sc.tw_entry(0, tuples[0])));
  EXPECT_TRUE(sc.tw_entry(0, tuples[1]) && sc.tw(0).fin_wait2(sc.tw_entry(0, tuples[1])));
  EXPECT_FALSE(sc.tw_entry(0, tuples[2]));
  EXPECT_EQ(sc.tw(0).live(), 2u);
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTCPTimeWaitOverflow), 1u);
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTW), 2u);
  const std::size_t mark = sc.trace.size();
  ASSERT_EQ(sc.b().close(conns[2].server), Errc::kOk);
  sc.settle();
  std::vector<Seg> v = sc.sent_by(0, mark);
  ASSERT_EQ(v.size(), 1u) << sc.dump(mark);
  EXPECT_TRUE(v[0].is(wire::kRst));
  EXPECT_FALSE(sc.b().state(conns[2].server).has_value());
  Conn n = open(sc);
  EXPECT_EQ(sc.tuple_of(0, n.client).lport, tuples[2].lport) << "the overflowed port was not free";
}

}  // namespace
}  // namespace twstack::twtest
