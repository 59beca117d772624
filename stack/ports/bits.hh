// Word-level helpers for the allocator's bitmaps (words, summaries, a top word).
//
// Positions are offsets from the low end of the ephemeral range (port =
// low + pos), so "even position" means "the parity of low", the parity
// Linux's connect() tries first. A summary word has bit i set iff word i has
// a usable position of the summary's parity; with summaries exact, finding
// the next usable position is a handful of word operations whatever the fill.
#pragma once

#include <bit>
#include <cstdint>
#include <vector>

namespace twstack::ports {

inline constexpr std::uint32_t kNone = ~std::uint32_t{0};
inline constexpr std::uint64_t kAllOnes = ~std::uint64_t{0};
// Positions 0, 2, 4, ... of a word (64 is even, so word parity = position parity).
inline constexpr std::uint64_t kParityMask[2] = {0x5555555555555555ULL, 0xaaaaaaaaaaaaaaaaULL};

constexpr std::uint32_t words_for(std::uint32_t bits) { return (bits + 63) / 64; }

// Bits set in each byte of x, in that byte (SWAR).
constexpr std::uint64_t byte_counts(std::uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ULL);
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  return (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
}

// std::popcount is a libgcc call unless the build targets POPCNT; this is
// inline either way.
constexpr unsigned popcount64(std::uint64_t x) {
#if defined(__POPCNT__)
  return static_cast<unsigned>(std::popcount(x));
#else
  return static_cast<unsigned>((byte_counts(x) * 0x0101010101010101ULL) >> 56);
#endif
}

// Index of the k-th (from 0) set bit of w. Precondition: popcount(w) > k.
constexpr unsigned select_bit(std::uint64_t w, unsigned k) {
  // Byte i of `upto` counts the set bits of bytes 0..i.
  const std::uint64_t upto = byte_counts(w) * 0x0101010101010101ULL;
  for (unsigned i = 0; i < 8; ++i) {
    if (k < ((upto >> (8 * i)) & 0xff)) {
      if (i > 0) k -= static_cast<unsigned>((upto >> (8 * (i - 1))) & 0xff);
      std::uint64_t byte = (w >> (8 * i)) & 0xff;
      for (; k > 0; --k) byte &= byte - 1;
      return 8 * i + static_cast<unsigned>(std::countr_zero(byte));
    }
  }
  return 64;
}

// First position in [from, to) whose bit is set in word(i) & mask, where
// summary(i / 64) bit i % 64 says whether word(i) & mask is non-zero and
// bit s of `top` whether summary(s) is (at most 64 summary words, 2^18
// positions). Work: one word, one summary word, one jump through `top`, one
// word; a stale summary bit costs one more word.
template <class SummaryFn, class WordFn>
std::uint32_t find_set(SummaryFn summary, std::uint64_t top, std::uint32_t from, std::uint32_t to,
                       std::uint64_t mask, WordFn word) {
  if (from >= to) return kNone;
  std::uint32_t w = from / 64;
  std::uint64_t bits = word(w) & mask & (kAllOnes << (from % 64));
  if (bits == 0) {
    const std::uint32_t last = (to - 1) / 64;
    const std::uint32_t next = w + 1;
    if (next > last) return kNone;
    w = kNone;
    for (std::uint32_t s = next / 64; s <= last / 64 && w == kNone;) {
      std::uint64_t m = summary(s);
      if (s == next / 64) m &= kAllOnes << (next % 64);
      for (; m != 0; m &= m - 1) {
        std::uint32_t cand = s * 64 + static_cast<std::uint32_t>(std::countr_zero(m));
        if (cand > last) return kNone;
        bits = word(cand) & mask;
        if (bits != 0) {
          w = cand;
          break;
        }
      }
      std::uint64_t later = s + 1 < 64 ? top & (kAllOnes << (s + 1)) : 0;
      if (later == 0) break;
      s = static_cast<std::uint32_t>(std::countr_zero(later));
    }
    if (w == kNone) return kNone;
  }
  std::uint32_t pos = w * 64 + static_cast<std::uint32_t>(std::countr_zero(bits));
  return pos < to ? pos : kNone;
}

// One parity pass of Linux's port scan (inet_hashtables.c:__inet_hash_connect,
// inet_connection_sock.c:inet_csk_find_open_port):
//
//   port = low + offset;
//   for (i = 0; i < remaining; i += 2, port += 2) {
//     if (port >= high) port -= remaining;  ...
//
// over a window of `wsize` positions, remaining = wsize rounded down to even.
// The positions visited, in order, are [offset, min(wsize, offset+remaining))
// then [wsize-remaining, offset), all of offset's parity (for an odd wsize the
// last position replaces position 0 when offset >= 2, as in the kernel).
// find(from, to, parity) returns the first usable position or kNone;
// visit(pos, i) returns true to stop, where i is the kernel's loop index.
template <class Find, class Visit>
bool linux_pass(std::uint32_t wsize, std::uint32_t remaining, std::uint32_t offset, Find find,
                Visit visit) {
  if (remaining <= 1) {  // a one-port window: the loop visits position 0 once
    std::uint32_t q = find(0, 1, 0u);
    return q != kNone && visit(q, std::uint32_t{0});
  }
  const unsigned parity = offset & 1u;
  const std::uint32_t seg_end = offset + remaining < wsize ? offset + remaining : wsize;
  const std::uint32_t from[2] = {offset, wsize - remaining};
  const std::uint32_t to[2] = {seg_end, offset};
  for (int seg = 0; seg < 2; ++seg) {
    for (std::uint32_t pos = from[seg];;) {
      std::uint32_t q = find(pos, to[seg], parity);
      if (q == kNone) break;
      std::uint32_t i = q >= offset ? q - offset : q + remaining - offset;
      if (visit(q, i)) return true;
      pos = q + 1;
    }
  }
  return false;
}

// Small, fast PRNG (SplitMix64, Steele et al. 2014): random offsets and
// increments, as the kernel's get_random_u32_below(); one per allocator.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) for n > 0 (Lemire's multiply-shift; bias < n / 2^32).
  std::uint32_t below(std::uint32_t n) {
    return static_cast<std::uint32_t>(((next() >> 32) * std::uint64_t{n}) >> 32);
  }

