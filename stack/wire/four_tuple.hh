// The identity of a TCP connection, seen from the local side.
#pragma once

#include <cstdint>

#include "stack/wire/ipv4.hh"

namespace twstack::wire {

struct FourTuple {
  wire::Ipv4Addr laddr{};
  wire::Ipv4Addr raddr{};
  std::uint16_t lport = 0;
  std::uint16_t rport = 0;

  bool operator==(const FourTuple&) const = default;
};

// Hash for the connection and TIME_WAIT tables: a keyed mix so that remote
// peers cannot aim many tuples at one bucket (the tables seed it per engine).
inline std::uint64_t mix_tuple(const FourTuple& t, std::uint64_t seed) {
  std::uint64_t a = (std::uint64_t{t.laddr.v} << 32) | t.raddr.v;
  std::uint64_t b = (std::uint64_t{t.lport} << 16) | t.rport;
  std::uint64_t h = seed ^ (a * 0x9e3779b97f4a7c15ULL);
  h ^= (b + 0x632be59bd9b4e019ULL) * 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 31;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 29);
}

}  // namespace twstack::flow
