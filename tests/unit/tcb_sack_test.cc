// Selective acknowledgment on one connection without an engine: the
// SACK-permitted option in the handshake (RFC 2018 §2), the blocks a
// receiver reports (RFC 2018 §4, Linux tcp_sack_new_ofo_skb), D-SACK
// (RFC 2883, Linux tcp_dsack_set), and the sender's scoreboard with
// SACK-based loss recovery (RFC 6675). The test plays the peer.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

using tcp::State;
constexpr Seq kNext = LoneTcb::kIrs + 1;  // RCV.NXT after the handshake
constexpr std::uint32_t kMss = 1460;      // no timestamps: the whole MSS

tcp::TcpParams params(bool ts = false) {
  tcp::TcpParams p(StackConfig{});
  p.timestamps = ts ? 1 : 0;
  return p;
}

PeerSyn sack_syn() {
  PeerSyn s;
  s.sack_permitted = true;
  return s;
}

wire::SackBlock block(Seq b, Seq e) { return wire::SackBlock{b.raw(), e.raw()}; }

std::vector<wire::SackBlock> blocks_of(const SentSegment& s) {
  return {s.opt.sack.begin(), s.opt.sack.begin() + s.opt.sack_count};
}

// --- the handshake

TEST(TcbSack, SynOffersSackPermittedWithTimestampsInLinuxOrder) {
  LoneTcb c(params(true));
  const SentSegment syn = c.connect();
  EXPECT_TRUE(syn.opt.sack_permitted);
  // Linux tcp_options_write: MSS, then SACK-permitted folded with the
  // timestamps (sackOK,TS val ecr), then nop, wscale.
  std::uint8_t b[40];
  const std::size_t n = wire::write_tcp_options(b, syn.opt);
  ASSERT_EQ(n, 20u);
  const std::vector<std::uint8_t> head(b, b + 4), mid(b + 4, b + 8), tail(b + 16, b + 19);
  EXPECT_EQ(head, (std::vector<std::uint8_t>{2, 4, 0x05, 0xb4}));
  EXPECT_EQ(mid, (std::vector<std::uint8_t>{4, 2, 8, 10}));
  EXPECT_EQ(tail, (std::vector<std::uint8_t>{1, 3, 3}));
}

TEST(TcbSack, Knob0NeitherOffersNorAccepts) {
  tcp::TcpParams p = params();
  p.sack = false;
  LoneTcb a(p);
  EXPECT_FALSE(a.connect().opt.sack_permitted);
  LoneTcb b(p);
  EXPECT_FALSE(b.open(sack_syn()).opt.sack_permitted);
  EXPECT_FALSE(b.tcb.sack.ok);
}

TEST(TcbSack, SynAckCarriesSackPermittedOnlyWhenOffered) {
  LoneTcb a(params());
  EXPECT_TRUE(a.open(sack_syn()).opt.sack_permitted);
  EXPECT_TRUE(a.tcb.sack.ok);
  LoneTcb b(params());
  EXPECT_FALSE(b.open(PeerSyn{}).opt.sack_permitted);
  EXPECT_FALSE(b.tcb.sack.ok);
}

// --- the receiver's blocks

class SackReceiver : public ::testing::Test {
 protected:
  explicit SackReceiver(bool ts = false) : c(params(ts)) {
    PeerSyn s = sack_syn();
    if (ts) s.tsval = 100;
    c.establish(s);
    // Past the quick ACKs of a connection's start, so that in-order data
    // waits for the delayed ACK as the cases below assume.
    c.leave_quickack();
  }
  // `len` bytes at kNext + off; returns the one ACK it draws.
  SentSegment data_at(std::uint32_t off, std::uint32_t len) {
    const std::vector<std::uint8_t> d(len, 0x5a);
    c.receive(kNext + off, d);
    auto out = c.sent();
    EXPECT_EQ(out.size(), 1u);
    return out.empty() ? SentSegment{} : out[0];
  }
  LoneTcb c;
};

