// Retransmission on one connection (RFC 6298, RFC 5681, RFC 6582) without an
// engine: the RTO and its backoff up to tcp_retries2 and rto_max, the RTT
// estimate and Karn's rule, fast retransmit on the third duplicate ACK, and
// NewReno recovery of two losses in one window. The test plays the peer and
// the path: it decides which segments arrive, when, and what they draw.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

using tcp::State;
constexpr Seq kNext = LoneTcb::kIrs + 1;  // RCV.NXT after the handshake
constexpr std::uint32_t kMss = 1460;      // no timestamps: the whole MSS
constexpr Duration kRtt = Duration::millis(40);

tcp::TcpParams params() {
  tcp::TcpParams p(StackConfig{});
  p.cubic = false;  // NewReno's arithmetic (RFC 5681, RFC 6582)
  p.timestamps = 0;
  return p;
}

// ESTABLISHED over a 40 ms path, the handshake giving the first RTT sample
// (Linux tcp_synack_rtt_meas): RTO = SRTT + max(2 SRTT, tcp_rto_min) =
// 40 + 200 ms (rtt.hh).
void establish_with_rto_240ms(LoneTcb& c) {
  c.open(PeerSyn{});
  c.advance(kRtt);
  c.receive(kNext, {}, wire::kAck);
  c.sent();
  ASSERT_EQ(c.tcb.state, State::kEstablished);
  ASSERT_EQ(c.tcb.rto_us, 240000);
}

// One data segment of `len` bytes at `seq`, as output() sends the tail of
// the queue.
void expect_data(const std::vector<SentSegment>& out, Seq seq, std::uint32_t len) {
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, wire::kAck | wire::kPsh);
  EXPECT_EQ(out[0].seq, seq);
  EXPECT_EQ(out[0].ack, kNext);
  EXPECT_EQ(out[0].payload.size(), len);
}

TEST(TcbRetransmit, RtoDoublesUntilRetries2ThenTimesOut) {
  tcp::TcpParams p = params();
  p.retries2 = 4;
  LoneTcb c(p);
  establish_with_rto_240ms(c);
  const std::int64_t rto = c.tcb.rto_us;
  const std::vector<std::uint8_t> data(1000, 0x42);
  const Seq seq = c.tcb.snd_nxt;
  c.send(data);
  expect_data(c.sent(), seq, 1000);
  // The path dies. The original and tcp_retries2 = 4 retransmissions, RTO,
  // 2 RTO, 4 RTO, 8 RTO apart.
  Instant last = c.now();
  for (int i = 1; i <= 4; ++i) {
    SCOPED_TRACE(i);
    const Instant at = c.fire_due(tcp::kTimerRetransmit);
    EXPECT_EQ((at - last).us, rto << (i - 1)) << "interval " << i;
    expect_data(c.sent(), seq, 1000);
    EXPECT_EQ(c.tcb.state, State::kEstablished);
    last = at;
  }
  // RFC 6298 (5.5)-(5.6): the fifth expiry, 16 RTO after the last, ends it.
  const Instant end = c.fire_due(tcp::kTimerRetransmit);
  EXPECT_EQ((end - last).us, rto << 4);
  EXPECT_TRUE(c.sent().empty()) << "giving up sends nothing, no reset";
  EXPECT_EQ(c.tcb.state, State::kClosed);
  EXPECT_EQ(c.tcb.error, Errc::kTimedOut);
  EXPECT_NE(c.tcb.events & tcp::kEvClosed, 0);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPTimeouts), 4u);
  EXPECT_EQ(c.counters().get(Counter::TcpRetransSegs), 4u);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPAbortOnTimeout), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpOutRsts), 0u);
}

TEST(TcbRetransmit, BackoffIsCappedAtRtoMax) {
  tcp::TcpParams p = params();
  p.retries2 = 6;
  p.rto_max = Duration::seconds(1);
  LoneTcb c(p);
  establish_with_rto_240ms(c);
  const std::vector<std::uint8_t> data(1000, 0x42);
  const Seq seq = c.tcb.snd_nxt;
  c.send(data);
  expect_data(c.sent(), seq, 1000);
  const std::int64_t want[] = {240000, 480000, 960000, 1000000, 1000000, 1000000};
  Instant last = c.now();
  for (std::int64_t interval : want) {
    const Instant at = c.fire_due(tcp::kTimerRetransmit);
    EXPECT_EQ((at - last).us, interval);
    expect_data(c.sent(), seq, 1000);
    last = at;
  }
  const Instant end = c.fire_due(tcp::kTimerRetransmit);
  EXPECT_EQ((end - last).us, 1000000);
  EXPECT_TRUE(c.sent().empty());
  EXPECT_EQ(c.tcb.error, Errc::kTimedOut);
  EXPECT_EQ(c.counters().get(Counter::TcpRetransSegs), 6u);
}

