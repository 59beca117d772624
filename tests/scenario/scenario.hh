// Scenario harness: two engines over drivers/memory's SimPair in virtual
// time, with what the scenario tests need on top of it:
//
//   - a trace of every TCP segment put on the wire (parsed, timestamped),
//   - a per-segment drop predicate for deterministic losses,
//   - application endpoints that write a byte pattern and read it back,
//   - frames crafted with the stack/wire builders and handed to rx().
//
//   Scenario sc;                        // default options, clean link
//   Conn c = sc.establish();            // listen on side 1, connect from 0
//   sc.drop = [](const Seg& s) { return s.from == 0 && s.has(wire::kFin); };
//   sc.a().close(c.client);
//   sc.advance(Duration::seconds(2));
//
// SimPair has no drop hook; its `tap` runs just before Link::send(), which
// reads FaultSpec::loss for that frame. The tap sets the loss to 1 for a
// frame the predicate drops and restores the configured loss otherwise, so
// a drop costs no random draw and seeded faults stay reproducible.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "drivers/memory/sim.hh"
#include "stack/engine/engine.hh"
#include "stack/engine/options.hh"
#include "stack/wire/four_tuple.hh"
#include "stack/timewait/table.hh"
#include "stack/wire/checksum.hh"
#include "stack/wire/ethernet.hh"
#include "stack/wire/ipv4.hh"
#include "stack/wire/tcp.hh"
#include "stack/wire/tcp_options.hh"
#include "tests/support/print.hh"
#include "tests/support/secret.hh"

namespace twstack::scenario {

using engine::AppEvent;
using engine::ConnId;
using engine::EngineOptions;
using engine::QueueEngine;
using memory::FaultSpec;
using memory::SimPair;
using tcp::State;

inline constexpr std::size_t kEth = wire::kEthHeaderLen;
inline constexpr std::size_t kIp = wire::kIpv4HeaderMin;

// Options sized for tests: small pools, kernel defaults for TCP.
inline EngineOptions scenario_opts() {
  EngineOptions o = engine::options_from(StackConfig{}, test::kTestSecret);
  o.max_connections = 64;
  o.buffer_chunks = 4096;  // 8 MiB of connection buffers
  o.tx_frames = 2048;
  o.arp_cache_size = 16;
  return o;
}

// One TCP segment as it left an engine.
struct Seg {
  int from = 0;
  Instant at{};
  bool dropped = false;
  wire::Ipv4Addr src{};
  wire::Ipv4Addr dst{};
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  Seq seq;
  Seq ack;
  std::uint8_t flags = 0;
  std::uint16_t wnd = 0;
  std::uint32_t len = 0;  // payload bytes
  wire::TcpOptions opt{};

