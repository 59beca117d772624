// RACK loss detection (RFC 8985 §6, Linux tcp_recovery.c) on one connection
// without an engine: the reordering timer, lost marks, the reordering
// degree SACKs show (tcp_check_sack_reordering), and net.ipv4.tcp_recovery
// = 0 keeping RFC 6675. The handshake takes 100 ms (SRTT = min_rtt =
// 100 ms), then ten 1000-byte segments go out at once.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "stack/tcp/rack.hh"
#include "stack/tcp/sack.hh"
#include "tests/support/lone_tcb.hh"
#include "tests/support/sack_peer.hh"

namespace twstack::test {
namespace {

constexpr std::uint32_t kMss = 1000;
constexpr std::int64_t kRttUs = 100000;

tcp::TcpParams params(std::uint8_t recovery) {
  tcp::TcpParams p(StackConfig{});
  p.timestamps = 0;
  p.recovery = recovery;
  return p;
}

class Rack : public ::testing::Test {
 protected:
  explicit Rack(std::uint8_t recovery = 1) : c(params(recovery)) {
    PeerSyn s;
    s.mss = kMss;
    s.sack_permitted = true;
    c.open(s);
    c.advance(Duration::micros(kRttUs));
    c.receive(s.irs + 1, {}, wire::kAck);
    c.sent();
    peer.base = c.tcb.snd_nxt;
    const std::vector<std::uint8_t> data(10 * kMss, 0x42);
    c.send(data);
    EXPECT_EQ(c.sent().size(), 10u);
    c.advance(Duration::micros(kRttUs));
  }
  Seq seg(std::uint32_t i) const { return peer.seg(i); }
  wire::SackBlock sacked(std::uint32_t from, std::uint32_t to) const { return peer.sacked(from, to); }
  std::vector<Seq> ack(std::uint32_t upto, std::vector<wire::SackBlock> blocks) {
    return peer.ack(upto, std::move(blocks));
  }
  std::vector<Seq> drawn() { return peer.drawn(); }
  std::uint32_t lost() const { return tcp::rack_lost_segs(c.tcb, kMss); }
  LoneTcb c;
  SackPeer peer{c, kMss};
};

class Rfc6675 : public Rack {
 protected:
  Rfc6675() : Rack(0) {}
};

// RFC 8985 §6.2 step 5: one SACK above the hole, sent at the same time:
// the hole may be reordered, so nothing goes yet; the reordering timer
// waits RACK.rtt + reo_wnd (min_rtt / 4) from the send, plus Linux's
// TCP_TIMEOUT_MIN, and then the first segment goes (tcp_rack_reo_timeout).
TEST_F(Rack, OneSackArmsTheReorderingTimer) {
  EXPECT_TRUE(ack(0, {sacked(9, 10)}).empty());
  EXPECT_TRUE(c.tcb.rack.reo_armed);
  EXPECT_FALSE(c.tcb.tlp.pto_armed);
  EXPECT_EQ(lost(), 0u);
  EXPECT_EQ(c.due(tcp::kTimerRetransmit).us, c.now().us + kRttUs / 4 + 2000);
  c.fire_due(tcp::kTimerRetransmit);
  const auto out = drawn();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.front(), seg(0));  // then as many as cwnd allows
  EXPECT_TRUE(c.tcb.in_recovery);
  EXPECT_EQ(lost(), 9u);
  EXPECT_EQ(tcp::rack_rtx_out_segs(c.tcb, kMss), out.size());
  EXPECT_FALSE(c.tcb.rack.reo_armed);  // the RTO runs on
  EXPECT_TRUE(c.tcb.rtx_timer.active());
}

// Once DupThresh segments are SACKed, no reordering seen yet, reo_wnd is 0
// (tcp_rack_reo_wnd): the holes below are lost at once.
TEST_F(Rack, DupThreshSackedSegmentsMarkTheHolesLost) {
  EXPECT_TRUE(ack(0, {sacked(2, 3)}).empty());
  EXPECT_TRUE(ack(0, {sacked(2, 3), sacked(6, 7)}).empty());
  EXPECT_EQ(ack(0, {sacked(2, 3), sacked(6, 7), sacked(8, 9)}).front(), seg(0));
  EXPECT_TRUE(c.tcb.in_recovery);
  EXPECT_EQ(lost(), 6u);  // 0, 1, 3, 4, 5, 7
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPSackRecovery), 1u);
}

