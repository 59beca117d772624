#include "stack/wire/icmp.hh"

#include <cstring>

#include "stack/wire/checksum.hh"

namespace twstack::wire {

ParseResult<IcmpView> IcmpView::parse(std::span<const std::uint8_t> msg) {
  if (msg.size() < kIcmpHeaderLen) return ParseError::kTruncated;
  if (!checksum_ok(msg.data(), msg.size())) return ParseError::kBadChecksum;
  return IcmpView(msg);
}

std::size_t write_icmp_echo_reply(std::uint8_t* buf, const IcmpView& request) {
  std::span<const std::uint8_t> data = request.payload();
  std::uint16_t id = request.id();
  std::uint16_t seq = request.seq();
  // memmove: the reply may be built over the request (RFC 792 "the data
  // received in the echo message must be returned").
  if (!data.empty()) std::memmove(buf + kIcmpHeaderLen, data.data(), data.size());
  buf[0] = kIcmpEchoReply;
  buf[1] = 0;
  store_be16(buf + 2, 0);
  store_be16(buf + 4, id);
  store_be16(buf + 6, seq);
  std::size_t len = kIcmpHeaderLen + data.size();
  store_be16(buf + 2, checksum_fold(checksum_add(buf, len)));
  return len;
}

}  // namespace twstack::wire
