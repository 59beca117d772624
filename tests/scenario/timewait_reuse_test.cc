// connect() and TIME_WAIT entries (docs/linux-timewait.md §5, §7, §8, §13 f): tcp_tw_reuse
// 0/1/2 with tcp_tw_reuse_delay and the timestamps it needs, the explicit-bind
// takeover, and the port-exhaustion scenario at 10.00 s.

#include <gtest/gtest.h>

#include <set>

#include "timewait_support.hh"

namespace twstack::twtest {
namespace {

void reuse_after_delay(Scenario& sc) {
  const OnePort old = one_port_time_wait(sc);
  ASSERT_EQ(old.tuple.lport, 40000);
  ASSERT_TRUE(old.entry.has_ts);
  const Instant t0 = at_ms(old.entry.entry_ms);
  ConnId id;
  for (int ms : {0, 500, 900, 1000}) {
    EXPECT_EQ(connect_at(sc, t0 + Duration::millis(ms), &id), Errc::kAddrNotAvail) << "+" << ms << " ms";
  }
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTWRecycled), 0u);
  EXPECT_TRUE(sc.in_time_wait(0, old.tuple));
  sc.advance_to(t0 + Duration::millis(1001));
  const std::size_t mark = sc.trace.size();
  ASSERT_EQ(sc.a().connect(sc.addr(1), kPort, &id), Errc::kOk) << "not reused 1001 ms after entry";
  expect_reused(sc, old, id, mark);
}

// §5 (6.14+): with tcp_tw_reuse=1 connect() takes a TIME_WAIT tuple over
// iff the entry saw timestamps and now_ms > tw_entry_stamp +
// tcp_tw_reuse_delay (time_after32). [run: EADDRNOTAVAIL at +0, +0.5, +0.9 s]
TEST(TimeWait, ReuseOnlyAfterDelay) {
  for (PortSelection mode : {PortSelection::kUniform, PortSelection::kLinux}) {
    SCOPED_TRACE(mode == PortSelection::kLinux ? "port_selection linux" : "port_selection uniform");
    EngineOptions o = one_port_opts(1);
    o.ports.mode = mode;
    Scenario sc(o, tw_opts());
    reuse_after_delay(sc);
  }
}

// tcp_tw_reuse_delay moves the threshold (allowed 1..60000 ms).
TEST(TimeWait, ReuseDelayIsConfigurable) {
  EngineOptions o = one_port_opts(1);
  o.tw_reuse_delay = Duration::millis(3000);
  Scenario sc(o, tw_opts());
  const OnePort old = one_port_time_wait(sc);
  const Instant t0 = at_ms(old.entry.entry_ms);
  ConnId id;
  for (int ms : {1001, 2000, 3000}) {
    EXPECT_EQ(connect_at(sc, t0 + Duration::millis(ms), &id), Errc::kAddrNotAvail) << "+" << ms << " ms";
  }
  sc.advance_to(t0 + Duration::millis(3001));
  const std::size_t mark = sc.trace.size();
  ASSERT_EQ(sc.a().connect(sc.addr(1), kPort, &id), Errc::kOk);
  expect_reused(sc, old, id, mark);
}

// §5: tcp_tw_reuse=0 never reuses; the tuple comes free only when the entry
// expires (and then it is not a takeover).
TEST(TimeWait, NoReuseWithTwReuseZero) {
  Scenario sc(one_port_opts(0), tw_opts());
  const OnePort old = one_port_time_wait(sc);
  const Instant t0 = at_ms(old.entry.entry_ms);
  ConnId id;
  for (int ms : {1001, 5000, static_cast<int>(kLenMs) - 1}) {
    EXPECT_EQ(connect_at(sc, t0 + Duration::millis(ms), &id), Errc::kAddrNotAvail) << "+" << ms << " ms";
  }
  EXPECT_EQ(connect_at(sc, t0 + kLen, &id), Errc::kOk) << "the port is free once the entry expired";
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTWRecycled), 0u);
}