 private:
  std::uint64_t s_;
};

// A set of used positions with exact per-parity summaries of the free ones:
// the bind(port 0) search space of one local address (or of INADDR_ANY).
class UsedMap {
 public:
  explicit UsedMap(std::uint32_t nbits)
      : nbits_(nbits), used_(words_for(nbits), 0), sum_{std::vector<std::uint64_t>(words_for(words_for(nbits)), 0),
                                                      std::vector<std::uint64_t>(words_for(words_for(nbits)), 0)} {
    if (nbits % 64 != 0) used_.back() = kAllOnes << (nbits % 64);  // past the range
    for (std::uint32_t i = 0; i < used_.size(); ++i) sync(i);
  }
  bool used(std::uint32_t pos) const { return (used_[pos / 64] >> (pos % 64)) & 1u; }
  void set(std::uint32_t pos, bool used) {
    std::uint64_t b = std::uint64_t{1} << (pos % 64);
    used_[pos / 64] = used ? used_[pos / 64] | b : used_[pos / 64] & ~b;
    sync(pos / 64);
  }
  // First free position of `parity` in [from, to), or kNone.
  std::uint32_t find_free(std::uint32_t from, std::uint32_t to, unsigned parity) const {
    const std::uint64_t* summary = sum_[parity].data();
    return find_set([summary](std::uint32_t s) { return summary[s]; }, top_[parity], from, to < nbits_ ? to : nbits_, kParityMask[parity],
                    [this](std::uint32_t i) { return ~used_[i]; });
  }

 private:
  void sync(std::uint32_t i) {
    for (unsigned p = 0; p < 2; ++p) {
      std::uint64_t b = std::uint64_t{1} << (i % 64);
      bool any = (~used_[i] & kParityMask[p]) != 0;
      std::uint64_t& sw = sum_[p][i / 64];
      sw = any ? sw | b : sw & ~b;
      std::uint64_t t = std::uint64_t{1} << (i / 64);
      top_[p] = sw != 0 ? top_[p] | t : top_[p] & ~t;
    }
  }

  std::uint32_t nbits_;
  std::vector<std::uint64_t> used_;
  std::vector<std::uint64_t> sum_[2];
  std::uint64_t top_[2] = {0, 0};
};

}  // namespace twstack::ports
