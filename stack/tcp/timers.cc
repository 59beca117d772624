// Timer expiry: retransmission (RFC 6298 §5), SYN and SYN-ACK retries,
// zero-window probes (RFC 9293 §3.8.6.1), delayed ACKs, TIME_WAIT and
// orphaned FIN_WAIT2 lifetimes.
#include <algorithm>

#include "stack/tcp/congestion.hh"
#include "stack/tcp/cubic.hh"
#include "stack/tcp/loss_probe.hh"
#include "stack/tcp/rack.hh"
#include "stack/tcp/sack.hh"
#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

namespace {

void back_off(Env& e, Tcb& c) {
  ++c.backoff;
  c.rto_us = std::min(c.rto_us * 2, e.p.rto_max.us);  // RFC 6298 §5.5
}

// SYN-SENT and SYN-RECEIVED: resend the SYN (or SYN-ACK) until
// tcp_syn_retries (tcp_synack_retries) run out.
void on_handshake_timeout(Env& e, Tcb& c) {
  std::uint8_t limit = c.state == State::kSynSent ? e.p.syn_retries : std::min(e.p.synack_retries, c.synack_limit);
  if (c.backoff >= limit) {
    enter_closed(e, c, Errc::kTimedOut);
    return;
  }
  back_off(e, c);
  c.rtt_active = false;  // Karn: a resent SYN is not timed (req->num_retrans)
  std::uint8_t flags = c.state == State::kSynSent ? wire::kSyn : wire::kSyn | wire::kAck;
  e.ctr.inc(Counter::TcpExtTCPSynRetrans);  // SYN and SYN-ACK alike (Linux tcp_rtx_synack)
  e.ctr.inc(Counter::TcpRetransSegs);
  emit(e, c, c.iss, flags, 0);
  arm_rto(e, c);
}

// Nothing in flight but data waiting on a closed window: probe it the way
// Linux tcp_xmit_probe_skb does, with an old sequence number that forces
// the peer to answer with its current window.
void on_persist(Env& e, Tcb& c) {
  // RFC 9293 §3.8.6.2.1: when the override timeout fires, send what the
  // window allows even if it is less than a full segment (Linux
  // tcp_write_wakeup).
  std::uint32_t avail = static_cast<std::uint32_t>(c.snd_data_end() - c.snd_nxt);
  std::uint32_t len = std::min({c.snd_wnd, avail, payload_mss(c)});
  if (len > 0) {
    if (emit(e, c, c.snd_nxt, wire::kAck | wire::kPsh, len)) {
      e.ctr.inc(Counter::TcpExtTCPOrigDataSent);
      c.snd_nxt += len;
      c.snd_max = seq_max(c.snd_max, c.snd_nxt);
    }
    arm_rto(e, c);
    return;
  }
  // RFC 1122 §4.2.2.17: probing must go on while the peer answers; only
  // unanswered probes count toward giving up.
  if (c.probes >= e.p.retries2) {
    e.ctr.inc(Counter::TcpExtTCPAbortOnTimeout);
    enter_closed(e, c, Errc::kTimedOut);
    return;
  }
  ++c.probes;
  e.ctr.inc(Counter::TcpExtTCPWinProbe);
  emit(e, c, c.snd_una - 1, wire::kAck, 0);
  // tcp_send_probe0: the probes back off (tcp_probe0_when: RTO << backoff,
  // at most TCP_RTO_MAX) and leave the RTO itself as it was, for the data
  // once the window opens and for the idle test (tcp_cwnd_restart).
  ++c.backoff;
  arm_rto(e, c);
  e.arm(c.rtx_timer, std::min(c.rto_us << std::min<int>(c.backoff, 30), e.p.rto_max.us));
}

// RFC 6298 §5.4-5.7 and RFC 5681 §3.1 eq. (4): retransmit the earliest
// unacknowledged segment, back off, collapse to the loss window.
void on_retransmit(Env& e, Tcb& c) {
  // tcp_write_timeout: with TCP_USER_TIMEOUT set, time since the data was
  // first sent decides, not tcp_retries2 (retransmits_timed_out).
  if (c.backoff == 0) c.retrans_stamp_us = e.now.us - c.rto_us;  // the RTO armed at its send
  if (c.user_timeout_us != 0 ? user_timed_out(e, c) : c.backoff >= e.p.retries2) {
    e.ctr.inc(Counter::TcpExtTCPAbortOnTimeout);
    enter_closed(e, c, Errc::kTimedOut);
    return;
  }
  e.ctr.inc(Counter::TcpExtTCPTimeouts);
  // tcp_enter_loss: a timeout outside recovery after tcp_reordering or more
  // duplicates (SACKed segments) says the reordering degree was overrated.
  const std::uint32_t smss = payload_mss(c);
  const std::uint32_t sacked_out = c.sack.ok ? (c.sack.sacked_bytes + smss - 1) / smss : c.dupacks;
  if (!c.in_recovery && c.backoff == 0 && sacked_out >= kDupThresh) {
    c.rack.reordering = std::min(c.rack.reordering, kDupThresh);
  }
  cwnd_on_timeout(c, smss);
  c.snd_cwnd_stamp_us = e.now.us;  // tcp_enter_loss
  c.tlp.out = false;  // RFC 8985 §7.4: a timeout ends the probe's episode
  rack_on_rto(c);     // tcp_enter_loss: tcp_timeout_mark_lost
  if (c.cubic.algo == CongestionAlgo::kCubic) cubic_on_timeout(e, c);  // cubictcp_state(TCP_CA_Loss)
  c.rtt_active = false;  // Karn's rule
  c.snd_nxt = c.snd_una;  // go back: everything after snd_una is resent as acked
  back_off(e, c);
  output(e, c);
  e.arm(c.rtx_timer, rto_clamped(e, c));  // tcp_clamp_rto_to_user_timeout
}

}  // namespace

void on_timer(Env& e, Tcb& c, std::uint32_t tag) {
  switch (tag) {
    case kTimerRetransmit:
      if (c.tlp.pto_armed) {
        tlp_on_timeout(e, c);  // the probe timeout, not the RTO (loss_probe.hh)
      } else if (c.rack.reo_armed) {
        sack_on_reo_timeout(e, c);  // RACK's reordering timer (rack.hh)
      } else if (c.state == State::kSynSent || c.state == State::kSynReceived) {
        on_handshake_timeout(e, c);
      } else if (c.snd_max == c.snd_una) {
        if (c.snd_nxt < c.snd_data_end() || (c.fin_queued && !c.fin_sent())) on_persist(e, c);
      } else {
        on_retransmit(e, c);
      }
      break;
    case kTimerDelack:
      if (in_state(c.state, kSynchronized)) on_delack_timer(e, c);
      break;
    case kTimerLife:
      // An orphan's FIN_WAIT2 wait as a full connection ran out (Linux
      // tcp_keepalive_timer): the rest goes to the TIME_WAIT table as a
      // FIN_WAIT2 entry, or, with none left, a reset and CLOSED.
      if (c.state != State::kFinWait2 || !c.orphaned) {
        on_keepalive_timer(e, c);
      } else {
        const std::int64_t rest = fin_time_us(e, c) - e.p.timewait_len.us;
        if (rest > 0) {
          c.fw2_handoff_us = std::max(rest, c.rto_us * 7 / 2);  // tcp_time_wait: timeo >= 3.5 RTO
        } else {
          emit(e, c, c.snd_max, wire::kRst | wire::kAck, 0);
          enter_closed(e, c, Errc::kOk);
        }
      }
      break;
    default:
      break;
  }
}

}  // namespace twstack::tcp
