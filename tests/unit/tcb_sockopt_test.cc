// Socket options that change what a connection does, on one connection
// without an engine: TCP_MAXSEG (user_mss: tcp_mss_clamp, tcp_parse_options),
// TCP_NOTSENT_LOWAT (tcp_stream_memory_free, tcp_poll) and TCP_INQ's hint
// (tcp_inq_hint), as Linux's mss/, epoll/ and inq/ packetdrill scripts use them.
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

tcp::SockBufs maxseg(std::uint16_t mss) {
  tcp::SockBufs b;
  b.user_mss = mss;
  return b;
}

std::vector<std::uint32_t> payload_sizes(const std::vector<SentSegment>& v) {
  std::vector<std::uint32_t> n;
  for (const auto& s : v) n.push_back(static_cast<std::uint32_t>(s.payload.size()));
  return n;
}

// mss-setsockopt-tcp_maxseg-client.pkt: the SYN announces 1100, and the
// peer's 1460 is clamped to it, so IW10 is 10 segments of 1100.
TEST(TcbMaxseg, ActiveOpenAnnouncesAndSendsWithIt) {
  LoneTcb c(params());
  const SentSegment syn = c.connect(maxseg(1100));
  ASSERT_TRUE(syn.opt.has_mss);
  EXPECT_EQ(syn.opt.mss, 1100);
  c.syn_ack(PeerSyn{});
  c.sent();
  EXPECT_EQ(c.tcb.mss, 1100);
  EXPECT_EQ(c.tcb.advmss, 1100);
  c.send(std::vector<std::uint8_t>(12000, 1));
  EXPECT_EQ(payload_sizes(c.sent()), std::vector<std::uint32_t>(10, 1100));
}

// mss-setsockopt-tcp_maxseg-server.pkt: a listener's TCP_MAXSEG goes to the
// SYN-ACK of its children; a smaller MSS from the peer still wins.
TEST(TcbMaxseg, PassiveOpenAnnouncesItAndTakesTheSmaller) {
  LoneTcb c(params());
  PeerSyn syn;
  syn.mss = 1300;
  const SentSegment synack = c.open(syn, maxseg(1100));
  EXPECT_EQ(synack.opt.mss, 1100);
  EXPECT_EQ(c.tcb.mss, 1100);
  LoneTcb d(params());
  syn.mss = 1000;
  d.open(syn, maxseg(1100));
  EXPECT_EQ(d.tcb.mss, 1000);
}

// A TCP_MAXSEG above the path's MSS (twstack.mss) changes nothing, and
// without one the SYN announces twstack.mss.
TEST(TcbMaxseg, NeverRaisesTheMss) {
  LoneTcb c(params());
  EXPECT_EQ(c.connect(maxseg(9000)).opt.mss, 1460);
  LoneTcb d(params());
  EXPECT_EQ(d.connect().opt.mss, 1460);
}

