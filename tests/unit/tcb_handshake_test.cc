// Opening one connection (RFC 9293 §3.5, RFC 6298) without an engine: the
// SYN and SYN-ACK retransmitted after the initial RTO, the SYN's
// exponential backoff until tcp_syn_retries run out, and the 3 s RTO that
// follows a SYN timeout. The handshake between two engines (listeners, the
// accept queue, option negotiation, simultaneous open) stays in
// tests/scenario/handshake_test.cc.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

using tcp::State;

// The SYN (or its retransmission) of an active open: the ISS, and the
// options offered with kernel defaults (RFC 9293 §3.7.1, RFC 7323).
void expect_syn(const std::vector<SentSegment>& out, Seq iss) {
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, wire::kSyn);
  EXPECT_EQ(out[0].seq, iss) << "a retransmitted SYN keeps the ISS";
  EXPECT_TRUE(out[0].payload.empty());
  EXPECT_TRUE(out[0].opt.has_mss);
  EXPECT_EQ(out[0].opt.mss, 1460);
  EXPECT_TRUE(out[0].opt.has_wscale);
  EXPECT_TRUE(out[0].opt.has_timestamps);
  // tcp_select_initial_window: tcp_full_space(tcp_rmem[1] = 128 KiB) is
  // 64 KiB, rounded down to the MSS.
  EXPECT_EQ(out[0].window, 44 * 1460);
}

TEST(TcbHandshake, LostSynIsRetransmittedAfterInitialRto) {
  LoneTcb c(tcp::TcpParams(StackConfig{}));
  const Instant t0 = c.now();
  const SentSegment syn = c.connect();
  expect_syn({syn}, c.tcb.iss);
  EXPECT_EQ(c.tcb.state, State::kSynSent);
  // RFC 6298 §2.1: the initial RTO is 1 s.
  const Instant at = c.fire_due(tcp::kTimerRetransmit);
  EXPECT_EQ((at - t0).us, 1000000);
  expect_syn(c.sent(), syn.seq);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPSynRetrans), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpRetransSegs), 1u);
  // The SYN-ACK answers the second SYN: ESTABLISHED, and its ACK.
  c.syn_ack(PeerSyn{});
  EXPECT_EQ(c.tcb.state, State::kEstablished);
  EXPECT_NE(c.tcb.events & tcp::kEvEstablished, 0);
  auto ack = c.sent();
  ASSERT_EQ(ack.size(), 1u);
  EXPECT_EQ(ack[0].flags, wire::kAck);
  EXPECT_EQ(ack[0].seq, syn.seq + 1);
  EXPECT_EQ(ack[0].ack, kPeerIss + 1);
  EXPECT_EQ(c.counters().get(Counter::TcpActiveOpens), 1u);
  EXPECT_FALSE(c.tcb.rtx_timer.active());
}

// RFC 6298 §5.7: "If the timer expires awaiting the ACK of a SYN segment and
// the TCP implementation is using an RTO less than 3 seconds, the RTO MUST
// be re-initialized to 3 seconds when data transmission begins" (Linux
// tcp_init_transfer: TCP_TIMEOUT_FALLBACK when no RTT sample was taken).
TEST(TcbHandshake, RtoIsThreeSecondsAfterSynTimeout) {
  LoneTcb c(tcp::TcpParams(StackConfig{}));
  c.connect();
  c.fire_due(tcp::kTimerRetransmit);
  ASSERT_EQ(c.counters().get(Counter::TcpExtTCPSynRetrans), 1u);
  c.syn_ack(PeerSyn{});
  c.sent();
  ASSERT_EQ(c.tcb.srtt_us, 0) << "precondition: no RTT sample";
  // The first data segment is lost: when is it retransmitted?
  const std::vector<std::uint8_t> data(100, 0x42);
  c.send(data);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  const Instant sent_at = c.now();
  const Instant at = c.fire_due(tcp::kTimerRetransmit);
  EXPECT_EQ((at - sent_at).us, 3000000)
      << "no RTT sample after a SYN timeout, yet the data RTO is not 3 s (RFC 6298 §5.7)";
  auto rtx = c.sent();
  ASSERT_EQ(rtx.size(), 1u);
  EXPECT_EQ(rtx[0].seq, out[0].seq);
  EXPECT_EQ(rtx[0].payload.size(), 100u);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPTimeouts), 1u);
}

