// Small text helpers shared by the configuration and the command line.
#pragma once

#include <cstddef>
#include <string_view>

namespace twstack {

// Levenshtein distance, for "did you mean" suggestions (names are short).
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace twstack
