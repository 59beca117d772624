// setsockopt/getsockopt, fcntl and ioctl. An option that maps to behaviour
// twstack does not have fails with ENOPROTOOPT: never accepted and ignored.
#include <fcntl.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <linux/sock_diag.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "drivers/packetdrill/host.hh"
#include "stack/tcp/rack.hh"

namespace twstack::pd {

namespace {

int fail(int e) {
  errno = e;
  return -1;
}

int put(void* val, socklen_t* len, const void* src, std::size_t n) {
  if (val == nullptr || len == nullptr) return fail(EFAULT);
  std::size_t k = std::min<std::size_t>(*len, n);
  std::memcpy(val, src, k);
  *len = static_cast<socklen_t>(k);
  return 0;
}

int put_int(void* val, socklen_t* len, int v) {
  if (len != nullptr && *len < sizeof(int)) return fail(EINVAL);
  return put(val, len, &v, sizeof v);
}

// Linux's TCP_* state numbers (include/net/tcp_states.h).
std::uint8_t linux_state(tcp::State s) {
  switch (s) {
    case tcp::State::kEstablished: return 1;
    case tcp::State::kSynSent: return 2;
    case tcp::State::kSynReceived: return 3;
    case tcp::State::kFinWait1: return 4;
    case tcp::State::kFinWait2: return 5;
    case tcp::State::kTimeWait: return 6;
    case tcp::State::kClosed: return 7;
    case tcp::State::kCloseWait: return 8;
    case tcp::State::kLastAck: return 9;
    case tcp::State::kListen: return 10;
    case tcp::State::kClosing: return 11;
  }
  return 7;
}

std::uint32_t us(std::int64_t v) { return v < 0 ? 0 : static_cast<std::uint32_t>(v); }

// TCP_INFO with Linux's field names, for what twstack tracks (tcp_get_info).
tcp_info info_of(const tcp::Tcb* t, tcp::State listen_or_closed) {
  tcp_info i{};
  if (t == nullptr) {
    i.tcpi_state = linux_state(listen_or_closed);
    return i;
  }
  i.tcpi_state = linux_state(t->state);
  // tcp_get_info: sacked_out counts SACKed segments; icsk_ca_state is
  // TCP_CA_Disorder while any are (tcp_try_to_open), TCP_CA_Recovery in
  // fast recovery.
  std::uint32_t sacked = 0;
  for (std::uint8_t k = 0; k < t->sack.num_sacked && t->mss != 0; ++k) {
    sacked += (t->sack.sacked[k].size() + t->mss - 1) / t->mss;
  }
  i.tcpi_sacked = sacked;
  i.tcpi_ca_state = t->in_recovery ? 3 /* TCP_CA_Recovery */ : sacked > 0 ? 1 /* TCP_CA_Disorder */ : 0;
  i.tcpi_backoff = t->backoff;
  i.tcpi_retransmits = t->backoff;
  i.tcpi_probes = t->probes;
  i.tcpi_options = static_cast<std::uint8_t>((t->ts_ok ? TCPI_OPT_TIMESTAMPS : 0) |
                                             (t->wscale_ok ? TCPI_OPT_WSCALE : 0));
  i.tcpi_snd_wscale = t->snd_wscale & 0xf;
  i.tcpi_rcv_wscale = t->rcv_wscale & 0xf;
  i.tcpi_rto = us(t->rto_us);
  i.tcpi_snd_mss = t->mss;
  i.tcpi_unacked = t->mss == 0 ? 0 : (t->snd_nxt - t->snd_una + t->mss - 1) / t->mss;
  i.tcpi_rtt = us(t->srtt_us);
  i.tcpi_rttvar = us(t->rttvar_us);
  // An ssthresh not yet set reads TCP_INFINITE_SSTHRESH, as Linux's.
  i.tcpi_snd_ssthresh = t->ssthresh == 0xffffffff ? 0x7fffffff
                        : t->mss == 0            ? 0
                                                 : std::min<std::uint32_t>(t->ssthresh / t->mss, 0x7fffffff);
  i.tcpi_snd_cwnd = t->mss == 0 ? 0 : t->cwnd / t->mss;
  i.tcpi_advmss = t->advmss;
  i.tcpi_pmtu = 1500;
  // tp->reordering and tp->reord_seen (tcp_check_sack_reordering), lost_out
  // and retrans_out from RACK's marks (stack/tcp/rack.hh).
  i.tcpi_reordering = t->rack.reordering;
  i.tcpi_reord_seen = t->rack.reord_seen;
  i.tcpi_lost = tcp::rack_lost_segs(*t, t->mss);
  i.tcpi_retrans = tcp::rack_rtx_out_segs(*t, t->mss);
  i.tcpi_bytes_acked = t->snd_una - t->iss > 0 ? static_cast<std::uint32_t>(t->snd_una - t->iss) - 1 : 0;
  i.tcpi_bytes_received = t->rcv_nxt - t->irs > 0 ? static_cast<std::uint32_t>(t->rcv_nxt - t->irs) - 1 : 0;
  const std::uint32_t in_flight = t->snd_nxt - t->snd_una;
  i.tcpi_notsent_bytes = t->snd.size() > in_flight ? t->snd.size() - in_flight : 0;
  i.tcpi_snd_wnd = t->snd_wnd;
  return i;
}

// TCP_KEEPIDLE/TCP_KEEPINTVL as getsockopt reports them: the socket's own,
// else the sysctl's (keepalive_time_when, keepalive_intvl_when), in seconds.
int keep_secs(int own, Duration sysctl) { return own != 0 ? own : static_cast<int>(sysctl.us / 1000000); }

}  // namespace

int Host::apply_opts(Sock& s) {
  if (s.kind != Kind::kConn) return 0;
  eng_->set_nodelay(s.conn, s.nodelay);
  if (s.cork) eng_->set_cork(s.conn, true);
  Errc e = eng_->set_keepalive_params(s.conn, Duration::seconds(s.keepidle_s), Duration::seconds(s.keepintvl_s),
                                      static_cast<std::uint32_t>(s.keepcnt));
  if (e == Errc::kOk) e = eng_->set_user_timeout(s.conn, s.user_timeout_ms);
  if (e == Errc::kOk) e = eng_->set_keepalive(s.conn, s.keepalive);
  if (e == Errc::kOk) e = eng_->set_notsent_lowat(s.conn, s.notsent_lowat);
  return e == Errc::kOk ? 0 : to_errno(e);
}


int Host::getsockopt(int fd, int level, int name, void* val, socklen_t* len) {
  Lock lk(mu_);
  Sock* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  const tcp::Tcb* t = tcb(*s);
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_ERROR: return put_int(val, len, so_error(*s));
      case SO_REUSEADDR: return put_int(val, len, s->reuseaddr ? 1 : 0);
      case SO_KEEPALIVE: return put_int(val, len, s->keepalive ? 1 : 0);
      case SO_TYPE: return put_int(val, len, SOCK_STREAM);
      // sk_sndbuf / sk_rcvbuf: tcp_wmem[1] / tcp_rmem[1] until SO_SNDBUF /
      // SO_RCVBUF sets them (tcp_init_sock), then the connection's.
      case SO_SNDBUF:
        return put_int(val, len, static_cast<int>(t != nullptr ? t->sk_sndbuf
                                                  : s->bufs.sndbuf != 0 ? s->bufs.sndbuf
                                                                        : opt_.cfg.tcp_wmem.def));
      case SO_RCVBUF:
        return put_int(val, len, static_cast<int>(t != nullptr ? t->sk_rcvbuf
                                                  : s->bufs.rcvbuf != 0 ? s->bufs.rcvbuf
                                                                        : opt_.cfg.tcp_rmem.def));
      case SO_LINGER: {
        linger l{s->linger_on ? 1 : 0, s->linger_secs};
        return put(val, len, &l, sizeof l);
      }
      case SO_MEMINFO: {
        // sk_get_meminfo's slots, in bytes of data (Linux counts buffer
        // truesize); what twstack does not track stays 0.
        std::uint32_t m[SK_MEMINFO_VARS] = {};
        if (t != nullptr) {
          m[SK_MEMINFO_RMEM_ALLOC] = t->rcv.size();
          m[SK_MEMINFO_RCVBUF] = t->sk_rcvbuf;
          m[SK_MEMINFO_SNDBUF] = t->sk_sndbuf;
          m[SK_MEMINFO_WMEM_QUEUED] = t->snd.size();
        }
        return put(val, len, m, sizeof m);
      }
      default: return fail(ENOPROTOOPT);
    }
  }
  if (level != IPPROTO_TCP) return fail(ENOPROTOOPT);
  switch (name) {
    case TCP_NODELAY: return put_int(val, len, s->nodelay ? 1 : 0);
    case TCP_CORK: return put_int(val, len, s->cork ? 1 : 0);
    // do_tcp_getsockopt: mss_cache (TCP_MSS_DEFAULT before any), but
    // TCP_MAXSEG's value in CLOSE and LISTEN.
    case TCP_MAXSEG:
      if (s->bufs.user_mss != 0 && (t == nullptr || t->state == tcp::State::kClosed)) {
        return put_int(val, len, s->bufs.user_mss);
      }
      return put_int(val, len, t != nullptr ? t->mss : 536);
    case TCP_NOTSENT_LOWAT: return put_int(val, len, static_cast<int>(s->notsent_lowat));
    case TCP_INQ: return put_int(val, len, s->recvmsg_inq ? 1 : 0);
    case TCP_KEEPIDLE: return put_int(val, len, keep_secs(s->keepidle_s, opt_.cfg.tcp_keepalive_time));
    case TCP_KEEPINTVL: return put_int(val, len, keep_secs(s->keepintvl_s, opt_.cfg.tcp_keepalive_intvl));
    case TCP_KEEPCNT:
      return put_int(val, len, s->keepcnt != 0 ? s->keepcnt : opt_.cfg.tcp_keepalive_probes);
    case TCP_USER_TIMEOUT: return put_int(val, len, s->user_timeout_ms);
    case TCP_CC_INFO:  // Reno and CUBIC have no get_info: Linux returns nothing
      if (len == nullptr) return fail(EFAULT);
      *len = 0;
      return 0;
    case TCP_INFO: {
      tcp_info i = info_of(t, s->kind == Kind::kListener ? tcp::State::kListen : tcp::State::kClosed);
      // Newer kernels' struct tcp_info is longer than these headers' (the
      // caller's may be too): the fields past ours read as 0, not tracked.
      if (len != nullptr && val != nullptr && *len > sizeof i) {
        const socklen_t n = std::min<socklen_t>(*len, 1024);
        std::memset(val, 0, n);
        std::memcpy(val, &i, sizeof i);
        *len = n;
        return 0;
      }
      return put(val, len, &i, sizeof i);
    }
    default: return fail(ENOPROTOOPT);
  }
}

