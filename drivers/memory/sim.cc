// SimPair: construction, ARP preloading and the clock.
#include "drivers/memory/sim.hh"

#include <array>

#include "stack/wire/arp.hh"
#include "stack/wire/ethernet.hh"

namespace twstack::memory {

wire::Ipv4Addr sim_addr(int side) {
  return wire::Ipv4Addr::from_octets(10, 0, 0, static_cast<std::uint8_t>((side & 1) + 1));
}

wire::MacAddr sim_mac(int side) {
  return wire::MacAddr{{0x02, 0, 0, 0, 0, static_cast<std::uint8_t>((side & 1) + 1)}};
}

engine::Interface sim_interface(int side) {
  engine::Interface ifc;
  ifc.mac = sim_mac(side);
  ifc.add_addr(sim_addr(side));
  ifc.prefix_len = 24;
  return ifc;
}

void preload_arp(engine::QueueEngine& eng, wire::Ipv4Addr ip, wire::MacAddr mac, Instant now) {
  const engine::Interface& ifc = eng.interface();
  if (ifc.naddrs == 0) return;
  std::array<std::uint8_t, 60> f{};  // minimum Ethernet frame, zero padded
  wire::write_ethernet(f.data(), ifc.mac, mac, wire::kEtherTypeArp);
  wire::write_arp(f.data() + wire::kEthHeaderLen, wire::kArpReply, mac, ip, ifc.mac, ifc.addrs[0]);
  eng.rx(f, now);
}

SimPair::SimPair(const engine::Interface& a, const engine::EngineOptions& oa, const engine::Interface& b,
                 const engine::EngineOptions& ob, const FaultSpec& faults, std::uint64_t seed,
                 std::size_t link_capacity)
    : link_(faults, seed, link_capacity), a_(a, oa), b_(b, ob) {
  // Set both engines' clocks: API calls use the time of the latest poll().
  a_.poll(now_);
  b_.poll(now_);
}

void SimPair::preload_arp() {
  const engine::Interface& ia = a_.interface();
  const engine::Interface& ib = b_.interface();
  if (ia.naddrs > 0) memory::preload_arp(b_, ia.addrs[0], ia.mac, now_);
  if (ib.naddrs > 0) memory::preload_arp(a_, ib.addrs[0], ib.mac, now_);
}

Instant SimPair::next_wakeup(Duration max_step) const {
  const Duration step = std::max(max_step, Duration::micros(1));
  Instant next = now_ + step;
  if (std::optional<Instant> due = link_.next_due()) next = std::min(next, *due);
  // Timer ticks are milliseconds: a timer `t` ticks away is due at the start
  // of millisecond (now.ms() + t), relative to the wheel's tick at the last poll.
  const std::uint64_t cap = static_cast<std::uint64_t>(step.ms()) + 1;
  for (int s = 0; s < 2; ++s) {
    std::uint64_t t = side(s).ms_to_next_timer(cap);
    Instant at{(now_.ms() + static_cast<std::int64_t>(t)) * 1000};
    next = std::min(next, at);
  }
  // Never stand still: a round that moved nothing must be followed by a
  // later instant.
  return std::max(next, now_ + Duration::micros(1));
}

}  // namespace twstack::memory
