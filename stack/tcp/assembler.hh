// Out-of-order receive tracking (RFC 9293 §3.10.7.4, "seventh, process the
// segment text": segments beyond RCV.NXT are held, not dropped).
//
// Keeps a small fixed set of byte ranges, as offsets from the contiguous
// tail, like smoltcp's Assembler. A segment that would need more ranges than
// that is dropped and counted by the caller; the peer retransmits it.
#pragma once

#include <array>
#include <cstdint>

namespace twstack::tcp {

class Assembler {
 public:
  static constexpr std::uint8_t kMaxRanges = 6;
  struct Range {
    std::uint32_t begin;
    std::uint32_t end;
  };

  bool empty() const { return n_ == 0; }
  std::uint8_t count() const { return n_; }
  const Range& range(std::uint8_t i) const { return r_[i]; }
  void clear() { n_ = 0; }

  // Records [off, off+len) as held. Returns false (and records nothing)
  // when the set is full and the range touches none already held.
  bool add(std::uint32_t off, std::uint32_t len) {
    if (len == 0) return true;
    Range nr{off, off + len};
    std::uint8_t i = 0;
    while (i < n_ && r_[i].end < nr.begin) ++i;  // first range that may touch
    std::uint8_t j = i;
    while (j < n_ && r_[j].begin <= nr.end) {     // merge every touching range
      nr.begin = nr.begin < r_[j].begin ? nr.begin : r_[j].begin;
      nr.end = nr.end > r_[j].end ? nr.end : r_[j].end;
      ++j;
    }
    std::uint8_t merged = static_cast<std::uint8_t>(j - i);
    if (merged == 0 && n_ == kMaxRanges) return false;
    // Replace r_[i, j) by nr.
    if (merged == 0) {
      for (std::uint8_t k = n_; k > i; --k) r_[k] = r_[k - 1];
      ++n_;
    } else if (merged > 1) {
      for (std::uint8_t k = j; k < n_; ++k) r_[k - merged + 1] = r_[k];
      n_ = static_cast<std::uint8_t>(n_ - merged + 1);
    }
    r_[i] = nr;
    return true;
  }

  // The tail moved forward by `n` bytes (in-order data arrived). Returns how
  // many further bytes became contiguous (a held range now starting at 0),
  // and rebases the remaining ranges onto the new tail.
  std::uint32_t advance(std::uint32_t n) {
    std::uint32_t covered = n;
    std::uint8_t drop = 0;
    while (drop < n_ && r_[drop].begin <= covered) {
      if (r_[drop].end > covered) covered = r_[drop].end;
      ++drop;
    }
    for (std::uint8_t k = drop; k < n_; ++k) {
      r_[k - drop] = Range{r_[k].begin - covered, r_[k].end - covered};
    }
    n_ = static_cast<std::uint8_t>(n_ - drop);
    return covered - n;
  }

 private:
  std::array<Range, kMaxRanges> r_{};
  std::uint8_t n_ = 0;
};

}  // namespace twstack::tcp
