// The RTO estimator as Linux computes it (RFC 6298 §2; tcp_rtt_estimator,
// __tcp_set_rto, tcp_bound_rto), against values worked by hand from the
// kernel's integer arithmetic: SRTT scaled by 8, the mean deviation by 4,
// RTO = SRTT + RTTVAR' with RTTVAR' the round trip's largest deviation and at
// least tcp_rto_min (200 ms).
#include "stack/tcp/rtt.hh"

#include <gtest/gtest.h>

#include <cstdint>

namespace twstack::tcp {
namespace {

// One connection's estimator. A sample either stays in the current round
// trip (SND.UNA not past the epoch) or ends it.
struct Estimate {
  RttEstimate r;
  std::int64_t rto_us = 1000000;
  Seq snd_nxt{1000};

  void sample(const TcpParams& p, std::int64_t m_us, bool new_round = false) {
    const Seq una = new_round ? snd_nxt + 1 : r.epoch;
    if (new_round) snd_nxt += 1000;
    rto_us = rtt_estimate(r, p, m_us, una, snd_nxt);
  }
  std::int64_t srtt() const { return r.srtt8_us >> 3; }
};

// First sample: SRTT = R, 4 x RTTVAR = 2R (RFC 6298 §2.2), so RTO = 3R when
// that is above the floor.
TEST(Rtt, FirstSampleGivesThreeRtt) {
  TcpParams p(StackConfig{});
  Estimate e;
  e.sample(p, 100000);
  EXPECT_EQ(e.srtt(), 100000);
  EXPECT_EQ(e.r.mdev_us, 200000);
  EXPECT_EQ(e.r.rttvar_us, 200000);
  EXPECT_EQ(e.rto_us, 300000);
}

// The floor applies to the variance term, not to the RTO: on a fast path
// the RTO is SRTT + 200 ms (Linux), where RFC 6298's max(RTO, 200 ms) would
// give 200 ms.
TEST(Rtt, FloorIsOnTheVarianceTerm) {
  TcpParams p(StackConfig{});
  ASSERT_EQ(p.rto_min.us, 200000);
  Estimate e;
  e.sample(p, 10000);
  EXPECT_EQ(e.r.rttvar_us, 200000);
  EXPECT_EQ(e.rto_us, 210000);
  Estimate lan;
  lan.sample(p, 1000);
  EXPECT_EQ(lan.rto_us, 201000);
  // A configured floor is honoured the same way.
  p.rto_min = Duration::millis(250);
  Estimate f;
  f.sample(p, 10000);
  EXPECT_EQ(f.rto_us, 260000);
}

// Later samples: SRTT += err/8; mdev += (|err| - mdev/4), where an error
// below SRTT counts 1/8 as much; RTTVAR' rises at once to a larger mdev.
TEST(Rtt, SequenceOfSamplesWithinOneRound) {
  TcpParams p(StackConfig{});
  Estimate e;
  e.sample(p, 100000);
  e.sample(p, 120000);
  // err = 20000: srtt8 = 820000; mdev = 200000 + (20000 - 50000) = 170000.
  EXPECT_EQ(e.r.srtt8_us, 820000);
  EXPECT_EQ(e.r.mdev_us, 170000);
  EXPECT_EQ(e.r.rttvar_us, 200000);
  EXPECT_EQ(e.rto_us, 303000);  // 102500 + 200000, rounded up to a tick
  e.sample(p, 20000);
  // err = -82500: srtt8 = 737500; |err| - mdev/4 = 40000, / 8 = 5000;
  // mdev = 175000, below mdev_max: RTTVAR' stays.
  EXPECT_EQ(e.r.srtt8_us, 737500);
  EXPECT_EQ(e.r.mdev_us, 175000);
  EXPECT_EQ(e.rto_us, 293000);  // 92187 + 200000, rounded up
}

TEST(Rtt, LargeDeviationRaisesTheVarianceTerm) {
  TcpParams p(StackConfig{});
  Estimate e;
  e.sample(p, 100000);
  e.sample(p, 20000);
  // err = -80000: (80000 - 50000) / 8 = 3750; mdev = 203750 > 200000.
  EXPECT_EQ(e.r.mdev_us, 203750);
  EXPECT_EQ(e.r.mdev_max_us, 203750);
  EXPECT_EQ(e.r.rttvar_us, 203750);
  EXPECT_EQ(e.rto_us, 294000);  // 90000 + 203750, rounded up
}

// Once per round trip RTTVAR' moves a quarter of the way down to the
// round's largest mdev, and the round's maximum restarts at the floor.
TEST(Rtt, VarianceTermDecaysOncePerRound) {
  TcpParams p(StackConfig{});
  Estimate e;
  e.sample(p, 1000000);  // mdev = RTTVAR' = 2 s
  e.sample(p, 1000000, true);
  // err 0: mdev = 2000000 - 500000 = 1500000; mdev_max (2 s) is not below RTTVAR'.
  EXPECT_EQ(e.r.mdev_us, 1500000);
  EXPECT_EQ(e.r.rttvar_us, 2000000);
  EXPECT_EQ(e.r.mdev_max_us, 200000);
  EXPECT_EQ(e.rto_us, 3000000);
  e.sample(p, 1000000, true);
  // mdev = 1125000 = the round's max; RTTVAR' -= (2000000 - 1125000) / 4.
  EXPECT_EQ(e.r.mdev_us, 1125000);
  EXPECT_EQ(e.r.rttvar_us, 1781250);
  EXPECT_EQ(e.rto_us, 2782000);
}

// tcp_bound_rto: at most TCP_RTO_MAX (120 s).
TEST(Rtt, MaximumRtoIs120S) {
  TcpParams p(StackConfig{});
  ASSERT_EQ(p.rto_max.us, 120000000);
  Estimate e;
  e.sample(p, 50000000);
  EXPECT_EQ(e.srtt(), 50000000);
  EXPECT_EQ(e.rto_us, 120000000);  // 50 s + 100 s, capped
}

// A zero measurement keeps SRTT nonzero (max(1, srtt)), so the next sample
// is not taken for a first one.
TEST(Rtt, ZeroSampleKeepsAnEstimate) {
  TcpParams p(StackConfig{});
  Estimate e;
  e.sample(p, 0);
  EXPECT_EQ(e.r.srtt8_us, 1);
  EXPECT_EQ(e.rto_us, 200000);
  e.sample(p, 80000);
  // err = 80000: srtt8 = 80001; mdev = 0 + 80000.
  EXPECT_EQ(e.r.srtt8_us, 80001);
  EXPECT_EQ(e.r.mdev_us, 80000);
}

}  // namespace
}  // namespace twstack::tcp
