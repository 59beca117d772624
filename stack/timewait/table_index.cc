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

void TimeWaitTable::prefetch_insert(const FourTuple& t) const {
  const std::uint32_t b = home_of(hash(t));
  prefetch_bucket(b);
  prefetch_bucket(b ^ 1);  // nbuckets_ is even: the buddy exists
}

// The candidate for t in bucket b: the first slot whose tag and high tag bits
// match (its entry prefetched), else kMiss when no key of t's class went past
// b, else kProbe.
std::uint32_t TimeWaitTable::scan_bucket(std::uint32_t b, std::uint64_t h) const {
  const Bucket& k = bucket(b);
  const std::uint32_t high = high_tag_of(h);
  for (std::uint32_t m = tag_mask(k, tag_of(h)); m != 0; m &= m - 1) {
    const std::uint32_t w = k.slot[std::countr_zero(m)];
    if ((w & ~kIdx) != high) continue;
    __builtin_prefetch(&entries_[w & kIdx]);
    return w & kIdx;
  }
  return ovf_count(k.overflow, ovf_shift(h)) != 0 ? kProbe : kMiss;
}

void TimeWaitTable::find_batch(std::span<const FourTuple> ts, std::span<Handle> out) const {
  assert(out.size() >= ts.size());
  if (live_ == 0) {
    std::fill_n(out.begin(), ts.size(), Handle{});
    return;
  }
  // Per tuple after the bucket passes: a definite miss, a candidate entry to
  // compare, or a probe the first two buckets could not settle (overflow
  // past them, or a tag match that turns out false). A key its full home sent
  // on is found in the home's buddy: the second pass prefetches those buddies,
  // the third scans them, so a burst's hits past home cost one more memory
  // latency rather than one each.
  std::uint64_t hs[kBatch];
  std::uint32_t cand[kBatch];
  for (std::size_t base = 0; base < ts.size(); base += kBatch) {
    const std::size_t n = std::min(kBatch, ts.size() - base);
    const FourTuple* t = ts.data() + base;
    for (std::size_t k = 0; k < n; ++k) {
      hs[k] = hash(t[k]);
      prefetch_bucket(home_of(hs[k]));
    }
    bool buddies = false;
    for (std::size_t k = 0; k < n; ++k) {
      cand[k] = scan_bucket(home_of(hs[k]), hs[k]);
      if (cand[k] == kProbe) {
        prefetch_bucket(next_bucket(hs[k], home_of(hs[k]), 0));
        buddies = true;
      }
    }
    for (std::size_t k = 0; buddies && k < n; ++k) {
      if (cand[k] == kProbe) cand[k] = scan_bucket(next_bucket(hs[k], home_of(hs[k]), 0), hs[k]);
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
