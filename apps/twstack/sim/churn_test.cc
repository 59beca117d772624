// `twstack sim churn` in-process: the schedule, the per-second bookkeeping,
// port exhaustion by the client's TIME_WAIT (the acceptance scenario), the
// server closing first, keep-alive, rate 0, and option handling.
#include "apps/workloads/churn.hh"

#include <gtest/gtest.h>

#include <numeric>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "apps/twstack/sim/sim_churn.hh"

namespace twstack::app {
namespace {

ChurnSettings parse(std::vector<std::string_view> args) {
  return parse_sim_churn(std::vector<std::string>(args.begin(), args.end()));
}

// 1000 ports at 100 connections per second, each held 60 s by the client's
// TIME_WAIT: the attempt at t = 10.00 s is the 1001st.
std::vector<std::string_view> exhaustion_args(std::string_view closer) {
  return {"--set", "net.ipv4.ip_local_port_range=40000 40999", "--set", "net.ipv4.tcp_tw_reuse=0",
          "--rate", "100", "--closer", closer, "--duration", "20"};
}

std::uint64_t sum_ok(const ChurnResult& r) {
  return std::accumulate(r.per_second.begin(), r.per_second.end(), std::uint64_t{0},
                         [](std::uint64_t a, const ChurnSecond& p) { return a + p.ok; });
}

std::uint64_t sum_failed(const ChurnResult& r) {
  return std::accumulate(r.per_second.begin(), r.per_second.end(), std::uint64_t{0},
                         [](std::uint64_t a, const ChurnSecond& p) { return a + p.failed; });
}

class ChurnExhaustion : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    settings_ = new ChurnSettings(parse(exhaustion_args("client")));
    result_ = new ChurnResult(run_churn(*settings_));
  }
  static void TearDownTestSuite() {
    delete result_;
    delete settings_;
  }
  static ChurnSettings* settings_;
  static ChurnResult* result_;
};

ChurnSettings* ChurnExhaustion::settings_ = nullptr;
ChurnResult* ChurnExhaustion::result_ = nullptr;

TEST_F(ChurnExhaustion, FirstFailureAtTenSecondsExactly) {
  const ChurnResult& r = *result_;
  ASSERT_TRUE(r.first_failure.has_value());
  EXPECT_EQ(r.first_failure->us, 10000000);
  ASSERT_TRUE(r.first_errno.has_value());
  EXPECT_EQ(*r.first_errno, Errc::kAddrNotAvail);
  EXPECT_EQ(r.attempts, 2000u);
  EXPECT_EQ(r.ok, 1000u);
  EXPECT_EQ(r.failed, 1000u);
  EXPECT_EQ(r.errors_of(Errc::kAddrNotAvail), 1000u);
  EXPECT_EQ(r.completed, 1000u);
  EXPECT_EQ(r.requests_completed, 1000u);
  EXPECT_EQ(r.virtual_time.us, 20000000);
}

TEST_F(ChurnExhaustion, PerSecond) {
  const ChurnResult& r = *result_;
  ASSERT_EQ(r.per_second.size(), 20u);
  EXPECT_EQ(sum_ok(r), r.ok);
  EXPECT_EQ(sum_failed(r), r.failed);
  for (std::uint32_t i = 0; i < 20; ++i) EXPECT_EQ(r.per_second[i].t, i + 1);
  // Second 10 is (9, 10]: attempts 9.00..9.99 s (established 200 us later)
  // and the failed one at exactly 10.00 s.
  EXPECT_EQ(r.per_second[9].ok, 100u);
  EXPECT_EQ(r.per_second[9].failed, 1u);
  EXPECT_EQ(r.per_second[10].ok, 0u);
  EXPECT_EQ(r.per_second[10].failed, 100u);
  EXPECT_EQ(r.per_second[0].client_timewait, 100u);
  EXPECT_EQ(r.per_second[9].client_timewait, 1000u);
  EXPECT_EQ(r.per_second[19].client_timewait, 1000u);
  for (const ChurnSecond& p : r.per_second) EXPECT_EQ(p.server_timewait, 0u);
  EXPECT_EQ(r.client.gauges.timewait, 1000u);
  EXPECT_EQ(r.client.counters.get(Counter::TcpActiveOpens), 1000u);
  EXPECT_EQ(r.client.counters.get(Counter::TcpExtTW), 1000u);
  EXPECT_EQ(r.server.counters.get(Counter::TcpPassiveOpens), 1000u);
}

