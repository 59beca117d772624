// Resets and hostile input: RFC 5961 (challenge ACKs for in-window RSTs and
// SYNs, exact RSTs only, rate limits), RFC 9293 §3.10.7.1 resets for
// segments without a connection, and malformed frames that must be counted
// and must not touch any connection.
#include <gtest/gtest.h>

#include "scenario.hh"

namespace twstack {
namespace {

using namespace scenario;

struct Fixture {
  Scenario sc;
  Conn c;
  Endpoint srv;

  explicit Fixture(const EngineOptions& server = scenario_opts()) : sc(scenario_opts(), server) {
    c = sc.establish();
    srv = Endpoint{1, c.server};
    sc.attach(srv);
  }
  const tcp::Tcb& server_tcb() { return *sc.b().tcb(c.server); }
  // A segment to the server as the client would send it (SEQ = RCV.NXT).
  SegSpec to_server(std::uint8_t flags, std::int32_t seq_offset = 0) {
    SegSpec s = sc.from_peer(1, c.server);
    s.flags = flags;
    s.seq = s.seq + static_cast<std::uint32_t>(seq_offset);
    return s;
  }
  // Injects a frame into the server; returns what the server sent in reply.
  std::vector<Seg> inject(const std::vector<std::uint8_t>& frame) {
    const std::size_t mark = sc.trace.size();
    sc.inject(1, frame);
    sc.settle();
    return sc.sent_by(1, mark);
  }
  std::uint32_t rcv_wnd() { return static_cast<std::uint32_t>(server_tcb().rcv_adv - server_tcb().rcv_nxt); }
};

void expect_challenge_ack(const std::vector<Seg>& out, const tcp::Tcb& t) {
  ASSERT_EQ(out.size(), 1u);
  // RFC 5961 §3.2: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
  EXPECT_TRUE(out[0].pure_ack()) << describe(out[0]);
  EXPECT_EQ(out[0].seq, t.snd_nxt);
  EXPECT_EQ(out[0].ack, t.rcv_nxt);
}

TEST(Rst, InWindowResetWithWrongSeqDrawsChallengeAck) {
  Fixture f;
  ASSERT_GT(f.rcv_wnd(), 1000u);
  std::vector<Seg> out = f.inject(build_frame(f.to_server(wire::kRst, 1000)));
  expect_challenge_ack(out, f.server_tcb());
  EXPECT_EQ(f.sc.ctr(1, Counter::TcpExtTCPChallengeACK), 1u);
  EXPECT_EQ(f.sc.b().state(f.c.server), State::kEstablished);
  EXPECT_FALSE(f.srv.closed.has_value());
  EXPECT_EQ(f.sc.ctr(1, Counter::TcpEstabResets), 0u);
  // RST|ACK is treated the same way.
  f.sc.advance(Duration::seconds(1));  // past the challenge ACK rate limit
  out = f.inject(build_frame(f.to_server(wire::kRst | wire::kAck, 1)));
  expect_challenge_ack(out, f.server_tcb());
  EXPECT_EQ(f.sc.b().state(f.c.server), State::kEstablished);
}

TEST(Rst, ExactResetResetsTheConnection) {
  Fixture f;
  std::vector<Seg> out = f.inject(build_frame(f.to_server(wire::kRst)));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(f.srv.closed, Errc::kConnReset);
  EXPECT_EQ(f.sc.b().state(f.c.server), State::kClosed);
  EXPECT_EQ(f.sc.ctr(1, Counter::TcpEstabResets), 1u);
  EXPECT_EQ(f.sc.ctr(1, Counter::TcpExtTCPChallengeACK), 0u);
}

TEST(Rst, OutOfWindowResetIsIgnoredSilently) {
  Fixture f;
  const Seq rcv_nxt = f.server_tcb().rcv_nxt;
  const Seq snd_una = f.server_tcb().snd_una;
  for (std::int32_t off : {-1, -100000, static_cast<std::int32_t>(f.rcv_wnd()), 0x40000000}) {
    SCOPED_TRACE(off);
    std::vector<Seg> out = f.inject(build_frame(f.to_server(wire::kRst, off)));
    EXPECT_TRUE(out.empty()) << describe(out[0]);
  }
  EXPECT_EQ(f.sc.b().state(f.c.server), State::kEstablished);
  EXPECT_FALSE(f.srv.closed.has_value());
  EXPECT_EQ(f.sc.ctr(1, Counter::TcpExtTCPChallengeACK), 0u);
  EXPECT_EQ(f.server_tcb().rcv_nxt, rcv_nxt);
  EXPECT_EQ(f.server_tcb().snd_una, snd_una);
}

TEST(Rst, SynOnEstablishedConnectionDrawsChallengeAck) {
  Fixture f;
  const Seq rcv_nxt = f.server_tcb().rcv_nxt;
  std::vector<Seg> out = f.inject(build_frame(f.to_server(wire::kSyn, 10)));
  expect_challenge_ack(out, f.server_tcb());
  EXPECT_EQ(f.sc.ctr(1, Counter::TcpExtTCPSYNChallenge), 1u);
  EXPECT_EQ(f.sc.ctr(1, Counter::TcpExtTCPChallengeACK), 1u);
  EXPECT_EQ(f.sc.b().state(f.c.server), State::kEstablished);
  EXPECT_EQ(f.server_tcb().rcv_nxt, rcv_nxt);
  EXPECT_FALSE(f.srv.closed.has_value());
  EXPECT_EQ(f.sc.ctr(1, Counter::TcpOutRsts), 0u);
}

// RFC 5961 §4.2: "If the SYN bit is set, irrespective of the sequence
// number, TCP MUST send an ACK"; Linux counts both cases in TCPSYNChallenge
// (tcp_validate_incoming, label syn_challenge).
TEST(Rst, SynOutsideTheWindowAlsoDrawsCountedChallengeAck) {
  Fixture f;
  std::vector<Seg> out = f.inject(build_frame(f.to_server(wire::kSyn, 0x20000000)));
  expect_challenge_ack(out, f.server_tcb());
  EXPECT_EQ(f.sc.b().state(f.c.server), State::kEstablished);
  EXPECT_EQ(f.sc.ctr(1, Counter::TcpExtTCPChallengeACK), 1u);
  EXPECT_EQ(f.sc.ctr(1, Counter::TcpExtTCPSYNChallenge), 1u)
      << "a SYN outside the window was challenged but not counted in TcpExtTCPSYNChallenge";
}

TEST(Rst, ChallengeAcksAreRateLimitedPerInvalidRatelimit) {
  Fixture f;  // net.ipv4.tcp_invalid_ratelimit = 500 ms
  auto bad_rst = [&] { return f.inject(build_frame(f.to_server(wire::kRst, 100))); };
  EXPECT_EQ(bad_rst().size(), 1u);
  f.sc.advance(Duration::millis(100));
  EXPECT_TRUE(bad_rst().empty());
  f.sc.advance(Duration::millis(300));
  EXPECT_TRUE(bad_rst().empty());
  auto syn = f.inject(build_frame(f.to_server(wire::kSyn, 5)));
  EXPECT_TRUE(syn.empty()) << "SYN challenges share the limit";
  f.sc.advance(Duration::millis(100));  // 500 ms after the first
  EXPECT_EQ(bad_rst().size(), 1u);
  EXPECT_EQ(f.sc.ctr(1, Counter::TcpExtTCPChallengeACK), 2u);
  EXPECT_EQ(f.sc.b().state(f.c.server), State::kEstablished);
}

TEST(Rst, ChallengeAckRateFollowsTheSysctl) {
  EngineOptions o = scenario_opts();
  o.tcp.invalid_ratelimit = Duration::millis(2000);
  Fixture f(o);
  auto bad_rst = [&] { return f.inject(build_frame(f.to_server(wire::kRst, 100))); };
  EXPECT_EQ(bad_rst().size(), 1u);
  f.sc.advance(Duration::millis(1999));
  EXPECT_TRUE(bad_rst().empty());
  f.sc.advance(Duration::millis(1));
  EXPECT_EQ(bad_rst().size(), 1u);
}

// RFC 5961 §5.2 data with an ACK below SND.UNA - MAX.SND.WND draws a
// challenge ACK, and §7 throttles challenge ACKs. Linux
// tcp_send_challenge_ack() applies the per-socket limit to every challenge
// (__tcp_oow_rate_limited, no exemption for data): otherwise each blind
// in-window data segment is reflected as an ACK.
TEST(Rst, ChallengeAcksForBadAckDataAreRateLimitedToo) {
  Fixture f;
  const tcp::Tcb& t = f.server_tcb();
  std::size_t replies = 0;
  for (int i = 0; i < 5; ++i) {
    SegSpec s = f.to_server(wire::kAck | wire::kPsh);
    s.ack = t.snd_una - (t.max_snd_wnd + 100000);
    s.payload = pattern(100, static_cast<std::uint32_t>(i));
    replies += f.inject(build_frame(s)).size();
    f.sc.advance(Duration::millis(20));
  }
  EXPECT_TRUE(f.srv.received.empty()) << "data with an unacceptable ACK was delivered";
  EXPECT_EQ(f.sc.b().state(f.c.server), State::kEstablished);
  EXPECT_EQ(replies, 1u) << "5 blind data segments in 100 ms drew " << replies << " challenge ACKs";
  EXPECT_EQ(f.sc.ctr(1, Counter::TcpExtTCPChallengeACK), 1u);
}

TEST(Rst, SegmentForNoConnectionGetsResetInBothForms) {
  Scenario sc;
  ASSERT_EQ(sc.b().listen(80, 8), Errc::kOk);
  SegSpec s;
  s.src_mac = memory::sim_mac(0);
  s.dst_mac = memory::sim_mac(1);
  s.src = memory::sim_addr(0);
  s.dst = memory::sim_addr(1);
  s.sport = 41000;
  s.dport = 81;  // nobody listens
  s.seq = Seq(0x12345678);
  s.ack = Seq(0x9abcdef0);
  s.payload = pattern(10, 1);
  auto reply = [&](const SegSpec& spec) {
    const std::size_t mark = sc.trace.size();
    sc.inject(1, build_frame(spec));
    sc.settle();
    return sc.sent_by(1, mark);
  };

  // With ACK: <SEQ=SEG.ACK><CTL=RST>.
  s.flags = wire::kAck | wire::kPsh;
  std::vector<Seg> out = reply(s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].is(wire::kRst)) << describe(out[0]);
  EXPECT_EQ(out[0].seq, s.ack);
  EXPECT_EQ(out[0].sport, 81);
  EXPECT_EQ(out[0].dport, 41000);
  EXPECT_EQ(out[0].dst, memory::sim_addr(0));
  EXPECT_EQ(out[0].len, 0u);

