// The transmit side below TCP: a preallocated pool of frame buffers, IPv4
// and Ethernet headers, and frames parked while ARP resolves their next hop.
//
// TCP's segments arrive already written at the TCP offset of a frame from
// the shared pool (tcp::SegmentQueue); this adds the lower headers in place,
// and frames then wait in the ready queue until the driver drains them in a
// burst. Nothing is allocated after construction; an empty pool is a counted
// drop (TCP recovers it like any loss).
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "stack/base/counters.hh"
#include "stack/base/frame_pool.hh"
#include "stack/base/time.hh"
#include "stack/engine/arp_cache.hh"
#include "stack/engine/interface.hh"
#include "stack/wire/four_tuple.hh"

namespace twstack::engine {

inline constexpr std::uint32_t kFrameSize = 2048;
inline constexpr std::uint32_t kTcpOffset = 14 + 20;  // Ethernet + IPv4 without options

class IpOutput {
 public:
  IpOutput(const Interface& ifc, FramePool& pool, std::uint32_t arp_queue, ArpCache& arp,
           Counters& ctr);

  void set_now(Instant now) { now_ = now; }

  // A TCP segment written at kTcpOffset of a pool frame: adds the TCP
  // checksum and the IPv4 and Ethernet headers, then queues the frame (or
  // parks it until ARP answers).
  void finish_tcp(std::uint8_t* tcp, std::uint16_t tcp_len, const wire::FourTuple& t);

  // Raw frames (ARP, ICMP): a whole buffer, and its completed length.
  std::uint8_t* begin_frame();
  void push_frame(std::uint8_t* frame, std::uint16_t len);
  // An application's frame sent as it is (QueueEngine::send_frame): it goes
  // out after every frame of the stack's own, so a traffic generator that
  // fills a full TX ring refuses its own frames, not the connections'.
  void push_last(std::uint8_t* frame, std::uint16_t len) { last_[last_count_++] = Ready{frame, len}; }
  // IPv4 payload to `dst` (ICMP): adds the headers, resolves the next hop.
  void finish_ipv4(std::uint8_t* frame, wire::Ipv4Addr src, wire::Ipv4Addr dst, std::uint8_t proto,
                   std::uint16_t payload_len);

  // An ARP reply arrived: frames waiting for `ip` become ready.
  void resolved(wire::Ipv4Addr ip, wire::MacAddr mac);
  // Drops parked frames whose next hop never answered (3 requests, 1 s
  // apart), showing each to `gave_up(std::span<const std::uint8_t>)` first.
  template <class F>
  void expire_pending(F&& gave_up) {
    std::int64_t now_ms = now_.ms();
    std::uint32_t keep = 0;
    for (std::uint32_t i = 0; i < parked_count_; ++i) {
      Parked p = parked_[i];
      if (now_ms - p.since_ms >= kArpGiveUpMs) {
        ctr_.inc(Counter::TwstackArpQueueDrops);
        gave_up(std::span<const std::uint8_t>(p.frame, p.len));
        pool_.release(p.frame);
      } else {
        if (arp_.should_request(p.next_hop, now_ms)) send_arp_request(p.next_hop);
        parked_[keep++] = p;
      }
    }
    parked_count_ = keep;
  }
  static constexpr std::int64_t kArpGiveUpMs = 3 * kArpRetryMs;

  // Hands every ready frame to `f(std::span<const std::uint8_t>)`; then it
  // is the pool's again, or, when the pool's buffers are a driver's
  // (FrameSource), f's to send and free. Returns how many were handed over.
  template <class F>
  std::size_t drain(F&& f) {
    std::size_t n = ready_count_;
    for (std::size_t i = 0; i < n; ++i) {
      const Ready& r = ready_[i];
      f(std::span<const std::uint8_t>(r.frame, r.len));
      pool_.sent(r.frame);
    }
    ready_count_ = 0;
    for (std::size_t i = 0; i < last_count_; ++i) {
      const Ready& r = last_[i];
      f(std::span<const std::uint8_t>(r.frame, r.len));
      pool_.sent(r.frame);
    }
    n += last_count_;
    last_count_ = 0;
    return n;
  }

  std::size_t ready() const { return ready_count_ + last_count_; }
  std::uint32_t free_frames() const { return pool_.available(); }
  std::uint32_t total_frames() const { return pool_.total(); }

 private:
  struct Ready {
    std::uint8_t* frame;
    std::uint16_t len;
  };
  struct Parked {
    std::uint8_t* frame;
    std::uint16_t len;
    wire::Ipv4Addr next_hop;
    std::int64_t since_ms;
  };

  std::uint8_t* alloc();
  void route(std::uint8_t* f, std::uint16_t len, wire::Ipv4Addr dst);
  void send_arp_request(wire::Ipv4Addr ip);

  const Interface& ifc_;
  FramePool& pool_;
  ArpCache& arp_;
  Counters& ctr_;
  Instant now_{};
  std::unique_ptr<Ready[]> ready_;
  std::unique_ptr<Ready[]> last_;
  std::uint32_t last_count_ = 0;
  std::unique_ptr<Parked[]> parked_;
  std::uint32_t ready_count_ = 0;
  std::uint32_t parked_cap_;
  std::uint32_t parked_count_ = 0;
  std::uint16_t ip_id_ = 0;
  // One-entry memo of the last next hop, so a busy flow skips the cache.
  wire::Ipv4Addr memo_ip_{};
  wire::MacAddr memo_mac_{};
  std::int64_t memo_until_ms_ = -1;
};

}  // namespace twstack::engine
