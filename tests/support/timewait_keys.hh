// Four-tuples and TIME_WAIT entries numbered n, for the TIME_WAIT table's
// tests (timewait_table_test, timewait_index_test): two local addresses,
// remote addresses and ports spread so that any n names a distinct tuple.
#pragma once

#include <array>
#include <cstdint>

#include "stack/timewait/table.hh"

namespace twstack::tw::keys {

inline const std::array<wire::Ipv4Addr, 2> kLocal = {wire::Ipv4Addr::from_octets(10, 0, 0, 1),
                                                     wire::Ipv4Addr::from_octets(10, 0, 0, 2)};

inline FourTuple tuple_n(std::uint32_t n) {
  return FourTuple{kLocal[n & 1], wire::Ipv4Addr{0xc0a80000u + (n >> 16)},
                   static_cast<std::uint16_t>(32768 + (n & 0x7fff)),
                   static_cast<std::uint16_t>(80 + ((n >> 15) & 1))};
}

inline TwEntryInit init_n(std::uint32_t n) {
  TwEntryInit in;
  in.tuple = tuple_n(n);
  in.snd_nxt = Seq(1000 + n);
  in.rcv_nxt = Seq(5000 + n);
  in.window = static_cast<std::uint16_t>(n * 7);
  in.ts_recent = n * 3 + 1;
  in.has_ts = (n % 3) != 0;
  in.fin_wait2 = (n % 5) == 0;
  return in;
}

}  // namespace twstack::tw::keys