  bool has(std::uint8_t f) const { return (flags & f) != 0; }
  // Exactly these flags, PSH aside.
  bool is(std::uint8_t f) const { return (flags & ~wire::kPsh) == f; }
  bool pure_ack() const { return is(wire::kAck) && len == 0; }
};

// Parses an Ethernet/IPv4/TCP frame (checksums not verified); nullopt for
// anything else.
inline std::optional<Seg> parse_tcp_frame(std::span<const std::uint8_t> f) {
  auto eth = wire::EthernetView::parse(f);
  if (!eth.ok() || eth->ethertype() != wire::kEtherTypeIpv4) return std::nullopt;
  auto ip = wire::Ipv4View::parse(eth->payload(), false);
  if (!ip.ok() || ip->protocol() != wire::kProtoTcp) return std::nullopt;
  auto th = wire::TcpView::parse(ip->payload(), ip->src(), ip->dst(), false);
  if (!th.ok()) return std::nullopt;
  Seg s;
  s.src = ip->src();
  s.dst = ip->dst();
  s.sport = th->src_port();
  s.dport = th->dst_port();
  s.seq = Seq(th->seq());
  s.ack = Seq(th->ack());
  s.flags = th->flags();
  s.wnd = th->window();
  s.len = static_cast<std::uint32_t>(th->payload().size());
  if (wire::parse_tcp_options(th->options(), &s.opt) != wire::ParseError::kOk) return std::nullopt;
  return s;
}

inline std::string describe(const Seg& s) {
  std::string f;
  if (s.has(wire::kSyn)) f += "S";
  if (s.has(wire::kFin)) f += "F";
  if (s.has(wire::kRst)) f += "R";
  if (s.has(wire::kPsh)) f += "P";
  if (s.has(wire::kAck)) f += ".";
  return std::to_string(s.at.us) + "us side" + std::to_string(s.from) + " " + std::to_string(s.sport) +
         ">" + std::to_string(s.dport) + " [" + f + "] seq " + std::to_string(s.seq.raw()) + " ack " +
         std::to_string(s.ack.raw()) + " win " + std::to_string(s.wnd) + " len " + std::to_string(s.len) +
         (s.dropped ? " (dropped)" : "");
}

// A TCP segment to craft: addresses, ports, fields, raw options.
struct SegSpec {
  wire::MacAddr src_mac{};
  wire::MacAddr dst_mac{};
  wire::Ipv4Addr src{};
  wire::Ipv4Addr dst{};
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  Seq seq;
  Seq ack;
  std::uint8_t flags = wire::kAck;
  std::uint16_t wnd = 65535;
  std::vector<std::uint8_t> payload;
  std::vector<std::uint8_t> options;  // raw bytes, a multiple of 4
};

// Ethernet + IPv4 + TCP with valid checksums, padded to 60 bytes.
inline std::vector<std::uint8_t> build_frame(const SegSpec& s) {
  const std::size_t tcp_len = wire::kTcpHeaderMin + s.options.size() + s.payload.size();
  std::vector<std::uint8_t> f(std::max<std::size_t>(60, kEth + kIp + tcp_len), 0);
  wire::write_ethernet(f.data(), s.dst_mac, s.src_mac, wire::kEtherTypeIpv4);
  wire::write_ipv4(f.data() + kEth, s.src, s.dst, wire::kProtoTcp, static_cast<std::uint16_t>(tcp_len), 0x4242);
  std::uint8_t* tcp = f.data() + kEth + kIp;
  wire::TcpFields tf{};
  tf.src_port = s.sport;
  tf.dst_port = s.dport;
  tf.seq = s.seq.raw();
  tf.ack = s.ack.raw();
  tf.flags = s.flags;
  tf.window = s.wnd;
  std::size_t hl = wire::write_tcp_header(tcp, tf, s.options);
  std::copy(s.payload.begin(), s.payload.end(), tcp + hl);
  wire::finish_tcp_checksum(tcp, tcp_len, s.src, s.dst);
  return f;
}

// A timestamp option (RFC 7323 §3) in Linux's layout: NOP, NOP, TS.
inline std::vector<std::uint8_t> ts_option(std::uint32_t tsval, std::uint32_t tsecr) {
  wire::TcpOptions o{};
  o.has_timestamps = true;
  o.tsval = tsval;
  o.tsecr = tsecr;
  std::vector<std::uint8_t> v(wire::tcp_options_size(o));
  wire::write_tcp_options(v.data(), o);
  return v;
}

// Recomputes the IPv4 header checksum after a test edited the header.
inline void refresh_ip_checksum(std::vector<std::uint8_t>& f) {
  f[kEth + 10] = 0;
  f[kEth + 11] = 0;
  std::uint16_t c = wire::checksum_fold(wire::checksum_add(f.data() + kEth, kIp));
  f[kEth + 10] = static_cast<std::uint8_t>(c >> 8);
  f[kEth + 11] = static_cast<std::uint8_t>(c);
}

// A deterministic byte pattern that differs per stream and per position
// (so a misplaced segment is caught, not only a missing one).
inline std::vector<std::uint8_t> pattern(std::size_t n, std::uint32_t salt) {
  std::vector<std::uint8_t> v(n);
  std::uint32_t x = 0x9e3779b9u ^ salt;
  for (std::size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    v[i] = static_cast<std::uint8_t>(x);
  }
  return v;
}

// An application on one connection: writes `to_send` as fast as the send
// buffer takes it, reads everything into `received` (unless paused), and
// remembers the events it saw.
struct Endpoint {
  Endpoint() = default;
  Endpoint(int s, ConnId i) : side(s), id(i) {}