// tcp_check_sack_reordering: a segment never resent, SACKed below the
// highest SACK, arrived out of order; the distance raises tp->reordering.
TEST_F(Rack, SackInAHoleRaisesTheReorderingDegree) {
  ack(0, {sacked(2, 3), sacked(8, 9)});
  EXPECT_EQ(c.tcb.rack.reordering, 3u);
  EXPECT_EQ(c.tcb.rack.reord_seen, 0u);
  ack(0, {sacked(2, 4), sacked(8, 9)});
  EXPECT_EQ(c.tcb.rack.reordering, 6u);  // 3 SACKed below 9: six segments
  EXPECT_EQ(c.tcb.rack.reord_seen, 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPSACKReorder), 1u);
  // Less than reordering * MSS below: seen, the degree stays.
  ack(0, {sacked(2, 4), sacked(6, 9)});
  EXPECT_EQ(c.tcb.rack.reordering, 6u);
  EXPECT_EQ(c.tcb.rack.reord_seen, 2u);
}

// A resent segment SACKed says nothing of reordering.
TEST_F(Rack, SackOfAResentSegmentIsNoReordering) {
  ack(0, {sacked(2, 3), sacked(6, 7), sacked(8, 9)});
  ASSERT_TRUE(c.tcb.in_recovery);
  ack(0, {sacked(0, 1), sacked(2, 3), sacked(6, 7), sacked(8, 9)});
  EXPECT_EQ(c.tcb.rack.reord_seen, 0u);
  EXPECT_EQ(lost(), 5u);  // SACKed: lost no more
}

// tcp_clean_rtx_queue: a cumulative ACK that fills holes never resent
// below the highest SACK is reordering too.
TEST_F(Rack, CumulativeAckOfHolesIsReordering) {
  ack(0, {sacked(9, 10)});
  ack(0, {sacked(3, 4), sacked(9, 10)});
  EXPECT_EQ(c.tcb.rack.reordering, 7u);
  ack(10, {});
  EXPECT_EQ(c.tcb.rack.reordering, 10u);
  EXPECT_EQ(c.tcb.rack.reord_seen, 2u);
  EXPECT_FALSE(c.tcb.rack.reo_armed);
}

// tcp_clean_rtx_queue / tcp_ack_update_rtt: every ACK is timed from the
// send times of what it newly delivers: the first such segment gives the
// estimator its sample (seq_rtt_us), the last one min_rtt (ca_rtt_us).
TEST_F(Rack, EveryAckIsTimedFromTheSendTimes) {
  c.send(std::vector<std::uint8_t>(4 * kMss, 0x43));  // waits for cwnd
  EXPECT_TRUE(drawn().empty());
  const auto more = ack(2, {});  // segments 0 and 1, sent 100 ms ago
  EXPECT_EQ(c.tcb.srtt_us, kRttUs);
  ASSERT_FALSE(more.empty());  // cwnd grew: these go now
  c.advance(Duration::micros(30000));
  ack(11, {});  // 2 to 9 sent 130 ms ago, 10 sent 30 ms ago
  EXPECT_EQ(c.tcb.srtt_us, kRttUs + 30000 / 8);  // the sample is 130 ms
  EXPECT_EQ(c.tcb.rtte.min_rtt_us, 30000);
}

// Karn (RFC 6298 §3): an ACK of resent data only gives no sample. The
// first expiry is the loss probe (segment 9), the second the RTO, which
// resends segment 0.
TEST_F(Rack, ResentDataIsNotTimed) {
  c.fire_due(tcp::kTimerRetransmit);
  c.fire_due(tcp::kTimerRetransmit);
  const auto out = drawn();
  ASSERT_FALSE(out.empty());
  ASSERT_EQ(out.back(), seg(0));
  const std::int64_t srtt = c.tcb.srtt_us;
  c.advance(Duration::micros(5000));
  ack(1, {});
  EXPECT_EQ(c.tcb.srtt_us, srtt);
  EXPECT_EQ(c.tcb.rtte.min_rtt_us, kRttUs);
}

// tcp_cong_control: cwnd grows by what each ACK newly delivered
// (acked_sacked), and a SACK grows it only once the reordering degree is
// above net.ipv4.tcp_reordering (tcp_may_raise_cwnd). Linux's
// cubic-rack-reo-timeout-retrans-failed-incoming-data: 10 + 1 + 8 = 19.
TEST_F(Rack, CwndGrowsByNewlyDeliveredData) {
  ASSERT_EQ(c.tcb.cwnd, 10 * kMss);
  ack(0, {sacked(9, 10)});
  EXPECT_EQ(c.tcb.cwnd, 10 * kMss);  // reordering 3: in-order data only
  ack(0, {sacked(3, 4), sacked(9, 10)});
  ASSERT_EQ(c.tcb.rack.reordering, 7u);
  EXPECT_EQ(c.tcb.cwnd, 11 * kMss);
  ack(10, {});
  EXPECT_EQ(c.tcb.cwnd, 19 * kMss);  // 8 newly delivered, not 10
}

