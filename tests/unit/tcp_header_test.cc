#include "stack/wire/tcp.hh"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "stack/wire/checksum.hh"

namespace twstack::wire {
namespace {

const Ipv4Addr kLo = Ipv4Addr::from_octets(127, 0, 0, 1);
const Ipv4Addr kA = Ipv4Addr::from_octets(10, 0, 0, 1);
const Ipv4Addr kB = Ipv4Addr::from_octets(10, 0, 0, 2);

// scapy documentation, raw(IP()/TCP()): sport 20, dport 80, SYN, window 8192,
// chksum=0x917c, 127.0.0.1 -> 127.0.0.1.
std::vector<std::uint8_t> scapy_syn() {
  return {0x00, 0x14, 0x00, 0x50, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
          0x00, 0x00, 0x50, 0x02, 0x20, 0x00, 0x91, 0x7c, 0x00, 0x00};
}

// A Linux-style SYN 10.0.0.1:40000 -> 10.0.0.2:80 with options mss 1460,
// sackOK, TS val 1000 ecr 0, nop, wscale 7; checksum 2fe8 (cross-checked
// with an independent RFC 1071 implementation).
std::vector<std::uint8_t> linux_syn() {
  return {0x9c, 0x40, 0x00, 0x50, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02,
          0xfa, 0xf0, 0x2f, 0xe8, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a,
          0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07};
}

TEST(TcpHeader, ScapyKnownAnswer) {
  auto s = scapy_syn();
  auto r = TcpView::parse(s, kLo, kLo);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r->src_port(), 20);
  EXPECT_EQ(r->dst_port(), 80);
  EXPECT_EQ(r->seq(), 0u);
  EXPECT_EQ(r->ack(), 0u);
  EXPECT_EQ(r->flags(), kSyn);
  EXPECT_TRUE(r->has(kSyn));
  EXPECT_FALSE(r->has(kAck));
  EXPECT_EQ(r->window(), 8192);
  EXPECT_EQ(r->checksum(), 0x917c);
  EXPECT_EQ(r->urgent(), 0);
  EXPECT_EQ(r->header_len(), 20u);
  EXPECT_TRUE(r->options().empty());
  EXPECT_TRUE(r->payload().empty());

  std::array<std::uint8_t, 20> buf;
  buf.fill(0xa5);
  TcpFields f{.src_port = 20, .dst_port = 80, .seq = 0, .ack = 0, .flags = kSyn, .window = 8192};
  ASSERT_EQ(write_tcp_header(buf.data(), f, {}), 20u);
  finish_tcp_checksum(buf.data(), buf.size(), kLo, kLo);
  EXPECT_TRUE(std::equal(buf.begin(), buf.end(), s.begin()));
}

TEST(TcpHeader, LinuxSynWithOptions) {
  auto s = linux_syn();
  auto r = TcpView::parse(s, kA, kB);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r->src_port(), 40000);
  EXPECT_EQ(r->dst_port(), 80);
  EXPECT_EQ(r->seq(), 0x12345678u);
  EXPECT_EQ(r->window(), 64240);
  EXPECT_EQ(r->header_len(), 40u);
  ASSERT_EQ(r->options().size(), 20u);
  EXPECT_EQ(r->options().data(), s.data() + 20);
  EXPECT_TRUE(r->payload().empty());
  // The pseudo-header sum is symmetric in src and dst, so swapping them
  // still verifies; a different address does not.
  EXPECT_TRUE(TcpView::parse(s, kB, kA).ok());
  EXPECT_EQ(TcpView::parse(s, kA, kLo).error(), ParseError::kBadChecksum);
}

TEST(TcpHeader, EveryPrefixIsRejected) {
  auto s = linux_syn();
  for (std::size_t n = 0; n < s.size(); ++n) {
    // An exact-size copy, so a sanitizer build catches any read past the end.
    const std::vector<std::uint8_t> prefix(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = TcpView::parse(prefix, kA, kB);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error(), n < 20 ? ParseError::kTruncated : ParseError::kBadHeaderLen) << n;
    // Without checksum verification the lengths alone still reject it.
    EXPECT_FALSE(TcpView::parse(prefix, kA, kB, false).ok());
  }
}

