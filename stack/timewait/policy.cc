// TIME_WAIT verdicts: see policy.hh. Step numbers are those of docs/linux-timewait.md §3.
#include "stack/timewait/policy.hh"

#include <algorithm>

#include "stack/tcp/paws.hh"

namespace twstack::tw {

namespace {

// What the timestamp option of a segment tells this entry. Linux parses the
// options only if the entry recorded the peer's timestamps (tw_ts_recent_stamp).
struct SegTs {
  bool saw = false;
  bool paws_reject = false;
};

// tcp_paws_reject() with the timewait window of 0 (tcp_paws_check(rx_opt, 0)).
SegTs check_paws(const TimeWaitTable& t, Handle h, const wire::Segment& s, std::int64_t now_ms) {
  SegTs r;
  if (!t.has_ts(h) || !s.opt.has_timestamps) return r;
  r.saw = true;
  r.paws_reject = tcp::paws_reject(t.ts_recent(h), now_ms - ts_recent_stamp_ms(t, h, now_ms), s, 0);
  return r;
}

// tcp_in_window(seq, end_seq, s_win, e_win).
bool in_window(Seq seq, Seq end_seq, Seq s_win, Seq e_win) {
  if (seq == s_win) return true;
  if (end_seq > s_win && seq < e_win) return true;
  return seq == e_win && seq == end_seq;
}

bool ack_limited(const wire::Segment& s, const TimeWaitTable& t, Handle h, const Policy& p,
                 std::int64_t now_ms, Counters& ctr, OowLimiter& oow, Counter skipped) {
  if (tcp::oow_ack_exempt(s)) return false;
  return oow.limited(t.tuple(h), now_ms, p.invalid_ratelimit.ms(), ctr, skipped);
}

Verdict oow_ack(const wire::Segment& s, const TimeWaitTable& t, Handle h, const Policy& p,
                std::int64_t now_ms, Counters& ctr, OowLimiter& oow, Counter skipped) {
  if (ack_limited(s, t, h, p, now_ms, ctr, oow, skipped)) return Verdict{};
  return Verdict{Action::kAck, false, {}};
}

// The FIN_WAIT2 substate (§3): "just repeat all the checks of
// tcp_rcv_state_process()".
Verdict fin_wait2(TimeWaitTable& t, Handle h, const wire::Segment& s, const Policy& p,
                  std::int64_t now_ms, Counters& ctr, OowLimiter& oow) {
  const SegTs ts = check_paws(t, h, s, now_ms);
  const Seq rcv_nxt = t.rcv_nxt(h);
  const Seq end_seq = s.seq + s.seg_len();
  const std::uint32_t wnd = std::uint32_t{t.window(h)} << (t.wscale(h) ? p.rcv_wscale : 0);
  // 1. Out of window (or PAWS): a rate-limited ACK.
  if (ts.paws_reject || !in_window(s.seq, end_seq, rcv_nxt, rcv_nxt + wnd)) {
    return oow_ack(s, t, h, p, now_ms, ctr, oow, Counter::TcpExtTCPACKSkippedFinWait2);
  }
  // 2. A reset kills.
  if (s.has(wire::kRst)) return Verdict{Action::kDrop, true, {}};
  // 3. A SYN at or beyond rcv_nxt: reset and kill.
  if (s.has(wire::kSyn) && !(s.seq < rcv_nxt)) return Verdict{Action::kReset, true, {}};
  // 4. No ACK, or nothing new: a duplicate, dropped.
  if (!s.has(wire::kAck) || !(end_seq > rcv_nxt) || end_seq == s.seq) return Verdict{};
  // 5. New data after the half-close, or a FIN not exactly at rcv_nxt: reset.
  if (!s.has(wire::kFin) || end_seq != rcv_nxt + 1) return Verdict{Action::kReset, true, {}};
  // 6. The FIN: TIME_WAIT proper for TCP_TIMEWAIT_LEN, and an ACK. Linux
  // refreshes tw_entry_stamp only when the FIN carries a timestamp; the
  // compact entry always does (a later tcp_tw_reuse, never an earlier one).
  t.set_time_wait(h);
  t.set_rcv_nxt(h, end_seq);
  if (ts.saw) t.set_ts_recent(h, s.opt.tsval);
  t.rearm(h, now_ms, true);
  return Verdict{Action::kAck, false, {}};
}

// The TIME_WAIT substate (§3 steps 1-5).
Verdict time_wait(TimeWaitTable& t, Handle h, const wire::Segment& s, const Policy& p,
                  std::int64_t now_ms, Counters& ctr, OowLimiter& oow) {
  const SegTs ts = check_paws(t, h, s, now_ms);
  const Seq rcv_nxt = t.rcv_nxt(h);
  // 1. In window: a bare ACK re-arms; a reset kills unless tcp_rfc1337
  // (RFC 1337 "TIME-WAIT assassination"). Neither is answered.
  if (!ts.paws_reject && s.seq == rcv_nxt && (s.seg_len() == 0 || s.has(wire::kRst))) {
    if (s.has(wire::kRst)) {
      if (!p.rfc1337) return Verdict{Action::kDrop, true, {}};
    } else {
      t.rearm(h, now_ms);
    }
    if (ts.saw) t.set_ts_recent(h, s.opt.tsval);
    return Verdict{};
  }
  // 2. A new SYN (RFC 1122 §4.2.2.13: higher sequence; RFC 6191 §2: newer
  // timestamp) may reopen the tuple.
  if (s.has(wire::kSyn) && !s.has(wire::kRst | wire::kAck) && !ts.paws_reject &&
      (s.seq > rcv_nxt ||
       (ts.saw && static_cast<std::int32_t>(t.ts_recent(h) - s.opt.tsval) < 0))) {
    return Verdict{Action::kSyn, false, successor_isn(t.snd_nxt(h))};
  }
  // 3. PAWS rejected (LINUX_MIB_PAWS_TW_REJECTED, 6.16+).
  if (ts.paws_reject) ctr.inc(Counter::TcpExtPAWSTimewait);
  // 4. Anything but a reset is answered; it re-arms the timer unless it is
  // an ACK-less SYN, which may be a good new SYN with a low sequence number.
  if (!s.has(wire::kRst)) {
    if (ts.paws_reject || s.has(wire::kAck)) t.rearm(h, now_ms);
    return oow_ack(s, t, h, p, now_ms, ctr, oow, Counter::TcpExtTCPACKSkippedTimeWait);
  }
  // 5. Any other reset is dropped.
  return Verdict{};
}

}  // namespace

OowLimiter::OowLimiter(std::uint64_t seed) : seed_(seed), slots_(std::make_unique<Slot[]>(kSlots)) {}

std::uint32_t OowLimiter::slot_of(const FourTuple& t, std::uint32_t* key) const {
  const std::uint64_t h = wire::mix_tuple(t, seed_);
  *key = static_cast<std::uint32_t>(h >> 32) | 1u;  // never 0: 0 marks an empty slot
  return static_cast<std::uint32_t>(h % kSlots);
}

bool OowLimiter::limited(const FourTuple& t, std::int64_t now_ms, std::int64_t limit_ms,
                         Counters& ctr, Counter skipped) {
  std::uint32_t key = 0;
  Slot& s = slots_[slot_of(t, &key)];
  const auto now = static_cast<std::uint32_t>(now_ms);
  if (s.key == key && s.last_ms != 0) {
    const auto elapsed = static_cast<std::int32_t>(now - s.last_ms);
    if (elapsed >= 0 && elapsed < limit_ms) {
      ctr.inc(skipped);
      return true;
    }
  }
  s.key = key;
  s.last_ms = now == 0 ? 1 : now;
  return false;
}

void OowLimiter::forget(const FourTuple& t) {
  std::uint32_t key = 0;
  Slot& s = slots_[slot_of(t, &key)];
  if (s.key == key) s = Slot{};
}

std::int64_t ts_recent_stamp_ms(const TimeWaitTable& t, Handle h, std::int64_t now_ms) {
  if (t.fin_wait2(h)) return now_ms;
  return t.entry_ms(h);
}

Verdict on_segment(TimeWaitTable& t, Handle h, const wire::Segment& s, const Policy& p,
                   std::int64_t now_ms, Counters& ctr, OowLimiter& oow) {
  return t.fin_wait2(h) ? fin_wait2(t, h, s, p, now_ms, ctr, oow)
                        : time_wait(t, h, s, p, now_ms, ctr, oow);
}

bool reuse_candidate(const TimeWaitTable& t, Handle h, const Policy& p) {
  if (!t.has_ts(h) || t.fin_wait2(h) || p.tw_reuse == 0) return false;
  if (p.tw_reuse == 2) {
    // "Still does not detect *everything* that goes through lo": a loopback
    // source or destination address (tcp_twsk_unique).
    const FourTuple tu = t.tuple(h);
    return tu.laddr.is_loopback() || tu.raddr.is_loopback();
  }
  return true;
}

Reuse may_reuse(const TimeWaitTable& t, Handle h, bool bound_port, const Policy& p,
                std::int64_t now_ms) {
  // The old connection must have seen the peer's timestamps (tw_ts_recent_stamp):
  // the peer's PAWS is what makes the reuse safe.
  if (!t.has_ts(h)) return Reuse::kNo;
  if (bound_port) return Reuse::kYes;  // twp == NULL: no sysctl, no delay
  if (!reuse_candidate(t, h, p)) return Reuse::kNo;
  // time_after32(tcp_clock_ms(), tw_entry_stamp + tcp_tw_reuse_delay)
  return now_ms > t.entry_ms(h) + p.tw_reuse_delay.ms() ? Reuse::kYes : Reuse::kLater;
}

}  // namespace twstack::tw
