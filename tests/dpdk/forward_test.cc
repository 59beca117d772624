// twstack-forward's loop (apps/forward) between two hosts, in one process
// over two crosswise net_ring pairs:
//
//   H1 ==ring pair 1== A [Forwarder: engine + echo on A] B ==ring pair 2== H2
//
// (a) a client QueueEngine on H1 connects to the forwarder's engine, gets
// its bytes echoed and closes cleanly, with nothing leaking to H2; (b)
// frames from H1 that are not the engine's arrive on H2 unchanged (the same
// mbuf: no copy); (c) frames from H2 arrive on H1 unchanged.
//
// Needs no hugepages and no NIC. Where the EAL cannot start, every test is
// skipped with the EAL's reason and the program exits 77 (meson: SKIP).
#include <gtest/gtest.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "apps/forward/forward.hh"
#include "drivers/dpdk/eal.hh"
#include "tests/dpdk/eal_test_env.hh"
#include "drivers/dpdk/port.hh"
#include "drivers/dpdk/ring_pair.hh"
#include "stack/engine/classify.hh"
#include "stack/engine/engine.hh"
#include "stack/engine/options.hh"
#include "stack/wire/arp.hh"
#include "stack/wire/ethernet.hh"
#include "stack/wire/ipv4.hh"

namespace twstack::forward {
namespace {

using dpdk::DpdkPort;
using dpdk::Eal;
using dpdk::RingPair;
using dpdk::pattern;
using dpdk::wall_now;
using engine::AppEvent;
using engine::ConnId;
using engine::FrameClass;
using engine::QueueEngine;
using wire::Ipv4Addr;
using wire::MacAddr;

// --- addresses and frames --------------------------------------------------

constexpr MacAddr kMacH1{{0x02, 0, 0, 0, 0x01, 0x01}};
constexpr MacAddr kMacA{{0x02, 0, 0, 0, 0x0a, 0x0a}};
constexpr MacAddr kMacB{{0x02, 0, 0, 0, 0x0b, 0x0b}};
constexpr MacAddr kMacH2{{0x02, 0, 0, 0, 0x02, 0x02}};
constexpr Ipv4Addr kIpH1 = Ipv4Addr::from_octets(10, 1, 0, 1);
constexpr Ipv4Addr kIpFwd = Ipv4Addr::from_octets(10, 1, 0, 2);
constexpr Ipv4Addr kIpH2 = Ipv4Addr::from_octets(10, 1, 0, 3);
constexpr std::uint16_t kEchoPort = 7;
constexpr std::uint8_t kProtoUdp = 17;

using Frame = std::vector<std::uint8_t>;

// Ethernet + IPv4 + `payload` bytes of a counting pattern (for UDP, a
// header's worth of anything: nothing on the path reads beyond IPv4).
Frame ipv4_frame(MacAddr dst_mac, MacAddr src_mac, Ipv4Addr src, Ipv4Addr dst, std::uint8_t proto,
                 std::uint16_t payload) {
  Frame f(wire::kEthHeaderLen + wire::kIpv4HeaderMin + payload);
  wire::write_ethernet(f.data(), dst_mac, src_mac, wire::kEtherTypeIpv4);
  wire::write_ipv4(f.data() + wire::kEthHeaderLen, src, dst, proto, payload, 0x1234);
  for (std::size_t i = wire::kEthHeaderLen + wire::kIpv4HeaderMin; i < f.size(); ++i) {
    f[i] = static_cast<std::uint8_t>(i);
  }
  return f;
}

Frame arp_request(MacAddr src_mac, Ipv4Addr spa, Ipv4Addr tpa) {
  Frame f(60, 0);  // padded to the minimum frame, as a NIC sends it
  wire::write_ethernet(f.data(), MacAddr::broadcast(), src_mac, wire::kEtherTypeArp);
  wire::write_arp(f.data() + wire::kEthHeaderLen, wire::kArpRequest, src_mac, spa, MacAddr{}, tpa);
  return f;
}

Frame ipv6_frame(MacAddr src_mac) {
  Frame f(wire::kEthHeaderLen + 40, 0x60);
  wire::write_ethernet(f.data(), MacAddr::broadcast(), src_mac, 0x86dd);
  return f;
}

engine::EngineOptions small_opts(std::uint64_t secret) {
  engine::EngineOptions o = engine::options_from(StackConfig{}, Secret{secret});
  o.max_connections = 64;
  o.buffer_chunks = 1024;
  o.tx_frames = 1024;
  o.arp_cache_size = 16;
  o.max_tw_buckets = 64;
  return o;
}

// --- the client on H1 ------------------------------------------------------

struct Client {
  QueueEngine* eng = nullptr;
  ConnId id{};
  std::vector<std::uint8_t> out;
  std::size_t sent = 0;
  std::vector<std::uint8_t> in;
  bool reading = true;

