// Opening a connection: ISN selection, SYN options and their negotiation,
// and the state bookkeeping shared by every transition.
#include <algorithm>

#include "stack/tcp/buffers.hh"
#include "stack/tcp/cubic.hh"
#include "stack/tcp/syncookie.hh"
#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

namespace {

// The timestamp offset is the high half of the 4-tuple's keyed hash.
// net.ipv4.tcp_timestamps=2 turns it off (Linux tcp_sk_init).
std::uint32_t ts_offset_of(const Env& e, std::uint64_t tuple_hash) {
  return e.p.timestamps == 1 ? static_cast<std::uint32_t>(tuple_hash >> 32) : 0;
}

// RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, key),
// M a 4 µs clock. One keyed hash also gives the timestamp offset, so the
// same 4-tuple always gets the same offset (Linux secure_tcp_seq and
// secure_tcp_ts_off share one siphash since 6.18.17).
void init_sequence(Env& e, Tcb& c) {
  const wire::FourTuple& t = c.tuple;
  std::uint64_t h = siphash_4tuple(e.secret, t.laddr.v, t.raddr.v, t.lport, t.rport);
  c.iss = Seq(static_cast<std::uint32_t>(h) + static_cast<std::uint32_t>(e.now.us / 4));
  c.ts_offset = ts_offset_of(e, h);  // the same hash as ts_offset_for(): computed once
}

void init_common(Env& e, Tcb& c, const wire::FourTuple& t, const SockBufs& bufs) {
  c.tuple = t;
  // tcp_connect_init, tcp_v4_syn_recv_sock: advmss = tcp_mss_clamp(tp,
  // dst_metric_advmss), TCP_MAXSEG lowering it.
  c.advmss = bufs.user_mss != 0 ? std::min(e.p.mss, bufs.user_mss) : e.p.mss;
  init_buffers(e.p, c, bufs);  // the rings, window clamp and window scale
  c.rto_us = e.p.rto_initial.us;
  // tcp_create_openreq_child and tcp_finish_connect start lsndtime, so
  // that the first data is not taken for data after an idle period.
  c.lsndtime_us = e.now.us;
  c.snd_cwnd_stamp_us = e.now.us;  // tcp_init_transfer
  init_sequence(e, c);
  c.snd_una = c.iss;
  c.snd_nxt = c.iss;
  c.snd_max = c.iss;
  c.snd_buf_seq = c.iss + 1;
  c.recover = c.iss;
  c.pushed_seq = c.snd_buf_seq;
  c.snd_tail_skb = c.snd_buf_seq;
  c.mss = 536;  // RFC 9293 §3.7.1: the default when the peer sends no MSS
}

// RFC 5681 §3.1 with RFC 6928's initial window of 10 segments (as Linux).
void init_congestion(Tcb& c) {
  std::uint32_t smss = payload_mss(c);
  c.cwnd = 10 * smss;
  c.ssthresh = 0xffffffff;
}

}  // namespace

std::uint32_t ts_offset_for(const Env& e, const wire::FourTuple& t) {
  if (e.p.timestamps != 1) return 0;
  return ts_offset_of(e, siphash_4tuple(e.secret, t.laddr.v, t.raddr.v, t.lport, t.rport));
}

// Applies the peer's SYN options (RFC 9293 §3.7.1, RFC 7323 §2.2, §3.2).
void negotiate(Env& e, Tcb& c, const Segment& syn) {
  std::uint16_t peer_mss = syn.opt.has_mss ? syn.opt.mss : 536;
  // tcp_parse_options: TCP_MAXSEG clamps the peer's MSS too (mss_clamp),
  // and tcp_sync_mss the path's (twstack.mss); advmss is the smaller.
  c.mss = std::max<std::uint16_t>(std::min(peer_mss, c.advmss), 64);
  c.wscale_ok = e.p.window_scaling && syn.opt.has_wscale;
  c.snd_wscale = c.wscale_ok ? syn.opt.wscale : 0;
  if (!c.wscale_ok) c.rcv_wscale = 0;
  c.ts_ok = e.p.timestamps != 0 && syn.opt.has_timestamps;
  c.sack.ok = e.p.sack && syn.opt.sack_permitted;  // RFC 2018 §2, Linux tcp_parse_options
  if (e.p.cubic) cubic_init(e, c);                 // net.ipv4.tcp_congestion_control
  if (c.ts_ok) {
    c.ts_recent = syn.opt.tsval;
    c.ts_recent_stamp_ms = e.now_ms();
  }
  init_congestion(c);
}

