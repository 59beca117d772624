// The close sequences of RFC 9293 §3.6 on one connection, without an engine:
// each case builds the connection in a state with the state fixture, feeds
// it one segment or call, and asserts the state it reaches and exactly what
// it sends.
#include <gtest/gtest.h>

#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

using tcp::State;
constexpr Seq kFin = LoneTcb::kIrs + 1;  // the peer's FIN, after its SYN

tcp::TcpParams params() {
  tcp::TcpParams p(StackConfig{});
  p.timestamps = 0;
  return p;
}

TEST(TcbFixture, ReachesEveryState) {
  for (State s : {State::kEstablished, State::kCloseWait, State::kLastAck, State::kFinWait1,
                  State::kFinWait2, State::kClosing, State::kTimeWait}) {
    LoneTcb c(params());
    c.in_state(s);
    EXPECT_EQ(c.tcb.state, s) << tcp::to_string(s);
  }
}

// RFC 9293 §3.10.7.4, eighth step: a FIN in ESTABLISHED moves to
// CLOSE-WAIT, is acknowledged at once, and tells the user the peer closed.
TEST(TcbClose, FinInEstablishedGoesToCloseWaitAndAcks) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  c.receive(kFin, {}, wire::kAck | wire::kFin);
  EXPECT_EQ(c.tcb.state, State::kCloseWait);
  EXPECT_NE(c.tcb.events & tcp::kEvPeerClosed, 0);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, wire::kAck);
  EXPECT_EQ(out[0].ack, kFin + 1);
}

// RFC 9293 §3.10.4 CLOSE, ESTABLISHED: queue a FIN, enter FIN-WAIT-1.
TEST(TcbClose, CloseInEstablishedSendsFin) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  const Seq una = c.tcb.snd_una;
  c.close();
  EXPECT_EQ(c.tcb.state, State::kFinWait1);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, wire::kAck | wire::kFin);
  EXPECT_EQ(out[0].seq, una);
  EXPECT_EQ(out[0].ack, kFin);
}

// RFC 9293 §3.10.4 CLOSE, CLOSE-WAIT: send the FIN, enter LAST-ACK.
TEST(TcbClose, CloseInCloseWaitGoesToLastAck) {
  LoneTcb c(params());
  c.in_state(State::kCloseWait);
  c.close();
  EXPECT_EQ(c.tcb.state, State::kLastAck);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, wire::kAck | wire::kFin);
  EXPECT_EQ(out[0].ack, kFin + 1);
}

// RFC 9293 §3.10.7.4, fifth step, LAST-ACK: the ACK of our FIN closes.
TEST(TcbClose, AckOfFinInLastAckCloses) {
  LoneTcb c(params());
  c.in_state(State::kLastAck);
  c.receive(kFin + 1, {}, wire::kAck);
  EXPECT_EQ(c.tcb.state, State::kClosed);
  EXPECT_TRUE(c.sent().empty());
}

// Fifth step, FIN-WAIT-1: once our FIN is acknowledged, FIN-WAIT-2.
TEST(TcbClose, AckOfFinInFinWait1GoesToFinWait2) {
  LoneTcb c(params());
  c.in_state(State::kFinWait1);
  c.receive(kFin, {}, wire::kAck);
  EXPECT_EQ(c.tcb.state, State::kFinWait2);
  EXPECT_TRUE(c.sent().empty());
}

// Eighth step, FIN-WAIT-2: the peer's FIN enters TIME-WAIT and is ACKed.
TEST(TcbClose, FinInFinWait2GoesToTimeWaitAndAcks) {
  LoneTcb c(params());
  c.in_state(State::kFinWait2);
  c.receive(kFin, {}, wire::kAck | wire::kFin);
  EXPECT_EQ(c.tcb.state, State::kTimeWait);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, wire::kAck);
  EXPECT_EQ(out[0].ack, kFin + 1);
  EXPECT_EQ(out[0].seq, c.tcb.snd_max);
}

// Eighth step, FIN-WAIT-1 with a FIN that does not ACK ours: CLOSING, and
// the FIN is acknowledged.
TEST(TcbClose, SimultaneousCloseGoesToClosing) {
  LoneTcb c(params());
  c.in_state(State::kFinWait1);
  c.receive_acking(c.tcb.snd_una, kFin, {}, wire::kAck | wire::kFin);
  EXPECT_EQ(c.tcb.state, State::kClosing);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ack, kFin + 1);
}

// Fifth step, CLOSING: the ACK of our FIN enters TIME-WAIT, sending nothing.
TEST(TcbClose, AckOfFinInClosingGoesToTimeWait) {
  LoneTcb c(params());
  c.in_state(State::kClosing);
  c.receive(kFin + 1, {}, wire::kAck);
  EXPECT_EQ(c.tcb.state, State::kTimeWait);
  EXPECT_TRUE(c.sent().empty());
}

}  // namespace
}  // namespace twstack::test
