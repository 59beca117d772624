// TCP sequence numbers: 32-bit modular arithmetic (RFC 9293 §3.4).
//
// Comparisons are defined on the signed distance, so they survive
// wraparound as long as the two values are within 2^31 of each other.
#pragma once

#include <cstdint>

namespace twstack {

class Seq {
 public:
  constexpr Seq() = default;
  constexpr explicit Seq(std::uint32_t v) : v_(v) {}

  constexpr std::uint32_t raw() const { return v_; }

  constexpr Seq operator+(std::uint32_t n) const { return Seq(v_ + n); }
  constexpr Seq operator-(std::uint32_t n) const { return Seq(v_ - n); }
  constexpr Seq& operator+=(std::uint32_t n) { v_ += n; return *this; }
  // Signed distance from `o` to this (positive when this is after o).
  constexpr std::int32_t operator-(Seq o) const {
    return static_cast<std::int32_t>(v_ - o.v_);
  }

  constexpr bool operator==(const Seq&) const = default;
  friend constexpr bool operator<(Seq a, Seq b) { return (a - b) < 0; }
  friend constexpr bool operator<=(Seq a, Seq b) { return (a - b) <= 0; }
  friend constexpr bool operator>(Seq a, Seq b) { return (a - b) > 0; }
  friend constexpr bool operator>=(Seq a, Seq b) { return (a - b) >= 0; }

 private:
  std::uint32_t v_ = 0;
};

constexpr Seq seq_max(Seq a, Seq b) { return a < b ? b : a; }
constexpr Seq seq_min(Seq a, Seq b) { return a < b ? a : b; }

// lo <= s < hi, modular.
constexpr bool seq_in(Seq s, Seq lo, Seq hi) { return lo <= s && s < hi; }

}  // namespace twstack
