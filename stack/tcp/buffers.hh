// Socket buffer sizes as Linux 6.18 keeps them (sk_rcvbuf, sk_sndbuf), and
// the window clamp and window scale they give a connection.
//
// Linux's sizes count skb truesize and reach megabytes (net.ipv4.tcp_rmem,
// tcp_wmem, SO_RCVBUF, SO_SNDBUF). twstack keeps them as Linux does: they
// are what getsockopt reports and what the window scale is derived from,
// so the SYN says what Linux's says. The bytes a connection may hold are
// its chunk rings', whose capacity is the smaller of Linux's figure (the
// window clamp, tcp_full_space; sk_sndbuf) and the engine's own cap
// (twstack.rcvbuf and twstack.sndbuf, at most kMaxIndexedRingBytes).
// Every window
// advertised comes from the receive ring's free space: a large window
// scale never promises more than the ring can take.
#pragma once

#include <cstdint>

#include "stack/tcp/env.hh"
#include "stack/tcp/tcb.hh"
#include "stack/wire/segment.hh"

namespace twstack::tcp {

// SOCK_MIN_RCVBUF and SOCK_MIN_SNDBUF (include/net/sock.h) on x86-64:
// TCP_SKB_MIN_TRUESIZE = 2048 + SKB_DATA_ALIGN(sizeof(struct sk_buff)).
inline constexpr std::uint32_t kSockMinRcvbuf = 2304;
inline constexpr std::uint32_t kSockMinSndbuf = 2 * kSockMinRcvbuf;

// SO_RCVBUF / SO_SNDBUF given to a socket before it has a connection (a
// listener's pass to its children, as sk_clone_lock copies them), and
// TCP_MAXSEG, which travels the same way.
struct SockBufs {
  std::uint32_t rcvbuf = 0;  // sk_rcvbuf under SOCK_RCVBUF_LOCK; 0: not set
  std::uint32_t sndbuf = 0;  // sk_sndbuf under SOCK_SNDBUF_LOCK; 0: not set
  // TCP_MAXSEG (tp->rx_opt.user_mss): clamps the MSS we announce and the
  // one we send with (tcp_mss_clamp, tcp_parse_options); 0: not set.
  std::uint16_t user_mss = 0;

  bool operator==(const SockBufs&) const = default;
};

// setsockopt(SO_RCVBUF / SO_SNDBUF, val): the size it sets (sock_setsockopt,
// __sock_set_rcvbuf, sock_set_sndbuf): val capped at net.core.rmem_max
// (wmem_max; a negative val counts as huge), doubled "for struct sk_buff
// overhead", at least SOCK_MIN_RCVBUF (SOCK_MIN_SNDBUF).
std::uint32_t so_rcvbuf_size(const TcpParams& p, int val);
std::uint32_t so_sndbuf_size(const TcpParams& p, int val);

// tcp_full_space(): the window a receive buffer of `rcvbuf` allows
// (tcp_win_from_space with the default scaling_ratio, 50 %).
constexpr std::uint32_t full_space(std::uint32_t rcvbuf) { return rcvbuf / 2; }

// A new connection's sizes (tcp_init_sock: tcp_rmem[1], tcp_wmem[1], or
// what SO_RCVBUF/SO_SNDBUF set), its window clamp and window scale
// (tcp_connect_init / tcp_openreq_init_rwin with tcp_select_initial_window),
// and its rings' capacities.
void init_buffers(const TcpParams& p, Tcb& c, const SockBufs& b);

// The window scale of a socket with no SO_RCVBUF, one per engine (the
// TIME_WAIT table's and SYN cookies').
std::uint8_t default_rcv_wscale(const TcpParams& p);

// The window a SYN or SYN-ACK offers (tcp_select_initial_window's rcv_wnd:
// the clamped space rounded down to `mss`, at most 65535), within the
// receive ring's space.
std::uint32_t syn_rcv_wnd(const Tcb& c, std::uint32_t mss);

// The receive ring holds what the window clamp and the receive buffer allow,
// within the engine's cap (twstack.rcvbuf).
std::uint32_t rcv_ring_capacity(const TcpParams& p, const Tcb& c);

// SO_RCVBUF / SO_SNDBUF on a connection: the size from so_*buf_size(),
// locked. The receive ring never shrinks below a window already offered.
void set_rcvbuf(const TcpParams& p, Tcb& c, std::uint32_t sk_rcvbuf);
void set_sndbuf(const TcpParams& p, Tcb& c, std::uint32_t sk_sndbuf);

// Receive-buffer auto-tuning (rcv_space.cc), as Linux 6.18 does it with
// net.ipv4.tcp_moderate_rcvbuf. At ESTABLISHED, tcp_init_buffer_space
// starts the first measure; each in-order data segment (tcp_event_data_recv:
// tcp_rcv_rtt_measure) and each segment with a timestamp echo
// (tcp_rcv_rtt_measure_ts) feed the receiver's RTT; each read
// (tcp_recvmsg: tcp_rcv_space_adjust) grows an unlocked sk_rcvbuf to what
// the last RTT's reading needs, up to tcp_rmem[2], and the window clamp and
// the receive ring follow.
void rcv_space_init(const Env& e, Tcb& c);
void rcv_rtt_measure(const Env& e, Tcb& c);
void rcv_rtt_measure_ts(const Env& e, Tcb& c, const wire::Segment& s);
void rcv_space_adjust(const Env& e, Tcb& c);

// tcp_sndbuf_expand: an unlocked send buffer grows to twice the data a
// window of max(cwnd, 10) segments takes (tcp_init_buffer_space, and
// tcp_new_space as cwnd grows), at most tcp_wmem[2].
void sndbuf_expand(const TcpParams& p, Tcb& c);

}  // namespace twstack::tcp
