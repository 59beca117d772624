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
  StackConfig cfg;
  cfg.sndbuf = 4194304;  // twstack.sndbuf raised to tcp_wmem[2], as the packetdrill adapter does
  tcp::TcpParams p(cfg);
  p.timestamps = 0;
  return p;
}

// A write appended to a tail not yet sent takes that tail's PSH away
// (tcp_sendmsg_locked: "if (!copied) tcp_flags &= ~TCPHDR_PSH"): the full
// segment that holds the end of the second write has none, the one that
// ends the third has it.
TEST(TcbPush, WriteAppendedToAnUnsentTailTakesItsPsh) {
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
  EXPECT_FALSE(out[0].has(wire::kPsh)) << "the second write's end was appended to";
  c.receive(kNext, {}, wire::kAck);
  out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload.size(), 3000u - 1000u - kMss);
  EXPECT_TRUE(out[0].has(wire::kPsh));
}

// A write that starts after its predecessor was sent keeps that one's mark:
// the segment that ends the first write carries PSH when resent.
TEST(TcbPush, MarkOfASentWriteStays) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  c.tcb.nodelay = true;
  const Seq start = c.tcb.snd_nxt;
  c.send(std::vector<std::uint8_t>(1000, 1));
  c.send(std::vector<std::uint8_t>(1000, 2));
  ASSERT_EQ(c.sent().size(), 2u);
  EXPECT_TRUE(tcp::push_due(c.tcb, start, 1000));
  EXPECT_TRUE(tcp::push_due(c.tcb, start + 1000, 1000));
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

// tcp_sendmsg_locked checks forced_push as each skb fills to the size goal
// (half the peer's window, 16 segments of 1000 here), not per segment. The
// first skb is the send head: tcp_push_one sends what cwnd allows of it (2
// segments), and the rest is topped up to the goal again, so the first
// forced mark falls at 18000, where that skb fills (Linux: cubic-rto-ss-ca-
// cwnd-bump.pkt, PSH on 19001:20001 of a write from 2001), then every two
// skbs (50000, ...); a per-segment check would mark 17000.
TEST(TcbPush, ForcedPushFallsWhereAnSkbFills) {
  LoneTcb c(params());
  c.establish(PeerSyn{kPeerIss, 1000, 32896, std::nullopt, std::nullopt});
  c.tcb.cwnd = 2000;
  tcp::set_sndbuf(c.env().p, c.tcb, tcp::so_sndbuf_size(c.env().p, 200000));
  const Seq start = c.tcb.snd_nxt;
  ASSERT_EQ(c.send(std::vector<std::uint8_t>(200000, 0x42)), 200000u);
  EXPECT_FALSE(tcp::push_due(c.tcb, start + 16000, 1000));
  EXPECT_TRUE(tcp::push_due(c.tcb, start + 17000, 1000));
  EXPECT_FALSE(tcp::push_due(c.tcb, start + 33000, 1000));
  EXPECT_FALSE(tcp::push_due(c.tcb, start + 34000, 1000));
  EXPECT_TRUE(tcp::push_due(c.tcb, start + 49000, 1000));
  EXPECT_TRUE(tcp::push_due(c.tcb, start + 199000, 1000));  // tcp_push
}

