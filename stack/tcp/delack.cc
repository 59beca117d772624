// When to acknowledge received data, as Linux does it (RFC 1122 §4.2.3.2,
// RFC 5681 §4.2; net/ipv4/tcp_input.c tcp_event_data_recv,
// __tcp_ack_snd_check, tcp_output.c tcp_send_delayed_ack, tcp_timer.c
// tcp_delack_timer_handler):
//
// - quick-ACK mode: the first data of a connection, and data after an idle
//   gap longer than the RTO, are ACKed at once for up to 16 ACKs
//   (tcp_incr_quickack), so a sender in slow start is not held back;
// - otherwise an ACK waits for the delayed-ACK timeout (ATO, 40 ms at least,
//   adapted to the inter-arrival gap) unless more than one full segment is
//   unacknowledged;
// - a connection that answers within the ATO is interactive ("pingpong"):
//   its ACKs wait to ride on the reply, and quick-ACK mode is off.
#include <algorithm>

#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

namespace {

constexpr std::uint8_t kMaxQuickAcks = 16;            // TCP_MAX_QUICKACKS
constexpr std::int64_t kDelackMaxUs = 200000;         // TCP_DELACK_MAX (HZ/5)
constexpr std::int64_t kAtoCeilingUs = 500000;        // HZ/2 in tcp_send_delayed_ack

// TCP_ATO_MIN and TCP_DELACK_MIN: twstack.delayed_ack (40 ms).
std::int64_t ato_min(const Env& e) { return e.p.delack.us; }

// tcp_incr_quickack: as many quick ACKs as half the window holds segments,
// at least 2, at most `max`.
void incr_quickack(Tcb& c, std::uint8_t max) {
  const std::uint32_t wnd = c.rcv_adv > c.rcv_nxt ? static_cast<std::uint32_t>(c.rcv_adv - c.rcv_nxt) : 0;
  std::uint32_t q = wnd / (2u * c.rcv_mss);
  if (q == 0) q = 2;
  q = std::min<std::uint32_t>(q, max);
  if (q > c.quick) c.quick = static_cast<std::uint8_t>(q);
}

bool in_quickack_mode(const Tcb& c) { return c.quick > 0 && !c.pingpong; }

// tcp_measure_rcv_mss: the peer's segment size, from full segments; a short
// segment is "pushed" (the sender had no more), two of them PUSHED2.
void measure_rcv_mss(const Env& /*e*/, Tcb& c, const Segment& s) {
  const std::uint32_t advmss = c.advmss - (c.ts_ok ? 12u : 0u);
  if (s.len >= c.rcv_mss) {
    c.rcv_mss = static_cast<std::uint16_t>(std::min(s.len, advmss));
    if (s.has(wire::kPsh)) c.ack_flags |= kAckPushed;
  } else {
    if (c.ack_flags & kAckPushed) c.ack_flags |= kAckPushed2;
    c.ack_flags |= kAckPushed;
  }
}

// tcp_event_data_recv: schedule an ACK and adapt the ATO to the gap since
// the last data.
void event_data_recv(Env& e, Tcb& c, const Segment& s) {
  c.ack_flags |= kAckSched;
  measure_rcv_mss(e, c, s);
  rcv_rtt_measure(e, c);  // buffers.hh
  const std::int64_t now = e.now.us;
  if (c.ato_us == 0) {
    // The first data of the connection.
    incr_quickack(c, kMaxQuickAcks);
    c.ato_us = ato_min(e);
  } else {
    const std::int64_t m = now - c.lrcvtime_us;
    if (m <= ato_min(e) / 2) {
      c.ato_us = c.ato_us / 2 + ato_min(e) / 2;
    } else if (m < c.ato_us) {
      c.ato_us = std::min(c.ato_us / 2 + m, c.rto_us);
    } else if (m > c.rto_us) {
      // Idle longer than an RTO: the sender restarts from a small window.
      incr_quickack(c, kMaxQuickAcks);
    }
  }
  c.lrcvtime_us = now;
}

// tcp_send_delayed_ack: the timeout is the ATO, bounded by 500 ms (200 ms
// when interactive or pushed) and by the RTT, and at most TCP_DELACK_MAX.
void send_delayed_ack(Env& e, Tcb& c) {
  std::int64_t ato = c.ato_us;
  if (ato > ato_min(e)) {
    std::int64_t max_ato = (c.pingpong || (c.ack_flags & kAckPushed)) ? kDelackMaxUs : kAtoCeilingUs;
    if (c.srtt_us != 0) max_ato = std::min(max_ato, std::max(c.srtt_us, ato_min(e)));
    ato = std::min(ato, max_ato);
  }
  ato = std::min(ato, kDelackMaxUs);
  const timer::Tick want = e.tick_now() + e.ticks(ato);
  if (c.delack_timer.active()) {
    // An ACK already waits: if it is nearly due, send it now; never postpone it.
    if (c.delack_timer.expiry() <= e.tick_now() + e.ticks(ato / 4)) {
      send_ack(e, c);
      return;
    }
    if (want >= c.delack_timer.expiry()) return;
  }
  e.wheel.schedule_at(c.delack_timer, want <= e.tick_now() ? e.tick_now() + 1 : want);
}

}  // namespace

