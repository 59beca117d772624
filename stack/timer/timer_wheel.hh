// Hierarchical timer wheel with intrusive hooks, after Juho Snellman's ratas:
// advance() takes a budget, schedule_in_range() avoids churn for timers pushed
// back on every segment, ticks_to_next_event() tells an idle queue how long it
// may sleep. The wheel never reads a clock: time is ticks passed in.
//
// Layout: 8 levels of 256 slots, one byte of the tick each, so the levels
// cover every 64-bit tick and nothing has to be parked and re-cascaded. A
// timer due at `e` sits at the level of the highest byte in which `e` differs
// from now(), in the slot named by that byte of `e`. Two facts follow and the
// code relies on them:
//  - at each level only slots after now()'s byte there are occupied (the slot
//    at now()'s byte only while the tick now() is being processed), so the
//    next tick with work is the first occupied slot of the lowest occupied
//    level, found with one 256-bit bitmap per level;
//  - a slot is cascaded when time reaches its first tick, and each timer then
//    moves to a strictly lower level (at most 7 moves in its life) or, if it
//    is due at that very tick, to the level-0 slot being run. Timers therefore
//    fire exactly at their due tick.
// Schedule and cancel are O(1); advancing over empty ticks costs nothing per
// tick, only per occupied slot.
#pragma once

#include <array>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>

namespace twstack::timer {

using Tick = std::uint64_t;

class TimerWheel;

// Embedded in its owner (a connection has several). Destroying an active hook
// cancels it, which is why it remembers its wheel.
class TimerHook {
 public:
  TimerHook() = default;
  TimerHook(const TimerHook&) = delete;
  TimerHook& operator=(const TimerHook&) = delete;
  ~TimerHook();

  bool active() const { return wheel_ != nullptr; }
  Tick expiry() const { return expiry_; }  // due tick; valid while active

  std::uint32_t tag = 0;  // free for the owner: which of its timers this is

 private:
  friend class TimerWheel;
  std::uint8_t level_ = 0;  // fills tag's padding: sizeof stays 40
  TimerHook* next_ = nullptr;
  TimerHook** pprev_ = nullptr;  // &slot head or &prev->next_: O(1) unlink
  TimerWheel* wheel_ = nullptr;  // non-null iff active
  Tick expiry_ = 0;
};

class TimerWheel {
 public:
  static constexpr unsigned kSlotBits = 8;
  static constexpr unsigned kSlots = 1u << kSlotBits;
  static constexpr unsigned kLevels = 64 / kSlotBits;
  static constexpr Tick kMaxTick = ~Tick{0};

  explicit TimerWheel(Tick now = 0) : now_(now) {}
  // Leaves every hook still scheduled inactive, so owners may outlive it.
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  Tick now() const { return now_; }
  std::size_t size() const { return size_; }

  // Due at now() + max(delta, 1), saturating; reschedules if active.
  void schedule(TimerHook& h, Tick delta) {
    if (delta == 0) delta = 1;
    schedule_at(h, delta > kMaxTick - now_ ? kMaxTick : now_ + delta);
  }
  // Absolute; `when` <= now() means the next tick. A hook active on another
  // wheel moves to this one.
  void schedule_at(TimerHook& h, Tick when);
  // Leaves an active hook alone if it is due within [now+start, now+end],
  // else schedules it at now+end (ratas): a retransmission timer pushed back
  // on every ACK then costs a compare, not an unlink and a link. An empty
  // range (end < start) always reschedules.
  void schedule_in_range(TimerHook& h, Tick start, Tick end) {
    if (h.wheel_ == this) {
      Tick in = h.expiry_ - now_;
      if (in >= start && in <= end) return;
    }
    schedule(h, end);
  }
  // No-op if inactive. O(1). Acts on whichever wheel the hook is on.
  void cancel(TimerHook& h) {
    if (h.wheel_ != nullptr) h.wheel_->remove(h);
  }

