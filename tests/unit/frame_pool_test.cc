// The TX frame pool: its own buffers, or a driver's (FrameSource) taken and
// given back in batches, with at most `frames` out of the pool at once.
#include "stack/base/frame_pool.hh"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <vector>

namespace twstack {
namespace {

TEST(FramePool, OwnBuffersAreDistinctAndRecycled) {
  FramePool p(4, 2048);
  std::set<std::uint8_t*> seen;
  std::vector<std::uint8_t*> got;
  for (int i = 0; i < 4; ++i) got.push_back(p.alloc());
  for (std::uint8_t* f : got) {
    ASSERT_NE(f, nullptr);
    EXPECT_TRUE(seen.insert(f).second);
  }
  EXPECT_EQ(p.alloc(), nullptr);
  EXPECT_EQ(p.available(), 0u);
  p.sent(got[0]);  // own memory: free again once sent
  p.release(got[1]);
  EXPECT_EQ(p.available(), 2u);
  EXPECT_TRUE(seen.contains(p.alloc()));
  EXPECT_FALSE(p.source());
}

// A stand-in driver: hands out slots of one array, counts what it lent.
struct FakeDriver {
  std::vector<std::uint8_t> mem = std::vector<std::uint8_t>(256 * 64);
  std::vector<std::uint8_t*> free;
  std::uint32_t takes = 0;
  std::uint32_t limit = 256;  // buffers it has at all
  FakeDriver() {
    for (std::size_t i = 0; i < 256; ++i) free.push_back(mem.data() + i * 64);
  }
  std::uint32_t lent() const { return static_cast<std::uint32_t>(256 - free.size()); }
  static std::uint32_t take(void* ctx, std::uint8_t** out, std::uint32_t n) {
    auto* d = static_cast<FakeDriver*>(ctx);
    ++d->takes;
    std::uint32_t k = 0;
    while (k < n && !d->free.empty() && d->lent() < d->limit) {
      out[k++] = d->free.back();
      d->free.pop_back();
    }
    return k;
  }
  static void give(void* ctx, std::uint8_t* const* bufs, std::uint32_t n) {
    auto* d = static_cast<FakeDriver*>(ctx);
    for (std::uint32_t i = 0; i < n; ++i) d->free.push_back(bufs[i]);
  }
  FrameSource source() { return FrameSource{&take, &give, this}; }
};

TEST(FramePool, SourceBuffersComeInBatchesAndSentOnesAreTheDrivers) {
  FakeDriver d;
  {
    FramePool p(100, 64, d.source());
    EXPECT_EQ(p.source(), d.source());
    std::uint8_t* a = p.alloc();
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(d.takes, 1u);
    EXPECT_EQ(d.lent(), FramePool::kBatch);  // one batch, not one buffer
    for (std::uint32_t i = 1; i < FramePool::kBatch; ++i) ASSERT_NE(p.alloc(), nullptr);
    EXPECT_EQ(d.takes, 1u);  // no call per frame
    p.sent(a);  // the driver sends and frees it: the pool forgets it
    EXPECT_EQ(p.available(), 100u - FramePool::kBatch + 1);
    d.give(&d, &a, 1);
    EXPECT_EQ(d.lent(), FramePool::kBatch - 1);
  }
  // The pool gave back what it still held (here nothing idle: 31 were out
  // and never returned, as frames parked in the engine at its end are).
  EXPECT_EQ(d.lent(), FramePool::kBatch - 1);
}

TEST(FramePool, SourceCapsFramesOutAndKeepsFewIdle) {
  FakeDriver d;
  std::vector<std::uint8_t*> got;
  {
    FramePool p(100, 64, d.source());
    while (std::uint8_t* f = p.alloc()) got.push_back(f);
    EXPECT_EQ(got.size(), 100u);  // `frames` bounds what is out, not the driver
    EXPECT_EQ(d.lent(), 100u);
    for (std::uint8_t* f : got) p.release(f);  // none sent
    EXPECT_EQ(p.available(), 100u);
    // At most 2 * kBatch idle in the pool; the rest went back.
    EXPECT_LE(d.lent(), 2 * FramePool::kBatch);
  }
  EXPECT_EQ(d.lent(), 0u);  // the destructor gives back the idle ones
}

TEST(FramePool, ADriverWithoutBuffersMakesAllocFail) {
  FakeDriver d;
  d.limit = 3;
  FramePool p(100, 64, d.source());
  for (int i = 0; i < 3; ++i) EXPECT_NE(p.alloc(), nullptr);
  EXPECT_EQ(p.alloc(), nullptr);  // the caller counts TwstackTxPoolExhausted
  EXPECT_EQ(p.available(), 97u);
}

}  // namespace
}  // namespace twstack
