#include "apps/forward/forward.hh"

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <span>

namespace twstack::forward {
namespace {

using Burst = std::array<rte_mbuf*, dpdk::DpdkQueue::kMaxBurst>;

// Sends n mbufs on the port's queue 0 and frees what the NIC refuses: no
// retry, as DpdkQueue::tx_flush (a full ring now is full a moment later;
// the endpoints' TCP treats it as loss). Returns the frames accepted.
std::uint16_t transmit(std::uint16_t port, Burst& pkts, std::uint16_t n, std::uint64_t* refused) {
  if (n == 0) return 0;
  const std::uint16_t sent = rte_eth_tx_burst(port, 0, pkts.data(), n);
  if (sent < n) {
    *refused += n - sent;
    rte_pktmbuf_free_bulk(pkts.data() + sent, n - sent);
  }
  return sent;
}

}  // namespace

Forwarder::Forwarder(dpdk::DpdkPort& a, dpdk::DpdkPort& b, const engine::Interface& ifc,
                     const engine::EngineOptions& opt, std::uint16_t burst)
    : port_a_(a.port_id()),
      port_b_(b.port_id()),
      burst_(std::clamp<std::uint16_t>(burst, 1, dpdk::DpdkQueue::kMaxBurst)),
      qa_(a.queue(0)),
      eng_(ifc, opt),
      echo_(eng_) {}

std::size_t Forwarder::poll_once(Instant now) {
  const std::size_t n = from_a(now) + from_b();
  eng_.poll(now);
  eng_.drain_events([this](const engine::AppEvent& ev) { echo_.on_event(ev); });
  eng_.poll(now);  // what the echo queued
  stats_.from_stack += qa_.tx_flush(eng_);
  return n;
}

// A's frames: the engine's share goes to the engine (and its mbuf back to
// the pool), the rest to B as received.
std::size_t Forwarder::from_a(Instant now) {
  Burst rx;
  Burst fwd;
  std::uint16_t nfwd = 0;
  std::uint16_t ndone = 0;  // the engine's, compacted into rx (ndone <= i)
  const std::uint16_t n = rte_eth_rx_burst(port_a_, 0, rx.data(), burst_);
  for (std::uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = rx[i];
    // The first segment holds the headers classify reads; a multi-segment
    // frame for the stack is refused by deliver() and counted there.
    const std::span<const std::uint8_t> frame(rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len);
    const engine::FrameClass c = engine::classify_frame(frame, eng_.interface());
    ++stats_.by_class[static_cast<std::size_t>(c)];
    if (!engine::is_stack(c)) {
      fwd[nfwd++] = m;
      continue;
    }
    if (qa_.deliver(eng_, m, now)) {
      ++stats_.to_stack;
    } else {
      ++stats_.stack_dropped;
    }
    rx[ndone++] = m;
  }
  stats_.rx_a += n;
  if (ndone != 0) rte_pktmbuf_free_bulk(rx.data(), ndone);
  stats_.a_to_b += transmit(port_b_, fwd, nfwd, &stats_.a_to_b_refused);
  return n;
}

// B's frames all go to A unchanged: the engine lives on A's side only.
std::size_t Forwarder::from_b() {
  Burst rx;
  const std::uint16_t n = rte_eth_rx_burst(port_b_, 0, rx.data(), burst_);
  stats_.rx_b += n;
  stats_.b_to_a += transmit(port_a_, rx, n, &stats_.b_to_a_refused);
  return n;
}

}  // namespace twstack::forward
