// The kernel churn's client: connections on the kernel's sockets, one thread, epoll.
// At --rate R attempt k is due at k/R on a fixed schedule (a late loop catches up,
// never drifts); at rate 0 it keeps --inflight connections in progress. Each
// connection runs requests_per_conn GETs (keep-alive; the last says "Connection:
// close"), then the client closes (closer client) or waits for the server's FIN.
#pragma once

#include <sys/epoll.h>

#include <array>
#include <csignal>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/histogram.hh"
#include "apps/kernel/churn_common.hh"

namespace kernel_churn {

// One second of the measured period.
struct Second {
  double t_s;           // seconds since the measurement began, at the end of this one
  double elapsed_s;
  std::uint64_t completed;
  std::uint64_t failed;
  std::uint64_t established;
  std::vector<std::pair<std::string, std::uint64_t>> errors;  // this second's failures by name
  // Nanoseconds, this second's connections: the connect() call itself (where the
  // kernel searches its port range, __inet_hash_connect), connect() to established,
  // connect() to the end of the first response.
  twstack::app::Percentiles connect_call_ns, connect_ns, response_ns;
};

// The three latencies, as histograms (apps/common/histogram.hh: HDR-style
// buckets, so recording costs a bit scan and an increment).
struct Latencies {
  twstack::app::LatencyHistogram connect_call, connect, response;
  void reset() { *this = Latencies{}; }
};

struct ClientResult {
  std::uint64_t attempts = 0;
  std::uint64_t established = 0;
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
  std::uint64_t missed = 0;  // --rate openings due while every slot was busy
  double measured_s = 0;
  std::optional<double> first_failure_s;  // since the measurement began
  std::string first_errno;                // its name (EADDRNOTAVAIL, ECONNRESET, short_response, ...)
  ErrorCounts errors;                     // the measured period only
  std::vector<Second> seconds;
  Latencies latency;                      // the measured period
};

// --inflight slots, each holding one connection from connect() to close(). A socket
// is registered once, edge-triggered for both directions, so a connection costs
// socket, connect, epoll_ctl, getsockopt, send, recv and close, and no epoll_ctl MOD.
class Client {
 public:
  explicit Client(const Options& o);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  bool ok() const { return epoll_fd_ >= 0; }
  const ClientResult& result() const { return result_; }
  // Called on the client's thread at the end of every measured second.
  void on_second(std::function<void(const Second&)> f) { on_second_ = std::move(f); }

  // Warm-up, --duration measured, then up to drain_s for the connections in
  // progress; `interrupted` (set by SIGINT or SIGTERM) ends it early.
  void run(const volatile std::sig_atomic_t& interrupted);

 private:
  enum class Phase : std::uint8_t { kConnecting, kSending, kReceiving };
  struct Conn {
    int fd = -1;
    Phase phase = Phase::kConnecting;
    bool head_done = false;
    std::uint32_t head_len = 0;
    std::uint32_t responses = 0;
    std::int64_t started_ns = 0;  // when connect() was called
    std::size_t sent = 0;
    std::size_t body_expected = 0;
    std::size_t body_got = 0;
    std::array<char, 1024> head{};
    bool complete() const { return head_done && body_got >= body_expected; }
  };

  void open_due(std::int64_t now, std::int64_t t0);
  void open_one(std::int64_t now);
  void on_event(const epoll_event& ev);
  bool consume(Conn& c, std::size_t n);
  bool next_response(Conn& c);
  void done(std::uint32_t slot);
  template <typename Why>
  void fail(std::uint32_t slot, Why why);
  template <typename Why>
  void count_failure(Why why);
  void release(std::uint32_t slot);
  void close_second(std::int64_t from, std::int64_t to);
  void record(twstack::app::LatencyHistogram Latencies::*which, std::uint64_t ns);
  void drain(const volatile std::sig_atomic_t& interrupted);

  const Options& o_;
  int epoll_fd_ = -1;
  std::vector<Conn> conns_;
  std::vector<std::uint32_t> free_;
  bool counting_ = false;
  std::int64_t measure_start_ = 0;
  std::int64_t next_open_ = 0;
  std::int64_t now_ = 0;
  std::uint64_t scheduled_ = 0;
  std::uint64_t opened_ = 0;
  std::uint64_t second_completed_ = 0;
  std::uint64_t second_failed_ = 0;
  std::uint64_t second_established_ = 0;
  ErrorCounts second_errors_;
  Latencies second_latency_;
  std::function<void(const Second&)> on_second_;
  ClientResult result_;
  std::array<char, 65536> scratch_{};
};

}  // namespace kernel_churn
