// RTT from the handshake, on both sides (RFC 6298 §2-§3): Linux times the
// SYN and the SYN-ACK (tcp_ack_update_rtt from tcp_clean_rtx_queue on the
// active side, tcp_synack_rtt_meas on the passive side), so the RTO after
// the handshake is SRTT + tcp_rto_min, not the initial 1 s. A retransmitted
// SYN or SYN-ACK is not timed (Karn) unless timestamps tell the copies apart.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

using tcp::State;
constexpr Seq kNext = LoneTcb::kIrs + 1;
constexpr Duration kRtt = Duration::millis(5);

tcp::TcpParams params(bool timestamps = false) {
  tcp::TcpParams p(StackConfig{});
  p.timestamps = timestamps ? 1 : 0;
  return p;
}

// Passive: the ACK of our SYN-ACK 5 ms after it left gives SRTT = 5 ms and
// RTO = 5 + max(10, 200) ms.
TEST(TcbRtt, PassiveOpenTimesTheSynAck) {
  LoneTcb c(params());
  c.open(PeerSyn{});
  c.advance(kRtt);
  c.receive(kNext, {}, wire::kAck);
  ASSERT_EQ(c.tcb.state, State::kEstablished);
  EXPECT_EQ(c.tcb.srtt_us, 5000);
  EXPECT_EQ(c.tcb.rto_us, 205000);
}

// Active: the SYN-ACK 5 ms after our SYN.
TEST(TcbRtt, ActiveOpenTimesTheSyn) {
  LoneTcb c(params());
  c.connect();
  c.advance(kRtt);
  c.syn_ack(PeerSyn{});
  ASSERT_EQ(c.tcb.state, State::kEstablished);
  EXPECT_EQ(c.tcb.srtt_us, 5000);
  EXPECT_EQ(c.tcb.rto_us, 205000);
}

// The case: a lost FIN in LAST_ACK goes again after ~0.2 s, as on
// Linux, not after the initial RTO of 1 s.
TEST(TcbRtt, LostFinInLastAckIsResentAfterTheMeasuredRto) {
  LoneTcb c(params());
  c.open(PeerSyn{});
  c.advance(kRtt);
  c.receive(kNext, {}, wire::kAck);
  c.receive(kNext, {}, wire::kAck | wire::kFin);
  c.sent();
  c.close();
  auto fin = c.sent();
  ASSERT_EQ(fin.size(), 1u);
  ASSERT_TRUE(fin[0].has(wire::kFin));
  ASSERT_EQ(c.tcb.state, State::kLastAck);
  const Instant sent_at = c.now();
  const Instant at = c.fire_due(tcp::kTimerRetransmit);
  EXPECT_EQ((at - sent_at).us, 205000);
  auto again = c.sent();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(again[0].has(wire::kFin));
}

// Karn's rule: a retransmitted SYN-ACK without timestamps gives no sample;
// the RTO falls back to 3 s (RFC 6298 §5.7, Linux tcp_init_metrics).
TEST(TcbRtt, RetransmittedSynAckIsNotTimedWithoutTimestamps) {
  LoneTcb c(params());
  c.open(PeerSyn{});
  c.fire_due(tcp::kTimerRetransmit);
  ASSERT_EQ(c.sent().size(), 1u);
  c.advance(kRtt);
  c.receive(kNext, {}, wire::kAck);
  ASSERT_EQ(c.tcb.state, State::kEstablished);
  EXPECT_EQ(c.tcb.srtt_us, 0);
  EXPECT_EQ(c.tcb.rto_us, 3000000);
}

// With timestamps the echo of the resent SYN-ACK's TSval is a sample
// (tcp_ack_update_rtt with FLAG_SYN_ACKED): 5 ms, RTO 205 ms.
TEST(TcbRtt, RetransmittedSynAckIsTimedByItsTimestamp) {
  LoneTcb c(params(true));
  PeerSyn syn;
  syn.tsval = 100;
  c.open(syn);
  c.fire_due(tcp::kTimerRetransmit);
  auto rtx = c.sent();
  ASSERT_EQ(rtx.size(), 1u);
  ASSERT_TRUE(rtx[0].opt.has_timestamps);
  c.advance(kRtt);
  c.peer_timestamps(101, rtx[0].opt.tsval);
  c.receive(kNext, {}, wire::kAck);
  ASSERT_EQ(c.tcb.state, State::kEstablished);
  EXPECT_EQ(c.tcb.srtt_us, 5000);
  EXPECT_EQ(c.tcb.rto_us, 205000);
}

// tcp_rtt_tsopt_us(tp, 1): an echo of this very millisecond is a 1 ms
// sample, not 0 or 1 µs: on a sub-millisecond path the timestamp clock
// cannot say less, and min_rtt (RACK's reordering window is min_rtt / 4)
// must not collapse to nothing.
TEST(TcbRtt, TimestampEchoOfThisMillisecondIsOneMillisecond) {
  LoneTcb c(params(true));
  PeerSyn syn;
  syn.tsval = 100;
  c.open(syn);
  c.fire_due(tcp::kTimerRetransmit);  // resent: only its timestamp times it
  auto rtx = c.sent();
  ASSERT_EQ(rtx.size(), 1u);
  c.advance(Duration::micros(300));
  c.peer_timestamps(101, rtx[0].opt.tsval);
  c.receive(kNext, {}, wire::kAck);
  ASSERT_EQ(c.tcb.state, State::kEstablished);
  EXPECT_EQ(c.tcb.srtt_us, 1000);
  EXPECT_EQ(c.tcb.rtte.min_rtt_us, 1000);
}

// The active side likewise: a resent SYN is not timed.
TEST(TcbRtt, RetransmittedSynIsNotTimedWithoutTimestamps) {
  LoneTcb c(params());
  c.connect();
  c.fire_due(tcp::kTimerRetransmit);
  c.sent();
  c.advance(kRtt);
  c.syn_ack(PeerSyn{});
  ASSERT_EQ(c.tcb.state, State::kEstablished);
  EXPECT_EQ(c.tcb.srtt_us, 0);
}

}  // namespace
}  // namespace twstack::test
