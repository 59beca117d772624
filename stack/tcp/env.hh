// What the TCP state machine works with: parameters derived from the
// configuration once, and the engine's services (counters, timers, buffer
// pool, the queue of segments to send). The state machine never reads a clock: `now` is set by
// the engine at each entry point.
#pragma once

#include <cstdint>

#include "stack/base/config.hh"
#include "stack/base/counters.hh"
#include "stack/base/siphash.hh"
#include "stack/base/time.hh"
#include "stack/tcp/chunk_ring.hh"
#include "stack/tcp/segment_queue.hh"
#include "stack/timer/timer_wheel.hh"

namespace twstack::tcp {

// Timer wheel ticks are milliseconds.
inline constexpr std::int64_t kUsPerTick = 1000;

// The knobs the state machine reads. They come from a StackConfig and have
// no defaults of their own (the configuration's knob table holds them);
// callers may change a field after construction.
struct TcpParams {
  explicit TcpParams(const StackConfig& c);

  std::uint16_t mss;                // twstack.mss
  std::uint32_t sndbuf;             // twstack.sndbuf
  std::uint32_t rcvbuf;             // twstack.rcvbuf
  BufSizes rmem;                    // net.ipv4.tcp_rmem
  BufSizes wmem;                    // net.ipv4.tcp_wmem
  std::uint32_t notsent_lowat;      // net.ipv4.tcp_notsent_lowat
  std::uint32_t rmem_max;           // net.core.rmem_max
  std::uint32_t wmem_max;           // net.core.wmem_max
  std::uint8_t timestamps;          // net.ipv4.tcp_timestamps: 0, 1, 2 (no offset)
  bool window_scaling;              // net.ipv4.tcp_window_scaling
  bool sack;                        // net.ipv4.tcp_sack
  bool dsack;                       // net.ipv4.tcp_dsack
  std::uint8_t early_retrans;       // net.ipv4.tcp_early_retrans
  std::uint8_t recovery;            // net.ipv4.tcp_recovery (rack.hh)
  std::uint8_t min_tso_segs;        // net.ipv4.tcp_min_tso_segs
  bool slow_start_after_idle;       // net.ipv4.tcp_slow_start_after_idle
  bool moderate_rcvbuf;             // net.ipv4.tcp_moderate_rcvbuf (rcv_space.cc)
  bool cubic;                       // net.ipv4.tcp_congestion_control: cubic (else reno)
  bool rfc1337;                     // net.ipv4.tcp_rfc1337 (for the TIME_WAIT policy)
  std::uint8_t syn_retries;         // net.ipv4.tcp_syn_retries
  std::uint8_t synack_retries;      // net.ipv4.tcp_synack_retries
  std::uint8_t retries2;            // net.ipv4.tcp_retries2
  Duration rto_min;                 // twstack.rto_min
  Duration rto_initial;             // twstack.rto_initial
  Duration rto_max;                 // twstack.rto_max
  Duration delack;                  // twstack.delayed_ack; 0 = ACK at once
  Duration timewait_len;            // twstack.tcp_timewait_len
  Duration fin_timeout;             // net.ipv4.tcp_fin_timeout
  Duration invalid_ratelimit;       // net.ipv4.tcp_invalid_ratelimit
  std::uint32_t challenge_ack_limit;  // net.ipv4.tcp_challenge_ack_limit
  Duration keepalive_time;          // net.ipv4.tcp_keepalive_time
  Duration keepalive_intvl;         // net.ipv4.tcp_keepalive_intvl
  std::uint8_t keepalive_probes;    // net.ipv4.tcp_keepalive_probes

  bool operator==(const TcpParams&) const = default;
};

inline TcpParams::TcpParams(const StackConfig& c)
    : mss(c.mss),
      sndbuf(c.sndbuf),
      rcvbuf(c.rcvbuf),
      rmem(c.tcp_rmem),
      wmem(c.tcp_wmem),
      notsent_lowat(c.tcp_notsent_lowat),
      rmem_max(c.rmem_max),
      wmem_max(c.wmem_max),
      timestamps(c.tcp_timestamps),
      window_scaling(c.tcp_window_scaling),
      sack(c.tcp_sack),
      dsack(c.tcp_dsack),
      early_retrans(c.tcp_early_retrans),
      recovery(c.tcp_recovery),
      min_tso_segs(c.tcp_min_tso_segs),
      slow_start_after_idle(c.tcp_slow_start_after_idle),
      moderate_rcvbuf(c.tcp_moderate_rcvbuf),
      cubic(c.tcp_congestion_control == CongestionControl::kCubic),
      rfc1337(c.tcp_rfc1337),
      syn_retries(c.tcp_syn_retries),
      synack_retries(c.tcp_synack_retries),
      retries2(c.tcp_retries2),
      rto_min(c.rto_min),
      rto_initial(c.rto_initial),
      rto_max(c.rto_max),
      delack(c.delayed_ack),
      timewait_len(c.tcp_timewait_len),
      fin_timeout(c.tcp_fin_timeout),
      invalid_ratelimit(c.tcp_invalid_ratelimit),
      challenge_ack_limit(c.tcp_challenge_ack_limit),
      keepalive_time(c.tcp_keepalive_time),
      keepalive_intvl(c.tcp_keepalive_intvl),
      keepalive_probes(c.tcp_keepalive_probes) {}

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
