// One connection driven through the state machine's entry points (tcp.hh)
// with no engine around it: its own counters, timer wheel, buffer pool and
// segment queue, and a peer played by the test with wire::Segment values.
// Segments it sends are read back from the queue tcp/ fills (the engine
// would frame and send them). The state fixtures (in_state()) build the
// connection in any state in one call, in the manner of smoltcp's
// socket_time_wait().
//
// Flushing follows the engine (QueueEngine::touched/flush): after each
// call, output() runs if wants_output() says so. Time stands still unless the
// test moves it (set_now, advance), and timers fire only when the test calls
// fire() or fire_due(); due() says when the wheel would have fired one.
//
// The peer's options: its SYN (or SYN-ACK) is a PeerSyn, which may offer
// window scaling and timestamps; once it offered timestamps, every segment
// it sends carries them (RFC 7323 §3.2), TSval and TSecr as the test sets
// them with peer_timestamps().
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "stack/base/counters.hh"
#include "stack/base/frame_pool.hh"
#include "stack/tcp/segment_queue.hh"
#include "stack/tcp/tcp.hh"
#include "stack/timer/timer_wheel.hh"
#include "stack/wire/tcp.hh"
#include "stack/wire/tcp_options.hh"
#include "tests/support/print.hh"

namespace twstack::test {

// A segment the connection sent, as the peer sees it.
struct SentSegment {
  Seq seq;
  Seq ack;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  std::vector<std::uint8_t> payload;
  wire::TcpOptions opt{};

  bool has(std::uint8_t f) const { return (flags & f) != 0; }
};

// The peer's ISN in the fixtures.
inline constexpr Seq kPeerIss{5000};

// What the peer's SYN or SYN-ACK carries. The defaults (MSS 1460, window
// 65535, no window scale, no timestamps) make the send MSS exactly `mss`.
struct PeerSyn {
  Seq irs = kPeerIss;
  std::uint16_t mss = 1460;
  std::uint16_t window = 65535;
  std::optional<std::uint8_t> wscale;  // the window scale option, this shift
  std::optional<std::uint32_t> tsval;  // the timestamps option, this TSval
  bool sack_permitted = false;         // the SACK-permitted option
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
  void advance(Duration d) { env_.now += d; }
  Instant now() const { return env_.now; }

  // A passive open from the peer's SYN: SYN-RECEIVED; returns the SYN-ACK
  // (drained). With timestamps the peer's next segments echo its TSval.
  // `bufs`: the listener's SO_RCVBUF/SO_SNDBUF (tcp/buffers.hh).
  SentSegment open(const PeerSyn& syn, const tcp::SockBufs& bufs = {}) {
    wire::Segment s = syn_segment(syn, wire::kSyn);
    tcp::open_passive(env_, tcb, tuple(), s, std::nullopt, bufs);
    peer_window_ = syn.window;
    auto out = sent();
    EXPECT_EQ(out.size(), 1u) << "open_passive sent " << out.size() << " segments";
    if (out.empty()) return SentSegment{};
    if (tcb.ts_ok) peer_ts_ = Ts{*syn.tsval, out[0].opt.tsval};
    return out[0];
  }
  // (ISN `irs`, MSS option `peer_mss`, window `peer_window`, no other option.)
  void open(Seq irs, std::uint16_t peer_mss, std::uint16_t peer_window) {
    open(PeerSyn{irs, peer_mss, peer_window, std::nullopt, std::nullopt});
  }
  // open(), then the ACK that completes the handshake: ESTABLISHED.
  void establish(const PeerSyn& syn) {
    open(syn);
    receive(syn.irs + 1, {}, wire::kAck);
    sent();
  }
  void establish(Seq irs, std::uint16_t peer_mss, std::uint16_t peer_window) {
    establish(PeerSyn{irs, peer_mss, peer_window, std::nullopt, std::nullopt});
  }

  // An active open (tcp::open_active): SYN-SENT. Returns the SYN it sent.
  SentSegment connect(const tcp::SockBufs& bufs = {}) {
    tcp::open_active(env_, tcb, tuple(), std::nullopt, bufs);
    auto out = sent();
    EXPECT_EQ(out.size(), 1u) << "open_active sent " << out.size() << " segments";
    return out.empty() ? SentSegment{} : out[0];
  }
  // The peer's SYN-ACK for our SYN (SEG.ACK = ISS + 1); flushed, not drained.
  void syn_ack(const PeerSyn& syn) {
    wire::Segment s = syn_segment(syn, wire::kSyn | wire::kAck);
    s.ack = tcb.iss + 1;
    if (syn.tsval) s.opt.tsecr = tcb.ts_syn;  // the peer echoes our SYN's TSval
    peer_window_ = syn.window;
    tcp::input(env_, tcb, s);
    if (tcb.ts_ok) peer_ts_ = Ts{*syn.tsval, tcb.ts_syn};
    flush();
  }
  // The active-open fixture: connect(), then the SYN-ACK: ESTABLISHED, our
  // ACK drained and the events cleared.
  void establish_active(const PeerSyn& syn = {}) {
    connect();
    syn_ack(syn);
    sent();
    tcb.events = 0;
    EXPECT_EQ(tcb.state, tcp::State::kEstablished);
  }

