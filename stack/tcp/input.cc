// Segment arrives (RFC 9293 §3.10.7): SYN-SENT, then for the other states
// the first four steps; input_ack.cc and input_text.cc hold the rest.
#include <algorithm>

#include "stack/tcp/paws.hh"
#include "stack/tcp/sack.hh"
#include "stack/tcp/sack.hh"
#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

namespace {

// RFC 9293 §3.10.7.3, SYN-SENT STATE.
void input_syn_sent(Env& e, Tcb& c, const Segment& s) {
  // First, check the ACK bit.
  bool ack_ok = false;
  if (s.has(wire::kAck)) {
    if (s.ack <= c.iss || s.ack > c.snd_max) {
      if (!s.has(wire::kRst)) send_reset_for(e, c.tuple, s);
      return;
    }
    ack_ok = s.ack > c.snd_una;
  }
  // Second, check the RST bit: only an acceptable ACK makes it believable
  // (RFC 5961 §3.2 keeps this test for SYN-SENT).
  if (s.has(wire::kRst)) {
    if (ack_ok) enter_closed(e, c, Errc::kConnRefused);
    return;
  }
  // Fourth, check the SYN bit.
  if (!s.has(wire::kSyn)) return;
  // Linux tcp_rcv_synsent_state_process: a SYN-ACK echoing a timestamp we
  // never sent is answered with a reset (PAWSActive).
  if (ack_ok && s.opt.has_timestamps && s.opt.tsecr != 0 && e.p.timestamps != 0 &&
      (static_cast<std::int32_t>(s.opt.tsecr - c.ts_syn) < 0 ||
       static_cast<std::int32_t>(ts_now(e, c) - s.opt.tsecr) < 0)) {
    e.ctr.inc(Counter::TcpExtPAWSActive);
    send_reset_for(e, c.tuple, s);
    enter_closed(e, c, Errc::kConnRefused);
    return;
  }
  c.irs = s.seq;
  c.rcv_nxt = s.seq + 1;
  c.rcv_wup = c.rcv_nxt;
  // The window our SYN offered, now anchored at the peer's sequence space.
  c.rcv_adv = c.rcv_nxt + syn_mss_window(e, c);
  negotiate(e, c, s);
  c.snd_wnd = s.wnd;  // RFC 7323 §2.2: unscaled in a SYN
  c.max_snd_wnd = c.snd_wnd;
  c.snd_wl1 = s.seq;
  c.snd_wl2 = s.ack;
  if (ack_ok) {
    c.snd_una = s.ack;
    e.wheel.cancel(c.rtx_timer);
    take_rtt_sample(e, c, s);  // the SYN's RTT (tcp_ack_update_rtt)
    c.rcv_tstamp_us = e.now.us;
    handshake_done_rto(e, c);
    sndbuf_expand(e.p, c);  // tcp_finish_connect: tcp_init_buffer_space
    rcv_space_init(e, c);
    set_state(e, c, State::kEstablished);
    c.events |= kEvEstablished;
    // The ACK of the SYN-ACK rides on queued data if there is any.
    c.ack_pending = true;
    output(e, c);
    return;
  }
  // Simultaneous open: SYN-RECEIVED, and our SYN goes out again with an ACK.
  set_state(e, c, State::kSynReceived);
  emit(e, c, c.iss, wire::kSyn | wire::kAck, 0);
}

// PAWS (paws.hh) with Linux's window of one tick for a connection.
bool paws_reject(const Env& e, const Tcb& c, const Segment& s) {
  if (!c.ts_ok || !s.opt.has_timestamps) return false;
  return tcp::paws_reject(c.ts_recent, e.now_ms() - c.ts_recent_stamp_ms, s, 1);
}

// The acceptability test of RFC 9293 §3.10.7.4, first step.
bool acceptable(const Tcb& c, const Segment& s) {
  std::uint32_t wnd = c.rcv_adv > c.rcv_nxt ? static_cast<std::uint32_t>(c.rcv_adv - c.rcv_nxt) : 0;
  std::uint32_t len = s.seg_len();
  if (len == 0) {
    if (wnd == 0) return s.seq == c.rcv_nxt;
    return seq_in(s.seq, c.rcv_nxt, c.rcv_nxt + wnd);
  }
  // RFC 9293 would refuse any text into a zero window; Linux tcp_sequence
  // takes a bare FIN at RCV.NXT, so a close behind a full buffer completes.
  if (wnd == 0) return s.len == 0 && !s.has(wire::kSyn) && s.seq == c.rcv_nxt;
  return seq_in(s.seq, c.rcv_nxt, c.rcv_nxt + wnd) ||
         seq_in(s.seq + (len - 1), c.rcv_nxt, c.rcv_nxt + wnd);
}

// Trims the segment to the window: RFC 9293 §3.10.7.4 "segments with
// higher beginning sequence numbers may be held"; the part before RCV.NXT
// and beyond the right edge is dropped.
void trim(const Tcb& c, Segment& s) {
  if (s.seq < c.rcv_nxt) {
    std::uint32_t skip = static_cast<std::uint32_t>(c.rcv_nxt - s.seq);
    if (s.has(wire::kSyn)) {
      s.flags &= static_cast<std::uint8_t>(~wire::kSyn);
      --skip;
      s.seq += 1;
    }
    std::uint32_t d = std::min(skip, s.len);
    s.data += d;
    s.len -= d;
    s.seq += d;
    if (skip > d) s.flags &= static_cast<std::uint8_t>(~wire::kFin);  // FIN already seen
  }
  Seq right = seq_max(c.rcv_adv, c.rcv_nxt);
  if (s.seq + s.len > right) {
    s.len = s.seq < right ? static_cast<std::uint32_t>(right - s.seq) : 0;
    s.flags &= static_cast<std::uint8_t>(~wire::kFin);
  }
}

// First: sequence number (and PAWS). Returns false when the segment is
// dropped; an ACK goes back for anything but a reset.
bool check_sequence(Env& e, Tcb& c, Segment& s) {
  if (paws_reject(e, c, s)) {
    e.ctr.inc(Counter::TcpExtPAWSEstab);
    if (!s.has(wire::kRst) && !oow_rate_limited(e, c, s, Counter::TcpExtTCPACKSkippedPAWS)) send_ack(e, c);
    return false;
  }
  if (!acceptable(c, s)) {
    if (s.has(wire::kRst)) return false;
    // Linux tcp_data_queue: data at RCV.NXT while the window we offered is
    // zero is dropped and counted (TCPZeroWindowDrop); the ACK below answers.
    if (s.len > 0 && s.seq == c.rcv_nxt && c.rcv_adv <= c.rcv_nxt) {
      e.ctr.inc(Counter::TcpExtTCPZeroWindowDrop);
    }
    // Linux tcp_send_dupack: data wholly below RCV.NXT is reported as a
    // D-SACK (RFC 2883 §4 (1)).
    if (s.len > 0 && s.seq < c.rcv_nxt && c.sack.ok) {
      sack_dsack_set(e, c, s.seq, seq_min(s.seq + s.len, c.rcv_nxt));
    }
    if (s.has(wire::kSyn) && in_state(c.state, kSynchronized)) {
      e.ctr.inc(Counter::TcpExtTCPSYNChallenge);
      send_challenge_ack(e, c, s);  // RFC 5961 §4.2
    } else if (!oow_rate_limited(e, c, s, Counter::TcpExtTCPACKSkippedSeq)) {
      send_ack(e, c);
    }
    return false;
  }
  // Linux tcp_data_queue, "partial packet": the part below RCV.NXT is a
  // duplicate (RFC 2883 §4 (1)).
  if (s.len > 0 && s.seq < c.rcv_nxt && c.sack.ok) sack_dsack_set(e, c, s.seq, c.rcv_nxt);
  trim(c, s);
  return true;
}

// Second: the RST bit (RFC 5961 §3.2: only an exact match resets).
void input_rst(Env& e, Tcb& c, const Segment& s) {
  if (s.seq != c.rcv_nxt) {
    send_challenge_ack(e, c, s);
    return;
  }
  switch (c.state) {
    case State::kSynReceived:
      // Linux tcp_check_req, embryonic_reset: the request is dropped.
      if (c.passive) e.ctr.inc(Counter::TcpExtEmbryonicRsts);
      enter_closed(e, c, c.passive ? Errc::kConnReset : Errc::kConnRefused);
      return;
    case State::kClosing:
    case State::kLastAck:
      enter_closed(e, c, Errc::kOk);
      return;
    case State::kCloseWait:
      // Linux tcp_reset: "the right error as BSD sees it" — the peer had
      // closed, so the writer learns EPIPE, not ECONNRESET.
      enter_closed(e, c, Errc::kPipe);
      return;
    default:
      enter_closed(e, c, Errc::kConnReset);
      return;
  }
}

// RFC 7323 §4.3: TS.Recent follows the segment that covers the left edge.
void update_ts_recent(Env& e, Tcb& c, const Segment& s, Seq left) {
  if (!c.ts_ok || !s.opt.has_timestamps) return;
  if (s.seq <= left && static_cast<std::int32_t>(s.opt.tsval - c.ts_recent) >= 0) {
    c.ts_recent = s.opt.tsval;
    c.ts_recent_stamp_ms = e.now_ms();
  }
}

}  // namespace

