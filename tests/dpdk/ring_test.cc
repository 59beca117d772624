// Two QueueEngines in one process over a crosswise net_ring pair (RingPair:
// two rte_eth_from_rings ports with their rings swapped), each on its own
// DpdkPort queue, polled in one loop on the real clock. ARP, the handshake,
// a byte-exact transfer each way and the close all cross DPDK.
//
// Needs no hugepages and no NIC (--no-huge, virtual devices). Where the EAL
// cannot start at all, every test is skipped with the EAL's reason and the
// program exits 77, which meson reports as SKIP.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "drivers/dpdk/eal.hh"
#include "tests/dpdk/eal_test_env.hh"
#include "drivers/dpdk/port.hh"
#include "drivers/dpdk/ring_pair.hh"
#include "stack/engine/engine.hh"
#include "stack/engine/options.hh"
#include "tests/support/secret.hh"

namespace twstack::dpdk {
namespace {

using engine::AppEvent;
using engine::ConnId;
using engine::QueueEngine;

// --- one engine per queue, and a tiny application on it -------------------

struct Endpoint {
  QueueEngine* eng = nullptr;
  ConnId id{};
  std::vector<std::uint8_t> out;
  std::size_t sent = 0;
  std::vector<std::uint8_t> in;
  bool peer_closed = false;
  bool closed = false;
  bool close_on_peer_close = false;  // the passive closer

  void push() {
    while (sent < out.size()) {
      Errc err = Errc::kOk;
      std::uint32_t n = eng->send(id, std::span<const std::uint8_t>(out).subspan(sent), &err);
      if (n == 0) break;
      sent += n;
    }
  }
  void pull() {
    std::array<std::uint8_t, 16384> buf;
    while (std::uint32_t n = eng->recv(id, buf)) in.insert(in.end(), buf.begin(), buf.begin() + n);
  }
  void on_event(const AppEvent& ev) {
    if (ev.kind == AppEvent::Kind::kAcceptReady) {
      if (std::optional<ConnId> c = eng->accept(ev.port)) {
        id = *c;
        push();
      }
      return;
    }
    if (!(ev.conn == id)) return;
    if (ev.events & tcp::kEvReadable) pull();
    if (ev.events & tcp::kEvPeerClosed) {
      pull();
      if (!peer_closed && close_on_peer_close) eng->close(id);
      peer_closed = true;
    }
    if (ev.events & (tcp::kEvEstablished | tcp::kEvWritable)) push();
    if (ev.events & tcp::kEvClosed) closed = true;
  }
};

struct QueueSide {
  DpdkQueue* dq = nullptr;
  std::unique_ptr<QueueEngine> eng;
  Endpoint app;

