// Receive-buffer auto-tuning as Linux 6.18 does it (buffers.hh): the
// receiver's own RTT estimate and tcp_rcv_space_adjust's "dynamic right
// sizing" of sk_rcvbuf from what the application read in that RTT.
#include <algorithm>

#include "stack/tcp/buffers.hh"
#include "stack/tcp/chunk_ring.hh"
#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

namespace {

// tp->copied_seq: the first byte the application has not read.
Seq copied_seq(const Tcb& c) { return c.rcv_nxt - c.rcv.size(); }

// tp->rcv_wnd: the window last advertised.
std::uint32_t rcv_wnd(const Tcb& c) { return c.rcv_adv > c.rcv_wup ? static_cast<std::uint32_t>(c.rcv_adv - c.rcv_wup) : 0; }

// tcp_rcv_rtt_update: without timestamps (win_dep) only a new minimum is
// taken, a window's worth of data being a coarse sample; with them the
// estimate moves 1/8 of the way.
void rcv_rtt_update(Tcb& c, std::uint32_t sample_us, bool win_dep) {
  const std::uint32_t old = c.rcv_rtt8_us;
  const std::uint32_t m = std::min<std::uint32_t>(sample_us, 0x1fffffff) << 3;
  if (old == 0 || m < old) {
    c.rcv_rtt8_us = m;
  } else if (!win_dep) {
    c.rcv_rtt8_us = old - (old >> 3) + sample_us;
  }
}

}  // namespace

void rcv_space_init(const Env& e, Tcb& c) {
  // tcp_init_buffer_space: rcvq_space.space = min3(rcv_ssthresh, rcv_wnd,
  // TCP_INIT_CWND * advmss); twstack's rcv_ssthresh is its window.
  c.rcvq_time_us = e.now.us;
  c.rcvq_seq = copied_seq(c);
  c.rcvq_space = std::min(rcv_wnd(c), 10u * c.advmss);
}

void rcv_rtt_measure(const Env& e, Tcb& c) {
  // tcp_rcv_rtt_measure: the time a window's worth of data takes to come.
  if (c.rcv_rtt_time_us >= 0) {
    if (c.rcv_nxt < c.rcv_rtt_seq) return;
    const std::int64_t d = std::max<std::int64_t>(e.now.us - c.rcv_rtt_time_us, 1);
    rcv_rtt_update(c, static_cast<std::uint32_t>(std::min<std::int64_t>(d, 0x7fffffff)), true);
  }
  c.rcv_rtt_seq = c.rcv_nxt + rcv_wnd(c);
  c.rcv_rtt_time_us = e.now.us;
}

void rcv_rtt_measure_ts(const Env& e, Tcb& c, const wire::Segment& s) {
  // tcp_rcv_rtt_measure_ts: a new echo on a full segment; tcp_rtt_tsopt_us
  // with min_delta 0, so an echo of this very tick gives no sample.
  if (s.opt.tsecr == c.rcv_rtt_last_tsecr) return;
  c.rcv_rtt_last_tsecr = s.opt.tsecr;
  if (s.len < c.rcv_mss) return;
  const std::int32_t ticks = static_cast<std::int32_t>(ts_now(e, c) - s.opt.tsecr);
  if (ticks > 0 && ticks < 0x7fffffff / 1000) rcv_rtt_update(c, static_cast<std::uint32_t>(ticks) * 1000, false);
}

void rcv_space_adjust(const Env& e, Tcb& c) {
  // tcp_rcv_space_adjust, after the application read: once per receiver RTT.
  const std::int64_t time = e.now.us - c.rcvq_time_us;
  if (c.rcv_rtt8_us == 0 || time < (c.rcv_rtt8_us >> 3)) return;
  const Seq copied_to = copied_seq(c);
  // Bytes read in the last RTT, less those still queued.
  const std::int64_t copied = std::int64_t{copied_to - c.rcvq_seq} - std::int64_t{c.rcv_nxt - copied_to};
  if (copied > std::int64_t{c.rcvq_space}) {
    if (e.p.moderate_rcvbuf && !c.rcvbuf_lock) {
      // Twice the RTT's bytes for losses, 16 segments of cushion, and twice
      // the growth again for a sender in slow start.
      std::uint64_t rcvwin = (static_cast<std::uint64_t>(copied) << 1) + 16ull * c.advmss;
      const std::uint64_t grow = rcvwin * static_cast<std::uint64_t>(copied - c.rcvq_space) / std::max(c.rcvq_space, 1u);
      rcvwin += grow << 1;
      // tcp_space_from_win at the default scaling ratio (50 %), at most tcp_rmem[2].
      const std::uint64_t rcvbuf = std::min<std::uint64_t>(rcvwin * 2, static_cast<std::uint32_t>(e.p.rmem.max));
      if (rcvbuf > c.sk_rcvbuf) {
        c.sk_rcvbuf = static_cast<std::uint32_t>(rcvbuf);
        // "Make the window clamp follow along" (within the window scale).
        c.window_clamp = std::min(0xffffu << c.rcv_wscale, full_space(c.sk_rcvbuf));
        c.rcv.set_capacity(std::max(rcv_ring_capacity(e.p, c), c.rcv.capacity()));
      }
    }
    c.rcvq_space = static_cast<std::uint32_t>(std::min<std::int64_t>(copied, 0xffffffff));
  }
  c.rcvq_seq = copied_to;
  c.rcvq_time_us = e.now.us;
}

}  // namespace twstack::tcp