  void push() {
    while (sent < out.size()) {
      Errc err = Errc::kOk;
      const std::uint32_t n = eng->send(id, std::span<const std::uint8_t>(out).subspan(sent), &err);
      if (n == 0) break;
      sent += n;
    }
  }
  void pull() {
    std::array<std::uint8_t, 8192> buf;
    while (std::uint32_t n = eng->recv(id, buf)) in.insert(in.end(), buf.begin(), buf.begin() + n);
  }
  void on_event(const AppEvent& ev) {
    if (!(ev.conn == id)) return;
    if (reading && (ev.events & (tcp::kEvReadable | tcp::kEvPeerClosed))) pull();
    if (ev.events & (tcp::kEvEstablished | tcp::kEvWritable)) push();
  }
};

// --- the topology ----------------------------------------------------------

class ForwardLink : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!dpdk::test_eal().eal) return;
    Eal& eal = *dpdk::test_eal().eal;
    static int serial = 0;  // a vdev name is taken until its RingPair goes
    const std::string n = std::to_string(++serial);
    std::string err;
    pair1_ = RingPair::create(eal, "h1_" + n, "fa_" + n, 1, 1024, &err);
    ASSERT_TRUE(pair1_) << err;
    pair2_ = RingPair::create(eal, "fb_" + n, "h2_" + n, 1, 1024, &err);
    ASSERT_TRUE(pair2_) << err;
    h1_ = open(pair1_->port_a(), host_config(kMacH1));
    a_ = open(pair1_->port_b(), forwarder_config(kMacA, true));
    b_ = open(pair2_->port_a(), forwarder_config(kMacB, false));
    h2_ = open(pair2_->port_b(), host_config(kMacH2));
    ASSERT_TRUE(h1_ && a_ && b_ && h2_);
    engine::Interface ifc = a_->interface();
    ifc.add_addr(kIpFwd);
    fwd_ = std::make_unique<Forwarder>(*a_, *b_, ifc, small_opts(0xf0f0), 32);
    ASSERT_EQ(fwd_->listen(kEchoPort), Errc::kOk);
    pool_ = rte_pktmbuf_pool_create(("fwdt_" + n).c_str(), 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                    static_cast<int>(rte_socket_id()));
    ASSERT_NE(pool_, nullptr);
  }

  void TearDown() override {
    // Mbufs in flight belong to any of four pools: free them while all live.
    if (pair1_) pair1_->drain();
    if (pair2_) pair2_->drain();
    client_.reset();
    fwd_.reset();
    h1_.reset();
    a_.reset();
    b_.reset();
    h2_.reset();
    pair1_.reset();
    pair2_.reset();
    if (pool_ != nullptr) rte_mempool_free(pool_);
  }

  static dpdk::PortConfig host_config(MacAddr mac) {
    dpdk::PortConfig c;
    c.mac = mac;
    return c;
  }
  // As twstack-forward opens its ports (main.cc port_config).
  static dpdk::PortConfig forwarder_config(MacAddr mac, bool is_a) {
    dpdk::PortConfig c;
    c.mac = mac;
    c.promiscuous = true;
    c.tx_fast_free = !is_a;
    c.extra_mbufs = c.tx_desc + 2u * c.burst;
    return c;
  }
  std::unique_ptr<DpdkPort> open(const std::string& name, const dpdk::PortConfig& cfg) {
    std::string err;
    auto p = DpdkPort::open(*dpdk::test_eal().eal, name, cfg, &err);
    EXPECT_TRUE(p) << err;
    return p;
  }

  void start_client() {
    engine::Interface ifc = h1_->interface();
    ifc.add_addr(kIpH1);
    client_ = std::make_unique<QueueEngine>(ifc, small_opts(0xc11e));
    app_.eng = client_.get();
  }

  // Sends raw frames from a host port, each in its own mbuf; returns the mbufs.
  std::vector<const rte_mbuf*> send_raw(const DpdkPort& from, const std::vector<Frame>& frames) {
    std::vector<const rte_mbuf*> sent;
    for (const Frame& f : frames) {
      rte_mbuf* m = rte_pktmbuf_alloc(pool_);
      EXPECT_NE(m, nullptr);
      if (m == nullptr) break;
      char* p = rte_pktmbuf_append(m, static_cast<std::uint16_t>(f.size()));
      std::memcpy(p, f.data(), f.size());
      EXPECT_EQ(rte_eth_tx_burst(from.port_id(), 0, &m, 1), 1);
      sent.push_back(m);
    }
    return sent;
  }

  // Takes what has arrived on a host port (without an engine), as frames.
  struct Received {
    std::vector<Frame> frames;
    std::vector<const rte_mbuf*> mbufs;  // identity only: already freed
  };
  void take_raw(const DpdkPort& at, Received* r) {
    std::array<rte_mbuf*, 32> pkts;
    const std::uint16_t n = rte_eth_rx_burst(at.port_id(), 0, pkts.data(), pkts.size());
    for (std::uint16_t i = 0; i < n; ++i) {
      const std::uint8_t* d = rte_pktmbuf_mtod(pkts[i], const std::uint8_t*);
      r->frames.emplace_back(d, d + pkts[i]->data_len);
      r->mbufs.push_back(pkts[i]);
    }
    if (n != 0) rte_pktmbuf_free_bulk(pkts.data(), n);
  }

  // One turn for everyone: the client on H1 (if any), the forwarder, and
  // whatever reached H2.
  void step(Instant now) {
    if (client_) {
      dpdk::DpdkQueue& q = h1_->queue(0);
      q.rx_burst(*client_, now);
      client_->poll(now);
      client_->drain_events([&](const AppEvent& ev) { app_.on_event(ev); });
      client_->poll(now);
      q.tx_flush(*client_);
    }
    fwd_->poll_once(now);
    take_raw(*h2_, &at_h2_);
  }
  template <class D>
  bool run_until(D&& done, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      step(wall_now());
    }
    return true;
  }

  std::unique_ptr<RingPair> pair1_, pair2_;
  std::unique_ptr<DpdkPort> h1_, a_, b_, h2_;
  std::unique_ptr<Forwarder> fwd_;
  std::unique_ptr<QueueEngine> client_;
  Client app_;
  Received at_h2_;
  rte_mempool* pool_ = nullptr;
};

