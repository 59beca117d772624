// The port-exhaustion scenario and each mitigation of docs/linux-timewait.md §13 (f),
// with the outcome a Linux 6.18 kernel gives: 1000 ephemeral ports
// (ip_local_port_range 40000 40999), 100 connections per second to one
// server address and port, the client closing first, 20 virtual seconds.
// Without a mitigation the 1001st attempt, at 10.00 s, fails EADDRNOTAVAIL.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "apps/twstack/sim/sim_churn.hh"
#include "apps/workloads/churn.hh"

namespace twstack::app {
namespace {

ChurnResult churn(std::vector<std::string_view> extra, std::string_view rate = "100") {
  std::vector<std::string_view> args = {"--set", "net.ipv4.ip_local_port_range=40000 40999",
                                        "--rate", rate, "--duration", "20"};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_churn(parse_sim_churn(std::vector<std::string>(args.begin(), args.end())));
}

void expect_exhausted_at_ten_seconds(const ChurnResult& r) {
  ASSERT_TRUE(r.first_failure.has_value());
  EXPECT_EQ(*r.first_failure, Duration::seconds(10));
  EXPECT_EQ(r.first_errno, Errc::kAddrNotAvail);
  EXPECT_EQ(r.ok, 1000u);
  EXPECT_EQ(r.client.counters.get(Counter::TcpExtTWRecycled), 0u);
}

void expect_no_failure(const ChurnResult& r) {
  EXPECT_FALSE(r.first_failure.has_value());
  EXPECT_EQ(r.failed, 0u);
  EXPECT_EQ(r.ok, 2000u);
}

constexpr Counter recycled = Counter::TcpExtTWRecycled;

TEST(Mitigations, NoneExhaustsAtTenSeconds) {
  expect_exhausted_at_ten_seconds(churn({"--set", "net.ipv4.tcp_tw_reuse=0", "--closer", "client"}));
}

// tcp_tw_reuse=1: an entry older than tcp_tw_reuse_delay (1 s) that saw
// timestamps is taken over by connect() (§5).
TEST(Mitigations, TwReuseWithTimestampsNeverFails) {
  const ChurnResult r = churn({"--set", "net.ipv4.tcp_tw_reuse=1"});
  expect_no_failure(r);
  EXPECT_EQ(r.client.counters.get(recycled), 1000u);
  EXPECT_EQ(r.client.gauges.timewait, 1000u);
}

// Without timestamps there is no tw_ts_recent_stamp: never reused.
TEST(Mitigations, TwReuseWithoutTimestampsStillExhausts) {
  expect_exhausted_at_ten_seconds(
      churn({"--set", "net.ipv4.tcp_tw_reuse=1", "--set", "net.ipv4.tcp_timestamps=0"}));
}

// The default, 2, is loopback only.
TEST(Mitigations, TwReuseMode2OnNonLoopbackAddressesExhausts) {
  expect_exhausted_at_ten_seconds(churn({"--set", "net.ipv4.tcp_tw_reuse=2"}));
}

TEST(Mitigations, TwReuseMode2OnLoopbackNeverFails) {
  const ChurnResult r = churn({"--set", "net.ipv4.tcp_tw_reuse=2", "--client-ip", "127.0.0.1",
                               "--server-ip", "127.0.0.2"});
  expect_no_failure(r);
  EXPECT_EQ(r.client.counters.get(recycled), 1000u);
}

// tcp_max_tw_buckets below the 1000 ports: the connections past the cap
// close without TIME_WAIT and free their ports at once (§4).
TEST(Mitigations, BucketCapFreesPortsAndCountsOverflow) {
  const ChurnResult r = churn({"--set", "net.ipv4.tcp_tw_reuse=0", "--client-set",
                               "net.ipv4.tcp_max_tw_buckets=500"});
  expect_no_failure(r);
  EXPECT_EQ(r.client.gauges.timewait, 500u);
  EXPECT_EQ(r.client.counters.get(Counter::TcpExtTW), 500u);
  EXPECT_EQ(r.client.counters.get(Counter::TcpExtTCPTimeWaitOverflow), 1500u);
}

// The server closes first: TIME_WAIT lands on the server, the client's
// ports are free as soon as each connection ends.
TEST(Mitigations, ServerSideCloseNeverFails) {
  const ChurnResult r = churn({"--set", "net.ipv4.tcp_tw_reuse=0", "--closer", "server"});
  expect_no_failure(r);
  EXPECT_EQ(r.client.gauges.timewait, 0u);
  EXPECT_EQ(r.client.counters.get(Counter::TcpExtTW), 0u);
  EXPECT_GT(r.server.gauges.timewait, 0u);
}

// Keep-alive: the same 100 requests per second over 10 connections per
// second leave 600 TIME_WAIT entries at most, under the 1000 ports.
TEST(Mitigations, KeepAliveNeverFails) {
  const ChurnResult r = churn({"--set", "net.ipv4.tcp_tw_reuse=0", "--requests-per-conn", "10"}, "10");
  EXPECT_FALSE(r.first_failure.has_value());
  EXPECT_EQ(r.ok, 200u);
  EXPECT_EQ(r.requests_completed, 2000u);
  EXPECT_EQ(r.client.gauges.timewait, 200u);
}

}  // namespace
}  // namespace twstack::app
