// The send buffer as a connection uses it: a ChunkRing whose head is the
// byte at snd_buf_seq (SND.UNA once the SYN is acknowledged). user_send()
// appends, output() and retransmissions read at SEQ - snd_buf_seq, and an
// ACK consumes from the head (RFC 9293 §3.3.1, §3.10.7.4 "SND.UNA <-
// SEG.ACK ... any segments on the retransmission queue that are thereby
// entirely acknowledged are removed"). The ring alone is chunk_ring_test's.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/lone_tcb.hh"

namespace twstack {
namespace {

using test::LoneTcb;
using test::SentSegment;

constexpr std::uint16_t kMss = 1000;

tcp::TcpParams params() {
  tcp::TcpParams p(StackConfig{});
  p.sndbuf = 16384;
  return p;
}

// Stream byte i: no period that divides a chunk or the ring's span.
std::uint8_t stream_byte(std::uint64_t i) {
  return static_cast<std::uint8_t>((i * 2654435761u) >> 13);
}
std::vector<std::uint8_t> stream(std::uint64_t from, std::uint32_t n) {
  std::vector<std::uint8_t> v(n);
  for (std::uint32_t k = 0; k < n; ++k) v[k] = stream_byte(from + k);
  return v;
}

TEST(SendBuffer, QueuedBytesGoOutAtTheirSequenceNumbers) {
  LoneTcb t(params());
  t.establish(Seq(7000), kMss, 65535);
  const Seq start = t.tcb.iss + 1;
  ASSERT_EQ(t.tcb.snd_buf_seq, start);
  EXPECT_EQ(t.send(stream(0, 5000)), 5000u);
  EXPECT_EQ(t.tcb.snd.size(), 5000u);  // kept until acknowledged
  std::vector<SentSegment> segs = t.sent();
  ASSERT_EQ(segs.size(), 5u);
  for (std::uint32_t k = 0; k < 5; ++k) {
    EXPECT_EQ(segs[k].seq, start + k * 1000) << k;
    EXPECT_EQ(segs[k].payload, stream(k * 1000, 1000)) << k;
  }
  EXPECT_TRUE(segs[4].has(wire::kPsh));  // the last queued byte
}

TEST(SendBuffer, AcknowledgedBytesLeaveFromTheHead) {
  LoneTcb t(params());
  t.establish(Seq(7000), kMss, 65535);
  const Seq start = t.tcb.iss + 1;
  const std::uint32_t total = t.pool().total_chunks();
  ASSERT_EQ(t.send(stream(0, 5000)), 5000u);
  t.sent();
  EXPECT_EQ(t.tcb.snd.chunks_held(), 3u);  // 5000 bytes in 2048-byte chunks
  t.receive_acking(start + 2500, t.tcb.rcv_nxt, {});
  EXPECT_EQ(t.tcb.snd_una, start + 2500);
  EXPECT_EQ(t.tcb.snd_buf_seq, start + 2500);
  EXPECT_EQ(t.tcb.snd.size(), 2500u);
  EXPECT_EQ(t.tcb.snd_data_end(), start + 5000);
  EXPECT_EQ(t.tcb.snd.chunks_held(), 2u);  // the first chunk went back
  EXPECT_EQ(t.pool().free_chunks(), total - 2);
  t.receive_acking(start + 5000, t.tcb.rcv_nxt, {});
  EXPECT_EQ(t.tcb.snd.size(), 0u);
  EXPECT_EQ(t.tcb.snd_buf_seq, start + 5000);
  EXPECT_EQ(t.tcb.snd.chunks_held(), 0u);  // an idle connection holds no buffer
  EXPECT_EQ(t.pool().free_chunks(), total);
}

// RFC 6298 §5.4: the retransmission timer resends the earliest
// unacknowledged segment, read from where the head now is.
TEST(SendBuffer, RetransmissionReadsFromTheSequenceOffset) {
  LoneTcb t(params());
  t.establish(Seq(7000), kMss, 65535);
  const Seq start = t.tcb.iss + 1;
  ASSERT_EQ(t.send(stream(0, 5000)), 5000u);
  t.sent();
  t.receive_acking(start + 2500, t.tcb.rcv_nxt, {});
  ASSERT_TRUE(t.sent().empty());
  t.fire(tcp::kTimerRetransmit);
  std::vector<SentSegment> segs = t.sent();
  ASSERT_EQ(segs.size(), 1u);  // cwnd is one segment after a timeout
  EXPECT_EQ(segs[0].seq, start + 2500);
  EXPECT_EQ(segs[0].payload, stream(2500, 1000));
  // Its ACK opens cwnd to two segments: the rest is resent.
  t.receive_acking(start + 3500, t.tcb.rcv_nxt, {});
  segs = t.sent();
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0].seq, start + 3500);
  EXPECT_EQ(segs[0].payload, stream(3500, 1000));
  EXPECT_EQ(segs[1].seq, start + 4500);
  EXPECT_EQ(segs[1].payload, stream(4500, 500));
}

