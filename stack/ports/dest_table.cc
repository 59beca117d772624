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

// Summary bit i of one parity, and its summary word's bit in `top`.
void set_summary(std::uint64_t* summary, std::uint64_t& top, std::uint32_t i, bool v) {
  std::uint64_t& sw = summary[i / 64];
  set_bit(sw, i % 64, v);
  set_bit(top, i / 64, sw != 0);
}

template <class T>
void add(T& counter, int delta) {
  counter = static_cast<T>(static_cast<int>(counter) + delta);
}

}  // namespace

DestTable::DestTable(std::uint32_t nbits, std::uint32_t max_slots, std::uint32_t rows, std::uint64_t seed)
    : nbits_(std::max<std::uint32_t>(nbits, 1)),
      words_(words_for(nbits_)),
      nsum_(words_for(words_)),
      nsub_((words_ + kSub - 1) / kSub),
      max_slots_(std::max<std::uint32_t>(max_slots, 1)),
      rows_(std::max<std::uint32_t>(rows, 1)),
      seed_(seed),
      g_(words_, 0),
      qmask_(std::size_t{rows_} * words_, kAllOnes),
      occ_(std::size_t{max_slots_} * words_, 0),
      reuse_(std::size_t{max_slots_} * words_, 0),
      sum_(std::size_t{max_slots_} * 2 * nsum_, 0),
      top_(std::size_t{max_slots_} * 2, 0),
      wcnt_(std::size_t{max_slots_} * words_, 0),
      sub_(std::size_t{max_slots_} * nsub_, 0),
      grp_(std::size_t{max_slots_} * nsum_, 0),
      total_(max_slots_, 0),
      used_(max_slots_, 0),
      rcount_(max_slots_, 0),
      row_(max_slots_, 0),
      where_(max_slots_, kNone),
      key_(max_slots_),
      row_sum_(std::size_t{rows_} * 2 * nsum_, 0),
      row_top_(std::size_t{rows_} * 2, 0),
      row_wcnt_(std::size_t{rows_} * words_, 0),
      row_sub_(std::size_t{rows_} * nsub_, 0),
      row_grp_(std::size_t{rows_} * nsum_, 0),
      row_total_(rows_, 0),
      index_(pow2_at_least(2 * max_slots_), 0),
      index_mask_(pow2_at_least(2 * max_slots_) - 1),
      park_prev_(max_slots_, kNone),
      park_next_(max_slots_, kNone),
      is_parked_(max_slots_, 0) {
  // Positions past the range are never usable.
  if (nbits_ % 64 != 0) g_[words_ - 1] = kAllOnes << (nbits_ % 64);
  active_.reserve(max_slots_);
  free_.reserve(max_slots_);
  for (std::uint32_t s = max_slots_; s > 0; --s) free_.push_back(s - 1);
  finish_setup();
}

void DestTable::finish_setup() {
  std::fill(row_sum_.begin(), row_sum_.end(), 0);
  std::fill(row_top_.begin(), row_top_.end(), 0);
  std::fill(row_wcnt_.begin(), row_wcnt_.end(), 0);
  std::fill(row_sub_.begin(), row_sub_.end(), 0);
  std::fill(row_grp_.begin(), row_grp_.end(), 0);
  std::fill(row_total_.begin(), row_total_.end(), 0);
  for (std::uint32_t r = 0; r < rows_; ++r) {
    for (std::uint32_t i = 0; i < words_; ++i) {
      std::uint64_t f = ~g_[i] & qmask_[std::size_t{r} * words_ + i];
      auto c = static_cast<int>(popcount64(f));
      row_wcnt_[std::size_t{r} * words_ + i] = static_cast<std::uint8_t>(c);
      add(row_sub_[std::size_t{r} * nsub_ + i / kSub], c);
      add(row_grp_[std::size_t{r} * nsum_ + i / 64], c);
      add(row_total_[r], c);
      for (unsigned p = 0; p < 2; ++p) {
        set_summary(&row_sum_[(std::size_t{r} * 2 + p) * nsum_], row_top_[std::size_t{r} * 2 + p], i,
                    (f & kParityMask[p]) != 0);
      }
    }
  }
}

void DestTable::refresh(std::uint32_t slot, std::uint32_t i, std::uint64_t old_free) {
  std::uint64_t g = g_[i];
  int delta = count_delta(old_free, free_word(slot, i, g));
  if (delta != 0) {
    add(wcnt_[std::size_t{slot} * words_ + i], delta);
    add(sub_[std::size_t{slot} * nsub_ + i / kSub], delta);
    add(grp_[std::size_t{slot} * nsum_ + i / 64], delta);
    add(total_[slot], delta);
  }
  std::uint64_t av = avail_word(slot, i, g);
  for (unsigned p = 0; p < 2; ++p) {
    set_summary(&sum_[(std::size_t{slot} * 2 + p) * nsum_], top_[std::size_t{slot} * 2 + p], i,
                (av & kParityMask[p]) != 0);
  }
}

