#include "stack/wire/tcp_options.hh"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace twstack::wire {
namespace {

using Bytes = std::vector<std::uint8_t>;

ParseError parse(const Bytes& b, TcpOptions* o) { return parse_tcp_options(b, o); }

TEST(TcpOptions, LinuxSyn) {
  // mss 1460, sackOK, TS val 1000 ecr 0, nop, wscale 7 (Linux SYN layout).
  Bytes b = {0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00,
             0x03, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07};
  TcpOptions o;
  ASSERT_EQ(parse(b, &o), ParseError::kOk);
  EXPECT_TRUE(o.has_mss);
  EXPECT_EQ(o.mss, 1460);
  EXPECT_TRUE(o.sack_permitted);
  EXPECT_TRUE(o.has_timestamps);
  EXPECT_EQ(o.tsval, 1000u);
  EXPECT_EQ(o.tsecr, 0u);
  EXPECT_TRUE(o.has_wscale);
  EXPECT_EQ(o.wscale, 7);
  EXPECT_FALSE(o.wscale_clamped);
  EXPECT_EQ(o.sack_count, 0);
}

// NOP, NOP, timestamps (the aligned layout Linux reads in one compare,
// tcp_parse_aligned_timestamp) reads as the same option in any other
// layout does, and resets what a previous segment left.
TEST(TcpOptions, AlignedTimestampsAsAnyLayout) {
  const Bytes aligned = {0x01, 0x01, 0x08, 0x0a, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0};
  const Bytes trailing = {0x08, 0x0a, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x01};
  TcpOptions a, b;
  a.has_mss = true;
  a.sack_count = 2;
  ASSERT_EQ(parse(aligned, &a), ParseError::kOk);
  ASSERT_EQ(parse(trailing, &b), ParseError::kOk);
  EXPECT_TRUE(a.has_timestamps);
  EXPECT_EQ(a.tsval, 0x12345678u);
  EXPECT_EQ(a.tsecr, 0x9abcdef0u);
  EXPECT_FALSE(a.has_mss);
  EXPECT_EQ(a.sack_count, 0);
  EXPECT_EQ(a.tsval, b.tsval);
  EXPECT_EQ(a.tsecr, b.tsecr);
  // Twelve bytes that only start like it are parsed in full: a bad length after is an error.
  ASSERT_EQ(parse({0x01, 0x01, 0x08, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0}, &a), ParseError::kBadOptionLen);
}

TEST(TcpOptions, EmptyAndResetsOutput) {
  TcpOptions o;
  o.has_mss = true;
  o.sack_count = 3;
  ASSERT_EQ(parse({}, &o), ParseError::kOk);
  EXPECT_FALSE(o.has_mss);
  EXPECT_EQ(o.sack_count, 0);
}

TEST(TcpOptions, NopPaddingAndEolEndsList) {
  TcpOptions o;
  ASSERT_EQ(parse({0x01, 0x01, 0x01, 0x02, 0x04, 0x02, 0x18, 0x00, 0x00, 0x00}, &o),
            ParseError::kOk);
  EXPECT_EQ(o.mss, 536);
  // Anything after EOL is not interpreted, even garbage lengths.
  ASSERT_EQ(parse({0x00, 0x02, 0x00, 0xff, 0x03}, &o), ParseError::kOk);
  EXPECT_FALSE(o.has_mss);
  ASSERT_EQ(parse({0x01, 0x03, 0x03, 0x02, 0x00, 0x02, 0x04, 0x05, 0xb4}, &o), ParseError::kOk);
  EXPECT_TRUE(o.has_wscale);
  EXPECT_FALSE(o.has_mss);
}

TEST(TcpOptions, UnknownKindsAreSkippedByLength) {
  TcpOptions o;
  // User Timeout (28, len 4), an experimental option (254, len 6), then MSS.
  ASSERT_EQ(parse({28, 4, 0x80, 0x10, 254, 6, 0xf9, 0x89, 0, 0, 2, 4, 0x23, 0x28}, &o),
            ParseError::kOk);
  EXPECT_TRUE(o.has_mss);
  EXPECT_EQ(o.mss, 9000);
  // An unknown option that exactly fills the list.
  ASSERT_EQ(parse({99, 2}, &o), ParseError::kOk);
}

TEST(TcpOptions, MalformedLengths) {
  TcpOptions o;
  EXPECT_EQ(parse({0x02, 0x00, 0x05, 0xb4}, &o), ParseError::kBadOptionLen);  // len 0
  EXPECT_EQ(parse({0x02, 0x01, 0x05, 0xb4}, &o), ParseError::kBadOptionLen);  // len 1
  EXPECT_EQ(parse({99, 0x00}, &o), ParseError::kBadOptionLen);                // unknown, len 0
  EXPECT_EQ(parse({99, 0x01, 0x01, 0x01}, &o), ParseError::kBadOptionLen);    // unknown, len 1
  EXPECT_EQ(parse({0x02, 0x04, 0x05}, &o), ParseError::kBadOptionLen);        // past the end
  EXPECT_EQ(parse({99, 0x08, 0, 0, 0, 0}, &o), ParseError::kBadOptionLen);    // past the end
  EXPECT_EQ(parse({0x01, 0x01, 0x02}, &o), ParseError::kBadOptionLen);        // no length byte
  EXPECT_EQ(parse({99}, &o), ParseError::kBadOptionLen);
}

TEST(TcpOptions, KnownKindsWithWrongLength) {
  TcpOptions o;
  EXPECT_EQ(parse({2, 3, 5}, &o), ParseError::kBadOptionLen);               // MSS len 3
  EXPECT_EQ(parse({2, 5, 5, 0xb4, 0}, &o), ParseError::kBadOptionLen);      // MSS len 5
  EXPECT_EQ(parse({3, 2, 1, 1}, &o), ParseError::kBadOptionLen);            // WS len 2
  EXPECT_EQ(parse({3, 4, 7, 0}, &o), ParseError::kBadOptionLen);            // WS len 4
  EXPECT_EQ(parse({4, 3, 0, 1}, &o), ParseError::kBadOptionLen);            // SACKOK len 3
  EXPECT_EQ(parse({8, 8, 0, 0, 0, 1, 0, 0}, &o), ParseError::kBadOptionLen);  // TS len 8
  Bytes ts12 = {8, 12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0};
  EXPECT_EQ(parse(ts12, &o), ParseError::kBadOptionLen);                    // TS len 12
  EXPECT_EQ(parse({5, 2, 1, 1}, &o), ParseError::kBadOptionLen);            // SACK, no blocks
  Bytes sack9 = {5, 9, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1};
  EXPECT_EQ(parse(sack9, &o), ParseError::kBadOptionLen);                   // SACK 2+7
  Bytes sack5(42, 0);  // five blocks: cannot fit a real header, still rejected
  sack5[0] = 5;
  sack5[1] = 42;
  EXPECT_EQ(parse(sack5, &o), ParseError::kBadOptionLen);
}

TEST(TcpOptions, WindowScaleClampedTo14) {
  TcpOptions o;
  ASSERT_EQ(parse({1, 3, 3, 14}, &o), ParseError::kOk);
  EXPECT_EQ(o.wscale, 14);
  EXPECT_FALSE(o.wscale_clamped);
  ASSERT_EQ(parse({1, 3, 3, 15}, &o), ParseError::kOk);
  EXPECT_EQ(o.wscale, 14);
  EXPECT_TRUE(o.wscale_clamped);
  ASSERT_EQ(parse({1, 3, 3, 255}, &o), ParseError::kOk);
  EXPECT_EQ(o.wscale, 14);
  EXPECT_TRUE(o.wscale_clamped);
}

TEST(TcpOptions, SackBlocks) {
  for (std::uint8_t k = 1; k <= 4; ++k) {
    Bytes b(4 + 8 * std::size_t{k}, 0);
    b[0] = b[1] = 1;
    b[2] = 5;
    b[3] = static_cast<std::uint8_t>(2 + 8 * k);
    for (std::uint8_t i = 0; i < k; ++i) {
      std::uint8_t* blk = b.data() + 4 + 8 * i;
      blk[0] = blk[4] = 0x10;
      blk[3] = blk[7] = i;
      blk[6] = 1;
    }
    TcpOptions o;
    ASSERT_EQ(parse(b, &o), ParseError::kOk) << int{k};
    ASSERT_EQ(o.sack_count, k);
    for (std::uint8_t i = 0; i < k; ++i) {
      EXPECT_EQ(o.sack[i].left, 0x10000000u + i);
      EXPECT_EQ(o.sack[i].right, 0x10000100u + i);
    }
  }
}

TEST(TcpOptions, EveryPrefixOfAValidListIsSafe) {
  Bytes b = {0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00,
             0x03, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07};
  for (std::size_t n = 0; n <= b.size(); ++n) {
    // An exact-size copy, so a sanitizer build catches any read past the end.
    const Bytes prefix(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
    TcpOptions o;
    ParseError e = parse_tcp_options(prefix, &o);
    bool boundary = n == 0 || n == 4 || n == 6 || n == 16 || n == 17 || n == 20;
    EXPECT_EQ(e, boundary ? ParseError::kOk : ParseError::kBadOptionLen) << n;
  }
}

// Writes o into buffers pre-filled with two different patterns: equal
// results prove every claimed byte was written; the tails prove no more.
Bytes write_checked(const TcpOptions& o) {
  std::array<std::uint8_t, 48> a;
  std::array<std::uint8_t, 48> b;
  a.fill(0xa5);
  b.fill(0x5a);
  std::size_t na = write_tcp_options(a.data(), o);
  std::size_t nb = write_tcp_options(b.data(), o);
  EXPECT_EQ(na, nb);
  EXPECT_EQ(na, tcp_options_size(o));
  EXPECT_EQ(na % 4, 0u);
  EXPECT_LE(na, 40u);
  for (std::size_t i = 0; i < na; ++i) EXPECT_EQ(a[i], b[i]) << i;
  for (std::size_t i = na; i < a.size(); ++i) {
    EXPECT_EQ(a[i], 0xa5) << i;
    EXPECT_EQ(b[i], 0x5a) << i;
  }
  return Bytes(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(na));
}

TEST(TcpOptions, WriterLinuxSynLayout) {
  TcpOptions o;
  o.has_mss = true;
  o.mss = 1460;
  o.sack_permitted = true;
  o.has_timestamps = true;
  o.tsval = 1000;
  o.has_wscale = true;
  o.wscale = 7;
  Bytes want = {0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00,
                0x03, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07};
  EXPECT_EQ(write_checked(o), want);
}

TEST(TcpOptions, WriterOtherLayouts) {
  TcpOptions ts;
  ts.has_timestamps = true;
  ts.tsval = 0x01020304;
  ts.tsecr = 0x05060708;
  EXPECT_EQ(write_checked(ts), (Bytes{1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8}));
  TcpOptions sackok;
  sackok.sack_permitted = true;
  EXPECT_EQ(write_checked(sackok), (Bytes{1, 1, 4, 2}));
  TcpOptions ws;
  ws.has_wscale = true;
  ws.wscale = 14;
  EXPECT_EQ(write_checked(ws), (Bytes{1, 3, 3, 14}));
  EXPECT_TRUE(write_checked(TcpOptions{}).empty());
  TcpOptions sack;
  sack.sack_count = 1;
  sack.sack[0] = {0x11223344, 0x55667788};
  EXPECT_EQ(write_checked(sack),
            (Bytes{1, 1, 5, 10, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}));
}

TEST(TcpOptions, WriterLimitsSackBlocksTo40Bytes) {
  TcpOptions o;
  o.has_timestamps = true;
  o.sack_count = 4;
  for (std::uint32_t i = 0; i < 4; ++i) o.sack[i] = {100 * i + 1, 100 * i + 50};
  Bytes b = write_checked(o);
  EXPECT_EQ(b.size(), 40u);  // TS + 3 blocks
  TcpOptions back;
  ASSERT_EQ(parse(b, &back), ParseError::kOk);
  EXPECT_EQ(back.sack_count, 3);
  o.has_timestamps = false;
  EXPECT_EQ(write_checked(o).size(), 36u);  // 4 blocks
  o.has_timestamps = true;
  o.has_mss = o.has_wscale = true;  // 20 bytes fixed: room for 2 blocks
  EXPECT_EQ(write_checked(o).size(), 40u);
}

// Every combination round-trips through write and parse.
TEST(TcpOptions, RoundTripAllCombinations) {
  for (unsigned mask = 0; mask < 16; ++mask) {
    for (std::uint8_t n = 0; n <= 4; ++n) {
      TcpOptions o;
      o.has_mss = (mask & 1) != 0;
      o.mss = o.has_mss ? 1400 : 0;
      o.has_wscale = (mask & 2) != 0;
      o.wscale = o.has_wscale ? 9 : 0;
      o.sack_permitted = (mask & 4) != 0;
      o.has_timestamps = (mask & 8) != 0;
      o.tsval = o.has_timestamps ? 0xdeadbeef : 0;
      o.tsecr = o.has_timestamps ? 0x0badf00d : 0;
      o.sack_count = n;
      for (std::uint32_t i = 0; i < n; ++i) o.sack[i] = {i * 1000 + 7, i * 1000 + 900};
      Bytes b = write_checked(o);
      TcpOptions back;
      ASSERT_EQ(parse(b, &back), ParseError::kOk) << mask << " " << int{n};
      EXPECT_EQ(back.has_mss, o.has_mss);
      EXPECT_EQ(back.mss, o.mss);
      EXPECT_EQ(back.has_wscale, o.has_wscale);
      EXPECT_EQ(back.wscale, o.wscale);
      EXPECT_EQ(back.sack_permitted, o.sack_permitted);
      EXPECT_EQ(back.has_timestamps, o.has_timestamps);
      EXPECT_EQ(back.tsval, o.tsval);
      EXPECT_EQ(back.tsecr, o.tsecr);
      ASSERT_LE(back.sack_count, n);
      std::size_t fixed = tcp_options_size(o) - (back.sack_count ? 4 + 8 * back.sack_count : 0);
      EXPECT_EQ(back.sack_count, std::min<std::size_t>(n, fixed + 12 <= 40 ? (36 - fixed) / 8 : 0));
      for (std::size_t i = 0; i < back.sack_count; ++i) EXPECT_EQ(back.sack[i], o.sack[i]);
    }
  }
}

}  // namespace
}  // namespace twstack::wire
