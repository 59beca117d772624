// Where PSH goes, as Linux sets it (RFC 9293 §3.9.1 leaves it to the
// sender). Linux puts PSH on an skb (tcp_mark_push) at the end of every
// write (tcp_push) and, within one long write, where more than half the
// peer's largest window has been written since the last mark (forced_push);
// a write appended to a tail skb not yet sent takes that skb's mark away
// (tcp_sendmsg_locked: "if (!copied) tcp_flags &= ~TCPHDR_PSH"). When an
// skb is cut to be sent (tso_fragment, tcp_fragment) its PSH stays with the
// part that holds its end, so a segment carries PSH if a mark falls in it,
// whether it is sent for the first time or again. Besides, every packet of
// more than one segment leaves with PSH (__tcp_transmit_skb: "Force a PSH
// flag on all (GSO) packets"): twstack sends segments, so it sets PSH on
// the segment that ends one of the TSO packets Linux would send
// (tso_packet_bytes below).
#include <algorithm>

#include "stack/tcp/sack.hh"
#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

namespace {

// sk_gso_max_size of a device with TSO (GSO_LEGACY_MAX_SIZE): the skb size
// goal and the largest TSO packet.
constexpr std::uint32_t kGsoMaxSize = 65536;
constexpr std::uint64_t kPacingSsRatio = 200;  // net.ipv4.tcp_pacing_ss_ratio
constexpr std::uint64_t kPacingCaRatio = 120;  // net.ipv4.tcp_pacing_ca_ratio
constexpr int kPacingShift = 10;               // sk_pacing_shift: about 1 ms of data
constexpr int kTsoRttLog = 9;                  // net.ipv4.tcp_tso_rtt_log

// tcp_mark_push: PSH on the segment ending at or covering `at`.
void add_mark(Tcb& c, Seq at) {
  // Marks already acknowledged are done with. With all slots taken the
  // newest mark gives way: the oldest are the next to be retransmitted, and
  // the newest is the end of the data, which the new mark becomes.
  std::uint8_t k = 0;
  for (std::uint8_t i = 0; i < c.push_count; ++i) {
    if (c.push_marks[i] > c.snd_una) c.push_marks[k++] = c.push_marks[i];
  }
  if (k == Tcb::kPushMarks) --k;
  c.push_marks[k++] = at;
  c.push_count = k;
  c.pushed_seq = at;
}

// tcp_xmit_size_goal: the size tcp_sendmsg_locked fills an skb to, at most
// half the peer's largest window (tcp_bound_to_half_wnd), whole segments.
std::uint32_t size_goal(const Tcb& c, std::uint32_t mss) {
  const std::uint32_t cutoff = c.max_snd_wnd > 536 /* TCP_MSS_DEFAULT */ ? c.max_snd_wnd / 2 : c.max_snd_wnd;
  const std::uint32_t goal = cutoff != 0 && kGsoMaxSize > cutoff ? cutoff : kGsoMaxSize;
  return std::max(goal / mss * mss, mss);
}

// Bytes a push sends of [from, to): what the windows let out (cwnd less
// what is in flight, the peer's window less what is outstanding), less
// `spent` already sent in this write, in whole segments unless it is all.
std::uint32_t push_bytes(const Tcb& c, std::uint32_t mss, Seq from, Seq to, std::uint32_t spent) {
  const std::uint32_t pipe = in_flight(c);
  const std::uint32_t out = static_cast<std::uint32_t>(c.snd_max - c.snd_una);
  std::uint32_t budget = std::min(c.cwnd > pipe ? c.cwnd - pipe : 0, c.snd_wnd > out ? c.snd_wnd - out : 0);
  budget = budget > spent ? budget - spent : 0;
  const std::uint32_t have = static_cast<std::uint32_t>(to - from);
  return have <= budget ? have : budget / mss * mss;
}

}  // namespace

