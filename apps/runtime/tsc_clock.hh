// The runtime's clock, shared with apps/forward: the engines take `now`
// from it once per loop.
#pragma once

#include <rte_cycles.h>

#include <cstdint>

#include "stack/base/time.hh"

namespace twstack::app {

// Microseconds on the TSC (rte_get_timer_cycles): monotonic, and a few
// nanoseconds to read. cycles x (10^6 / hz) as a 0.64 fixed-point multiply:
// one multiplication per loop instead of two divisions, exact to 2^-64.
class TscClock {
 public:
  __extension__ using U128 = unsigned __int128;  // GCC and Clang: one 64x64 -> 128 multiply

  // hz above 1 MHz (every TSC and HPET) keeps the factor below 2^64.
  TscClock() : mult_(static_cast<std::uint64_t>((U128{1000000} << 64) / rte_get_timer_hz())) {}
  Instant now() const {
    return Instant{static_cast<std::int64_t>((U128{rte_get_timer_cycles()} * mult_) >> 64)};
  }

 private:
  std::uint64_t mult_;
};

}  // namespace twstack::app
