// Receive-buffer auto-tuning (net.ipv4.tcp_moderate_rcvbuf) on one
// connection without an engine, as Linux 6.18's tcp_rcv_space_adjust does
// it: the receiver times a window's worth of data (tcp_rcv_rtt_measure) or
// a timestamp echo (tcp_rcv_rtt_measure_ts); once an RTT has passed since
// the last measure, a read that took more than the last RTT's bytes grows an
// unlocked sk_rcvbuf to twice the bytes plus 16 segments, plus twice the
// growth (the sender may be in slow start), at most tcp_rmem[2]; the window
// clamp and the receive ring follow, so the advertised window passes 64 KiB.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "stack/tcp/buffers.hh"
#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

constexpr std::uint32_t kMss = 1460;
constexpr std::int64_t kRttUs = 10000;

tcp::TcpParams params(bool moderate = true) {
  tcp::TcpParams p(StackConfig{});
  p.timestamps = 0;
  p.moderate_rcvbuf = moderate;
  p.rcvbuf = 8u << 20;        // the engine's cap well above what Linux's figures allow
  p.rmem.max = 64 << 20;      // tcp_rmem[2]: out of the way unless a test lowers it
  return p;
}

// The linear arithmetic of tcp_rcv_space_adjust, for checking.
std::uint64_t linux_rcvbuf(std::uint64_t copied, std::uint64_t space, std::uint64_t advmss) {
  std::uint64_t rcvwin = (copied << 1) + 16 * advmss;
  const std::uint64_t grow = rcvwin * (copied - space) / space;
  rcvwin += grow << 1;
  return rcvwin * 2;  // tcp_space_from_win at the default 50 % scaling ratio
}

class RcvSpace : public ::testing::Test {
 protected:
  explicit RcvSpace(tcp::TcpParams p = params(), tcp::SockBufs bufs = {}) : c(p) {
    PeerSyn syn;
    syn.mss = kMss;
    syn.wscale = 7;
    c.open(syn, bufs);
    c.advance(Duration::micros(kRttUs));
    c.receive(kNext, {}, wire::kAck);
    c.sent();
    next = kNext;
  }
  // `n` full segments arrive, each read at once by the application.
  void flight(std::uint32_t n) {
    const std::vector<std::uint8_t> data(kMss, 0x42);
    std::vector<std::uint8_t> buf(kMss);
    for (std::uint32_t i = 0; i < n; ++i) {
      c.receive(next, data);
      next += kMss;
      ASSERT_EQ(c.recv(buf), kMss);
    }
    c.sent();
  }
  static constexpr Seq kNext = LoneTcb::kIrs + 1;
  LoneTcb c;
  Seq next;
};

// tcp_init_buffer_space: the first measure starts at ESTABLISHED with
// min(rcv_wnd, TCP_INIT_CWND * advmss); nothing grows before the receiver
// has an RTT.
TEST_F(RcvSpace, NothingGrowsBeforeTheReceiverHasAnRtt) {
  EXPECT_EQ(c.tcb.rcvq_space, 10 * kMss);
  EXPECT_EQ(c.tcb.sk_rcvbuf, 131072u);
  EXPECT_EQ(c.tcb.rcv.capacity(), 65536u);  // tcp_full_space of tcp_rmem[1]
  flight(40);
  EXPECT_EQ(c.tcb.rcv_rtt8_us, 0u);  // a window's worth has not come yet
  EXPECT_EQ(c.tcb.sk_rcvbuf, 131072u);
}

// tcp_rcv_rtt_measure: the time a window's worth (the window last
// advertised, past RCV.NXT) takes to arrive is the receiver's RTT; then
// the read that follows grows sk_rcvbuf by Linux's arithmetic, and the
// window clamp, the ring and the advertised window follow.
TEST_F(RcvSpace, ReadingFasterThanTheLastRttGrowsTheBuffer) {
  const std::uint32_t wnd = static_cast<std::uint32_t>(c.tcb.rcv_adv - c.tcb.rcv_wup);
  flight(1);  // the measure starts: a window past RCV.NXT
  const std::uint32_t to_pass = (wnd + kMss - 1) / kMss;
  flight(to_pass - 1);
  c.advance(Duration::micros(kRttUs));
  const Seq before = next;
  flight(1);  // passes the mark: the RTT is 10 ms
  ASSERT_EQ(c.tcb.rcv_rtt8_us, 8 * kRttUs);
  // That read came 20 ms after ESTABLISHED, more than an RTT: it adjusts.
  const std::uint64_t copied = before + kMss - kNext;
  EXPECT_EQ(c.tcb.rcvq_space, copied);
  const std::uint64_t want = linux_rcvbuf(copied, 10 * kMss, c.tcb.advmss);
  EXPECT_EQ(c.tcb.sk_rcvbuf, want);
  EXPECT_EQ(c.tcb.window_clamp, want / 2);
  EXPECT_EQ(c.tcb.rcv.capacity(), want / 2);
  // The next ACK offers the larger ring.
  c.leave_quickack();
  flight(2);
  EXPECT_GT(c.tcb.rcv_adv - c.tcb.rcv_nxt, 65536);
}

