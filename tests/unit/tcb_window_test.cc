// Flow control on one connection (RFC 9293 §3.8.6, RFC 7323 §2) without an
// engine. As the sender: a zero window is probed with backoff (§3.8.6.1),
// answered probes never time the connection out, the persist timer sends
// into a window smaller than an MSS (§3.8.6.2.1), and a scaled window lets
// more than 64 KiB fly. As the receiver: the window closes, probes are
// answered with it, a read reopens it at once, and its right edge never
// moves left. The test plays the peer, the path and the application.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

using tcp::State;
constexpr Seq kNext = LoneTcb::kIrs + 1;  // RCV.NXT after the handshake
constexpr std::uint32_t kMss = 1460;      // no timestamps: the whole MSS
// Twelve full segments, so a receiver that does not read ends with exactly
// a zero window.
constexpr std::uint32_t kRcvbuf = 12 * kMss;

tcp::TcpParams params() {
  tcp::TcpParams p(StackConfig{});
  p.timestamps = 0;
  return p;
}

// As the sender: ESTABLISHED, `bytes` written, the initial window sent, and
// the peer, whose application stopped reading, acknowledging all of it with
// a zero window 10 ms later. Returns when that ACK arrived.
Instant stall(LoneTcb& c, std::size_t bytes) {
  c.in_state(State::kEstablished);
  const std::vector<std::uint8_t> data(bytes, 0x77);
  c.send(data);
  EXPECT_EQ(c.sent().size(), 10u);
  c.advance(Duration::millis(10));
  c.set_peer_window(0);
  c.receive(kNext, {}, wire::kAck);
  EXPECT_EQ(c.tcb.snd_wnd, 0u);
  EXPECT_EQ(c.tcb.snd_una, c.tcb.snd_max);
  EXPECT_LT(c.tcb.snd_nxt, c.tcb.snd_data_end()) << "nothing left to send";
  EXPECT_TRUE(c.sent().empty()) << "sent into a zero window";
  return c.now();
}

// A zero-window probe in Linux's form (tcp_xmit_probe_skb): a bare ACK
// with the already acknowledged SEQ = SND.UNA - 1, which forces an answer.
void expect_probe(const std::vector<SentSegment>& out, Seq una) {
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, wire::kAck);
  EXPECT_EQ(out[0].seq, una - 1);
  EXPECT_EQ(out[0].ack, kNext);
  EXPECT_TRUE(out[0].payload.empty());
}

// The peer's window reopens: new data goes out at once, from SND.NXT.
void expect_data_resumes(LoneTcb& c, Seq from) {
  c.set_peer_window(65535);
  c.receive(kNext, {}, wire::kAck);
  auto out = c.sent();
  ASSERT_FALSE(out.empty()) << "no data after the window opened";
  Seq next = from;
  for (const SentSegment& s : out) {
    EXPECT_EQ(s.seq, next);
    EXPECT_GT(s.payload.size(), 0u);
    EXPECT_LE(s.payload.size(), kMss);
    next = next + static_cast<std::uint32_t>(s.payload.size());
  }
  EXPECT_EQ(out[0].payload.size(), kMss);
}

// RFC 9293 §3.8.6.1: the first probe one RTO after the window closed, then
// exponentially further apart; never data into the zero window; probing is
// not retransmission. A window update reopens it.
TEST(TcbWindow, ZeroWindowIsProbedWithBackoffAndReopenedByUpdate) {
  LoneTcb c(params());
  const Instant closed_at = stall(c, 200000);
  const Seq una = c.tcb.snd_una;
  // Samples of 0 (the handshake) and 10 ms: RTO = SRTT + 200 ms (rtt.hh).
  ASSERT_GE(c.tcb.rto_us, 200000);
  ASSERT_LE(c.tcb.rto_us, 210000);
  Instant last = closed_at;
  std::int64_t interval = c.tcb.rto_us;
  for (int i = 0; i < 6; ++i) {
    SCOPED_TRACE(i);
    const Instant at = c.fire_due(tcp::kTimerRetransmit);
    EXPECT_EQ((at - last).us, interval);
    expect_probe(c.sent(), una);
    c.receive(kNext, {}, wire::kAck);  // the answer: still a zero window
    EXPECT_TRUE(c.sent().empty());
    last = at;
    interval *= 2;
  }
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPWinProbe), 6u);
  EXPECT_EQ(c.tcb.state, State::kEstablished);
  expect_data_resumes(c, una);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPTimeouts), 0u) << "probing is not retransmission";
  EXPECT_EQ(c.counters().get(Counter::TcpRetransSegs), 0u);
}

