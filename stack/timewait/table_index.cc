// TIME_WAIT table: the bucketized index (see table.hh for the layout).
#include <algorithm>
#include <bit>
#include <cassert>

#include "stack/timewait/table.hh"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace twstack::tw {

namespace {

constexpr std::uint32_t kSlotBits = (1u << TimeWaitTable::kBucketSlots) - 1;

std::uint8_t tag_of(std::uint64_t h) { return static_cast<std::uint8_t>(h); }
// The 6 tag bits kept above the entry index in a slot word.
std::uint32_t high_tag_of(std::uint64_t h) { return static_cast<std::uint32_t>(h >> 8 & 0x3f) << 26; }
// The shift of a key's overflow count in Bucket::overflow. Counting per class
// rather than per bucket lets a miss stop at a bucket that overflowed with
// keys of other classes: 1 in 8 as often as with one count.
int ovf_shift(std::uint64_t h) { return static_cast<int>(h >> 14 & 7) * 4; }
std::uint32_t ovf_count(std::uint32_t overflow, int shift) { return overflow >> shift & 0xf; }

}  // namespace

// Occupied slots of b whose tag byte is `tag`.
__attribute__((always_inline)) inline std::uint32_t TimeWaitTable::tag_mask(const Bucket& b, std::uint8_t tag) {
#if defined(__SSE2__)
  // The first 32 bytes are the 24 tags and the counters; the occupancy mask
  // drops the counters' bytes.
  const __m128i t = _mm_set1_epi8(static_cast<char>(tag));
  const __m128i* p = reinterpret_cast<const __m128i*>(&b);
  const auto lo = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128(p), t)));
  const auto hi = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128(p + 1), t)));
  return (lo | hi << 16) & b.occupied;
#else
  std::uint32_t m = 0;
  for (std::uint32_t s = 0; s < kBucketSlots; ++s) m |= std::uint32_t{b.tag[s] == tag} << s;
  return m & b.occupied;
#endif
}

bool TimeWaitTable::matches(const Entry& x, const FourTuple& t) const {
  return x.raddr == t.raddr.v && x.lport == t.lport && x.rport == t.rport &&
         laddrs_[addr_index(x)] == t.laddr;
}

Handle TimeWaitTable::probe(const FourTuple& t, std::uint64_t h) const {
  const std::uint8_t tag = tag_of(h);
  const std::uint32_t high = high_tag_of(h);
  std::uint32_t b = home_of(h);
  prefetch_bucket(b);  // both lines at once: the slot word may be in the second
  for (std::uint32_t n = 0; n <= nbuckets_; ++n) {
    const Bucket& k = buckets_[b];
    for (std::uint32_t m = tag_mask(k, tag); m != 0; m &= m - 1) {
      const std::uint32_t w = k.slot[std::countr_zero(m)];
      if ((w & ~kIdx) == high && matches(entries_[w & kIdx], t)) return Handle{w & kIdx};
    }
    if (ovf_count(k.overflow, ovf_shift(h)) == 0) break;  // no key of its class went further
    b = next_bucket(h, b, n);
  }
  return Handle{};
}

Handle TimeWaitTable::find(const FourTuple& t) const {
  // Every connect() candidate and every segment without a connection asks;
  // an empty table (TIME_WAIT on the peer) answers without a bucket miss.
  if (live_ == 0) return Handle{};
  return probe(t, hash(t));
}

void TimeWaitTable::prefetch_bucket(std::uint32_t b) const {
  const char* p = reinterpret_cast<const char*>(&buckets_[b]);
  __builtin_prefetch(p);
  __builtin_prefetch(p + 64);
}

void TimeWaitTable::prefetch(const FourTuple& t) const { prefetch_bucket(home_of(hash(t))); }

