// Sending: segment construction, window advertisement, the send loop with
// Nagle and sender-side SWS avoidance, ACKs and resets.
#include <algorithm>

#include "stack/tcp/congestion.hh"
#include "stack/tcp/cubic.hh"
#include "stack/tcp/loss_probe.hh"
#include "stack/tcp/rack.hh"
#include "stack/tcp/sack.hh"
#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

namespace {

// The window field for a non-SYN segment. RFC 9293 §3.8.6.2.2 (receiver SWS
// avoidance): move the right edge only in steps of min(RCV.BUFF/2, MSS);
// RFC 7323 §2.4: never move it left once advertised.
std::uint16_t advertise_window(Tcb& c) {
  Seq edge = c.rcv_nxt + c.rcv.space();
  std::uint32_t step = std::min<std::uint32_t>(c.rcv.capacity() / 2, c.mss);
  if (c.rcv_adv < c.rcv_nxt) c.rcv_adv = c.rcv_nxt;
  if (edge > c.rcv_adv && static_cast<std::uint32_t>(edge - c.rcv_adv) >= step) c.rcv_adv = edge;
  std::uint32_t win = static_cast<std::uint32_t>(c.rcv_adv - c.rcv_nxt) >> c.rcv_wscale;
  return static_cast<std::uint16_t>(std::min<std::uint32_t>(win, 0xffff));
}

// A SYN's window is never scaled (RFC 7323 §2.2). Once the peer's ISN is
// known (SYN-ACK) it also sets the right edge we have promised.
std::uint16_t syn_window(const Env& e, Tcb& c) {
  auto win = static_cast<std::uint16_t>(syn_mss_window(e, c));
  if (c.state != State::kSynSent) c.rcv_adv = seq_max(c.rcv_adv, c.rcv_nxt + win);
  return win;
}

// Options per RFC 9293 §3.2 / RFC 7323: MSS and window scale only on SYNs,
// timestamps on every segment once negotiated (or offered on our SYN).
wire::TcpOptions segment_options(const Env& e, const Tcb& c, std::uint8_t flags) {
  wire::TcpOptions o{};
  bool syn = (flags & wire::kSyn) != 0;
  bool offer = syn && c.state == State::kSynSent;
  if (syn) {
    o.has_mss = true;
    o.mss = c.advmss;  // tcp_advertise_mss, tcp_make_synack: TCP_MAXSEG-clamped
    // RFC 2018 §2: SACK-permitted only on SYNs; wire::write_tcp_options
    // lays it out with the timestamps as Linux tcp_options_write does.
    o.sack_permitted = offer ? e.p.sack : c.sack.ok;
    if (offer ? e.p.window_scaling : c.wscale_ok) {
      o.has_wscale = true;
      o.wscale = c.rcv_wscale;
    }
  }
  if (c.ts_ok || (offer && e.p.timestamps != 0)) {
    o.has_timestamps = true;
    o.tsval = ts_now(e, c);
    o.tsecr = c.ts_recent;
  }
  return o;
}

// A frame for one segment; an empty TX pool is a counted loss.
std::uint8_t* begin_segment(Env& e) {
  std::uint8_t* tcp = e.out.begin();
  if (tcp == nullptr) e.ctr.inc(Counter::TwstackTxPoolExhausted);
  return tcp;
}

}  // namespace

// tcp_connect_init rounds to advmss (no timestamps known yet),
// tcp_openreq_init_rwin to advmss less the timestamp option when the
// SYN had one.
std::uint32_t syn_mss_window(const Env& /*e*/, const Tcb& c) {
  const bool ts = c.state != State::kSynSent && c.ts_ok;
  return syn_rcv_wnd(c, c.advmss - (ts ? 12u /* TCPOLEN_TSTAMP_ALIGNED */ : 0u));
}

