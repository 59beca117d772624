// The receive buffer as a connection uses it: segment text lands in a
// ChunkRing at RCV.NXT + offset, out-of-order ranges are tracked by the
// Assembler and join the readable bytes when the gap fills (RFC 9293
// §3.10.7.4, seventh step), and the window offered is the ring's free space
// past RCV.NXT (RFC 9293 §3.8.6.2.2 for when it is announced). The ring and
// the assembler alone are chunk_ring_test's and assembler_test's.
//
// The peer's ISN sits just below 2^32, so the data's sequence numbers wrap.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "tests/support/lone_tcb.hh"

namespace twstack {
namespace {

using test::LoneTcb;
using test::SentSegment;

constexpr std::uint16_t kMss = 1000;
constexpr Seq kIrs(0xfffff000);
constexpr Seq kR0 = kIrs + 1;  // the peer's first data byte

tcp::TcpParams params() {
  tcp::TcpParams p(StackConfig{});
  p.rcvbuf = 8192;
  p.delack = Duration::micros(0);  // every segment is ACKed at once: the window is visible
  return p;
}

std::uint8_t stream_byte(std::uint64_t i) {
  return static_cast<std::uint8_t>((i * 2654435761u) >> 13);
}
std::vector<std::uint8_t> stream(std::uint64_t from, std::uint32_t n) {
  std::vector<std::uint8_t> v(n);
  for (std::uint32_t k = 0; k < n; ++k) v[k] = stream_byte(from + k);
  return v;
}

// Peer data at stream offset `off`.
void deliver(LoneTcb& t, std::uint32_t off, std::uint32_t n) {
  t.receive(kR0 + off, stream(off, n));
}

std::vector<std::uint8_t> read(LoneTcb& t, std::uint32_t max) {
  std::vector<std::uint8_t> v(max);
  v.resize(t.recv(v));
  return v;
}

TEST(RecvBuffer, InOrderSegmentsAreReadableAndAcked) {
  LoneTcb t(params());
  t.establish(kIrs, kMss, 65535);
  ASSERT_EQ(t.tcb.rcv.space(), 8192u);
  deliver(t, 0, 1000);
  EXPECT_EQ(t.tcb.rcv.size(), 1000u);
  EXPECT_EQ(t.tcb.rcv_nxt, kR0 + 1000);
  EXPECT_NE(t.tcb.events & tcp::kEvReadable, 0);
  std::vector<SentSegment> acks = t.sent();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].ack, kR0 + 1000);
  EXPECT_EQ(acks[0].window, 7192);  // the right edge stays where it was
  deliver(t, 1000, 1000);
  acks = t.sent();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].ack, kR0 + 2000);  // across 2^32
  EXPECT_EQ(acks[0].window, 6192);
  EXPECT_EQ(read(t, 5000), stream(0, 2000));
  EXPECT_EQ(t.tcb.rcv.size(), 0u);
  EXPECT_EQ(t.tcb.rcv.space(), 8192u);
  // Linux tcp_cleanup_rbuf: the 6192 bytes still open to the peer are more
  // than half the window clamp, so the read announces nothing.
  EXPECT_TRUE(t.sent().empty());
}

// Segments beyond RCV.NXT are held and answered with an immediate
// duplicate ACK (RFC 5681 §4.2); they take no window, since the window is
// counted from RCV.NXT and they lie inside it.
TEST(RecvBuffer, OutOfOrderSegmentsWaitForTheGap) {
  LoneTcb t(params());
  t.establish(kIrs, kMss, 65535);
  t.tcb.events = 0;
  deliver(t, 1000, 1000);
  deliver(t, 3000, 1000);
  std::vector<SentSegment> acks = t.sent();
  ASSERT_EQ(acks.size(), 2u);
  for (const SentSegment& a : acks) {
    EXPECT_EQ(a.ack, kR0);
    EXPECT_EQ(a.window, 8192);
  }
  EXPECT_EQ(t.counters().get(Counter::TcpExtTCPOFOQueue), 2u);
  EXPECT_EQ(t.tcb.rcv.size(), 0u);
  EXPECT_EQ(t.tcb.rcv.space(), 8192u);
  EXPECT_EQ(t.tcb.rcv_nxt, kR0);
  EXPECT_EQ(t.tcb.events & tcp::kEvReadable, 0);
  EXPECT_TRUE(read(t, 100).empty());

  deliver(t, 0, 1000);  // fills the first gap: 0-2000 readable
  EXPECT_EQ(t.tcb.rcv_nxt, kR0 + 2000);
  EXPECT_EQ(t.tcb.rcv.size(), 2000u);
  acks = t.sent();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].ack, kR0 + 2000);  // at once: a gap filled (RFC 5681 §4.2)
  deliver(t, 2000, 1000);
  EXPECT_EQ(t.tcb.rcv_nxt, kR0 + 4000);
  EXPECT_EQ(t.tcb.rcv.size(), 4000u);
  EXPECT_TRUE(t.tcb.ooo.empty());
  EXPECT_EQ(read(t, 8192), stream(0, 4000));
}

