// The SACK sender on one connection without an engine: the scoreboard
// (Linux tcp_sacktag_write_queue), RFC 6675 loss recovery (IsLost, NextSeg,
// SetPipe), a timeout's go-back-N that skips SACKed data, reneging
// (tcp_check_sack_reneging) and received D-SACKs (tcp_check_dsack). Ten
// full segments are in flight; the test plays the receiver and the path.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "stack/tcp/sack.hh"
#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

constexpr std::uint32_t kMss = 1460;  // no timestamps: the whole MSS

class SackSender : public ::testing::Test {
 protected:
  explicit SackSender(bool sack = true) : c(params()) {
    PeerSyn s;
    s.sack_permitted = sack;
    c.establish(s);
    base = c.tcb.snd_nxt;
    const std::vector<std::uint8_t> data(10 * kMss, 0x42);
    c.send(data);
    EXPECT_EQ(c.sent().size(), 10u);
  }
  static tcp::TcpParams params() {
    tcp::TcpParams p(StackConfig{});
    p.timestamps = 0;
    p.early_retrans = 0;  // no tail loss probe: the timer is the RTO
    p.cubic = false;      // RFC 6675's ssthresh = FlightSize / 2
    p.recovery = 0;       // net.ipv4.tcp_recovery = 0: RFC 6675, not RACK (tcb_rack_test)
    return p;
  }
  Seq seg(std::uint32_t i) const { return base + i * kMss; }
  wire::SackBlock sacked(std::uint32_t from, std::uint32_t to) const {
    return wire::SackBlock{seg(from).raw(), seg(to).raw()};
  }
  // An ACK of everything below segment `ack` with these blocks; returns
  // the sequence numbers of what it draws.
  std::vector<Seq> ack(std::uint32_t upto, std::vector<wire::SackBlock> blocks) {
    c.peer_sack(std::move(blocks));
    c.receive_acking(seg(upto), LoneTcb::kIrs + 1, {});
    std::vector<Seq> v;
    for (const SentSegment& s : c.sent()) {
      if (!s.payload.empty()) v.push_back(s.seq);
    }
    return v;
  }
  LoneTcb c;
  Seq base;
};

class RenoSender : public SackSender {
 protected:
  RenoSender() : SackSender(false) {}
};

// RFC 6675 §4 IsLost(): three segments SACKed above SND.UNA make it lost at
// once; recovery starts with its retransmission (§5 step 4.3).
TEST_F(SackSender, ThreeSackedSegmentsAboveAHoleStartRecoveryAtOnce) {
  EXPECT_EQ(ack(0, {sacked(1, 4)}), (std::vector{seg(0)}));
  EXPECT_TRUE(c.tcb.in_recovery);
  EXPECT_EQ(c.tcb.ssthresh, 5 * kMss);  // RFC 5681 eq. (4): FlightSize / 2
  EXPECT_EQ(c.tcb.cwnd, 5 * kMss);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPSackRecovery), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPFastRetrans), 1u);
  // SetPipe: 7 segments not SACKed; the lost one counts once, as resent.
  EXPECT_EQ(tcp::sack_pipe(c.tcb), 7 * kMss);
}

// Without SACK the same ACK is one duplicate: nothing is resent yet.
TEST_F(RenoSender, OneDuplicateAckResendsNothing) {
  EXPECT_TRUE(ack(0, {sacked(1, 4)}).empty());
  EXPECT_FALSE(c.tcb.in_recovery);
}

// Two holes: each is resent once when IsLost() and the pipe allow, and no
// SACKed segment is resent; the recovery point's ACK ends recovery.
TEST_F(SackSender, ResendsEachLostHoleOnceAndNoSackedData) {
  EXPECT_TRUE(ack(0, {sacked(1, 2)}).empty());
  EXPECT_TRUE(ack(0, {sacked(3, 4), sacked(1, 2)}).empty());
  // The third duplicate: only segment 0 has enough SACKed above it.
  EXPECT_EQ(ack(0, {sacked(3, 5), sacked(1, 2)}), (std::vector{seg(0)}));
  // Segment 2 is lost now (three SACKed above) but the pipe is full.
  EXPECT_TRUE(ack(0, {sacked(3, 6), sacked(1, 2)}).empty());
  EXPECT_EQ(ack(0, {sacked(3, 7), sacked(1, 2)}), (std::vector{seg(2)}));
  EXPECT_EQ(c.counters().get(Counter::TcpRetransSegs), 2u);
  // Segment 0 arrives: a partial ACK up to the hole at 2.
  ack(2, {sacked(3, 8)});
  EXPECT_TRUE(c.tcb.in_recovery);
  ack(10, {});
  EXPECT_FALSE(c.tcb.in_recovery);
  EXPECT_EQ(c.tcb.sack.num_sacked, 0);
  EXPECT_EQ(c.counters().get(Counter::TcpRetransSegs), 2u);
}

// RFC 6675 §5.1: after a timeout, the go-back-N resends holes only.
TEST_F(SackSender, TimeoutResendsOnlyWhatIsNotSacked) {
  EXPECT_TRUE(ack(0, {sacked(1, 3)}).empty());
  c.fire_due(tcp::kTimerRetransmit);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seq, seg(0));
  // Segments 0-2 are in; slow start (cwnd 1 + the 3 acknowledged) resends 3
  // to 6, never 1 or 2.
  EXPECT_EQ(ack(3, {}), (std::vector{seg(3), seg(4), seg(5), seg(6)}));
}

// Linux tcp_check_sack_reneging: SND.UNA stops at SACKed data.
TEST_F(SackSender, AckStoppingAtSackedDataIsReneging) {
  ack(0, {sacked(2, 4)});
  EXPECT_EQ(c.tcb.sack.num_sacked, 1);
  ack(2, {});
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPSACKReneging), 1u);
  EXPECT_EQ(c.tcb.sack.num_sacked, 0);
  EXPECT_EQ(c.due(tcp::kTimerRetransmit).us - c.now().us, 10000);  // max(SRTT/2, 10 ms)
}

// RFC 2883 §4 (Linux tcp_check_dsack): a first block below the cumulative
// ACK, or inside the second, reports a duplicate and SACKs nothing.
TEST_F(SackSender, DsacksAreCountedNotScored) {
  ack(2, {sacked(0, 1)});
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPDSACKRecv), 1u);
  ack(2, {sacked(4, 5), sacked(4, 6)});
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPDSACKOfoRecv), 1u);
  EXPECT_EQ(c.tcb.sack.num_sacked, 1);
  EXPECT_EQ(c.tcb.sack.sacked_bytes, 2 * kMss);
}

// Blocks beyond anything sent are ignored (tcp_is_sackblock_valid).
TEST_F(SackSender, BlocksBeyondSndMaxAreIgnored) {
  ack(0, {sacked(10, 12)});
  EXPECT_EQ(c.tcb.sack.num_sacked, 0);
}

}  // namespace
}  // namespace twstack::test