bool emit(Env& e, Tcb& c, Seq seq, std::uint8_t flags, std::uint32_t len) {
  std::uint8_t* tcp = begin_segment(e);
  if (tcp == nullptr) return false;
  wire::TcpOptions o = segment_options(e, c, flags);
  if ((c.sack.num_rcv != 0 || c.sack.dsack) && !(flags & (wire::kSyn | wire::kRst))) sack_fill_options(c, o);
  std::uint8_t opts[40];
  std::size_t olen = wire::write_tcp_options(opts, o);
  std::uint16_t win = (flags & wire::kSyn) ? syn_window(e, c) : advertise_window(c);
  wire::TcpFields f{};
  f.src_port = c.tuple.lport;
  f.dst_port = c.tuple.rport;
  f.seq = seq.raw();
  f.ack = (flags & wire::kAck) ? c.rcv_nxt.raw() : 0;
  f.flags = flags;
  f.window = win;
  std::size_t hl = wire::write_tcp_header(tcp, f, {opts, olen});
  if (len > 0) c.snd.read_at(e.pool, static_cast<std::uint32_t>(seq - c.snd_buf_seq), tcp + hl, len);
  e.out.push(tcp, static_cast<std::uint16_t>(hl + len), c.tuple);
  if (len > 0 && rack_on(e, c)) rack_on_send(e, c, seq, len);  // RFC 8985 §6.1: when each segment went
  // Linux __tcp_transmit_skb counts OutSegs for new sequence space or none
  // (a bare ACK, a reset, a probe), never for a retransmission.
  const std::uint32_t space = len + ((flags & wire::kSyn) ? 1u : 0u) + ((flags & wire::kFin) ? 1u : 0u);
  if (space == 0 || seq + space > c.snd_max) e.ctr.inc(Counter::TcpOutSegs);
  if (flags & wire::kRst) e.ctr.inc(Counter::TcpOutRsts);
  if (len > 0) {
    // tcp_event_data_sent, for any segment with data: sending from an empty
    // flight is CA_EVENT_TX_START (it moves a CUBIC epoch, if one runs);
    // lsndtime dates the last data sent.
    if (c.cubic.epoch_start != 0 && c.snd_una == c.snd_max) cubic_on_tx_start(e, c);
    c.lsndtime_us = e.now.us;
  }
  if (flags & wire::kAck) {
    c.ack_pending = false;
    if (!(flags & wire::kSyn)) c.rcv_wup = c.rcv_nxt;  // tcp_select_window
    ack_sent(e, c);
    e.wheel.cancel(c.delack_timer);
  }
  return true;
}

void restart_after_idle(Env& e, Tcb& c) {
  cwnd_restart(c, payload_mss(c), e.now.us - c.lsndtime_us, c.rto_us);
  c.snd_cwnd_stamp_us = e.now.us;
  c.snd_cwnd_used = 0;
}

// A bare ACK carries the highest sequence sent, not SND.NXT: after an RTO
// rewinds SND.NXT for go-back-N, an ACK at the rewound value can fall below
// a peer's window and be dropped unread (Linux never rewinds snd_nxt).
void send_ack(Env& e, Tcb& c) { emit(e, c, c.snd_max, wire::kAck, 0); }

void arm_rto(Env& e, Tcb& c) {
  e.arm(c.rtx_timer, c.rto_us);
  c.tlp.pto_armed = false;
  c.rack.reo_armed = false;
}

// One pass of the send loop: as much new or rewound data as the windows,
// Nagle and the TX pool allow, then a bare ACK if one is still owed.
void output(Env& e, Tcb& c) {
  if (!c.syn_acked() || !in_state(c.state, kSynchronized) || c.state == State::kTimeWait) {
    if (c.ack_pending && in_state(c.state, kSynchronized)) send_ack(e, c);
    return;
  }
  // Linux tcp_current_mss: SACK blocks on the segment take from its payload.
  const std::uint32_t smss =
      payload_mss(c) - (c.sack.num_rcv != 0 || c.sack.dsack ? sack_option_bytes(c) : 0u);
  const Seq sent_before = c.snd_max;
  // More than one segment of new data: TSO packets to follow (push.cc).
  // A write that fits one segment is a packet of its own and skips this.
  const bool tso = c.snd_data_end() - c.snd_max > static_cast<std::int32_t>(smss);
  // TCP_CORK, MSG_MORE (push.cc): a short last segment waits.
  const bool cork = c.cork != 0 && corked(c);
  TsoPacket pkt;
  for (;;) {
    // RFC 6675: SACKed bytes are neither resent nor counted in flight.
    const bool scored = sack_scored(c);
    std::uint32_t room = scored && c.snd_nxt < c.snd_max ? sack_skip_sacked(c) : smss;
    Seq end = c.snd_data_end();
    std::uint32_t avail = c.snd_nxt < end ? static_cast<std::uint32_t>(end - c.snd_nxt) : 0;
    std::uint32_t out = static_cast<std::uint32_t>(c.snd_nxt - c.snd_una);
    std::uint32_t pipe = scored ? sack_out(c) : c.dupacks == 0 || c.sack.ok ? out : reno_in_flight(c, payload_mss(c));
    std::uint32_t usable = std::min(c.cwnd > pipe ? c.cwnd - pipe : 0, c.snd_wnd > out ? c.snd_wnd - out : 0);
    std::uint32_t len = std::min({avail, usable, smss, room});
    bool fin = c.fin_queued && c.snd_nxt + len == end;
    if (len == 0 && !fin) break;
    // RFC 9293 §3.7.4 (Nagle) and §3.8.6.2.1 (sender SWS avoidance): send a
    // short segment only if it empties the queue with nothing outstanding,
    // or fills half the largest window the peer has offered.
    // Retransmissions (below snd_max) are exempt: holding them back could
    // stall the connection on one lost ACK.
    bool retransmit = c.snd_nxt < c.snd_max;
    bool full = len == smss;
    bool drains = len == avail && (c.nodelay || out == 0);
    bool half_window = len >= c.max_snd_wnd / 2 && len > 0;
    bool hold = cork && len == avail;  // tcp_nagle_check: TCP_NAGLE_CORK
    if (!retransmit && !full && !(fin && len == avail) && (hold || (!drains && !half_window))) break;
    std::uint8_t flags = wire::kAck;
    if (tso && !retransmit) [[unlikely]] {
      pkt = tso_packet_step(e, c, smss, len, pkt);
      if (pkt.left == 0 && pkt.multi) flags |= wire::kPsh;
    }
    if (len > 0 && push_due(c, c.snd_nxt, len)) flags |= wire::kPsh;  // push.cc
    if (fin) flags |= wire::kFin;
    if (!emit(e, c, c.snd_nxt, flags, len)) break;
    if (c.in_recovery) c.prr_out += len;  // RFC 6937 prr_out (Linux tcp_write_xmit)
    if (c.snd_nxt < c.snd_max) {
      e.ctr.inc(Counter::TcpRetransSegs);
    } else {
      if (len > 0) {
        e.ctr.inc(Counter::TcpExtTCPOrigDataSent);
        data_sent(e, c);
      }
      if (!c.rtt_active && !c.ts_ok) time_segment(e, c, c.snd_nxt);
    }
    c.snd_nxt += len + (fin ? 1u : 0u);
    c.snd_max = seq_max(c.snd_max, c.snd_nxt);
    if (!c.rtx_timer.active()) arm_rto(e, c);
    if (fin) break;
  }
  // Linux tcp_write_xmit: new data sent, a tail loss probe is scheduled.
  if (c.snd_max != sent_before) {
    tlp_schedule(e, c, false);
    if (cubic_records_sends(c)) [[unlikely]] cubic_on_send(e, c, sent_before);  // HyStart's samples
  }
  // ... and tcp_cwnd_validate: was this flight limited by cwnd? (A pass
  // that sent nothing and leaves nothing queued is none of its business.)
  if (c.snd_max != sent_before || c.snd_nxt < c.snd_data_end()) {
    if (cwnd_validate(c, in_flight(c), smss, c.snd_max != sent_before, c.snd_nxt < c.snd_data_end())) {
      cwnd_track_use(c, payload_mss(c), e.now.us, c.rto_us, e.p.slow_start_after_idle);
    }
  }
  // Unsent bytes went out: a writer held back by TCP_NOTSENT_LOWAT may go on.
  if (c.want_writable && c.snd_max != sent_before) check_space_after_send(e.p, c);
  // Data is queued but nothing is in flight to bring an ACK back: the
  // persist timer probes the window (RFC 9293 §3.8.6.1).
  if (c.snd_una == c.snd_max && c.snd_nxt < c.snd_data_end() && !c.rtx_timer.active()) arm_rto(e, c);
  if (c.ack_pending) send_ack(e, c);
  // MSG_MORE corks only the push of its own write.
  if (c.cork & kCorkMore) c.cork &= static_cast<std::uint8_t>(~kCorkMore);
}

