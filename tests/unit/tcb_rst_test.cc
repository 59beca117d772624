// Resets and SYNs on one connection (RFC 5961, RFC 9293 §3.10.7.3-4),
// without an engine: challenge ACKs for in-window RSTs and SYNs, exact RSTs
// only, the per-connection rate limit, and resets in SYN-SENT. Each case
// feeds segments to a LoneTcb and asserts exactly what it sends back.
#include <gtest/gtest.h>

#include <cstdint>
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

std::uint32_t rcv_wnd(const tcp::Tcb& t) { return static_cast<std::uint32_t>(t.rcv_adv - t.rcv_nxt); }

// RFC 5961 §3.2: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, with the window as
// advertised before.
void expect_challenge_ack(const std::vector<SentSegment>& out, LoneTcb& c) {
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, wire::kAck);
  EXPECT_EQ(out[0].seq, c.tcb.snd_nxt);
  EXPECT_EQ(out[0].ack, c.tcb.rcv_nxt);
  EXPECT_EQ(out[0].window, c.window_field());
  EXPECT_TRUE(out[0].payload.empty());
}

TEST(TcbRst, InWindowResetWithWrongSeqDrawsChallengeAck) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  ASSERT_GT(rcv_wnd(c.tcb), 1000u);
  c.receive(kNext + 1000, {}, wire::kRst);
  expect_challenge_ack(c.sent(), c);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPChallengeACK), 1u);
  EXPECT_EQ(c.tcb.state, State::kEstablished);
  EXPECT_EQ(c.tcb.events & tcp::kEvClosed, 0);
  EXPECT_EQ(c.counters().get(Counter::TcpEstabResets), 0u);
  // RST|ACK is treated the same way.
  c.advance(Duration::seconds(1));  // past the challenge ACK rate limit
  c.receive(kNext + 1, {}, wire::kRst | wire::kAck);
  expect_challenge_ack(c.sent(), c);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPChallengeACK), 2u);
  EXPECT_EQ(c.tcb.state, State::kEstablished);
}

TEST(TcbRst, ExactResetResetsTheConnection) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  c.receive(kNext, {}, wire::kRst);
  EXPECT_TRUE(c.sent().empty());
  EXPECT_EQ(c.tcb.state, State::kClosed);
  EXPECT_EQ(c.tcb.error, Errc::kConnReset);
  EXPECT_NE(c.tcb.events & tcp::kEvClosed, 0);
  EXPECT_EQ(c.counters().get(Counter::TcpEstabResets), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPChallengeACK), 0u);
}

TEST(TcbRst, OutOfWindowResetIsIgnoredSilently) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  const Seq rcv_nxt = c.tcb.rcv_nxt;
  const Seq snd_una = c.tcb.snd_una;
  for (std::int32_t off : {-1, -100000, static_cast<std::int32_t>(rcv_wnd(c.tcb)), 0x40000000}) {
    SCOPED_TRACE(off);
    c.receive(kNext + static_cast<std::uint32_t>(off), {}, wire::kRst);
    EXPECT_TRUE(c.sent().empty());
  }
  EXPECT_EQ(c.tcb.state, State::kEstablished);
  EXPECT_EQ(c.tcb.events & tcp::kEvClosed, 0);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPChallengeACK), 0u);
  EXPECT_EQ(c.tcb.rcv_nxt, rcv_nxt);
  EXPECT_EQ(c.tcb.snd_una, snd_una);
}

TEST(TcbRst, SynOnEstablishedConnectionDrawsChallengeAck) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  c.receive(kNext + 10, {}, wire::kSyn);
  expect_challenge_ack(c.sent(), c);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPSYNChallenge), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPChallengeACK), 1u);
  EXPECT_EQ(c.tcb.state, State::kEstablished);
  EXPECT_EQ(c.tcb.rcv_nxt, kNext);
  EXPECT_EQ(c.tcb.events & tcp::kEvClosed, 0);
  EXPECT_EQ(c.counters().get(Counter::TcpOutRsts), 0u);
}

// RFC 5961 §4.2: "If the SYN bit is set, irrespective of the sequence
// number, TCP MUST send an ACK"; Linux counts both cases in TCPSYNChallenge
// (tcp_validate_incoming, label syn_challenge).
TEST(TcbRst, SynOutsideTheWindowAlsoDrawsCountedChallengeAck) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  c.receive(kNext + 0x20000000, {}, wire::kSyn);
  expect_challenge_ack(c.sent(), c);
  EXPECT_EQ(c.tcb.state, State::kEstablished);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPChallengeACK), 1u);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPSYNChallenge), 1u)
      << "a SYN outside the window was challenged but not counted in TcpExtTCPSYNChallenge";
}

