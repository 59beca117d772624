#include "drivers/dpdk/port.hh"

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <span>
#include <thread>

#include "stack/engine/engine.hh"
#include "stack/ports/toeplitz.hh"
#include "stack/wire/ethernet.hh"
#include "stack/wire/ipv4.hh"
#include "stack/wire/tcp.hh"

namespace twstack::dpdk {
namespace {

std::string dpdk_error(const char* what, int ret) {
  int err = ret < 0 ? -ret : rte_errno;
  return std::string(what) + " failed: " + rte_strerror(err);
}

std::string port_names() {
  std::string s;
  // RTE_ETH_FOREACH_DEV, without its C cast.
  for (std::uint16_t p = rte_eth_find_next(0); p < RTE_MAX_ETHPORTS;
       p = rte_eth_find_next(static_cast<std::uint16_t>(p + 1))) {
    char name[RTE_ETH_NAME_MAX_LEN];
    if (rte_eth_dev_get_name_by_port(p, name) != 0) continue;
    if (!s.empty()) s += ", ";
    s += name;
  }
  return s.empty() ? "none" : s;
}

// The Microsoft key repeated to the port's key length (40 on most NICs, 52 on
// i40e/ice): a known key, so steering never depends on a driver's default.
std::vector<std::uint8_t> rss_key_of_size(std::size_t n) {
  std::vector<std::uint8_t> k(n);
  for (std::size_t i = 0; i < n; ++i) k[i] = ports::kDefaultRssKey[i % ports::kDefaultRssKey.size()];
  return k;
}

// Ring-backed mempools work best at 2^k - 1 elements (rte_mempool.h).
std::uint32_t pool_size(std::uint32_t want) { return std::bit_ceil(want + 1) - 1; }

}  // namespace

// --- the queue adapter ---------------------------------------------------

// With the NIC's verdict on: GOOD (or NONE: the data is known intact, the
// field may be partial) for both IPv4 and L4 vouches for the frame. BAD or
// UNKNOWN does not: the engine then checks every checksum itself
// (rx_unverified), so a bad one is dropped and counted under the kernel's
// names (IpExtInCsumErrors, TcpInCsumErrors), as Linux re-checks in software
// what a driver marked CHECKSUM_NONE.
bool DpdkQueue::rx_checksum_vouched(const rte_mbuf* m) {
  const std::uint64_t f = m->ol_flags;
  const std::uint64_t l4 = f & RTE_MBUF_F_RX_L4_CKSUM_MASK;
  if ((f & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD || l4 == RTE_MBUF_F_RX_L4_CKSUM_BAD) {
    ++stats_.rx_bad_checksum;
    return false;
  }
  if (l4 != RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN) return true;
  ++stats_.rx_sw_checksum;
  return false;
}

std::size_t DpdkQueue::rx_burst(engine::QueueEngine& eng, Instant now) {
  std::array<rte_mbuf*, kMaxBurst> pkts;
  const std::uint16_t n = rte_eth_rx_burst(port_, queue_, pkts.data(), burst_);
  ++stats_.rx_polls;
  stats_.rx_idle_polls += n == 0;
  for (std::uint16_t i = 0; i < n; ++i) {
    const rte_mbuf* m = pkts[i];
    eng.prefetch_rx({rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len});
  }
  for (std::uint16_t i = 0; i < n; ++i) deliver(eng, pkts[i], now);
  if (n != 0) rte_pktmbuf_free_bulk(pkts.data(), n);
  return n;
}

// rx_burst's checks for one frame the application took itself.
bool DpdkQueue::deliver(engine::QueueEngine& eng, const rte_mbuf* m, Instant now) {
  ++stats_.rx_packets;
  if (m->nb_segs != 1) {
    ++stats_.rx_multiseg;
    return false;
  }
  stats_.rx_bytes += m->data_len;
  const std::span<const std::uint8_t> frame(rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len);
  if (tap_ != nullptr) tap_->frame(false, frame);
  if (!rx_csum_ || rx_checksum_vouched(m)) {
    eng.rx(frame, now);
  } else {
    eng.rx_unverified(frame, now);
  }
  return true;
}

std::size_t DpdkQueue::send_staged() {
  if (nstaged_ == 0) return 0;
  std::uint64_t bytes = 0;
  for (std::uint16_t i = 0; i < nstaged_; ++i) bytes += staged_[i]->pkt_len;
  const std::uint16_t n = rte_eth_tx_burst(port_, queue_, staged_.data(), nstaged_);
  if (n < nstaged_) {
    // No retry: a full ring now is full a microsecond later too, and TCP
    // treats the drop as loss. The count says when to grow tx_desc.
    for (std::uint16_t i = n; i < nstaged_; ++i) bytes -= staged_[i]->pkt_len;
    stats_.tx_refused += nstaged_ - n;
    rte_pktmbuf_free_bulk(staged_.data() + n, nstaged_ - n);
  }
  stats_.tx_packets += n;
  stats_.tx_bytes += bytes;
  nstaged_ = 0;
  return n;
}

// The engine left the TCP checksum zero (caps.tx_checksum_offload); the NIC
// wants the pseudo-header sum in the field and the header lengths in the
// mbuf. The IPv4 header checksum is always software's (ip_output.cc).
void DpdkQueue::prepare_tx_checksum(rte_mbuf* m, std::span<std::uint8_t> frame) {
  auto eth = wire::EthernetView::parse(frame);
  if (!eth.ok() || eth->ethertype() != wire::kEtherTypeIpv4) return;
  auto ip = wire::Ipv4View::parse(eth->payload(), false);
  if (!ip.ok() || ip->protocol() != wire::kProtoTcp || ip->payload().size() < wire::kTcpHeaderMin) return;
  std::uint8_t* tcp = frame.data() + wire::kEthHeaderLen + ip->header_len();
  wire::set_tcp_pseudo_checksum(tcp, ip->payload().size(), ip->src(), ip->dst());
  m->l2_len = wire::kEthHeaderLen;
  m->l3_len = static_cast<std::uint16_t>(ip->header_len());
  m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM;
}

DpdkQueue::DpdkQueue(std::uint16_t port, std::uint16_t queue, std::uint16_t burst, rte_mempool* pool,
                     std::uint16_t data_room, bool rx_csum, bool tx_csum, bool lend)
    : port_(port),
      queue_(queue),
      burst_(burst),
      data_room_(data_room),
      rx_csum_(rx_csum),
      tx_csum_(tx_csum),
      // The engine writes whole frames of up to kFrameSize bytes.
      lend_(lend && data_room >= engine::kFrameSize),
      // rte_pktmbuf_alloc leaves data_off at RTE_PKTMBUF_HEADROOM (the data
      // room is larger), and buf_addr is the mbuf plus its private area
      // (rte_pktmbuf_init), so the distance is the same for every mbuf.
      mbuf_to_data_(static_cast<std::uint32_t>(sizeof(rte_mbuf) + rte_pktmbuf_priv_size(pool) + RTE_PKTMBUF_HEADROOM)),
      pool_(pool) {}

// A batch of mbufs for the engine's FramePool: all at once when the pool
// has them (one ring dequeue), else as many as there are.
std::uint32_t DpdkQueue::take_frames(void* ctx, std::uint8_t** out, std::uint32_t n) {
  auto* q = static_cast<DpdkQueue*>(ctx);
  std::array<rte_mbuf*, FramePool::kBatch> ms;
  n = std::min<std::uint32_t>(n, FramePool::kBatch);
  std::uint32_t got = n;
  if (rte_pktmbuf_alloc_bulk(q->pool_, ms.data(), n) != 0) {
    for (got = 0; got < n && (ms[got] = rte_pktmbuf_alloc(q->pool_)) != nullptr; ++got) {
    }
    q->stats_.tx_nombuf += n - got;
  }
  for (std::uint32_t i = 0; i < got; ++i) out[i] = rte_pktmbuf_mtod(ms[i], std::uint8_t*);
  return got;
}

void DpdkQueue::give_frames(void* ctx, std::uint8_t* const* bufs, std::uint32_t n) {
  auto* q = static_cast<DpdkQueue*>(ctx);
  std::array<rte_mbuf*, FramePool::kBatch> ms;
  while (n != 0) {
    const std::uint32_t k = std::min<std::uint32_t>(n, FramePool::kBatch);
    for (std::uint32_t i = 0; i < k; ++i) ms[i] = q->mbuf_of(bufs[i]);
    rte_pktmbuf_free_bulk(ms.data(), k);
    bufs += k;
    n -= k;
  }
}

FrameSource DpdkQueue::frame_source() {
  if (!lend_) return {};
  return FrameSource{&DpdkQueue::take_frames, &DpdkQueue::give_frames, this};
}

void DpdkQueue::stage(rte_mbuf* m, std::span<std::uint8_t> f) {
  m->data_len = static_cast<std::uint16_t>(f.size());
  m->pkt_len = static_cast<std::uint32_t>(f.size());
  if (tx_csum_) prepare_tx_checksum(m, f);
  staged_[nstaged_++] = m;
}

// Frames the engine wrote into this queue's mbufs leave as they are. An
// engine with its own pool recycles each frame as soon as the callback
// returns, so those are copied into an mbuf here (one memcpy of at most
// 1514 bytes).
std::size_t DpdkQueue::tx_flush(engine::QueueEngine& eng) {
  std::size_t sent = 0;
  if (lend_ && eng.tx_source().ctx == this) {
    eng.drain_tx([&](std::span<const std::uint8_t> f) {
      if (tap_ != nullptr) tap_->frame(true, f);
      std::uint8_t* p = const_cast<std::uint8_t*>(f.data());  // our own mbuf's data room
      stage(mbuf_of(p), std::span<std::uint8_t>(p, f.size()));
      if (nstaged_ == burst_) sent += send_staged();
    });
    return sent + send_staged();
  }
  eng.drain_tx([&](std::span<const std::uint8_t> f) {
    if (f.size() > data_room_) {
      ++stats_.tx_oversize;
      return;
    }
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (m == nullptr) {
      ++stats_.tx_nombuf;
      return;
    }
    if (tap_ != nullptr) tap_->frame(true, f);
    std::uint8_t* p = rte_pktmbuf_mtod(m, std::uint8_t*);
    std::memcpy(p, f.data(), f.size());
    stage(m, std::span<std::uint8_t>(p, f.size()));
    if (nstaged_ == burst_) sent += send_staged();
  });
  sent += send_staged();
  return sent;
}

// --- the port ------------------------------------------------------------

std::unique_ptr<DpdkPort> DpdkPort::open(Eal& /*eal: proof the EAL is up*/, const std::string& name,
                                         const PortConfig& cfg, std::string* error) {
  std::uint16_t id = 0;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0) {
    *error = "no DPDK port named '" + name + "' (ports: " + port_names() + ")";
    return nullptr;
  }
  std::unique_ptr<DpdkPort> port(new DpdkPort());
  port->name_ = name;
  port->port_id_ = id;
  if (auto err = port->configure(cfg)) {
    *error = "port " + name + ": " + *err;
    return nullptr;
  }
  return port;
}

// rte_eth_dev_configure with what the port can do: RSS over the queues,
// checksum offloads, fast free. `key` gets the RSS key set, if any.
std::optional<std::string> DpdkPort::configure_device(const PortConfig& cfg, const rte_eth_dev_info& info,
                                                      rte_eth_conf* conf, std::vector<std::uint8_t>* key) {
  const std::uint16_t nq = cfg.queues;
  const std::uint64_t hf = (RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP) & info.flow_type_rss_offloads;
  if (nq > 1 && cfg.rss && (hf & RTE_ETH_RSS_NONFRAG_IPV4_TCP) != 0) {
    rss_ = true;
    conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    *key = rss_key_of_size(info.hash_key_size);
    conf->rx_adv_conf.rss_conf.rss_key = key->empty() ? nullptr : key->data();
    conf->rx_adv_conf.rss_conf.rss_key_len = static_cast<std::uint8_t>(key->size());
    conf->rx_adv_conf.rss_conf.rss_hf = hf;
  }
  constexpr std::uint64_t kRxCsum = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
  if (cfg.rx_checksum_offload && (info.rx_offload_capa & kRxCsum) == kRxCsum) {
    conf->rxmode.offloads |= kRxCsum;
    caps_.rx_checksum_verified = true;
  }
  if (cfg.tx_checksum_offload && (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) != 0) {
    conf->txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
    caps_.tx_checksum_offload = true;
  }
  // Every mbuf comes from one pool with refcnt 1: the driver may free in bulk.
  if (cfg.tx_fast_free) conf->txmode.offloads |= info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
  if (int r = rte_eth_dev_configure(port_id_, nq, nq, conf); r != 0) return dpdk_error("rte_eth_dev_configure", r);
  configured_ = true;
  return std::nullopt;
}

// The mbuf pool and the rx/tx queue pairs, one DpdkQueue each.
std::optional<std::string> DpdkPort::setup_queues(const PortConfig& cfg, const rte_eth_dev_info& info,
                                                  const rte_eth_conf& conf) {
  const std::uint16_t nq = cfg.queues;
  std::uint16_t nrx = cfg.rx_desc;
  std::uint16_t ntx = cfg.tx_desc;
  if (int r = rte_eth_dev_adjust_nb_rx_tx_desc(port_id_, &nrx, &ntx); r != 0) {
    return dpdk_error("rte_eth_dev_adjust_nb_rx_tx_desc", r);
  }
  // Every descriptor of every ring may hold an mbuf, plus a burst being
  // staged per queue and what the lcore caches may hold, plus headroom.
  int socket = rte_eth_dev_socket_id(port_id_);
  if (socket < 0) socket = static_cast<int>(rte_socket_id());
  const std::uint32_t cache = std::min<std::uint32_t>(cfg.mempool_cache, RTE_MEMPOOL_CACHE_MAX_SIZE);
  // An engine lent this port's mbufs holds up to engine_tx_frames, and up
  // to 2 * FramePool::kBatch idle.
  const std::uint32_t lent = cfg.engine_tx_frames == 0 ? 0 : cfg.engine_tx_frames + 2 * FramePool::kBatch;
  const std::uint32_t want =
      std::uint32_t{nq} * (nrx + ntx + 2u * cfg.burst + lent) + cache * rte_lcore_count() + cfg.extra_mbufs;
  const std::uint32_t n = pool_size(want + want / 8);
  char pool_name[RTE_MEMPOOL_NAMESIZE];
  std::snprintf(pool_name, sizeof pool_name, "twstack_p%u", port_id_);
  pool_ = rte_pktmbuf_pool_create(pool_name, n, cache, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
  if (pool_ == nullptr) {
    return dpdk_error("rte_pktmbuf_pool_create", 0) + " (" + std::to_string(n) + " mbufs, about " +
           std::to_string(std::uint64_t{n} * (RTE_MBUF_DEFAULT_BUF_SIZE + sizeof(rte_mbuf)) >> 20) +
           " MiB: raise the EAL memory, -m)";
  }
  const auto data_room = static_cast<std::uint16_t>(rte_pktmbuf_data_room_size(pool_) - RTE_PKTMBUF_HEADROOM);
  rte_eth_rxconf rxc = info.default_rxconf;
  rxc.offloads = conf.rxmode.offloads;
  rte_eth_txconf txc = info.default_txconf;
  txc.offloads = conf.txmode.offloads;
  for (std::uint16_t q = 0; q < nq; ++q) {
    if (int r = rte_eth_rx_queue_setup(port_id_, q, nrx, static_cast<unsigned>(socket), &rxc, pool_); r != 0) {
      return dpdk_error("rte_eth_rx_queue_setup", r);
    }
    if (int r = rte_eth_tx_queue_setup(port_id_, q, ntx, static_cast<unsigned>(socket), &txc); r != 0) {
      return dpdk_error("rte_eth_tx_queue_setup", r);
    }
    queues_.emplace_back(new DpdkQueue(port_id_, q, cfg.burst, pool_, data_room, caps_.rx_checksum_verified,
                                       caps_.tx_checksum_offload, cfg.engine_tx_frames != 0));
  }
  return std::nullopt;
}

// The MAC (ours, or the one asked for), the MTU, promiscuous mode.
std::optional<std::string> DpdkPort::setup_address(const PortConfig& cfg) {
  rte_ether_addr a;
  if (int r = rte_eth_macaddr_get(port_id_, &a); r != 0) return dpdk_error("rte_eth_macaddr_get", r);
  mac_ = wire::MacAddr::from_bytes(a.addr_bytes);
  if (cfg.mac) {
    std::copy(cfg.mac->b.begin(), cfg.mac->b.end(), a.addr_bytes);
    int r = rte_eth_dev_default_mac_addr_set(port_id_, &a);
    // A port that cannot change its address but filters nothing (net_ring:
    // all-zero MAC, always promiscuous) delivers frames for any address.
    if (r == -ENOTSUP && rte_eth_promiscuous_get(port_id_) == 1) r = 0;
    if (r != 0) return dpdk_error("setting the MAC address", r);
    mac_ = *cfg.mac;
  }
  std::uint16_t mtu = 0;
  if (rte_eth_dev_get_mtu(port_id_, &mtu) == 0 && mtu != 0) {
    // The engine's frames are at most kFrameSize bytes, Ethernet header included.
    mtu_ = std::min<std::uint16_t>(mtu, engine::kFrameSize - wire::kEthHeaderLen);
  }
  if (cfg.promiscuous) {
    int r = rte_eth_promiscuous_enable(port_id_);
    if (r != 0 && r != -ENOTSUP) return dpdk_error("rte_eth_promiscuous_enable", r);
  }
  return std::nullopt;
}

std::optional<std::string> DpdkPort::configure(const PortConfig& cfg) {
  rte_eth_dev_info info{};
  if (int r = rte_eth_dev_info_get(port_id_, &info); r != 0) return dpdk_error("rte_eth_dev_info_get", r);
  driver_ = info.driver_name != nullptr ? info.driver_name : "?";
  const std::uint16_t nq = cfg.queues;
  if (nq == 0 || nq > info.max_rx_queues || nq > info.max_tx_queues) {
    return "asked for " + std::to_string(nq) + " queues; " + driver_ + " has 1 to " +
           std::to_string(std::min(info.max_rx_queues, info.max_tx_queues));
  }
  if (cfg.burst == 0 || cfg.burst > DpdkQueue::kMaxBurst) {
    return "burst must be 1 to " + std::to_string(DpdkQueue::kMaxBurst);
  }
  rte_eth_conf conf{};
  std::vector<std::uint8_t> key;
  if (auto e = configure_device(cfg, info, &conf, &key)) return e;
  if (auto e = setup_queues(cfg, info, conf)) return e;
  if (auto e = setup_address(cfg)) return e;

  if (int r = rte_eth_dev_start(port_id_); r != 0) return dpdk_error("rte_eth_dev_start", r);
  started_ = true;
  if (rss_) read_rss(info.hash_key_size, info.reta_size, key);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(cfg.link_timeout.us);
  while (!link_up()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      if (!cfg.require_link) break;
      return "link still down after " + std::to_string(cfg.link_timeout.secs()) + " s";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::nullopt;
}

// The key and RETA as the port has them now: what the NIC uses, whatever we
// asked for. A port that cannot report them keeps the key we set and no
// RETA, which the allocator treats as unsteerable.
void DpdkPort::read_rss(std::uint16_t key_size, std::uint16_t reta_size, const std::vector<std::uint8_t>& key_set) {
  rss_key_ = key_set;
  if (key_size != 0) {
    std::vector<std::uint8_t> k(key_size);
    rte_eth_rss_conf rc{};
    rc.rss_key = k.data();
    rc.rss_key_len = static_cast<std::uint8_t>(k.size());
    if (rte_eth_dev_rss_hash_conf_get(port_id_, &rc) == 0) {
      k.resize(std::min<std::size_t>(k.size(), rc.rss_key_len));
      rss_key_ = std::move(k);
    }
  }
  reta_.clear();
  if (reta_size == 0) return;
  std::vector<rte_eth_rss_reta_entry64> conf((reta_size + RTE_ETH_RETA_GROUP_SIZE - 1) / RTE_ETH_RETA_GROUP_SIZE);
  for (auto& c : conf) c.mask = ~std::uint64_t{0};
  if (rte_eth_dev_rss_reta_query(port_id_, conf.data(), reta_size) != 0) return;
  reta_.resize(reta_size);
  for (std::size_t i = 0; i < reta_size; ++i) {
    reta_[i] = conf[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE];
  }
}

std::optional<ports::RssSteering> DpdkPort::steering(std::uint16_t q) const {
  if (!rss_) return std::nullopt;
  return ports::RssSteering{rss_key_, reta_, q};
}

engine::Interface DpdkPort::interface() const {
  engine::Interface ifc;
  ifc.mac = mac_;
  ifc.mtu = mtu_;
  ifc.caps = caps_;
  return ifc;
}

bool DpdkPort::link_up() const {
  rte_eth_link link{};
  return rte_eth_link_get_nowait(port_id_, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
}

DpdkPort::~DpdkPort() {
  queues_.clear();
  if (started_) rte_eth_dev_stop(port_id_);
  if (configured_) rte_eth_dev_close(port_id_);
  if (pool_ != nullptr) rte_mempool_free(pool_);
}

}  // namespace twstack::dpdk