  void step(Instant now) {
    dq->rx_burst(*eng, now);
    eng->poll(now);
    eng->drain_events([&](const AppEvent& ev) { app.on_event(ev); });
    eng->poll(now);
    dq->tx_flush(*eng);
  }
};

constexpr wire::MacAddr kMac[2] = {{{0x02, 0, 0, 0, 0, 1}}, {{0x02, 0, 0, 0, 0, 2}}};
constexpr std::uint16_t kServerPort = 5001;

wire::Ipv4Addr addr(int side, std::uint16_t queue) {
  return wire::Ipv4Addr::from_octets(10, 0, static_cast<std::uint8_t>(queue), static_cast<std::uint8_t>(side + 1));
}

engine::EngineOptions engine_opts() {
  engine::EngineOptions o = engine::options_from(StackConfig{}, test::kTestSecret);
  o.max_connections = 64;
  o.buffer_chunks = 4096;  // 8 MiB of connection buffers
  o.tx_frames = 2048;
  o.arp_cache_size = 16;
  return o;
}

// A RingPair, a DpdkPort on each end, and one engine per queue on each port:
// queue q of side 0 (the client) talks to queue q of side 1 (the server).
class RingLink : public ::testing::Test {
 protected:
  // `lend`: each engine writes its frames straight into its queue's mbufs
  // (PortConfig::engine_tx_frames, EngineOptions::tx_source).
  void open(std::uint16_t queues, bool lend = false) {
    Eal& eal = *test_eal().eal;
    // Unique names per test: a vdev name is taken until RingPair removes it.
    static int serial = 0;
    ++serial;
    std::string err;
    pair_ = RingPair::create(eal, "c" + std::to_string(serial), "s" + std::to_string(serial), queues, 1024, &err);
    ASSERT_TRUE(pair_) << err;
    for (int s = 0; s < 2; ++s) {
      PortConfig cfg;
      cfg.queues = queues;
      cfg.mac = kMac[s];
      if (lend) cfg.engine_tx_frames = engine_opts().tx_frames;
      port_[s] = DpdkPort::open(eal, s == 0 ? pair_->port_a() : pair_->port_b(), cfg, &err);
      ASSERT_TRUE(port_[s]) << err;
      for (std::uint16_t q = 0; q < queues; ++q) {
        engine::Interface ifc = port_[s]->interface();
        ifc.add_addr(addr(s, q));
        engine::EngineOptions o = engine_opts();
        o.ports.rss = port_[s]->steering(q);
        o.secret = Secret{o.secret.value() + static_cast<std::uint64_t>(s * 16 + q)};
        auto qs = std::make_unique<QueueSide>();
        qs->dq = &port_[s]->queue(q);
        o.tx_source = qs->dq->frame_source();
        ASSERT_EQ(static_cast<bool>(o.tx_source), lend);
        qs->eng = std::make_unique<QueueEngine>(ifc, o);
        qs->app.eng = qs->eng.get();
        side_[s].push_back(std::move(qs));
      }
    }
  }

  void TearDown() override {
    // Mbufs still in the rings belong to the sending port's pool: free them
    // while both pools exist.
    if (pair_) pair_->drain();
    for (auto& s : side_) s.clear();
    for (auto& p : port_) p.reset();
    pair_.reset();
  }

  // Polls every engine on the real clock until done() or `limit` of wall time.
  template <class D>
  bool run_until(D&& done, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      const Instant now = wall_now();
      for (auto& s : side_) {
        for (auto& q : s) q->step(now);
      }
    }
    return true;
  }

  // Queue 0 moves a megabyte each way, then the client closes first.
  void transfer_and_close();

  QueueSide& client(std::uint16_t q = 0) { return *side_[0][q]; }
  QueueSide& server(std::uint16_t q = 0) { return *side_[1][q]; }

  // Connects queue q's client to its server, moves `bytes` each way, and
  // closes from the client. Returns false (after failing) if any step stalls.
  void start(std::uint16_t q, std::size_t bytes) {
    QueueSide& c = client(q);
    QueueSide& s = server(q);
    s.app.close_on_peer_close = true;
    s.app.out = pattern(bytes, 0x5e7 + q);
    c.app.out = pattern(bytes, 0xc11 + q);
    ASSERT_EQ(s.eng->listen(kServerPort, 16), Errc::kOk);
    c.eng->poll(wall_now());  // connect() uses the time of the last poll
    ASSERT_EQ(c.eng->connect(addr(1, q), kServerPort, &c.app.id), Errc::kOk);
  }
  bool transferred(std::uint16_t q) {
    return client(q).app.in.size() >= server(q).app.out.size() && server(q).app.in.size() >= client(q).app.out.size();
  }
  // Active close on the client: TIME_WAIT there, none on the server.
  bool closed(std::uint16_t q) {
    return client(q).eng->connections() == 0 && server(q).eng->connections() == 0 &&
           client(q).eng->time_wait().live() == 1;
  }

