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

// --- limits -------------------------------------------------------------

// What the engine sent, as the peer reads it.
struct Sent {
  std::vector<wire::Segment> segs;  // TCP only (data pointers not kept)
  std::vector<std::uint16_t> dports;
  std::size_t arp = 0;
};

struct Peer {
  explicit Peer(Engine& e) : x(e) {}
  Engine& x;
  Sent sent;
  Seq server_next;  // after handshake(): the engine's ISS + 1
  Sent& pump() {
    sent = {};
    x.e.poll(x.now);
    x.e.drain_tx([&](std::span<const std::uint8_t> f) {
      auto eth = wire::EthernetView::parse(f);
      if (!eth.ok()) return;
      if (eth->ethertype() == wire::kEtherTypeArp) ++sent.arp;
      if (eth->ethertype() != wire::kEtherTypeIpv4) return;
      auto ip = wire::Ipv4View::parse(eth->payload());
      if (!ip.ok() || ip->protocol() != wire::kProtoTcp) return;
      auto th = wire::TcpView::parse(ip->payload(), ip->src(), ip->dst());
      wire::Segment seg;
      if (!th.ok() || wire::parse_segment(*th, &seg) != wire::ParseError::kOk) return;
      seg.data = nullptr;
      sent.segs.push_back(seg);
      sent.dports.push_back(th->dst_port());
    });
    return sent;
  }
  Sent& in(const SegSpec& s) {
    x.e.rx(build_frame(s), x.now);
    return pump();
  }
  // The engine learns our MAC (an ARP request for its address).
  void announce() {
    std::vector<std::uint8_t> f(60, 0);
    wire::write_ethernet(f.data(), kUsMac, kPeerMac, wire::kEtherTypeArp);
    wire::write_arp(f.data() + kEth, wire::kArpRequest, kPeerMac, kPeer, wire::MacAddr{}, kUs);
    x.e.rx(f, x.now);
    pump();
  }
  // SYN, SYN-ACK, ACK from peer port `sport`; false if no SYN-ACK came.
  bool handshake(std::uint16_t sport) {
    SegSpec s = syn(sport);
    Sent& r = in(s);
    if (r.segs.size() != 1 || !r.segs[0].has(wire::kSyn)) return false;
    s.flags = wire::kAck;
    s.seq = s.seq + 1;
    s.ack = r.segs[0].seq + 1;
    server_next = s.ack;
    in(s);
    return true;
  }
};

engine::EngineOptions no_cookies(engine::EngineOptions o) {
  // Whatever tcp_syncookies does, these tests are about the queues themselves.
  StackConfig c;
  c.tcp_syncookies = 0;
  engine::EngineOptions n = engine::options_from(c, test::kTestSecret);
  n.max_connections = o.max_connections;
  n.buffer_chunks = o.buffer_chunks;
  n.tx_frames = o.tx_frames;
  return n;
}

// Every slot taken: a SYN is dropped without an answer (as Linux drops a
// SYN it cannot allocate a request for: tcp_conn_request, ListenDrops) and
// counted; connect() says ENOBUFS; a freed slot serves the next SYN.
TEST(EngineLimits, ConnectionTableFullRefusesAndRecovers) {
  Engine x(false, no_cookies(opts()));  // 8 slots
  ASSERT_EQ(x.e.unlisten(80), Errc::kOk);
  ASSERT_EQ(x.e.listen(80, 64), Errc::kOk);
  Peer p(x);
  p.announce();
  for (std::uint16_t i = 0; i < 8; ++i) ASSERT_TRUE(p.handshake(static_cast<std::uint16_t>(41000 + i))) << i;
  EXPECT_EQ(x.e.gauges().estab, 8u);
  EXPECT_TRUE(p.in(syn(42000)).segs.empty());
  EXPECT_EQ(x.ctr(Counter::TwstackConnPoolExhausted), 1u);
  EXPECT_EQ(x.ctr(Counter::TcpExtListenDrops), 1u);
  engine::ConnId id;
  EXPECT_EQ(x.e.connect(kPeer, 9, &id), Errc::kNoBufs);
  EXPECT_EQ(x.e.self_check(), "");
  auto first = x.e.accept(80);
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(x.e.abort(*first), Errc::kOk);
  p.pump();
  EXPECT_TRUE(p.handshake(42001));
  EXPECT_EQ(x.e.gauges().estab, 8u);
  EXPECT_EQ(x.e.self_check(), "");
}

