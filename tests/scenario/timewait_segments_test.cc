// Segments addressed to TIME_WAIT entries (docs/linux-timewait.md §2, §3, §6, §9): the
// re-ACK of a retransmitted FIN and what re-arms the timer, RSTs and
// tcp_rfc1337, SYNs reopening the tuple on the passive side, PAWS and the ACK
// rate limit, and the FIN_WAIT2 substate's checks.
//
// Segments are crafted with the wire builders and handed to rx(); replies are
// read from the trace. The entry side's replies are dropped on the link: the
// peer has no connection any more and would answer them with a reset, which
// (tcp_rfc1337=0) kills the entry (docs/linux-timewait.md §3, last [run]).

#include <gtest/gtest.h>

#include <set>

#include "timewait_support.hh"

namespace twstack::twtest {
namespace {

// §2 "events that re-arm", §3 TIME_WAIT steps 1 and 4, §3 "timewait ACK":
// - a retransmitted FIN (seq = rcv_nxt - 1) is out of window: re-armed and
//   ACKed with SEQ = tw_snd_nxt, ACK = tw_rcv_nxt and TSecr = the old
//   ts_recent (never updated from out-of-window segments); FINs are not
//   rate-limited (RFC 9293 §3.10.7.4: "acknowledge it, and restart the 2 MSL
//   timeout");
// - an in-window bare ACK re-arms, updates ts_recent and is not answered;
// - an ACK-less SYN that is not accepted gets an ACK but no re-arm.
TEST(TimeWait, RetransmittedFinIsReAckedAndRestartsTimer) {
  Scenario sc(tw_opts(), tw_opts());
  const wire::FourTuple t = quiet_client_entry(sc);
  const Snap e = snap(sc, 0, t);
  ASSERT_TRUE(e.has_ts);
  ASSERT_LT(e.expiry_ms, sc.now().ms() + kLenMs);
  // The stored window is the one the connection's last ACK advertised.
  const Seg* last_ack = nullptr;
  for (const Seg& g : sc.trace) {
    if (g.from == 0 && !g.dropped) last_ack = &g;
  }
  ASSERT_TRUE(last_ack != nullptr && last_ack->pure_ack() && last_ack->ack == e.rcv_nxt) << sc.dump();
  EXPECT_EQ(e.window, last_ack->wnd);

  for (int i = 0; i < 2; ++i) {
    SegSpec fin = sc.to_entry(0, t);
    fin.seq = e.rcv_nxt - 1;
    fin.flags = wire::kFin | wire::kAck;
    fin.options = ts_option(e.ts_recent + 1000 + i, 1);
    std::vector<Seg> r = inject(sc, 0, fin);
    ASSERT_EQ(r.size(), 1u) << "retransmitted FIN #" << i << "\n" << sc.dump();
    expect_tw_ack(r[0], e, e.ts_recent);
    // TSval = now + the connection's TS offset (tw_ts_offset).
    const std::optional<std::uint32_t> offset = ts_offset_seen(sc, 0, t.lport);
    ASSERT_TRUE(offset.has_value());
    EXPECT_EQ(r[0].opt.tsval, static_cast<std::uint32_t>(sc.now().ms()) + *offset);
    EXPECT_EQ(expiry(sc, 0, t), sc.now().ms() + kLenMs) << "not re-armed";
    const Snap after = snap(sc, 0, t);
    EXPECT_EQ(after.ts_recent, e.ts_recent) << "ts_recent updated from an out-of-window segment";
    EXPECT_EQ(after.rcv_nxt, e.rcv_nxt);
    sc.advance(Duration::millis(100));
  }
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTCPACKSkippedTimeWait), 0u);

  sc.advance(Duration::seconds(1));
  SegSpec ack = sc.to_entry(0, t);
  ack.options = ts_option(e.ts_recent + 2000, 1);
  EXPECT_TRUE(inject(sc, 0, ack).empty()) << "an in-window bare ACK is not answered";
  EXPECT_EQ(expiry(sc, 0, t), sc.now().ms() + kLenMs) << "an in-window bare ACK re-arms";
  EXPECT_EQ(snap(sc, 0, t).ts_recent, e.ts_recent + 2000);