  void check_clean(std::uint16_t q) {
    for (int s = 0; s < 2; ++s) {
      QueueSide& qs = *side_[s][q];
      const QueueStats& st = qs.dq->stats();
      EXPECT_EQ(st.tx_refused, 0u) << "side " << s << " queue " << q;
      EXPECT_EQ(st.tx_nombuf, 0u) << "side " << s << " queue " << q;
      EXPECT_EQ(st.tx_oversize, 0u) << "side " << s << " queue " << q;
      EXPECT_EQ(st.rx_multiseg, 0u) << "side " << s << " queue " << q;
      EXPECT_EQ(st.rx_bad_checksum, 0u) << "side " << s << " queue " << q;
      // Every poll is counted; one that found frames took at least one.
      EXPECT_GT(st.rx_idle_polls, 0u) << "side " << s << " queue " << q;
      EXPECT_GT(st.rx_polls, st.rx_idle_polls) << "side " << s << " queue " << q;
      EXPECT_LE(st.rx_polls - st.rx_idle_polls, st.rx_packets) << "side " << s << " queue " << q;
      EXPECT_EQ(qs.eng->counters().get(Counter::TcpInCsumErrors), 0u) << "side " << s;
      EXPECT_EQ(qs.eng->counters().get(Counter::TwstackRxNotForUs), 0u) << "side " << s;
      std::printf("side %d queue %u: rx %llu frames %llu bytes, tx %llu frames %llu bytes, "
                  "TcpRetransSegs %llu\n",
                  s, q, static_cast<unsigned long long>(st.rx_packets), static_cast<unsigned long long>(st.rx_bytes),
                  static_cast<unsigned long long>(st.tx_packets), static_cast<unsigned long long>(st.tx_bytes),
                  static_cast<unsigned long long>(qs.eng->counters().get(Counter::TcpRetransSegs)));
    }
  }

  std::unique_ptr<RingPair> pair_;
  std::unique_ptr<DpdkPort> port_[2];
  std::vector<std::unique_ptr<QueueSide>> side_[2];
};

TEST_F(RingLink, PortsReportWhatARingCanDo) {
  REQUIRE_EAL();
  open(1);
  for (int s = 0; s < 2; ++s) {
    EXPECT_EQ(port_[s]->driver(), "net_ring");
    EXPECT_EQ(port_[s]->queues(), 1);
    EXPECT_TRUE(port_[s]->link_up());
    EXPECT_EQ(port_[s]->mac(), kMac[s]);
    // net_ring offers no RSS and no checksum offload: the engine does it all.
    EXPECT_FALSE(port_[s]->rss());
    EXPECT_FALSE(port_[s]->steering(0));
    EXPECT_FALSE(port_[s]->capabilities().rx_checksum_verified);
    EXPECT_FALSE(port_[s]->capabilities().tx_checksum_offload);
    EXPECT_EQ(port_[s]->interface().mac, kMac[s]);
  }
}

void RingLink::transfer_and_close() {
  constexpr std::size_t kBytes = 1 << 20;
  start(0, kBytes);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until([&] { return transferred(0); }, std::chrono::milliseconds(4000)))
      << "client got " << client().app.in.size() << ", server got " << server().app.in.size() << " of " << kBytes;
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_TRUE(server().app.in == client().app.out) << "client -> server bytes differ";
  EXPECT_TRUE(client().app.in == server().app.out) << "server -> client bytes differ";

  ASSERT_EQ(client().eng->close(client().app.id), Errc::kOk);
  ASSERT_TRUE(run_until([&] { return closed(0); }, std::chrono::milliseconds(2000)))
      << "client: connections " << client().eng->connections() << ", TIME_WAIT "
      << client().eng->time_wait().live() << "; server: connections " << server().eng->connections()
      << ", peer closed " << server().app.peer_closed;
  EXPECT_EQ(client().eng->time_wait().live(), 1u);
  EXPECT_EQ(server().eng->time_wait().live(), 0u);
  EXPECT_EQ(client().eng->gauges().timewait, 1u);
  EXPECT_EQ(server().eng->gauges().timewait, 0u);
  EXPECT_EQ(client().eng->gauges().in_use(), 0u);
  EXPECT_EQ(server().eng->gauges().in_use(), 0u);
  EXPECT_EQ(client().eng->counters().get(Counter::TcpActiveOpens), 1u);
  EXPECT_EQ(server().eng->counters().get(Counter::TcpPassiveOpens), 1u);
  check_clean(0);
  std::printf("2 x %zu bytes in %.1f ms\n", kBytes,
              std::chrono::duration<double, std::milli>(t1 - t0).count());
}