// With delayed ACKs on (RFC 1122 §4.2.3.2), an in-order segment waits for
// the timer, but an out-of-order one and the one that fills the gap are
// ACKed at once (RFC 5681 §4.2).
TEST(RecvBuffer, GapIsReportedAndItsFillingAckedAtOnce) {
  tcp::TcpParams p = params();
  p.delack = Duration::micros(40000);
  LoneTcb t(p);
  t.establish(kIrs, kMss, 65535);
  t.leave_quickack();  // past Linux's quick ACKs for the first data
  deliver(t, 0, 1000);
  EXPECT_TRUE(t.sent().empty());
  EXPECT_TRUE(t.tcb.delack_timer.active());
  deliver(t, 2000, 1000);
  std::vector<SentSegment> acks = t.sent();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].ack, kR0 + 1000);
  deliver(t, 1000, 1000);
  acks = t.sent();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].ack, kR0 + 3000);
  EXPECT_EQ(read(t, 8192), stream(0, 3000));
}

// Bytes held beyond the tail keep their chunk when the application reads
// everything before them: the ring empties, but those chunks are not
// returned to the shared pool, where another connection could take them.
TEST(RecvBuffer, HeldBytesKeepTheirChunkWhenTheRingEmpties) {
  LoneTcb t(params());
  t.establish(kIrs, kMss, 65535);
  deliver(t, 0, 1000);
  deliver(t, 1500, 500);  // same chunk as the head
  EXPECT_EQ(read(t, 8192), stream(0, 1000));
  EXPECT_EQ(t.tcb.rcv.size(), 0u);
  EXPECT_EQ(t.tcb.rcv.chunks_held(), 1u);
  // Another connection takes and overwrites every free chunk.
  std::vector<std::uint32_t> taken;
  for (std::uint32_t c = t.pool().alloc(); c != tcp::kNoChunk; c = t.pool().alloc()) {
    std::fill_n(t.pool().data(c), tcp::kChunkSize, std::uint8_t{0xa5});
    taken.push_back(c);
  }
  EXPECT_EQ(taken.size(), t.pool().total_chunks() - 1);
  deliver(t, 1000, 500);
  EXPECT_EQ(read(t, 8192), stream(1000, 1000));
  for (std::uint32_t c : taken) t.pool().release(c);
}

// Retransmissions that overlap what is held: the part before RCV.NXT is
// trimmed (RFC 9293 §3.10.7.4), overlapping held ranges merge, and the
// bytes read are the stream's whichever copy delivered them.
TEST(RecvBuffer, OverlappingRetransmissions) {
  LoneTcb t(params());
  t.establish(kIrs, kMss, 65535);
  deliver(t, 0, 1000);
  deliver(t, 500, 1000);  // half old
  EXPECT_EQ(t.tcb.rcv_nxt, kR0 + 1500);
  deliver(t, 0, 1000);  // all old: dropped, ACKed
  EXPECT_EQ(t.tcb.rcv_nxt, kR0 + 1500);
  deliver(t, 2500, 500);
  deliver(t, 2000, 1000);  // overlaps the held range
  deliver(t, 2800, 900);
  ASSERT_EQ(t.tcb.ooo.count(), 1);
  EXPECT_EQ(t.tcb.rcv_nxt, kR0 + 1500);
  deliver(t, 1500, 600);
  EXPECT_EQ(t.tcb.rcv_nxt, kR0 + 3700);
  EXPECT_EQ(read(t, 8192), stream(0, 3700));
}

// Unread bytes close the window; a full buffer offers zero and refuses
// data; reading reopens it in SWS-avoiding steps (RFC 9293 §3.8.6.2.2:
// min(RCV.BUFF/2, MSS) = 1000 here).
TEST(RecvBuffer, UnreadBytesCloseTheWindow) {
  LoneTcb t(params());
  t.establish(kIrs, kMss, 65535);
  for (std::uint32_t off = 0; off < 8000; off += 1000) deliver(t, off, 1000);
  deliver(t, 8000, 192);
  EXPECT_EQ(t.tcb.rcv.size(), 8192u);
  EXPECT_EQ(t.tcb.rcv.space(), 0u);
  std::vector<SentSegment> acks = t.sent();
  ASSERT_EQ(acks.size(), 9u);
  EXPECT_EQ(acks[3].window, 4192);
  EXPECT_EQ(acks.back().ack, kR0 + 8192);
  EXPECT_EQ(acks.back().window, 0);

  deliver(t, 8192, 100);  // into a zero window: not acceptable
  EXPECT_EQ(t.tcb.rcv_nxt, kR0 + 8192);
  EXPECT_EQ(t.tcb.rcv.size(), 8192u);
  acks = t.sent();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].window, 0);

  EXPECT_EQ(read(t, 1000), stream(0, 1000));  // the window was closed: announce
  acks = t.sent();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].ack, kR0 + 8192);
  EXPECT_EQ(acks[0].window, 1000);
  // Once open, user_recv announces a window only when it at least doubles
  // the one still open (Linux tcp_cleanup_rbuf): 1500 free of 1000 open
  // stays quiet, 2200 is announced, then 3000 of 2200 open is not.
  EXPECT_EQ(read(t, 500), stream(1000, 500));
  EXPECT_TRUE(t.sent().empty());
  EXPECT_EQ(read(t, 700), stream(1500, 700));
  EXPECT_EQ(t.tcb.rcv.space(), 2200u);
  acks = t.sent();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].window, 2200);
  EXPECT_EQ(read(t, 800), stream(2200, 800));
  EXPECT_TRUE(t.sent().empty());
}