void TimeWaitTable::find_batch(std::span<const FourTuple> ts, std::span<Handle> out) const {
  assert(out.size() >= ts.size());
  if (live_ == 0) {
    std::fill_n(out.begin(), ts.size(), Handle{});
    return;
  }
  // Per tuple after the bucket pass: a definite miss, a candidate entry to
  // compare, or a probe the home bucket could not settle (overflow, or a tag
  // match that turns out false).
  constexpr std::uint32_t kMiss = kNil;
  constexpr std::uint32_t kProbe = kNil - 1;
  std::uint64_t hs[kBatch];
  std::uint32_t cand[kBatch];
  for (std::size_t base = 0; base < ts.size(); base += kBatch) {
    const std::size_t n = std::min(kBatch, ts.size() - base);
    const FourTuple* t = ts.data() + base;
    for (std::size_t k = 0; k < n; ++k) {
      hs[k] = hash(t[k]);
      prefetch_bucket(home_of(hs[k]));
    }
    for (std::size_t k = 0; k < n; ++k) {
      const Bucket& b = buckets_[home_of(hs[k])];
      const std::uint32_t high = high_tag_of(hs[k]);
      cand[k] = ovf_count(b.overflow, ovf_shift(hs[k])) != 0 ? kProbe : kMiss;
      for (std::uint32_t m = tag_mask(b, tag_of(hs[k])); m != 0; m &= m - 1) {
        const std::uint32_t w = b.slot[std::countr_zero(m)];
        if ((w & ~kIdx) != high) continue;
        cand[k] = w & kIdx;
        __builtin_prefetch(&entries_[cand[k]]);
        break;
      }
    }
    for (std::size_t k = 0; k < n; ++k) {
      Handle& r = out[base + k];
      if (cand[k] == kMiss) {
        r = Handle{};
      } else if (cand[k] != kProbe && matches(entries_[cand[k]], t[k])) {
        r = Handle{cand[k]};
      } else {
        r = probe(t[k], hs[k]);
      }
    }
  }
}

void TimeWaitTable::index_add(std::uint32_t i, std::uint64_t h) {
  // The first bucket with a free slot on the probe path; every full bucket
  // passed counts the key in its overflow. A free slot exists: the index has
  // 24/17.5 slots per entry of capacity.
  std::uint32_t b = home_of(h);
  for (std::uint32_t n = 0;; ++n) {
    Bucket& k = buckets_[b];
    const std::uint32_t free = ~k.occupied & kSlotBits;
    if (free != 0) {
      const int s = std::countr_zero(free);
      k.tag[s] = tag_of(h);
      k.slot[s] = i | high_tag_of(h);
      k.occupied |= 1u << s;
      return;
    }
    if (ovf_count(k.overflow, ovf_shift(h)) != 0xf) k.overflow += 1u << ovf_shift(h);
    b = next_bucket(h, b, n);
  }
}

void TimeWaitTable::unhash(std::uint32_t i) {
  const std::uint64_t h = hash(tuple(Handle{i}));
  const std::uint8_t tag = tag_of(h);
  std::uint32_t b = home_of(h);
  for (std::uint32_t n = 0;; ++n) {
    Bucket& k = buckets_[b];
    for (std::uint32_t m = tag_mask(k, tag); m != 0; m &= m - 1) {
      const int s = std::countr_zero(m);
      if ((k.slot[s] & kIdx) == i) {
        k.occupied &= ~(1u << s);
        return;
      }
    }
    // The entry lives further on: this bucket counted it when it was added.
    const std::uint32_t c = ovf_count(k.overflow, ovf_shift(h));
    assert(c != 0);
    if (c != 0xf) k.overflow -= 1u << ovf_shift(h);
    b = next_bucket(h, b, n);
  }
}

std::size_t TimeWaitTable::overflowed_buckets() const {
  std::size_t n = 0;
  for (std::uint32_t b = 0; b < nbuckets_; ++b) n += buckets_[b].overflow != 0;
  return n;
}

}  // namespace twstack::tw
