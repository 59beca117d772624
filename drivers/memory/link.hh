// An in-process, full-duplex Ethernet link in virtual time, with faults
// injected from a seed: loss, duplication, reordering, corruption and a
// fixed delay. It stands in for a wire (and a pair of NIC queues) in
// scenario tests, the `sim` commands and benchmarks.
//
// Frames are copied into slots preallocated at construction; frames in
// flight wait in one binary heap per direction, ordered by due time and then
// by send order. Nothing is allocated per frame: a full link (or a frame
// longer than a slot) is a counted drop, as a NIC ring overflow would be.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "stack/base/time.hh"

namespace twstack::memory {

// Per-frame fault probabilities (each in [0, 1]) and delays. Every frame
// takes `delay`; a reordered frame takes `reorder_delay` more, so frames sent
// after it overtake it.
struct FaultSpec {
  double loss = 0;
  double dup = 0;
  double reorder = 0;
  double corrupt = 0;
  Duration delay{};
  Duration reorder_delay = Duration::millis(1);
};

// A small, fast, seedable generator (xoshiro256**, seeded by splitmix64).
// Deterministic for a seed on every platform, unlike std:: distributions.
class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  std::uint64_t next();
  // Uniform in [0, 1), 53 bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n) for n > 0 (modulo bias < n / 2^64: negligible here).
  std::uint64_t below(std::uint64_t n) { return next() % n; }

 private:
  std::uint64_t s_[4];
};

class Link {
 public:
  // Counters per direction, by sending endpoint. Every frame given to
  // send() counts in `sent`; then it is either dropped (lost, overflow or
  // oversize) or delivered; a duplicate counts once more in `delivered`.
  struct Stats {
    std::uint64_t sent = 0;
    std::uint64_t delivered = 0;
    std::uint64_t lost = 0;        // dropped by the `loss` fault
    std::uint64_t duplicated = 0;  // extra copies made by the `dup` fault
    std::uint64_t reordered = 0;   // frames held back by `reorder_delay`
    std::uint64_t corrupted = 0;   // frames with one byte flipped
    std::uint64_t overflow = 0;    // dropped: every slot in use
    std::uint64_t oversize = 0;    // dropped: longer than max_frame
  };

  Link(const FaultSpec& faults, std::uint64_t seed, std::size_t capacity_frames = 65536,
       std::size_t max_frame = 2048);
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // Copies `frame` from endpoint `from` (0 or 1) towards the other one,
  // applying the faults.
  void send(int from, std::span<const std::uint8_t> frame, Instant now);

  // Calls f(std::span<const std::uint8_t>) for each frame to endpoint `to`
  // due at or before `now`, in due order (ties in send order). Frames that
  // f itself sends wait for the next call, so an echo cannot loop here.
  // Returns how many frames were handed over.
  template <class F>
  std::size_t deliver(int to, Instant now, F&& f);

  // The earliest due time of any frame in flight, either direction.
  std::optional<Instant> next_due() const;
  std::size_t in_flight() const { return heap_len_[0] + heap_len_[1]; }
  std::size_t capacity() const { return capacity_; }

  const Stats& stats(int from) const { return stats_[from & 1]; }
  const FaultSpec& faults() const { return faults_; }

 private:
  struct Slot {
    Instant due{};
    std::uint64_t order = 0;  // send order, breaks ties between equal due times
    std::uint32_t len = 0;
  };

  bool before(std::uint32_t x, std::uint32_t y) const {
    const Slot& a = slots_[x];
    const Slot& b = slots_[y];
    return a.due < b.due || (a.due == b.due && a.order < b.order);
  }
  std::uint8_t* bytes(std::uint32_t slot) const { return mem_.get() + std::size_t{slot} * max_frame_; }
  // Takes a free slot holding a copy of `frame`, due at `due`; false if none.
  bool enqueue(std::span<const std::uint8_t> frame, Instant due, std::uint32_t* slot);
  void heap_push(int to, std::uint32_t slot);
  std::uint32_t heap_pop(int to);

  FaultSpec faults_;
  std::size_t capacity_;
  std::size_t max_frame_;
  std::unique_ptr<std::uint8_t[]> mem_;
  std::unique_ptr<Slot[]> slots_;
  std::unique_ptr<std::uint32_t[]> free_;
  std::size_t nfree_;
  std::unique_ptr<std::uint32_t[]> heap_[2];  // slot indices, min-heap by (due, order)
  std::size_t heap_len_[2] = {0, 0};
  std::uint64_t next_order_ = 0;
  Rng rng_[2];  // one stream per direction: faults one way never shift the other's
  Stats stats_[2];
};

template <class F>
std::size_t Link::deliver(int to, Instant now, F&& f) {
  const int dir = to & 1;
  const std::uint64_t limit = next_order_;
  std::size_t n = 0;
  while (heap_len_[dir] > 0) {
    const Slot& top = slots_[heap_[dir][0]];
    if (top.due > now || top.order >= limit) break;
    std::uint32_t s = heap_pop(dir);
    ++stats_[1 - dir].delivered;
    ++n;
    f(std::span<const std::uint8_t>(bytes(s), slots_[s].len));
    free_[nfree_++] = s;
  }
  return n;
}

}  // namespace twstack::memory