int Host::setsockopt(int fd, int level, int name, const void* val, socklen_t len) {
  Lock lk(mu_);
  Sock* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  if (level == SOL_SOCKET && name == SO_LINGER) {
    if (val == nullptr || len < sizeof(linger)) return fail(EINVAL);
    linger l{};
    std::memcpy(&l, val, sizeof l);
    // Only the abortive close (a zero timeout) is twstack's; a lingering close() is not.
    if (l.l_onoff != 0 && l.l_linger != 0) return fail(ENOPROTOOPT);
    s->linger_on = l.l_onoff != 0;
    s->linger_secs = l.l_linger;
    return 0;
  }
  if (level != SOL_SOCKET && level != IPPROTO_TCP) return fail(ENOPROTOOPT);  // IP_TOS, ...: not in twstack
  if (val == nullptr || len < sizeof(int)) return fail(EINVAL);
  int v = 0;
  std::memcpy(&v, val, sizeof v);
  if (level == SOL_SOCKET) {
    const tcp::Tcb* t = tcb(*s);
    switch (name) {
      case SO_REUSEADDR: s->reuseaddr = v != 0; return 0;
      case SO_KEEPALIVE:  // sock_valbool_flag(SOCK_KEEPOPEN), tcp_set_keepalive
        s->keepalive = v != 0;
        return set_conn_opts(*s);
      // sock_setsockopt: the engine doubles and caps the value
      // (QueueEngine::set_sndbuf); before connect() or listen() the size
      // waits here for them.
      case SO_SNDBUF:
        if (t != nullptr) return eng_->set_sndbuf(s->conn, v) == Errc::kOk ? 0 : fail(EINVAL);
        s->bufs.sndbuf = eng_->so_sndbuf_size(v);
        return set_listener_bufs(*s);
      case SO_RCVBUF:
        if (t != nullptr) return eng_->set_rcvbuf(s->conn, v) == Errc::kOk ? 0 : fail(EINVAL);
        s->bufs.rcvbuf = eng_->so_rcvbuf_size(v);
        return set_listener_bufs(*s);
      default: return fail(ENOPROTOOPT);
    }
  }
  if (level != IPPROTO_TCP) return fail(ENOPROTOOPT);
  switch (name) {
    case TCP_NODELAY:
      s->nodelay = v != 0;
      apply_opts(*s);
      service();  // Linux pushes pending data when Nagle is turned off
      return 0;
    case TCP_CORK:  // any value; off pushes what the cork held
      s->cork = v != 0;
      if (s->kind == Kind::kConn) eng_->set_cork(s->conn, s->cork);
      service();
      return 0;
    // do_tcp_setsockopt's ranges: 1..MAX_TCP_KEEPIDLE, 1..MAX_TCP_KEEPINTVL
    // (32767 s), 1..MAX_TCP_KEEPCNT (127); TCP_USER_TIMEOUT not negative.
    case TCP_KEEPIDLE:
      if (v < 1 || v > 32767) return fail(EINVAL);
      s->keepidle_s = v;
      return set_conn_opts(*s);
    case TCP_KEEPINTVL:
      if (v < 1 || v > 32767) return fail(EINVAL);
      s->keepintvl_s = v;
      return set_conn_opts(*s);
    case TCP_KEEPCNT:
      if (v < 1 || v > 127) return fail(EINVAL);
      s->keepcnt = v;
      return set_conn_opts(*s);
    case TCP_USER_TIMEOUT:
      if (v < 0) return fail(EINVAL);
      s->user_timeout_ms = v;
      return set_conn_opts(*s);
    // TCP_MAXSEG: 0 or TCP_MIN_MSS..MAX_TCP_WINDOW (88..32767). It shapes
    // the SYN or SYN-ACK still to come: connect()'s, a listener's children's
    // (QueueEngine::connect, listen, set_listener_bufs); a connection keeps
    // the MSS it has (Linux only sets rx_opt.user_mss).
    case TCP_MAXSEG:
      if (v != 0 && (v < 88 || v > 32767)) return fail(EINVAL);
      s->bufs.user_mss = static_cast<std::uint16_t>(v);
      return set_listener_bufs(*s);
    case TCP_NOTSENT_LOWAT:  // any value (0xffffffff is -1 here), then sk_write_space
      s->notsent_lowat = static_cast<std::uint32_t>(v);
      if (s->kind == Kind::kConn) {
        const int r = set_conn_opts(*s);
        service();
        return r;
      }
      return 0;
    case TCP_INQ:  // tp->recvmsg_inq: 0 or 1
      if (v < 0 || v > 1) return fail(EINVAL);
      s->recvmsg_inq = v != 0;
      return 0;
    default: return fail(ENOPROTOOPT);  // IP-level options, ...
  }
}

