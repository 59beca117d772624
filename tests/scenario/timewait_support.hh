// Shared helpers of the TIME_WAIT scenario tests (timewait_*_test.cc): the
// entry's fields, crafted segments toward an entry, and the usual closes.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <vector>

#include "scenario.hh"

namespace twstack::twtest {

using namespace scenario;

constexpr std::int64_t kLenMs = 7500;  // twstack.tcp_timewait_len: not a default
constexpr Duration kLen = Duration::millis(kLenMs);
constexpr std::uint16_t kPort = 80;

inline EngineOptions tw_opts() {
  EngineOptions o = scenario_opts();
  o.tcp.timewait_len = kLen;
  return o;
}

inline FaultSpec one_ms() {
  FaultSpec f;
  f.delay = Duration::millis(1);
  return f;
}

Instant at_ms(std::int64_t ms) { return Instant{ms * 1000}; }

// The application on `side` closes as soon as its peer's FIN arrives.
inline void close_on_peer_fin(Scenario& sc, int side) {
  sc.on_event = [&sc, side](int s, const AppEvent& ev) {
    if (s == side && (ev.events & tcp::kEvPeerClosed)) sc.side(s).close(ev.conn);
  };
}

// Connects side 0 to the listener on side 1 (from `sport` if not 0) and runs
// until both ends are established.
inline Conn open(Scenario& sc, std::uint16_t sport = 0) {
  Conn c;
  const std::size_t before = sc.accepted[1].size();
  EXPECT_EQ(sc.a().connect(sc.addr(1), kPort, &c.client, sport ? sc.addr(0) : wire::Ipv4Addr{}, sport),
            Errc::kOk);
  EXPECT_TRUE(sc.run_until(
      [&] { return sc.accepted[1].size() > before && sc.a().state(c.client) == State::kEstablished; },
      Duration::seconds(5)));
  if (sc.accepted[1].size() > before) c.server = sc.accepted[1].back();
  return c;
}

// Side `closer` closes connection c first, the other side as soon as the FIN
// arrives; returns when the closer's entry is in TIME_WAIT.
inline wire::FourTuple active_close(Scenario& sc, const Conn& c, int closer = 0) {
  const ConnId id = closer == 0 ? c.client : c.server;
  const wire::FourTuple t = sc.tuple_of(closer, id);
  close_on_peer_fin(sc, 1 - closer);
  EXPECT_EQ(sc.side(closer).close(id), Errc::kOk);
  EXPECT_TRUE(sc.run_until([&] { return sc.in_time_wait(closer, t); }, Duration::seconds(2)));
  sc.settle();
  return t;
}

// The entry's fields at one instant.
struct Snap {
  Seq snd_nxt;
  Seq rcv_nxt;
  std::uint32_t ts_recent = 0;
  bool has_ts = false;
  std::int64_t expiry_ms = 0;
  std::int64_t entry_ms = 0;
  std::uint16_t window = 0;
};

inline Snap snap(Scenario& sc, int s, const wire::FourTuple& t) {
  Snap r;
  const tw::Handle h = sc.tw_entry(s, t);
  EXPECT_TRUE(h);
  if (!h) return r;
  const tw::TimeWaitTable& tt = sc.tw(s);
  r = Snap{tt.snd_nxt(h), tt.rcv_nxt(h), tt.ts_recent(h), tt.has_ts(h), tt.expiry_ms(h), tt.entry_ms(h),
           tt.window(h)};
  return r;
}

inline std::int64_t expiry(Scenario& sc, int s, const wire::FourTuple& t) {
  const tw::Handle h = sc.tw_entry(s, t);
  return h ? sc.tw(s).expiry_ms(h) : -1;
}

// Injects a crafted segment into side `to` and runs the rounds it causes.
// Returns what `to` sent in reply.
inline std::vector<Seg> inject(Scenario& sc, int to, const SegSpec& spec) {
  const std::size_t mark = sc.trace.size();
  sc.inject(to, build_frame(spec));
  sc.settle();
  return sc.sent_by(to, mark);
}

// A segment to side `to` from the remote end of `t` (t as `to` sees it),
// whether or not anything holds the tuple.
inline SegSpec toward(Scenario& sc, int to, const wire::FourTuple& t) {
  SegSpec s;
  s.src_mac = sc.side(1 - to).interface().mac;
  s.dst_mac = sc.side(to).interface().mac;
  s.src = t.raddr;
  s.dst = t.laddr;
  s.sport = t.rport;
  s.dport = t.lport;
  return s;
}

// The TS offset side `from` used on the tuple: TSval - now_ms of the first
// timestamped segment it sent from `lport`.
inline std::optional<std::uint32_t> ts_offset_seen(const Scenario& sc, int from, std::uint16_t lport) {
  for (const Seg& g : sc.trace) {
    if (g.from == from && g.sport == lport && g.opt.has_timestamps) {
      return g.opt.tsval - static_cast<std::uint32_t>(g.at.ms());
    }
  }
  return std::nullopt;
}

// Checks a timewait ACK (tcp_v4_timewait_ack): SEQ = tw_snd_nxt, ACK =
// tw_rcv_nxt, the stored window, TSecr = tw_ts_recent.
inline void expect_tw_ack(const Seg& a, const Snap& e, std::uint32_t tsecr) {
  EXPECT_TRUE(a.pure_ack()) << describe(a);
  EXPECT_EQ(a.seq, e.snd_nxt);
  EXPECT_EQ(a.ack, e.rcv_nxt);
  EXPECT_EQ(a.wnd, e.window);
  EXPECT_TRUE(a.opt.has_timestamps);
  EXPECT_EQ(a.opt.tsecr, tsecr);
}

// One-port client range; the client closes first. Returns the entry.
struct OnePort {
  wire::FourTuple tuple;
  Snap entry;
};

inline OnePort one_port_time_wait(Scenario& sc) {
  EXPECT_EQ(sc.b().listen(kPort, 8), Errc::kOk);
  Conn c = open(sc);
  OnePort r;
  r.tuple = active_close(sc, c);
  r.entry = snap(sc, 0, r.tuple);
  EXPECT_EQ(r.entry.entry_ms, sc.now().ms());
  return r;
}

inline EngineOptions one_port_opts(std::uint8_t tw_reuse) {
  EngineOptions o = tw_opts();
  o.ports.range = PortRange{40000, 40000};
  o.tw_reuse = tw_reuse;
  return o;
}

inline Errc connect_at(Scenario& sc, Instant at, ConnId* id) {
  sc.advance_to(at);
  return sc.a().connect(sc.addr(1), kPort, id);
}

// The successful reuse (§5 "Seeding the new connection"): write_seq =
// tw_snd_nxt + 65537, the SYN echoes the old ts_recent, the entry goes,
// TWRecycled++, and the connection opens.
inline void expect_reused(Scenario& sc, const OnePort& old, ConnId id, std::size_t mark) {
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTWRecycled), 1u);
  EXPECT_FALSE(sc.tw_entry(0, old.tuple));
  ASSERT_NE(sc.a().tcb(id), nullptr);
  EXPECT_EQ(sc.a().tcb(id)->tuple, old.tuple);
  sc.settle();
  std::vector<Seg> v = sc.sent_by(0, mark);
  ASSERT_FALSE(v.empty());
  EXPECT_TRUE(v[0].is(wire::kSyn));
  EXPECT_EQ(v[0].seq, old.entry.snd_nxt + 65537);
  EXPECT_TRUE(v[0].opt.has_timestamps);
  EXPECT_EQ(v[0].opt.tsecr, old.entry.ts_recent);
  // The tuple's TS offset again (§9): TSval continues for the peer's PAWS.
  const std::optional<std::uint32_t> offset = ts_offset_seen(sc, 0, old.tuple.lport);
  ASSERT_TRUE(offset.has_value());
  EXPECT_EQ(v[0].opt.tsval, static_cast<std::uint32_t>(v[0].at.ms()) + *offset);
  EXPECT_TRUE(sc.run_until([&] { return sc.a().state(id) == State::kEstablished; }, Duration::seconds(1)));
}

