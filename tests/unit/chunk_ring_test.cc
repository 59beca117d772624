#include "stack/tcp/chunk_ring.hh"

#include <gtest/gtest.h>

#include <numeric>
#include <random>
#include <vector>

namespace twstack::tcp {
namespace {

TEST(ChunkRing, IdleRingHoldsNoChunks) {
  ChunkPool pool(64);
  ChunkRing r;
  r.init(16384);
  std::vector<std::uint8_t> d(5000, 7);
  EXPECT_EQ(r.append(pool, d.data(), 5000), 5000u);
  EXPECT_EQ(r.chunks_held(), 3u);
  r.consume(pool, 5000);
  EXPECT_EQ(r.chunks_held(), 0u);
  EXPECT_EQ(pool.free_chunks(), 64u);
}

TEST(ChunkRing, CapacityIsEnforced) {
  ChunkPool pool(64);
  ChunkRing r;
  r.init(4096);
  std::vector<std::uint8_t> d(10000, 1);
  EXPECT_EQ(r.append(pool, d.data(), 10000), 4096u);
  EXPECT_EQ(r.space(), 0u);
}

TEST(ChunkRing, PoolExhaustionIsReportedNotOverrun) {
  ChunkPool pool(2);
  ChunkRing r;
  r.init(16384);
  std::vector<std::uint8_t> d(10000, 1);
  EXPECT_EQ(r.append(pool, d.data(), 10000), 2 * kChunkSize);
}

// A FIFO model through many wraps: what comes out is what went in, and
// chunks freed behind the head never hold live bytes.
TEST(ChunkRing, FifoThroughWraps) {
  ChunkPool pool(32);
  ChunkRing r;
  r.init(10000);
  std::mt19937 rng(3);
  std::vector<std::uint8_t> model;
  std::uint8_t next = 0;
  for (int i = 0; i < 5000; ++i) {
    std::uint32_t n = rng() % 3000;
    std::vector<std::uint8_t> in(n);
    for (auto& b : in) b = next++;
    std::uint32_t k = r.append(pool, in.data(), n);
    model.insert(model.end(), in.begin(), in.begin() + k);
    next = static_cast<std::uint8_t>(next - (n - k));
    std::uint32_t m = std::min<std::uint32_t>(rng() % 3000, r.size());
    std::vector<std::uint8_t> out(m);
    r.read_at(pool, 0, out.data(), m);
    r.consume(pool, m);
    ASSERT_TRUE(std::equal(out.begin(), out.end(), model.begin()));
    model.erase(model.begin(), model.begin() + m);
    ASSERT_EQ(r.size(), model.size());
  }
}

TEST(ChunkRing, OutOfOrderBytesBeyondTheTail) {
  ChunkPool pool(16);
  ChunkRing r;
  r.init(8192);
  std::vector<std::uint8_t> a(100), b(100);
  std::iota(a.begin(), a.end(), 0);
  std::iota(b.begin(), b.end(), 100);
  r.write_at(pool, 100, b.data(), 100);  // arrives first
  r.set_holds_beyond_tail(true);
  r.write_at(pool, 0, a.data(), 100);
  r.extend(200);
  std::vector<std::uint8_t> out(200);
  r.read_at(pool, 0, out.data(), 200);
  for (int i = 0; i < 200; ++i) ASSERT_EQ(out[i], i);
}

// Beyond the 63 direct chunks the ring indexes its chunks through chunks of
// the same pool: 400000 bytes take 196 data chunks and one index chunk, all
// returned once consumed, and the emptied ring is direct again.
TEST(ChunkRing, GrowsPastDirectSlotsThroughIndexChunks) {
  ChunkPool pool(1024);
  ChunkRing r;
  r.init(400000);
  std::vector<std::uint8_t> in(400000);
  for (std::uint32_t i = 0; i < in.size(); ++i) in[i] = static_cast<std::uint8_t>(i * 7 + (i >> 11));
  EXPECT_EQ(r.append(pool, in.data(), 100000), 100000u);
  EXPECT_FALSE(r.indexed());
  EXPECT_EQ(r.append(pool, in.data() + 100000, 300000), 300000u);  // past kMaxRingBytes
  EXPECT_TRUE(r.indexed());
  EXPECT_EQ(r.chunks_held(), 196u + 1);
  EXPECT_EQ(pool.free_chunks() + r.chunks_held(), 1024u);
  std::vector<std::uint8_t> out(in.size());
  r.read_at(pool, 0, out.data(), 400000);
  EXPECT_EQ(out, in);
  r.consume(pool, 399999);
  EXPECT_EQ(r.chunks_held(), 2u);  // the last byte's chunk and its index
  r.consume(pool, 1);
  EXPECT_EQ(r.chunks_held(), 0u);
  EXPECT_FALSE(r.indexed());
  EXPECT_EQ(pool.free_chunks(), 1024u);
}

// A ring that never outgrows the direct slots takes no index chunk: a short
// connection's write costs one chunk whatever its capacity.
TEST(ChunkRing, SmallWriteTakesOneChunkWhateverTheCapacity) {
  ChunkPool pool(64);
  ChunkRing r;
  r.init(4u << 20);
  std::vector<std::uint8_t> d(100, 3);
  EXPECT_EQ(r.append(pool, d.data(), 100), 100u);
  EXPECT_FALSE(r.indexed());
  EXPECT_EQ(r.chunks_held(), 1u);
}

// No chunk for the index: the ring keeps what its direct slots hold and
// takes no more.
TEST(ChunkRing, NoIndexChunkStopsAtTheDirectSlots) {
  ChunkPool pool(kMaxRingChunks - 1);
  ChunkRing r;
  r.init(1u << 20);
  std::vector<std::uint8_t> d(1u << 20, 1);
  EXPECT_EQ(r.append(pool, d.data(), kMaxRingBytes), kMaxRingBytes);
  EXPECT_EQ(pool.free_chunks(), 0u);
  EXPECT_EQ(r.append(pool, d.data(), 1000), 0u);
  EXPECT_FALSE(r.indexed());
  EXPECT_EQ(r.size(), kMaxRingBytes);
}

// An indexed ring carried through more than one wrap of its span (64 MiB)
// at uneven steps: every byte comes out as it went in, each index chunk is
// freed as the head leaves it, and nothing leaks.
TEST(ChunkRing, IndexedRingWrapsItsSpan) {
  constexpr std::uint32_t kPool = 2048;
  ChunkPool pool(kPool);
  ChunkRing r;
  r.init(3u << 20);
  auto byte = [](std::uint64_t pos) { return static_cast<std::uint8_t>((pos * 2654435761u) >> 13); };
  std::uint64_t in_pos = 0, out_pos = 0;
  std::vector<std::uint8_t> buf(300000);
  std::mt19937 rng(5);
  while (out_pos < (80ull << 20)) {
    const std::uint32_t n = 1 + rng() % 300000;
    for (std::uint32_t k = 0; k < n; ++k) buf[k] = byte(in_pos + k);
    in_pos += r.append(pool, buf.data(), n);
    ASSERT_TRUE(r.indexed() || r.size() <= kMaxRingBytes);
    const std::uint32_t m = std::min<std::uint32_t>(1 + rng() % 300000, r.size() - 1);
    r.read_at(pool, 0, buf.data(), m);
    for (std::uint32_t k = 0; k < m; ++k) ASSERT_EQ(buf[k], byte(out_pos + k)) << out_pos + k;
    r.consume(pool, m);
    out_pos += m;
    // The data chunks the live bytes touch and their index chunks.
    const std::uint32_t data = r.size() / kChunkSize + 2;
    ASSERT_LE(r.chunks_held(), data + data / kIndexEntries + 2);
    ASSERT_EQ(pool.free_chunks() + r.chunks_held(), kPool);
  }
  r.consume(pool, r.size());
  EXPECT_EQ(pool.free_chunks(), kPool);
  EXPECT_FALSE(r.indexed());
}

}  // namespace
}  // namespace twstack::tcp
