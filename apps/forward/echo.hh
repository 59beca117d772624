// A tiny echo server (RFC 862) on one QueueEngine: every byte a client
// sends comes back, and once the client has closed and everything is
// echoed the server closes too (so TIME_WAIT stays with the client).
//
// It holds no bytes of its own between events: it reads only as much as
// the connection's send buffer has room for, so there is no per-connection
// state to allocate, and a full send buffer is simply flow control back to
// the client (its data waits in our receive window).
#pragma once

#include <array>
#include <cstdint>

#include "stack/base/errc.hh"
#include "stack/engine/engine.hh"

namespace twstack::forward {

struct EchoStats {
  std::uint64_t accepted = 0;
  std::uint64_t closed = 0;   // closed by us after the client's FIN
  std::uint64_t failed = 0;   // reset, timed out, or aborted by us (buffer pool dry)
  std::uint64_t bytes = 0;    // echoed
  std::uint64_t waits = 0;    // send buffer full with bytes unread: waited for kEvWritable
};

class EchoServer {
 public:
  explicit EchoServer(engine::QueueEngine& eng) : eng_(eng) {}
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  Errc listen(std::uint16_t port, std::uint32_t backlog);
  // Feed every event of the engine's drain_events here.
  void on_event(const engine::AppEvent& ev);
  const EchoStats& stats() const { return stats_; }

 private:
  void serve(engine::ConnId id, std::uint8_t events);
  bool pump(engine::ConnId id);

  engine::QueueEngine& eng_;
  std::uint16_t port_ = 0;
  EchoStats stats_;
  std::array<std::uint8_t, 16384> buf_{};
};

}  // namespace twstack::forward
