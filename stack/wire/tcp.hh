// TCP header (RFC 9293 §3.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/base/bytes.hh"
#include "stack/wire/ipv4.hh"
#include "stack/wire/parse_result.hh"

namespace twstack::wire {

inline constexpr std::uint8_t kFin = 0x01;
inline constexpr std::uint8_t kSyn = 0x02;
inline constexpr std::uint8_t kRst = 0x04;
inline constexpr std::uint8_t kPsh = 0x08;
inline constexpr std::uint8_t kAck = 0x10;
inline constexpr std::uint8_t kUrg = 0x20;
inline constexpr std::uint8_t kEce = 0x40;
inline constexpr std::uint8_t kCwr = 0x80;

inline constexpr std::size_t kTcpHeaderMin = 20;
inline constexpr std::size_t kTcpOptionsMax = 40;  // data offset is 4 bits: 60 - 20

// parse() takes the whole segment (the IPv4 payload) and the addresses for
// the pseudo-header. Checks: at least 20 bytes (kTruncated), 5 <= data
// offset and offset*4 <= len (kBadHeaderLen), and the checksum unless the
// NIC has verified it (kBadChecksum). Options are returned raw; see
// parse_tcp_options(). The reserved bits are ignored (RFC 9293 §3.1).
class TcpView {
 public:
  static ParseResult<TcpView> parse(std::span<const std::uint8_t> segment, Ipv4Addr src,
                                    Ipv4Addr dst, bool verify_checksum = true);

  std::uint16_t src_port() const { return load_be16(p_.data()); }
  std::uint16_t dst_port() const { return load_be16(p_.data() + 2); }
  std::uint32_t seq() const { return load_be32(p_.data() + 4); }
  std::uint32_t ack() const { return load_be32(p_.data() + 8); }
  std::size_t header_len() const { return (std::size_t{p_[12]} >> 4) * 4; }
  std::uint8_t flags() const { return p_[13]; }
  bool has(std::uint8_t flag) const { return (p_[13] & flag) != 0; }
  std::uint16_t window() const { return load_be16(p_.data() + 14); }
  std::uint16_t checksum() const { return load_be16(p_.data() + 16); }
  std::uint16_t urgent() const { return load_be16(p_.data() + 18); }
  std::span<const std::uint8_t> options() const {
    return p_.subspan(kTcpHeaderMin, header_len() - kTcpHeaderMin);
  }
  std::span<const std::uint8_t> payload() const { return p_.subspan(header_len()); }
  std::size_t size() const { return p_.size(); }

 private:
  explicit TcpView(std::span<const std::uint8_t> segment) : p_(segment) {}
  std::span<const std::uint8_t> p_;  // whole segment, header_len() <= size()
};

struct TcpFields {
  std::uint16_t src_port;
  std::uint16_t dst_port;
  std::uint32_t seq;
  std::uint32_t ack;
  std::uint8_t flags;
  std::uint16_t window;
  std::uint16_t urgent = 0;
};

// Writes the 20-byte header followed by options, sets the data offset and
// leaves the checksum zero; returns 20 + options.size(). Precondition:
// options.size() is a multiple of 4 and at most 40 (write_tcp_options()
// produces exactly that).
std::size_t write_tcp_header(std::uint8_t* buf, const TcpFields& f,
                             std::span<const std::uint8_t> options);

// Fills the checksum of the tcp_len-byte segment at tcp (header, options and
// payload already in place) over the pseudo-header and the segment.
void finish_tcp_checksum(std::uint8_t* tcp, std::size_t tcp_len, Ipv4Addr src, Ipv4Addr dst);

// For checksum offload: stores the folded, uncomplemented pseudo-header sum
// that NICs expect in the checksum field (what DPDK's rte_ipv4_phdr_cksum gives).
void set_tcp_pseudo_checksum(std::uint8_t* tcp, std::size_t tcp_len, Ipv4Addr src,
                             Ipv4Addr dst);

}  // namespace twstack::wire
