// TIME_WAIT table: the bucketized index's inner operations, inline so that
// insert() and expiry (table.cc) and lookups (table_index.cc) compile them into
// their own loops. Internal to the library: not installed. See table.hh for the
// layout.
#pragma once

#include <bit>
#include <cassert>

#include "stack/timewait/table.hh"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace twstack::tw::index_detail {

inline constexpr std::uint32_t kSlotBits = (1u << TimeWaitTable::kBucketSlots) - 1;

inline std::uint8_t tag_of(std::uint64_t h) { return static_cast<std::uint8_t>(h); }
// The 6 tag bits kept above the entry index in a slot word.
inline std::uint32_t high_tag_of(std::uint64_t h) { return static_cast<std::uint32_t>(h >> 8 & 0x3f) << 26; }
// The shift of a key's overflow count in Bucket::overflow. Counting per class
// rather than per bucket lets a miss stop at a bucket that overflowed with
// keys of other classes: 1 in 4 as often as with one count.
inline int ovf_shift(std::uint64_t h) { return static_cast<int>(h >> 14 & 3) * 4; }
inline std::uint32_t ovf_count(std::uint32_t overflow, int shift) { return overflow >> shift & 0xf; }

}  // namespace twstack::tw::index_detail

namespace twstack::tw {

// Occupied slots of b whose tag byte is `tag`.
__attribute__((always_inline)) inline std::uint32_t TimeWaitTable::tag_mask(const Bucket& b, std::uint8_t tag) {
#if defined(__SSE2__)
  // The first 16 bytes are the 12 tags and the counters; the occupancy mask
  // drops the counters' bytes.
  const __m128i t = _mm_set1_epi8(static_cast<char>(tag));
  const __m128i v = _mm_load_si128(reinterpret_cast<const __m128i*>(&b));
  return static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, t))) & b.occupied;
#else
  std::uint32_t m = 0;
  for (std::uint32_t s = 0; s < kBucketSlots; ++s) m |= std::uint32_t{b.tag[s] == tag} << s;
  return m & b.occupied;
#endif
}

inline void TimeWaitTable::prefetch_bucket(std::uint32_t b) const { __builtin_prefetch(&bucket(b)); }

inline bool TimeWaitTable::matches(const Entry& x, const FourTuple& t) const {
  return x.raddr == t.raddr.v && x.lport == t.lport && x.rport == t.rport &&
         laddrs_[addr_index(x)] == t.laddr;
}

// One walk of h's probe sequence: the key's entry, or none once a bucket
// says no key of its class went further. With kPlace it also notes the first
// bucket with a free slot in *place (kNone if the walk stopped before one)
// and the full buckets before it in *passed; without, the lookup compiles
// to the bare walk.
template <bool kPlace>
inline Handle TimeWaitTable::walk(const FourTuple& t, std::uint64_t h, std::uint32_t* place,
                                  std::uint32_t* passed) const {
  using namespace index_detail;
  const std::uint8_t tag = tag_of(h);
  const std::uint32_t high = high_tag_of(h);
  std::uint32_t b = home_of(h);
  if constexpr (kPlace) *place = kNone;
  for (std::uint32_t n = 0; n <= nbuckets_; ++n) {
    const Bucket& k = bucket(b);
    for (std::uint32_t m = tag_mask(k, tag); m != 0; m &= m - 1) {
      const std::uint32_t w = k.slot[std::countr_zero(m)];
      if ((w & ~kIdx) == high && matches(entries_[w & kIdx], t)) return Handle{w & kIdx};
    }
    if constexpr (kPlace) {
      if (*place == kNone && (~k.occupied & kSlotBits) != 0) {
        *place = b;
        *passed = n;
      }
    }
    if (ovf_count(k.overflow, ovf_shift(h)) == 0) break;  // no key of its class went further
    b = next_bucket(h, b, n);
  }
  return Handle{};
}

inline Handle TimeWaitTable::probe(const FourTuple& t, std::uint64_t h) const {
  return walk<false>(t, h, nullptr, nullptr);
}

// insert()'s lookup: probe() and, on the way, the first free slot.
inline Handle TimeWaitTable::probe_for_insert(const FourTuple& t, std::uint64_t h, std::uint32_t* place,
                                              std::uint32_t* passed) const {
  return walk<true>(t, h, place, passed);
}

// Puts entry i in a free slot of bucket `place`, which is `passed` buckets down
// h's probe sequence, every one before it full: each counts the key in its
// overflow.
inline void TimeWaitTable::index_add_at(std::uint32_t i, std::uint64_t h, std::uint32_t place, std::uint32_t passed) {
  using namespace index_detail;
  std::uint32_t b = home_of(h);
  for (std::uint32_t n = 0; n < passed; ++n) {
    Bucket& k = bucket(b);
    if (ovf_count(k.overflow, ovf_shift(h)) != 0xf) k.overflow = static_cast<std::uint16_t>(k.overflow + (1u << ovf_shift(h)));
    b = next_bucket(h, b, n);
  }
  assert(b == place);
  Bucket& k = bucket(place);
  const int s = std::countr_zero(~k.occupied & kSlotBits);
  k.tag[s] = tag_of(h);
  k.slot[s] = i | high_tag_of(h);
  k.occupied = static_cast<std::uint16_t>(k.occupied | 1u << s);
}

inline void TimeWaitTable::index_add(std::uint32_t i, std::uint64_t h) {
  // The first bucket with a free slot on the probe path; every full bucket
  // passed counts the key in its overflow. A free slot exists: the index has
  // 12/8.75 slots per entry of capacity.
  using namespace index_detail;
  std::uint32_t b = home_of(h);
  std::uint32_t n = 0;
  while ((~bucket(b).occupied & kSlotBits) == 0) b = next_bucket(h, b, n++);
  index_add_at(i, h, b, n);
}

inline void TimeWaitTable::unhash(std::uint32_t i, std::uint64_t h) {
  using namespace index_detail;
  const std::uint8_t tag = tag_of(h);
  std::uint32_t b = home_of(h);
  for (std::uint32_t n = 0;; ++n) {
    Bucket& k = bucket(b);
    for (std::uint32_t m = tag_mask(k, tag); m != 0; m &= m - 1) {
      const int s = std::countr_zero(m);
      if ((k.slot[s] & kIdx) == i) {
        k.occupied = static_cast<std::uint16_t>(k.occupied & ~(1u << s));
        return;
      }
    }
    // The entry lives further on: this bucket counted it when it was added.
    const std::uint32_t c = ovf_count(k.overflow, ovf_shift(h));
    assert(c != 0);
    if (c != 0xf) k.overflow = static_cast<std::uint16_t>(k.overflow - (1u << ovf_shift(h)));
    b = next_bucket(h, b, n);
  }
}

inline void TimeWaitTable::unhash(std::uint32_t i) { unhash(i, hash(tuple(Handle{i}))); }

}  // namespace twstack::tw
