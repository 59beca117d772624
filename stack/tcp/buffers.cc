// Socket buffer sizes as Linux 6.18 keeps them (buffers.hh).
#include "stack/tcp/buffers.hh"

#include <algorithm>
#include <bit>

#include "stack/tcp/chunk_ring.hh"
#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

namespace {

constexpr std::uint32_t kMaxWscale = 14;  // TCP_MAX_WSCALE (RFC 7323 §2.3)

// An skb taken while sk_wmem_queued < sk_sndbuf is filled to the size goal,
// at most GSO_LEGACY_MAX_SIZE (tcp_sendmsg_locked): the ring holds that much
// past sk_sndbuf.
constexpr std::uint32_t kSkbPastSndbuf = 65536;

std::uint32_t snd_ring_capacity(const TcpParams& p, const Tcb& c) {
  return std::min(p.sndbuf, c.sk_sndbuf + kSkbPastSndbuf);
}

// twstack.sndbuf's and twstack.rcvbuf's upper bound (stack/base/config.hh)
// is what a ring holds.
static_assert(kMaxIndexedRingBytes == 66058240);

std::uint32_t so_buf_size(int val, std::uint32_t cap, std::uint32_t floor) {
  // min_t(u32, val, sysctl_*mem_max): a negative val is a huge u32.
  std::uint32_t v = std::min(static_cast<std::uint32_t>(val), cap);
  v = std::min<std::uint32_t>(v, 0x7fffffff / 2);  // val * 2 fits an int
  return std::max(v * 2, floor);
}

// tcp_select_initial_window's window scale: the shift that covers the
// largest window the socket could ever offer, max(space, tcp_rmem[2],
// rmem_max), within the clamp; ilog2(space) - 15, in 0..14.
std::uint8_t select_wscale(const TcpParams& p, std::uint32_t space, std::uint32_t clamp) {
  if (!p.window_scaling) return 0;
  space = std::max(space, static_cast<std::uint32_t>(p.rmem.max));
  space = std::max(space, p.rmem_max);
  space = std::min(space, clamp);
  const int shift = std::bit_width(space) - 1 - 15;
  return static_cast<std::uint8_t>(std::clamp<int>(shift, 0, kMaxWscale));
}


// tcp_connect_init / tcp_openreq_init_rwin, then tcp_select_initial_window:
// the window clamp and the window scale. A receive buffer set by SO_RCVBUF
// clamps the window to its full space ("limit the window selection if the
// user enforce a smaller rx buffer"), and with it the window scale.
void select_window(const TcpParams& p, Tcb& c) {
  const std::uint32_t full = full_space(c.sk_rcvbuf);
  std::uint32_t clamp = c.window_clamp;
  if (c.rcvbuf_lock && (clamp > full || clamp == 0)) clamp = full;
  if (clamp == 0) clamp = 0xffffu << kMaxWscale;
  c.rcv_wscale = select_wscale(p, std::min(clamp, full), clamp);
  c.window_clamp = std::min(0xffffu << c.rcv_wscale, clamp);
}

}  // namespace

std::uint32_t rcv_ring_capacity(const TcpParams& p, const Tcb& c) {
  return std::min({p.rcvbuf, c.window_clamp, full_space(c.sk_rcvbuf)});
}

std::uint32_t so_rcvbuf_size(const TcpParams& p, int val) {
  return so_buf_size(val, p.rmem_max, kSockMinRcvbuf);
}

std::uint32_t so_sndbuf_size(const TcpParams& p, int val) {
  return so_buf_size(val, p.wmem_max, kSockMinSndbuf);
}

