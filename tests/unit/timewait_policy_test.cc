// TIME_WAIT verdicts (stack/timewait/policy): each step of Linux
// tcp_timewait_state_process (docs/linux-timewait.md §3), the tcp_twsk_unique reuse rule
// (§5), and the out-of-window ACK limiter.
#include "stack/timewait/policy.hh"

#include <gtest/gtest.h>

#include <array>

namespace twstack::tw {
namespace {

const std::array<wire::Ipv4Addr, 2> kLocal = {wire::Ipv4Addr::from_octets(10, 0, 0, 1),
                                              wire::Ipv4Addr::from_octets(127, 0, 0, 1)};
const FourTuple kTuple{kLocal[0], wire::Ipv4Addr::from_octets(10, 0, 0, 2), 40000, 80};
const FourTuple kLoopTuple{kLocal[1], wire::Ipv4Addr::from_octets(127, 0, 0, 2), 40000, 80};
constexpr std::int64_t kLenMs = 60000;
constexpr std::int64_t kT0 = 100000;  // entry time, ms

// The policy of an engine with the default configuration (rcv_wscale 0).
Policy default_policy() {
  const StackConfig c;
  return Policy{.rfc1337 = c.tcp_rfc1337,
                .invalid_ratelimit = c.tcp_invalid_ratelimit,
                .rcv_wscale = 0,
                .tw_reuse = c.tcp_tw_reuse,
                .tw_reuse_delay = c.tcp_tw_reuse_delay};
}

struct Fixture {
  TimeWaitTable table{kLocal, 16, Duration::millis(kLenMs), 7, TwOverflowPolicy::kDrop};
  Counters ctr;
  OowLimiter oow{3};
  Policy p = default_policy();
  Handle h;