// A segment larger than the window keeps only what fits (RFC 9293
// §3.10.7.4: the part beyond the right edge is dropped).
TEST(RecvBuffer, SegmentBeyondTheWindowIsCut) {
  LoneTcb t(params());
  t.establish(kIrs, kMss, 65535);
  deliver(t, 0, 9000);
  EXPECT_EQ(t.tcb.rcv_nxt, kR0 + 8192);
  EXPECT_EQ(t.tcb.rcv.size(), 8192u);
  EXPECT_EQ(read(t, 9000), stream(0, 8192));
}

// A long transfer through an 8 KB ring in reordered segments, sent only
// within the window the receiver announced, read in uneven pieces, often
// while a segment is held beyond a gap: the ring's head wraps many times
// (200 KB through a 10 KB span), and the bytes read are the stream.
TEST(RecvBuffer, RingWrapsWithReorderedData) {
  constexpr std::uint32_t kTotal = 200000;
  LoneTcb t(params());
  t.establish(kIrs, kMss, 65535);
  const std::uint32_t sizes[] = {1000, 600, 1000, 1000, 300, 800, 1000};
  std::uint32_t edge = 8192;  // announced right edge, as a stream offset
  std::uint32_t next = 0;     // first byte not yet sent
  std::uint32_t got = 0;
  std::size_t pick = 0;
  for (int round = 0; round < 100000 && got < kTotal; ++round) {
    // Cut [next, edge) into segments, then send each pair in reverse order.
    std::vector<std::pair<std::uint32_t, std::uint32_t>> segs;
    while (next < std::min(edge, kTotal)) {
      std::uint32_t n = std::min({sizes[pick++ % 7], edge - next, kTotal - next});
      segs.emplace_back(next, n);
      next += n;
    }
    // The application reads while the second of a pair is held.
    auto read_some = [&](std::uint32_t max) {
      std::vector<std::uint8_t> piece = read(t, max);
      ASSERT_EQ(piece, stream(got, static_cast<std::uint32_t>(piece.size()))) << got;
      got += static_cast<std::uint32_t>(piece.size());
    };
    for (std::size_t i = 0; i < segs.size(); i += 2) {
      if (i + 1 < segs.size()) {
        deliver(t, segs[i + 1].first, segs[i + 1].second);
        read_some((round + i) % 3 == 0 ? 8192 : 700);
      }
      deliver(t, segs[i].first, segs[i].second);
    }
    read_some(round % 2 == 0 ? 8192 : 2500);
    for (const SentSegment& a : t.sent()) {
      edge = std::max(edge, static_cast<std::uint32_t>((a.ack + a.window) - kR0));
    }
  }
  EXPECT_EQ(got, kTotal);
  EXPECT_EQ(t.tcb.rcv_nxt, kR0 + kTotal);
  EXPECT_TRUE(t.tcb.ooo.empty());
  EXPECT_EQ(t.tcb.rcv.chunks_held(), 0u);  // all read: no memory held
  EXPECT_EQ(t.pool().free_chunks(), t.pool().total_chunks());
}

// The pool is shared: when a segment's bytes cannot all be stored the whole
// segment is dropped and counted (Linux tcp_data_queue: TCPRcvQDrop); the
// peer's retransmission gets in once the application has read.
TEST(RecvBuffer, PoolExhaustionDropsTheSegment) {
  LoneTcb t(params(), 2);  // two chunks: 4096 bytes for everyone
  t.establish(kIrs, kMss, 65535);
  deliver(t, 0, 1000);
  deliver(t, 1000, 1000);
  deliver(t, 2000, 1000);
  deliver(t, 3000, 1000);
  ASSERT_EQ(t.tcb.rcv_nxt, kR0 + 4000);
  ASSERT_EQ(t.pool().free_chunks(), 0u);
  deliver(t, 4000, 1000);  // 96 bytes would fit: a short count, so none kept
  EXPECT_EQ(t.counters().get(Counter::TwstackBufPoolExhausted), 1u);
  EXPECT_EQ(t.counters().get(Counter::TcpExtTCPRcvQDrop), 1u);
  EXPECT_EQ(t.tcb.rcv_nxt, kR0 + 4000);
  EXPECT_EQ(t.tcb.rcv.size(), 4000u);
  EXPECT_EQ(read(t, 8192), stream(0, 4000));
  EXPECT_EQ(t.pool().free_chunks(), 2u);
  deliver(t, 4000, 1000);  // the retransmission
  EXPECT_EQ(t.tcb.rcv_nxt, kR0 + 5000);
  EXPECT_EQ(read(t, 8192), stream(4000, 1000));
  EXPECT_EQ(t.counters().get(Counter::TcpExtTCPRcvQDrop), 1u);
}

}  // namespace
}  // namespace twstack
