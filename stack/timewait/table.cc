// TIME_WAIT table: see table.hh for the layout and the expiry scheme.
#include "stack/timewait/table.hh"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>

#include "stack/timewait/table_index.hh"

namespace twstack::tw {

TimeWaitTable::TimeWaitTable(std::span<const wire::Ipv4Addr> local_addrs,
                             std::uint32_t capacity, Duration len, std::uint64_t seed,
                             TwOverflowPolicy policy, std::int64_t epoch_ms, AdviseLarge advise)
    : capacity_(std::clamp<std::uint32_t>(capacity, 1, kMaxCapacity)),
      max_live_(capacity_),
      seed_(seed),
      policy_(policy),
      epoch_ms_(epoch_ms) {
  assert(local_addrs.size() <= kMaxLocalAddrs);
  nladdrs_ = std::min(local_addrs.size(), kMaxLocalAddrs);
  std::copy_n(local_addrs.begin(), nladdrs_, laddrs_);

  len_ms_ = static_cast<std::uint32_t>(std::clamp<std::int64_t>(len.ms(), 1, kMaxLenMs));
  // Slots of gran_ms_ so that one TIME_WAIT length (+2 for rounding) fits the ring.
  gran_ms_ = std::max<std::uint32_t>(1, (len_ms_ + (kMaxSlots - 3)) / (kMaxSlots - 2));
  // A power of two, so a tick's slot is a mask rather than a division.
  nslots_ = std::bit_ceil((len_ms_ + gran_ms_ - 1) / gran_ms_ + 2);

  // 8.75 entries per 12-slot bucket at capacity: 64 / 8.75 = 7.3 B per entry,
  // so 32 + 7.3 + the timer slots (0.5 B at 1M) stays under 40 B from 1M up.
  nbuckets_ = static_cast<std::uint32_t>((std::uint64_t{capacity_} * 4 + 34) / 35);
  nbuckets_ = std::max<std::uint32_t>((nbuckets_ + 1) & ~1u, 4);  // whole pairs

  entries_ = std::make_unique_for_overwrite<Entry[]>(capacity_);
  pairs_ = std::make_unique_for_overwrite<BucketPair[]>(nbuckets_ / 2);
  if (advise != nullptr) {
    advise(entries_.get(), std::size_t{capacity_} * sizeof(Entry));
    advise(pairs_.get(), std::size_t{nbuckets_} * sizeof(Bucket));
  }
  std::memset(static_cast<void*>(pairs_.get()), 0, std::size_t{nbuckets_} * sizeof(Bucket));
  slots_ = std::make_unique_for_overwrite<Slot[]>(nslots_);
  std::fill_n(slots_.get(), nslots_, Slot{kNone, kNone});
  nonempty_ = std::make_unique<std::uint64_t[]>(nonempty_words() + summary_words());
}

std::size_t TimeWaitTable::memory_bytes() const {
  return std::size_t{capacity_} * sizeof(Entry) + std::size_t{nbuckets_} * sizeof(Bucket) +
         std::size_t{nslots_} * sizeof(Slot) + (nonempty_words() + summary_words()) * sizeof(std::uint64_t);
}

std::size_t TimeWaitTable::touched_bytes() const {
  return memory_bytes() - std::size_t{capacity_ - unused_} * sizeof(Entry);
}

std::int64_t TimeWaitTable::abs_ms(std::uint32_t rel) const {
  // The 28-bit difference to the cursor, sign-extended: entries are due within
  // len() of the cursor (or behind it while expire() lags).
  const std::int64_t base = cursor_ * gran_ms_;
  const std::uint32_t d = (rel - static_cast<std::uint32_t>(base)) & kTimeMask;
  const auto diff = static_cast<std::int32_t>(d << 4) >> 4;
  return epoch_ms_ + base + diff;
}

std::int64_t TimeWaitTable::expiry_tick(std::uint32_t expiry) const {
  const std::int64_t ms = abs_ms(expiry) - epoch_ms_;
  if (ms <= 0) return 0;
  if (gran_ms_ == 1) return ms;  // len() up to 65.5 s: no division
  return (ms + gran_ms_ - 1) / gran_ms_;
}

std::int64_t TimeWaitTable::entry_ms(Handle h) const {
  return expiry_ms(h) - len_ms_ - e(h).entry_age;
}

void TimeWaitTable::set_ts_recent(Handle h, std::uint32_t v) {
  e(h).ts_recent = v;
  e(h).tnext |= kHasTs;
}

// Tombstones are reused last freed first. Entries out of the timer are reused
// in the order they were freed (a queue): under steady churn the expiry FIFOs
// then keep running through the array in address order, which the
// hardware prefetcher and prefetch_ahead() follow, instead of being scrambled
// a little more on each lap.
void TimeWaitTable::free_entry(std::uint32_t i, bool tombstone) {
  if (tombstone) {
    entries_[i].raddr = free_tomb_;
    free_tomb_ = i;
    return;
  }
  entries_[i].raddr = kNil;
  if (free_plain_ == kNil) {
    free_plain_ = i;
  } else {
    entries_[free_plain_tail_].raddr = i;
  }
  free_plain_tail_ = i;
}

// A TIME_WAIT-length entry may reuse any tombstone in place: its expiry is no
// earlier than the tombstone's slot, which then moves it lazily. A shorter
// (FIN_WAIT2) entry needs a slot no later than its own expiry, so it prefers
// entries out of the timer; a tombstone due later is its last resort, and
// then it expires late (counted in late_expiries()).
std::uint32_t TimeWaitTable::alloc_entry(bool full_length, std::uint32_t expiry) {
  auto pop_list = [this](std::uint32_t& head) {
    const std::uint32_t i = head;
    head = entries_[i].raddr;
    return i;
  };
  if (full_length && free_tomb_ != kNil) return pop_list(free_tomb_);
  if (free_plain_ != kNil) return pop_list(free_plain_);
  if (unused_ < capacity_) {
    entries_[unused_].tnext = kNil;  // no flags, not in a FIFO
    return unused_++;
  }
  if (free_tomb_ == kNil) return kNone;
  const std::uint32_t i = pop_list(free_tomb_);
  const Entry& x = entries_[i];
  if (in_fifo(x) && expiry_tick(x.expiry) > expiry_tick(expiry)) ++late_expiries_;
  return i;
}

void TimeWaitTable::append(Slot& s, std::uint32_t i) {
  entries_[i].tnext = (entries_[i].tnext & ~kIdx) | kNil;
  if (s.tail == kNone) {
    s.head = i;
  } else {
    entries_[s.tail].tnext = (entries_[s.tail].tnext & ~kIdx) | i;
  }
  s.tail = i;
}

std::uint32_t TimeWaitTable::pop(Slot& s) {
  const std::uint32_t i = s.head;
  const std::uint32_t next = entries_[i].tnext & kIdx;
  s.head = next;
  if (next == kNil) s.tail = kNone;
  return i;
}

void TimeWaitTable::link_timer(std::uint32_t i) {
  const std::int64_t t = expiry_tick(entries_[i].expiry);
  if (t <= cursor_) {
    append(drain_, i);
  } else {
    const auto k = slot_of(t);
    if (slots_[k].tail == kNone) mark_nonempty(k);  // otherwise its bits are set
    append(slots_[k], i);
  }
}

void TimeWaitTable::mark_nonempty(std::uint32_t k) {
  nonempty_[k / 64] |= std::uint64_t{1} << (k % 64);
  const std::uint32_t w = k / 64;
  nonempty_[nonempty_words() + w / 64] |= std::uint64_t{1} << (w % 64);
}

void TimeWaitTable::mark_empty(std::uint32_t k) {
  const std::uint32_t w = k / 64;
  nonempty_[w] &= ~(std::uint64_t{1} << (k % 64));
  if (nonempty_[w] == 0) nonempty_[nonempty_words() + w / 64] &= ~(std::uint64_t{1} << (w % 64));
}

// The first word at or after w whose slots are not all empty, from the
// summary (one bit per word); nonempty_words() when none is left before the
// ring wraps.
std::uint32_t TimeWaitTable::next_nonempty_word(std::uint32_t w) const {
  const std::uint64_t* summary = nonempty_.get() + nonempty_words();
  for (std::uint32_t s = w / 64; s < summary_words(); ++s) {
    const std::uint64_t bits = s == w / 64 ? summary[s] >> (w % 64) << (w % 64) : summary[s];
    if (bits != 0) return s * 64 + static_cast<std::uint32_t>(std::countr_zero(bits));
  }
  return nonempty_words();
}

// Two levels: a word of slot bits, then the summary skips 4,096 empty slots
// per word read, so a long gap (virtual time jumping, a poll after idle, a
// scan of the whole ring for the next deadline) costs a few loads.
std::int64_t TimeWaitTable::next_nonempty(std::int64_t from, std::int64_t limit) const {
  for (std::int64_t t = from; t <= limit;) {
    const auto k = slot_of(t);
    const std::uint64_t bits = nonempty_[k / 64] >> (k % 64);
    if (bits != 0) {
      t += std::countr_zero(bits);
      return std::min(t, limit + 1);
    }
    // To the next word with a slot in use, or wrap to slot 0.
    const std::uint32_t next = std::min(next_nonempty_word(k / 64 + 1) * 64, nslots_);
    t += next - k;
  }
  return limit + 1;
}

std::optional<std::int64_t> TimeWaitTable::next_work_ms() const {
  return next_work_ms(epoch_ms_ + (cursor_ + nslots_) * gran_ms_);
}

std::optional<std::int64_t> TimeWaitTable::next_work_ms(std::int64_t horizon_ms) const {
  if (drain_.head != kNone) return epoch_ms_ + cursor_ * gran_ms_;
  const std::int64_t horizon_tick = (horizon_ms - epoch_ms_) / gran_ms_ + 1;
  const std::int64_t limit = std::clamp<std::int64_t>(horizon_tick, cursor_ + 1, cursor_ + nslots_);
  const std::int64_t t = next_nonempty(cursor_ + 1, limit);
  if (t > limit) return std::nullopt;
  return epoch_ms_ + t * gran_ms_;
}

std::uint32_t TimeWaitTable::pop_slot(std::uint32_t k) {
  const std::uint32_t i = pop(slots_[k]);
  if (slots_[k].head == kNone) mark_empty(k);
  return i;
}

InsertResult TimeWaitTable::insert(const TwEntryInit& init, std::int64_t now_ms) {
  return insert(init, now_ms, len_ms_);
}

InsertResult TimeWaitTable::insert(const TwEntryInit& init, std::int64_t now_ms,
                                   std::int64_t timeout_ms) {
  return insert_impl(init, now_ms, timeout_ms, true);
}

InsertResult TimeWaitTable::insert_new(const TwEntryInit& init, std::int64_t now_ms, std::int64_t timeout_ms) {
  assert(!find(init.tuple));
  return insert_impl(init, now_ms, timeout_ms, false);
}

InsertResult TimeWaitTable::insert_impl(const TwEntryInit& init, std::int64_t now_ms, std::int64_t timeout_ms,
                                        bool lookup) {
  InsertResult r;
  const auto* la = std::find(laddrs_, laddrs_ + nladdrs_, init.tuple.laddr);
  if (la == laddrs_ + nladdrs_) {
    r.status = InsertStatus::kUnknownLocalAddr;
    return r;
  }
  const std::uint64_t h = hash(init.tuple);
  // One walk of the probe sequence answers whether the key is in and where it
  // would go. Without the lookup, a free slot at home is the place (the common
  // case), and anything else index_add()'s walk.
  std::uint32_t place = kNone;
  std::uint32_t passed = 0;
  if (lookup) {
    if (Handle old = probe_for_insert(init.tuple, h, &place, &passed)) {
      r.status = InsertStatus::kExists;
      r.handle = old;
      return r;
    }
  } else if ((~bucket(home_of(h)).occupied & index_detail::kSlotBits) != 0) {
    place = home_of(h);
  }
  if (live_ >= max_live_) {  // tcp_max_tw_buckets: inet_twsk_alloc fails (§4)
    // Evict one entry at most, so that the caller learns every freed tuple; above
    // a lowered cap the table drains by expiry, as Linux does.
    if (policy_ == TwOverflowPolicy::kDrop || live_ > max_live_ || max_live_ == 0 ||
        !evict_oldest(now_ms, &r.evicted, &r.evicted_active)) {
      ++overflows_;
      r.status = InsertStatus::kOverflow;
      return r;
    }
    ++evictions_;
    r.status = InsertStatus::kEvictedOldest;
    place = kNone;  // the eviction may have freed a slot earlier on the way
  }

  const std::uint32_t expiry =
      (rel_ms(now_ms) + static_cast<std::uint32_t>(std::clamp<std::int64_t>(timeout_ms, 0, len_ms_))) &
      kTimeMask;
  const std::uint32_t i = alloc_entry(timeout_ms >= len_ms_, expiry);
  assert(i != kNone);
  if (memo_[i % kMemo].index == i) memo_[i % kMemo].index = kNil;  // its tuple changes
  Entry& x = entries_[i];
  x.raddr = init.tuple.raddr.v;
  x.lport = init.tuple.lport;
  x.rport = init.tuple.rport;
  x.snd_nxt = init.snd_nxt.raw();
  x.rcv_nxt = init.rcv_nxt.raw();
  x.ts_recent = init.ts_recent;
  x.expiry = expiry | (static_cast<std::uint32_t>(la - laddrs_) << kAddrShift);
  x.window = init.window;
  x.entry_age = 0;
  if (place != kNone) {
    index_add_at(i, h, place, passed);
  } else {
    index_add(i, h);
  }
  // A reused tombstone stays where it is in the timer FIFO: its old slot is due
  // no later than the new expiry, and then it is moved lazily.
  const bool was_in_fifo = in_fifo(x);
  x.tnext = (x.tnext & kIdx) | kLive | (init.has_ts ? kHasTs : 0) |
            (init.fin_wait2 ? kFinWait2 : 0) | (init.wscale ? kWscale : 0) |
            (init.active ? kActive : 0) | (init.bound ? kBound : 0);
  if (!was_in_fifo) link_timer(i);
  ++live_;
  r.handle = Handle{i};
  return r;
}

void TimeWaitTable::kill(Handle h) {
  const std::uint32_t i = h.index;
  assert(entries_[i].tnext & kLive);
  unhash(i);
  entries_[i].tnext = (entries_[i].tnext & kIdx) | kTombInFifo;  // a tombstone in its FIFO
  --live_;
  free_entry(i, true);
}

void TimeWaitTable::rearm(Handle h, std::int64_t now_ms, bool refresh_entry_stamp) {
  Entry& x = e(h);
  const std::int64_t entered = refresh_entry_stamp ? now_ms : entry_ms(h);
  x.expiry = ((rel_ms(now_ms) + len_ms_) & kTimeMask) | (x.expiry & ~kTimeMask);
  x.entry_age = static_cast<std::uint16_t>(std::clamp<std::int64_t>(now_ms - entered, 0, 0xffff));
  // No FIFO move: the old slot is due first and re-links the entry then.
}

TimeWaitTable::Step TimeWaitTable::step(std::int64_t now_tick, std::uint32_t* expired) {
  if (drain_.head == kNone) {
    if (cursor_ >= now_tick) return Step::kIdle;
    // Empty slots are skipped in one step (the bitmap), so an idle gap is cheap.
    const std::int64_t t = next_nonempty(cursor_ + 1, now_tick);
    if (t > now_tick) {
      cursor_ = now_tick;
      return Step::kIdle;
    }
    cursor_ = t;
    const auto k = slot_of(t);
    drain_ = slots_[k];
    slots_[k] = Slot{kNone, kNone};
    mark_empty(k);
    ahead_ = drain_.head;
    ahead_dist_ = 0;
    return Step::kWork;
  }
  const std::uint32_t i = pop(drain_);
  prefetch_ahead();
  Entry& x = entries_[i];
  if ((x.tnext & kLive) == 0) {  // tombstone: already on the free list
    x.tnext &= ~kTombInFifo;
    return Step::kWork;
  }
  if (expiry_tick(x.expiry) > cursor_) {  // re-armed: lazy move
    link_timer(i);
    return Step::kWork;
  }
  *expired = i;
  return Step::kExpired;
}

// Keeps the loads of the entries and buckets kAhead places down the FIFO being
// drained in flight. Only a hint: `ahead_` may go stale (evict_oldest, lazy
// moves), which costs useless prefetches, never a wrong answer.
void TimeWaitTable::prefetch_ahead() {
  if (ahead_dist_ > 0) {
    --ahead_dist_;
  } else {
    ahead_ = drain_.head;
  }
  while (ahead_dist_ < kAhead && ahead_ < unused_) {
    const Entry& a = entries_[ahead_];
    const std::uint64_t h = hash(tuple(Handle{ahead_}));
    HashMemo& m = memo_[ahead_ % kMemo];
    m.index = ahead_;
    m.hash = h;
    prefetch_bucket(home_of(h));
    ahead_ = a.tnext & kIdx;
    if (ahead_ < unused_) __builtin_prefetch(&entries_[ahead_]);
    ++ahead_dist_;
  }
}

// Expiry's two halves are flattened: every helper they call (step,
// prefetch_ahead, release_expired, unhash, ...) is inlined into their loops,
// which saves a tenth of the instructions of an insert-plus-expire pair in
// call overhead and spills. (Flattening insert_impl too saved a little more in
// bursts but made the unbatched churn a third slower: the larger function
// overlapped less of its home bucket's cache miss with the work around it.)
[[gnu::flatten]] std::size_t TimeWaitTable::collect_due(std::int64_t now_tick, std::size_t* budget,
                                                        std::uint32_t* due, bool* idle) {
  std::size_t n = 0;
  while (n < kBatch && *budget > 0) {
    --*budget;
    std::uint32_t i = kNone;
    switch (step(now_tick, &i)) {
      case Step::kIdle:
        *idle = true;
        return n;
      case Step::kWork:
        break;
      case Step::kExpired:
        due[n++] = i;
        break;
    }
  }
  return n;
}

[[gnu::flatten]] void TimeWaitTable::release_due(const std::uint32_t* due, std::size_t n) {
  for (std::size_t k = 0; k < n; ++k) release_expired(due[k]);
}

void TimeWaitTable::release_expired(std::uint32_t i) {
  const HashMemo& m = memo_[i % kMemo];
  unhash(i, m.index == i ? m.hash : hash(tuple(Handle{i})));
  entries_[i].tnext = kNil;  // out of the FIFO, no flags
  --live_;
  free_entry(i, false);
}

bool TimeWaitTable::evict_oldest(std::int64_t now_ms, FourTuple* evicted, bool* evicted_active) {
  // The oldest live entry is the first one due, scanning slots from the cursor.
  // Tombstones and re-armed entries met on the way are popped or moved, as
  // expire() would; an entry moved back into the slot being scanned means the
  // rest of that slot is a later lap. If expire() lags, the scan covers the
  // lag too, so every live entry is within reach.
  const std::int64_t now_tick = std::max(cursor_, (now_ms - epoch_ms_) / gran_ms_);
  const std::int64_t limit = now_tick + nslots_;
  for (std::int64_t t = cursor_; t <= limit; t = next_nonempty(t + 1, limit)) {
    const auto k = slot_of(t);
    const bool draining = t == cursor_;
    Slot& s = draining ? drain_ : slots_[k];
    std::uint32_t first_rotated = kNone;
    while (s.head != kNone && s.head != first_rotated) {
      const std::uint32_t i = draining ? pop(s) : pop_slot(k);
      Entry& x = entries_[i];
      if ((x.tnext & kLive) == 0) {
        x.tnext &= ~kTombInFifo;
        continue;
      }
      if (expiry_tick(x.expiry) > t) {
        link_timer(i);
        if (s.tail == i && first_rotated == kNone) first_rotated = i;
        continue;
      }
      *evicted = tuple(Handle{i});
      *evicted_active = (x.tnext & kActive) != 0;
      release_expired(i);
      return true;
    }
  }
  return false;
}

}  // namespace twstack::tw
