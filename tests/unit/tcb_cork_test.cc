// TCP_CORK and MSG_MORE as Linux has them (tcp_push with TCP_NAGLE_CORK,
// tcp_nagle_check, __tcp_sock_set_cork, __tcp_sock_set_nodelay), as the
// nagle packetdrill scripts sockopt_cork_nodelay.pkt and sendmsg_msg_more.pkt
// see them: a short last segment waits until it fills, the cork comes off,
// TCP_NODELAY pushes, or the persist timer sends it; MSG_MORE corks only
// the push of its own write and leaves no PSH mark.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

constexpr std::uint32_t kMss = 1000;  // the peer's MSS option; no timestamps
constexpr Seq kNext = LoneTcb::kIrs + 1;

class TcbCork : public ::testing::Test {
 protected:
  TcbCork() : c_(params()) {
    PeerSyn syn;
    syn.mss = kMss;
    c_.establish(syn);
  }
  static tcp::TcpParams params() {
    tcp::TcpParams p(StackConfig{});
    p.timestamps = 0;
    return p;
  }
  // Writes `n` bytes (`more`: MSG_MORE); returns what went out at once.
  std::vector<SentSegment> write(std::uint32_t n, bool more = false) {
    const std::vector<std::uint8_t> data(n, 0x5a);
    Errc err;
    EXPECT_EQ(tcp::user_send(c_.env(), c_.tcb, data, &err, more), n);
    c_.flush();
    return c_.sent();
  }
  void cork(bool on) {
    tcp::set_cork(c_.tcb, on);
    c_.flush();
  }
  void nodelay(bool on) {
    tcp::set_nodelay(c_.tcb, on);
    c_.flush();
  }
  // The peer ACKs the first `upto` bytes of data.
  void ack(std::uint32_t upto) { c_.receive_acking(c_.tcb.iss + 1 + upto, kNext, {}); }
  static std::uint32_t bytes(const std::vector<SentSegment>& v) {
    std::uint32_t n = 0;
    for (const auto& s : v) n += static_cast<std::uint32_t>(s.payload.size());
    return n;
  }

  LoneTcb c_;
};

// Nagle alone sends a short write with nothing in flight; TCP_CORK holds it
// and taking the cork off sends it, with the write's PSH.
TEST_F(TcbCork, TheCorkHoldsShortWritesUntilItComesOff) {
  cork(true);
  EXPECT_TRUE(write(40).empty());
  c_.advance(Duration::millis(50));
  EXPECT_TRUE(write(40).empty());
  cork(false);
  const auto out = c_.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload.size(), 80u);
  EXPECT_TRUE(out[0].has(wire::kPsh));
}

// Full segments go out through the cork; only the short tail waits.
TEST_F(TcbCork, FullSegmentsPassTheCork) {
  cork(true);
  EXPECT_EQ(bytes(write(2500)), 2000u);
  EXPECT_EQ(bytes(write(500)), 1000u);
}

// TCP_NODELAY pushes past the cork (TCP_NAGLE_PUSH) until the next write.
TEST_F(TcbCork, NodelayPushesPastTheCorkOnce) {
  cork(true);
  EXPECT_TRUE(write(40).empty());
  nodelay(true);
  ASSERT_EQ(bytes(c_.sent()), 40u);
  ack(40);
  EXPECT_TRUE(write(40).empty());
}

// MSG_MORE holds a short write even with Nagle off, and leaves no PSH mark;
// the push an ACK makes later is not corked (the socket's nonagle).
TEST_F(TcbCork, MsgMoreCorksItsOwnPushOnly) {
  nodelay(true);
  EXPECT_EQ(bytes(write(3100, true)), 3000u);
  EXPECT_TRUE(write(50, true).empty());
  ack(2000);
  const auto out = c_.sent();
  ASSERT_EQ(bytes(out), 150u);
  EXPECT_FALSE(out.back().has(wire::kPsh));
}

// A write without MSG_MORE after one with it sends both, with PSH.
TEST_F(TcbCork, AWriteWithoutMsgMoreReleasesIt) {
  EXPECT_TRUE(write(20, true).empty());
  c_.advance(Duration::millis(50));
  const auto out = write(20);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload.size(), 40u);
  EXPECT_TRUE(out[0].has(wire::kPsh));
}

// Nothing in flight: the persist timer sends what the cork holds after an
// RTO (tcp_write_wakeup, with PSH); Linux sets no time limit of its own.
TEST_F(TcbCork, ThePersistTimerSendsWhatTheCorkHolds) {
  EXPECT_TRUE(write(40, true).empty());
  const Instant sent_at = c_.now();
  const Instant at = c_.fire_due(tcp::kTimerRetransmit);
  EXPECT_EQ(at.us - sent_at.us, c_.tcb.rto_us);
  const auto out = c_.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload.size(), 40u);
  EXPECT_TRUE(out[0].has(wire::kPsh));
}

// close() sends the held bytes with the FIN (tcp_send_fin pushes with
// TCP_NAGLE_OFF).
TEST_F(TcbCork, TheFinTakesTheCorkedBytes) {
  cork(true);
  EXPECT_TRUE(write(40).empty());
  c_.close();
  const auto out = c_.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload.size(), 40u);
  EXPECT_TRUE(out[0].has(wire::kFin));
}

}  // namespace
}  // namespace twstack::test
