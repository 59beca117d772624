// Known answers: RFC 1071 §3, RFC 1624 §4, the Wikipedia IPv4 header example,
// scapy's documented IP()/TCP() bytes. Fast path checked against a plain
// 16-bit reference over random buffers, lengths and alignments.
#include "stack/wire/checksum.hh"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <random>
#include <vector>

#include "stack/base/bytes.hh"

namespace twstack::wire {
namespace {

// RFC 1071 §4.1 reference: 16-bit big-endian words, odd byte padded with zero.
std::uint32_t reference_sum(const std::uint8_t* p, std::size_t n) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += load_be16(p + i);
  if (n % 2 != 0) sum += std::uint32_t{p[n - 1]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint32_t>(sum);
}

// The folded sum without the final complement.
std::uint16_t fold_only(std::uint32_t sum) {
  return static_cast<std::uint16_t>(~checksum_fold(sum));
}

TEST(Checksum, Rfc1071Example) {
  // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
  const std::uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(fold_only(checksum_add(b, sizeof b)), 0xddf2);
  EXPECT_EQ(checksum_fold(checksum_add(b, sizeof b)), 0x220d);
}

TEST(Checksum, Rfc1071ByteSwappedExample) {
  // RFC 1071 §2 (B): swapping every byte pair swaps the sum.
  const std::uint8_t b[] = {0x01, 0x00, 0x03, 0xf2, 0xf5, 0xf4, 0xf7, 0xf6};
  EXPECT_EQ(fold_only(checksum_add(b, sizeof b)), 0xf2dd);
}

TEST(Checksum, OddLengthPadsLastByteHigh) {
  const std::uint8_t b[] = {0x01, 0x02, 0x03};
  EXPECT_EQ(checksum_add(b, 3), 0x0402u);
  const std::uint8_t one[] = {0xab};
  EXPECT_EQ(checksum_add(one, 1), 0xab00u);
  EXPECT_EQ(checksum_add(one, 0), 0u);
}

TEST(Checksum, Ipv4HeaderKnownAnswer) {
  // https://en.wikipedia.org/wiki/Internet_checksum example header: b861.
  std::uint8_t h[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                      0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(checksum_fold(checksum_add(h, sizeof h)), 0xb861);
  h[10] = 0xb8;
  h[11] = 0x61;
  EXPECT_TRUE(checksum_ok(h, sizeof h));
  EXPECT_EQ(checksum_add(h, sizeof h), 0xffffu);
  h[19] ^= 0x01;
  EXPECT_FALSE(checksum_ok(h, sizeof h));
}

TEST(Checksum, PseudoHeaderScapyTcpSyn) {
  // scapy docs, raw(IP()/TCP()): 127.0.0.1 -> 127.0.0.1, TCP chksum=0x917c.
  const std::uint8_t tcp[] = {0x00, 0x14, 0x00, 0x50, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                              0x00, 0x00, 0x50, 0x02, 0x20, 0x00, 0x91, 0x7c, 0x00, 0x00};
  Ipv4Addr lo = Ipv4Addr::from_octets(127, 0, 0, 1);
  std::uint32_t ph = pseudo_header_sum(lo, lo, 6, sizeof tcp);
  EXPECT_EQ(ph, 0x7f00u + 0x0001u + 0x7f00u + 0x0001u + 6u + 20u);
  EXPECT_TRUE(checksum_ok(tcp, sizeof tcp, ph));
  std::uint8_t copy[sizeof tcp];
  std::copy(std::begin(tcp), std::end(tcp), copy);
  copy[16] = copy[17] = 0;
  EXPECT_EQ(checksum_fold(checksum_add(copy, sizeof copy, ph)), 0x917c);
}

TEST(Checksum, Rfc1624Example) {
  // RFC 1624 §4: HC 0xdd2f, m 0x5555 -> m' 0x3285 gives HC' 0x0000 by eqn 3.
  EXPECT_EQ(checksum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
}

TEST(Checksum, AllOnesCarryHeavy) {
  // 0xffff words maximise end-around carries in the 64-bit accumulator.
  std::vector<std::uint8_t> buf(65535, 0xff);
  for (std::size_t n : {1u, 2u, 7u, 8u, 9u, 31u, 32u, 33u, 1500u, 65535u}) {
    EXPECT_EQ(checksum_add(buf.data(), n), reference_sum(buf.data(), n)) << n;
  }
}

TEST(Checksum, MatchesReferenceAllLengthsAndAlignments) {
  std::mt19937 rng(1071);
  std::vector<std::uint8_t> buf(2100);
  for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
  for (std::size_t off = 0; off < 8; ++off) {
    for (std::size_t n = 0; n <= 300; ++n) {
      ASSERT_EQ(checksum_add(buf.data() + off, n), reference_sum(buf.data() + off, n))
          << "off " << off << " n " << n;
    }
    ASSERT_EQ(checksum_add(buf.data() + off, 2048), reference_sum(buf.data() + off, 2048));
  }
}

TEST(Checksum, ChainingAtEvenBoundaries) {
  std::mt19937 rng(7);
  std::vector<std::uint8_t> buf(1461);
  for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
  std::uint32_t whole = checksum_add(buf.data(), buf.size());
  for (std::size_t split = 0; split <= buf.size(); split += 2) {
    std::uint32_t s = checksum_add(buf.data(), split);
    s = checksum_add(buf.data() + split, buf.size() - split, s);
    ASSERT_EQ(checksum_fold(s), checksum_fold(whole)) << split;
  }
  // A large incoming sum is folded, not overflowed.
  EXPECT_LE(checksum_add(buf.data(), buf.size(), 0xffffffffu), 0xffffu);
}

// Incremental update (RFC 1624 eqn 3) agrees with full recomputation.
TEST(Checksum, IncrementalUpdateMatchesRecompute) {
  std::mt19937 rng(1624);
  std::vector<std::uint8_t> buf(40);
  for (int iter = 0; iter < 20000; ++iter) {
    for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
    store_be16(buf.data() + 10, 0);
    std::uint16_t csum = checksum_fold(checksum_add(buf.data(), buf.size()));
    store_be16(buf.data() + 10, csum);
    std::size_t field = 12 + 2 * (rng() % 14);  // even offsets past the checksum
    if (iter % 2 == 0) {
      std::uint16_t old_val = load_be16(buf.data() + field);
      std::uint16_t new_val = static_cast<std::uint16_t>(rng());
      if (iter % 10 == 0) new_val = 0;  // exercise zero / all-ones edges
      if (iter % 10 == 2) new_val = 0xffff;
      store_be16(buf.data() + field, new_val);
      csum = checksum_update16(csum, old_val, new_val);
    } else {
      field = std::min<std::size_t>(field, buf.size() - 4);
      std::uint32_t old_val = load_be32(buf.data() + field);
      std::uint32_t new_val = static_cast<std::uint32_t>(rng());
      store_be32(buf.data() + field, new_val);
      csum = checksum_update32(csum, old_val, new_val);
    }
    store_be16(buf.data() + 10, 0);
    ASSERT_EQ(csum, checksum_fold(checksum_add(buf.data(), buf.size()))) << iter;
  }
}

TEST(Checksum, IncrementalUpdateOfHeaderKnownAnswer) {
  // Decrementing the TTL of the b861 header: 0x4011 -> 0x3f11.
  std::uint16_t c = checksum_update16(0xb861, 0x4011, 0x3f11);
  std::uint8_t h[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x3f, 0x11,
                      0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(c, checksum_fold(checksum_add(h, sizeof h)));
  EXPECT_EQ(c, 0xb961);
}

}  // namespace
}  // namespace twstack::wire

// The 20-byte IPv4 header form sums to the same checksum as the general
// one: the known answer, all ones (the most carries), and random headers at
// every alignment.
TEST(Checksum, TwentyByteFormMatchesTheGeneralOne) {
  std::mt19937 rng(20);
  std::vector<std::uint8_t> buf(24);
  for (int round = 0; round < 20000; ++round) {
    const std::size_t at = static_cast<std::size_t>(round) % 4;
    for (auto& b : buf) b = round == 0 ? 0xff : static_cast<std::uint8_t>(rng());
    const std::uint8_t* p = buf.data() + at;
    using namespace twstack::wire;
    ASSERT_EQ(checksum_fold(checksum_add20(p)), checksum_fold(checksum_add(p, 20)))
        << "round " << round;
  }
}