std::uint64_t of_class(const ForwardStats& s, FrameClass c) { return s.by_class[static_cast<std::size_t>(c)]; }

// (a) ARP, the handshake, the data and both FINs all go to the engine; H2
// sees none of it.
TEST_F(ForwardLink, ClientOnH1IsEchoedByTheForwardersEngineAndClosesCleanly) {
  REQUIRE_EAL();
  start_client();
  constexpr std::size_t kBytes = 200 * 1000;  // several windows' worth
  app_.out = pattern(kBytes, 0xec40);
  client_->poll(wall_now());  // connect() uses the time of the last poll
  ASSERT_EQ(client_->connect(kIpFwd, kEchoPort, &app_.id), Errc::kOk);
  ASSERT_TRUE(run_until([&] { return app_.in.size() >= kBytes; }, std::chrono::milliseconds(5000)))
      << "echoed " << app_.in.size() << " of " << kBytes << " (sent " << app_.sent << ")";
  EXPECT_TRUE(app_.in == app_.out) << "echoed bytes differ";

  ASSERT_EQ(client_->close(app_.id), Errc::kOk);
  QueueEngine& server = fwd_->engine();
  ASSERT_TRUE(run_until(
      [&] { return client_->connections() == 0 && server.connections() == 0 && client_->time_wait().live() == 1; },
      std::chrono::milliseconds(3000)))
      << "client: connections " << client_->connections() << ", TIME_WAIT " << client_->time_wait().live()
      << "; forwarder engine: connections " << server.connections();
  // TIME_WAIT on the client means the echo server's FIN came back after its
  // data; the server, the passive closer, keeps none.
  EXPECT_EQ(server.time_wait().live(), 0u);

  const EchoStats& e = fwd_->echo_stats();
  EXPECT_EQ(e.accepted, 1u);
  EXPECT_EQ(e.closed, 1u);
  EXPECT_EQ(e.failed, 0u);
  EXPECT_EQ(e.bytes, kBytes);
  EXPECT_EQ(server.counters().get(Counter::TcpPassiveOpens), 1u);
  EXPECT_EQ(client_->counters().get(Counter::TcpActiveOpens), 1u);
  EXPECT_EQ(server.counters().get(Counter::TwstackRxNotForUs), 0u);
  EXPECT_EQ(server.counters().get(Counter::TcpInErrs), 0u);

  const ForwardStats& s = fwd_->stats();
  EXPECT_GE(of_class(s, FrameClass::kStackArp), 1u);
  EXPECT_GT(of_class(s, FrameClass::kStackTcp), 0u);
  EXPECT_EQ(s.to_stack, s.rx_a);  // everything H1 sent was the engine's
  EXPECT_EQ(s.stack_dropped, 0u);
  EXPECT_GT(s.from_stack, 0u);
  EXPECT_EQ(s.a_to_b, 0u);
  EXPECT_EQ(s.b_to_a, 0u);
  EXPECT_TRUE(at_h2_.frames.empty()) << at_h2_.frames.size() << " frames leaked to H2";
  std::printf("A: %llu frames in, %llu to the stack, %llu from it; %zu bytes echoed\n",
              static_cast<unsigned long long>(s.rx_a), static_cast<unsigned long long>(s.to_stack),
              static_cast<unsigned long long>(s.from_stack), app_.in.size());
}