TEST(TcpHeader, BadDataOffset) {
  auto s = linux_syn();
  for (std::uint8_t off : {0, 1, 4}) {
    s[12] = static_cast<std::uint8_t>(off << 4);
    EXPECT_EQ(TcpView::parse(s, kA, kB, false).error(), ParseError::kBadHeaderLen) << int{off};
  }
  s[12] = 0xb0;  // 44 bytes in a 40-byte segment
  EXPECT_EQ(TcpView::parse(s, kA, kB, false).error(), ParseError::kBadHeaderLen);
}

TEST(TcpHeader, BadChecksumAnywhere) {
  auto s = linux_syn();
  for (std::size_t i = 0; i < s.size(); ++i) {
    // At byte 12 this flips a reserved bit, which parse ignores.
    auto q = s;
    q[i] ^= 0x04;
    EXPECT_EQ(TcpView::parse(q, kA, kB).error(), ParseError::kBadChecksum) << i;
    EXPECT_TRUE(TcpView::parse(q, kA, kB, /*verify_checksum=*/false).ok()) << i;
  }
}

TEST(TcpHeader, BuilderWritesEveryByte) {
  const std::uint8_t opts[] = {0x01, 0x01, 0x08, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8};
  TcpFields f{.src_port = 0xc001,
              .dst_port = 443,
              .seq = 0xfffffff0,
              .ack = 0x01020304,
              .flags = kAck | kPsh,
              .window = 0x1234,
              .urgent = 0x0bad};
  std::array<std::uint8_t, 40> buf;
  buf.fill(0xa5);
  std::size_t n = write_tcp_header(buf.data(), f, opts);
  ASSERT_EQ(n, 32u);
  const std::uint8_t want[] = {0xc0, 0x01, 0x01, 0xbb, 0xff, 0xff, 0xff, 0xf0, 0x01, 0x02, 0x03,
                               0x04, 0x80, 0x18, 0x12, 0x34, 0x00, 0x00, 0x0b, 0xad, 0x01, 0x01,
                               0x08, 0x0a, 1,    2,    3,    4,    5,    6,    7,    8};
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(buf[i], want[i]) << i;
  for (std::size_t i = n; i < buf.size(); ++i) EXPECT_EQ(buf[i], 0xa5) << i;
}

TEST(TcpHeader, RoundTripWithOddPayload) {
  const std::uint8_t opts[] = {0x02, 0x04, 0x05, 0xb4};
  const char text[] = "hello, twstack";  // 14 bytes + 1 = odd total
  TcpFields f{.src_port = 1234,
              .dst_port = 80,
              .seq = 100,
              .ack = 200,
              .flags = kAck | kPsh | kFin,
              .window = 500};
  std::vector<std::uint8_t> seg(24 + 15, 0xa5);
  std::size_t hlen = write_tcp_header(seg.data(), f, opts);
  ASSERT_EQ(hlen, 24u);
  std::memcpy(seg.data() + hlen, text, 15);
  finish_tcp_checksum(seg.data(), seg.size(), kA, kB);
  auto r = TcpView::parse(seg, kA, kB);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r->src_port(), 1234);
  EXPECT_EQ(r->seq(), 100u);
  EXPECT_EQ(r->ack(), 200u);
  EXPECT_EQ(r->flags(), kAck | kPsh | kFin);
  EXPECT_EQ(r->window(), 500);
  ASSERT_EQ(r->options().size(), 4u);
  ASSERT_EQ(r->payload().size(), 15u);
  EXPECT_EQ(std::memcmp(r->payload().data(), text, 15), 0);
  // finish_tcp_checksum does not depend on what the field held before.
  std::uint16_t c = r->checksum();
  seg[16] = 0x5a;
  finish_tcp_checksum(seg.data(), seg.size(), kA, kB);
  EXPECT_EQ(load_be16(seg.data() + 16), c);
}

TEST(TcpHeader, PseudoChecksumForOffloadCompletesToFullChecksum) {
  auto s = linux_syn();
  std::uint16_t want = load_be16(s.data() + 16);
  set_tcp_pseudo_checksum(s.data(), s.size(), kA, kB);
  // What the NIC does: sum the segment with the seeded field, complement.
  EXPECT_EQ(checksum_fold(checksum_add(s.data(), s.size())), want);
}

TEST(TcpHeader, FlagConstants) {
  EXPECT_EQ(kFin | kSyn | kRst | kPsh | kAck | kUrg | kEce | kCwr, 0xff);
  auto s = scapy_syn();
  s[13] = 0xff;
  auto r = TcpView::parse(s, kLo, kLo, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->flags(), 0xff);
}

}  // namespace
}  // namespace twstack::wire