// TCP_NOTSENT_LOWAT: write() starts a new skb only while the unsent bytes
// are below the mark (sk_stream_memory_free), and tops up the tail skb not
// yet sent to the size goal without asking (tcp_sendmsg_locked); poll()
// reports EPOLLOUT only below half of it (tcp_stream_memory_free with
// wake); a writer held back is woken once sending brings them below that
// (tcp_check_space).
TEST(TcbNotsentLowat, WritesStopAtTheMarkAndWakeBelowHalf) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  c.tcb.nodelay = true;
  c.tcb.cwnd = 2 * 1460;
  tcp::set_notsent_lowat(c.env().p, c.tcb, 3000);
  const std::uint32_t goal = std::min(65536u, c.tcb.max_snd_wnd / 2) / 1460 * 1460;
  ASSERT_GT(goal, 20000u);
  const std::vector<std::uint8_t> data(10000, 7);
  EXPECT_EQ(c.send(data), 10000u);  // one skb, begun with nothing unsent
  EXPECT_EQ(payload_sizes(c.sent()), (std::vector<std::uint32_t>{1460, 1460}));
  EXPECT_EQ(tcp::notsent_bytes(c.tcb), 7080u);
  EXPECT_EQ(tcp::send_room(c.env().p, c.tcb), goal - 7080);  // the tail skb's room
  const std::vector<std::uint8_t> more(100000, 7);
  EXPECT_EQ(c.send(more), goal - 7080);  // 7080 unsent >= 3000: no new skb
  EXPECT_EQ(tcp::send_room(c.env().p, c.tcb), 0u);
  EXPECT_FALSE(tcp::stream_writeable(c.env().p, c.tcb));
  c.tcb.events = 0;
  for (int round = 0; round < 20 && 2 * tcp::notsent_bytes(c.tcb) >= 3000; ++round) {
    EXPECT_EQ(c.tcb.events & tcp::kEvWritable, 0);
    c.receive_acking(c.tcb.snd_max, kNext, {});  // cwnd grows, more goes
    c.sent();
  }
  EXPECT_LT(2 * tcp::notsent_bytes(c.tcb), 3000u);
  EXPECT_TRUE(tcp::stream_writeable(c.env().p, c.tcb));
  EXPECT_NE(c.tcb.events & tcp::kEvWritable, 0);
}

// Each write here fills one skb (the size goal) and the next asks for a
// new one, which the mark in force allows or not.
TEST(TcbNotsentLowat, TheSysctlAppliesUntilSetAndAgainAtZero) {
  tcp::TcpParams p = params();
  p.notsent_lowat = 1000;
  LoneTcb c(p);
  c.in_state(State::kEstablished);
  c.tcb.cwnd = 0;  // nothing leaves: every byte stays unsent
  const std::uint32_t goal = std::min(65536u, c.tcb.max_snd_wnd / 2) / 1460 * 1460;
  const std::vector<std::uint8_t> data(goal, 7);
  EXPECT_EQ(c.send(data), goal);  // begun with nothing unsent
  EXPECT_EQ(c.send(data), 0u);    // goal >= 1000 unsent
  tcp::set_notsent_lowat(c.env().p, c.tcb, 4 * goal);
  EXPECT_EQ(c.send(data), goal);
  tcp::set_notsent_lowat(c.env().p, c.tcb, 0);
  EXPECT_EQ(c.send(data), 0u);
  EXPECT_FALSE(tcp::stream_memory_free(c.env().p, c.tcb, 0));
}

// Linux's default (UINT_MAX) leaves writes to the buffer alone.
TEST(TcbNotsentLowat, DefaultTakesWhatTheBufferTakes) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  c.tcb.cwnd = 0;
  const std::vector<std::uint8_t> data(20000, 7);
  EXPECT_EQ(c.send(data), 20000u);
  EXPECT_TRUE(tcp::stream_writeable(c.env().p, c.tcb));
}

// inq/server.pkt: TCP_CM_INQ counts the bytes left to read, and one more
// once the peer's FIN was taken, also after the data is read.
TEST(TcbInq, CountsQueuedBytesAndTheFin) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  const std::vector<std::uint8_t> data(10000, 3);
  c.receive(kNext, data, wire::kAck);
  EXPECT_EQ(tcp::inq_hint(c.tcb), 10000u);
  std::vector<std::uint8_t> buf(2000);
  EXPECT_EQ(c.recv(buf), 2000u);
  EXPECT_EQ(tcp::inq_hint(c.tcb), 8000u);
  c.receive(kNext + 10000, data, wire::kAck | wire::kFin);
  EXPECT_EQ(tcp::inq_hint(c.tcb), 18001u);
  buf.resize(18000);
  EXPECT_EQ(c.recv(buf), 18000u);
  EXPECT_EQ(tcp::inq_hint(c.tcb), 1u);
  Errc err = Errc::kAgain;
  EXPECT_EQ(tcp::user_recv(c.env(), c.tcb, buf, &err), 0u);
  EXPECT_EQ(err, Errc::kOk);
  EXPECT_EQ(tcp::inq_hint(c.tcb), 1u);
}

}  // namespace
}  // namespace twstack::test