  int side = 0;
  ConnId id{};
  std::vector<std::uint8_t> to_send;
  std::size_t sent = 0;
  bool close_when_sent = false;     // close() once every byte is queued
  bool shutdown_when_sent = false;  // shutdown() once every byte is queued
  bool finished = false;            // the close or shutdown was issued
  bool reading = true;
  std::vector<std::uint8_t> received;
  bool established = false;
  bool peer_closed = false;
  std::optional<Errc> closed;  // kEvClosed arrived, with this error
  Errc send_error = Errc::kOk;

  void push(QueueEngine& e) {
    if (sent < to_send.size()) {
      Errc err = Errc::kOk;
      sent += e.send(id, std::span<const std::uint8_t>(to_send).subspan(sent), &err);
      if (err != Errc::kOk) send_error = err;
    }
    if (sent == to_send.size() && !finished && (close_when_sent || shutdown_when_sent)) {
      finished = true;
      if (close_when_sent) {
        e.close(id);
      } else {
        e.shutdown(id);
      }
    }
  }
  void pull(QueueEngine& e) {
    if (!reading) return;
    std::uint8_t buf[16384];
    while (std::uint32_t n = e.recv(id, buf)) received.insert(received.end(), buf, buf + n);
  }
  void on_event(QueueEngine& e, const AppEvent& ev) {
    if (ev.events & tcp::kEvEstablished) established = true;
    if (ev.events & tcp::kEvReadable) pull(e);
    if (ev.events & tcp::kEvPeerClosed) {
      pull(e);
      peer_closed = true;
    }
    if (ev.events & (tcp::kEvEstablished | tcp::kEvWritable)) push(e);
    if (ev.events & tcp::kEvClosed) closed = ev.error;
  }
  bool got_all(std::size_t n) const { return received.size() >= n; }
};

struct EventRec {
  int side;
  Instant at;
  AppEvent ev;
};

struct Conn {
  ConnId client{};
  ConnId server{};
};

class Scenario {
 public:
  explicit Scenario(const EngineOptions& oa = scenario_opts(), const EngineOptions& ob = scenario_opts(),
                    const FaultSpec& faults = {}, std::uint64_t seed = 1)
      : pair_(memory::sim_interface(0), oa, memory::sim_interface(1), ob, faults, seed),
        base_loss_(faults.loss) {
    pair_.preload_arp();
    pair_.tap = [this](int from, std::span<const std::uint8_t> f, Instant now) { on_tap(from, f, now); };
  }
  Scenario(const Scenario&) = delete;
  Scenario& operator=(const Scenario&) = delete;

  // Engines on other interfaces (loopback addresses, say); the peer's MAC and
  // address are those of side(1 - s).interface().
  Scenario(const engine::Interface& ia, const EngineOptions& oa, const engine::Interface& ib,
           const EngineOptions& ob, const FaultSpec& faults = {}, std::uint64_t seed = 1)
      : pair_(ia, oa, ib, ob, faults, seed), base_loss_(faults.loss) {
    pair_.preload_arp();
    pair_.tap = [this](int from, std::span<const std::uint8_t> f, Instant now) { on_tap(from, f, now); };
  }

  SimPair& pair() { return pair_; }
  QueueEngine& a() { return pair_.a(); }
  QueueEngine& b() { return pair_.b(); }
  QueueEngine& side(int s) { return pair_.side(s); }
  Instant now() const { return pair_.now(); }
  std::uint64_t ctr(int s, Counter c) { return side(s).counters().get(c); }