  sc.advance(Duration::seconds(1));
  const Snap e2 = snap(sc, 0, t);
  SegSpec syn = sc.to_entry(0, t);
  syn.seq = e.rcv_nxt - 100000;  // old sequence number
  syn.ack = Seq(0);
  syn.flags = wire::kSyn;
  syn.options = ts_option(e2.ts_recent, 0);  // not newer, not PAWS-rejected
  std::vector<Seg> r = inject(sc, 0, syn);
  ASSERT_EQ(r.size(), 1u) << "an unaccepted SYN gets an ACK\n" << sc.dump();
  expect_tw_ack(r[0], e2, e2.ts_recent);
  EXPECT_EQ(expiry(sc, 0, t), e2.expiry_ms) << "an ACK-less SYN must not re-arm";
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtPAWSTimewait), 0u);
  EXPECT_TRUE(sc.in_time_wait(0, t));
}

// §3 TIME_WAIT step 1 (RFC 1337 "TIME-WAIT assassination"): an in-window
// RST (seq == rcv_nxt) kills the entry when tcp_rfc1337=0 and is ignored
// when 1 (no re-arm, 6.6+); step 5: any other RST is dropped. Killing frees
// the port (inet_twsk_deschedule_put).
TEST(TimeWait, RstKillsOnlyWithRfc1337Off) {
  for (bool rfc1337 : {false, true}) {
    SCOPED_TRACE(rfc1337 ? "tcp_rfc1337=1" : "tcp_rfc1337=0");
    EngineOptions o = one_port_opts(0);
    o.tcp.rfc1337 = rfc1337;
    Scenario sc(o, tw_opts());
    const wire::FourTuple t = quiet_client_entry(sc);
    const Snap e = snap(sc, 0, t);
    for (Seq seq : {e.rcv_nxt + 1, e.rcv_nxt - 1, e.rcv_nxt + 100000}) {
      SegSpec rst = sc.to_entry(0, t);
      rst.seq = seq;
      rst.flags = wire::kRst;
      EXPECT_TRUE(inject(sc, 0, rst).empty());
      EXPECT_EQ(expiry(sc, 0, t), e.expiry_ms) << "an out-of-window RST is dropped, seq " << seq.raw();
    }
    SegSpec rst = sc.to_entry(0, t);
    rst.flags = wire::kRst;
    rst.options = ts_option(e.ts_recent + 5, 1);
    EXPECT_TRUE(inject(sc, 0, rst).empty()) << "a reset is never answered";
    ConnId id;
    if (rfc1337) {
      EXPECT_TRUE(sc.in_time_wait(0, t));
      EXPECT_EQ(expiry(sc, 0, t), e.expiry_ms) << "an ignored RST must not re-arm";
      EXPECT_EQ(snap(sc, 0, t).rcv_nxt, e.rcv_nxt);
      EXPECT_EQ(snap(sc, 0, t).ts_recent, e.ts_recent + 5) << "an in-window segment's TSval is kept";
      EXPECT_EQ(sc.a().connect(sc.addr(1), kPort, &id), Errc::kAddrNotAvail);
    } else {
      EXPECT_FALSE(sc.tw_entry(0, t));
      EXPECT_EQ(sc.a().gauges().timewait, 0u);
      EXPECT_EQ(sc.a().connect(sc.addr(1), kPort, &id), Errc::kOk) << "the port was not freed";
      EXPECT_EQ(sc.a().tcb(id)->tuple, t);
    }
  }
}

