// Keep-alive (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6; Linux tcp_keepalive_timer)
// and TCP_USER_TIMEOUT (RFC 5482; tcp_clamp_rto_to_user_timeout,
// retransmits_timed_out).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

using tcp::State;
constexpr Seq kNext = LoneTcb::kIrs + 1;

tcp::TcpParams params() {
  tcp::TcpParams p(StackConfig{});
  p.timestamps = 0;
  return p;
}

void expect_keepalive_probe(const std::vector<SentSegment>& out, const LoneTcb& c) {
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, wire::kAck);
  EXPECT_EQ(out[0].seq, c.tcb.snd_una - 1) << "SEG.SEQ = SND.UNA - 1 (tcp_xmit_probe_skb)";
  EXPECT_EQ(out[0].ack, c.tcb.rcv_nxt);
  EXPECT_TRUE(out[0].payload.empty());
}

TEST(TcbKeepalive, OffByDefault) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  EXPECT_FALSE(c.tcb.life_timer.active());
}

// Per-connection TCP_KEEPIDLE 10 s, TCP_KEEPINTVL 2 s, TCP_KEEPCNT 3: probes
// at 10, 12, 14 s of silence; at 16 s the connection is reset and fails
// with ETIMEDOUT.
TEST(TcbKeepalive, UnansweredProbesEndTheConnection) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  const Instant quiet_since = c.now();
  ASSERT_EQ(tcp::set_keepalive_params(c.env(), c.tcb, 10000000, 2000000, 3), Errc::kOk);
  tcp::set_keepalive(c.env(), c.tcb, true);
  const std::int64_t want[] = {10000000, 12000000, 14000000};
  for (std::int64_t at : want) {
    SCOPED_TRACE(at);
    EXPECT_EQ((c.fire_due(tcp::kTimerLife) - quiet_since).us, at);
    expect_keepalive_probe(c.sent(), c);
  }
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPKeepAlive), 3u);
  EXPECT_EQ((c.fire_due(tcp::kTimerLife) - quiet_since).us, 16000000);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].has(wire::kRst));
  EXPECT_EQ(c.tcb.state, State::kClosed);
  EXPECT_EQ(c.tcb.error, Errc::kTimedOut);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPAbortOnTimeout), 1u);
}

// An answer resets the count: the next probe comes one idle time after it.
TEST(TcbKeepalive, AnsweredProbeRestartsTheIdleTime) {
  tcp::TcpParams p = params();
  p.keepalive_time = Duration::seconds(30);  // net.ipv4.tcp_keepalive_time
  p.keepalive_intvl = Duration::seconds(5);
  LoneTcb c(p);
  c.in_state(State::kEstablished);
  const Instant quiet_since = c.now();
  tcp::set_keepalive(c.env(), c.tcb, true);
  EXPECT_EQ((c.fire_due(tcp::kTimerLife) - quiet_since).us, 30000000);
  expect_keepalive_probe(c.sent(), c);
  c.advance(Duration::millis(10));
  c.receive(kNext, {}, wire::kAck);  // the peer's answer
  EXPECT_TRUE(c.sent().empty());
  const Instant answered = c.now();
  EXPECT_EQ(c.tcb.probes, 0);
  // The timer set for the next probe (TCP_KEEPINTVL after the first) finds
  // the peer heard from and reschedules to one idle time after the answer.
  EXPECT_EQ((c.fire_due(tcp::kTimerLife) - answered).us, 5000000 - 10000);
  EXPECT_TRUE(c.sent().empty());
  EXPECT_EQ((c.fire_due(tcp::kTimerLife) - answered).us, 30000000);
  expect_keepalive_probe(c.sent(), c);
}

// Data in flight: no probes (the retransmission timer watches it).
TEST(TcbKeepalive, NoProbeWhileDataIsOutstanding) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  ASSERT_EQ(tcp::set_keepalive_params(c.env(), c.tcb, 1000000, 1000000, 1), Errc::kOk);
  tcp::set_keepalive(c.env(), c.tcb, true);
  const std::vector<std::uint8_t> data(100, 0x42);
  c.send(data);
  c.sent();
  c.tcb.rto_us = 100000000;  // keep the retransmission timer out of the way
  tcp::arm_rto(c.env(), c.tcb);
  c.fire_due(tcp::kTimerLife);
  EXPECT_TRUE(c.sent().empty());
  EXPECT_TRUE(c.tcb.life_timer.active());
}

TEST(TcbKeepalive, ParametersOutOfRangeAreRefused) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  EXPECT_EQ(tcp::set_keepalive_params(c.env(), c.tcb, 500000, 0, 0), Errc::kInvalid);
  EXPECT_EQ(tcp::set_keepalive_params(c.env(), c.tcb, 0, 32768LL * 1000000, 0), Errc::kInvalid);
  EXPECT_EQ(tcp::set_keepalive_params(c.env(), c.tcb, 0, 0, 128), Errc::kInvalid);
  EXPECT_EQ(tcp::set_user_timeout(c.tcb, -1), Errc::kInvalid);
}

// TCP_USER_TIMEOUT 1 s: retransmission stops once the data has waited 1 s,
// the last RTO shortened to end exactly then; no reset is sent.
TEST(TcbUserTimeout, BoundsRetransmission) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  ASSERT_EQ(tcp::set_user_timeout(c.tcb, 1000), Errc::kOk);
  const std::vector<std::uint8_t> data(100, 0x42);
  const Instant sent_at = c.now();
  c.send(data);
  c.sent();
  const std::int64_t rto = c.tcb.rto_us;
  ASSERT_LT(rto, 400000);
  Instant at = c.fire_due(tcp::kTimerRetransmit);  // 1st retransmission
  EXPECT_EQ((at - sent_at).us, rto);
  for (int i = 0; i < 10 && c.tcb.state != State::kClosed; ++i) at = c.fire_due(tcp::kTimerRetransmit);
  EXPECT_EQ(c.tcb.state, State::kClosed);
  EXPECT_EQ(c.tcb.error, Errc::kTimedOut);
  EXPECT_EQ((at - sent_at).us, 1000000) << "gave up exactly at the user timeout";
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPAbortOnTimeout), 1u);
  for (const auto& s : c.sent()) EXPECT_FALSE(s.has(wire::kRst));
}

// With a user timeout, keep-alive gives up once the silence reaches it and
// a probe went unanswered, whatever TCP_KEEPCNT says.
TEST(TcbUserTimeout, GovernsKeepalive) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  const Instant quiet_since = c.now();
  ASSERT_EQ(tcp::set_keepalive_params(c.env(), c.tcb, 10000000, 2000000, 100), Errc::kOk);
  ASSERT_EQ(tcp::set_user_timeout(c.tcb, 13000), Errc::kOk);
  tcp::set_keepalive(c.env(), c.tcb, true);
  c.fire_due(tcp::kTimerLife);  // 10 s
  expect_keepalive_probe(c.sent(), c);
  c.fire_due(tcp::kTimerLife);  // 12 s
  expect_keepalive_probe(c.sent(), c);
  const Instant end = c.fire_due(tcp::kTimerLife);  // 14 s >= 13 s
  EXPECT_EQ((end - quiet_since).us, 14000000);
  EXPECT_EQ(c.tcb.state, State::kClosed);
  EXPECT_EQ(c.tcb.error, Errc::kTimedOut);
}

}  // namespace
}  // namespace twstack::test
