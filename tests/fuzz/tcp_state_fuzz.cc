// libFuzzer target, stateful and structure-aware: before the input is read
// the harness (the peer, 10.0.0.2) has built an ESTABLISHED connection
// (peer port 50000), a TIME_WAIT entry (50001: the engine closed first) and
// the listener on port 80. The input is then a list of 10-byte steps, each
// a segment built relative to what the engine expects, or an application
// call, or time passing:
//
//   [0] target: bits 0-1  0 the connection, 1 the TIME_WAIT entry,
//                          2 the listener (peer port 50002 + bits 2-4),
//                          3 an application call (bits 2-4) on the connection
//               bit 5      seq and ack offsets x 65536 (far outside any window)
//   [1] flags   [2-3] seq offset (int16, from the engine's last ACK field)
//   [4-5] ack offset (int16, from the engine's highest sequence sent)
//   [6] window / 256    [7] options: bit 0 timestamps (bits 4-7: TSval age),
//       bit 1 MSS, bit 2 window scale, bit 3 a SACK block
//   [8] payload length / 8    [9] time advance, ms (squared / 4)
//
// So most inputs are in or near the window and reach deep states. After
// every step: the engine's accounting (self_check: buffer chunks free +
// held == total, connection and TIME_WAIT tables consistent, send space in
// order); every segment it sent acknowledges its RCV.NXT and lies within
// what it has sent; the connection's RCV.NXT, SND.UNA and advertised right
// edge never move back. At the end the engine is reset and must hold
// nothing.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "stack/wire/tcp_options.hh"
#include "tests/fuzz/fuzz_engine.hh"

namespace {

using namespace twstack;
using fuzz::kPort;

constexpr std::uint16_t kEstPort = 50000;
constexpr std::uint16_t kTwPort = 50001;
constexpr std::uint16_t kListenBase = 50002;
constexpr std::size_t kPeers = 10;

// The peer's payload bytes (i * 7), built once: a byte loop per segment was a
// third of the target's time under comparison tracing.
constexpr auto kPayload = [] {
  std::array<std::uint8_t, 2048> p{};
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>(i * 7);
  return p;
}();

// What the peer knows of each of its 4-tuples, from the engine's segments.
struct PeerView {
  bool seen = false;
  Seq their_ack;   // the engine's latest ACK field: where the peer's data goes
  Seq their_next;  // the engine's highest seq + len seen
  std::uint32_t ts = 1000;
};

struct Harness {
  explicit Harness(fuzz::ReusedEngine& reused) : r(reused) {}
  fuzz::ReusedEngine& r;
  PeerView peers[kPeers];
  std::optional<engine::ConnId> est;
  std::optional<engine::ConnId> tw_conn;
  std::vector<engine::ConnId> accepted;
  std::uint32_t peer_iss = 7000;

  engine::QueueEngine& e() { return r.e(); }
  PeerView& peer(std::uint16_t port) { return peers[port - kEstPort]; }

  // Sends one segment from the peer and runs the engine; reads what it sent.
  void send(std::uint16_t sport, Seq seq, Seq ack, std::uint8_t flags, std::uint16_t wnd,
            const wire::TcpOptions& o, std::uint32_t len) {
    std::uint8_t seg[wire::kTcpHeaderMin + wire::kTcpOptionsMax + 2048] = {};
    std::uint8_t opts[wire::kTcpOptionsMax];
    const std::size_t on = wire::write_tcp_options(opts, o);
    wire::TcpFields tf{sport, kPort, seq.raw(), ack.raw(), flags, wnd};
    const std::size_t hl = wire::write_tcp_header(seg, tf, std::span<const std::uint8_t>(opts, on));
    std::memcpy(seg + hl, kPayload.data(), len);
    std::vector<std::uint8_t> f = fuzz::wrap_tcp(seg, hl + len);
    const tcp::Tcb* c = est ? e().tcb(*est) : nullptr;
    rcv_nxt_before = c != nullptr ? std::optional<Seq>(c->rcv_nxt) : std::nullopt;
    e().rx(f, r.now);
    pump();
    rcv_nxt_before.reset();
  }
  // RCV.NXT of the established connection before the segment being processed.
  std::optional<Seq> rcv_nxt_before;

