// Segment arrives, seventh and eighth steps (RFC 9293 §3.10.7.4): process
// the segment text, then the FIN bit.
#include <algorithm>

#include "stack/tcp/sack.hh"
#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

namespace {

// Delivers a FIN that the data has caught up with.
void take_fin(Env& e, Tcb& c) {
  c.peer_fin_held = false;
  c.rcv_nxt += 1;
  c.rcv_done = true;
  c.ack_pending = true;  // a FIN is acknowledged at once
  c.events |= kEvPeerClosed;
  switch (c.state) {
    case State::kSynReceived:
    case State::kEstablished:
      set_state(e, c, State::kCloseWait);
      break;
    case State::kFinWait1:
      // Our FIN not yet acknowledged: simultaneous close.
      if (c.fin_acked()) {
        enter_time_wait(e, c);
      } else {
        set_state(e, c, State::kClosing);
      }
      break;
    case State::kFinWait2:
      enter_time_wait(e, c);
      break;
    default:
      break;  // CLOSE-WAIT, CLOSING, LAST-ACK: remain
  }
}

}  // namespace

void input_text(Env& e, Tcb& c, const Segment& s) {
  // The application has closed: nobody will read this. Linux
  // tcp_rcv_state_process resets (TCPAbortOnData), as RFC 1122 §4.2.2.13 asks.
  if (c.orphaned && in_state(c.state, State::kFinWait1 | State::kFinWait2)) {
    e.ctr.inc(Counter::TcpExtTCPAbortOnData);
    send_reset_for(e, c.tuple, s);
    enter_closed(e, c, Errc::kConnReset);
    return;
  }
  if (!in_state(c.state, kReceiving)) return;  // after the peer's FIN: ignore
  std::uint32_t off = static_cast<std::uint32_t>(s.seq - c.rcv_nxt);
  std::uint32_t tail = c.rcv.size();
  std::uint32_t stored = c.rcv.write_at(e.pool, tail + off, s.data, s.len);
  if (stored < s.len) {
    // Buffer pool exhausted: keep nothing of this segment; the peer resends.
    e.ctr.inc(Counter::TwstackBufPoolExhausted);
    e.ctr.inc(Counter::TcpExtTCPRcvQDrop);
    return;
  }
  if (off > 0) {
    // Out of order: hold it and send an immediate duplicate ACK (RFC 5681 §4.2).
    if (c.sack.ok) sack_rcv_ofo_dsack(e, c, s.seq, s.seq + s.len);
    if (c.ooo.add(off, s.len)) {
      e.ctr.inc(Counter::TcpExtTCPOFOQueue);
      if (c.sack.ok) sack_rcv_ofo(c, s.seq, s.seq + s.len);
    } else {
      e.ctr.inc(Counter::TcpExtTCPOFODrop);
    }
    c.rcv.set_holds_beyond_tail(!c.ooo.empty());
    enter_quickack(e, c);  // Linux tcp_data_queue_ofo
    send_ack(e, c);
    return;
  }
  bool filled_gap = !c.ooo.empty();
  std::uint32_t more = c.ooo.advance(s.len);
  std::uint32_t n = s.len + more;
  c.rcv.extend(n);
  c.rcv.set_holds_beyond_tail(!c.ooo.empty());
  c.rcv_nxt += n;
  if (c.sack.num_rcv != 0) sack_rcv_advance(c);
  c.events |= kEvReadable;
  // RFC 5681 §4.2: ACK at once when a gap fills (Linux ICSK_ACK_NOW).
  ack_on_data(e, c, s, filled_gap);  // delack.cc
  if (c.peer_fin_held && c.rcv_nxt == c.peer_fin_seq) take_fin(e, c);
}

void input_fin(Env& e, Tcb& c, const Segment& s) {
  Seq fin_seq = s.seq + s.len;
  if (c.state == State::kTimeWait) {
    take_fin(e, c);  // cannot happen in-window, kept for completeness
    return;
  }
  if (!in_state(c.state, kReceiving | State::kSynReceived)) return;
  if (fin_seq == c.rcv_nxt) {
    take_fin(e, c);
  } else {
    // The FIN is beyond a hole: remember it until the data arrives.
    c.peer_fin_held = true;
    c.peer_fin_seq = fin_seq;
  }
}

}  // namespace twstack::tcp