  // Every TCP segment sent, in order, dropped ones marked.
  std::vector<Seg> trace;
  // Return true to lose this segment on the link.
  std::function<bool(const Seg&)> drop;
  // Every application event, in order.
  std::vector<EventRec> events;
  std::function<void(int side, const AppEvent&)> on_event;
  // Connections accepted on each side (kAcceptReady is answered at once).
  std::vector<ConnId> accepted[2];
  bool record_events = true;

  // Endpoints get the events of their connection until detached.
  void attach(Endpoint& e) { endpoints_.push_back(&e); }
  void detach(Endpoint& e) { std::erase(endpoints_, &e); }

  // One SimPair round at the current instant; whether anything moved.
  bool round() {
    return pair_.round([this](int s, const AppEvent& ev) { handle(s, ev); });
  }
  void settle() {
    pair_.settle([this](int s, const AppEvent& ev) { handle(s, ev); });
  }
  void advance(Duration d) {
    pair_.advance(d, [this](int s, const AppEvent& ev) { handle(s, ev); });
  }
  // Runs until `at` (absolute virtual time).
  void advance_to(Instant at) {
    if (at > now()) advance(at - now());
  }
  bool run_until(const std::function<bool()>& done, Duration limit,
                 Duration max_step = Duration::millis(10)) {
    return pair_.run_until(done, limit, [this](int s, const AppEvent& ev) { handle(s, ev); }, max_step);
  }

  // Listens on side 1 and connects from side 0; both ESTABLISHED and accepted.
  Conn establish(std::uint16_t port = 80) {
    if (std::find(listening_.begin(), listening_.end(), port) == listening_.end()) {
      EXPECT_EQ(b().listen(port, 64), Errc::kOk);
      listening_.push_back(port);
    }
    Conn c;
    EXPECT_EQ(a().connect(memory::sim_addr(1), port, &c.client), Errc::kOk);
    std::size_t before = accepted[1].size();
    bool ok = run_until(
        [&] { return accepted[1].size() > before && a().state(c.client) == State::kEstablished; },
        Duration::seconds(30));
    EXPECT_TRUE(ok) << "handshake did not complete";
    if (accepted[1].size() > before) c.server = accepted[1].back();
    return c;
  }

  // The first application event on (side, id) with any of `bits`.
  std::optional<EventRec> first_event(int s, ConnId id, std::uint8_t bits) const {
    for (const EventRec& r : events) {
      if (r.side == s && r.ev.conn == id && (r.ev.events & bits)) return r;
    }
    return std::nullopt;
  }
  std::optional<Errc> closed_error(int s, ConnId id) const {
    if (auto r = first_event(s, id, tcp::kEvClosed)) return r->ev.error;
    return std::nullopt;
  }

  // A segment as the peer of (side `to`, connection `id`) would send it:
  // addresses and ports from the Tcb, SEQ = RCV.NXT, ACK = SND.NXT.
  SegSpec from_peer(int to, ConnId id) {
    SegSpec s;
    const tcp::Tcb* c = side(to).tcb(id);
    EXPECT_NE(c, nullptr);
    if (c == nullptr) return s;
    s.src_mac = memory::sim_mac(1 - to);
    s.dst_mac = memory::sim_mac(to);
    s.src = c->tuple.raddr;
    s.dst = c->tuple.laddr;
    s.sport = c->tuple.rport;
    s.dport = c->tuple.lport;
    s.seq = c->rcv_nxt;
    s.ack = c->snd_nxt;
    return s;
  }
  // --- TIME_WAIT entries. A connection that enters TIME_WAIT (or an orphan
  // that reaches FIN_WAIT2) hands its 4-tuple to the engine's TIME_WAIT
  // table and closes: take the tuple before that.
  wire::FourTuple tuple_of(int s, ConnId id) {
    const tcp::Tcb* c = side(s).tcb(id);
    EXPECT_NE(c, nullptr);
    return c == nullptr ? wire::FourTuple{} : c->tuple;
  }
  const tw::TimeWaitTable& tw(int s) { return side(s).time_wait(); }
  // The entry for `t` on side `s` (invalid if none).
  tw::Handle tw_entry(int s, const wire::FourTuple& t) { return side(s).time_wait().find(t); }
  // Entry present, in the TIME_WAIT substate (not FIN_WAIT2).
  bool in_time_wait(int s, const wire::FourTuple& t) {
    const tw::Handle h = tw_entry(s, t);
    return h && !tw(s).fin_wait2(h);
  }
  // A segment as the peer of the TIME_WAIT entry for `t` (on side `to`)
  // would send it: SEQ = the entry's rcv_nxt, ACK = its snd_nxt, flags ACK.
  SegSpec to_entry(int to, const wire::FourTuple& t) {
    SegSpec s;
    const tw::Handle h = tw_entry(to, t);
    EXPECT_TRUE(h) << "no TIME_WAIT entry";
    s.src_mac = side(1 - to).interface().mac;
    s.dst_mac = side(to).interface().mac;
    s.src = t.raddr;
    s.dst = t.laddr;
    s.sport = t.rport;
    s.dport = t.lport;
    if (h) {
      s.seq = tw(to).rcv_nxt(h);
      s.ack = tw(to).snd_nxt(h);
    }
    return s;
  }
  // The first local address of side `s`.
  wire::Ipv4Addr addr(int s) { return side(s).interface().addrs[0]; }

