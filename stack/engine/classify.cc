#include "stack/engine/classify.hh"

#include "stack/wire/arp.hh"
#include "stack/wire/ethernet.hh"
#include "stack/wire/ipv4.hh"

namespace twstack::engine {
namespace {

FrameClass classify_arp(std::span<const std::uint8_t> payload, const Interface& ifc) {
  auto arp = wire::ArpView::parse(payload);
  if (!arp.ok()) {
    return arp.error() == wire::ParseError::kUnsupported ? FrameClass::kOtherEtherType
                                                         : FrameClass::kMalformed;
  }
  // By target address only, whatever the opcode: a request for us needs our
  // answer, a reply to us completes our resolution (RFC 826). Traffic
  // between other hosts is theirs, even though the engine would merge a
  // sender it already knows: the application is their path.
  return ifc.is_local(arp->tpa()) ? FrameClass::kStackArp : FrameClass::kNotLocal;
}

FrameClass classify_ipv4(std::span<const std::uint8_t> payload, const Interface& ifc) {
  auto ip = wire::Ipv4View::parse(payload, !ifc.caps.rx_checksum_verified);
  if (!ip.ok()) {
    // A header that fails its checks says nothing trustworthy about where it
    // goes, and a fragment offers no view to read it from: both pass on,
    // for whatever reassembles or drops them downstream.
    return ip.error() == wire::ParseError::kFragment ? FrameClass::kFragment : FrameClass::kMalformed;
  }
  if (!ifc.is_local(ip->dst())) return FrameClass::kNotLocal;
  switch (ip->protocol()) {
    case wire::kProtoTcp: return FrameClass::kStackTcp;
    case wire::kProtoIcmp: return FrameClass::kStackIcmp;
    default: return FrameClass::kOtherProtocol;
  }
}

}  // namespace

FrameClass classify_frame(std::span<const std::uint8_t> frame, const Interface& ifc) {
  auto eth = wire::EthernetView::parse(frame);
  if (!eth.ok()) {
    return eth.error() == wire::ParseError::kUnsupported ? FrameClass::kOtherEtherType
                                                         : FrameClass::kMalformed;
  }
  // The engine's own L2 filter (QueueEngine::rx): what it would discard
  // unread is not its frame, even with one of its addresses inside.
  if (eth->dst() != ifc.mac && !eth->dst().is_broadcast()) return FrameClass::kOtherHost;
  switch (eth->ethertype()) {
    case wire::kEtherTypeArp: return classify_arp(eth->payload(), ifc);
    case wire::kEtherTypeIpv4: return classify_ipv4(eth->payload(), ifc);
    default: return FrameClass::kOtherEtherType;
  }
}

const char* to_string(FrameClass c) {
  switch (c) {
    case FrameClass::kStackArp: return "stack-arp";
    case FrameClass::kStackTcp: return "stack-tcp";
    case FrameClass::kStackIcmp: return "stack-icmp";
    case FrameClass::kOtherHost: return "other-host";
    case FrameClass::kNotLocal: return "not-local";
    case FrameClass::kOtherProtocol: return "other-protocol";
    case FrameClass::kOtherEtherType: return "other-ethertype";
    case FrameClass::kFragment: return "fragment";
    case FrameClass::kMalformed: return "malformed";
    case FrameClass::kCount: break;
  }
  return "?";
}

}  // namespace twstack::engine