// A long transfer through a 16 KB ring: the head wraps many times, and
// every byte sent is the stream byte at its sequence number.
TEST(SendBuffer, StreamThroughManyRingWraps) {
  constexpr std::uint32_t kTotal = 300000;
  LoneTcb t(params());
  t.establish(Seq(7000), kMss, 65535);
  const Seq start = t.tcb.iss + 1;
  std::uint32_t queued = 0;
  std::uint32_t checked = 0;
  for (int round = 0; round < 10000 && t.tcb.snd_una != start + kTotal; ++round) {
    if (queued < kTotal) {
      std::uint32_t n = std::min<std::uint32_t>(kTotal - queued, 3000 + 1000 * (round % 7));
      queued += t.send(stream(queued, n));
    }
    for (const SentSegment& s : t.sent()) {
      const std::uint32_t off = static_cast<std::uint32_t>(s.seq - start);
      ASSERT_EQ(off, checked) << "no retransmission expected";
      ASSERT_EQ(s.payload, stream(off, static_cast<std::uint32_t>(s.payload.size()))) << off;
      checked += static_cast<std::uint32_t>(s.payload.size());
    }
    if (t.tcb.snd_max != t.tcb.snd_una) t.receive_acking(t.tcb.snd_max, t.tcb.rcv_nxt, {});
  }
  EXPECT_EQ(queued, kTotal);
  EXPECT_EQ(checked, kTotal);
  EXPECT_EQ(t.tcb.snd_una, start + kTotal);
  EXPECT_EQ(t.tcb.snd.chunks_held(), 0u);
}

// RFC 9293 §3.10.2 SEND: what does not fit is refused, not queued; the
// application is told (kEvWritable) once the free space is at least half of
// what is queued (Linux sk_stream_write_space: sk_stream_wspace >=
// sk_stream_min_wspace), i.e. at most two thirds of the buffer queued.
TEST(SendBuffer, FullBufferGivesShortCountAndWritableOnceHalfIsFree) {
  LoneTcb t(params());
  t.establish(Seq(7000), kMss, 65535);
  const Seq start = t.tcb.iss + 1;
  t.tcb.events = 0;
  EXPECT_EQ(t.send(stream(0, 20000)), 16384u);
  EXPECT_EQ(t.tcb.snd.space(), 0u);
  EXPECT_TRUE(t.tcb.want_writable);
  EXPECT_EQ(t.send(stream(16384, 1)), 0u);
  t.sent();
  t.receive_acking(start + 5460, t.tcb.rcv_nxt, {});
  EXPECT_EQ(t.tcb.snd.space(), 5460u);
  EXPECT_EQ(t.tcb.events & tcp::kEvWritable, 0);  // 5460 < (10924 >> 1)
  EXPECT_TRUE(t.tcb.want_writable);
  t.receive_acking(start + 5461, t.tcb.rcv_nxt, {});
  EXPECT_EQ(t.tcb.snd.space(), 5461u);  // 5461 >= (10923 >> 1)
  EXPECT_NE(t.tcb.events & tcp::kEvWritable, 0);
  EXPECT_FALSE(t.tcb.want_writable);
}

