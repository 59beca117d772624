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

}  // namespace
}  // namespace twstack::tcp
