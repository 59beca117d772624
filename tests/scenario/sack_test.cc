// SACK between two stacks over the in-memory link: the option is agreed in
// the handshake, and several losses in one window are recovered by RFC 6675
// recovery in about one round trip, each lost segment resent once, where
// NewReno (net.ipv4.tcp_sack=0) needs a round trip per loss.
#include <gtest/gtest.h>

#include <set>

#include "scenario.hh"

namespace twstack {
namespace {

using namespace scenario;

EngineOptions opts(bool sack) {
  EngineOptions o = scenario_opts();
  o.tcp.sack = sack;
  o.tcp.sndbuf = 131072;
  o.tcp.rcvbuf = 131072;
  return o;
}

struct Result {
  std::uint64_t retrans = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t sack_recoveries = 0;
  Duration took{};
};

// 200 kB from side 0 over a 10 ms link; the first transmission of the 3rd,
// 5th and 7th full segments after the 30th is lost.
Result three_losses_in_a_window(bool sack) {
  FaultSpec f;
  f.delay = Duration::millis(5);
  Scenario sc(opts(sack), opts(sack), f, 1);
  Conn c = sc.establish();
  EXPECT_EQ(sc.a().tcb(c.client)->sack.ok, sack);
  EXPECT_EQ(sc.b().tcb(c.server)->sack.ok, sack);
  std::set<std::uint32_t> seen;
  int data = 0;
  sc.drop = [&](const Seg& s) {
    if (s.from != 0 || s.len == 0 || !seen.insert(s.seq.raw()).second) return false;
    ++data;
    return data == 33 || data == 35 || data == 37;
  };
  Transfer t(sc, c, 200000, 0);
  const Instant t0 = sc.now();
  t.start();
  EXPECT_TRUE(sc.run_until([&] { return t.done(); }, Duration::seconds(30)));
  EXPECT_TRUE(t.server.received == t.client.to_send);
  return Result{sc.ctr(0, Counter::TcpRetransSegs), sc.ctr(0, Counter::TcpExtTCPTimeouts),
                sc.ctr(0, Counter::TcpExtTCPSackRecovery), sc.now() - t0};
}

TEST(Sack, ThreeLossesInAWindowAreResentOnceInOneRecovery) {
  const Result r = three_losses_in_a_window(true);
  EXPECT_EQ(r.retrans, 3u);
  EXPECT_EQ(r.timeouts, 0u);
  EXPECT_EQ(r.sack_recoveries, 1u);
  const Result reno = three_losses_in_a_window(false);
  EXPECT_EQ(reno.sack_recoveries, 0u);
  EXPECT_LT(r.took, reno.took) << "SACK " << r.took.ms() << " ms, NewReno " << reno.took.ms() << " ms";
}

// The receiver's blocks on the wire: the ACKs that follow a loss carry one
// block covering what arrived beyond the hole.
TEST(Sack, ReceiverAcksCarryTheBlockBeyondAHole) {
  FaultSpec f;
  f.delay = Duration::millis(5);
  Scenario sc(opts(true), opts(true), f, 1);
  Conn c = sc.establish();
  int data = 0;
  Seq lost;
  sc.drop = [&](const Seg& s) {
    if (s.from != 0 || s.len == 0) return false;
    if (++data != 5) return false;
    lost = s.seq;
    return true;
  };
  Transfer t(sc, c, 20000, 0);
  t.start();
  ASSERT_TRUE(sc.run_until([&] { return t.done(); }, Duration::seconds(10)));
  bool saw = false;
  for (const Seg& s : sc.trace) {
    if (s.from == 1 && s.opt.sack_count == 1 && s.ack == lost) {
      EXPECT_GT(Seq(s.opt.sack[0].left), lost);
      saw = true;
    }
  }
  EXPECT_TRUE(saw);
}

// RFC 8985 §7: the last segment of a write is lost. A tail loss probe
// resends it and the transfer ends without a timeout (cwnd is kept); with
// tcp_early_retrans=0 the RTO has to fire.
struct TailResult {
  std::uint64_t timeouts = 0;
  std::uint64_t probes = 0;
  Duration took{};
};

TailResult tail_loss(std::uint8_t early_retrans) {
  FaultSpec f;
  f.delay = Duration::millis(5);
  EngineOptions o = opts(true);
  o.tcp.early_retrans = early_retrans;
  Scenario sc(o, o, f, 1);
  Conn c = sc.establish();
  {
    Transfer warm(sc, c, 30000, 0);  // RTT samples first
    warm.start();
    EXPECT_TRUE(sc.run_until([&] { return warm.done(); }, Duration::seconds(10)));
  }
  int data = 0;
  sc.drop = [&](const Seg& s) { return s.from == 0 && s.len > 0 && ++data == 4; };
  Transfer t(sc, c, 4 * 1448, 0);
  const Instant t0 = sc.now();
  t.start();
  EXPECT_TRUE(sc.run_until([&] { return t.done(); }, Duration::seconds(10)));
  EXPECT_TRUE(t.server.received == t.client.to_send);
  return TailResult{sc.ctr(0, Counter::TcpExtTCPTimeouts), sc.ctr(0, Counter::TcpExtTCPLossProbes),
                    sc.now() - t0};
}

TEST(Sack, TailLossIsRepairedByAProbeNotATimeout) {
  const TailResult tlp = tail_loss(3);
  EXPECT_EQ(tlp.timeouts, 0u);
  EXPECT_GE(tlp.probes, 1u);
  const TailResult rto = tail_loss(0);
  EXPECT_EQ(rto.timeouts, 1u);
  EXPECT_EQ(rto.probes, 0u);
  // One segment was in flight: the PTO allows for a delayed ACK and is
  // capped by the RTO, so the probe comes no later than the timeout would.
  EXPECT_LE(tlp.took, rto.took) << "TLP " << tlp.took.ms() << " ms, RTO " << rto.took.ms() << " ms";
}

}  // namespace
}  // namespace twstack
