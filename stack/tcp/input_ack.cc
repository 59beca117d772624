// Segment arrives, fifth step: check the ACK field (RFC 9293 §3.10.7.4),
// with RTT estimation (RFC 6298) and congestion control (RFC 5681 with
// NewReno recovery, RFC 6582, and proportional rate reduction, RFC 6937).
#include <algorithm>

#include "stack/tcp/congestion.hh"
#include "stack/tcp/cubic.hh"
#include "stack/tcp/loss_probe.hh"
#include "stack/tcp/rack.hh"
#include "stack/tcp/rtt.hh"
#include "stack/tcp/sack.hh"
#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

namespace {

// Resends the segment at SND.UNA; HighRxt (sack_state.hh) marks it resent
// for this recovery, and PRR counts it (RFC 6937 prr_out).
void retransmit_first(Env& e, Tcb& c) {
  std::uint32_t len = std::min(payload_mss(c), static_cast<std::uint32_t>(c.snd_data_end() - c.snd_una));
  bool fin = c.fin_queued && c.snd_una + len == c.snd_data_end() && c.fin_sent();
  if (len == 0 && !fin) return;
  std::uint8_t flags = wire::kAck | (fin ? wire::kFin : 0) | (push_due(c, c.snd_una, len) ? wire::kPsh : 0);
  if (emit(e, c, c.snd_una, flags, len)) {
    e.ctr.inc(Counter::TcpRetransSegs);
    e.ctr.inc(Counter::TcpExtTCPFastRetrans);
    c.sack.high_rxt = c.snd_una + len + (fin ? 1u : 0u);
    c.prr_out += len;
    arm_rto(e, c);  // tcp_xmit_retransmit_queue: the head resent restarts the RTO
  }
}

// One ACK of a recovery without SACK that delivered `delivered` bytes.
// The segment at SND.UNA is the one lost (NewReno, RFC 6582 §3.2; Linux
// tcp_newreno_mark_lost) until it is resent: it is not in flight, and a
// partial ACK makes the next one lost, so no ACK here earns PRR's extra
// segment. cwnd follows PRR (RFC 6937, tcp_cwnd_reduction); the lost
// segment goes when it allows (tcp_xmit_retransmit_queue).
void reno_recovery_ack(Env& e, Tcb& c, std::uint32_t delivered) {
  const std::uint32_t smss = payload_mss(c);
  const bool resent = c.sack.high_rxt > c.snd_una;
  std::uint32_t pipe = reno_in_flight(c, smss);
  if (!resent) pipe -= std::min(pipe, smss);
  prr_cwnd(c, pipe, delivered, false, smss);
  if (!resent && c.cwnd >= pipe + smss) retransmit_first(e, c);
}

// A duplicate ACK without SACK: one more segment has left the network
// (Linux tcp_add_reno_sack), which lets new data go (RFC 3042 limited
// transmit, through reno_in_flight). The third starts fast retransmit
// (RFC 5681 §3.2, RFC 6582 §3.2 step 2), or the tp->reordering-th once
// duplicates have shown reordering (Linux tcp_newreno_mark_lost:
// sacked_out >= tp->reordering; congestion.hh reno_check_reordering).
// Duplicates for data sent before a timeout (RFC 6582 §4.1) count for
// nothing: Linux's Loss state counts them only for data sent after it
// (tcp_process_loss), and a go-back-N is under way.
void on_dupack(Env& e, Tcb& c) {
  if (!c.in_recovery && recovery_refused(c)) return;
  bool reordered = false;
  const std::uint32_t delivered = reno_add_dupack(c, payload_mss(c), &reordered);
  if (reordered) e.ctr.inc(Counter::TcpExtTCPRenoReorder);
  if (!c.in_recovery) {
    if (c.dupacks < c.rack.reordering) return;
    recovery_start(c, payload_mss(c));
    c.sack.high_rxt = c.snd_una;
    e.ctr.inc(Counter::TcpExtTCPRenoRecovery);
    c.rtt_active = false;  // Karn: the timed segment may be the lost one
  }
  reno_recovery_ack(e, c, delivered);
}

// New data acknowledged without SACK (RFC 6582 §3.2 steps 4-5): the
// duplicates it explains are taken back (Linux tcp_remove_reno_sacks), and
// only what they had not counted grows cwnd. A full acknowledgment ends
// recovery (RFC 6937 §3: cwnd = ssthresh); a partial one makes the next
// segment lost.
void on_new_ack(Env& e, Tcb& c, std::uint32_t acked) {
  const std::uint32_t smss = payload_mss(c);
  bool reordered = false;
  const std::uint32_t delivered = reno_remove_dupacks(c, smss, acked, &reordered);
  if (reordered) e.ctr.inc(Counter::TcpExtTCPRenoReorder);
  if (!c.in_recovery) {
    c.dupacks = 0;  // tcp_reset_reno_sack: SND.UNA moved outside recovery
    cc_grow(e, c, smss, delivered);  // tcp_cong_avoid with the delivered count
    return;
  }
  if (c.snd_una >= c.recover) {
    recovery_end(c);
    return;
  }
  reno_recovery_ack(e, c, delivered);
}

// Removes acknowledged bytes (and our FIN) from the send queue.
std::uint32_t take_ack(Env& e, Tcb& c, Seq ack) {
  std::uint32_t acked = static_cast<std::uint32_t>(ack - c.snd_una);
  if (c.snd_una < c.snd_buf_seq) {  // our SYN is acked here (SYN-RECEIVED)
    acked -= 1;
  }
  std::uint32_t data = std::min(acked, c.snd.size());
  c.snd.consume(e.pool, data);
  c.snd_buf_seq += data;
  c.snd_una = ack;
  if (c.snd_nxt < c.snd_una) c.snd_nxt = c.snd_una;
  // Linux tcp_check_space for a writer that was refused space: tcp_new_space
  // grows the send buffer while cwnd is not filled (tcp_should_expand_sndbuf),
  // and sk_stream_write_space wakes it once the free space is at least half
  // of what is queued (sk_stream_is_writeable).
  if (data > 0 && c.want_writable) {
    if (c.flight() < c.cwnd) sndbuf_expand(e.p, c);
    check_space(e.p, c);  // sockopts.cc
  }
  return data;
}

// RFC 9293 §3.10.7.4: SND.WND is updated only by segments newer than the
// last update (SND.WL1, SND.WL2). `was_idle`: nothing was in flight
// before this ACK (Linux: packets_out, before tcp_clean_rtx_queue).
void update_window(Env& e, Tcb& c, const Segment& s, bool was_idle) {
  if (c.snd_wl1 < s.seq || (c.snd_wl1 == s.seq && c.snd_wl2 <= s.ack)) {
    std::uint32_t old = c.snd_wnd;
    c.snd_wnd = std::uint32_t{s.wnd} << c.snd_wscale;
    c.max_snd_wnd = std::max(c.max_snd_wnd, c.snd_wnd);
    c.snd_wl1 = s.seq;
    c.snd_wl2 = s.ack;
    // The window opened while the persist timer probed it (tcp_ack_probe:
    // the probes' backoff is over).
    if (old == 0 && c.snd_wnd > 0 && c.snd_una == c.snd_max) {
      e.wheel.cancel(c.rtx_timer);
      c.backoff = 0;
    }
    // tcp_ack_update_window: a changed window with data waiting.
    if (c.snd_wnd != old && was_idle && c.snd_nxt < c.snd_data_end()) slow_start_after_idle_check(e, c);
  }
}

// RFC 5681 §2: the definition of a duplicate acknowledgment.
bool is_dupack(const Tcb& c, const Segment& s) {
  return s.ack == c.snd_una && s.len == 0 && !s.has(wire::kSyn | wire::kFin) &&
         c.snd_max > c.snd_una && (std::uint32_t{s.wnd} << c.snd_wscale) == c.snd_wnd;
}

// What our FIN being acknowledged does in each closing state.
void on_fin_acked(Env& e, Tcb& c, const Segment& s) {
  switch (c.state) {
    case State::kFinWait1:
      set_state(e, c, State::kFinWait2);
      if (c.orphaned) orphan_fin_wait2(e, c, s.has(wire::kFin));
      break;
    case State::kClosing:
      enter_time_wait(e, c);
      break;
    case State::kLastAck:
      enter_closed(e, c, Errc::kOk);
      break;
    default:
      break;
  }
}

}  // namespace

