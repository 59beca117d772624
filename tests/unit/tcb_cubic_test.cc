// CUBIC (RFC 9438) on one connection without an engine, as Linux's
// tcp_cubic.c: the integer cube root, the multiplicative decrease with fast
// convergence, the window's concave climb back to W_max around K, HyStart's
// delay detection, and net.ipv4.tcp_congestion_control choosing it.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "stack/tcp/cubic.hh"
#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

constexpr std::uint32_t kMss = 1460;  // no timestamps: the whole MSS

tcp::TcpParams params(bool cubic = true) {
  tcp::TcpParams p(StackConfig{});
  p.timestamps = 0;
  p.cubic = cubic;
  return p;
}

TEST(Cubic, CubeRootKnownAnswers) {
  EXPECT_EQ(tcp::cubic_root(0), 0u);
  EXPECT_EQ(tcp::cubic_root(1), 1u);
  EXPECT_EQ(tcp::cubic_root(7), 1u);
  EXPECT_EQ(tcp::cubic_root(8), 2u);
  EXPECT_EQ(tcp::cubic_root(26), 2u);
  EXPECT_EQ(tcp::cubic_root(27), 3u);
  EXPECT_EQ(tcp::cubic_root(999999999), 999u);
  EXPECT_EQ(tcp::cubic_root(1000000000), 1000u);
  EXPECT_EQ(tcp::cubic_root(std::uint64_t{1} << 63), 2097152u);  // (2^21)^3
  EXPECT_EQ(tcp::cubic_root((std::uint64_t{1} << 63) - 1), 2097151u);
  EXPECT_EQ(tcp::cubic_root(~std::uint64_t{0}), 2642245u);
}

TEST(Cubic, KnobChoosesTheAlgorithm) {
  LoneTcb a(params(true));
  a.in_state(tcp::State::kEstablished);
  EXPECT_EQ(a.tcb.cubic.algo, tcp::CongestionAlgo::kCubic);
  LoneTcb b(params(false));
  b.in_state(tcp::State::kEstablished);
  EXPECT_EQ(b.tcb.cubic.algo, tcp::CongestionAlgo::kReno);
}

// RFC 9438 §4.6: ssthresh = cwnd * 0.7 (717/1024); §4.7 fast convergence:
// a loss below the last W_max remembers W_max * (1 + beta) / 2.
TEST(Cubic, MultiplicativeDecreaseAndFastConvergence) {
  LoneTcb c(params());
  c.in_state(tcp::State::kEstablished);
  c.tcb.cwnd = 100 * kMss;
  EXPECT_EQ(tcp::cubic_ssthresh(c.tcb, kMss), 70 * kMss);  // 100 * 717 / 1024 = 70.02
  EXPECT_EQ(c.tcb.cubic.last_max_cwnd, 100u);
  c.tcb.cwnd = 80 * kMss;
  EXPECT_EQ(tcp::cubic_ssthresh(c.tcb, kMss), 56 * kMss);
  EXPECT_EQ(c.tcb.cubic.last_max_cwnd, 68u);  // 80 * 1741 / 2048
  EXPECT_EQ(c.tcb.cubic.epoch_start, 0u);
}

// After a loss at W_max = 100 (cwnd 70), with a 500 ms RTT and an ACK per
// segment: K = cbrt(30 / 0.4) = 4.2 s (RFC 9438 eq. 2). The window climbs
// fast at first (concave), reaches W_max near K and stays near it there,
// where Reno would have added about one segment per RTT.
TEST(Cubic, ClimbsBackToWmaxAroundK) {
  LoneTcb c(params());
  c.in_state(tcp::State::kEstablished);
  c.tcb.cwnd = 100 * kMss;
  c.tcb.ssthresh = tcp::cubic_ssthresh(c.tcb, kMss);
  c.tcb.cwnd = c.tcb.ssthresh;
  const Instant start = c.now();
  auto run_until = [&](Duration t) {
    while (c.now() - start < t) {
      const std::uint32_t segs = c.tcb.cwnd / kMss;
      for (std::uint32_t i = 0; i < segs; ++i) {
        c.advance(Duration::micros(500000 / segs));
        tcp::cubic_cong_avoid(c.env(), c.tcb, kMss, kMss);
      }
    }
    return c.tcb.cwnd / kMss;
  };
  const std::uint32_t half = run_until(Duration::millis(2100));
  EXPECT_GE(half, 90u) << "concave region: 100 - 0.4 * 2.1^3 = 96 by the curve";
  EXPECT_LT(half, 100u);
  const std::uint32_t at_k = run_until(Duration::millis(4200));
  EXPECT_GE(at_k, 97u);
  EXPECT_LE(at_k, 103u);
  EXPECT_EQ(c.tcb.cubic.k, 4316u);  // 4.2 s in 2^-10 s
}

