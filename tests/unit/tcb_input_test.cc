// "Segment arrives" on a synchronized connection (RFC 9293 §3.10.7.4), one
// step at a time, without an engine: the state fixture builds an
// ESTABLISHED connection, one segment is fed, and the test asserts exactly
// what is sent and what the connection became. The RST and SYN checks of
// RFC 5961 are in tcb_rst_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <span>
#include <vector>

#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

using tcp::State;
constexpr Seq kNext = LoneTcb::kIrs + 1;  // RCV.NXT after the handshake

tcp::TcpParams params() {
  tcp::TcpParams p(StackConfig{});
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
  c.leave_quickack();  // tcb_delack_test covers the connection's first data
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

// Linux tcp_check_req, embryonic_reset: a reset in SYN-RECEIVED drops the
// request and counts EmbryonicRsts.
TEST(TcbInput, ResetInSynReceivedCountsEmbryonicRst) {
  LoneTcb c(params());
  c.open(LoneTcb::kIrs, 1460, 65535);
  c.receive(kNext, {}, wire::kRst);
  EXPECT_EQ(c.tcb.state, State::kClosed);
  EXPECT_EQ(c.counters().get(Counter::TcpExtEmbryonicRsts), 1u);
}

// Linux tcp_data_queue: data at RCV.NXT into a zero window is dropped,
// counted (TCPZeroWindowDrop) and answered with an ACK of the same window.
TEST(TcbInput, DataIntoZeroWindowIsCountedAndDropped) {
  tcp::TcpParams p = params();
  p.rcvbuf = 8192;
  LoneTcb c(p);
  c.in_state(State::kEstablished);
  const std::vector<std::uint8_t> data(1460, 0x42);
  for (int i = 0; i < 64 && c.tcb.rcv_adv > c.tcb.rcv_nxt; ++i) {
    const auto room = static_cast<std::uint32_t>(c.tcb.rcv_adv - c.tcb.rcv_nxt);
    c.receive(c.tcb.rcv_nxt, std::span(data).first(std::min<std::uint32_t>(room, 1460)));
    c.fire(tcp::kTimerDelack);
  }
  ASSERT_EQ(c.tcb.rcv_adv, c.tcb.rcv_nxt) << "the window never closed";
  c.sent();
  const Seq before = c.tcb.rcv_nxt;
  c.receive(before, data);
  EXPECT_EQ(c.tcb.rcv_nxt, before);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPZeroWindowDrop), 1u);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].window, 0);
}

// TcpOutSegs counts as Linux's __tcp_transmit_skb: new sequence space or
// none, never a retransmission (that is TcpRetransSegs).
TEST(TcbInput, OutSegsLeavesOutRetransmissions) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  const std::uint64_t before = c.counters().get(Counter::TcpOutSegs);
  const std::vector<std::uint8_t> data(100, 0x42);
  c.send(data);
  ASSERT_EQ(c.sent().size(), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpOutSegs), before + 1);
  c.fire(tcp::kTimerRetransmit);
  ASSERT_EQ(c.sent().size(), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpRetransSegs), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpOutSegs), before + 1);
}

}  // namespace
}  // namespace twstack::test
