// SHA-256 known answers: FIPS 180-4 examples (NIST CSRC "SHA256.pdf" and
// "SHA2_Additional.pdf"), plus incremental feeding in uneven pieces.
#include "apps/common/sha256.hh"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace twstack::app {
namespace {

std::string hex_of(std::string_view s) { return to_hex(Sha256::of(s)); }

TEST(Sha256, EmptyMessage) {
  EXPECT_EQ(hex_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, OneBlockAbc) {
  EXPECT_EQ(hex_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, TwoBlock448BitMessage) {
  EXPECT_EQ(hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, The896BitMessage) {
  EXPECT_EQ(hex_of("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnop"
                   "qrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(Sha256, OneMillionA) {
  std::string m(1000000, 'a');
  EXPECT_EQ(hex_of(m), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PaddingBoundaries) {
  // 55 bytes fits the length in one block; 56..63 need a second one.
  EXPECT_EQ(hex_of(std::string(55, 'a')), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(hex_of(std::string(56, 'a')), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(hex_of(std::string(64, 'a')), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST(Sha256, IncrementalMatchesOneShot) {
  std::vector<std::uint8_t> data(100003);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 131 + (i >> 7));
  Sha256::Digest whole = Sha256::of(data);
  Sha256 h;
  std::size_t off = 0;
  for (std::size_t step = 1; off < data.size(); step = step * 7 % 1013 + 1) {
    std::size_t n = std::min(step, data.size() - off);
    h.update(std::span<const std::uint8_t>(data).subspan(off, n));
    off += n;
  }
  EXPECT_EQ(h.finish(), whole);
  // finish() resets: the hasher is ready for a new message.
  h.update("abc");
  EXPECT_EQ(to_hex(h.finish()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace twstack::app
