// One connection driven through the state machine's entry points (tcp.hh)
// with no engine around it: its own counters, timer wheel, buffer pool and
// segment queue, and a peer played by the test with wire::Segment values.
// Segments it sends are read back from the queue tcp/ fills (the engine
// would frame and send them). The state fixtures (in_state()) build the
// connection in any state in one call, in the manner of smoltcp's
// socket_time_wait().
//
// Flushing follows the engine (QueueEngine::touched/flush): after each
// call, output() runs if wants_output() says so. Timers fire only when the
// test calls fire().
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "stack/base/counters.hh"
#include "stack/base/frame_pool.hh"
#include "stack/tcp/segment_queue.hh"
#include "stack/tcp/tcp.hh"
#include "stack/timer/timer_wheel.hh"
#include "stack/wire/tcp.hh"

namespace twstack::test {

// A segment the connection sent, as the peer sees it.
struct SentSegment {
  Seq seq;
  Seq ack;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  std::vector<std::uint8_t> payload;

  bool has(std::uint8_t f) const { return (flags & f) != 0; }
};

class LoneTcb {
 public:
  static constexpr std::uint16_t kLocalPort = 80;
  static constexpr std::uint16_t kPeerPort = 40000;

  explicit LoneTcb(const tcp::TcpParams& p, std::uint32_t buffer_chunks = 256)
      : p_(p),
        pool_(buffer_chunks),
        frames_(256, 2048),
        segs_(frames_, 0),
        env_{p_, ctr_, wheel_, pool_, segs_, SipKey{1, 2}} {
    set_now(Instant{1000000});
  }
  ~LoneTcb() { tcp::release(env_, tcb); }
  LoneTcb(const LoneTcb&) = delete;
  LoneTcb& operator=(const LoneTcb&) = delete;

  tcp::Tcb tcb;

  tcp::Env& env() { return env_; }
  tcp::ChunkPool& pool() { return pool_; }
  const Counters& counters() const { return ctr_; }

  static wire::Ipv4Addr local_addr() { return wire::Ipv4Addr::from_octets(10, 0, 0, 1); }
  static wire::Ipv4Addr peer_addr() { return wire::Ipv4Addr::from_octets(10, 0, 0, 2); }
  static wire::FourTuple tuple() {
    return wire::FourTuple{local_addr(), peer_addr(), kLocalPort, kPeerPort};
  }

  void set_now(Instant now) { env_.now = now; }

  // A passive open from the peer's SYN (ISN `irs`, MSS option `peer_mss`,
  // no window scale or timestamps, so the send MSS is exactly peer_mss):
  // SYN-RECEIVED, the SYN-ACK sent and drained.
  void open(Seq irs, std::uint16_t peer_mss, std::uint16_t peer_window) {
    wire::Segment syn;
    syn.seq = irs;
    syn.flags = wire::kSyn;
    syn.wnd = peer_window;
    syn.opt.has_mss = true;
    syn.opt.mss = peer_mss;
    tcp::open_passive(env_, tcb, tuple(), syn);
    peer_window_ = peer_window;
    sent();
  }
  // open(), then the ACK that completes the handshake: ESTABLISHED.
  void establish(Seq irs, std::uint16_t peer_mss, std::uint16_t peer_window) {
    open(irs, peer_mss, peer_window);
    receive(irs + 1, {}, wire::kAck);
    sent();
  }

  // The state fixture: the connection in `target`, reached from a passive
  // open (peer ISN kIrs, MSS 1460, window 65535) by the segments and calls
  // that lead there in RFC 9293's diagram; what was sent on the way is
  // drained. CLOSING is the simultaneous close: our FIN, then the peer's
  // FIN that does not yet ACK it.
  static constexpr Seq kIrs{5000};
  void in_state(tcp::State target) {
    using tcp::State;
    establish(kIrs, 1460, 65535);
    const Seq fin_seq = kIrs + 1;
    switch (target) {
      case State::kSynReceived:
        ADD_FAILURE() << "use open() for SYN-RECEIVED";
        break;
      case State::kEstablished: break;
      case State::kCloseWait: receive(fin_seq, {}, wire::kAck | wire::kFin); break;
      case State::kLastAck:
        receive(fin_seq, {}, wire::kAck | wire::kFin);
        close();
        break;
      case State::kFinWait1: close(); break;
      case State::kFinWait2:
        close();
        receive(fin_seq, {}, wire::kAck);
        break;
      case State::kClosing:
        close();
        receive_acking(tcb.snd_una, fin_seq, {}, wire::kAck | wire::kFin);
        break;
      case State::kTimeWait:
        close();
        receive(fin_seq, {}, wire::kAck);
        receive(fin_seq, {}, wire::kAck | wire::kFin);
        break;
      default: ADD_FAILURE() << "no fixture for " << tcp::to_string(target); break;
    }
    sent();
    tcb.events = 0;
    EXPECT_EQ(tcb.state, target);
  }
  void close() {
    tcp::user_close(env_, tcb);
    flush();
  }

  // A segment from the peer: `data` at `seq`, acknowledging `ack` (default:
  // all we have sent) and offering the window given at establish().
  void receive(Seq seq, std::span<const std::uint8_t> data, std::uint8_t flags = wire::kAck) {
    receive_acking(tcb.snd_max, seq, data, flags);
  }
  void receive_acking(Seq ack, Seq seq, std::span<const std::uint8_t> data,
                      std::uint8_t flags = wire::kAck) {
    wire::Segment s;
    s.seq = seq;
    s.ack = ack;
    s.flags = flags;
    s.wnd = peer_window_;
    s.data = data.data();
    s.len = static_cast<std::uint32_t>(data.size());
    tcp::input(env_, tcb, s);
    flush();
  }

  // Application calls, each followed by a flush.
  std::uint32_t send(std::span<const std::uint8_t> data) {
    Errc err;
    std::uint32_t n = tcp::user_send(env_, tcb, data, &err);
    flush();
    return n;
  }
  std::uint32_t recv(std::span<std::uint8_t> out) {
    std::uint32_t n = tcp::user_recv(env_, tcb, out);
    flush();
    return n;
  }

  // A timer of the connection fires (as the engine's wheel callback would).
  void fire(std::uint32_t tag) {
    tcp::on_timer(env_, tcb, tag);
    flush();
  }

  void flush() {
    if (tcp::wants_output(tcb)) tcp::output(env_, tcb);
  }

  // TCP segments sent since the last call.
  std::vector<SentSegment> sent() {
    std::vector<SentSegment> v;
    segs_.drain([&](std::uint8_t* tcp, std::uint16_t len, const wire::FourTuple& t) {
      EXPECT_EQ(t, tuple());
      auto th = wire::TcpView::parse({tcp, len}, local_addr(), peer_addr(), false);
      if (th.ok()) {
        SentSegment s;
        s.seq = Seq(th->seq());
        s.ack = Seq(th->ack());
        s.flags = th->flags();
        s.window = th->window();
        s.payload.assign(th->payload().begin(), th->payload().end());
        v.push_back(std::move(s));
      } else {
        ADD_FAILURE() << "tcp/ queued an unparsable segment: " << wire::to_string(th.error());
      }
      frames_.release(tcp);
    });
    return v;
  }

 private:
  tcp::TcpParams p_;
  Counters ctr_;
  timer::TimerWheel wheel_;
  tcp::ChunkPool pool_;
  FramePool frames_;
  tcp::SegmentQueue segs_;
  tcp::Env env_;
  std::uint16_t peer_window_ = 0;
};

}  // namespace twstack::test