void open_active(Env& e, Tcb& c, const wire::FourTuple& t, const std::optional<Succession>& from,
                 const SockBufs& bufs) {
  init_common(e, c, t, bufs);
  if (from) {
    // tcp_twsk_unique: write_seq = tw_snd_nxt + 65537; ts_recent and its
    // stamp carry over, so the SYN echoes the peer's last TSval. The TS
    // offset is the tuple's, so our TSval keeps increasing for the peer's PAWS.
    c.iss = from->iss;
    c.snd_una = c.snd_nxt = c.snd_max = c.recover = c.iss;
    c.snd_buf_seq = c.iss + 1;
    c.pushed_seq = c.snd_buf_seq;
    c.snd_tail_skb = c.snd_buf_seq;
    c.ts_recent = from->ts_recent;
    c.ts_recent_stamp_ms = from->ts_recent_stamp_ms;
  }
  set_state(e, c, State::kSynSent);
  c.ts_syn = ts_now(e, c);
  e.ctr.inc(Counter::TcpActiveOpens);
  emit(e, c, c.iss, wire::kSyn, 0);
  time_segment(e, c, c.iss);  // the SYN gives the first RTT sample (rtt.cc)
  c.snd_nxt = c.iss + 1;
  c.snd_max = c.snd_nxt;
  arm_rto(e, c);
}

void open_passive(Env& e, Tcb& c, const wire::FourTuple& t, const Segment& syn,
                  std::optional<Seq> iss, const SockBufs& bufs) {
  init_common(e, c, t, bufs);
  if (iss) {
    c.iss = *iss;
    c.snd_una = c.snd_nxt = c.snd_max = c.recover = c.iss;
    c.snd_buf_seq = c.iss + 1;
    c.pushed_seq = c.snd_buf_seq;
    c.snd_tail_skb = c.snd_buf_seq;
  }
  c.passive = true;
  c.irs = syn.seq;
  c.rcv_nxt = syn.seq + 1;
  c.rcv_adv = c.rcv_nxt;
  c.rcv_wup = c.rcv_nxt;
  negotiate(e, c, syn);
  c.snd_wnd = syn.wnd;  // RFC 7323 §2.2: a SYN's window is never scaled
  c.max_snd_wnd = c.snd_wnd;
  set_state(e, c, State::kSynReceived);
  emit(e, c, c.iss, wire::kSyn | wire::kAck, 0);
  time_segment(e, c, c.iss);  // tcp_synack_rtt_meas: snt_synack
  c.snd_nxt = c.iss + 1;
  c.snd_max = c.snd_nxt;
  arm_rto(e, c);
}

// Linux tcp_get_cookie_sock (from cookie_v4_check): the connection a
// validated cookie describes, in SYN-RECEIVED with its SYN-ACK as sent; no
// SYN-ACK goes out and no timer runs. The ACK, run through input(), then
// establishes it. Its ISN is the cookie, its options what the cookie kept.
void open_from_cookie(Env& e, Tcb& c, const wire::FourTuple& t, const Segment& ack,
                      const CookieOptions& o, const SockBufs& bufs) {
  // The cookie's SYN-ACK offered the engine's default window scale: the
  // listener's SO_RCVBUF/SO_SNDBUF apply after, keeping it.
  SockBufs own;
  own.user_mss = bufs.user_mss;
  init_common(e, c, t, own);
  if (bufs.rcvbuf != 0) set_rcvbuf(e.p, c, bufs.rcvbuf);
  if (bufs.sndbuf != 0) set_sndbuf(e.p, c, bufs.sndbuf);
  c.iss = ack.ack - 1;
  c.snd_una = c.recover = c.iss;
  c.snd_nxt = c.snd_max = c.snd_buf_seq = c.iss + 1;
  c.passive = true;
  c.irs = ack.seq - 1;
  c.rcv_nxt = ack.seq;
  // The window the SYN-ACK offered (send_cookie_synack), unscaled.
  c.rcv_adv = c.rcv_nxt + std::min<std::uint32_t>(c.rcv.space(), 0xffff);
  c.mss = std::max<std::uint16_t>(std::min(o.mss, c.advmss), 64);
  c.wscale_ok = o.wscale_ok;
  c.snd_wscale = o.wscale_ok ? o.snd_wscale : 0;
  if (!c.wscale_ok) c.rcv_wscale = 0;
  c.ts_ok = o.ts_ok;
  if (c.ts_ok) {
    c.ts_recent = ack.opt.tsval;
    c.ts_recent_stamp_ms = e.now_ms();
  }
  // SACK as the SYN-ACK offered it: only with timestamps, where the cookie
  // could keep it (cookie_timestamp_decode; RFC 2018 §2).
  c.sack.ok = e.p.sack && o.sack_ok;
  init_congestion(c);
  set_state(e, c, State::kSynReceived);
}

