// poll() and epoll over the sockets: Linux tcp_poll's mask, computed from the
// connection when asked; a waiting call sleeps until the engine acts.
#include <cerrno>

#include "drivers/packetdrill/host.hh"

namespace twstack::pd {

namespace {

int fail(int e) {
  errno = e;
  return -1;
}

constexpr tcp::StateSet kPeerDone = tcp::State::kCloseWait | tcp::State::kLastAck |
                                    tcp::bit(tcp::State::kClosing) | tcp::bit(tcp::State::kTimeWait) |
                                    tcp::bit(tcp::State::kClosed);

std::optional<std::chrono::steady_clock::time_point> deadline(int timeout_ms) {
  if (timeout_ms < 0) return std::nullopt;
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
}

}  // namespace

// Linux tcp_poll (and inet_csk_listen_poll for a listener).
std::uint32_t Host::mask(const Sock& s) const {
  if (s.kind == Kind::kEpoll) return 0;
  if (s.kind == Kind::kListener) {
    return eng_->accept_queue(s.lport) > 0 ? EPOLLIN | EPOLLRDNORM : 0;
  }
  const tcp::Tcb* t = tcb(s);
  if (t == nullptr) return EPOLLOUT | EPOLLWRNORM | EPOLLHUP;  // never connected: TCP_CLOSE
  std::uint32_t m = 0;
  const bool closed = t->state == tcp::State::kClosed;
  const bool rcv_shut = s.rd_shut || ((tcp::bit(t->state) & kPeerDone) != 0);
  const bool snd_shut = s.wr_shut || closed;
  if ((rcv_shut && snd_shut) || closed) m |= EPOLLHUP;
  if (rcv_shut) m |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP;
  if (t->state != tcp::State::kSynSent && t->state != tcp::State::kSynReceived) {
    if (t->rcv.size() > 0) m |= EPOLLIN | EPOLLRDNORM;
    if (!snd_shut) {
      // sk_stream_is_writeable: free space at least half of what is
      // queued, unsent bytes below half TCP_NOTSENT_LOWAT (the engine's).
      if (eng_->writeable(s.conn)) m |= EPOLLOUT | EPOLLWRNORM;
    } else {
      m |= EPOLLOUT | EPOLLWRNORM;
    }
  }
  if (t->sk_err != Errc::kOk) m |= EPOLLERR;  // tcp_poll: sk->sk_err
  return m;
}

int Host::poll(pollfd* fds, nfds_t n, int timeout_ms) {
  Lock lk(mu_);
  int ready = 0;
  auto scan = [&] {
    ready = 0;
    for (nfds_t i = 0; i < n; ++i) {
      fds[i].revents = 0;
      if (fds[i].fd < 0) continue;
      Sock* s = find(fds[i].fd);
      if (s == nullptr) {
        fds[i].revents = POLLNVAL;
      } else {
        std::uint32_t m = mask(*s);
        // POLLERR, POLLHUP and POLLNVAL are reported whether asked for or not.
        fds[i].revents = static_cast<short>(m & (static_cast<std::uint16_t>(fds[i].events) | POLLERR | POLLHUP));
      }
      if (fds[i].revents != 0) ++ready;
    }
    return ready > 0;
  };
  if (!scan() && timeout_ms != 0) wait(lk, deadline(timeout_ms), scan);
  return ready;
}

int Host::epoll_create() {
  Lock lk(mu_);
  return new_fd(Kind::kEpoll);
}

int Host::epoll_ctl(int epfd, int op, int fd, epoll_event* ev) {
  Lock lk(mu_);
  Sock* e = find(epfd);
  if (e == nullptr) return fail(EBADF);
  if (e->kind != Kind::kEpoll || fd == epfd) return fail(EINVAL);
  Sock* s = find(fd);
  if (s == nullptr) return fail(EBADF);
  auto it = e->interest.find(fd);
  switch (op) {
    case EPOLL_CTL_ADD:
      if (it != e->interest.end()) return fail(EEXIST);
      if (ev == nullptr) return fail(EFAULT);
      e->interest[fd] = EpollItem{ev->events, ev->data.u64, s->wake_gen - 1, false};
      return 0;
    case EPOLL_CTL_MOD:
      if (it == e->interest.end()) return fail(ENOENT);
      if (ev == nullptr) return fail(EFAULT);
      it->second = EpollItem{ev->events, ev->data.u64, s->wake_gen - 1, false};
      return 0;
    case EPOLL_CTL_DEL:
      if (it == e->interest.end()) return fail(ENOENT);
      e->interest.erase(it);
      return 0;
    default: return fail(EINVAL);
  }
}

// Level-triggered items report while ready; EPOLLET ones once per wake-up of
// their socket (a new event from the engine); EPOLLONESHOT ones once until
// rearmed with EPOLL_CTL_MOD.
int Host::epoll_wait(int epfd, epoll_event* evs, int max, int timeout_ms) {
  Lock lk(mu_);
  Sock* e = find(epfd);
  if (e == nullptr) return fail(EBADF);
  if (e->kind != Kind::kEpoll || max <= 0) return fail(EINVAL);
  int got = 0;
  auto scan = [&] {
    got = 0;
    Sock* ep = find(epfd);
    if (ep == nullptr) return true;
    for (auto& [fd, item] : ep->interest) {
      if (got == max) break;
      Sock* s = find(fd);
      if (s == nullptr || item.disabled) continue;
      std::uint32_t m = mask(*s) & (item.events | EPOLLERR | EPOLLHUP);
      if (m == 0) continue;
      if ((item.events & EPOLLET) != 0 && item.seen_gen == s->wake_gen) continue;
      item.seen_gen = s->wake_gen;
      if ((item.events & EPOLLONESHOT) != 0) item.disabled = true;
      evs[got].events = m;
      evs[got].data.u64 = item.data;
      ++got;
    }
    return got > 0;
  };
  if (!scan() && timeout_ms != 0) wait(lk, deadline(timeout_ms), scan);
  return got;
}

}  // namespace twstack::pd
