// classify_frame(): which received frames an application that owns its
// receive loop hands to the engine. Frames are built with the wire builders;
// every branch, every truncation point, and agreement with the engine on
// the frames it is given.
#include "stack/engine/classify.hh"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "stack/base/bytes.hh"
#include "stack/engine/engine.hh"
#include "stack/engine/options.hh"
#include "stack/wire/arp.hh"
#include "stack/wire/checksum.hh"
#include "stack/wire/ethernet.hh"
#include "stack/wire/ipv4.hh"
#include "stack/wire/tcp.hh"
#include "tests/support/secret.hh"

namespace twstack::engine {
namespace {

using wire::Ipv4Addr;
using wire::MacAddr;

constexpr MacAddr kOurMac{{0x02, 0, 0, 0, 0, 0x01}};
constexpr MacAddr kPeerMac{{0x02, 0, 0, 0, 0, 0x02}};
constexpr MacAddr kOtherMac{{0x02, 0, 0, 0, 0, 0x03}};
constexpr Ipv4Addr kOurs = Ipv4Addr::from_octets(10, 1, 0, 2);
constexpr Ipv4Addr kOursToo = Ipv4Addr::from_octets(10, 1, 0, 3);
constexpr Ipv4Addr kPeer = Ipv4Addr::from_octets(10, 1, 0, 9);
constexpr Ipv4Addr kElsewhere = Ipv4Addr::from_octets(10, 1, 0, 77);
constexpr std::uint8_t kProtoUdp = 17;

Interface ifc() {
  Interface i;
  i.mac = kOurMac;
  i.add_addr(kOurs);
  i.add_addr(kOursToo);
  return i;
}

using Frame = std::vector<std::uint8_t>;

Frame arp(std::uint16_t op, MacAddr eth_dst, Ipv4Addr tpa, MacAddr tha = {}) {
  Frame f(wire::kEthHeaderLen + wire::kArpLen);
  wire::write_ethernet(f.data(), eth_dst, kPeerMac, wire::kEtherTypeArp);
  wire::write_arp(f.data() + wire::kEthHeaderLen, op, kPeerMac, kPeer, tha, tpa);
  return f;
}

// Ethernet + IPv4 + a 20-byte TCP SYN (or, for other protocols, 20 bytes of
// payload: classify reads nothing beyond the IPv4 header).
Frame ipv4(Ipv4Addr dst, std::uint8_t proto = wire::kProtoTcp, MacAddr eth_dst = kOurMac) {
  constexpr std::size_t kL4 = wire::kTcpHeaderMin;
  Frame f(wire::kEthHeaderLen + wire::kIpv4HeaderMin + kL4, 0);
  wire::write_ethernet(f.data(), eth_dst, kPeerMac, wire::kEtherTypeIpv4);
  std::uint8_t* ip = f.data() + wire::kEthHeaderLen;
  wire::write_ipv4(ip, kPeer, dst, proto, kL4, 1);
  if (proto == wire::kProtoTcp) {
    std::uint8_t* th = ip + wire::kIpv4HeaderMin;
    wire::write_tcp_header(th, wire::TcpFields{40000, 7, 1, 0, wire::kSyn, 65535}, {});
    wire::finish_tcp_checksum(th, kL4, kPeer, dst);
  }
  return f;
}

// Rewrites the IPv4 flags/fragment-offset word and re-signs the header.
void set_frag(Frame& f, std::uint16_t flags_offset) {
  std::uint8_t* ip = f.data() + wire::kEthHeaderLen;
  store_be16(ip + 6, flags_offset);
  store_be16(ip + 10, 0);
  store_be16(ip + 10, wire::checksum_fold(wire::checksum_add(ip, wire::kIpv4HeaderMin)));
}

FrameClass classify(const Frame& f, const Interface& i = ifc()) { return classify_frame(f, i); }

// --- the stack's ------------------------------------------------------------

TEST(Classify, ArpRequestForALocalAddressIsTheStacks) {
  EXPECT_EQ(classify(arp(wire::kArpRequest, MacAddr::broadcast(), kOurs)), FrameClass::kStackArp);
  EXPECT_EQ(classify(arp(wire::kArpRequest, MacAddr::broadcast(), kOursToo)), FrameClass::kStackArp);
}

TEST(Classify, ArpReplyToALocalAddressIsTheStacks) {
  EXPECT_EQ(classify(arp(wire::kArpReply, kOurMac, kOurs, kOurMac)), FrameClass::kStackArp);
}

TEST(Classify, TcpAndIcmpToALocalAddressAreTheStacks) {
  EXPECT_EQ(classify(ipv4(kOurs)), FrameClass::kStackTcp);
  EXPECT_EQ(classify(ipv4(kOursToo)), FrameClass::kStackTcp);
  EXPECT_EQ(classify(ipv4(kOurs, wire::kProtoIcmp)), FrameClass::kStackIcmp);
}

TEST(Classify, BroadcastDestinationPassesTheL2FilterAsInTheEngine) {
  EXPECT_EQ(classify(ipv4(kOurs, wire::kProtoTcp, MacAddr::broadcast())), FrameClass::kStackTcp);
}

TEST(Classify, EthernetPaddingIsIgnored) {
  Frame a = arp(wire::kArpRequest, MacAddr::broadcast(), kOurs);
  a.resize(60, 0);  // the minimum frame, as every NIC delivers a 42-byte ARP
  EXPECT_EQ(classify(a), FrameClass::kStackArp);
  Frame t = ipv4(kOurs);
  t.resize(60, 0);
  EXPECT_EQ(classify(t), FrameClass::kStackTcp);
}

// --- the application's -----------------------------------------------------

TEST(Classify, ArpForAnotherAddressIsNotLocal) {
  EXPECT_EQ(classify(arp(wire::kArpRequest, MacAddr::broadcast(), kElsewhere)), FrameClass::kNotLocal);
  EXPECT_EQ(classify(arp(wire::kArpReply, kOurMac, kElsewhere)), FrameClass::kNotLocal);
}

TEST(Classify, Ipv4ToAnotherAddressIsNotLocal) {
  EXPECT_EQ(classify(ipv4(kElsewhere)), FrameClass::kNotLocal);
  EXPECT_EQ(classify(ipv4(kElsewhere, wire::kProtoIcmp)), FrameClass::kNotLocal);
  // Unicast only: limited broadcast and multicast are not local addresses.
  EXPECT_EQ(classify(ipv4(Ipv4Addr{0xffffffff}, wire::kProtoIcmp, MacAddr::broadcast())), FrameClass::kNotLocal);
  EXPECT_EQ(classify(ipv4(Ipv4Addr::from_octets(224, 0, 0, 1), wire::kProtoIcmp, MacAddr::broadcast())),
            FrameClass::kNotLocal);
}

TEST(Classify, OtherProtocolsToALocalAddressAreTheApplications) {
  EXPECT_EQ(classify(ipv4(kOurs, kProtoUdp)), FrameClass::kOtherProtocol);
  EXPECT_EQ(classify(ipv4(kOurs, 47)), FrameClass::kOtherProtocol);  // GRE
}

TEST(Classify, FramesForAnotherMacAreOtherHostsEvenWithOurAddress) {
  EXPECT_EQ(classify(ipv4(kOurs, wire::kProtoTcp, kOtherMac)), FrameClass::kOtherHost);
  EXPECT_EQ(classify(arp(wire::kArpReply, kOtherMac, kOurs)), FrameClass::kOtherHost);
  const MacAddr multicast{{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}};
  EXPECT_EQ(classify(ipv4(kOurs, wire::kProtoTcp, multicast)), FrameClass::kOtherHost);
}

TEST(Classify, OtherEtherTypesAreTheApplications) {
  Frame f = ipv4(kOurs);
  for (std::uint16_t type : {std::uint16_t{0x86dd},        // IPv6
                             std::uint16_t{0x88cc},        // LLDP
                             wire::kEtherTypeVlan,         // 802.1Q: the view refuses tags
                             wire::kEtherTypeQinQ,
                             std::uint16_t{0x0040}}) {     // an 802.3 length: LLC
    store_be16(f.data() + 12, type);
    EXPECT_EQ(classify(f), FrameClass::kOtherEtherType) << std::hex << type;
  }
}

TEST(Classify, ArpForOtherHardwareOrProtocolIsOtherEtherType) {
  Frame f = arp(wire::kArpRequest, MacAddr::broadcast(), kOurs);
  store_be16(f.data() + wire::kEthHeaderLen + 2, 0x86dd);  // ptype IPv6
  EXPECT_EQ(classify(f), FrameClass::kOtherEtherType);
}

TEST(Classify, FragmentsAreTheApplications) {
  Frame more = ipv4(kOurs);
  set_frag(more, 0x2000);  // MF, offset 0: the first fragment
  EXPECT_EQ(classify(more), FrameClass::kFragment);
  Frame last = ipv4(kOurs);
  set_frag(last, 0x0003);  // offset 24 bytes, no MF: the last fragment
  EXPECT_EQ(classify(last), FrameClass::kFragment);
}

TEST(Classify, BadIpv4HeadersAreMalformed) {
  Frame csum = ipv4(kOurs);
  csum[wire::kEthHeaderLen + 10] ^= 0x01;
  EXPECT_EQ(classify(csum), FrameClass::kMalformed);
  Frame version = ipv4(kOurs);
  version[wire::kEthHeaderLen] = 0x65;
  EXPECT_EQ(classify(version), FrameClass::kMalformed);
  Frame ihl = ipv4(kOurs);
  ihl[wire::kEthHeaderLen] = 0x44;
  EXPECT_EQ(classify(ihl), FrameClass::kMalformed);
}

TEST(Classify, AHeaderChecksumTheNicVerifiedIsNotCheckedAgain) {
  Frame f = ipv4(kOurs);
  f[wire::kEthHeaderLen + 10] ^= 0x01;
  Interface i = ifc();
  i.caps.rx_checksum_verified = true;
  EXPECT_EQ(classify(f, i), FrameClass::kStackTcp);
}

TEST(Classify, EveryTruncationIsMalformed) {
  const Frame frames[] = {arp(wire::kArpRequest, MacAddr::broadcast(), kOurs), ipv4(kOurs),
                          ipv4(kOurs, wire::kProtoIcmp), ipv4(kOurs, kProtoUdp), ipv4(kElsewhere)};
  for (const Frame& whole : frames) {
    ASSERT_NE(classify(whole), FrameClass::kMalformed);
    for (std::size_t n = 0; n < whole.size(); ++n) {
      // An exact-size copy, so a sanitizer build catches any read past the end.
      const Frame prefix(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
      EXPECT_EQ(classify(prefix), FrameClass::kMalformed) << n << " of " << whole.size();
    }
  }
}

// --- the prefetch hint ------------------------------------------------------

TEST(TcpTupleHint, ATcpFrameGivesTheTupleItIsLookedUpUnderOursFirst) {
  const auto t = tcp_tuple_hint(ipv4(kOurs));
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(*t, (wire::FourTuple{kOurs, kPeer, 7, 40000}));
}

TEST(TcpTupleHint, NothingForOtherProtocolsOrTruncatedFrames) {
  EXPECT_FALSE(tcp_tuple_hint(ipv4(kOurs, wire::kProtoIcmp)).has_value());
  EXPECT_FALSE(tcp_tuple_hint(ipv4(kOurs, kProtoUdp)).has_value());
  EXPECT_FALSE(tcp_tuple_hint(arp(wire::kArpRequest, MacAddr::broadcast(), kOurs)).has_value());
  const Frame whole = ipv4(kOurs);
  // The ports end 4 bytes into the TCP header: every shorter prefix gives
  // nothing, read in an exact-size copy so a sanitizer catches an overread.
  const std::size_t need = wire::kEthHeaderLen + wire::kIpv4HeaderMin + 4;
  for (std::size_t n = 0; n < need; ++n) {
    const Frame prefix(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(tcp_tuple_hint(prefix).has_value()) << n;
  }
  Frame bad_ihl = whole;
  bad_ihl[wire::kEthHeaderLen] = 0x4f;  // 60-byte header: the ports lie beyond the frame
  EXPECT_FALSE(tcp_tuple_hint(bad_ihl).has_value());
  bad_ihl[wire::kEthHeaderLen] = 0x44;  // 16 bytes: shorter than any IPv4 header
  EXPECT_FALSE(tcp_tuple_hint(bad_ihl).has_value());
}

TEST(TcpSynHint, OnlyASynWithoutAckAndOnlyWithItsFlagsInTheFrame) {
  Frame syn = ipv4(kOurs);  // a bare SYN
  EXPECT_TRUE(tcp_syn_hint(syn));
  const std::size_t flags = wire::kEthHeaderLen + wire::kIpv4HeaderMin + 13;
  for (std::uint8_t f : {std::uint8_t{wire::kSyn | wire::kAck}, std::uint8_t{wire::kAck}, std::uint8_t{wire::kFin | wire::kAck},
                         std::uint8_t{wire::kRst}}) {
    Frame other = syn;
    other[flags] = f;
    EXPECT_FALSE(tcp_syn_hint(other)) << int{f};
  }
  for (std::size_t n = 0; n <= flags; ++n) {
    const Frame prefix(syn.begin(), syn.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(tcp_syn_hint(prefix)) << n;
  }
  EXPECT_FALSE(tcp_syn_hint(ipv4(kOurs, kProtoUdp)));
}

TEST(TcpFlagsHint, TheFlagsByteOfATcpFrameElseZero) {
  Frame f = ipv4(kOurs);
  const std::size_t flags = wire::kEthHeaderLen + wire::kIpv4HeaderMin + 13;
  f[flags] = wire::kFin | wire::kAck;
  EXPECT_EQ(tcp_flags_hint(f), wire::kFin | wire::kAck);
  const Frame short_by_one(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(flags));
  EXPECT_EQ(tcp_flags_hint(short_by_one), 0);
  Frame udp = ipv4(kOurs, kProtoUdp);
  udp[flags] = wire::kFin;
  EXPECT_EQ(tcp_flags_hint(udp), 0);
}

TEST(Classify, AnInterfaceWithoutAddressesOwnsNothingAboveL2) {
  Interface bare;
  bare.mac = kOurMac;
  EXPECT_EQ(classify(arp(wire::kArpRequest, MacAddr::broadcast(), kOurs), bare), FrameClass::kNotLocal);
  EXPECT_EQ(classify(ipv4(kOurs), bare), FrameClass::kNotLocal);
}

// --- helpers and agreement with the engine ----------------------------------

TEST(Classify, ForStackIsIsStackOfTheClass) {
  const Frame frames[] = {arp(wire::kArpRequest, MacAddr::broadcast(), kOurs), ipv4(kOurs),
                          ipv4(kOurs, wire::kProtoIcmp), ipv4(kOurs, kProtoUdp), ipv4(kElsewhere),
                          Frame(10, 0)};
  for (const Frame& f : frames) EXPECT_EQ(for_stack(f, ifc()), is_stack(classify(f)));
  EXPECT_TRUE(for_stack(ipv4(kOurs), ifc()));
  EXPECT_FALSE(for_stack(ipv4(kElsewhere), ifc()));
}

TEST(Classify, EveryClassHasItsOwnName) {
  std::set<std::string> names;
  for (std::size_t c = 0; c < kFrameClassCount; ++c) {
    const std::string n = to_string(static_cast<FrameClass>(c));
    EXPECT_NE(n, "?") << c;
    names.insert(n);
  }
  EXPECT_EQ(names.size(), kFrameClassCount);
  EXPECT_STREQ(to_string(FrameClass::kCount), "?");
}

// What classify gives the stack, the engine uses: an ARP request is
// answered, and a SYN to a closed port gets its RST.
TEST(Classify, TheEngineAnswersWhatItIsGiven) {
  EngineOptions o = engine::options_from(StackConfig{}, test::kTestSecret);
  o.max_connections = 16;
  o.buffer_chunks = 64;
  o.tx_frames = 64;
  o.arp_cache_size = 16;
  o.max_tw_buckets = 16;
  QueueEngine eng(ifc(), o);
  const Instant now{1000000};
  const Frame who_has = arp(wire::kArpRequest, MacAddr::broadcast(), kOurs);
  const Frame syn = ipv4(kOurs);
  ASSERT_TRUE(for_stack(who_has, eng.interface()));
  ASSERT_TRUE(for_stack(syn, eng.interface()));
  eng.rx(who_has, now);
  eng.rx(syn, now);
  eng.poll(now);
  std::vector<std::uint16_t> types;
  eng.drain_tx([&](std::span<const std::uint8_t> f) {
    auto eth = wire::EthernetView::parse(f);
    ASSERT_TRUE(eth.ok());
    EXPECT_EQ(eth->dst(), kPeerMac);
    types.push_back(eth->ethertype());
  });
  EXPECT_EQ(types, (std::vector<std::uint16_t>{wire::kEtherTypeArp, wire::kEtherTypeIpv4}));
  EXPECT_EQ(eng.counters().get(Counter::TcpOutRsts), 1u);
  EXPECT_EQ(eng.counters().get(Counter::TwstackRxNotForUs), 0u);
  EXPECT_EQ(eng.counters().get(Counter::TwstackRxMalformed), 0u);
}

}  // namespace
}  // namespace twstack::engine
