#include "stack/base/config.hh"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>

namespace twstack {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// Every key with its default (as get() prints it) and a non-default value.
struct KeyCase {
  const char* key;
  const char* def;
  const char* other;
};

const KeyCase kCases[] = {
    {"net.ipv4.tcp_timestamps", "1", "2"},
    {"net.ipv4.tcp_window_scaling", "1", "0"},
    {"net.ipv4.tcp_sack", "1", "0"},
    {"net.ipv4.tcp_dsack", "1", "0"},
    {"net.ipv4.tcp_congestion_control", "cubic", "reno"},
    {"net.ipv4.tcp_early_retrans", "3", "0"},
    {"net.ipv4.tcp_recovery", "1", "0"},
    {"net.ipv4.tcp_min_tso_segs", "2", "10"},
    {"net.ipv4.tcp_slow_start_after_idle", "1", "0"},
    {"net.ipv4.tcp_moderate_rcvbuf", "1", "0"},
    {"net.ipv4.tcp_rfc1337", "0", "1"},
    {"net.ipv4.tcp_tw_reuse", "2", "1"},
    {"net.ipv4.tcp_tw_reuse_delay", "1000", "60000"},
    {"net.ipv4.tcp_max_tw_buckets", "262144", "2147483647"},
    {"net.ipv4.tcp_fin_timeout", "60", "5"},
    {"net.ipv4.tcp_invalid_ratelimit", "500", "0"},
    {"net.ipv4.ip_local_port_range", "32768 60999", "1024 65535"},
    {"net.ipv4.ip_local_reserved_ports", "", "0,22,8080-8082,65535"},
    {"net.ipv4.tcp_syn_retries", "6", "127"},
    {"net.ipv4.tcp_synack_retries", "5", "0"},
    {"net.ipv4.tcp_retries2", "15", "255"},
    {"net.ipv4.tcp_max_syn_backlog", "4096", "128"},
    {"net.core.somaxconn", "4096", "0"},
    {"net.ipv4.tcp_challenge_ack_limit", "2147483647", "1000"},
    {"net.ipv4.tcp_syncookies", "1", "2"},
    {"net.ipv4.tcp_keepalive_time", "7200", "1"},
    {"net.ipv4.tcp_keepalive_intvl", "75", "32767"},
    {"net.ipv4.tcp_keepalive_probes", "9", "127"},
    {"net.ipv4.tcp_rmem", "4096 131072 6291456", "4096 540000 15728640"},
    {"net.ipv4.tcp_wmem", "4096 16384 4194304", "4096 262144 4194304"},
    {"net.ipv4.tcp_notsent_lowat", "4294967295", "16384"},
    {"net.core.rmem_max", "4194304", "212992"},
    {"net.core.wmem_max", "4194304", "2304000"},
    {"twstack.tcp_timewait_len", "60", "2.5"},
    {"twstack.tw_overflow_policy", "drop", "evict-oldest"},
    {"twstack.port_selection", "uniform", "linux"},
    {"twstack.max_connections", "65536", "16777216"},
    {"twstack.max_destinations", "1024", "65536"},
    {"twstack.max_listeners", "1024", "65535"},
    {"twstack.sndbuf", "65536", "1024"},
    {"twstack.rcvbuf", "65536", "129024"},
    {"twstack.mss", "1460", "88"},
    {"twstack.rto_min", "200", "1"},
    {"twstack.rto_initial", "1000", "3000"},
    {"twstack.rto_max", "120000", "60000"},
    {"twstack.delayed_ack", "40", "0"},
    {"twstack.tx_frames", "4096", "1"},
    {"twstack.arp_cache_size", "1024", "1048576"},
    {"twstack.arp_queue", "64", "0"},
    {"twstack.timer_budget", "4096", "16777216"},
    {"twstack.buffer_chunks", "32768", "16"},
};

TEST(Config, KnownKeysAreExactlyTheCases) {
  const auto keys = StackConfig::known_keys();
  ASSERT_EQ(keys.size(), std::size(kCases));
  for (std::size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(keys[i], kCases[i].key);
}

// A default-constructed StackConfig holds the knob list's defaults.
TEST(Config, DefaultsAreTheKnobList) {
  const StackConfig c;
#define TWSTACK_KNOB_EXPECT(key, member, Type, def, min, max, unit, meaning, missing) \
  EXPECT_EQ(c.member, Type(def)) << key;
  TWSTACK_KNOB_LIST(TWSTACK_KNOB_EXPECT)
#undef TWSTACK_KNOB_EXPECT
}

TEST(Config, DefaultsAsStrings) {
  const StackConfig c;
  for (const auto& kc : kCases) EXPECT_EQ(c.get(kc.key), kc.def) << kc.key;
}

TEST(Config, DefaultsAsFields) {
  const StackConfig c;
  EXPECT_EQ(c.tcp_timestamps, 1);
  EXPECT_TRUE(c.tcp_window_scaling);
  EXPECT_TRUE(c.tcp_sack);
  EXPECT_FALSE(c.tcp_rfc1337);
  EXPECT_EQ(c.tcp_tw_reuse, 2);
  EXPECT_EQ(c.tcp_tw_reuse_delay, Duration::millis(1000));
  EXPECT_EQ(c.tcp_max_tw_buckets, 262144u);
  EXPECT_EQ(c.tcp_fin_timeout, Duration::seconds(60));
  EXPECT_EQ(c.tcp_invalid_ratelimit, Duration::millis(500));
  EXPECT_EQ(c.ip_local_port_range, (PortRange{32768, 60999}));
  EXPECT_EQ(c.ip_local_port_range.size(), 28232u);
  EXPECT_TRUE(c.ip_local_reserved_ports.none());
  EXPECT_EQ(c.tcp_syn_retries, 6);
  EXPECT_EQ(c.tcp_synack_retries, 5);
  EXPECT_EQ(c.tcp_retries2, 15);
  EXPECT_EQ(c.tcp_max_syn_backlog, 4096u);
  EXPECT_EQ(c.somaxconn, 4096u);
  EXPECT_EQ(c.tcp_challenge_ack_limit, 2147483647u);
  EXPECT_EQ(c.tcp_syncookies, 1);
  EXPECT_EQ(c.tcp_keepalive_time, Duration::seconds(7200));
  EXPECT_EQ(c.tcp_keepalive_intvl, Duration::seconds(75));
  EXPECT_EQ(c.tcp_keepalive_probes, 9);
  EXPECT_EQ(c.tcp_timewait_len, Duration::seconds(60));
  EXPECT_EQ(c.tw_overflow_policy, TwOverflowPolicy::kDrop);
  EXPECT_EQ(c.port_selection, PortSelection::kUniform);
  EXPECT_EQ(c.max_connections, 65536u);
  EXPECT_EQ(c.sndbuf, 65536u);
  EXPECT_EQ(c.rcvbuf, 65536u);
  EXPECT_EQ(c.mss, 1460);
  EXPECT_EQ(c.rto_min, Duration::millis(200));
  EXPECT_EQ(c.rto_initial, Duration::millis(1000));
  EXPECT_EQ(c.rto_max, Duration::millis(120000));
  EXPECT_EQ(c.delayed_ack, Duration::millis(40));
  EXPECT_EQ(c.tx_frames, 4096u);
  EXPECT_EQ(c.arp_cache_size, 1024u);
  EXPECT_EQ(c.arp_queue, 64u);
  EXPECT_EQ(c.timer_budget, 4096u);
  EXPECT_EQ(c.validate(), std::nullopt);
}

// The knobs twstack does not act on yet (the list's `missing` column).
std::set<std::string> not_implemented() {
  std::set<std::string> keys;
#define TWSTACK_KNOB_MISSING(key, member, Type, def, min, max, unit, meaning, missing) \
  if (!std::string_view(missing).empty()) keys.insert(key);
  TWSTACK_KNOB_LIST(TWSTACK_KNOB_MISSING)
#undef TWSTACK_KNOB_MISSING
  return keys;
}

TEST(Config, EveryKeyRoundTrips) {
  const std::set<std::string> missing = not_implemented();
  for (const auto& kc : kCases) {
    if (missing.count(kc.key) != 0) continue;  // NotImplementedTakeTheirDefaultOnly
    StackConfig c;
    EXPECT_EQ(c.set(kc.key, c.get(kc.key)), std::nullopt) << kc.key;
    EXPECT_EQ(c, StackConfig{}) << kc.key;
    EXPECT_EQ(c.set(kc.key, kc.other), std::nullopt) << kc.key;
    EXPECT_EQ(c.get(kc.key), kc.other) << kc.key;
    EXPECT_NE(c, StackConfig{}) << kc.key;
    StackConfig d;
    EXPECT_EQ(d.set(kc.key, c.get(kc.key)), std::nullopt) << kc.key;
    EXPECT_EQ(d, c) << kc.key;
  }
}

// Nothing reads these knobs yet (SACK, SYN cookies): a sysctl file
// may set them to Linux's default, and any other value is refused.
TEST(Config, NotImplementedTakeTheirDefaultOnly) {
  const std::set<std::string> missing = not_implemented();
  EXPECT_TRUE(missing.empty());
  for (const auto& kc : kCases) {
    if (missing.count(kc.key) == 0) continue;
    StackConfig c;
    EXPECT_EQ(c.set(kc.key, kc.def), std::nullopt) << kc.key;
    EXPECT_EQ(c.set(kc.key, std::string(" ") + kc.def + " "), std::nullopt) << kc.key;
    EXPECT_THAT(c.set(kc.key, kc.other),
                testing::Optional(AllOf(HasSubstr(std::string(kc.key) + ": not implemented yet ("),
                                        HasSubstr("allowed: " + std::string(kc.def) + " only"))));
    EXPECT_EQ(c, StackConfig{}) << kc.key;
  }
}

// net.ipv4.tcp_recovery takes Linux's three bits (TCP_RACK_LOSS_DETECTION,
// TCP_RACK_STATIC_REO_WND, TCP_RACK_NO_DUPTHRESH) and nothing beyond them.
TEST(Config, RecoveryTakesTheRackBits) {
  StackConfig c;
  for (const char* v : {"0", "1", "2", "3", "4", "5", "7"}) EXPECT_EQ(c.set("net.ipv4.tcp_recovery", v), std::nullopt) << v;
  EXPECT_EQ(c.tcp_recovery, 7);
  EXPECT_NE(c.set("net.ipv4.tcp_recovery", "8"), std::nullopt);
  EXPECT_EQ(c.tcp_recovery, 7);
}

TEST(Config, SetsTypedFields) {
  StackConfig c;
  EXPECT_EQ(c.set("net.ipv4.tcp_tw_reuse_delay", "250"), std::nullopt);
  EXPECT_EQ(c.tcp_tw_reuse_delay, Duration::millis(250));
  EXPECT_EQ(c.set("net.ipv4.tcp_fin_timeout", "30"), std::nullopt);
  EXPECT_EQ(c.tcp_fin_timeout, Duration::seconds(30));
  EXPECT_EQ(c.set("twstack.tcp_timewait_len", "2.5"), std::nullopt);
  EXPECT_EQ(c.tcp_timewait_len, Duration::millis(2500));
  EXPECT_EQ(c.set("twstack.tcp_timewait_len", "0.000001"), std::nullopt);
  EXPECT_EQ(c.tcp_timewait_len, Duration::micros(1));
  EXPECT_EQ(c.get("twstack.tcp_timewait_len"), "0.000001");
  EXPECT_EQ(c.set("twstack.tcp_timewait_len", "1.250"), std::nullopt);
  EXPECT_EQ(c.get("twstack.tcp_timewait_len"), "1.25");
  EXPECT_EQ(c.set("twstack.tw_overflow_policy", "evict-oldest"), std::nullopt);
  EXPECT_EQ(c.tw_overflow_policy, TwOverflowPolicy::kEvictOldest);
  EXPECT_EQ(c.set("twstack.port_selection", "linux"), std::nullopt);
  EXPECT_EQ(c.port_selection, PortSelection::kLinux);
}

TEST(Config, KeyAndValueSpellings) {
  StackConfig c;
  EXPECT_EQ(c.set("net/ipv4/tcp_tw_reuse", "0"), std::nullopt);  // sysctl's '/' form
  EXPECT_EQ(c.tcp_tw_reuse, 0);
  EXPECT_EQ(c.set("  net.ipv4.tcp_tw_reuse ", " 1\n"), std::nullopt);
  EXPECT_EQ(c.get("net/ipv4/tcp_tw_reuse"), "1");
  EXPECT_EQ(c.set("net.ipv4.ip_local_port_range", "40000\t50001"), std::nullopt);
  EXPECT_EQ(c.ip_local_port_range, (PortRange{40000, 50001}));
  EXPECT_EQ(c.set("net.ipv4.ip_local_port_range", "  7  7 "), std::nullopt);  // same parity ok
  EXPECT_EQ(c.get("net.ipv4.ip_local_port_range"), "7 7");
  EXPECT_EQ(c.set_assignment("twstack.mss = 1900"), std::nullopt);
  EXPECT_EQ(c.mss, 1900);
  EXPECT_THAT(c.set_assignment("twstack.mss"), testing::Optional(HasSubstr("key=value")));
  EXPECT_THAT(c.set_assignment("=5"), testing::Optional(HasSubstr("key=value")));
  EXPECT_EQ(c.get("no.such.key"), "");
}

TEST(Config, ReservedPorts) {
  StackConfig c;
  EXPECT_EQ(c.set("net.ipv4.ip_local_reserved_ports", "9000-9003, 22 ,80,81,82,65535"),
            std::nullopt);
  EXPECT_EQ(c.ip_local_reserved_ports.count(), 4u + 1 + 3 + 1);
  EXPECT_TRUE(c.ip_local_reserved_ports.test(9003));
  EXPECT_FALSE(c.ip_local_reserved_ports.test(9004));
  EXPECT_EQ(c.get("net.ipv4.ip_local_reserved_ports"), "22,80-82,9000-9003,65535");
  // A write replaces the set, as proc_do_large_bitmap does.
  EXPECT_EQ(c.set("net.ipv4.ip_local_reserved_ports", "1"), std::nullopt);
  EXPECT_EQ(c.get("net.ipv4.ip_local_reserved_ports"), "1");
  // A trailing comma is accepted, as the kernel's parser ends there.
  EXPECT_EQ(c.set("net.ipv4.ip_local_reserved_ports", "2,"), std::nullopt);
  EXPECT_EQ(c.get("net.ipv4.ip_local_reserved_ports"), "2");
  EXPECT_EQ(c.set("net.ipv4.ip_local_reserved_ports", ""), std::nullopt);
  EXPECT_TRUE(c.ip_local_reserved_ports.none());
  EXPECT_EQ(c.set("net.ipv4.ip_local_reserved_ports", "0-65535"), std::nullopt);
  EXPECT_TRUE(c.ip_local_reserved_ports.all());
}

// Each bad value is refused, names the key and what is allowed, and leaves
// the configuration unchanged.
void expect_refused(const char* key, const char* value, const char* allowed_part) {
  StackConfig c;
  const auto err = c.set(key, value);
  ASSERT_TRUE(err.has_value()) << key << " = '" << value << "'";
  EXPECT_THAT(*err, AllOf(HasSubstr(key), HasSubstr("allowed"), HasSubstr(allowed_part)))
      << value;
  EXPECT_EQ(c, StackConfig{}) << key;
}

TEST(Config, RefusesBadValues) {
  // Enumerated integers and booleans.
  expect_refused("net.ipv4.tcp_tw_reuse", "3", "0, 1 or 2");
  expect_refused("net.ipv4.tcp_timestamps", "-1", "0, 1 or 2");
  expect_refused("net.ipv4.tcp_window_scaling", "2", "0 or 1");
  expect_refused("net.ipv4.tcp_rfc1337", "yes", "0 or 1");
  expect_refused("net.ipv4.tcp_window_scaling", "", "0 or 1");
  // Ranges, negatives, overflow, trailing garbage.
  expect_refused("net.ipv4.tcp_tw_reuse_delay", "0", "1..60000 (ms)");
  expect_refused("net.ipv4.tcp_tw_reuse_delay", "60001", "1..60000 (ms)");
  expect_refused("net.ipv4.tcp_tw_reuse_delay", "1000ms", "1..60000 (ms)");
  expect_refused("net.ipv4.tcp_max_tw_buckets", "-1", "0..2147483647");
  expect_refused("net.ipv4.tcp_max_tw_buckets", "2147483648", "0..2147483647");
  expect_refused("net.ipv4.tcp_max_tw_buckets", "99999999999999999999999", "0..2147483647");
  expect_refused("net.ipv4.tcp_max_tw_buckets", "1e6", "0..2147483647");
  expect_refused("net.ipv4.tcp_max_tw_buckets", "+5", "0..2147483647");
  expect_refused("net.ipv4.tcp_fin_timeout", "0", "(s)");
  expect_refused("net.ipv4.tcp_fin_timeout", "2.5", "(s)");
  expect_refused("net.ipv4.tcp_syn_retries", "0", "1..127");
  expect_refused("net.ipv4.tcp_syn_retries", "128", "1..127");
  expect_refused("net.ipv4.tcp_synack_retries", "256", "0..255");
  expect_refused("twstack.mss", "87", "88..1900");
  expect_refused("twstack.sndbuf", "66058241", "1024..66058240");
  expect_refused("twstack.delayed_ack", "501", "0..500 (ms)");
  // Decimal seconds.
  expect_refused("twstack.tcp_timewait_len", "0", "seconds > 0");
  expect_refused("twstack.tcp_timewait_len", "0.0", "seconds > 0");
  expect_refused("twstack.tcp_timewait_len", "-1", "seconds > 0");
  expect_refused("twstack.tcp_timewait_len", ".5", "seconds > 0");
  expect_refused("twstack.tcp_timewait_len", "5.", "seconds > 0");
  expect_refused("twstack.tcp_timewait_len", "1.0000001", "up to 6 decimals");
  expect_refused("twstack.tcp_timewait_len", "86400.5", "<= 86400");
  expect_refused("twstack.tcp_timewait_len", "99999999999999999999", "<= 86400");
  expect_refused("twstack.tcp_timewait_len", "60s", "seconds > 0");
  // Names.
  expect_refused("twstack.tw_overflow_policy", "evict", "drop or evict-oldest");
  expect_refused("twstack.tw_overflow_policy", "DROP", "drop or evict-oldest");
  expect_refused("twstack.port_selection", "random", "uniform or linux");
  // Port range.
  expect_refused("net.ipv4.ip_local_port_range", "60999 32768", "low <= high");
  expect_refused("net.ipv4.ip_local_port_range", "32768", "two ports");
  expect_refused("net.ipv4.ip_local_port_range", "1 2 3", "two ports");
  expect_refused("net.ipv4.ip_local_port_range", "0 100", "1..65535");
  expect_refused("net.ipv4.ip_local_port_range", "1 65536", "1..65535");
  // Buffer size triples (proc_dointvec_minmax, each >= 1) and their caps.
  expect_refused("net.ipv4.tcp_rmem", "4096 131072", "three integers");
  expect_refused("net.ipv4.tcp_rmem", "4096 131072 6291456 1", "three integers");
  expect_refused("net.ipv4.tcp_wmem", "0 16384 4194304", "1..2147483647");
  expect_refused("net.ipv4.tcp_wmem", "4096 16384 2147483648", "1..2147483647");
  expect_refused("net.core.rmem_max", "2303", "2304..2147483647");
  expect_refused("net.core.wmem_max", "4607", "4608..2147483647");
  expect_refused("net.ipv4.ip_local_port_range", "1,2", "two ports");
  // Reserved ports.
  expect_refused("net.ipv4.ip_local_reserved_ports", "65536", "0..65535");
  expect_refused("net.ipv4.ip_local_reserved_ports", "10-5", "ranges 'a-b'");
  expect_refused("net.ipv4.ip_local_reserved_ports", "1,,2", "comma-separated");
  expect_refused("net.ipv4.ip_local_reserved_ports", "-5", "comma-separated");
  expect_refused("net.ipv4.ip_local_reserved_ports", "5-", "comma-separated");
  expect_refused("net.ipv4.ip_local_reserved_ports", "x", "comma-separated");
}

TEST(Config, ErrorMessageShape) {
  StackConfig c;
  EXPECT_EQ(c.set("net.ipv4.tcp_tw_reuse", "3"),
            "net.ipv4.tcp_tw_reuse: invalid value '3' (out of range); allowed: 0, 1 or 2");
  EXPECT_EQ(c.set("net.ipv4.tcp_tw_reuse_delay", "abc"),
            "net.ipv4.tcp_tw_reuse_delay: invalid value 'abc' (not an integer); "
            "allowed: integer 1..60000 (ms)");
}

TEST(Config, UnknownKeySuggestsClosest) {
  StackConfig c;
  EXPECT_EQ(c.set("net.ipv4.tcp_tw_resue", "1"),
            "unknown key 'net.ipv4.tcp_tw_resue'; did you mean 'net.ipv4.tcp_tw_reuse'?");
  EXPECT_EQ(c.set("net.ipv4.tcp_max_tw_bucket", "1"),
            "unknown key 'net.ipv4.tcp_max_tw_bucket'; did you mean "
            "'net.ipv4.tcp_max_tw_buckets'?");
  EXPECT_EQ(c.set("net/ipv4/tcp_finn_timeout", "1"),
            "unknown key 'net.ipv4.tcp_finn_timeout'; did you mean 'net.ipv4.tcp_fin_timeout'?");
  // Same last component under another prefix.
  EXPECT_EQ(c.set("tcp_tw_reuse", "1"),
            "unknown key 'tcp_tw_reuse'; did you mean 'net.ipv4.tcp_tw_reuse'?");
  EXPECT_EQ(c.set("net.ipv4.tcp_timewait_len", "1"),
            "unknown key 'net.ipv4.tcp_timewait_len'; did you mean 'twstack.tcp_timewait_len'?");
  // Nothing close.
  EXPECT_EQ(c.set("net.ipv4.tcp_pacing_ss_ratio", "200"),
            "unknown key 'net.ipv4.tcp_pacing_ss_ratio'");
  EXPECT_EQ(c, StackConfig{});
}

TEST(Config, Validate) {
  StackConfig c;
  ASSERT_EQ(c.set("twstack.rto_min", "2000"), std::nullopt);  // accepted alone
  EXPECT_THAT(c.validate(), testing::Optional(AllOf(HasSubstr("twstack.rto_min"),
                                                    HasSubstr("twstack.rto_initial"))));
  ASSERT_EQ(c.set("twstack.rto_initial", "3000"), std::nullopt);
  EXPECT_EQ(c.validate(), std::nullopt);
  ASSERT_EQ(c.set("twstack.rto_max", "2500"), std::nullopt);
  EXPECT_THAT(c.validate(), testing::Optional(HasSubstr("twstack.rto_max")));
}

TEST(Config, DescribeListsEveryKey) {
  const std::string d = StackConfig::describe();
  for (const auto& kc : kCases) EXPECT_THAT(d, HasSubstr(kc.key));
  EXPECT_THAT(d, HasSubstr("net.ipv4.tcp_tw_reuse_delay"));
  EXPECT_THAT(d, HasSubstr("integer 1..60000 (ms)"));
  EXPECT_THAT(d, HasSubstr("32768 60999"));
  EXPECT_THAT(d, HasSubstr("(empty)"));
  EXPECT_THAT(d, HasSubstr("RFC 2018 selective acknowledgements (SACK-permitted, blocks, RFC 6675 "
                           "recovery); allowed: 0 or 1"));
  for (const std::string& key : not_implemented()) {
    const std::size_t line = d.find(key);
    ASSERT_NE(line, std::string::npos);
    EXPECT_NE(d.find("(not implemented yet: ", line), std::string::npos) << key;
    EXPECT_LT(d.find("(not implemented yet: ", line), d.find('\n', line)) << key;
  }
}

TEST(Config, DescribeMarkdown) {
  const std::string md = StackConfig::describe_markdown();
  EXPECT_THAT(md, testing::StartsWith("| key | default | unit | allowed | meaning |\n|---|"));
  EXPECT_THAT(md, HasSubstr("\n| `net.ipv4.tcp_tw_reuse_delay` | 1000 | ms | 1..60000 "
                            "| minimum TIME_WAIT age before tcp_tw_reuse applies"));
  EXPECT_THAT(md, HasSubstr("\n| `net.ipv4.ip_local_reserved_ports` | (empty) | ports |"));
  EXPECT_THAT(md, HasSubstr("\n| `net.ipv4.tcp_sack` | 1 |  | 0 or 1 | RFC 2018 selective "
                            "acknowledgements (SACK-permitted, blocks, RFC 6675 recovery) |\n"));
  EXPECT_EQ(std::count(md.begin(), md.end(), '\n'), std::ssize(kCases) + 2);
}

// README.md's knob table is describe_markdown(), between its markers. meson
// test passes the file in TWSTACK_README.
TEST(Config, ReadmeKnobTableIsGenerated) {
  const char* path = std::getenv("TWSTACK_README");
  ASSERT_NE(path, nullptr) << "TWSTACK_README must name the source tree's README.md";
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << path;
  std::ostringstream text;
  text << in.rdbuf();
  const std::string readme = text.str();
  const std::string begin = "<!-- knobs:begin -->\n";
  const std::string end = "<!-- knobs:end -->";
  const std::size_t b = readme.find(begin);
  const std::size_t e = readme.find(end);
  ASSERT_NE(b, std::string::npos) << path << " has no " << begin;
  ASSERT_NE(e, std::string::npos) << path << " has no " << end;
  ASSERT_LT(b, e);
  const std::string table = readme.substr(b + begin.size(), e - b - begin.size());
  EXPECT_EQ(table, StackConfig::describe_markdown())
      << path << ": the knob table is out of date; between the markers it should read:\n"
      << StackConfig::describe_markdown();
}

// parse_config_text(): the sysctl.conf format (apps/twstack reads the file).
TEST(ConfigText, ParsesSysctlConf) {
  const std::string text =
      "# comment\n"
      "; also a comment\n"
      "\n"
      "   \t\n"
      "net.ipv4.tcp_tw_reuse = 1\n"
      "net/ipv4/tcp_max_tw_buckets=1000\n"
      "  net.ipv4.ip_local_port_range =  10000   20001  \r\n"
      "net.ipv4.ip_local_reserved_ports =\n"
      "twstack.tcp_timewait_len = 2.5\n"
      "-net.ipv4.tcp_congestion_control = cubic\n"
      "-net.ipv4.tcp_fin_timeout = 10\n"
      "twstack.tw_overflow_policy = evict-oldest";  // no final \n
  StackConfig c;
  ASSERT_EQ(parse_config_text(text, "ok.conf", &c), std::nullopt);
  EXPECT_EQ(c.tcp_tw_reuse, 1);
  EXPECT_EQ(c.tcp_max_tw_buckets, 1000u);
  EXPECT_EQ(c.ip_local_port_range, (PortRange{10000, 20001}));
  EXPECT_TRUE(c.ip_local_reserved_ports.none());
  EXPECT_EQ(c.tcp_timewait_len, Duration::millis(2500));
  EXPECT_EQ(c.tcp_fin_timeout, Duration::seconds(10));
  EXPECT_EQ(c.tw_overflow_policy, TwOverflowPolicy::kEvictOldest);
}

TEST(ConfigText, LaterLinesWin) {
  StackConfig c;
  ASSERT_EQ(parse_config_text("net.ipv4.tcp_fin_timeout = 10\n"
                              "net.ipv4.tcp_fin_timeout = 20\n",
                              "twice.conf", &c),
            std::nullopt);
  EXPECT_EQ(c.tcp_fin_timeout, Duration::seconds(20));
}

TEST(ConfigText, ErrorsCarryOriginAndLineAndChangeNothing) {
  const std::string origin = "bad.conf";
  StackConfig c;
  const auto err = parse_config_text("# header\n"
                                     "net.ipv4.tcp_tw_reuse = 1\n"
                                     "net.ipv4.tcp_tw_reuse = 7\n"
                                     "net.ipv4.tcp_tw_resue = 1\n"
                                     "just some words\n"
                                     "= 5\n"
                                     "-twstack.mss = 1\n"
                                     "twstack.mss = 1400 # trailing comment\n",
                                     origin, &c);
  ASSERT_TRUE(err.has_value());
  const std::string e = *err;
  EXPECT_THAT(e, HasSubstr(origin + ":3: net.ipv4.tcp_tw_reuse: invalid value '7'"));
  EXPECT_THAT(e, HasSubstr(origin + ":4: unknown key 'net.ipv4.tcp_tw_resue'; did you mean "
                                    "'net.ipv4.tcp_tw_reuse'?"));
  EXPECT_THAT(e, HasSubstr(origin + ":5: expected 'key = value'"));
  EXPECT_THAT(e, HasSubstr(origin + ":6: expected 'key = value'"));
  EXPECT_THAT(e, HasSubstr(origin + ":7: twstack.mss: invalid value '1'"));
  EXPECT_THAT(e, HasSubstr(origin + ":8: twstack.mss: invalid value '1400 # trailing comment'"));
  EXPECT_THAT(e, testing::Not(HasSubstr(":2:")));
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 5);  // six lines, no trailing newline
  EXPECT_EQ(c, StackConfig{});  // all or nothing
}

TEST(ConfigText, EmptyTextIsFine) {
  StackConfig c;
  EXPECT_EQ(parse_config_text("", "empty.conf", &c), std::nullopt);
  EXPECT_EQ(c, StackConfig{});
}

TEST(ConfigText, OriginNamesTheSource) {
  StackConfig c;
  EXPECT_EQ(parse_config_text("\n\ntwstack.mss = 0\n", "--set", &c),
            "--set:3: twstack.mss: invalid value '0' (out of range); allowed: integer "
            "88..1900 (bytes)");
}

}  // namespace
}  // namespace twstack
