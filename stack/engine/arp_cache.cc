#include "stack/engine/arp_cache.hh"

namespace twstack::engine {

namespace {
std::uint32_t pow2_at_least(std::uint32_t n) {
  std::uint32_t p = 1;
  while (p < n) p <<= 1;
  return p;
}
}  // namespace

ArpCache::ArpCache(std::uint32_t entries)
    : sets_(pow2_at_least((entries + kWays - 1) / kWays)) {
  entries_ = std::make_unique<Entry[]>(std::size_t{sets_} * kWays);
}

ArpCache::Entry* ArpCache::set_of(wire::Ipv4Addr ip) const {
  std::uint32_t h = ip.v * 0x9e3779b1u;
  return entries_.get() + std::size_t{(h >> 16) & (sets_ - 1)} * kWays;
}

ArpCache::Entry* ArpCache::find_or_claim(wire::Ipv4Addr ip) {
  Entry* set = set_of(ip);
  Entry* victim = &set[0];
  for (std::uint32_t w = 0; w < kWays; ++w) {
    if (set[w].used && set[w].ip == ip) return &set[w];
    if (!set[w].used) {
      victim = &set[w];
    } else if (victim->used && set[w].confirmed_ms < victim->confirmed_ms) {
      victim = &set[w];
    }
  }
  if (!victim->used) ++used_;
  *victim = Entry{};
  victim->ip = ip;
  victim->used = true;
  return victim;
}

std::optional<wire::MacAddr> ArpCache::lookup(wire::Ipv4Addr ip) const {
  const Entry* set = set_of(ip);
  for (std::uint32_t w = 0; w < kWays; ++w) {
    const Entry& en = set[w];
    if (en.used && en.ip == ip && en.resolved) return en.mac;
  }
  return std::nullopt;
}

bool ArpCache::stale(wire::Ipv4Addr ip, std::int64_t now_ms) const {
  const Entry* set = set_of(ip);
  for (std::uint32_t w = 0; w < kWays; ++w) {
    const Entry& en = set[w];
    if (en.used && en.ip == ip) return !en.resolved || now_ms - en.confirmed_ms >= kArpLifetimeMs;
  }
  return true;
}

void ArpCache::update(wire::Ipv4Addr ip, wire::MacAddr mac, std::int64_t now_ms) {
  Entry* en = find_or_claim(ip);
  en->mac = mac;
  en->resolved = true;
  en->confirmed_ms = now_ms;
}

bool ArpCache::should_request(wire::Ipv4Addr ip, std::int64_t now_ms) {
  Entry* en = find_or_claim(ip);
  if (en->requested_ms != 0 && now_ms - en->requested_ms < kArpRetryMs) return false;
  en->requested_ms = now_ms == 0 ? 1 : now_ms;
  return true;
}

}  // namespace twstack::engine