void ack_on_data(Env& e, Tcb& c, const Segment& s, bool now) {
  event_data_recv(e, c, s);
  // __tcp_ack_snd_check: more than one full segment unacknowledged, or
  // quick-ACK mode: at once (a burst must not collapse into one ACK).
  // twstack.delayed_ack=0 turns delaying off. (Linux also asks that the
  // window would not shrink; twstack's receive buffer is its window, so that
  // test would hold every ACK until the application reads, which Linux's
  // larger buffers do not.)
  if (e.p.delack.us == 0 || static_cast<std::uint32_t>(c.rcv_nxt - c.rcv_wup) > c.rcv_mss) {
    // A FIN on the segment is taken first (tcp_data_queue runs tcp_fin
    // before tcp_ack_snd_check): one ACK, at the flush, covers both.
    if (s.has(wire::kFin)) {
      c.ack_pending = true;
      return;
    }
    send_ack(e, c);
    return;
  }
  if (in_quickack_mode(c) || now) {
    // The ACK leaves at the engine's flush, which comes before any later
    // segment is taken from a caller that hands them one at a time, so on
    // the wire it is Linux's quick ACK; but a request the application
    // answers within the same poll gets its ACK on the reply, and short
    // segments of one received burst share one ACK (full ones are ACKed in
    // twos above).
    c.ack_pending = true;
    return;
  }
  send_delayed_ack(e, c);
}

// tcp_enter_quickack_mode.
void enter_quickack(Env& e, Tcb& c) {
  incr_quickack(c, kMaxQuickAcks);
  c.pingpong = false;  // inet_csk_exit_pingpong_mode
  c.ato_us = ato_min(e);
}

// tcp_delack_timer_handler: a delayed ACK that no reply carried. Outside
// pingpong the ATO doubles (up to the RTO); an interactive connection
// stops being one.
void on_delack_timer(Env& e, Tcb& c) {
  if (c.pingpong) {
    c.pingpong = false;
    c.ato_us = ato_min(e);
  } else {
    c.ato_us = std::min(c.ato_us * 2, c.rto_us);
  }
  e.ctr.inc(Counter::TcpExtDelayedACKs);
  send_ack(e, c);
}

// tcp_event_ack_sent, tcp_dec_quickack_mode: an ACK that covers new data
// spends one quick ACK; the last one deflates the ATO.
void ack_sent(const Env& e, Tcb& c) {
  if (c.quick != 0 && (c.ack_flags & kAckSched)) {
    if (--c.quick == 0) c.ato_us = ato_min(e);
  }
  c.ack_flags = 0;
}

// tcp_event_data_sent: data sent within the ATO of the last data received
// is a reply; the connection becomes interactive (tcp_pingpong_thresh 1).
void data_sent(Env& e, Tcb& c) {
  if (c.ato_us != 0 && e.now.us - c.lrcvtime_us < c.ato_us) c.pingpong = true;
}

// tcp_cleanup_rbuf: after a read, ACK at once if more than a full segment
// is unacknowledged, or if the read emptied the buffer of a short (pushed)
// segment on a connection that is not interactive.
bool ack_due_after_read(const Tcb& c, std::uint32_t copied) {
  if (!(c.ack_flags & kAckSched)) return false;
  if (static_cast<std::uint32_t>(c.rcv_nxt - c.rcv_wup) > c.rcv_mss) return true;
  return copied > 0 && c.rcv.size() == 0 &&
         ((c.ack_flags & kAckPushed2) || ((c.ack_flags & kAckPushed) && !c.pingpong));
}

}  // namespace twstack::tcp
