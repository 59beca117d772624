// Text helpers: the edit distance behind "did you mean" suggestions, whole
// and bounded (the bounded one must agree with the whole one wherever the
// distance is within its limit, and say "over" everywhere else).
#include "stack/base/text.hh"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace twstack {
namespace {

// Random word pairs over a small alphabet (many near misses), up to max_len - 1 long.
std::vector<std::pair<std::string, std::string>> random_pairs(std::uint64_t r, std::size_t max_len) {
  const auto next = [&r] {
    r ^= r << 13;
    r ^= r >> 7;
    r ^= r << 17;
    return r;
  };
  std::vector<std::pair<std::string, std::string>> out;
  for (int n = 0; n < 3000; ++n) {
    std::string a(next() % max_len, 'a'), b(next() % max_len, 'a');
    for (char& c : a) c = static_cast<char>('a' + next() % 3);
    for (char& c : b) c = static_cast<char>('a' + next() % 3);
    out.emplace_back(std::move(a), std::move(b));
  }
  return out;
}

TEST(EditDistance, KnownAnswers) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("flaw", "lawn"), 2u);
  EXPECT_EQ(edit_distance("tcp_tw_reuse", "tcp_tw_reuse"), 0u);
}

TEST(EditDistance, FromOneWordAgreesWithTheTableForEveryWordAndLimit) {
  EXPECT_EQ(EditDistanceFrom("kitten").to("sitting", 3), 3u);
  EXPECT_EQ(EditDistanceFrom("kitten").to("sitting", 2), 3u);
  EXPECT_EQ(EditDistanceFrom("").to("abc", 5), 3u);
  EXPECT_EQ(EditDistanceFrom("abc").to("", 5), 3u);
  EXPECT_EQ(EditDistanceFrom("net.ipv4.tcp_tw_reus").to("net.ipv4.tcp_tw_reuse", 3), 1u);
  // 64 characters is the bit-vector's whole word; 65 takes the table.
  const std::string w64(64, 'a'), w65(65, 'a');
  EXPECT_EQ(EditDistanceFrom(w64).to(std::string(63, 'a') + "b", 3), 1u);
  EXPECT_EQ(EditDistanceFrom(w65).to(std::string(64, 'a') + "b", 3), 1u);
  for (const auto& [a, b] : random_pairs(0x9e3779b97f4a7c15ull, 70)) {
    const std::size_t d = edit_distance(a, b);
    const EditDistanceFrom from(a);
    for (const std::size_t limit : {0ul, 1ul, 3ul, 10ul, 80ul}) {
      ASSERT_EQ(from.to(b, limit), d <= limit ? d : limit + 1) << a << " " << b << " limit " << limit;
    }
  }
}

TEST(EditDistance, BoundedIsExactWithinTheLimitAndOverBeyondIt) {
  EXPECT_EQ(edit_distance("kitten", "sitting", 3), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting", 2), 3u);  // over: limit + 1
  EXPECT_EQ(edit_distance("kitten", "sitting", 0), 1u);
  EXPECT_EQ(edit_distance("", "", 0), 0u);
  EXPECT_EQ(edit_distance("abc", "", 5), 3u);
  EXPECT_EQ(edit_distance(std::string(500, 'x'), "net.ipv4.tcp_tw_reuse", 3), 4u);
  // Random words, every limit.
  for (const auto& [a, b] : random_pairs(88172645463325252ull, 12)) {
    const std::size_t d = edit_distance(a, b);
    for (std::size_t limit = 0; limit <= 12; ++limit) {
      ASSERT_EQ(edit_distance(a, b, limit), d <= limit ? d : limit + 1) << a << " " << b << " limit " << limit;
    }
  }
}

}  // namespace
}  // namespace twstack