// Parameter: timestamps on (RFC 7323 §4 samples) or off (one timed segment
// per round trip).
class TcbRttEstimate : public ::testing::TestWithParam<bool> {
 protected:
  TcbRttEstimate() : c_(make_params()) {
    // The handshake over the 40 ms path: the ACK of the SYN-ACK (echoing
    // its TSval) comes back one round trip later.
    PeerSyn syn;
    if (GetParam()) syn.tsval = 700;
    c_.open(syn);
    c_.advance(kRtt);
    c_.receive(kNext, {}, wire::kAck);
    c_.sent();
  }
  static tcp::TcpParams make_params() {
    tcp::TcpParams p = params();
    p.timestamps = GetParam() ? 1 : 0;
    return p;
  }
  // The peer's timestamps on its next segments: its clock, and `tsecr`
  // echoed (RFC 7323 §4.3: the TSval of the segment at its left edge).
  void echo_timestamps(std::uint32_t tsecr) {
    if (c_.tcb.ts_ok) c_.peer_timestamps(static_cast<std::uint32_t>(c_.now().ms()), tsecr);
  }
  // Sends `n` bytes over the path: each flight is acknowledged one round
  // trip after it left, at once (no delayed ACK), until all is.
  void exchange(std::size_t n) {
    const std::vector<std::uint8_t> data(n, 0x42);
    ASSERT_EQ(c_.send(data), n);
    for (int i = 0; i < 16 && c_.tcb.snd_una != c_.tcb.snd_data_end(); ++i) {
      auto flight = c_.sent();
      ASSERT_FALSE(flight.empty()) << "nothing in flight";
      c_.advance(kRtt);
      echo_timestamps(flight[0].opt.tsval);
      c_.receive(kNext, {}, wire::kAck);
    }
    EXPECT_EQ(c_.tcb.snd_una, c_.tcb.snd_data_end());
    c_.sent();
  }
  LoneTcb c_;
};

// RFC 6298 §2: SRTT follows the path's round trip, 2 x 20 ms here, whether
// measured by timestamps (RFC 7323 §4) or by timing one segment per RTT.
TEST_P(TcbRttEstimate, SrttMatchesThePathRoundTrip) {
  ASSERT_EQ(c_.tcb.ts_ok, GetParam());
  for (int i = 0; i < 20; ++i) exchange(3000);
  EXPECT_GE(c_.tcb.srtt_us, 40000);
  EXPECT_LE(c_.tcb.srtt_us, 42000) << "srtt " << c_.tcb.srtt_us << " us on a 40 ms path";
  EXPECT_LE(c_.tcb.rttvar_us, 10000);
  // Linux: SRTT + RTTVAR', the deviation term floored at tcp_rto_min.
  EXPECT_GE(c_.tcb.rto_us, 240000);
  EXPECT_LE(c_.tcb.rto_us, 242000) << "srtt + max(mdev, rto_min)";
  EXPECT_EQ(c_.counters().get(Counter::TcpRetransSegs), 0u);
}

