// The transmission control block: one full TCP connection (RFC 9293 §3.3.1).
//
// Fields use the RFC's names. Everything a connection needs lives here,
// preallocated in the engine's pool: buffers are chunk rings that hold
// memory only while bytes are queued, timers are intrusive hooks.
#pragma once

#include <boost/intrusive/list_hook.hpp>
#include <boost/intrusive/unordered_set_hook.hpp>
#include <cstdint>

#include "stack/base/errc.hh"
#include "stack/base/seq.hh"
#include "stack/base/time.hh"
#include "stack/wire/four_tuple.hh"
#include "stack/tcp/assembler.hh"
#include "stack/tcp/chunk_ring.hh"
#include "stack/tcp/cubic_state.hh"
#include "stack/tcp/sack_state.hh"
#include "stack/tcp/rtt.hh"
#include "stack/tcp/state.hh"
#include "stack/timer/timer_wheel.hh"

namespace twstack::tcp {

namespace bi = boost::intrusive;
using LinkHook = bi::list_member_hook<bi::link_mode<bi::safe_link>>;
using HashHook = bi::unordered_set_member_hook<bi::link_mode<bi::safe_link>>;

// Application events, as a bit set per connection (level-style: a
// connection sits on the engine's ready list at most once).
enum Event : std::uint8_t {
  kEvEstablished = 1 << 0,
  kEvReadable = 1 << 1,
  kEvWritable = 1 << 2,
  kEvPeerClosed = 1 << 3,  // the peer's FIN arrived: no more data will come
  kEvClosed = 1 << 4,      // the connection is over; `error` says why
};

// icsk_ack.pending bits (Linux enum inet_csk_ack_state_t).
enum AckFlag : std::uint8_t {
  kAckSched = 1 << 0,    // ICSK_ACK_SCHED: data arrived that an ACK must cover
  kAckPushed = 1 << 1,   // ICSK_ACK_PUSHED: a short or PSH segment arrived
  kAckPushed2 = 1 << 2,  // ICSK_ACK_PUSHED2: two of them
};

// What holds a short last segment back beyond Nagle (Linux tp->nonagle's
// TCP_NAGLE_CORK and TCP_NAGLE_PUSH; push.cc).
enum CorkFlag : std::uint8_t {
  kCorkSock = 1 << 0,  // TCP_CORK is set
  kCorkMore = 1 << 1,  // the last write had MSG_MORE: its own push is corked
  kCorkPush = 1 << 2,  // TCP_NAGLE_PUSH: TCP_NODELAY pushed past the cork until the next write
};

// Which timer of a connection a hook is (TimerHook::tag).
enum TimerTag : std::uint32_t {
  kTimerRetransmit = 1,  // RTO, SYN and SYN-ACK retries, zero-window probes
  kTimerDelack = 2,
  kTimerLife = 3,        // orphaned FIN_WAIT2 (tcp_fin_timeout above TCP_TIMEWAIT_LEN), keep-alive
};

struct Tcb {
  // --- identity and state
  wire::FourTuple tuple;
  State state = State::kClosed;
  bool passive = false;     // created by a listener
  bool orphaned = false;    // the application has closed it
  bool ts_ok = false;       // timestamps negotiated (RFC 7323 §3.2)
  bool wscale_ok = false;   // window scaling negotiated (RFC 7323 §2.2)
  bool fin_queued = false;  // the application asked for a FIN after its data
  bool peer_fin_held = false;  // a FIN beyond RCV.NXT is waiting for data
  bool ack_pending = false;    // an ACK must go out at the next flush
  bool want_writable = false;  // the application was refused buffer space
  bool nodelay = false;        // Nagle off
  std::uint8_t cork = 0;       // CorkFlag bits: TCP_CORK, MSG_MORE
  bool in_syn_queue = false;   // counted in its listener's SYN backlog
  bool synq_young = false;     // in the SYN queue, its SYN-ACK never timed out (Linux queue->young)
  // SYN-ACK retries this entry may have, as its listener last set them
  // (Linux reqsk_timer_handler prunes a crowded queue); 0xff: tcp_synack_retries.
  std::uint8_t synack_limit = 0xff;
  bool holds_port = false;     // its 4-tuple is held in the port allocator
  bool bound_port = false;     // connect() was given the local port (a bind with SO_REUSEADDR)
  // An orphan in FIN_WAIT2 that is to become a FIN_WAIT2 TIME_WAIT-table entry
  // with this timeout (Linux tcp_time_wait(sk, TCP_FIN_WAIT2, tmo)); 0: not yet.
  std::int64_t fw2_handoff_us = 0;

