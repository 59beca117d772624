// An ethdev port with N rx/tx queue pairs, and the per-queue adapter that
// moves frames between a queue and its QueueEngine (one engine per queue).
//
//   auto port = DpdkPort::open(eal, spec.port_name(), cfg, &err);
//   engine::Interface ifc = port->interface();      // MAC, MTU, offloads
//   ifc.add_addr(...);
//   engine::EngineOptions o = engine::options_from(stack_cfg, secret);
//   o.ports.rss = port->steering(q);                 // RSS key and RETA for queue q
//   engine::QueueEngine eng(ifc, o);
//   DpdkQueue& dq = port->queue(q);
//   for (;;) {                                       // on the lcore that owns queue q
//     Instant now = clock();
//     dq.rx_burst(eng, now);
//     eng.poll(now);
//     eng.drain_events(app);
//     dq.tx_flush(eng);
//   }
//
// Nothing here allocates after open(): mbufs come from the port's pool,
// sized from the configuration, and running out is counted.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "drivers/dpdk/eal.hh"
#include "stack/base/frame_pool.hh"
#include "stack/base/time.hh"
#include "stack/engine/interface.hh"
#include "stack/ports/allocator.hh"

struct rte_eth_conf;
struct rte_eth_dev_info;
struct rte_mbuf;
struct rte_mempool;

namespace twstack::engine {
class QueueEngine;
}

namespace twstack::dpdk {

struct PortConfig {
  std::uint16_t queues = 1;          // rx/tx queue pairs, one engine each
  std::uint16_t rx_desc = 1024;      // per queue; the driver may adjust
  std::uint16_t tx_desc = 1024;
  std::uint16_t burst = 32;          // frames per rx_burst / tx_burst, at most kMaxBurst
  std::uint16_t mempool_cache = 256; // per-lcore mbuf cache
  bool rss = true;                   // spread queues > 1 by RSS (TCP/IPv4 4-tuple) if the port can
  bool rx_checksum_offload = true;   // let the NIC verify IPv4/TCP checksums if it can
  // Let the NIC fill TCP checksums, if it can. Off by default: with it the
  // engine leaves the TCP checksum zero (ip_output.cc) and tx_flush() writes
  // the pseudo-header sum and offload flags; not yet run against a NIC.
  bool tx_checksum_offload = false;
  bool promiscuous = false;
  // Let the driver free sent mbufs in bulk to one pool (MBUF_FAST_FREE, if
  // it can). DPDK allows it only while every mbuf a tx queue sends comes from
  // one pool: a port that also sends mbufs received on another port (a
  // forwarder's passthrough) must turn it off.
  bool tx_fast_free = true;
  // Mbufs beyond what this port's own rings and bursts hold: for frames it
  // receives that then wait in another port's tx ring (a forwarder).
  std::uint32_t extra_mbufs = 0;
  // TX frames each queue's engine may hold in this port's mbufs at once
  // (EngineOptions::tx_source = queue.frame_source(): frames written straight
  // into mbufs). 0: the engine builds frames in its own pool and tx_flush()
  // copies them; otherwise the pool grows by this much per queue.
  std::uint32_t engine_tx_frames = 0;
  std::optional<wire::MacAddr> mac;  // set this address (driver permitting)
  Duration link_timeout = Duration::seconds(5);
  bool require_link = true;          // false: open() succeeds with the link still down
};

// Per-queue counts kept by the adapter (the engine counts the rest).
struct QueueStats {
  std::uint64_t rx_polls = 0;        // rx_burst() calls
  std::uint64_t rx_idle_polls = 0;   // of which found nothing: how far from saturated the lcore is
  std::uint64_t rx_packets = 0;      // taken from the NIC
  std::uint64_t rx_bytes = 0;        // handed to the engine
  std::uint64_t rx_multiseg = 0;     // dropped: more than one segment
  std::uint64_t rx_bad_checksum = 0; // the NIC flagged a bad checksum: the engine re-checked (and counted) it
  std::uint64_t rx_sw_checksum = 0;  // the NIC could not say: the engine checked it in software
  std::uint64_t tx_packets = 0;      // accepted by the NIC
  std::uint64_t tx_bytes = 0;
  std::uint64_t tx_refused = 0;      // the NIC's ring was full: freed, TCP recovers
  std::uint64_t tx_nombuf = 0;       // the mbuf pool was empty: dropped
  std::uint64_t tx_oversize = 0;     // longer than an mbuf: dropped
};

// Sees every frame a queue hands to its engine (rx) and every frame it
// transmits (tx), as the wire has it: for --capture. Runs on the queue's lcore.
class FrameTap {
 public:
  virtual ~FrameTap() = default;
  virtual void frame(bool tx, std::span<const std::uint8_t> f) = 0;
};

class alignas(64) DpdkQueue {
 public:
  static constexpr std::uint16_t kMaxBurst = 64;

  // nullptr: no tap (the default; one test per frame).
  void set_tap(FrameTap* tap) { tap_ = tap; }