// Karn's rule (RFC 6298 §3): a retransmitted segment's ACK is not an RTT
// sample unless timestamps tell the copies apart. Here a lone segment is
// lost, resent one RTO (about 240 ms) later and acknowledged 40 ms after
// that: sampling it against the first copy would read 280 ms.
TEST_P(TcbRttEstimate, KarnsRuleKeepsRetransmissionsOutOfTheEstimate) {
  for (int i = 0; i < 20; ++i) exchange(500);
  ASSERT_LE(c_.tcb.srtt_us, 42000);
  const std::vector<std::uint8_t> data(500, 0x42);
  c_.send(data);
  ASSERT_EQ(c_.sent().size(), 1u);  // lost
  const Instant first = c_.now();
  const std::int64_t rto = c_.tcb.rto_us;
  ASSERT_GE(rto, 240000);
  c_.fire_due(tcp::kTimerRetransmit);
  ASSERT_EQ((c_.now() - first).us, rto);
  auto rtx = c_.sent();
  ASSERT_EQ(rtx.size(), 1u);
  ASSERT_EQ(c_.counters().get(Counter::TcpExtTCPTimeouts), 1u);
  c_.advance(kRtt);
  echo_timestamps(rtx[0].opt.tsval);  // the peer saw only the second copy
  c_.receive(kNext, {}, wire::kAck);
  EXPECT_LE(c_.tcb.srtt_us, 45000) << "the 280 ms ambiguous sample went into SRTT";
  // More clean exchanges: the estimate stays on the path's round trip.
  for (int i = 0; i < 5; ++i) exchange(500);
  EXPECT_LE(c_.tcb.srtt_us, 42000);
  EXPECT_EQ(c_.counters().get(Counter::TcpRetransSegs), 1u);
}

INSTANTIATE_TEST_SUITE_P(Timestamps, TcbRttEstimate, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "On" : "Off"; });

// A full initial window (RFC 6928: 10 segments) in flight.
Seq send_initial_window(LoneTcb& c) {
  c.in_state(State::kEstablished);
  const Seq first = c.tcb.snd_nxt;
  const std::vector<std::uint8_t> data(10 * kMss, 0x42);
  EXPECT_EQ(c.send(data), data.size());
  EXPECT_EQ(c.sent().size(), 10u);
  c.advance(Duration::millis(10));  // the duplicate ACKs come back
  return first;
}

// A duplicate ACK (RFC 5681 §2): nothing new acknowledged, same window.
void dupack(LoneTcb& c) { c.receive_acking(c.tcb.snd_una, kNext, {}, wire::kAck); }

void expect_retransmission(const std::vector<SentSegment>& out, Seq seq) {
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, wire::kAck);
  EXPECT_EQ(out[0].seq, seq);
  EXPECT_EQ(out[0].ack, kNext);
  EXPECT_EQ(out[0].payload.size(), kMss);
}

// RFC 5681 §3.2: the third duplicate ACK retransmits the missing segment at
// once, and ssthresh = max(FlightSize / 2, 2 SMSS) (eq. 4); RFC 6582 §3.2
// step 2: recovery up to the highest sequence sent. cwnd follows RFC 6937
// PRR over the duplicates counted as segments gone (Linux
// tcp_add_reno_sack), and is ssthresh when recovery ends.
TEST(TcbRetransmit, OneLostSegmentIsFastRetransmittedAfterThreeDupacks) {
  LoneTcb c(params());
  const Seq lost = send_initial_window(c);
  const Seq high = c.tcb.snd_max;
  // Segments 2, 3 and 4 each draw a duplicate ACK for the first.
  dupack(c);
  dupack(c);
  EXPECT_TRUE(c.sent().empty()) << "sent before the third duplicate ACK";
  dupack(c);
  expect_retransmission(c.sent(), lost);
  EXPECT_GT(c.due(tcp::kTimerRetransmit), c.now()) << "before any RTO could fire";
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPRenoRecovery), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPFastRetrans), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpRetransSegs), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPTimeouts), 0u);
  const std::uint32_t ssthresh = 10 * kMss / 2;
  EXPECT_EQ(c.tcb.ssthresh, ssthresh);
  // Pipe: 10 out, 3 gone, 1 lost = 6 segments, above ssthresh (5): PRR
  // lets ceil(1 * 5 / 10) = 1 segment go, the retransmission.
  EXPECT_EQ(c.tcb.cwnd, 7 * kMss);
  EXPECT_TRUE(c.tcb.in_recovery);
  EXPECT_EQ(c.tcb.recover, high);
  // Segments 5 to 10: each further duplicate delivers one; there is nothing
  // new to send. Pipe ends at 1 (the retransmission), below ssthresh: cwnd
  // = pipe + what PRR owes, bounded by ssthresh.
  for (int i = 0; i < 6; ++i) dupack(c);
  EXPECT_TRUE(c.sent().empty());
  EXPECT_EQ(c.tcb.dupacks, 9u);
  EXPECT_EQ(c.tcb.cwnd, ssthresh);
  // The retransmission fills the hole: all is acknowledged (step 4, full
  // acknowledgment): recovery ends with cwnd = ssthresh (RFC 6937 §3).
  c.receive(kNext, {}, wire::kAck);
  EXPECT_TRUE(c.sent().empty());
  EXPECT_FALSE(c.tcb.in_recovery);
  EXPECT_EQ(c.tcb.ssthresh, ssthresh);
  EXPECT_EQ(c.tcb.cwnd, ssthresh);
  EXPECT_EQ(c.tcb.dupacks, 0u);
  EXPECT_FALSE(c.tcb.rtx_timer.active());
  EXPECT_EQ(c.counters().get(Counter::TcpRetransSegs), 1u);
}

