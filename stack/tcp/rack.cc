// RACK loss detection (RFC 8985 §6; Linux tcp_recovery.c and the parts of
// tcp_input.c that feed it: tcp_sacktag_one, tcp_clean_rtx_queue,
// tcp_check_sack_reordering).
#include "stack/tcp/rack.hh"

#include <algorithm>

namespace twstack::tcp {

namespace {

constexpr std::int64_t kTimeoutMinUs = 2000;  // TCP_TIMEOUT_MIN: 2 jiffies at HZ=1000
constexpr std::uint8_t kRecoveryThresh = 16;   // TCP_RACK_RECOVERY_THRESH

std::uint32_t now32(const Env& e) { return static_cast<std::uint32_t>(e.now.us); }
// Microseconds from `t` to `u` (send times wrap at 2^32 µs).
std::int32_t us_delta(std::uint32_t u, std::uint32_t t) { return static_cast<std::int32_t>(u - t); }

// Linux tcp_skb_sent_after: (t1, seq1) was sent after (t2, seq2).
bool sent_after(std::uint32_t t1, std::uint32_t t2, Seq seq1, Seq seq2) {
  const std::int32_t d = us_delta(t1, t2);
  return d > 0 || (d == 0 && seq1 > seq2);
}

// SACKed bytes of [b, x).
std::uint32_t sacked_in(const SackState& st, Seq b, Seq x) {
  std::uint32_t n = 0;
  for (std::uint8_t i = 0; i < st.num_sacked; ++i) {
    const Seq lo = seq_max(st.sacked[i].begin, b);
    const Seq hi = seq_min(st.sacked[i].end, x);
    if (lo < hi) n += static_cast<std::uint32_t>(hi - lo);
  }
  return n;
}

std::uint32_t unsacked(const Tcb& c, const SentRange& r) { return static_cast<std::uint32_t>(r.end - r.begin) - sacked_in(c.sack, r.begin, r.end); }

// Segments of `mss` in the bytes not SACKed of each range with `mark`.
std::uint32_t marked_segs(const Tcb& c, std::uint8_t mark, std::uint32_t mss) {
  std::uint32_t n = 0;
  for (std::uint8_t i = 0; i < c.rack.num_sent; ++i) {
    if (c.rack.sent[i].marks & mark) n += (unsacked(c, c.rack.sent[i]) + mss - 1) / mss;
  }
  return n;
}

std::uint32_t marked_bytes(const Tcb& c, std::uint8_t mark) {
  std::uint32_t n = 0;
  for (std::uint8_t i = 0; i < c.rack.num_sent; ++i) {
    if (c.rack.sent[i].marks & mark) n += unsacked(c, c.rack.sent[i]);
  }
  return n;
}

void erase(RackState& r, std::uint8_t i) {
  for (std::uint8_t k = i; k + 1 < r.num_sent; ++k) r.sent[k] = r.sent[k + 1];
  --r.num_sent;
}

// Joins ranges i and i + 1: the later time and the weaker marks, so a merge
// delays a loss verdict rather than hastening it (sack_state.hh).
void join(RackState& r, std::uint8_t i) {
  SentRange& a = r.sent[i];
  const SentRange& b = r.sent[i + 1];
  if (us_delta(b.xmit_us, a.xmit_us) > 0) a.xmit_us = b.xmit_us;
  a.marks = static_cast<std::uint8_t>((a.marks & b.marks & SentRange::kLost) |
                                      ((a.marks | b.marks) & (SentRange::kRtxOut | SentRange::kEverRtx)));
  a.end = b.end;
  erase(r, static_cast<std::uint8_t>(i + 1));
}

// Frees a slot when the array is full: the neighbours with the same marks
// and the closest send times join, else the closest of any.
void make_room(RackState& r) {
  if (r.num_sent < RackState::kSent) return;
  std::uint8_t best = 0;
  std::int64_t best_cost = INT64_MAX;
  for (std::uint8_t i = 0; i + 1 < r.num_sent; ++i) {
    const SentRange& a = r.sent[i];
    const SentRange& b = r.sent[i + 1];
    std::int64_t cost = std::abs(static_cast<std::int64_t>(us_delta(b.xmit_us, a.xmit_us)));
    if (a.marks != b.marks || a.end != b.begin) cost += std::int64_t{1} << 40;
    if (cost < best_cost) {
      best_cost = cost;
      best = i;
    }
  }
  join(r, best);
}

// Splits the range holding `x` strictly inside it in two at `x`.
void split_at(RackState& r, Seq x) {
  for (std::uint8_t i = 0; i < r.num_sent; ++i) {
    if (r.sent[i].begin < x && x < r.sent[i].end) {
      make_room(r);
      // make_room may have joined ranges before i: find it again.
      std::uint8_t j = 0;
      while (!(r.sent[j].begin < x && x < r.sent[j].end)) ++j;
      for (std::uint8_t k = r.num_sent; k > j + 1; --k) r.sent[k] = r.sent[k - 1];
      r.sent[j + 1] = r.sent[j];
      r.sent[j].end = x;
      r.sent[j + 1].begin = x;
      ++r.num_sent;
      return;
    }
  }
}

// Neighbours that are alike become one again.
void coalesce(RackState& r) {
  for (std::uint8_t i = 0; i + 1 < r.num_sent;) {
    const SentRange& a = r.sent[i];
    const SentRange& b = r.sent[i + 1];
    if (a.end == b.begin && a.xmit_us == b.xmit_us && a.marks == b.marks) {
      join(r, i);
    } else {
      ++i;
    }
  }
}

void append(RackState& r, Seq b, Seq x, std::uint32_t t) {
  if (r.num_sent != 0) {
    SentRange& last = r.sent[r.num_sent - 1];
    if (last.end == b && last.xmit_us == t && last.marks == 0) {
      last.end = x;
      return;
    }
  }
  make_room(r);
  r.sent[r.num_sent++] = SentRange{b, x, t, 0};
}

// Drops what SND.UNA has passed.
void prune(RackState& r, Seq una) {
  std::uint8_t drop = 0;
  while (drop < r.num_sent && r.sent[drop].end <= una) ++drop;
  if (drop != 0) {
    for (std::uint8_t k = drop; k < r.num_sent; ++k) r.sent[k - drop] = r.sent[k];
    r.num_sent = static_cast<std::uint8_t>(r.num_sent - drop);
  }
  if (r.num_sent != 0 && r.sent[0].begin < una) r.sent[0].begin = una;
}

// Linux tcp_rack_advance (RFC 8985 §6.2 step 2): a resent segment
// delivered sooner than min_rtt after its resend was the original arriving:
// it says nothing. Else every delivered segment, taken in the order Linux
// walks them (SACK blocks, then the cumulative ACK, each by sequence), sets
// RACK.rtt, so the last one counts even when sent earlier; only the most
// recently sent sets RACK.xmit_ts and RACK.end_seq.
void advance(const Env& e, Tcb& c, std::uint8_t marks, Seq end_seq, std::uint32_t xmit) {
  RackState& r = c.rack;
  const std::int32_t rtt = us_delta(now32(e), xmit);
  if ((marks & (SentRange::kRtxOut | SentRange::kEverRtx)) && rtt < c.rtte.min_rtt_us) return;
  r.advanced = true;
  r.rtt_us = static_cast<std::uint32_t>(std::max(rtt, 0));
  if (r.mstamp_us != 0 && !sent_after(xmit, r.mstamp_us, end_seq, r.end_seq)) return;
  r.mstamp_us = xmit;
  r.end_seq = end_seq;
}

// Calls f(b, x) for each part of [b, x) the scoreboard does not hold.
template <class F>
void for_each_unsacked(const SackState& st, Seq b, Seq x, F f) {
  for (std::uint8_t i = 0; i < st.num_sacked && b < x; ++i) {
    const SackRange& s = st.sacked[i];
    if (s.end <= b) continue;
    if (x <= s.begin) break;
    if (b < s.begin) f(b, s.begin);
    b = seq_max(b, s.end);
  }
  if (b < x) f(b, x);
}

// Calls f(range, b, x) for the parts [b, x) of [from, to) in each range.
template <class F>
void for_each_sent(RackState& r, Seq from, Seq to, F f) {
  for (std::uint8_t i = 0; i < r.num_sent; ++i) {
    const Seq lo = seq_max(r.sent[i].begin, from);
    const Seq hi = seq_min(r.sent[i].end, to);
    if (lo < hi) f(r.sent[i], lo, hi);
  }
}

std::uint32_t sacked_segs(const Tcb& c) {
  const std::uint32_t mss = std::max<std::uint32_t>(payload_mss(c), 1);
  std::uint32_t n = 0;
  for (std::uint8_t k = 0; k < c.sack.num_sacked; ++k) n += (c.sack.sacked[k].size() + mss - 1) / mss;
  return n;
}

// Linux tcp_rack_reo_wnd (RFC 8985 §6.2 step 4): before any reordering is
// seen, none during recovery or after an RTO, nor once DupThresh segments
// are SACKed (unless TCP_RACK_NO_DUPTHRESH); else min_rtt / 4 per step,
// at most SRTT.
std::int64_t reo_wnd(const Env& e, const Tcb& c) {
  if (c.rack.reord_seen == 0) {
    if (c.in_recovery || c.snd_una < c.recover) return 0;
    if (sacked_segs(c) >= c.rack.reordering && !(e.p.recovery & kRackNoDupthresh)) return 0;
  }
  const std::int64_t min_rtt = c.rtte.min_rtt_us == INT64_MAX ? c.srtt_us * 4 : c.rtte.min_rtt_us;
  return std::min((min_rtt >> 2) * c.rack.reo_wnd_steps, c.srtt_us);
}

// Linux tcp_rack_detect_loss (RFC 8985 §6.2 step 5): each segment sent
// before RACK.xmit_ts, not SACKed and not lost-and-waiting, is lost once
// RACK.rtt + reo_wnd has passed since its send; else the wait left goes
// into `timeout`. Returns the bytes newly marked lost.
std::uint32_t detect_loss(Env& e, Tcb& c, std::int64_t& timeout) {
  RackState& r = c.rack;
  timeout = 0;
  const std::int64_t wnd = reo_wnd(e, c);
  std::uint32_t lost = 0;
  for (std::uint8_t i = 0; i < r.num_sent; ++i) {
    SentRange* s = &r.sent[i];
    if ((s->marks & SentRange::kLost) && !(s->marks & SentRange::kRtxOut)) continue;
    if (s->xmit_us == r.mstamp_us) {
      // Sent together with RACK's segment: only what lies below it.
      if (!(s->begin < r.end_seq)) continue;
      if (r.end_seq < s->end) {
        split_at(r, r.end_seq);
        i = 0;
        while (!(r.sent[i].begin < r.end_seq && r.end_seq <= r.sent[i].end)) ++i;
        s = &r.sent[i];
      }
    } else if (!sent_after(r.mstamp_us, s->xmit_us, r.end_seq, s->end)) {
      continue;
    }
    const std::uint32_t bytes = unsacked(c, *s);
    if (bytes == 0) continue;
    const std::int64_t remaining = std::int64_t{r.rtt_us} + wnd - us_delta(now32(e), s->xmit_us);
    if (remaining <= 0) {
      // tcp_mark_skb_lost: a resend lost again is out no more.
      if (s->marks & SentRange::kRtxOut) e.ctr.inc(Counter::TcpExtTCPLostRetransmit);
      s->marks = static_cast<std::uint8_t>((s->marks & ~SentRange::kRtxOut) | SentRange::kLost);
      lost += bytes;
    } else {
      timeout = std::max(timeout, remaining);
    }
  }
  coalesce(r);
  return lost;
}

}  // namespace

void rack_on_send(Env& e, Tcb& c, Seq seq, std::uint32_t len) {
  RackState& r = c.rack;
  const std::uint32_t t = now32(e);
  const Seq end = seq + len;
  if (seq < c.snd_max) {
    const Seq x = seq_min(end, c.snd_max);
    split_at(r, seq);
    split_at(r, x);
    for_each_sent(r, seq, x, [&](SentRange& s, Seq, Seq) {
      s.xmit_us = t;
      s.marks |= SentRange::kRtxOut | SentRange::kEverRtx;
    });
    coalesce(r);
    if (!(end > c.snd_max)) return;
    seq = c.snd_max;
  }
  append(r, seq, end, t);
}

Seq rack_fack(const Tcb& c) {
  return c.sack.num_sacked != 0 ? c.sack.sacked[c.sack.num_sacked - 1].end : c.snd_una;
}

void rack_on_sack_block(Env& e, Tcb& c, Seq b, Seq x, Seq fack, Seq& reord) {
  for_each_unsacked(c.sack, b, x, [&](Seq lo, Seq hi) {
    for_each_sent(c.rack, lo, hi, [&](SentRange& s, Seq pb, Seq px) {
      advance(e, c, s.marks, px, s.xmit_us);
      // tcp_sacktag_one: new SACK for a segment never resent, in a hole
      // below the highest SACK: it is reordering.
      if (!(s.marks & SentRange::kEverRtx) && pb < fack && pb < reord) reord = pb;
    });
  });
}

bool rack_whole_segments(const Tcb& c, Seq& b, Seq& x) {
  const std::uint32_t mss = payload_mss(c);
  if (mss == 0) return b < x;
  for (std::uint8_t i = 0; i < c.rack.num_sent; ++i) {
    const SentRange& s = c.rack.sent[i];
    if (s.begin < b && b < s.end) {
      const std::uint32_t off = static_cast<std::uint32_t>(b - s.begin);
      b = seq_min(s.begin + (off + mss - 1) / mss * mss, s.end);
    }
    if (s.begin < x && x < s.end) x = s.begin + static_cast<std::uint32_t>(x - s.begin) / mss * mss;
  }
  return b < x;
}

void rack_check_reordering(Env& e, Tcb& c, Seq low, Seq fack) {
  if (!(low < fack)) return;
  const std::uint32_t mss = payload_mss(c);
  const std::uint32_t metric = static_cast<std::uint32_t>(fack - low);
  if (mss != 0 && metric > c.rack.reordering * mss) {
    c.rack.reordering = std::min((metric + mss - 1) / mss, kMaxReordering);
  }
  ++c.rack.reord_seen;  // "This exciting event is worth to be remembered."
  e.ctr.inc(Counter::TcpExtTCPSACKReorder);
}

void rack_on_cum_ack(Env& e, Tcb& c, Seq ack, Seq prior_fack) {
  RackState& r = c.rack;
  if (r.num_sent == 0) return;
  // Everything delivered and nothing SACKed (the short connection): no
  // segment is left for RACK to judge and none was reordered; the next
  // delivery, sent later, advances RACK anyway.
  if (ack == c.snd_max && c.sack.num_sacked == 0) {
    r.num_sent = 0;
    return;
  }
  Seq reord = c.snd_max;
  for_each_sent(r, c.snd_una, ack, [&](SentRange& s, Seq lo, Seq hi) {
    for_each_unsacked(c.sack, lo, hi, [&](Seq pb, Seq px) {
      // tcp_clean_rtx_queue: tcp_rack_advance for each segment delivered
      // here, and a hole never resent that fills below the highest SACK
      // is reordering.
      advance(e, c, s.marks, px, s.xmit_us);
      if (!(s.marks & SentRange::kEverRtx) && pb < reord) reord = pb;
    });
  });
  prune(r, ack);
  // tcp_highest_sack_seq once the scoreboard lets go of what SND.UNA
  // passed: SND.UNA itself when nothing above it stays SACKed.
  if (reord < prior_fack) rack_check_reordering(e, c, reord, seq_max(rack_fack(c), ack));
}

bool rack_ack_rtt(const Env& e, const Tcb& c, Seq ack, std::int64_t& seq_rtt_us, std::int64_t& ca_rtt_us) {
  const RackState& r = c.rack;
  bool found = false;
  std::uint32_t first = 0;
  std::uint32_t last = 0;
  for (std::uint8_t i = 0; i < r.num_sent && r.sent[i].begin < ack; ++i) {
    const SentRange& s = r.sent[i];
    if (s.marks & (SentRange::kRtxOut | SentRange::kEverRtx)) continue;
    if (c.sack.num_sacked != 0) {
      const Seq lo = seq_max(s.begin, c.snd_una);
      const Seq hi = seq_min(s.end, ack);
      // SACKed before: sacked & TCPCB_SACKED_ACKED.
      if (sacked_in(c.sack, lo, hi) == static_cast<std::uint32_t>(hi - lo)) continue;
    }
    if (!found) first = s.xmit_us;
    last = s.xmit_us;
    found = true;
  }
  if (!found) return false;
  seq_rtt_us = std::max(us_delta(now32(e), first), 0);
  ca_rtt_us = std::max(us_delta(now32(e), last), 0);
  return true;
}

bool rack_mark_lost(Env& e, Tcb& c) {
  if (!c.rack.advanced) return false;
  c.rack.advanced = false;  // no rescan until a delivery moves RACK
  std::int64_t timeout = 0;
  detect_loss(e, c, timeout);
  if (timeout == 0) return false;
  // tcp_rack_mark_lost: the reordering timer, at most an RTO away
  // (inet_csk_reset_xmit_timer's max_when).
  const std::int64_t ticks = (timeout + kUsPerTick - 1) / kUsPerTick;
  e.arm(c.rtx_timer, std::min(ticks * kUsPerTick + kTimeoutMinUs, c.rto_us));
  c.tlp.pto_armed = false;
  c.rack.reo_armed = true;
  return true;
}

std::uint32_t rack_detect_on_timeout(Env& e, Tcb& c) {
  c.rack.reo_armed = false;
  std::int64_t timeout = 0;
  return detect_loss(e, c, timeout);
}

void rack_on_rto(Tcb& c) {
  RackState& r = c.rack;
  for (std::uint8_t i = 0; i < r.num_sent; ++i) {
    r.sent[i].marks = static_cast<std::uint8_t>((r.sent[i].marks & SentRange::kEverRtx) | SentRange::kLost);
  }
  coalesce(r);
  r.reo_armed = false;
}

std::uint32_t rack_lost_bytes(const Tcb& c) { return marked_bytes(c, SentRange::kLost); }
std::uint32_t rack_rtx_out_bytes(const Tcb& c) { return marked_bytes(c, SentRange::kRtxOut); }
std::uint32_t rack_lost_segs(const Tcb& c, std::uint32_t mss) { return mss == 0 ? 0 : marked_segs(c, SentRange::kLost, mss); }
std::uint32_t rack_rtx_out_segs(const Tcb& c, std::uint32_t mss) {
  return mss == 0 ? 0 : marked_segs(c, SentRange::kRtxOut, mss);
}

std::uint32_t rack_pipe(const Tcb& c) {
  const std::uint32_t out = static_cast<std::uint32_t>(c.snd_max - c.snd_una) - c.sack.sacked_bytes;
  const std::uint32_t lost = rack_lost_bytes(c);
  return (out > lost ? out - lost : 0) + rack_rtx_out_bytes(c);
}

bool rack_next_lost(const Tcb& c, Seq& at, std::uint32_t& room) {
  for (std::uint8_t i = 0; i < c.rack.num_sent; ++i) {
    const SentRange& s = c.rack.sent[i];
    if ((s.marks & (SentRange::kLost | SentRange::kRtxOut)) != SentRange::kLost) continue;
    bool found = false;
    for_each_unsacked(c.sack, seq_max(s.begin, c.snd_una), s.end, [&](Seq b, Seq x) {
      if (found) return;
      found = true;
      at = b;
      room = static_cast<std::uint32_t>(x - b);
    });
    if (found) return true;
  }
  return false;
}

void rack_on_dsack(Tcb& c) { c.rack.dsack_seen = true; }

void rack_on_recovery_end(Tcb& c) {
  if (c.rack.reo_wnd_persist != 0) --c.rack.reo_wnd_persist;
}

// Linux tcp_rack_update_reo_wnd, per ACK while a D-SACK waits: one more
// step of min_rtt / 4 at most once a round trip (a D-SACK before SND.UNA
// passes what was sent at the last step is old news), kept for 16
// recoveries; with TCP_RACK_STATIC_REO_WND, never.
void rack_update_reo_wnd(const Env& e, Tcb& c) {
  RackState& r = c.rack;
  if (e.p.recovery & kRackStaticReoWnd) {
    r.dsack_seen = false;
    return;
  }
  if (r.step_round && c.snd_una < r.last_delivered) {
    r.dsack_seen = false;
  } else {
    r.step_round = false;
  }
  if (r.dsack_seen) {
    r.reo_wnd_steps = static_cast<std::uint8_t>(std::min(0xff, r.reo_wnd_steps + 1));
    r.dsack_seen = false;
    r.last_delivered = c.snd_max;
    r.step_round = true;
    r.reo_wnd_persist = kRecoveryThresh;
  } else if (r.reo_wnd_persist == 0) {
    r.reo_wnd_steps = 1;
  }
}

}  // namespace twstack::tcp