TEST_F(ChurnExhaustion, Json) {
  std::ostringstream out;
  print_churn_json(out, *settings_, *result_);
  const std::string j = out.str();
  // A double: nlohmann-json writes 10 s as 10.0.
  EXPECT_NE(j.find("\"first_failure_s\":10.0,"), std::string::npos) << j;
  EXPECT_NE(j.find("\"first_errno\":\"EADDRNOTAVAIL\""), std::string::npos);
  EXPECT_NE(j.find("\"errors\":{\"EADDRNOTAVAIL\":1000}"), std::string::npos);
  EXPECT_NE(j.find("{\"t\":10,\"ok\":100,\"failed\":1,\"client_timewait\":1000,\"server_timewait\":0}"),
            std::string::npos);
  EXPECT_NE(j.find("\"closer\":\"client\""), std::string::npos);
  EXPECT_NE(j.find("\"TcpActiveOpens\":1000"), std::string::npos);
  EXPECT_EQ(j.back(), '\n');
  EXPECT_EQ(j.find('\n'), j.size() - 1);  // one line
}

TEST_F(ChurnExhaustion, Text) {
  std::ostringstream out;
  print_churn_text(out, *settings_, *result_);
  const std::string t = out.str();
  EXPECT_NE(t.find("first failure at 10.00 s: EADDRNOTAVAIL"), std::string::npos) << t;
  EXPECT_NE(t.find("TcpExtTWRecycled"), std::string::npos);
}

TEST(Churn, ServerClosingHoldsNoClientPorts) {
  const ChurnResult r = run_churn(parse(exhaustion_args("server")));
  EXPECT_EQ(r.failed, 0u);
  EXPECT_FALSE(r.first_failure.has_value());
  EXPECT_EQ(r.ok, 2000u);
  EXPECT_EQ(r.completed, 2000u);
  for (const ChurnSecond& p : r.per_second) EXPECT_EQ(p.client_timewait, 0u);
  // Every close leaves TIME_WAIT on the server, but with 1000 client ports
  // picked uniformly a new SYN often lands on a tuple already there and
  // takes it over (RFC 6191), so the table covers at most the 1000 tuples:
  // after n connections about 1000 (1 - e^(-n/1000)) of them.
  EXPECT_EQ(r.server.counters.get(Counter::TcpExtTW), 2000u);
  EXPECT_GE(r.per_second[9].server_timewait, 600u);
  EXPECT_LE(r.per_second[9].server_timewait, 700u);
  EXPECT_LE(r.per_second[19].server_timewait, 1000u);
}

TEST(Churn, ServerTimeWaitGrowsWithTheRate) {
  // The default range (28232 ports): few takeovers, about 100 entries a second.
  const ChurnResult r = run_churn(parse({"--rate", "100", "--closer", "server", "--duration", "10"}));
  EXPECT_EQ(r.failed, 0u);
  for (std::uint32_t i = 0; i < 10; ++i) {
    EXPECT_GE(r.per_second[i].server_timewait, 95u * (i + 1)) << "t=" << i + 1;
    EXPECT_LE(r.per_second[i].server_timewait, 100u * (i + 1)) << "t=" << i + 1;
    EXPECT_EQ(r.per_second[i].client_timewait, 0u);
  }
}

TEST(Churn, KeepAliveAtTheSameRequestLoad) {
  const ChurnResult r = run_churn(parse({"--rate", "10", "--requests-per-conn", "10"}));
  EXPECT_EQ(r.failed, 0u);
  EXPECT_EQ(r.ok, 200u);
  EXPECT_EQ(r.completed, 200u);
  EXPECT_EQ(r.requests_completed, 2000u);
  EXPECT_EQ(r.per_second[19].client_timewait, 200u);
}

TEST(Churn, LoopbackAddresses) {
  const ChurnSettings s = parse({"--client-ip", "127.0.0.1", "--server-ip", "127.0.0.2", "--duration", "2"});
  const ChurnResult r = run_churn(s);
  EXPECT_EQ(r.failed, 0u);
  EXPECT_EQ(r.ok, 200u);
  EXPECT_EQ(r.completed, 200u);
}

// net.ipv4.tcp_tw_reuse=2 (the default) lets connect() take over the
// client's own TIME_WAIT tuples on loopback only: the same 1000 ports that
// run out at 10 s between 10.0.0.1 and 10.0.0.2 last here.
TEST(Churn, LoopbackReusesTimeWait) {
  const ChurnResult r = run_churn(parse({"--client-ip", "127.0.0.1", "--server-ip", "127.0.0.2", "--set",
                                         "net.ipv4.ip_local_port_range=40000 40999", "--duration", "12"}));
  EXPECT_EQ(r.failed, 0u);
  EXPECT_EQ(r.ok, 1200u);
  EXPECT_GE(r.client.counters.get(Counter::TcpExtTWRecycled), 200u);
}

