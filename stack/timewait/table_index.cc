// TIME_WAIT table: the bucketized index (see table.hh for the layout).
#include <algorithm>
#include <bit>
#include <cassert>

#include "stack/timewait/table.hh"
#include "stack/timewait/table_index.hh"

namespace twstack::tw {

using namespace index_detail;

Handle TimeWaitTable::find(const FourTuple& t) const {
  // Every connect() candidate and every segment without a connection asks;
  // an empty table (TIME_WAIT on the peer) answers without a bucket miss.
  if (live_ == 0) return Handle{};
  return probe(t, hash(t));
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
      const Bucket& b = bucket(home_of(hs[k]));
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

std::size_t TimeWaitTable::overflowed_buckets() const {
  std::size_t n = 0;
  for (std::uint32_t b = 0; b < nbuckets_; ++b) n += bucket(b).overflow != 0;
  return n;
}

}  // namespace twstack::tw