// tcp_sendmsg_locked, skb by skb. A write first tops up the tail skb not
// yet sent (size_goal - skb->len); each new skb needs sk_stream_memory_free
// (sk_wmem_queued < sk_sndbuf, unsent bytes below TCP_NOTSENT_LOWAT) and is
// then filled to the size goal, so a write may end up to an skb past
// sk_sndbuf. Each skb filled within the write is pushed: forced_push (more
// than half the peer's largest window written since the last mark) marks
// PSH at its end (tcp_mark_push) and sends what the windows allow
// (__tcp_push_pending_frames); else, if it is the first unsent skb,
// tcp_push_one sends one packet of it, and the rest of it, now the tail,
// is topped up again. twstack keeps no skbs: unsent bytes are taken as
// size-goal skbs from SND.MAX (a cut at the send head starts an skb), and
// the pushes only say where the skbs and marks fall; output() sends.
WritePlan plan_write(const Tcb& c, std::uint32_t want, std::uint32_t queued, std::uint32_t sndbuf,
                     std::uint32_t lowat) {
  WritePlan w;
  const Seq from = c.snd_data_end();
  Seq sent_to = seq_max(c.snd_max, c.snd_buf_seq);  // Linux's snd_nxt in the write
  // Nothing unsent and a write of one segment at most (a short
  // connection's request or reply): one new skb, never full, no push.
  if (from == sent_to && want <= c.mss) {
    w.take = queued < sndbuf && lowat > 0 ? want : 0;
    w.tail_skb = from;
    return w;
  }
  const std::uint32_t mss = payload_mss(c);
  const std::uint32_t goal = size_goal(c, mss);
  Seq pushed = c.pushed_seq;
  const std::uint32_t half = c.max_snd_wnd / 2;
  std::uint32_t spent = 0;
  Seq pos = from;
  // The tail skb not yet sent: the last one written, less what went out.
  Seq skb = from;
  const Seq tail = seq_max(c.snd_tail_skb, sent_to);
  if (from > sent_to && from > tail && static_cast<std::uint32_t>(from - tail) < goal) skb = tail;
  std::uint32_t left = want;
  while (left > 0) {
    if (pos - skb >= static_cast<std::int32_t>(goal) || pos == skb) {
      // A new skb: sk_stream_memory_free.
      const std::uint32_t notsent = static_cast<std::uint32_t>(pos - sent_to);
      if (queued >= sndbuf || notsent >= lowat) break;
      skb = pos;
    }
    const std::uint32_t copy = std::min(goal - static_cast<std::uint32_t>(pos - skb), left);
    pos += copy;
    queued += copy;
    left -= copy;
    if (left == 0 || !c.syn_acked()) continue;
    if (pos > pushed + half) {  // forced_push
      if (w.forced_count < WritePlan::kForced) w.forced[w.forced_count++] = pos;
      pushed = pos;
      const std::uint32_t n = push_bytes(c, mss, sent_to, pos, spent);
      sent_to += n;
      spent += n;
    } else if (skb == sent_to) {  // tcp_push_one
      const std::uint32_t n = push_bytes(c, mss, skb, pos, spent);
      sent_to += n;
      spent += n;
    }
    if (sent_to > skb) skb = sent_to;  // tso_fragment: the unsent rest is the tail
  }
  w.take = want - left;
  w.tail_skb = skb;
  return w;
}

void mark_pushes(Tcb& c, Seq from, Seq to, const WritePlan& w, bool more) {
  const std::uint32_t mss = payload_mss(c);
  // The write before this one ended in a tail skb not yet sent, with room:
  // this write goes on filling it and its PSH is cleared.
  const Seq tail = seq_max(c.snd_tail_skb, c.snd_max);
  if (c.push_count != 0 && c.snd_max < from && c.push_marks[c.push_count - 1] == from && c.syn_acked() &&
      tail < from && static_cast<std::uint32_t>(from - tail) < size_goal(c, mss)) {
    --c.push_count;
  }
  c.snd_tail_skb = w.tail_skb;
  for (std::uint8_t i = 0; i < w.forced_count; ++i) {
    if (w.forced[i] < to) add_mark(c, w.forced[i]);
  }
  // tcp_push: "if (!(flags & MSG_MORE) || forced_push(tp)) tcp_mark_push".
  if (!more || static_cast<std::uint32_t>(to - c.pushed_seq) > c.max_snd_wnd / 2) add_mark(c, to);
}

// TCP_CORK holds a short last segment until it fills, the cork comes off,
// or TCP_NODELAY pushes; MSG_MORE does the same for the push that ends its
// own write only (tcp_push: nonagle = TCP_NAGLE_CORK), later pushes (an
// ACK's) follow the socket's Nagle setting. A write of new data ends
// TCP_NODELAY's push past the cork (tcp_skb_entail clears TCP_NAGLE_PUSH).
// Linux has no time limit on either (the 200 ms of tcp(7) is autocorking's
// and the persist timer's, which sends the held bytes after an RTO with
// nothing in flight: tcp_write_wakeup).
void cork_on_write(Tcb& c, bool more) {
  c.cork = static_cast<std::uint8_t>((c.cork & kCorkSock) | (more ? kCorkMore : 0));
}

// __tcp_sock_set_cork: on sets TCP_NAGLE_CORK; off clears it, and with
// TCP_NODELAY set pushes (TCP_NAGLE_PUSH).
void set_cork(Tcb& c, bool on) {
  if (on) {
    c.cork |= kCorkSock;
    return;
  }
  c.cork &= static_cast<std::uint8_t>(~kCorkSock);
  if (c.nodelay) c.cork |= kCorkPush;
}