// A full accept queue (the listen() backlog): a SYN is dropped
// (tcp_conn_request: sk_acceptq_is_full), and a handshake's last ACK is
// dropped with the connection left in SYN_RCVD, retransmitting its SYN-ACK
// until the application makes room (tcp_check_req with
// tcp_abort_on_overflow=0). Both count ListenOverflows and ListenDrops.
// With a backlog of 2 the SYN queue holds two too (reqsk_queue_is_full), so
// the third connection's SYN comes once the first is established.
TEST(EngineLimits, FullAcceptQueueDropsUntilTheApplicationAccepts) {
  Engine x(false, no_cookies(opts()));
  ASSERT_EQ(x.e.unlisten(80), Errc::kOk);
  ASSERT_EQ(x.e.listen(80, 2), Errc::kOk);
  Peer p(x);
  p.announce();
  Seq synack[3];
  auto syn_of = [&](int i) {
    Sent& r = p.in(syn(static_cast<std::uint16_t>(41000 + i)));
    ASSERT_EQ(r.segs.size(), 1u) << i;
    synack[i] = r.segs[0].seq;
  };
  auto ack_of = [&](int i) {
    SegSpec s = syn(static_cast<std::uint16_t>(41000 + i));
    s.flags = wire::kAck;
    s.seq = Seq(1001);
    s.ack = synack[i] + 1;
    return s;
  };
  syn_of(0);
  syn_of(1);
  p.in(ack_of(0));  // established: one waits to be accepted
  syn_of(2);        // room in both queues again
  p.in(ack_of(1));  // established: the accept queue (2) is full
  EXPECT_EQ(x.e.gauges().estab, 2u);
  p.in(ack_of(2));  // no room: dropped, still SYN_RCVD
  EXPECT_EQ(x.ctr(Counter::TcpExtListenOverflows), 1u);
  EXPECT_EQ(x.ctr(Counter::TcpExtListenDrops), 1u);
  EXPECT_EQ(x.e.gauges().synrecv, 1u);
  EXPECT_TRUE(p.in(syn(41003)).segs.empty());  // a new SYN: dropped too
  EXPECT_EQ(x.ctr(Counter::TcpExtListenOverflows), 2u);
  EXPECT_EQ(x.ctr(Counter::TcpExtListenDrops), 2u);
  EXPECT_EQ(x.e.self_check(), "");
  // The application accepts: room again. The SYN-ACK retransmission draws
  // the peer's ACK, which now completes the handshake.
  ASSERT_TRUE(x.e.accept(80).has_value());
  x.now += Duration::seconds(2);
  Sent& r = p.pump();
  ASSERT_FALSE(r.segs.empty());
  EXPECT_TRUE(r.segs[0].has(wire::kSyn | wire::kAck));
  p.in(ack_of(2));
  EXPECT_EQ(x.e.gauges().synrecv, 0u);
  EXPECT_TRUE(x.e.accept(80).has_value());
  EXPECT_TRUE(x.e.accept(80).has_value());
  EXPECT_EQ(x.e.self_check(), "");
}

