// Congestion window arithmetic (RFC 5681, NewReno recovery RFC 6582,
// proportional rate reduction RFC 6937), over
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

// RFC 5681 §3.2 / RFC 6675 §2: DupThresh (Linux net.ipv4.tcp_reordering).
inline constexpr std::uint32_t kDupThresh = 3;

// RFC 6582 §4.1: no new recovery while SND.UNA has not passed the point
// an earlier recovery or timeout left (SND.UNA - 1 < recover).
inline bool recovery_refused(const Tcb& c) { return c.snd_una - 1 < c.recover && c.recover != c.iss; }

// Loss recovery starts (RFC 6675 §5 step 4, RFC 6582 §3.2 step 2): the
// recovery point, ssthresh by RFC 5681 eq. (4) or CUBIC, and the start of
// a proportional rate reduction (RFC 6937 §3.1, Linux
// tcp_init_cwnd_reduction). cwnd itself is left to prr_cwnd().
inline void recovery_start(Tcb& c, std::uint32_t smss) {
  c.prior_cwnd = c.cwnd;
  c.prr_delivered = 0;
  c.prr_out = 0;
  c.ssthresh = reduced_ssthresh(c, smss);
  c.recover = c.snd_max;
  c.in_recovery = true;
}

// RFC 6937 §3.1 on each ACK during recovery, as Linux tcp_cwnd_reduction:
// `delivered` is the ACK's DeliveredData, `pipe` what is in flight now.
// While pipe exceeds ssthresh the sender sends in proportion to what is
// delivered (ssthresh / prior_cwnd of it, whole segments as Linux counts
// packets); below, it sends what is delivered and, on an ACK that moved
// SND.UNA and showed no new loss (`ss_bonus`), one segment more, up to
// ssthresh (PRR-SSRB). The first ACK of a recovery may always send one
// segment, the fast retransmission. cwnd = pipe + sndcnt.
inline void prr_cwnd(Tcb& c, std::uint32_t pipe, std::uint32_t delivered, bool ss_bonus, std::uint32_t smss) {
  if (delivered == 0 || c.prior_cwnd == 0) return;
  c.prr_delivered += delivered;
  std::int64_t sndcnt;
  if (pipe > c.ssthresh) {
    const std::uint64_t num = std::uint64_t{c.prr_delivered} * c.ssthresh;
    const std::uint64_t den = std::uint64_t{c.prior_cwnd} * smss;
    sndcnt = static_cast<std::int64_t>((num + den - 1) / den * smss) - c.prr_out;
  } else {
    sndcnt = std::max<std::int64_t>(std::int64_t{c.prr_delivered} - c.prr_out, delivered);
    if (ss_bonus) sndcnt += smss;
    sndcnt = std::min<std::int64_t>(c.ssthresh - pipe, sndcnt);
  }
  sndcnt = std::max<std::int64_t>(sndcnt, c.prr_out != 0 ? 0 : smss);
  // At least one segment, as Linux's cwnd in packets always is.
  c.cwnd = std::max(pipe + static_cast<std::uint32_t>(sndcnt), smss);
}

// RFC 6937 §3: recovery ends with cwnd = ssthresh (Linux
// tcp_end_cwnd_reduction), so the sender may send a full ssthresh at once.
inline void recovery_end(Tcb& c) {
  c.in_recovery = false;
  c.dupacks = 0;
  c.cwnd = c.ssthresh;
}

// --- Without SACK (Reno, NewReno RFC 6582), Linux counts each duplicate
// ACK as a segment that has left the network: `dupacks` is its sacked_out.

// Linux tcp_check_reno_reordering: more duplicates than the segments in
// flight could explain (tcp_limit_reno_sacked: sacked_out + one hole >
// packets_out) means segments were reordered, not lost. tp->reordering
// becomes the flight plus what a cumulative ACK just took (`addend`), at
// most tcp_max_reordering, and NewReno waits for that many duplicates
// (tcp_newreno_mark_lost). Returns true when it did.
inline bool reno_check_reordering(Tcb& c, std::uint32_t smss, std::uint32_t addend) {
  const std::uint32_t packets = (c.flight() + smss - 1) / smss;
  const std::uint32_t holes = std::min(1u, packets);
  if (c.dupacks + holes <= packets) return false;
  c.dupacks = packets - holes;
  c.rack.reordering = std::min(packets + addend, kMaxReordering);
  ++c.rack.reord_seen;
  return true;
}

// Linux tcp_add_reno_sack: one more segment out of the network, but at
// least one of those outstanding (the hole) is not; a duplicate beyond
// that is reordering. Returns the bytes this duplicate delivered (for
// PRR): one segment, or 0; `reordered` says whether it was reordering.
inline std::uint32_t reno_add_dupack(Tcb& c, std::uint32_t smss, bool* reordered) {
  ++c.dupacks;
  *reordered = reno_check_reordering(c, smss, 0);
  return *reordered ? 0 : smss;
}

// Linux tcp_remove_reno_sacks: a cumulative ACK of `acked` bytes explains
// the duplicates before it; one segment of it at least is newly delivered.
// Returns the bytes delivered.
// With SND.UNA already past the ACK, tcp_check_reno_reordering follows,
// the ACKed segments as its addend; `reordered` says whether it found any.
inline std::uint32_t reno_remove_dupacks(Tcb& c, std::uint32_t smss, std::uint32_t acked, bool* reordered) {
  *reordered = false;
  if (c.dupacks == 0 || acked == 0) return acked;
  const std::uint32_t packets = (acked + smss - 1) / smss;
  const std::uint32_t delivered = packets > c.dupacks + 1 ? packets - c.dupacks : 1;
  c.dupacks = packets - 1 >= c.dupacks ? 0 : c.dupacks - (packets - 1);
  *reordered = c.dupacks != 0 && reno_check_reordering(c, smss, packets);
  return std::min(acked, delivered * smss);
}

// Bytes in flight without SACK: SND.NXT - SND.UNA less the segments the
// duplicates say have left (Linux tcp_packets_in_flight with sacked_out).
inline std::uint32_t reno_in_flight(const Tcb& c, std::uint32_t smss) {
  const auto out = static_cast<std::uint32_t>(c.snd_nxt - c.snd_una);
  const std::uint32_t left = c.dupacks * smss;
  return out > left ? out - left : 0;
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
