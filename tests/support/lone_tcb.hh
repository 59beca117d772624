// One connection driven through the state machine's entry points (tcp.hh)
// with no engine around it: its own counters, timer wheel, buffer pool and
// IP output, and a peer played by the test with tcp::Segment values.
// Segments it sends are read back from the IP output's frames.
//
// Flushing follows the engine (QueueEngine::touched/flush): after each
// call, output() runs if wants_output() says so. Timers fire only when the
// test calls fire().
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "stack/base/counters.hh"
#include "stack/engine/arp_cache.hh"
#include "stack/engine/interface.hh"
#include "stack/engine/ip_output.hh"
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
        ifc_(make_interface()),
        arp_(16),
        pool_(buffer_chunks),
        out_(ifc_, 256, 16, arp_, ctr_),
        env_{p_, ctr_, wheel_, pool_, out_, SipKey{1, 2}} {
    // The peer's MAC is known: frames go straight to the ready queue.
    arp_.update(peer_addr(), wire::MacAddr{{0x02, 0, 0, 0, 0, 2}}, 0);
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
  static flow::FourTuple tuple() {
    return flow::FourTuple{local_addr(), peer_addr(), kLocalPort, kPeerPort};
  }

  void set_now(Instant now) {
    env_.now = now;
    out_.set_now(now);
  }

  // A passive open from the peer's SYN (ISN `irs`, MSS option `peer_mss`,
  // no window scale or timestamps, so the send MSS is exactly peer_mss):
  // SYN-RECEIVED, the SYN-ACK sent and drained.
  void open(Seq irs, std::uint16_t peer_mss, std::uint16_t peer_window) {
    tcp::Segment syn;
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

  // A segment from the peer: `data` at `seq`, acknowledging `ack` (default:
  // all we have sent) and offering the window given at establish().
  void receive(Seq seq, std::span<const std::uint8_t> data, std::uint8_t flags = wire::kAck) {
    receive_acking(tcb.snd_max, seq, data, flags);
  }
  void receive_acking(Seq ack, Seq seq, std::span<const std::uint8_t> data,
                      std::uint8_t flags = wire::kAck) {
    tcp::Segment s;
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

  // TCP segments sent since the last call (other frames are skipped).
  std::vector<SentSegment> sent() {
    std::vector<SentSegment> v;
    out_.drain([&](std::span<const std::uint8_t> f) {
      if (f.size() < engine::kTcpOffset || f[12] != 0x08 || f[13] != 0x00) return;
      auto th = wire::TcpView::parse(f.subspan(engine::kTcpOffset), local_addr(), peer_addr());
      if (!th.ok()) return;
      SentSegment s;
      s.seq = Seq(th->seq());
      s.ack = Seq(th->ack());
      s.flags = th->flags();
      s.window = th->window();
      s.payload.assign(th->payload().begin(), th->payload().end());
      v.push_back(std::move(s));
    });
    return v;
  }

 private:
  static engine::Interface make_interface() {
    engine::Interface ifc;
    ifc.mac = wire::MacAddr{{0x02, 0, 0, 0, 0, 1}};
    ifc.add_addr(local_addr());
    return ifc;
  }

  tcp::TcpParams p_;
  engine::Interface ifc_;
  engine::ArpCache arp_;
  Counters ctr_;
  timer::TimerWheel wheel_;
  tcp::ChunkPool pool_;
  engine::IpOutput out_;
  tcp::Env env_;
  std::uint16_t peer_window_ = 0;
};

}  // namespace twstack::test
