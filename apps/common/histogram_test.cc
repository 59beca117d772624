#include "apps/common/histogram.hh"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace twstack::app {
namespace {

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (std::uint64_t v = 0; v < LatencyHistogram::kExact; ++v) h.record(v);
  EXPECT_EQ(h.count(), LatencyHistogram::kExact);
  EXPECT_EQ(h.percentile(0.5), 31u);
  EXPECT_EQ(h.percentile(1.0), 63u);
  EXPECT_EQ(h.max(), 63u);
}

TEST(LatencyHistogram, EveryValueFallsInABucketWhoseTopIsWithinOneThirtySecond) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    const std::uint64_t v = rng() >> (rng() % 64);
    const std::size_t b = LatencyHistogram::index(v);
    ASSERT_LT(b, LatencyHistogram::kBuckets);
    const std::uint64_t top = LatencyHistogram::upper(b);
    if (v < (std::uint64_t{1} << LatencyHistogram::kMaxBits)) {
      ASSERT_GE(top, v);
      ASSERT_LE(top - v, v / LatencyHistogram::kSubBuckets) << v;
      if (b > 0) {
        ASSERT_LT(LatencyHistogram::upper(b - 1), v) << v;  // buckets do not overlap
      }
    } else {
      ASSERT_EQ(b, LatencyHistogram::kBuckets - 1);
    }
  }
}

TEST(LatencyHistogram, PercentilesOfAKnownDistribution) {
  LatencyHistogram h;
  for (std::uint64_t v = 1; v <= 100000; ++v) h.record(v * 1000);  // 1 µs .. 100 ms in ns
  const Percentiles p = percentiles(h);
  EXPECT_EQ(p.count, 100000u);
  auto near = [](std::uint64_t got, double want) {
    return static_cast<double>(got) >= want && static_cast<double>(got) <= want * (1 + 1.0 / 32);
  };
  EXPECT_TRUE(near(p.p50, 50e6)) << p.p50;
  EXPECT_TRUE(near(p.p90, 90e6)) << p.p90;
  EXPECT_TRUE(near(p.p99, 99e6)) << p.p99;
  EXPECT_TRUE(near(p.p999, 99.9e6)) << p.p999;
  EXPECT_EQ(p.max, 100000000u);
}

TEST(LatencyHistogram, EmptyGivesZeros) {
  const Percentiles p = percentiles(LatencyHistogram{});
  EXPECT_EQ(p.count, 0u);
  EXPECT_EQ(p.p99, 0u);
  EXPECT_EQ(p.max, 0u);
}

TEST(LatencyHistogram, SumsAndDifferences) {
  LatencyHistogram a, b;
  for (int i = 0; i < 100; ++i) a.record(1000);
  LatencyHistogram before = a;
  for (int i = 0; i < 10; ++i) a.record(5000000);
  b.record(60);
  const LatencyHistogram second = a.since(before);
  EXPECT_EQ(second.count(), 10u);
  EXPECT_EQ(second.percentile(0.5), 5000000u);  // capped at the total's max, which is exact
  LatencyHistogram all = a;
  all.add(b);
  EXPECT_EQ(all.count(), 111u);
  EXPECT_EQ(all.max(), 5000000u);
  EXPECT_EQ(all.percentile(0.001), 60u);  // below 64: exact
}

}  // namespace
}  // namespace twstack::app
