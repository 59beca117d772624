// The ARP cache (RFC 826, RFC 1122 §2.3.2): mappings, their lifetime,
// request rate limiting, and replacement within a 4-way set.
#include "stack/engine/arp_cache.hh"

#include <gtest/gtest.h>

#include <cstdint>

namespace twstack::engine {
namespace {

wire::Ipv4Addr ip(std::uint8_t host) { return wire::Ipv4Addr::from_octets(10, 0, 0, host); }
wire::MacAddr mac(std::uint8_t n) { return wire::MacAddr{{0x02, 0, 0, 0, 0, n}}; }

TEST(ArpCache, UnknownAddressHasNoMappingAndIsStale) {
  ArpCache cache(64);
  EXPECT_FALSE(cache.lookup(ip(1)).has_value());
  EXPECT_TRUE(cache.stale(ip(1), 0));
  EXPECT_EQ(cache.size(), 0u);
}

// RFC 826 "merge": an update for a known address replaces its MAC in place.
TEST(ArpCache, UpdateRecordsAndReplacesMapping) {
  ArpCache cache(64);
  cache.update(ip(1), mac(1), 1000);
  ASSERT_TRUE(cache.lookup(ip(1)).has_value());
  EXPECT_EQ(*cache.lookup(ip(1)), mac(1));
  EXPECT_FALSE(cache.lookup(ip(2)).has_value());
  EXPECT_EQ(cache.size(), 1u);
  cache.update(ip(1), mac(9), 2000);
  EXPECT_EQ(*cache.lookup(ip(1)), mac(9));
  EXPECT_EQ(cache.size(), 1u);
}

// An entry is to be re-asked kArpLifetimeMs after it was last confirmed;
// RFC 1122 §2.3.2.1: it stays in use meanwhile.
TEST(ArpCache, EntryGoesStaleAfterItsLifetimeButStaysUsable) {
  ASSERT_EQ(kArpLifetimeMs, 60000);
  ArpCache cache(64);
  cache.update(ip(1), mac(1), 5000);
  EXPECT_FALSE(cache.stale(ip(1), 5000));
  EXPECT_FALSE(cache.stale(ip(1), 5000 + kArpLifetimeMs - 1));
  EXPECT_TRUE(cache.stale(ip(1), 5000 + kArpLifetimeMs));
  EXPECT_EQ(*cache.lookup(ip(1)), mac(1));  // not removed
  // A new confirmation restarts the lifetime.
  cache.update(ip(1), mac(1), 70000);
  EXPECT_FALSE(cache.stale(ip(1), 70000 + kArpLifetimeMs - 1));
  EXPECT_TRUE(cache.stale(ip(1), 70000 + kArpLifetimeMs));
}

// RFC 1122 §2.3.2.1: no more than one request per second per destination.
TEST(ArpCache, RequestsAreRateLimitedPerAddress) {
  ASSERT_EQ(kArpRetryMs, 1000);
  ArpCache cache(64);
  EXPECT_TRUE(cache.should_request(ip(1), 10000));
  EXPECT_FALSE(cache.should_request(ip(1), 10000));
  EXPECT_FALSE(cache.should_request(ip(1), 10999));
  EXPECT_TRUE(cache.should_request(ip(2), 10500));  // another address: its own clock
  EXPECT_TRUE(cache.should_request(ip(1), 11000));
  EXPECT_FALSE(cache.should_request(ip(1), 11999));
  EXPECT_FALSE(cache.should_request(ip(2), 11499));
  EXPECT_TRUE(cache.should_request(ip(2), 11500));
}

// A request at time 0 is remembered like any other.
TEST(ArpCache, RequestAtTimeZeroStillLimits) {
  ArpCache cache(64);
  EXPECT_TRUE(cache.should_request(ip(1), 0));
  EXPECT_FALSE(cache.should_request(ip(1), 500));
}

// A pending request takes an entry that resolves nothing until the reply.
TEST(ArpCache, PendingEntryHasNoMapping) {
  ArpCache cache(64);
  ASSERT_TRUE(cache.should_request(ip(1), 100));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_FALSE(cache.lookup(ip(1)).has_value());
  EXPECT_TRUE(cache.stale(ip(1), 100));
  cache.update(ip(1), mac(1), 300);
  EXPECT_EQ(*cache.lookup(ip(1)), mac(1));
  EXPECT_FALSE(cache.stale(ip(1), 300));
  EXPECT_EQ(cache.size(), 1u);
  // The reply does not reset the request clock: still one per second.
  EXPECT_FALSE(cache.should_request(ip(1), 1099));
  EXPECT_TRUE(cache.should_request(ip(1), 1100));
}

// Four entries fit one 4-way set; a fifth replaces the least recently
// confirmed one.
TEST(ArpCache, FullSetReplacesLeastRecentlyConfirmed) {
  ArpCache cache(4);  // one set of four ways: every address competes
  cache.update(ip(1), mac(1), 10);
  cache.update(ip(2), mac(2), 20);
  cache.update(ip(3), mac(3), 30);
  cache.update(ip(4), mac(4), 40);
  EXPECT_EQ(cache.size(), 4u);
  cache.update(ip(1), mac(1), 50);  // re-confirmed: now the newest
  cache.update(ip(5), mac(5), 60);
  EXPECT_EQ(cache.size(), 4u);
  EXPECT_FALSE(cache.lookup(ip(2)).has_value());
  EXPECT_TRUE(cache.lookup(ip(1)).has_value());
  EXPECT_TRUE(cache.lookup(ip(3)).has_value());
  EXPECT_TRUE(cache.lookup(ip(4)).has_value());
  EXPECT_EQ(*cache.lookup(ip(5)), mac(5));
  // A request claims a way too (the oldest, ip 3).
  EXPECT_TRUE(cache.should_request(ip(6), 70));
  EXPECT_FALSE(cache.lookup(ip(3)).has_value());
  // Never confirmed, the pending entry is the next victim.
  cache.update(ip(7), mac(7), 80);
  EXPECT_TRUE(cache.lookup(ip(1)).has_value());
  EXPECT_TRUE(cache.lookup(ip(4)).has_value());
  EXPECT_TRUE(cache.lookup(ip(5)).has_value());
  EXPECT_TRUE(cache.lookup(ip(7)).has_value());
  EXPECT_TRUE(cache.stale(ip(6), 80));
  EXPECT_EQ(cache.size(), 4u);
}

// Bounded: the table never holds more than its sets can, and the entry
// just written is always there.
TEST(ArpCache, SizeIsBoundedAndNewestEntryIsPresent) {
  ArpCache cache(16);
  for (std::uint32_t i = 0; i < 2000; ++i) {
    wire::Ipv4Addr a{0x0a000000u + i};
    cache.update(a, mac(static_cast<std::uint8_t>(i)), i);
    ASSERT_TRUE(cache.lookup(a).has_value()) << i;
    ASSERT_LE(cache.size(), 16u);
  }
  EXPECT_EQ(cache.size(), 16u);
}

}  // namespace
}  // namespace twstack::engine
