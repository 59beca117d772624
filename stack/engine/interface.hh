// What an engine knows about the port it serves: link address, local IPv4
// addresses and the route out, and what the NIC does for it.
#pragma once

#include <array>
#include <cstdint>

#include "stack/wire/ethernet.hh"
#include "stack/wire/ipv4.hh"

namespace twstack::engine {

// Offloads the driver reports (smoltcp ChecksumCapabilities, Seastar
// hw_features): passed in, never decided by #ifdef.
struct Capabilities {
  bool rx_checksum_verified = false;  // the NIC checked IPv4 and TCP checksums
  bool tx_checksum_offload = false;   // the NIC fills IPv4 and TCP checksums
};

struct Interface {
  static constexpr std::size_t kMaxAddrs = 16;
  wire::MacAddr mac{};
  std::array<wire::Ipv4Addr, kMaxAddrs> addrs{};
  std::uint8_t naddrs = 0;
  std::uint8_t prefix_len = 24;
  wire::Ipv4Addr gateway{};  // unspecified: every destination is on-link
  std::uint16_t mtu = 1500;
  Capabilities caps{};

  bool add_addr(wire::Ipv4Addr a) {
    if (naddrs == kMaxAddrs) return false;
    addrs[naddrs++] = a;
    return true;
  }
  bool is_local(wire::Ipv4Addr a) const {
    for (std::uint8_t i = 0; i < naddrs; ++i) {
      if (addrs[i] == a) return true;
    }
    return false;
  }
  bool on_link(wire::Ipv4Addr a) const {
    if (naddrs == 0 || gateway.is_unspecified() || prefix_len == 0) return true;
    std::uint32_t mask = prefix_len >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix_len);
    return (a.v & mask) == (addrs[0].v & mask);
  }
  wire::Ipv4Addr next_hop(wire::Ipv4Addr dst) const { return on_link(dst) ? dst : gateway; }
};

}  // namespace twstack::engine