  // The state fixture: the connection in `target`, reached from a passive
  // open (peer ISN kIrs, MSS 1460, window 65535) by the segments and calls
  // that lead there in RFC 9293's diagram; what was sent on the way is
  // drained. CLOSING is the simultaneous close: our FIN, then the peer's
  // FIN that does not yet ACK it.
  static constexpr Seq kIrs = kPeerIss;
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
  // The receive side of a connection that has been taking data for a while:
  // past Linux's quick-ACK mode at connection start (tcp_incr_quickack), so
  // ACKs are delayed (ATO at its minimum) unless two full segments arrive.
  void leave_quickack() {
    tcb.quick = 0;
    tcb.pingpong = false;
    tcb.ato_us = p_.delack.us;
    tcb.lrcvtime_us = env_.now.us;
  }
  void close() {
    tcp::user_close(env_, tcb);
    flush();
  }
  void abort() {
    tcp::user_abort(env_, tcb);
    flush();
  }

  // A segment from the peer: `data` at `seq`, acknowledging `ack` (default:
  // all we have sent) and offering the peer's window (the window field: the
  // SYN's, or set_peer_window()'s).
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
    if (peer_ts_) {
      s.opt.has_timestamps = true;
      s.opt.tsval = peer_ts_->tsval;
      s.opt.tsecr = peer_ts_->tsecr;
    }
    s.opt.sack_count = static_cast<std::uint8_t>(peer_sack_.size());
    std::copy(peer_sack_.begin(), peer_sack_.end(), s.opt.sack.begin());
    tcp::input(env_, tcb, s);
    flush();
  }

  // The window field of the peer's next segments (scaled by snd_wscale).
  void set_peer_window(std::uint16_t field) { peer_window_ = field; }
  // The SACK blocks on the peer's next segments (none: {}).
  void peer_sack(std::vector<wire::SackBlock> blocks) { peer_sack_ = std::move(blocks); }
  // The timestamps option on the peer's next segments.
  void peer_timestamps(std::uint32_t tsval, std::uint32_t tsecr) { peer_ts_ = Ts{tsval, tsecr}; }

  // The window field the connection advertised last (RFC 7323 §2.3: the
  // right edge it promised, less RCV.NXT, shifted by rcv_wscale).
  std::uint16_t window_field() const {
    const std::uint32_t w =
        tcb.rcv_adv > tcb.rcv_nxt ? static_cast<std::uint32_t>(tcb.rcv_adv - tcb.rcv_nxt) : 0;
    return static_cast<std::uint16_t>(std::min<std::uint32_t>(w >> tcb.rcv_wscale, 0xffff));
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

  // A timer of the connection fires, as the engine's wheel callback would:
  // the hook is off the wheel while on_timer() runs.
  void fire(std::uint32_t tag) {
    env_.wheel.cancel(timer(tag));
    tcp::on_timer(env_, tcb, tag);
    flush();
  }
  // When the timer `tag` is due (a failure if it is not armed).
  Instant due(std::uint32_t tag) {
    const timer::TimerHook& h = timer(tag);
    EXPECT_TRUE(h.active()) << "timer " << tag << " is not armed";
    return Instant{static_cast<std::int64_t>(h.expiry()) * tcp::kUsPerTick};
  }
  // Time moves on to when the timer `tag` is due, and it fires; returns then.
  Instant fire_due(std::uint32_t tag) {
    const Instant at = due(tag);
    set_now(at);
    fire(tag);
    return at;
  }
  timer::TimerHook& timer(std::uint32_t tag) {
    switch (tag) {
      case tcp::kTimerRetransmit: return tcb.rtx_timer;
      case tcp::kTimerDelack: return tcb.delack_timer;
      case tcp::kTimerLife: return tcb.life_timer;
      default: ADD_FAILURE() << "no timer with tag " << tag; return tcb.rtx_timer;
    }
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
        EXPECT_EQ(wire::parse_tcp_options(th->options(), &s.opt), wire::ParseError::kOk);
        v.push_back(std::move(s));
      } else {
        ADD_FAILURE() << "tcp/ queued an unparsable segment: " << wire::to_string(th.error());
      }
      frames_.release(tcp);
    });
    return v;
  }

 private:
  struct Ts {
    std::uint32_t tsval;
    std::uint32_t tsecr;
  };
  static wire::Segment syn_segment(const PeerSyn& syn, std::uint8_t flags) {
    wire::Segment s;
    s.seq = syn.irs;
    s.flags = flags;
    s.wnd = syn.window;
    s.opt.has_mss = true;
    s.opt.mss = syn.mss;
    if (syn.wscale) {
      s.opt.has_wscale = true;
      s.opt.wscale = *syn.wscale;
    }
    if (syn.tsval) {
      s.opt.has_timestamps = true;
      s.opt.tsval = *syn.tsval;
    }
    s.opt.sack_permitted = syn.sack_permitted;
    return s;
  }

  tcp::TcpParams p_;
  Counters ctr_;
  timer::TimerWheel wheel_;
  tcp::ChunkPool pool_;
  FramePool frames_;
  tcp::SegmentQueue segs_;
  tcp::Env env_;
  std::uint16_t peer_window_ = 0;
  std::optional<Ts> peer_ts_;
  std::vector<wire::SackBlock> peer_sack_;
};

}  // namespace twstack::test