  // --- send sequence space (RFC 9293 §3.3.1)
  Seq iss;
  Seq snd_una;
  Seq snd_nxt;
  Seq snd_max;       // highest sequence sent so far (snd_nxt rewinds on RTO)
  Seq snd_buf_seq;   // sequence number of the first byte in `snd`
  Seq snd_wl1;
  Seq snd_wl2;
  std::uint32_t snd_wnd = 0;      // peer's window, scaled
  std::uint32_t max_snd_wnd = 0;  // largest seen, for RFC 5961 §5.2
  std::uint16_t mss = 536;        // effective send MSS (RFC 9293 §3.7.1)
  std::uint16_t advmss = 536;     // tp->advmss: the MSS we announce (twstack.mss, TCP_MAXSEG)
  std::uint8_t snd_wscale = 0;
  std::uint8_t rcv_wscale = 0;

  // --- receive sequence space
  Seq irs;
  Seq rcv_nxt;
  Seq rcv_adv;        // right edge of the window last advertised
  Seq peer_fin_seq;   // where a held FIN sits

  // --- timestamps (RFC 7323)
  std::uint32_t ts_recent = 0;
  std::uint32_t ts_offset = 0;    // keyed per 4-tuple, as Linux
  std::uint32_t ts_syn = 0;       // TSval of our first SYN (PAWS in SYN-SENT)
  std::int64_t ts_recent_stamp_ms = 0;

  // --- retransmission (RFC 6298)
  std::int64_t srtt_us = 0;       // SRTT (rtte.srtt8_us / 8); 0: no sample yet
  std::int64_t rttvar_us = 0;     // RTTVAR as RFC 6298 means it (rtte.mdev_us / 4)
  std::int64_t rto_us = 1000000;
  std::int64_t rtt_start_us = 0;
  Seq rtt_seq;
  bool rtt_active = false;
  std::uint8_t backoff = 0;       // consecutive timeouts
  std::uint8_t probes = 0;        // unanswered zero-window probes

  // --- congestion control (RFC 5681, RFC 6582)
  std::uint32_t cwnd = 0;
  std::uint32_t ssthresh = 0xffffffff;
  // Duplicate ACKs: RFC 6675 DupAcks with SACK; without SACK the segments
  // they say have left the network (Linux sacked_out, congestion.hh).
  std::uint32_t dupacks = 0;
  std::uint32_t bytes_acked_ca = 0;  // congestion-avoidance byte counting
  Seq recover;
  bool in_recovery = false;
  // Proportional rate reduction in recovery (RFC 6937 §3.1, congestion.hh
  // prr_cwnd): cwnd when recovery began, bytes delivered and sent since.
  std::uint32_t prior_cwnd = 0;
  std::uint32_t prr_delivered = 0;
  std::uint32_t prr_out = 0;
  // Was the last window's flight limited by cwnd? (Linux tcp_cwnd_validate,
  // in the spirit of RFC 7661: congestion.hh cwnd_limited.)
  bool is_cwnd_limited = false;     // tp->is_cwnd_limited
  std::uint32_t max_out = 0;        // tp->max_packets_out, in bytes
  Seq cwnd_usage_seq;               // tp->cwnd_usage_seq: where that window ends
  std::int64_t lsndtime_us = 0;     // tp->lsndtime: when data was last sent
  std::uint32_t snd_cwnd_used = 0;  // tp->snd_cwnd_used: largest flight while not cwnd-limited, bytes
  std::int64_t snd_cwnd_stamp_us = 0;  // tp->snd_cwnd_stamp: when cwnd was last full or set

  // --- receive bookkeeping
  std::int64_t last_oow_ack_ms = -1000000;  // tcp_invalid_ratelimit
  std::int64_t last_challenge_ms = -1000000;

  // --- Linux's RTT estimator and ACK scheduling (rtt.hh, delack.cc)
  RttEstimate rtte;
  std::int64_t ato_us = 0;       // icsk_ack.ato; 0 until the first data arrives
  std::int64_t lrcvtime_us = 0;  // icsk_ack.lrcvtime: when data last arrived
  Seq rcv_wup;                   // RCV.NXT when we last sent a window (tp->rcv_wup)
  std::uint16_t rcv_mss = 536;   // icsk_ack.rcv_mss: the peer's segment size, estimated
  std::uint8_t quick = 0;        // icsk_ack.quick: ACKs left in quick-ACK mode
  std::uint8_t ack_flags = 0;    // icsk_ack.pending: AckFlag bits
  bool pingpong = false;         // interactive: ACKs wait to ride on replies
  // PSH marks (push.cc): sequence numbers that end a write or a forced push.
  static constexpr std::uint8_t kPushMarks = 4;
  std::uint8_t push_count = 0;
  Seq push_marks[kPushMarks];
  Seq pushed_seq;                // tp->pushed_seq: the last mark
  // The socket's error as the calls report it (user.cc): sk_err, given once.
  Errc sk_err = Errc::kOk;
  bool rcv_done = false;         // SOCK_DONE: the peer's FIN was taken

