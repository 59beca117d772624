// Slow start after idle (net.ipv4.tcp_slow_start_after_idle, RFC 2861 §3,
// RFC 5681 §4.1): Linux tcp_slow_start_after_idle_check and
// tcp_cwnd_restart, as the slow_start packetdrill scripts
// slow-start-after-idle.pkt and slow-start-after-win-update.pkt see them,
// and CUBIC's epoch shift when sending resumes (cubictcp_cwnd_event,
// CA_EVENT_TX_START).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

constexpr std::uint32_t kMss = 1000;  // the peer's MSS option; no timestamps
constexpr Seq kNext = LoneTcb::kIrs + 1;

class TcbIdle : public ::testing::Test {
 protected:
  explicit TcbIdle(bool after_idle = true, bool cubic = false) : c_(params(after_idle, cubic)) {
    PeerSyn syn;
    syn.mss = kMss;
    c_.establish(syn);
  }
  static tcp::TcpParams params(bool after_idle, bool cubic) {
    tcp::TcpParams p(StackConfig{});
    p.timestamps = 0;
    p.cubic = cubic;
    p.slow_start_after_idle = after_idle;
    return p;
  }
  // Writes `n` bytes; returns the bytes that went out at once.
  std::uint32_t write(std::uint32_t n) {
    const std::vector<std::uint8_t> data(n, 0x5a);
    c_.send(data);
    return sent_bytes();
  }
  std::uint32_t sent_bytes() {
    std::uint32_t out = 0;
    for (const auto& s : c_.sent()) out += static_cast<std::uint32_t>(s.payload.size());
    return out;
  }
  // The peer ACKs the first `upto` bytes of data.
  void ack(std::uint32_t upto) { c_.receive_acking(c_.tcb.iss + 1 + upto, kNext, {}); }
  std::uint32_t cwnd_segs() const { return c_.tcb.cwnd / kMss; }
  // The scripts' first two round trips: 26000 bytes out, cwnd 36, all ACKed.
  void grow_to_36() {
    ASSERT_EQ(write(26000), 10000u);
    c_.advance(Duration::millis(100));
    ack(10000);
    ASSERT_EQ(sent_bytes(), 16000u);
    c_.advance(Duration::millis(100));
    ack(26000);
    ASSERT_EQ(cwnd_segs(), 36u);
  }

  LoneTcb c_;
};

// slow-start-after-idle.pkt: 2 s idle is several RTOs: cwnd 36 halves to 18,
// then 9, and the initial window (10) is the floor; ssthresh keeps 3/4 of
// the old cwnd (tcp_current_ssthresh).
TEST_F(TcbIdle, AWriteAfterIdleRestartsFromTheInitialWindow) {
  grow_to_36();
  c_.advance(Duration::seconds(2));
  EXPECT_EQ(write(20000), 10000u);
  EXPECT_EQ(cwnd_segs(), 10u);
  EXPECT_EQ(c_.tcb.ssthresh, 0xffffffffu);
}

// tcp_current_ssthresh: a lower ssthresh is raised to 3/4 of the cwnd given up.
TEST_F(TcbIdle, SsthreshKeepsThreeQuartersOfTheWindow) {
  grow_to_36();
  c_.tcb.ssthresh = 20 * kMss;
  c_.advance(Duration::seconds(2));
  EXPECT_EQ(write(20000), 10000u);
  EXPECT_EQ(c_.tcb.ssthresh, 27u * kMss);
}

// tcp_cwnd_restart halves once per RTO of idle time beyond the first.
TEST_F(TcbIdle, CwndHalvesOncePerRtoOfIdle) {
  grow_to_36();
  const std::int64_t rto = c_.tcb.rto_us;
  c_.advance(Duration::micros(rto + rto / 2));
  EXPECT_EQ(write(40000), 18000u);
  EXPECT_EQ(cwnd_segs(), 18u);
}

// Idle for no more than an RTO since data was last sent: nothing changes.
TEST_F(TcbIdle, AnRtoIsNotIdle) {
  grow_to_36();
  c_.set_now(Instant{c_.tcb.lsndtime_us + c_.tcb.rto_us});
  EXPECT_EQ(write(40000), 36000u);
  EXPECT_EQ(cwnd_segs(), 36u);
}

// Data in flight: the connection is not idle, however long ago it sent.
TEST_F(TcbIdle, DataInFlightIsNotIdle) {
  grow_to_36();
  ASSERT_EQ(write(1000), 1000u);
  c_.advance(Duration::seconds(2));
  EXPECT_EQ(write(40000), 35000u);
  EXPECT_EQ(cwnd_segs(), 36u);
}