// §5, §13 (c): reuse needs tw_ts_recent_stamp != 0; with tcp_timestamps=0
// on both sides the entry has none, and connect() never takes it over.
TEST(TimeWait, NoReuseWithoutTimestamps) {
  EngineOptions o = one_port_opts(1);
  o.tcp.timestamps = 0;
  EngineOptions server = tw_opts();
  server.tcp.timestamps = 0;
  Scenario sc(o, server);
  const OnePort old = one_port_time_wait(sc);
  EXPECT_FALSE(old.entry.has_ts);
  const Instant t0 = at_ms(old.entry.entry_ms);
  ConnId id;
  for (int ms : {1001, 2000, 5000}) {
    EXPECT_EQ(connect_at(sc, t0 + Duration::millis(ms), &id), Errc::kAddrNotAvail) << "+" << ms << " ms";
  }
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTWRecycled), 0u);
}

// §5 rule 2: tcp_tw_reuse=2 (the default) keeps reuse for loopback only:
// the entry's daddr or rcv_saddr in 127/8.
TEST(TimeWait, ReuseMode2OnlyOnLoopback) {
  {
    SCOPED_TRACE("10.0.0.1 -> 10.0.0.2");
    Scenario sc(one_port_opts(2), tw_opts());
    const OnePort old = one_port_time_wait(sc);
    ASSERT_TRUE(old.entry.has_ts);
    const Instant t0 = at_ms(old.entry.entry_ms);
    ConnId id;
    for (int ms : {1001, 2000, 5000}) {
      EXPECT_EQ(connect_at(sc, t0 + Duration::millis(ms), &id), Errc::kAddrNotAvail) << "+" << ms << " ms";
    }
    EXPECT_EQ(sc.ctr(0, Counter::TcpExtTWRecycled), 0u);
  }
  {
    SCOPED_TRACE("127.0.0.1 -> 127.0.0.2");
    Scenario sc(loopback_interface(0), one_port_opts(2), loopback_interface(1), tw_opts());
    const OnePort old = one_port_time_wait(sc);
    ASSERT_TRUE(old.tuple.laddr.is_loopback());
    ASSERT_TRUE(old.entry.has_ts);
    const Instant t0 = at_ms(old.entry.entry_ms);
    ConnId id;
    EXPECT_EQ(connect_at(sc, t0 + Duration::millis(1000), &id), Errc::kAddrNotAvail);
    sc.advance_to(t0 + Duration::millis(1001));
    const std::size_t mark = sc.trace.size();
    ASSERT_EQ(sc.a().connect(sc.addr(1), kPort, &id), Errc::kOk);
    expect_reused(sc, old, id, mark);
  }
}

