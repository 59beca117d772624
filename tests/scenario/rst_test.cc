// Resets and hostile input at the engine: RFC 9293 §3.10.7.1 resets for
// segments without a connection, and malformed frames that must be counted
// and must not touch any connection. How one connection answers RSTs and
// SYNs (RFC 5961) is tests/unit/tcb_rst_test.cc.
#include <gtest/gtest.h>

#include "scenario.hh"

namespace twstack {
namespace {

using namespace scenario;

struct Fixture {
  Scenario sc;
  Conn c;
  Endpoint srv;

  Fixture() {
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
};

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
