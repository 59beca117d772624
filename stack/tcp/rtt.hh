// The retransmission timer's estimator (RFC 6298 §2), over a connection's
// SRTT, RTTVAR and RTO fields. Microseconds throughout; the clock
// granularity G is one timer-wheel tick.
#pragma once

#include <algorithm>
#include <cstdint>

#include "stack/tcp/env.hh"

namespace twstack::tcp {

// Folds one measurement `r_us` into the estimate. srtt_us == 0 means no
// sample yet: the first one sets SRTT = R, RTTVAR = R/2 (§2.2); later ones
// update RTTVAR with beta = 1/4 from the old SRTT, then SRTT with
// alpha = 1/8 (§2.3). RTO = SRTT + max(G, 4*RTTVAR), clamped to
// [rto_min_us, rto_max_us] (§2.4-2.5; Linux's minimum is 200 ms).
inline void rtt_update(std::int64_t& srtt_us, std::int64_t& rttvar_us, std::int64_t& rto_us,
                       const TcpParams& p, std::int64_t r_us) {
  std::int64_t r = std::max<std::int64_t>(r_us, 1);
  if (srtt_us == 0) {
    srtt_us = r;
    rttvar_us = r / 2;
  } else {
    std::int64_t err = srtt_us > r ? srtt_us - r : r - srtt_us;
    rttvar_us = (3 * rttvar_us + err) / 4;
    srtt_us = (7 * srtt_us + r) / 8;
  }
  std::int64_t rto = srtt_us + std::max<std::int64_t>(kUsPerTick, 4 * rttvar_us);
  rto_us = std::clamp(rto, p.rto_min.us, p.rto_max.us);
}

}  // namespace twstack::tcp
