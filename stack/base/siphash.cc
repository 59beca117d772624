#include "stack/base/siphash.hh"

namespace twstack {
namespace {

struct SipState {
  std::uint64_t v0, v1, v2, v3;

  explicit SipState(const SipKey& k)
      : v0(k.k0 ^ 0x736f6d6570736575ULL),  // "somepseu"
        v1(k.k1 ^ 0x646f72616e646f6dULL),  // "dorandom"
        v2(k.k0 ^ 0x6c7967656e657261ULL),  // "lygenera"
        v3(k.k1 ^ 0x7465646279746573ULL) {}  // "tedbytes"

  static constexpr std::uint64_t rotl(std::uint64_t x, int b) {
    return (x << b) | (x >> (64 - b));
  }

  void round() {
    v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
    v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
  }

  // c = 2 compression rounds per message word.
  void compress(std::uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }

  // d = 4 finalization rounds.
  std::uint64_t finish() {
    v2 ^= 0xff;
    round();
    round();
    round();
    round();
    return v0 ^ v1 ^ v2 ^ v3;
  }
};

std::uint64_t load_le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

constexpr std::uint64_t bswap16(std::uint16_t v) {
  return static_cast<std::uint64_t>(((v & 0xffu) << 8) | (v >> 8));
}

constexpr std::uint64_t bswap32(std::uint32_t v) {
  return static_cast<std::uint64_t>(((v & 0x000000ffu) << 24) | ((v & 0x0000ff00u) << 8) |
                                    ((v & 0x00ff0000u) >> 8) | ((v & 0xff000000u) >> 24));
}

}  // namespace

std::uint64_t siphash24(const SipKey& key, const std::uint8_t* data, std::size_t len) {
  SipState s(key);
  const std::size_t full = len & ~std::size_t{7};
  for (std::size_t i = 0; i < full; i += 8) s.compress(load_le64(data + i));

  // Last word: the remaining 0..7 bytes, little-endian, with len mod 256 in the top byte.
  std::uint64_t b = static_cast<std::uint64_t>(len & 0xff) << 56;
  for (std::size_t i = len - full; i > 0; --i) {
    b |= static_cast<std::uint64_t>(data[full + i - 1]) << (8 * (i - 1));
  }
  s.compress(b);
  return s.finish();
}

std::uint64_t siphash_4tuple(const SipKey& key, std::uint32_t saddr, std::uint32_t daddr,
                             std::uint16_t sport, std::uint16_t dport, std::uint32_t extra) {
  // Message words are little-endian loads of the big-endian byte layout in
  // siphash.hh, so each field is byte-swapped into place.
  const std::uint64_t m0 = bswap32(saddr) | (bswap32(daddr) << 32);
  const std::uint64_t m1 = bswap16(sport) | (bswap16(dport) << 16) | (bswap32(extra) << 32);
  SipState s(key);
  s.compress(m0);
  s.compress(m1);
  s.compress(std::uint64_t{16} << 56);  // no tail bytes; length 16
  return s.finish();
}

}  // namespace twstack
