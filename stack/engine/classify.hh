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
// Pure: no state, no allocation, one parse per header, no DPDK.
#pragma once

#include <cstdint>
#include <span>

#include "stack/engine/interface.hh"

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

// The class of one received Ethernet frame (padding allowed). The IPv4
// header checksum is checked unless ifc.caps.rx_checksum_verified, as the
// engine checks it; the TCP and ICMP checksums are left to the engine.
FrameClass classify_frame(std::span<const std::uint8_t> frame, const Interface& ifc);

// Whether the frame goes to QueueEngine::rx.
inline bool for_stack(std::span<const std::uint8_t> frame, const Interface& ifc) {
  return is_stack(classify_frame(frame, ifc));
}

}  // namespace twstack::engine
