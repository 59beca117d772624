// The retransmission timer's estimator (RFC 6298 §2) as Linux computes it
// (tcp_rtt_estimator, tcp_set_rto): SRTT kept scaled by 8, the mean
// deviation scaled by 4, and RTO = SRTT + RTTVAR' where RTTVAR' is the
// largest deviation seen over the last round trip, never below tcp_rto_min.
// On a fast path the RTO is thus SRTT + 200 ms, not max(200 ms, SRTT + 4 RTTVAR).
// Microseconds throughout; the RTO is rounded up to a timer-wheel tick as the
// kernel rounds it up to a jiffy (usecs_to_jiffies).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#include "stack/base/seq.hh"
#include "stack/tcp/env.hh"

namespace twstack::tcp {

// Linux's per-connection estimator state (struct tcp_sock).
struct RttEstimate {
  std::int64_t srtt8_us = 0;     // tp->srtt_us: 8 * SRTT; 0: no sample yet
  std::int64_t mdev_us = 0;      // tp->mdev_us: 4 * mean deviation
  std::int64_t mdev_max_us = 0;  // tp->mdev_max_us: its largest over this round trip
  std::int64_t rttvar_us = 0;    // tp->rttvar_us: what the RTO adds to SRTT
  Seq epoch;                     // tp->rtt_seq: SND.NXT when this round trip began
  // tcp_min_rtt: the smallest sample (Linux keeps it over tcp_min_rtt_wlen,
  // 300 s; twstack over the connection); as Linux, ~0 before the first.
  std::int64_t min_rtt_us = std::numeric_limits<std::int64_t>::max();
};

// Folds one measurement `m_us` into `r` (tcp_rtt_estimator). `snd_una` is
// SND.UNA after the ACK that gave the sample, `snd_nxt` the highest sequence
// sent. Returns the RTO (__tcp_set_rto, tcp_bound_rto).
inline std::int64_t rtt_estimate(RttEstimate& r, const TcpParams& p, std::int64_t m_us, Seq snd_una,
                                 Seq snd_nxt) {
  std::int64_t m = m_us;
  std::int64_t srtt = r.srtt8_us;
  const std::int64_t rto_min = p.rto_min.us;
  if (srtt != 0) {
    m -= srtt >> 3;  // the error of the estimate
    srtt += m;       // SRTT = 7/8 SRTT + 1/8 R
    if (m < 0) {
      m = -m;
      m -= r.mdev_us >> 2;
      // A sample below SRTT moves the deviation 1/32 as far (RFC 6298's
      // beta would inflate RTO exactly when the RTT falls).
      if (m > 0) m >>= 3;
    } else {
      m -= r.mdev_us >> 2;
    }
    r.mdev_us += m;  // mdev = 3/4 mdev + 1/4 |err|
    if (r.mdev_us > r.mdev_max_us) {
      r.mdev_max_us = r.mdev_us;
      if (r.mdev_max_us > r.rttvar_us) r.rttvar_us = r.mdev_max_us;
    }
    // Once per round trip RTTVAR' decays toward the round's largest deviation.
    if (snd_una > r.epoch) {
      if (r.mdev_max_us < r.rttvar_us) r.rttvar_us -= (r.rttvar_us - r.mdev_max_us) >> 2;
      r.epoch = snd_nxt;
      r.mdev_max_us = rto_min;
    }
  } else {
    // First sample (RFC 6298 §2.2): SRTT = R, 4 * RTTVAR = 2R, so RTO = 3R,
    // but RTTVAR' at least tcp_rto_min.
    srtt = m << 3;
    r.mdev_us = m << 1;
    r.rttvar_us = std::max(r.mdev_us, rto_min);
    r.mdev_max_us = r.rttvar_us;
    r.epoch = snd_nxt;
  }
  r.srtt8_us = std::max<std::int64_t>(1, srtt);
  const std::int64_t rto = (r.srtt8_us >> 3) + r.rttvar_us;
  const std::int64_t ticks = (rto + kUsPerTick - 1) / kUsPerTick;
  return std::min(ticks * kUsPerTick, p.rto_max.us);
}

}  // namespace twstack::tcp
