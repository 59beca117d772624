// PSH as Linux sets it (tcp_sendmsg_locked: tcp_mark_push on the last
// segment of each write, forced_push when more than half the peer's largest
// window was written since the last mark), on first transmission and on
// retransmission alike.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

using tcp::State;
constexpr Seq kNext = LoneTcb::kIrs + 1;
constexpr std::uint32_t kMss = 1460;

tcp::TcpParams params() {
  tcp::TcpParams p(StackConfig{});
  p.timestamps = 0;
  return p;
}

// A write's end inside a full segment: the segment that carries it has PSH
// although more data follows it in the queue (the tail skb that
// tcp_mark_push marked, grown by the next write).
TEST(TcbPush, SegmentHoldingTheEndOfAWriteHasPsh) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  const Seq start = c.tcb.snd_nxt;
  const std::vector<std::uint8_t> data(1000, 0x42);
  c.send(data);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].has(wire::kPsh));
  c.send(data);  // Nagle holds it: one short segment is in flight
  c.send(data);
  out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seq, start + 1000);
  EXPECT_EQ(out[0].payload.size(), kMss);
  EXPECT_TRUE(out[0].has(wire::kPsh)) << "it holds the end of the second write";
  c.receive(kNext, {}, wire::kAck);
  out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload.size(), 3000u - 1000u - kMss);
  EXPECT_TRUE(out[0].has(wire::kPsh));
}

// forced_push: the peer's window is 4000 bytes, so one long write gets a
// PSH whenever more than 2000 bytes were written since the last one, at the
// segment where that happens, and at its end.
TEST(TcbPush, LongWriteIsPushedEveryHalfWindow) {
  LoneTcb c(params());
  PeerSyn syn;
  syn.window = 4000;
  c.establish(syn);
  const Seq start = c.tcb.snd_nxt;
  const std::vector<std::uint8_t> data(10000, 0x42);
  ASSERT_EQ(c.send(data), 10000u);
  std::vector<SentSegment> all;
  for (int i = 0; i < 20 && c.tcb.snd_una != c.tcb.snd_data_end(); ++i) {
    for (auto& s : c.sent()) all.push_back(s);
    c.receive(kNext, {}, wire::kAck);
  }
  for (auto& s : c.sent()) all.push_back(s);
  ASSERT_EQ(c.tcb.snd_una, c.tcb.snd_data_end());
  std::vector<std::uint32_t> pushed_ends;
  for (const auto& s : all) {
    if (s.has(wire::kPsh)) pushed_ends.push_back(static_cast<std::uint32_t>(s.seq - start) +
                                                 static_cast<std::uint32_t>(s.payload.size()));
  }
  // Marks at 2920 (> 0 + 2000), 5840 (> 2920 + 2000), 8760, and the end.
  const std::vector<std::uint32_t> want{2 * kMss, 4 * kMss, 6 * kMss, 10000};
  EXPECT_EQ(pushed_ends, want);
}

// A fast retransmission of a segment that ended a write carries PSH again,
// as Linux resends the marked skb.
TEST(TcbPush, FastRetransmissionKeepsPsh) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  c.tcb.nodelay = true;
  const Seq start = c.tcb.snd_nxt;
  const std::vector<std::uint8_t> data(1000, 0x42);
  for (int i = 0; i < 5; ++i) c.send(data);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 5u);
  for (const auto& s : out) EXPECT_TRUE(s.has(wire::kPsh));
  for (int i = 0; i < 3; ++i) c.receive_acking(start, kNext, {}, wire::kAck);
  auto rtx = c.sent();
  ASSERT_EQ(rtx.size(), 1u);
  EXPECT_EQ(rtx[0].seq, start);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPFastRetrans), 1u);
  EXPECT_TRUE(rtx[0].has(wire::kPsh));
}

}  // namespace
}  // namespace twstack::test
