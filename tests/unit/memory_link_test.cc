// drivers/memory: the faulty link (determinism, ordering, fault rates,
// overflow) and SimPair (two engines exchanging data in virtual time).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "drivers/memory/link.hh"
#include "drivers/memory/sim.hh"
#include "stack/engine/options.hh"
#include "tests/support/secret.hh"

namespace twstack::memory {
namespace {

using Frame = std::vector<std::uint8_t>;

// A frame of `len` bytes whose content says which frame it is.
Frame make_frame(std::uint32_t id, std::size_t len = 100) {
  Frame f(len);
  for (std::size_t i = 0; i < len; ++i) f[i] = static_cast<std::uint8_t>(id * 7 + i);
  f[0] = static_cast<std::uint8_t>(id);
  f[1] = static_cast<std::uint8_t>(id >> 8);
  f[2] = static_cast<std::uint8_t>(id >> 16);
  return f;
}

std::uint32_t id_of(std::span<const std::uint8_t> f) {
  return std::uint32_t{f[0]} | (std::uint32_t{f[1]} << 8) | (std::uint32_t{f[2]} << 16);
}

struct Got {
  Instant at;
  Frame bytes;
  bool operator==(const Got&) const = default;
};

// Sends `n` frames from endpoint 0, one every `gap`, delivering as it goes.
std::vector<Got> run_link(Link& link, std::uint32_t n, Duration gap) {
  std::vector<Got> got;
  Instant t{0};
  auto take = [&](std::span<const std::uint8_t> f) { got.push_back({t, Frame(f.begin(), f.end())}); };
  for (std::uint32_t i = 0; i < n; ++i) {
    link.send(0, make_frame(i), t);
    link.deliver(1, t, take);
    t += gap;
  }
  t += Duration::seconds(10);
  link.deliver(1, t, take);
  return got;
}

FaultSpec all_faults() {
  FaultSpec f;
  f.loss = 0.1;
  f.dup = 0.05;
  f.reorder = 0.2;
  f.corrupt = 0.1;
  f.delay = Duration::micros(300);
  f.reorder_delay = Duration::millis(1);
  return f;
}

TEST(MemoryLink, SameSeedSameFate) {
  Link a(all_faults(), 42);
  Link b(all_faults(), 42);
  Link c(all_faults(), 43);
  std::vector<Got> ga = run_link(a, 5000, Duration::micros(100));
  std::vector<Got> gb = run_link(b, 5000, Duration::micros(100));
  std::vector<Got> gc = run_link(c, 5000, Duration::micros(100));
  EXPECT_EQ(ga, gb);
  EXPECT_NE(ga, gc);
  EXPECT_EQ(a.stats(0).lost, b.stats(0).lost);
}

TEST(MemoryLink, FaultFreeDeliversEverythingInOrderAfterTheDelay) {
  FaultSpec f;
  f.delay = Duration::millis(5);
  Link link(f, 1);
  Instant t0{1000};
  for (std::uint32_t i = 0; i < 10; ++i) link.send(0, make_frame(i), t0 + Duration::millis(i));
  ASSERT_EQ(link.next_due(), t0 + Duration::millis(5));
  std::vector<std::uint32_t> ids;
  auto take = [&](std::span<const std::uint8_t> fr) { ids.push_back(id_of(fr)); };
  EXPECT_EQ(link.deliver(1, t0 + Duration::micros(4999), take), 0u);
  EXPECT_EQ(link.deliver(0, t0 + Duration::seconds(1), take), 0u);  // nothing goes back to 0
  EXPECT_EQ(link.deliver(1, t0 + Duration::millis(7), take), 3u);   // due at 5, 6, 7 ms
  EXPECT_EQ(link.next_due(), t0 + Duration::millis(8));
  EXPECT_EQ(link.deliver(1, t0 + Duration::seconds(1), take), 7u);
  EXPECT_EQ(ids, (std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_FALSE(link.next_due().has_value());
  EXPECT_EQ(link.stats(0).sent, 10u);
  EXPECT_EQ(link.stats(0).delivered, 10u);
  EXPECT_EQ(link.stats(1).sent, 0u);
}

TEST(MemoryLink, EqualDueTimesKeepSendOrderAndDirectionsAreSeparate) {
  Link link(FaultSpec{}, 1);
  Instant t{0};
  for (std::uint32_t i = 0; i < 1000; ++i) link.send(static_cast<int>(i % 2), make_frame(i), t);
  std::vector<std::uint32_t> to0, to1;
  link.deliver(0, t, [&](std::span<const std::uint8_t> f) { to0.push_back(id_of(f)); });
  link.deliver(1, t, [&](std::span<const std::uint8_t> f) { to1.push_back(id_of(f)); });
  ASSERT_EQ(to0.size(), 500u);
  ASSERT_EQ(to1.size(), 500u);
  for (std::uint32_t i = 0; i < 500; ++i) {
    EXPECT_EQ(to1[i], 2 * i);
    EXPECT_EQ(to0[i], 2 * i + 1);
  }
}

TEST(MemoryLink, FramesSentWhileDeliveringWaitForTheNextCall) {
  Link link(FaultSpec{}, 1);
  link.send(0, make_frame(1), Instant{0});
  std::size_t echoes = 0;
  // An echo from inside the callback: on a zero-delay link it is due at once,
  // but must not be handed over by the same call.
  std::size_t n = link.deliver(1, Instant{0}, [&](std::span<const std::uint8_t> f) {
    ++echoes;
    link.send(0, f, Instant{0});
  });
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(echoes, 1u);
  EXPECT_EQ(link.in_flight(), 1u);
}

TEST(MemoryLink, FaultRatesAreAsConfigured) {
  FaultSpec f = all_faults();
  Link link(f, 7, 1 << 17);
  constexpr std::uint32_t kN = 100000;
  std::vector<std::uint32_t> seen(kN, 0);
  std::uint32_t changed = 0;
  std::uint32_t overtaken = 0;
  std::uint32_t last = 0;
  Instant t{0};
  auto take = [&](std::span<const std::uint8_t> fr) {
    std::uint32_t id = id_of(fr);
    if (id >= kN) {
      ADD_FAILURE() << "the first bytes are never corrupted";
      return;
    }
    Frame want = make_frame(id);
    std::size_t diffs = 0, where = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
      if (fr[i] != want[i]) {
        ++diffs;
        where = i;
      }
    }
    EXPECT_LE(diffs, 1u);
    if (diffs == 1) {
      EXPECT_GE(where, 14u) << "the Ethernet header is never corrupted";
      ++changed;
    }
    if (id < last) ++overtaken;
    last = std::max(last, id);
    ++seen[id];
  };
  for (std::uint32_t i = 0; i < kN; ++i) {
    link.send(0, make_frame(i), t);
    t += Duration::micros(50);
    link.deliver(1, t, take);
  }
  link.deliver(1, t + Duration::seconds(1), take);
  const Link::Stats& s = link.stats(0);
  auto near = [](std::uint64_t count, double p, std::uint64_t n) {
    double mean = p * static_cast<double>(n);
    return std::fabs(static_cast<double>(count) - mean) < 5 * std::sqrt(mean) + 1;
  };
  EXPECT_EQ(s.sent, kN);
  EXPECT_TRUE(near(s.lost, f.loss, kN)) << s.lost;
  std::uint64_t kept = kN - s.lost;
  EXPECT_TRUE(near(s.duplicated, f.dup, kept)) << s.duplicated;
  EXPECT_TRUE(near(s.reordered, f.reorder, kept)) << s.reordered;
  EXPECT_TRUE(near(s.corrupted, f.corrupt, kept)) << s.corrupted;
  EXPECT_EQ(s.delivered, kept + s.duplicated);
  EXPECT_EQ(s.overflow, 0u);
  EXPECT_GT(overtaken, s.reordered / 2);  // held-back frames arrive after later ones
  std::uint64_t twice = 0, never = 0;
  for (std::uint32_t c : seen) {
    twice += c == 2;
    never += c == 0;
  }
  EXPECT_EQ(twice, s.duplicated);
  EXPECT_EQ(never, s.lost);
  // A duplicate of a corrupted frame is corrupted too.
  EXPECT_GE(changed, s.corrupted);
  EXPECT_LE(changed, s.corrupted + s.duplicated);
}

TEST(MemoryLink, CorruptionStaysInsideTheIpv4Datagram) {
  FaultSpec f;
  f.corrupt = 1;
  Link link(f, 3);
  // A 60-byte frame holding a 28-byte IPv4 datagram: bytes 42..59 are padding.
  Frame fr(60, 0);
  fr[12] = 0x08;
  fr[13] = 0x00;
  fr[14] = 0x45;
  fr[17] = 28;
  for (int i = 0; i < 2000; ++i) {
    link.send(0, fr, Instant{0});
    link.deliver(1, Instant{0}, [&](std::span<const std::uint8_t> got) {
      for (std::size_t j = 0; j < 14; ++j) EXPECT_EQ(got[j], fr[j]);
      for (std::size_t j = 42; j < 60; ++j) EXPECT_EQ(got[j], 0);
      EXPECT_FALSE(std::equal(got.begin(), got.end(), fr.begin()));
    });
  }
  EXPECT_EQ(link.stats(0).corrupted, 2000u);
}

TEST(MemoryLink, FullLinkAndOversizeFramesAreCountedDrops) {
  Link link(FaultSpec{}, 1, 8, 256);
  for (std::uint32_t i = 0; i < 10; ++i) link.send(0, make_frame(i), Instant{0});
  link.send(1, make_frame(99, 257), Instant{0});
  EXPECT_EQ(link.stats(0).overflow, 2u);
  EXPECT_EQ(link.stats(1).oversize, 1u);
  EXPECT_EQ(link.in_flight(), 8u);
  std::vector<std::uint32_t> ids;
  link.deliver(1, Instant{0}, [&](std::span<const std::uint8_t> f) { ids.push_back(id_of(f)); });
  EXPECT_EQ(ids, (std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  // The slots are free again.
  for (std::uint32_t i = 0; i < 8; ++i) link.send(0, make_frame(i), Instant{0});
  EXPECT_EQ(link.stats(0).overflow, 2u);
}

// --- SimPair

struct Side {
  engine::ConnId conn{};
  wire::FourTuple tuple{};  // as this side sees it
  bool open = false;
  bool peer_closed = false;
  bool closed = false;
  std::size_t sent = 0;
  std::vector<std::uint8_t> got;
};

engine::EngineOptions sim_opts() {
  engine::EngineOptions o = engine::options_from(StackConfig{}, test::kTestSecret);
  o.max_connections = 64;
  o.buffer_chunks = 1024;
  o.tx_frames = 1024;
  o.tcp.timewait_len = Duration::seconds(2);
  return o;
}

// Client (side 0) and server (side 1) each send `data`; each closes once it
// has sent everything and read everything (the server also waits for the
// client's FIN, so the client closes first).
void exchange(SimPair& p, const std::vector<std::uint8_t>& data, Side (&sd)[2]) {
  ASSERT_EQ(p.b().listen(80, 8), Errc::kOk);
  ASSERT_EQ(p.a().connect(sim_addr(1), 80, &sd[0].conn), Errc::kOk);
  sd[0].tuple = p.a().tcb(sd[0].conn)->tuple;
  sd[0].open = true;
  std::uint8_t buf[8192];
  auto on_event = [&](int s, const engine::AppEvent& ev) {
    engine::QueueEngine& eng = p.side(s);
    Side& me = sd[s];
    if (ev.kind == engine::AppEvent::Kind::kAcceptReady) {
      me.conn = *eng.accept(80);
      me.tuple = eng.tcb(me.conn)->tuple;
      me.open = true;
      return;
    }
    ASSERT_EQ(ev.events & tcp::kEvClosed, 0) << "side " << s << " " << errno_name(ev.error);
    while (std::uint32_t n = eng.recv(me.conn, buf)) me.got.insert(me.got.end(), buf, buf + n);
    if (ev.events & tcp::kEvPeerClosed) me.peer_closed = true;
    Errc err;
    if (me.sent < data.size()) me.sent += eng.send(me.conn, std::span(data).subspan(me.sent), &err);
    bool done = me.sent == data.size() && me.got.size() == data.size() && (s == 0 || me.peer_closed);
    if (done && !me.closed) {
      me.closed = true;
      EXPECT_EQ(eng.close(me.conn), Errc::kOk);
    }
  };
  // Both closed: each connection is gone (or CLOSED), the active closer's
  // 4-tuple held by a TIME_WAIT entry instead.
  auto finished = [&] {
    for (int s = 0; s < 2; ++s) {
      if (!sd[s].closed) return false;
      auto st = p.side(s).state(sd[s].conn);
      if (st && *st != tcp::State::kClosed) return false;
    }
    return true;
  };
  ASSERT_TRUE(p.run_until(finished, Duration::seconds(120), on_event));
}

std::vector<std::uint8_t> pattern(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  std::uint64_t x = 12345;
  for (auto& b : v) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    b = static_cast<std::uint8_t>(x >> 56);
  }
  return v;
}

TEST(SimPair, HundredKilobytesEachWayThenOrderlyClose) {
  SimPair p(sim_interface(0), sim_opts(), sim_interface(1), sim_opts(), FaultSpec{}, 1);
  p.preload_arp();
  std::uint64_t tapped = 0;
  p.tap = [&](int, std::span<const std::uint8_t>, Instant) { ++tapped; };
  std::vector<std::uint8_t> data = pattern(100 * 1024);
  Side sd[2];
  exchange(p, data, sd);
  EXPECT_EQ(tapped, p.link().stats(0).sent + p.link().stats(1).sent);
  EXPECT_EQ(sd[0].got, data);
  EXPECT_EQ(sd[1].got, data);
  // The active closer's connection became a TIME_WAIT entry and, orphaned,
  // was freed; the passive closer went LAST_ACK -> CLOSED, released.
  EXPECT_TRUE(p.a().time_wait().find(sd[0].tuple));
  EXPECT_EQ(p.a().time_wait().live(), 1u);
  EXPECT_EQ(p.a().state(sd[0].conn), std::nullopt);
  EXPECT_EQ(p.b().state(sd[1].conn), std::nullopt);
  EXPECT_EQ(p.b().time_wait().live(), 0u);
  EXPECT_EQ(p.a().counters().get(Counter::TwstackArpRequestsOut), 0u);  // preloaded
  EXPECT_EQ(p.a().counters().get(Counter::TcpRetransSegs), 0u);
  EXPECT_EQ(p.b().counters().get(Counter::TcpRetransSegs), 0u);
  // TIME_WAIT ends after its 2 s.
  p.advance(Duration::millis(2100), [](int, const engine::AppEvent&) {});
  EXPECT_FALSE(p.a().time_wait().find(sd[0].tuple));
  EXPECT_EQ(p.a().time_wait().live(), 0u);
  EXPECT_EQ(p.a().connections(), 0u);
}

TEST(SimPair, ArpResolvesOverTheLinkWithDelay) {
  FaultSpec f;
  f.delay = Duration::micros(250);
  SimPair p(sim_interface(0), sim_opts(), sim_interface(1), sim_opts(), f, 1);
  std::vector<std::uint8_t> data = pattern(20000);
  Side sd[2];
  exchange(p, data, sd);
  EXPECT_EQ(sd[0].got, data);
  EXPECT_EQ(sd[1].got, data);
  EXPECT_GE(p.a().counters().get(Counter::TwstackArpRequestsOut), 1u);
  EXPECT_GT(p.now() - SimPair::kStart, Duration::millis(1));  // round trips took virtual time
}

TEST(SimPair, OneWayTransferSurvivesFaults) {
  FaultSpec f;
  f.loss = 0.02;
  f.dup = 0.01;
  f.reorder = 0.02;
  f.corrupt = 0.005;
  f.delay = Duration::micros(100);
  std::uint64_t lost = 0;
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    SimPair p(sim_interface(0), sim_opts(), sim_interface(1), sim_opts(), f, seed);
    p.preload_arp();
    ASSERT_EQ(p.b().listen(80, 8), Errc::kOk);
    engine::ConnId c, s;
    ASSERT_EQ(p.a().connect(sim_addr(1), 80, &c), Errc::kOk);
    std::vector<std::uint8_t> data = pattern(300000), got;
    std::size_t sent = 0;
    bool client_closed = false, server_closed = false;
    std::uint8_t buf[8192];
    auto on_event = [&](int side, const engine::AppEvent& ev) {
      if (ev.kind == engine::AppEvent::Kind::kAcceptReady) {
        s = *p.b().accept(80);
        return;
      }
      Errc err;
      if (side == 0 && !client_closed) {
        sent += p.a().send(c, std::span(data).subspan(sent), &err);
        if (sent == data.size()) client_closed = p.a().close(c) == Errc::kOk;
      }
      if (side == 1) {
        while (std::uint32_t n = p.b().recv(s, buf)) got.insert(got.end(), buf, buf + n);
        if ((ev.events & tcp::kEvPeerClosed) && !server_closed) server_closed = p.b().close(s) == Errc::kOk;
      }
    };
    bool ok = p.run_until([&] { return server_closed && !p.b().state(s) && client_closed; },
                          Duration::seconds(300), on_event);
    EXPECT_TRUE(ok) << "seed " << seed;
    EXPECT_EQ(got, data) << "seed " << seed;
    lost += p.link().stats(0).lost + p.link().stats(1).lost;
  }
  EXPECT_GT(lost, 0u);
}

TEST(SimPair, IdleTimeAdvancesWithoutSpinning) {
  SimPair p(sim_interface(0), sim_opts(), sim_interface(1), sim_opts(), FaultSpec{}, 1);
  std::uint64_t before = p.rounds();
  p.advance(Duration::seconds(100), [](int, const engine::AppEvent&) {});
  EXPECT_GE(p.now(), SimPair::kStart + Duration::seconds(100));
  // At most one round per max_step (10 ms) of idle time, plus slack.
  EXPECT_LE(p.rounds() - before, 10100u);
}

TEST(SimPair, ConnectToAClosedPortIsRefusedOverTheLink) {
  SimPair p(sim_interface(0), sim_opts(), sim_interface(1), sim_opts(), FaultSpec{}, 1);
  engine::ConnId c;
  ASSERT_EQ(p.a().connect(sim_addr(1), 9, &c), Errc::kOk);
  Errc why = Errc::kOk;
  bool ok = p.run_until([&] { return why != Errc::kOk; }, Duration::seconds(5),
                        [&](int, const engine::AppEvent& ev) {
                          if (ev.events & tcp::kEvClosed) why = ev.error;
                        });
  EXPECT_TRUE(ok);
  EXPECT_EQ(why, Errc::kConnRefused);
}

}  // namespace
}  // namespace twstack::memory
