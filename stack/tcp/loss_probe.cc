// Tail loss probes (RFC 8985 §7; Linux tcp_schedule_loss_probe,
// tcp_send_loss_probe, tcp_process_tlp_ack).
#include "stack/tcp/loss_probe.hh"

#include <algorithm>

#include "stack/tcp/congestion.hh"

namespace twstack::tcp {

namespace {

constexpr std::int64_t kTimeoutMinUs = 2000;      // TCP_TIMEOUT_MIN: 2 jiffies at HZ=1000
constexpr std::int64_t kTimeoutInitUs = 1000000;  // TCP_TIMEOUT_INIT

// RFC 8985 §7.2 / tcp_schedule_loss_probe: PTO = 2 * SRTT, plus room for
// a delayed ACK (the RTO minimum, as Linux) when one segment is in flight.
std::int64_t pto_us(const Env& e, const Tcb& c) {
  if (c.srtt_us == 0) return kTimeoutInitUs;
  const std::uint32_t data = c.flight() - (c.fin_sent() ? 1u : 0u);
  return 2 * c.srtt_us + (data <= payload_mss(c) ? e.p.rto_min.us : kTimeoutMinUs);
}

// One new segment regardless of cwnd (tcp_write_xmit with push_one = 2),
// if the peer's window has room for it.
bool probe_new_data(Env& e, Tcb& c) {
  if (c.snd_nxt != c.snd_max) return false;
  const Seq end = c.snd_data_end();
  const std::uint32_t out = static_cast<std::uint32_t>(c.snd_nxt - c.snd_una);
  const std::uint32_t avail = c.snd_nxt < end ? static_cast<std::uint32_t>(end - c.snd_nxt) : 0;
  const std::uint32_t wnd = c.snd_wnd > out ? c.snd_wnd - out : 0;
  const std::uint32_t len = std::min({avail, wnd, payload_mss(c)});
  if (len == 0 || len < std::min(avail, payload_mss(c))) return false;  // tcp_snd_wnd_test
  const bool fin = c.fin_queued && c.snd_nxt + len == end;
  // A packet of one segment: PSH only where a write's mark falls (push.cc).
  std::uint8_t flags = wire::kAck | (push_due(c, c.snd_nxt, len) ? wire::kPsh : 0) | (fin ? wire::kFin : 0);
  if (!emit(e, c, c.snd_nxt, flags, len)) return false;
  e.ctr.inc(Counter::TcpExtTCPOrigDataSent);
  c.snd_nxt += len + (fin ? 1u : 0u);
  c.snd_max = c.snd_nxt;
  return true;
}

// The last segment again, at most one MSS from the end of what was sent
// (tcp_send_loss_probe fragments a larger tail skb the same way), with the
// PSH its skb has (__tcp_retransmit_skb keeps the skb's flags; the part
// tcp_fragment cuts off the end keeps its PSH).
bool probe_last_segment(Env& e, Tcb& c) {
  const Seq end = seq_min(c.snd_data_end(), c.snd_max);
  const std::uint32_t data = end > c.snd_una ? static_cast<std::uint32_t>(end - c.snd_una) : 0;
  const std::uint32_t len = std::min(data, payload_mss(c));
  const bool fin = c.fin_sent();
  if (len == 0 && !fin) return false;
  const std::uint8_t flags = wire::kAck | (fin ? wire::kFin : 0) | (len > 0 && push_due(c, end - len, len) ? wire::kPsh : 0);
  if (!emit(e, c, end - len, flags, len)) return false;
  e.ctr.inc(Counter::TcpRetransSegs);
  return true;
}

}  // namespace

bool tlp_schedule(Env& e, Tcb& c, bool advancing) {
  // tcp_early_retrans 3 or 4, a SACK connection, data in flight, and
  // neither fast recovery nor a timeout's recovery under way (Open state).
  if ((e.p.early_retrans != 3 && e.p.early_retrans != 4) || !c.sack.ok) return false;
  if (c.snd_max == c.snd_una || c.in_recovery || c.snd_una < c.recover) return false;
  // Not in Disorder either (SACKed data: tcp_schedule_loss_probe wants
  // TCP_CA_Open), nor over RACK's reordering timer (RFC 8985 §7.2).
  if (c.sack.num_sacked != 0 || c.rack.reo_armed) return false;
  if (!in_state(c.state, kSynchronized) || !c.syn_acked() || c.state == State::kTimeWait) return false;
  // "If the RTO formula yields an earlier time, then use that time."
  std::int64_t cap = c.rto_us;
  const bool running = !advancing && c.rtx_timer.active();
  if (running && !c.tlp.pto_armed) cap = static_cast<std::int64_t>(c.rtx_timer.expiry()) * kUsPerTick - e.now.us;
  const std::int64_t pto = std::min(pto_us(e, c), cap);
  // The timer already falls on that tick (the RTO just armed, with no RTT
  // sample or one segment in flight): it only changes meaning.
  if (!(running && c.rtx_timer.expiry() == e.tick_now() + (pto <= 0 ? 1 : e.ticks(pto)))) e.arm(c.rtx_timer, pto);
  c.tlp.pto_armed = true;
  return true;
}

void tlp_on_timeout(Env& e, Tcb& c) {
  c.tlp.pto_armed = false;
  // At most one probe outstanding (tcp_send_loss_probe).
  if (!c.tlp.out) {
    bool sent = probe_new_data(e, c);
    c.tlp.retrans = !sent;
    if (!sent) sent = probe_last_segment(e, c);
    if (sent) {
      c.tlp.out = true;
      c.tlp.high_seq = c.snd_nxt;
      e.ctr.inc(Counter::TcpExtTCPLossProbes);
    }
  }
  arm_rto(e, c);  // tcp_rearm_rto: the RTO runs on behind the probe
}

void tlp_on_ack(Env& e, Tcb& c, Seq ack, bool dsack, bool dup) {
  if (ack < c.tlp.high_seq) return;
  if (!c.tlp.retrans || dsack) {
    // New data acknowledged, or a D-SACK: the original and the probe both
    // arrived, no loss.
    c.tlp.out = false;
  } else if (ack > c.tlp.high_seq) {
    // The probe repaired a loss: reduce cwnd once (tcp_init_cwnd_reduction
    // and tcp_end_cwnd_reduction, the CWR state entered and left at once).
    c.tlp.out = false;
    c.ssthresh = reduced_ssthresh(c, payload_mss(c));
    c.cwnd = c.ssthresh;
    e.ctr.inc(Counter::TcpExtTCPLossProbeRecovery);
  } else if (dup) {
    c.tlp.out = false;  // a pure duplicate: both arrived
  }
}

}  // namespace twstack::tcp
