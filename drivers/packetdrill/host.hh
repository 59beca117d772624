// The packetdrill adapter's host: one QueueEngine behind a mutex, clocked by
// the steady clock, with a thread that runs its timers while packetdrill
// sleeps, and a table of sockets handed out as real file descriptors (an
// eventfd each, so packetdrill's final close() of them is harmless).
//
// Every call takes the mutex, acts on the engine, lets it send, and returns;
// a call that must block waits on `changed_`, which the engine thread and
// every call notify after the engine acted. Packets are raw IPv4 (no
// Ethernet): they are wrapped in a frame from a fixed peer MAC, the
// interface's gateway, whose ARP entry is learned at start.
#pragma once

#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "stack/base/config.hh"
#include "stack/engine/engine.hh"

namespace twstack::pd {

// What --so_flags gives: engine knobs, and the adapter's own settings.
struct HostOptions {
  StackConfig cfg;
  wire::Ipv4Addr local = wire::Ipv4Addr::from_octets(192, 168, 0, 1);
  std::int64_t recv_timeout_ms = 5000;  // netdev_receive gives up (packetdrill has no timeout)
};

// Parses "key=value,key=value": local_ip and recv_timeout_ms are the
// adapter's; every other key is a configuration knob (stack/base/config.hh).
// A message on error.
std::optional<std::string> parse_flags(const std::string& flags, HostOptions* out);

// The errno a socket call gives for an engine error (sockets.cc).
int to_errno(Errc e);

enum class Kind : std::uint8_t { kFresh, kListener, kConn, kEpoll };

struct EpollItem {
  std::uint32_t events = 0;
  std::uint64_t data = 0;
  std::uint64_t seen_gen = 0;  // EPOLLET: the wake generation last reported
  bool disabled = false;       // EPOLLONESHOT fired
};

struct Sock {
  Kind kind = Kind::kFresh;
  bool nonblock = false;
  bool reuseaddr = false;
  bool nodelay = false;
  bool cork = false;  // TCP_CORK
  bool linger_on = false;
  int linger_secs = 0;
  bool rd_shut = false;       // shutdown(SHUT_RD)
  bool wr_shut = false;       // shutdown(SHUT_WR)
  bool connect_reported = false;  // connect() returned its outcome once
  // SO_KEEPALIVE, TCP_KEEPIDLE/INTVL (s), TCP_KEEPCNT (0: the sysctl's) and
  // TCP_USER_TIMEOUT (ms), kept for getsockopt and for the connection that
  // connect() makes or accept() hands out (inherited, as sk_clone does).
  bool keepalive = false;
  int keepidle_s = 0;
  int keepintvl_s = 0;
  int keepcnt = 0;
  int user_timeout_ms = 0;
  // TCP_NOTSENT_LOWAT (0: the sysctl's) and TCP_INQ, likewise handed on and
  // inherited; TCP_MAXSEG travels in `bufs` (user_mss).
  std::uint32_t notsent_lowat = 0;
  bool recvmsg_inq = false;
  // SO_RCVBUF/SO_SNDBUF set before connect() or listen(), as the engine
  // sizes them (doubled, capped); a connection keeps its own in its Tcb.
  tcp::SockBufs bufs{};
  std::optional<engine::Bound> bound;  // bind(), until listen() or connect() takes it
  std::uint16_t lport = 0;             // a listener's port
  int backlog = 0;
  engine::ConnId conn{};
  std::uint64_t wake_gen = 0;  // bumped whenever the engine reports on this socket
  std::map<int, EpollItem> interest;  // kEpoll: fd -> registration
};

class Host {
 public:
  explicit Host(const HostOptions& o);
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  // True when `fd` is one of this host's sockets.
  bool owns(int fd);

  // --- packets
  int netdev_send(const void* buf, std::size_t n);
  int netdev_receive(void* buf, std::size_t* n, long long* time_usecs);

  // --- sockets (sockets.cc); each returns what the system call would, errno set on -1
  int socket(int domain, int type, int protocol);
  int bind(int fd, const sockaddr* a, socklen_t len);
  int listen(int fd, int backlog);
  int accept(int fd, sockaddr* a, socklen_t* len);
  int connect(int fd, const sockaddr* a, socklen_t len);
  ssize_t recv(int fd, const iovec* iov, int n, int flags);
  // recv() with TCP_INQ's control message (TCP_CM_INQ) when it is on.
  ssize_t recvmsg(int fd, msghdr* m, int flags);
  ssize_t send(int fd, const iovec* iov, int n, int flags);
  int close(int fd);
  int shutdown(int fd, int how);
  // options.cc
  int getsockopt(int fd, int level, int name, void* val, socklen_t* len);
  int setsockopt(int fd, int level, int name, const void* val, socklen_t len);
  int fcntl(int fd, int cmd, long arg);
  int ioctl(int fd, unsigned long req, void* arg);
  // readiness.cc
  int poll(pollfd* fds, nfds_t n, int timeout_ms);
  int epoll_create();
  int epoll_ctl(int epfd, int op, int fd, epoll_event* ev);
  int epoll_wait(int epfd, epoll_event* evs, int max, int timeout_ms);

 private:
  using Lock = std::unique_lock<std::mutex>;
  using Clock = std::chrono::steady_clock;

  Instant now() const;
  void run();                   // the engine thread
  void service();               // poll the engine, take its events and frames; mutex held
  void take_frame(const std::uint8_t* f, std::size_t n);
  void rx_frame(std::vector<std::uint8_t>& frame);
  Sock* find(int fd);
  int new_fd(Kind k);
  // Waits until `ready()` or the deadline (nullopt: forever); false on timeout.
  template <class P>
  bool wait(Lock& lk, std::optional<Clock::time_point> until, P ready);
  // Readiness (readiness.cc): Linux tcp_poll's mask for a socket.
  std::uint32_t mask(const Sock& s) const;
  int so_error(const Sock& s);  // SO_ERROR: the connection's pending error, cleared
  std::size_t copy_out(const Sock& s, const iovec* iov, int n, std::size_t from, bool peek);
  // Hands the socket's options to its connection; an errno, or 0.
  int apply_opts(Sock& s);
  int set_conn_opts(Sock& s);
  int set_listener_bufs(Sock& s);  // apply_opts as a setsockopt result: 0, or -1 and errno
  const tcp::Tcb* tcb(const Sock& s) const;

  HostOptions opt_;
  engine::Interface ifc_;
  wire::MacAddr peer_mac_;
  std::mutex mu_;
  std::condition_variable changed_;   // the engine acted: sockets may be ready
  std::condition_variable wake_;      // the engine thread: run now
  std::unique_ptr<engine::QueueEngine> eng_;
  Clock::time_point epoch_;
  struct Out {
    std::vector<std::uint8_t> ip;
    long long usecs;
  };
  std::deque<Out> out_;
  std::map<int, Sock> socks_;
  std::map<std::uint32_t, int> by_conn_;  // ConnId index -> fd
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace twstack::pd

namespace twstack::pd {

template <class P>
bool Host::wait(Lock& lk, std::optional<Clock::time_point> until, P ready) {
  while (!ready()) {
    if (!until) {
      changed_.wait(lk);
    } else if (changed_.wait_until(lk, *until) == std::cv_status::timeout) {
      return ready();
    }
  }
  return true;
}

}  // namespace twstack::pd
