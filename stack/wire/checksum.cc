#include "stack/wire/checksum.hh"

#include <bit>
#include <cstring>

namespace twstack::wire {
namespace {

// One's-complement addition of 64-bit words, the carry out of bit 63 wrapping
// around: four 16-bit lanes summed at once (RFC 1071 §2 (C) parallel summation).
inline std::uint64_t add_carry(std::uint64_t acc, std::uint64_t w) {
  acc += w;
  return acc + (acc < w ? 1 : 0);
}

inline std::uint64_t load_native64(const std::uint8_t* p) {
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);  // unaligned-safe; compiles to a plain load
  return w;
}

inline std::uint16_t fold64(std::uint64_t acc) {
  acc = (acc & 0xffffffff) + (acc >> 32);
  acc = (acc & 0xffffffff) + (acc >> 32);
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<std::uint16_t>(acc);
}

}  // namespace

// Words are summed in native byte order and swapped once at the end: the
// one's-complement sum is byte-order independent (RFC 1071 §2 (B)).
std::uint32_t checksum_add(const std::uint8_t* p, std::size_t n, std::uint32_t sum) {
  std::uint64_t acc = 0;
  // Unrolled four times (RFC 1071 §2 (E)) for long payloads.
  while (n >= 32) {
    acc = add_carry(acc, load_native64(p));
    acc = add_carry(acc, load_native64(p + 8));
    acc = add_carry(acc, load_native64(p + 16));
    acc = add_carry(acc, load_native64(p + 24));
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    acc = add_carry(acc, load_native64(p));
    p += 8;
    n -= 8;
  }
  // Every tail piece starts at an even offset, so its 16-bit lanes line up
  // with the words already summed; fixed-size copies avoid a memcpy call.
  if (n & 4) {
    std::uint32_t w;
    std::memcpy(&w, p, sizeof w);
    acc = add_carry(acc, w);
    p += 4;
  }
  if (n & 2) {
    std::uint16_t w;
    std::memcpy(&w, p, sizeof w);
    acc = add_carry(acc, w);
    p += 2;
  }
  if (n & 1) {
    // An odd last byte is the high half of a zero-padded BE word (RFC 1071 §4.1).
    std::uint64_t w = std::endian::native == std::endian::little ? *p : std::uint64_t{*p} << 8;
    acc = add_carry(acc, w);
  }
  std::uint32_t local = fold64(acc);
  if constexpr (std::endian::native == std::endian::little) {
    local = static_cast<std::uint16_t>((local >> 8) | (local << 8));
  }
  std::uint64_t total = std::uint64_t{sum} + local;
  return fold64(total);
}

}  // namespace twstack::wire
