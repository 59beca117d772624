// Tail loss probes (RFC 8985 §7) on one connection without an engine, as
// Linux sends them with net.ipv4.tcp_early_retrans = 3: the probe timeout
// (tcp_schedule_loss_probe), the probe itself (tcp_send_loss_probe: new
// data if it may go, else the last segment again), one probe at a time, and
// what its acknowledgment says (tcp_process_tlp_ack).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

constexpr std::uint32_t kMss = 1460;  // no timestamps: the whole MSS
constexpr Seq kNext = LoneTcb::kIrs + 1;

tcp::TcpParams params() {
  tcp::TcpParams p(StackConfig{});
  p.timestamps = 0;
  return p;
}

// ESTABLISHED with SACK (unless `sack` is false) and RTT samples of 40 ms,
// the handshake's and one of data: SRTT 40 ms, RTO = SRTT + max(RTTVAR,
// tcp_rto_min) = 240 ms (Linux __tcp_set_rto, tcp_rtt_estimator).
class LossProbe : public ::testing::Test {
 protected:
  explicit LossProbe(const tcp::TcpParams& p = params(), bool sack = true) : c(p) {
    PeerSyn s;
    s.sack_permitted = sack;
    c.open(s);
    c.advance(Duration::millis(40));
    c.receive(kNext, {}, wire::kAck);  // the SYN-ACK's RTT (tcp_synack_rtt_meas)
    c.sent();
    const std::vector<std::uint8_t> first(100, 1);
    c.send(first);
    c.sent();
    c.advance(Duration::millis(40));
    c.receive(kNext, {});
    c.sent();
    EXPECT_EQ(c.tcb.srtt_us, 40000);
    EXPECT_EQ(c.tcb.rto_us, 240000);
    base = c.tcb.snd_nxt;
  }
  std::vector<SentSegment> send_segments(std::uint32_t n) {
    const std::vector<std::uint8_t> d(n * kMss, 0x42);
    c.send(d);
    return c.sent();
  }
  std::int64_t timer_in_us() { return c.due(tcp::kTimerRetransmit).us - c.now().us; }
  LoneTcb c;
  Seq base;
};

// PTO = 2 * SRTT + TCP_TIMEOUT_MIN with more than one segment in flight;
// the probe resends the last segment when there is nothing new to send.
TEST_F(LossProbe, ResendsTheLastSegmentAfterTwoSrtt) {
  ASSERT_EQ(send_segments(3).size(), 3u);
  EXPECT_EQ(timer_in_us(), 82000);
  c.fire_due(tcp::kTimerRetransmit);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seq, base + 2 * kMss);
  EXPECT_EQ(out[0].payload.size(), kMss);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPLossProbes), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpRetransSegs), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPTimeouts), 0u);
  // Behind the probe the RTO runs (tcp_rearm_rto).
  EXPECT_EQ(timer_in_us(), 240000);
}

// One segment in flight: the PTO allows for a delayed ACK (+ rto_min),
// and is capped by the RTO.
TEST_F(LossProbe, OneSegmentInFlightWaitsNoLongerThanTheRto) {
  send_segments(1);
  EXPECT_EQ(timer_in_us(), 240000);  // min(2 * 40 + 200, RTO 240) ms
  EXPECT_TRUE(c.tcb.tlp.pto_armed);
}

// New data the peer's window allows goes out as the probe, past cwnd.
TEST_F(LossProbe, SendsNewDataWhenTheWindowAllows) {
  c.tcb.cwnd = 2 * kMss;
  ASSERT_EQ(send_segments(4).size(), 2u);
  c.fire_due(tcp::kTimerRetransmit);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seq, base + 2 * kMss);
  EXPECT_EQ(c.counters().get(Counter::TcpRetransSegs), 0u);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPLossProbes), 1u);
}

// At most one probe outstanding: the next PTO sends nothing.
TEST_F(LossProbe, OneProbeAtATime) {
  send_segments(4);
  c.fire_due(tcp::kTimerRetransmit);
  c.sent();
  c.receive_acking(base + kMss, kNext, {});  // below the probe's high_seq
  EXPECT_TRUE(c.tcb.tlp.pto_armed);
  c.fire_due(tcp::kTimerRetransmit);
  EXPECT_TRUE(c.sent().empty());
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPLossProbes), 1u);
}

// The probe repaired a loss: an ACK beyond it with no D-SACK halves cwnd
// once (TCPLossProbeRecovery); a D-SACK says both copies arrived.
TEST_F(LossProbe, AckBeyondTheProbeWithoutDsackIsARepairedLoss) {
  send_segments(3);
  c.fire_due(tcp::kTimerRetransmit);
  c.sent();
  const std::uint32_t cwnd = c.tcb.cwnd;
  c.receive(kNext, {});  // everything, up to the probe's high_seq
  EXPECT_TRUE(c.tcb.tlp.out);
  send_segments(1);
  c.receive(kNext, {});
  EXPECT_FALSE(c.tcb.tlp.out);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPLossProbeRecovery), 1u);
  EXPECT_LT(c.tcb.cwnd, cwnd);
}

TEST_F(LossProbe, DsackOfTheProbeMeansNoLoss) {
  send_segments(3);
  c.fire_due(tcp::kTimerRetransmit);
  c.sent();
  c.peer_sack({wire::SackBlock{(base + 2 * kMss).raw(), (base + 3 * kMss).raw()}});
  c.receive(kNext, {});
  EXPECT_FALSE(c.tcb.tlp.out);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPDSACKRecv), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPLossProbeRecovery), 0u);
}

tcp::TcpParams no_tlp() {
  tcp::TcpParams p = params();
  p.early_retrans = 2;
  return p;
}

class NoProbeKnob : public LossProbe {
 protected:
  NoProbeKnob() : LossProbe(no_tlp()) {}
};

TEST_F(NoProbeKnob, EarlyRetrans2WaitsForTheRto) {
  send_segments(3);
  EXPECT_EQ(timer_in_us(), 240000);
  EXPECT_FALSE(c.tcb.tlp.pto_armed);
}

class NoProbeWithoutSack : public LossProbe {
 protected:
  NoProbeWithoutSack() : LossProbe(params(), false) {}
};

TEST_F(NoProbeWithoutSack, WaitsForTheRto) {
  send_segments(3);
  EXPECT_EQ(timer_in_us(), 240000);
}

}  // namespace
}  // namespace twstack::test
