// The server side of `twstack serve`, on one QueueEngine: listens on a set
// of ports and answers each connection in one of three modes.
//
//   discard  reads and drops everything
//   echo     sends back what it reads
//   http     answers each request head (GET, HEAD, anything) with
//            "200 OK" and a fixed body of body_bytes; a malformed head gets
//            "400 Bad Request" and a close
//
// Who closes first (closer):
//   server   http: after answering a request that asks to close (RFC 9112
//            §9.6: "Connection: close", or HTTP/1.0 without keep-alive) --
//            what nginx does; echo and discard: once requests_per_conn x
//            request_bytes bytes have been read (and echoed).
//   client   never first: the response says "Connection: close" if the
//            request asked for it, and the server closes only after reading
//            the client's FIN, so TIME_WAIT lands on the client.
// Either way, once the peer's FIN has been read and every response queued,
// the server closes too -- unless it holds (`hold`, `--closer never`):
//   hold     with closer client, the server never closes: after the peer's
//            FIN the connection stays in CLOSE_WAIT until idle_timeout or
//            stop(), so the client's orphaned connection sits in FIN_WAIT2
//            for tcp_fin_timeout (tcp_rcv_state_process, FIN_WAIT1 case).
//
// Idle limit (idle_timeout, `--idle-timeout`): a connection on which
// nothing has happened for that long -- no byte read, none taken for
// sending, no event -- is reset (RST), as nginx's client timeouts end a
// silent client (with reset_timedout_connection on): its peer has most
// likely vanished without a FIN (a crashed host, a lost FIN, a NAT that
// forgot it), and a reset frees the slot at once where a FIN would be
// retransmitted into the void for minutes. tick() checks at most every
// idle_timeout / 16 (and at least once a second), so a silent
// connection goes within idle_timeout * 17/16.
//
// Restart (restart_after, `--restart-after`): that long after the first
// connection was accepted, the listeners restart as a restarted server
// process's would: every port stops listening (its accept queue is reset,
// inet_csk_listen_stop) and is bound again, with SO_REUSEADDR or without
// (restart_reuseaddr), then listened on. Without it, TIME_WAIT entries of
// the port's connections refuse the bind (EADDRINUSE, inet_csk_bind_conflict;
// docs/linux-timewait.md §8); the result is kept (ServeStats::restart_bind),
// and the port is then bound with SO_REUSEADDR, so the service goes on.
//
// The engine, the clock and the event loop belong to the caller (the DPDK
// runtime, or a SimPair in churn.hh and tests): ServeApp only reacts to events.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "apps/workloads/closer.hh"
#include "apps/workloads/http_head.hh"
#include "stack/engine/engine.hh"

namespace twstack::app {

enum class ServeMode : std::uint8_t { kDiscard, kEcho, kHttp };
const char* serve_mode_name(ServeMode m);

struct ServeSettings {
  std::vector<std::uint16_t> ports{80};
  ServeMode mode = ServeMode::kHttp;
  Closer closer = Closer::kServer;
  bool hold = false;                    // closer client only: never close (see above)
  std::uint32_t body_bytes = 100;       // http: the body of every 200 response
  std::uint32_t request_bytes = 100;    // echo/discard with closer server: bytes per request
  std::uint32_t requests_per_conn = 1;  // echo/discard with closer server
  std::uint32_t backlog = 4096;         // capped by net.core.somaxconn
  // 60 s: nginx's client_header_timeout, client_body_timeout and
  // send_timeout (its keepalive_timeout is 75 s; Apache's Timeout is 60 s).
  // Zero: no limit.
  Duration idle_timeout = Duration::seconds(60);
  Duration restart_after{};             // zero: never (see above)
  bool restart_reuseaddr = true;
};

// Totals since start (the runtime takes differences per second).
struct ServeStats {
  std::uint64_t accepted = 0;
  std::uint64_t closed = 0;         // connections that ended (either way)
  std::uint64_t server_closed = 0;  // ... that the server closed first
  std::uint64_t aborted = 0;        // ended with an error (reset, timeout, ...)
  std::uint64_t requests = 0;       // http heads answered
  std::uint64_t bad_requests = 0;   // http heads that could not be parsed (answered 400)
  std::uint64_t idle_closed = 0;    // reset after idle_timeout without activity (also in closed)
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t restarts = 0;       // listener restarts done (restart_after)
  Errc restart_bind = Errc::kOk;    // the first restart bind()'s refusal, if any
  Errc restart_rebind = Errc::kOk;  // ... and then the bind() with SO_REUSEADDR
};

class ServeApp {
 public:
  // `max_connections`: the engine's twstack.max_connections (ConnId::index range).
  ServeApp(engine::QueueEngine& eng, const ServeSettings& s, std::uint32_t max_connections);
  ServeApp(const ServeApp&) = delete;
  ServeApp& operator=(const ServeApp&) = delete;

  // Listens on every port; the first refusal is returned (EADDRINUSE, ...).
  Errc start();
  void on_event(const engine::AppEvent& ev);
  // Enforces idle_timeout; call it from the event loop (cheap between scans).
  void tick(Instant now);
  // Restarts every listener now (see restart_after); the first refusal.
  Errc restart(bool reuseaddr);
  // Graceful stop: stop listening and close every connection (FIN).
  void stop();
  const ServeStats& stats() const { return stats_; }
  std::uint64_t live() const { return live_; }

 private:
  struct Conn {
    std::uint32_t gen = 0;
    bool live = false;
    bool peer_closed = false;
    bool close_after = false;      // http: close once the queued responses are out
    std::uint32_t pending = 0;     // responses (http) or echo bytes not yet taken by send()
    std::uint32_t offset = 0;      // http: bytes of the current response already sent
    bool pending_close = false;    // http: the current response is the "close" variant
    std::uint64_t read = 0;        // echo/discard: bytes read
    Instant last{};                // the latest activity (event, accept)
    HttpHead head;
  };

  void accept_all(std::uint16_t port);
  void read_all(Conn& c, engine::ConnId id);
  void consume_http(Conn& c, std::span<const std::uint8_t> bytes);
  // Sends what is pending; false if the connection was given up.
  bool flush(Conn& c, engine::ConnId id);
  bool flush_http(Conn& c, engine::ConnId id);
  void finish(Conn& c, engine::ConnId id, bool by_us);
  Conn* conn_of(engine::ConnId id);

  engine::QueueEngine& eng_;
  ServeSettings s_;
  std::vector<Conn> conns_;
  std::string ok_keep_;   // "200 OK" head and body, persistent
  std::string ok_close_;  // ... with "Connection: close"
  std::string bad_;       // "400 Bad Request", closing
  std::array<std::uint8_t, 16384> buf_{};
  ServeStats stats_;
  std::uint64_t live_ = 0;
  bool stopping_ = false;
  Instant next_scan_{};
  std::optional<Instant> first_accept_;
};

}  // namespace twstack::app
