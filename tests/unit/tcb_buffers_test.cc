// Socket buffer sizes as Linux 6.18 keeps them (tcp/buffers.hh): the
// net.ipv4.tcp_rmem/tcp_wmem defaults, SO_RCVBUF/SO_SNDBUF, the window scale
// and first window of tcp_select_initial_window, tcp_sndbuf_expand, and the
// rings that bound what the engine really holds.
#include <gtest/gtest.h>

#include "stack/tcp/buffers.hh"
#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

using tcp::SockBufs;

// Linux's defaults, where sk_sndbuf alone limits a write: the engine's own
// cap (twstack.sndbuf, 64 KiB by default) raised to tcp_wmem[2].
tcp::TcpParams linux_defaults() {
  StackConfig cfg;
  cfg.sndbuf = 4194304;
  return tcp::TcpParams(cfg);
}

// packetdrill's gtests/net/tcp/common/defaults.sh.
tcp::TcpParams packetdrill_defaults() {
  tcp::TcpParams p = linux_defaults();
  p.rmem = BufSizes{4096, 540000, 15 * 1024 * 1024};
  p.wmem = BufSizes{4096, 256 * 1024, 4194304};
  return p;
}

// sock_setsockopt: val capped at rmem_max/wmem_max (a negative int is a huge
// u32), doubled, at least SOCK_MIN_RCVBUF/SOCK_MIN_SNDBUF.
TEST(TcbBuffers, SoBufSizesAreDoubledCappedAndFloored) {
  const tcp::TcpParams p = linux_defaults();
  EXPECT_EQ(tcp::so_sndbuf_size(p, 21000), 42000u);
  EXPECT_EQ(tcp::so_rcvbuf_size(p, 200000), 400000u);
  EXPECT_EQ(tcp::so_rcvbuf_size(p, 100000000), 2u * 4194304);
  EXPECT_EQ(tcp::so_sndbuf_size(p, -1), 2u * 4194304);
  EXPECT_EQ(tcp::so_rcvbuf_size(p, 0), 2304u);
  EXPECT_EQ(tcp::so_sndbuf_size(p, 1), 4608u);
}

// tcp_select_initial_window: the shift covers max(space, tcp_rmem[2],
// rmem_max): ilog2(6 MiB) - 15 = 7 by default, ilog2(15 MiB) - 15 = 8 with
// packetdrill's tcp_rmem; the SYN's own window is tcp_full_space(tcp_rmem[1])
// rounded down to the MSS, at most 65535.
TEST(TcbBuffers, WindowScaleFollowsTcpRmemMax) {
  const tcp::TcpParams d = linux_defaults();
  LoneTcb a(d);
  const SentSegment syn = a.connect();
  EXPECT_EQ(syn.opt.wscale, 7);
  EXPECT_EQ(syn.window, 44 * 1460);
  EXPECT_EQ(a.tcb.sk_rcvbuf, 131072u);
  EXPECT_EQ(a.tcb.sk_sndbuf, 16384u);
  EXPECT_EQ(tcp::default_rcv_wscale(d), 7);

  const tcp::TcpParams pd = packetdrill_defaults();
  LoneTcb b(pd);
  PeerSyn peer;
  peer.wscale = 0;
  const SentSegment synack = b.open(peer);
  EXPECT_EQ(synack.opt.wscale, 8);
  EXPECT_EQ(synack.window, 65535);
  EXPECT_EQ(b.tcb.sk_rcvbuf, 540000u);
  EXPECT_EQ(b.tcb.sk_sndbuf, 262144u);
  // The ring, not Linux's 270000-byte full space, bounds the window.
  EXPECT_EQ(b.tcb.rcv.capacity(), pd.rcvbuf);

  tcp::TcpParams big = linux_defaults();
  big.rmem_max = 64u << 20;
  EXPECT_EQ(tcp::default_rcv_wscale(big), 11) << "net.core.rmem_max counts too";
  tcp::TcpParams off = linux_defaults();
  off.window_scaling = false;
  EXPECT_EQ(tcp::default_rcv_wscale(off), 0);
}

// tcp_connect_init: a receive buffer locked by SO_RCVBUF before connect()
// clamps the window to its full space, and so the window scale.
TEST(TcbBuffers, SoRcvbufBeforeConnectClampsWindowAndScale) {
  const tcp::TcpParams p = packetdrill_defaults();
  LoneTcb c(p);
  const SentSegment syn = c.connect(SockBufs{tcp::so_rcvbuf_size(p, 65536), 0});
  EXPECT_TRUE(c.tcb.rcvbuf_lock);
  EXPECT_EQ(c.tcb.sk_rcvbuf, 131072u);
  // full space 65536: ilog2(65536) - 15 = 1.
  EXPECT_EQ(syn.opt.wscale, 1);
  EXPECT_EQ(c.tcb.window_clamp, 65536u);
  EXPECT_EQ(syn.window, 44 * 1460);

  LoneTcb small(p);
  const SentSegment syn2 = small.connect(SockBufs{tcp::so_rcvbuf_size(p, 4000), 0});
  EXPECT_EQ(syn2.opt.wscale, 0);
  EXPECT_EQ(small.tcb.window_clamp, 4000u);
  EXPECT_EQ(syn2.window, 2 * 1460) << "4000 rounded down to the MSS";
  EXPECT_EQ(small.tcb.rcv.capacity(), 4000u) << "the ring holds what the clamp allows";
}

