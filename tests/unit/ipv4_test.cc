#include "stack/wire/ipv4.hh"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <cstdint>
#include <vector>

#include "stack/base/bytes.hh"
#include "stack/wire/checksum.hh"

namespace twstack::wire {
namespace {

// Wikipedia's Internet checksum example: UDP, 192.168.0.1 -> 192.168.0.199,
// total length 0x73, DF, TTL 64, checksum b861.
std::vector<std::uint8_t> classic_packet(std::size_t size = 0x73) {
  const std::uint8_t head[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                               0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  std::vector<std::uint8_t> p(size, 0x5a);
  std::copy(std::begin(head), std::end(head), p.begin());
  return p;
}

void refresh_checksum(std::vector<std::uint8_t>& p) {
  std::size_t hlen = std::size_t{p[0] & 0x0fu} * 4;
  store_be16(p.data() + 10, 0);
  store_be16(p.data() + 10, checksum_fold(checksum_add(p.data(), hlen)));
}

TEST(Ipv4, ParsesClassicHeader) {
  auto p = classic_packet();
  auto r = Ipv4View::parse(p);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r->src(), Ipv4Addr::from_octets(192, 168, 0, 1));
  EXPECT_EQ(r->dst(), Ipv4Addr::from_octets(192, 168, 0, 199));
  EXPECT_EQ(r->protocol(), 17);
  EXPECT_EQ(r->ttl(), 64);
  EXPECT_EQ(r->id(), 0);
  EXPECT_EQ(r->checksum(), 0xb861);
  EXPECT_EQ(r->header_len(), 20u);
  EXPECT_EQ(r->total_len(), 0x73);
  EXPECT_TRUE(r->dont_fragment());
  EXPECT_FALSE(r->is_fragment());
  EXPECT_EQ(r->payload().size(), 0x73u - 20);
  EXPECT_EQ(r->payload().data(), p.data() + 20);
  EXPECT_EQ(r->header().size(), 20u);
}

TEST(Ipv4, TrailingEthernetPaddingIsExcluded) {
  auto p = classic_packet(0x73 + 9);
  auto r = Ipv4View::parse(p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->payload().size(), 0x73u - 20);
}

TEST(Ipv4, OptionsAreSkipped) {
  auto p = classic_packet(0x77);
  // IHL 6 with a Router Alert option (RFC 2113): 94 04 00 00.
  const std::uint8_t ra[] = {0x94, 0x04, 0x00, 0x00};
  std::copy(std::begin(ra), std::end(ra), p.begin() + 20);
  p[0] = 0x46;
  store_be16(p.data() + 2, 0x77);
  refresh_checksum(p);
  auto r = Ipv4View::parse(p);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r->header_len(), 24u);
  EXPECT_EQ(r->payload().size(), 0x77u - 24);
  EXPECT_EQ(r->payload().data(), p.data() + 24);
}

TEST(Ipv4, EveryPrefixIsRejected) {
  auto p = classic_packet();
  for (std::size_t n = 0; n < p.size(); ++n) {
    // An exact-size copy, so a sanitizer build catches any read past the end.
    const std::vector<std::uint8_t> prefix(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = Ipv4View::parse(prefix);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error(), n < 20 ? ParseError::kTruncated : ParseError::kBadTotalLen) << n;
  }
}

TEST(Ipv4, BadVersion) {
  auto p = classic_packet();
  p[0] = 0x65;
  EXPECT_EQ(Ipv4View::parse(p).error(), ParseError::kBadVersion);
}

TEST(Ipv4, BadHeaderLength) {
  auto p = classic_packet();
  p[0] = 0x44;  // IHL 4 < 5
  EXPECT_EQ(Ipv4View::parse(p).error(), ParseError::kBadHeaderLen);
  p[0] = 0x4f;  // 60 bytes of header in a 40-byte buffer
  EXPECT_EQ(Ipv4View::parse(std::span<const std::uint8_t>(p.data(), 40)).error(),
            ParseError::kBadHeaderLen);
}

TEST(Ipv4, BadTotalLength) {
  auto p = classic_packet();
  store_be16(p.data() + 2, 19);  // below the header length
  refresh_checksum(p);
  EXPECT_EQ(Ipv4View::parse(p).error(), ParseError::kBadTotalLen);
  store_be16(p.data() + 2, 0x74);  // one past the buffer
  refresh_checksum(p);
  EXPECT_EQ(Ipv4View::parse(p).error(), ParseError::kBadTotalLen);
  store_be16(p.data() + 2, 20);  // header only is fine
  refresh_checksum(p);
  auto r = Ipv4View::parse(p);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->payload().empty());
}

TEST(Ipv4, BadChecksum) {
  auto p = classic_packet();
  for (std::size_t i = 0; i < 20; ++i) {
    if (i == 0 || i == 2 || i == 3) continue;  // those fail earlier checks
    auto q = p;
    q[i] ^= 0x10;
    EXPECT_EQ(Ipv4View::parse(q).error(), ParseError::kBadChecksum) << i;
    EXPECT_NE(Ipv4View::parse(q, /*verify_checksum=*/false).error(), ParseError::kBadChecksum);
  }
  // The payload is not covered by the header checksum.
  p[30] ^= 0xff;
  EXPECT_TRUE(Ipv4View::parse(p).ok());
}

