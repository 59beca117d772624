#include "apps/kernel/kernel_run.hh"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "apps/common/spawn.hh"
#include "apps/kernel/netns.hh"

namespace kernel_churn {
namespace {

volatile std::sig_atomic_t g_never = 0;

std::string prefix(const char* what) { return "twtest-" + std::to_string(::getpid()) + "-" + what; }

TEST(ProcParse, SockstatTw) {
  EXPECT_EQ(sockstat_tw("sockets: used 5\nTCP: inuse 1 orphan 0 tw 1234 alloc 3 mem 1\nUDP: inuse 0 mem 0\n"), 1234u);
  EXPECT_FALSE(sockstat_tw("sockets: used 5\n").has_value());
}

TEST(ProcParse, SlabCacheByExactName) {
  const char* text =
      "slabinfo - version: 2.1\n"
      "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables\n"
      "tw_sock_TCPv6          0      0    256   16    1 : tunables    0    0    0 : slabdata      0      0      0\n"
      "tw_sock_TCP         1500   1600    256   16    1 : tunables    0    0    0 : slabdata    100    100      0\n";
  const auto tw = slab_cache(text, "tw_sock_TCP");
  ASSERT_TRUE(tw.has_value());
  EXPECT_EQ(tw->active_objs, 1500u);
  EXPECT_EQ(tw->objsize, 256u);
  EXPECT_EQ(tw->bytes(), 1500u * 256u);
  EXPECT_FALSE(slab_cache(text, "tcp_bind_bucket").has_value());
  EXPECT_FALSE(slab_cache(text, "tw_sock").has_value());  // a prefix is not a name
}

TEST(ProcParse, CountersTakeNstatNames) {
  std::map<std::string, std::uint64_t> c;
  parse_proc_counters("TcpExt: SyncookiesSent TWRecycled TCPTimeWaitOverflow\nTcpExt: 0 7 3\n"
                      "IpExt: InNoRoutes\nIpExt: 2\n",
                      &c);
  EXPECT_EQ(c["TcpExtTWRecycled"], 7u);
  EXPECT_EQ(c["TcpExtTCPTimeWaitOverflow"], 3u);
  EXPECT_EQ(c["IpExtInNoRoutes"], 2u);
}

TEST(Netns, NoRootIsNamed) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::setuid(65534) != 0) ::_exit(3);
    const auto why = netns_unavailable();
    ::_exit(why && why->find("needs root") != std::string::npos ? 0 : 1);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  if (::geteuid() != 0) GTEST_SKIP() << "not root: cannot drop to another user";
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "netns_unavailable() as uid 65534 must say it needs root";
}

TEST(Netns, MissingIpIsNamed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  const auto why = netns_unavailable("/nonexistent/ip");
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("/nonexistent/ip"), std::string::npos) << *why;
  EXPECT_NE(why->find("iproute2"), std::string::npos) << *why;
  NetnsPair pair("/nonexistent/ip", prefix("noip"));
  EXPECT_NE(pair.error().find("iproute2"), std::string::npos) << pair.error();
}

class InNamespaces : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = netns_unavailable()) GTEST_SKIP() << *why;
  }
};

TEST_F(InNamespaces, PairIsMadeAndAlwaysRemoved) {
  std::string c, s;
  {
    NetnsPair pair("ip", prefix("pair"));
    ASSERT_EQ(pair.error(), "");
    c = pair.name(Side::kClient);
    s = pair.name(Side::kServer);
    EXPECT_TRUE(std::filesystem::exists("/run/netns/" + c));
    EXPECT_TRUE(std::filesystem::exists("/run/netns/" + s));
  }
  EXPECT_FALSE(std::filesystem::exists("/run/netns/" + c));
  EXPECT_FALSE(std::filesystem::exists("/run/netns/" + s));
}

TEST_F(InNamespaces, StaleNamespacesOfGoneProcessesAreRemoved) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);  // a pid nobody has now
  const std::string gone = "twtest-" + std::to_string(pid) + "-0-c";
  const std::string mine = prefix("live") + "-c";
  ASSERT_TRUE(twstack::app::run_program({"ip", "netns", "add", gone}).ok());
  ASSERT_TRUE(twstack::app::run_program({"ip", "netns", "add", mine}).ok());
  remove_stale_netns("ip", "twtest");
  EXPECT_FALSE(std::filesystem::exists("/run/netns/" + gone));
  EXPECT_TRUE(std::filesystem::exists("/run/netns/" + mine));
  twstack::app::run_program({"ip", "netns", "delete", mine});
}

TEST_F(InNamespaces, RefusedAndUnknownSysctlsAreNamed) {
  KernelSpec spec;
  spec.prefix = prefix("bad");
  spec.client_sysctls = {{"net.ipv4.tcp_tw_reuse", "9"}};
  KernelResult r = run_kernel_churn(spec, g_never);
  EXPECT_NE(r.error.find("refused net.ipv4.tcp_tw_reuse=9"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("EINVAL"), std::string::npos) << r.error;
  spec.client_sysctls = {{"net.ipv4.tcp_no_such_knob", "1"}};
  r = run_kernel_churn(spec, g_never);
  EXPECT_NE(r.error.find("no per-namespace sysctl net.ipv4.tcp_no_such_knob"), std::string::npos) << r.error;
  EXPECT_FALSE(std::filesystem::exists("/run/netns/" + spec.prefix + "-c"));
}

// 200 ports at 100/s, the client closing, no reuse: every port ends in TIME_WAIT
// (60 s) on the client, and the 201st attempt fails with EADDRNOTAVAIL.
TEST_F(InNamespaces, PortExhaustion) {
  KernelSpec spec;
  spec.prefix = prefix("exhaust");
  spec.workload.rate = 100;
  spec.workload.inflight = 256;
  spec.workload.closer = Closer::kClient;
  spec.workload.duration_s = 3;
  spec.workload.warmup_s = 0;
  spec.workload.drain_s = 0.5;
  spec.workload.json = true;
  spec.workload.server_cpu = spec.workload.client_cpu = -1;
  spec.client_sysctls = {{"net.ipv4.ip_local_port_range", "40000 40199"}, {"net.ipv4.tcp_tw_reuse", "0"}};
  const KernelResult r = run_kernel_churn(spec, g_never);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.client.established, 200u);
  EXPECT_EQ(r.client.completed, 200u);
  ASSERT_TRUE(r.client.first_failure_s.has_value());
  EXPECT_EQ(r.client.first_errno, "EADDRNOTAVAIL");
  EXPECT_GE(*r.client.first_failure_s, 1.99);  // attempt 200 is due at 2.00 s, never earlier
  EXPECT_EQ(r.client.failed, r.client.attempts - 200);
  EXPECT_EQ(r.client_tw_end, 200u);
  EXPECT_EQ(r.server_tw_end, 0u);
  EXPECT_GE(r.seconds.size(), 2u);
  EXPECT_GT(r.client_counters.count("TcpActiveOpens"), 0u);
  EXPECT_FALSE(std::filesystem::exists("/run/netns/" + spec.prefix + "-c"));
}

}  // namespace
}  // namespace kernel_churn
