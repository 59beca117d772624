// RTT samples (RFC 6298 §3, RFC 7323 §4) and the estimate they feed
// (rtt.hh), from the handshake on: Linux times the SYN and the SYN-ACK like
// any other segment (tcp_ack_update_rtt from tcp_clean_rtx_queue on the
// active side, tcp_synack_rtt_meas on the passive side), so once the
// handshake is over the RTO is SRTT + 200 ms rather than the initial 1 s.
#include "stack/tcp/rtt.hh"

#include "stack/tcp/cubic.hh"
#include "stack/tcp/rack.hh"
#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

namespace {

// tcp_ack_update_rtt: seq_rtt_us feeds the estimator, ca_rtt_us the
// min_rtt filter.
void rtt_sample(Env& e, Tcb& c, std::int64_t r_us, std::int64_t ca_us, Seq ack) {
  c.rto_us = rtt_estimate(c.rtte, e.p, r_us, ack, c.snd_max);
  // tcp_update_rtt_min: a sample of 0 counts as one jiffy (1 ms).
  const std::int64_t m_us = ca_us != 0 ? ca_us : 1000;
  if (m_us < c.rtte.min_rtt_us) c.rtte.min_rtt_us = m_us;
  c.srtt_us = c.rtte.srtt8_us >> 3;
  c.rttvar_us = c.rtte.mdev_us >> 2;
}

// The ACK's sample also reaches the congestion control, after the estimator
// (tcp_cong_ops.pkts_acked: CUBIC's delay_min and HyStart's delay
// detection). Linux gives it ca_rtt_us, the time since the newest segment
// acknowledged was sent; without timestamps, while HyStart looks, CUBIC's
// send records have it (cubic_sent_rtt), where the one timed segment of a
// round trip would give HyStart one sample per round instead of one per ACK.
void congestion_sample(Env& e, Tcb& c, std::int64_t r_us, Seq ack) {
  if (c.cubic.algo != CongestionAlgo::kCubic) return;
  if (c.cubic.tx_count != 0) [[unlikely]] {
    const std::int64_t sent = cubic_sent_rtt(e, c, ack);
    if (sent >= 0) r_us = sent;
  }
  if (r_us >= 0) cubic_on_rtt(e, c, r_us);
}

}  // namespace

void time_segment(Env& e, Tcb& c, Seq seq) {
  c.rtt_active = true;
  c.rtt_seq = seq;
  c.rtt_start_us = e.now.us;
}

// Takes an RTT sample from an ACK of new sequence space. As Linux
// tcp_ack_update_rtt, the ACK's own timing is preferred: on a RACK
// connection the send times of what it newly delivers (every ACK, as
// Linux's skb timestamps), else the one timed segment (the SYN, the SYN-ACK
// or data); Karn's rule voids a resent one. Else the echoed timestamp
// (RFC 7323 §4.1), which tells copies apart and so is good for a
// retransmitted SYN too.
void take_rtt_sample(Env& e, Tcb& c, const Segment& s, bool to_congestion) {
  std::int64_t r_us = -1;
  std::int64_t ca_us = -1;
  const bool timed = c.rtt_active && s.ack > c.rtt_seq;
  if (timed) c.rtt_active = false;
  if (c.rack.num_sent != 0 && rack_ack_rtt(e, c, s.ack, r_us, ca_us)) {
    // tcp_clean_rtx_queue: first_ackt and last_ackt.
  } else if (timed) {
    r_us = e.now.us - c.rtt_start_us;
  } else if (c.ts_ok && s.opt.has_timestamps && s.opt.tsecr != 0) {
    std::int32_t ms = static_cast<std::int32_t>(ts_now(e, c) - s.opt.tsecr);
    // tcp_rtt_tsopt_us(tp, 1): a delta of 0 ticks counts as one tick, so a
    // timestamp RTT is at least 1 ms (TCP_TS_HZ 1000), never less.
    if (ms >= 0) r_us = std::int64_t{ms == 0 ? 1 : ms} * 1000;
  }
  if (ca_us < 0) ca_us = r_us;
  if (r_us >= 0) rtt_sample(e, c, r_us, ca_us, s.ack);
  if (to_congestion) congestion_sample(e, c, ca_us, s.ack);
}

}  // namespace twstack::tcp
