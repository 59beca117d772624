// Small text helpers shared by the configuration, the command line and the
// applications.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace twstack {

// Levenshtein distance, for "did you mean" suggestions (names are short).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The same when it is at most `limit`, else limit + 1: only the cells within
// `limit` of the diagonal are filled, and a row that is over the limit
// everywhere ends the search (Ukkonen's cut-off), so a long or unrelated
// word costs a few rows, not |a| x |b|.
std::size_t edit_distance(std::string_view a, std::string_view b, std::size_t limit);

// The distance from one word to many (an unknown key against every knob):
// Myers' bit-vector algorithm in Hyyro's form for the global distance (one
// column of the table per 64-bit word, so a comparison costs a few
// instructions per character of the other word). The word is at most 64
// characters; a longer one falls back to the banded edit_distance above.
class EditDistanceFrom {
 public:
  explicit EditDistanceFrom(std::string_view word);
  // edit_distance(word, other, limit): exact when at most limit, else limit + 1.
  std::size_t to(std::string_view other, std::size_t limit) const;

 private:
  std::string_view word_;
  std::array<std::uint64_t, 256> peq_{};  // per byte value: where it occurs in word_
};

// What isspace() takes for white space in the C locale.
inline constexpr std::string_view kWhitespace = " \t\n\v\f\r";

// `s` without the characters of `chars` at either end.
std::string_view trim(std::string_view s, std::string_view chars = kWhitespace);

}  // namespace twstack
