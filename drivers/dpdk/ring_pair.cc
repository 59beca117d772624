#include "drivers/dpdk/ring_pair.hh"

#include <rte_bus_vdev.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <bit>

namespace twstack::dpdk {

std::unique_ptr<RingPair> RingPair::create(Eal& /*eal: proof the EAL is up*/, const std::string& a,
                                           const std::string& b, std::uint16_t queues, std::uint32_t ring_size,
                                           std::string* error) {
  if (a.empty() || b.empty() || a == b || a.size() > 19 || b.size() > 19) {
    *error = "ring pair names must differ and be 1 to 19 characters";
    return nullptr;
  }
  if (queues == 0 || queues > RTE_PMD_RING_MAX_RX_RINGS || ring_size < 2 || !std::has_single_bit(ring_size)) {
    *error = "a ring pair has 1 to " + std::to_string(RTE_PMD_RING_MAX_RX_RINGS) +
             " queues and a power-of-two ring size of at least 2";
    return nullptr;
  }
  std::unique_ptr<RingPair> p(new RingPair());
  const int socket = static_cast<int>(rte_socket_id());
  for (std::uint16_t q = 0; q < queues; ++q) {
    for (int dir = 0; dir < 2; ++dir) {
      // Each ring has one producer (a tx queue) and one consumer (an rx queue).
      std::string name = "tw_" + (dir == 0 ? a : b) + "_tx" + std::to_string(q);
      rte_ring* r = rte_ring_create(name.c_str(), ring_size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
      if (r == nullptr) {
        *error = "rte_ring_create(" + name + ") failed: " + rte_strerror(rte_errno);
        return nullptr;
      }
      (dir == 0 ? p->a_to_b_ : p->b_to_a_).push_back(r);
    }
  }
  const auto nq = static_cast<unsigned>(queues);
  if (rte_eth_from_rings(a.c_str(), p->b_to_a_.data(), nq, p->a_to_b_.data(), nq, static_cast<unsigned>(socket)) < 0) {
    *error = "rte_eth_from_rings(" + a + ") failed: " + rte_strerror(rte_errno);
    return nullptr;
  }
  p->made_a_ = true;
  p->port_a_ = "net_ring_" + a;
  if (rte_eth_from_rings(b.c_str(), p->a_to_b_.data(), nq, p->b_to_a_.data(), nq, static_cast<unsigned>(socket)) < 0) {
    *error = "rte_eth_from_rings(" + b + ") failed: " + rte_strerror(rte_errno);
    return nullptr;
  }
  p->made_b_ = true;
  p->port_b_ = "net_ring_" + b;
  return p;
}

std::size_t RingPair::drain() {
  std::size_t n = 0;
  for (auto* rings : {&a_to_b_, &b_to_a_}) {
    for (rte_ring* r : *rings) {
      void* obj = nullptr;
      while (rte_ring_dequeue(r, &obj) == 0) {
        rte_pktmbuf_free(static_cast<rte_mbuf*>(obj));
        ++n;
      }
    }
  }
  return n;
}

RingPair::~RingPair() {
  // The ports are normally closed already (DpdkPort); uninit then only
  // removes the vdev, so the names can be used again.
  if (made_a_) rte_vdev_uninit(port_a_.c_str());
  if (made_b_) rte_vdev_uninit(port_b_.c_str());
  for (auto* rings : {&a_to_b_, &b_to_a_}) {
    for (rte_ring* r : *rings) rte_ring_free(r);
  }
}

}  // namespace twstack::dpdk
