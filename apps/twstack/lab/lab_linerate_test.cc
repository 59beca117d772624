// The line-rate set's format and arithmetic: flat-out scenarios parse, each is
// judged by its kind from synthetic per-second series, and a population that
// does not fit is refused with what it needs.
#include <gtest/gtest.h>

#include "apps/twstack/lab/lab_linerate.hh"
#include "apps/twstack/lab/lab_test_util.hh"

namespace twstack::app {
namespace {

TEST(LineRate, TheSetParsesFlatOutAtLinuxsTimeWait) {
  std::vector<LabScenario> v;
  ASSERT_FALSE(parse_lab_scenarios(line_rate_lab_scenarios(), "line-rate", &v));
  ASSERT_EQ(v.size(), 5u);
  for (const LabScenario& s : v) {
    EXPECT_TRUE(s.line_rate()) << s.name;
    EXPECT_EQ(s.server.tcp_timewait_len, Duration::seconds(60)) << s.name;
  }
  EXPECT_EQ(line_rate_kind(v[0]), LineRateKind::kPlateau);
  EXPECT_EQ(v[0].server_ports.size(), 4000u);  // 1000-4999
  EXPECT_TRUE(v[0].tw_capacity_auto);
  EXPECT_EQ(line_rate_kind(v[1]), LineRateKind::kReuseCeiling);
  EXPECT_EQ(line_rate_kind(v[2]), LineRateKind::kReuseCeiling);
  EXPECT_EQ(free_ports(v[2].client), 10000u);
  EXPECT_EQ(line_rate_kind(v[3]), LineRateKind::kExhaustion);
  EXPECT_EQ(free_ports(v[3].client), 64512u);
  EXPECT_EQ(free_ports(v[4].client), 28232u);  // Linux's default range
}

LabSample second(std::uint32_t t, std::uint64_t cps, std::uint64_t server_tw, std::uint64_t bytes) {
  LabSample x{};
  x.t = t;
  x.ok = x.completed = cps;
  x.server_tw = server_tw;
  x.server_tw_bytes = bytes;
  return x;
}

// A server closing at 1000/s for 12 s with a 10 s TIME_WAIT: the population
// climbs to 10000 and stays; each second from 11 on, a second's worth expires.
LabResult plateau_result(std::uint64_t last_cps, std::uint64_t bytes_per_entry) {
  LabResult r;
  r.scenario = one("[p]\nrate = 0\nduration = 12\ncloser = server\nset = twstack.tcp_timewait_len=10\n");
  r.run.tw_capacity = 20000;
  for (std::uint32_t t = 1; t <= 12; ++t) {
    const std::uint64_t tw = 1000 * std::min<std::uint64_t>(t, 10);
    r.run.series.push_back(second(t, t >= 9 ? last_cps : 1000, tw, tw * bytes_per_entry));
  }
  return r;
}

TEST(LineRate, PlateauHeldAndMemoryPerEntry) {
  LabResult r = plateau_result(1000, 40);
  judge_line_rate(&r);
  std::string checks;
  for (const std::string& c : r.verdict.checks) checks += c + "\n";
  EXPECT_TRUE(r.verdict.ok) << checks;
  const LineRateFigures f = line_rate_figures(r.scenario, r.run, 10, false);
  EXPECT_EQ(f.tw_peak, 10000u);
  EXPECT_EQ(f.tw_expected, 10000u);  // seconds 3-12 closed 10 x 1000
  EXPECT_DOUBLE_EQ(f.bytes_per_entry, 40.0);
  EXPECT_TRUE(f.wave);
  EXPECT_EQ(f.expired_per_s, 1000u);
  EXPECT_NE(r.run.m.summary.find("40.0 B/entry"), std::string::npos) << r.run.m.summary;
}

TEST(LineRate, APlateauThatSagsOrCostsTooMuchDiffers) {
  LabResult sag = plateau_result(800, 40);  // the last seconds at 80 % of the first
  judge_line_rate(&sag);
  EXPECT_FALSE(sag.verdict.ok);
  LabResult fat = plateau_result(1000, 64);  // 64 bytes per entry
  judge_line_rate(&fat);
  EXPECT_FALSE(fat.verdict.ok);
  bool named = false;
  for (const std::string& c : fat.verdict.checks) named = named || (c.starts_with("DIFFERS") && c.find("64.0 bytes") != std::string::npos);
  EXPECT_TRUE(named);
}

TEST(LineRate, TheReuseCeilingIsPortsOverTheDelay) {
  LabResult r;
  r.scenario = one("[c]\nrate = 0\nduration = 6\ncloser = client\nclient_set = net.ipv4.tcp_tw_reuse=1\n"
                   "client_set = net.ipv4.ip_local_port_range=40000 40999\n");
  ASSERT_EQ(line_rate_kind(r.scenario), LineRateKind::kReuseCeiling);
  // A fast stack: the first second fills the 1000 ports, then it makes 1000
  // a second, the ceiling.
  for (std::uint32_t t = 1; t <= 6; ++t) {
    r.run.series.push_back(second(t, 1000, 0, 0));
    r.run.series.back().client_tw = 1000;
  }
  judge_line_rate(&r);
  EXPECT_TRUE(r.verdict.ok) << r.verdict.checks.front() << " / " << r.verdict.checks.back();
  // Held at 80 % of the ceiling with the range full: differs.
  for (LabSample& x : r.run.series) x.completed = 800;
  judge_line_rate(&r);
  EXPECT_FALSE(r.verdict.ok);
  // Above it by 10 %: differs.
  for (LabSample& x : r.run.series) x.completed = 1100;
  judge_line_rate(&r);
  EXPECT_FALSE(r.verdict.ok);
  // A slow stack takes 3.3 s to fill the range: below the ceiling, and that agrees.
  for (LabSample& x : r.run.series) x.completed = 300, x.client_tw = std::min<std::uint64_t>(1000, 300 * x.t);
  judge_line_rate(&r);
  EXPECT_TRUE(r.verdict.ok);
}

TEST(LineRate, ExhaustionAfterExactlyTheTuples) {
  LabResult r;
  r.scenario = one("[e]\nrate = 0\nduration = 3\ncloser = client\nclient_set = net.ipv4.tcp_tw_reuse=0\n"
                   "client_set = net.ipv4.ip_local_port_range=40000 40999\n");
  ASSERT_EQ(line_rate_kind(r.scenario), LineRateKind::kExhaustion);
  r.run.m.ok = 1000;
  r.run.m.first_failure_s = 0.01;
  r.run.m.first_errno = "EADDRNOTAVAIL";
  judge_line_rate(&r);
  EXPECT_TRUE(r.verdict.ok);
  EXPECT_EQ(r.prediction.summary, "EADDRNOTAVAIL after 1000");
  r.run.m.ok = 900;  // stopped short of the range
  judge_line_rate(&r);
  EXPECT_FALSE(r.verdict.ok);
}

TEST(LineRate, CapacityFromTheCalibrationAndTheMemoryCheck) {
  EXPECT_EQ(tw_capacity_for(400000, 60), 36'000'000u);  // 1.5 x 400k x 60 = 36M
  EXPECT_EQ(tw_capacity_for(1000, 10), 1'000'000u);     // at least a million
  const std::uint64_t gib = 1ULL << 30;
  EXPECT_FALSE(check_line_rate_memory("x", 30'000'000, 131072, 20 * gib));
  const auto e = check_line_rate_memory("x", 30'000'000, 100'000'000, 20 * gib);
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("does not fit"), std::string::npos) << *e;
  EXPECT_NE(e->find("MemAvailable is 20.0 GiB"), std::string::npos) << *e;
}

}  // namespace
}  // namespace twstack::app
