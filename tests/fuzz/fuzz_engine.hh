// One QueueEngine for a whole fuzzing run, reset between inputs instead of
// rebuilt: abort_all() frees every connection, and virtual time moves past
// the TIME_WAIT length so every entry expires. Building an engine per input
// cost more than the input itself (rx_fuzz ran ~430 inputs per second).
//
// The engine is 10.0.0.1 and listens on port 80; the peer is 10.0.0.2,
// announced by ARP at each reset so replies leave at once.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "stack/engine/engine.hh"
#include "stack/engine/options.hh"
#include "stack/wire/arp.hh"
#include "stack/wire/ethernet.hh"
#include "stack/wire/ipv4.hh"
#include "stack/wire/tcp.hh"
#include "tests/fuzz/fuzz_check.hh"
#include "tests/support/secret.hh"

namespace twstack::fuzz {

inline const wire::MacAddr kOurMac{{0x02, 0, 0, 0, 0, 1}};
inline const wire::MacAddr kPeerMac{{0x02, 0, 0, 0, 0, 2}};
inline const wire::Ipv4Addr kOurIp = wire::Ipv4Addr::from_octets(10, 0, 0, 1);
inline const wire::Ipv4Addr kPeerIp = wire::Ipv4Addr::from_octets(10, 0, 0, 2);
inline constexpr std::uint16_t kPort = 80;

inline engine::EngineOptions fuzz_options() {
  engine::EngineOptions o = engine::options_from(StackConfig{}, test::kTestSecret);
  o.max_connections = 64;
  o.buffer_chunks = 64;
  o.tx_frames = 64;
  o.ports.range = PortRange{40000, 40063};
  o.ports.max_destinations = 4;
  o.ports.max_binds = 16;
  o.max_tw_buckets = 16;
  o.tcp.timewait_len = Duration::seconds(2);
  o.tcp.sndbuf = 16384;
  o.tcp.rcvbuf = 16384;
  return o;
}

// Ethernet + IPv4 (valid checksum) around a TCP segment from the peer; the
// TCP checksum is made valid when the header is whole.
inline std::vector<std::uint8_t> wrap_tcp(const std::uint8_t* seg, std::size_t n) {
  std::vector<std::uint8_t> f(wire::kEthHeaderLen + wire::kIpv4HeaderMin + n);
  wire::write_ethernet(f.data(), kOurMac, kPeerMac, wire::kEtherTypeIpv4);
  wire::write_ipv4(f.data() + wire::kEthHeaderLen, kPeerIp, kOurIp, wire::kProtoTcp, static_cast<std::uint16_t>(n), 1);
  std::uint8_t* tcp = f.data() + wire::kEthHeaderLen + wire::kIpv4HeaderMin;
  if (n > 0) std::memcpy(tcp, seg, n);
  if (n >= wire::kTcpHeaderMin) {
    tcp[16] = tcp[17] = 0;
    wire::finish_tcp_checksum(tcp, n, kPeerIp, kOurIp);
  }
  return f;
}

class ReusedEngine {
 public:
  ReusedEngine() {
    engine::Interface ifc;
    ifc.mac = kOurMac;
    ifc.add_addr(kOurIp);
    ifc.prefix_len = 24;
    e_ = std::make_unique<engine::QueueEngine>(ifc, fuzz_options());
    e_->poll(now);
    FUZZ_CHECK(e_->listen(kPort, 8) == Errc::kOk, "listen");
  }

  engine::QueueEngine& e() { return *e_; }
  Instant now{5000000};

  // Back to "listening, nothing else": every connection reset and freed,
  // time moved past TIME_WAIT (2 s here) so every entry expires, nothing
  // left to send. Checks the engine's accounting on the way.
  void reset() {
    e_->abort_all();
    e_->drain_events([](const engine::AppEvent&) {});
    now += Duration::seconds(3);
    for (int i = 0; i < 64 && e_->time_wait().live() != 0; ++i) {
      e_->poll(now);
      now += Duration::millis(100);
    }
    e_->poll(now);
    e_->drain_events([](const engine::AppEvent&) {});
    e_->drain_tx([](std::span<const std::uint8_t>) {});
    FUZZ_CHECK(e_->time_wait().live() == 0, "%zu TIME_WAIT entries outlived their time", e_->time_wait().live());
    FUZZ_CHECK(e_->connections() == 0, "%zu connections survived abort_all()", e_->connections());
    FUZZ_CHECK(e_->free_buffer_chunks() == fuzz_options().buffer_chunks, "buffer chunks leaked: %u free of %u",
               e_->free_buffer_chunks(), fuzz_options().buffer_chunks);
    check();
    announce();
  }

  void check() const {
    const std::string bad = e_->self_check();
    FUZZ_CHECK(bad.empty(), "%s", bad.c_str());
  }

 private:
  // An ARP request from the peer for our address: the engine learns the
  // peer's MAC (RFC 826 merge) and answers.
  void announce() {
    std::uint8_t f[wire::kEthHeaderLen + wire::kArpLen] = {};
    wire::write_ethernet(f, kOurMac, kPeerMac, wire::kEtherTypeArp);
    wire::write_arp(f + wire::kEthHeaderLen, wire::kArpRequest, kPeerMac, kPeerIp, wire::MacAddr{}, kOurIp);
    e_->rx(f, now);
    e_->drain_tx([](std::span<const std::uint8_t>) {});
  }

  std::unique_ptr<engine::QueueEngine> e_;
};

}  // namespace twstack::fuzz