// The takeover (§6 "with a listener"): the entry dies and the listener
// answers with ISN tw_snd_nxt + 65537; no counter moves.
void expect_passive_takeover(Scenario& sc, const wire::FourTuple& t, const Snap& e, const SegSpec& syn,
                             const std::vector<Seg>& r) {
  ASSERT_EQ(r.size(), 1u) << sc.dump();
  EXPECT_TRUE(r[0].is(wire::kSyn | wire::kAck));
  EXPECT_EQ(r[0].seq, e.snd_nxt + 65537);
  EXPECT_EQ(r[0].ack, syn.seq + 1);
  EXPECT_FALSE(sc.tw_entry(1, t));
  EXPECT_EQ(sc.ctr(1, Counter::TcpExtTWRecycled), 0u);
  EXPECT_EQ(sc.ctr(1, Counter::TcpExtPAWSTimewait), 0u);
  // The handshake completes.
  SegSpec ack = syn;
  ack.seq = syn.seq + 1;
  ack.ack = r[0].seq + 1;
  ack.flags = wire::kAck;
  if (r[0].opt.has_timestamps) ack.options = ts_option(e.ts_recent + 2, r[0].opt.tsval);
  const std::size_t before = sc.accepted[1].size();
  inject(sc, 1, ack);
  ASSERT_EQ(sc.accepted[1].size(), before + 1);
  EXPECT_EQ(sc.b().state(sc.accepted[1].back()), State::kEstablished);
  EXPECT_EQ(sc.b().tcb(sc.accepted[1].back())->iss, e.snd_nxt + 65537);
}

// §3 TIME_WAIT step 2, §6: a SYN is accepted if PAWS passes and (seq >
// rcv_nxt, RFC 1122 §4.2.2.13, or TSval > ts_recent, RFC 6191 §2). A
// PAWS-rejected SYN is ACKed, re-arms and counts PAWSTimewait; with no
// listener an accepted SYN gets an ACK and the entry stays, not re-armed.
TEST(TimeWait, SynWithNewerTimestampTakesOverOnPassiveSide) {
  {
    SCOPED_TRACE("seq below rcv_nxt, newer TSval");
    Scenario sc(tw_opts(), tw_opts());
    const wire::FourTuple t = quiet_server_entry(sc);
    const Snap e = snap(sc, 1, t);
    ASSERT_TRUE(e.has_ts);
    SegSpec syn = syn_to(sc, t, e.rcv_nxt - 1000);
    syn.options = ts_option(e.ts_recent + 1, 0);
    expect_passive_takeover(sc, t, e, syn, inject(sc, 1, syn));
  }
  {
    SCOPED_TRACE("seq above rcv_nxt, older TSval: PAWS");
    Scenario sc(tw_opts(), tw_opts());
    const wire::FourTuple t = quiet_server_entry(sc);
    const Snap e = snap(sc, 1, t);
    SegSpec syn = syn_to(sc, t, e.rcv_nxt + 1000);
    syn.options = ts_option(e.ts_recent - 1, 0);
    std::vector<Seg> r = inject(sc, 1, syn);
    ASSERT_EQ(r.size(), 1u) << sc.dump();
    expect_tw_ack(r[0], e, e.ts_recent);
    EXPECT_EQ(sc.ctr(1, Counter::TcpExtPAWSTimewait), 1u);
    EXPECT_EQ(expiry(sc, 1, t), sc.now().ms() + kLenMs) << "a PAWS-rejected segment re-arms";
    EXPECT_TRUE(sc.in_time_wait(1, t));
    EXPECT_TRUE(sc.accepted[1].size() == 1u);
  }
  {
    SCOPED_TRACE("no timestamps, seq above rcv_nxt");
    EngineOptions o = tw_opts();
    o.tcp.timestamps = 0;
    Scenario sc(o, o);
    const wire::FourTuple t = quiet_server_entry(sc);
    const Snap e = snap(sc, 1, t);
    ASSERT_FALSE(e.has_ts);
    SegSpec syn = syn_to(sc, t, e.rcv_nxt + 1);
    expect_passive_takeover(sc, t, e, syn, inject(sc, 1, syn));
  }
  {
    SCOPED_TRACE("no timestamps, seq at rcv_nxt: not accepted");
    EngineOptions o = tw_opts();
    o.tcp.timestamps = 0;
    Scenario sc(o, o);
    const wire::FourTuple t = quiet_server_entry(sc);
    const Snap e = snap(sc, 1, t);
    std::vector<Seg> r = inject(sc, 1, syn_to(sc, t, e.rcv_nxt));
    ASSERT_EQ(r.size(), 1u) << sc.dump();
    EXPECT_TRUE(r[0].pure_ack());
    EXPECT_EQ(r[0].seq, e.snd_nxt);
    EXPECT_EQ(r[0].ack, e.rcv_nxt);
    EXPECT_FALSE(r[0].opt.has_timestamps) << "no ts_recent: no TS option";
    EXPECT_TRUE(sc.in_time_wait(1, t));
    EXPECT_EQ(expiry(sc, 1, t), e.expiry_ms);
  }
  {
    SCOPED_TRACE("accepted SYN, no listener");
    Scenario sc(tw_opts(), tw_opts());
    const wire::FourTuple t = quiet_server_entry(sc);
    ASSERT_EQ(sc.b().unlisten(kPort), Errc::kOk);
    const Snap e = snap(sc, 1, t);
    SegSpec syn = syn_to(sc, t, e.rcv_nxt + 1000);
    syn.options = ts_option(e.ts_recent + 1, 0);
    std::vector<Seg> r = inject(sc, 1, syn);
    ASSERT_EQ(r.size(), 1u) << sc.dump();
    expect_tw_ack(r[0], e, e.ts_recent);
    EXPECT_TRUE(sc.in_time_wait(1, t));
    EXPECT_EQ(expiry(sc, 1, t), e.expiry_ms) << "no re-arm";
  }
}