  void pump() {
    e().poll(r.now);
    e().drain_events([&](const engine::AppEvent& ev) {
      if (ev.kind != engine::AppEvent::Kind::kAcceptReady) return;
      while (auto id = e().accept(ev.port)) {
        const tcp::Tcb* c = e().tcb(*id);
        if (c != nullptr && c->tuple.rport == kEstPort && !est) {
          est = *id;
        } else if (c != nullptr && c->tuple.rport == kTwPort && !tw_conn) {
          tw_conn = *id;
        } else {
          accepted.push_back(*id);
        }
      }
    });
    e().poll(r.now);
    e().drain_tx([&](std::span<const std::uint8_t> f) { observe(f); });
  }

  // A segment the engine sent: within what it has sent, acknowledging what
  // it has received (checked against the connection when there is one).
  void observe(std::span<const std::uint8_t> f) {
    auto eth = wire::EthernetView::parse(f);
    if (!eth.ok() || eth->ethertype() != wire::kEtherTypeIpv4) return;
    auto ip = wire::Ipv4View::parse(eth->payload());
    FUZZ_CHECK(ip.ok(), "the engine sent a bad IPv4 header");
    if (ip->protocol() != wire::kProtoTcp) return;
    auto th = wire::TcpView::parse(ip->payload(), ip->src(), ip->dst());
    FUZZ_CHECK(th.ok(), "the engine sent a bad TCP segment");
    const std::uint16_t port = th->dst_port();
    if (port < kEstPort || port >= kEstPort + kPeers) return;
    const std::uint32_t seg_len = static_cast<std::uint32_t>(th->payload().size()) +
                                  (th->has(wire::kSyn) ? 1u : 0u) + (th->has(wire::kFin) ? 1u : 0u);
    PeerView& p = peer(port);
    const Seq end = Seq(th->seq()) + seg_len;
    if (!p.seen || p.their_next < end) p.their_next = end;
    if (th->has(wire::kAck)) p.their_ack = Seq(th->ack());
    p.seen = true;
    if (port != kEstPort || !est || th->has(wire::kRst)) return;
    const tcp::Tcb* c = e().tcb(*est);
    if (c == nullptr || c->state == tcp::State::kClosed) return;
    FUZZ_CHECK(end <= c->snd_max, "sent up to %u beyond SND.MAX %u", end.raw(), c->snd_max.raw());
    // An ACK is made when the stack decides to send it: one made while a
    // segment was being processed (a duplicate's D-SACK, say) may leave
    // before that segment's FIN moves RCV.NXT on, as Linux's tcp_send_ack
    // from tcp_data_queue would. So it lies between RCV.NXT before the
    // segment and RCV.NXT now.
    const Seq low = rcv_nxt_before.value_or(c->rcv_nxt);
    FUZZ_CHECK(!th->has(wire::kAck) || (Seq(th->ack()) >= low && Seq(th->ack()) <= c->rcv_nxt),
               "ACK %u outside RCV.NXT %u..%u", th->ack(), low.raw(), c->rcv_nxt.raw());
  }

  wire::TcpOptions syn_options() {
    wire::TcpOptions o{};
    o.has_mss = true;
    o.mss = 1460;
    o.has_wscale = true;
    o.wscale = 7;
    o.sack_permitted = true;
    o.has_timestamps = true;
    o.tsval = 1000;
    return o;
  }

  // Three-way handshake from the peer's port.
  void open(std::uint16_t port) {
    send(port, Seq(peer_iss), Seq(0), wire::kSyn, 65535, syn_options(), 0);
    PeerView& p = peer(port);
    wire::TcpOptions o{};
    o.has_timestamps = true;
    o.tsval = ++p.ts;
    send(port, Seq(peer_iss + 1), p.their_next, wire::kAck, 512, o, 0);
  }

  // 50000 established; 50001 in TIME_WAIT on the engine (it closed first).
  void build() {
    open(kEstPort);
    open(kTwPort);
    FUZZ_CHECK(est && tw_conn, "the handshakes did not complete");
    e().close(*tw_conn);
    pump();
    PeerView& p = peer(kTwPort);
    wire::TcpOptions o{};
    o.has_timestamps = true;
    o.tsval = ++p.ts;
    send(kTwPort, p.their_ack, p.their_next, wire::kAck | wire::kFin, 512, o, 0);
    FUZZ_CHECK(e().time_wait().live() == 1, "no TIME_WAIT entry (%zu)", e().time_wait().live());
  }