// With reordering seen, RACK waits reo_wnd even past DupThresh.
TEST_F(Rack, ReorderingSeenKeepsTheWindow) {
  ack(0, {sacked(9, 10)});
  ack(0, {sacked(3, 4), sacked(9, 10)});
  EXPECT_TRUE(ack(0, {sacked(3, 4), sacked(7, 10)}).empty());
  EXPECT_EQ(lost(), 0u);
  EXPECT_TRUE(c.tcb.rack.reo_armed);
}

// RFC 8985 §7.2 / tcp_schedule_loss_probe: no probe once data is SACKed
// (TCP_CA_Disorder). The cumulative ACK delivers segment 0, sent with 9:
// RACK runs again and the reordering timer stays (tcp_identify_packet_loss
// clears FLAG_SET_XMIT_TIMER).
TEST_F(Rack, NoLossProbeWhileDataIsSacked) {
  ack(0, {sacked(9, 10)});
  ack(1, {sacked(9, 10)});
  EXPECT_TRUE(c.tcb.rack.reo_armed);
  EXPECT_FALSE(c.tcb.tlp.pto_armed);
  EXPECT_TRUE(c.tcb.rtx_timer.active());
}

// tcp_rack_advance: every delivered segment sets RACK.rtt, one sent earlier
// than RACK's segment too; only RACK.xmit_ts and end_seq wait for a later
// send. Segment 0, delivered 10 ms after segment 9 and sent with it, makes
// RACK.rtt 110 ms, so segments 1 to 8 get 10 ms more before they are lost
// (Linux's prr-ss-ack-below-snd_una-cubic turns on this).
TEST_F(Rack, EveryDeliverySetsRackRtt) {
  ack(0, {sacked(9, 10)});
  const std::uint32_t xmit = c.tcb.rack.mstamp_us;
  EXPECT_EQ(c.tcb.rack.rtt_us, kRttUs);
  c.advance(Duration::micros(10000));
  ack(1, {sacked(9, 10)});
  EXPECT_EQ(c.tcb.rack.rtt_us, kRttUs + 10000);
  EXPECT_EQ(c.tcb.rack.mstamp_us, xmit);
  EXPECT_EQ(c.tcb.rack.end_seq, seg(10));
  // Due RACK.rtt + reo_wnd (min_rtt / 4) after the send, plus TCP_TIMEOUT_MIN.
  EXPECT_EQ(c.due(tcp::kTimerRetransmit).us, c.now().us + kRttUs / 4 + 2000);
  EXPECT_EQ(lost(), 0u);
}

// A resent segment RACK finds lost again (a later send was delivered
// first) is out no more: TcpExtTCPLostRetransmit.
TEST_F(Rack, LostRetransmissionIsFoundAgain) {
  ack(0, {sacked(9, 10)});
  c.fire_due(tcp::kTimerRetransmit);
  auto out = drawn();
  const auto more = ack(0, {sacked(8, 10)});  // at once: a delivery lets more go
  out.insert(out.end(), more.begin(), more.end());
  ASSERT_GE(out.size(), 2u);
  ASSERT_EQ(out[0], seg(0));
  ASSERT_EQ(out[1], seg(1));
  // Resent 0 and 1 at the same time; the resend of 1 arrives a round trip
  // and a half later, that of 0 not: 0 is lost again.
  c.advance(Duration::micros(kRttUs + kRttUs / 2));
  // Segment 8 SACKed in a hole was reordering: RACK waits reo_wnd more.
  ack(0, {sacked(1, 2), sacked(8, 10)});
  EXPECT_EQ(c.tcb.rack.reord_seen, 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPLostRetransmit), 0u);
  EXPECT_TRUE(c.tcb.rack.reo_armed);
  c.fire_due(tcp::kTimerRetransmit);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPLostRetransmit), 1u);
  const auto again = drawn();
  ASSERT_FALSE(again.empty());
  EXPECT_EQ(again.front(), seg(0));
}

