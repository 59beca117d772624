// What the TCP state machine works with: parameters derived from the
// configuration once, and the engine's services (counters, timers, buffer
// pool, the queue of segments to send). The state machine never reads a clock: `now` is set by
// the engine at each entry point.
#pragma once

#include <cstdint>

#include "stack/base/counters.hh"
#include "stack/base/siphash.hh"
#include "stack/base/time.hh"
#include "stack/tcp/chunk_ring.hh"
#include "stack/tcp/segment_queue.hh"
#include "stack/timer/timer_wheel.hh"

namespace twstack::tcp {

// Timer wheel ticks are milliseconds.
inline constexpr std::int64_t kUsPerTick = 1000;

struct TcpParams {
  std::uint16_t mss = 1460;            // our MSS: MTU 1500 - 40
  std::uint32_t sndbuf = 65536;
  std::uint32_t rcvbuf = 65536;
  std::uint8_t timestamps = 1;         // net.ipv4.tcp_timestamps: 0, 1, 2 (no offset)
  bool window_scaling = true;          // net.ipv4.tcp_window_scaling
  bool rfc1337 = false;                // net.ipv4.tcp_rfc1337
  std::uint8_t syn_retries = 6;        // net.ipv4.tcp_syn_retries
  std::uint8_t synack_retries = 5;     // net.ipv4.tcp_synack_retries
  std::uint8_t retries2 = 15;          // net.ipv4.tcp_retries2
  std::int64_t rto_min_us = 200000;    // Linux TCP_RTO_MIN
  std::int64_t rto_initial_us = 1000000;  // RFC 6298 §2.1
  std::int64_t rto_max_us = 120000000;    // Linux TCP_RTO_MAX
  std::int64_t delack_us = 40000;      // Linux TCP_DELACK_MIN; 0 = ACK at once
  std::int64_t timewait_len_us = 60000000;  // twstack.tcp_timewait_len (TCP_TIMEWAIT_LEN)
  std::int64_t fin_timeout_us = 60000000;   // net.ipv4.tcp_fin_timeout
  std::int64_t invalid_ratelimit_ms = 500;  // net.ipv4.tcp_invalid_ratelimit
  std::uint32_t challenge_ack_limit = 0x7fffffff;  // net.ipv4.tcp_challenge_ack_limit
};

struct Env {
  const TcpParams& p;
  Counters& ctr;
  timer::TimerWheel& wheel;
  ChunkPool& pool;
  SegmentQueue& out;
  SipKey secret;
  Instant now{};
  // RFC 5961 §7 global challenge-ACK budget per second.
  std::int64_t challenge_window_s = -1;
  std::uint32_t challenge_count = 0;

  std::int64_t now_ms() const { return now.us / 1000; }
  timer::Tick ticks(std::int64_t us) const {
    return static_cast<timer::Tick>((us + kUsPerTick - 1) / kUsPerTick);
  }
  timer::Tick tick_now() const { return static_cast<timer::Tick>(now.us / kUsPerTick); }
  // Arms `h` to fire `us` from now. Absolute, so a wheel that a budget left
  // behind the engine's clock still fires it on time.
  void arm(timer::TimerHook& h, std::int64_t us) {
    wheel.schedule_at(h, tick_now() + (us <= 0 ? 1 : ticks(us)));
  }
};

}  // namespace twstack::tcp
