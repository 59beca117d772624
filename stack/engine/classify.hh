// Which received frames belong to an engine, for an application that owns
// its receive loop and shares a port with twstack (a forwarder, a firewall,
// a DPDK app with its own UDP service):
//
//   for (frame : rx_burst)
//     if (for_stack(frame, eng.interface())) eng.rx(frame, now);
//     else                                   application(frame);
//
// The stack's share is ARP for one of its addresses (requests and replies)
// and IPv4 unicast to one of its addresses carrying TCP or ICMP, in a frame
// sent to its MAC or to broadcast (the same L2 filter as QueueEngine::rx).
// Everything else is the application's, including what the stack could not
// use anyway (malformed headers, fragments, UDP, IPv6, VLAN tags): an
// application in the path of traffic it does not understand passes it on,
// as a wire would, rather than letting the stack eat it.
//
// Pure: no state, no allocation, one parse per header, no DPDK. The same
// decision tree (classify()) drives QueueEngine::rx, so what the engine
// takes and what an application hands it cannot drift apart.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "stack/engine/interface.hh"
#include "stack/wire/arp.hh"
#include "stack/wire/ethernet.hh"
#include "stack/wire/four_tuple.hh"
#include "stack/wire/ipv4.hh"
#include "stack/wire/tcp.hh"

