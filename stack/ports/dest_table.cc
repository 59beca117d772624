#include "stack/ports/dest_table.hh"

#include <algorithm>
#include <bit>

namespace twstack::ports {
namespace {

std::uint32_t pow2_at_least(std::uint32_t n) { return std::bit_ceil(std::max<std::uint32_t>(n, 2)); }

void set_bit(std::uint64_t& w, unsigned b, bool v) {
  if (v) {
    w |= std::uint64_t{1} << b;
  } else {
    w &= ~(std::uint64_t{1} << b);
  }
}

// Free-count change between two words; callers change one bit at a time.
int count_delta(std::uint64_t old_w, std::uint64_t new_w) {
  std::uint64_t d = old_w ^ new_w;
  if (d == 0) return 0;
  if ((d & (d - 1)) == 0) return (new_w & d) != 0 ? 1 : -1;
  return static_cast<int>(popcount64(new_w)) - static_cast<int>(popcount64(old_w));
}

// Summary bit i of one parity in its group's summary word, and that word's
// bit in `top`.
void set_summary(std::uint64_t& sw, std::uint16_t& top, std::uint32_t i, bool v) {
  set_bit(sw, i % 64, v);
  top = static_cast<std::uint16_t>(sw != 0 ? top | 1u << (i / 64) : top & ~(1u << (i / 64)));
}

template <class T>
void add(T& counter, int delta) {
  counter = static_cast<T>(static_cast<int>(counter) + delta);
}

}  // namespace

DestTable::DestTable(std::uint32_t nbits, std::uint32_t max_slots, std::uint32_t rows, std::uint64_t seed)
    : nbits_(std::clamp<std::uint32_t>(nbits, 1, kMaxBits)),
      words_(words_for(nbits_)),
      stride_((words_ + kSub - 1) / kSub * kSub),
      nsum_(words_for(words_)),
      nsub_((words_ + kSub - 1) / kSub),
      max_slots_(std::max<std::uint32_t>(max_slots, 1)),
      rows_(std::max<std::uint32_t>(rows, 1)),
      seed_(seed),
      g_(words_, 0),
      qmask_(std::size_t{rows_} * words_, kAllOnes),
      head_(max_slots_),
      groups_(std::size_t{max_slots_} * nsum_),
      occ_(std::size_t{max_slots_} * stride_, 0),
      reuse_(std::size_t{max_slots_} * stride_, 0),
      where_(max_slots_, kNone),
      row_head_(rows_),
      row_groups_(std::size_t{rows_} * nsum_),
      index_(pow2_at_least(2 * max_slots_), 0),
      index_mask_(pow2_at_least(2 * max_slots_) - 1),
      park_prev_(max_slots_, kNone),
      park_next_(max_slots_, kNone) {
  // Positions past the range are never usable.
  if (nbits_ % 64 != 0) g_[words_ - 1] = kAllOnes << (nbits_ % 64);
  active_.reserve(max_slots_);
  free_.reserve(max_slots_);
  for (std::uint32_t s = max_slots_; s > 0; --s) free_.push_back(s - 1);
  finish_setup();
}

void DestTable::finish_setup() {
  std::fill(row_head_.begin(), row_head_.end(), SlotHead{});
  std::fill(row_groups_.begin(), row_groups_.end(), Group{});
  for (std::uint32_t r = 0; r < rows_; ++r) {
    SlotHead& h = row_head_[r];
    for (std::uint32_t i = 0; i < words_; ++i) {
      std::uint64_t f = ~g_[i] & q_word(r, i);
      auto c = static_cast<int>(popcount64(f));
      Group& gr = row_groups_[std::size_t{r} * nsum_ + i / 64];
      add(gr.sub[i % 64 / kSub], c);
      add(h.grp[i / 64], c);
      add(h.total, c);
      for (unsigned p = 0; p < 2; ++p) set_summary(gr.sum[p], h.top[p], i, (f & kParityMask[p]) != 0);
    }
  }
}

void DestTable::refresh(std::uint32_t slot, std::uint32_t i, std::uint64_t old_free) {
  SlotHead& h = head_[slot];
  Group& gr = group(slot, i / 64);
  std::uint64_t g = g_[i];
  int delta = count_delta(old_free, free_word(slot, i, g));
  if (delta != 0) {
    add(gr.sub[i % 64 / kSub], delta);
    add(h.grp[i / 64], delta);
    add(h.total, delta);
  }
  std::uint64_t av = avail_word(slot, i, g);
  for (unsigned p = 0; p < 2; ++p) set_summary(gr.sum[p], h.top[p], i, (av & kParityMask[p]) != 0);
}

void DestTable::refresh_row(std::uint32_t r, std::uint32_t i, std::uint64_t old_g) {
  SlotHead& h = row_head_[r];
  Group& gr = row_groups_[std::size_t{r} * nsum_ + i / 64];
  std::uint64_t q = q_word(r, i);
  std::uint64_t f = ~g_[i] & q;
  int delta = count_delta(~old_g & q, f);
  add(gr.sub[i % 64 / kSub], delta);
  add(h.grp[i / 64], delta);
  add(h.total, delta);
  for (unsigned p = 0; p < 2; ++p) set_summary(gr.sum[p], h.top[p], i, (f & kParityMask[p]) != 0);
}

// O(active slots + rows): binds and listeners change rarely; connect() never does this.
void DestTable::set_blocked(std::uint32_t pos, bool blocked) {
  if (pos >= nbits_) return;
  std::uint32_t i = pos / 64;
  std::uint64_t old = g_[i];
  std::uint64_t now = old;
  set_bit(now, pos % 64, blocked);
  if (now == old) return;
  g_[i] = now;
  for (std::uint32_t slot : active_) refresh(slot, i, free_word(slot, i, old));
  for (std::uint32_t r = 0; r < rows_; ++r) refresh_row(r, i, old);
}

std::uint32_t DestTable::home(const DestKey& k) const {
  std::uint64_t h = (std::uint64_t{k.laddr} << 32 | k.raddr) ^ seed_;
  h ^= (std::uint64_t{k.rport} + 0x632be59bd9b4e019ULL) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 31)) * 0x94d049bb133111ebULL;
  return static_cast<std::uint32_t>(h ^ (h >> 29)) & index_mask_;
}

