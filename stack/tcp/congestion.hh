// Congestion window arithmetic (RFC 5681, NewReno recovery RFC 6582), over
// a connection's cwnd, ssthresh and recovery fields. Pure: the callers in
// input_ack.cc and timers.cc retransmit and count; these only say when.
// `smss` is the sender MSS less options (payload_mss()).
#pragma once

#include <algorithm>
#include <cstdint>

#include "stack/tcp/tcb.hh"

namespace twstack::tcp {

// RFC 5681 §3.1 eq. (4): ssthresh = max(FlightSize / 2, 2*SMSS).
inline std::uint32_t loss_ssthresh(std::uint32_t flight, std::uint32_t smss) {
  return std::max(flight / 2, 2 * smss);
}

// The ssthresh a loss leaves: CUBIC's multiplicative decrease (RFC 9438
// §4.6, Linux cubictcp_recalc_ssthresh) or RFC 5681 eq. (4).
inline std::uint32_t reduced_ssthresh(Tcb& c, std::uint32_t smss) {
  if (c.cubic.algo == CongestionAlgo::kCubic) return cubic_ssthresh(c, smss);
  return loss_ssthresh(c.flight(), smss);
}

// Linux tcp_is_cwnd_limited (include/net/tcp.h), RFC 7661's idea with
// Linux's slow-start allowance: the window grows only if the sender was
// limited by it in the last window, or, in slow start, while it is below
// twice the largest flight of that window (IW10 and 9 segments written:
// cwnd may reach 18, and holds there).
inline bool cwnd_limited(const Tcb& c) {
  if (c.is_cwnd_limited) return true;
  if (c.cwnd < c.ssthresh) return c.cwnd < 2 * c.max_out;
  return false;
}

// Linux tcp_cwnd_validate, which tcp_write_xmit calls after a pass that sent
// data or found cwnd full: remember whether the flight was cwnd-limited for
// the current window (until SND.UNA passes the highest byte sent now), and
// otherwise the largest flight seen in it. `in_flight` is what the send
// loop counted against cwnd; in bytes, cwnd is full when it has no room
// for another segment of `smss` (Linux: packets in flight >= snd_cwnd).
// False when the pass is none of its business (tcp_write_xmit: neither
// sent nor cwnd-limited).
inline bool cwnd_validate(Tcb& c, std::uint32_t in_flight, std::uint32_t smss, bool sent, bool queued) {
  const bool limited = in_flight + smss > c.cwnd;
  if (!sent && !(limited && queued)) return false;
  if (c.snd_una >= c.cwnd_usage_seq || limited || (!c.is_cwnd_limited && c.flight() > c.max_out)) {
    c.is_cwnd_limited = limited;
    c.max_out = c.flight();
    c.cwnd_usage_seq = c.snd_max;
  }
  return true;
}

// Linux tcp_current_ssthresh: outside a window reduction, ssthresh keeps at
// least three quarters of cwnd, so a window given up is found again.
inline std::uint32_t current_ssthresh(const Tcb& c, std::uint32_t smss) {
  if (c.in_recovery) return c.ssthresh;
  const std::uint32_t segs = c.cwnd / smss;
  return std::max(c.ssthresh, ((segs >> 1) + (segs >> 2)) * smss);
}

// Linux tcp_cwnd_restart (RFC 2861 §3, RFC 5681 §4.1): after `idle_us`
// without sending, cwnd halves once for each RTO of it, but not below the
// initial window (RFC 6928's 10 segments, or cwnd if that is smaller).
// Counted in segments, as Linux counts packets.
inline void cwnd_restart(Tcb& c, std::uint32_t smss, std::int64_t idle_us, std::int64_t rto_us) {
  c.ssthresh = current_ssthresh(c, smss);
  std::uint32_t cwnd = std::max(c.cwnd / smss, 1u);
  const std::uint32_t restart = std::min(10u /* TCP_INIT_CWND */, cwnd);
  while ((idle_us -= rto_us) > 0 && cwnd > restart) cwnd >>= 1;
  c.cwnd = std::max(cwnd, restart) * smss;
}

// Linux tcp_cwnd_application_limited (RFC 2861 §3, the "slow part"): a
// window not filled for an RTO shrinks halfway to what was used (at least
// the initial window); not in recovery or loss (TCP_CA_Open only), nor while
// the application waits for buffer space (SOCK_NOSPACE).
inline void cwnd_application_limited(Tcb& c, std::uint32_t smss, std::int64_t now_us) {
  if (!c.in_recovery && !(c.snd_una < c.recover) && !c.want_writable) {
    const std::uint32_t used = std::max((c.snd_cwnd_used + smss - 1) / smss, 10u /* TCP_INIT_CWND */);
    const std::uint32_t cwnd = c.cwnd / smss;
    if (used < cwnd) {
      c.ssthresh = current_ssthresh(c, smss);
      c.cwnd = ((cwnd + used) >> 1) * smss;
    }
    c.snd_cwnd_used = 0;
  }
  c.snd_cwnd_stamp_us = now_us;
}

// The second half of Linux tcp_cwnd_validate: a flight limited by cwnd
// dates it (snd_cwnd_stamp); otherwise the largest flight is kept, and with
// net.ipv4.tcp_slow_start_after_idle (`decay`) a window unfilled for an RTO
// shrinks (cwnd_application_limited).
inline void cwnd_track_use(Tcb& c, std::uint32_t smss, std::int64_t now_us, std::int64_t rto_us, bool decay) {
  if (cwnd_limited(c)) {
    c.snd_cwnd_used = 0;
    c.snd_cwnd_stamp_us = now_us;
    return;
  }
  c.snd_cwnd_used = std::max(c.snd_cwnd_used, c.flight());
  if (decay && now_us - c.snd_cwnd_stamp_us >= rto_us) cwnd_application_limited(c, smss, now_us);
}

// RFC 5681 §3.1: slow start and congestion avoidance on new ACKs.
inline void grow_cwnd(Tcb& c, std::uint32_t smss, std::uint32_t acked) {
  if (c.cwnd < c.ssthresh) {
    // Linux tcp_slow_start: every byte acknowledged counts, a stretch ACK
    // too (RFC 3465 §2.3's limit L, tcp_abc, left Linux in 3.9), so a
    // receiver ACKing every second segment still doubles the window.
    c.cwnd += acked;
    return;
  }
  c.bytes_acked_ca += acked;
  if (c.bytes_acked_ca >= c.cwnd) {
    c.bytes_acked_ca -= c.cwnd;
    c.cwnd += smss;
  }
}

// RFC 6582 §3.2 steps 2-3 on a duplicate ACK. Returns true when this one
// (the third) starts fast retransmit: the caller resends SND.UNA.
inline bool cwnd_on_dupack(Tcb& c, std::uint32_t smss) {
  if (c.in_recovery) {
    c.cwnd += smss;  // step 3: inflate for each further duplicate
    return false;
  }
  if (++c.dupacks != 3) return false;
  if (c.snd_una - 1 < c.recover && c.recover != c.iss) return false;  // RFC 6582 §4.1
  c.ssthresh = reduced_ssthresh(c, smss);                             // RFC 5681 eq. (4)
  c.recover = c.snd_max;
  c.in_recovery = true;
  c.cwnd = c.ssthresh + 3 * smss;
  return true;
}

// New data acknowledged during or outside recovery (RFC 6582 §3.2 steps
// 4-5); SND.UNA has already moved. Returns true on a partial
// acknowledgment: the caller resends the next hole.
inline bool cwnd_on_new_ack(Tcb& c, std::uint32_t smss, std::uint32_t acked) {
  c.dupacks = 0;
  if (!c.in_recovery) {
    if (cwnd_limited(c)) grow_cwnd(c, smss, acked);  // tcp_reno_cong_avoid
    return false;
  }
  if (c.snd_una >= c.recover) {  // full acknowledgment
    c.in_recovery = false;
    c.cwnd = std::min(c.ssthresh, std::max(c.flight(), smss) + smss);
    return false;
  }
  // Partial acknowledgment: deflate the window by what it acknowledged.
  c.cwnd = c.cwnd > acked ? c.cwnd - acked : smss;
  if (acked >= smss) c.cwnd += smss;
  return true;
}

// RFC 5681 §3.1 and eq. (4) after a retransmission timeout: the loss
// window is one segment.
inline void cwnd_on_timeout(Tcb& c, std::uint32_t smss) {
  c.ssthresh = reduced_ssthresh(c, smss);
  c.cwnd = smss;
  c.bytes_acked_ca = 0;
  c.in_recovery = false;
  c.recover = c.snd_max;  // RFC 6582 §3.2 step 4 after a timeout
  c.dupacks = 0;
}

}  // namespace twstack::tcp