// A listener's SO_RCVBUF reaches its children (sk_clone_lock) and their
// SYN-ACK's window scale (tcp_openreq_init_rwin).
TEST(TcbBuffers, ListenerSoRcvbufReachesTheSynAck) {
  const tcp::TcpParams p = packetdrill_defaults();
  LoneTcb c(p);
  PeerSyn peer;
  peer.wscale = 7;
  const SentSegment synack = c.open(peer, SockBufs{tcp::so_rcvbuf_size(p, 1 << 20), 0});
  EXPECT_EQ(c.tcb.sk_rcvbuf, 2u << 20);
  EXPECT_EQ(synack.opt.wscale, 5) << "ilog2(1 MiB) - 15";
}

// tcp_init_buffer_space -> tcp_sndbuf_expand: an unlocked send buffer grows
// at establishment to 2 * 10 segments of per-skb memory; a locked one stays.
TEST(TcbBuffers, SndbufExpandsAtEstablishmentUnlessLocked) {
  const tcp::TcpParams p = linux_defaults();
  LoneTcb c(p);
  c.establish(kPeerIss, 1460, 65535);
  // per_mss = roundup_pow_of_two(1460 + 320 + 320) + 256 = 4352.
  EXPECT_EQ(c.tcb.sk_sndbuf, 2u * 10 * 4352);
  EXPECT_EQ(tcp::send_limit(p, c.tcb), std::min<std::uint32_t>(p.sndbuf, 2u * 10 * 4352));
  // The ring holds an skb more: one started below sk_sndbuf is filled.
  EXPECT_EQ(c.tcb.snd.capacity(), std::min<std::uint32_t>(p.sndbuf, 2u * 10 * 4352 + 65536));

  LoneTcb l(p);
  l.open(PeerSyn{}, SockBufs{0, tcp::so_sndbuf_size(p, 8000)});
  l.receive(kPeerIss + 1, {}, wire::kAck);
  EXPECT_EQ(l.tcb.state, tcp::State::kEstablished);
  EXPECT_EQ(l.tcb.sk_sndbuf, 16000u);
  EXPECT_EQ(tcp::send_limit(p, l.tcb), 16000u);
}

// SO_SNDBUF on a connection: a write takes a new skb only while
// sk_wmem_queued < sk_sndbuf, and fills it to the size goal
// (tcp_sendmsg_locked); raising it wakes a refused writer (sk_write_space)
// once the free space is at least half of what is queued.
TEST(TcbBuffers, SoSndbufLimitsWritesAndWakesWriter) {
  const tcp::TcpParams p = linux_defaults();
  LoneTcb c(p);
  c.establish(kPeerIss, 1460, 65535);
  tcp::set_sndbuf(p, c.tcb, tcp::so_sndbuf_size(p, 5000));
  EXPECT_EQ(c.tcb.sk_sndbuf, 10000u);
  const std::vector<std::uint8_t> data(100000, 7);
  // The size goal is half the peer's window in segments: 22 * 1460 = 32120.
  // The first skb (queue empty) fills; tcp_push_one sends the initial
  // window of it (14600); its rest is topped up to the goal again (32120
  // from 14601); then the queue (46720) is past sk_sndbuf.
  EXPECT_EQ(c.send(data), 46720u);
  EXPECT_TRUE(c.tcb.want_writable);
  EXPECT_EQ(tcp::send_room(p, c.tcb), 0u);
  c.tcb.events = 0;
  tcp::set_sndbuf(p, c.tcb, tcp::so_sndbuf_size(p, 30000));
  EXPECT_EQ(c.tcb.sk_sndbuf, 60000u);
  EXPECT_EQ(c.tcb.events & tcp::kEvWritable, 0);  // 60000 - 46720 < 46720 / 2
  tcp::set_sndbuf(p, c.tcb, tcp::so_sndbuf_size(p, 40000));
  EXPECT_NE(c.tcb.events & tcp::kEvWritable, 0);  // 80000 - 46720 >= 46720 / 2
  EXPECT_GT(c.send(data), 0u);
}

// SO_RCVBUF after the handshake keeps the window scale the SYN announced,
// and never shrinks the ring below a window already offered (RFC 7323 §2.4).
TEST(TcbBuffers, SoRcvbufAfterHandshakeKeepsOfferedWindow) {
  const tcp::TcpParams p = linux_defaults();
  LoneTcb c(p);
  PeerSyn peer;
  peer.wscale = 7;
  c.establish(peer);
  const std::uint8_t ws = c.tcb.rcv_wscale;
  const std::uint32_t offered = static_cast<std::uint32_t>(c.tcb.rcv_adv - c.tcb.rcv_nxt);
  ASSERT_GT(offered, 8192u);
  tcp::set_rcvbuf(p, c.tcb, tcp::so_rcvbuf_size(p, 4096));
  EXPECT_EQ(c.tcb.rcv_wscale, ws);
  EXPECT_EQ(c.tcb.sk_rcvbuf, 8192u);
  EXPECT_GE(c.tcb.rcv.capacity(), offered);
}

// The ring's capacity may change under live bytes: they stay readable, and
// space() is 0 while they exceed the new capacity.
TEST(TcbBuffers, RingCapacityChangesUnderLiveBytes) {
  tcp::ChunkPool pool(64);
  tcp::ChunkRing r;
  r.init(20000);
  std::vector<std::uint8_t> in(12000);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<std::uint8_t>(i * 7);
  ASSERT_EQ(r.append(pool, in.data(), 12000), 12000u);
  r.set_capacity(8000);
  EXPECT_EQ(r.space(), 0u);
  EXPECT_EQ(r.append(pool, in.data(), 10), 0u);
  r.set_capacity(129024);
  EXPECT_EQ(r.space(), 129024u - 12000);
  std::vector<std::uint8_t> out(12000);
  r.read_at(pool, 0, out.data(), 12000);
  EXPECT_EQ(out, in);
  r.consume(pool, 12000);
  EXPECT_EQ(r.chunks_held(), 0u);
}

}  // namespace
}  // namespace twstack::test