// §3 PAWS pre-step and steps 3-4, §3 "Rate limit": tcp_invalid_ratelimit
// allows one ACK per 500 ms per entry for zero-length segments and SYNs
// (skips count TCPACKSkippedTimeWait); data and FIN segments are always
// answered. A PAWS-rejected segment counts PAWSTimewait, re-arms, and is
// answered (rate-limited). Out-of-window segments with ACK re-arm.
TEST(TimeWait, PawsAndAckRateLimit) {
  Scenario sc(tw_opts(), tw_opts());
  const wire::FourTuple t = quiet_client_entry(sc);
  const Snap e = snap(sc, 0, t);
  const Instant t1 = sc.now();
  auto oow_ack = [&] {
    SegSpec s = sc.to_entry(0, t);
    s.seq = e.rcv_nxt + 10000;
    s.options = ts_option(e.ts_recent + 1, 1);
    return s;
  };
  std::vector<Seg> r = inject(sc, 0, oow_ack());
  ASSERT_EQ(r.size(), 1u) << sc.dump();
  expect_tw_ack(r[0], e, e.ts_recent);
  EXPECT_EQ(expiry(sc, 0, t), sc.now().ms() + kLenMs);

  sc.advance_to(t1 + Duration::millis(100));
  EXPECT_TRUE(inject(sc, 0, oow_ack()).empty()) << "second ACK within 500 ms";
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTCPACKSkippedTimeWait), 1u);
  EXPECT_EQ(expiry(sc, 0, t), sc.now().ms() + kLenMs) << "re-armed even when the ACK is skipped";

  sc.advance_to(t1 + Duration::millis(200));
  SegSpec data = oow_ack();
  data.seq = e.rcv_nxt - 100;
  data.payload = pattern(10, 1);
  EXPECT_EQ(inject(sc, 0, data).size(), 1u) << "data is always answered";
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTCPACKSkippedTimeWait), 1u);

  sc.advance_to(t1 + Duration::millis(499));
  EXPECT_TRUE(inject(sc, 0, oow_ack()).empty());
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTCPACKSkippedTimeWait), 2u);
  sc.advance_to(t1 + Duration::millis(500));
  EXPECT_EQ(inject(sc, 0, oow_ack()).size(), 1u) << "500 ms after the last ACK";
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTCPACKSkippedTimeWait), 2u);
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtPAWSTimewait), 0u);
  EXPECT_EQ(snap(sc, 0, t).ts_recent, e.ts_recent);

  // PAWS: seq == rcv_nxt, a bare ACK, but an older TSval.
  sc.advance_to(t1 + Duration::millis(1100));
  SegSpec old = sc.to_entry(0, t);
  old.options = ts_option(e.ts_recent - 1, 1);
  r = inject(sc, 0, old);
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtPAWSTimewait), 1u);
  ASSERT_EQ(r.size(), 1u) << sc.dump();
  expect_tw_ack(r[0], e, e.ts_recent);
  EXPECT_EQ(expiry(sc, 0, t), sc.now().ms() + kLenMs);
  EXPECT_EQ(snap(sc, 0, t).ts_recent, e.ts_recent);
  sc.advance_to(t1 + Duration::millis(1200));
  EXPECT_TRUE(inject(sc, 0, old).empty()) << "PAWS ACKs are rate-limited too";
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtPAWSTimewait), 2u);
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTCPACKSkippedTimeWait), 3u);
}

