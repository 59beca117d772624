// Small text helpers shared by the configuration, the command line and the
// applications.
#pragma once

#include <cstddef>
#include <string_view>

namespace twstack {

// Levenshtein distance, for "did you mean" suggestions (names are short).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The same when it is at most `limit`, else limit + 1: only the cells within
// `limit` of the diagonal are filled, and a row that is over the limit
// everywhere ends the search (Ukkonen's cut-off), so a long or unrelated
// word costs a few rows, not |a| x |b|.
std::size_t edit_distance(std::string_view a, std::string_view b, std::size_t limit);

// What isspace() takes for white space in the C locale.
inline constexpr std::string_view kWhitespace = " \t\n\v\f\r";

// `s` without the characters of `chars` at either end.
std::string_view trim(std::string_view s, std::string_view chars = kWhitespace);

}  // namespace twstack