// The SYN queue full at the listen() backlog (inet_csk_reqsk_queue_is_full),
// cookies off: further SYNs are dropped (tcp_conn_request:
// TcpExtTCPReqQFullDrop, ListenDrops); a completed handshake makes room.
TEST(EngineLimits, FullSynQueueDropsSyns) {
  Engine x(false, no_cookies(opts()));
  ASSERT_EQ(x.e.unlisten(80), Errc::kOk);
  ASSERT_EQ(x.e.listen(80, 2), Errc::kOk);
  Peer p(x);
  p.announce();
  Sent& first = p.in(syn(41000));
  ASSERT_EQ(first.segs.size(), 1u);
  const Seq synack = first.segs[0].seq;
  EXPECT_EQ(p.in(syn(41001)).segs.size(), 1u);
  EXPECT_TRUE(p.in(syn(41002)).segs.empty());
  EXPECT_EQ(x.ctr(Counter::TcpExtTCPReqQFullDrop), 1u);
  EXPECT_EQ(x.ctr(Counter::TcpExtListenDrops), 1u);
  EXPECT_EQ(x.e.gauges().synrecv, 2u);
  SegSpec ack = syn(41000);
  ack.flags = wire::kAck;
  ack.seq = Seq(1001);
  ack.ack = synack + 1;
  p.in(ack);
  EXPECT_EQ(p.in(syn(41003)).segs.size(), 1u);
  EXPECT_EQ(x.e.self_check(), "");
}

// Linux reqsk_timer_handler: a SYN queue over half the listen() backlog
// whose entries are old (their SYN-ACK timed out once) gives them fewer
// SYN-ACK retries, down to 2, so a flood of spoofed SYNs without cookies
// frees slots after 1 + 2 + 4 = 7 s, not the 63 s of tcp_synack_retries (5),
// until the queue is half full again; a queue at most half full keeps every retry.
TEST(EngineLimits, CrowdedSynQueueGivesOldEntriesFewerRetries) {
  for (const std::uint16_t entries : {8, 16}) {
    SCOPED_TRACE(std::to_string(entries) + " entries in a backlog of 16");
    engine::EngineOptions o = no_cookies(opts());
    o.max_connections = 32;
    Engine x(false, o);
    ASSERT_EQ(x.e.unlisten(80), Errc::kOk);
    ASSERT_EQ(x.e.listen(80, 16), Errc::kOk);
    Peer p(x);
    p.announce();
    for (std::uint16_t i = 0; i < entries; ++i) ASSERT_EQ(p.in(syn(static_cast<std::uint16_t>(41000 + i))).segs.size(), 1u);
    auto wait = [&](Duration d) {
      for (const Instant end = x.now + d; x.now < end;) {
        x.now += Duration::millis(100);
        p.pump();
      }
    };
    wait(Duration::millis(7500));
    if (entries == 16) {
      // Pruned to half the backlog: 8 entries gone after their 2nd retry;
      // then the queue is no longer crowded and the other 8 resend at 7 s.
      EXPECT_EQ(x.e.gauges().synrecv, 8u) << "the crowded queue kept its old entries past their 2nd retry";
      EXPECT_EQ(x.ctr(Counter::TcpExtTCPSynRetrans), 2u * 16 + 8);
    } else {
      EXPECT_EQ(x.e.gauges().synrecv, entries) << "a queue at most half full lost entries early";
      wait(Duration::seconds(60));  // 1 + 2 + 4 + 8 + 16 + 32 s: all 5 retries
      EXPECT_EQ(x.e.gauges().synrecv, 0u);
      EXPECT_EQ(x.ctr(Counter::TcpExtTCPSynRetrans), 5u * entries);
    }
    EXPECT_EQ(x.e.self_check(), "");
  }
}

