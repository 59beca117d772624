// Congestion window growth and reduction (RFC 5681, RFC 3465, RFC 6582),
// with exact byte counts. SMSS is 1000 bytes throughout.
#include "stack/tcp/congestion.hh"

#include <gtest/gtest.h>

#include <cstdint>

namespace twstack::tcp {
namespace {

constexpr std::uint32_t kSmss = 1000;

// A sender 100000 bytes into its connection with `flight` bytes
// outstanding, and no recovery yet (recover = ISS, as open.cc leaves it).
void set_flight(Tcb& c, std::uint32_t flight) {
  c.iss = Seq(1);
  c.snd_una = c.iss + 100000;
  c.snd_max = c.snd_una + flight;
  c.snd_nxt = c.snd_max;
  c.recover = c.iss;
}

// RFC 5681 eq. (4).
TEST(Congestion, LossSsthreshIsHalfTheFlightButAtLeastTwoSegments) {
  EXPECT_EQ(loss_ssthresh(20000, kSmss), 10000u);
  EXPECT_EQ(loss_ssthresh(20001, kSmss), 10000u);
  EXPECT_EQ(loss_ssthresh(4000, kSmss), 2000u);
  EXPECT_EQ(loss_ssthresh(3000, kSmss), 2000u);  // 1500 is below 2*SMSS
  EXPECT_EQ(loss_ssthresh(0, kSmss), 2000u);
}

// RFC 5681 §3.1 slow start with appropriate byte counting: each ACK grows
// cwnd by what it acknowledged, a stretch ACK all of it, as Linux
// tcp_slow_start (no RFC 3465 limit L).
TEST(Congestion, SlowStartCountsEveryByteAcked) {
  Tcb c;
  c.cwnd = 10 * kSmss;
  c.ssthresh = 0xffffffff;
  grow_cwnd(c, kSmss, 1000);
  EXPECT_EQ(c.cwnd, 11000u);
  grow_cwnd(c, kSmss, 300);  // a short segment counts only its bytes
  EXPECT_EQ(c.cwnd, 11300u);
  grow_cwnd(c, kSmss, 2000);  // delayed ACK of two segments
  EXPECT_EQ(c.cwnd, 13300u);
  grow_cwnd(c, kSmss, 5000);  // stretch ACK: not capped
  EXPECT_EQ(c.cwnd, 18300u);
  EXPECT_EQ(c.bytes_acked_ca, 0u);  // byte counter untouched in slow start
}

// Below ssthresh is slow start even when the step overshoots it (RFC 5681
// §3.1 checks cwnd < ssthresh before the increase).
TEST(Congestion, SlowStartMayOvershootSsthresh) {
  Tcb c;
  c.cwnd = 9500;
  c.ssthresh = 10000;
  grow_cwnd(c, kSmss, 2000);
  EXPECT_EQ(c.cwnd, 11500u);
}

// RFC 5681 §3.1 congestion avoidance, by byte counting (RFC 3465 §2.1):
// one SMSS each time a full cwnd of bytes has been acknowledged. At
// cwnd == ssthresh congestion avoidance applies.
TEST(Congestion, CongestionAvoidanceAddsOneSegmentPerWindowAcked) {
  Tcb c;
  c.cwnd = 10000;
  c.ssthresh = 10000;
  grow_cwnd(c, kSmss, 4000);
  EXPECT_EQ(c.cwnd, 10000u);
  EXPECT_EQ(c.bytes_acked_ca, 4000u);
  grow_cwnd(c, kSmss, 5999);
  EXPECT_EQ(c.cwnd, 10000u);
  EXPECT_EQ(c.bytes_acked_ca, 9999u);
  grow_cwnd(c, kSmss, 1);
  EXPECT_EQ(c.cwnd, 11000u);
  EXPECT_EQ(c.bytes_acked_ca, 0u);
  // More than a window in one ACK still adds one SMSS; the rest carries.
  grow_cwnd(c, kSmss, 12000);
  EXPECT_EQ(c.cwnd, 12000u);
  EXPECT_EQ(c.bytes_acked_ca, 1000u);
  // A full window of per-segment ACKs: exactly one more SMSS.
  for (int i = 0; i < 11; ++i) grow_cwnd(c, kSmss, 1000);
  EXPECT_EQ(c.cwnd, 13000u);
  EXPECT_EQ(c.bytes_acked_ca, 0u);
}

// RFC 6675 §5 step 4 / RFC 6582 §3.2 step 2: recovery sets ssthresh by
// eq. (4) and the recovery point, and leaves cwnd to PRR, which starts
// from the cwnd it had (RFC 6937 §3.1, Linux tcp_init_cwnd_reduction).
TEST(Congestion, RecoveryStartSetsSsthreshAndPrrState) {
  Tcb c;
  set_flight(c, 20000);
  c.cwnd = 20000;
  c.prr_out = 5;
  recovery_start(c, kSmss);
  EXPECT_TRUE(c.in_recovery);
  EXPECT_EQ(c.ssthresh, 10000u);
  EXPECT_EQ(c.cwnd, 20000u);
  EXPECT_EQ(c.prior_cwnd, 20000u);
  EXPECT_EQ(c.prr_delivered, 0u);
  EXPECT_EQ(c.prr_out, 0u);
  EXPECT_EQ(c.recover, c.snd_max);
}

TEST(Congestion, RecoveryWithASmallFlightUsesTwoSegmentFloor) {
  Tcb c;
  set_flight(c, 3000);
  c.cwnd = 3000;
  recovery_start(c, kSmss);
  EXPECT_EQ(c.ssthresh, 2000u);
}

// RFC 6582 §4.1: duplicate ACKs that do not cover more than `recover`
// (SND.UNA - 1 < recover) belong to the recovery just ended.
TEST(Congestion, NoNewRecoveryBelowRecover) {
  Tcb c;
  set_flight(c, 20000);
  EXPECT_FALSE(recovery_refused(c));  // recover = ISS: never recovered
  c.recover = c.snd_una;
  EXPECT_TRUE(recovery_refused(c));
  c.recover = c.snd_una - 1;  // the ACK covers recover: a new loss
  EXPECT_FALSE(recovery_refused(c));
}

// recover = ISS means "never recovered": more than 2^31 bytes into a
// connection SND.UNA - 1 reads as before ISS, which must not block recovery.
TEST(Congestion, NeverRecoveredAfterTwoGigabytesStillRecovers) {
  Tcb c;
  set_flight(c, 20000);
  c.snd_una = c.iss + 0x80000010;
  c.snd_max = c.snd_una + 20000;
  ASSERT_TRUE(c.snd_una - 1 < c.recover);
  EXPECT_FALSE(recovery_refused(c));
}

// RFC 6937 §3.1 proportional part (Linux tcp_cwnd_reduction, delta < 0):
// while pipe > ssthresh, sndcnt = ceil(prr_delivered * ssthresh /
// prior_cwnd) - prr_out, in whole segments; the first ACK may always send
// one (the fast retransmission).
TEST(Congestion, PrrSendsInProportionAbovesSsthresh) {
  Tcb c;
  set_flight(c, 20000);
  c.cwnd = 20000;
  recovery_start(c, kSmss);  // ssthresh 10000, prior_cwnd 20000
  prr_cwnd(c, 16000, 1000, false, kSmss);
  EXPECT_EQ(c.cwnd, 17000u);  // ceil(1000 * 0.5) = one segment, as Linux rounds packets up
  c.prr_out = 1000;
  prr_cwnd(c, 16000, 1000, false, kSmss);  // 2000 delivered: 1 segment due, 1 sent
  EXPECT_EQ(c.cwnd, 16000u);
  prr_cwnd(c, 15000, 1000, true, kSmss);  // 3000: 2 due, 1 sent; no bonus above ssthresh
  EXPECT_EQ(c.cwnd, 16000u);
  EXPECT_EQ(c.prr_delivered, 3000u);
  prr_cwnd(c, 15000, 0, true, kSmss);  // nothing delivered: nothing changes
  EXPECT_EQ(c.cwnd, 16000u);
  EXPECT_EQ(c.prr_delivered, 3000u);
}

// RFC 6937 §3.1 PRR-SSRB as Linux: with pipe at or below ssthresh, send
// what was delivered (or what PRR owes), one segment more on an ACK that
// moved SND.UNA with no new loss, never past ssthresh.
TEST(Congestion, PrrSlowStartReductionBoundBelowSsthresh) {
  Tcb c;
  set_flight(c, 10000);
  c.cwnd = 10000;
  recovery_start(c, kSmss);  // ssthresh 5000
  c.prr_out = 4000;
  c.prr_delivered = 4000;
  prr_cwnd(c, 2000, 1000, false, kSmss);
  EXPECT_EQ(c.cwnd, 3000u);  // pipe + delivered
  c.prr_out = 5000;
  prr_cwnd(c, 2000, 1000, true, kSmss);
  EXPECT_EQ(c.cwnd, 4000u);  // + one segment for SND.UNA moving
  prr_cwnd(c, 1000, 3000, true, kSmss);
  EXPECT_EQ(c.cwnd, 5000u);  // 4000 allowed, but ssthresh bounds it
  c.prr_out = 20000;
  prr_cwnd(c, 5000, 1000, false, kSmss);
  EXPECT_EQ(c.cwnd, 5000u);  // at ssthresh: nothing more
  prr_cwnd(c, 0, 100, false, kSmss);
  EXPECT_EQ(c.cwnd, 1000u);  // a short segment delivered: still one segment
}

// RFC 6937 §3 (Linux tcp_end_cwnd_reduction): recovery ends with
// cwnd = ssthresh, whatever is in flight.
TEST(Congestion, RecoveryEndSetsCwndToSsthresh) {
  Tcb c;
  set_flight(c, 20000);
  c.cwnd = 20000;
  recovery_start(c, kSmss);
  c.cwnd = 3000;
  c.dupacks = 2;
  recovery_end(c);
  EXPECT_FALSE(c.in_recovery);
  EXPECT_EQ(c.cwnd, 10000u);
  EXPECT_EQ(c.dupacks, 0u);
}

// Linux tcp_add_reno_sack / tcp_limit_reno_sacked: each duplicate is a
// segment delivered, but one of those outstanding stays the hole; beyond
// that a duplicate delivers nothing and is reordering: tp->reordering
// becomes the flight in segments (tcp_check_reno_reordering).
TEST(Congestion, RenoDupacksCountSegmentsLeftButNotTheHole) {
  Tcb c;
  set_flight(c, 3500);  // four segments, the last short
  bool reordered = true;
  EXPECT_EQ(reno_add_dupack(c, kSmss, &reordered), 1000u);
  EXPECT_FALSE(reordered);
  EXPECT_EQ(reno_in_flight(c, kSmss), 2500u);
  EXPECT_EQ(reno_add_dupack(c, kSmss, &reordered), 1000u);
  EXPECT_EQ(reno_add_dupack(c, kSmss, &reordered), 1000u);
  EXPECT_EQ(c.dupacks, 3u);
  EXPECT_FALSE(reordered);
  EXPECT_EQ(c.rack.reordering, 3u);
  EXPECT_EQ(reno_add_dupack(c, kSmss, &reordered), 0u);
  EXPECT_TRUE(reordered);
  EXPECT_EQ(c.dupacks, 3u);
  EXPECT_EQ(c.rack.reordering, 4u);
  EXPECT_EQ(c.rack.reord_seen, 1u);
  EXPECT_EQ(reno_in_flight(c, kSmss), 500u);
}

// tcp_remove_reno_sacks ends in tcp_check_reno_reordering with the ACKed
// segments as addend: duplicates the remaining flight cannot explain were
// reordering, and tp->reordering counts what the ACK took as well.
TEST(Congestion, RenoCumulativeAckBehindTooManyDuplicatesIsReordering) {
  Tcb c;
  set_flight(c, 2000);  // two segments left after an ACK of five
  c.dupacks = 7;
  bool reordered = false;
  EXPECT_EQ(reno_remove_dupacks(c, kSmss, 5000, &reordered), 1000u);
  EXPECT_TRUE(reordered);
  EXPECT_EQ(c.dupacks, 1u);  // the flight less its hole
  EXPECT_EQ(c.rack.reordering, 7u);  // two in flight and the five ACKed
}

// Linux tcp_remove_reno_sacks: a cumulative ACK of n segments explains
// n - 1 duplicates; what it delivers is the rest, one segment at least.
TEST(Congestion, RenoCumulativeAckTakesBackTheDuplicates) {
  Tcb c;
  set_flight(c, 10000);
  bool r = false;
  c.dupacks = 2;
  EXPECT_EQ(reno_remove_dupacks(c, kSmss, 3000, &r), 1000u);  // the hole and two duplicates
  EXPECT_EQ(c.dupacks, 0u);
  c.dupacks = 4;
  EXPECT_EQ(reno_remove_dupacks(c, kSmss, 2000, &r), 1000u);  // a partial ACK
  EXPECT_EQ(c.dupacks, 3u);
  EXPECT_EQ(reno_remove_dupacks(c, kSmss, 6000, &r), 3000u);
  EXPECT_EQ(c.dupacks, 0u);
  EXPECT_EQ(reno_remove_dupacks(c, kSmss, 500, &r), 500u);  // no duplicates: all of it
  EXPECT_FALSE(r);
  EXPECT_EQ(c.rack.reordering, 3u);
}

// RFC 5681 §3.1 after an RTO: ssthresh by eq. (4), cwnd = LW = 1 SMSS,
// recovery abandoned, recover = highest sent (RFC 6582 §3.2 step 4).
// Growth then restarts in slow start.
TEST(Congestion, TimeoutCollapsesToOneSegment) {
  Tcb c;
  set_flight(c, 20000);
  c.cwnd = 20000;
  recovery_start(c, kSmss);
  ASSERT_TRUE(c.in_recovery);
  c.snd_max += 5000;  // sent more during recovery; flight is now 25000
  c.bytes_acked_ca = 777;
  cwnd_on_timeout(c, kSmss);
  EXPECT_EQ(c.ssthresh, 12500u);
  EXPECT_EQ(c.cwnd, 1000u);
  EXPECT_EQ(c.bytes_acked_ca, 0u);
  EXPECT_FALSE(c.in_recovery);
  EXPECT_EQ(c.recover, c.snd_max);
  EXPECT_EQ(c.dupacks, 0u);

  // Slow start again, one window of per-segment ACKs per round: 2000,
  // 4000, 8000; in the fourth round cwnd passes ssthresh after five ACKs
  // (13000) and the last three count toward congestion avoidance.
  const std::uint32_t expect[] = {2000, 4000, 8000, 13000};
  for (std::uint32_t want : expect) {
    const std::uint32_t window = c.cwnd;
    for (std::uint32_t acked = 0; acked < window; acked += kSmss) grow_cwnd(c, kSmss, kSmss);
    EXPECT_EQ(c.cwnd, want);
  }
  EXPECT_EQ(c.bytes_acked_ca, 3000u);
  for (int i = 0; i < 13; ++i) grow_cwnd(c, kSmss, kSmss);
  EXPECT_EQ(c.cwnd, 14000u);
  EXPECT_EQ(c.bytes_acked_ca, 3000u);
}

// Duplicate ACKs after a timeout, for data sent before it, do not start a
// fast retransmit (RFC 6582 §4.1 with recover set by the timeout).
TEST(Congestion, NoFastRetransmitForDataSentBeforeATimeout) {
  Tcb c;
  set_flight(c, 20000);
  c.cwnd = 20000;
  cwnd_on_timeout(c, kSmss);
  EXPECT_TRUE(recovery_refused(c));
}

// Linux tcp_is_cwnd_limited: a new ACK grows nothing when the last
// window's flight did not fill cwnd; in slow start it grows while cwnd is
// below twice that flight.
TEST(Congestion, NewAckGrowsOnlyAWindowTheSenderUsed) {
  Tcb c;
  set_flight(c, 5000);
  c.cwnd = 10000;
  c.max_out = 5000;
  EXPECT_FALSE(cwnd_limited(c));
  EXPECT_EQ(c.cwnd, 10000u) << "5 segments out of 10: cwnd is not 2 * 5 short";
  c.max_out = 6000;
  EXPECT_TRUE(cwnd_limited(c));
  c.ssthresh = 10000;  // congestion avoidance: only a full window counts
  EXPECT_FALSE(cwnd_limited(c));
  c.is_cwnd_limited = true;
  EXPECT_TRUE(cwnd_limited(c));
}

// tcp_cwnd_validate: a flight that leaves no room for a segment is
// cwnd-limited for the window it opens; a larger app-limited flight is
// remembered; a smaller one only once the window it measured is ACKed.
TEST(Congestion, ValidateTracksTheLargestFlightPerWindow) {
  Tcb c;
  set_flight(c, 9000);
  c.cwnd = 10000;
  cwnd_validate(c, 9000, kSmss, true, false);
  EXPECT_FALSE(c.is_cwnd_limited);
  EXPECT_EQ(c.max_out, 9000u);
  EXPECT_EQ(c.cwnd_usage_seq, c.snd_max);
  c.snd_una += 5000;  // a smaller flight inside that window: kept
  cwnd_validate(c, 4000, kSmss, true, false);
  EXPECT_EQ(c.max_out, 9000u);
  c.snd_una = c.snd_max;  // the window is ACKed: the next flight starts afresh
  c.snd_max += 3000;
  c.snd_nxt = c.snd_max;
  cwnd_validate(c, 3000, kSmss, true, false);
  EXPECT_EQ(c.max_out, 3000u);
  c.snd_max += 6500;  // 9500 of 10000: no room for another segment
  c.snd_nxt = c.snd_max;
  cwnd_validate(c, 9500, kSmss, true, true);
  EXPECT_TRUE(c.is_cwnd_limited);
  cwnd_validate(c, 9500, kSmss, false, false);  // nothing sent, nothing queued: no pass
  EXPECT_TRUE(c.is_cwnd_limited);
}

}  // namespace
}  // namespace twstack::tcp
