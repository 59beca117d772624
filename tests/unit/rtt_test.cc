// The RTO estimator (RFC 6298 §2), against values worked by hand from the
// RFC's formulas in integer microseconds (divisions truncate).
#include "stack/tcp/rtt.hh"

#include <gtest/gtest.h>

#include <cstdint>

namespace twstack::tcp {
namespace {

// A connection's three estimator fields, as the Tcb holds them.
struct Estimate {
  std::int64_t srtt_us = 0;
  std::int64_t rttvar_us = 0;
  std::int64_t rto_us = 1000000;  // RFC 6298 §2.1 initial RTO: not an input

  void sample(const TcpParams& p, std::int64_t r_us) {
    rtt_update(srtt_us, rttvar_us, rto_us, p, r_us);
  }
};

// §2.2: SRTT <- R, RTTVAR <- R/2, RTO <- SRTT + max(G, K*RTTVAR), K = 4.
TEST(Rtt, FirstSample) {
  TcpParams p(StackConfig{});
  Estimate e;
  e.sample(p, 100000);
  EXPECT_EQ(e.srtt_us, 100000);
  EXPECT_EQ(e.rttvar_us, 50000);
  EXPECT_EQ(e.rto_us, 300000);  // 100000 + 4 * 50000
}

// §2.3: RTTVAR <- 3/4 RTTVAR + 1/4 |SRTT - R'| with the old SRTT, then
// SRTT <- 7/8 SRTT + 1/8 R'.
TEST(Rtt, SequenceOfSamples) {
  TcpParams p(StackConfig{});
  Estimate e;
  e.sample(p, 100000);
  e.sample(p, 120000);
  // err = 20000; RTTVAR = (150000 + 20000) / 4; SRTT = (700000 + 120000) / 8.
  EXPECT_EQ(e.rttvar_us, 42500);
  EXPECT_EQ(e.srtt_us, 102500);
  EXPECT_EQ(e.rto_us, 272500);
  e.sample(p, 80000);
  // err = 22500; RTTVAR = (127500 + 22500) / 4; SRTT = 797500 / 8 = 99687.5.
  EXPECT_EQ(e.rttvar_us, 37500);
  EXPECT_EQ(e.srtt_us, 99687);
  EXPECT_EQ(e.rto_us, 249687);
  e.sample(p, 100000);
  // err = 313; RTTVAR = 112813 / 4 = 28203.25; SRTT = 797809 / 8 = 99726.1.
  EXPECT_EQ(e.rttvar_us, 28203);
  EXPECT_EQ(e.srtt_us, 99726);
  EXPECT_EQ(e.rto_us, 212538);
}

// §2.4 asks for at least 1 s; Linux uses TCP_RTO_MIN = 200 ms, and so does
// TcpParams. A LAN round trip gets the floor.
TEST(Rtt, MinimumRtoIs200Ms) {
  TcpParams p(StackConfig{});
  ASSERT_EQ(p.rto_min.us, 200000);
  Estimate e;
  e.sample(p, 10000);
  EXPECT_EQ(e.srtt_us, 10000);
  EXPECT_EQ(e.rttvar_us, 5000);
  EXPECT_EQ(e.rto_us, 200000);  // 10000 + 20000 = 30000, raised to the floor
  // Steady 50 ms samples: RTTVAR decays toward 0, SRTT stays, RTO floors.
  for (int i = 0; i < 30; ++i) e.sample(p, 50000);
  EXPECT_EQ(e.rto_us, 200000);
  // A configured floor is honoured exactly.
  p.rto_min = Duration::micros(250000);
  e.sample(p, 50000);
  EXPECT_EQ(e.rto_us, 250000);
}

// §2.5: a maximum may be placed on RTO provided it is at least 60 s; Linux
// TCP_RTO_MAX is 120 s.
TEST(Rtt, MaximumRtoIs120S) {
  TcpParams p(StackConfig{});
  ASSERT_EQ(p.rto_max.us, 120000000);
  Estimate e;
  e.sample(p, 50000000);
  EXPECT_EQ(e.srtt_us, 50000000);
  EXPECT_EQ(e.rttvar_us, 25000000);
  EXPECT_EQ(e.rto_us, 120000000);  // 50 s + 100 s, capped
}

// §2: G is the clock granularity, here one 1 ms timer-wheel tick. With the
// floor out of the way, max(G, 4*RTTVAR) shows once the variance is small.
TEST(Rtt, GranularityIsOneTick) {
  ASSERT_EQ(kUsPerTick, 1000);
  TcpParams p(StackConfig{});
  p.rto_min = Duration::micros(0);
  Estimate first;
  first.sample(p, 300);
  EXPECT_EQ(first.rttvar_us, 150);
  EXPECT_EQ(first.rto_us, 1300);  // 300 + max(1000, 600)

  // Identical 2 ms samples: RTTVAR 1000, 750, 562, 421, 315, 236.
  Estimate e;
  const std::int64_t expect_rto[] = {6000, 5000, 4248, 3684, 3260, 3000};
  for (std::int64_t want : expect_rto) {
    e.sample(p, 2000);
    EXPECT_EQ(e.srtt_us, 2000);
    EXPECT_EQ(e.rto_us, want);
  }
  EXPECT_EQ(e.rttvar_us, 236);  // 4 * 236 = 944 < G
}

// A zero measurement (a timestamp echoed within the same millisecond) counts
// as 1 us, so SRTT becomes nonzero and the next sample is not taken for a
// first one.
TEST(Rtt, ZeroSampleCountsAsOneMicrosecond) {
  TcpParams p(StackConfig{});
  p.rto_min = Duration::micros(0);
  Estimate e;
  e.sample(p, 0);
  EXPECT_EQ(e.srtt_us, 1);
  EXPECT_EQ(e.rttvar_us, 0);
  EXPECT_EQ(e.rto_us, 1001);
  e.sample(p, 100000);
  // err = 99999; RTTVAR = 99999 / 4; SRTT = 100007 / 8.
  EXPECT_EQ(e.rttvar_us, 24999);
  EXPECT_EQ(e.srtt_us, 12500);
  EXPECT_EQ(e.rto_us, 112496);
}

}  // namespace
}  // namespace twstack::tcp
