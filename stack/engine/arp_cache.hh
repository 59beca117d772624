// ARP cache (RFC 826): a fixed-size, 4-way set-associative table; a full set
// replaces its least recently confirmed entry. Bounded work per lookup.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "stack/wire/ethernet.hh"
#include "stack/wire/ipv4.hh"

namespace twstack::engine {

class ArpCache {
 public:
  static constexpr std::uint32_t kWays = 4;

  explicit ArpCache(std::uint32_t entries);

  // The MAC for `ip` if it was ever resolved. RFC 1122 §2.3.2.1: a stale
  // entry stays in use while it is revalidated (see stale()).
  std::optional<wire::MacAddr> lookup(wire::Ipv4Addr ip) const;
  // True when `ip`'s entry is older than the lifetime and should be re-asked.
  bool stale(wire::Ipv4Addr ip, std::int64_t now_ms) const;
  // Records a mapping (from a reply, or from a request aimed at us).
  void update(wire::Ipv4Addr ip, wire::MacAddr mac, std::int64_t now_ms);
  // True when a request for `ip` should go out now (none in the last
  // second), and notes that one did.
  bool should_request(wire::Ipv4Addr ip, std::int64_t now_ms);

  std::uint32_t size() const { return used_; }

 private:
  struct Entry {
    wire::Ipv4Addr ip{};
    wire::MacAddr mac{};
    std::int64_t confirmed_ms = 0;
    std::int64_t requested_ms = 0;
    bool resolved = false;
    bool used = false;
  };
  Entry* set_of(wire::Ipv4Addr ip) const;
  Entry* find_or_claim(wire::Ipv4Addr ip);

  std::unique_ptr<Entry[]> entries_;
  std::uint32_t sets_;
  std::uint32_t used_ = 0;
};

// Linux's base_reachable_time is 30 s; entries are re-resolved after this.
inline constexpr std::int64_t kArpLifetimeMs = 60 * 1000;
inline constexpr std::int64_t kArpRetryMs = 1000;

}  // namespace twstack::engine
