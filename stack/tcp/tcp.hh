// The TCP state machine's entry points (RFC 9293).
//
// Free functions over a Tcb and an Env: the engine owns connections, tables
// and listeners, looks up the Tcb, calls in, and then looks at the Tcb's
// state, events and pending output to act (release, notify, flush). Nothing
// here calls back up into the engine.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "stack/tcp/buffers.hh"
#include "stack/tcp/env.hh"
#include "stack/tcp/tcb.hh"
#include "stack/wire/segment.hh"
#include "stack/wire/tcp.hh"

namespace twstack::tcp {

using wire::Segment;

// --- opening (open.cc)
// What a connection inherits from the TIME_WAIT entry it takes over
// (tcp_twsk_unique): its ISN and the peer's last timestamp.
struct Succession {
  Seq iss;
  std::uint32_t ts_recent = 0;
  std::int64_t ts_recent_stamp_ms = 0;
};
// `bufs`: SO_RCVBUF/SO_SNDBUF set before connect() or on the listener
// (buffers.hh); they size the buffers and choose the window scale.
void open_active(Env& e, Tcb& c, const wire::FourTuple& t,
                 const std::optional<Succession>& from = std::nullopt, const SockBufs& bufs = {});
// The timestamp offset of a 4-tuple (keyed, as the ISN; 0 with tcp_timestamps=2).
std::uint32_t ts_offset_for(const Env& e, const wire::FourTuple& t);
// `iss` set: the ISN a TIME-WAIT takeover dictates (see time_wait_syn_isn).
void open_passive(Env& e, Tcb& c, const wire::FourTuple& t, const Segment& syn,
                  std::optional<Seq> iss = std::nullopt, const SockBufs& bufs = {});
void negotiate(Env& e, Tcb& c, const Segment& syn);
void handshake_done_rto(const Env& e, Tcb& c);

// --- RTT samples (rtt.cc)
// Times the segment at `seq` (one at a time, RFC 6298 §3 with Karn's rule).
void time_segment(Env& e, Tcb& c, Seq seq);
// An ACK of new sequence space: its RTT sample, if it gives one.
// `to_congestion`: the sample also reaches the congestion control, as
// Linux's tcp_clean_rtx_queue hands it to pkts_acked; the passive side's
// SYN-ACK sample (tcp_synack_rtt_meas) feeds the estimator only.
void take_rtt_sample(Env& e, Tcb& c, const Segment& s, bool to_congestion = true);

// --- delayed ACKs and quick-ACK mode (delack.cc)
// In-order data arrived: update the ACK timing and send (`now`: always) or
// delay the ACK.
void ack_on_data(Env& e, Tcb& c, const Segment& s, bool now);
// Out-of-order or duplicate data: ACK at once and for a while after.
void enter_quickack(Env& e, Tcb& c);
void on_delack_timer(Env& e, Tcb& c);
// An ACK (bare or on data) went out.
void ack_sent(const Env& e, Tcb& c);
// New data went out.
void data_sent(Env& e, Tcb& c);
// The application read `copied` bytes: is an ACK due now?
bool ack_due_after_read(const Tcb& c, std::uint32_t copied);

// --- PSH (push.cc)
// A write as tcp_sendmsg_locked takes it, skb by skb: how many of `want`
// bytes it takes with `queued` bytes held against `sndbuf` (sk_wmem_queued,
// sk_sndbuf) and TCP_NOTSENT_LOWAT `lowat`, and where forced_push marks PSH.
struct WritePlan {
  static constexpr std::uint8_t kForced = 4;
  std::uint32_t take = 0;
  Seq tail_skb;  // the first byte of the last skb written
  std::uint8_t forced_count = 0;
  Seq forced[kForced];
};
WritePlan plan_write(const Tcb& c, std::uint32_t want, std::uint32_t queued, std::uint32_t sndbuf,
                     std::uint32_t lowat);
// The application wrote the bytes [from, to) as `w` planned: mark where
// PSH goes. `more`: MSG_MORE, no mark at the end unless the write is long
// (tcp_push).
void mark_pushes(Tcb& c, Seq from, Seq to, const WritePlan& w, bool more = false);
// TCP_CORK and MSG_MORE (push.cc). Is a short last segment held back?
// Linux tcp_nagle_check with TCP_NAGLE_CORK, unless TCP_NAGLE_PUSH.
inline bool corked(const Tcb& c) {
  return (c.cork & (kCorkSock | kCorkMore)) != 0 && (c.cork & kCorkPush) == 0;
}
// A write queued data; `more`: it had MSG_MORE.
void cork_on_write(Tcb& c, bool more);
// setsockopt(TCP_CORK) and setsockopt(TCP_NODELAY); the caller then pushes
// what is queued (tcp_push_pending_frames).
void set_cork(Tcb& c, bool on);
void set_nodelay(Tcb& c, bool on);
// Does the segment [seq, seq + len) carry PSH?
bool push_due(const Tcb& c, Seq seq, std::uint32_t len);
// Segments in a TSO packet at most (Linux tcp_tso_segs), of `mss` bytes.
std::uint32_t tso_max_segs(const Env& e, const Tcb& c, std::uint32_t mss);
// The bytes of new data Linux would send as one TSO packet from SND.NXT,
// in segments of `smss` bytes.
std::uint32_t tso_packet_bytes(const Env& e, const Tcb& c, std::uint32_t smss);
// The TSO packet output() is sending: bytes left, more than one segment.
struct TsoPacket {
  std::uint32_t left = 0;
  bool multi = false;
};
// A new segment of `len` bytes at SND.NXT goes out in packet `p` (a packet
// starts when none is under way); the packet after it. When it is left
// with nothing and holds several segments, this segment carries PSH.
TsoPacket tso_packet_step(const Env& e, const Tcb& c, std::uint32_t smss, std::uint32_t len, TsoPacket p);

// --- writability, TCP_NOTSENT_LOWAT and TCP_INQ (sockopts.cc)
// Bytes written and not yet sent (write_seq - snd_nxt).
std::uint32_t notsent_bytes(const Tcb& c);
// tcp_stream_memory_free(sk, wake): unsent bytes (doubled with `wake`)
// below TCP_NOTSENT_LOWAT, or net.ipv4.tcp_notsent_lowat.
bool stream_memory_free(const TcpParams& p, const Tcb& c, int wake);
// __sk_stream_is_writeable(sk, 1): what poll() reports as EPOLLOUT.
bool stream_writeable(const TcpParams& p, const Tcb& c);
// What user_send() takes now (sk_stream_memory_free): 0 while full.
std::uint32_t send_room(const TcpParams& p, const Tcb& c);
// tcp_notsent_lowat(): TCP_NOTSENT_LOWAT, else net.ipv4.tcp_notsent_lowat.
std::uint32_t notsent_lowat(const TcpParams& p, const Tcb& c);
// sk_sndbuf as the engine holds it: within twstack.sndbuf.
std::uint32_t send_limit(const TcpParams& p, const Tcb& c);
// sk_wmem_queued: what the send queue holds against sk_sndbuf. Linux
// counts skb truesize (payload plus about 900 bytes an skb); twstack keeps
// no skbs and counts the payload.
inline std::uint32_t wmem_queued(const Tcb& c) { return c.snd.size(); }
// net.ipv4.tcp_notsent_lowat's default (UINT_MAX): no mark.
inline constexpr std::uint32_t kNoNotsentLowat = 0xffffffffu;
// tcp_check_space: a writer that was refused space gets kEvWritable once
// the stream is writeable.
void check_space(const TcpParams& p, Tcb& c);
// The same after new data went out, where a TCP_NOTSENT_LOWAT (or the
// sysctl's) limits the unsent bytes: sending, not an ACK, made the room.
void check_space_after_send(const TcpParams& p, Tcb& c);
// setsockopt(TCP_NOTSENT_LOWAT): 0 returns to the sysctl's value.
void set_notsent_lowat(const TcpParams& p, Tcb& c, std::uint32_t bytes);
// TCP_CM_INQ's value (tcp_inq_hint): bytes to read, and 1 more once the
// peer's FIN was taken.
std::uint32_t inq_hint(const Tcb& c);

// --- keep-alive and TCP_USER_TIMEOUT (keepalive.cc)
void on_keepalive_timer(Env& e, Tcb& c);
// SO_KEEPALIVE.
void set_keepalive(Env& e, Tcb& c, bool on);
// TCP_KEEPIDLE, TCP_KEEPINTVL (µs, 1 s..32767 s), TCP_KEEPCNT (1..127); 0
// leaves one unchanged. kInvalid when out of range.
Errc set_keepalive_params(Env& e, Tcb& c, std::int64_t idle_us, std::int64_t intvl_us, std::uint32_t cnt);
// TCP_USER_TIMEOUT in ms (0 = off).
Errc set_user_timeout(Tcb& c, std::int64_t ms);
bool user_timed_out(const Env& e, const Tcb& c);
// The RTO to arm after a retransmission, clamped to the user timeout.
std::int64_t rto_clamped(const Env& e, const Tcb& c);

// --- segment arrives (input.cc, input_ack.cc, input_text.cc)
void input(Env& e, Tcb& c, Segment& s);
// Step five, "check the ACK field"; false when the segment is dropped.
bool input_ack(Env& e, Tcb& c, const Segment& s);
// Steps seven and eight: segment text and FIN.
void input_text(Env& e, Tcb& c, const Segment& s);
void input_fin(Env& e, Tcb& c, const Segment& s);

// --- output (output.cc)
void output(Env& e, Tcb& c);
// Linux tcp_cwnd_restart after an idle period (congestion.hh cwnd_restart).
void restart_after_idle(Env& e, Tcb& c);
// Linux tcp_slow_start_after_idle_check, where Linux calls it: new data
// queued (tcp_skb_entail) or the window changed with data waiting
// (tcp_ack_update_window). With nothing in flight and no data sent for
// more than an RTO, cwnd restarts (net.ipv4.tcp_slow_start_after_idle).
inline void slow_start_after_idle_check(Env& e, Tcb& c) {
  if (c.snd_una == c.snd_max && e.now.us - c.lsndtime_us > c.rto_us && e.p.slow_start_after_idle) [[unlikely]] {
    restart_after_idle(e, c);
  }
}
// Inline: the engine asks after every event, a short connection about 18 times.
inline bool wants_output(const Tcb& c) {
  if (c.ack_pending) return true;
  if (!c.syn_acked() || !in_state(c.state, kSynchronized)) return false;
  const Seq end = c.snd_data_end();
  if (c.snd_nxt < end) return true;
  return c.fin_queued && c.snd_nxt == end;
}
void send_ack(Env& e, Tcb& c);
// RFC 9293 §3.10.7.1: the reply to a segment that has no connection.
void send_reset_for(Env& e, const wire::FourTuple& t, const Segment& s);
// An ACK for a 4-tuple with no connection (a TIME_WAIT entry's).
void send_ack_for(Env& e, const wire::FourTuple& t, Seq seq, Seq ack, std::uint16_t window,
                  std::uint32_t tsval, std::uint32_t tsecr);

// --- timers (timers.cc)
void on_timer(Env& e, Tcb& c, std::uint32_t tag);

// --- user calls (user.cc), RFC 9293 §3.10
// `more`: MSG_MORE, more data follows (tcp_sendmsg_locked: no push now).
std::uint32_t user_send(Env& e, Tcb& c, std::span<const std::uint8_t> data, Errc* err, bool more = false);
std::uint32_t user_recv(Env& e, Tcb& c, std::span<std::uint8_t> out);
// As a socket's read(): `err` is kAgain when nothing is there yet, the
// pending error once after the connection failed; 0 bytes with kOk is the
// end of the stream.
std::uint32_t user_recv(Env& e, Tcb& c, std::span<std::uint8_t> out, Errc* err);
// getsockopt(SO_ERROR): the pending error, cleared (sock_error).
Errc user_so_error(Tcb& c);
Errc user_shutdown(Env& e, Tcb& c);
void user_close(Env& e, Tcb& c);
void user_abort(Env& e, Tcb& c);

// Frees a connection's buffers and timers; the engine then recycles it.
void release(Env& e, Tcb& c);

// --- shared by the files above (internal)
// Counters follow Linux tcp_set_state(). Inline: a short connection changes
// state about eleven times.
inline void set_state(Env& e, Tcb& c, State s) {
  const State old = c.state;
  if (s == State::kClosed) {
    if (old == State::kEstablished || old == State::kCloseWait) e.ctr.inc(Counter::TcpEstabResets);
    if (old == State::kSynSent || old == State::kSynReceived) e.ctr.inc(Counter::TcpAttemptFails);
  }
  c.state = s;
}
void enter_closed(Env& e, Tcb& c, Errc why);
// TIME-WAIT: the engine moves the connection to its TIME_WAIT table at once.
void enter_time_wait(Env& e, Tcb& c);
// An orphan reached FIN_WAIT2 (by our FIN being ACKed, or close() after
// shutdown()): how long to wait for the peer's FIN, and where (Linux
// tcp_rcv_state_process FIN_WAIT1 case, __tcp_close).
void orphan_fin_wait2(Env& e, Tcb& c, bool fin_in_segment);
// Linux tcp_fin_time(): tcp_fin_timeout, but at least 3.5 RTO.
std::int64_t fin_time_us(const Env& e, const Tcb& c);
bool emit(Env& e, Tcb& c, Seq seq, std::uint8_t flags, std::uint32_t len);
// The window our SYN or SYN-ACK offers (buffers.hh syn_rcv_wnd).
std::uint32_t syn_mss_window(const Env& e, const Tcb& c);
void arm_rto(Env& e, Tcb& c);
// Our TSval now: Linux's 1 ms clock (TCP_TS_HZ) plus the connection's offset.
inline std::uint32_t ts_now(const Env& e, const Tcb& c) {
  return static_cast<std::uint32_t>(e.now_ms()) + c.ts_offset;
}
// The payload a full segment carries: the MSS less the timestamp option.
inline std::uint32_t payload_mss(const Tcb& c) { return c.mss - (c.ts_ok ? 12u : 0u); }
bool oow_rate_limited(Env& e, Tcb& c, const Segment& s, Counter skipped);
void send_challenge_ack(Env& e, Tcb& c, const Segment& s);

}  // namespace twstack::tcp
