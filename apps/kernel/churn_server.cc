#include "apps/kernel/churn_server.hh"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

namespace kernel_churn {
namespace {

constexpr int kBacklog = 4096;
constexpr std::uint32_t kMaxRequest = 8192;

}  // namespace

int open_listener(const Endpoint& ep, bool reuse_addr) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (fd < 0 || (reuse_addr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) ||
      bind(fd, as_sockaddr(ep.addr), sizeof ep.addr) != 0 || listen(fd, kBacklog) != 0) {
    const int e = errno;
    if (fd >= 0) close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

Server::Server(std::vector<int> listen_fds, const Options& o)
    : listen_fds_(std::move(listen_fds)),
      closer_(o.closer),
      hold_(o.hold),
      endpoints_(o.endpoints),
      restart_after_ns_(static_cast<std::int64_t>(o.restart_after_s * 1e9)),
      restart_reuseaddr_(o.restart_reuseaddr) {
  const std::string length = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(o.body_bytes);
  response_close_ = length + "\r\nConnection: close\r\n\r\n" + std::string(o.body_bytes, 'x');
  response_keep_ = length + "\r\n\r\n" + std::string(o.body_bytes, 'x');
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  for (const int fd : listen_fds_) {
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered: after EMFILE the backlog is retried next wait
    ev.data.fd = fd;
    if (epoll_fd_ >= 0 && epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      close(epoll_fd_);
      epoll_fd_ = -1;
    }
  }
}

bool Server::is_listener(int fd) const {
  return std::find(listen_fds_.begin(), listen_fds_.end(), fd) != listen_fds_.end();
}

Server::~Server() {
  for (std::size_t fd = 0; fd < conns_.size(); ++fd) {
    if (conns_[fd].phase != Phase::kIdle) close(static_cast<int>(fd));
  }
  if (epoll_fd_ >= 0) close(epoll_fd_);
  for (const int fd : listen_fds_) {
    if (fd >= 0) close(fd);
  }
}

void Server::run(const std::atomic<bool>& stop) {
  std::array<epoll_event, 256> events;
  while (!stop.load(std::memory_order_acquire)) {
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 50);
    if (n < 0 && errno != EINTR) errors_.add(errno);
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      if (is_listener(fd)) {
        accept_all(fd);
      } else if (conn(fd).phase != Phase::kIdle && conn(fd).phase != Phase::kHeld) {
        drive(fd);  // a stale event for a reused fd only meets EAGAIN
      }
    }
    if (restart_after_ns_ > 0 && restart_errno_ < 0 && first_accept_ns_ != 0 &&
        now_ns() - first_accept_ns_ >= restart_after_ns_) {
      restart();
    }
  }
}

void Server::accept_all(int listen_fd) {
  for (;;) {
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN) errors_.add(errno);
      return;
    }
    if (first_accept_ns_ == 0) first_accept_ns_ = now_ns();
    const auto i = static_cast<std::size_t>(fd);
    if (i >= conns_.size()) conns_.resize(std::max(i + 1, 2 * conns_.size()));
    conns_[i] = Conn{};
    conns_[i].phase = Phase::kRequest;
    drive(fd);
  }
}

// Advances one connection as far as its socket allows.
void Server::drive(int fd) {
  Conn& c = conn(fd);
  for (;;) {
    const bool sending = c.phase == Phase::kResponse;
    const std::string& response = c.last ? response_close_ : response_keep_;
    const ssize_t n = sending ? send(fd, response.data() + c.sent, response.size() - c.sent, MSG_NOSIGNAL)
                              : recv(fd, scratch_.data(), scratch_.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return wait_for(fd, c, sending ? EPOLLIN | EPOLLOUT : EPOLLIN);
    if (n < 0) return drop(fd, errno);
    if (sending) {
      c.sent += static_cast<std::size_t>(n);
      if (c.sent < response.size()) continue;
      if (!c.last) {
        c = Conn{.phase = Phase::kRequest, .events = c.events};  // keep-alive: the next request
        continue;
      }
      if (closer_ == Closer::kServer) return finish(fd);
      c.phase = Phase::kAwaitFin;
    } else if (n == 0) {
      if (c.phase == Phase::kAwaitFin && hold_) return hold(fd, c);
      return c.phase == Phase::kAwaitFin ? finish(fd) : drop(fd, Failure::kShortRequest);
    } else if (c.phase == Phase::kRequest && !scan_request(c, static_cast<std::size_t>(n))) {
      return drop(fd, Failure::kLongRequest);
    }  // bytes after the request, or before the FIN, are not expected and are dropped
  }
}

// Looks for the request's blank line; false once the request is too long.
bool Server::scan_request(Conn& c, std::size_t n) {
  static constexpr std::string_view kEnd = "\r\n\r\n";
  static constexpr std::string_view kClose = "Connection: close";  // 'C' only leads it
  for (std::size_t i = 0; i < n; ++i) {
    c.close_matched = scratch_[i] == kClose[c.close_matched] ? c.close_matched + 1 : (scratch_[i] == 'C' ? 1 : 0);
    if (c.close_matched == kClose.size()) {
      c.last = true;
      c.close_matched = 0;
    }
    c.matched = scratch_[i] == kEnd[c.matched] ? c.matched + 1 : (scratch_[i] == '\r' ? 1 : 0);
    if (c.matched == kEnd.size()) {
      c.phase = Phase::kResponse;
      return true;
    }
  }
  c.request_bytes += static_cast<std::uint32_t>(n);
  return c.request_bytes <= kMaxRequest;
}

// Edge-triggered, and only ever widened: each epoll_ctl is a syscall per connection.
void Server::wait_for(int fd, Conn& c, std::uint32_t events) {
  if ((c.events & events) == events) return;
  epoll_event ev{};
  ev.events = c.events | events | EPOLLET;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_fd_, c.events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) != 0) return drop(fd, errno);
  c.events |= events;
}

// Options::hold: the client's FIN is read and the socket stays open, out of
// the epoll set (nothing more is expected), until ~Server closes it.
void Server::hold(int fd, Conn& c) {
  ++completed_;
  if (c.events != 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  c = Conn{.phase = Phase::kHeld};
}

// A restarted server process's listeners: close (the accept queue is reset,
// inet_csk_listen_stop), then socket(), bind() and listen() again; without
// SO_REUSEADDR the port's TIME_WAIT sockets refuse the bind
// (inet_csk_bind_conflict), and the server then binds with it.
void Server::restart() {
  restart_errno_ = 0;
  for (std::size_t k = 0; k < listen_fds_.size() && k < endpoints_.size(); ++k) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fds_[k], nullptr);
    close(listen_fds_[k]);
    int fd = open_listener(endpoints_[k], restart_reuseaddr_);
    if (fd < 0 && restart_errno_ == 0) restart_errno_ = errno;
    if (fd < 0 && !restart_reuseaddr_) {
      fd = open_listener(endpoints_[k], true);
      if (fd < 0 && rebind_errno_ == 0) rebind_errno_ = errno;
    }
    if (fd < 0) errors_.add(errno);
    listen_fds_[k] = fd;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (fd >= 0 && epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) errors_.add(errno);
  }
}

void Server::finish(int fd) {
  ++completed_;
  close(fd);
  conn(fd) = Conn{};
}

template <typename Why>
void Server::drop(int fd, Why why) {
  errors_.add(why);
  close(fd);
  conn(fd) = Conn{};
}

}  // namespace kernel_churn
