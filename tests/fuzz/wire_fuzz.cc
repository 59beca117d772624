// libFuzzer target for the wire parsers, one header at a time: Ethernet,
// ARP, IPv4, ICMP, TCP and its options, each given the input as it comes
// (and each given what the previous one returned, as the engine does).
// Checks: a view never reaches outside its input; a checksum-verified
// parse agrees with the unverified one; options re-written by
// write_tcp_options() parse back to what was written.
#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/wire/arp.hh"
#include "stack/wire/ethernet.hh"
#include "stack/wire/icmp.hh"
#include "stack/wire/ipv4.hh"
#include "stack/wire/segment.hh"
#include "stack/wire/tcp.hh"
#include "stack/wire/tcp_options.hh"
#include "tests/fuzz/fuzz_check.hh"

namespace {

using namespace twstack;
using Bytes = std::span<const std::uint8_t>;

bool inside(Bytes part, Bytes whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void options_round_trip(const wire::TcpOptions& o) {
  const std::size_t n = wire::tcp_options_size(o);
  FUZZ_CHECK(n <= wire::kTcpOptionsMax && n % 4 == 0, "options size %zu", n);
  std::uint8_t buf[wire::kTcpOptionsMax + 8];
  for (auto& b : buf) b = 0xa5;
  FUZZ_CHECK(wire::write_tcp_options(buf, o) == n, "write_tcp_options wrote other than %zu", n);
  wire::TcpOptions back{};
  FUZZ_CHECK(wire::parse_tcp_options(Bytes(buf, n), &back) == wire::ParseError::kOk, "own options do not parse");
  FUZZ_CHECK(back.has_mss == o.has_mss && (!o.has_mss || back.mss == o.mss), "mss lost");
  FUZZ_CHECK(back.has_wscale == o.has_wscale && (!o.has_wscale || back.wscale == o.wscale), "wscale lost");
  FUZZ_CHECK(back.sack_permitted == o.sack_permitted, "sack_permitted lost");
  FUZZ_CHECK(back.has_timestamps == o.has_timestamps &&
                 (!o.has_timestamps || (back.tsval == o.tsval && back.tsecr == o.tsecr)),
             "timestamps lost");
  FUZZ_CHECK(back.sack_count <= o.sack_count, "sack blocks invented");
  for (std::size_t i = 0; i < back.sack_count; ++i) FUZZ_CHECK(back.sack[i] == o.sack[i], "sack block %zu", i);
}

void tcp(Bytes seg, wire::Ipv4Addr src, wire::Ipv4Addr dst) {
  auto th = wire::TcpView::parse(seg, src, dst, false);
  auto checked = wire::TcpView::parse(seg, src, dst, true);
  FUZZ_CHECK(th.ok() || !checked.ok(), "the checksum check accepted what the header check refused");
  if (!th.ok()) return;
  FUZZ_CHECK(th->header_len() >= wire::kTcpHeaderMin && th->header_len() <= seg.size(), "data offset");
  FUZZ_CHECK(inside(th->options(), seg) && inside(th->payload(), seg), "TCP view outside its segment");
  FUZZ_CHECK(th->options().size() <= wire::kTcpOptionsMax, "options longer than 40");
  wire::Segment s;
  if (wire::parse_segment(*th, &s) != wire::ParseError::kOk) return;
  FUZZ_CHECK(s.len == th->payload().size(), "segment length");
  FUZZ_CHECK(s.opt.sack_count <= wire::kMaxSackBlocks, "sack count %u", s.opt.sack_count);
  FUZZ_CHECK(!s.opt.has_wscale || s.opt.wscale <= wire::kMaxWscale, "wscale %u", s.opt.wscale);
  options_round_trip(s.opt);
}

void ipv4(Bytes pkt) {
  auto ip = wire::Ipv4View::parse(pkt, false);
  auto checked = wire::Ipv4View::parse(pkt, true);
  FUZZ_CHECK(ip.ok() || !checked.ok(), "the checksum check accepted what the header check refused");
  if (!ip.ok()) return;
  FUZZ_CHECK(ip->header_len() >= wire::kIpv4HeaderMin && ip->header_len() <= ip->total_len(), "IHL");
  FUZZ_CHECK(ip->total_len() <= pkt.size(), "total length beyond the packet");
  FUZZ_CHECK(inside(ip->payload(), pkt) && ip->payload().size() == ip->total_len() - ip->header_len(),
             "IPv4 payload");
  if (ip->protocol() == wire::kProtoTcp) tcp(ip->payload(), ip->src(), ip->dst());
  if (ip->protocol() == wire::kProtoIcmp) {
    auto icmp = wire::IcmpView::parse(ip->payload());
    if (icmp.ok()) FUZZ_CHECK(inside(icmp->payload(), ip->payload()), "ICMP payload");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Bytes in(data + 1, size - 1);
  // The first byte picks the layer the rest starts at, so each parser is
  // reached directly as well as through the ones above it.
  switch (data[0] % 4) {
    case 0: {
      auto eth = wire::EthernetView::parse(in);
      if (!eth.ok()) return 0;
      FUZZ_CHECK(inside(eth->payload(), in), "Ethernet payload");
      if (eth->ethertype() == wire::kEtherTypeArp) (void)wire::ArpView::parse(eth->payload());
      if (eth->ethertype() == wire::kEtherTypeIpv4) ipv4(eth->payload());
      return 0;
    }
    case 1: ipv4(in); return 0;
    case 2: tcp(in, wire::Ipv4Addr::from_octets(10, 0, 0, 2), wire::Ipv4Addr::from_octets(10, 0, 0, 1)); return 0;
    default: {
      wire::TcpOptions o{};
      if (wire::parse_tcp_options(in.first(std::min<std::size_t>(in.size(), 40)), &o) == wire::ParseError::kOk) {
        options_round_trip(o);
      }
      return 0;
    }
  }
}