std::uint32_t DestTable::find(const DestKey& k) const {
  for (std::uint32_t i = home(k);; i = (i + 1) & index_mask_) {
    std::uint32_t e = index_[i];
    if (e == 0) return kNone;  // the index is at most half full, so this ends
    const SlotHead& h = head_[e - 1];
    if (h.laddr == k.laddr && h.raddr == k.raddr && h.rport == k.rport) return e - 1;
  }
}

std::uint32_t DestTable::acquire(const DestKey& k, std::uint32_t r) {
  if (r >= rows_) return kNone;
  if (free_.empty() && park_head_ != kNone) {
    std::uint32_t victim = park_head_;  // least recently parked
    unpark(victim);
    unlink(victim);
  }
  if (free_.empty()) return kNone;
  std::uint32_t slot = free_.back();
  free_.pop_back();
  // occ_ and reuse_ are zero (a slot is freed only when empty): copy the row's state.
  SlotHead& h = head_[slot];
  h = row_head_[r];
  h.laddr = k.laddr;
  h.raddr = k.raddr;
  h.rport = k.rport;
  h.parked = 0;
  h.row = r;
  h.used = 0;
  h.rcount = 0;
  std::copy_n(&row_groups_[std::size_t{r} * nsum_], nsum_, &groups_[std::size_t{slot} * nsum_]);
  std::uint32_t i = home(k);
  while (index_[i] != 0) i = (i + 1) & index_mask_;
  index_[i] = slot + 1;
  where_[slot] = static_cast<std::uint32_t>(active_.size());
  active_.push_back(slot);  // within the reserved capacity: no allocation
  return slot;
}

// Backward-shift deletion (Knuth 6.4 Algorithm R): no tombstones, so lookups stay short.
void DestTable::unlink(std::uint32_t slot) {
  std::uint32_t i = home(key_of(head_[slot]));
  while (index_[i] != slot + 1) i = (i + 1) & index_mask_;
  index_[i] = 0;
  for (std::uint32_t j = (i + 1) & index_mask_; index_[j] != 0; j = (j + 1) & index_mask_) {
    std::uint32_t h = home(key_of(head_[index_[j] - 1]));
    // Move j's entry into the hole unless its home lies cyclically in (i, j].
    bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
    if (!stays) {
      index_[i] = index_[j];
      index_[j] = 0;
      i = j;
    }
  }
  std::uint32_t at = where_[slot];
  std::uint32_t last = active_.back();
  active_[at] = last;
  where_[last] = at;
  active_.pop_back();
  where_[slot] = kNone;
  free_.push_back(slot);
}

