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
// discarded. One engine serves the whole run (fuzz_engine.hh: reset between
// inputs, not rebuilt). Any crash, sanitizer report, assertion or
// inconsistency in the engine's own accounting (self_check) is a finding.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tests/fuzz/fuzz_engine.hh"

namespace {

using namespace twstack;
using fuzz::kPeerIp;
using fuzz::wrap_tcp;

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
  static fuzz::ReusedEngine* reused = new fuzz::ReusedEngine();
  reused->reset();
  engine::QueueEngine& e = reused->e();
  Instant& now = reused->now;
  std::vector<engine::ConnId> conns;
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
  reused->check();
  return 0;
}