// tcp_cwnd_application_limited: an application that leaves cwnd unfilled
// for an RTO sees it shrink halfway to what it used, never below the
// initial window; each RTO again.
TEST_F(TcbIdle, AWindowUnfilledForAnRtoShrinks) {
  grow_to_36();
  const std::int64_t rto = c_.tcb.rto_us;
  std::uint32_t acked = 26000;
  const auto round = [&] {
    ASSERT_EQ(write(2000), 2000u);
    c_.advance(Duration::millis(50));
    acked += 2000;
    ack(acked);
  };
  // Rounds 50 ms apart: never idle for an RTO (no tcp_cwnd_restart).
  const std::uint32_t expect[] = {36, 23, 16, 13, 11, 10, 10};  // (cwnd + 10) / 2 per RTO
  for (std::uint32_t want : expect) {
    const std::int64_t stamp = c_.tcb.snd_cwnd_stamp_us;
    while (c_.now().us - stamp < rto) {
      EXPECT_EQ(cwnd_segs(), want);
      round();
    }
    round();
  }
  EXPECT_EQ(c_.tcb.ssthresh, 0xffffffffu);
}

class TcbIdleOff : public TcbIdle {
 protected:
  TcbIdleOff() : TcbIdle(false) {}
};

// net.ipv4.tcp_slow_start_after_idle = 0: the window survives idleness,
// and a window left unfilled.
TEST_F(TcbIdleOff, TheKnobOffKeepsTheWindow) {
  grow_to_36();
  std::uint32_t acked = 26000;
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(write(2000), 2000u);
    c_.advance(Duration::millis(100));
    acked += 2000;
    ack(acked);
  }
  EXPECT_EQ(cwnd_segs(), 36u);
  c_.advance(Duration::seconds(2));
  EXPECT_EQ(write(40000), 36000u);
  EXPECT_EQ(cwnd_segs(), 36u);
}

// slow-start-after-win-update.pkt: data waits on a zero window, the
// persist timer probes it, and when the window opens after more than an
// RTO without data sent, cwnd restarts (tcp_ack_update_window). The
// probes back off their timer, not the RTO (tcp_send_probe0).
TEST_F(TcbIdle, AWindowThatOpensAfterIdleRestartsCwnd) {
  ASSERT_EQ(write(26000), 10000u);
  c_.advance(Duration::millis(100));
  ack(10000);
  ASSERT_EQ(sent_bytes(), 16000u);
  c_.advance(Duration::millis(100));
  c_.set_peer_window(0);
  ack(26000);
  ASSERT_EQ(cwnd_segs(), 36u);
  const std::int64_t rto = c_.tcb.rto_us;
  EXPECT_EQ(write(20000), 0u);
  for (int probe = 0; probe < 3; ++probe) {
    c_.fire_due(tcp::kTimerRetransmit);
    ASSERT_EQ(c_.sent().size(), 1u) << "probe " << probe;
    EXPECT_EQ(cwnd_segs(), 36u);
  }
  EXPECT_EQ(c_.tcb.rto_us, rto);
  c_.advance(Duration::millis(900));
  c_.set_peer_window(65535);
  ack(26000);
  EXPECT_EQ(cwnd_segs(), 10u);
  EXPECT_EQ(sent_bytes(), 10000u);
  EXPECT_EQ(c_.tcb.backoff, 0u);
}

class TcbIdleCubic : public TcbIdle {
 protected:
  TcbIdleCubic() : TcbIdle(false, true) {}
};

// cubictcp_cwnd_event(CA_EVENT_TX_START): sending again from an empty
// flight moves the epoch by the time since data was last sent, so the
// cubic curve does not grow with time spent idle; never past now.
TEST_F(TcbIdleCubic, SendingAfterIdleShiftsTheEpoch) {
  grow_to_36();
  const auto ms = [](std::int64_t us) { return static_cast<std::uint32_t>(us / 1000); };
  const std::uint32_t epoch = ms(c_.now().us) - 500;
  c_.tcb.cubic.epoch_start = epoch;
  c_.advance(Duration::millis(30));
  const std::uint32_t idle = ms(c_.now().us) - ms(c_.tcb.lsndtime_us);
  ASSERT_EQ(idle, 130u);
  ASSERT_GT(write(1000), 0u);
  EXPECT_EQ(c_.tcb.cubic.epoch_start, epoch + idle);
  // An epoch that began after the last data went out ends up now at most.
  ack(27000);
  c_.tcb.cubic.epoch_start = ms(c_.tcb.lsndtime_us) + 5;
  c_.advance(Duration::seconds(1));
  ASSERT_GT(write(1000), 0u);
  EXPECT_EQ(c_.tcb.cubic.epoch_start, static_cast<std::uint32_t>(c_.now().us / 1000));
}

}  // namespace
}  // namespace twstack::test