// The echo holds no bytes of its own: when the client stops reading, the
// echo's send buffer fills, it stops reading too, and the client's data
// waits in the windows. Once the client reads again, the refused send()
// brings kEvWritable and the echo resumes, losing nothing.
TEST_F(ForwardLink, EchoWaitsForAClientThatStopsReadingAndLosesNothing) {
  REQUIRE_EAL();
  start_client();
  constexpr std::size_t kBytes = 1 << 20;  // far more than the four 64 KiB buffers on the path
  app_.out = pattern(kBytes, 0x5a0);
  app_.reading = false;
  client_->poll(wall_now());
  ASSERT_EQ(client_->connect(kIpFwd, kEchoPort, &app_.id), Errc::kOk);
  // Until nothing moves for 100 ms: every buffer on the path is full.
  std::uint64_t last = 0;
  auto moved_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until(
      [&] {
        const std::uint64_t now_moved = app_.sent + fwd_->echo_stats().bytes;
        if (now_moved != last) {
          last = now_moved;
          moved_at = std::chrono::steady_clock::now();
        }
        return app_.sent > 0 && std::chrono::steady_clock::now() - moved_at > std::chrono::milliseconds(100);
      },
      std::chrono::milliseconds(5000)));
  EXPECT_LT(app_.sent, kBytes);
  EXPECT_LT(fwd_->echo_stats().bytes, app_.sent);  // some of it waits in the echo's receive window
  EXPECT_TRUE(app_.in.empty());

  app_.reading = true;
  app_.pull();  // the readable edge went by while we were not reading
  ASSERT_TRUE(run_until([&] { return app_.in.size() >= kBytes; }, std::chrono::milliseconds(10000)))
      << "echoed " << app_.in.size() << " of " << kBytes << " (sent " << app_.sent << ")";
  EXPECT_TRUE(app_.in == app_.out) << "echoed bytes differ";
  EXPECT_EQ(fwd_->echo_stats().bytes, kBytes);
  EXPECT_GE(fwd_->echo_stats().waits, 1u);
  EXPECT_EQ(fwd_->echo_stats().failed, 0u);
  EXPECT_EQ(fwd_->engine().counters().get(Counter::TwstackBufPoolExhausted), 0u);
}

