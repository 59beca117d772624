#include "stack/wire/ipv4.hh"

#include <cassert>

#include "stack/wire/checksum.hh"

namespace twstack::wire {

std::string Ipv4Addr::to_string() const {
  std::string s;
  s.reserve(15);
  for (int shift = 24; shift >= 0; shift -= 8) {
    s += std::to_string((v >> shift) & 0xff);
    if (shift != 0) s.push_back('.');
  }
  return s;
}

bool Ipv4Addr::parse(std::string_view s, Ipv4Addr* out) {
  std::uint32_t addr = 0;
  std::size_t i = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet != 0) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
    std::size_t start = i;
    std::uint32_t val = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 3) {
      val = val * 10 + static_cast<std::uint32_t>(s[i] - '0');
      ++i;
    }
    std::size_t digits = i - start;
    if (digits == 0 || val > 255 || (digits > 1 && s[start] == '0')) return false;
    addr = (addr << 8) | val;
  }
  if (i != s.size()) return false;  // trailing characters
  *out = Ipv4Addr{addr};
  return true;
}

ParseResult<Ipv4View> Ipv4View::parse(std::span<const std::uint8_t> packet,
                                      bool verify_checksum) {
  if (packet.size() < kIpv4HeaderMin) return ParseError::kTruncated;
  const std::uint8_t* p = packet.data();
  if ((p[0] >> 4) != 4) return ParseError::kBadVersion;
  std::size_t hlen = std::size_t{p[0] & 0x0fu} * 4;
  if (hlen < kIpv4HeaderMin || hlen > packet.size()) return ParseError::kBadHeaderLen;
  std::size_t total = load_be16(p + 2);
  if (total < hlen || total > packet.size()) return ParseError::kBadTotalLen;
  if (verify_checksum) {
    const std::uint32_t sum = hlen == kIpv4HeaderMin ? checksum_add20(p) : checksum_add(p, hlen);
    if (checksum_fold(sum) != 0) return ParseError::kBadChecksum;
  }
  Ipv4View view(packet.first(total));
  if (view.is_fragment()) return ParseError::kFragment;
  return view;
}

std::size_t write_ipv4(std::uint8_t* buf, Ipv4Addr src, Ipv4Addr dst, std::uint8_t proto,
                       std::uint16_t payload_len, std::uint16_t id, std::uint8_t ttl) {
  assert(payload_len <= 0xffff - kIpv4HeaderMin);
  buf[0] = 0x45;  // version 4, IHL 5
  buf[1] = 0;     // DSCP/ECN
  store_be16(buf + 2, static_cast<std::uint16_t>(kIpv4HeaderMin + payload_len));
  store_be16(buf + 4, id);
  store_be16(buf + 6, 0x4000);  // DF, offset 0: TCP does PMTU discovery (RFC 1191)
  buf[8] = ttl;
  buf[9] = proto;
  store_be16(buf + 10, 0);
  store_be32(buf + 12, src.v);
  store_be32(buf + 16, dst.v);
  store_be16(buf + 10, checksum_fold(checksum_add20(buf)));
  return kIpv4HeaderMin;
}

}  // namespace twstack::wire
