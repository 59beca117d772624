// The smallest embedding of an installed twstack: one QueueEngine listening
// on port 80, handed two frames by hand (an ARP request for its address,
// then a SYN), answering with an ARP reply and a SYN-ACK. Built against
// twstack.pc alone, so it also proves the stack needs no DPDK.
#include <cstdint>
#include <cstdio>
#include <span>
#include <vector>

#include "stack/base/config.hh"
#include "stack/engine/engine.hh"
#include "stack/engine/options.hh"
#include "stack/wire/arp.hh"
#include "stack/wire/ethernet.hh"
#include "stack/wire/ipv4.hh"
#include "stack/wire/tcp.hh"

namespace {

using namespace twstack;

const wire::MacAddr kOurMac{{0x02, 0, 0, 0, 0, 0x02}};
const wire::MacAddr kPeerMac{{0x02, 0, 0, 0, 0, 0x01}};
constexpr wire::Ipv4Addr kOurIp = wire::Ipv4Addr::from_octets(10, 0, 0, 2);
constexpr wire::Ipv4Addr kPeerIp = wire::Ipv4Addr::from_octets(10, 0, 0, 1);

std::vector<std::uint8_t> arp_request() {
  std::vector<std::uint8_t> f(wire::kEthHeaderLen + wire::kArpLen);
  wire::write_ethernet(f.data(), wire::MacAddr::broadcast(), kPeerMac, wire::kEtherTypeArp);
  wire::write_arp(f.data() + wire::kEthHeaderLen, wire::kArpRequest, kPeerMac, kPeerIp, wire::MacAddr{},
                  kOurIp);
  return f;
}

std::vector<std::uint8_t> syn(std::uint16_t dport, std::uint32_t isn) {
  constexpr std::size_t kTcp = wire::kTcpHeaderMin;
  std::vector<std::uint8_t> f(wire::kEthHeaderLen + wire::kIpv4HeaderMin + kTcp);
  std::uint8_t* ip = f.data() + wire::kEthHeaderLen;
  std::uint8_t* tcp = ip + wire::kIpv4HeaderMin;
  wire::write_ethernet(f.data(), kOurMac, kPeerMac, wire::kEtherTypeIpv4);
  wire::write_ipv4(ip, kPeerIp, kOurIp, wire::kProtoTcp, kTcp, 1);
  wire::write_tcp_header(tcp, wire::TcpFields{40000, dport, isn, 0, wire::kSyn, 65535}, {});
  wire::finish_tcp_checksum(tcp, kTcp, kPeerIp, kOurIp);
  return f;
}

// Hands `frame` to the engine and returns what it sends back.
std::vector<std::vector<std::uint8_t>> exchange(engine::QueueEngine& eng, std::span<const std::uint8_t> frame,
                                                Instant now) {
  eng.rx(frame, now);
  eng.poll(now);
  std::vector<std::vector<std::uint8_t>> out;
  eng.drain_tx([&](std::span<const std::uint8_t> f) { out.emplace_back(f.begin(), f.end()); });
  return out;
}

int fail(const char* what) {
  std::fprintf(stderr, "engine_min: %s\n", what);
  return 1;
}

}  // namespace

int main() {
  engine::EngineOptions opt = engine::options_from(StackConfig{}, Secret{0x7477737461636bULL});
  opt.max_connections = 16;
  opt.buffer_chunks = 64;
  opt.tx_frames = 64;
  opt.max_tw_buckets = 16;
  engine::Interface ifc;
  ifc.mac = kOurMac;
  ifc.add_addr(kOurIp);
  engine::QueueEngine eng(ifc, opt);
  Instant now{1000000};
  eng.poll(now);
  if (eng.listen(80, 16) != Errc::kOk) return fail("listen(80) failed");

  auto out = exchange(eng, arp_request(), now);
  if (out.size() != 1) return fail("no single answer to the ARP request");
  auto eth = wire::EthernetView::parse(out[0]);
  if (!eth.ok() || eth->ethertype() != wire::kEtherTypeArp || eth->dst() != kPeerMac) return fail("not an ARP reply");
  auto arp = wire::ArpView::parse(eth->payload());
  if (!arp.ok() || arp->op() != wire::kArpReply || arp->sha() != kOurMac || arp->spa() != kOurIp) {
    return fail("bad ARP reply");
  }

  now += Duration::millis(1);
  out = exchange(eng, syn(80, 1000), now);
  if (out.size() != 1) return fail("no single answer to the SYN");
  auto eth2 = wire::EthernetView::parse(out[0]);
  if (!eth2.ok() || eth2->ethertype() != wire::kEtherTypeIpv4) return fail("answer to the SYN is not IPv4");
  auto ip = wire::Ipv4View::parse(eth2->payload());
  if (!ip.ok() || ip->src() != kOurIp || ip->dst() != kPeerIp) return fail("bad IPv4 header on the SYN-ACK");
  auto tcp = wire::TcpView::parse(ip->payload(), ip->src(), ip->dst());
  if (!tcp.ok() || tcp->flags() != (wire::kSyn | wire::kAck) || tcp->ack() != 1001 || tcp->src_port() != 80) {
    return fail("not a SYN-ACK for the SYN");
  }
  std::printf("engine_min: ARP reply and SYN-ACK from an installed twstack\n");
  return 0;
}