// §3 FIN_WAIT2 substate step 1: out of window -> a rate-limited ACK
// (TCPACKSkippedFinWait2); step 4: a duplicate is dropped silently.
TEST(TimeWait, FinWait2EntryAckRateLimit) {
  Scenario sc(fw2_opts(), tw_opts(), one_ms());
  Conn c;
  const wire::FourTuple t = orphan_in_fin_wait2(sc, &c);
  sc.drop = [](const Seg& s) { return s.from == 0; };
  sc.advance(Duration::millis(100));
  const Snap e = snap(sc, 0, t);
  SegSpec s = sc.to_entry(0, t);
  s.seq = e.rcv_nxt - 1000;
  s.options = ts_option(e.ts_recent + 1, 1);
  std::vector<Seg> r = inject(sc, 0, s);
  ASSERT_EQ(r.size(), 1u) << sc.dump();
  expect_tw_ack(r[0], e, e.ts_recent);
  sc.advance(Duration::millis(100));
  EXPECT_TRUE(inject(sc, 0, s).empty());
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTCPACKSkippedFinWait2), 1u);
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTCPACKSkippedTimeWait), 0u);
  SegSpec dup = sc.to_entry(0, t);  // in window, nothing new
  dup.options = ts_option(e.ts_recent + 1, 1);
  EXPECT_TRUE(inject(sc, 0, dup).empty());
  EXPECT_TRUE(sc.tw(0).fin_wait2(sc.tw_entry(0, t)));
  EXPECT_EQ(expiry(sc, 0, t), e.expiry_ms) << "FIN_WAIT2 entries are never re-armed";
}

// §3 FIN_WAIT2 substate: step 2, an in-window RST kills (tcp_rfc1337 plays
// no part); step 3, a SYN at or beyond rcv_nxt gets a RST and kills; step 5,
// new data after the half-close gets a RST and kills.
TEST(TimeWait, FinWait2EntryResetsOnDataAndSyn) {
  EngineOptions o = tw_opts();
  o.tcp.fin_timeout = Duration::seconds(5);
  o.tcp.rfc1337 = true;
  {
    SCOPED_TRACE("RST");
    Scenario sc(o, tw_opts());
    Conn c;
    const wire::FourTuple t = quiet_fin_wait2_entry(sc, &c);
    SegSpec rst = sc.to_entry(0, t);
    rst.flags = wire::kRst;
    EXPECT_TRUE(inject(sc, 0, rst).empty());
    EXPECT_FALSE(sc.tw_entry(0, t)) << "a FIN_WAIT2 entry dies on an in-window RST even with rfc1337";
  }
  {
    SCOPED_TRACE("SYN");
    Scenario sc(o, tw_opts());
    Conn c;
    const wire::FourTuple t = quiet_fin_wait2_entry(sc, &c);
    const Snap e = snap(sc, 0, t);
    SegSpec syn = sc.to_entry(0, t);
    syn.flags = wire::kSyn;
    syn.ack = Seq(0);
    syn.options = ts_option(e.ts_recent + 1, 0);
    std::vector<Seg> r = inject(sc, 0, syn);
    ASSERT_EQ(r.size(), 1u) << sc.dump();
    EXPECT_TRUE(r[0].is(wire::kRst | wire::kAck));
    EXPECT_EQ(r[0].ack, e.rcv_nxt + 1);
    EXPECT_FALSE(sc.tw_entry(0, t));
  }
  {
    // The window is tw_rcv_wnd, stored shifted by rcv_wscale: data beyond the
    // unscaled field but inside the scaled window is new data (RST); beyond
    // the scaled window it is out of window (ACK).
    SCOPED_TRACE("data");
    Scenario sc(o, tw_opts());
    Conn c;
    const wire::FourTuple t = quiet_fin_wait2_entry(sc, &c);
    const Snap e = snap(sc, 0, t);
    const std::uint8_t wscale = tcp::default_rcv_wscale(o.tcp);
    ASSERT_GT(wscale, 0);
    ASSERT_TRUE(sc.tw(0).wscale(sc.tw_entry(0, t)));
    const std::uint32_t wnd = std::uint32_t{e.window} << wscale;
    ASSERT_GT(wnd, std::uint32_t{e.window} + 20);
    SegSpec data = sc.to_entry(0, t);
    data.options = ts_option(e.ts_recent + 1, 1);
    data.payload = pattern(10, 2);
    data.seq = e.rcv_nxt + wnd;
    std::vector<Seg> r = inject(sc, 0, data);
    ASSERT_EQ(r.size(), 1u) << sc.dump();
    expect_tw_ack(r[0], e, e.ts_recent);
    EXPECT_TRUE(sc.tw_entry(0, t));
    data.seq = e.rcv_nxt + (e.window + wnd) / 2;
    r = inject(sc, 0, data);
    ASSERT_EQ(r.size(), 1u) << sc.dump();
    EXPECT_TRUE(r[0].is(wire::kRst));
    EXPECT_EQ(r[0].seq, e.snd_nxt);
    EXPECT_FALSE(sc.tw_entry(0, t));
  }
}