  // Moves time forward to `target` (a smaller target counts as now()),
  // calling on_expire(TimerHook&) for each hook as it comes due, in order of
  // due tick (any order within a tick). The hook is inactive when its
  // callback runs; the callback may schedule or cancel any hook but must not
  // advance this wheel. `max_to_run` bounds the work of the call: each
  // callback and each timer cascaded down a level costs one, so a million
  // timers sharing a slot never stall a poll. Returns false if the budget ran
  // out first; now() then stays at the tick being processed (at most
  // `target`), and the next call finishes that tick before going further.
  template <class F>
  bool advance_to(Tick target, std::size_t max_to_run, F&& on_expire);
  template <class F>
  bool advance(Tick delta, std::size_t max_to_run, F&& on_expire) {
    Tick target = delta > kMaxTick - now_ ? kMaxTick : now_ + delta;
    return advance_to(target, max_to_run, on_expire);
  }

  // Ticks until the earliest timer is due: 0 if work is pending at now()
  // (a budget stop), `max` if the wheel is empty, never more than `max`.
  // Exact when that timer is within the current 256-tick block (level 0);
  // otherwise a lower bound: the first tick of its slot, at most 256^level - 1
  // ticks early. Waking at that tick and advancing cascades the slot, after
  // which a new call is closer. Looks at one bitmap and one slot per level.
  Tick ticks_to_next_event(Tick max = kMaxTick) const;

 private:
  using Bitmap = std::array<std::uint64_t, kSlots / 64>;
  static constexpr Tick kSlotMask = kSlots - 1;

  static unsigned level_for(Tick due, Tick now) {
    // Highest differing byte; due == now (cascaded onto its own tick) -> 0.
    return static_cast<unsigned>(std::bit_width((due ^ now) | 1) - 1) / kSlotBits;
  }
  static unsigned slot_of(Tick t, unsigned level) {
    return static_cast<unsigned>((t >> (level * kSlotBits)) & kSlotMask);
  }
  static int first_set(const Bitmap& b, unsigned from);

  TimerHook*& head(unsigned level, unsigned slot) { return slots_[level][slot]; }
  void set_bit(unsigned level, unsigned slot);
  void clear_bit(unsigned level, unsigned slot);
  void link(TimerHook& h);
  void unlink(TimerHook& h);
  void remove(TimerHook& h);
  bool pending() const;
  bool next_work_tick(Tick& t) const;
  bool cascade_due(std::size_t& budget);

