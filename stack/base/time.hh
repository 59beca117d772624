// Time is passed in, never read (DESIGN.md rule 2).
//
// An Instant is microseconds on some monotonic clock chosen by the caller:
// TSC-derived in production, a virtual clock in tests and simulation.
#pragma once

#include <compare>
#include <cstdint>

namespace twstack {

struct Duration {
  std::int64_t us = 0;

  static constexpr Duration micros(std::int64_t v) { return {v}; }
  static constexpr Duration millis(std::int64_t v) { return {v * 1000}; }
  static constexpr Duration seconds(std::int64_t v) { return {v * 1000000}; }

  constexpr std::int64_t ms() const { return us / 1000; }
  constexpr double secs() const { return static_cast<double>(us) / 1e6; }

  constexpr auto operator<=>(const Duration&) const = default;
  constexpr Duration operator+(Duration o) const { return {us + o.us}; }
  constexpr Duration operator-(Duration o) const { return {us - o.us}; }
  constexpr Duration operator*(std::int64_t k) const { return {us * k}; }
  constexpr Duration operator/(std::int64_t k) const { return {us / k}; }
};

struct Instant {
  std::int64_t us = 0;

  constexpr std::int64_t ms() const { return us / 1000; }
  constexpr double secs() const { return static_cast<double>(us) / 1e6; }

  constexpr auto operator<=>(const Instant&) const = default;
  constexpr Instant operator+(Duration d) const { return {us + d.us}; }
  constexpr Instant operator-(Duration d) const { return {us - d.us}; }
  constexpr Duration operator-(Instant o) const { return {us - o.us}; }
  constexpr Instant& operator+=(Duration d) { us += d.us; return *this; }
};

}  // namespace twstack