  // Without ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, SEG.LEN counting the FIN.
  s.flags = wire::kFin;
  out = reply(s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].is(wire::kRst | wire::kAck)) << describe(out[0]);
  EXPECT_EQ(out[0].seq.raw(), 0u);
  EXPECT_EQ(out[0].ack, s.seq + 11);

  // A listening port answers a stray ACK the same way (§3.10.7.2).
  s.dport = 80;
  s.flags = wire::kAck;
  s.payload.clear();
  out = reply(s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].is(wire::kRst));
  EXPECT_EQ(out[0].seq, s.ack);
  EXPECT_EQ(sc.b().connections(), 0u);

  // A reset is never answered.
  s.dport = 81;
  s.flags = wire::kRst;
  EXPECT_TRUE(reply(s).empty());
  s.flags = wire::kRst | wire::kAck;
  EXPECT_TRUE(reply(s).empty());
  EXPECT_EQ(sc.ctr(1, Counter::TcpOutRsts), 3u);
}

TEST(Rst, ResetInSynSentNeedsAnAcceptableAck) {
  Scenario sc;
  sc.drop = [](const Seg&) { return true; };  // the SYN goes nowhere
  ConnId id;
  ASSERT_EQ(sc.a().connect(memory::sim_addr(1), 80, &id), Errc::kOk);
  sc.settle();
  const tcp::Tcb* t = sc.a().tcb(id);
  SegSpec s = sc.from_peer(0, id);
  s.seq = Seq(777);
  // RFC 9293 §3.10.7.3: a RST without ACK, or whose ACK does not cover the
  // SYN, is dropped.
  s.flags = wire::kRst;
  sc.inject(0, build_frame(s));
  s.flags = wire::kRst | wire::kAck;
  s.ack = t->iss + 5;
  sc.inject(0, build_frame(s));
  s.ack = t->iss;
  sc.inject(0, build_frame(s));
  sc.settle();
  EXPECT_EQ(sc.a().state(id), State::kSynSent);
  EXPECT_EQ(sc.ctr(0, Counter::TcpOutRsts), 0u);
  s.ack = t->iss + 1;
  sc.inject(0, build_frame(s));
  sc.settle();
  EXPECT_EQ(sc.closed_error(0, id), Errc::kConnRefused);
}

