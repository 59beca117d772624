// Socket-level behaviour of a connection that socket options adjust:
// TCP_NOTSENT_LOWAT and writability (sk_stream_memory_free,
// sk_stream_is_writeable, tcp_check_space) and TCP_INQ's hint.
#include <algorithm>

#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

namespace {

// tcp_notsent_lowat(): the socket's TCP_NOTSENT_LOWAT, else the sysctl's.
std::uint32_t notsent_lowat(const TcpParams& p, const Tcb& c) {
  return c.notsent_lowat != 0 ? c.notsent_lowat : p.notsent_lowat;
}

}  // namespace

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
// sk_stream_min_wspace), and TCP's own test above.
bool stream_writeable(const TcpParams& p, const Tcb& c) {
  return c.snd.space() > 0 && c.snd.space() >= c.snd.size() / 2 && stream_memory_free(p, c, 1);
}

// tcp_sendmsg_locked takes data while sk_stream_memory_free: buffer space,
// and unsent bytes below TCP_NOTSENT_LOWAT. Linux checks at each new skb
// and fills the skb it has started up to its size goal; twstack, with no
// skbs, takes bytes up to the mark.
std::uint32_t send_room(const TcpParams& p, const Tcb& c) {
  const std::uint32_t notsent = notsent_bytes(c);
  const std::uint32_t lowat = notsent_lowat(p, c);
  return notsent < lowat ? std::min(c.snd.space(), lowat - notsent) : 0;
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
