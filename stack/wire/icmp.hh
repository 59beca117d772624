// ICMP echo (RFC 792). Only echo request/reply fields are interpreted; other
// types parse (type/code/payload) so the engine can count and drop them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/base/bytes.hh"
#include "stack/wire/parse_result.hh"

namespace twstack::wire {

inline constexpr std::uint8_t kIcmpEchoReply = 0;
inline constexpr std::uint8_t kIcmpEchoRequest = 8;
inline constexpr std::size_t kIcmpHeaderLen = 8;

// parse() takes the whole ICMP message (the IPv4 payload): at least 8 bytes
// (kTruncated) and a valid checksum over all of it (kBadChecksum).
class IcmpView {
 public:
  static ParseResult<IcmpView> parse(std::span<const std::uint8_t> msg);

  std::uint8_t type() const { return p_[0]; }
  std::uint8_t code() const { return p_[1]; }
  std::uint16_t checksum() const { return load_be16(p_.data() + 2); }
  std::uint16_t id() const { return load_be16(p_.data() + 4); }   // echo only
  std::uint16_t seq() const { return load_be16(p_.data() + 6); }  // echo only
  std::span<const std::uint8_t> payload() const { return p_.subspan(kIcmpHeaderLen); }
  std::size_t size() const { return p_.size(); }

 private:
  explicit IcmpView(std::span<const std::uint8_t> msg) : p_(msg) {}
  std::span<const std::uint8_t> p_;  // at least kIcmpHeaderLen bytes
};

// Writes an echo reply carrying request's id, seq and payload, with its
// checksum; returns request.size(). buf may be the request's own bytes
// (reply in place). Precondition: request.type() == kIcmpEchoRequest.
std::size_t write_icmp_echo_reply(std::uint8_t* buf, const IcmpView& request);

}  // namespace twstack::wire
