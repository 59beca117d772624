// The kernel churn's server: an epoll HTTP/1.1 server on one thread, on one or more
// listening sockets.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "apps/kernel/churn_common.hh"

namespace kernel_churn {

// A non-blocking listening socket on `ep`; -1 with errno set on failure. With
// `reuse_addr`, SO_REUSEADDR first: bind() succeeds with connections of the port in
// TIME_WAIT (inet_csk_bind_conflict), as a restarted server needs.
int open_listener(const Endpoint& ep, bool reuse_addr = true);

// The server: accept, read the request to its blank line, answer; after a request
// saying "Connection: close", close (closer server) or await the client's FIN and
// close; after any other, read the next request (keep-alive). A connection is driven at once after accept(): its request
// has usually arrived by then, and with --closer server it is then over without ever
// entering the epoll set.
class Server {
 public:
  // Takes over the listening sockets.
  Server(std::vector<int> listen_fds, const Options& o);
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server();

  bool ok() const { return epoll_fd_ >= 0; }
  const ErrorCounts& errors() const { return errors_; }
  std::uint64_t completed() const { return completed_; }
  // -1: no restart (Options::restart_after_s); 0: the bind succeeded; else its errno.
  int restart_errno() const { return restart_errno_; }
  // After a refused bind without SO_REUSEADDR: the bind with it (0 bound, else its errno).
  int rebind_errno() const { return rebind_errno_; }

  void run(const std::atomic<bool>& stop);

 private:
  // kHeld: the client's FIN read, the socket kept open (Options::hold).
  enum class Phase : std::uint8_t { kIdle, kRequest, kResponse, kAwaitFin, kHeld };
  struct Conn {
    Phase phase = Phase::kIdle;
    std::uint8_t matched = 0;  // bytes of "\r\n\r\n" matched so far
    std::uint8_t close_matched = 0;  // bytes of "Connection: close" matched so far
    bool last = false;         // the request said "Connection: close"
    std::uint32_t request_bytes = 0;
    std::size_t sent = 0;
    std::uint32_t events = 0;  // registered with epoll; 0: not in the set
  };

  Conn& conn(int fd) { return conns_[static_cast<std::size_t>(fd)]; }

  void accept_all(int listen_fd);
  bool is_listener(int fd) const;
  void drive(int fd);
  bool scan_request(Conn& c, std::size_t n);
  void wait_for(int fd, Conn& c, std::uint32_t events);
  void hold(int fd, Conn& c);
  void finish(int fd);
  void restart();
  template <typename Why>
  void drop(int fd, Why why);

  std::vector<int> listen_fds_;
  int epoll_fd_ = -1;
  Closer closer_;
  bool hold_ = false;
  std::string response_close_;
  std::string response_keep_;
  std::vector<Conn> conns_ = std::vector<Conn>(1024);  // indexed by fd
  ErrorCounts errors_;  // the whole run, warm-up and teardown included
  std::uint64_t completed_ = 0;
  std::vector<Endpoint> endpoints_;  // of listen_fds_, in order
  std::int64_t restart_after_ns_ = 0;
  bool restart_reuseaddr_ = true;
  std::int64_t first_accept_ns_ = 0;
  int restart_errno_ = -1;
  int rebind_errno_ = 0;
  std::array<char, 16384> scratch_{};
};

}  // namespace kernel_churn
