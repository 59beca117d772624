// IPv4 addresses and headers (RFC 791 §3.1).
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "stack/base/bytes.hh"
#include "stack/wire/parse_result.hh"

namespace twstack::wire {

struct Ipv4Addr {
  std::uint32_t v = 0;  // host order: 10.0.0.1 is 0x0a000001

  bool operator==(const Ipv4Addr&) const = default;
  auto operator<=>(const Ipv4Addr&) const = default;

  static constexpr Ipv4Addr from_octets(std::uint8_t a, std::uint8_t b, std::uint8_t c,
                                        std::uint8_t d) {
    return Ipv4Addr{(std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) |
                    (std::uint32_t{c} << 8) | std::uint32_t{d}};
  }

  std::string to_string() const;  // dotted quad; for printing only (allocates)
  // Strict dotted quad like inet_pton(3): four decimal octets, no leading
  // zeros (which inet_aton would read as octal). Leaves *out alone on failure.
  static bool parse(std::string_view s, Ipv4Addr* out);

  constexpr bool is_loopback() const { return (v >> 24) == 127; }      // 127/8
  constexpr bool is_multicast() const { return (v >> 28) == 0xe; }     // 224/4
  constexpr bool is_broadcast() const { return v == 0xffffffff; }      // limited broadcast
  constexpr bool is_unspecified() const { return v == 0; }
};

inline constexpr std::size_t kIpv4HeaderMin = 20;
inline constexpr std::uint8_t kProtoIcmp = 1;
inline constexpr std::uint8_t kProtoTcp = 6;

// parse() checks, in order: at least 20 bytes (kTruncated), version 4
// (kBadVersion), 5 <= IHL and IHL*4 <= len (kBadHeaderLen), IHL*4 <=
// total_len <= len (kBadTotalLen), the header checksum unless the NIC has
// verified it (kBadChecksum), and finally fragments (kFragment): the stack
// does not reassemble. Options are covered by the checksum but not read.
class Ipv4View {
 public:
  static ParseResult<Ipv4View> parse(std::span<const std::uint8_t> packet,
                                     bool verify_checksum = true);

  Ipv4Addr src() const { return Ipv4Addr{load_be32(p_.data() + 12)}; }
  Ipv4Addr dst() const { return Ipv4Addr{load_be32(p_.data() + 16)}; }
  std::uint8_t protocol() const { return p_[9]; }
  std::uint8_t ttl() const { return p_[8]; }
  std::uint8_t tos() const { return p_[1]; }
  std::uint16_t id() const { return load_be16(p_.data() + 4); }
  std::uint16_t checksum() const { return load_be16(p_.data() + 10); }
  std::size_t header_len() const { return std::size_t{p_[0] & 0x0fu} * 4; }
  std::uint16_t total_len() const { return load_be16(p_.data() + 2); }
  bool dont_fragment() const { return (p_[6] & 0x40) != 0; }
  bool more_fragments() const { return (p_[6] & 0x20) != 0; }
  std::uint16_t fragment_offset() const { return load_be16(p_.data() + 6) & 0x1fff; }
  bool is_fragment() const { return more_fragments() || fragment_offset() != 0; }
  std::span<const std::uint8_t> header() const { return p_.first(header_len()); }
  // Bytes [IHL*4, total_len): Ethernet padding after the datagram is excluded.
  std::span<const std::uint8_t> payload() const { return p_.subspan(header_len()); }

 private:
  explicit Ipv4View(std::span<const std::uint8_t> datagram) : p_(datagram) {}
  std::span<const std::uint8_t> p_;  // exactly total_len bytes, header validated
};

// Writes a 20-byte header (no options, DF set, TOS 0) with its checksum and
// returns 20. Precondition: payload_len <= 65535 - 20.
std::size_t write_ipv4(std::uint8_t* buf, Ipv4Addr src, Ipv4Addr dst, std::uint8_t proto,
                       std::uint16_t payload_len, std::uint16_t id, std::uint8_t ttl = 64);

}  // namespace twstack::wire