  explicit Fixture(bool fin_wait2 = false, bool has_ts = true, FourTuple t = kTuple,
                   std::int64_t timeout_ms = kLenMs) {
    TwEntryInit in;
    in.tuple = t;
    in.snd_nxt = Seq(5000);
    in.rcv_nxt = Seq(9000);
    in.window = 100;  // x 2^7 = 12800 bytes
    in.wscale = true;
    in.ts_recent = 777;
    in.has_ts = has_ts;
    in.fin_wait2 = fin_wait2;
    in.active = true;
    p.rcv_wscale = 7;
    h = table.insert(in, kT0, timeout_ms).handle;
  }
  Verdict seg(const wire::Segment& s, std::int64_t now = kT0 + 1000) {
    return on_segment(table, h, s, p, now, ctr, oow);
  }
};

wire::Segment segment(std::uint32_t seq, std::uint8_t flags, std::uint32_t len = 0) {
  wire::Segment s;
  s.seq = Seq(seq);
  s.ack = Seq(5000);
  s.flags = flags;
  s.len = len;
  return s;
}

wire::Segment with_ts(wire::Segment s, std::uint32_t tsval) {
  s.opt.has_timestamps = true;
  s.opt.tsval = tsval;
  return s;
}

// --- TIME_WAIT substate

TEST(TimeWaitPolicy, InWindowBareAckRearmsSilentlyAndTakesItsTimestamp) {
  Fixture f;
  Verdict v = f.seg(with_ts(segment(9000, wire::kAck), 800), kT0 + 5000);
  EXPECT_EQ(v.action, Action::kDrop);
  EXPECT_FALSE(v.kill);
  EXPECT_EQ(f.table.expiry_ms(f.h), kT0 + 5000 + kLenMs);
  EXPECT_EQ(f.table.ts_recent(f.h), 800u);
  EXPECT_EQ(f.table.entry_ms(f.h), kT0) << "a re-arm is not a new entry (tw_entry_stamp)";
}

TEST(TimeWaitPolicy, InWindowResetKillsUnlessRfc1337) {
  Fixture f;
  Verdict v = f.seg(segment(9000, wire::kRst));
  EXPECT_EQ(v.action, Action::kDrop);
  EXPECT_TRUE(v.kill) << "RFC 1337 TIME-WAIT assassination, tcp_rfc1337=0";

  Fixture g;
  g.p.rfc1337 = true;
  v = g.seg(with_ts(segment(9000, wire::kRst), 900), kT0 + 5000);
  EXPECT_EQ(v.action, Action::kDrop);
  EXPECT_FALSE(v.kill);
  EXPECT_EQ(g.table.expiry_ms(g.h), kT0 + kLenMs) << "an ignored RST does not re-arm (6.6+)";
  EXPECT_EQ(g.table.ts_recent(g.h), 900u) << "but its timestamp is taken";
}

TEST(TimeWaitPolicy, RetransmittedFinIsAckedAndRearms) {
  Fixture f;
  Verdict v = f.seg(with_ts(segment(8999, wire::kAck | wire::kFin), 800), kT0 + 7000);
  EXPECT_EQ(v.action, Action::kAck);
  EXPECT_EQ(f.table.expiry_ms(f.h), kT0 + 7000 + kLenMs);
  EXPECT_EQ(f.table.ts_recent(f.h), 777u) << "never updated from an out-of-window segment";
  // A FIN is always answered: the rate limit does not apply to it.
  v = f.seg(segment(8999, wire::kAck | wire::kFin), kT0 + 7001);
  EXPECT_EQ(v.action, Action::kAck);
  EXPECT_EQ(f.ctr.get(Counter::TcpExtTCPACKSkippedTimeWait), 0u);
}

TEST(TimeWaitPolicy, ZeroLengthOutOfWindowAcksAreRateLimited) {
  Fixture f;
  EXPECT_EQ(f.seg(segment(8000, wire::kAck), kT0 + 1000).action, Action::kAck);
  EXPECT_EQ(f.seg(segment(8000, wire::kAck), kT0 + 1499).action, Action::kDrop);
  EXPECT_EQ(f.ctr.get(Counter::TcpExtTCPACKSkippedTimeWait), 1u);
  EXPECT_EQ(f.seg(segment(8000, wire::kAck), kT0 + 1500).action, Action::kAck);
  // Data is not part of an ACK loop: always answered.
  EXPECT_EQ(f.seg(segment(8000, wire::kAck, 10), kT0 + 1501).action, Action::kAck);
  EXPECT_EQ(f.ctr.get(Counter::TcpExtTCPACKSkippedTimeWait), 1u);
}

TEST(TimeWaitPolicy, NewSynWithHigherSequenceOrNewerTimestampIsAccepted) {
  Fixture f;
  Verdict v = f.seg(segment(9001, wire::kSyn));
  EXPECT_EQ(v.action, Action::kSyn);
  EXPECT_EQ(v.isn, Seq(5000 + 65537));
  // Lower sequence number but a newer timestamp (RFC 6191).
  v = f.seg(with_ts(segment(100, wire::kSyn), 778));
  EXPECT_EQ(v.action, Action::kSyn);
  // Neither: an old duplicate, answered by a (limited) ACK, no re-arm.
  v = f.seg(with_ts(segment(100, wire::kSyn), 777), kT0 + 3000);
  EXPECT_EQ(v.action, Action::kAck);
  EXPECT_EQ(f.table.expiry_ms(f.h), kT0 + kLenMs);
  // A SYN with ACK is never a new connection.
  EXPECT_NE(f.seg(segment(9001, wire::kSyn | wire::kAck), kT0 + 4000).action, Action::kSyn);
}

TEST(TimeWaitPolicy, PawsRejectCountsRearmsAndAcks) {
  Fixture f;
  Verdict v = f.seg(with_ts(segment(9001, wire::kSyn), 700), kT0 + 2000);
  EXPECT_EQ(v.action, Action::kAck) << "a SYN failing PAWS is not accepted";
  EXPECT_EQ(f.ctr.get(Counter::TcpExtPAWSTimewait), 1u);
  EXPECT_EQ(f.table.expiry_ms(f.h), kT0 + 2000 + kLenMs);
  // Even an in-window bare ACK fails PAWS with an old TSval.
  v = f.seg(with_ts(segment(9000, wire::kAck), 700), kT0 + 4000);
  EXPECT_EQ(f.ctr.get(Counter::TcpExtPAWSTimewait), 2u);
  EXPECT_EQ(f.table.ts_recent(f.h), 777u);
}

TEST(TimeWaitPolicy, NoTimestampsRecordedMeansNoPaws) {
  Fixture f(false, /*has_ts=*/false);
  Verdict v = f.seg(with_ts(segment(9000, wire::kAck), 1), kT0 + 2000);
  EXPECT_EQ(v.action, Action::kDrop);
  EXPECT_EQ(f.ctr.get(Counter::TcpExtPAWSTimewait), 0u);
}

TEST(TimeWaitPolicy, ResetIsExemptFromPawsOnceTsRecentIsOlderThanPawsMsl) {
  // A TIME_WAIT longer than TCP_PAWS_MSL, so ts_recent can get that old.
  TimeWaitTable table{kLocal, 4, Duration::seconds(120), 1, TwOverflowPolicy::kDrop};
  TwEntryInit in;
  in.tuple = kTuple;
  in.rcv_nxt = Seq(9000);
  in.ts_recent = 777;
  in.has_ts = true;
  Handle h = table.insert(in, kT0).handle;
  Counters ctr;
  OowLimiter oow(1);
  Policy p = default_policy();
  wire::Segment rst = with_ts(segment(9000, wire::kRst), 1);
  Verdict v = on_segment(table, h, rst, p, kT0 + 59999, ctr, oow);
  EXPECT_FALSE(v.kill) << "PAWS drops an old-TSval reset within 60 s";
  v = on_segment(table, h, rst, p, kT0 + 60000, ctr, oow);
  EXPECT_TRUE(v.kill);
}

TEST(TimeWaitPolicy, OtherResetsAreDropped) {
  Fixture f;
  Verdict v = f.seg(segment(9500, wire::kRst));
  EXPECT_EQ(v.action, Action::kDrop);
  EXPECT_FALSE(v.kill);
}

// --- FIN_WAIT2 substate

TEST(TimeWaitPolicy, FinWait2FinEntersTimeWaitAndRefreshesTheEntry) {
  Fixture f(/*fin_wait2=*/true, true, kTuple, 30000);
  EXPECT_EQ(f.table.expiry_ms(f.h), kT0 + 30000);
  Verdict v = f.seg(with_ts(segment(9000, wire::kAck | wire::kFin), 900), kT0 + 2000);
  EXPECT_EQ(v.action, Action::kAck);
  EXPECT_FALSE(f.table.fin_wait2(f.h));
  EXPECT_EQ(f.table.rcv_nxt(f.h), Seq(9001));
  EXPECT_EQ(f.table.ts_recent(f.h), 900u);
  EXPECT_EQ(f.table.expiry_ms(f.h), kT0 + 2000 + kLenMs);
  EXPECT_EQ(f.table.entry_ms(f.h), kT0 + 2000);
}

TEST(TimeWaitPolicy, FinWait2Steps) {
  {  // 1. out of window (beyond rcv_nxt + window << wscale): limited ACK
    Fixture f(true);
    EXPECT_EQ(f.seg(segment(9000 + 12800, wire::kAck)).action, Action::kDrop)
        << "a zero-length segment at the right edge is in the window (and a duplicate)";
    Fixture g(true);
    // Data is always answered and leaves the limiter alone (tcp_oow_rate_limited).
    EXPECT_EQ(g.seg(segment(9000 + 12801, wire::kAck, 1)).action, Action::kAck);
    EXPECT_EQ(g.seg(segment(9000 + 12801, wire::kAck)).action, Action::kAck);
    EXPECT_EQ(g.seg(segment(9000 + 12801, wire::kAck)).action, Action::kDrop);
    EXPECT_EQ(g.ctr.get(Counter::TcpExtTCPACKSkippedFinWait2), 1u);
  }
  {  // 2. in-window RST kills (whatever tcp_rfc1337)
    Fixture f(true);
    f.p.rfc1337 = true;
    EXPECT_TRUE(f.seg(segment(9000, wire::kRst)).kill);
  }
  {  // 3. SYN at or after rcv_nxt: reset and kill
    Fixture f(true);
    Verdict v = f.seg(segment(9005, wire::kSyn));
    EXPECT_EQ(v.action, Action::kReset);
    EXPECT_TRUE(v.kill);
  }
  {  // 4. a duplicate (nothing new, or no ACK) is dropped
    Fixture f(true);
    EXPECT_EQ(f.seg(segment(9000, wire::kAck)).action, Action::kDrop);
    EXPECT_EQ(f.seg(segment(9000, 0, 5)).action, Action::kDrop);
  }
  {  // 5. new data after the half-close: reset
    Fixture f(true);
    EXPECT_EQ(f.seg(segment(9000, wire::kAck, 5)).action, Action::kReset);
    Fixture g(true);
    EXPECT_EQ(g.seg(segment(9000, wire::kAck | wire::kFin, 5)).action, Action::kReset)
        << "a FIN not exactly at rcv_nxt";
  }
}

// --- tcp_twsk_unique

TEST(TimeWaitPolicy, ReuseAfterTheDelayOnlyWithTimestamps) {
  Fixture f;
  f.p.tw_reuse = 1;
  EXPECT_EQ(may_reuse(f.table, f.h, false, f.p, kT0), Reuse::kLater);
  EXPECT_EQ(may_reuse(f.table, f.h, false, f.p, kT0 + 1000), Reuse::kLater)
      << "time_after32: strictly later than entry + delay";
  EXPECT_EQ(may_reuse(f.table, f.h, false, f.p, kT0 + 1001), Reuse::kYes);
  f.p.tw_reuse_delay = Duration::millis(3000);
  EXPECT_EQ(may_reuse(f.table, f.h, false, f.p, kT0 + 1001), Reuse::kLater);
  f.p.tw_reuse = 0;
  EXPECT_EQ(may_reuse(f.table, f.h, false, f.p, kT0 + 9000), Reuse::kNo);
  EXPECT_EQ(may_reuse(f.table, f.h, true, f.p, kT0), Reuse::kYes)
      << "an explicitly bound port skips the sysctl and the delay";

  Fixture nots(false, /*has_ts=*/false);
  nots.p.tw_reuse = 1;
  EXPECT_EQ(may_reuse(nots.table, nots.h, false, nots.p, kT0 + 9000), Reuse::kNo);
  EXPECT_EQ(may_reuse(nots.table, nots.h, true, nots.p, kT0 + 9000), Reuse::kNo);
}

TEST(TimeWaitPolicy, ReuseMode2IsForLoopbackOnly) {
  Fixture f;  // 10.0.0.1 -> 10.0.0.2
  f.p.tw_reuse = 2;
  EXPECT_EQ(may_reuse(f.table, f.h, false, f.p, kT0 + 5000), Reuse::kNo);
  Fixture lo(false, true, kLoopTuple);
  lo.p.tw_reuse = 2;
  EXPECT_EQ(may_reuse(lo.table, lo.h, false, lo.p, kT0 + 5000), Reuse::kYes);
}

TEST(TimeWaitPolicy, FinWait2EntriesAreNotReusedByTwReuse) {
  Fixture f(/*fin_wait2=*/true);
  f.p.tw_reuse = 1;
  EXPECT_EQ(may_reuse(f.table, f.h, false, f.p, kT0 + 5000), Reuse::kNo);
  EXPECT_EQ(may_reuse(f.table, f.h, true, f.p, kT0 + 5000), Reuse::kYes);
}

TEST(TimeWaitPolicy, SuccessorIsnIsNeverZero) {
  EXPECT_EQ(successor_isn(Seq(1000)), Seq(66537));
  EXPECT_EQ(successor_isn(Seq(0xffffffffu - 65536)), Seq(1));
  EXPECT_EQ(successor_isn(Seq(0xffffffffu)), Seq(65536));
}

TEST(TimeWaitPolicy, OowLimiterForgetsAReplacedEntry) {
  OowLimiter oow(9);
  Counters ctr;
  EXPECT_FALSE(oow.limited(kTuple, 1000, 500, ctr, Counter::TcpExtTCPACKSkippedTimeWait));
  EXPECT_TRUE(oow.limited(kTuple, 1200, 500, ctr, Counter::TcpExtTCPACKSkippedTimeWait));
  oow.forget(kTuple);  // a new TIME_WAIT for the tuple: tw_last_oow_ack_time = 0
  EXPECT_FALSE(oow.limited(kTuple, 1300, 500, ctr, Counter::TcpExtTCPACKSkippedTimeWait));
  EXPECT_EQ(ctr.get(Counter::TcpExtTCPACKSkippedTimeWait), 1u);
  // Other tuples have their own state.
  EXPECT_FALSE(oow.limited(kLoopTuple, 1301, 500, ctr, Counter::TcpExtTCPACKSkippedTimeWait));
}

}  // namespace
}  // namespace twstack::tw
