// A minimal test harness: two engines whose frames are handed across
// directly, in virtual time, with an optional per-frame filter (drop or
// inspect). Scenario tests with faults use drivers/memory instead.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

#include "stack/engine/engine.hh"
#include "stack/engine/options.hh"
#include "tests/support/secret.hh"

namespace twstack::test {

inline engine::Interface make_ifc(std::uint8_t host) {
  engine::Interface ifc;
  ifc.mac = wire::MacAddr{{0x02, 0, 0, 0, 0, host}};
  ifc.add_addr(wire::Ipv4Addr::from_octets(10, 0, 0, host));
  ifc.prefix_len = 24;
  return ifc;
}

inline engine::EngineOptions small_opts() {
  engine::EngineOptions o = engine::options_from(StackConfig{}, kTestSecret);
  o.max_connections = 256;
  o.buffer_chunks = 2048;
  o.tx_frames = 1024;
  return o;
}

struct Connected {
  engine::ConnId client;  // on a
  engine::ConnId server;  // on b
};

struct Captured {
  int from;  // 0 = a, 1 = b
  std::vector<std::uint8_t> bytes;
};

class DirectPair {
 public:
  DirectPair(engine::EngineOptions oa = small_opts(), engine::EngineOptions ob = small_opts())
      : a_(make_ifc(1), oa), b_(make_ifc(2), ob) {
    // The API uses the time of the latest rx/poll: start both clocks.
    a_.poll(now_);
    b_.poll(now_);
  }

  engine::QueueEngine& a() { return a_; }
  engine::QueueEngine& b() { return b_; }
  engine::QueueEngine& side(int i) { return i == 0 ? a_ : b_; }
  Instant now() const { return now_; }
  wire::Ipv4Addr addr(int i) const { return wire::Ipv4Addr::from_octets(10, 0, 0, static_cast<std::uint8_t>(i + 1)); }

  // Return false to drop the frame.
  std::function<bool(const Captured&)> filter;
  std::function<void(int side, const engine::AppEvent&)> on_event;
  std::vector<Captured> log;

  // Moves frames until nothing is in flight at the current instant.
  void settle() {
    for (int guard = 0; guard < 100000; ++guard) {
      bool moved = false;
      for (int s = 0; s < 2; ++s) {
        side(s).poll(now_);
        side(s).drain_events([&](const engine::AppEvent& ev) {
          if (on_event) on_event(s, ev);
        });
        side(s).poll(now_);
        side(s).drain_tx([&](std::span<const std::uint8_t> f) {
          Captured c{s, std::vector<std::uint8_t>(f.begin(), f.end())};
          log.push_back(c);
          if (!filter || filter(c)) queue_.push_back(std::move(c));
        });
      }
      while (!queue_.empty()) {
        Captured c = std::move(queue_.front());
        queue_.pop_front();
        side(1 - c.from).rx(c.bytes, now_);
        moved = true;
      }
      if (!moved) return;
    }
  }

  // Advances virtual time in 1 ms steps, settling at each.
  void advance(Duration d) {
    Instant end = now_ + d;
    while (now_ < end) {
      now_ += Duration::millis(1);
      settle();
    }
  }

  void inject(int to, std::span<const std::uint8_t> frame) { side(to).rx(frame, now_); }

  // a connects to a listener on b; the handshake (and ARP) completes at the
  // current instant. nullopt if any step failed.
  std::optional<Connected> establish(std::uint16_t port = 80) {
    Connected c{};
    if (b_.listen(port, 16) != Errc::kOk) return std::nullopt;
    if (a_.connect(addr(1), port, &c.client) != Errc::kOk) return std::nullopt;
    settle();
    auto acc = b_.accept(port);
    if (!acc) return std::nullopt;
    c.server = *acc;
    return c;
  }

 private:
  engine::QueueEngine a_;
  engine::QueueEngine b_;
  Instant now_{Instant{1000000}};
  std::deque<Captured> queue_;
};

}  // namespace twstack::test
