#include "stack/wire/ethernet.hh"

namespace twstack::wire {

std::string MacAddr::to_string() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(17);
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i != 0) s.push_back(':');
    s.push_back(kHex[b[i] >> 4]);
    s.push_back(kHex[b[i] & 0xf]);
  }
  return s;
}

ParseResult<EthernetView> EthernetView::parse(std::span<const std::uint8_t> frame) {
  if (frame.size() < kEthHeaderLen) return ParseError::kTruncated;
  std::uint16_t type = load_be16(frame.data() + 12);
  if (type == kEtherTypeVlan || type == kEtherTypeQinQ || type < 0x0600) {
    return ParseError::kUnsupported;
  }
  return EthernetView(frame);
}

void write_ethernet(std::uint8_t* buf, MacAddr dst, MacAddr src, std::uint16_t ethertype) {
  dst.store(buf);
  src.store(buf + 6);
  store_be16(buf + 12, ethertype);
}

}  // namespace twstack::wire
