#include "stack/wire/ethernet.hh"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <cstdint>
#include <vector>

namespace twstack::wire {
namespace {

const MacAddr kDst{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
const MacAddr kSrc{{0x52, 0x54, 0x00, 0xab, 0xcd, 0xef}};

// Start of a 60-byte ARP broadcast frame: dst ff..ff, src, type 0806.
std::vector<std::uint8_t> arp_frame() {
  const std::uint8_t head[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52,
                               0x54, 0x00, 0xab, 0xcd, 0xef, 0x08, 0x06};
  std::vector<std::uint8_t> f(60, 0);  // minimum frame without FCS, padded
  std::copy(std::begin(head), std::end(head), f.begin());
  f[15] = 0x01;
  return f;
}

TEST(Ethernet, ParsesHeaderFields) {
  auto f = arp_frame();
  auto r = EthernetView::parse(f);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.error(), ParseError::kOk);
  EXPECT_TRUE(r->dst().is_broadcast());
  EXPECT_EQ(r->src(), kSrc);
  EXPECT_EQ(r->ethertype(), kEtherTypeArp);
  EXPECT_EQ(r->payload().size(), 60u - kEthHeaderLen);
  EXPECT_EQ(r->payload().data(), f.data() + 14);
  EXPECT_EQ((*r).payload()[1], 0x01);
}

TEST(Ethernet, HeaderOnlyFrameHasEmptyPayload) {
  auto f = arp_frame();
  auto r = EthernetView::parse(std::span<const std::uint8_t>(f).first(kEthHeaderLen));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->payload().empty());
}

TEST(Ethernet, EveryShortPrefixIsTruncated) {
  auto f = arp_frame();
  for (std::size_t n = 0; n < kEthHeaderLen; ++n) {
    // An exact-size copy, so a sanitizer build catches any read past the end.
    const std::vector<std::uint8_t> prefix(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = EthernetView::parse(prefix);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error(), ParseError::kTruncated) << n;
  }
}

TEST(Ethernet, VlanTaggedFramesAreUnsupported) {
  auto f = arp_frame();
  f[12] = 0x81;
  f[13] = 0x00;
  EXPECT_EQ(EthernetView::parse(f).error(), ParseError::kUnsupported);
  f[12] = 0x88;
  f[13] = 0xa8;
  EXPECT_EQ(EthernetView::parse(f).error(), ParseError::kUnsupported);
}

TEST(Ethernet, Ieee8023LengthFieldIsUnsupported) {
  auto f = arp_frame();
  f[12] = 0x05;
  f[13] = 0xdc;  // 1500: a length, not a type
  EXPECT_EQ(EthernetView::parse(f).error(), ParseError::kUnsupported);
  f[12] = 0x06;
  f[13] = 0x00;  // 0x0600 is the first type value
  EXPECT_TRUE(EthernetView::parse(f).ok());
}

TEST(Ethernet, BuilderWritesEveryByte) {
  std::array<std::uint8_t, 20> buf;
  buf.fill(0xa5);
  write_ethernet(buf.data(), kDst, kSrc, kEtherTypeIpv4);
  const std::uint8_t want[] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52,
                               0x54, 0x00, 0xab, 0xcd, 0xef, 0x08, 0x00};
  for (std::size_t i = 0; i < kEthHeaderLen; ++i) EXPECT_EQ(buf[i], want[i]) << i;
  for (std::size_t i = kEthHeaderLen; i < buf.size(); ++i) EXPECT_EQ(buf[i], 0xa5) << i;
}

TEST(Ethernet, RoundTrip) {
  std::array<std::uint8_t, 64> buf{};
  write_ethernet(buf.data(), MacAddr::broadcast(), kSrc, kEtherTypeArp);
  auto r = EthernetView::parse(buf);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->dst(), MacAddr::broadcast());
  EXPECT_EQ(r->src(), kSrc);
  EXPECT_EQ(r->ethertype(), kEtherTypeArp);
  EXPECT_EQ(r->payload().size(), 50u);
}

TEST(MacAddr, Predicates) {
  EXPECT_TRUE(MacAddr::broadcast().is_broadcast());
  EXPECT_TRUE(MacAddr::broadcast().is_multicast());
  EXPECT_FALSE(kSrc.is_broadcast());
  EXPECT_FALSE(kSrc.is_multicast());
  EXPECT_TRUE((MacAddr{{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}}).is_multicast());
  EXPECT_NE(kSrc, kDst);
  EXPECT_EQ(kSrc.to_string(), "52:54:00:ab:cd:ef");
  EXPECT_EQ(MacAddr{}.to_string(), "00:00:00:00:00:00");
}

TEST(ParseError, Names) {
  EXPECT_STREQ(to_string(ParseError::kOk), "ok");
  EXPECT_STREQ(to_string(ParseError::kTruncated), "truncated");
  EXPECT_STREQ(to_string(ParseError::kUnsupported), "unsupported");
  EXPECT_STREQ(to_string(ParseError::kBadOptionLen), "bad_option_len");
}

}  // namespace
}  // namespace twstack::wire
