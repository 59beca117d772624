// When received data is acknowledged, as Linux does it (RFC 1122 §4.2.3.2,
// RFC 5681 §4.2; tcp_event_data_recv, tcp_incr_quickack,
// __tcp_ack_snd_check, tcp_send_delayed_ack, tcp_delack_timer_handler):
// quick-ACK mode for the first data and after idle, delayed ACKs (ATO from
// 40 ms) otherwise, an ACK for every second full segment, and interactive
// ("pingpong") connections whose ACKs wait for the reply.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

using tcp::State;
constexpr Seq kNext = LoneTcb::kIrs + 1;
constexpr std::uint32_t kMss = 1460;

// The application reads what arrived.
void drain(LoneTcb& c) {
  std::vector<std::uint8_t> buf(4096);
  while (c.recv(buf) > 0) {
  }
}

tcp::TcpParams params() {
  tcp::TcpParams p(StackConfig{});
  p.timestamps = 0;
  return p;
}

// A connection's first data is ACKed at once, segment by segment, for up to
// 16 ACKs (TCP_MAX_QUICKACKS; half the 64 KiB window holds more segments),
// then ACKs are delayed.
TEST(TcbDelack, FirstDataIsAckedAtOnceForSixteenAcks) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  const std::vector<std::uint8_t> data(100, 0x42);
  Seq seq = kNext;
  for (int i = 0; i < 16; ++i) {
    SCOPED_TRACE(i);
    c.receive(seq, data);
    drain(c);
    seq += 100;
    auto out = c.sent();
    ASSERT_EQ(out.size(), 1u) << "quick ACK " << i;
    EXPECT_EQ(out[0].ack, seq);
    c.advance(Duration::millis(100));  // not interactive: nothing is sent back
  }
  c.receive(seq, data);
  EXPECT_TRUE(c.sent().empty()) << "the 17th segment's ACK is delayed";
  EXPECT_TRUE(c.tcb.delack_timer.active());
  EXPECT_EQ((c.due(tcp::kTimerDelack) - c.now()).us, 40000) << "TCP_ATO_MIN";
}

// After quick-ACK mode: one short segment waits for the ATO, two full ones
// draw an ACK at once (more than one rcv_mss unacknowledged).
TEST(TcbDelack, DelayedAckAndEverySecondFullSegment) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  c.leave_quickack();
  const std::vector<std::uint8_t> small(100, 0x42);
  c.receive(kNext, small);
  EXPECT_TRUE(c.sent().empty());
  EXPECT_EQ((c.due(tcp::kTimerDelack) - c.now()).us, 40000);
  c.fire_due(tcp::kTimerDelack);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ack, kNext + 100);
  EXPECT_EQ(c.counters().get(Counter::TcpExtDelayedACKs), 1u);
  drain(c);
  c.sent();
  c.advance(Duration::millis(5));
  const std::vector<std::uint8_t> full(kMss, 0x42);
  c.receive(kNext + 100, full);
  EXPECT_TRUE(c.sent().empty());
  c.receive(kNext + 100 + kMss, full);
  out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ack, kNext + 100 + 2 * kMss);
}

// Data after an idle gap longer than the RTO re-enters quick-ACK mode.
TEST(TcbDelack, DataAfterIdleIsAckedAtOnce) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  c.leave_quickack();
  c.advance(Duration::micros(c.tcb.rto_us + 1000));
  const std::vector<std::uint8_t> data(100, 0x42);
  c.receive(kNext, data);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u) << "idle longer than the RTO: quick ACK";
  EXPECT_EQ(out[0].ack, kNext + 100);
}

// A reply sent within the ATO of the request makes the connection
// interactive: quick-ACK mode ends and the next request's ACK waits to ride
// on the reply (tcp_event_data_sent, tcp_in_quickack_mode).
TEST(TcbDelack, RequestResponseAcksRideOnTheReply) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  const std::vector<std::uint8_t> req(100, 0x42);
  c.receive(kNext, req);
  ASSERT_EQ(c.sent().size(), 1u) << "first data: quick ACK";
  drain(c);
  c.advance(Duration::millis(1));
  c.send(req);  // the reply, within the ATO
  ASSERT_EQ(c.sent().size(), 1u);
  EXPECT_TRUE(c.tcb.pingpong);
  c.advance(Duration::millis(1));
  c.receive(kNext + 100, req);  // the next request, acking the reply
  EXPECT_TRUE(c.sent().empty()) << "interactive: the ACK waits";
  drain(c);
  c.send(req);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ack, kNext + 200) << "the ACK rode on the reply";
  EXPECT_EQ(out[0].payload.size(), 100u);
  // No reply: the delayed ACK fires and the connection stops being interactive.
  c.advance(Duration::millis(1));
  c.receive(kNext + 200, req);
  EXPECT_TRUE(c.sent().empty());
  c.fire_due(tcp::kTimerDelack);
  EXPECT_EQ(c.sent().size(), 1u);
  EXPECT_FALSE(c.tcb.pingpong);
}

// Out-of-order data enters quick-ACK mode (tcp_data_queue_ofo); the ATO
// grows when delayed ACKs keep firing (tcp_delack_timer_handler).
TEST(TcbDelack, OutOfOrderDataEntersQuickAck) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  c.leave_quickack();
  const std::vector<std::uint8_t> data(100, 0x42);
  c.receive(kNext + 100, data);  // a hole before it
  ASSERT_EQ(c.sent().size(), 1u);
  EXPECT_GT(c.tcb.quick, 0);
  c.receive(kNext, data);  // fills the hole
  ASSERT_EQ(c.sent().size(), 1u);
}

// More than a segment of data with the peer's FIN: Linux takes the FIN
// before deciding on the ACK (tcp_data_queue, then __tcp_ack_snd_check), so
// one ACK acknowledges the data and the FIN (inq/server.pkt).
TEST(TcbDelack, DataWithFinGetsOneAckCoveringTheFin) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  const std::vector<std::uint8_t> data(3 * kMss, 0x42);
  c.receive(kNext, data, wire::kAck | wire::kFin);
  const auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ack, kNext + 3 * kMss + 1);
  EXPECT_EQ(c.tcb.state, State::kCloseWait);
}

}  // namespace
}  // namespace twstack::test