// As the receiver: the window closes, probes get the zero window back (as
// every out-of-window segment, at most one ACK per tcp_invalid_ratelimit),
// and the application's read sends a window update at once, opening it by
// at least an MSS (RFC 9293 §3.8.6.2.2).
TEST(TcbWindow, ReceiverAnswersProbesAndUpdatesTheWindowOnRead) {
  tcp::TcpParams p = params();
  p.rcvbuf = kRcvbuf;
  LoneTcb c(p);
  c.in_state(State::kEstablished);
  c.leave_quickack();
  const std::vector<std::uint8_t> data(kMss, 0x42);
  for (std::uint32_t i = 0; i < 12; ++i) c.receive(kNext + i * kMss, data);
  auto acks = c.sent();
  ASSERT_EQ(acks.size(), 6u) << "an ACK for every second full segment";
  EXPECT_EQ(acks.back().ack, kNext + kRcvbuf);
  EXPECT_EQ(acks.back().window, 0);
  EXPECT_EQ(c.tcb.rcv.size(), kRcvbuf) << "the receive buffer is full";
  const Seq rcv_nxt = c.tcb.rcv_nxt;
  auto expect_zero_window_ack = [&](const std::vector<SentSegment>& out) {
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].flags, wire::kAck);
    EXPECT_EQ(out[0].seq, c.tcb.snd_max);
    EXPECT_EQ(out[0].ack, rcv_nxt);
    EXPECT_EQ(out[0].window, 0);
  };
  // Probes 200, 400 and 800 ms apart, as a backing-off sender sends them.
  c.advance(Duration::millis(200));
  c.receive(rcv_nxt - 1, {}, wire::kAck);
  expect_zero_window_ack(c.sent());
  c.advance(Duration::millis(400));
  c.receive(rcv_nxt - 1, {}, wire::kAck);
  EXPECT_TRUE(c.sent().empty()) << "within tcp_invalid_ratelimit of the last answer";
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPACKSkippedSeq), 1u);
  c.advance(Duration::millis(800));
  c.receive(rcv_nxt - 1, {}, wire::kAck);
  expect_zero_window_ack(c.sent());
  // The application reads: a window update goes out at once.
  std::vector<std::uint8_t> buf(kRcvbuf);
  ASSERT_EQ(c.recv(buf), kRcvbuf);
  auto update = c.sent();
  ASSERT_EQ(update.size(), 1u) << "no window update after the read";
  EXPECT_EQ(update[0].flags, wire::kAck);
  EXPECT_EQ(update[0].ack, rcv_nxt);
  EXPECT_GE(std::uint32_t{update[0].window} << c.tcb.rcv_wscale, kMss)
      << "RFC 9293 §3.8.6.2.2: open by at least an MSS";
  EXPECT_EQ(std::uint32_t{update[0].window} << c.tcb.rcv_wscale, kRcvbuf);
}

// RFC 9293 §3.8.6.2.2 / RFC 7323 §2.4: the receiver never moves the right
// edge of its window to the left. The peer sends whatever window it was
// last told of; the application reads in small bites, so the window opens
// and closes many times.
TEST(TcbWindow, RightEdgeNeverMovesLeft) {
  tcp::TcpParams p = params();
  p.rcvbuf = kRcvbuf;
  LoneTcb c(p);
  c.in_state(State::kEstablished);
  const std::uint8_t shift = c.tcb.rcv_wscale;
  Seq edge = c.tcb.rcv_adv;  // as the SYN-ACK promised
  std::size_t acks = 0;
  std::size_t zero_windows = 0;
  auto check = [&](const std::vector<SentSegment>& out) {
    for (const SentSegment& s : out) {
      const Seq e = s.ack + (std::uint32_t{s.window} << shift);
      EXPECT_GE(e, edge) << "window shrank: ack " << s.ack.raw() << " window " << s.window;
      edge = seq_max(edge, e);
      ++acks;
      zero_windows += s.window == 0 ? 1 : 0;
    }
  };
  const std::vector<std::uint8_t> data(kMss, 0x42);
  Seq peer_nxt = kNext;
  std::size_t read = 0;
  std::uint8_t buf[700];
  for (int round = 0; round < 200; ++round) {
    while (peer_nxt < edge) {
      const auto len = std::min<std::uint32_t>(kMss, static_cast<std::uint32_t>(edge - peer_nxt));
      c.receive(peer_nxt, std::span(data).first(len));
      peer_nxt = peer_nxt + len;
      check(c.sent());
    }
    read += c.recv(buf);
    check(c.sent());
    c.advance(Duration::millis(20));
    if (c.tcb.delack_timer.active() && c.due(tcp::kTimerDelack) <= c.now()) {
      c.fire(tcp::kTimerDelack);
      check(c.sent());
    }
  }
  std::vector<std::uint8_t> rest(kRcvbuf);
  read += c.recv(rest);
  check(c.sent());
  EXPECT_EQ(read, static_cast<std::size_t>(peer_nxt - kNext));
  EXPECT_GT(read, 100u * 700) << "the data did not flow";
  EXPECT_GT(zero_windows, 0u) << "the window never closed: the case tests little";
  EXPECT_GT(acks, zero_windows);
}

