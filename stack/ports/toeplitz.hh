// Software Toeplitz hash, as NICs compute it for RSS (Microsoft "RSS hashing
// functions"; Intel 82599 datasheet §7.1.2.8.1), and the per-key tables that
// let the port allocator pick source ports whose replies land on its queue.
//
// The hash is linear in XOR: hash(a ^ b) = hash(a) ^ hash(b). So the hash of a
// reply (src = remote ip, dst = local ip, sport = remote port, dport = local
// port) is the hash of its fixed part (local port 0) XOR the contribution of
// the local port alone, and the latter depends on the key only.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "stack/wire/ipv4.hh"

namespace twstack::ports {

// The 40-byte key most drivers default to (Microsoft's verification key;
// DPDK's default_rss_key in testpmd, Intel ixgbe/i40e, Mellanox mlx5).
inline constexpr std::array<std::uint8_t, 40> kDefaultRssKey = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

// Bytes of TCP/IPv4 hash input: src addr, dst addr, src port, dst port.
inline constexpr std::size_t kIpv4TcpInputLen = 12;
// A key must cover every input bit plus the 32-bit window after the last one.
inline constexpr std::size_t kMinIpv4TcpKeyLen = kIpv4TcpInputLen + 4;

// Bit by bit, as the specification states it: for each set input bit i
// (most significant bit of byte 0 first), XOR in the 32 key bits starting at
// bit i. Key bits past the end of the key read as 0.
std::uint32_t toeplitz_hash(std::span<const std::uint8_t> key, std::span<const std::uint8_t> input);

// The TCP/IPv4 input in the order the specification fixes: source address,
// destination address, source port, destination port, each big-endian.
std::uint32_t toeplitz_ipv4_tcp(std::span<const std::uint8_t> key, wire::Ipv4Addr src,
                                wire::Ipv4Addr dst, std::uint16_t sport, std::uint16_t dport);

// The same hash a byte at a time: one 256-entry table per input byte (12 KiB),
// built once per key. Every part is the hash of the input with the other
// fields zero, so parts XOR together.
class ToeplitzIpv4Tcp {
 public:
  explicit ToeplitzIpv4Tcp(std::span<const std::uint8_t> key);

  std::uint32_t hash(wire::Ipv4Addr src, wire::Ipv4Addr dst, std::uint16_t sport,
                     std::uint16_t dport) const {
    return fixed_part(src, dst, sport) ^ dport_part(dport);
  }
  // Everything but the destination port.
  std::uint32_t fixed_part(wire::Ipv4Addr src, wire::Ipv4Addr dst, std::uint16_t sport) const;
  // The destination port alone: for a reply, our local port.
  std::uint32_t dport_part(std::uint16_t dport) const { return t_[10][dport >> 8] ^ t_[11][dport & 0xff]; }

 private:
  std::array<std::array<std::uint32_t, 256>, kIpv4TcpInputLen> t_{};
};

// A redirection table of `entries` entries spread round-robin over `queues`
// queues (entry i -> queue i % queues), as DPDK and most drivers default to.
std::vector<std::uint16_t> round_robin_reta(std::size_t entries, std::uint16_t queues);

// The queue a NIC delivers to: reta[hash mod size]. Hardware takes the low
// bits (82599: 7 LSBs for 128 entries); for a power-of-two size that is mod.
inline std::uint16_t reta_queue(std::span<const std::uint16_t> reta, std::uint32_t hash) {
  return reta.empty() ? 0 : reta[hash % reta.size()];
}

}  // namespace twstack::ports
