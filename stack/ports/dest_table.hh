// Per-destination port occupancy for connect(): a fixed pool of slots, one
// per (local address, remote address, remote port) that has tuples, each a
// bitmap over the ephemeral range with summary levels above it.
//
// For slot d and word i (64 positions), with G the global blocked bitmap
// (reserved ports, ports held by bind()/listen(), positions past the range)
// and Q[row] the positions whose replies hash to this engine's queue for
// the slot's RSS row (all ones without RSS):
//
//   free(d, i)  = ~(occ[d][i] | G[i]) & Q[row][i]        never handed out
//   avail(d, i) = (~occ[d][i] | reuse[d][i]) & ~G[i] & Q[row][i]
//                                                          free, or a TIME_WAIT
//                                                          tuple marked reusable
//
// Each slot keeps, exactly: per parity, a summary bitmap of the words with an
// avail position and a top word of the non-empty summary words (for Linux's
// ordered scan); free counts per 8 and per 64 words (for a uniform choice by
// rank; a word's own count is a popcount of free(d, i)). A change to one word
// costs O(1); a change to G (bind, listen, close of a listener) costs
// O(active slots).
// A slot whose last occupied bit is cleared is parked (kept, in LRU order)
// and reclaimed only when the pool runs out, so a destination that comes
// and goes keeps its slot. An empty slot's bitmaps are all zero: reusing
// one for another destination costs under 1 KiB of copying at the default
// range (the per-row initial summaries and counts, kept up to date with G).
//
// Layout, for a connect or release that lands on a different slot each time
// (a client churning over many destinations): a slot's scalars, its 16
// per-64-word free counts and both top words share one cache line (SlotHead);
// both parities' summary words and the eight per-8-word counts of one
// 64-word group share half a line (Group); eight occupancy words (a group of
// kSub) are one line, whose free counts are computed rather than stored, and
// the reusable words are read only while the slot has reusable marks. A
// connect that takes a free port touches a slot's head, one Group and one
// occupancy line; a release the same three.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "stack/ports/bits.hh"

namespace twstack::ports {

struct DestKey {
  std::uint32_t laddr = 0;
  std::uint32_t raddr = 0;
  std::uint16_t rport = 0;
  bool operator==(const DestKey&) const = default;
};

// Cache-line aligned storage for the per-slot arrays.
template <class T>
struct LineAllocator {
  using value_type = T;
  LineAllocator() = default;
  template <class U>
  LineAllocator(const LineAllocator<U>&) {}  // NOLINT(google-explicit-constructor): allocator rebind
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64})); }
  // The unsized form: Clang before 17 does not declare sized deallocation by default.
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t{64}); }
  template <class U>
  bool operator==(const LineAllocator<U>&) const {
    return true;
  }
};
template <class T>
using LineVector = std::vector<T, LineAllocator<T>>;

class DestTable {
 public:
  // Positions are ports: at most 2^16, so at most 16 summary words (kMaxSum).
  static constexpr std::uint32_t kMaxBits = 65536;

  // `nbits` positions (the range size, at most kMaxBits), `max_slots` destinations, `rows`
  // RSS rows (1 without RSS); `seed` keys the slot hash.
  DestTable(std::uint32_t nbits, std::uint32_t max_slots, std::uint32_t rows, std::uint64_t seed);

  std::uint32_t nbits() const { return nbits_; }
  std::uint32_t max_slots() const { return max_slots_; }
  // Destinations holding at least one port (parked slots not counted).
  std::uint32_t active() const { return static_cast<std::uint32_t>(active_.size()) - parked_; }

  // --- set-up: steering rows, then finish_setup() ---
  // Mutable row `r` of Q (all ones until changed).
  std::uint64_t* row_words(std::uint32_t r) { return &qmask_[std::size_t{r} * words_]; }
  void finish_setup();

  // --- global state ---
  bool blocked(std::uint32_t pos) const { return (g_[pos / 64] >> (pos % 64)) & 1u; }
  void set_blocked(std::uint32_t pos, bool blocked);
  bool acceptable(std::uint32_t row, std::uint32_t pos) const {
    return (qmask_[std::size_t{row} * words_ + pos / 64] >> (pos % 64)) & 1u;
  }

  // --- slots ---
  std::uint32_t find(const DestKey& k) const;
  // A new slot for `k` (not present) on RSS row `row`, reclaiming the least
  // recently parked one if none is free; kNone if every slot holds ports.
  std::uint32_t acquire(const DestKey& k, std::uint32_t row);
  // Parks the slot if nothing is occupied (after a failed first connect).
  void release_if_empty(std::uint32_t slot);
  std::uint32_t row(std::uint32_t slot) const { return head_[slot].row; }
  std::uint32_t used(std::uint32_t slot) const { return head_[slot].used; }

  bool occupied(std::uint32_t slot, std::uint32_t pos) const { return bit(occ_, slot, pos); }
  bool reusable(std::uint32_t slot, std::uint32_t pos) const {
    return head_[slot].rcount != 0 && bit(reuse_, slot, pos);  // no marks: the words are all zero
  }
  // Marks pos held (no-op if already). Returns whether it changed.
  bool occupy(std::uint32_t slot, std::uint32_t pos);
  // Clears pos (held and reusable); parks the slot when nothing is left held.
  // Returns whether pos was held.
  bool vacate(std::uint32_t slot, std::uint32_t pos);
  // Marks or unmarks a held pos as a reusable TIME_WAIT tuple. Returns false
  // (and changes nothing) if pos is not held.
  bool set_reusable(std::uint32_t slot, std::uint32_t pos, bool reusable);

