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
  Duration rto_min = Duration::millis(200);        // Linux TCP_RTO_MIN
  Duration rto_initial = Duration::millis(1000);   // RFC 6298 §2.1
  Duration rto_max = Duration::millis(120000);     // Linux TCP_RTO_MAX
  Duration delack = Duration::millis(40);          // Linux TCP_DELACK_MIN; 0 = ACK at once
  Duration timewait_len = Duration::seconds(60);   // twstack.tcp_timewait_len (TCP_TIMEWAIT_LEN)
  Duration fin_timeout = Duration::seconds(60);    // net.ipv4.tcp_fin_timeout
  Duration invalid_ratelimit = Duration::millis(500);  // net.ipv4.tcp_invalid_ratelimit
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