// §9 tcp_paws_reject: a RST is exempt from PAWS once ts_recent_stamp is
// more than TCP_PAWS_MSL (60 s) old. In a TIME_WAIT socket the stamp is the
// last ts_recent update, which an out-of-window segment (a retransmitted
// FIN) does not touch although it re-arms the timer (§3). So 61 s after the
// peer's FIN, with a FIN retransmitted at +50 s, an in-window RST carrying
// an old TSval is no longer PAWS-rejected and (tcp_rfc1337=0) kills the
// entry; at +59 s it is rejected (PAWSTimewait) and dropped. (twstack reads
// the stamp as the entry time: exact here, see stack/timewait/policy.hh.)
TEST(TimeWait, RstPawsExemptionCountsFromLastTsRecentUpdate) {
  EngineOptions o = scenario_opts();  // TCP_TIMEWAIT_LEN 60 s
  Scenario sc(o, scenario_opts());
  ASSERT_EQ(sc.b().listen(kPort, 8), Errc::kOk);
  Conn c = open(sc);
  const wire::FourTuple t = active_close(sc, c);
  sc.drop = [](const Seg& g) { return g.from == 0; };
  const Snap e = snap(sc, 0, t);
  const Instant t0 = sc.now();
  sc.advance_to(t0 + Duration::seconds(50));
  SegSpec fin = sc.to_entry(0, t);
  fin.seq = e.rcv_nxt - 1;
  fin.flags = wire::kFin | wire::kAck;
  fin.options = ts_option(e.ts_recent + 50000, 1);
  ASSERT_EQ(inject(sc, 0, fin).size(), 1u);
  ASSERT_EQ(snap(sc, 0, t).ts_recent, e.ts_recent);
  SegSpec rst = sc.to_entry(0, t);
  rst.flags = wire::kRst;
  rst.options = ts_option(e.ts_recent - 1, 1);
  sc.advance_to(t0 + Duration::seconds(59));
  EXPECT_TRUE(inject(sc, 0, rst).empty());
  EXPECT_TRUE(sc.in_time_wait(0, t)) << "PAWS should reject the RST: ts_recent is 59 s old";
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtPAWSTimewait), 1u);
  sc.advance_to(t0 + Duration::seconds(61));
  ASSERT_TRUE(sc.in_time_wait(0, t));
  EXPECT_TRUE(inject(sc, 0, rst).empty());
  EXPECT_FALSE(sc.tw_entry(0, t)) << "ts_recent is 61 s old: the RST is exempt from PAWS and kills";
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtPAWSTimewait), 1u);
}

}  // namespace
}  // namespace twstack::twtest
