// Blind injection during a long transfer (RFC 5961): an attacker off the
// path who knows the 4-tuple, but not the sequence numbers the two ends are
// at, sends every 10 ms one forged segment to one end or the other, in turn:
//   - a RST inside the receive window but not at RCV.NXT (§3.2: challenge ACK),
//   - a RST outside the window (§3.2: dropped without a word),
//   - a SYN on the established 4-tuple (§4.2: challenge ACK, TCPSYNChallenge),
//   - data outside the window (RFC 9293 §3.10.7.4: dropped, a dup-ACK),
//   - an ACK for data never sent (§5.2: challenge ACK).
// The download completes byte-exact with the connection never reset, and
// each injected segment that calls for a challenge ACK is counted as Linux
// tcp_send_challenge_ack counts it: TCPChallengeACK when one is sent,
// TCPACKSkippedChallenge when the per-connection limit
// (tcp_invalid_ratelimit, 500 ms) holds it back.
#include <gtest/gtest.h>

#include "scenario.hh"

namespace twstack {
namespace {

using namespace scenario;

constexpr std::size_t kBytes = 32 << 20;

struct Injected {
  std::uint64_t rst_in_window = 0, rst_outside = 0, syn = 0, data_outside = 0, forged_ack = 0;
  std::uint64_t challenges() const { return rst_in_window + syn + forged_ack; }
};

// The k-th forged segment to side `to` (connection `id`): a kind in turn,
// its numbers from the receiver's state as a lucky or unlucky guess would be.
std::vector<std::uint8_t> forge(Scenario& sc, int to, ConnId id, std::uint32_t k, Injected* n) {
  const tcp::Tcb* tcb = sc.side(to).tcb(id);
  SegSpec s = sc.from_peer(to, id);  // SEQ = RCV.NXT, ACK = SND.NXT
  const std::uint32_t wnd = tcb->rcv_adv > tcb->rcv_nxt ? static_cast<std::uint32_t>(tcb->rcv_adv - tcb->rcv_nxt) : 0;
  switch (k % 5) {
    case 0:
      if (wnd >= 2) {
        s.seq = tcb->rcv_nxt + 1 + (k * 7919u) % (wnd - 1);
        ++n->rst_in_window;
      } else {
        s.seq = tcb->rcv_nxt + 0x40000000u;
        ++n->rst_outside;
      }
      s.flags = wire::kRst;
      break;
    case 1:
      s.seq = tcb->rcv_nxt - 0x40000000u;
      s.flags = wire::kRst;
      ++n->rst_outside;
      break;
    case 2:
      s.seq = Seq(0x9e3779b9u * k);  // anywhere, in the window or not
      s.flags = wire::kSyn;
      ++n->syn;
      break;
    case 3:
      s.seq = tcb->rcv_nxt + 0x40000000u;
      s.payload = pattern(100, k);
      s.flags = wire::kAck | wire::kPsh;
      ++n->data_outside;
      break;
    default:
      s.ack = tcb->snd_max + 0x40000000u;
      s.flags = wire::kAck;
      ++n->forged_ack;
      break;
  }
  return build_frame(s);
}

TEST(BlindInjection, DownloadStaysByteExactAndInjectedSegmentsAreCountedAsLinuxCountsThem) {
  FaultSpec f;
  f.delay = Duration::millis(5);
  Scenario sc(scenario_opts(), scenario_opts(), f, 1);
  sc.record_events = false;
  const Conn c = sc.establish();
  Transfer t(sc, c, 0, kBytes);  // a download: side 1 (server) to side 0 (client)
  t.start();
  Injected n[2];
  const Instant t0 = sc.now();
  std::uint32_t k = 0;
  while (!t.done() && sc.now() - t0 < Duration::seconds(300)) {
    sc.advance(Duration::millis(10));
    const int to = static_cast<int>(k % 2);
    const ConnId id = to == 0 ? c.client : c.server;
    ASSERT_EQ(sc.side(to).state(id), State::kEstablished) << "side " << to << " after " << k << " injections";
    sc.inject(to, forge(sc, to, id, k / 2, &n[to]));
    ++k;
  }
  ASSERT_TRUE(t.done()) << "the download did not complete: " << t.client.received.size() << " of " << kBytes;
  EXPECT_TRUE(t.client.received == t.server.to_send) << "the downloaded bytes differ";
  EXPECT_EQ(sc.a().state(c.client), State::kEstablished);
  EXPECT_EQ(sc.b().state(c.server), State::kEstablished);
  ASSERT_GE(k, 200u) << "too short a transfer to inject into";
  const double seconds = static_cast<double>((sc.now() - t0).us) / 1e6;
  for (int s = 0; s < 2; ++s) {
    SCOPED_TRACE("side " + std::to_string(s));
    EXPECT_GT(n[s].rst_in_window, 0u);
    EXPECT_EQ(sc.ctr(s, Counter::TcpExtTCPSYNChallenge), n[s].syn);
    const std::uint64_t sent = sc.ctr(s, Counter::TcpExtTCPChallengeACK);
    const std::uint64_t skipped = sc.ctr(s, Counter::TcpExtTCPACKSkippedChallenge);
    EXPECT_EQ(sent + skipped, n[s].challenges())
        << sent << " challenge ACKs sent and " << skipped << " skipped for " << n[s].rst_in_window
        << " in-window RSTs, " << n[s].syn << " SYNs and " << n[s].forged_ack << " forged ACKs";
    // One challenge ACK per tcp_invalid_ratelimit (500 ms) per connection
    // (Linux __tcp_oow_rate_limited): the rest were held back.
    EXPECT_LE(sent, static_cast<std::uint64_t>(seconds / 0.5) + 1);
    EXPECT_GT(skipped, 0u);
    // No segment of the real peer was out of the window on this clean link.
    EXPECT_EQ(sc.ctr(s, Counter::TcpExtTCPACKSkippedSeq), 0u);
    EXPECT_EQ(sc.ctr(s, Counter::TcpEstabResets), 0u);
  }
}

}  // namespace
}  // namespace twstack