namespace {
// Linux __tcp_oow_rate_limited: one ACK per tcp_invalid_ratelimit.
bool rate_limited(Env& e, Tcb& c, Counter skipped) {
  if (e.now_ms() - c.last_oow_ack_ms < e.p.invalid_ratelimit.ms()) {
    e.ctr.inc(skipped);
    return true;
  }
  c.last_oow_ack_ms = e.now_ms();
  return false;
}
}  // namespace

bool oow_rate_limited(Env& e, Tcb& c, const Segment& s, Counter skipped) {
  if (oow_ack_exempt(s)) return false;
  return rate_limited(e, c, skipped);
}

// RFC 5961 §7: challenge ACKs, limited per connection (Linux
// tcp_send_challenge_ack uses tcp_invalid_ratelimit) and per second overall
// (net.ipv4.tcp_challenge_ack_limit).
void send_challenge_ack(Env& e, Tcb& c, const Segment&) {
  // Unlike other out-of-window ACKs, data does not exempt it (Linux
  // tcp_send_challenge_ack calls __tcp_oow_rate_limited directly), and a
  // skipped one counts as TCPACKSkippedChallenge.
  if (rate_limited(e, c, Counter::TcpExtTCPACKSkippedChallenge)) return;
  std::int64_t sec = e.now_ms() / 1000;
  if (sec != e.challenge_window_s) {
    e.challenge_window_s = sec;
    e.challenge_count = 0;
  }
  if (++e.challenge_count > e.p.challenge_ack_limit) return;
  e.ctr.inc(Counter::TcpExtTCPChallengeACK);
  send_ack(e, c);
}

