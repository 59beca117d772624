// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//
// A running sum is a uint32_t holding the one's-complement sum of big-endian
// 16-bit words, not yet complemented. Sums compose by chaining
// checksum_add() calls, provided every chunk but the last has even length
// (an odd chunk pads its last byte with zero, RFC 1071 §4.1).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "stack/wire/ipv4.hh"

namespace twstack::wire {

// Adds n bytes at p to sum. The result is folded to at most 0xffff, so it
// can be fed back in or combined with other sums by plain addition.
std::uint32_t checksum_add(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0);

inline std::uint32_t checksum_add(std::span<const std::uint8_t> s, std::uint32_t sum = 0) {
  return checksum_add(s.data(), s.size(), sum);
}

// checksum_add(p, 20): an IPv4 header without options, summed on every
// frame sent and received. Five 32-bit words cannot carry out of a 64-bit
// accumulator, so there is no carry handling until the fold
// (RFC 1071 §2 (C)); native order, swapped once at the end (§2 (B)).
inline std::uint32_t checksum_add20(const std::uint8_t* p) {
  std::uint64_t acc = 0;
  for (std::size_t i = 0; i < 20; i += 4) {
    std::uint32_t w;
    std::memcpy(&w, p + i, sizeof w);
    acc += w;
  }
  acc = (acc & 0xffffffff) + (acc >> 32);
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  auto local = static_cast<std::uint16_t>(acc);
  if constexpr (std::endian::native == std::endian::little) {
    local = static_cast<std::uint16_t>((local >> 8) | (local << 8));
  }
  return local;
}

// Folds carries and complements: the value to store in a checksum field.
inline std::uint16_t checksum_fold(std::uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// A buffer whose checksum field is filled in sums to 0xffff (RFC 1071 §1 (3)).
inline bool checksum_ok(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
  return checksum_fold(checksum_add(p, n, sum)) == 0;
}

// TCP/UDP pseudo-header (RFC 9293 §3.1): src, dst, zero, protocol, length.
inline std::uint32_t pseudo_header_sum(Ipv4Addr src, Ipv4Addr dst, std::uint8_t proto,
                                       std::uint16_t len) {
  return (src.v >> 16) + (src.v & 0xffff) + (dst.v >> 16) + (dst.v & 0xffff) +
         std::uint32_t{proto} + std::uint32_t{len};
}

// RFC 1624 eqn 3: HC' = ~(~HC + ~m + m'). Unlike eqn 2 it never produces
// the 0xffff/0x0000 discrepancy of RFC 1141 (RFC 1624 §3).
inline std::uint16_t checksum_update16(std::uint16_t old_csum, std::uint16_t old_val,
                                       std::uint16_t new_val) {
  std::uint32_t sum = std::uint32_t{static_cast<std::uint16_t>(~old_csum)} +
                      std::uint32_t{static_cast<std::uint16_t>(~old_val)} + new_val;
  return checksum_fold(sum);
}

// The same for a 32-bit field (an address or a sequence number) that starts
// on an even offset of the checksummed data.
inline std::uint16_t checksum_update32(std::uint16_t old_csum, std::uint32_t old_val,
                                       std::uint32_t new_val) {
  std::uint32_t sum = std::uint32_t{static_cast<std::uint16_t>(~old_csum)} +
                      ((~old_val >> 16) & 0xffff) + (~old_val & 0xffff) + (new_val >> 16) +
                      (new_val & 0xffff);
  return checksum_fold(sum);
}

}  // namespace twstack::wire
