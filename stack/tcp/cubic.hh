// CUBIC congestion control (RFC 9438) as Linux's tcp_cubic.c with its
// defaults (beta 717/1024, bic_scale 41, fast convergence, TCP
// friendliness, HyStart with ACK-train and delay detection), in integer
// arithmetic. Windows are counted in segments of `smss` bytes, as Linux
// counts packets; the Tcb's cwnd and ssthresh stay in bytes.
#pragma once

#include <cstdint>

#include "stack/tcp/congestion.hh"
#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

// Linux cubic_root(): floor(cbrt(a)).
std::uint32_t cubic_root(std::uint64_t a);

// cubictcp_init: HyStart's first round.
void cubic_init(Env& e, Tcb& c);
// cubictcp_cong_avoid after slow start: the cubic window (bictcp_update)
// and tcp_cong_avoid_ai. `acked` is in bytes.
void cubic_cong_avoid(Env& e, Tcb& c, std::uint32_t smss, std::uint32_t acked);
// cubictcp_recalc_ssthresh, in bytes: W_max with fast convergence, and
// ssthresh = max(cwnd * beta, 2) segments. Ends the epoch.
std::uint32_t cubic_ssthresh(Tcb& c, std::uint32_t smss);
// cubictcp_state(TCP_CA_Loss): a timeout forgets the curve (bictcp_reset)
// and restarts HyStart.
void cubic_on_timeout(Env& e, Tcb& c);
// cubictcp_cwnd_event(CA_EVENT_TX_START): data leaves after the flight
// emptied; the epoch moves by the idle time so the curve does not count it.
void cubic_on_tx_start(Env& e, Tcb& c);
// Without timestamps, while HyStart may still end slow start: a send pass
// sent new data from `from` to SND.MAX now (cubic_state.hh tx records).
inline bool cubic_records_sends(const Tcb& c) {
  return c.cubic.algo == CongestionAlgo::kCubic && !c.ts_ok && !c.cubic.found && c.cwnd < c.ssthresh;
}
void cubic_on_send(Env& e, Tcb& c, Seq from);
// Linux ca_rtt_us for an ACK up to `ack`: the time since the newest segment
// it acknowledges was sent, from the records (spent ones dropped); -1 when
// they do not say.
std::int64_t cubic_sent_rtt(Env& e, Tcb& c, Seq ack);
// cubictcp_acked: an RTT sample, for delay_min and HyStart.
void cubic_on_rtt(Env& e, Tcb& c, std::int64_t rtt_us);

// Window growth on new data ACKed, by the connection's algorithm: a switch,
// not a virtual call. Slow start is RFC 5681's for both. Neither grows a
// window the sender did not use (tcp_reno_cong_avoid and cubictcp_cong_avoid
// return first unless tcp_is_cwnd_limited).
inline void cc_grow(Env& e, Tcb& c, std::uint32_t smss, std::uint32_t acked) {
  if (!cwnd_limited(c)) return;
  if (c.cubic.algo == CongestionAlgo::kCubic && c.cwnd >= c.ssthresh) {
    cubic_cong_avoid(e, c, smss, acked);
  } else {
    grow_cwnd(c, smss, acked);
  }
}

}  // namespace twstack::tcp
