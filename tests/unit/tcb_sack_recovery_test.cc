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
#include "tests/support/sack_peer.hh"

namespace twstack::test {
namespace {

constexpr std::uint32_t kMss = 1460;  // no timestamps: the whole MSS

class SackSender : public ::testing::Test {
 protected:
  explicit SackSender(bool sack = true, bool cubic = false, std::uint8_t early_retrans = 0)
      : c(params(cubic, early_retrans)) {
    PeerSyn s;
    s.sack_permitted = sack;
    c.establish(s);
    peer.base = c.tcb.snd_nxt;
    const std::vector<std::uint8_t> data(10 * kMss, 0x42);
    c.send(data);
    EXPECT_EQ(c.sent().size(), 10u);
  }
  static tcp::TcpParams params(bool cubic, std::uint8_t early_retrans) {
    tcp::TcpParams p(StackConfig{});
    p.timestamps = 0;
    p.early_retrans = early_retrans;  // 0: no tail loss probe, the timer is the RTO
    p.cubic = cubic;                  // else RFC 6675's ssthresh = FlightSize / 2
    p.recovery = 0;                   // net.ipv4.tcp_recovery = 0: RFC 6675, not RACK (tcb_rack_test)
    return p;
  }
  // Queues `n` more segments behind the window.
  void queue(std::uint32_t n) {
    const std::vector<std::uint8_t> more(n * kMss, 0x43);
    c.send(more);
  }
  Seq seg(std::uint32_t i) const { return peer.seg(i); }
  wire::SackBlock sacked(std::uint32_t from, std::uint32_t to) const { return peer.sacked(from, to); }
  std::vector<Seq> ack(std::uint32_t upto, std::vector<wire::SackBlock> blocks) {
    return peer.ack(upto, std::move(blocks));
  }
  LoneTcb c;
  SackPeer peer{c, kMss};
};

class RenoSender : public SackSender {
 protected:
  RenoSender() : SackSender(false) {}
};

// CUBIC's ssthresh (7 of 10 segments), as Linux's PRR tests assume.
class CubicSackSender : public SackSender {
 protected:
  CubicSackSender() : SackSender(true, true) {}
};

// With tail loss probes (net.ipv4.tcp_early_retrans = 3).
class TlpSackSender : public SackSender {
 protected:
  TlpSackSender() : SackSender(true, false, 3) {}
};

// RFC 6675 §4 IsLost(): three segments SACKed above SND.UNA make it lost at
// once; recovery starts with its retransmission (§5 step 4.3).
TEST_F(SackSender, ThreeSackedSegmentsAboveAHoleStartRecoveryAtOnce) {
  EXPECT_EQ(ack(0, {sacked(1, 4)}), (std::vector{seg(0)}));
  EXPECT_TRUE(c.tcb.in_recovery);
  EXPECT_EQ(c.tcb.ssthresh, 5 * kMss);  // RFC 5681 eq. (4): FlightSize / 2
  // RFC 6937 PRR: pipe (6 segments: 3 SACKed, 1 lost) is above ssthresh,
  // so cwnd = pipe + ceil(3 delivered * 5 / 10) segments.
  EXPECT_EQ(c.tcb.cwnd, 8 * kMss);
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
  // Segments 0-2 are in; slow start grows by what the ACK newly delivered
  // (Linux acked_sacked: segment 0; 1 and 2 were SACKed before), so cwnd 2
  // resends 3 and 4, never 1 or 2.
  EXPECT_EQ(ack(3, {}), (std::vector{seg(3), seg(4)}));
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

// RFC 6937 §3.1 (Linux tcp_cwnd_reduction): entering recovery with pipe
// below ssthresh, PRR sends what the ACK delivered, not up to ssthresh at
// once: one retransmission per SACKed segment. Segments 0-3 are lost; pipe
// is 3 (10 out, 3 SACKed, 4 lost), ssthresh 5.
TEST_F(SackSender, PrrResendsOneSegmentPerSegmentDelivered) {
  EXPECT_TRUE(ack(0, {sacked(4, 5)}).empty());
  EXPECT_TRUE(ack(0, {sacked(4, 6)}).empty());
  EXPECT_EQ(ack(0, {sacked(4, 7)}), (std::vector{seg(0)}));
  EXPECT_EQ(c.tcb.cwnd, 4 * kMss);
  EXPECT_EQ(ack(0, {sacked(4, 8)}), (std::vector{seg(1)}));
  EXPECT_EQ(ack(0, {sacked(4, 9)}), (std::vector{seg(2)}));
  EXPECT_EQ(ack(0, {sacked(4, 10)}), (std::vector{seg(3)}));
  EXPECT_EQ(c.tcb.prr_out, 4 * kMss);
  EXPECT_EQ(c.tcb.prr_delivered, 4 * kMss);
}

// RFC 6937 §3 (Linux tcp_end_cwnd_reduction): the recovery point
// acknowledged, cwnd is ssthresh, and a full ssthresh of new data goes at
// once, however little was in flight.
TEST_F(SackSender, RecoveryEndsWithCwndAtSsthresh) {
  ack(0, {sacked(4, 5)});
  ack(0, {sacked(4, 6)});
  ack(0, {sacked(4, 7)});
  ack(1, {sacked(4, 10)});
  ack(3, {sacked(4, 10)});
  ack(10, {});
  EXPECT_FALSE(c.tcb.in_recovery);
  EXPECT_EQ(c.tcb.cwnd, 5 * kMss);
  queue(10);
  EXPECT_EQ(c.sent().size(), 5u);
}

// RFC 6937 §3.1 PRR-SSRB as Linux: an ACK that moves SND.UNA without
// showing a new loss sends one segment more than it delivered, up to
// ssthresh (7 with CUBIC). As Linux's prr-ss-30pkt-lost-1_4-11_16 test:
// segments 0-3 lost, 10 more queued; limited transmit sends 10 and 11.
TEST_F(CubicSackSender, PartialAckWithoutNewLossSendsOneMore) {
  queue(10);
  EXPECT_EQ(ack(0, {sacked(4, 5)}), (std::vector{seg(10)}));
  EXPECT_EQ(ack(0, {sacked(4, 6)}), (std::vector{seg(11)}));
  EXPECT_EQ(ack(0, {sacked(4, 7)}), (std::vector{seg(0)}));
  EXPECT_EQ(c.tcb.ssthresh, 7 * kMss);
  EXPECT_EQ(ack(0, {sacked(4, 8)}), (std::vector{seg(1)}));
  EXPECT_EQ(ack(0, {sacked(4, 9)}), (std::vector{seg(2)}));
  EXPECT_EQ(ack(0, {sacked(4, 10)}), (std::vector{seg(3)}));
  EXPECT_EQ(ack(0, {sacked(4, 11)}), (std::vector{seg(12)}));
  EXPECT_EQ(ack(0, {sacked(4, 12)}), (std::vector{seg(13)}));
  // Segment 0's retransmission arrives: pipe 5, one delivered, one more.
  EXPECT_EQ(ack(1, {sacked(4, 12)}), (std::vector{seg(14), seg(15)}));
  EXPECT_EQ(c.tcb.cwnd, 7 * kMss);
}

// Linux tcp_xmit_retransmit_queue: resending the first segment restarts
// the RTO, so a loss probe armed by the first flight does not fire during
// recovery.
TEST_F(TlpSackSender, FastRetransmitReplacesAPendingLossProbe) {
  ASSERT_TRUE(c.tcb.tlp.pto_armed);
  c.advance(Duration::millis(1));
  EXPECT_EQ(ack(0, {sacked(1, 4)}), (std::vector{seg(0)}));
  EXPECT_FALSE(c.tcb.tlp.pto_armed);
  EXPECT_EQ(c.due(tcp::kTimerRetransmit).us - c.now().us, c.tcb.rto_us);
}

// Linux tcp_ack on an ACK below SND.UNA: its SACK blocks are taken, and a
// hole they make lost goes out if cwnd allows (tcp_xmit_recovery), though
// it changes no cwnd.
TEST_F(SackSender, ReorderedOldAckStillLetsALostHoleGo) {
  EXPECT_EQ(ack(0, {sacked(1, 4)}), (std::vector{seg(0)}));
  EXPECT_TRUE(ack(4, {sacked(5, 6)}).empty());  // segment 4 not lost yet
  const std::uint32_t cwnd = c.tcb.cwnd;
  EXPECT_EQ(ack(2, {sacked(5, 8)}), (std::vector{seg(4)}));  // now it is
  EXPECT_EQ(c.tcb.cwnd, cwnd);
}

// RFC 3042 limited transmit without SACK (Linux tcp_add_reno_sack): each
// of the first two duplicates is a segment gone, so one new segment goes;
// the ACK that then covers them grows cwnd by what they had not counted
// (tcp_remove_reno_sacks): one segment, and two go (cwnd 11, 9 out).
TEST_F(RenoSender, DuplicatesLetNewDataGoAndAreNotCountedTwice) {
  queue(10);
  EXPECT_EQ(ack(0, {}), (std::vector{seg(10)}));
  EXPECT_EQ(ack(0, {}), (std::vector{seg(11)}));
  EXPECT_EQ(c.tcb.dupacks, 2u);
  EXPECT_FALSE(c.tcb.in_recovery);
  EXPECT_EQ(ack(3, {}), (std::vector{seg(12), seg(13)}));
  EXPECT_EQ(c.tcb.cwnd, 11 * kMss);
  EXPECT_EQ(c.tcb.dupacks, 0u);
}

// After a timeout, duplicates for data sent before it count no segment
// gone (RFC 6582 §4.1; Linux's Loss state, tcp_process_loss): the
// go-back-N keeps to its one-segment window.
TEST_F(RenoSender, DuplicatesAfterATimeoutLetNothingGo) {
  queue(10);
  c.fire_due(tcp::kTimerRetransmit);
  EXPECT_EQ(c.sent().size(), 1u);
  EXPECT_TRUE(ack(0, {}).empty());
  EXPECT_TRUE(ack(0, {}).empty());
  EXPECT_EQ(c.tcb.dupacks, 0u);
}

// ... but not on one that shows a new loss (Linux: FLAG_SND_UNA_ADVANCED
// && !newly_lost): segments 0-3 and 9 lost, three more queued. The ACK of
// segment 0's retransmission also SACKs segment 12, which makes 9 lost:
// pipe 3, 2 delivered, cwnd 5 (6 with the extra segment).
TEST_F(CubicSackSender, PartialAckShowingANewLossSendsNoMore) {
  queue(3);
  EXPECT_EQ(ack(0, {sacked(4, 5)}), (std::vector{seg(10)}));
  EXPECT_EQ(ack(0, {sacked(4, 6)}), (std::vector{seg(11)}));
  EXPECT_EQ(ack(0, {sacked(4, 7)}), (std::vector{seg(0)}));
  EXPECT_EQ(ack(0, {sacked(4, 8)}), (std::vector{seg(1)}));
  EXPECT_EQ(ack(0, {sacked(4, 9)}), (std::vector{seg(2)}));
  EXPECT_EQ(ack(0, {sacked(10, 11), sacked(4, 9)}), (std::vector{seg(3)}));
  EXPECT_EQ(ack(0, {sacked(10, 12), sacked(4, 9)}), (std::vector{seg(12)}));
  EXPECT_EQ(ack(1, {sacked(10, 13), sacked(4, 9)}), (std::vector{seg(9)}));
  EXPECT_EQ(c.tcb.cwnd, 5 * kMss);
}

}  // namespace
}  // namespace twstack::test
