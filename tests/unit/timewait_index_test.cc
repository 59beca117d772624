// TimeWaitTable's bucketized index: buckets overflowing and draining exactly,
// insert()'s one-walk lookup, insert_new() without it, and find_batch()
// answering as find() does.
#include "stack/timewait/table.hh"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "tests/support/timewait_keys.hh"

namespace twstack::tw {
namespace {

constexpr std::size_t kNoBudget = ~std::size_t{0};
using keys::init_n;
using keys::kLocal;
using keys::tuple_n;

std::vector<FourTuple> expire_all(TimeWaitTable& t, std::int64_t now) {
  std::vector<FourTuple> out;
  EXPECT_TRUE(t.expire(now, kNoBudget, [&](Handle h) { out.push_back(t.tuple(h)); }));
  return out;
}

// The bucketized index at 73% of its slots (capacity 1000, 116 buckets of 12):
// buckets overflow, keys are found wherever they were placed, and every
// overflow count returns to zero when the keys leave (by kill and by expiry).
TEST(TimeWaitTable, FullBucketsOverflowAndDrainExactly) {
  TimeWaitTable t(kLocal, 1000, Duration::seconds(60), 5, TwOverflowPolicy::kDrop);
  ASSERT_LT(t.bucket_count() * TimeWaitTable::kBucketSlots, 1500u);
  for (int lap = 0; lap < 3; ++lap) {
    const std::uint32_t base = static_cast<std::uint32_t>(lap) * 5000;
    for (std::uint32_t n = 0; n < 1000; ++n) {
      ASSERT_EQ(t.insert(init_n(base + n), lap * 60000).status, InsertStatus::kOk) << n;
    }
    EXPECT_GT(t.overflowed_buckets(), 0u) << "the overflow path did not run";
    EXPECT_EQ(t.insert(init_n(base + 1000), lap * 60000).status, InsertStatus::kOverflow);
    for (std::uint32_t n = 0; n < 1000; ++n) ASSERT_TRUE(t.find(tuple_n(base + n))) << n;
    for (std::uint32_t n = 1000; n < 3000; ++n) ASSERT_FALSE(t.find(tuple_n(base + n))) << n;
    // Half killed (every other one), the rest expire.
    for (std::uint32_t n = 0; n < 1000; n += 2) t.kill(t.find(tuple_n(base + n)));
    for (std::uint32_t n = 1; n < 1000; n += 2) ASSERT_TRUE(t.find(tuple_n(base + n))) << n;
    EXPECT_EQ(expire_all(t, lap * 60000 + 60000).size(), 500u);
    EXPECT_EQ(t.live(), 0u);
    EXPECT_EQ(t.overflowed_buckets(), 0u);
  }
}

// insert() looks a key up and picks its slot in one walk of the probe
// sequence. A key placed past its home bucket while the home was full is still
// found (kExists, nothing changed) once a slot at home frees up, and a new key
// takes the first free slot on its way; every count drains to zero after.
TEST(TimeWaitTable, InsertSeesKeysPastAFreedHomeSlot) {
  TimeWaitTable t(kLocal, 1000, Duration::seconds(60), 5, TwOverflowPolicy::kDrop);
  for (std::uint32_t n = 0; n < 1000; ++n) ASSERT_EQ(t.insert(init_n(n), 0).status, InsertStatus::kOk) << n;
  ASSERT_GT(t.overflowed_buckets(), 0u);
  for (std::uint32_t n = 0; n < 1000; n += 3) t.kill(t.find(tuple_n(n)));
  const std::size_t live = t.live();
  for (std::uint32_t n = 1; n < 1000; ++n) {
    if (n % 3 == 0) continue;
    const InsertResult r = t.insert(init_n(n), 10);
    ASSERT_EQ(r.status, InsertStatus::kExists) << n;
    ASSERT_EQ(r.handle, t.find(tuple_n(n))) << n;
  }
  EXPECT_EQ(t.live(), live);
  for (std::uint32_t n = 0; n < 1000; n += 3) ASSERT_EQ(t.insert(init_n(n), 20).status, InsertStatus::kOk) << n;
  for (std::uint32_t n = 0; n < 1000; ++n) ASSERT_TRUE(t.find(tuple_n(n))) << n;
  EXPECT_EQ(expire_all(t, 60020).size(), 1000u);
  EXPECT_EQ(t.overflowed_buckets(), 0u);
}

// insert_new() (no lookup) places keys as insert() does: with the same
// seed, two tables filled past full buckets, half killed, refilled and
// expired hold the same keys, count the same overflows and drain to zero.
TEST(TimeWaitTable, InsertNewPlacesAsInsertDoes) {
  TimeWaitTable a(kLocal, 1000, Duration::seconds(60), 5, TwOverflowPolicy::kDrop);
  TimeWaitTable b(kLocal, 1000, Duration::seconds(60), 5, TwOverflowPolicy::kDrop);
  for (std::uint32_t n = 0; n < 1000; ++n) {
    ASSERT_EQ(a.insert(init_n(n), 0).status, InsertStatus::kOk);
    ASSERT_EQ(b.insert_new(init_n(n), 0).status, InsertStatus::kOk);
  }
  ASSERT_GT(b.overflowed_buckets(), 0u);
  EXPECT_EQ(a.overflowed_buckets(), b.overflowed_buckets());
  EXPECT_EQ(b.insert_new(init_n(5000), 0).status, InsertStatus::kOverflow);
  for (std::uint32_t n = 0; n < 1000; n += 2) {
    a.kill(a.find(tuple_n(n)));
    b.kill(b.find(tuple_n(n)));
  }
  for (std::uint32_t n = 2000; n < 2500; ++n) {
    ASSERT_EQ(a.insert(init_n(n), 30).status, InsertStatus::kOk);
    const InsertResult r = b.insert_new(init_n(n), 30);
    ASSERT_EQ(r.status, InsertStatus::kOk);
    ASSERT_EQ(b.find(tuple_n(n)), r.handle);
  }
  EXPECT_EQ(a.overflowed_buckets(), b.overflowed_buckets());
  for (std::uint32_t n = 0; n < 3000; ++n) ASSERT_EQ(bool(a.find(tuple_n(n))), bool(b.find(tuple_n(n)))) << n;
  EXPECT_EQ(expire_all(a, 60030).size(), 1000u);
  EXPECT_EQ(expire_all(b, 60030).size(), 1000u);
  EXPECT_EQ(b.overflowed_buckets(), 0u);
}

// find_batch answers as find() does, for hits, misses, killed keys and sizes
// that are not a multiple of the burst.
TEST(TimeWaitTable, FindBatchMatchesFind) {
  TimeWaitTable t(kLocal, 2000, Duration::seconds(60), 11, TwOverflowPolicy::kDrop);
  std::vector<FourTuple> ts;
  std::vector<Handle> out(1, Handle{7});
  t.find_batch(std::span<const FourTuple>(ts.data(), 0), out);  // empty burst: nothing written
  EXPECT_EQ(out[0], Handle{7});
  ts.push_back(tuple_n(1));
  t.find_batch(ts, out);  // empty table
  EXPECT_FALSE(out[0]);
  for (std::uint32_t n = 0; n < 2000; ++n) ASSERT_TRUE(t.insert(init_n(n), 0).inserted());
  for (std::uint32_t n = 0; n < 2000; n += 3) t.kill(t.find(tuple_n(n)));
  std::mt19937 rng(3);
  ts.clear();
  for (int k = 0; k < 4001; ++k) ts.push_back(tuple_n(rng() % 4000));
  out.assign(ts.size(), Handle{});
  t.find_batch(ts, out);
  std::size_t hits = 0;
  for (std::size_t k = 0; k < ts.size(); ++k) {
    ASSERT_EQ(out[k], t.find(ts[k])) << k;
    hits += out[k] ? 1 : 0;
  }
  EXPECT_GT(hits, 1000u);
  EXPECT_LT(hits, 3000u);
}

}  // namespace
}  // namespace twstack::tw