// RFC 6298 §5.7: if the SYN or SYN-ACK had to be retransmitted and no RTT
// sample exists, the RTO starts at 3 s once data flows (Linux
// TCP_TIMEOUT_FALLBACK); otherwise at the initial RTO.
void handshake_done_rto(const Env& e, Tcb& c) {
  bool retried = c.backoff > 0;
  c.backoff = 0;
  if (c.rtte.srtt8_us == 0) c.rto_us = retried ? std::max<std::int64_t>(3000000, e.p.rto_initial.us) : e.p.rto_initial.us;
}

// tcp_done(): the connection is over, the error kept for the next call.
void enter_closed(Env& e, Tcb& c, Errc why) {
  set_state(e, c, State::kClosed);
  c.error = why;
  c.sk_err = why;  // tcp_done_with_error: reported once by the next call
  e.wheel.cancel(c.rtx_timer);
  e.wheel.cancel(c.delack_timer);
  e.wheel.cancel(c.life_timer);
  c.ack_pending = false;
  if (!c.orphaned) c.events |= kEvClosed;
}

// RFC 9293 §3.10.7.4: TIME-WAIT holds the 4-tuple for the TIME_WAIT length
// (twstack.tcp_timewait_len, Linux TCP_TIMEWAIT_LEN = 60 s). The engine
// hands the connection to its TIME_WAIT table, which counts TW/TWKilled, and
// the application's handle reads CLOSED (Linux tcp_time_wait, case a).
void enter_time_wait(Env& e, Tcb& c) {
  // Linux tcp_fin: the peer's FIN is acknowledged before tcp_time_wait(), as
  // the connection is about to give way to a compact entry.
  if (c.ack_pending) send_ack(e, c);
  set_state(e, c, State::kTimeWait);
  e.wheel.cancel(c.rtx_timer);
  e.wheel.cancel(c.delack_timer);
  e.wheel.cancel(c.life_timer);
  c.fw2_handoff_us = 0;
  if (!c.orphaned) c.events |= kEvClosed;
}

std::int64_t fin_time_us(const Env& e, const Tcb& c) {
  return std::max(e.p.fin_timeout.us, c.rto_us * 7 / 2);
}

// tmo = tcp_fin_time(). At most TCP_TIMEWAIT_LEN: a FIN_WAIT2 entry in the
// TIME_WAIT table for tmo. Above it, the full connection waits tmo - len
// first, and the entry then lasts tmo - len (the kernel's 2*(tmo - 60) quirk,
// docs/linux-timewait.md §1 c, which twstack copies). A FIN in the same segment (out of
// order) keeps the full connection, which resets when tmo runs out.
void orphan_fin_wait2(Env& e, Tcb& c, bool fin_in_segment) {
  const std::int64_t tmo = fin_time_us(e, c);
  if (tmo > e.p.timewait_len.us) {
    e.arm(c.life_timer, tmo - e.p.timewait_len.us);
  } else if (fin_in_segment) {
    e.arm(c.life_timer, tmo);
  } else {
    c.fw2_handoff_us = tmo;
  }
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