TEST(Churn, AttemptsAtExactInstants) {
  // 10 ports at 3 a second: attempt 10 is at 10/3 s, i.e. 3333333 us.
  const ChurnResult r = run_churn(parse({"--set", "net.ipv4.ip_local_port_range=40000 40009", "--rate", "3",
                                         "--duration", "4"}));
  EXPECT_EQ(r.attempts, 12u);
  EXPECT_EQ(r.ok, 10u);
  ASSERT_TRUE(r.first_failure.has_value());
  EXPECT_EQ(r.first_failure->us, 3333333);
}

TEST(Churn, RateZeroKeepsInflight) {
  const ChurnResult r = run_churn(parse({"--rate", "0", "--inflight", "8", "--closer", "server", "--duration", "1"}));
  EXPECT_EQ(r.failed, 0u);
  EXPECT_GT(r.ok, 1000u);
  EXPECT_LE(r.attempts - r.completed, 8u);
  EXPECT_EQ(r.server.counters.get(Counter::TcpPassiveOpens), r.ok);
}

TEST(Churn, RateZeroRetriesRefusedConnectsEveryMillisecond) {
  const ChurnResult r = run_churn(parse({"--set", "net.ipv4.ip_local_port_range=40000 40099", "--rate", "0",
                                         "--inflight", "4", "--duration", "1"}));
  EXPECT_EQ(r.ok, 100u);
  ASSERT_TRUE(r.first_errno.has_value());
  EXPECT_EQ(*r.first_errno, Errc::kAddrNotAvail);
  EXPECT_GT(r.failed, 0u);
  EXPECT_LE(r.failed, 4u * 1000u);
  EXPECT_EQ(r.attempts, r.ok + r.failed);
}

TEST(Churn, LossDoesNotLoseConnections) {
  const ChurnResult r = run_churn(parse({"--loss", "0.05", "--duration", "3", "--seed", "7"}));
  EXPECT_EQ(r.failed, 0u);
  EXPECT_GE(r.ok, 280u);
  EXPECT_GT(r.client.counters.get(Counter::TcpRetransSegs) + r.server.counters.get(Counter::TcpRetransSegs), 0u);
}

TEST(Churn, Settings) {
  const ChurnSettings s = parse({"--set", "net.ipv4.tcp_tw_reuse=1", "--client-set",
                                 "net.ipv4.ip_local_port_range=50000 50010", "--server-set",
                                 "twstack.max_connections=1024", "--closer", "server"});
  EXPECT_EQ(s.client_config.ip_local_port_range, (PortRange{50000, 50010}));
  EXPECT_EQ(s.server_config.ip_local_port_range, StackConfig{}.ip_local_port_range);
  EXPECT_EQ(s.client_config.tcp_tw_reuse, 1);
  EXPECT_EQ(s.server_config.tcp_tw_reuse, 1);
  EXPECT_EQ(s.server_config.max_connections, 1024u);
  EXPECT_EQ(s.client_config.max_connections, StackConfig{}.max_connections);
  EXPECT_EQ(s.closer, Closer::kServer);
  EXPECT_NE(churn_engine_options(s, 0).secret.value(), churn_engine_options(s, 1).secret.value());
}

TEST(Churn, BadSettings) {
  auto message = [](std::vector<std::string_view> args) {
    try {
      parse(args);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({"--set", "net.ipv4.tcp_tw_reus=0"}).find("unknown key"), std::string::npos);
  EXPECT_NE(message({"--client-set", "net.ipv4.tcp_tw_reuse=7"}).find("net.ipv4.tcp_tw_reuse: invalid value"),
            std::string::npos);
  EXPECT_NE(message({"--set", "net.ipv4.ip_local_port_range=40999 40000"}).find("low > high"), std::string::npos);
  EXPECT_NE(message({"--client-ip", "10.0.0.2"}).find("must differ"), std::string::npos);
  EXPECT_NE(message({"--server-ip", "10.0.0"}).find("not a unicast IPv4 address"), std::string::npos);
  EXPECT_NE(message({"--rate", "0", "--delay-us", "0"}).find("needs a link delay"), std::string::npos);
  EXPECT_NE(message({"--closer", "both"}).find("not allowed"), std::string::npos);
  EXPECT_NE(message({"--config", "/nonexistent/churn.conf"}).find("option --config"), std::string::npos);
}

}  // namespace
}  // namespace twstack::app