// At most tcp_rmem[2]; within the engine's cap (twstack.rcvbuf), the ring.
TEST(RcvSpaceCaps, GrowthStopsAtTcpRmemMaxAndTheRingAtTheEnginesCap) {
  tcp::TcpParams p = params();
  p.rmem.max = 200000;
  p.rcvbuf = 90000;
  LoneTcb c(p);
  PeerSyn syn;
  syn.mss = kMss;
  syn.wscale = 7;
  c.open(syn);
  c.advance(Duration::micros(kRttUs));
  c.receive(LoneTcb::kIrs + 1, {}, wire::kAck);
  const std::vector<std::uint8_t> data(kMss, 0x42);
  std::vector<std::uint8_t> buf(kMss);
  Seq next = LoneTcb::kIrs + 1;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 60; ++i) {
      c.receive(next, data);
      next += kMss;
      c.recv(buf);
    }
    c.advance(Duration::micros(kRttUs));
  }
  EXPECT_EQ(c.tcb.sk_rcvbuf, 200000u);
  EXPECT_EQ(c.tcb.window_clamp, 100000u);
  EXPECT_EQ(c.tcb.rcv.capacity(), 90000u);
}

// SO_RCVBUF locks the buffer (SOCK_RCVBUF_LOCK); net.ipv4.tcp_moderate_rcvbuf
// = 0 turns the growth off. The measure goes on in both.
class RcvSpaceLocked : public RcvSpace {
 protected:
  RcvSpaceLocked() : RcvSpace(params(), tcp::SockBufs{262144, 0, 0}) {}
};
class RcvSpaceOff : public RcvSpace {
 protected:
  RcvSpaceOff() : RcvSpace(params(false)) {}
};

TEST_F(RcvSpaceLocked, SoRcvbufIsNeverGrown) {
  const std::uint32_t buf = c.tcb.sk_rcvbuf;
  for (int round = 0; round < 3; ++round) {
    flight(60);
    c.advance(Duration::micros(kRttUs));
  }
  EXPECT_NE(c.tcb.rcv_rtt8_us, 0u);
  EXPECT_GT(c.tcb.rcvq_space, 10 * kMss);
  EXPECT_EQ(c.tcb.sk_rcvbuf, buf);
}

TEST_F(RcvSpaceOff, ModerateRcvbufZeroNeverGrows) {
  for (int round = 0; round < 3; ++round) {
    flight(60);
    c.advance(Duration::micros(kRttUs));
  }
  EXPECT_NE(c.tcb.rcv_rtt8_us, 0u);
  EXPECT_EQ(c.tcb.sk_rcvbuf, 131072u);
  EXPECT_EQ(c.tcb.rcv.capacity(), 65536u);
}

// tcp_rcv_rtt_measure_ts: a full segment with a new echo is an RTT sample
// (1 ms ticks), smoothed by 1/8; an echo of this very tick gives none.
TEST(RcvSpaceTs, TimestampEchoesTimeTheReceiver) {
  tcp::TcpParams p = params();
  p.timestamps = 1;
  LoneTcb c(p);
  PeerSyn syn;
  syn.mss = kMss;
  syn.tsval = 100;
  const SentSegment synack = c.open(syn);
  c.advance(Duration::millis(5));
  c.peer_timestamps(101, synack.opt.tsval);
  c.receive(LoneTcb::kIrs + 1, {}, wire::kAck);
  c.sent();
  const std::vector<std::uint8_t> data(kMss - 12, 0x42);  // a full segment with timestamps
  c.peer_timestamps(102, synack.opt.tsval);  // the same echo: no new sample
  c.receive(LoneTcb::kIrs + 1, data);
  EXPECT_EQ(c.tcb.rcv_rtt8_us, 0u);
  c.sent();
  c.advance(Duration::millis(4));
  const std::uint32_t now_ts = c.tcb.ts_recent;  // keep the peer's clock moving
  c.peer_timestamps(now_ts + 4, synack.opt.tsval + 5);  // echoes a TSval 4 ms old
  c.receive(LoneTcb::kIrs + 1 + data.size(), data);
  EXPECT_EQ(c.tcb.rcv_rtt8_us, 8u * 4000);
}

}  // namespace
}  // namespace twstack::test