  // One rte_eth_rx_burst: each single-segment frame goes to eng.rx(frame,
  // now), then every mbuf is freed. Returns the frames taken from the NIC.
  std::size_t rx_burst(engine::QueueEngine& eng, Instant now);
  // What rx_burst does with one frame, for an application that runs its own
  // rte_eth_rx_burst on this queue and hands the engine only its share
  // (engine::classify_frame): counts it in rx_packets, drops it (counted) if
  // it has more than one segment, and otherwise passes it to eng.rx, or to
  // eng.rx_unverified if the NIC did not vouch for its checksums (the
  // engine drops and counts a bad one). The mbuf stays the caller's to free
  // or reuse. True if the engine was given the frame.
  bool deliver(engine::QueueEngine& eng, const rte_mbuf* m, Instant now);
  // Drains the engine's ready frames and transmits them in bursts; what the
  // NIC refuses is freed and counted. Frames an engine wrote into this
  // queue's mbufs (frame_source()) go as they are; others are copied into
  // mbufs. Returns frames sent.
  std::size_t tx_flush(engine::QueueEngine& eng);
  // This queue's mbufs as an engine's TX buffers (EngineOptions::tx_source),
  // taken and given back in bulk; empty when the port was opened without
  // PortConfig::engine_tx_frames. For the engine on this queue's lcore only.
  FrameSource frame_source();

  std::uint16_t id() const { return queue_; }
  const QueueStats& stats() const { return stats_; }

 private:
  friend class DpdkPort;
  DpdkQueue(std::uint16_t port, std::uint16_t queue, std::uint16_t burst, rte_mempool* pool,
            std::uint16_t data_room, bool rx_csum, bool tx_csum, bool lend);

  bool rx_checksum_vouched(const rte_mbuf* m);
  static void prepare_tx_checksum(rte_mbuf* m, std::span<std::uint8_t> frame);
  std::size_t send_staged();
  void stage(rte_mbuf* m, std::span<std::uint8_t> f);
  // The mbuf whose data room starts at `data` (a buffer frame_source() lent).
  rte_mbuf* mbuf_of(const std::uint8_t* data) const {
    return reinterpret_cast<rte_mbuf*>(const_cast<std::uint8_t*>(data) - mbuf_to_data_);
  }
  static std::uint32_t take_frames(void* ctx, std::uint8_t** out, std::uint32_t n);
  static void give_frames(void* ctx, std::uint8_t* const* bufs, std::uint32_t n);

  std::uint16_t port_;
  std::uint16_t queue_;
  std::uint16_t burst_;
  std::uint16_t data_room_;
  bool rx_csum_;
  bool tx_csum_;
  bool lend_;                   // frame_source() may lend mbufs
  std::uint32_t mbuf_to_data_;  // from an mbuf to its data room, fixed for the pool
  std::uint16_t nstaged_ = 0;
  rte_mempool* pool_;
  FrameTap* tap_ = nullptr;
  std::array<rte_mbuf*, kMaxBurst> staged_{};
  QueueStats stats_;
};

class DpdkPort {
 public:
  // Configures, starts and waits for the link of the port ethdev knows as
  // `name` (PortSpec::port_name()). nullptr and a message on failure.
  static std::unique_ptr<DpdkPort> open(Eal& eal, const std::string& name, const PortConfig& cfg,
                                        std::string* error);
  // Stops and closes the port and frees its pool. For net_ring pairs, drain
  // the rings first (RingPair::drain): mbufs in flight belong to the sender's pool.
  ~DpdkPort();
  DpdkPort(const DpdkPort&) = delete;
  DpdkPort& operator=(const DpdkPort&) = delete;

  std::uint16_t port_id() const { return port_id_; }
  const std::string& name() const { return name_; }
  const std::string& driver() const { return driver_; }
  std::uint16_t queues() const { return static_cast<std::uint16_t>(queues_.size()); }
  DpdkQueue& queue(std::uint16_t q) { return *queues_[q]; }
  const DpdkQueue& queue(std::uint16_t q) const { return *queues_[q]; }

  wire::MacAddr mac() const { return mac_; }
  std::uint16_t mtu() const { return mtu_; }
  engine::Capabilities capabilities() const { return caps_; }
  // MAC, MTU and offloads; the caller adds addresses, prefix and gateway.
  engine::Interface interface() const;
  bool link_up() const;

  // RSS across the queues is on (queues > 1, and the port hashes TCP/IPv4 on
  // the 4-tuple).
  bool rss() const { return rss_; }
  const std::vector<std::uint8_t>& rss_key() const { return rss_key_; }
  const std::vector<std::uint16_t>& reta() const { return reta_; }
  // The key and RETA as the port reports them, for queue q's port allocator;
  // nullopt without RSS (one queue, or a port that cannot hash the 4-tuple).
  // DPDK 22.11 cannot say which hash function the NIC runs: this assumes
  // Toeplitz, the default of every NIC that reports a key.
  std::optional<ports::RssSteering> steering(std::uint16_t q) const;

 private:
  DpdkPort() = default;
  std::optional<std::string> configure(const PortConfig& cfg);
  std::optional<std::string> configure_device(const PortConfig& cfg, const rte_eth_dev_info& info, rte_eth_conf* conf,
                                              std::vector<std::uint8_t>* key);
  std::optional<std::string> setup_queues(const PortConfig& cfg, const rte_eth_dev_info& info, const rte_eth_conf& conf);
  std::optional<std::string> setup_address(const PortConfig& cfg);
  void read_rss(std::uint16_t key_size, std::uint16_t reta_size, const std::vector<std::uint8_t>& key_set);

  std::string name_;
  std::string driver_;
  std::uint16_t port_id_ = 0;
  rte_mempool* pool_ = nullptr;
  std::vector<std::unique_ptr<DpdkQueue>> queues_;
  engine::Capabilities caps_{};
  wire::MacAddr mac_{};
  std::uint16_t mtu_ = 1500;
  bool configured_ = false;
  bool started_ = false;
  bool rss_ = false;
  std::vector<std::uint8_t> rss_key_;
  std::vector<std::uint16_t> reta_;
};

}  // namespace twstack::dpdk
