// A latency histogram in the manner of HdrHistogram: log-linear buckets, so
// recording is a bit scan, a shift and an increment (no allocation, no
// division, no per-value storage) and any percentile comes back within
// 1/kSubBuckets (3.1 %) of the true value.
//
// Values below 2 * kSubBuckets are counted exactly. Above that, each power of
// two [2^k, 2^(k+1)) is split into kSubBuckets equal buckets. Values are
// unit-free (the churn clients record nanoseconds); anything at or above
// 2^kMaxBits (about 18 minutes in ns) lands in the last bucket.
//
// Histograms of the same shape add up (queues, processes) and subtract (the
// totals at t minus the totals a second before: that second's histogram).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace twstack::app {

class LatencyHistogram {
 public:
  static constexpr unsigned kSubBits = 5;
  static constexpr std::uint64_t kSubBuckets = 1u << kSubBits;  // per power of two
  static constexpr unsigned kMaxBits = 40;
  static constexpr std::size_t kExact = 2 * kSubBuckets;       // values 0 .. kExact-1
  static constexpr std::size_t kBuckets = kExact + (kMaxBits - kSubBits - 1) * kSubBuckets;

  void record(std::uint64_t v) {
    ++n_[index(v)];
    ++count_;
    max_ = std::max(max_, v);
  }

  std::uint64_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  // The largest value recorded (exact; for a difference, the top of its highest bucket).
  std::uint64_t max() const { return max_; }

  // The value at quantile q (0 < q <= 1): the highest value that falls in the
  // bucket holding the ceil(q * count)-th smallest value, capped at max().
  // 0 when empty.
  std::uint64_t percentile(double q) const {
    if (count_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_) + 0.999999);
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += n_[i];
      if (seen >= rank) return std::min(upper(i), max_);
    }
    return max_;
  }

  void add(const LatencyHistogram& o) {
    for (std::size_t i = 0; i < kBuckets; ++i) n_[i] += o.n_[i];
    count_ += o.count_;
    max_ = std::max(max_, o.max_);
  }

  // This histogram minus an earlier state of the same one (every bucket of
  // `earlier` at most this one's). The max of the difference is the top of
  // its highest non-empty bucket, capped at this one's max.
  LatencyHistogram since(const LatencyHistogram& earlier) const {
    LatencyHistogram d;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      d.n_[i] = n_[i] - earlier.n_[i];
      if (d.n_[i] != 0) d.max_ = std::min(upper(i), max_);
    }
    d.count_ = count_ - earlier.count_;
    return d;
  }

  static std::size_t index(std::uint64_t v) {
    if (v < kExact) return static_cast<std::size_t>(v);
    v = std::min<std::uint64_t>(v, (std::uint64_t{1} << kMaxBits) - 1);
    const unsigned shift = static_cast<unsigned>(std::bit_width(v)) - 1 - kSubBits;  // >= 1
    const std::uint64_t mantissa = v >> shift;  // in [kSubBuckets, 2 * kSubBuckets)
    return kExact + (shift - 1) * kSubBuckets + static_cast<std::size_t>(mantissa - kSubBuckets);
  }
  // The highest value that index() maps to bucket i.
  static std::uint64_t upper(std::size_t i) {
    if (i < kExact) return i;
    const std::size_t j = i - kExact;
    const unsigned shift = static_cast<unsigned>(j / kSubBuckets) + 1;
    const std::uint64_t mantissa = kSubBuckets + j % kSubBuckets;
    return ((mantissa + 1) << shift) - 1;
  }

  bool operator==(const LatencyHistogram&) const = default;

 private:
  std::array<std::uint64_t, kBuckets> n_{};
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
};

// The percentiles every report gives, in the histogram's unit.
struct Percentiles {
  std::uint64_t count = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
};

inline Percentiles percentiles(const LatencyHistogram& h) {
  return {h.count(), h.percentile(0.50), h.percentile(0.90), h.percentile(0.99), h.percentile(0.999), h.max()};
}

}  // namespace twstack::app
