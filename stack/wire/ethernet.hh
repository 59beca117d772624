// Ethernet II framing (IEEE 802.3 clause 3, RFC 894).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "stack/base/bytes.hh"
#include "stack/wire/parse_result.hh"

namespace twstack::wire {

struct MacAddr {
  std::array<std::uint8_t, 6> b{};

  bool operator==(const MacAddr&) const = default;

  static constexpr MacAddr broadcast() { return MacAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  static MacAddr from_bytes(const std::uint8_t* p) {
    MacAddr m;
    std::memcpy(m.b.data(), p, m.b.size());
    return m;
  }
  void store(std::uint8_t* p) const {
    std::memcpy(p, b.data(), b.size());
  }

  bool is_broadcast() const { return *this == broadcast(); }
  // I/G bit: the least significant bit of the first octet.
  bool is_multicast() const { return (b[0] & 0x01) != 0; }

  std::string to_string() const;  // "aa:bb:cc:dd:ee:ff"; for printing only
};

inline constexpr std::size_t kEthHeaderLen = 14;
inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeArp = 0x0806;
inline constexpr std::uint16_t kEtherTypeVlan = 0x8100;  // 802.1Q
inline constexpr std::uint16_t kEtherTypeQinQ = 0x88a8;  // 802.1ad

// parse() rejects 802.1Q/802.1ad tagged frames as kUnsupported rather than
// skipping the tag: the stack has no VLAN configuration, so accepting any tag
// would merge traffic from every VLAN (let the NIC strip tags instead).
// Type values below 0x0600 are 802.3 lengths (LLC frames): also kUnsupported.
// payload() includes any trailing padding; IPv4 trims it by total length.
class EthernetView {
 public:
  static ParseResult<EthernetView> parse(std::span<const std::uint8_t> frame);

  MacAddr dst() const { return MacAddr::from_bytes(frame_.data()); }
  MacAddr src() const { return MacAddr::from_bytes(frame_.data() + 6); }
  std::uint16_t ethertype() const { return load_be16(frame_.data() + 12); }
  std::span<const std::uint8_t> payload() const { return frame_.subspan(kEthHeaderLen); }

 private:
  explicit EthernetView(std::span<const std::uint8_t> frame) : frame_(frame) {}
  std::span<const std::uint8_t> frame_;  // at least kEthHeaderLen bytes
};

// Writes the 14-byte header.
void write_ethernet(std::uint8_t* buf, MacAddr dst, MacAddr src, std::uint16_t ethertype);

}  // namespace twstack::wire