  // --- keep-alive and TCP_USER_TIMEOUT (keepalive.cc); the keep-alive timer
  // is life_timer, as Linux shares sk_timer with the orphan FIN_WAIT2 wait
  bool keepalive = false;             // SO_KEEPALIVE
  std::uint8_t keepcnt = 0;           // TCP_KEEPCNT; 0: net.ipv4.tcp_keepalive_probes
  std::int64_t keepidle_us = 0;       // TCP_KEEPIDLE; 0: net.ipv4.tcp_keepalive_time
  std::int64_t keepintvl_us = 0;      // TCP_KEEPINTVL; 0: net.ipv4.tcp_keepalive_intvl
  std::int64_t user_timeout_us = 0;   // TCP_USER_TIMEOUT; 0: off
  std::int64_t rcv_tstamp_us = 0;     // tp->rcv_tstamp: when the peer's last ACK came
  std::int64_t retrans_stamp_us = 0;  // tp->retrans_stamp: the unacked data's first send

  // --- buffers: Linux's sizes (buffers.cc), and the bytes held (rings
  // whose capacity is the engine's real limit, never above Linux's)
  std::uint32_t sk_rcvbuf = 0;     // sk->sk_rcvbuf
  std::uint32_t sk_sndbuf = 0;     // sk->sk_sndbuf
  std::uint32_t window_clamp = 0;  // tp->window_clamp: the largest window to advertise
  // TCP_NOTSENT_LOWAT (tp->notsent_lowat); 0: net.ipv4.tcp_notsent_lowat (sockopts.cc)
  std::uint32_t notsent_lowat = 0;
  // The first byte of the last skb Linux would have written (the write
  // queue's tail), which the next write tops up to the size goal (push.cc).
  Seq snd_tail_skb;
  // Receive-buffer auto-tuning (rcv_space.cc): the receiver's RTT
  // (tp->rcv_rtt_est) and what the application read in it (tp->rcvq_space).
  std::uint32_t rcv_rtt8_us = 0;       // rcv_rtt_est.rtt_us: 8 x the receiver's RTT; 0: none yet
  Seq rcv_rtt_seq;                     // rcv_rtt_est.seq: a window past RCV.NXT
  std::int64_t rcv_rtt_time_us = -1;   // rcv_rtt_est.time; -1: not started
  std::uint32_t rcv_rtt_last_tsecr = 0;
  std::uint32_t rcvq_space = 0;        // rcvq_space.space: bytes read in the last RTT
  Seq rcvq_seq;                        // rcvq_space.seq: copied_seq when that RTT began
  std::int64_t rcvq_time_us = 0;       // rcvq_space.time
  bool rcvbuf_lock = false;        // SOCK_RCVBUF_LOCK: set by SO_RCVBUF
  bool sndbuf_lock = false;        // SOCK_SNDBUF_LOCK: set by SO_SNDBUF
  ChunkRing snd;
  ChunkRing rcv;
  Assembler ooo;

  // --- timers
  timer::TimerHook rtx_timer;
  timer::TimerHook delack_timer;
  timer::TimerHook life_timer;

  // --- engine linkage
  HashHook hash_hook;     // connection table
  LinkHook ready_hook;    // connections with events for the application
  LinkHook output_hook;   // connections with something to send
  LinkHook accept_hook;   // listener's accept queue
  std::uint32_t index = 0;
  std::uint32_t generation = 0;
  std::uint16_t listener = 0;   // 1-based listener slot for passive opens
  std::uint8_t events = 0;
  bool in_use = false;          // allocated to the application or the stack
  Errc error = Errc::kOk;

  // --- selective acknowledgment (RFC 2018, RFC 2883, RFC 6675): sack.hh
  SackState sack;
  LossProbe tlp;  // RFC 8985 §7: loss_probe.cc
  RackState rack;  // RFC 8985 §6: rack.cc

  // --- CUBIC (RFC 9438): cubic.hh; algo says whether it or NewReno runs
  CubicState cubic;

  Tcb() {
    rtx_timer.tag = kTimerRetransmit;
    delack_timer.tag = kTimerDelack;
    life_timer.tag = kTimerLife;
  }

  bool syn_acked() const { return state != State::kSynSent && state != State::kSynReceived; }
  Seq snd_data_end() const { return snd_buf_seq + snd.size(); }
  // FIN occupies the sequence number after the last data byte.
  bool fin_sent() const { return fin_queued && snd_max == snd_data_end() + 1; }
  bool fin_acked() const { return fin_queued && snd_una == snd_data_end() + 1; }
  std::uint32_t flight() const { return static_cast<std::uint32_t>(snd_max - snd_una); }
};

}  // namespace twstack::tcp