// RFC 1122 §4.2.2.17: "as long as the receiving TCP continues to send
// acknowledgments in response to the probe segments, the sending TCP MUST
// allow the connection to stay open" (Linux resets icsk_probes_out on
// every ACK in tcp_ack()).
TEST(TcbWindow, AnsweredProbesNeverTimeOutTheConnection) {
  tcp::TcpParams p = params();
  p.retries2 = 4;
  LoneTcb c(p);
  stall(c, 100000);
  const Seq una = c.tcb.snd_una;
  for (int i = 0; i < 10; ++i) {
    SCOPED_TRACE(i);
    c.fire_due(tcp::kTimerRetransmit);
    expect_probe(c.sent(), una);
    c.receive(kNext, {}, wire::kAck);  // answered, with a zero window
    EXPECT_EQ(c.tcb.probes, 0);
  }
  ASSERT_EQ(c.tcb.state, State::kEstablished)
      << "the sender gave up on a live peer with " << errno_name(c.tcb.error);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPAbortOnTimeout), 0u);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPWinProbe), 10u);
  expect_data_resumes(c, una);
}

// The window update that would reopen the window is lost: the next probe's
// answer carries the open window, and sending resumes on it.
TEST(TcbWindow, LostWindowUpdateIsRecoveredByTheNextProbe) {
  LoneTcb c(params());
  stall(c, 100000);
  const Seq una = c.tcb.snd_una;
  for (int i = 0; i < 2; ++i) {
    c.fire_due(tcp::kTimerRetransmit);
    expect_probe(c.sent(), una);
    c.receive(kNext, {}, wire::kAck);
  }
  // The peer's application reads now; its window update does not arrive.
  const Instant read_at = c.now();
  const std::uint64_t probes_before = c.counters().get(Counter::TcpExtTCPWinProbe);
  const Instant at = c.fire_due(tcp::kTimerRetransmit);
  expect_probe(c.sent(), una);
  EXPECT_LT(at - read_at, Duration::seconds(10));
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPWinProbe), probes_before + 1);
  expect_data_resumes(c, una);  // the probe's answer
}

// RFC 9293 §3.8.6.2.1 (and RFC 1122 §4.2.3.4): sender SWS avoidance needs
// "a timeout to force transmission of data, overriding the SWS avoidance
// algorithm" or a usable window smaller than an MSS is never used. Linux
// tcp_write_wakeup() sends min(window, MSS) bytes when the persist timer
// fires on a non-zero window.
TEST(TcbWindow, SmallWindowIsFilledWhenThePersistTimerFires) {
  LoneTcb c(params());
  PeerSyn syn;
  syn.window = 16384;  // the peer's buffer: 11 full segments and 324 bytes
  c.establish(syn);
  const Seq first = c.tcb.snd_nxt;
  const std::vector<std::uint8_t> data(100000, 0x55);
  c.send(data);
  ASSERT_EQ(c.sent().size(), 10u);
  // The peer does not read: each ACK offers what is left of its buffer.
  c.advance(Duration::millis(10));
  c.set_peer_window(16384 - 10 * kMss);
  c.receive(kNext, {}, wire::kAck);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload.size(), kMss);
  c.advance(Duration::millis(10));
  c.set_peer_window(16384 - 11 * kMss);
  c.receive(kNext, {}, wire::kAck);
  EXPECT_TRUE(c.sent().empty()) << "sender SWS avoidance: 324 bytes is no MSS, nor half the window";
  const std::uint64_t orig = c.counters().get(Counter::TcpExtTCPOrigDataSent);
  c.fire_due(tcp::kTimerRetransmit);
  out = c.sent();
  ASSERT_EQ(out.size(), 1u) << "the last 324 bytes of window were never used";
  EXPECT_EQ(out[0].flags, wire::kAck | wire::kPsh);
  EXPECT_EQ(out[0].seq, c.tcb.snd_una);
  EXPECT_EQ(out[0].ack, kNext);
  EXPECT_EQ(out[0].payload.size(), 16384u - 11 * kMss);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPOrigDataSent), orig + 1);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPWinProbe), 0u) << "data, not a zero-length probe";
  c.set_peer_window(0);
  c.receive(kNext, {}, wire::kAck);
  EXPECT_EQ(c.tcb.snd_una - first, 16384) << "the peer's buffer is exactly full";
  EXPECT_EQ(c.tcb.snd_wnd, 0u);
}

