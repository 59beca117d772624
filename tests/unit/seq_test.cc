// Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4, RFC 1982 §3):
// comparisons are on the signed 32-bit distance, as Linux before()/after()
// in include/net/tcp.h.
#include "stack/base/seq.hh"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace twstack {
namespace {

TEST(Seq, AdditionAndSubtractionWrapModulo2To32) {
  EXPECT_EQ((Seq(0xffffffff) + 1).raw(), 0u);
  EXPECT_EQ((Seq(0xfffffff0) + 0x20).raw(), 0x10u);
  EXPECT_EQ((Seq(0) - 1).raw(), 0xffffffffu);
  EXPECT_EQ((Seq(5) - 10).raw(), 0xfffffffbu);
  Seq s(0xfffffffe);
  s += 3;
  EXPECT_EQ(s.raw(), 1u);
  // The largest step keeps its meaning: 2^32 - 1 forward is one back.
  EXPECT_EQ((Seq(7) + 0xffffffff).raw(), 6u);
}

TEST(Seq, DistanceIsSignedAcrossTheWrap) {
  EXPECT_EQ(Seq(5) - Seq(0xfffffffb), 10);
  EXPECT_EQ(Seq(0xfffffffb) - Seq(5), -10);
  EXPECT_EQ(Seq(0) - Seq(0xffffffff), 1);
  EXPECT_EQ(Seq(0x80000000) - Seq(0x7fffffff), 1);  // the sign bit is not special
  EXPECT_EQ(Seq(100) - Seq(100), 0);
}

// RFC 1982 §3.2: s1 < s2 when s2 - s1 (mod 2^32) is in (0, 2^31).
TEST(Seq, LessThanAcrossZero) {
  EXPECT_TRUE(Seq(0xffffffff) < Seq(0));
  EXPECT_FALSE(Seq(0) < Seq(0xffffffff));
  EXPECT_TRUE(Seq(0xfffffff0) < Seq(0x10));
  EXPECT_TRUE(Seq(0x10) > Seq(0xfffffff0));
  EXPECT_FALSE(Seq(0xfffffff0) > Seq(0x10));
  EXPECT_TRUE(Seq(0xfffffff0) <= Seq(0x10));
  EXPECT_TRUE(Seq(0x10) >= Seq(0xfffffff0));
  EXPECT_FALSE(Seq(0x10) <= Seq(0xfffffff0));
}

TEST(Seq, LessThanAcrossTheSignBit) {
  // 0x7fffffff -> 0x80000000 is an ordinary step, not a wrap.
  EXPECT_TRUE(Seq(0x7fffffff) < Seq(0x80000000));
  EXPECT_FALSE(Seq(0x80000000) < Seq(0x7fffffff));
  EXPECT_TRUE(Seq(0x7ffffff0) < Seq(0x80000010));
}

TEST(Seq, HalfTheSpaceIsTheLimit) {
  // b - a = 2^31 - 1: still "after".
  EXPECT_TRUE(Seq(0) < Seq(0x7fffffff));
  EXPECT_FALSE(Seq(0x7fffffff) < Seq(0));
  EXPECT_EQ(Seq(0x7fffffff) - Seq(0), std::numeric_limits<std::int32_t>::max());
  // Across 0xffffffff -> 0 at the same distance.
  EXPECT_TRUE(Seq(0x90000000) < Seq(0x0fffffff));
  EXPECT_FALSE(Seq(0x0fffffff) < Seq(0x90000000));
  // b - a = 2^31 + 1: now b is before a.
  EXPECT_TRUE(Seq(0x80000001) < Seq(0));
  EXPECT_FALSE(Seq(0) < Seq(0x80000001));
  // Exactly 2^31 apart the order is undefined (RFC 1982 §3.2); like
  // Linux before(), which is (s32)(a - b) < 0, each is "before" the other.
  EXPECT_EQ(Seq(0x80000000) - Seq(0), std::numeric_limits<std::int32_t>::min());
  EXPECT_TRUE(Seq(0) < Seq(0x80000000));
  EXPECT_TRUE(Seq(0x80000000) < Seq(0));
}

TEST(Seq, EqualityAndNonStrictComparisons) {
  EXPECT_EQ(Seq(0xffffffff) + 1, Seq(0));
  EXPECT_NE(Seq(1), Seq(2));
  EXPECT_TRUE(Seq(42) <= Seq(42));
  EXPECT_TRUE(Seq(42) >= Seq(42));
  EXPECT_FALSE(Seq(42) < Seq(42));
  EXPECT_FALSE(Seq(42) > Seq(42));
  EXPECT_EQ(Seq().raw(), 0u);
}

TEST(Seq, MaxAndMinFollowModularOrder) {
  // The numerically smaller value is the later one across the wrap.
  EXPECT_EQ(seq_max(Seq(0xfffffff0), Seq(0x10)), Seq(0x10));
  EXPECT_EQ(seq_max(Seq(0x10), Seq(0xfffffff0)), Seq(0x10));
  EXPECT_EQ(seq_min(Seq(0xfffffff0), Seq(0x10)), Seq(0xfffffff0));
  EXPECT_EQ(seq_min(Seq(0x10), Seq(0xfffffff0)), Seq(0xfffffff0));
  EXPECT_EQ(seq_max(Seq(3), Seq(9)), Seq(9));
  EXPECT_EQ(seq_min(Seq(3), Seq(9)), Seq(3));
  EXPECT_EQ(seq_max(Seq(7), Seq(7)), Seq(7));
  // Linux uses the same rule to advance snd_nxt past a wrap (tcp_event_new_data_sent).
  Seq snd_max(0xfffffe00);
  snd_max = seq_max(snd_max, Seq(0xfffffe00) + 0x400);
  EXPECT_EQ(snd_max.raw(), 0x200u);
}

// seq_in(s, lo, hi) is lo <= s < hi, the RFC 9293 §3.4 window test.
TEST(Seq, InHalfOpenWindowAcrossTheWrap) {
  const Seq lo(0xfffffff0), hi(0x10);
  EXPECT_TRUE(seq_in(lo, lo, hi));
  EXPECT_TRUE(seq_in(Seq(0xffffffff), lo, hi));
  EXPECT_TRUE(seq_in(Seq(0), lo, hi));
  EXPECT_TRUE(seq_in(Seq(0xf), lo, hi));
  EXPECT_FALSE(seq_in(hi, lo, hi));
  EXPECT_FALSE(seq_in(Seq(0xffffffef), lo, hi));
  EXPECT_FALSE(seq_in(Seq(0x11), lo, hi));
  // An empty window holds nothing.
  EXPECT_FALSE(seq_in(Seq(5), Seq(5), Seq(5)));
}

static_assert(Seq(0xffffffff) < Seq(0), "comparisons are constexpr and modular");
static_assert((Seq(0xffffffff) + 2).raw() == 1);

}  // namespace
}  // namespace twstack