void init_buffers(const TcpParams& p, Tcb& c, const SockBufs& b) {
  // tcp_init_sock: sk_sndbuf = tcp_wmem[1], sk_rcvbuf = tcp_rmem[1]; a
  // child takes its listener's (sk_clone_lock), locks included.
  c.rcvbuf_lock = b.rcvbuf != 0;
  c.sndbuf_lock = b.sndbuf != 0;
  c.sk_rcvbuf = c.rcvbuf_lock ? b.rcvbuf : static_cast<std::uint32_t>(p.rmem.def);
  c.sk_sndbuf = c.sndbuf_lock ? b.sndbuf : static_cast<std::uint32_t>(p.wmem.def);
  c.window_clamp = 0;
  select_window(p, c);
  c.rcv.init(rcv_ring_capacity(p, c));
  c.snd.init(snd_ring_capacity(p, c));
}

std::uint8_t default_rcv_wscale(const TcpParams& p) {
  const std::uint32_t full = full_space(static_cast<std::uint32_t>(p.rmem.def));
  return select_wscale(p, full, 0xffffu << kMaxWscale);
}

std::uint32_t syn_rcv_wnd(const Tcb& c, std::uint32_t mss) {
  // tcp_select_initial_window: space = min(window_clamp, tcp_full_space),
  // rounded down to the MSS, at most U16_MAX (tcp_workaround_signed_windows=0).
  std::uint32_t space = std::min(c.window_clamp, full_space(c.sk_rcvbuf));
  if (mss > 0 && space > mss) space -= space % mss;
  return std::min({space, c.rcv.space(), 0xffffu});
}

void set_rcvbuf(const TcpParams& p, Tcb& c, std::uint32_t sk_rcvbuf) {
  c.sk_rcvbuf = sk_rcvbuf;
  c.rcvbuf_lock = true;
  // The window scale went out with the SYN; the clamp follows the new
  // buffer (tcp_select_window never offers more than the buffer's space).
  c.window_clamp = std::min(0xffffu << c.rcv_wscale, std::max(full_space(sk_rcvbuf), 1u));
  // Never below what the ring holds or a window already offered (RFC 7323
  // §2.4: the right edge does not move left).
  const std::uint32_t offered =
      c.rcv_adv > c.rcv_nxt ? static_cast<std::uint32_t>(c.rcv_adv - c.rcv_nxt) : 0;
  c.rcv.set_capacity(std::max(rcv_ring_capacity(p, c), c.rcv.size() + offered));
}

void set_sndbuf(const TcpParams& p, Tcb& c, std::uint32_t sk_sndbuf) {
  c.sk_sndbuf = sk_sndbuf;
  c.sndbuf_lock = true;
  c.snd.set_capacity(snd_ring_capacity(p, c));
  // sk_write_space: a writer refused space wakes if it is writeable now.
  check_space(p, c);
}

void sndbuf_expand(const TcpParams& p, Tcb& c) {
  if (c.sndbuf_lock) return;
  // per_mss: the worst case of one skb per segment, its head a power of two
  // (mss + MAX_TCP_HEADER + skb_shared_info), plus the sk_buff; x86-64
  // sizes: MAX_TCP_HEADER 320, skb_shared_info 320, sk_buff 256.
  const std::uint32_t per_mss = std::bit_ceil(std::uint32_t{c.mss} + 320 + 320) + 256;
  const std::uint32_t smss = c.mss == 0 ? 1 : c.mss;
  const std::uint32_t nr_segs = std::max<std::uint32_t>({10 /* TCP_INIT_CWND */, c.cwnd / smss,
                                                         3 + 1 /* tp->reordering + 1 */});
  // Fast recovery (RFC 5681 §3.2): cubic's 1.7 factor rounded up to 2.
  const std::uint64_t sndmem = 2ull * nr_segs * per_mss;
  if (c.sk_sndbuf < sndmem) {
    c.sk_sndbuf = static_cast<std::uint32_t>(std::min<std::uint64_t>(sndmem, static_cast<std::uint32_t>(p.wmem.max)));
    c.snd.set_capacity(snd_ring_capacity(p, c));
  }
}

}  // namespace twstack::tcp