// §5 rule 3 and §8: bind(port) with SO_REUSEADDR onto one's own TIME_WAIT
// port, then connect(): taken over at once, whatever tcp_tw_reuse says, if the
// old connection saw timestamps (twp == NULL: no sysctl, no delay);
// EADDRNOTAVAIL without them (§7, "only the 4-tuple is checked"). An entry
// left by an ephemeral-port socket (no SO_REUSEADDR) conflicts at bind():
// EADDRINUSE (inet_bind_conflict).
TEST(TimeWait, ExplicitBindTakeover) {
  constexpr std::uint16_t kSport = 40000;
  {
    SCOPED_TRACE("bound, timestamps, tcp_tw_reuse=0");
    Scenario sc(one_port_opts(0), tw_opts());
    ASSERT_EQ(sc.b().listen(kPort, 8), Errc::kOk);
    Conn c = open(sc, kSport);
    const wire::FourTuple t = active_close(sc, c);
    ASSERT_TRUE(sc.tw(0).bound(sc.tw_entry(0, t)));
    const OnePort old{t, snap(sc, 0, t)};
    ASSERT_TRUE(old.entry.has_ts);
    const std::size_t mark = sc.trace.size();
    ConnId id;
    ASSERT_EQ(sc.a().connect(sc.addr(1), kPort, &id, sc.addr(0), kSport), Errc::kOk) << "not taken over at +0";
    expect_reused(sc, old, id, mark);
  }
  {
    SCOPED_TRACE("bound, no timestamps");
    EngineOptions o = one_port_opts(1);
    o.tcp.timestamps = 0;
    EngineOptions server = tw_opts();
    server.tcp.timestamps = 0;
    Scenario sc(o, server);
    ASSERT_EQ(sc.b().listen(kPort, 8), Errc::kOk);
    Conn c = open(sc, kSport);
    const wire::FourTuple t = active_close(sc, c);
    ASSERT_FALSE(sc.tw(0).has_ts(sc.tw_entry(0, t)));
    ConnId id;
    EXPECT_EQ(sc.a().connect(sc.addr(1), kPort, &id, sc.addr(0), kSport), Errc::kAddrNotAvail);
    sc.advance(Duration::seconds(5));
    EXPECT_EQ(sc.a().connect(sc.addr(1), kPort, &id, sc.addr(0), kSport), Errc::kAddrNotAvail);
    EXPECT_TRUE(sc.in_time_wait(0, t));
    EXPECT_EQ(sc.ctr(0, Counter::TcpExtTWRecycled), 0u);
  }
  {
    SCOPED_TRACE("entry from an ephemeral port");
    Scenario sc(one_port_opts(1), tw_opts());
    const OnePort old = one_port_time_wait(sc);
    ASSERT_EQ(old.tuple.lport, kSport);
    ASSERT_FALSE(sc.tw(0).bound(sc.tw_entry(0, old.tuple)));
    ConnId id;
    EXPECT_EQ(sc.a().connect(sc.addr(1), kPort, &id, sc.addr(0), kSport), Errc::kAddrInUse);
    sc.advance(Duration::seconds(2));
    EXPECT_EQ(sc.a().connect(sc.addr(1), kPort, &id, sc.addr(0), kSport), Errc::kAddrInUse)
        << "tcp_tw_reuse does not apply to bind()";
    EXPECT_TRUE(sc.in_time_wait(0, old.tuple));
    EXPECT_EQ(sc.ctr(0, Counter::TcpExtTWRecycled), 0u);
  }
}

// §5 rule 1: tcp_tw_reuse does not apply to a FIN_WAIT2 entry; once the
// peer's FIN (with a timestamp) moves it to TIME_WAIT, the delay counts from
// that FIN (tw_entry_stamp refreshed, §1). The explicit-bind path has no such
// exclusion: only tw_ts_recent_stamp matters (tcp_twsk_unique, twp == NULL).
TEST(TimeWait, NoReuseFromFinWait2Entry) {
  {
    SCOPED_TRACE("ephemeral, tcp_tw_reuse=1");
    EngineOptions o = one_port_opts(1);
    o.tcp.fin_timeout = Duration::seconds(5);
    Scenario sc(o, tw_opts());
    ASSERT_EQ(sc.b().listen(kPort, 8), Errc::kOk);
    Conn c = open(sc);
    const wire::FourTuple t = sc.tuple_of(0, c.client);
    ASSERT_EQ(sc.a().close(c.client), Errc::kOk);
    sc.settle();
    ASSERT_TRUE(sc.tw_entry(0, t));
    ASSERT_TRUE(sc.tw(0).fin_wait2(sc.tw_entry(0, t)));
    ASSERT_TRUE(sc.tw(0).has_ts(sc.tw_entry(0, t)));
    const Instant t0 = sc.now();
    ConnId id;
    for (int ms : {1001, 2000}) {
      EXPECT_EQ(connect_at(sc, t0 + Duration::millis(ms), &id), Errc::kAddrNotAvail) << "+" << ms << " ms";
    }
    ASSERT_EQ(sc.b().close(c.server), Errc::kOk);
    sc.settle();
    ASSERT_TRUE(sc.in_time_wait(0, t));
    const OnePort old{t, snap(sc, 0, t)};
    EXPECT_EQ(old.entry.entry_ms, sc.now().ms());
    const Instant t1 = sc.now();
    EXPECT_EQ(connect_at(sc, t1 + Duration::millis(1000), &id), Errc::kAddrNotAvail);
    sc.advance_to(t1 + Duration::millis(1001));
    const std::size_t mark = sc.trace.size();
    ASSERT_EQ(sc.a().connect(sc.addr(1), kPort, &id), Errc::kOk);
    expect_reused(sc, old, id, mark);
  }
  {
    SCOPED_TRACE("explicit bind, tcp_tw_reuse=0");
    EngineOptions o = one_port_opts(0);
    o.tcp.fin_timeout = Duration::seconds(5);
    Scenario sc(o, tw_opts());
    ASSERT_EQ(sc.b().listen(kPort, 8), Errc::kOk);
    Conn c = open(sc, 40000);
    const wire::FourTuple t = sc.tuple_of(0, c.client);
    ASSERT_EQ(sc.a().close(c.client), Errc::kOk);
    sc.settle();
    ASSERT_TRUE(sc.tw_entry(0, t));
    ASSERT_TRUE(sc.tw(0).fin_wait2(sc.tw_entry(0, t)));
    const Snap e = snap(sc, 0, t);
    sc.drop = [](const Seg&) { return true; };  // the server still holds the tuple
    const std::size_t mark = sc.trace.size();
    ConnId id;
    ASSERT_EQ(sc.a().connect(sc.addr(1), kPort, &id, sc.addr(0), 40000), Errc::kOk);
    EXPECT_EQ(sc.ctr(0, Counter::TcpExtTWRecycled), 1u);
    EXPECT_FALSE(sc.tw_entry(0, t));
    sc.settle();
    std::vector<Seg> v = sc.sent_by(0, mark);
    ASSERT_FALSE(v.empty());
    EXPECT_TRUE(v[0].is(wire::kSyn));
    EXPECT_EQ(v[0].seq, e.snd_nxt + 65537);
  }
}

