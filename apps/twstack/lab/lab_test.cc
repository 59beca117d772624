// The lab's scenario format, its arithmetic, and the default set run in
// virtual time: every verdict must be "as predicted".
#include <gtest/gtest.h>

#include "apps/twstack/lab/lab_predict.hh"
#include "apps/twstack/lab/lab_run.hh"
#include "apps/twstack/lab/lab_scenario.hh"

namespace twstack::app {
namespace {

LabScenario one(std::string_view text) {
  std::vector<LabScenario> v;
  auto e = parse_lab_scenarios(text, "t.lab", &v);
  EXPECT_FALSE(e.has_value()) << *e;
  return v.empty() ? LabScenario{} : v.front();
}

std::string error_of(std::string_view text) {
  std::vector<LabScenario> v;
  auto e = parse_lab_scenarios(text, "t.lab", &v);
  return e.value_or("");
}

TEST(LabScenario, ParsesKeysAndKnobsPerSide) {
  LabScenario s = one(
      "# comment\n[x]\ntitle = a b\nrate = 250\nduration = 3\ncloser = server\nrequests_per_conn = 4\n"
      "server_ports = 80 81, 82\nset = twstack.tcp_timewait_len=5\nclient_set = net.ipv4.tcp_tw_reuse=1  # why\n"
      "server_set = net.ipv4.tcp_max_tw_buckets=7\n");
  EXPECT_EQ(s.name, "x");
  EXPECT_EQ(s.rate, 250u);
  EXPECT_EQ(s.closer, Closer::kServer);
  EXPECT_EQ(s.requests_per_conn, 4u);
  EXPECT_EQ(s.server_ports, (std::vector<std::uint16_t>{80, 81, 82}));
  EXPECT_EQ(s.client.tcp_timewait_len, Duration::seconds(5));
  EXPECT_EQ(s.server.tcp_timewait_len, Duration::seconds(5));
  EXPECT_EQ(s.client.tcp_tw_reuse, 1);
  EXPECT_EQ(s.server.tcp_tw_reuse, 2);
  EXPECT_EQ(s.server.tcp_max_tw_buckets, 7u);
  EXPECT_EQ(s.client.tcp_max_tw_buckets, 262144u);
  EXPECT_EQ(s.client_sets, (std::vector<std::string>{"net.ipv4.tcp_tw_reuse=1"}));
}

TEST(LabScenario, MistakesNameTheLine) {
  EXPECT_NE(error_of("[a]\nrat = 1\n").find("t.lab:2: unknown key 'rat'"), std::string::npos);
  EXPECT_NE(error_of("[a]\nrate = 0\n").find("t.lab:2: rate must be"), std::string::npos);
  EXPECT_NE(error_of("[a]\nset = net.ipv4.tcp_tw_reuse=7\n").find("t.lab:2:"), std::string::npos);
  EXPECT_NE(error_of("rate = 1\n").find("t.lab:1: a scenario starts with [name]"), std::string::npos);
  EXPECT_NE(error_of("[a b]\n").find("t.lab:1: a section"), std::string::npos);
  EXPECT_NE(error_of("[a]\ncloser = both\n").find("closer must be"), std::string::npos);
  EXPECT_NE(error_of("# nothing\n").find("no scenario"), std::string::npos);
}

TEST(LabPredict, TheSeedArithmetic) {
  std::vector<LabScenario> v;
  ASSERT_FALSE(parse_lab_scenarios(default_lab_scenarios(), "default", &v));
  ASSERT_EQ(v.size(), 11u);
  for (const LabScenario& s : v) {  // like with like: Linux's TIME_WAIT on both stacks
    EXPECT_EQ(s.client.tcp_timewait_len, Duration::seconds(60)) << s.name;
    EXPECT_EQ(s.server.tcp_timewait_len, Duration::seconds(60)) << s.name;
  }
  LabPrediction p = predict(v[0]);  // port-exhaustion: 1000 ports / 100 per s
  ASSERT_TRUE(p.exhaustion_s);
  EXPECT_DOUBLE_EQ(*p.exhaustion_s, 10.0);
  EXPECT_EQ(p.client_tw_peak, 1000u);
  p = predict(v[1]);  // tw-reuse: every attempt after the 1000th takes an entry over
  EXPECT_FALSE(p.exhaustion_s);
  EXPECT_EQ(p.recycled, 200u);
  EXPECT_EQ(v[2].client.port_selection, PortSelection::kLinux);  // tw-reuse-linux-ports
  p = predict(v[3]);  // no timestamps: no reuse
  EXPECT_FALSE(p.reuse);
  EXPECT_TRUE(p.exhaustion_s);
  p = predict(v[4]);  // tcp_tw_reuse=2 off loopback: no reuse
  EXPECT_FALSE(p.reuse);
  ASSERT_TRUE(p.exhaustion_s);
  EXPECT_DOUBLE_EQ(*p.exhaustion_s, 10.0);
  p = predict(v[5]);  // tcp_tw_reuse=2 between loopback addresses: reuse
  EXPECT_TRUE(v[5].loopback);
  EXPECT_TRUE(p.reuse);
  EXPECT_FALSE(p.exhaustion_s);
  p = predict(v[6]);  // tcp_fin_timeout=5 leaves TIME_WAIT at 60 s
  EXPECT_EQ(p.client_tw_end, 1200u);
  p = predict(v[7]);  // the client's cap: the rest close without TIME_WAIT
  EXPECT_FALSE(p.exhaustion_s);
  EXPECT_EQ(p.client_tw_peak, 300u);
  EXPECT_EQ(p.overflow, 900u);
  p = predict(v[8]);  // the server's cap
  EXPECT_EQ(p.server_tw_peak, 300u);
  EXPECT_EQ(p.overflow, 500u);
  EXPECT_EQ(p.client_tw_peak, 0u);
  p = predict(v[9]);  // keep-alive: 10/s for 12 s
  EXPECT_EQ(p.client_tw_end, 120u);
  p = predict(v[10]);  // four ports: 150/s x 12 s, below the 4000 tuples
  EXPECT_EQ(p.tuples, 4000u);
  EXPECT_FALSE(p.exhaustion_s);
  EXPECT_EQ(p.client_tw_end, 1800u);
}

TEST(LabPredict, AMeasurementThatDisagreesSaysWhere) {
  LabScenario s = one("[x]\nrate = 100\nduration = 8\nset = twstack.tcp_timewait_len=10\n"
                      "client_set = net.ipv4.ip_local_port_range=40000 40499\nclient_set = net.ipv4.tcp_tw_reuse=0\n");
  LabPrediction p = predict(s);
  LabMeasurement m;
  m.failed = 0;  // no failure where exhaustion is predicted
  m.client_tw_peak = 500;
  LabVerdict v = judge(s, p, m);
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.line.find("DIFFERS"), std::string::npos);
  ASSERT_FALSE(v.checks.empty());
  EXPECT_TRUE(v.checks[0].starts_with("DIFFERS: first failure predicted EADDRNOTAVAIL at 5.00 s, measured none"));
}

// In real time a late first failure and a server that held fewer entries
// (SYN takeovers) still agree; an early failure or more entries do not.
TEST(LabPredict, RealTimeAllowsLateFailuresAndTakeoversOnly) {
  LabScenario s = one("[x]\nrate = 100\nduration = 8\nset = twstack.tcp_timewait_len=10\n"
                      "client_set = net.ipv4.ip_local_port_range=40000 40499\nclient_set = net.ipv4.tcp_tw_reuse=0\n");
  LabPrediction p = predict(s);
  LabMeasurement m;
  m.failed = 1;
  m.first_errno = "EADDRNOTAVAIL";
  m.client_tw_peak = p.client_tw_peak;
  m.first_failure_s = *p.exhaustion_s + 0.4;  // late under load
  EXPECT_TRUE(judge(s, p, m, LabClock::kReal).ok);
  EXPECT_FALSE(judge(s, p, m, LabClock::kVirtual).ok);
  m.first_failure_s = *p.exhaustion_s - 0.5;  // early: something else failed
  EXPECT_FALSE(judge(s, p, m, LabClock::kReal).ok);

  LabScenario cap = one("[y]\nrate = 100\nduration = 8\ncloser = server\nset = twstack.tcp_timewait_len=10\n"
                        "server_set = net.ipv4.tcp_max_tw_buckets=300\n");
  LabPrediction q = predict(cap);
  ASSERT_GT(q.overflow, 100u);
  LabMeasurement r;
  r.server_tw_peak = q.server_tw_peak;
  r.server_overflow = q.overflow * 9 / 10;  // takeovers made room for 10 %
  EXPECT_TRUE(judge(cap, q, r, LabClock::kReal).ok);
  EXPECT_FALSE(judge(cap, q, r, LabClock::kVirtual).ok);
  r.server_overflow = q.overflow + 10;  // more than the arithmetic allows
  EXPECT_FALSE(judge(cap, q, r, LabClock::kReal).ok);
}

// The default set in virtual time, through the same application code the
// real-time processes run: every outcome as the arithmetic says.
TEST(LabSim, TheDefaultSetAgreesWithItsPredictions) {
  std::vector<LabScenario> v;
  ASSERT_FALSE(parse_lab_scenarios(default_lab_scenarios(), "default", &v));
  for (const LabScenario& s : v) {
    LabRun r = run_lab_sim(s, 1, {});
    ASSERT_TRUE(r.error.empty()) << r.error;
    ASSERT_EQ(r.series.size(), s.duration_s);
    LabVerdict verdict = judge(s, predict(s), r.m);
    std::string checks;
    for (const std::string& c : verdict.checks) checks += c + "\n";
    EXPECT_TRUE(verdict.ok) << s.name << ":\n" << checks;
  }
}

}  // namespace
}  // namespace twstack::app
