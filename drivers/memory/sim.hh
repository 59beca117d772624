// Two QueueEngines joined by a Link, driven in virtual time: the harness for
// scenario tests, `twstack sim ...` and the lifecycle benchmark.
//
//   SimPair p(sim_interface(0), opts, sim_interface(1), opts, faults, seed);
//   p.preload_arp();                       // optional: ARP also works over the link
//   p.b().listen(80, 16);
//   p.a().connect(sim_addr(1), 80, &id);
//   p.run_until([&] { return finished; }, Duration::seconds(60),
//               [&](int side, const engine::AppEvent& ev) { ... });
//
// Virtual time only moves between rounds, and only when a round at the
// current instant moved nothing (no frame delivered or sent, no event): it
// then jumps to the next frame due on the link or the next engine timer,
// never further than `max_step`. With a zero-delay link, a whole exchange
// can therefore happen at one instant; a bounded number of busy rounds per
// instant keeps a livelock from stopping the clock.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <span>

#include "drivers/memory/link.hh"
#include "stack/engine/engine.hh"

namespace twstack::memory {

// The standard pair: side 0 is 10.0.0.1 (MAC 02:00:00:00:00:01), side 1 is
// 10.0.0.2 (02:00:00:00:00:02), both /24 on the same link.
engine::Interface sim_interface(int side);
wire::Ipv4Addr sim_addr(int side);
wire::MacAddr sim_mac(int side);

// Teaches `eng` that `ip` is at `mac`, as an ARP reply addressed to it would
// (which is what is handed to rx(): the engine has no other way in).
void preload_arp(engine::QueueEngine& eng, wire::Ipv4Addr ip, wire::MacAddr mac, Instant now);

class SimPair {
 public:
  // Busy rounds at one instant before the clock is moved anyway.
  static constexpr std::uint32_t kMaxRoundsPerInstant = 100000;
  // Virtual time at construction: 1 s, so no timestamp starts at zero.
  static constexpr Instant kStart{1000000};

  SimPair(const engine::Interface& a, const engine::EngineOptions& oa, const engine::Interface& b,
          const engine::EngineOptions& ob, const FaultSpec& faults, std::uint64_t seed,
          std::size_t link_capacity = 65536);
  SimPair(const SimPair&) = delete;
  SimPair& operator=(const SimPair&) = delete;

  engine::QueueEngine& a() { return a_; }
  engine::QueueEngine& b() { return b_; }
  engine::QueueEngine& side(int s) { return s == 0 ? a_ : b_; }
  const engine::QueueEngine& side(int s) const { return s == 0 ? a_ : b_; }
  Link& link() { return link_; }
  const Link& link() const { return link_; }
  Instant now() const { return now_; }
  std::uint64_t rounds() const { return rounds_; }

  // A round's order. false: received frames, timers and output, then the
  // applications' events (an ACK a segment calls for leaves alone). true:
  // the DPDK runtime's loop (apps/runtime): events right after the frames,
  // so the ACK leaves with what the application answers.
  bool events_first = false;

  // Preloads both ARP caches with each other's first address and MAC.
  void preload_arp();

  // Called with every frame an engine transmits, before the link's faults
  // (tracing, pcap capture). Empty: no cost beyond one test per frame.
  std::function<void(int from, std::span<const std::uint8_t> frame, Instant now)> tap;

  // One round at the current time: deliver due frames (rx), poll both
  // engines, hand each application event to on_event(side, const AppEvent&)
  // (which may call either engine's API), poll again to flush what the
  // callbacks queued, and move both engines' output onto the link. Returns
  // whether anything moved (a frame delivered or sent, or an event).
  template <class F>
  bool round(F&& on_event);

  // Runs rounds, moving virtual time as described above, until done()
  // returns true or `limit` of virtual time has passed. Returns done().
  template <class F, class D>
  bool run_until(D&& done, Duration limit, F&& on_event, Duration max_step = Duration::millis(10));

  // Rounds at the current instant until nothing moves.
  template <class F>
  void settle(F&& on_event);
  // Runs for `d` of virtual time.
  template <class F>
  void advance(Duration d, F&& on_event) {
    run_until([] { return false; }, d, on_event);
  }

 private:
  // When the next round is worth running: next link delivery or engine
  // timer, within (now, now + max_step].
  Instant next_wakeup(Duration max_step) const;

  Link link_;
  engine::QueueEngine a_;
  engine::QueueEngine b_;
  Instant now_ = kStart;
  std::uint64_t rounds_ = 0;
};

template <class F>
bool SimPair::round(F&& on_event) {
  std::size_t moved = 0;
  for (int s = 0; s < 2; ++s) {
    engine::QueueEngine& eng = side(s);
    moved += link_.deliver(s, now_, [&](std::span<const std::uint8_t> f) { eng.rx(f, now_); });
  }
  if (!events_first) {
    a_.poll(now_);
    b_.poll(now_);
  }
  for (int s = 0; s < 2; ++s) {
    side(s).drain_events([&](const engine::AppEvent& ev) {
      ++moved;
      on_event(s, ev);
    });
  }
  a_.poll(now_);
  b_.poll(now_);
  for (int s = 0; s < 2; ++s) {
    moved += side(s).drain_tx([&](std::span<const std::uint8_t> f) {
      if (tap) tap(s, f, now_);
      link_.send(s, f, now_);
    });
  }
  ++rounds_;
  return moved != 0;
}

template <class F, class D>
bool SimPair::run_until(D&& done, Duration limit, F&& on_event, Duration max_step) {
  const Instant end = now_ + limit;
  std::uint32_t busy = 0;
  for (;;) {
    if (done()) return true;
    bool moved = round(on_event);
    if (done()) return true;
    if (moved && ++busy < kMaxRoundsPerInstant) continue;
    busy = 0;
    if (now_ >= end) return false;
    now_ = std::min(end, next_wakeup(max_step));
  }
}

template <class F>
void SimPair::settle(F&& on_event) {
  for (std::uint32_t i = 0; i < kMaxRoundsPerInstant; ++i) {
    if (!round(on_event)) return;
  }
}

}  // namespace twstack::memory