// sk_stream_memory_free is asked only for a new skb, which is then filled
// to the size goal: with sk_sndbuf 50000 (tcp_wmem[1]) a write of 59000
// takes 58000 (Linux: epoll_out_edge.pkt): 16000, then the rest of the
// first skb after tcp_push_one sent 10000 of it (topped up to 26000), then
// two skbs begun at 26000 and 42000 queued, both below 50000.
TEST(TcbPush, WriteFillsTheSkbBegunBelowSndbuf) {
  tcp::TcpParams p = params();
  p.wmem.def = 50000;
  LoneTcb c(p);
  c.establish(PeerSyn{kPeerIss, 1000, 32896, std::nullopt, std::nullopt});
  ASSERT_EQ(c.tcb.sk_sndbuf, 50000u);  // tcp_sndbuf_expand: 2 * 10 * 2304 is less
  EXPECT_EQ(c.send(std::vector<std::uint8_t>(59000, 0x42)), 58000u);
  EXPECT_TRUE(c.tcb.want_writable);
  EXPECT_EQ(c.sent().size(), 10u);  // the initial window
  EXPECT_EQ(tcp::send_room(c.env().p, c.tcb), 0u);
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

// A passive open whose handshake took `rtt` (the SYN-ACK's RTT sample:
// SRTT and min RTT), with SACK.
void open_with_rtt(LoneTcb& c, Duration rtt) {
  PeerSyn s;
  s.sack_permitted = true;
  c.open(s);
  c.advance(rtt);
  c.receive(kNext, {}, wire::kAck);
  c.sent();
}

// Where the segments that carry PSH end, from `start`.
std::vector<std::uint32_t> psh_ends(const std::vector<SentSegment>& v, Seq start) {
  std::vector<std::uint32_t> ends;
  for (const auto& s : v) {
    if (s.has(wire::kPsh)) ends.push_back(static_cast<std::uint32_t>(s.seq - start) + static_cast<std::uint32_t>(s.payload.size()));
  }
  return ends;
}

// __tcp_transmit_skb forces PSH onto every packet of more than one segment.
// At 100 ms the pacing rate is low and tcp_tso_autosize gives
// tcp_min_tso_segs (2): the first flight (cwnd 10) of a longer write leaves
// as five packets of two segments, each ending with PSH.
TEST(TcbPush, FirstFlightEndsEveryTsoPacketWithPsh) {
  LoneTcb c(params());
  open_with_rtt(c, Duration::millis(100));
  const Seq start = c.tcb.snd_nxt;
  ASSERT_EQ(c.send(std::vector<std::uint8_t>(20 * kMss, 0x42)), 20 * kMss);
  const auto out = c.sent();
  ASSERT_EQ(out.size(), 10u);
  EXPECT_EQ(psh_ends(out, start), (std::vector<std::uint32_t>{2 * kMss, 4 * kMss, 6 * kMss, 8 * kMss, 10 * kMss}));
}

// tcp_cwnd_test gives a packet half the cwnd at most ("at least 2 GSO
// packets in flight"): with tcp_min_tso_segs 10 the first flight is two
// packets of five.
TEST(TcbPush, TsoPacketTakesHalfTheCwndAtMost) {
  tcp::TcpParams p = params();
  p.min_tso_segs = 10;
  LoneTcb c(p);
  open_with_rtt(c, Duration::millis(100));
  const Seq start = c.tcb.snd_nxt;
  c.send(std::vector<std::uint8_t>(20 * kMss, 0x42));
  EXPECT_EQ(psh_ends(c.sent(), start), (std::vector<std::uint32_t>{5 * kMss, 10 * kMss}));
}

// On a path of small min RTT tcp_tso_autosize adds up to 64 KB
// (sk_gso_max_size >> (min_rtt >> tcp_tso_rtt_log)): packets are as large
// as the cwnd lets them be, two of five again.
TEST(TcbPush, SmallMinRttMakesLargeTsoPackets) {
  LoneTcb c(params());
  open_with_rtt(c, Duration::micros(100));
  EXPECT_EQ(tcp::tso_max_segs(c.env(), c.tcb, kMss), 65536 / kMss);
  const Seq start = c.tcb.snd_nxt;
  c.send(std::vector<std::uint8_t>(20 * kMss, 0x42));
  EXPECT_EQ(psh_ends(c.sent(), start), (std::vector<std::uint32_t>{5 * kMss, 10 * kMss}));
}

// A cwnd of two segments: tcp_cwnd_test allows one segment per packet, and
// a packet of one segment gets no forced PSH (it carries a write's only).
TEST(TcbPush, OneSegmentPacketsGetNoForcedPsh) {
  LoneTcb c(params());
  open_with_rtt(c, Duration::millis(100));
  c.tcb.cwnd = 2 * kMss;
  c.send(std::vector<std::uint8_t>(5 * kMss, 0x42));
  const auto out = c.sent();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FALSE(out[0].has(wire::kPsh));
  EXPECT_FALSE(out[1].has(wire::kPsh));
}

// The tail loss probe resends the last segment with the PSH it had
// (tcp_send_loss_probe -> __tcp_retransmit_skb keeps the skb's flags).
TEST(TcbPush, LossProbeKeepsThePshOfItsSegment) {
  LoneTcb c(params());
  open_with_rtt(c, Duration::millis(40));
  const Seq start = c.tcb.snd_nxt;
  c.send(std::vector<std::uint8_t>(1000, 0x42));
  ASSERT_TRUE(c.sent().at(0).has(wire::kPsh));
  ASSERT_TRUE(c.tcb.tlp.pto_armed);
  c.fire_due(tcp::kTimerRetransmit);
  const auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seq, start);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPLossProbes), 1u);
  EXPECT_TRUE(out[0].has(wire::kPsh));
}

// An RFC 6675 retransmission keeps the PSH of the segment it resends
// (tcp_retransmit_skb sends the skb with its flags).
TEST(TcbPush, SackRetransmissionKeepsPsh) {
  tcp::TcpParams p = params();
  p.early_retrans = 0;
  LoneTcb c(p);
  open_with_rtt(c, Duration::millis(100));
  const Seq start = c.tcb.snd_nxt;
  c.send(std::vector<std::uint8_t>(kMss, 1));
  c.send(std::vector<std::uint8_t>(9 * kMss, 2));
  ASSERT_EQ(c.sent().size(), 10u);
  c.peer_sack({wire::SackBlock{(start + kMss).raw(), (start + 4 * kMss).raw()}});
  c.receive_acking(start, kNext, {});
  const auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seq, start);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPFastRetrans), 1u);
  EXPECT_TRUE(out[0].has(wire::kPsh));
}

}  // namespace
}  // namespace twstack::test