// Each malformed variant of a frame that would reset the connection (an
// exact RST) is dropped, counted under its reason, and changes nothing.
TEST(Rst, MalformedInputIsCountedAndChangesNothing) {
  Fixture f;
  const std::vector<std::uint8_t> good = build_frame(f.to_server(wire::kRst));
  auto with_options = [&](std::vector<std::uint8_t> opts) {
    SegSpec s = f.to_server(wire::kRst);
    s.options = std::move(opts);
    return build_frame(s);
  };
  struct Case {
    const char* name;
    std::vector<std::uint8_t> frame;
    Counter counter;
  };
  std::vector<Case> cases;
  {
    std::vector<std::uint8_t> v = good;
    v[kEth + kIp + 16] ^= 0x5a;  // TCP checksum
    cases.push_back({"bad TCP checksum", v, Counter::TcpInCsumErrors});
  }
  {
    std::vector<std::uint8_t> v = good;
    v[kEth + 2] = 0;
    v[kEth + 3] = static_cast<std::uint8_t>(kIp + 12);  // only 12 bytes of TCP header
    refresh_ip_checksum(v);
    cases.push_back({"truncated TCP header", v, Counter::TcpInErrs});
  }
  {
    std::vector<std::uint8_t> v = good;
    v[kEth + kIp + 12] = 0xf0;  // data offset 60 bytes in a 20-byte segment
    cases.push_back({"data offset past the end", v, Counter::TcpInErrs});
  }
  cases.push_back({"timestamp option of length 3", with_options({8, 3, 0, 0}), Counter::TwstackTcpBadOptions});
  cases.push_back({"option length 0", with_options({1, 1, 30, 0}), Counter::TwstackTcpBadOptions});
  cases.push_back({"option running past the header", with_options({1, 1, 2, 8}), Counter::TwstackTcpBadOptions});
  {
    std::vector<std::uint8_t> v = good;
    v[kEth + 6] = 0x20;  // MF: the first fragment of a datagram
    refresh_ip_checksum(v);
    cases.push_back({"IPv4 fragment", v, Counter::IpReasmFails});
  }
  {
    std::vector<std::uint8_t> v = good;
    v[kEth + 10] ^= 0xff;
    cases.push_back({"bad IPv4 checksum", v, Counter::IpInHdrErrors});
  }
  const Seq rcv_nxt = f.server_tcb().rcv_nxt;
  const Seq snd_una = f.server_tcb().snd_una;
  const std::uint32_t ts_recent = f.server_tcb().ts_recent;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::uint64_t n = f.sc.ctr(1, c.counter);
    std::vector<Seg> out = f.inject(c.frame);
    EXPECT_EQ(f.sc.ctr(1, c.counter), n + 1);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(f.sc.b().state(f.c.server), State::kEstablished);
    EXPECT_EQ(f.server_tcb().rcv_nxt, rcv_nxt);
    EXPECT_EQ(f.server_tcb().snd_una, snd_una);
    EXPECT_EQ(f.server_tcb().ts_recent, ts_recent);
    EXPECT_FALSE(f.srv.closed.has_value());
  }
  EXPECT_EQ(f.sc.ctr(1, Counter::TcpEstabResets), 0u);
  // The unharmed frame does reset: the variants above were dropped, not ignored.
  EXPECT_TRUE(f.inject(good).empty());
  EXPECT_EQ(f.srv.closed, Errc::kConnReset);
}

TEST(Rst, CorruptDataIsNeitherDeliveredNorAcknowledged) {
  Fixture f;
  SegSpec s = f.to_server(wire::kAck | wire::kPsh);
  s.payload = pattern(200, 3);
  std::vector<std::uint8_t> v = build_frame(s);
  v[kEth + kIp + 20 + 50] ^= 0x01;  // one payload bit
  std::vector<Seg> out = f.inject(v);
  f.sc.advance(Duration::millis(100));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(f.srv.received.empty());
  EXPECT_EQ(f.sc.ctr(1, Counter::TcpInCsumErrors), 1u);
  // The intact copy is taken.
  f.inject(build_frame(s));
  EXPECT_TRUE(f.srv.received == s.payload);
}

}  // namespace
}  // namespace twstack
