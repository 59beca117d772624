#include "stack/ports/toeplitz.hh"

namespace twstack::ports {
namespace {

// Key bits [bit, bit + 32) as a big-endian word; bits past the key are 0.
std::uint32_t key_window(std::span<const std::uint8_t> key, std::size_t bit) {
  std::uint64_t w = 0;
  std::size_t byte = bit / 8;
  for (std::size_t i = 0; i < 5; ++i) {
    w = (w << 8) | (byte + i < key.size() ? key[byte + i] : 0u);
  }
  // w holds 40 bits starting at key bit byte*8; drop the leading bit%8.
  return static_cast<std::uint32_t>(w >> (8 - bit % 8));
}

void put_be32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

}  // namespace

std::uint32_t toeplitz_hash(std::span<const std::uint8_t> key, std::span<const std::uint8_t> input) {
  std::uint32_t h = 0;
  for (std::size_t i = 0; i < input.size(); ++i) {
    for (unsigned b = 0; b < 8; ++b) {
      if ((input[i] >> (7 - b)) & 1u) h ^= key_window(key, i * 8 + b);
    }
  }
  return h;
}

std::uint32_t toeplitz_ipv4_tcp(std::span<const std::uint8_t> key, wire::Ipv4Addr src,
                                wire::Ipv4Addr dst, std::uint16_t sport, std::uint16_t dport) {
  std::array<std::uint8_t, kIpv4TcpInputLen> in{};
  put_be32(in.data(), src.v);
  put_be32(in.data() + 4, dst.v);
  in[8] = static_cast<std::uint8_t>(sport >> 8);
  in[9] = static_cast<std::uint8_t>(sport);
  in[10] = static_cast<std::uint8_t>(dport >> 8);
  in[11] = static_cast<std::uint8_t>(dport);
  return toeplitz_hash(key, in);
}

ToeplitzIpv4Tcp::ToeplitzIpv4Tcp(std::span<const std::uint8_t> key) {
  for (std::size_t pos = 0; pos < kIpv4TcpInputLen; ++pos) {
    std::array<std::uint32_t, 8> bit{};  // contribution of each bit of this byte, MSB first
    for (unsigned b = 0; b < 8; ++b) bit[b] = key_window(key, pos * 8 + b);
    for (unsigned v = 0; v < 256; ++v) {
      std::uint32_t h = 0;
      for (unsigned b = 0; b < 8; ++b) {
        if ((v >> (7 - b)) & 1u) h ^= bit[b];
      }
      t_[pos][v] = h;
    }
  }
}

std::uint32_t ToeplitzIpv4Tcp::fixed_part(wire::Ipv4Addr src, wire::Ipv4Addr dst,
                                          std::uint16_t sport) const {
  std::uint32_t h = 0;
  for (unsigned i = 0; i < 4; ++i) {
    h ^= t_[i][(src.v >> (24 - 8 * i)) & 0xff];
    h ^= t_[4 + i][(dst.v >> (24 - 8 * i)) & 0xff];
  }
  return h ^ t_[8][sport >> 8] ^ t_[9][sport & 0xff];
}

std::vector<std::uint16_t> round_robin_reta(std::size_t entries, std::uint16_t queues) {
  std::vector<std::uint16_t> reta(entries, 0);
  if (queues == 0) return reta;
  for (std::size_t i = 0; i < entries; ++i) reta[i] = static_cast<std::uint16_t>(i % queues);
  return reta;
}

}  // namespace twstack::ports
