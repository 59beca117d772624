// Explicit big-endian loads and stores on raw packet bytes.
//
// Packet fields are never read by casting a struct over the buffer: every
// multi-byte field goes through these helpers, so byte order is visible at
// the call site and alignment never matters.
//
// One unaligned-safe memcpy and one byte swap each: GCC merges the obvious
// byte-at-a-time form into shift-and-or chains when several stores are
// adjacent (a header builder), several times the instructions of a bswap.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace twstack {

inline std::uint16_t load_be16(const std::uint8_t* p) {
  std::uint16_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap16(v);
  return v;
}

inline std::uint32_t load_be32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap32(v);
  return v;
}

inline void store_be16(std::uint8_t* p, std::uint16_t v) {
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap16(v);
  std::memcpy(p, &v, sizeof v);
}

inline void store_be32(std::uint8_t* p, std::uint32_t v) {
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap32(v);
  std::memcpy(p, &v, sizeof v);
}

}  // namespace twstack