// The SYN-ACK of a passive open is retransmitted after the initial RTO
// with the same ISS; Linux tcp_rtx_synack counts it in TCPSynRetrans, as
// the counter's help text ("SYN and SYN-ACK retransmissions") says.
TEST(TcbHandshake, SynAckRetransmissionIsCountedAsSynRetrans) {
  LoneTcb c(tcp::TcpParams(StackConfig{}));
  const Instant t0 = c.now();
  const SentSegment synack = c.open(PeerSyn{});
  ASSERT_EQ(synack.flags, wire::kSyn | wire::kAck);
  const Instant at = c.fire_due(tcp::kTimerRetransmit);
  EXPECT_EQ((at - t0).us, 1000000) << "SYN-ACK retransmitted after the initial RTO";
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, wire::kSyn | wire::kAck);
  EXPECT_EQ(out[0].seq, synack.seq);
  EXPECT_EQ(out[0].ack, kPeerIss + 1);
  EXPECT_TRUE(out[0].payload.empty());
  EXPECT_EQ(c.counters().get(Counter::TcpRetransSegs), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPSynRetrans), 1u)
      << "the SYN-ACK was resent on timeout but TcpExtTCPSynRetrans did not count it";
  // The client's ACK of it completes the handshake.
  c.receive(kPeerIss + 1, {}, wire::kAck);
  EXPECT_EQ(c.tcb.state, State::kEstablished);
  EXPECT_NE(c.tcb.events & tcp::kEvEstablished, 0);
  EXPECT_EQ(c.counters().get(Counter::TcpPassiveOpens), 1u);
  EXPECT_TRUE(c.sent().empty());
}

// net.ipv4.tcp_syn_retries: the SYN and `retries` retransmissions, 1, 2,
// 4 ... s apart (RFC 6298 §5.5), then the connection is given up one more
// doubled RTO after the last: ETIMEDOUT, no reset.
void expect_connect_times_out(std::uint8_t retries, std::int64_t total_us) {
  tcp::TcpParams p(StackConfig{});
  p.syn_retries = retries;
  LoneTcb c(p);
  const Instant t0 = c.now();
  const Seq iss = c.connect().seq;
  Instant last = t0;
  for (std::uint8_t i = 1; i <= retries; ++i) {
    SCOPED_TRACE(i);
    const Instant at = c.fire_due(tcp::kTimerRetransmit);
    EXPECT_EQ((at - last).us, std::int64_t{1000000} << (i - 1)) << "interval " << int{i};
    expect_syn(c.sent(), iss);
    EXPECT_EQ(c.tcb.state, State::kSynSent);
    last = at;
  }
  const Instant end = c.fire_due(tcp::kTimerRetransmit);
  EXPECT_EQ((end - last).us, std::int64_t{1000000} << retries);
  EXPECT_EQ((end - t0).us, total_us);
  EXPECT_TRUE(c.sent().empty());
  EXPECT_EQ(c.tcb.state, State::kClosed);
  EXPECT_EQ(c.tcb.error, Errc::kTimedOut);
  EXPECT_NE(c.tcb.events & tcp::kEvClosed, 0);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPSynRetrans), retries);
  EXPECT_EQ(c.counters().get(Counter::TcpAttemptFails), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpOutRsts), 0u);
}

// The default, 6: seven SYNs, given up 64 s after the last (127 s in all).
TEST(TcbHandshake, ConnectTimesOutWithExponentialBackoff) { expect_connect_times_out(6, 127000000); }

TEST(TcbHandshake, ConnectTimeoutFollowsSynRetries) { expect_connect_times_out(2, 7000000); }

}  // namespace
}  // namespace twstack::test
