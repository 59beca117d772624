// kernel_cps's client: --inflight connections in progress on one thread.
#pragma once

#include <sys/epoll.h>

#include <array>
#include <csignal>
#include <cstdint>
#include <vector>

#include "kernel_cps.hh"

namespace kernel_cps {

struct Second {
  double t_s;
  double elapsed_s;
  std::uint64_t completed;
  std::uint64_t failed;
};

struct ClientResult {
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
  std::uint64_t missed = 0;  // --rate openings due while every slot was busy
  double measured_s = 0;
  ErrorCounts errors;  // the measured period only
  std::vector<Second> seconds;
};

// The client: --inflight slots, each holding one connection from connect() to close().
// A socket is registered once, edge-triggered for both directions, so a connection costs
// socket, connect, epoll_ctl, getsockopt, send, recv and close, and no epoll_ctl MOD.
class Client {
 public:
  explicit Client(const Options& o);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  bool ok() const { return epoll_fd_ >= 0; }
  const ClientResult& result() const { return result_; }

  // Warm-up, then --duration measured; `interrupted` (set by SIGINT or SIGTERM) ends
  // the measurement early.
  void run(const volatile std::sig_atomic_t& interrupted);

 private:
  enum class Phase : std::uint8_t { kConnecting, kSending, kReceiving };
  struct Conn {
    int fd = -1;
    Phase phase = Phase::kConnecting;
    bool head_done = false;
    std::uint32_t head_len = 0;
    std::size_t sent = 0;
    std::size_t body_expected = 0;
    std::size_t body_got = 0;
    std::array<char, 1024> head{};
    bool complete() const { return head_done && body_got >= body_expected; }
  };

  void open_due(std::int64_t now, std::int64_t t0);
  void open_one();
  void on_event(const epoll_event& ev);
  bool consume(Conn& c, std::size_t n);
  void done(std::uint32_t slot);
  template <typename Why>
  void fail(std::uint32_t slot, Why why);
  template <typename Why>
  void count_failure(Why why);
  void release(std::uint32_t slot);
  void close_second(std::int64_t from, std::int64_t to);

  const Options& o_;
  int epoll_fd_ = -1;
  std::vector<Conn> conns_;
  std::vector<std::uint32_t> free_;
  bool counting_ = false;
  std::int64_t measure_start_ = 0;
  std::int64_t next_open_ = 0;
  std::uint64_t scheduled_ = 0;
  std::uint64_t second_completed_ = 0;
  std::uint64_t second_failed_ = 0;
  ClientResult result_;
  std::array<char, 65536> scratch_{};
};

}  // namespace kernel_cps