  // Hands a frame straight to an engine's rx() at the current instant.
  void inject(int to, std::span<const std::uint8_t> frame) { side(to).rx(frame, now()); }

  // Segments from `from` recorded at or after trace index `since`.
  std::vector<Seg> sent_by(int from, std::size_t since = 0) const {
    std::vector<Seg> out;
    for (std::size_t i = since; i < trace.size(); ++i) {
      if (trace[i].from == from) out.push_back(trace[i]);
    }
    return out;
  }
  std::string dump(std::size_t since = 0) const {
    std::string s;
    for (std::size_t i = since; i < trace.size(); ++i) s += describe(trace[i]) + "\n";
    return s;
  }

 private:
  void on_tap(int from, std::span<const std::uint8_t> f, Instant now) {
    // The link reads `loss` for this frame right after the tap returns.
    auto& faults = const_cast<FaultSpec&>(pair_.link().faults());
    faults.loss = base_loss_;
    std::optional<Seg> s = parse_tcp_frame(f);
    if (!s) return;
    s->from = from;
    s->at = now;
    if (drop && drop(*s)) {
      s->dropped = true;
      faults.loss = 1.0;
    }
    trace.push_back(*s);
  }

  void handle(int s, const AppEvent& ev) {
    if (record_events) events.push_back(EventRec{s, now(), ev});
    if (ev.kind == AppEvent::Kind::kAcceptReady) {
      while (std::optional<ConnId> id = side(s).accept(ev.port)) accepted[s].push_back(*id);
      return;
    }
    for (Endpoint* e : endpoints_) {
      if (e->side == s && e->id == ev.conn) e->on_event(side(s), ev);
    }
    if (on_event) on_event(s, ev);
  }

  SimPair pair_;
  double base_loss_;
  std::vector<Endpoint*> endpoints_;
  std::vector<std::uint16_t> listening_;
};

// Application endpoints on both ends of an established connection, writing
// `n01` bytes from side 0 to 1 and `n10` back.
struct Transfer {
  Scenario& sc;
  Endpoint client;
  Endpoint server;
  Transfer(Scenario& s, const Conn& c, std::size_t n01, std::size_t n10) : sc(s) {
    client.side = 0;
    client.id = c.client;
    client.to_send = pattern(n01, 0x0101);
    server.side = 1;
    server.id = c.server;
    server.to_send = pattern(n10, 0x1010);
    sc.attach(client);
    sc.attach(server);
  }
  ~Transfer() {
    sc.detach(client);
    sc.detach(server);
  }
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  void start() {
    client.push(sc.a());
    server.push(sc.b());
  }
  bool done() const {
    return server.received.size() >= client.to_send.size() && client.received.size() >= server.to_send.size();
  }
};

}  // namespace twstack::scenario
