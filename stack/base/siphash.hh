// SipHash-2-4 (Aumasson & Bernstein, "SipHash: a fast short-input PRF", 2012).
//
// Keyed hash for anything a peer can choose: flow-table buckets, ephemeral
// port offsets (Linux secure_seq.c uses SipHash for the same job), ISNs.
// The key is a per-engine secret; there is no global key.
#pragma once

#include <cstddef>
#include <cstdint>

namespace twstack {

// k0 holds key bytes 0..7 and k1 bytes 8..15, each read little-endian, as in
// the reference implementation (key 00 01 .. 0f -> k0 = 0x0706050403020100).
struct SipKey {
  std::uint64_t k0 = 0;
  std::uint64_t k1 = 0;

  bool operator==(const SipKey&) const = default;
};

// SipHash-2-4 of `len` bytes at `data` (may be null when len == 0).
std::uint64_t siphash24(const SipKey& key, const std::uint8_t* data, std::size_t len);

// Hot-path helper: SipHash-2-4 of exactly these 16 bytes, each field in
// network (big-endian) byte order, i.e. the order the fields have on the wire:
//
//   bytes 0..3   saddr     bytes 8..9    sport
//   bytes 4..7   daddr     bytes 10..11  dport
//                          bytes 12..15  extra
//
// Arguments are host-order values. The result equals siphash24() over that
// buffer (tested), but needs no buffer and no loop: two message words.
std::uint64_t siphash_4tuple(const SipKey& key, std::uint32_t saddr, std::uint32_t daddr,
                             std::uint16_t sport, std::uint16_t dport,
                             std::uint32_t extra = 0);

}  // namespace twstack
