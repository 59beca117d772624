// twstack-forward's loop: an application that owns its receive loop on two
// DPDK ports and shares port A with a QueueEngine.
//
//   A --rx--> classify_frame --stack--> DpdkQueue::deliver -> QueueEngine::rx
//                            \--other--> tx on B, the same mbuf (no copy)
//   B --rx--> tx on A, the same mbuf
//   engine: poll, events to the echo server, poll, DpdkQueue::tx_flush on A
//
// Both ports are opened with one queue (queue 0 is the only one polled),
// promiscuous, as a wire in the middle must be. Port A transmits mbufs
// from two pools (its own, for the engine's frames, and B's), so it must be
// opened with PortConfig::tx_fast_free = false; B sends only A's mbufs and
// may keep it. Each port's pool should have room for the frames that wait
// in the other port's tx ring (PortConfig::extra_mbufs).
//
// One poll_once per turn of the caller's loop, on the lcore that owns both
// queues; nothing is allocated after construction.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "apps/forward/echo.hh"
#include "drivers/dpdk/port.hh"
#include "stack/base/time.hh"
#include "stack/engine/classify.hh"
#include "stack/engine/engine.hh"

namespace twstack::forward {

struct ForwardStats {
  std::uint64_t rx_a = 0;            // frames taken from A
  std::uint64_t rx_b = 0;            // frames taken from B
  std::uint64_t a_to_b = 0;          // forwarded from A, accepted by B
  std::uint64_t b_to_a = 0;          // forwarded from B, accepted by A
  std::uint64_t a_to_b_refused = 0;  // B's tx ring was full: freed
  std::uint64_t b_to_a_refused = 0;  // A's tx ring was full: freed
  std::uint64_t to_stack = 0;        // handed to the engine
  std::uint64_t stack_dropped = 0;   // the stack's, but multi-segment or a bad checksum (DpdkQueue stats say which)
  std::uint64_t from_stack = 0;      // the engine's frames sent on A
  std::array<std::uint64_t, engine::kFrameClassCount> by_class{};  // A's frames, by classify_frame
};

class Forwarder {
 public:
  // `ifc`: A's interface (DpdkPort::interface()) with the engine's
  // addresses added. `burst`: frames per rx burst, 1 to DpdkQueue::kMaxBurst.
  Forwarder(dpdk::DpdkPort& a, dpdk::DpdkPort& b, const engine::Interface& ifc,
            const engine::EngineOptions& opt, std::uint16_t burst = 32);
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Starts the echo server on the engine.
  Errc listen(std::uint16_t port, std::uint32_t backlog = 128) { return echo_.listen(port, backlog); }

  // One turn: a burst from each port, then the engine's timers, events and
  // output. Returns the frames received (0: idle).
  std::size_t poll_once(Instant now);

  engine::QueueEngine& engine() { return eng_; }
  const engine::QueueEngine& engine() const { return eng_; }
  const ForwardStats& stats() const { return stats_; }
  const EchoStats& echo_stats() const { return echo_.stats(); }
  const dpdk::QueueStats& queue_stats() const { return qa_.stats(); }

 private:
  std::size_t from_a(Instant now);
  std::size_t from_b();

  std::uint16_t port_a_;
  std::uint16_t port_b_;
  std::uint16_t burst_;
  dpdk::DpdkQueue& qa_;
  engine::QueueEngine eng_;
  EchoServer echo_;
  ForwardStats stats_;
};

}  // namespace twstack::forward
