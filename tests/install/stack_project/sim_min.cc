// An installed twstack-memory: two engines over the in-memory link in
// virtual time. Side 0 connects to side 1's port 7, sends "hello" and
// closes; side 1 reads it and closes when the FIN arrives; the client ends
// in TIME_WAIT. What an embedder's own tests of an application look like.
#include <cstdint>
#include <cstdio>
#include <string>

#include "drivers/memory/sim.hh"
#include "stack/engine/engine.hh"
#include "stack/engine/options.hh"

int main() {
  using namespace twstack;
  engine::EngineOptions o = engine::options_from(StackConfig{}, Secret{0x7477737461636bULL});
  o.max_connections = 16;
  o.buffer_chunks = 256;
  o.tx_frames = 256;
  o.max_tw_buckets = 16;
  memory::SimPair p(memory::sim_interface(0), o, memory::sim_interface(1), o, memory::FaultSpec{}, 1);
  p.preload_arp();
  if (p.b().listen(7, 16) != Errc::kOk) return 1;
  engine::ConnId client;
  if (p.a().connect(memory::sim_addr(1), 7, &client) != Errc::kOk) return 1;

  std::string got;
  bool sent = false;
  auto on_event = [&](int side, const engine::AppEvent& ev) {
    if (side == 1 && ev.kind == engine::AppEvent::Kind::kAcceptReady) {
      while (p.b().accept(ev.port)) {
      }
      return;
    }
    if (side == 0 && ev.conn == client && (ev.events & tcp::kEvEstablished) != 0 && !sent) {
      static constexpr std::uint8_t kHello[] = {'h', 'e', 'l', 'l', 'o'};
      Errc err = Errc::kOk;
      sent = p.a().send(client, kHello, &err) == sizeof kHello;
      p.a().close(client);
    }
    if (side == 1 && (ev.events & (tcp::kEvReadable | tcp::kEvPeerClosed)) != 0) {
      std::uint8_t buf[64];
      while (std::uint32_t n = p.b().recv(ev.conn, buf)) got.append(buf, buf + n);
      if ((ev.events & tcp::kEvPeerClosed) != 0) p.b().close(ev.conn);
    }
  };
  const bool done = p.run_until([&] { return got == "hello" && p.a().gauges().timewait == 1; },
                                Duration::seconds(10), on_event);
  if (!done) {
    std::fprintf(stderr, "sim_min: read '%s', %u in TIME_WAIT\n", got.c_str(),
                 static_cast<unsigned>(p.a().gauges().timewait));
    return 1;
  }
  std::printf("sim_min: 'hello' across the in-memory link, the client in TIME_WAIT\n");
  return 0;
}
