// Regressions found by the transfer demo, as minimal engine-level cases.
#include <gtest/gtest.h>

#include <vector>

#include "stack/base/bytes.hh"
#include "tests/support/pair.hh"

namespace twstack {
namespace {

std::size_t tcp_payload(const test::Captured& f) {
  const std::uint8_t* ip = f.bytes.data() + 14;
  if (f.bytes.size() < 54 || f.bytes[12] != 0x08 || f.bytes[13] != 0x00) return 0;
  return load_be16(ip + 2) - (ip[0] & 0xf) * 4u - (ip[20 + 12] >> 4) * 4u;
}

// After an RTO rewinds SND.NXT, a bare ACK must still carry the highest
// sequence sent: both sides had rewound below the other's RCV.NXT, their
// ACKs failed the zero-length acceptability test, and nothing moved again.
TEST(TcpRegress, BothSidesRtoWithDataAlreadyReceivedRecovers) {
  // The RTO itself, not a tail loss probe before it (RFC 8985 §7).
  engine::EngineOptions o = test::small_opts();
  o.tcp.early_retrans = 0;
  test::DirectPair p(o, o);
  auto est = p.establish();
  ASSERT_TRUE(est);
  auto [c, s] = *est;
  p.advance(Duration::millis(100));
  std::vector<std::uint8_t> data(3 * 1448, 0x5a);
  Errc err;
  ASSERT_EQ(p.a().send(c, data, &err), data.size());
  ASSERT_EQ(p.b().send(s, data, &err), data.size());
  int phase = 0;  // 0: only data passes, 1: nothing passes, 2: everything passes
  p.filter = [&](const test::Captured& f) { return phase == 2 || (phase == 0 && tcp_payload(f) > 0); };
  p.settle();
  phase = 1;
  p.advance(Duration::millis(1100));
  ASSERT_GE(p.a().counters().get(Counter::TcpExtTCPTimeouts), 1u);
  ASSERT_GE(p.b().counters().get(Counter::TcpExtTCPTimeouts), 1u);
  phase = 2;
  p.advance(Duration::seconds(30));
  EXPECT_EQ(p.a().tcb(c)->snd_una, p.a().tcb(c)->snd_max);
  EXPECT_EQ(p.b().tcb(s)->snd_una, p.b().tcb(s)->snd_max);
}

// An RTO retransmission is not subject to Nagle or sender SWS avoidance:
// a segment sized to a small window, once lost, used to be held back on
// every timeout because it was neither full nor half the largest window.
TEST(TcpRegress, RetransmissionIgnoresNagleWithSmallWindow) {
  engine::EngineOptions small = test::small_opts();
  small.tcp.rcvbuf = 8192;
  // Small Linux buffers too, so the window is not scaled (a shift would
  // round the 952 bytes below down), and large enough that the ring's 8192
  // bytes, not the MSS-rounded tcp_full_space (8688), bound the first window.
  small.tcp.rmem = BufSizes{4096, 18000, 18000};
  small.tcp.rmem_max = 18000;
  test::DirectPair p(test::small_opts(), small);
  auto est = p.establish();
  ASSERT_TRUE(est);
  auto [c, s] = *est;
  p.advance(Duration::millis(100));
  // The server does not read yet: 5 full segments leave a 952-byte window.
  std::vector<std::uint8_t> data(5 * 1448, 1);
  Errc err;
  ASSERT_EQ(p.a().send(c, data, &err), data.size());
  p.advance(Duration::millis(100));
  ASSERT_EQ(p.a().tcb(c)->snd_wnd, 8192u - 5 * 1448);
  // Lose every server ACK that covers the small segment sent next.
  Seq limit = p.a().tcb(c)->snd_max + 1;
  bool dropping = true;
  p.filter = [&](const test::Captured& f) {
    if (!dropping || f.from != 1 || f.bytes.size() < 54) return true;
    return Seq(load_be32(f.bytes.data() + 14 + 20 + 8)) < limit;
  };
  std::vector<std::uint8_t> more(8192, 2);
  ASSERT_EQ(p.a().send(c, more, &err), more.size());
  p.advance(Duration::millis(1500));  // persist sends 952 bytes; its ACK is lost; RTOs
  ASSERT_GE(p.a().counters().get(Counter::TcpExtTCPTimeouts), 1u);
  EXPECT_GE(p.a().counters().get(Counter::TcpRetransSegs), 1u);
  dropping = false;
  std::uint8_t buf[16384];
  std::size_t got = 0;
  for (int i = 0; i < 60000 && got < data.size() + more.size(); ++i) {
    while (std::uint32_t n = p.b().recv(s, buf)) got += n;
    p.advance(Duration::millis(1));
  }
  EXPECT_EQ(got, data.size() + more.size());
  p.advance(Duration::millis(100));  // the last (delayed) ACK
  EXPECT_EQ(p.a().tcb(c)->snd_una, p.a().tcb(c)->snd_max);
}

}  // namespace
}  // namespace twstack
