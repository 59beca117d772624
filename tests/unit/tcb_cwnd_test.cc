// Congestion window validation on one connection (Linux tcp_cwnd_validate
// and tcp_is_cwnd_limited, in the spirit of RFC 7661): an application that
// does not fill the window does not grow it, except that slow start may take
// it to twice the largest flight. Reno and CUBIC, with and without SACK,
// as Linux's slow_start packetdrill scripts (slow-start-ack-per-2pkt-send-*,
// slow-start-app-limited-9-packets-out).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

constexpr std::uint32_t kMss = 1000;  // the peer's MSS option; no timestamps
constexpr Seq kNext = LoneTcb::kIrs + 1;

// (cubic, sack)
class TcbCwnd : public ::testing::TestWithParam<std::tuple<bool, bool>> {
 protected:
  TcbCwnd() : c_(params()) {
    PeerSyn syn;
    syn.mss = kMss;
    syn.sack_permitted = std::get<1>(GetParam());
    c_.establish(syn);
  }
  tcp::TcpParams params() const {
    tcp::TcpParams p(StackConfig{});
    p.timestamps = 0;
    p.cubic = std::get<0>(GetParam());
    return p;
  }
  // Writes `n` bytes; returns the bytes that went out at once.
  std::uint32_t write(std::uint32_t n) {
    const std::vector<std::uint8_t> data(n, 0x5a);
    c_.send(data);
    std::uint32_t out = 0;
    for (const auto& s : c_.sent()) out += static_cast<std::uint32_t>(s.payload.size());
    return out;
  }
  // The peer ACKs the first `upto` bytes of data.
  void ack(std::uint32_t upto) { c_.receive_acking(c_.tcb.iss + 1 + upto, kNext, {}); }
  std::uint32_t cwnd_segs() const { return c_.tcb.cwnd / kMss; }

  LoneTcb c_;
};

// slow-start-ack-per-2pkt-send-5pkt.pkt: 5 segments out of IW10, ACKed two
// at a time: cwnd stays 10 (10 is not below 2 * 5).
TEST_P(TcbCwnd, FiveSegmentsLeaveIw10Alone) {
  ASSERT_EQ(cwnd_segs(), 10u);
  ASSERT_EQ(write(5000), 5000u);
  for (std::uint32_t a : {2000u, 4000u, 5000u}) {
    ack(a);
    EXPECT_EQ(cwnd_segs(), 10u) << "after the ACK of " << a;
  }
}

// slow-start-ack-per-2pkt-send-6pkt.pkt: 6 segments: cwnd may grow to 12.
TEST_P(TcbCwnd, SixSegmentsGrowItToTwelve) {
  ASSERT_EQ(write(6000), 6000u);
  for (std::uint32_t a : {2000u, 4000u, 6000u}) {
    ack(a);
    EXPECT_EQ(cwnd_segs(), 12u) << "after the ACK of " << a;
  }
}

// slow-start-app-limited-9-packets-out.pkt: 9 segments: 12, 14, 16, 18, and
// there it stays.
TEST_P(TcbCwnd, NineSegmentsGrowItToEighteen) {
  ASSERT_EQ(write(9000), 9000u);
  const std::uint32_t want[] = {12, 14, 16, 18, 18};
  const std::uint32_t acks[] = {2000, 4000, 6000, 8000, 9000};
  for (int i = 0; i < 5; ++i) {
    ack(acks[i]);
    EXPECT_EQ(cwnd_segs(), want[i]) << "after the ACK of " << acks[i];
  }
}

// A sender that fills cwnd keeps growing it in slow start.
TEST_P(TcbCwnd, AFullWindowGrows) {
  ASSERT_EQ(write(20000), 10000u);
  EXPECT_TRUE(c_.tcb.is_cwnd_limited);
  ack(2000);
  EXPECT_EQ(cwnd_segs(), 12u);
}

// Congestion avoidance: an application-limited window never grows, however
// long the ACKs keep coming (RFC 7661 §4.1); a cwnd-limited one does.
TEST_P(TcbCwnd, CongestionAvoidanceNeedsAFullWindow) {
  c_.tcb.ssthresh = c_.tcb.cwnd;
  for (int round = 0; round < 20; ++round) {
    const std::uint32_t before = c_.tcb.snd_max - c_.tcb.iss - 1;
    ASSERT_EQ(write(5000), 5000u);
    c_.advance(Duration::millis(100));
    ack(before + 5000);
  }
  EXPECT_EQ(cwnd_segs(), 10u);
  for (int round = 0; round < 20; ++round) {
    const std::uint32_t before = c_.tcb.snd_max - c_.tcb.iss - 1;
    write(c_.tcb.cwnd);
    c_.advance(Duration::millis(100));
    ack(before + c_.tcb.cwnd);
  }
  EXPECT_GT(cwnd_segs(), 10u);
}

INSTANTIATE_TEST_SUITE_P(RenoCubicSack, TcbCwnd,
                         ::testing::Combine(::testing::Bool(), ::testing::Bool()),
                         [](const auto& p) {
                           return std::string(std::get<0>(p.param) ? "Cubic" : "Reno") +
                                  (std::get<1>(p.param) ? "Sack" : "NoSack");
                         });

}  // namespace
}  // namespace twstack::test
