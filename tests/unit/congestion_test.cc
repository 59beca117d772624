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

// RFC 5681 §3.2 steps 1-3 / RFC 6582 §3.2 step 2: the third duplicate ACK
// sets ssthresh by eq. (4) and cwnd = ssthresh + 3*SMSS; each further one
// inflates cwnd by SMSS.
TEST(Congestion, ThirdDuplicateAckEntersFastRecovery) {
  Tcb c;
  set_flight(c, 20000);
  c.cwnd = 20000;
  EXPECT_FALSE(cwnd_on_dupack(c, kSmss));
  EXPECT_FALSE(cwnd_on_dupack(c, kSmss));
  EXPECT_EQ(c.cwnd, 20000u);  // RFC 5681 §3.2 step 1: no change before the third
  EXPECT_FALSE(c.in_recovery);
  EXPECT_TRUE(cwnd_on_dupack(c, kSmss));
  EXPECT_TRUE(c.in_recovery);
  EXPECT_EQ(c.ssthresh, 10000u);
  EXPECT_EQ(c.cwnd, 13000u);
  EXPECT_EQ(c.recover, c.snd_max);  // RFC 6582 §3.2 step 2: recover = highest sent
  EXPECT_FALSE(cwnd_on_dupack(c, kSmss));
  EXPECT_EQ(c.cwnd, 14000u);
  EXPECT_FALSE(cwnd_on_dupack(c, kSmss));
  EXPECT_EQ(c.cwnd, 15000u);
  EXPECT_EQ(c.ssthresh, 10000u);
}

TEST(Congestion, FastRecoveryWithASmallFlightUsesTwoSegmentFloor) {
  Tcb c;
  set_flight(c, 3000);
  c.cwnd = 3000;
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(cwnd_on_dupack(c, kSmss));
  EXPECT_TRUE(cwnd_on_dupack(c, kSmss));
  EXPECT_EQ(c.ssthresh, 2000u);
  EXPECT_EQ(c.cwnd, 5000u);
}

// Only the third duplicate counts: more, outside recovery (e.g. after
// RFC 6582 §4.1 refused one), do not start it again.
TEST(Congestion, OnlyTheThirdDuplicateStartsRecovery) {
  Tcb c;
  set_flight(c, 20000);
  c.cwnd = 20000;
  c.recover = c.snd_una + 100;  // an earlier recovery covered SND.UNA
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(cwnd_on_dupack(c, kSmss));
  EXPECT_EQ(c.dupacks, 5u);
  EXPECT_EQ(c.cwnd, 20000u);
  EXPECT_EQ(c.ssthresh, 0xffffffffu);
}

// RFC 6582 §4.1: duplicate ACKs that do not cover more than `recover`
// (SND.UNA - 1 < recover) belong to the recovery just ended.
TEST(Congestion, NoNewRecoveryBelowRecover) {
  Tcb at;
  set_flight(at, 20000);
  at.cwnd = 20000;
  at.recover = at.snd_una;  // SND.UNA - 1 < recover: refused
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(cwnd_on_dupack(at, kSmss));
  EXPECT_FALSE(at.in_recovery);
  EXPECT_EQ(at.cwnd, 20000u);

  Tcb past;
  set_flight(past, 20000);
  past.cwnd = 20000;
  past.recover = past.snd_una - 1;  // the ACK covers recover: a new loss
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(cwnd_on_dupack(past, kSmss));
  EXPECT_TRUE(cwnd_on_dupack(past, kSmss));
  EXPECT_EQ(past.cwnd, 13000u);
}

// recover = ISS means "never recovered": more than 2^31 bytes into a
// connection SND.UNA - 1 reads as before ISS, which must not block recovery.
TEST(Congestion, NeverRecoveredAfterTwoGigabytesStillRecovers) {
  Tcb c;
  set_flight(c, 20000);
  c.cwnd = 20000;
  c.snd_una = c.iss + 0x80000010;
  c.snd_max = c.snd_una + 20000;
  ASSERT_TRUE(c.snd_una - 1 < c.recover);
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(cwnd_on_dupack(c, kSmss));
  EXPECT_TRUE(cwnd_on_dupack(c, kSmss));
  EXPECT_EQ(c.ssthresh, 10000u);
}