namespace twstack::engine {

enum class FrameClass : std::uint8_t {
  // --- the stack's
  kStackArp,        // ARP request or reply whose target address is local
  kStackTcp,        // IPv4 to a local address, TCP
  kStackIcmp,       // IPv4 to a local address, ICMP
  // --- the application's
  kOtherHost,       // Ethernet destination neither our MAC nor broadcast (multicast too)
  kNotLocal,        // ARP target or IPv4 destination not a local address
  kOtherProtocol,   // IPv4 to a local address, neither TCP nor ICMP (UDP, ...)
  kOtherEtherType,  // not ARP or IPv4: IPv6, LLDP, 802.1Q/802.1ad tags, 802.3 LLC,
                    // ARP for other hardware or protocol types
  kFragment,        // IPv4 fragment: the stack does not reassemble
  kMalformed,       // truncated or invalid Ethernet, ARP or IPv4 header
  kCount,
};
inline constexpr std::size_t kFrameClassCount = static_cast<std::size_t>(FrameClass::kCount);

constexpr bool is_stack(FrameClass c) {
  return c == FrameClass::kStackArp || c == FrameClass::kStackTcp || c == FrameClass::kStackIcmp;
}

// Short name for counters and logs ("stack-tcp", "not-local", ...).
const char* to_string(FrameClass c);

// Which header decided a frame's class, and what was read there: the ARP
// view for ARP (even when not local), the IPv4 view once it parsed, the
// parse error for kMalformed, kFragment and kOtherEtherType.
struct FrameDetail {
  enum class Layer : std::uint8_t { kEthernet, kArp, kIpv4 };
  Layer layer = Layer::kEthernet;
  wire::ParseError error = wire::ParseError::kOk;
  const wire::ArpView* arp = nullptr;
  const wire::Ipv4View* ip = nullptr;
  std::span<const std::uint8_t> l3;  // the Ethernet payload, for kIpv4
};

// The decision tree, once: parses the frame (padding allowed) a header at a
// time and returns on(FrameClass, const FrameDetail&). The IPv4 header
// checksum is checked unless ifc.caps.rx_checksum_verified (or always, with
// verify_checksum); the TCP and ICMP checksums are left to the engine.
template <class On>
decltype(auto) classify(std::span<const std::uint8_t> frame, const Interface& ifc, On&& on,
                        bool verify_checksum = false) {
  using Layer = FrameDetail::Layer;
  FrameDetail d;
  auto eth = wire::EthernetView::parse(frame);
  if (!eth.ok()) {
    d.error = eth.error();
    return on(d.error == wire::ParseError::kUnsupported ? FrameClass::kOtherEtherType : FrameClass::kMalformed, d);
  }
  // The engine's L2 filter: what it would discard unread is not its frame,
  // even with one of its addresses inside.
  if (eth->dst() != ifc.mac && !eth->dst().is_broadcast()) return on(FrameClass::kOtherHost, d);
  if (eth->ethertype() == wire::kEtherTypeArp) {
    d.layer = Layer::kArp;
    auto arp = wire::ArpView::parse(eth->payload());
    if (!arp.ok()) {
      d.error = arp.error();
      return on(d.error == wire::ParseError::kUnsupported ? FrameClass::kOtherEtherType : FrameClass::kMalformed, d);
    }
    d.arp = &*arp;
    // By target address only, whatever the opcode: a request for us needs
    // our answer, a reply to us completes our resolution (RFC 826). Traffic
    // between other hosts is theirs, even though the engine would merge a
    // sender it already knows: the application is their path.
    return on(ifc.is_local(arp->tpa()) ? FrameClass::kStackArp : FrameClass::kNotLocal, d);
  }
  if (eth->ethertype() != wire::kEtherTypeIpv4) return on(FrameClass::kOtherEtherType, d);
  d.layer = Layer::kIpv4;
  d.l3 = eth->payload();
  auto ip = wire::Ipv4View::parse(eth->payload(), verify_checksum || !ifc.caps.rx_checksum_verified);
  if (!ip.ok()) {
    // A header that fails its checks says nothing trustworthy about where it
    // goes, and a fragment offers no view to read it from: both pass on,
    // for whatever reassembles or drops them downstream.
    d.error = ip.error();
    return on(d.error == wire::ParseError::kFragment ? FrameClass::kFragment : FrameClass::kMalformed, d);
  }
  d.ip = &*ip;
  if (!ifc.is_local(ip->dst())) return on(FrameClass::kNotLocal, d);
  switch (ip->protocol()) {
    case wire::kProtoTcp: return on(FrameClass::kStackTcp, d);
    case wire::kProtoIcmp: return on(FrameClass::kStackIcmp, d);
    default: return on(FrameClass::kOtherProtocol, d);
  }
}

// The class of one received Ethernet frame.
inline FrameClass classify_frame(std::span<const std::uint8_t> frame, const Interface& ifc) {
  return classify(frame, ifc, [](FrameClass c, const FrameDetail&) { return c; });
}

// Whether the frame goes to QueueEngine::rx.
inline bool for_stack(std::span<const std::uint8_t> frame, const Interface& ifc) {
  return is_stack(classify_frame(frame, ifc));
}

// The 4-tuple (ours first) a frame would be looked up under if it is TCP in
// IPv4, read without any check beyond the lengths it needs: a hint for
// prefetching a burst's lookups (QueueEngine::prefetch_rx), never a verdict.
// nullopt for anything shorter or not TCP in IPv4.
inline std::optional<wire::FourTuple> tcp_tuple_hint(std::span<const std::uint8_t> frame) {
  constexpr std::size_t kEth = 14;
  if (frame.size() < kEth + 20 + 4 || load_be16(frame.data() + 12) != wire::kEtherTypeIpv4) return std::nullopt;
  const std::uint8_t* ip = frame.data() + kEth;
  const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
  if (ip[9] != wire::kProtoTcp || ihl < 20 || frame.size() < kEth + ihl + 4) return std::nullopt;
  const std::uint8_t* th = ip + ihl;
  return wire::FourTuple{wire::Ipv4Addr{load_be32(ip + 16)}, wire::Ipv4Addr{load_be32(ip + 12)},
                         load_be16(th + 2), load_be16(th)};
}

// The TCP flags byte of a frame that is TCP in IPv4, read with the same
// length checks as tcp_tuple_hint(); 0 for anything else or shorter: another
// prefetch hint, never a verdict.
inline std::uint8_t tcp_flags_hint(std::span<const std::uint8_t> frame) {
  constexpr std::size_t kEth = 14;
  if (frame.size() < kEth + 20 + 14 || load_be16(frame.data() + 12) != wire::kEtherTypeIpv4) return 0;
  const std::uint8_t* ip = frame.data() + kEth;
  const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
  if (ip[9] != wire::kProtoTcp || ihl < 20 || frame.size() < kEth + ihl + 14) return 0;
  return ip[ihl + 13];  // TCP header byte 13: ACK 0x10, SYN 0x02, FIN 0x01
}

// Whether a frame is TCP in IPv4 with SYN set and ACK clear (a connection request).
inline bool tcp_syn_hint(std::span<const std::uint8_t> frame) {
  return (tcp_flags_hint(frame) & (wire::kSyn | wire::kAck)) == wire::kSyn;
}

}  // namespace twstack::engine
