// Closing one connection (RFC 9293 §3.10.4-5, RFC 1122 §4.2.2.13, RFC 2525
// §2.17) without an engine: resets instead of FINs, a lost FIN and its
// retransmission, and the sequence number an abort carries after an RTO.
// What TIME-WAIT and the engine's TIME_WAIT table do stays in
// tests/scenario/close_test.cc.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

using tcp::State;
constexpr Seq kNext = LoneTcb::kIrs + 1;  // RCV.NXT after the handshake

// A TIME-WAIT length below tcp_fin_timeout, so an orphan in FIN-WAIT-2
// stays a full connection (docs/linux-timewait.md §1 c), as in the scenario
// tests these cases came from.
tcp::TcpParams params() {
  tcp::TcpParams p(StackConfig{});
  p.timestamps = 0;
  p.timewait_len = Duration::micros(7500000);
  return p;
}

// RFC 2525 §2.17 and Linux tcp_close: closing with unread data aborts with
// a reset, not a FIN (TCPAbortOnClose).
TEST(TcbClose, CloseWithUnreadDataResetsTheConnection) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  const std::vector<std::uint8_t> data(3, 0x42);
  c.receive(kNext, data);
  c.sent();
  const Seq snd_nxt = c.tcb.snd_nxt;
  c.close();  // 3 bytes unread
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, wire::kRst | wire::kAck) << "RFC 2525 §2.17: RST, not FIN";
  EXPECT_EQ(out[0].seq, snd_nxt);
  EXPECT_EQ(out[0].ack, kNext + 3);
  EXPECT_EQ(out[0].window, c.window_field());
  EXPECT_TRUE(out[0].payload.empty());
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPAbortOnClose), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpOutRsts), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpEstabResets), 1u);
  EXPECT_EQ(c.tcb.state, State::kClosed) << "closed, not in TIME-WAIT";
  EXPECT_EQ(c.tcb.error, Errc::kConnReset);
  EXPECT_EQ(c.tcb.events, 0) << "an orphan reports nothing";
  EXPECT_FALSE(c.tcb.rtx_timer.active());
}

// RFC 6298 §5: a lost FIN is retransmitted when the RTO expires, with the
// same sequence number, and once; its ACK ends the retransmissions.
TEST(TcbClose, LostFinIsRetransmittedAfterRto) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  const std::int64_t rto = c.tcb.rto_us;
  const Instant t0 = c.now();
  c.close();
  auto fin = c.sent();
  ASSERT_EQ(fin.size(), 1u);
  EXPECT_EQ(fin[0].flags, wire::kAck | wire::kFin);
  const Seq fin_seq = fin[0].seq;
  // The FIN is lost: it is resent one RTO later.
  const Instant at = c.fire_due(tcp::kTimerRetransmit);
  EXPECT_EQ((at - t0).us, rto) << "retransmitted one RTO later";
  EXPECT_GE((at - t0).us, 200000);
  auto again = c.sent();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].flags, wire::kAck | wire::kFin);
  EXPECT_EQ(again[0].seq, fin_seq);
  EXPECT_EQ(again[0].ack, kNext);
  EXPECT_TRUE(again[0].payload.empty());
  EXPECT_EQ(c.counters().get(Counter::TcpRetransSegs), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPTimeouts), 1u);
  EXPECT_EQ(c.tcb.state, State::kFinWait1);
  // The retransmission arrives; the peer ACKs it and closes too.
  c.receive(kNext, {}, wire::kAck);
  EXPECT_EQ(c.tcb.state, State::kFinWait2);
  EXPECT_FALSE(c.tcb.rtx_timer.active()) << "no third FIN";
  EXPECT_TRUE(c.sent().empty());
  c.receive(kNext, {}, wire::kAck | wire::kFin);
  EXPECT_EQ(c.tcb.state, State::kTimeWait);
  auto ack = c.sent();
  ASSERT_EQ(ack.size(), 1u);
  EXPECT_EQ(ack[0].flags, wire::kAck);
  EXPECT_EQ(ack[0].seq, fin_seq + 1);
  EXPECT_EQ(ack[0].ack, kNext + 1);
  EXPECT_EQ(c.counters().get(Counter::TcpRetransSegs), 1u);
}

// After an RTO, SND.NXT is rewound to SND.UNA for go-back-N, but the peer may
// already hold everything up to the highest sequence sent (only its ACKs
// were lost). A reset must carry a sequence number the peer accepts: RFC
// 9293 §3.10.5 says <SEQ=SND.NXT>, the next new octet (Linux
// tcp_acceptable_seq; FreeBSD tcp_output uses snd_max for the same reason).
TEST(TcbClose, AbortDuringRetransmissionStillResetsThePeer) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  const std::vector<std::uint8_t> data(5 * 1460, 0x42);
  ASSERT_EQ(c.send(data), data.size());
  ASSERT_EQ(c.sent().size(), 5u);
  const Seq snd_max = c.tcb.snd_max;
  // The peer has all the data; its ACKs are lost.
  c.fire_due(tcp::kTimerRetransmit);
  auto rtx = c.sent();
  ASSERT_EQ(rtx.size(), 1u);
  EXPECT_EQ(rtx[0].seq, c.tcb.snd_una);
  ASSERT_EQ(c.counters().get(Counter::TcpExtTCPTimeouts), 1u);
  ASSERT_LT(c.tcb.snd_nxt, snd_max) << "SND.NXT was not rewound by the RTO: the case tests nothing";
  ASSERT_EQ(c.tcb.snd_max, snd_max);
  c.abort();
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, wire::kRst | wire::kAck);
  EXPECT_EQ(out[0].seq, snd_max) << "RST sent with a rewound sequence number: the peer drops it";
  EXPECT_EQ(out[0].ack, kNext);
  EXPECT_TRUE(out[0].payload.empty());
  EXPECT_EQ(c.tcb.state, State::kClosed);
  EXPECT_EQ(c.tcb.error, Errc::kConnReset);
  EXPECT_EQ(c.counters().get(Counter::TcpOutRsts), 1u);
}

// RFC 1122 §4.2.2.13: "if new data is received after CLOSE is called, its
// TCP SHOULD send a RST to show that data was lost" (Linux
// tcp_rcv_state_process, TCPAbortOnData).
TEST(TcbClose, DataArrivingAfterCloseIsAnsweredWithReset) {
  LoneTcb c(params());
  c.in_state(State::kFinWait2);  // by close(): an orphan
  ASSERT_TRUE(c.tcb.orphaned);
  ASSERT_EQ(c.tcb.fw2_handoff_us, 0) << "precondition: still a full connection, not a TIME_WAIT-table entry";
  const std::vector<std::uint8_t> data(1000, 0x42);
  const Seq seg_ack = c.tcb.snd_max;
  c.receive(kNext, data, wire::kAck | wire::kPsh);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u) << "data for a closed application was acknowledged and dropped";
  // RFC 9293 §3.10.7.1 form for a segment with ACK: <SEQ=SEG.ACK><CTL=RST>.
  EXPECT_EQ(out[0].flags, wire::kRst);
  EXPECT_EQ(out[0].seq, seg_ack);
  EXPECT_TRUE(out[0].payload.empty());
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPAbortOnData), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpOutRsts), 1u);
  EXPECT_EQ(c.tcb.state, State::kClosed);
  EXPECT_EQ(c.tcb.error, Errc::kConnReset);
  EXPECT_EQ(c.tcb.rcv_nxt, kNext) << "the data was taken";
}

}  // namespace
}  // namespace twstack::test