// The RTT of the handshake reaches the congestion control on the active
// side (tcp_clean_rtx_queue acks the SYN and calls pkts_acked), not on the
// passive side, whose SYN-ACK is timed by tcp_synack_rtt_meas alone.
TEST(Cubic, OnlyTheActiveHandshakeSampleReachesHystart) {
  LoneTcb passive(params());
  passive.open(PeerSyn{});
  passive.advance(Duration::millis(7));
  passive.receive(LoneTcb::kIrs + 1, {}, wire::kAck);
  EXPECT_EQ(passive.tcb.srtt_us, 7000);
  EXPECT_EQ(passive.tcb.cubic.delay_min_us, 0u);
  LoneTcb active(params());
  active.connect();
  active.advance(Duration::millis(7));
  active.syn_ack(PeerSyn{});
  EXPECT_EQ(active.tcb.srtt_us, 7000);
  EXPECT_EQ(active.tcb.cubic.delay_min_us, 7000u);
}

// HyStart (Linux hystart_update, HYSTART_DELAY): at 16 segments or more,
// a round whose minimum RTT exceeds delay_min + max(4 ms, delay_min / 8)
// ends slow start there.
TEST(Cubic, HystartDelayIncreaseEndsSlowStart) {
  LoneTcb c(params());
  c.in_state(tcp::State::kEstablished);
  c.tcb.cwnd = 20 * kMss;
  ASSERT_EQ(c.tcb.ssthresh, 0xffffffffu);
  c.tcb.cubic.end_seq = c.tcb.snd_una + 1000000;  // one long round
  for (int i = 0; i < 8; ++i) {
    c.advance(Duration::millis(3));  // ACKs 3 ms apart: no ACK train
    tcp::cubic_on_rtt(c.env(), c.tcb, 10000);
  }
  EXPECT_EQ(c.tcb.ssthresh, 0xffffffffu);
  c.advance(Duration::millis(3));
  tcp::cubic_on_rtt(c.env(), c.tcb, 13000);  // curr_rtt is the round's minimum: 10 ms
  EXPECT_EQ(c.tcb.ssthresh, 0xffffffffu);
  c.tcb.cubic.curr_rtt_us = ~0u;
  c.advance(Duration::millis(3));
  tcp::cubic_on_rtt(c.env(), c.tcb, 14001);  // > 10 + 4 ms
  EXPECT_EQ(c.tcb.ssthresh, 20 * kMss);
  EXPECT_TRUE(c.tcb.cubic.found);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPHystartDelayDetect), 1u);
}

// cubic-hystart-delay-rtt-jumps-upward.pkt, on a connection without
// timestamps: each ACK gives CUBIC the time since the newest segment it
// acknowledges was sent (Linux ca_rtt_us), not only the one segment timed
// per round trip, so the round's ninth sample (min 240 ms, against a
// min RTT of 200 ms: above 200 + 16 ms) ends slow start at cwnd 36.
TEST(Cubic, HystartDelayTakesASampleFromEveryAck) {
  constexpr std::uint32_t kSeg = 1000;
  LoneTcb c(params());
  PeerSyn syn;
  syn.mss = kSeg;
  c.establish(syn);
  const std::vector<std::uint8_t> data(30000, 0x5a);
  ASSERT_EQ(c.send(data), 30000u);
  const auto ack = [&](std::uint32_t upto) {
    c.receive_acking(c.tcb.iss + 1 + upto, LoneTcb::kIrs + 1, {});
  };
  c.advance(Duration::millis(200));
  ack(10000);
  ASSERT_EQ(c.tcb.cwnd, 20 * kSeg);
  EXPECT_EQ(c.tcb.cubic.delay_min_us, 200000u);
  c.advance(Duration::millis(240));
  for (std::uint32_t upto = 12000; upto <= 26000; upto += 2000) {
    ack(upto);
    EXPECT_EQ(c.tcb.ssthresh, 0xffffffffu) << "at the ACK of " << upto;
    c.advance(Duration::millis(1));
  }
  ack(28000);
  EXPECT_EQ(c.tcb.ssthresh, 36 * kSeg);
  EXPECT_EQ(c.tcb.cwnd, 36 * kSeg);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPHystartDelayDetect), 1u);
}