TEST_F(RingLink, TransferOneMegabyteEachWayThenTimeWaitOnTheActiveCloser) {
  REQUIRE_EAL();
  open(1);
  transfer_and_close();
}

// The same with frames written into mbufs: every frame leaves in the mbuf
// the engine wrote it in, none is copied, and none is lost or left over.
TEST_F(RingLink, FramesWrittenIntoMbufsCarryTheSameTransfer) {
  REQUIRE_EAL();
  open(1, true);
  for (int s = 0; s < 2; ++s) EXPECT_EQ(side_[s][0]->eng->tx_source().ctx, side_[s][0]->dq);
  transfer_and_close();
  for (int s = 0; s < 2; ++s) {
    EXPECT_EQ(side_[s][0]->eng->free_tx_frames(), engine_opts().tx_frames) << "side " << s;
    EXPECT_EQ(side_[s][0]->eng->counters().get(Counter::TwstackTxPoolExhausted), 0u) << "side " << s;
  }
}

// One engine per queue: queue q of each port is its own wire (the ring pair
// crosses queue q with queue q), and each pair of engines runs its own
// connection, all in one poll loop.
TEST_F(RingLink, TwoQueuesCarryTwoIndependentConnections) {
  REQUIRE_EAL();
  open(2);
  constexpr std::size_t kBytes = 256 * 1024;
  start(0, kBytes);
  start(1, kBytes);
  ASSERT_TRUE(run_until([&] { return transferred(0) && transferred(1); }, std::chrono::milliseconds(4000)));
  for (std::uint16_t q = 0; q < 2; ++q) {
    EXPECT_TRUE(server(q).app.in == client(q).app.out) << "queue " << q;
    EXPECT_TRUE(client(q).app.in == server(q).app.out) << "queue " << q;
    ASSERT_EQ(client(q).eng->close(client(q).app.id), Errc::kOk);
  }
  ASSERT_TRUE(run_until([&] { return closed(0) && closed(1); }, std::chrono::milliseconds(2000)));
  for (std::uint16_t q = 0; q < 2; ++q) {
    EXPECT_EQ(server(q).eng->time_wait().live(), 0u);
    // Each engine saw only its own queue's peer: one ARP entry, one connection.
    EXPECT_EQ(server(q).eng->counters().get(Counter::TcpPassiveOpens), 1u);
    check_clean(q);
  }
}

TEST(DpdkPortOpen, UnknownNameListsThePorts) {
  REQUIRE_EAL();
  std::string err;
  EXPECT_FALSE(DpdkPort::open(*test_eal().eal, "net_ring_nope", PortConfig{}, &err));
  EXPECT_NE(err.find("no DPDK port named 'net_ring_nope'"), std::string::npos) << err;
  EXPECT_NE(err.find("ports: "), std::string::npos) << err;
}

TEST(DpdkPortOpen, TooManyQueuesIsRefused) {
  REQUIRE_EAL();
  std::string err;
  auto pair = RingPair::create(*test_eal().eal, "qa", "qb", 1, 64, &err);
  ASSERT_TRUE(pair) << err;
  PortConfig cfg;
  cfg.queues = 2;
  EXPECT_FALSE(DpdkPort::open(*test_eal().eal, pair->port_a(), cfg, &err));
  EXPECT_NE(err.find("asked for 2 queues"), std::string::npos) << err;
}

TEST(EalOnce, ASecondStartIsRefusedWithAReason) {
  REQUIRE_EAL();
  std::string err;
  EXPECT_TRUE(Eal::running());
  EXPECT_FALSE(Eal::start(EalOptions{}, &err));
  EXPECT_NE(err.find("already running"), std::string::npos) << err;
}

}  // namespace
}  // namespace twstack::dpdk

int main(int argc, char** argv) { return twstack::dpdk::eal_test_main(argc, argv, "ring_test"); }