// RFC 7323 §2: with the peer's window scale (here 2, a 128 KiB buffer) the
// window it offers lets more than 64 KiB be in flight.
TEST(TcbWindow, ScaledPeerWindowLetsMoreThan64KiBFly) {
  tcp::TcpParams p = params();
  p.sndbuf = 131072;
  LoneTcb c(p);
  PeerSyn syn;
  syn.wscale = 2;
  c.establish(syn);
  ASSERT_TRUE(c.tcb.wscale_ok);
  EXPECT_EQ(c.tcb.snd_wscale, 2);
  c.set_peer_window(32768);  // 131072 bytes
  const std::vector<std::uint8_t> data(131072, 0x42);
  std::uint32_t max_flight = 0;
  for (int round = 0; round < 10 && max_flight <= 65535; ++round) {
    c.send(data);
    auto flight = c.sent();
    c.advance(Duration::millis(20));
    // The peer ACKs every second segment (RFC 5681 §4.2) as they arrive.
    for (std::size_t i = 1; i < flight.size(); i += 2) {
      c.receive_acking(flight[i].seq + static_cast<std::uint32_t>(flight[i].payload.size()), kNext, {});
      max_flight = std::max(max_flight, c.tcb.flight());
    }
  }
  EXPECT_EQ(c.tcb.snd_wnd, 131072u);
  EXPECT_GT(max_flight, 65535u) << "the scaled window never carried more than 64 KiB";
  EXPECT_EQ(c.counters().get(Counter::TcpRetransSegs), 0u);
}

// RFC 7323 §2.2-2.3 and Linux tcp_select_initial_window: the shift covers
// the largest window the socket could offer, max(tcp_rmem[2] = 6 MiB,
// rmem_max = 4 MiB): ilog2(6 MiB) - 15 = 7, offered in the SYN-ACK (whose
// own window is never scaled). Windows after it come from the ring (the
// engine's cap, twstack.rcvbuf, 126 KiB here, under tcp_rmem[1]'s full
// space) and exceed 64 KiB.
TEST(TcbWindow, ScaledReceiveWindowAdvertisesMoreThan64KiB) {
  tcp::TcpParams p = params();
  p.rcvbuf = tcp::kMaxRingBytes;
  p.rmem.def = 540000;  // tcp_full_space 270000: the ring is the limit
  LoneTcb c(p);
  PeerSyn syn;
  syn.wscale = 7;
  const SentSegment synack = c.open(syn);
  EXPECT_TRUE(synack.opt.has_wscale);
  EXPECT_EQ(synack.opt.wscale, 7);
  EXPECT_EQ(synack.window, 65535) << "a SYN's window is never scaled and caps at 65535";
  EXPECT_EQ(c.tcb.rcv_wscale, 7);
  ASSERT_EQ(c.tcb.rcv.capacity(), tcp::kMaxRingBytes);
  c.receive(kNext, {}, wire::kAck);
  c.leave_quickack();
  const std::vector<std::uint8_t> data(kMss, 0x42);
  c.receive(kNext, data);
  c.receive(kNext + kMss, data);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ack, kNext + 2 * kMss);
  EXPECT_EQ(out[0].window, (tcp::kMaxRingBytes - 2 * kMss) >> 7);
  EXPECT_GT(std::uint32_t{out[0].window} << 7, 65535u) << "advertised windows never exceeded 64 KiB";
}

}  // namespace
}  // namespace twstack::test