  Tick now_;
  std::size_t size_ = 0;
  std::uint32_t level_mask_ = 0;  // bit L set iff level L has an occupied slot
  std::array<Bitmap, kLevels> occupied_{};
  std::array<std::array<TimerHook*, kSlots>, kLevels> slots_{};
};

// ---------------------------------------------------------------------------

inline TimerHook::~TimerHook() {
  if (wheel_ != nullptr) wheel_->cancel(*this);
}

inline TimerWheel::~TimerWheel() {
  for (auto& level : slots_) {
    for (TimerHook* h : level) {
      while (h != nullptr) {
        TimerHook* next = h->next_;
        h->next_ = nullptr;
        h->pprev_ = nullptr;
        h->wheel_ = nullptr;
        h = next;
      }
    }
  }
}

inline void TimerWheel::schedule_at(TimerHook& h, Tick when) {
  if (h.wheel_ == this) {
    unlink(h);  // stays counted in size_
  } else {
    if (h.wheel_ != nullptr) h.wheel_->remove(h);
    h.wheel_ = this;
    ++size_;
  }
  // Never onto now_ itself: its slot may be mid-run. At kMaxTick there is no
  // later tick, so it goes there and runs in the current or next advance.
  if (when <= now_) when = now_ == kMaxTick ? now_ : now_ + 1;
  h.expiry_ = when;
  link(h);
}

inline int TimerWheel::first_set(const Bitmap& b, unsigned from) {
  if (from >= kSlots) return -1;
  unsigned w = from / 64;
  std::uint64_t word = b[w] & (~std::uint64_t{0} << (from % 64));
  for (;;) {
    if (word != 0) return static_cast<int>(w * 64 + static_cast<unsigned>(std::countr_zero(word)));
    if (++w == b.size()) return -1;
    word = b[w];
  }
}

inline void TimerWheel::set_bit(unsigned level, unsigned slot) {
  occupied_[level][slot / 64] |= std::uint64_t{1} << (slot % 64);
  level_mask_ |= 1u << level;
}

inline void TimerWheel::clear_bit(unsigned level, unsigned slot) {
  Bitmap& b = occupied_[level];
  b[slot / 64] &= ~(std::uint64_t{1} << (slot % 64));
  if ((b[0] | b[1] | b[2] | b[3]) == 0) level_mask_ &= ~(1u << level);
}

inline void TimerWheel::link(TimerHook& h) {
  unsigned level = level_for(h.expiry_, now_);
  unsigned slot = slot_of(h.expiry_, level);
  TimerHook*& first = head(level, slot);
  h.level_ = static_cast<std::uint8_t>(level);
  h.next_ = first;
  h.pprev_ = &first;
  if (first != nullptr) {
    first->pprev_ = &h.next_;
  } else {
    set_bit(level, slot);
  }
  first = &h;
}

inline void TimerWheel::unlink(TimerHook& h) {
  *h.pprev_ = h.next_;
  if (h.next_ != nullptr) h.next_->pprev_ = h.pprev_;
  // The stored level, not level_for(): a slot being cascaded holds timers
  // whose byte there already equals now_'s.
  unsigned slot = slot_of(h.expiry_, h.level_);
  if (head(h.level_, slot) == nullptr) clear_bit(h.level_, slot);
}

inline void TimerWheel::remove(TimerHook& h) {
  unlink(h);
  h.next_ = nullptr;
  h.pprev_ = nullptr;
  h.wheel_ = nullptr;
  --size_;
}

// Is work left at now_: its level-0 slot, or a slot whose cascade stopped on
// the budget? Elsewhere only slots after now_'s byte are occupied.
inline bool TimerWheel::pending() const {
  for (std::uint32_t m = level_mask_; m != 0; m &= m - 1) {
    auto level = static_cast<unsigned>(std::countr_zero(m));
    if (slots_[level][slot_of(now_, level)] != nullptr) return true;
  }
  return false;
}

// First tick after now_ with work, assuming none is pending at now_. Timers at
// a lower level are all due before any timer at a higher one (they share
// now_'s bytes above their level, higher ones do not), so it is the first
// occupied slot of the lowest occupied level.
inline bool TimerWheel::next_work_tick(Tick& t) const {
  if (level_mask_ == 0) return false;
  auto level = static_cast<unsigned>(std::countr_zero(level_mask_));
  int slot = first_set(occupied_[level], slot_of(now_, level) + 1);
  assert(slot >= 0);
  unsigned shift = level * kSlotBits;
  unsigned above = shift + kSlotBits;  // now_'s bytes above `level` stay
  Tick base = above >= 64 ? 0 : now_ & ~((Tick{1} << above) - 1);
  t = base | (static_cast<Tick>(slot) << shift);
  return true;
}

// Moves down the timers of every slot whose first tick is now_. Only levels
// whose lower bytes of now_ are all zero can have one.
inline bool TimerWheel::cascade_due(std::size_t& budget) {
  unsigned top = static_cast<unsigned>(std::countr_zero(now_)) / kSlotBits;
  if (top > kLevels - 1) top = kLevels - 1;  // now_ == 0
  for (unsigned level = top; level >= 1; --level) {
    if ((level_mask_ & (1u << level)) == 0) continue;
    TimerHook*& first = head(level, slot_of(now_, level));
    while (first != nullptr) {
      if (budget == 0) return false;
      --budget;
      TimerHook& h = *first;
      unlink(h);
      link(h);  // to a lower level: its byte at `level` now equals now_'s
    }
  }
  return true;
}

inline Tick TimerWheel::ticks_to_next_event(Tick max) const {
  if (pending()) return 0;
  Tick t = 0;
  if (!next_work_tick(t)) return max;
  Tick in = t - now_;
  return in < max ? in : max;
}

template <class F>
bool TimerWheel::advance_to(Tick target, std::size_t max_to_run, F&& on_expire) {
  std::size_t budget = max_to_run;
  for (;;) {
    if (!cascade_due(budget)) return false;
    TimerHook*& due = head(0, slot_of(now_, 0));
    while (due != nullptr) {
      if (budget == 0) return false;
      --budget;
      TimerHook& h = *due;
      remove(h);
      on_expire(h);  // may relink anything, but never into this slot
    }
    if (now_ >= target) return true;
    Tick next = 0;
    if (!next_work_tick(next) || next > target) {
      now_ = target;
      return true;
    }
    now_ = next;
  }
}

}  // namespace twstack::timer