TEST_F(SackReceiver, OutOfOrderDataIsReportedMostRecentFirst) {
  EXPECT_EQ(blocks_of(data_at(1000, 100)), (std::vector{block(kNext + 1000, kNext + 1100)}));
  EXPECT_EQ(blocks_of(data_at(3000, 100)),
            (std::vector{block(kNext + 3000, kNext + 3100), block(kNext + 1000, kNext + 1100)}));
  // Extending the older block moves it to the front (tcp_sack_new_ofo_skb).
  EXPECT_EQ(blocks_of(data_at(1100, 100)),
            (std::vector{block(kNext + 1000, kNext + 1200), block(kNext + 3000, kNext + 3100)}));
  // Filling the gap between them coalesces the two (tcp_sack_maybe_coalesce).
  EXPECT_EQ(blocks_of(data_at(1200, 1800)), (std::vector{block(kNext + 1000, kNext + 3100)}));
  // In-order data up to the block removes it (tcp_sack_remove).
  const SentSegment in_order = data_at(0, 1000);
  EXPECT_EQ(in_order.ack, kNext + 3100);
  EXPECT_EQ(in_order.opt.sack_count, 0);
}

TEST_F(SackReceiver, KeepsFourBlocksForgettingTheOldest) {
  for (std::uint32_t i = 1; i <= 5; ++i) data_at(i * 1000, 100);
  EXPECT_EQ(c.tcb.sack.num_rcv, 4);
  EXPECT_EQ(blocks_of(data_at(6000, 100)),
            (std::vector{block(kNext + 6000, kNext + 6100), block(kNext + 5000, kNext + 5100),
                         block(kNext + 4000, kNext + 4100), block(kNext + 3000, kNext + 3100)}));
}

class SackReceiverTs : public SackReceiver {
 protected:
  SackReceiverTs() : SackReceiver(true) {}
};

TEST_F(SackReceiverTs, SendsThreeBlocksBesideTimestamps) {
  for (std::uint32_t i = 1; i <= 3; ++i) data_at(i * 1000, 100);
  const SentSegment ack = data_at(4000, 100);
  EXPECT_TRUE(ack.opt.has_timestamps);
  EXPECT_EQ(blocks_of(ack),
            (std::vector{block(kNext + 4000, kNext + 4100), block(kNext + 3000, kNext + 3100),
                         block(kNext + 2000, kNext + 2100)}));
}

TEST_F(SackReceiver, OldDuplicateIsReportedOnceAsDsack) {
  const std::vector<std::uint8_t> d(100, 0x5a);
  c.receive(kNext, d);  // in order: its ACK is delayed
  const SentSegment dup = data_at(0, 100);
  EXPECT_EQ(blocks_of(dup), (std::vector{block(kNext, kNext + 100)}));
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPDSACKOldSent), 1u);
  // RFC 2883 §4 (1): once only; the next ACK carries none.
  EXPECT_EQ(data_at(1000, 100).opt.sack_count, 1);
}

TEST_F(SackReceiver, PartialDuplicateReportsThePartBelowRcvNxt) {
  const std::vector<std::uint8_t> first(100, 0x5a);
  c.receive(kNext, first);
  const std::vector<std::uint8_t> d(200, 0x5a);
  c.receive(kNext, d);  // 100 old bytes, 100 new
  c.tcb.ack_pending = true;
  c.flush();
  auto out = c.sent();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(blocks_of(out.back()), (std::vector{block(kNext, kNext + 100)}));
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPDSACKOldSent), 1u);
}

TEST_F(SackReceiver, DuplicateOfHeldDataIsDsackFirstThenTheBlock) {
  data_at(1000, 100);
  const SentSegment dup = data_at(1000, 100);
  EXPECT_EQ(blocks_of(dup),
            (std::vector{block(kNext + 1000, kNext + 1100), block(kNext + 1000, kNext + 1100)}));
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPDSACKOfoSent), 1u);
}

TEST(TcbSack, DsackKnob0ReportsNoDuplicates) {
  tcp::TcpParams p = params();
  p.dsack = false;
  LoneTcb c(p);
  c.establish(sack_syn());
  const std::vector<std::uint8_t> d(100, 1);
  c.receive(kNext + 1000, d);
  c.receive(kNext + 1000, d);
  auto out = c.sent();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].opt.sack_count, 1);
  EXPECT_EQ(c.counters().get(Counter::TcpExtTCPDSACKOfoSent), 0u);
}

}  // namespace
}  // namespace twstack::test