void DestTable::refresh_row(std::uint32_t r, std::uint32_t i, std::uint64_t old_g) {
  std::uint64_t q = qmask_[std::size_t{r} * words_ + i];
  std::uint64_t f = ~g_[i] & q;
  int delta = count_delta(~old_g & q, f);
  add(row_wcnt_[std::size_t{r} * words_ + i], delta);
  add(row_sub_[std::size_t{r} * nsub_ + i / kSub], delta);
  add(row_grp_[std::size_t{r} * nsum_ + i / 64], delta);
  add(row_total_[r], delta);
  for (unsigned p = 0; p < 2; ++p) {
    set_summary(&row_sum_[(std::size_t{r} * 2 + p) * nsum_], row_top_[std::size_t{r} * 2 + p], i,
                (f & kParityMask[p]) != 0);
  }
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
    if (key_[e - 1] == k) return e - 1;
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
  key_[slot] = k;
  row_[slot] = r;
  used_[slot] = 0;
  // occ_ and reuse_ are zero (a slot is freed only when empty): copy the row's state.
  std::copy_n(&row_sum_[std::size_t{r} * 2 * nsum_], 2 * nsum_, &sum_[std::size_t{slot} * 2 * nsum_]);
  top_[std::size_t{slot} * 2] = row_top_[std::size_t{r} * 2];
  top_[std::size_t{slot} * 2 + 1] = row_top_[std::size_t{r} * 2 + 1];
  rcount_[slot] = 0;
  std::copy_n(&row_wcnt_[std::size_t{r} * words_], words_, &wcnt_[std::size_t{slot} * words_]);
  std::copy_n(&row_sub_[std::size_t{r} * nsub_], nsub_, &sub_[std::size_t{slot} * nsub_]);
  std::copy_n(&row_grp_[std::size_t{r} * nsum_], nsum_, &grp_[std::size_t{slot} * nsum_]);
  total_[slot] = row_total_[r];
  std::uint32_t i = home(k);
  while (index_[i] != 0) i = (i + 1) & index_mask_;
  index_[i] = slot + 1;
  where_[slot] = static_cast<std::uint32_t>(active_.size());
  active_.push_back(slot);  // within the reserved capacity: no allocation
  return slot;
}

// Backward-shift deletion (Knuth 6.4 Algorithm R): no tombstones, so lookups stay short.
void DestTable::unlink(std::uint32_t slot) {
  std::uint32_t i = home(key_[slot]);
  while (index_[i] != slot + 1) i = (i + 1) & index_mask_;
  index_[i] = 0;
  for (std::uint32_t j = (i + 1) & index_mask_; index_[j] != 0; j = (j + 1) & index_mask_) {
    std::uint32_t h = home(key_[index_[j] - 1]);
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
  if (is_parked_[slot]) return;
  is_parked_[slot] = 1;
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
  if (!is_parked_[slot]) return;
  is_parked_[slot] = 0;
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
  if (slot != kNone && where_[slot] != kNone && used_[slot] == 0) park(slot);
}

bool DestTable::occupy(std::uint32_t slot, std::uint32_t pos) {
  std::size_t at = std::size_t{slot} * words_ + pos / 64;
  std::uint64_t b = std::uint64_t{1} << (pos % 64);
  if (occ_[at] & b) return false;
  std::uint64_t old = free_word(slot, pos / 64, g_[pos / 64]);
  occ_[at] |= b;
  if (used_[slot]++ == 0) unpark(slot);
  refresh(slot, pos / 64, old);
  return true;
}

bool DestTable::vacate(std::uint32_t slot, std::uint32_t pos) {
  std::size_t at = std::size_t{slot} * words_ + pos / 64;
  std::uint64_t b = std::uint64_t{1} << (pos % 64);
  if (!(occ_[at] & b)) return false;
  std::uint64_t old = free_word(slot, pos / 64, g_[pos / 64]);
  occ_[at] &= ~b;
  if (reuse_[at] & b) --rcount_[slot];
  reuse_[at] &= ~b;
  --used_[slot];
  refresh(slot, pos / 64, old);
  if (used_[slot] == 0) park(slot);
  return true;
}

bool DestTable::set_reusable(std::uint32_t slot, std::uint32_t pos, bool reusable) {
  std::size_t at = std::size_t{slot} * words_ + pos / 64;
  std::uint64_t b = std::uint64_t{1} << (pos % 64);
  if (!(occ_[at] & b)) return false;
  std::uint64_t old = free_word(slot, pos / 64, g_[pos / 64]);
  if (((reuse_[at] & b) != 0) != reusable) rcount_[slot] += reusable ? 1u : ~0u;
  set_bit(reuse_[at], pos % 64, reusable);
  refresh(slot, pos / 64, old);
  return true;
}

std::uint32_t DestTable::select_free(std::uint32_t slot, std::uint32_t k) const {
  if (k >= total_[slot]) return kNone;
  std::uint32_t s = 0;
  for (; s < nsum_; ++s) {
    std::uint32_t c = grp_[std::size_t{slot} * nsum_ + s];
    if (k < c) break;
    k -= c;
  }
  std::uint32_t j = s * (64 / kSub);
  for (std::uint32_t end = std::min(nsub_, j + 64 / kSub); j < end; ++j) {
    std::uint32_t c = sub_[std::size_t{slot} * nsub_ + j];
    if (k < c) break;
    k -= c;
  }
  for (std::uint32_t i = j * kSub, end = std::min(words_, i + kSub); i < end; ++i) {
    std::uint32_t c = wcnt_[std::size_t{slot} * words_ + i];
    if (k < c) return i * 64 + select_bit(free_word(slot, i, g_[i]), k);
    k -= c;
  }
  return kNone;  // counts out of step: cannot happen
}

std::uint32_t DestTable::find_avail(std::uint32_t slot, std::uint32_t from, std::uint32_t to,
                                    unsigned parity) const {
  const std::uint64_t* summary = &sum_[(std::size_t{slot} * 2 + parity) * nsum_];
  return find_set(summary, top_[std::size_t{slot} * 2 + parity], from, std::min(to, nbits_), kParityMask[parity],
                  [this, slot](std::uint32_t i) { return avail_word(slot, i, g_[i]); });
}

}  // namespace twstack::ports