  std::uint32_t free_count(std::uint32_t slot) const { return head_[slot].total; }
  // Held positions marked reusable (some may be blocked or unsteerable).
  std::uint32_t reusable_count(std::uint32_t slot) const { return head_[slot].rcount; }
  // The k-th free position (k < free_count): at most 16 + 8 counter reads,
  // then at most 8 words counted.
  std::uint32_t select_free(std::uint32_t slot, std::uint32_t k) const;
  // First avail position of `parity` in [from, to), or kNone.
  std::uint32_t find_avail(std::uint32_t slot, std::uint32_t from, std::uint32_t to, unsigned parity) const;

 private:
  static constexpr std::uint32_t kSub = 8;     // words per fine count: one line of occ_
  static constexpr std::uint32_t kMaxSum = 16;  // summary words (64 words each) at kMaxBits

  // A slot's bookkeeping, one line (a row's initial state uses total, top, grp).
  struct alignas(64) SlotHead {
    std::uint32_t laddr = 0, raddr = 0;  // the key, without DestKey's padding
    std::uint16_t rport = 0;
    std::uint8_t parked = 0;
    std::uint32_t row = 0;
    std::uint32_t total = 0;   // free positions
    std::uint32_t used = 0;    // occupied positions
    std::uint32_t rcount = 0;  // reusable marks: reuse_ is all zero while 0
    std::uint16_t top[2] = {0, 0};  // per parity: the non-empty summary words
    std::uint16_t grp[kMaxSum] = {};  // free per 64 words
  };
  static_assert(sizeof(SlotHead) == 64);
  static DestKey key_of(const SlotHead& h) { return DestKey{h.laddr, h.raddr, h.rport}; }
  // One group of 64 words: the summary word of each parity and the free
  // count of each kSub words; half a line.
  struct Group {
    std::uint64_t sum[2] = {0, 0};
    std::uint16_t sub[64 / kSub] = {};
  };
  static_assert(sizeof(Group) == 32);

  std::size_t at(std::uint32_t slot, std::uint32_t i) const { return std::size_t{slot} * stride_ + i; }
  std::uint64_t q_word(std::uint32_t row, std::uint32_t i) const { return qmask_[std::size_t{row} * words_ + i]; }
  std::uint64_t free_word(std::uint32_t slot, std::uint32_t i, std::uint64_t g) const {
    return ~(occ_[at(slot, i)] | g) & q_word(head_[slot].row, i);
  }
  std::uint64_t avail_word(std::uint32_t slot, std::uint32_t i, std::uint64_t g) const {
    std::uint64_t held = occ_[at(slot, i)];
    if (head_[slot].rcount != 0) held &= ~reuse_[at(slot, i)];
    return ~(held | g) & q_word(head_[slot].row, i);
  }
  Group& group(std::uint32_t slot, std::uint32_t s) { return groups_[std::size_t{slot} * nsum_ + s]; }
  const Group& group(std::uint32_t slot, std::uint32_t s) const { return groups_[std::size_t{slot} * nsum_ + s]; }
  // Brings slot's summaries and counts for word i in line after a change;
  // `old_free` is free(slot, i) before it.
  void refresh(std::uint32_t slot, std::uint32_t i, std::uint64_t old_free);
  // The same for a row's initial state (occ = reuse = 0).
  void refresh_row(std::uint32_t row, std::uint32_t i, std::uint64_t old_g);
  bool bit(const LineVector<std::uint64_t>& v, std::uint32_t slot, std::uint32_t pos) const {
    return (v[at(slot, pos / 64)] >> (pos % 64)) & 1u;
  }
  std::uint32_t home(const DestKey& k) const;
  void unlink(std::uint32_t slot);
  void park(std::uint32_t slot);
  void unpark(std::uint32_t slot);

  std::uint32_t nbits_, words_, stride_, nsum_, nsub_, max_slots_, rows_;
  std::uint64_t seed_;
  LineVector<std::uint64_t> g_;      // words_
  LineVector<std::uint64_t> qmask_;  // rows_ x words_
  // Per slot.
  LineVector<SlotHead> head_;
  LineVector<Group> groups_;                // x nsum_
  LineVector<std::uint64_t> occ_, reuse_;  // x stride_ (words_ rounded up to kSub)
  std::vector<std::uint32_t> where_;       // index in active_, kNone if not in use
  // Per row: the state of an empty slot.
  std::vector<SlotHead> row_head_;
  std::vector<Group> row_groups_;  // x nsum_
  // Slot lookup: open addressing, linear probing, slot + 1 (0 = empty).
  std::vector<std::uint32_t> index_;
  std::uint32_t index_mask_ = 0;
  std::vector<std::uint32_t> active_;  // slots in use, parked or not (dense)
  std::vector<std::uint32_t> free_;    // slots not in use (stack)
  // Parked slots: a doubly linked LRU list (kNone-terminated).
  std::vector<std::uint32_t> park_prev_, park_next_;
  std::uint32_t park_head_ = kNone, park_tail_ = kNone, parked_ = 0;
};

}  // namespace twstack::ports
