// Opening a connection over the simulated link (RFC 9293 §3.5): the
// three-way handshake and its options, a lost SYN-ACK or final ACK, refusal
// by a closed port, an unresolved next hop, and simultaneous open. One
// connection's SYN and SYN-ACK timers are tests/unit/tcb_handshake_test.cc.
#include <gtest/gtest.h>

#include "scenario.hh"

namespace twstack {
namespace {

using namespace scenario;

constexpr std::uint16_t kPort = 80;

bool is_syn(const Seg& s) { return s.is(wire::kSyn); }
bool is_synack(const Seg& s) { return s.is(wire::kSyn | wire::kAck); }

std::vector<Seg> matching(const Scenario& sc, bool (*pred)(const Seg&), int from) {
  std::vector<Seg> out;
  for (const Seg& s : sc.trace) {
    if (s.from == from && pred(s)) out.push_back(s);
  }
  return out;
}

TEST(Handshake, ThreeWayExchangesIsnsAndNegotiatesOptions) {
  Scenario sc;
  Conn c = sc.establish(kPort);
  const tcp::Tcb* cl = sc.a().tcb(c.client);
  const tcp::Tcb* sv = sc.b().tcb(c.server);
  ASSERT_NE(cl, nullptr);
  ASSERT_NE(sv, nullptr);

  // Exactly SYN, SYN-ACK, ACK on the wire.
  ASSERT_EQ(sc.trace.size(), 3u) << sc.dump();
  const Seg& syn = sc.trace[0];
  const Seg& synack = sc.trace[1];
  const Seg& ack = sc.trace[2];
  EXPECT_EQ(syn.from, 0);
  EXPECT_TRUE(is_syn(syn));
  EXPECT_EQ(synack.from, 1);
  EXPECT_TRUE(is_synack(synack));
  EXPECT_EQ(ack.from, 0);
  EXPECT_TRUE(ack.pure_ack());

  // RFC 9293 §3.4: each side's ISS is the other's IRS; the SYN takes one
  // sequence number.
  EXPECT_EQ(syn.seq, cl->iss);
  EXPECT_EQ(synack.seq, sv->iss);
  EXPECT_EQ(synack.ack, cl->iss + 1);
  EXPECT_EQ(ack.seq, cl->iss + 1);
  EXPECT_EQ(ack.ack, sv->iss + 1);
  EXPECT_EQ(cl->irs, sv->iss);
  EXPECT_EQ(sv->irs, cl->iss);
  EXPECT_EQ(cl->snd_una, cl->iss + 1);
  EXPECT_EQ(cl->snd_nxt, cl->iss + 1);
  EXPECT_EQ(cl->rcv_nxt, cl->irs + 1);
  EXPECT_EQ(sv->snd_una, sv->iss + 1);
  EXPECT_EQ(sv->rcv_nxt, sv->irs + 1);
  EXPECT_NE(cl->iss, sv->iss);

  // RFC 9293 §3.7.1 MSS, RFC 7323 window scale and timestamps, offered in
  // the SYN and answered in the SYN-ACK.
  for (const Seg* s : {&syn, &synack}) {
    EXPECT_TRUE(s->opt.has_mss);
    EXPECT_EQ(s->opt.mss, 1460);
    EXPECT_TRUE(s->opt.has_wscale);
    EXPECT_TRUE(s->opt.has_timestamps);
  }
  // A SYN's window is never scaled (RFC 7323 §2.2): tcp_select_initial_window's
  // tcp_full_space(tcp_rmem[1]) = 64 KiB, rounded down to the MSS (less the
  // timestamp option in the SYN-ACK, tcp_openreq_init_rwin).
  EXPECT_EQ(syn.wnd, 44 * 1460);
  EXPECT_EQ(synack.wnd, 45 * 1448);
  EXPECT_EQ(syn.opt.tsecr, 0u);
  EXPECT_EQ(synack.opt.tsecr, syn.opt.tsval) << "SYN-ACK echoes the SYN's TSval";
  EXPECT_TRUE(ack.opt.has_timestamps);
  EXPECT_EQ(ack.opt.tsecr, synack.opt.tsval);
  EXPECT_FALSE(ack.opt.has_mss);
  EXPECT_FALSE(ack.opt.has_wscale);
  // tcp_select_initial_window: ilog2(tcp_rmem[2] = 6 MiB) - 15.
  EXPECT_EQ(syn.opt.wscale, 7);
  EXPECT_EQ(synack.opt.wscale, 7);
  for (const tcp::Tcb* t : {cl, sv}) {
    EXPECT_EQ(t->mss, 1460);
    EXPECT_TRUE(t->ts_ok);
    EXPECT_TRUE(t->wscale_ok);
    EXPECT_EQ(t->rcv_wscale, 7);
    EXPECT_EQ(t->snd_wscale, 7);
  }

  EXPECT_EQ(sc.ctr(0, Counter::TcpActiveOpens), 1u);
  EXPECT_EQ(sc.ctr(0, Counter::TcpPassiveOpens), 0u);
  EXPECT_EQ(sc.ctr(1, Counter::TcpPassiveOpens), 1u);
  EXPECT_EQ(sc.ctr(1, Counter::TcpActiveOpens), 0u);
  EXPECT_EQ(sc.ctr(0, Counter::TcpRetransSegs) + sc.ctr(1, Counter::TcpRetransSegs), 0u);
  EXPECT_TRUE(sc.first_event(0, c.client, tcp::kEvEstablished).has_value());
  EXPECT_TRUE(sc.first_event(1, c.server, tcp::kEvEstablished).has_value());
  EXPECT_EQ(sc.a().gauges().estab, 1u);
  EXPECT_EQ(sc.b().gauges().estab, 1u);
}

TEST(Handshake, LostSynAckClientResendsSynAndServerAnswersAgain) {
  EngineOptions server = scenario_opts();
  server.tcp.rto_initial = Duration::seconds(3);  // the server's own SYN-ACK timer stays out of the way
  Scenario sc(scenario_opts(), server);
  int synacks = 0;
  sc.drop = [&](const Seg& s) { return is_synack(s) && ++synacks == 1; };
  Instant t0 = sc.now();
  Conn c = sc.establish(kPort);
  std::vector<Seg> syns = matching(sc, is_syn, 0);
  std::vector<Seg> sas = matching(sc, is_synack, 1);
  ASSERT_EQ(syns.size(), 2u) << sc.dump();
  ASSERT_EQ(sas.size(), 2u) << sc.dump();
  EXPECT_EQ((syns[1].at - t0).us, 1000000);
  // The retransmitted SYN is answered at once with the same SYN-ACK (Linux
  // tcp_check_req), not with a second connection or a reset.
  EXPECT_EQ(sas[1].at, syns[1].at);
  EXPECT_EQ(sas[1].seq, sas[0].seq);
  EXPECT_EQ(sas[1].ack, syns[0].seq + 1);
  EXPECT_EQ(sc.a().state(c.client), State::kEstablished);
  EXPECT_EQ(sc.b().state(c.server), State::kEstablished);
  EXPECT_EQ(sc.b().connections(), 1u);
  EXPECT_EQ(sc.ctr(1, Counter::TcpOutRsts), 0u);
  EXPECT_EQ(sc.ctr(0, Counter::TcpExtTCPSynRetrans), 1u);
}

TEST(Handshake, LostFinalAckServerResendsSynAck) {
  Scenario sc;
  bool dropped = false;
  sc.drop = [&](const Seg& s) {
    if (s.from == 0 && s.pure_ack() && !dropped) return dropped = true;
    return false;
  };
  ASSERT_EQ(sc.b().listen(kPort, 8), Errc::kOk);
  ConnId id;
  ASSERT_EQ(sc.a().connect(memory::sim_addr(1), kPort, &id), Errc::kOk);
  Instant t0 = sc.now();
  sc.settle();
  EXPECT_EQ(sc.a().state(id), State::kEstablished);
  EXPECT_TRUE(sc.accepted[1].empty()) << "the server completed without the final ACK";
  EXPECT_EQ(sc.b().gauges().synrecv, 1u);
  ASSERT_TRUE(sc.run_until([&] { return !sc.accepted[1].empty(); }, Duration::seconds(5)));
  std::vector<Seg> sas = matching(sc, is_synack, 1);
  ASSERT_EQ(sas.size(), 2u) << sc.dump();
  EXPECT_EQ((sas[1].at - t0).us, 1000000) << "SYN-ACK retransmitted after the initial RTO";
  EXPECT_EQ(sas[1].seq, sas[0].seq);
  EXPECT_EQ(sc.b().state(sc.accepted[1][0]), State::kEstablished);
  EXPECT_EQ(sc.now(), sas[1].at) << "established as soon as the client re-ACKs";
  EXPECT_EQ(sc.ctr(1, Counter::TcpRetransSegs), 1u);
  EXPECT_EQ(sc.ctr(1, Counter::TcpPassiveOpens), 1u);
  EXPECT_EQ(sc.a().state(id), State::kEstablished);
  EXPECT_EQ(sc.ctr(0, Counter::TcpOutRsts) + sc.ctr(1, Counter::TcpOutRsts), 0u);
}

TEST(Handshake, LostFinalAckIsMadeUpByFirstData) {
  Scenario sc;
  bool dropped = false;
  sc.drop = [&](const Seg& s) {
    if (s.from == 0 && s.pure_ack() && !dropped) return dropped = true;
    return false;
  };
  ASSERT_EQ(sc.b().listen(kPort, 8), Errc::kOk);
  Endpoint cli;
  cli.side = 0;
  cli.to_send = pattern(100, 7);
  ASSERT_EQ(sc.a().connect(memory::sim_addr(1), kPort, &cli.id), Errc::kOk);
  sc.attach(cli);  // writes on kEvEstablished
  Instant t0 = sc.now();
  ASSERT_TRUE(sc.run_until([&] { return !sc.accepted[1].empty(); }, Duration::seconds(5)));
  EXPECT_TRUE(dropped);
  EXPECT_LT(sc.now() - t0, Duration::millis(1)) << "the data segment's ACK completes the handshake";
  Endpoint srv{1, sc.accepted[1][0]};
  sc.attach(srv);
  srv.pull(sc.b());
  sc.settle();
  EXPECT_TRUE(srv.received == cli.to_send);
  EXPECT_EQ(matching(sc, is_synack, 1).size(), 1u) << "no SYN-ACK retransmission was needed";
  EXPECT_EQ(sc.ctr(1, Counter::TcpRetransSegs), 0u);
}

// RFC 9293 §3.7.1: the effective send MSS is the smaller of the peer's MSS
// option and our own, less the 12 bytes of timestamps on every segment.
TEST(Handshake, SmallerPeerMssLimitsSegmentsBothWays) {
  EngineOptions client = scenario_opts();
  client.tcp.mss = 536;
  Scenario sc(client, scenario_opts());
  Conn c = sc.establish(kPort);
  EXPECT_EQ(sc.trace[0].opt.mss, 536);
  EXPECT_EQ(sc.trace[1].opt.mss, 1460);
  EXPECT_EQ(sc.a().tcb(c.client)->mss, 536);
  EXPECT_EQ(sc.b().tcb(c.server)->mss, 536);
  Transfer t(sc, c, 20000, 20000);
  t.start();
  ASSERT_TRUE(sc.run_until([&] { return t.done(); }, Duration::seconds(10)));
  EXPECT_TRUE(t.server.received == t.client.to_send);
  EXPECT_TRUE(t.client.received == t.server.to_send);
  std::uint32_t biggest[2] = {0, 0};
  for (const Seg& s : sc.trace) biggest[s.from] = std::max(biggest[s.from], s.len);
  EXPECT_EQ(biggest[0], 524u);
  EXPECT_EQ(biggest[1], 524u);
}

TEST(Handshake, SynToClosedPortIsRefused) {
  Scenario sc;
  ConnId id;
  ASSERT_EQ(sc.a().connect(memory::sim_addr(1), 9, &id), Errc::kOk);
  Instant t0 = sc.now();
  sc.settle();
  ASSERT_EQ(sc.trace.size(), 2u) << sc.dump();
  const Seg& syn = sc.trace[0];
  const Seg& rst = sc.trace[1];
  // RFC 9293 §3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
  EXPECT_EQ(rst.from, 1);
  EXPECT_TRUE(rst.is(wire::kRst | wire::kAck));
  EXPECT_EQ(rst.seq.raw(), 0u);
  EXPECT_EQ(rst.ack, syn.seq + 1);
  EXPECT_EQ(sc.closed_error(0, id), Errc::kConnRefused);
  EXPECT_EQ(sc.now(), t0);
  EXPECT_EQ(sc.a().state(id), State::kClosed);
  EXPECT_EQ(sc.ctr(0, Counter::TcpAttemptFails), 1u);
  EXPECT_EQ(sc.ctr(1, Counter::TcpOutRsts), 1u);
  EXPECT_EQ(sc.ctr(1, Counter::TwstackTcpNoListener), 1u);
  EXPECT_EQ(sc.b().connections(), 0u);
  EXPECT_EQ(sc.a().close(id), Errc::kOk);
  EXPECT_EQ(sc.a().gauges().in_use(), 0u);
}

// errc.hh promises EHOSTUNREACH when "ARP never resolved"; Linux fails such
// a connect() with EHOSTUNREACH once neighbour resolution gives up (~3 s),
// not after the whole SYN retry budget.
TEST(Handshake, ConnectToAnAddressNobodyAnswersFailsWithHostUnreach) {
  Scenario sc;
  ConnId id;
  const wire::Ipv4Addr nobody = wire::Ipv4Addr::from_octets(10, 0, 0, 9);
  ASSERT_EQ(sc.a().connect(nobody, kPort, &id), Errc::kOk);
  sc.run_until([&] { return sc.closed_error(0, id).has_value(); }, Duration::seconds(20));
  EXPECT_TRUE(sc.trace.empty()) << "a segment left without a resolved next hop";
  EXPECT_GT(sc.ctr(0, Counter::TwstackArpRequestsOut), 0u);
  EXPECT_EQ(sc.closed_error(0, id), Errc::kHostUnreach)
      << "still " << tcp::to_string(sc.a().state(id).value_or(State::kClosed)) << " after 20 s, "
      << sc.ctr(0, Counter::TwstackArpQueueDrops) << " segments dropped unresolved";
}

TEST(Handshake, SimultaneousOpenReachesEstablishedOnBothSides) {
  Scenario sc;
  const std::uint16_t pa = 40000;
  const std::uint16_t pb = 50000;
  ConnId ia;
  ConnId ib;
  ASSERT_EQ(sc.a().connect(memory::sim_addr(1), pb, &ia, memory::sim_addr(0), pa), Errc::kOk);
  ASSERT_EQ(sc.b().connect(memory::sim_addr(0), pa, &ib, memory::sim_addr(1), pb), Errc::kOk);
  ASSERT_TRUE(sc.run_until(
      [&] { return sc.a().state(ia) == State::kEstablished && sc.b().state(ib) == State::kEstablished; },
      Duration::seconds(10)))
      << sc.dump();
  const tcp::Tcb* ta = sc.a().tcb(ia);
  const tcp::Tcb* tb = sc.b().tcb(ib);
  EXPECT_EQ(ta->irs, tb->iss);
  EXPECT_EQ(tb->irs, ta->iss);
  EXPECT_EQ(ta->snd_una, ta->iss + 1);
  EXPECT_EQ(tb->snd_una, tb->iss + 1);
  EXPECT_EQ(ta->rcv_nxt, tb->snd_nxt);
  EXPECT_EQ(tb->rcv_nxt, ta->snd_nxt);
  EXPECT_TRUE(ta->ts_ok && tb->ts_ok);
  EXPECT_TRUE(ta->wscale_ok && tb->wscale_ok);
  // RFC 9293 figure 8: each side sends SYN, then SYN-ACK, and no reset.
  for (int s = 0; s < 2; ++s) {
    EXPECT_EQ(matching(sc, is_syn, s).size(), 1u);
    EXPECT_EQ(matching(sc, is_synack, s).size(), 1u);
    EXPECT_EQ(sc.ctr(s, Counter::TcpActiveOpens), 1u);
    EXPECT_EQ(sc.ctr(s, Counter::TcpPassiveOpens), 0u);
    EXPECT_EQ(sc.ctr(s, Counter::TcpOutRsts), 0u);
  }
  EXPECT_TRUE(sc.first_event(0, ia, tcp::kEvEstablished).has_value());
  EXPECT_TRUE(sc.first_event(1, ib, tcp::kEvEstablished).has_value());
  // And the connection carries data both ways.
  Transfer t(sc, Conn{ia, ib}, 5000, 7000);
  t.start();
  ASSERT_TRUE(sc.run_until([&] { return t.done(); }, Duration::seconds(10)));
  EXPECT_TRUE(t.server.received == t.client.to_send);
  EXPECT_TRUE(t.client.received == t.server.to_send);
}

TEST(Handshake, TimestampsOffOnServerAreNotNegotiated) {
  EngineOptions server = scenario_opts();
  server.tcp.timestamps = 0;  // net.ipv4.tcp_timestamps=0
  Scenario sc(scenario_opts(), server);
  Conn c = sc.establish(kPort);
  ASSERT_GE(sc.trace.size(), 3u);
  EXPECT_TRUE(sc.trace[0].opt.has_timestamps) << "the client still offers them";
  EXPECT_FALSE(sc.trace[1].opt.has_timestamps) << "SYN-ACK must not carry TS";
  EXPECT_FALSE(sc.a().tcb(c.client)->ts_ok);
  EXPECT_FALSE(sc.b().tcb(c.server)->ts_ok);
  Transfer t(sc, c, 20000, 20000);
  t.start();
  ASSERT_TRUE(sc.run_until([&] { return t.done(); }, Duration::seconds(10)));
  EXPECT_TRUE(t.server.received == t.client.to_send);
  EXPECT_TRUE(t.client.received == t.server.to_send);
  std::uint32_t biggest = 0;
  for (std::size_t i = 1; i < sc.trace.size(); ++i) {
    EXPECT_FALSE(sc.trace[i].opt.has_timestamps) << describe(sc.trace[i]);
    biggest = std::max(biggest, sc.trace[i].len);
  }
  EXPECT_EQ(biggest, 1460u) << "without timestamps a full segment carries the whole MSS";
}

TEST(Handshake, TimestampsOffOnClientAreNotNegotiated) {
  EngineOptions client = scenario_opts();
  client.tcp.timestamps = 0;
  Scenario sc(client, scenario_opts());
  Conn c = sc.establish(kPort);
  EXPECT_FALSE(sc.trace[0].opt.has_timestamps);
  EXPECT_FALSE(sc.trace[1].opt.has_timestamps);
  EXPECT_FALSE(sc.a().tcb(c.client)->ts_ok);
  EXPECT_FALSE(sc.b().tcb(c.server)->ts_ok);
}

TEST(Handshake, WindowScalingOffOnServerDisablesItBothWays) {
  EngineOptions server = scenario_opts();
  server.tcp.window_scaling = false;
  Scenario sc(scenario_opts(), server);
  Conn c = sc.establish(kPort);
  EXPECT_TRUE(sc.trace[0].opt.has_wscale);
  EXPECT_FALSE(sc.trace[1].opt.has_wscale);
  // RFC 7323 §2.2: both shifts are zero unless both sides sent the option.
  for (const tcp::Tcb* t : {sc.a().tcb(c.client), sc.b().tcb(c.server)}) {
    EXPECT_FALSE(t->wscale_ok);
    EXPECT_EQ(t->snd_wscale, 0);
    EXPECT_EQ(t->rcv_wscale, 0);
  }
}

}  // namespace
}  // namespace twstack
