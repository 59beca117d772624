#include "stack/base/siphash.hh"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

namespace twstack {
namespace {

// Key 00 01 .. 0f, read little-endian.
constexpr SipKey kRefKey{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

std::vector<std::uint8_t> seq_bytes(std::size_t n) {
  std::vector<std::uint8_t> m(n);
  for (std::size_t i = 0; i < n; ++i) m[i] = static_cast<std::uint8_t>(i);
  return m;
}

std::uint64_t le64(const std::array<std::uint8_t, 8>& b) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[static_cast<std::size_t>(i)];
  return v;
}

// The paper's Appendix A: key 00..0f, message 00..0e (15 bytes).
TEST(SipHash, PaperAppendixA) {
  const auto m = seq_bytes(15);
  EXPECT_EQ(siphash24(kRefKey, m.data(), m.size()), 0xa129ca6149be45e5ULL);
}

// vectors_sip64 from the reference implementation (github.com/veorq/SipHash
// vectors.h): entry i is the output bytes for message 00 01 .. (i-1).
// Lengths 0..16 cover every tail length and the first block boundary.
TEST(SipHash, ReferenceVectors) {
  const std::array<std::array<std::uint8_t, 8>, 17> expected = {{
      {0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72},
      {0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74},
      {0x5a, 0x4f, 0xa9, 0xd9, 0x09, 0x80, 0x6c, 0x0d},
      {0x2d, 0x7e, 0xfb, 0xd7, 0x96, 0x66, 0x67, 0x85},
      {0xb7, 0x87, 0x71, 0x27, 0xe0, 0x94, 0x27, 0xcf},
      {0x8d, 0xa6, 0x99, 0xcd, 0x64, 0x55, 0x76, 0x18},
      {0xce, 0xe3, 0xfe, 0x58, 0x6e, 0x46, 0xc9, 0xcb},
      {0x37, 0xd1, 0x01, 0x8b, 0xf5, 0x00, 0x02, 0xab},
      {0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93},
      {0xb0, 0xe4, 0xa9, 0x0b, 0xdf, 0x82, 0x00, 0x9e},
      {0xf3, 0xb9, 0xdd, 0x94, 0xc5, 0xbb, 0x5d, 0x7a},
      {0xa7, 0xad, 0x6b, 0x22, 0x46, 0x2f, 0xb3, 0xf4},
      {0xfb, 0xe5, 0x0e, 0x86, 0xbc, 0x8f, 0x1e, 0x75},
      {0x90, 0x3d, 0x84, 0xc0, 0x27, 0x56, 0xea, 0x14},
      {0xee, 0xf2, 0x7a, 0x8e, 0x90, 0xca, 0x23, 0xf7},
      {0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1},
      {0xdb, 0x9b, 0xc2, 0x57, 0x7f, 0xcc, 0x2a, 0x3f},
  }};
  for (std::size_t len = 0; len < expected.size(); ++len) {
    const auto m = seq_bytes(len);
    EXPECT_EQ(siphash24(kRefKey, m.data(), len), le64(expected[len])) << "len " << len;
  }
  // The last table entry: 63 bytes, seven full blocks and a 7-byte tail.
  const auto m = seq_bytes(63);
  EXPECT_EQ(siphash24(kRefKey, m.data(), 63),
            le64({0x72, 0x45, 0x06, 0xeb, 0x4c, 0x32, 0x8a, 0x95}));
}

TEST(SipHash, EmptyMessageAcceptsNull) {
  EXPECT_EQ(siphash24(kRefKey, nullptr, 0), 0x726fdb47dd0e0e31ULL);
}

TEST(SipHash, KeyMatters) {
  const auto m = seq_bytes(15);
  SipKey k = kRefKey;
  k.k1 ^= 1;
  EXPECT_NE(siphash24(k, m.data(), m.size()), siphash24(kRefKey, m.data(), m.size()));
}

// siphash_4tuple is siphash24 over saddr|daddr|sport|dport|extra, big-endian.
TEST(SipHash, FourTupleMatchesByteLayout) {
  const struct {
    std::uint32_t saddr, daddr;
    std::uint16_t sport, dport;
    std::uint32_t extra;
  } cases[] = {
      {0x0a000001, 0x0a000002, 40000, 80, 0},
      {0xc0a80101, 0x08080808, 65535, 443, 0xdeadbeef},
      {0, 0, 0, 0, 0},
      {0xffffffff, 0xffffffff, 0xffff, 0xffff, 0xffffffff},
  };
  for (const auto& c : cases) {
    const std::uint8_t buf[16] = {
        static_cast<std::uint8_t>(c.saddr >> 24), static_cast<std::uint8_t>(c.saddr >> 16),
        static_cast<std::uint8_t>(c.saddr >> 8),  static_cast<std::uint8_t>(c.saddr),
        static_cast<std::uint8_t>(c.daddr >> 24), static_cast<std::uint8_t>(c.daddr >> 16),
        static_cast<std::uint8_t>(c.daddr >> 8),  static_cast<std::uint8_t>(c.daddr),
        static_cast<std::uint8_t>(c.sport >> 8),  static_cast<std::uint8_t>(c.sport),
        static_cast<std::uint8_t>(c.dport >> 8),  static_cast<std::uint8_t>(c.dport),
        static_cast<std::uint8_t>(c.extra >> 24), static_cast<std::uint8_t>(c.extra >> 16),
        static_cast<std::uint8_t>(c.extra >> 8),  static_cast<std::uint8_t>(c.extra),
    };
    EXPECT_EQ(siphash_4tuple(kRefKey, c.saddr, c.daddr, c.sport, c.dport, c.extra),
              siphash24(kRefKey, buf, sizeof buf));
  }
}

// With message bytes 00..0f the helper must reproduce reference vector 16.
TEST(SipHash, FourTupleKnownAnswer) {
  EXPECT_EQ(siphash_4tuple(kRefKey, 0x00010203, 0x04050607, 0x0809, 0x0a0b, 0x0c0d0e0f),
            le64({0xdb, 0x9b, 0xc2, 0x57, 0x7f, 0xcc, 0x2a, 0x3f}));
}

TEST(SipHash, FourTupleFieldsAreNotInterchangeable) {
  const std::uint64_t h = siphash_4tuple(kRefKey, 1, 2, 3, 4);
  EXPECT_NE(h, siphash_4tuple(kRefKey, 2, 1, 3, 4));
  EXPECT_NE(h, siphash_4tuple(kRefKey, 1, 2, 4, 3));
  EXPECT_NE(h, siphash_4tuple(kRefKey, 1, 2, 3, 4, 1));
  EXPECT_EQ(h, siphash_4tuple(kRefKey, 1, 2, 3, 4, 0));
}

}  // namespace
}  // namespace twstack
