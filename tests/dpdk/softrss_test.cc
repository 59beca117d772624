// Cross-check of twstack's software Toeplitz against DPDK's rte_softrss
// (lib/hash/rte_thash.h) over random IPv4/TCP tuples and keys. This is the
// only unit test that links DPDK; stack/ itself never includes a DPDK header.
#include <gtest/gtest.h>
#include <rte_thash.h>

#include <random>

#include "stack/ports/toeplitz.hh"

namespace twstack::ports {
namespace {

std::uint32_t dpdk_hash(const std::uint8_t* key, wire::Ipv4Addr src, wire::Ipv4Addr dst,
                        std::uint16_t sport, std::uint16_t dport) {
  rte_ipv4_tuple t{};
  t.src_addr = src.v;  // rte_softrss takes the tuple in host order
  t.dst_addr = dst.v;
  t.sport = sport;
  t.dport = dport;
  return rte_softrss(reinterpret_cast<std::uint32_t*>(&t), RTE_THASH_V4_L4_LEN, key);
}

TEST(SoftRss, DefaultKeyAgreesWithDpdk) {
  std::mt19937 rng(11);
  for (int i = 0; i < 100000; ++i) {
    wire::Ipv4Addr s{static_cast<std::uint32_t>(rng())}, d{static_cast<std::uint32_t>(rng())};
    auto sp = static_cast<std::uint16_t>(rng()), dp = static_cast<std::uint16_t>(rng());
    ASSERT_EQ(toeplitz_ipv4_tcp(kDefaultRssKey, s, d, sp, dp), dpdk_hash(kDefaultRssKey.data(), s, d, sp, dp));
  }
}

TEST(SoftRss, RandomKeysAgreeWithDpdkAndTheTableForm) {
  std::mt19937 rng(12);
  for (int k = 0; k < 50; ++k) {
    std::array<std::uint8_t, 40> key{};
    for (auto& b : key) b = static_cast<std::uint8_t>(rng());
    ToeplitzIpv4Tcp table(key);
    for (int i = 0; i < 2000; ++i) {
      wire::Ipv4Addr s{static_cast<std::uint32_t>(rng())}, d{static_cast<std::uint32_t>(rng())};
      auto sp = static_cast<std::uint16_t>(rng()), dp = static_cast<std::uint16_t>(rng());
      std::uint32_t want = dpdk_hash(key.data(), s, d, sp, dp);
      ASSERT_EQ(toeplitz_ipv4_tcp(key, s, d, sp, dp), want);
      ASSERT_EQ(table.hash(s, d, sp, dp), want);
    }
  }
}

}  // namespace
}  // namespace twstack::ports