// RFC 6582 §3.2 step 4: a partial ACK deflates cwnd by the amount
// acknowledged, adds back SMSS if that was at least SMSS, and asks for the
// next hole to be resent.
TEST(Congestion, PartialAckDeflatesAndRetransmits) {
  Tcb c;
  set_flight(c, 20000);
  c.cwnd = 20000;
  for (int i = 0; i < 3; ++i) cwnd_on_dupack(c, kSmss);
  cwnd_on_dupack(c, kSmss);
  cwnd_on_dupack(c, kSmss);
  ASSERT_EQ(c.cwnd, 15000u);
  const Seq recover = c.recover;

  c.snd_una += 3000;
  EXPECT_TRUE(cwnd_on_new_ack(c, kSmss, 3000));
  EXPECT_EQ(c.cwnd, 13000u);  // 15000 - 3000 + 1000
  EXPECT_TRUE(c.in_recovery);
  EXPECT_EQ(c.dupacks, 0u);
  EXPECT_EQ(c.recover, recover);

  c.snd_una += 500;
  EXPECT_TRUE(cwnd_on_new_ack(c, kSmss, 500));
  EXPECT_EQ(c.cwnd, 12500u);  // less than SMSS acknowledged: nothing added back

  c.cwnd = 2000;
  c.snd_una += 5000;
  EXPECT_TRUE(cwnd_on_new_ack(c, kSmss, 5000));
  EXPECT_EQ(c.cwnd, 2000u);  // deflation stops at SMSS, then + SMSS
  EXPECT_EQ(c.ssthresh, 10000u);
}

// RFC 6582 §3.2 step 5: a full ACK ends recovery with
// cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS).
TEST(Congestion, FullAckEndsRecovery) {
  Tcb c;
  set_flight(c, 20000);
  c.cwnd = 20000;
  for (int i = 0; i < 3; ++i) cwnd_on_dupack(c, kSmss);
  ASSERT_TRUE(c.in_recovery);
  c.snd_una = c.recover;  // everything outstanding at loss time is acknowledged
  EXPECT_FALSE(cwnd_on_new_ack(c, kSmss, 20000));
  EXPECT_FALSE(c.in_recovery);
  EXPECT_EQ(c.cwnd, 2000u);  // nothing in flight: max(0, SMSS) + SMSS

  // New data sent during recovery is still in flight: cwnd = ssthresh.
  Tcb d;
  set_flight(d, 20000);
  d.cwnd = 20000;
  for (int i = 0; i < 3; ++i) cwnd_on_dupack(d, kSmss);
  d.snd_max = d.recover + 15000;
  d.snd_una = d.recover;
  EXPECT_FALSE(cwnd_on_new_ack(d, kSmss, 20000));
  EXPECT_EQ(d.cwnd, 10000u);  // min(10000, 15000 + 1000)

  // A little in flight: 4000 + 1000 below ssthresh.
  Tcb f;
  set_flight(f, 20000);
  f.cwnd = 20000;
  for (int i = 0; i < 3; ++i) cwnd_on_dupack(f, kSmss);
  f.snd_max = f.recover + 4000;
  f.snd_una = f.recover + 1;  // beyond recover counts as full too
  EXPECT_FALSE(cwnd_on_new_ack(f, kSmss, 20001));
  EXPECT_EQ(f.cwnd, 4999u);  // flight 3999 + 1000
}

// Outside recovery a new ACK resets the duplicate count and grows cwnd.
TEST(Congestion, NewAckOutsideRecoveryGrows) {
  Tcb c;
  set_flight(c, 10000);
  c.cwnd = 10000;
  c.is_cwnd_limited = true;  // the flight filled cwnd (tcp_cwnd_validate)
  cwnd_on_dupack(c, kSmss);
  cwnd_on_dupack(c, kSmss);
  ASSERT_EQ(c.dupacks, 2u);
  c.snd_una += 1000;
  EXPECT_FALSE(cwnd_on_new_ack(c, kSmss, 1000));
  EXPECT_EQ(c.dupacks, 0u);
  EXPECT_EQ(c.cwnd, 11000u);
}

// RFC 5681 §3.1 after an RTO: ssthresh by eq. (4), cwnd = LW = 1 SMSS,
// recovery abandoned, recover = highest sent (RFC 6582 §3.2 step 4).
// Growth then restarts in slow start.
TEST(Congestion, TimeoutCollapsesToOneSegment) {
  Tcb c;
  set_flight(c, 20000);
  c.cwnd = 20000;
  for (int i = 0; i < 3; ++i) cwnd_on_dupack(c, kSmss);
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
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(cwnd_on_dupack(c, kSmss));
  EXPECT_FALSE(c.in_recovery);
  EXPECT_EQ(c.cwnd, 1000u);
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
  c.snd_una += 1000;
  EXPECT_FALSE(cwnd_on_new_ack(c, kSmss, 1000));
  EXPECT_EQ(c.cwnd, 10000u) << "5 segments out of 10: cwnd is not 2 * 5 short";
  c.max_out = 6000;
  EXPECT_TRUE(cwnd_limited(c));
  c.snd_una += 1000;
  cwnd_on_new_ack(c, kSmss, 1000);
  EXPECT_EQ(c.cwnd, 11000u);
  c.ssthresh = 11000;  // congestion avoidance: only a full window counts
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