// tcp_v4_send_ack as tcp_v4_timewait_ack uses it: an ACK with no connection
// behind it, its fields from a TIME_WAIT entry. The timestamp option is
// present only when there is a TSecr to echo (Linux: tsecr != 0).
void send_ack_for(Env& e, const wire::FourTuple& t, Seq seq, Seq ack, std::uint16_t window,
                  std::uint32_t tsval, std::uint32_t tsecr) {
  std::uint8_t* tcp = begin_segment(e);
  if (tcp == nullptr) return;
  wire::TcpOptions o{};
  if (tsecr != 0) {
    o.has_timestamps = true;
    o.tsval = tsval;
    o.tsecr = tsecr;
  }
  std::uint8_t opts[40];
  std::size_t olen = wire::write_tcp_options(opts, o);
  wire::TcpFields f{};
  f.src_port = t.lport;
  f.dst_port = t.rport;
  f.seq = seq.raw();
  f.ack = ack.raw();
  f.flags = wire::kAck;
  f.window = window;
  std::size_t hl = wire::write_tcp_header(tcp, f, {opts, olen});
  e.out.push(tcp, static_cast<std::uint16_t>(hl), t);
  e.ctr.inc(Counter::TcpOutSegs);
}

void send_reset_for(Env& e, const wire::FourTuple& t, const Segment& s) {
  if (s.has(wire::kRst)) return;  // never answer a reset with a reset
  std::uint8_t* tcp = begin_segment(e);
  if (tcp == nullptr) return;
  wire::TcpFields f{};
  f.src_port = t.lport;
  f.dst_port = t.rport;
  if (s.has(wire::kAck)) {
    f.seq = s.ack.raw();  // <SEQ=SEG.ACK><CTL=RST>
    f.flags = wire::kRst;
  } else {
    f.seq = 0;  // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    f.ack = (s.seq + s.seg_len()).raw();
    f.flags = wire::kRst | wire::kAck;
  }
  std::size_t hl = wire::write_tcp_header(tcp, f, {});
  e.out.push(tcp, static_cast<std::uint16_t>(hl), t);
  e.ctr.inc(Counter::TcpOutSegs);
  e.ctr.inc(Counter::TcpOutRsts);
}

}  // namespace twstack::tcp