// The chunk pool is shared by all connections: when it runs dry a send
// takes what fits, says so, and counts it.
TEST(SendBuffer, PoolExhaustionGivesShortCount) {
  LoneTcb t(params(), 3);
  t.establish(Seq(7000), kMss, 65535);
  const Seq start = t.tcb.iss + 1;
  EXPECT_EQ(t.send(stream(0, 10000)), 3 * tcp::kChunkSize);
  EXPECT_EQ(t.counters().get(Counter::TwstackBufPoolExhausted), 1u);
  EXPECT_TRUE(t.tcb.want_writable);
  EXPECT_EQ(t.tcb.snd.size(), 6144u);
  EXPECT_EQ(t.pool().free_chunks(), 0u);
  std::vector<SentSegment> segs = t.sent();
  ASSERT_EQ(segs.size(), 6u);  // the last 144 bytes wait for Nagle
  EXPECT_EQ(segs[5].payload, stream(5000, 1000));
  // The ACK returns two chunks, and with nothing in flight the 144 bytes go.
  t.receive_acking(start + 6000, t.tcb.rcv_nxt, {});
  EXPECT_EQ(t.pool().free_chunks(), 2u);
  segs = t.sent();
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].seq, start + 6000);
  EXPECT_EQ(segs[0].payload, stream(6000, 144));
  // The next send fits again, in the two chunks returned.
  EXPECT_EQ(t.send(stream(6144, 3856)), 3856u);
  EXPECT_EQ(t.counters().get(Counter::TwstackBufPoolExhausted), 1u);
  EXPECT_EQ(t.pool().free_chunks(), 0u);
  segs = t.sent();
  ASSERT_EQ(segs.size(), 3u);  // and 856 bytes wait for Nagle
  for (std::uint32_t k = 0; k < 3; ++k) {
    EXPECT_EQ(segs[k].seq, start + 6144 + k * 1000);
    EXPECT_EQ(segs[k].payload, stream(6144 + k * 1000, 1000));
  }
}

// The send buffer follows sk_sndbuf past the ring's 63 direct chunks
// (Linux: SO_SNDBUF 200000, doubled, takes a write of 400000 at once, as
// tcp_sendmsg_locked does while sk_wmem_queued < sk_sndbuf): the bytes and
// the index chunks come from the engine's pool and all go back with the
// ACKs, every byte leaving at its sequence number.
TEST(SendBuffer, LargeSndbufTakesAWholeWriteFromThePool) {
  StackConfig cfg;
  cfg.sndbuf = 4194304;  // twstack.sndbuf up to tcp_wmem[2]: sk_sndbuf alone limits
  tcp::TcpParams p(cfg);
  LoneTcb t(p, 1024);
  t.establish(Seq(7000), kMss, 65535);
  const Seq start = t.tcb.iss + 1;
  tcp::set_sndbuf(p, t.tcb, tcp::so_sndbuf_size(p, 200000));
  EXPECT_EQ(tcp::send_limit(p, t.tcb), 400000u);
  EXPECT_EQ(t.send(stream(0, 400000)), 400000u);
  EXPECT_FALSE(t.tcb.want_writable);
  EXPECT_TRUE(t.tcb.snd.indexed());
  EXPECT_EQ(t.tcb.snd.chunks_held(), 196u + 1);  // data and one index chunk
  std::uint32_t checked = 0;
  for (int round = 0; round < 1000 && t.tcb.snd_una != start + 400000; ++round) {
    for (const SentSegment& s : t.sent()) {
      const std::uint32_t off = static_cast<std::uint32_t>(s.seq - start);
      ASSERT_EQ(off, checked);
      ASSERT_EQ(s.payload, stream(off, static_cast<std::uint32_t>(s.payload.size()))) << off;
      checked += static_cast<std::uint32_t>(s.payload.size());
    }
    t.receive_acking(t.tcb.snd_max, t.tcb.rcv_nxt, {});
  }
  EXPECT_EQ(checked, 400000u);
  EXPECT_EQ(t.tcb.snd.chunks_held(), 0u);
  EXPECT_FALSE(t.tcb.snd.indexed());
  EXPECT_EQ(t.pool().free_chunks(), 1024u);
  EXPECT_EQ(t.counters().get(Counter::TwstackBufPoolExhausted), 0u);
}

// A short connection's write takes one chunk, whatever sk_sndbuf allows.
TEST(SendBuffer, ShortWriteTakesOneChunk) {
  tcp::TcpParams p(StackConfig{});
  LoneTcb t(p);
  t.establish(Seq(7000), kMss, 65535);
  tcp::set_sndbuf(p, t.tcb, tcp::so_sndbuf_size(p, 4 << 20));
  EXPECT_EQ(t.send(stream(0, 100)), 100u);
  EXPECT_EQ(t.tcb.snd.chunks_held(), 1u);
  EXPECT_FALSE(t.tcb.snd.indexed());
}

