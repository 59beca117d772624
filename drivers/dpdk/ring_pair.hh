// Two net_ring ports in one process, joined crosswise: what port A sends on
// queue q, port B receives on queue q, and the other way round. For tests
// and one-process labs with two engines (and no NIC, no hugepages).
//
// Why not `--vdev=net_ring0,nodeaction=...`: the PMD's command-line form
// gives every queue ONE ring for both directions (rte_eth_ring.c,
// eth_dev_ring_create: rx and tx are the same "ETH_RXTX<q>_<name>" ring), so
// a port receives what it sent itself, and ATTACH makes a second port share
// that same ring rather than cross it. rte_eth_from_rings() takes separate
// rx and tx rings, so two calls with the rings swapped make a wire.
//
//   auto pair = RingPair::create(eal, "a", "b", 1, 1024, &err);
//   auto pa = DpdkPort::open(eal, pair->port_a(), cfg, &err);   // "net_ring_a"
//   auto pb = DpdkPort::open(eal, pair->port_b(), cfg, &err);
//   ...
//   pair->drain();   // after the last poll, while both ports (pools) live
//   pa.reset(); pb.reset(); pair.reset();
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "drivers/dpdk/eal.hh"

struct rte_ring;

namespace twstack::dpdk {

class RingPair {
 public:
  // Names are at most 19 characters (the port is "net_ring_<name>", and
  // ring names have at most 28). `ring_size` is a power of two; each ring
  // holds ring_size - 1 frames in flight.
  static std::unique_ptr<RingPair> create(Eal& eal, const std::string& a, const std::string& b,
                                          std::uint16_t queues, std::uint32_t ring_size, std::string* error);
  // Removes both ports' devices and frees the rings. Mbufs still in them
  // are dropped, not freed: their pools may be gone (drain() first).
  ~RingPair();
  RingPair(const RingPair&) = delete;
  RingPair& operator=(const RingPair&) = delete;

  const std::string& port_a() const { return port_a_; }
  const std::string& port_b() const { return port_b_; }
  // Frees every mbuf still in flight. Call while both ports are open.
  std::size_t drain();

 private:
  RingPair() = default;

  std::string port_a_;
  std::string port_b_;
  std::vector<rte_ring*> a_to_b_;
  std::vector<rte_ring*> b_to_a_;
  bool made_a_ = false;
  bool made_b_ = false;
};

}  // namespace twstack::dpdk
