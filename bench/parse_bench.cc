// Receive-path parsing of a typical 74-byte SYN: Ethernet, IPv4 (with header
// checksum), TCP (with pseudo-header checksum) and its options.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <span>

#include "stack/wire/ethernet.hh"
#include "stack/wire/ipv4.hh"
#include "stack/wire/tcp.hh"
#include "stack/wire/tcp_options.hh"

namespace {

using namespace twstack::wire;

std::array<std::uint8_t, 74> make_syn() {
  std::array<std::uint8_t, 74> f{};
  const Ipv4Addr src = Ipv4Addr::from_octets(10, 0, 0, 1);
  const Ipv4Addr dst = Ipv4Addr::from_octets(10, 0, 0, 2);
  write_ethernet(f.data(), MacAddr{{0x52, 0x54, 0, 0x12, 0x34, 0x56}},
                 MacAddr{{0x52, 0x54, 0, 0xab, 0xcd, 0xef}}, kEtherTypeIpv4);
  write_ipv4(f.data() + 14, src, dst, kProtoTcp, 40, 0x1c46);
  TcpOptions o;
  o.has_mss = true;
  o.mss = 1460;
  o.sack_permitted = true;
  o.has_timestamps = true;
  o.tsval = 1000;
  o.has_wscale = true;
  o.wscale = 7;
  std::array<std::uint8_t, 40> opts{};
  std::size_t olen = write_tcp_options(opts.data(), o);
  TcpFields t{.src_port = 40000, .dst_port = 80, .seq = 0x12345678, .ack = 0, .flags = kSyn,
              .window = 64240};
  std::size_t tlen = write_tcp_header(f.data() + 34, t, std::span(opts.data(), olen));
  finish_tcp_checksum(f.data() + 34, tlen, src, dst);
  return f;
}

void BM_ParseSyn(benchmark::State& state) {
  const auto frame = make_syn();
  for (auto _ : state) {
    benchmark::DoNotOptimize(frame.data());
    auto eth = EthernetView::parse(frame);
    if (!eth.ok() || eth->ethertype() != kEtherTypeIpv4) state.SkipWithError("eth");
    auto ip = Ipv4View::parse(eth->payload());
    if (!ip.ok() || ip->protocol() != kProtoTcp) state.SkipWithError("ip");
    auto tcp = TcpView::parse(ip->payload(), ip->src(), ip->dst());
    if (!tcp.ok()) state.SkipWithError("tcp");
    TcpOptions opts;
    ParseError e = parse_tcp_options(tcp->options(), &opts);
    benchmark::DoNotOptimize(e);
    benchmark::DoNotOptimize(opts);
  }
}
BENCHMARK(BM_ParseSyn);

// The same with checksums left to the NIC (RX checksum offload).
void BM_ParseSynOffloaded(benchmark::State& state) {
  const auto frame = make_syn();
  for (auto _ : state) {
    benchmark::DoNotOptimize(frame.data());
    auto eth = EthernetView::parse(frame);
    auto ip = Ipv4View::parse(eth->payload(), false);
    auto tcp = TcpView::parse(ip->payload(), ip->src(), ip->dst(), false);
    TcpOptions opts;
    ParseError e = parse_tcp_options(tcp->options(), &opts);
    benchmark::DoNotOptimize(e);
    benchmark::DoNotOptimize(opts);
  }
}
BENCHMARK(BM_ParseSynOffloaded);

}  // namespace

BENCHMARK_MAIN();