// A listening socket passes its buffer sizes on to the connections it opens.
int Host::set_listener_bufs(Sock& s) {
  if (s.kind != Kind::kListener) return 0;
  return eng_->set_listener_bufs(s.lport, s.bufs) == Errc::kOk ? 0 : fail(EINVAL);
}

int Host::set_conn_opts(Sock& s) {
  const int e = apply_opts(s);
  return e == 0 ? 0 : fail(e);
}

int Host::fcntl(int fd, int cmd, long arg) {
  Lock lk(mu_);
  Sock* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  switch (cmd) {
    case F_GETFL: return O_RDWR | (s->nonblock ? O_NONBLOCK : 0);
    case F_SETFL: s->nonblock = (arg & O_NONBLOCK) != 0; return 0;
    default: return fail(EINVAL);
  }
}

int Host::ioctl(int fd, unsigned long req, void* arg) {
  Lock lk(mu_);
  Sock* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  if (arg == nullptr) return fail(EFAULT);
  const tcp::Tcb* t = tcb(*s);
  int v = 0;
  switch (req) {
    case SIOCINQ:  // == FIONREAD; tcp_ioctl: EINVAL on a listener
      if (s->kind == Kind::kListener) return fail(EINVAL);
      v = t == nullptr ? 0 : static_cast<int>(t->rcv.size());
      break;
    case SIOCOUTQ:
      if (s->kind == Kind::kListener) return fail(EINVAL);
      v = t == nullptr ? 0 : static_cast<int>(t->snd.size());
      break;
    case FIONBIO:
      std::memcpy(&v, arg, sizeof v);
      s->nonblock = v != 0;
      return 0;
    default: return fail(ENOTTY);
  }
  std::memcpy(arg, &v, sizeof v);
  return 0;
}

}  // namespace twstack::pd
