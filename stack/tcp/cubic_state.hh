// A connection's CUBIC state (RFC 9438), Linux's struct bictcp
// (net/ipv4/tcp_cubic.c) with its jiffies as milliseconds (HZ=1000) and
// windows in segments, plus the cwnd_cnt of tcp_cong_avoid_ai. Kept in the
// Tcb as its own block; NewReno connections never touch it.
#pragma once

#include <cstdint>

#include "stack/base/seq.hh"

namespace twstack::tcp {

// net.ipv4.tcp_congestion_control, per connection from its engine's knob.
enum class CongestionAlgo : std::uint8_t { kCubic, kReno };

struct CubicState {
  std::uint32_t cnt = 0;            // cwnd grows by one segment per `cnt` ACKed
  std::uint32_t last_max_cwnd = 0;  // W_max, segments
  std::uint32_t last_cwnd = 0;
  std::uint32_t last_time = 0;      // ms
  std::uint32_t origin_point = 0;   // segments
  std::uint32_t k = 0;              // time to origin point, 2^-10 s
  std::uint32_t delay_min_us = 0;
  std::uint32_t epoch_start = 0;    // ms; 0: no epoch
  std::uint32_t ack_cnt = 0;
  std::uint32_t tcp_cwnd = 0;       // the Reno-friendly estimate, segments
  std::uint32_t cwnd_cnt = 0;       // tcp_sock.snd_cwnd_cnt
  // HyStart (Linux hystart_update)
  std::uint32_t round_start_us = 0;
  std::uint32_t last_ack_us = 0;
  std::uint32_t curr_rtt_us = 0;
  Seq end_seq;
  std::uint8_t sample_cnt = 0;
  bool found = false;
  CongestionAlgo algo = CongestionAlgo::kReno;
  // When data went out, for the RTT sample CUBIC takes from each ACK (Linux
  // ca_rtt_us, from skb timestamps) where timestamps give none: while
  // HyStart looks for the end of slow start, one record per send pass, the
  // end of what it sent (SND.MAX) and when (µs; kTxUnknown: not kept).
  // Records cover (tx_from, tx_end[0]], (tx_end[0], tx_end[1]], ...
  static constexpr std::uint8_t kTxRecords = 8;
  static constexpr std::uint32_t kTxUnknown = 0xffffffffu;
  std::uint8_t tx_count = 0;
  Seq tx_from;
  Seq tx_end[kTxRecords];
  std::uint32_t tx_us[kTxRecords] = {};
};

struct Tcb;
// cubic.hh; declared here for congestion.hh's reduced_ssthresh().
std::uint32_t cubic_ssthresh(Tcb& c, std::uint32_t smss);

}  // namespace twstack::tcp
