#include "stack/wire/tcp.hh"

#include <cassert>
#include <cstring>

#include "stack/wire/checksum.hh"

namespace twstack::wire {

ParseResult<TcpView> TcpView::parse(std::span<const std::uint8_t> segment, Ipv4Addr src,
                                    Ipv4Addr dst, bool verify_checksum) {
  if (segment.size() < kTcpHeaderMin) return ParseError::kTruncated;
  std::size_t hlen = (std::size_t{segment[12]} >> 4) * 4;
  if (hlen < kTcpHeaderMin || hlen > segment.size()) return ParseError::kBadHeaderLen;
  if (verify_checksum) {
    // The segment came out of an IPv4 datagram, so its length fits 16 bits;
    // anything longer cannot carry a valid checksum.
    if (segment.size() > 0xffff) return ParseError::kBadChecksum;
    std::uint32_t sum = pseudo_header_sum(src, dst, kProtoTcp,
                                          static_cast<std::uint16_t>(segment.size()));
    if (!checksum_ok(segment.data(), segment.size(), sum)) return ParseError::kBadChecksum;
  }
  return TcpView(segment);
}

std::size_t write_tcp_header(std::uint8_t* buf, const TcpFields& f,
                             std::span<const std::uint8_t> options) {
  assert(options.size() % 4 == 0 && options.size() <= kTcpOptionsMax);
  std::size_t hlen = kTcpHeaderMin + options.size();
  store_be16(buf, f.src_port);
  store_be16(buf + 2, f.dst_port);
  store_be32(buf + 4, f.seq);
  store_be32(buf + 8, f.ack);
  buf[12] = static_cast<std::uint8_t>((hlen / 4) << 4);  // data offset, reserved zero
  buf[13] = f.flags;
  store_be16(buf + 14, f.window);
  store_be16(buf + 16, 0);
  store_be16(buf + 18, f.urgent);
  if (!options.empty()) std::memcpy(buf + kTcpHeaderMin, options.data(), options.size());
  return hlen;
}

void finish_tcp_checksum(std::uint8_t* tcp, std::size_t tcp_len, Ipv4Addr src, Ipv4Addr dst) {
  assert(tcp_len >= kTcpHeaderMin && tcp_len <= 0xffff);
  store_be16(tcp + 16, 0);
  std::uint32_t sum = pseudo_header_sum(src, dst, kProtoTcp, static_cast<std::uint16_t>(tcp_len));
  store_be16(tcp + 16, checksum_fold(checksum_add(tcp, tcp_len, sum)));
}

void set_tcp_pseudo_checksum(std::uint8_t* tcp, std::size_t tcp_len, Ipv4Addr src,
                             Ipv4Addr dst) {
  assert(tcp_len >= kTcpHeaderMin && tcp_len <= 0xffff);
  std::uint32_t sum = pseudo_header_sum(src, dst, kProtoTcp, static_cast<std::uint16_t>(tcp_len));
  store_be16(tcp + 16, static_cast<std::uint16_t>(~checksum_fold(sum)));
}

}  // namespace twstack::wire
