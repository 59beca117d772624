// Socket calls over the engine's application API, with Linux's errno for
// each state (inet_stream_connect, inet_accept, tcp_recvmsg, tcp_sendmsg,
// inet_shutdown).
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "drivers/packetdrill/host.hh"

namespace twstack::pd {

namespace {

int fail(int e) {
  errno = e;
  return -1;
}

bool in(tcp::State s, tcp::StateSet set) { return (tcp::bit(s) & set) != 0; }

constexpr tcp::StateSet kOpening = tcp::State::kSynSent | tcp::State::kSynReceived;

std::optional<sockaddr_in> inet_addr(const sockaddr* a, socklen_t len, int* err) {
  if (a == nullptr || len < sizeof(sockaddr_in)) {
    *err = EINVAL;
    return std::nullopt;
  }
  sockaddr_in in{};
  std::memcpy(&in, a, sizeof in);
  if (in.sin_family != AF_INET) {
    *err = EAFNOSUPPORT;
    return std::nullopt;
  }
  return in;
}

// The kernel's copy_from_user/copy_to_user fail with EFAULT on an unmapped
// buffer; here each page of it is probed (a read of one byte through
// process_vm_readv fails instead of faulting).
bool mapped(const void* p, std::size_t n) {
  if (n == 0) return true;
  if (p == nullptr) return false;
  const auto start = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t end = start + n - 1;
  for (std::uintptr_t a = start;;) {
    char b;
    iovec local{&b, 1};
    iovec remote{reinterpret_cast<void*>(a), 1};
    if (::process_vm_readv(::getpid(), &local, 1, &remote, 1, 0) != 1) return false;
    const std::uintptr_t next = (a | 4095) + 1;
    if (next > end || next == 0) return true;
    a = next;
  }
}

bool iov_mapped(const iovec* iov, int n) {
  for (int i = 0; i < n; ++i) {
    if (!mapped(iov[i].iov_base, iov[i].iov_len)) return false;
  }
  return true;
}

std::size_t iov_total(const iovec* iov, int n) {
  std::size_t t = 0;
  for (int i = 0; i < n; ++i) t += iov[i].iov_len;
  return t;
}

}  // namespace

int to_errno(Errc e) {
  switch (e) {
    case Errc::kOk: return 0;
    case Errc::kAddrNotAvail: return EADDRNOTAVAIL;
    case Errc::kAddrInUse: return EADDRINUSE;
    case Errc::kConnRefused: return ECONNREFUSED;
    case Errc::kConnReset: return ECONNRESET;
    case Errc::kTimedOut: return ETIMEDOUT;
    case Errc::kNoBufs: return ENOBUFS;
    case Errc::kNotConn: return ENOTCONN;
    case Errc::kInvalid: return EINVAL;
    case Errc::kPipe: return EPIPE;
    case Errc::kBadHandle: return EBADF;
    case Errc::kHostUnreach: return EHOSTUNREACH;
    case Errc::kAgain: return EAGAIN;
  }
  return EIO;
}

int Host::socket(int domain, int type, int protocol) {
  if (domain != AF_INET) return fail(EAFNOSUPPORT);
  int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (base != SOCK_STREAM || (protocol != 0 && protocol != IPPROTO_TCP)) return fail(EPROTONOSUPPORT);
  Lock lk(mu_);
  int fd = new_fd(Kind::kFresh);
  if (fd < 0) return -1;
  socks_[fd].nonblock = (type & SOCK_NONBLOCK) != 0;
  return fd;
}

int Host::bind(int fd, const sockaddr* a, socklen_t len) {
  Lock lk(mu_);
  Sock* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  int err = 0;
  auto in = inet_addr(a, len, &err);
  if (!in) return fail(err);
  // inet_bind: a socket is bound once.
  if (s->kind != Kind::kFresh || s->bound) return fail(EINVAL);
  engine::Bound b;
  Errc e = eng_->bind(wire::Ipv4Addr{ntohl(in->sin_addr.s_addr)}, ntohs(in->sin_port), s->reuseaddr, &b);
  if (e != Errc::kOk) return fail(to_errno(e));
  s->bound = b;
  return 0;
}

int Host::listen(int fd, int backlog) {
  Lock lk(mu_);
  Sock* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  if (s->kind == Kind::kListener) return 0;  // Linux adjusts the backlog only
  if (s->kind != Kind::kFresh) return fail(EINVAL);
  // inet_listen on an unbound socket binds an ephemeral port (inet_autobind).
  if (!s->bound) {
    engine::Bound b;
    if (Errc e = eng_->bind({}, 0, s->reuseaddr, &b); e != Errc::kOk) return fail(to_errno(e));
    s->bound = b;
  }
  // Linux inet_listen: a negative or zero backlog still admits one.
  std::uint32_t b = backlog < 0 ? 0u : static_cast<std::uint32_t>(backlog);
  Errc e = eng_->listen(*s->bound, b, s->bufs);
  if (e != Errc::kOk) return fail(to_errno(e));
  s->lport = s->bound->port;
  s->bound.reset();
  s->kind = Kind::kListener;
  s->backlog = backlog;
  service();
  return 0;
}

int Host::accept(int fd, sockaddr* a, socklen_t* len) {
  Lock lk(mu_);
  Sock* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  if (s->kind != Kind::kListener) return fail(EINVAL);
  std::optional<engine::ConnId> id;
  std::uint16_t port = s->lport;
  auto got = [&] {
    id = eng_->accept(port);
    return id.has_value() || find(fd) == nullptr;
  };
  if (!got()) {
    if (s->nonblock) return fail(EAGAIN);
    wait(lk, std::nullopt, got);
  }
  if (!id) return fail(EBADF);
  Sock parent = *find(fd);
  int nfd = new_fd(Kind::kConn);
  if (nfd < 0) return -1;
  Sock& c = socks_[nfd];
  c.conn = *id;
  c.nodelay = parent.nodelay;  // inherited, as Linux's sk_clone
  c.cork = parent.cork;
  c.linger_on = parent.linger_on;
  c.linger_secs = parent.linger_secs;
  c.keepalive = parent.keepalive;
  c.keepidle_s = parent.keepidle_s;
  c.keepintvl_s = parent.keepintvl_s;
  c.keepcnt = parent.keepcnt;
  c.user_timeout_ms = parent.user_timeout_ms;
  c.notsent_lowat = parent.notsent_lowat;
  c.recvmsg_inq = parent.recvmsg_inq;
  c.bufs.user_mss = parent.bufs.user_mss;
  c.connect_reported = true;
  by_conn_[id->index] = nfd;
  apply_opts(c);
  if (a != nullptr && len != nullptr) {
    const tcp::Tcb* t = eng_->tcb(*id);
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_addr.s_addr = htonl(t->tuple.raddr.v);
    peer.sin_port = htons(t->tuple.rport);
    std::memcpy(a, &peer, std::min<std::size_t>(*len, sizeof peer));
    *len = sizeof peer;
  }
  service();
  return nfd;
}

int Host::connect(int fd, const sockaddr* a, socklen_t len) {
  Lock lk(mu_);
  Sock* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  if (s->kind == Kind::kListener) return fail(EISCONN);
  if (s->kind == Kind::kFresh) {
    int err = 0;
    auto in = inet_addr(a, len, &err);
    if (!in) return fail(err);
    engine::ConnId id;
    wire::Ipv4Addr dst{ntohl(in->sin_addr.s_addr)};
    Errc e = s->bound ? eng_->connect(*s->bound, dst, ntohs(in->sin_port), &id, s->bufs)
                      : eng_->connect(dst, ntohs(in->sin_port), &id, {}, 0, s->bufs);
    if (e != Errc::kOk) return fail(to_errno(e));
    s->bound.reset();
    s->kind = Kind::kConn;
    s->conn = id;
    by_conn_[id.index] = fd;
    apply_opts(*s);
    service();
    if (s->nonblock) return fail(EINPROGRESS);
  } else if (s->connect_reported) {
    return fail(EISCONN);
  } else if (const tcp::Tcb* t = tcb(*s); t != nullptr && in(t->state, kOpening) && s->nonblock) {
    return fail(EALREADY);
  }
  // __inet_stream_connect: sleep while the handshake runs.
  wait(lk, std::nullopt, [&] {
    Sock* x = find(fd);
    const tcp::Tcb* t = x == nullptr ? nullptr : tcb(*x);
    return t == nullptr || !in(t->state, kOpening);
  });
  s = find(fd);
  if (s == nullptr) return fail(EBADF);
  const tcp::Tcb* t = tcb(*s);
  if (t == nullptr || t->state == tcp::State::kClosed) {
    const int e = so_error(*s);  // sock_error() ?: ECONNABORTED
    return fail(e != 0 ? e : ECONNABORTED);
  }
  s->connect_reported = true;
  return 0;
}

// The connection's error, once (sock_error clears sk_err): the engine's.
int Host::so_error(const Sock& s) {
  if (s.kind != Kind::kConn) return 0;
  const Errc e = eng_->so_error(s.conn);
  return e == Errc::kBadHandle ? 0 : to_errno(e);
}

// Copies received data into the iovec from byte `from` on (recv consumes,
// peek reads from `from` bytes into the queue); returns how many.
std::size_t Host::copy_out(const Sock& s, const iovec* iov, int n, std::size_t from, bool peek) {
  std::size_t got = 0;
  std::size_t pos = 0;
  for (int i = 0; i < n; ++i) {
    const std::size_t len = iov[i].iov_len;
    if (pos + len <= from) {
      pos += len;
      continue;
    }
    const std::size_t off = from > pos ? from - pos : 0;
    std::span<std::uint8_t> out(static_cast<std::uint8_t*>(iov[i].iov_base) + off, len - off);
    const std::uint32_t k = peek ? eng_->peek(s.conn, out, static_cast<std::uint32_t>(from + got))
                                 : eng_->recv(s.conn, out);
    got += k;
    pos += len;
    if (k < out.size()) break;
  }
  return got;
}

// tcp_recvmsg: data first; with nothing to copy, the engine's answer
// (QueueEngine::recv: 0 at the end of the stream, the connection's error
// once, else EAGAIN), where SHUT_RD also reads as the end of the stream;
// a blocking call sleeps until it would not be EAGAIN. MSG_WAITALL sleeps
// until the whole request is read (or FIN, error, SHUT_RD).
ssize_t Host::recv(int fd, const iovec* iov, int n, int flags) {
  Lock lk(mu_);
  Sock* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  if (s->kind != Kind::kConn) return fail(ENOTCONN);
  const bool peek = (flags & MSG_PEEK) != 0;
  const bool waitall = (flags & MSG_WAITALL) != 0 && !peek;
  const bool nonblock = s->nonblock || (flags & MSG_DONTWAIT) != 0;
  const std::size_t want = iov_total(iov, n);
  if (want == 0) return 0;
  auto ready = [&] {
    Sock* x = find(fd);
    const tcp::Tcb* t = x == nullptr ? nullptr : tcb(*x);
    return t == nullptr || t->rcv.size() > 0 || x->rd_shut || t->rcv_done || t->sk_err != Errc::kOk ||
           t->state == tcp::State::kClosed;
  };
  std::size_t total = 0;
  for (;;) {
    if (!ready()) {
      if (nonblock) break;
      wait(lk, std::nullopt, ready);
    }
    s = find(fd);
    if (s == nullptr) return fail(EBADF);
    const tcp::Tcb* t = tcb(*s);
    if (t != nullptr && t->rcv.size() > 0 && !iov_mapped(iov, n)) return fail(EFAULT);
    const std::size_t k = copy_out(*s, iov, n, total, peek);
    total += k;
    if (!waitall || total >= want || k == 0) break;
  }
  if (total == 0) {
    // Nothing is queued, so this reads nothing: it gives the errno only.
    std::uint8_t none = 0;
    Errc e = Errc::kOk;
    eng_->recv(s->conn, std::span<std::uint8_t>(&none, 1), &e);
    if (e == Errc::kAgain && !s->rd_shut) return fail(EAGAIN);
    if (e != Errc::kOk && e != Errc::kAgain && e != Errc::kBadHandle) return fail(to_errno(e));
  }
  service();
  return static_cast<ssize_t>(total);
}

// tcp_recvmsg: with TCP_INQ on, a successful read carries TCP_CM_INQ
// (tcp_inq_hint, from the engine), put_cmsg truncating where the control
// buffer is too short.
ssize_t Host::recvmsg(int fd, msghdr* m, int flags) {
  m->msg_namelen = 0;
  m->msg_flags = 0;
  const std::size_t room = m->msg_control == nullptr ? 0 : m->msg_controllen;
  m->msg_controllen = 0;
  const ssize_t r = recv(fd, m->msg_iov, static_cast<int>(m->msg_iovlen), flags);
  if (r < 0) return r;
  Lock lk(mu_);
  const Sock* s = find(fd);
  if (s == nullptr || !s->recvmsg_inq) return r;
  const int inq = static_cast<int>(eng_->inq(s->conn));
  if (room < CMSG_SPACE(sizeof inq)) {
    m->msg_flags |= MSG_CTRUNC;
    return r;
  }
  m->msg_controllen = CMSG_SPACE(sizeof inq);
  cmsghdr* h = CMSG_FIRSTHDR(m);
  h->cmsg_level = IPPROTO_TCP;  // SOL_TCP
  h->cmsg_type = TCP_CM_INQ;
  h->cmsg_len = CMSG_LEN(sizeof inq);
  std::memcpy(CMSG_DATA(h), &inq, sizeof inq);
  return r;
}

ssize_t Host::send(int fd, const iovec* iov, int n, int flags) {
  Lock lk(mu_);
  Sock* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  if (s->kind != Kind::kConn) return fail(EPIPE);        // sk_stream_wait_connect
  const bool nonblock = s->nonblock || (flags & MSG_DONTWAIT) != 0;
  // tcp_sendmsg_locked: a connection closed for sending fails with
  // sock_error() ?: EPIPE before any copy; the engine decides (a send of
  // nothing queues nothing).
  Errc early = Errc::kOk;
  eng_->send(s->conn, {}, &early);
  if (early != Errc::kOk) return fail(early == Errc::kNotConn ? EPIPE : to_errno(early));
  if (!iov_mapped(iov, n)) return fail(EFAULT);
  auto writable = [&] {
    Sock* x = find(fd);
    const tcp::Tcb* t = x == nullptr ? nullptr : tcb(*x);
    // sk_stream_memory_free: buffer space, within TCP_NOTSENT_LOWAT.
    return t == nullptr ||
           (!in(t->state, kOpening) && (eng_->send_room(x->conn) > 0 || t->state == tcp::State::kClosed));
  };
  std::size_t sent = 0;
  const std::size_t want = iov_total(iov, n);
  for (int i = 0; i < n; ++i) {
    std::size_t off = 0;
    while (off < iov[i].iov_len) {
      if (!writable()) {
        if (nonblock) {
          service();
          return sent > 0 ? static_cast<ssize_t>(sent) : fail(EAGAIN);
        }
        // sk_stream_wait_memory: asleep until sk_stream_write_space wakes
        // the writer (the engine's kEvWritable, once the stream is
        // writeable), then sk_stream_memory_free.
        wait(lk, std::nullopt, [&] {
          Sock* x = find(fd);
          const tcp::Tcb* t = x == nullptr ? nullptr : tcb(*x);
          return (t == nullptr || !t->want_writable) && writable();
        });
        s = find(fd);
        if (s == nullptr) return fail(EBADF);
      }
      Errc err = Errc::kOk;
      std::span<const std::uint8_t> data(static_cast<const std::uint8_t*>(iov[i].iov_base) + off,
                                         iov[i].iov_len - off);
      std::uint32_t k = eng_->send(s->conn, data, &err, (flags & MSG_MORE) != 0);
      if (err != Errc::kOk) {
        if (sent > 0) break;
        return fail(err == Errc::kNotConn ? EPIPE : to_errno(err));
      }
      off += k;
      sent += k;
      service();
    }
  }
  (void)want;
  return static_cast<ssize_t>(sent);
}

int Host::close(int fd) {
  Lock lk(mu_);
  Sock* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  if (s->kind == Kind::kConn) {
    // SO_LINGER with a zero timeout: close() aborts (Linux tcp_close sends a RST).
    if (s->linger_on && s->linger_secs == 0) {
      eng_->abort(s->conn);
    } else {
      eng_->close(s->conn);
    }
    by_conn_.erase(s->conn.index);
  } else if (s->kind == Kind::kListener) {
    eng_->unlisten(s->lport);
  } else if (s->bound) {
    eng_->unbind(*s->bound);
  }
  for (auto& [efd, e] : socks_) e.interest.erase(fd);
  socks_.erase(fd);
  ::close(fd);
  service();
  return 0;
}

int Host::shutdown(int fd, int how) {
  Lock lk(mu_);
  Sock* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return fail(EINVAL);
  const tcp::Tcb* t = tcb(*s);
  if (t == nullptr || t->state == tcp::State::kClosed) return fail(ENOTCONN);
  if (how != SHUT_WR) s->rd_shut = true;
  if (how != SHUT_RD && !s->wr_shut) {
    s->wr_shut = true;
    Errc e = eng_->shutdown(s->conn);
    if (e != Errc::kOk) return fail(to_errno(e));
  }
  ++s->wake_gen;
  service();
  return 0;
}

}  // namespace twstack::pd
