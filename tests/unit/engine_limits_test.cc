// One engine fed hand-built frames: every drop counted under the kernel's
// name (bad checksums found by the NIC or by software, truncated and
// inconsistent IPv4 lengths), and every pool or table that can fill
// refusing what does not fit, counted, with no crash, leak or stall.
#include <gtest/gtest.h>

#include <vector>

#include "tests/scenario/scenario.hh"

namespace twstack {
namespace {

using scenario::build_frame;
using scenario::kEth;
using scenario::kIp;
using scenario::refresh_ip_checksum;
using scenario::SegSpec;

const wire::MacAddr kUsMac{{0x02, 0, 0, 0, 0, 1}};
const wire::MacAddr kPeerMac{{0x02, 0, 0, 0, 0, 2}};
const wire::Ipv4Addr kUs = wire::Ipv4Addr::from_octets(10, 0, 0, 1);
const wire::Ipv4Addr kPeer = wire::Ipv4Addr::from_octets(10, 0, 0, 2);

engine::Interface ifc(bool nic_verifies) {
  engine::Interface i;
  i.mac = kUsMac;
  i.add_addr(kUs);
  i.prefix_len = 24;
  i.caps.rx_checksum_verified = nic_verifies;
  return i;
}

engine::EngineOptions opts() {
  engine::EngineOptions o = engine::options_from(StackConfig{}, test::kTestSecret);
  o.max_connections = 8;
  o.buffer_chunks = 64;
  o.tx_frames = 64;
  return o;
}

// A SYN from the peer to port 80 (valid checksums).
SegSpec syn(std::uint16_t sport) {
  SegSpec s;
  s.src_mac = kPeerMac;
  s.dst_mac = kUsMac;
  s.src = kPeer;
  s.dst = kUs;
  s.sport = sport;
  s.dport = 80;
  s.seq = Seq(1000);
  s.flags = wire::kSyn;
  return s;
}

struct Engine {
  engine::QueueEngine e;
  Instant now{1000000};
  std::size_t sent = 0;
  explicit Engine(bool nic_verifies, engine::EngineOptions o = opts()) : e(ifc(nic_verifies), o) {
    e.poll(now);
    EXPECT_EQ(e.listen(80, 8), Errc::kOk);
  }
  std::uint64_t ctr(Counter c) const { return e.counters().get(c); }
  // Hands one frame in; returns how many frames the engine sent in answer.
  std::size_t rx(const std::vector<std::uint8_t>& f, bool unverified = false) {
    unverified ? e.rx_unverified(f, now) : e.rx(f, now);
    e.poll(now);
    return e.drain_tx([](std::span<const std::uint8_t>) {});
  }
};

// ip_rcv_core: a bad header checksum counts IPSTATS_MIB_CSUMERRORS and then
// IPSTATS_MIB_INHDRERRORS (csum_error falls through to inhdr_error).
TEST(EngineDrops, BadIpv4ChecksumIsCsumAndHdrError) {
  Engine x(false);
  std::vector<std::uint8_t> f = build_frame(syn(40000));
  f[kEth + 10] ^= 0x5a;
  EXPECT_EQ(x.rx(f), 0u);
  EXPECT_EQ(x.ctr(Counter::IpInReceives), 1u);
  EXPECT_EQ(x.ctr(Counter::IpExtInCsumErrors), 1u);
  EXPECT_EQ(x.ctr(Counter::IpInHdrErrors), 1u);
  EXPECT_EQ(x.ctr(Counter::TcpInSegs), 0u);
}

// ip_rcv_core: skb->len < tot_len is IPSTATS_MIB_INTRUNCATEDPKTS alone;
// tot_len < ihl*4 is a header error.
TEST(EngineDrops, TruncatedAndInconsistentIpv4Lengths) {
  Engine x(false);
  std::vector<std::uint8_t> f = build_frame(syn(40000));
  f[kEth + 2] = 0x02;  // 512 bytes claimed in a 60-byte frame
  f[kEth + 3] = 0x00;
  refresh_ip_checksum(f);
  EXPECT_EQ(x.rx(f), 0u);
  EXPECT_EQ(x.ctr(Counter::IpExtInTruncatedPkts), 1u);
  EXPECT_EQ(x.ctr(Counter::IpInHdrErrors), 0u);
  f[kEth + 2] = 0;
  f[kEth + 3] = 12;  // shorter than its own header
  refresh_ip_checksum(f);
  EXPECT_EQ(x.rx(f), 0u);
  EXPECT_EQ(x.ctr(Counter::IpExtInTruncatedPkts), 1u);
  EXPECT_EQ(x.ctr(Counter::IpInHdrErrors), 1u);
  // A frame too short for an IPv4 header at all: a header error too.
  f.resize(kEth + 12);
  EXPECT_EQ(x.rx(f), 0u);
  EXPECT_EQ(x.ctr(Counter::IpInHdrErrors), 2u);
  EXPECT_EQ(x.ctr(Counter::IpInReceives), 3u);
  EXPECT_EQ(x.e.gauges().synrecv, 0u);
}

// Where the NIC verifies checksums, rx() trusts it; a frame the NIC flagged
// (or could not judge) goes to rx_unverified(), which checks in software and
// counts what it finds (tcp_v4_rcv: TCP_MIB_CSUMERRORS and TCP_MIB_INERRS).
TEST(EngineDrops, UnverifiedFramesAreCheckedInSoftware) {
  Engine x(true);
  std::vector<std::uint8_t> bad_tcp = build_frame(syn(40000));
  bad_tcp[kEth + kIp + 16] ^= 0x5a;
  EXPECT_EQ(x.rx(bad_tcp, true), 0u);
  EXPECT_EQ(x.ctr(Counter::TcpInSegs), 1u);
  EXPECT_EQ(x.ctr(Counter::TcpInCsumErrors), 1u);
  EXPECT_EQ(x.ctr(Counter::TcpInErrs), 1u);
  std::vector<std::uint8_t> bad_ip = build_frame(syn(40001));
  bad_ip[kEth + 10] ^= 0x5a;
  EXPECT_EQ(x.rx(bad_ip, true), 0u);
  EXPECT_EQ(x.ctr(Counter::IpExtInCsumErrors), 1u);
  EXPECT_EQ(x.e.gauges().synrecv, 0u);
  // An intact frame passes the software check too.
  EXPECT_GE(x.rx(build_frame(syn(40002)), true), 1u);
  EXPECT_EQ(x.e.gauges().synrecv, 1u);
  // The same bad TCP checksum through rx(): the NIC vouched, so it is taken.
  bad_tcp = build_frame(syn(40003));
  bad_tcp[kEth + kIp + 16] ^= 0x5a;
  x.rx(bad_tcp);  // its SYN-ACK waits, with the first, for ARP
  EXPECT_EQ(x.e.gauges().synrecv, 2u);
  EXPECT_EQ(x.ctr(Counter::TcpInCsumErrors), 1u);
}

}  // namespace
}  // namespace twstack
