// The in-process link: fault decisions, slot pool and per-direction heaps.
#include "drivers/memory/link.hh"

#include <algorithm>
#include <cstring>

namespace twstack::memory {

namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// Where a corrupting flip may land: after the Ethernet header and, for IPv4,
// before the end of the datagram, so Ethernet padding (which no checksum
// covers) is never chosen.
std::size_t corruptible_end(std::span<const std::uint8_t> f) {
  constexpr std::size_t kEth = 14;
  if (f.size() >= kEth + 20 && f[12] == 0x08 && f[13] == 0x00) {
    std::size_t total = (std::size_t{f[kEth + 2]} << 8) | f[kEth + 3];
    if (total >= 20 && kEth + total <= f.size()) return kEth + total;
  }
  return f.size();
}

}  // namespace

Rng::Rng(std::uint64_t seed) {
  std::uint64_t x = seed;
  for (std::uint64_t& w : s_) w = splitmix64(x);
}

std::uint64_t Rng::next() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

Link::Link(const FaultSpec& faults, std::uint64_t seed, std::size_t capacity_frames,
           std::size_t max_frame)
    : faults_(faults),
      capacity_(std::max<std::size_t>(capacity_frames, 1)),
      max_frame_(std::max<std::size_t>(max_frame, 1)),
      // Not zero-filled: untouched slots cost no memory until first used.
      mem_(std::make_unique_for_overwrite<std::uint8_t[]>(capacity_ * max_frame_)),
      slots_(std::make_unique<Slot[]>(capacity_)),
      free_(std::make_unique<std::uint32_t[]>(capacity_)),
      nfree_(capacity_),
      heap_{std::make_unique<std::uint32_t[]>(capacity_), std::make_unique<std::uint32_t[]>(capacity_)},
      rng_{Rng(seed ^ 0x6c696e6b30ULL), Rng(seed ^ 0x6c696e6b31ULL)} {
  if (faults_.delay.us < 0) faults_.delay = Duration{};
  if (faults_.reorder_delay.us < 0) faults_.reorder_delay = Duration{};
  // Lowest slot first, so a quiet link touches few pages.
  for (std::size_t i = 0; i < capacity_; ++i) free_[i] = static_cast<std::uint32_t>(capacity_ - 1 - i);
}

void Link::send(int from, std::span<const std::uint8_t> frame, Instant now) {
  const int dir = from & 1;
  const int to = 1 - dir;
  Stats& st = stats_[dir];
  Rng& rng = rng_[dir];
  ++st.sent;
  // Every decision is drawn for every frame, so the stream of draws (and so
  // the fate of later frames) does not depend on earlier outcomes.
  const double u_loss = rng.uniform();
  const double u_dup = rng.uniform();
  const double u_reorder = rng.uniform();
  const double u_corrupt = rng.uniform();
  const std::uint64_t r = rng.next();
  if (frame.size() > max_frame_) {
    ++st.oversize;
    return;
  }
  if (u_loss < faults_.loss) {
    ++st.lost;
    return;
  }
  Instant due = now + faults_.delay;
  if (u_reorder < faults_.reorder) {
    due += faults_.reorder_delay;
    ++st.reordered;
  }
  std::uint32_t slot = 0;
  if (!enqueue(frame, due, &slot)) {
    ++st.overflow;
    return;
  }
  const std::size_t end = corruptible_end(frame);
  if (u_corrupt < faults_.corrupt && end > 14) {
    std::size_t pos = 14 + static_cast<std::size_t>((r >> 8) % (end - 14));
    bytes(slot)[pos] ^= static_cast<std::uint8_t>(1 + (r & 0xff) % 255);  // never 0: always a change
    ++st.corrupted;
  }
  heap_push(to, slot);
  if (u_dup < faults_.dup) {
    std::uint32_t copy = 0;
    if (!enqueue(std::span<const std::uint8_t>(bytes(slot), frame.size()), due, &copy)) {
      ++st.overflow;
      return;
    }
    heap_push(to, copy);
    ++st.duplicated;
  }
}

bool Link::enqueue(std::span<const std::uint8_t> frame, Instant due, std::uint32_t* slot) {
  if (nfree_ == 0) return false;
  std::uint32_t s = free_[--nfree_];
  Slot& meta = slots_[s];
  meta.due = due;
  meta.order = next_order_++;
  meta.len = static_cast<std::uint32_t>(frame.size());
  if (!frame.empty()) std::memcpy(bytes(s), frame.data(), frame.size());
  *slot = s;
  return true;
}

std::optional<Instant> Link::next_due() const {
  std::optional<Instant> best;
  for (int d = 0; d < 2; ++d) {
    if (heap_len_[d] == 0) continue;
    Instant t = slots_[heap_[d][0]].due;
    if (!best || t < *best) best = t;
  }
  return best;
}

// A plain binary min-heap over slot indices, in the preallocated array.
void Link::heap_push(int to, std::uint32_t slot) {
  std::uint32_t* h = heap_[to].get();
  std::size_t i = heap_len_[to]++;
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (!before(slot, h[parent])) break;
    h[i] = h[parent];
    i = parent;
  }
  h[i] = slot;
}

std::uint32_t Link::heap_pop(int to) {
  std::uint32_t* h = heap_[to].get();
  std::uint32_t top = h[0];
  std::size_t n = --heap_len_[to];
  if (n == 0) return top;
  std::uint32_t last = h[n];
  std::size_t i = 0;
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && before(h[child + 1], h[child])) ++child;
    if (!before(h[child], last)) break;
    h[i] = h[child];
    i = child;
  }
  h[i] = last;
  return top;
}

}  // namespace twstack::memory
