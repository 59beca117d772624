// Engine options come from the configuration only: options_from() carries
// every knob's default through, and nothing can be built without a
// configuration or without a secret.
#include "stack/engine/options.hh"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "tests/support/secret.hh"

namespace twstack::engine {
namespace {

// No options struct has defaults of its own, and an engine needs a secret.
static_assert(!std::is_default_constructible_v<Secret>);
static_assert(!std::is_default_constructible_v<EngineOptions>);
static_assert(!std::is_default_constructible_v<tcp::TcpParams>);
static_assert(!std::is_default_constructible_v<ports::AllocatorConfig>);
static_assert(!std::is_constructible_v<QueueEngine, const Interface&>);

TEST(Options, CarryEveryDefaultThrough) {
  const StackConfig d;
  const EngineOptions o = options_from(d, test::kTestSecret);
  EXPECT_EQ(o.tcp.mss, d.mss);
  EXPECT_EQ(o.tcp.sndbuf, d.sndbuf);
  EXPECT_EQ(o.tcp.rcvbuf, d.rcvbuf);
  EXPECT_EQ(o.tcp.timestamps, d.tcp_timestamps);
  EXPECT_EQ(o.tcp.window_scaling, d.tcp_window_scaling);
  EXPECT_EQ(o.tcp.rfc1337, d.tcp_rfc1337);
  EXPECT_EQ(o.tcp.syn_retries, d.tcp_syn_retries);
  EXPECT_EQ(o.tcp.synack_retries, d.tcp_synack_retries);
  EXPECT_EQ(o.tcp.retries2, d.tcp_retries2);
  EXPECT_EQ(o.tcp.rto_min, d.rto_min);
  EXPECT_EQ(o.tcp.rto_initial, d.rto_initial);
  EXPECT_EQ(o.tcp.rto_max, d.rto_max);
  EXPECT_EQ(o.tcp.delack, d.delayed_ack);
  EXPECT_EQ(o.tcp.timewait_len, d.tcp_timewait_len);
  EXPECT_EQ(o.tcp.fin_timeout, d.tcp_fin_timeout);
  EXPECT_EQ(o.tcp.invalid_ratelimit, d.tcp_invalid_ratelimit);
  EXPECT_EQ(o.tcp.challenge_ack_limit, d.tcp_challenge_ack_limit);
  EXPECT_EQ(o.max_connections, d.max_connections);
  EXPECT_EQ(o.buffer_chunks, d.buffer_chunks);
  EXPECT_EQ(o.tx_frames, d.tx_frames);
  EXPECT_EQ(o.arp_cache_size, d.arp_cache_size);
  EXPECT_EQ(o.arp_queue, d.arp_queue);
  EXPECT_EQ(o.timer_budget, d.timer_budget);
  EXPECT_EQ(o.max_syn_backlog, d.tcp_max_syn_backlog);
  EXPECT_EQ(o.somaxconn, d.somaxconn);
  EXPECT_EQ(o.syncookies, d.tcp_syncookies);
  EXPECT_EQ(o.max_tw_buckets, d.tcp_max_tw_buckets);
  EXPECT_EQ(o.tw_overflow, d.tw_overflow_policy);
  EXPECT_EQ(o.tw_reuse, d.tcp_tw_reuse);
  EXPECT_EQ(o.tw_reuse_delay, d.tcp_tw_reuse_delay);
  EXPECT_EQ(o.ports.range, d.ip_local_port_range);
  EXPECT_EQ(o.ports.reserved, d.ip_local_reserved_ports);
  EXPECT_EQ(o.ports.mode, d.port_selection);
  EXPECT_EQ(o.secret, test::kTestSecret);
}

// Setting `key` to a value other than its default changes the engine's
// options, unless the knob is one twstack does not act on yet: then set()
// refuses every such value. Candidates: the ends of the knob's range, and a
// value of each other kind (flags, names, port ranges, decimal seconds).
void expect_acts_or_refused(const char* key, std::int64_t min, std::int64_t max,
                            bool implemented) {
  SCOPED_TRACE(key);
  const StackConfig d;
  const EngineOptions base = options_from(d, test::kTestSecret);
  const std::string candidates[] = {std::to_string(min), std::to_string(max), "0", "1", "2",
                                    "2.5", "linux", "evict-oldest", "reno", "40000 40001",
                                    "4096 540000 15728640"};
  for (const std::string& v : candidates) {
    StackConfig c;
    if (c.set(key, v) || c == d) continue;  // refused, or the default
    EXPECT_TRUE(implemented) << "'" << v << "' accepted, but nothing acts on it";
    EXPECT_NE(options_from(c, test::kTestSecret), base)
        << "'" << v << "' does not reach the engine's options";
    return;
  }
  EXPECT_FALSE(implemented) << "no value but the default accepted";
}

TEST(Options, EveryKnobActsOrSaysItDoesNot) {
#define TWSTACK_KNOB_ACTS(key, member, Type, def, min, max, unit, meaning, missing) \
  expect_acts_or_refused(key, min, max, std::string_view(missing).empty());
  TWSTACK_KNOB_LIST(TWSTACK_KNOB_ACTS)
#undef TWSTACK_KNOB_ACTS
}

TEST(Options, TheSecretIsTheOneGiven) {
  const StackConfig d;
  EXPECT_EQ(options_from(d, Secret{1}).secret.value(), 1u);
  EXPECT_EQ(options_from(d, Secret{~0ULL}).secret.value(), ~0ULL);
}

}  // namespace
}  // namespace twstack::engine