void input(Env& e, Tcb& c, Segment& s) {
  if (c.state == State::kSynSent) return input_syn_sent(e, c, s);
  // A retransmitted SYN in SYN-RECEIVED gets the SYN-ACK again (Linux
  // tcp_check_req), rather than the dup-ACK the window test would give.
  if (c.state == State::kSynReceived && s.has(wire::kSyn) && !s.has(wire::kAck) && s.seq == c.irs) {
    emit(e, c, c.iss, wire::kSyn | wire::kAck, 0);
    return;
  }
  Seq left = c.rcv_nxt;
  if (!check_sequence(e, c, s)) return;
  if (s.has(wire::kRst)) return input_rst(e, c, s);
  // Fourth: a SYN in the window (RFC 5961 §4.2 challenge ACK).
  if (s.has(wire::kSyn)) {
    e.ctr.inc(Counter::TcpExtTCPSYNChallenge);
    send_challenge_ack(e, c, s);
    return;
  }
  // Fifth: the ACK field.
  if (!s.has(wire::kAck)) return;
  if (!input_ack(e, c, s)) return;
  update_ts_recent(e, c, s, left);
  if (c.ts_ok && s.opt.has_timestamps) rcv_rtt_measure_ts(e, c, s);  // after tcp_ack
  // Sixth (URG) is not supported: RFC 6093 §4 — urgent data is delivered inline.
  if (s.len > 0) input_text(e, c, s);
  if (s.has(wire::kFin) && c.state != State::kClosed) input_fin(e, c, s);
}

}  // namespace twstack::tcp