// The send records behind those samples: one per send pass, each ACK's
// sample the age of the record holding its newest byte; nothing for bytes
// sent before the records began, or once they ran out of room (the last
// record then has no time); a gap in them starts them again.
TEST(Cubic, SendRecordsDateTheNewestByteAcked) {
  LoneTcb c(params());
  c.in_state(tcp::State::kEstablished);
  tcp::Tcb& t = c.tcb;
  const Seq base = t.snd_max;
  const auto sent = [&](std::uint32_t from, std::uint32_t to) {
    t.snd_max = base + to;
    tcp::cubic_on_send(c.env(), t, base + from);
    c.advance(Duration::millis(1));
  };
  const auto rtt = [&](std::uint32_t ack) { return tcp::cubic_sent_rtt(c.env(), t, base + ack); };
  sent(100, 200);
  sent(200, 300);
  sent(300, 400);
  c.advance(Duration::millis(7));  // 10 ms after the first
  EXPECT_EQ(rtt(100), -1);
  EXPECT_EQ(rtt(250), 9000);
  EXPECT_EQ(t.cubic.tx_count, 2u);
  EXPECT_EQ(rtt(400), 8000);
  EXPECT_EQ(t.cubic.tx_count, 0u);
  for (std::uint32_t i = 0; i < tcp::CubicState::kTxRecords + 1; ++i) sent(400 + 10 * i, 410 + 10 * i);
  EXPECT_EQ(rtt(410), 9000);
  EXPECT_EQ(rtt(480), -1);  // the eighth record took the ninth pass: no time
  sent(600, 700);            // after a gap
  EXPECT_EQ(t.cubic.tx_count, 1u);
  EXPECT_EQ(rtt(600), -1);
  EXPECT_EQ(rtt(700), 1000);
}

// Below hystart_low_window (16 segments) HyStart does nothing.
TEST(Cubic, HystartWaitsForSixteenSegments) {
  LoneTcb c(params());
  c.in_state(tcp::State::kEstablished);
  c.tcb.cwnd = 15 * kMss;
  c.tcb.cubic.end_seq = c.tcb.snd_una + 1000000;
  for (int i = 0; i < 12; ++i) {
    c.advance(Duration::millis(3));
    tcp::cubic_on_rtt(c.env(), c.tcb, i < 8 ? 10000 : 50000);
  }
  EXPECT_EQ(c.tcb.ssthresh, 0xffffffffu);
}

// The loss path uses CUBIC's decrease: fast retransmit leaves ssthresh at
// 0.7 of cwnd, where NewReno takes half the flight.
TEST(Cubic, FastRetransmitTakesCubicsSsthresh) {
  for (bool cubic : {true, false}) {
    SCOPED_TRACE(cubic);
    LoneTcb c(params(cubic));
    c.in_state(tcp::State::kEstablished);
    const std::vector<std::uint8_t> data(10 * kMss, 0x42);
    c.send(data);
    c.sent();
    for (int i = 0; i < 3; ++i) c.receive_acking(c.tcb.snd_una, LoneTcb::kIrs + 1, {});
    EXPECT_TRUE(c.tcb.in_recovery);
    EXPECT_EQ(c.tcb.ssthresh, (cubic ? 7 : 5) * kMss);
  }
}

}  // namespace
}  // namespace twstack::test
