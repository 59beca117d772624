// Numbers in and out of text, as the commands read and print them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace twstack::app {

// A whole number in decimal (or 0x hex), with an optional suffix: k, M, G,
// T (powers of 1000; K too) or Ki, Mi, Gi, Ti (powers of 1024). nullopt if
// it is not one or does not fit in 64 bits.
std::optional<std::uint64_t> parse_u64(std::string_view s);
// Decimal or scientific notation; NaN and infinities are refused.
std::optional<double> parse_double(std::string_view s);

// TCP ports as a list: "80", "1000-4999" (both ends included), or several
// of those joined by commas ("80,8080,9000-9010"), in the order given.
// nullopt for port 0, a port above 65535, a range whose end is below its
// start, or anything else.
std::optional<std::vector<std::uint16_t>> parse_ports(std::string_view s);

// The inverse: consecutive ports as ranges, joined by commas ("80,1000-4999").
std::string format_ports(const std::vector<std::uint16_t>& ports);

// `v` with `digits` decimals ("10.00"); digits < 0: the shortest form (%g).
std::string fixed(int digits, double v);

}  // namespace twstack::app
