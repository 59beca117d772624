#include "stack/wire/arp.hh"

namespace twstack::wire {

ParseResult<ArpView> ArpView::parse(std::span<const std::uint8_t> msg) {
  if (msg.size() < kArpLen) return ParseError::kTruncated;
  const std::uint8_t* p = msg.data();
  if (load_be16(p) != kArpHtypeEthernet || load_be16(p + 2) != kEtherTypeIpv4 || p[4] != 6 ||
      p[5] != 4) {
    return ParseError::kUnsupported;
  }
  return ArpView(msg);
}

std::size_t write_arp(std::uint8_t* buf, std::uint16_t op, MacAddr sha, Ipv4Addr spa,
                      MacAddr tha, Ipv4Addr tpa) {
  store_be16(buf, kArpHtypeEthernet);
  store_be16(buf + 2, kEtherTypeIpv4);
  buf[4] = 6;  // hlen
  buf[5] = 4;  // plen
  store_be16(buf + 6, op);
  sha.store(buf + 8);
  store_be32(buf + 14, spa.v);
  tha.store(buf + 18);
  store_be32(buf + 24, tpa.v);
  return kArpLen;
}

}  // namespace twstack::wire
