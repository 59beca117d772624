#include "stack/tcp/assembler.hh"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace twstack::tcp {
namespace {

TEST(Assembler, MergesTouchingAndOverlappingRanges) {
  Assembler a;
  EXPECT_TRUE(a.add(10, 5));   // [10,15)
  EXPECT_TRUE(a.add(20, 5));   // [20,25)
  EXPECT_TRUE(a.add(15, 5));   // joins both
  ASSERT_EQ(a.count(), 1);
  EXPECT_EQ(a.range(0).begin, 10u);
  EXPECT_EQ(a.range(0).end, 25u);
}

TEST(Assembler, AdvanceReleasesContiguousBytesAndRebases) {
  Assembler a;
  a.add(5, 5);    // [5,10)
  a.add(20, 10);  // [20,30)
  EXPECT_EQ(a.advance(5), 5u);  // in-order 5 bytes make [5,10) contiguous
  ASSERT_EQ(a.count(), 1);
  EXPECT_EQ(a.range(0).begin, 10u);  // rebased by 10
  EXPECT_EQ(a.advance(3), 0u);
  EXPECT_EQ(a.range(0).begin, 7u);
}

TEST(Assembler, AdvanceOverlappingSeveralRanges) {
  Assembler a;
  a.add(2, 2);
  a.add(6, 2);
  a.add(12, 4);
  // An in-order segment of 9 bytes covers the first two ranges entirely.
  EXPECT_EQ(a.advance(9), 0u);
  ASSERT_EQ(a.count(), 1);
  EXPECT_EQ(a.range(0).begin, 3u);
  EXPECT_EQ(a.advance(3), 4u);
  EXPECT_TRUE(a.empty());
}

TEST(Assembler, RefusesANewRangeWhenFull) {
  Assembler a;
  for (std::uint32_t i = 0; i < Assembler::kMaxRanges; ++i) EXPECT_TRUE(a.add(10 * (i + 1), 2));
  EXPECT_FALSE(a.add(1000, 2));
  EXPECT_TRUE(a.add(11, 3));  // touching an existing range still merges
  EXPECT_EQ(a.count(), Assembler::kMaxRanges);
}

// Against a byte-map model: whatever the arrival order, the bytes released
// are exactly the contiguous prefix.
TEST(Assembler, MatchesByteModel) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    Assembler a;
    std::vector<bool> have(400, false);
    std::uint32_t tail = 0;
    for (int k = 0; k < 60; ++k) {
      std::uint32_t off = rng() % 200;
      std::uint32_t len = 1 + rng() % 20;
      if (off == 0) {
        std::uint32_t more = a.advance(len);
        for (std::uint32_t i = 0; i < len; ++i) have[tail + i] = true;
        tail += len;
        std::uint32_t expect = 0;
        while (have[tail + expect]) ++expect;
        ASSERT_EQ(more, expect);
        tail += more;
      } else if (a.add(off, len)) {
        for (std::uint32_t i = 0; i < len; ++i) have[tail + off + i] = true;
      }
    }
  }
}

}  // namespace
}  // namespace twstack::tcp
