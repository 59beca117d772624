// Socket-level behaviour of a connection that socket options adjust:
// TCP_NOTSENT_LOWAT and writability (sk_stream_memory_free,
// sk_stream_is_writeable, tcp_check_space) and TCP_INQ's hint.
#include <algorithm>

#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

// tcp_notsent_lowat(): the socket's TCP_NOTSENT_LOWAT, else the sysctl's.
std::uint32_t notsent_lowat(const TcpParams& p, const Tcb& c) {
  return c.notsent_lowat != 0 ? c.notsent_lowat : p.notsent_lowat;
}

std::uint32_t send_limit(const TcpParams& p, const Tcb& c) { return std::min(c.sk_sndbuf, p.sndbuf); }

std::uint32_t notsent_bytes(const Tcb& c) {
  // write_seq - snd_nxt: Linux's snd_nxt never rewinds, twstack's SND.MAX.
  const Seq end = c.snd_data_end();
  return end > c.snd_max ? static_cast<std::uint32_t>(end - c.snd_max) : 0;
}

// tcp_stream_memory_free(sk, wake): (notsent_bytes << wake) < lowat. With
// `wake` (poll and wake-ups) the unsent bytes must fall below half the mark,
// so a writer is not woken for a few bytes.
bool stream_memory_free(const TcpParams& p, const Tcb& c, int wake) {
  return (std::uint64_t{notsent_bytes(c)} << wake) < notsent_lowat(p, c);
}

// __sk_stream_is_writeable(sk, 1), as tcp_poll and sk_stream_write_space
// ask it: free space at least half of what is queued (sk_stream_wspace >=
// sk_stream_min_wspace), sk_stream_memory_free, and TCP's own test above.
bool stream_writeable(const TcpParams& p, const Tcb& c) {
  const std::uint64_t queued = wmem_queued(c);
  const std::uint32_t limit = send_limit(p, c);
  return queued < limit && limit - queued >= queued / 2 && c.snd.space() > 0 && stream_memory_free(p, c, 1);
}

// What a write would take now: tcp_sendmsg_locked's skbs (push.cc).
std::uint32_t send_room(const TcpParams& p, const Tcb& c) {
  return plan_write(c, c.snd.space(), wmem_queued(c), send_limit(p, c), notsent_lowat(p, c)).take;
}

void check_space(const TcpParams& p, Tcb& c) {
  if (c.want_writable && stream_writeable(p, c)) {
    c.want_writable = false;
    c.events |= kEvWritable;
  }
}

// Linux calls tcp_check_space from tcp_data_snd_check, after the push that
// follows an ACK; twstack sends later, at the engine's flush, so the unsent
// bytes a TCP_NOTSENT_LOWAT counts are looked at again once they went out.
// With no mark (UINT_MAX, Linux's default) only ACKs make room, and
// take_ack has looked already.
void check_space_after_send(const TcpParams& p, Tcb& c) {
  if (notsent_lowat(p, c) != kNoNotsentLowat) check_space(p, c);
}

// do_tcp_setsockopt(TCP_NOTSENT_LOWAT): any value, then sk_write_space.
void set_notsent_lowat(const TcpParams& p, Tcb& c, std::uint32_t bytes) {
  c.notsent_lowat = bytes;
  check_space(p, c);
}

// tcp_inq_hint: rcv_nxt - copied_seq, so a FIN taken counts one byte past
// the data; and once the FIN was read (SOCK_DONE) still 1, "to continue
// reading" until read() returns 0.
std::uint32_t inq_hint(const Tcb& c) { return c.rcv.size() + (c.rcv_done ? 1u : 0u); }

}  // namespace twstack::tcp
