// The sender's half of SACK: the scoreboard (Linux tcp_sacktag_write_queue)
// and SACK-based loss recovery (RFC 6675: IsLost, NextSeg, SetPipe).
#include <algorithm>

#include "stack/tcp/congestion.hh"
#include "stack/tcp/cubic.hh"
#include "stack/tcp/rack.hh"
#include "stack/tcp/sack.hh"

namespace twstack::tcp {

namespace {

// Adds [begin, end) to the sorted, disjoint scoreboard. True when it SACKs
// bytes not SACKed before.
bool scoreboard_add(SackState& st, Seq begin, Seq end) {
  auto& r = st.sacked;
  std::uint8_t n = st.num_sacked;
  std::uint8_t i = 0;
  while (i < n && r[i].end < begin) ++i;
  std::uint8_t j = i;
  SackRange nr{begin, end};
  std::uint32_t had = 0;
  while (j < n && r[j].begin <= nr.end) {
    nr.begin = seq_min(nr.begin, r[j].begin);
    nr.end = seq_max(nr.end, r[j].end);
    had += r[j].size();
    ++j;
  }
  const auto merged = static_cast<std::uint8_t>(j - i);
  if (merged == 0) {
    if (n == SackState::kScoreboard) {
      if (i == n) return true;  // above every range: forgotten (sack_state.hh)
      st.sacked_bytes -= r[n - 1].size();
      --n;
    }
    for (std::uint8_t k = n; k > i; --k) r[k] = r[k - 1];
    ++n;
  } else if (merged > 1) {
    for (std::uint8_t k = j; k < n; ++k) r[k - merged + 1] = r[k];
    n = static_cast<std::uint8_t>(n - merged + 1);
  }
  r[i] = nr;
  st.num_sacked = n;
  st.sacked_bytes += nr.size() - had;
  return nr.size() > had;
}

// Drops what SND.UNA has passed.
void scoreboard_prune(SackState& st, Seq una) {
  std::uint8_t drop = 0;
  while (drop < st.num_sacked && st.sacked[drop].end <= una) st.sacked_bytes -= st.sacked[drop++].size();
  if (drop == 0) return;
  for (std::uint8_t k = drop; k < st.num_sacked; ++k) st.sacked[k - drop] = st.sacked[k];
  st.num_sacked = static_cast<std::uint8_t>(st.num_sacked - drop);
}

// SACKed bytes below `x`.
std::uint32_t sacked_below(const SackState& st, Seq x) {
  std::uint32_t n = 0;
  for (std::uint8_t i = 0; i < st.num_sacked && st.sacked[i].begin < x; ++i) {
    n += static_cast<std::uint32_t>(seq_min(st.sacked[i].end, x) - st.sacked[i].begin);
  }
  return n;
}

// RFC 6675 §4 IsLost(): a byte is lost when DupThresh SACKed ranges, or
// more than (DupThresh - 1) * SMSS SACKed bytes, lie above it. Returns the
// edge below which every byte not SACKed is lost (SND.UNA: none).
Seq lost_edge(const Tcb& c) {
  const SackState& st = c.sack;
  const std::uint32_t smss = payload_mss(c);
  std::uint32_t above = 0;
  for (std::uint8_t i = st.num_sacked; i > 0; --i) {
    above += st.sacked[i - 1].size();
    if (static_cast<std::uint32_t>(st.num_sacked - i + 1) >= kDupThresh || above > (kDupThresh - 1) * smss) {
      return st.sacked[i - 1].begin;
    }
  }
  return c.snd_una;
}

// The first byte at or above `x` that is not SACKed.
Seq next_unsacked(const SackState& st, Seq x) {
  for (std::uint8_t i = 0; i < st.num_sacked; ++i) {
    if (st.sacked[i].begin <= x && x < st.sacked[i].end) x = st.sacked[i].end;
  }
  return x;
}

// Bytes from `x` to the next SACKed range, or to the end of the data.
std::uint32_t hole_room(const Tcb& c, Seq x) {
  Seq limit = c.snd_data_end();
  for (std::uint8_t i = 0; i < c.sack.num_sacked; ++i) {
    if (c.sack.sacked[i].begin > x) {
      limit = seq_min(limit, c.sack.sacked[i].begin);
      break;
    }
  }
  return limit > x ? static_cast<std::uint32_t>(limit - x) : 0;
}

// Retransmits one segment of the hole at `at` (with our FIN if it ends the
// data); HighRxt moves past it. Linux tcp_xmit_retransmit_queue counts it
// as a fast retransmission.
bool retransmit_hole(Env& e, Tcb& c, Seq at, std::uint32_t limit = UINT32_MAX) {
  const std::uint32_t len = std::min({payload_mss(c), hole_room(c, at), limit});
  const bool fin = c.fin_sent() && at + len == c.snd_data_end();
  if (len == 0 && !fin) return false;
  // The skb's PSH goes with it (tcp_retransmit_skb; push.cc).
  const std::uint8_t flags = wire::kAck | (fin ? wire::kFin : 0) | (len > 0 && push_due(c, at, len) ? wire::kPsh : 0);
  if (!emit(e, c, at, flags, len)) return false;
  e.ctr.inc(Counter::TcpRetransSegs);
  e.ctr.inc(Counter::TcpExtTCPFastRetrans);
  c.sack.high_rxt = at + len + (fin ? 1u : 0u);
  c.prr_out += len;  // RFC 6937 prr_out (tcp_xmit_retransmit_queue)
  // ... which restarts the RTO when it resends the first segment: a
  // pending loss probe timer gives way to it.
  if (at == c.snd_una) arm_rto(e, c);
  return true;
}

// RFC 6675 §5 step (C): while cwnd - pipe >= 1 SMSS, NextSeg() rule 1
// (the first lost hole above HighRxt). Rule 2, new data, is output()'s,
// which counts SetPipe() as its flight during recovery; rules 3 and 4
// (MAY) are not used, as Linux does not.
void recovery_send(Env& e, Tcb& c) {
  const std::uint32_t smss = payload_mss(c);
  if (rack_on(e, c)) {
    // With RACK, what is lost is what RACK marked (tcp_xmit_retransmit_queue).
    Seq at;
    std::uint32_t room = 0;
    while (c.cwnd >= sack_pipe(c) + smss && rack_next_lost(c, at, room)) {
      if (!retransmit_hole(e, c, at, room)) return;
    }
    return;
  }
  const Seq edge = lost_edge(c);
  while (c.cwnd >= sack_pipe(c) + smss) {
    const Seq at = next_unsacked(c.sack, seq_max(c.sack.high_rxt, c.snd_una));
    if (!(at < edge)) return;
    if (!retransmit_hole(e, c, at)) return;
  }
}

// RFC 6675 §5 step (4): enter loss recovery, unless a timeout's recovery
// point has not been passed yet (RFC 6582 §4.1). cwnd follows PRR from the
// ACK that started it (RFC 6937 §3.1, Linux tcp_enter_recovery, then
// tcp_cwnd_reduction); its first segment always goes.
bool enter_recovery(Env& e, Tcb& c, std::uint32_t delivered) {
  if (recovery_refused(c)) return false;
  const std::uint32_t smss = payload_mss(c);
  recovery_start(c, smss);                               // (4.1) RecoveryPoint, (4.2) ssthresh
  c.dupacks = 0;
  c.rtt_active = false;  // Karn: the timed segment may be the lost one
  c.sack.high_rxt = c.snd_una;
  e.ctr.inc(Counter::TcpExtTCPSackRecovery);
  prr_cwnd(c, sack_pipe(c), delivered, false, smss);
  Seq first = c.snd_una;                                 // (4.3) HighACK + 1
  std::uint32_t room = UINT32_MAX;
  if (rack_on(e, c) && !rack_next_lost(c, first, room)) return true;  // RACK: the first lost segment
  retransmit_hole(e, c, first, room);
  recovery_send(e, c);                                   // (4.4) step (C)
  return true;
}

// RFC 6937 §3.1 DeliveredData: the change in SND.UNA plus the change in
// SACKed bytes (those SND.UNA passed left the scoreboard).
std::uint32_t delivered_data(const Tcb& c, std::uint32_t acked, std::uint32_t prior_sacked) {
  const std::int64_t d = std::int64_t{acked} + c.sack.sacked_bytes - prior_sacked;
  return d > 0 ? static_cast<std::uint32_t>(d) : 0u;
}

}  // namespace

void sack_clear_scoreboard(Tcb& c) {
  c.sack.num_sacked = 0;
  c.sack.sacked_bytes = 0;
}

// Linux tcp_sacktag_write_queue with tcp_check_dsack (RFC 2883 §4): a first
// block below the cumulative ACK, or inside the second block, reports a
// duplicate and marks nothing. Blocks beyond what was sent are ignored
// (tcp_is_sackblock_valid); our FIN is never taken as SACKed.
unsigned sack_on_ack(Env& e, Tcb& c, const Segment& s) {
  const wire::TcpOptions& o = s.opt;
  std::uint8_t first = 0;
  const Seq b0(o.sack[0].left);
  const Seq e0(o.sack[0].right);
  if (b0 < s.ack) {
    e.ctr.inc(Counter::TcpExtTCPDSACKRecv);
    first = 1;
  } else if (o.sack_count > 1 && Seq(o.sack[1].left) <= b0 && e0 <= Seq(o.sack[1].right)) {
    e.ctr.inc(Counter::TcpExtTCPDSACKOfoRecv);
    first = 1;
  }
  bool fresh = false;
  const Seq prior_edge = c.in_recovery ? seq_max(lost_edge(c), s.ack) : c.snd_una;
  const Seq low = seq_max(s.ack, c.snd_una);
  const bool rack = rack_on(e, c);
  const Seq fack = rack ? rack_fack(c) : c.snd_una;
  Seq reord = c.snd_max;
  if (first != 0 && rack) rack_on_dsack(c);  // tcp_check_dsack: rack.dsack_seen
  for (std::uint8_t i = first; i < o.sack_count; ++i) {
    const Seq end(o.sack[i].right);
    if (end > c.snd_max) continue;
    Seq b = seq_max(Seq(o.sack[i].left), low);
    Seq x = seq_min(end, c.snd_data_end());
    if (!(b < x) || (rack && !rack_whole_segments(c, b, x))) continue;
    if (rack) rack_on_sack_block(e, c, b, x, fack, reord);
    fresh |= scoreboard_add(c.sack, b, x);
  }
  if (reord < c.snd_max) rack_check_reordering(e, c, reord, rack_fack(c));
  // Linux rs->losses, which withholds PRR's extra segment: a hole newly
  // below the edge of IsLost().
  const bool lost = fresh && c.in_recovery && lost_edge(c) > prior_edge;
  return (fresh ? kSackNew : 0u) | (first != 0 ? kSackDsack : 0u) | (lost ? kSackNewLoss : 0u);
}

bool sack_on_new_ack(Env& e, Tcb& c, std::uint32_t acked, std::uint32_t prior_sacked, unsigned sacked) {
  SackState& st = c.sack;
  bool timer_set = false;
  if (st.num_sacked != 0) {
    scoreboard_prune(st, c.snd_una);
    // Linux tcp_check_sack_reneging: SND.UNA stops at data the receiver
    // SACKed, so it has thrown that away. Forget the scoreboard and let a
    // short timer (max(SRTT/2, 10 ms)) start a timeout recovery.
    if (st.num_sacked != 0 && st.sacked[0].begin <= c.snd_una) {
      e.ctr.inc(Counter::TcpExtTCPSACKReneging);
      sack_clear_scoreboard(c);
      e.arm(c.rtx_timer, std::max<std::int64_t>(c.srtt_us / 2, 10000));
      c.tlp.pto_armed = false;
      c.rack.reo_armed = false;
      timer_set = true;
    }
  }
  const std::uint32_t smss = payload_mss(c);
  const bool rack = rack_on(e, c);
  // tcp_identify_packet_loss: RACK marks what is lost now, or arms the
  // reordering timer in place of the RTO (Linux clears FLAG_SET_XMIT_TIMER).
  if (rack && rack_mark_lost(e, c)) timer_set = true;
  if (!c.in_recovery) {
    c.dupacks = 0;  // RFC 6675 §5: a cumulative ACK resets DupAcks
    const std::uint32_t delivered = delivered_data(c, acked, prior_sacked);
    // tcp_time_to_recover: RACK's lost marks, else IsLost(HighACK + 1).
    const bool lost = rack ? rack_lost_bytes(c) != 0 : st.num_sacked != 0 && c.snd_una < lost_edge(c);
    // tcp_cong_control after tcp_fastretrans_alert: outside a cwnd
    // reduction (after a timeout too), tcp_cong_avoid grows by acked_sacked,
    // what this ACK newly delivered; data SACKed earlier grew nothing then
    // (tcp_may_raise_cwnd) and grows nothing now.
    if (!(lost && enter_recovery(e, c, delivered))) cc_grow(e, c, smss, delivered);
    return !timer_set;
  }
  if (c.snd_una >= c.recover) {  // RFC 6675 §5: RecoveryPoint acknowledged
    if (rack) rack_on_recovery_end(c);  // tcp_try_undo_recovery: reo_wnd_persist
    recovery_end(c);
    return !timer_set;
  }
  // A partial ACK: PRR's extra segment unless it showed a new loss.
  prr_cwnd(c, sack_pipe(c), delivered_data(c, acked, prior_sacked), (sacked & kSackNewLoss) == 0, smss);
  recovery_send(e, c);
  return !timer_set;
}

// RFC 6675 §5: an ACK that SACKs new data is a duplicate; at DupThresh of
// them, or once IsLost(HighACK + 1), loss recovery starts. In recovery,
// PRR sets cwnd from what it delivered. An ACK below SND.UNA (reordered)
// counts no duplicate and leaves cwnd, but what it SACKed may let a hole
// go (Linux tcp_ack: tcp_fastretrans_alert and tcp_xmit_recovery only).
void sack_on_dupack(Env& e, Tcb& c, bool at_una, std::uint32_t prior_sacked, unsigned sacked) {
  if ((sacked & kSackNew) == 0) return;
  if (rack_on(e, c)) {
    // RFC 8985 §6.2: RACK alone says what is lost; no DupThresh count
    // (Linux tcp_time_to_recover with tcp_is_rack).
    rack_mark_lost(e, c);
    if (c.in_recovery) {
      if (at_una) prr_cwnd(c, sack_pipe(c), delivered_data(c, 0, prior_sacked), false, payload_mss(c));
      recovery_send(e, c);
    } else if (at_una && rack_lost_bytes(c) != 0) {
      enter_recovery(e, c, delivered_data(c, 0, prior_sacked));
    } else if (at_una && c.rack.reordering > kDupThresh) {
      // tcp_may_raise_cwnd: once the reordering degree is above
      // net.ipv4.tcp_reordering, SACKed data grows cwnd as it is delivered
      // (FLAG_FORWARD_PROGRESS), not only in-order data.
      cc_grow(e, c, payload_mss(c), delivered_data(c, 0, prior_sacked));
    }
    return;
  }
  if (c.in_recovery) {
    if (at_una) prr_cwnd(c, sack_pipe(c), delivered_data(c, 0, prior_sacked), false, payload_mss(c));
    recovery_send(e, c);
    return;
  }
  if (!at_una) return;
  if (++c.dupacks >= kDupThresh || c.snd_una < lost_edge(c)) enter_recovery(e, c, delivered_data(c, 0, prior_sacked));
}

// Linux tcp_rack_reo_timeout: what the wait has made lost starts recovery
// (tcp_enter_recovery) or goes out in the one under way
// (tcp_xmit_retransmit_queue); the RTO runs on.
void sack_on_reo_timeout(Env& e, Tcb& c) {
  if (rack_detect_on_timeout(e, c) != 0) {
    if (c.in_recovery) {
      recovery_send(e, c);
    } else {
      enter_recovery(e, c, payload_mss(c));
    }
  }
  if (c.snd_una != c.snd_max) arm_rto(e, c);
}

// RFC 6675 §4 SetPipe(): each byte not SACKed counts once if not lost, and
// once more if retransmitted (below HighRxt).
std::uint32_t sack_pipe(const Tcb& c) {
  // With RACK, Linux tcp_packets_in_flight over its lost and resent marks.
  if (c.rack.num_sent != 0) return rack_pipe(c);
  const SackState& st = c.sack;
  auto unsacked_to = [&](Seq x) {
    x = seq_max(c.snd_una, seq_min(x, c.snd_max));
    return static_cast<std::uint32_t>(x - c.snd_una) - sacked_below(st, x);
  };
  const std::uint32_t total = static_cast<std::uint32_t>(c.snd_max - c.snd_una) - st.sacked_bytes;
  const Seq rxt = c.in_recovery ? st.high_rxt : c.snd_una;
  return total - unsacked_to(lost_edge(c)) + unsacked_to(rxt);
}

std::uint32_t sack_out(const Tcb& c) {
  if (c.in_recovery) return sack_pipe(c);
  return static_cast<std::uint32_t>(c.snd_nxt - c.snd_una) - sacked_below(c.sack, c.snd_nxt);
}

std::uint32_t sack_skip_sacked(Tcb& c) {
  c.snd_nxt = next_unsacked(c.sack, c.snd_nxt);
  return hole_room(c, c.snd_nxt);
}

}  // namespace twstack::tcp