// __tcp_sock_set_nodelay: on turns Nagle off and pushes past a cork
// (TCP_NAGLE_OFF | TCP_NAGLE_PUSH); off turns Nagle back on. PUSH matters
// only to a cork, so an uncorked socket (the common case, set once after
// connect) is left without it.
void set_nodelay(Tcb& c, bool on) {
  c.nodelay = on;
  if (on && c.cork != 0) c.cork |= kCorkPush;
}

bool push_due(const Tcb& c, Seq seq, std::uint32_t len) {
  for (std::uint8_t i = 0; i < c.push_count; ++i) {
    const Seq m = c.push_marks[i];
    if (m > seq && m <= seq + len) return true;
  }
  return false;
}

// tcp_tso_segs -> tcp_tso_autosize: about 1 ms of data at the pacing rate
// tcp_update_pacing_rate sets (mss * cwnd / SRTT, times 200 % in slow start
// below half ssthresh, else 120 %), plus up to 64 KB on a path of small
// min RTT, at most 64 KB, at least tcp_min_tso_segs.
std::uint32_t tso_max_segs(const Env& e, const Tcb& c, std::uint32_t mss) {
  const std::uint64_t pmss = payload_mss(c);
  const std::uint64_t pkts = std::max<std::uint64_t>(std::max(c.cwnd, c.flight()) / pmss, 1);
  std::uint64_t rate = pmss * ((1000000 / 100) << 3) * (c.cwnd < c.ssthresh / 2 ? kPacingSsRatio : kPacingCaRatio) * pkts;
  if (c.rtte.srtt8_us > 0) rate /= static_cast<std::uint64_t>(c.rtte.srtt8_us);
  std::uint64_t bytes = rate >> kPacingShift;
  // Before the first sample tcp_min_rtt is ~0U: nothing is added.
  const std::uint64_t r = static_cast<std::uint64_t>(c.rtte.min_rtt_us) >> kTsoRttLog;
  if (r < 32) bytes += kGsoMaxSize >> r;
  bytes = std::min<std::uint64_t>(bytes, kGsoMaxSize);
  return std::max(static_cast<std::uint32_t>(bytes / mss), static_cast<std::uint32_t>(e.p.min_tso_segs));
}

// One TSO packet of new data from SND.NXT as tcp_write_xmit cuts it: as
// many segments as tcp_cwnd_test allows (half the cwnd at most, "to ensure
// we have at least 2 GSO packets in flight"), at most tcp_tso_segs, within
// the data and the windows (as output() counts them); a short last segment
// only if it would go out now (tcp_mss_split_point leaves it to Nagle).
std::uint32_t tso_packet_bytes(const Env& e, const Tcb& c, std::uint32_t smss) {
  const std::uint32_t pmss = payload_mss(c);
  const std::uint32_t avail = static_cast<std::uint32_t>(c.snd_data_end() - c.snd_nxt);
  const std::uint32_t out = static_cast<std::uint32_t>(c.snd_nxt - c.snd_una);
  const std::uint32_t pipe = in_flight(c);
  const std::uint32_t usable = std::min(c.cwnd > pipe ? c.cwnd - pipe : 0, c.snd_wnd > out ? c.snd_wnd - out : 0);
  const std::uint32_t cw = std::max(c.cwnd / pmss, 1u);
  const std::uint32_t in_flight = (pipe + pmss - 1) / pmss;
  const std::uint32_t quota = in_flight >= cw ? 1 : std::min(std::max(cw / 2, 1u), cw - in_flight);
  const std::uint32_t segs = std::min(quota, tso_max_segs(e, c, smss));
  std::uint32_t bytes = std::min({segs * smss, avail, usable});
  const std::uint32_t partial = bytes % smss;
  if (bytes > smss && partial != 0) {
    const bool ends_data = bytes == avail;
    const bool sent_now =
        (ends_data && (c.fin_queued || (c.nodelay && !corked(c)))) || (partial >= c.max_snd_wnd / 2 && !corked(c));
    if (!sent_now) bytes -= partial;
  }
  return bytes;
}

// __tcp_transmit_skb: PSH on the end of every packet of several segments.
TsoPacket tso_packet_step(const Env& e, const Tcb& c, std::uint32_t smss, std::uint32_t len, TsoPacket p) {
  if (p.left == 0) {
    p.left = std::max(tso_packet_bytes(e, c, smss), len);
    p.multi = p.left > len;
  }
  p.left -= std::min(p.left, len);
  return p;
}

}  // namespace twstack::tcp
