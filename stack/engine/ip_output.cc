#include "stack/engine/ip_output.hh"

#include "stack/wire/arp.hh"
#include "stack/wire/checksum.hh"
#include "stack/wire/tcp.hh"

namespace twstack::engine {

IpOutput::IpOutput(const Interface& ifc, FramePool& pool, std::uint32_t arp_queue, ArpCache& arp,
                   Counters& ctr)
    : ifc_(ifc),
      pool_(pool),
      arp_(arp),
      ctr_(ctr),
      ready_(std::make_unique<Ready[]>(pool.total())),
      last_(std::make_unique<Ready[]>(pool.total())),
      parked_(std::make_unique<Parked[]>(arp_queue)),
      parked_cap_(arp_queue) {}

std::uint8_t* IpOutput::alloc() {
  std::uint8_t* f = pool_.alloc();
  if (f == nullptr) ctr_.inc(Counter::TwstackTxPoolExhausted);
  return f;
}

std::uint8_t* IpOutput::begin_frame() { return alloc(); }

void IpOutput::push_frame(std::uint8_t* f, std::uint16_t len) {
  ready_[ready_count_++] = Ready{f, len};
}

void IpOutput::finish_tcp(std::uint8_t* tcp, std::uint16_t tcp_len, const wire::FourTuple& t) {
  if (!ifc_.caps.tx_checksum_offload) {
    wire::finish_tcp_checksum(tcp, tcp_len, t.laddr, t.raddr);
  }
  finish_ipv4(tcp - kTcpOffset, t.laddr, t.raddr, wire::kProtoTcp, tcp_len);
}

void IpOutput::finish_ipv4(std::uint8_t* f, wire::Ipv4Addr src, wire::Ipv4Addr dst,
                           std::uint8_t proto, std::uint16_t payload_len) {
  wire::write_ipv4(f + wire::kEthHeaderLen, src, dst, proto, payload_len, ip_id_++);
  ctr_.inc(Counter::IpOutRequests);
  route(f, static_cast<std::uint16_t>(kTcpOffset + payload_len), dst);
}

void IpOutput::route(std::uint8_t* f, std::uint16_t len, wire::Ipv4Addr dst) {
  wire::Ipv4Addr hop = ifc_.next_hop(dst);
  std::int64_t now_ms = now_.ms();
  if (hop == memo_ip_ && now_ms < memo_until_ms_) {
    wire::write_ethernet(f, memo_mac_, ifc_.mac, wire::kEtherTypeIpv4);
    ready_[ready_count_++] = Ready{f, len};
    return;
  }
  if (auto mac = arp_.lookup(hop)) {
    if (arp_.stale(hop, now_ms) && arp_.should_request(hop, now_ms)) send_arp_request(hop);
    memo_ip_ = hop;
    memo_mac_ = *mac;
    memo_until_ms_ = now_ms + 1000;
    wire::write_ethernet(f, *mac, ifc_.mac, wire::kEtherTypeIpv4);
    ready_[ready_count_++] = Ready{f, len};
    return;
  }
  // RFC 1122 §2.3.2.2: queue a bounded number of packets per unresolved
  // destination; here one shared bounded queue.
  if (parked_count_ == parked_cap_) {
    ctr_.inc(Counter::TwstackArpQueueDrops);
    pool_.release(f);
  } else {
    parked_[parked_count_++] = Parked{f, len, hop, now_ms};
  }
  if (arp_.should_request(hop, now_ms)) send_arp_request(hop);
}

void IpOutput::send_arp_request(wire::Ipv4Addr ip) {
  std::uint8_t* f = alloc();
  if (f == nullptr) return;
  wire::Ipv4Addr src = ifc_.naddrs > 0 ? ifc_.addrs[0] : wire::Ipv4Addr{};
  wire::write_ethernet(f, wire::MacAddr::broadcast(), ifc_.mac, wire::kEtherTypeArp);
  wire::write_arp(f + wire::kEthHeaderLen, wire::kArpRequest, ifc_.mac, src, wire::MacAddr{}, ip);
  // Pad to the 60-byte Ethernet minimum.
  std::uint16_t len = static_cast<std::uint16_t>(wire::kEthHeaderLen + wire::kArpLen);
  for (; len < 60; ++len) f[len] = 0;
  ready_[ready_count_++] = Ready{f, len};
  ctr_.inc(Counter::TwstackArpRequestsOut);
}

void IpOutput::resolved(wire::Ipv4Addr ip, wire::MacAddr mac) {
  std::uint32_t keep = 0;
  for (std::uint32_t i = 0; i < parked_count_; ++i) {
    Parked p = parked_[i];
    if (p.next_hop == ip) {
      wire::write_ethernet(p.frame, mac, ifc_.mac, wire::kEtherTypeIpv4);
      ready_[ready_count_++] = Ready{p.frame, p.len};
    } else {
      parked_[keep++] = p;
    }
  }
  parked_count_ = keep;
}

}  // namespace twstack::engine
