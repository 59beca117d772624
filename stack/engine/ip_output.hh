// The transmit side below TCP: a preallocated pool of frame buffers, IPv4
// and Ethernet headers, and frames parked while ARP resolves their next hop.
//
// TCP asks for a frame, writes its segment at the TCP offset and hands it
// back; frames then wait in the ready queue until the driver drains them in
// a burst. Nothing is allocated after construction; an empty pool is a
// counted drop (TCP recovers it like any loss).
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "stack/base/counters.hh"
#include "stack/base/time.hh"
#include "stack/engine/arp_cache.hh"
#include "stack/engine/interface.hh"
#include "stack/flow/four_tuple.hh"

namespace twstack::engine {

inline constexpr std::uint32_t kFrameSize = 2048;
inline constexpr std::uint32_t kTcpOffset = 14 + 20;  // Ethernet + IPv4 without options

class IpOutput {
 public:
  IpOutput(const Interface& ifc, std::uint32_t frames, std::uint32_t arp_queue, ArpCache& arp,
           Counters& ctr);

  void set_now(Instant now) { now_ = now; }

  // A frame for a TCP segment: returns where the TCP header goes, with room
  // for 60 bytes of header and an MSS of payload; nullptr if the pool is empty.
  std::uint8_t* begin_tcp();
  // Adds the IPv4 and Ethernet headers and the TCP checksum, then queues the
  // frame (or parks it until ARP answers).
  void finish_tcp(std::uint8_t* tcp, std::uint16_t tcp_len, const flow::FourTuple& t);

  // Raw frames (ARP, ICMP): a whole buffer, and its completed length.
  std::uint8_t* begin_frame();
  void push_frame(std::uint8_t* frame, std::uint16_t len);
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
        gave_up(std::span<const std::uint8_t>(frame(p.idx), p.len));
        free_[nfree_++] = p.idx;
      } else {
        if (arp_.should_request(p.next_hop, now_ms)) send_arp_request(p.next_hop);
        parked_[keep++] = p;
      }
    }
    parked_count_ = keep;
  }
  static constexpr std::int64_t kArpGiveUpMs = 3 * kArpRetryMs;

  // Hands every ready frame to `f(std::span<const std::uint8_t>)` and
  // recycles them. Returns how many were handed over.
  template <class F>
  std::size_t drain(F&& f) {
    std::size_t n = ready_count_;
    for (std::size_t i = 0; i < n; ++i) {
      const Ready& r = ready_[i];
      f(std::span<const std::uint8_t>(frame(r.idx), r.len));
      free_[nfree_++] = r.idx;
    }
    ready_count_ = 0;
    return n;
  }

  std::size_t ready() const { return ready_count_; }
  std::uint32_t free_frames() const { return nfree_; }
  std::uint32_t total_frames() const { return total_; }

 private:
  struct Ready {
    std::uint32_t idx;
    std::uint16_t len;
  };
  struct Parked {
    std::uint32_t idx;
    std::uint16_t len;
    wire::Ipv4Addr next_hop;
    std::int64_t since_ms;
  };

  std::uint8_t* frame(std::uint32_t idx) const { return mem_.get() + std::size_t{idx} * kFrameSize; }
  std::uint32_t index_of(const std::uint8_t* p) const {
    return static_cast<std::uint32_t>((p - mem_.get()) / kFrameSize);
  }
  std::uint8_t* alloc();
  void route(std::uint32_t idx, std::uint16_t len, wire::Ipv4Addr dst);
  void send_arp_request(wire::Ipv4Addr ip);

  const Interface& ifc_;
  ArpCache& arp_;
  Counters& ctr_;
  Instant now_{};
  std::unique_ptr<std::uint8_t[]> mem_;
  std::unique_ptr<std::uint32_t[]> free_;
  std::unique_ptr<Ready[]> ready_;
  std::unique_ptr<Parked[]> parked_;
  std::uint32_t total_;
  std::uint32_t nfree_;
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