TEST(Ipv4, FragmentsAreReported) {
  auto p = classic_packet();
  store_be16(p.data() + 6, 0x2000);  // MF, offset 0: first fragment
  refresh_checksum(p);
  EXPECT_EQ(Ipv4View::parse(p).error(), ParseError::kFragment);
  store_be16(p.data() + 6, 0x0001);  // last fragment, offset 8
  refresh_checksum(p);
  EXPECT_EQ(Ipv4View::parse(p).error(), ParseError::kFragment);
  store_be16(p.data() + 6, 0x0000);  // DF clear, not a fragment
  refresh_checksum(p);
  auto r = Ipv4View::parse(p);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->dont_fragment());
}

TEST(Ipv4, BuilderKnownAnswer) {
  // Header of a 60-byte SYN, 10.0.0.1 -> 10.0.0.2, id 0x1c46 (checksum cross-
  // checked with an independent RFC 1071 implementation).
  const std::uint8_t want[] = {0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06,
                               0x0a, 0x74, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02};
  std::array<std::uint8_t, 32> buf;
  buf.fill(0xa5);
  std::size_t n = write_ipv4(buf.data(), Ipv4Addr::from_octets(10, 0, 0, 1),
                             Ipv4Addr::from_octets(10, 0, 0, 2), kProtoTcp, 40, 0x1c46);
  ASSERT_EQ(n, 20u);
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(buf[i], want[i]) << i;
  for (std::size_t i = n; i < buf.size(); ++i) EXPECT_EQ(buf[i], 0xa5) << i;
}

TEST(Ipv4, BuildParseRoundTrip) {
  std::vector<std::uint8_t> buf(20 + 33, 0x77);
  Ipv4Addr s = Ipv4Addr::from_octets(198, 51, 100, 7);
  Ipv4Addr d = Ipv4Addr::from_octets(203, 0, 113, 250);
  write_ipv4(buf.data(), s, d, kProtoIcmp, 33, 0xbeef, 3);
  auto r = Ipv4View::parse(buf);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r->src(), s);
  EXPECT_EQ(r->dst(), d);
  EXPECT_EQ(r->protocol(), kProtoIcmp);
  EXPECT_EQ(r->ttl(), 3);
  EXPECT_EQ(r->id(), 0xbeef);
  EXPECT_EQ(r->tos(), 0);
  EXPECT_TRUE(r->dont_fragment());
  EXPECT_EQ(r->payload().size(), 33u);
}

TEST(Ipv4Addr, OctetsAndOrdering) {
  Ipv4Addr a = Ipv4Addr::from_octets(10, 0, 0, 1);
  EXPECT_EQ(a.v, 0x0a000001u);
  EXPECT_LT(a, Ipv4Addr::from_octets(10, 0, 0, 2));
  EXPECT_GT(Ipv4Addr::from_octets(192, 168, 0, 1), a);
  EXPECT_EQ(Ipv4Addr{}, Ipv4Addr::from_octets(0, 0, 0, 0));
  EXPECT_TRUE(Ipv4Addr{}.is_unspecified());
  EXPECT_TRUE(Ipv4Addr::from_octets(127, 0, 0, 1).is_loopback());
  EXPECT_TRUE(Ipv4Addr::from_octets(127, 255, 1, 2).is_loopback());
  EXPECT_FALSE(Ipv4Addr::from_octets(128, 0, 0, 1).is_loopback());
  EXPECT_TRUE(Ipv4Addr::from_octets(224, 0, 0, 1).is_multicast());
  EXPECT_FALSE(Ipv4Addr::from_octets(240, 0, 0, 1).is_multicast());
  EXPECT_TRUE(Ipv4Addr::from_octets(255, 255, 255, 255).is_broadcast());
}

TEST(Ipv4Addr, ToStringAndParse) {
  EXPECT_EQ(Ipv4Addr::from_octets(192, 168, 0, 199).to_string(), "192.168.0.199");
  EXPECT_EQ(Ipv4Addr{}.to_string(), "0.0.0.0");
  EXPECT_EQ(Ipv4Addr{0xffffffff}.to_string(), "255.255.255.255");
  Ipv4Addr a;
  ASSERT_TRUE(Ipv4Addr::parse("10.1.2.3", &a));
  EXPECT_EQ(a, Ipv4Addr::from_octets(10, 1, 2, 3));
  ASSERT_TRUE(Ipv4Addr::parse("255.255.255.255", &a));
  EXPECT_EQ(a.v, 0xffffffffu);
  ASSERT_TRUE(Ipv4Addr::parse("0.0.0.0", &a));
  EXPECT_EQ(a.v, 0u);
  a = Ipv4Addr{42};
  for (const char* bad : {"", "1.2.3", "1.2.3.4.", "1.2.3.4.5", "256.1.1.1", "1.2.3.1000",
                          "01.2.3.4", "1..2.3", " 1.2.3.4", "1.2.3.4 ", "a.b.c.d", "1.2.3.-4",
                          "1.2.3.04", "1.2.3.4x", ".1.2.3"}) {
    EXPECT_FALSE(Ipv4Addr::parse(bad, &a)) << bad;
  }
  EXPECT_EQ(a.v, 42u);  // untouched on failure
}

}  // namespace
}  // namespace twstack::wire