TEST(TcbRst, ChallengeAcksAreRateLimitedPerInvalidRatelimit) {
  LoneTcb c(params());  // net.ipv4.tcp_invalid_ratelimit = 500 ms
  c.in_state(State::kEstablished);
  auto bad_rst = [&] {
    c.receive(kNext + 100, {}, wire::kRst);
    return c.sent();
  };
  expect_challenge_ack(bad_rst(), c);
  c.advance(Duration::millis(100));
  EXPECT_TRUE(bad_rst().empty());
  c.advance(Duration::millis(300));
  EXPECT_TRUE(bad_rst().empty());
  c.receive(kNext + 5, {}, wire::kSyn);
  EXPECT_TRUE(c.sent().empty()) << "SYN challenges share the limit";
  // Counted as Linux tcp_send_challenge_ack counts them, not as skipped dupACKs.
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPACKSkippedChallenge), 3u);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPACKSkippedSeq), 0u);
  c.advance(Duration::millis(100));  // 500 ms after the first
  expect_challenge_ack(bad_rst(), c);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPChallengeACK), 2u);
  EXPECT_EQ(c.tcb.state, State::kEstablished);
}

TEST(TcbRst, ChallengeAckRateFollowsTheSysctl) {
  tcp::TcpParams p = params();
  p.invalid_ratelimit = Duration::millis(2000);
  LoneTcb c(p);
  c.in_state(State::kEstablished);
  auto bad_rst = [&] {
    c.receive(kNext + 100, {}, wire::kRst);
    return c.sent();
  };
  expect_challenge_ack(bad_rst(), c);
  c.advance(Duration::millis(1999));
  EXPECT_TRUE(bad_rst().empty());
  c.advance(Duration::millis(1));
  expect_challenge_ack(bad_rst(), c);
}

// RFC 5961 §5.2 data with an ACK below SND.UNA - MAX.SND.WND draws a
// challenge ACK, and §7 throttles challenge ACKs. Linux
// tcp_send_challenge_ack() applies the per-socket limit to every challenge
// (__tcp_oow_rate_limited, no exemption for data): otherwise each blind
// in-window data segment is reflected as an ACK.
TEST(TcbRst, ChallengeAcksForBadAckDataAreRateLimitedToo) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  const std::vector<std::uint8_t> data(100, 0x42);
  std::size_t replies = 0;
  for (int i = 0; i < 5; ++i) {
    const Seq bad_ack = c.tcb.snd_una - (c.tcb.max_snd_wnd + 100000);
    c.receive_acking(bad_ack, kNext, data, wire::kAck | wire::kPsh);
    auto out = c.sent();
    if (i == 0) expect_challenge_ack(out, c);
    replies += out.size();
    c.advance(Duration::millis(20));
  }
  EXPECT_EQ(c.tcb.rcv_nxt, kNext) << "data with an unacceptable ACK was taken";
  EXPECT_EQ(c.tcb.rcv.size(), 0u);
  EXPECT_EQ(c.tcb.events & tcp::kEvReadable, 0);
  EXPECT_EQ(c.tcb.state, State::kEstablished);
  EXPECT_EQ(replies, 1u) << "5 blind data segments in 100 ms drew " << replies << " challenge ACKs";
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPChallengeACK), 1u);
}

// RFC 9293 §3.10.7.3, SYN-SENT: a RST without ACK, or whose ACK does not
// cover the SYN, is dropped; one with an acceptable ACK refuses the
// connection.
TEST(TcbRst, ResetInSynSentNeedsAnAcceptableAck) {
  LoneTcb c(params());
  c.connect();
  const Seq peer_seq{777};
  c.receive_acking(Seq{}, peer_seq, {}, wire::kRst);
  c.receive_acking(c.tcb.iss + 5, peer_seq, {}, wire::kRst | wire::kAck);
  c.receive_acking(c.tcb.iss, peer_seq, {}, wire::kRst | wire::kAck);
  EXPECT_TRUE(c.sent().empty());
  EXPECT_EQ(c.tcb.state, State::kSynSent);
  EXPECT_EQ(c.tcb.events & tcp::kEvClosed, 0);
  EXPECT_EQ(c.counters().get(Counter::TcpOutRsts), 0u);
  c.receive_acking(c.tcb.iss + 1, peer_seq, {}, wire::kRst | wire::kAck);
  EXPECT_TRUE(c.sent().empty());
  EXPECT_EQ(c.tcb.state, State::kClosed);
  EXPECT_EQ(c.tcb.error, Errc::kConnRefused);
  EXPECT_NE(c.tcb.events & tcp::kEvClosed, 0);
  EXPECT_EQ(c.counters().get(Counter::TcpAttemptFails), 1u);
}

}  // namespace
}  // namespace twstack::test
