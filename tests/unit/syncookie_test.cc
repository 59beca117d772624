// SYN cookies: the cookie's arithmetic and timestamp encoding as Linux's
// syncookies.c has them, and a listener that answers with cookies
// (net.ipv4.tcp_syncookies 0/1/2) between two engines.
#include "stack/tcp/syncookie.hh"

#include <gtest/gtest.h>

#include <vector>

#include "stack/wire/ethernet.hh"
#include "stack/wire/ipv4.hh"
#include "stack/wire/tcp.hh"
#include "stack/wire/tcp_options.hh"
#include "tests/support/pair.hh"

namespace twstack {
namespace {

using tcp::CookieOptions;
using test::DirectPair;

const SipKey kKey{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
const wire::FourTuple kTuple{wire::Ipv4Addr::from_octets(10, 0, 0, 2),
                             wire::Ipv4Addr::from_octets(192, 0, 2, 7), 80, 40000};

TEST(SynCookie, MssIndexRoundsDownToTheTable) {
  // __cookie_v4_init_sequence: the largest msstab entry not above the MSS.
  EXPECT_EQ(tcp::cookie_mss_index(1500), 3u);
  EXPECT_EQ(tcp::cookie_mss_index(1460), 3u);
  EXPECT_EQ(tcp::cookie_mss_index(1459), 2u);
  EXPECT_EQ(tcp::cookie_mss_index(1452), 2u);
  EXPECT_EQ(tcp::cookie_mss_index(1440), 2u);
  EXPECT_EQ(tcp::cookie_mss_index(1300), 1u);
  EXPECT_EQ(tcp::cookie_mss_index(1299), 0u);
  EXPECT_EQ(tcp::cookie_mss_index(536), 0u);
  EXPECT_EQ(tcp::cookie_mss_index(88), 0u);
}

TEST(SynCookie, ChecksWithinTwoPeriodsAndCarriesItsData) {
  for (std::uint32_t data = 0; data < 4; ++data) {
    const std::uint32_t c = tcp::make_syn_cookie(kKey, kTuple, 123456789u, 1000, data);
    EXPECT_EQ(tcp::check_syn_cookie(kKey, kTuple, c, 123456789u, 1000), data);
    EXPECT_EQ(tcp::check_syn_cookie(kKey, kTuple, c, 123456789u, 1001), data);
    // MAX_SYNCOOKIE_AGE 2: two periods on, or a clock behind the cookie, fails.
    EXPECT_EQ(tcp::check_syn_cookie(kKey, kTuple, c, 123456789u, 1002), std::nullopt);
    EXPECT_EQ(tcp::check_syn_cookie(kKey, kTuple, c, 123456789u, 999), std::nullopt);
  }
}

TEST(SynCookie, CountSitsInTheTopEightBits) {
  // cookie - H0 - sseq = (count << 24) + (H1 + data) mod 2^24
  const std::uint32_t a = tcp::make_syn_cookie(kKey, kTuple, 0, 0x17, 0);
  const std::uint32_t b = tcp::make_syn_cookie(kKey, kTuple, 0, 0x18, 0);
  // A cookie made one period later differs in the count field: checked at
  // count 0x18 it validates, the older one too (age 1), at 0x19 only b.
  EXPECT_TRUE(tcp::check_syn_cookie(kKey, kTuple, a, 0, 0x18).has_value());
  EXPECT_TRUE(tcp::check_syn_cookie(kKey, kTuple, b, 0, 0x19).has_value());
  EXPECT_FALSE(tcp::check_syn_cookie(kKey, kTuple, a, 0, 0x19).has_value());
}

TEST(SynCookie, ForeignTupleSequenceOrKeyDoesNotCheck) {
  const std::uint32_t c = tcp::make_syn_cookie(kKey, kTuple, 5000, 7, 3);
  auto valid = [](std::optional<std::uint32_t> r) { return r && *r < tcp::kCookieMssTable.size(); };
  wire::FourTuple other = kTuple;
  other.rport = 40001;
  EXPECT_FALSE(valid(tcp::check_syn_cookie(kKey, other, c, 5000, 7)));
  other = kTuple;
  other.raddr = wire::Ipv4Addr::from_octets(192, 0, 2, 8);
  EXPECT_FALSE(valid(tcp::check_syn_cookie(kKey, other, c, 5000, 7)));
  // The sequence numbers are added in, not hashed: as in Linux, a small
  // shift moves the MSS index (5001 reads 2), a larger one leaves the table.
  EXPECT_EQ(tcp::check_syn_cookie(kKey, kTuple, c, 5001, 7), 2u);
  EXPECT_FALSE(valid(tcp::check_syn_cookie(kKey, kTuple, c, 5100, 7)));
  EXPECT_FALSE(valid(tcp::check_syn_cookie(SipKey{1, 2}, kTuple, c, 5000, 7)));
  EXPECT_FALSE(valid(tcp::check_syn_cookie(kKey, kTuple, c + 1, 5000, 7)));
}

TEST(SynCookie, CookieTimeCountsSixtySecondPeriods) {
  EXPECT_EQ(tcp::cookie_time(Instant{0}), 0u);
  EXPECT_EQ(tcp::cookie_time(Instant{59'999'999}), 0u);
  EXPECT_EQ(tcp::cookie_time(Instant{60'000'000}), 1u);
  EXPECT_EQ(tcp::cookie_time(Instant{3'600'000'000}), 60u);
}

TEST(SynCookie, TimestampCarriesWscaleSackAndEcnAndNeverRunsAhead) {
  const tcp::TcpParams p{StackConfig{}};
  for (std::uint32_t now : {0u, 63u, 64u, 1000u, 0xffffffc0u, 0xffffffffu}) {
    for (int ws = -1; ws <= 14; ++ws) {
      for (bool sack : {false, true}) {
        CookieOptions o;
        o.ts_ok = true;
        o.wscale_ok = ws >= 0;
        o.snd_wscale = static_cast<std::uint8_t>(ws < 0 ? 0 : ws);
        o.sack_ok = sack;
        const std::uint32_t ts = tcp::cookie_init_timestamp(now, o);
        EXPECT_LE(static_cast<std::int32_t>(ts - now), 0) << now;
        EXPECT_LT(now - ts, 64u) << now;
        CookieOptions back;
        back.mss = o.mss;
        ASSERT_TRUE(tcp::cookie_timestamp_decode(true, ts, p, true, &back));
        EXPECT_EQ(back, o) << "ws " << ws << " sack " << sack;
      }
    }
  }
  CookieOptions e;
  e.ecn_ok = true;
  EXPECT_EQ(tcp::cookie_init_timestamp(128, e) & tcp::kTsOptEcn, tcp::kTsOptEcn);
}

TEST(SynCookie, TimestampDecodeRefusesWhatIsOffHere) {
  StackConfig cfg;
  tcp::TcpParams p{cfg};
  CookieOptions o;
  // No timestamp in the ACK: no options at all (tcp_clear_options).
  o.wscale_ok = o.sack_ok = true;
  EXPECT_TRUE(tcp::cookie_timestamp_decode(false, 0, p, true, &o));
  EXPECT_FALSE(o.ts_ok || o.wscale_ok || o.sack_ok);
  EXPECT_FALSE(tcp::cookie_timestamp_decode(true, 0xf | tcp::kTsOptSack, p, false, &o));  // SACK off
  EXPECT_FALSE(tcp::cookie_timestamp_decode(true, 0xf | tcp::kTsOptEcn, p, true, &o));   // no ECN
  EXPECT_TRUE(tcp::cookie_timestamp_decode(true, 0xf, p, false, &o));
  p.window_scaling = false;
  EXPECT_FALSE(tcp::cookie_timestamp_decode(true, 7, p, true, &o));
  EXPECT_TRUE(tcp::cookie_timestamp_decode(true, 0xf, p, true, &o));
  p.timestamps = 0;
  EXPECT_FALSE(tcp::cookie_timestamp_decode(true, 0xf, p, true, &o));
}

// --- a listener between two engines

engine::EngineOptions with_cookies(std::uint8_t mode) {
  engine::EngineOptions o = test::small_opts();
  o.syncookies = mode;
  return o;
}

// A SYN to b from a host that is not there (no ARP answer will come).
std::vector<std::uint8_t> spoofed_syn(std::uint8_t host, std::uint16_t sport, std::uint32_t seq) {
  std::vector<std::uint8_t> f(14 + 20 + 24);
  const wire::Ipv4Addr src = wire::Ipv4Addr::from_octets(10, 0, 0, host);
  const wire::Ipv4Addr dst = wire::Ipv4Addr::from_octets(10, 0, 0, 2);
  wire::write_ethernet(f.data(), wire::MacAddr{{0x02, 0, 0, 0, 0, 2}}, wire::MacAddr{{0x02, 0, 0, 0, 0, host}},
                       wire::kEtherTypeIpv4);
  wire::TcpOptions o{};
  o.has_mss = true;
  o.mss = 1460;
  std::uint8_t opts[40];
  const std::size_t olen = wire::write_tcp_options(opts, o);
  wire::TcpFields t{};
  t.src_port = sport;
  t.dst_port = 80;
  t.seq = seq;
  t.flags = wire::kSyn;
  t.window = 65535;
  std::uint8_t* tcp = f.data() + 34;
  const std::size_t tl = wire::write_tcp_header(tcp, t, {opts, olen});
  f.resize(34 + tl);
  wire::finish_tcp_checksum(tcp, tl, src, dst);
  wire::write_ipv4(f.data() + 14, src, dst, wire::kProtoTcp, static_cast<std::uint16_t>(tl), 1);
  return f;
}

bool is_tcp(const test::Captured& f, std::uint8_t flags) {
  return f.bytes.size() >= 54 && f.bytes[12] == 0x08 && f.bytes[13] == 0x00 && f.bytes[23] == 6 &&
         f.bytes[47] == flags;
}

std::uint64_t get(DirectPair& p, int side, Counter c) { return p.side(side).counters().get(c); }

TEST(SynCookieListener, AlwaysModeKeepsNoStateUntilTheFinalAck) {
  DirectPair p(test::small_opts(), with_cookies(2));
  ASSERT_EQ(p.b().listen(80, 16), Errc::kOk);
  std::vector<test::Captured> held;
  p.filter = [&](const test::Captured& f) {
    if (f.from == 0 && is_tcp(f, wire::kAck)) {  // the handshake's final ACK
      held.push_back(f);
      return false;
    }
    return true;
  };
  engine::ConnId client;
  ASSERT_EQ(p.a().connect(p.addr(1), 80, &client), Errc::kOk);
  p.settle();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(p.a().state(client), tcp::State::kEstablished);
  EXPECT_EQ(p.b().connections(), 0u);  // nothing held for the SYN
  EXPECT_EQ(get(p, 1, Counter::TcpExtSyncookiesSent), 1u);
  EXPECT_EQ(get(p, 1, Counter::TcpExtTCPReqQFullDoCookies), 1u);  // =2: every SYN
  EXPECT_EQ(get(p, 1, Counter::TcpExtListenDrops), 0u);
  p.filter = nullptr;
  p.inject(1, held[0].bytes);
  p.settle();
  EXPECT_EQ(get(p, 1, Counter::TcpExtSyncookiesRecv), 1u);
  EXPECT_EQ(get(p, 1, Counter::TcpPassiveOpens), 1u);
  auto server = p.b().accept(80);
  ASSERT_TRUE(server.has_value());
  EXPECT_EQ(p.b().state(*server), tcp::State::kEstablished);
  // The options came back from the timestamp (cookie_timestamp_decode).
  const tcp::Tcb* s = p.b().tcb(*server);
  const tcp::Tcb* c = p.a().tcb(client);
  ASSERT_TRUE(s != nullptr && c != nullptr);
  EXPECT_TRUE(s->ts_ok);
  EXPECT_TRUE(s->wscale_ok);
  EXPECT_EQ(s->snd_wscale, c->rcv_wscale);
  EXPECT_EQ(s->rcv_wscale, c->snd_wscale);
  EXPECT_EQ(s->mss, 1460);
  EXPECT_EQ(s->iss, c->irs);
  EXPECT_TRUE(c->sack.ok);  // offered in the cookie's SYN-ACK (net.ipv4.tcp_sack=1)
  EXPECT_TRUE(s->sack.ok);  // and taken up from the timestamp
  // Data flows both ways on the rebuilt connection.
  const std::uint8_t msg[] = {'h', 'i'};
  Errc err;
  EXPECT_EQ(p.a().send(client, msg, &err), 2u);
  EXPECT_EQ(p.b().send(*server, msg, &err), 2u);
  p.advance(Duration::millis(100));
  std::uint8_t buf[8];
  EXPECT_EQ(p.b().recv(*server, buf), 2u);
  EXPECT_EQ(p.a().recv(client, buf), 2u);
}

TEST(SynCookieListener, WithoutTimestampsTheCookieKeepsOnlyTheMss) {
  engine::EngineOptions a = test::small_opts();
  a.tcp.timestamps = 0;
  a.tcp.mss = 1300;
  DirectPair p(a, with_cookies(2));
  auto est = p.establish();
  ASSERT_TRUE(est.has_value());
  const tcp::Tcb* s = p.b().tcb(est->server);
  EXPECT_FALSE(s->ts_ok);
  EXPECT_FALSE(s->wscale_ok);  // nowhere to keep it: not offered back
  EXPECT_EQ(s->snd_wscale, 0);
  EXPECT_EQ(s->mss, 1300);     // msstab[1]
  EXPECT_EQ(get(p, 1, Counter::TcpExtSyncookiesRecv), 1u);
}

TEST(SynCookieListener, FullSynQueueAnswersARealClientWithACookie) {
  DirectPair p(test::small_opts(), with_cookies(1));
  ASSERT_EQ(p.b().listen(80, 4), Errc::kOk);
  for (std::uint8_t i = 0; i < 10; ++i) p.inject(1, spoofed_syn(100 + i, 1000 + i, 77u * i));
  p.settle();
  // inet_csk_reqsk_queue_is_full at the listen() backlog: 4 half-open, 6 cookies.
  EXPECT_EQ(p.b().gauges().synrecv, 4u);
  EXPECT_EQ(get(p, 1, Counter::TcpExtTCPReqQFullDoCookies), 6u);
  EXPECT_EQ(get(p, 1, Counter::TcpExtSyncookiesSent), 6u);
  engine::ConnId client;
  ASSERT_EQ(p.a().connect(p.addr(1), 80, &client), Errc::kOk);
  p.settle();
  EXPECT_EQ(p.a().state(client), tcp::State::kEstablished);
  EXPECT_EQ(get(p, 1, Counter::TcpExtSyncookiesSent), 7u);
  EXPECT_EQ(get(p, 1, Counter::TcpExtSyncookiesRecv), 1u);
  EXPECT_EQ(get(p, 1, Counter::TcpExtSyncookiesFailed), 0u);
  EXPECT_EQ(get(p, 1, Counter::TcpExtListenDrops), 0u);
  EXPECT_TRUE(p.b().accept(80).has_value());
  EXPECT_EQ(p.b().gauges().synrecv, 4u);
}

TEST(SynCookieListener, CookiesOffDropsTheSynAsLinuxDoes) {
  DirectPair p(test::small_opts(), with_cookies(0));
  ASSERT_EQ(p.b().listen(80, 4), Errc::kOk);
  for (std::uint8_t i = 0; i < 4; ++i) p.inject(1, spoofed_syn(100 + i, 1000 + i, 0));
  engine::ConnId client;
  ASSERT_EQ(p.a().connect(p.addr(1), 80, &client), Errc::kOk);
  p.settle();
  // tcp_syn_flood_action with cookies off: TCPReqQFullDrop, ListenDrops.
  EXPECT_EQ(p.a().state(client), tcp::State::kSynSent);
  EXPECT_EQ(get(p, 1, Counter::TcpExtTCPReqQFullDrop), 1u);
  EXPECT_EQ(get(p, 1, Counter::TcpExtListenDrops), 1u);
  EXPECT_EQ(get(p, 1, Counter::TcpExtSyncookiesSent), 0u);
  EXPECT_EQ(p.b().gauges().synrecv, 4u);
}

TEST(SynCookieListener, CookiesOffKeepsTheLastQuarterOfMaxSynBacklog) {
  engine::EngineOptions b = with_cookies(0);
  b.max_syn_backlog = 8;
  DirectPair p(test::small_opts(), b);
  ASSERT_EQ(p.b().listen(80, 100), Errc::kOk);
  // tcp_conn_request: drop while max_syn_backlog - qlen < max_syn_backlog >> 2.
  for (std::uint8_t i = 0; i < 9; ++i) p.inject(1, spoofed_syn(100 + i, 1000 + i, 0));
  EXPECT_EQ(p.b().gauges().synrecv, 7u);
  EXPECT_EQ(get(p, 1, Counter::TcpExtListenDrops), 2u);
  EXPECT_EQ(get(p, 1, Counter::TcpExtTCPReqQFullDrop), 0u);
  // With cookies on the rule does not apply.
  engine::EngineOptions on = with_cookies(1);
  on.max_syn_backlog = 8;
  DirectPair q(test::small_opts(), on);
  ASSERT_EQ(q.b().listen(80, 100), Errc::kOk);
  for (std::uint8_t i = 0; i < 9; ++i) q.inject(1, spoofed_syn(100 + i, 1000 + i, 0));
  EXPECT_EQ(q.b().gauges().synrecv, 9u);
  EXPECT_EQ(get(q, 1, Counter::TcpExtListenDrops), 0u);
}

TEST(SynCookieListener, ForgedAckIsResetAndCountedOnlyAfterACookieWentOut) {
  DirectPair p(test::small_opts(), with_cookies(1));
  ASSERT_EQ(p.b().listen(80, 16), Errc::kOk);
  std::vector<test::Captured> held;
  p.filter = [&](const test::Captured& f) {
    if (f.from == 0 && is_tcp(f, wire::kAck)) {
      held.push_back(f);
      return false;
    }
    return true;
  };
  engine::ConnId client;
  ASSERT_EQ(p.a().connect(p.addr(1), 80, &client), Errc::kOk);
  p.settle();
  ASSERT_EQ(held.size(), 1u);
  // The final ACK from another source port reaches the listener, not a
  // connection. No cookie has gone out: it is reset without a check.
  std::vector<std::uint8_t> forged = held[0].bytes;
  forged[34 + 1] ^= 0x01;
  forged[34 + 16] = forged[34 + 17] = 0;
  wire::finish_tcp_checksum(forged.data() + 34, forged.size() - 34, p.addr(0), p.addr(1));
  const std::uint64_t rsts = get(p, 1, Counter::TcpOutRsts);
  p.inject(1, forged);
  EXPECT_EQ(get(p, 1, Counter::TcpOutRsts), rsts + 1);
  EXPECT_EQ(get(p, 1, Counter::TcpExtSyncookiesFailed), 0u);  // no recent overflow
  // After a cookie went out, the same ACK is checked, fails, and is reset.
  DirectPair q(test::small_opts(), with_cookies(2));
  ASSERT_EQ(q.b().listen(80, 16), Errc::kOk);
  q.inject(1, spoofed_syn(100, 1000, 0));
  q.inject(1, forged);
  EXPECT_EQ(get(q, 1, Counter::TcpExtSyncookiesSent), 1u);
  EXPECT_EQ(get(q, 1, Counter::TcpExtSyncookiesFailed), 1u);
  EXPECT_EQ(get(q, 1, Counter::TcpOutRsts), 1u);
  EXPECT_EQ(q.b().connections(), 0u);
}

TEST(SynCookieListener, CookieExpiresAfterTwoPeriods) {
  for (const auto& [delay, valid] : {std::pair{Duration::millis(59500), true},
                                     std::pair{Duration::millis(119500), false}}) {
    DirectPair p(test::small_opts(), with_cookies(2));
    ASSERT_EQ(p.b().listen(80, 16), Errc::kOk);
    std::vector<test::Captured> held;
    p.filter = [&](const test::Captured& f) {
      if (f.from == 0 && is_tcp(f, wire::kAck)) {
        held.push_back(f);
        return false;
      }
      return true;
    };
    engine::ConnId client;
    ASSERT_EQ(p.a().connect(p.addr(1), 80, &client), Errc::kOk);
    p.settle();
    ASSERT_EQ(held.size(), 1u);
    // Made at count 0 (the pair starts at 1 s); checked at count 1 or 2.
    p.b().rx(held[0].bytes, p.now() + delay);
    EXPECT_EQ(get(p, 1, Counter::TcpExtSyncookiesRecv), valid ? 1u : 0u);
    EXPECT_EQ(get(p, 1, Counter::TcpExtSyncookiesFailed), valid ? 0u : 1u);
    EXPECT_EQ(p.b().accept(80).has_value(), valid);
  }
}

TEST(SynCookieListener, FullAcceptQueueDropsTheCookiesAck) {
  DirectPair p(test::small_opts(), with_cookies(2));
  ASSERT_EQ(p.b().listen(80, 1), Errc::kOk);
  std::vector<test::Captured> held;
  p.filter = [&](const test::Captured& f) {
    if (f.from == 0 && is_tcp(f, wire::kAck)) {
      held.push_back(f);
      return false;
    }
    return true;
  };
  engine::ConnId c1, c2;
  ASSERT_EQ(p.a().connect(p.addr(1), 80, &c1), Errc::kOk);
  ASSERT_EQ(p.a().connect(p.addr(1), 80, &c2), Errc::kOk);
  p.settle();
  ASSERT_EQ(held.size(), 2u);
  p.filter = nullptr;
  p.inject(1, held[0].bytes);
  EXPECT_EQ(p.b().connections(), 1u);
  // tcp_v4_syn_recv_sock: sk_acceptq_is_full -> ListenOverflows, ListenDrops.
  p.inject(1, held[1].bytes);
  EXPECT_EQ(p.b().connections(), 1u);
  EXPECT_EQ(get(p, 1, Counter::TcpExtListenOverflows), 1u);
  EXPECT_EQ(get(p, 1, Counter::TcpExtListenDrops), 1u);
  EXPECT_EQ(get(p, 1, Counter::TcpExtSyncookiesRecv), 2u);
}

}  // namespace
}  // namespace twstack
