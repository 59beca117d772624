#include "stack/wire/arp.hh"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace twstack::wire {
namespace {

const MacAddr kSha{{0x52, 0x54, 0x00, 0xab, 0xcd, 0xef}};
const Ipv4Addr kSpa = Ipv4Addr::from_octets(10, 0, 0, 1);
const Ipv4Addr kTpa = Ipv4Addr::from_octets(10, 0, 0, 2);

// "Who has 10.0.0.2? Tell 10.0.0.1", laid out per RFC 826 by hand.
std::vector<std::uint8_t> request_bytes() {
  return {0x00, 0x01,                          // htype Ethernet
          0x08, 0x00,                          // ptype IPv4
          0x06, 0x04,                          // hlen, plen
          0x00, 0x01,                          // op request
          0x52, 0x54, 0x00, 0xab, 0xcd, 0xef,  // sha
          0x0a, 0x00, 0x00, 0x01,              // spa
          0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // tha unknown
          0x0a, 0x00, 0x00, 0x02};             // tpa
}

TEST(Arp, ParsesRequest) {
  auto req = request_bytes();
  std::vector<std::uint8_t> b(46, 0);  // Ethernet padding after the 28 bytes is ignored
  std::copy(req.begin(), req.end(), b.begin());
  auto r = ArpView::parse(b);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r->op(), kArpRequest);
  EXPECT_EQ(r->sha(), kSha);
  EXPECT_EQ(r->spa(), kSpa);
  EXPECT_EQ(r->tha(), MacAddr{});
  EXPECT_EQ(r->tpa(), kTpa);
}

TEST(Arp, EveryShortPrefixIsTruncated) {
  auto b = request_bytes();
  for (std::size_t n = 0; n < kArpLen; ++n) {
    // An exact-size copy, so a sanitizer build catches any read past the end.
    const std::vector<std::uint8_t> prefix(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = ArpView::parse(prefix);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error(), ParseError::kTruncated) << n;
  }
}

TEST(Arp, NonEthernetIpv4IsUnsupported) {
  const std::pair<std::size_t, std::uint8_t> edits[] = {
      {1, 0x06},  // htype IEEE 802
      {2, 0x86},  // ptype 0x86dd
      {4, 0x08},  // hlen 8
      {5, 0x10},  // plen 16
  };
  for (auto [at, val] : edits) {
    auto b = request_bytes();
    b[at] = val;
    EXPECT_EQ(ArpView::parse(b).error(), ParseError::kUnsupported) << at;
  }
}

TEST(Arp, OpcodeIsNotFiltered) {
  auto b = request_bytes();
  b[7] = 9;
  auto r = ArpView::parse(b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->op(), 9);
}

TEST(Arp, BuilderMatchesHandLayoutAndWritesEveryByte) {
  std::array<std::uint8_t, 40> buf;
  buf.fill(0xa5);
  std::size_t n = write_arp(buf.data(), kArpRequest, kSha, kSpa, MacAddr{}, kTpa);
  ASSERT_EQ(n, kArpLen);
  auto want = request_bytes();
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(buf[i], want[i]) << i;
  for (std::size_t i = n; i < buf.size(); ++i) EXPECT_EQ(buf[i], 0xa5) << i;
}

TEST(Arp, ReplyRoundTrip) {
  const MacAddr tha{{0x02, 0x00, 0x00, 0x00, 0x00, 0x09}};
  std::array<std::uint8_t, kArpLen> buf{};
  write_arp(buf.data(), kArpReply, kSha, kTpa, tha, kSpa);
  auto r = ArpView::parse(buf);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->op(), kArpReply);
  EXPECT_EQ(r->sha(), kSha);
  EXPECT_EQ(r->spa(), kTpa);
  EXPECT_EQ(r->tha(), tha);
  EXPECT_EQ(r->tpa(), kSpa);
}

}  // namespace
}  // namespace twstack::wire