// §13 (f), scaled down: the active closer's ports stay held for the TIME_WAIT
// length, so 1000 ports at 100 connects per second (tcp_tw_reuse=0, 60 s)
// run out after exactly 1000 connects: the first EADDRNOTAVAIL at t = 10.00 s.
// Both port selections search the whole range before failing (§7 step 6).
class Exhaustion : public ::testing::TestWithParam<PortSelection> {};

TEST_P(Exhaustion, AtTenSeconds) {
  EngineOptions o = scenario_opts();
  o.ports.range = PortRange{40000, 40999};
  o.ports.mode = GetParam();
  o.tw_reuse = 0;
  Scenario sc(o, scenario_opts());
  sc.record_events = false;
  ASSERT_EQ(sc.b().listen(kPort, 64), Errc::kOk);
  close_on_peer_fin(sc, 1);
  const Instant t0 = sc.now();
  int first_fail = -1;
  for (int k = 0; k < 1100; ++k) {
    sc.advance_to(t0 + Duration::millis(10) * k);
    ConnId id;
    const Errc err = sc.a().connect(sc.addr(1), kPort, &id);
    if (err != Errc::kOk) {
      EXPECT_EQ(err, Errc::kAddrNotAvail);
      first_fail = k;
      break;
    }
    sc.settle();
    ASSERT_EQ(sc.a().state(id), State::kEstablished) << "connect #" << k;
    ASSERT_EQ(sc.a().close(id), Errc::kOk);
    sc.settle();
  }
  EXPECT_EQ(first_fail, 1000) << "first EADDRNOTAVAIL at t = " << first_fail * 10 << " ms";
  EXPECT_EQ(sc.now() - t0, Duration::seconds(10));
  EXPECT_EQ(sc.tw(0).live(), 1000u);
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTW), 1000u);
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTWRecycled), 0u);
}

INSTANTIATE_TEST_SUITE_P(TimeWait, Exhaustion, ::testing::Values(PortSelection::kUniform, PortSelection::kLinux),
                         [](const ::testing::TestParamInfo<PortSelection>& i) {
                           return std::string(i.param == PortSelection::kLinux ? "Linux" : "Uniform");
                         });

}  // namespace
}  // namespace twstack::twtest
