// Bulk transfer both ways at once: byte-exact over a clean link with no
// retransmission at all, and over a lossy, reordering, duplicating and
// corrupting link for several seeds.
#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "scenario.hh"

namespace twstack {
namespace {

using namespace scenario;

constexpr std::size_t kBytes = 10 * 1000 * 1000;

struct Outcome {
  bool done = false;
  Duration took{};
};

// Moves kBytes each way, then closes both ends and waits until both engines
// are empty again.
Outcome run_transfer(Scenario& sc, Duration limit) {
  sc.record_events = false;
  Conn c = sc.establish();
  Transfer t(sc, c, kBytes, kBytes);
  const Instant t0 = sc.now();
  t.start();
  Outcome o;
  o.done = sc.run_until([&] { return t.done(); }, limit);
  o.took = sc.now() - t0;
  EXPECT_EQ(t.server.received.size(), kBytes);
  EXPECT_EQ(t.client.received.size(), kBytes);
  EXPECT_TRUE(t.server.received == t.client.to_send) << "client -> server bytes differ";
  EXPECT_TRUE(t.client.received == t.server.to_send) << "server -> client bytes differ";
  if (!o.done) return o;
  EXPECT_EQ(sc.a().close(c.client), Errc::kOk);
  EXPECT_EQ(sc.b().close(c.server), Errc::kOk);
  // Lossy links can eat FINs and last ACKs: allow for retransmissions and
  // both TIME-WAITs (timewait_len_us is short in these options).
  EXPECT_TRUE(sc.run_until([&] { return sc.a().connections() + sc.b().connections() == 0; },
                           Duration::seconds(120)))
      << "connections left: " << sc.a().connections() << " + " << sc.b().connections();
  EXPECT_EQ(sc.a().free_buffer_chunks(), scenario_opts().buffer_chunks) << "buffer chunks leaked";
  EXPECT_EQ(sc.b().free_buffer_chunks(), scenario_opts().buffer_chunks) << "buffer chunks leaked";
  return o;
}

EngineOptions transfer_opts() {
  EngineOptions o = scenario_opts();
  o.tcp.timewait_len = Duration::seconds(2);
  return o;
}

TEST(Transfer, CleanLinkBothWaysWithoutRetransmission) {
  FaultSpec f;
  f.delay = Duration::millis(5);
  Scenario sc(transfer_opts(), transfer_opts(), f, 1);
  Outcome o = run_transfer(sc, Duration::seconds(120));
  ASSERT_TRUE(o.done);
  for (int s = 0; s < 2; ++s) {
    EXPECT_EQ(sc.ctr(s, Counter::TcpRetransSegs), 0u) << "side " << s;
    EXPECT_EQ(sc.ctr(s, Counter::TcpExtTCPTimeouts), 0u) << "side " << s;
    EXPECT_EQ(sc.ctr(s, Counter::TcpExtTCPRenoRecovery), 0u) << "side " << s;
    EXPECT_EQ(sc.ctr(s, Counter::TcpInErrs), 0u) << "side " << s;
    EXPECT_EQ(sc.ctr(s, Counter::TcpExtTCPOFOQueue), 0u) << "side " << s;
    // Nearly every data segment is full-sized (no silly-window trickle):
    // a short one only when the pipe drains and Nagle lets the tail go.
    EXPECT_LE(sc.ctr(s, Counter::TcpExtTCPOrigDataSent), kBytes / 1448 * 101 / 100) << "side " << s;
  }
  // A 64 KiB window over a 10 ms round trip moves ~6.5 MB/s each way: well
  // under 5 s of virtual time for 10 MB unless the window or cwnd is stuck.
  EXPECT_LT(o.took, Duration::seconds(5)) << "took " << o.took.secs() << " s of virtual time";
}

EngineOptions big_buffers() {
  EngineOptions o = transfer_opts();
  o.tcp.sndbuf = 131072;
  o.tcp.rcvbuf = 131072;
  return o;
}

// RFC 5681 §4.2 (RFC 1122 §4.2.3.2): "an ACK SHOULD be generated for at
// least every second full-sized segment". Every segment of a flight arrives
// in one receive burst here, as on a poll-mode NIC queue.
TEST(Transfer, ReceiverAcksAtLeastEverySecondFullSegment) {
  FaultSpec f;
  f.delay = Duration::millis(10);
  Scenario sc(big_buffers(), big_buffers(), f, 1);
  Conn c = sc.establish();
  Transfer t(sc, c, 400000, 0);
  t.start();
  ASSERT_TRUE(sc.run_until([&] { return t.done(); }, Duration::seconds(30)));
  EXPECT_TRUE(t.server.received == t.client.to_send);
  std::size_t full = 0;
  std::size_t acks = 0;
  for (const Seg& s : sc.trace) {
    if (s.from == 0 && s.len == 1448) ++full;
    // ACKs that move the left edge (window-only updates do not count).
    if (s.from == 1 && s.pure_ack()) ++acks;
  }
  std::set<std::uint32_t> acked;
  for (const Seg& s : sc.trace) {
    if (s.from == 1 && s.pure_ack()) acked.insert(s.ack.raw());
  }
  EXPECT_GE(acked.size(), full / 2) << full << " full segments drew " << acked.size() << " distinct ACKs ("
                                    << acks << " ACK segments)";
}

// Slow start (RFC 5681 §3.1) from the initial window of 10 segments should
// grow cwnd by about half of it per round trip even with delayed ACKs; four
// round trips in it must at least have doubled.
TEST(Transfer, SlowStartAtLeastDoublesWithinFourRoundTrips) {
  FaultSpec f;
  f.delay = Duration::millis(10);
  Scenario sc(big_buffers(), big_buffers(), f, 1);
  Conn c = sc.establish();
  const tcp::Tcb* ct = sc.a().tcb(c.client);
  const std::uint32_t iw = ct->cwnd;
  EXPECT_EQ(iw, 10u * 1448);
  Transfer t(sc, c, 4000000, 0);
  t.start();
  const Instant t0 = sc.now();
  sc.advance(Duration::millis(4 * 20 + 5));
  EXPECT_EQ(sc.ctr(0, Counter::TcpRetransSegs), 0u);
  EXPECT_EQ(ct->ssthresh, 0xffffffffu) << "still in slow start";
  EXPECT_GE(ct->cwnd, 2 * iw) << "cwnd " << ct->cwnd << " after " << (sc.now() - t0).ms()
                              << " ms (4 RTTs) of slow start from " << iw;
}

// Sequence numbers wrap past 2^32 mid-transfer (RFC 9293 §3.4): pick an
// engine secret whose ISS lies just below the wrap.
TEST(Transfer, SequenceNumbersWrapAround) {
  std::uint64_t secret = 0;
  for (std::uint64_t k = 1; k < 100000 && secret == 0; ++k) {
    EngineOptions o = scenario_opts();
    o.secret = Secret{k};
    o.max_connections = 2;
    o.buffer_chunks = 8;
    o.tx_frames = 8;
    o.ports.max_destinations = 1;  // thousands of engines: keep each one small
    QueueEngine e(memory::sim_interface(0), o);
    e.poll(SimPair::kStart);
    ConnId id;
    if (e.connect(memory::sim_addr(1), 80, &id) != Errc::kOk) continue;
    const std::uint32_t to_wrap = 0u - e.tcb(id)->iss.raw();
    if (to_wrap > 200000 && to_wrap < 1000000) secret = k;
  }
  ASSERT_NE(secret, 0u);
  EngineOptions oa = transfer_opts();
  oa.secret = Secret{secret};
  FaultSpec f;
  f.loss = 0.02;
  f.reorder = 0.02;
  f.delay = Duration::millis(1);
  Scenario sc(oa, transfer_opts(), f, 5);
  Conn c = sc.establish();
  const Seq iss = sc.a().tcb(c.client)->iss;
  ASSERT_GT(iss.raw(), 0xfff00000u) << "the ISS is not near the wrap";
  Transfer t(sc, c, 3000000, 100000);
  t.start();
  ASSERT_TRUE(sc.run_until([&] { return t.done(); }, Duration::seconds(300)));
  EXPECT_LT(sc.a().tcb(c.client)->snd_una.raw(), iss.raw()) << "the transfer did not cross the wrap";
  EXPECT_TRUE(t.server.received == t.client.to_send);
  EXPECT_TRUE(t.client.received == t.server.to_send);
  EXPECT_GT(sc.ctr(0, Counter::TcpRetransSegs), 0u);
}

class LossyTransfer : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(LossyTransfer, TenMegabytesEachWayArriveExact) {
  FaultSpec f;
  f.loss = 0.02;
  f.reorder = 0.01;
  f.dup = 0.01;
  f.corrupt = 0.001;
  f.delay = Duration::millis(1);
  Scenario sc(transfer_opts(), transfer_opts(), f, GetParam());
  const auto wall0 = std::chrono::steady_clock::now();
  Outcome o = run_transfer(sc, Duration::seconds(900));
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  ASSERT_TRUE(o.done) << "not done after " << o.took.secs() << " s of virtual time";
  for (int s = 0; s < 2; ++s) {
    EXPECT_GT(sc.ctr(s, Counter::TcpRetransSegs), 0u) << "side " << s;
    EXPECT_GT(sc.pair().link().stats(s).lost, 0u);
  }
  const std::uint64_t corrupted = sc.pair().link().stats(0).corrupted + sc.pair().link().stats(1).corrupted;
  const std::uint64_t caught = sc.ctr(0, Counter::TcpInCsumErrors) + sc.ctr(1, Counter::TcpInCsumErrors) +
                               sc.ctr(0, Counter::IpInHdrErrors) + sc.ctr(1, Counter::IpInHdrErrors);
  EXPECT_GT(corrupted, 0u);
  EXPECT_GT(caught, 0u) << "corrupted frames were not dropped by a checksum";
  RecordProperty("virtual_seconds", std::to_string(o.took.secs()));
  std::printf("seed %llu: %.1f s virtual, %.2f s wall, retrans %llu/%llu, timeouts %llu/%llu, corrupted %llu caught %llu\n",
              static_cast<unsigned long long>(GetParam()), o.took.secs(), wall,
              static_cast<unsigned long long>(sc.ctr(0, Counter::TcpRetransSegs)),
              static_cast<unsigned long long>(sc.ctr(1, Counter::TcpRetransSegs)),
              static_cast<unsigned long long>(sc.ctr(0, Counter::TcpExtTCPTimeouts)),
              static_cast<unsigned long long>(sc.ctr(1, Counter::TcpExtTCPTimeouts)),
              static_cast<unsigned long long>(corrupted), static_cast<unsigned long long>(caught));
}

INSTANTIATE_TEST_SUITE_P(Seeds, LossyTransfer, ::testing::Values(1u, 2u, 3u));

}  // namespace
}  // namespace twstack
