// The client side of `twstack churn`, on one QueueEngine: opens connections
// to a list of targets, runs requests on each, and closes, counting what
// happens. The caller owns the engine, the clock and the event loop (the
// DPDK runtime; a SimPair in churn.hh and tests) and calls tick(now) once per loop.
//
// Schedule: with rate R > 0, attempt k (k = 0, 1, ...) is due at
// start + k/R; attempts that fall due while the loop was busy are made at
// once, up to kMaxBurst per tick (the rest the next tick), so the rate holds
// on average and a late loop shows as `late` rather than as lost attempts.
// With R = 0 it keeps `inflight` connections in progress, opening the next
// one as soon as one ends (1 ms later after a refused connect()).
//
// Targets are taken in turn (attempt k goes to target k mod n), so several
// server ports or addresses multiply the 4-tuples.
//
// Protocols:
//   http  "GET / HTTP/1.1"; the response's Content-Length says where it
//         ends. With closer server the last request says "Connection:
//         close" and the client waits for the server's FIN.
//   echo  request_bytes bytes; the same number back is the response. With
//         closer server the client waits for the server's FIN.
// With closer client the client closes after the last response.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/histogram.hh"
#include "apps/workloads/closer.hh"
#include "apps/workloads/http_head.hh"
#include "stack/engine/engine.hh"

namespace twstack::app {

enum class ChurnProto : std::uint8_t { kHttp, kEcho };

struct ChurnTarget {
  wire::Ipv4Addr ip;
  std::uint16_t port = 80;
  bool operator==(const ChurnTarget&) const = default;
};

struct ChurnClientSettings {
  std::vector<ChurnTarget> targets;
  // Local addresses to connect from, in turn after every target has had one
  // attempt (empty: the interface's first); each must be the interface's.
  std::vector<wire::Ipv4Addr> sources;
  std::uint64_t rate = 1000;           // attempts per second; 0: keep `inflight` in progress
  std::uint32_t inflight = 64;
  Closer closer = Closer::kClient;
  std::uint32_t requests_per_conn = 1;
  ChurnProto proto = ChurnProto::kHttp;
  std::uint32_t request_bytes = 100;   // echo
  // Attempts are made only while due before start + window (0: no end), so
  // the count is exact however late the caller stops the loop.
  Duration window{};
  // Attempt k of this engine is the global attempt k*stride + offset: with
  // one engine per queue, each takes its share of the rate.
  std::uint32_t stride = 1;
  std::uint32_t offset = 0;
};

// Totals since start; the runtime takes differences per second.
struct ChurnCounts {
  std::uint64_t attempts = 0;
  std::uint64_t ok = 0;         // established
  std::uint64_t failed = 0;     // connect() refused, or closed before established
  std::uint64_t broken = 0;     // closed with an error after being established
  std::uint64_t completed = 0;  // every response read, closed cleanly
  std::uint64_t requests = 0;   // responses read in full
  std::uint64_t bad_responses = 0;  // http: unparsable head or a non-2xx status
  std::uint64_t late = 0;       // attempts made more than 1 ms after they were due
  std::array<std::uint64_t, 256> errors{};  // failures and breaks by Errc
  bool operator==(const ChurnCounts&) const = default;
};

class ChurnClient {
 public:
  static constexpr std::uint32_t kMaxBurst = 256;

  ChurnClient(engine::QueueEngine& eng, const ChurnClientSettings& s, std::uint32_t max_connections);
  ChurnClient(const ChurnClient&) = delete;
  ChurnClient& operator=(const ChurnClient&) = delete;

  void start(Instant now);
  // Makes the attempts due at `now` (the engine's clock must be at now).
  void tick(Instant now);
  void on_event(const engine::AppEvent& ev);
  // No new attempts; with `close_all`, every live connection is closed too.
  void stop(bool close_all);
  // When the next attempt falls due (for an idle loop); nullopt if none.
  std::optional<Instant> next_due() const;

  const ChurnCounts& counts() const { return n_; }
  std::uint64_t live() const { return live_; }
  std::optional<Duration> first_failure() const { return first_failure_; }
  std::optional<Errc> first_errno() const { return first_errno_; }
  // Microseconds from connect() to established, and from connect() to the
  // end of the first response, one value per connection that got there.
  const LatencyHistogram& connect_latency() const { return connect_us_; }
  const LatencyHistogram& response_latency() const { return response_us_; }

 private:
  struct Conn {
    std::uint32_t gen = 0;
    bool live = false;
    bool established = false;
    bool last_sent = false;        // every request is out (http: the last one may say close)
    std::uint32_t requests_sent = 0;
    std::uint32_t responses = 0;
    std::uint32_t req_offset = 0;  // bytes of the current request already sent
    std::uint64_t body_left = 0;   // http: body bytes of the current response still to read
    std::uint32_t echo_left = 0;   // echo: bytes of the current response still to read
    bool in_body = false;
    Instant opened{};              // when connect() was called
    HttpHead head;
  };

  void attempt(Instant now);
  void fail(Errc e, Instant now);
  void read(Conn& c, engine::ConnId id);
  void consume_http(Conn& c, std::span<const std::uint8_t> bytes);
  void response_done(Conn& c);
  bool send_request(Conn& c, engine::ConnId id);
  void end(Conn& c, engine::ConnId id, Errc why);
  Instant due(std::uint64_t k) const;
  const std::string& request_for(const Conn& c) const;
  Conn* conn_of(engine::ConnId id);

  engine::QueueEngine& eng_;
  ChurnClientSettings s_;
  std::vector<Conn> conns_;
  std::string req_keep_;
  std::string req_close_;
  std::string echo_req_;
  std::array<std::uint8_t, 16384> buf_{};
  ChurnCounts n_;
  Instant start_{};
  std::uint64_t next_k_ = 0;
  std::deque<Instant> retries_;  // rate 0: slots waiting after a refused connect()
  std::uint64_t live_ = 0;
  std::optional<Duration> first_failure_;
  std::optional<Errc> first_errno_;
  LatencyHistogram connect_us_;
  LatencyHistogram response_us_;
  bool running_ = false;
};

}  // namespace twstack::app
