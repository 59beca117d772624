#include "stack/base/counters.hh"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <sstream>
#include <string>

namespace twstack {
namespace {

TEST(Counters, NamesAreTheNstatNames) {
  EXPECT_STREQ(counter_name(Counter::IpInReceives), "IpInReceives");
  EXPECT_STREQ(counter_name(Counter::IpReasmFails), "IpReasmFails");
  EXPECT_STREQ(counter_name(Counter::IcmpOutEchoReps), "IcmpOutEchoReps");
  EXPECT_STREQ(counter_name(Counter::TcpActiveOpens), "TcpActiveOpens");
  EXPECT_STREQ(counter_name(Counter::TcpInCsumErrors), "TcpInCsumErrors");
  EXPECT_STREQ(counter_name(Counter::TcpExtTW), "TcpExtTW");
  EXPECT_STREQ(counter_name(Counter::TcpExtTCPTimeWaitOverflow), "TcpExtTCPTimeWaitOverflow");
  EXPECT_STREQ(counter_name(Counter::TcpExtPAWSEstab), "TcpExtPAWSEstab");
  EXPECT_STREQ(counter_name(Counter::TcpExtEmbryonicRsts), "TcpExtEmbryonicRsts");
  EXPECT_STREQ(counter_name(Counter::TwstackTcpNoListener), "TwstackTcpNoListener");
  EXPECT_STREQ(counter_name(Counter::kCount), "?");
}

TEST(Counters, EveryNameIsUniquePrefixedAndRoundTrips) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    const auto c = static_cast<Counter>(i);
    const std::string name = counter_name(c);
    EXPECT_TRUE(seen.insert(name).second) << name;
    const bool prefixed = name.starts_with("Ip") || name.starts_with("Icmp") ||
                          name.starts_with("Tcp") || name.starts_with("Twstack");
    EXPECT_TRUE(prefixed) << name;
    EXPECT_LT(name.size(), 32u) << name;
    EXPECT_GT(std::strlen(counter_help(c)), 0u) << name;
    ASSERT_TRUE(counter_from_name(name).has_value()) << name;
    EXPECT_EQ(*counter_from_name(name), c);
  }
  EXPECT_EQ(seen.size(), kCounterCount);
}

TEST(Counters, FromNameRejectsUnknownAndWrongCase) {
  EXPECT_FALSE(counter_from_name("").has_value());
  EXPECT_FALSE(counter_from_name("TW").has_value());  // /proc/net/netstat column, no group
  EXPECT_FALSE(counter_from_name("tcpexttw").has_value());
  EXPECT_FALSE(counter_from_name("TcpExtTWX").has_value());
}

TEST(Counters, IncGetAddSinceReset) {
  Counters a;
  EXPECT_EQ(a.get(Counter::TcpOutRsts), 0u);
  a.inc(Counter::TcpOutRsts);
  a.inc(Counter::TcpOutRsts, 4);
  a.inc(Counter::TcpExtTW, 7);
  EXPECT_EQ(a.get(Counter::TcpOutRsts), 5u);

  Counters b;
  b.inc(Counter::TcpOutRsts, 10);
  b.add(a);
  EXPECT_EQ(b.get(Counter::TcpOutRsts), 15u);
  EXPECT_EQ(b.get(Counter::TcpExtTW), 7u);

  const Counters d = b.since(a);
  EXPECT_EQ(d.get(Counter::TcpOutRsts), 10u);
  EXPECT_EQ(d.get(Counter::TcpExtTW), 0u);

  b.reset();
  EXPECT_EQ(b, Counters{});
}

TEST(Counters, PrintNstatFormat) {
  Counters c;
  c.inc(Counter::TcpActiveOpens, 3);
  c.inc(Counter::TcpExtTW, 1234567);
  std::ostringstream os;
  print_nstat(os, c);
  // "%-32s%-16llu%6.1f\n", as iproute2 misc/nstat.c dump_kern_db.
  const std::string expected =
      "#kernel\n"
      "TcpActiveOpens                  3                  0.0\n"
      "TcpExtTW                        1234567            0.0\n";
  EXPECT_EQ(os.str(), expected);
}

TEST(Counters, PrintNstatIncludeZero) {
  std::ostringstream os;
  print_nstat(os, Counters{}, /*include_zero=*/true);
  const std::string out = os.str();
  std::size_t lines = 0;
  for (char ch : out) lines += ch == '\n' ? 1 : 0;
  EXPECT_EQ(lines, kCounterCount + 1);
  EXPECT_NE(out.find("\nIpInReceives                    0                  0.0\n"),
            std::string::npos);

  std::ostringstream empty;
  print_nstat(empty, Counters{});
  EXPECT_EQ(empty.str(), "#kernel\n");
}

TEST(Counters, PrintJson) {
  Counters c;
  std::ostringstream none;
  print_json(none, c);
  EXPECT_EQ(none.str(), "{}\n");

  c.inc(Counter::IpInReceives, 2);
  c.inc(Counter::TwstackArpQueueDrops);
  std::ostringstream os;
  print_json(os, c);
  EXPECT_EQ(os.str(), "{\"IpInReceives\":2,\"TwstackArpQueueDrops\":1}\n");

  std::ostringstream all;
  print_json(all, c, /*include_zero=*/true);
  EXPECT_NE(all.str().find("\"TcpExtTW\":0"), std::string::npos);
}

TEST(Counters, SsSummary) {
  Gauges g;
  g.estab = 3;
  g.closing = 2;
  g.closed = 1;
  g.orphaned = 2;
  g.timewait = 100;
  g.listen = 1;
  std::ostringstream os;
  print_ss_summary(os, g);
  EXPECT_EQ(os.str(), "TCP:   6 (estab 3, closed 1, orphaned 2, timewait 100)\n");
}

}  // namespace
}  // namespace twstack
