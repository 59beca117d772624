// Keep-alive (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6) and TCP_USER_TIMEOUT
// (RFC 5482) as Linux does them: tcp_keepalive_timer with
// net.ipv4.tcp_keepalive_time/_intvl/_probes and the per-connection
// TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT overrides; the probe is
// tcp_xmit_probe_skb's bare ACK with SEG.SEQ = SND.UNA - 1, which the peer
// must answer. The user timeout bounds how long data may stay
// unacknowledged (retransmits_timed_out, tcp_clamp_rto_to_user_timeout) and
// how long keep-alive probes go unanswered.
#include <algorithm>

#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

namespace {

std::int64_t keepalive_time(const Env& e, const Tcb& c) {
  return c.keepidle_us != 0 ? c.keepidle_us : e.p.keepalive_time.us;
}
std::int64_t keepalive_intvl(const Env& e, const Tcb& c) {
  return c.keepintvl_us != 0 ? c.keepintvl_us : e.p.keepalive_intvl.us;
}
std::uint8_t keepalive_probes(const Env& e, const Tcb& c) {
  return c.keepcnt != 0 ? c.keepcnt : e.p.keepalive_probes;
}
// keepalive_time_elapsed: since the peer last sent data or an ACK.
std::int64_t idle_us(const Env& e, const Tcb& c) {
  return e.now.us - std::max(c.lrcvtime_us, c.rcv_tstamp_us);
}

}  // namespace

// tcp_keepalive_timer, for a connection that is not an orphan in FIN_WAIT2.
void on_keepalive_timer(Env& e, Tcb& c) {
  if (!c.keepalive || c.state == State::kClosed || c.state == State::kTimeWait) return;
  std::int64_t next = keepalive_time(e, c);
  // In the handshake, or with data in flight or queued, the connection is
  // alive without keep-alive: look again one keep-alive time later.
  const bool quiet = c.syn_acked() && c.flight() == 0 && c.snd_nxt == c.snd_data_end();
  if (quiet) {
    const std::int64_t idle = idle_us(e, c);
    if (idle >= next) {
      const bool gave_up = c.user_timeout_us != 0 ? (idle >= c.user_timeout_us && c.probes > 0)
                                                  : c.probes >= keepalive_probes(e, c);
      if (gave_up) {
        // tcp_send_active_reset, then tcp_write_err: ETIMEDOUT.
        emit(e, c, c.snd_max, wire::kRst | wire::kAck, 0);
        e.ctr.inc(Counter::TcpExtTCPAbortOnTimeout);
        enter_closed(e, c, Errc::kTimedOut);
        return;
      }
      if (emit(e, c, c.snd_una - 1, wire::kAck, 0)) e.ctr.inc(Counter::TcpExtTCPKeepAlive);
      ++c.probes;
      next = keepalive_intvl(e, c);
    } else {
      next -= idle;
    }
  }
  e.arm(c.life_timer, next);
}

// SO_KEEPALIVE (tcp_set_keepalive): on, the first probe is due one
// keep-alive time after the peer was last heard from.
void set_keepalive(Env& e, Tcb& c, bool on) {
  if (on == c.keepalive) return;
  c.keepalive = on;
  const bool fw2_orphan = c.state == State::kFinWait2 && c.orphaned;
  if (on && c.state != State::kClosed && !fw2_orphan) {
    e.arm(c.life_timer, keepalive_time(e, c));
  } else if (!on && !fw2_orphan) {
    e.wheel.cancel(c.life_timer);
  }
}

// TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT: 0 leaves one as it is. Ranges
// as the kernel's setsockopt: 1..MAX_TCP_KEEPIDLE/INTVL (32767 s),
// 1..MAX_TCP_KEEPCNT (127). A new idle time reschedules the timer
// (tcp_sock_set_keepidle_locked).
Errc set_keepalive_params(Env& e, Tcb& c, std::int64_t idle, std::int64_t intvl, std::uint32_t cnt) {
  constexpr std::int64_t kMinUs = 1000000;
  constexpr std::int64_t kMaxUs = 32767LL * 1000000;
  auto bad = [](std::int64_t v) { return v != 0 && (v < kMinUs || v > kMaxUs); };
  if (idle < 0 || intvl < 0 || bad(idle) || bad(intvl) || cnt > 127) return Errc::kInvalid;
  if (intvl != 0) c.keepintvl_us = intvl;
  if (cnt != 0) c.keepcnt = static_cast<std::uint8_t>(cnt);
  if (idle != 0) {
    c.keepidle_us = idle;
    if (c.keepalive && c.state != State::kClosed && !(c.state == State::kFinWait2 && c.orphaned)) {
      const std::int64_t elapsed = c.syn_acked() ? idle_us(e, c) : 0;
      e.arm(c.life_timer, std::max<std::int64_t>(idle - elapsed, 0));
    }
  }
  return Errc::kOk;
}

// TCP_USER_TIMEOUT in milliseconds, 0 = off (as the kernel: 0..INT_MAX).
Errc set_user_timeout(Tcb& c, std::int64_t ms) {
  if (ms < 0 || ms > 2147483647) return Errc::kInvalid;
  c.user_timeout_us = ms * 1000;
  return Errc::kOk;
}

// retransmits_timed_out with a user timeout: after at least one
// retransmission, once the oldest unacknowledged data has waited that long.
bool user_timed_out(const Env& e, const Tcb& c) {
  return c.user_timeout_us != 0 && c.backoff > 0 && e.now.us - c.retrans_stamp_us >= c.user_timeout_us;
}

// tcp_clamp_rto_to_user_timeout: the next RTO never overshoots the user
// timeout (at least one tick once it has passed).
std::int64_t rto_clamped(const Env& e, const Tcb& c) {
  if (c.user_timeout_us == 0) return c.rto_us;
  const std::int64_t remaining = c.user_timeout_us - (e.now.us - c.retrans_stamp_us);
  return remaining <= 0 ? kUsPerTick : std::min(c.rto_us, remaining);
}

}  // namespace twstack::tcp
