// Numbers in and out of text, as the commands read and print them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace twstack::app {

// A whole number in decimal (or 0x hex), with an optional suffix: k, M, G,
// T (powers of 1000; K too) or Ki, Mi, Gi, Ti (powers of 1024). nullopt if
// it is not one or does not fit in 64 bits.
std::optional<std::uint64_t> parse_u64(std::string_view s);
// Decimal or scientific notation; NaN and infinities are refused.
std::optional<double> parse_double(std::string_view s);

// `v` with `digits` decimals ("10.00"); digits < 0: the shortest form (%g).
std::string fixed(int digits, double v);

}  // namespace twstack::app