  void app_call(std::uint8_t op, std::uint8_t arg) {
    if (!est) return;
    std::uint8_t buf[4096] = {};
    Errc err;
    switch (op) {
      case 0: e().send(*est, std::span<const std::uint8_t>(buf, 1 + arg * 16u), &err); break;
      case 1: e().recv(*est, buf); break;
      case 2: e().shutdown(*est); break;
      case 3: e().close(*est); break;
      case 4: e().abort(*est); break;
      case 5: e().set_nodelay(*est, arg & 1); break;
      case 6:
        for (engine::ConnId id : accepted) e().send(id, std::span<const std::uint8_t>(buf, 1 + arg * 16u), &err);
        break;
      default:
        for (engine::ConnId id : accepted) e().close(id);
        break;
    }
    pump();
  }

  void step(const std::uint8_t* s) {
    const std::uint8_t target = s[0] & 3;
    if (target == 3) {
      app_call((s[0] >> 2) & 7, s[8]);
    } else {
      const std::uint16_t port = target == 0   ? kEstPort
                                 : target == 1 ? kTwPort
                                               : static_cast<std::uint16_t>(kListenBase + ((s[0] >> 2) & 7));
      PeerView& p = peer(port);
      const std::int64_t scale = (s[0] & 0x20) ? 65536 : 1;
      const auto seq_off = static_cast<std::int16_t>(s[2] | (s[3] << 8));
      const auto ack_off = static_cast<std::int16_t>(s[4] | (s[5] << 8));
      const Seq seq_base = p.seen ? p.their_ack : Seq(peer_iss);
      const Seq seq = seq_base + static_cast<std::uint32_t>(seq_off * scale);
      const Seq ack = p.their_next + static_cast<std::uint32_t>(ack_off * scale);
      wire::TcpOptions o{};
      if (s[7] & 1) {
        o.has_timestamps = true;
        p.ts += 1;
        o.tsval = p.ts - (s[7] >> 4) * 1000u;  // an old TSval now and then: PAWS
        o.tsecr = 1;
      }
      if (s[7] & 2) o.has_mss = true, o.mss = static_cast<std::uint16_t>(s[6] * 8);
      if (s[7] & 4) o.has_wscale = true, o.wscale = s[6] & 15;
      if (s[7] & 8) {
        o.sack_count = 1;
        o.sack[0] = {p.their_ack.raw(), (p.their_ack + s[8] * 4u).raw()};
      }
      send(port, seq, ack, s[1], static_cast<std::uint16_t>(s[6] * 256 + 255), o, s[8] * 8u);
    }
    if (s[9] != 0) {
      r.now += Duration::millis(std::int64_t{s[9]} * s[9] / 4);
      pump();
    }
  }
};

// What must never move back while the connection lives.
struct Monotone {
  bool have = false;
  Seq rcv_nxt, snd_una, rcv_adv;
  void check(const tcp::Tcb* c) {
    if (c == nullptr || !tcp::in_state(c->state, tcp::kSynchronized)) return;
    if (have) {
      FUZZ_CHECK(rcv_nxt <= c->rcv_nxt, "RCV.NXT moved back from %u to %u", rcv_nxt.raw(), c->rcv_nxt.raw());
      FUZZ_CHECK(snd_una <= c->snd_una, "SND.UNA moved back from %u to %u", snd_una.raw(), c->snd_una.raw());
      FUZZ_CHECK(rcv_adv <= c->rcv_adv, "the window shrank: right edge %u -> %u", rcv_adv.raw(), c->rcv_adv.raw());
    }
    have = true;
    rcv_nxt = c->rcv_nxt;
    snd_una = c->snd_una;
    rcv_adv = c->rcv_adv;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::ReusedEngine* reused = new fuzz::ReusedEngine();
  reused->reset();
  Harness h(*reused);
  h.build();
  Monotone m;
  constexpr std::size_t kStep = 10;
  for (std::size_t i = 0; i + kStep <= size && i < 64 * kStep; i += kStep) {
    h.step(data + i);
    reused->check();
    m.check(h.est ? h.e().tcb(*h.est) : nullptr);
  }
  return 0;
}
