// ARP for IPv4 over Ethernet (RFC 826).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/base/bytes.hh"
#include "stack/wire/ethernet.hh"
#include "stack/wire/ipv4.hh"
#include "stack/wire/parse_result.hh"

namespace twstack::wire {

inline constexpr std::uint16_t kArpRequest = 1;
inline constexpr std::uint16_t kArpReply = 2;
inline constexpr std::size_t kArpLen = 28;
inline constexpr std::uint16_t kArpHtypeEthernet = 1;

// parse() accepts only htype 1 / ptype 0x0800 / hlen 6 / plen 4 (anything
// else is kUnsupported) and needs 28 bytes (kTruncated). The opcode is not
// checked: RFC 826 merges the sender's mapping before looking at it.
class ArpView {
 public:
  static ParseResult<ArpView> parse(std::span<const std::uint8_t> msg);

  std::uint16_t op() const { return load_be16(p_.data() + 6); }
  MacAddr sha() const { return MacAddr::from_bytes(p_.data() + 8); }
  Ipv4Addr spa() const { return Ipv4Addr{load_be32(p_.data() + 14)}; }
  MacAddr tha() const { return MacAddr::from_bytes(p_.data() + 18); }
  Ipv4Addr tpa() const { return Ipv4Addr{load_be32(p_.data() + 24)}; }

 private:
  explicit ArpView(std::span<const std::uint8_t> msg) : p_(msg) {}
  std::span<const std::uint8_t> p_;  // at least kArpLen bytes
};

// Writes a 28-byte Ethernet/IPv4 ARP message and returns 28.
std::size_t write_arp(std::uint8_t* buf, std::uint16_t op, MacAddr sha, Ipv4Addr spa,
                      MacAddr tha, Ipv4Addr tpa);

}  // namespace twstack::wire