// RFC 6582 §3.2 step 4: in one recovery episode, the partial ACK that names
// the second hole retransmits it at once; no RTO is needed.
TEST(TcbRetransmit, NewRenoRecoversTwoLossesInOneWindowWithoutRto) {
  LoneTcb c(params());
  const Seq lost = send_initial_window(c);
  const Seq second = lost + 4 * kMss;  // the fifth segment is lost too
  // Segments 2-4 and 6-10: eight duplicate ACKs; the third retransmits.
  for (int i = 0; i < 3; ++i) dupack(c);
  expect_retransmission(c.sent(), lost);
  for (int i = 0; i < 5; ++i) dupack(c);
  EXPECT_TRUE(c.sent().empty());
  // The first retransmission arrives: the ACK stops at the second hole.
  c.receive_acking(second, kNext, {}, wire::kAck);
  expect_retransmission(c.sent(), second);
  EXPECT_TRUE(c.tcb.in_recovery) << "a partial ACK does not end recovery";
  // The second arrives: all is acknowledged.
  c.receive(kNext, {}, wire::kAck);
  EXPECT_TRUE(c.sent().empty());
  EXPECT_FALSE(c.tcb.in_recovery);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPRenoRecovery), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPTimeouts), 0u);
  EXPECT_EQ(c.counters().get(Counter::TcpRetransSegs), 2u);
}

// Linux tcp_check_reno_reordering: more duplicate ACKs than the flight
// could explain (segments were reordered, or duplicated, not lost) raise
// tp->reordering to the flight, and NewReno then waits for that many
// duplicates (tcp_newreno_mark_lost: sacked_out >= tp->reordering). A
// timeout after three or more duplicates brings it back to
// tcp_reordering (tcp_enter_loss).
TEST(TcbRetransmit, DuplicatesBeyondTheFlightRaiseTheDupackThreshold) {
  LoneTcb c(params());
  send_initial_window(c);
  for (int i = 0; i < 9; ++i) dupack(c);  // the third resends the first segment
  EXPECT_EQ(c.sent().size(), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPRenoReorder), 0u);
  dupack(c);  // a tenth, with nine segments that could have left
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPRenoReorder), 1u);
  EXPECT_EQ(c.tcb.rack.reordering, 10u);
  c.receive(kNext, {}, wire::kAck);  // all acknowledged: recovery ends
  ASSERT_FALSE(c.tcb.in_recovery);
  // A new flight; its first segment is acknowledged, so a new recovery
  // could start (RFC 6582 §3.2 step 2).
  const std::vector<std::uint8_t> more(10 * kMss, 0x43);
  c.send(more);
  const Seq first = c.tcb.snd_una;
  c.sent();
  c.advance(kRtt);
  c.receive_acking(first + kMss, kNext, {}, wire::kAck);
  c.sent();
  const Seq high = c.tcb.snd_max;
  for (int i = 0; i < 3; ++i) dupack(c);
  for (const SentSegment& s : c.sent()) EXPECT_GE(s.seq, high) << "a retransmission after three duplicates";
  EXPECT_FALSE(c.tcb.in_recovery);
  EXPECT_EQ(c.counters().get(Counter::TcpRetransSegs), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPRenoRecovery), 1u);
  // The RTO fires instead; tp->reordering returns to net.ipv4.tcp_reordering.
  c.fire_due(tcp::kTimerRetransmit);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPTimeouts), 1u);
  EXPECT_EQ(c.tcb.rack.reordering, 3u);
}

}  // namespace
}  // namespace twstack::test