bool input_ack(Env& e, Tcb& c, const Segment& s) {
  const bool handshake = c.state == State::kSynReceived;  // sampled below, once
  if (handshake) {
    if (!(c.snd_una < s.ack && s.ack <= c.snd_max)) {
      send_reset_for(e, c.tuple, s);  // <SEQ=SEG.ACK><CTL=RST>
      return false;
    }
    set_state(e, c, State::kEstablished);
    c.events |= kEvEstablished;
    if (c.passive) e.ctr.inc(Counter::TcpPassiveOpens);
    c.snd_wl1 = s.seq - 1;  // so the window below is taken
    take_rtt_sample(e, c, s, false);  // the SYN-ACK's RTT (Linux tcp_synack_rtt_meas)
    handshake_done_rto(e, c);
    sndbuf_expand(e.p, c);  // tcp_init_transfer: tcp_init_buffer_space
    rcv_space_init(e, c);
  }
  if (c.state == State::kTimeWait) return true;  // nothing of ours is in flight
  // RFC 5961 §5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT].
  if (s.ack > c.snd_max || s.ack < c.snd_una - c.max_snd_wnd) {
    send_challenge_ack(e, c, s);
    return false;
  }
  c.probes = 0;  // the peer is alive (Linux tcp_ack: icsk_probes_out = 0)
  const bool was_idle = c.snd_una == c.snd_max;
  c.rcv_tstamp_us = e.now.us;  // tp->rcv_tstamp, for keep-alive
  bool dup = is_dupack(c, s);
  // With SACK, loss recovery is RFC 6675's (sack.cc), NewReno's without.
  const std::uint32_t prior_sacked = c.sack.sacked_bytes;  // for RFC 6937 DeliveredData
  // RACK (rack.hh) keeps what was sent when only on SACK connections.
  const bool rack = c.rack.num_sent != 0;
  const Seq prior_fack = rack ? rack_fack(c) : c.snd_una;
  const unsigned sacked = c.sack.ok && s.opt.sack_count != 0 ? sack_on_ack(e, c, s) : 0u;
  const bool new_sack = (sacked & kSackNew) != 0;
  if (c.tlp.out) tlp_on_ack(e, c, s.ack, (sacked & kSackDsack) != 0, dup && !new_sack);
  if (s.ack > c.snd_una) {
    if (!handshake) take_rtt_sample(e, c, s);
    if (rack) rack_on_cum_ack(e, c, s.ack, prior_fack);
    std::uint32_t acked = take_ack(e, c, s.ack);
    c.backoff = 0;
    // With SACK, false when reneging set the timer itself (Linux clears
    // FLAG_SET_XMIT_TIMER).
    bool set_timer = true;
    if (c.sack.ok) {
      set_timer = sack_on_new_ack(e, c, acked, prior_sacked, sacked);
    } else {
      on_new_ack(e, c, acked);
    }
    // RFC 6298 §5.2-5.3: stop the timer when all is acknowledged, else
    // restart it, as the PTO where a tail loss probe may go (RFC 8985 §7.2,
    // tcp_set_xmit_timer).
    if (c.snd_una == c.snd_max) {
      e.wheel.cancel(c.rtx_timer);
      c.rack.reo_armed = false;
    } else if (set_timer && !tlp_schedule(e, c, true)) {
      arm_rto(e, c);
    }
  } else if (c.sack.ok) {
    if (c.snd_max > c.snd_una) sack_on_dupack(e, c, s.ack == c.snd_una, prior_sacked, sacked);
  } else if (dup) {
    on_dupack(e, c);
  }
  if (c.rack.dsack_seen || c.rack.reo_wnd_steps != 1) rack_update_reo_wnd(e, c);
  update_window(e, c, s, was_idle);
  if (c.fin_acked() && in_state(c.state, State::kFinWait1 | State::kClosing | State::kLastAck)) {
    on_fin_acked(e, c, s);
  }
  return c.state != State::kClosed;
}

}  // namespace twstack::tcp
