// "Segment arrives" on a synchronized connection (RFC 9293 §3.10.7.4 and
// RFC 5961), one step at a time, without an engine: the state fixture
// builds an ESTABLISHED connection, one segment is fed, and the test
// asserts exactly what is sent and what the connection became.
#include <gtest/gtest.h>

#include <vector>

#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

using tcp::State;
constexpr Seq kNext = LoneTcb::kIrs + 1;  // RCV.NXT after the handshake

tcp::TcpParams params() {
  tcp::TcpParams p;
  p.timestamps = 0;
  return p;
}

// First step: an unacceptable segment (here an old duplicate wholly below
// RCV.NXT) draws <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and is dropped.
TEST(TcbInput, OldDuplicateIsAckedAndDropped) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  const std::vector<std::uint8_t> data(100, 0x42);
  c.receive(kNext - 100, data);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, wire::kAck);
  EXPECT_EQ(out[0].ack, kNext);
  EXPECT_EQ(c.tcb.rcv_nxt, kNext);
  EXPECT_EQ(c.tcb.events & tcp::kEvReadable, 0);
}

// Second step with RFC 5961 §3.2: a reset exactly at RCV.NXT closes the
// connection with ECONNRESET and sends nothing.
TEST(TcbInput, ExactResetCloses) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  c.receive(kNext, {}, wire::kRst);
  EXPECT_EQ(c.tcb.state, State::kClosed);
  EXPECT_EQ(c.tcb.error, Errc::kConnReset);
  EXPECT_TRUE(c.sent().empty());
}

// RFC 5961 §3.2: a reset inside the window but not at RCV.NXT gets a
// challenge ACK, and the connection stays.
TEST(TcbInput, InWindowResetDrawsChallengeAck) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  c.receive(kNext + 1000, {}, wire::kRst);
  EXPECT_EQ(c.tcb.state, State::kEstablished);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, wire::kAck);
  EXPECT_EQ(out[0].ack, kNext);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPChallengeACK), 1u);
}

// RFC 5961 §4.2: a SYN on a synchronized connection gets a challenge ACK,
// whatever its sequence number; the connection stays.
TEST(TcbInput, SynOnEstablishedDrawsChallengeAck) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  c.receive(kNext + 7, {}, wire::kSyn);
  EXPECT_EQ(c.tcb.state, State::kEstablished);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ack, kNext);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPChallengeACK), 1u);
}

// Fifth step: an ACK for something not yet sent draws an ACK and the
// segment is dropped (its data is not taken).
TEST(TcbInput, AckOfUnsentDataIsAckedAndDropped) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  const std::vector<std::uint8_t> data(10, 0x42);
  c.receive_acking(c.tcb.snd_max + 1000, kNext, data);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ack, kNext);
  EXPECT_EQ(c.tcb.rcv_nxt, kNext);
}

// Seventh step: in-order text advances RCV.NXT and wakes the reader; the
// acknowledgment may be delayed (RFC 9293 §3.8.6.3), but not past the
// second full-sized segment (RFC 1122 §4.2.3.2).
TEST(TcbInput, InOrderTextIsTakenAndAckedByTheSecondFullSegment) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  const std::vector<std::uint8_t> data(1460, 0x42);
  c.receive(kNext, data);
  EXPECT_EQ(c.tcb.rcv_nxt, kNext + 1460);
  EXPECT_NE(c.tcb.events & tcp::kEvReadable, 0);
  EXPECT_TRUE(c.sent().empty());  // delayed: the delayed-ACK timer is armed
  EXPECT_TRUE(c.tcb.delack_timer.active());
  c.receive(kNext + 1460, data);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ack, kNext + 2 * 1460);
  EXPECT_FALSE(c.tcb.delack_timer.active());
}

// Seventh step: a segment beyond RCV.NXT is held, not delivered, and an
// immediate duplicate ACK tells the sender what is missing (RFC 5681 §4.2).
TEST(TcbInput, OutOfOrderTextIsHeldWithDuplicateAck) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  const std::vector<std::uint8_t> data(100, 0x42);
  c.receive(kNext + 100, data);
  EXPECT_EQ(c.tcb.rcv_nxt, kNext);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ack, kNext);
  c.receive(kNext, data);  // fills the hole: both are delivered
  EXPECT_EQ(c.tcb.rcv_nxt, kNext + 200);
}

}  // namespace
}  // namespace twstack::test
