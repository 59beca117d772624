// User calls on a connection (RFC 9293 §3.10.2-3.10.5).
#include <algorithm>

#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

namespace {

// Linux tcp_cleanup_rbuf: after the application reads, announce the window
// at once only when the read freed "lots" of space: the window still open
// to the peer (tcp_receive_window) is at most half the clamp, and the one
// we would offer now (__tcp_select_window: the free space in units of the
// window scale) is not zero and at least twice it. Not once the peer's FIN
// came (RCV_SHUTDOWN).
void maybe_window_update(Tcb& c) {
  if (!in_state(c.state, kReceiving)) return;
  const std::uint64_t open = c.rcv_adv > c.rcv_nxt ? static_cast<std::uint32_t>(c.rcv_adv - c.rcv_nxt) : 0u;
  if (2 * open > c.window_clamp) return;
  const std::uint64_t next = (c.rcv.space() >> c.rcv_wscale) << c.rcv_wscale;
  if (next != 0 && next >= 2 * open) c.ack_pending = true;
}

// sock_error(): the pending error, cleared.
Errc take_error(Tcb& c) {
  const Errc e = c.sk_err;
  c.sk_err = Errc::kOk;
  return e;
}

}  // namespace

// Linux tcp_sendmsg_locked: a connection that is not (or no longer) open
// for sending fails with the pending socket error, once, and EPIPE after it
// (sk_stream_wait_connect, sk_stream_error: sock_error() ?: -EPIPE). So after
// a reset a first write() learns ECONNRESET (EPIPE in CLOSE-WAIT, as
// tcp_reset sets it), later ones EPIPE. twstack queues data in SYN-SENT
// and SYN-RECEIVED where a blocking write would wait.
std::uint32_t user_send(Env& e, Tcb& c, std::span<const std::uint8_t> data, Errc* err, bool more) {
  *err = Errc::kOk;
  if (c.fin_queued || !in_state(c.state, State::kEstablished | State::kCloseWait |
                                             State::kSynSent | State::kSynReceived)) {
    *err = c.sk_err != Errc::kOk ? take_error(c) : Errc::kPipe;
    return 0;
  }
  // tcp_sendmsg_locked: skb by skb, within sk_sndbuf and TCP_NOTSENT_LOWAT
  // (push.cc), within the ring.
  const std::uint32_t asked = static_cast<std::uint32_t>(std::min<std::size_t>(data.size(), c.snd.space()));
  const WritePlan plan = plan_write(c, asked, wmem_queued(c), send_limit(e.p, c), notsent_lowat(e.p, c));
  const Seq from = c.snd_data_end();
  std::uint32_t n = c.snd.append(e.pool, data.data(), plan.take);
  if (n < plan.take) e.ctr.inc(Counter::TwstackBufPoolExhausted);
  if (n > 0) {
    slow_start_after_idle_check(e, c);  // tcp_skb_entail
    if (more || c.cork != 0) cork_on_write(c, more);
    mark_pushes(c, from, from + n, plan, more);
  }
  if (n < data.size()) c.want_writable = true;
  return n;
}

// Linux tcp_recvmsg_locked with nothing to copy: end of stream once the
// peer's FIN was taken (SOCK_DONE); else the pending error, once; end of
// stream on a closed connection (tcp_done set RCV_SHUTDOWN); else EAGAIN.
// Queued data is read first even after a reset.
std::uint32_t user_recv(Env& e, Tcb& c, std::span<std::uint8_t> out, Errc* err) {
  *err = Errc::kOk;
  const std::uint32_t n = user_recv(e, c, out);
  if (n > 0 || out.empty() || c.rcv_done) return n;
  if (c.sk_err != Errc::kOk) {
    *err = take_error(c);
  } else if (c.state != State::kClosed) {
    *err = Errc::kAgain;
  }
  return 0;
}

Errc user_so_error(Tcb& c) { return take_error(c); }

std::uint32_t user_recv(Env& e, Tcb& c, std::span<std::uint8_t> out) {
  std::uint32_t n = static_cast<std::uint32_t>(std::min<std::size_t>(out.size(), c.rcv.size()));
  if (n == 0) return 0;
  c.rcv.read_at(e.pool, 0, out.data(), n);
  c.rcv.consume(e.pool, n);
  rcv_space_adjust(e, c);  // tcp_recvmsg_locked (buffers.hh)
  maybe_window_update(c);
  if (ack_due_after_read(c, n)) c.ack_pending = true;
  return n;
}

// RFC 9293 §3.10.4 CLOSE, for the sending direction only (shutdown(SHUT_WR)).
Errc user_shutdown(Env& e, Tcb& c) {
  switch (c.state) {
    case State::kSynSent:
      enter_closed(e, c, Errc::kOk);  // delete the TCB
      return Errc::kOk;
    case State::kSynReceived:
    case State::kEstablished:
      c.fin_queued = true;
      set_state(e, c, State::kFinWait1);
      return Errc::kOk;
    case State::kCloseWait:
      c.fin_queued = true;
      set_state(e, c, State::kLastAck);
      return Errc::kOk;
    default:
      return c.fin_queued ? Errc::kOk : Errc::kNotConn;
  }
}

void user_close(Env& e, Tcb& c) {
  // RFC 2525 §2.17 and Linux tcp_close: closing with unread data aborts the
  // connection with a reset instead of a FIN (TCPAbortOnClose).
  if (c.rcv.size() > 0 && in_state(c.state, kSynchronized) && c.state != State::kTimeWait) {
    e.ctr.inc(Counter::TcpExtTCPAbortOnClose);
    c.orphaned = true;
    user_abort(e, c);
    return;
  }
  c.orphaned = true;
  c.events = 0;
  if (c.state == State::kClosed || c.state == State::kTimeWait) return;
  user_shutdown(e, c);
  // Already in FIN_WAIT2 (after an earlier shutdown): now an orphan, it
  // waits tcp_fin_timeout for the peer's FIN.
  if (c.state == State::kFinWait2) orphan_fin_wait2(e, c, false);
}

// RFC 9293 §3.10.5 ABORT: a reset for synchronized connections, then CLOSED.
void user_abort(Env& e, Tcb& c) {
  if (in_state(c.state, kSynchronized | State::kSynReceived) && c.state != State::kTimeWait) {
    emit(e, c, c.snd_max, wire::kRst | wire::kAck, 0);
  }
  enter_closed(e, c, Errc::kConnReset);
  c.events = 0;
}

}  // namespace twstack::tcp