inline engine::Interface loopback_interface(int side) {
  engine::Interface ifc;
  ifc.mac = memory::sim_mac(side);
  ifc.add_addr(wire::Ipv4Addr::from_octets(127, 0, 0, static_cast<std::uint8_t>(side + 1)));
  ifc.prefix_len = 8;
  return ifc;
}

// A client TIME_WAIT entry whose replies are dropped on the link; the clock
// then moves on 1 s so that a re-arm shows in expiry_ms.
inline wire::FourTuple quiet_client_entry(Scenario& sc) {
  EXPECT_EQ(sc.b().listen(kPort, 8), Errc::kOk);
  Conn c = open(sc);
  const wire::FourTuple t = active_close(sc, c);
  sc.drop = [](const Seg& s) { return s.from == 0; };
  sc.advance(Duration::seconds(1));
  return t;
}

// A server-side TIME_WAIT entry (the server closed first); the server's
// replies are dropped, so the client engine, which has no connection on the
// tuple any more, does not answer them.
inline wire::FourTuple quiet_server_entry(Scenario& sc) {
  EXPECT_EQ(sc.b().listen(kPort, 8), Errc::kOk);
  Conn c = open(sc);
  const wire::FourTuple t = active_close(sc, c, 1);
  EXPECT_FALSE(sc.a().state(c.client).has_value());
  sc.drop = [](const Seg& s) { return s.from == 1; };
  sc.advance(Duration::seconds(1));
  return t;
}

// A SYN from the client's side of the entry's tuple.
inline SegSpec syn_to(Scenario& sc, const wire::FourTuple& t, Seq seq) {
  SegSpec s = sc.to_entry(1, t);
  s.seq = seq;
  s.ack = Seq(0);
  s.flags = wire::kSyn;
  return s;
}

// The client's options for a FIN_WAIT2 entry: tcp_fin_timeout 5 s <= len.
inline EngineOptions fw2_opts() {
  EngineOptions o = tw_opts();
  o.tcp.fin_timeout = Duration::seconds(5);
  return o;
}

// The client closes a fresh connection whose server never closes: a FIN_WAIT2
// entry (with fw2_opts()). Returns its tuple.
inline wire::FourTuple orphan_in_fin_wait2(Scenario& sc, Conn* c) {
  EXPECT_EQ(sc.b().listen(kPort, 8), Errc::kOk);
  *c = open(sc);
  const wire::FourTuple t = sc.tuple_of(0, c->client);
  EXPECT_EQ(sc.a().close(c->client), Errc::kOk);
  EXPECT_TRUE(sc.run_until([&] { return bool(sc.tw_entry(0, t)); }, Duration::seconds(1)));
  EXPECT_TRUE(sc.tw(0).fin_wait2(sc.tw_entry(0, t)));
  return t;
}

// The same, with the client's replies dropped from then on.
inline wire::FourTuple quiet_fin_wait2_entry(Scenario& sc, Conn* c) {
  const wire::FourTuple t = orphan_in_fin_wait2(sc, c);
  sc.drop = [](const Seg& s) { return s.from == 0; };
  sc.advance(Duration::millis(100));
  return t;
}

}  // namespace twstack::twtest