// (b) Every frame that is not the engine's crosses to H2 as it was sent,
// in the very mbuf H1 sent (passthrough, no copy).
TEST_F(ForwardLink, FramesFromH1NotForTheEngineArriveUnchangedOnH2) {
  REQUIRE_EAL();
  const std::vector<Frame> frames = {
      ipv4_frame(kMacH2, kMacH1, kIpH1, kIpH2, wire::kProtoTcp, 100),   // another host's MAC
      ipv4_frame(kMacA, kMacH1, kIpH1, kIpH2, wire::kProtoTcp, 100),    // our MAC, not our address
      arp_request(kMacH1, kIpH1, kIpH2),                                // who has H2?
      ipv4_frame(kMacA, kMacH1, kIpH1, kIpFwd, kProtoUdp, 64),          // ours, but UDP
      ipv6_frame(kMacH1),
      Frame(10, 0xee),                                                  // a runt: passed on, not eaten
  };
  const std::vector<const rte_mbuf*> sent = send_raw(*h1_, frames);
  ASSERT_TRUE(run_until([&] { return at_h2_.frames.size() >= frames.size(); }, std::chrono::milliseconds(1000)));
  for (int i = 0; i < 3; ++i) step(wall_now());  // and nothing more comes
  ASSERT_EQ(at_h2_.frames.size(), frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(at_h2_.frames[i], frames[i]) << "frame " << i;
    EXPECT_EQ(at_h2_.mbufs[i], sent[i]) << "frame " << i << " was copied";
  }
  const ForwardStats& s = fwd_->stats();
  EXPECT_EQ(s.rx_a, frames.size());
  EXPECT_EQ(s.a_to_b, frames.size());
  EXPECT_EQ(s.to_stack, 0u);
  EXPECT_EQ(of_class(s, FrameClass::kOtherHost), 1u);
  EXPECT_EQ(of_class(s, FrameClass::kNotLocal), 2u);
  EXPECT_EQ(of_class(s, FrameClass::kOtherProtocol), 1u);
  EXPECT_EQ(of_class(s, FrameClass::kOtherEtherType), 1u);
  EXPECT_EQ(of_class(s, FrameClass::kMalformed), 1u);
  // The engine saw none of them, and sent nothing (no ARP answer for H2).
  EXPECT_EQ(fwd_->engine().counters().get(Counter::IpInReceives), 0u);
  EXPECT_EQ(s.from_stack, 0u);
}

// (c) B's side is a plain wire to A: everything from H2 reaches H1, even a
// TCP segment addressed to the engine (which lives on A's side only).
TEST_F(ForwardLink, FramesFromH2ArriveUnchangedOnH1) {
  REQUIRE_EAL();
  const std::vector<Frame> frames = {
      ipv4_frame(kMacH1, kMacH2, kIpH2, kIpH1, wire::kProtoTcp, 300),
      arp_request(kMacH2, kIpH2, kIpH1),
      ipv4_frame(kMacA, kMacH2, kIpH2, kIpFwd, wire::kProtoTcp, 40),
      ipv4_frame(kMacH1, kMacH2, kIpH2, kIpH1, kProtoUdp, 1400),
  };
  const std::vector<const rte_mbuf*> sent = send_raw(*h2_, frames);
  Received at_h1;
  ASSERT_TRUE(run_until(
      [&] {
        take_raw(*h1_, &at_h1);
        return at_h1.frames.size() >= frames.size();
      },
      std::chrono::milliseconds(1000)));
  ASSERT_EQ(at_h1.frames.size(), frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(at_h1.frames[i], frames[i]) << "frame " << i;
    EXPECT_EQ(at_h1.mbufs[i], sent[i]) << "frame " << i << " was copied";
  }
  const ForwardStats& s = fwd_->stats();
  EXPECT_EQ(s.rx_b, frames.size());
  EXPECT_EQ(s.b_to_a, frames.size());
  EXPECT_EQ(s.rx_a, 0u);
  EXPECT_EQ(fwd_->engine().counters().get(Counter::IpInReceives), 0u);
  EXPECT_TRUE(at_h2_.frames.empty());  // nothing echoed back the other way
}

}  // namespace
}  // namespace twstack::forward

int main(int argc, char** argv) { return twstack::dpdk::eal_test_main(argc, argv, "forward_test"); }
