// libFuzzer target for the whole receive path of a QueueEngine.
//
// The input is a script of records, so the fuzzer can reach deep TCP states
// without having to forge checksums:
//   0x00 len16 bytes   a raw Ethernet frame
//   0x01 len16 bytes   a TCP segment from 10.0.0.2, wrapped in valid
//                      Ethernet and IPv4 headers with a correct checksum
//   0x02 ms8           advance virtual time and poll (timers fire)
//   0x03 op8           an application call (send, recv, close, abort, connect)
// The engine listens on port 80 and auto-accepts; everything it sends is
// discarded. Any crash, sanitizer report or assertion is a finding.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "stack/engine/engine.hh"
#include "stack/engine/options.hh"
#include "stack/wire/checksum.hh"
#include "stack/wire/ethernet.hh"
#include "stack/wire/ipv4.hh"
#include "stack/wire/tcp.hh"
#include "tests/support/secret.hh"

namespace {

using namespace twstack;

const wire::MacAddr kOurMac{{0x02, 0, 0, 0, 0, 1}};
const wire::MacAddr kPeerMac{{0x02, 0, 0, 0, 0, 2}};
const wire::Ipv4Addr kOurIp = wire::Ipv4Addr::from_octets(10, 0, 0, 1);
const wire::Ipv4Addr kPeerIp = wire::Ipv4Addr::from_octets(10, 0, 0, 2);

std::vector<std::uint8_t> wrap_tcp(const std::uint8_t* seg, std::size_t n) {
  std::vector<std::uint8_t> f(wire::kEthHeaderLen + wire::kIpv4HeaderMin + n);
  wire::write_ethernet(f.data(), kOurMac, kPeerMac, wire::kEtherTypeIpv4);
  wire::write_ipv4(f.data() + wire::kEthHeaderLen, kPeerIp, kOurIp, wire::kProtoTcp,
                   static_cast<std::uint16_t>(n), 1);
  std::uint8_t* tcp = f.data() + wire::kEthHeaderLen + wire::kIpv4HeaderMin;
  std::memcpy(tcp, seg, n);
  if (n >= wire::kTcpHeaderMin) {
    tcp[16] = tcp[17] = 0;
    wire::finish_tcp_checksum(tcp, n, kPeerIp, kOurIp);
  }
  return f;
}

void app_call(engine::QueueEngine& e, std::vector<engine::ConnId>& conns, std::uint8_t op) {
  std::uint8_t buf[3000] = {};
  Errc err;
  if ((op & 7) == 7) {
    engine::ConnId id;
    if (e.connect(kPeerIp, static_cast<std::uint16_t>(1 + (op >> 3)), &id) == Errc::kOk) conns.push_back(id);
    return;
  }
  if (conns.empty()) return;
  engine::ConnId id = conns[(op >> 3) % conns.size()];
  switch (op & 7) {
    case 0: e.send(id, std::span<const std::uint8_t>(buf, 1 + op * 11u), &err); break;
    case 1: e.recv(id, buf); break;
    case 2: e.shutdown(id); break;
    case 3: e.close(id); break;
    case 4: e.abort(id); break;
    default: e.set_nodelay(id, op & 8); break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  engine::Interface ifc;
  ifc.mac = kOurMac;
  ifc.add_addr(kOurIp);
  engine::EngineOptions o = engine::options_from(StackConfig{}, test::kTestSecret);
  o.max_connections = 64;
  o.buffer_chunks = 64;
  o.tx_frames = 64;
  // A small allocator: building one per input must stay cheap.
  o.ports.range = PortRange{40000, 40063};
  o.ports.max_destinations = 4;
  o.ports.max_binds = 16;
  o.max_tw_buckets = 16;               // a TIME_WAIT table of 16 entries ...
  o.tcp.timewait_len = Duration::seconds(2);  // ... and 2 s, so 2002 timer slots
  o.tcp.sndbuf = 16384;
  o.tcp.rcvbuf = 16384;
  engine::QueueEngine e(ifc, o);
  e.listen(80, 4);
  std::vector<engine::ConnId> conns;
  Instant now{5000000};
  auto pump = [&] {
    e.poll(now);
    e.drain_events([&](const engine::AppEvent& ev) {
      if (ev.kind == engine::AppEvent::Kind::kAcceptReady) {
        while (auto id = e.accept(ev.port)) conns.push_back(*id);
      }
    });
    e.poll(now);
    e.drain_tx([](std::span<const std::uint8_t>) {});
  };
  std::size_t i = 0;
  while (i < size) {
    std::uint8_t kind = data[i++] & 3;
    if (kind <= 1) {
      if (i + 2 > size) break;
      std::size_t n = (data[i] | (data[i + 1] << 8)) % 1600;
      i += 2;
      n = std::min(n, size - i);
      if (kind == 0) {
        e.rx(std::span<const std::uint8_t>(data + i, n), now);
      } else {
        std::vector<std::uint8_t> f = wrap_tcp(data + i, n);
        e.rx(f, now);
      }
      i += n;
    } else if (i < size) {
      if (kind == 2) now += Duration::millis(std::int64_t{data[i]} * 37);
      else app_call(e, conns, data[i]);
      ++i;
    }
    pump();
  }
  return 0;
}
