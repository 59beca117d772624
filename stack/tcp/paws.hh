// Rules a connection and its TIME_WAIT remnant apply alike: PAWS and the
// out-of-window ACK rate limit. One copy, used by tcp/input.cc and
// timewait/policy.cc.
#pragma once

#include <cstdint>

#include "stack/wire/segment.hh"

namespace twstack::tcp {

inline constexpr std::int64_t kPawsMslMs = 60 * 1000;       // Linux TCP_PAWS_MSL
inline constexpr std::int64_t kPawsWrapMs = 2147LL * 1000;  // Linux TCP_PAWS_WRAP (6.7+)

// RFC 7323 §5.3 R1 (PAWS) as Linux tcp_paws_reject() applies it: a segment
// whose TSval is older than ts_recent by more than `win` (tcp_paws_check:
// 1 for a connection, 0 for a TIME_WAIT entry) is rejected, unless ts_recent
// is unset or too old to trust (TCP_PAWS_WRAP, RFC 7323 §5.5), or the
// segment is a reset and ts_recent older than TCP_PAWS_MSL.
inline bool paws_reject(std::uint32_t ts_recent, std::int64_t ts_recent_age_ms, const wire::Segment& s,
                        std::int32_t win) {
  if (static_cast<std::int32_t>(ts_recent - s.opt.tsval) <= win) return false;
  if (ts_recent_age_ms >= kPawsWrapMs || ts_recent == 0) return false;
  return !(s.has(wire::kRst) && ts_recent_age_ms >= kPawsMslMs);
}

// Linux tcp_oow_rate_limited: data and FIN segments without SYN are not
// part of an ACK loop, so the ACK they draw is never rate-limited.
inline bool oow_ack_exempt(const wire::Segment& s) {
  return (s.len > 0 || s.has(wire::kFin)) && !s.has(wire::kSyn);
}

}  // namespace twstack::tcp