// Too few buffer chunks: data is refused (short send, counted) or dropped
// on receive (counted) but never lost from a stream: what was dropped comes
// again and is taken once chunks are free; nothing leaks.
TEST(EngineLimits, EmptyBufferPoolRefusesThenRecovers) {
  engine::EngineOptions o = opts();
  o.buffer_chunks = 2;  // 4 KiB for every connection together
  Engine x(false, o);
  Peer p(x);
  p.announce();
  ASSERT_TRUE(p.handshake(41000));
  auto id = x.e.accept(80);
  ASSERT_TRUE(id.has_value());
  std::vector<std::uint8_t> data(16384, 7);
  Errc err = Errc::kOk;
  const std::uint32_t took = x.e.send(*id, data, &err);
  EXPECT_LT(took, data.size());
  EXPECT_GE(x.ctr(Counter::TwstackBufPoolExhausted), 1u);
  EXPECT_EQ(x.e.free_buffer_chunks(), 0u);
  EXPECT_EQ(x.e.self_check(), "");
  // Data from the peer now finds no chunk: dropped and counted, not acked.
  SegSpec d = syn(41000);
  d.flags = wire::kAck | wire::kPsh;
  d.seq = Seq(1001);
  d.ack = p.server_next;
  d.payload.assign(100, 9);
  const std::uint64_t before = x.ctr(Counter::TwstackBufPoolExhausted);
  p.in(d);
  EXPECT_EQ(x.ctr(Counter::TwstackBufPoolExhausted), before + 1);
  std::uint8_t buf[256];
  EXPECT_EQ(x.e.recv(*id, buf), 0u);
  // Aborting frees every chunk.
  ASSERT_EQ(x.e.abort(*id), Errc::kOk);
  p.pump();
  EXPECT_EQ(x.e.free_buffer_chunks(), 2u);
  EXPECT_EQ(x.e.self_check(), "");
}

// More frames for an unresolved neighbour than twstack.arp_queue holds:
// the excess is dropped and counted (RFC 1122 §2.3.2.2 queues a bounded
// number), one ARP request goes out, and the parked frames leave once the
// reply comes.
TEST(EngineLimits, ArpQueueFullDropsTheExcess) {
  engine::EngineOptions o = opts();
  o.arp_queue = 2;
  Engine x(false, o);
  Peer p(x);
  engine::ConnId id;
  for (std::uint16_t port = 1; port <= 4; ++port) ASSERT_EQ(x.e.connect(kPeer, port, &id), Errc::kOk);
  Sent r = p.pump();
  EXPECT_TRUE(r.segs.empty());
  EXPECT_EQ(r.arp, 1u);
  EXPECT_EQ(x.ctr(Counter::TwstackArpQueueDrops), 2u);
  std::vector<std::uint8_t> reply(60, 0);
  wire::write_ethernet(reply.data(), kUsMac, kPeerMac, wire::kEtherTypeArp);
  wire::write_arp(reply.data() + kEth, wire::kArpReply, kPeerMac, kPeer, kUsMac, kUs);
  x.e.rx(reply, x.now);
  r = p.pump();
  EXPECT_EQ(r.segs.size(), 2u);
  EXPECT_EQ(x.e.self_check(), "");
}

// conn_ages(): every slot in use by state and age since it was taken.
TEST(EngineLimits, ConnectionAgesByState) {
  Engine x(false);
  Peer p(x);
  p.announce();
  ASSERT_TRUE(p.handshake(41000));
  x.now += Duration::seconds(15);
  ASSERT_TRUE(p.handshake(41001));
  EXPECT_EQ(p.in(syn(41002)).segs.size(), 1u);  // SYN_RECEIVED, just now
  const engine::ConnAges a = x.e.conn_ages();
  const auto est = static_cast<std::size_t>(tcp::State::kEstablished);
  const auto syn_rcvd = static_cast<std::size_t>(tcp::State::kSynReceived);
  EXPECT_EQ(a.n[est][0], 1u);  // < 1 s
  EXPECT_EQ(a.n[est][2], 1u);  // 10 s - 1 min
  EXPECT_EQ(a.n[syn_rcvd][0], 1u);
  std::uint64_t total = 0;
  for (const auto& row : a.n) {
    for (std::uint64_t v : row) total += v;
  }
  EXPECT_EQ(total, 3u);
}

}  // namespace
}  // namespace twstack