// The pool runs dry under a large buffer: the write takes what the pool
// gave (counted), the writer waits (want_writable), and the ACK that
// returns chunks wakes it (sk_stream_wait_memory under memory pressure).
TEST(SendBuffer, PoolExhaustionBlocksALargeWriteUntilAcksReturnChunks) {
  StackConfig cfg;
  cfg.sndbuf = 4194304;
  tcp::TcpParams p(cfg);
  LoneTcb t(p, 100);
  t.establish(Seq(7000), kMss, 65535);
  const Seq start = t.tcb.iss + 1;
  tcp::set_sndbuf(p, t.tcb, tcp::so_sndbuf_size(p, 200000));
  t.tcb.events = 0;
  // 63 direct chunks, then one index chunk and 36 more data chunks.
  EXPECT_EQ(t.send(stream(0, 400000)), 99u * tcp::kChunkSize);
  EXPECT_EQ(t.counters().get(Counter::TwstackBufPoolExhausted), 1u);
  EXPECT_TRUE(t.tcb.want_writable);
  EXPECT_EQ(t.pool().free_chunks(), 0u);
  t.sent();
  ASSERT_EQ(t.tcb.snd_max, start + 10000);  // the initial window
  t.receive_acking(start + 10000, t.tcb.rcv_nxt, {});
  EXPECT_EQ(t.pool().free_chunks(), 4u);  // 10000 bytes free 4 whole chunks
  EXPECT_NE(t.tcb.events & tcp::kEvWritable, 0);
  EXPECT_EQ(t.send(stream(99 * tcp::kChunkSize, 400000)), 4u * tcp::kChunkSize);
}

// RFC 9293 §3.4: the FIN occupies the sequence number after the last data
// byte but no byte of the buffer; its ACK empties the buffer exactly.
TEST(SendBuffer, FinTakesASequenceNumberButNoBufferByte) {
  LoneTcb t(params());
  t.establish(Seq(7000), kMss, 65535);
  const Seq start = t.tcb.iss + 1;
  ASSERT_EQ(t.send(stream(0, 1500)), 1500u);
  ASSERT_EQ(tcp::user_shutdown(t.env(), t.tcb), Errc::kOk);
  t.flush();
  std::vector<SentSegment> segs = t.sent();
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[1].seq, start + 1000);
  EXPECT_EQ(segs[1].payload, stream(1000, 500));
  EXPECT_TRUE(segs[1].has(wire::kFin));
  EXPECT_EQ(t.tcb.snd_max, start + 1501);
  t.receive_acking(start + 1501, t.tcb.rcv_nxt, {});
  EXPECT_EQ(t.tcb.snd.size(), 0u);
  EXPECT_EQ(t.tcb.snd_buf_seq, start + 1500);
  EXPECT_TRUE(t.tcb.fin_acked());
  EXPECT_EQ(t.tcb.state, tcp::State::kFinWait2);
}

// Data queued in SYN-RECEIVED: the ACK of our SYN acknowledges the SYN's
// sequence number, not a byte of the buffer.
TEST(SendBuffer, DataQueuedBeforeTheHandshakeEndsStartsAfterTheSyn) {
  LoneTcb t(params());
  t.open(Seq(7000), kMss, 65535);
  ASSERT_EQ(t.tcb.state, tcp::State::kSynReceived);
  const Seq start = t.tcb.iss + 1;
  EXPECT_EQ(t.send(stream(0, 3000)), 3000u);
  EXPECT_TRUE(t.sent().empty());
  t.receive_acking(start, Seq(7001), {});
  ASSERT_EQ(t.tcb.state, tcp::State::kEstablished);
  EXPECT_EQ(t.tcb.snd.size(), 3000u);
  EXPECT_EQ(t.tcb.snd_buf_seq, start);
  std::vector<SentSegment> segs = t.sent();
  ASSERT_EQ(segs.size(), 3u);
  for (std::uint32_t k = 0; k < 3; ++k) {
    EXPECT_EQ(segs[k].seq, start + k * 1000);
    EXPECT_EQ(segs[k].payload, stream(k * 1000, 1000));
  }
}

}  // namespace
}  // namespace twstack
