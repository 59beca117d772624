// Opening a connection: ISN selection, SYN options and their negotiation,
// and the state bookkeeping shared by every transition.
#include <algorithm>

#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

namespace {

// RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, key),
// M a 4 µs clock. One keyed hash also gives the timestamp offset, so the
// same 4-tuple always gets the same offset (Linux secure_tcp_seq and
// secure_tcp_ts_off share one siphash since 6.18.17).
void init_sequence(Env& e, Tcb& c) {
  const flow::FourTuple& t = c.tuple;
  std::uint64_t h = siphash_4tuple(e.secret, t.laddr.v, t.raddr.v, t.lport, t.rport);
  c.iss = Seq(static_cast<std::uint32_t>(h) + static_cast<std::uint32_t>(e.now.us / 4));
  // net.ipv4.tcp_timestamps=2 turns the offset off (Linux tcp_sk_init).
  c.ts_offset = e.p.timestamps == 1 ? static_cast<std::uint32_t>(h >> 32) : 0;
}

// RFC 7323 §2.3: the smallest shift that lets the window field cover the
// receive buffer.
std::uint8_t wscale_for(std::uint32_t buf) {
  std::uint8_t s = 0;
  while (s < 14 && (buf >> s) > 0xffff) ++s;
  return s;
}

void init_common(Env& e, Tcb& c, const flow::FourTuple& t) {
  c.tuple = t;
  c.snd.init(e.p.sndbuf);
  c.rcv.init(e.p.rcvbuf);
  c.rcv_wscale = e.p.window_scaling ? wscale_for(c.rcv.capacity()) : 0;
  c.rto_us = e.p.rto_initial_us;
  init_sequence(e, c);
  c.snd_una = c.iss;
  c.snd_nxt = c.iss;
  c.snd_max = c.iss;
  c.snd_buf_seq = c.iss + 1;
  c.recover = c.iss;
  c.mss = 536;  // RFC 9293 §3.7.1: the default when the peer sends no MSS
}

// RFC 5681 §3.1 with RFC 6928's initial window of 10 segments (as Linux).
void init_congestion(Tcb& c) {
  std::uint32_t smss = payload_mss(c);
  c.cwnd = 10 * smss;
  c.ssthresh = 0xffffffff;
}

}  // namespace

// Applies the peer's SYN options (RFC 9293 §3.7.1, RFC 7323 §2.2, §3.2).
void negotiate(Env& e, Tcb& c, const Segment& syn) {
  std::uint16_t peer_mss = syn.opt.has_mss ? syn.opt.mss : 536;
  c.mss = std::max<std::uint16_t>(std::min(peer_mss, e.p.mss), 64);
  c.wscale_ok = e.p.window_scaling && syn.opt.has_wscale;
  c.snd_wscale = c.wscale_ok ? syn.opt.wscale : 0;
  if (!c.wscale_ok) c.rcv_wscale = 0;
  c.ts_ok = e.p.timestamps != 0 && syn.opt.has_timestamps;
  if (c.ts_ok) {
    c.ts_recent = syn.opt.tsval;
    c.ts_recent_stamp_ms = e.now_ms();
  }
  init_congestion(c);
}

void open_active(Env& e, Tcb& c, const flow::FourTuple& t) {
  init_common(e, c, t);
  set_state(e, c, State::kSynSent);
  c.ts_syn = ts_now(e, c);
  e.ctr.inc(Counter::TcpActiveOpens);
  emit(e, c, c.iss, wire::kSyn, 0);
  c.snd_nxt = c.iss + 1;
  c.snd_max = c.snd_nxt;
  arm_rto(e, c);
}

void open_passive(Env& e, Tcb& c, const flow::FourTuple& t, const Segment& syn,
                  std::optional<Seq> iss) {
  init_common(e, c, t);
  if (iss) {
    c.iss = *iss;
    c.snd_una = c.snd_nxt = c.snd_max = c.recover = c.iss;
    c.snd_buf_seq = c.iss + 1;
  }
  c.passive = true;
  c.irs = syn.seq;
  c.rcv_nxt = syn.seq + 1;
  c.rcv_adv = c.rcv_nxt;
  negotiate(e, c, syn);
  c.snd_wnd = syn.wnd;  // RFC 7323 §2.2: a SYN's window is never scaled
  c.max_snd_wnd = c.snd_wnd;
  set_state(e, c, State::kSynReceived);
  emit(e, c, c.iss, wire::kSyn | wire::kAck, 0);
  c.snd_nxt = c.iss + 1;
  c.snd_max = c.snd_nxt;
  arm_rto(e, c);
}

// RFC 6298 §5.7: if the SYN or SYN-ACK had to be retransmitted and no RTT
// sample exists, the RTO starts at 3 s once data flows (Linux
// TCP_TIMEOUT_FALLBACK); otherwise at the initial RTO.
void handshake_done_rto(const Env& e, Tcb& c) {
  bool retried = c.backoff > 0;
  c.backoff = 0;
  if (c.srtt_us == 0) c.rto_us = retried ? std::max<std::int64_t>(3000000, e.p.rto_initial_us) : e.p.rto_initial_us;
}

// Counters follow Linux tcp_set_state() and tcp_done().
void set_state(Env& e, Tcb& c, State s) {
  State old = c.state;
  if (s == State::kClosed) {
    if (old == State::kEstablished || old == State::kCloseWait) e.ctr.inc(Counter::TcpEstabResets);
    if (old == State::kSynSent || old == State::kSynReceived) e.ctr.inc(Counter::TcpAttemptFails);
  }
  c.state = s;
}

void enter_closed(Env& e, Tcb& c, Errc why) {
  set_state(e, c, State::kClosed);
  c.error = why;
  e.wheel.cancel(c.rtx_timer);
  e.wheel.cancel(c.delack_timer);
  e.wheel.cancel(c.life_timer);
  c.ack_pending = false;
  if (!c.orphaned) c.events |= kEvClosed;
}

// RFC 9293 §3.10.7.4: TIME-WAIT holds the 4-tuple for the TIME_WAIT length
// (twstack.tcp_timewait_len, Linux TCP_TIMEWAIT_LEN = 60 s). The TIME_WAIT
// table takes the connection over from here.
void enter_time_wait(Env& e, Tcb& c) {
  set_state(e, c, State::kTimeWait);
  e.wheel.cancel(c.rtx_timer);
  e.wheel.cancel(c.delack_timer);
  e.arm(c.life_timer, e.p.timewait_len_us);
  // Linux __inet_twsk_schedule: TW if the timeout is over 4 s, else TWKilled.
  e.ctr.inc(e.p.timewait_len_us > 4000000 ? Counter::TcpExtTW : Counter::TcpExtTWKilled);
  if (!c.orphaned) c.events |= kEvClosed;
}

void release(Env& e, Tcb& c) {
  e.wheel.cancel(c.rtx_timer);
  e.wheel.cancel(c.delack_timer);
  e.wheel.cancel(c.life_timer);
  c.snd.free_all(e.pool);
  c.rcv.free_all(e.pool);
  c.ooo.clear();
}

}  // namespace twstack::tcp
