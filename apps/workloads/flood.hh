// A flood of hostile frames from one QueueEngine, for `twstack flood` and
// `twstack churn --flood`: SYNs from spoofed sources (a SYN flood), ACKs or
// RSTs with random sequence numbers (blind injection), or malformed frames,
// to one target address and port. Frames are built with stack/wire and sent
// as they are through QueueEngine::send_frame, so the engine's own traffic
// (a churn's connections, ARP) shares the queue.
//
// The target's MAC comes from the engine's ARP cache: the flooder asks for
// it (a raw ARP request from the engine's own address, every 200 ms until
// the answer is in) and sends nothing before. Spoofed sources are drawn
// uniformly from a range of addresses, source ports from 1024-65535,
// sequence numbers at random (xorshift, from a seed: a run is repeatable).
//
// Always bounded: by a count of frames, by a window of time, or both (the
// commands refuse a flood with neither). With rate R > 0 frame k is due at
// start + k/R; with R = 0 the flooder sends flat out, as many frames per tick
// as the TX pool has to spare beyond a reserve for the engine's own traffic.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "stack/engine/engine.hh"

namespace twstack::app {

enum class FloodKind : std::uint8_t { kSyn, kAck, kRst, kMalformed };
const char* flood_kind_name(FloodKind k);
// "syn", "ack", "rst", "malformed"; false otherwise.
bool parse_flood_kind(std::string_view s, FloodKind* k);

struct FloodSettings {
  FloodKind kind = FloodKind::kSyn;
  wire::Ipv4Addr target{};
  std::uint16_t port = 0;
  wire::Ipv4Addr src_first{};     // spoofed sources: src_first + [0, src_count)
  std::uint32_t src_count = 1;
  std::uint64_t rate = 0;         // frames per second, all queues together; 0: flat out
  std::uint64_t count = 0;        // frames, all queues together; 0: no limit but the window
  Duration window{};              // from start(); 0: no limit but the count
  std::uint32_t stride = 1;       // this queue's share of rate and count: queue `offset` of `stride`
  std::uint32_t offset = 0;
  std::uint64_t seed = 1;
};

struct FloodCounts {
  std::uint64_t sent = 0;
  std::uint64_t pool_full = 0;    // ticks that found no TX frame to spare
  std::uint64_t arp_requests = 0;
};

class Flooder {
 public:
  static constexpr std::uint32_t kMaxBurst = 128;     // frames per tick
  static constexpr std::uint32_t kReserveFrames = 256;  // TX frames left to the engine

  Flooder(engine::QueueEngine& eng, const FloodSettings& s);
  void start(Instant now);
  void tick(Instant now);
  bool done() const { return done_; }
  const FloodCounts& counts() const { return n_; }

 private:
  std::uint64_t quota() const;  // this queue's share of the count, or ~0
  std::uint64_t due(Instant now) const;
  bool resolve(Instant now);
  std::size_t build(std::uint8_t* f);
  std::uint64_t next();

  engine::QueueEngine& eng_;
  FloodSettings s_;
  Instant begin_{};
  Instant last_arp_{};
  wire::MacAddr dst_mac_{};
  bool resolved_ = false;
  bool started_ = false;
  bool done_ = false;
  std::uint64_t rng_;
  std::uint32_t malformed_next_ = 0;
  FloodCounts n_;
};

}  // namespace twstack::app