void DestTable::park(std::uint32_t slot) {
  if (head_[slot].parked) return;
  head_[slot].parked = 1;
  ++parked_;
  park_prev_[slot] = park_tail_;
  park_next_[slot] = kNone;
  if (park_tail_ != kNone) {
    park_next_[park_tail_] = slot;
  } else {
    park_head_ = slot;
  }
  park_tail_ = slot;
}

void DestTable::unpark(std::uint32_t slot) {
  if (!head_[slot].parked) return;
  head_[slot].parked = 0;
  --parked_;
  std::uint32_t p = park_prev_[slot];
  std::uint32_t n = park_next_[slot];
  if (p != kNone) {
    park_next_[p] = n;
  } else {
    park_head_ = n;
  }
  if (n != kNone) {
    park_prev_[n] = p;
  } else {
    park_tail_ = p;
  }
}

void DestTable::release_if_empty(std::uint32_t slot) {
  // used first: after a successful connect it is not 0 and where_ stays unread.
  if (slot != kNone && head_[slot].used == 0 && where_[slot] != kNone) park(slot);
}

bool DestTable::occupy(std::uint32_t slot, std::uint32_t pos) {
  std::uint64_t& w = occ_[at(slot, pos / 64)];
  std::uint64_t b = std::uint64_t{1} << (pos % 64);
  if (w & b) return false;
  std::uint64_t old = free_word(slot, pos / 64, g_[pos / 64]);
  w |= b;
  if (head_[slot].used++ == 0) unpark(slot);
  refresh(slot, pos / 64, old);
  return true;
}

bool DestTable::vacate(std::uint32_t slot, std::uint32_t pos) {
  std::uint64_t& w = occ_[at(slot, pos / 64)];
  std::uint64_t b = std::uint64_t{1} << (pos % 64);
  if (!(w & b)) return false;
  SlotHead& h = head_[slot];
  std::uint64_t old = free_word(slot, pos / 64, g_[pos / 64]);
  w &= ~b;
  if (h.rcount != 0) {  // else the reusable words are all zero
    std::uint64_t& r = reuse_[at(slot, pos / 64)];
    if (r & b) --h.rcount;
    r &= ~b;
  }
  --h.used;
  refresh(slot, pos / 64, old);
  if (h.used == 0) park(slot);
  return true;
}

bool DestTable::set_reusable(std::uint32_t slot, std::uint32_t pos, bool reusable) {
  std::size_t a = at(slot, pos / 64);
  std::uint64_t b = std::uint64_t{1} << (pos % 64);
  if (!(occ_[a] & b)) return false;
  SlotHead& h = head_[slot];
  std::uint64_t old = free_word(slot, pos / 64, g_[pos / 64]);
  if (((reuse_[a] & b) != 0) != reusable) h.rcount += reusable ? 1u : ~0u;
  set_bit(reuse_[a], pos % 64, reusable);
  refresh(slot, pos / 64, old);
  return true;
}

std::uint32_t DestTable::select_free(std::uint32_t slot, std::uint32_t k) const {
  const SlotHead& h = head_[slot];
  if (k >= h.total) return kNone;
  std::uint32_t s = 0;
  for (; s < nsum_; ++s) {
    std::uint32_t c = h.grp[s];
    if (k < c) break;
    k -= c;
  }
  if (s == nsum_) return kNone;  // counts out of step: cannot happen
  const Group& gr = group(slot, s);
  std::uint32_t j = 0;
  for (std::uint32_t end = std::min(64 / kSub, nsub_ - s * (64 / kSub)); j < end; ++j) {
    std::uint32_t c = gr.sub[j];
    if (k < c) break;
    k -= c;
  }
  // The group's kSub occupancy words are one line: count them there.
  for (std::uint32_t i = s * 64 + j * kSub, end = std::min(words_, i + kSub); i < end; ++i) {
    std::uint64_t f = free_word(slot, i, g_[i]);
    std::uint32_t c = popcount64(f);
    if (k < c) return i * 64 + select_bit(f, k);
    k -= c;
  }
  return kNone;  // counts out of step: cannot happen
}

std::uint32_t DestTable::find_avail(std::uint32_t slot, std::uint32_t from, std::uint32_t to,
                                    unsigned parity) const {
  const Group* gr = &groups_[std::size_t{slot} * nsum_];
  return find_set([gr, parity](std::uint32_t s) { return gr[s].sum[parity]; }, head_[slot].top[parity], from,
                  std::min(to, nbits_), kParityMask[parity],
                  [this, slot](std::uint32_t i) { return avail_word(slot, i, g_[i]); });
}

}  // namespace twstack::ports
