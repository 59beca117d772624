// The secret an engine keys its ISNs, timestamp offsets, hash tables and
// ephemeral-port offsets with (RFC 6528 §3, RFC 6056 §3.3.4). It has no
// default: a constant would make every embedder's ISNs and offsets
// predictable, so whoever builds an engine says where its secret comes from
// (random per run in production, a fixed value in tests and simulations).
#pragma once

#include <cstdint>

namespace twstack {

class Secret {
 public:
  constexpr explicit Secret(std::uint64_t v) : v_(v) {}

  constexpr std::uint64_t value() const { return v_; }
  constexpr bool operator==(const Secret&) const = default;

 private:
  std::uint64_t v_;
};

}  // namespace twstack