// net.ipv4.tcp_recovery = 0: RFC 6675's DupThresh; one SACK arms no
// reordering timer and the sender keeps no send times.
TEST_F(Rfc6675, OneSackWaitsForDupThresh) {
  EXPECT_TRUE(ack(0, {sacked(9, 10)}).empty());
  EXPECT_FALSE(c.tcb.rack.reo_armed);
  EXPECT_EQ(c.tcb.rack.num_sent, 0u);
  EXPECT_EQ(ack(0, {sacked(7, 10)}).front(), seg(0));
  EXPECT_TRUE(c.tcb.in_recovery);
}

// tcp_match_skb_to_sack: a block inside one segment SACKs nothing; one
// over a segment and a half SACKs the whole one.
TEST_F(Rack, SacksWholeSegmentsOnly) {
  c.peer_sack({wire::SackBlock{(seg(10) - 1).raw(), seg(10).raw()}});
  c.receive_acking(seg(0), LoneTcb::kIrs + 1, {});
  EXPECT_EQ(c.tcb.sack.num_sacked, 0u);
  EXPECT_TRUE(c.tcb.tlp.pto_armed);  // still TCP_CA_Open: the probe stays
  ack(0, {wire::SackBlock{(seg(7) + 500).raw(), seg(9).raw()}});
  ASSERT_EQ(c.tcb.sack.num_sacked, 1u);
  EXPECT_EQ(c.tcb.sack.sacked[0].begin, seg(8));
  EXPECT_EQ(c.tcb.sack.sacked[0].end, seg(9));
}

// RFC 6675's scoreboard stays byte-exact.
TEST_F(Rfc6675, SacksBytes) {
  c.peer_sack({wire::SackBlock{(seg(10) - 1).raw(), seg(10).raw()}});
  c.receive_acking(seg(0), LoneTcb::kIrs + 1, {});
  EXPECT_EQ(c.tcb.sack.sacked_bytes, 1u);
}

// tcp_enter_loss (tcp_timeout_mark_lost): an RTO takes every segment not
// SACKed as lost; the go-back-N resend is out again.
TEST_F(Rack, TimeoutMarksEverythingLost) {
  c.fire_due(tcp::kTimerRetransmit);  // the tail loss probe first
  c.sent();
  c.fire_due(tcp::kTimerRetransmit);  // then the RTO
  EXPECT_EQ(drawn(), (std::vector{seg(0)}));
  EXPECT_EQ(lost(), 10u);
  EXPECT_EQ(tcp::rack_rtx_out_segs(c.tcb, kMss), 1u);
}

// tcp_rack_update_reo_wnd: a D-SACK widens reo_wnd by one step of
// min_rtt / 4, kept for 16 recoveries.
TEST_F(Rack, DsackWidensTheReorderingWindow) {
  ack(1, {sacked(0, 1)});
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPDSACKRecv), 1u);
  EXPECT_EQ(c.tcb.rack.reo_wnd_steps, 2u);
  EXPECT_EQ(c.tcb.rack.reo_wnd_persist, 16u);
  ack(2, {sacked(0, 2)});  // within the same round trip: no second step
  EXPECT_EQ(c.tcb.rack.reo_wnd_steps, 2u);
}

class RackStatic : public Rack {
 protected:
  RackStatic() : Rack(tcp::kRackLossDetection | tcp::kRackStaticReoWnd) {}
};

// TCP_RACK_STATIC_REO_WND: D-SACKs leave reo_wnd alone.
TEST_F(RackStatic, DsackLeavesTheWindow) {
  ack(1, {sacked(0, 1)});
  EXPECT_EQ(c.tcb.rack.reo_wnd_steps, 1u);
}

class RackNoDupthresh : public Rack {
 protected:
  RackNoDupthresh() : Rack(tcp::kRackLossDetection | tcp::kRackNoDupthresh) {}
};

// TCP_RACK_NO_DUPTHRESH: DupThresh SACKed segments do not close reo_wnd.
TEST_F(RackNoDupthresh, WaitsPastDupThresh) {
  EXPECT_TRUE(ack(0, {sacked(2, 3), sacked(6, 7), sacked(8, 9)}).empty());
  EXPECT_EQ(lost(), 0u);
  EXPECT_TRUE(c.tcb.rack.reo_armed);
}

// A connection whose ACK covers everything keeps nothing (the short
// connection's path).
TEST_F(Rack, AckOfEverythingForgetsTheSendTimes) {
  EXPECT_NE(c.tcb.rack.num_sent, 0u);
  ack(10, {});
  EXPECT_EQ(c.tcb.rack.num_sent, 0u);
}

}  // namespace
}  // namespace twstack::test
