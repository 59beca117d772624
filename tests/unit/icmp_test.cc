#include "stack/wire/icmp.hh"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "stack/wire/checksum.hh"

namespace twstack::wire {
namespace {

// Echo request id 0x1234 seq 1 with a 13-byte (odd) payload; checksum 317d
// (cross-checked with an independent RFC 1071 implementation).
std::vector<std::uint8_t> echo_request() {
  std::vector<std::uint8_t> m(8 + 13);
  const std::uint8_t head[] = {0x08, 0x00, 0x31, 0x7d, 0x12, 0x34, 0x00, 0x01};
  std::memcpy(m.data(), head, 8);
  std::memcpy(m.data() + 8, "twstack-ping!", 13);
  return m;
}

TEST(Icmp, ParsesEchoRequest) {
  auto m = echo_request();
  auto r = IcmpView::parse(m);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r->type(), kIcmpEchoRequest);
  EXPECT_EQ(r->code(), 0);
  EXPECT_EQ(r->checksum(), 0x317d);
  EXPECT_EQ(r->id(), 0x1234);
  EXPECT_EQ(r->seq(), 1);
  ASSERT_EQ(r->payload().size(), 13u);
  EXPECT_EQ(std::memcmp(r->payload().data(), "twstack-ping!", 13), 0);
  EXPECT_EQ(r->size(), 21u);
}

TEST(Icmp, EveryPrefixIsRejected) {
  auto m = echo_request();
  for (std::size_t n = 0; n < m.size(); ++n) {
    // An exact-size copy, so a sanitizer build catches any read past the end.
    const std::vector<std::uint8_t> prefix(m.begin(), m.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = IcmpView::parse(prefix);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error(), n < 8 ? ParseError::kTruncated : ParseError::kBadChecksum) << n;
  }
}

TEST(Icmp, BadChecksumAnywhere) {
  auto m = echo_request();
  for (std::size_t i = 0; i < m.size(); ++i) {
    auto q = m;
    q[i] ^= 0x01;
    EXPECT_EQ(IcmpView::parse(q).error(), ParseError::kBadChecksum) << i;
  }
}

TEST(Icmp, EchoReplyKnownAnswer) {
  auto m = echo_request();
  auto req = IcmpView::parse(m);
  ASSERT_TRUE(req.ok());
  std::array<std::uint8_t, 32> buf;
  buf.fill(0xa5);
  std::size_t n = write_icmp_echo_reply(buf.data(), *req);
  ASSERT_EQ(n, m.size());
  const std::uint8_t head[] = {0x00, 0x00, 0x39, 0x7d, 0x12, 0x34, 0x00, 0x01};
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(buf[i], head[i]) << i;
  EXPECT_EQ(std::memcmp(buf.data() + 8, m.data() + 8, 13), 0);
  for (std::size_t i = n; i < buf.size(); ++i) EXPECT_EQ(buf[i], 0xa5) << i;
  auto rep = IcmpView::parse(std::span<const std::uint8_t>(buf.data(), n));
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->type(), kIcmpEchoReply);
}

TEST(Icmp, EchoReplyInPlace) {
  auto m = echo_request();
  auto copy = m;
  auto req = IcmpView::parse(m);
  ASSERT_TRUE(req.ok());
  std::size_t n = write_icmp_echo_reply(m.data(), *req);
  ASSERT_EQ(n, m.size());
  EXPECT_EQ(m[0], kIcmpEchoReply);
  EXPECT_EQ(m[2], 0x39);
  EXPECT_EQ(m[3], 0x7d);
  EXPECT_TRUE(std::equal(m.begin() + 4, m.end(), copy.begin() + 4));
}

TEST(Icmp, EmptyPayloadEcho) {
  std::array<std::uint8_t, 8> m = {0x08, 0x00, 0x00, 0x00, 0xab, 0xcd, 0x00, 0x07};
  std::uint16_t c = checksum_fold(checksum_add(m.data(), m.size()));
  m[2] = static_cast<std::uint8_t>(c >> 8);
  m[3] = static_cast<std::uint8_t>(c);
  auto req = IcmpView::parse(m);
  ASSERT_TRUE(req.ok());
  EXPECT_TRUE(req->payload().empty());
  std::array<std::uint8_t, 8> out;
  out.fill(0xa5);
  ASSERT_EQ(write_icmp_echo_reply(out.data(), *req), 8u);
  auto rep = IcmpView::parse(out);
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->id(), 0xabcd);
  EXPECT_EQ(rep->seq(), 7);
}

}  // namespace
}  // namespace twstack::wire
