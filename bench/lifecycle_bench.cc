// Whole connection lifecycles between two engines on one core, over a
// zero-delay, fault-free drivers/memory link: connect, three-way handshake,
// a 100-byte request, a 200-byte response, orderly close (client first),
// TIME_WAIT on the client and its expiry.
//
// Each benchmark iteration is one connection (KeepRunningBatch): a batch of
// `in_flight` connections is opened at once and run to completion. TIME_WAIT
// is set to 1 ms of virtual time (twstack.tcp_timewait_len) and the batch
// ends only when every TIME_WAIT entry has expired, so entering and reaping
// TIME_WAIT is part of the figure; virtual time costs nothing, only the work
// does. items_per_second is connections per second. Each round runs the
// applications' events before any output, as the DPDK runtime's loop does.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "drivers/memory/sim.hh"
#include "stack/engine/options.hh"
#include "tests/support/secret.hh"

namespace twstack {
namespace {

constexpr std::uint16_t kPort = 80;
constexpr std::uint32_t kRequest = 100;
constexpr std::uint32_t kResponse = 200;

engine::EngineOptions bench_opts(std::uint32_t in_flight) {
  engine::EngineOptions o = engine::options_from(StackConfig{}, test::kTestSecret);
  o.max_connections = 2 * in_flight + 64;
  o.buffer_chunks = 4 * in_flight + 256;
  o.tx_frames = 8 * in_flight + 256;
  o.somaxconn = 65535;
  o.max_syn_backlog = 65535;
  o.tcp.timewait_len = Duration::millis(1);
  return o;
}

class Lifecycles {
 public:
  explicit Lifecycles(std::uint32_t in_flight)
      : in_flight_(in_flight),
        pair_(memory::sim_interface(0), bench_opts(in_flight), memory::sim_interface(1), bench_opts(in_flight),
              memory::FaultSpec{}, 1),
        got_{std::vector<std::uint16_t>(2 * in_flight + 64, 0), std::vector<std::uint16_t>(2 * in_flight + 64, 0)},
        request_(kRequest, 'q'),
        response_(kResponse, 'r') {
    pair_.events_first = true;  // as the DPDK runtime's loop: an ACK rides on the answer
    pair_.preload_arp();
    pair_.b().listen(kPort, in_flight);
  }

  // Opens `in_flight` connections and runs until all are gone from both
  // engines. Returns false if something went wrong.
  [[gnu::noinline]] bool batch() {  // callgrind --toggle-collect counts this alone
    closed_ = 0;
    for (std::uint32_t i = 0; i < in_flight_; ++i) {
      engine::ConnId id;
      if (pair_.a().connect(memory::sim_addr(1), kPort, &id) != Errc::kOk) return false;
      got_[0][id.index] = 0;
    }
    auto done = [this] {
      return closed_ == 2 * in_flight_ && pair_.a().connections() == 0 && pair_.b().connections() == 0 &&
             pair_.a().time_wait().live() == 0;
    };
    return pair_.run_until(done, Duration::seconds(10),
                           [this](int side, const engine::AppEvent& ev) { on_event(side, ev); });
  }

  std::uint64_t errors() const { return errors_; }

 private:
  void on_event(int side, const engine::AppEvent& ev) {
    engine::QueueEngine& eng = pair_.side(side);
    if (ev.kind == engine::AppEvent::Kind::kAcceptReady) {
      while (std::optional<engine::ConnId> id = eng.accept(kPort)) got_[1][id->index] = 0;
      return;
    }
    if (ev.events & tcp::kEvClosed) ++errors_;
    Errc err;
    if (side == 0 && (ev.events & tcp::kEvEstablished)) eng.send(ev.conn, request_, &err);
    std::uint16_t& got = got_[side][ev.conn.index];
    std::uint8_t buf[512];
    while (std::uint32_t n = eng.recv(ev.conn, buf)) got += n;
    if (side == 0 && got == kResponse) {
      got = 0xffff;
      eng.close(ev.conn);  // the client closes first: it takes TIME_WAIT
      ++closed_;
    } else if (side == 1 && got == kRequest) {
      got = 0xfff0;
      eng.send(ev.conn, response_, &err);
    }
    if (side == 1 && (ev.events & tcp::kEvPeerClosed)) {
      eng.close(ev.conn);
      ++closed_;
    }
  }

  std::uint32_t in_flight_;
  memory::SimPair pair_;
  std::vector<std::uint16_t> got_[2];  // bytes read, by side and connection slot
  std::vector<std::uint8_t> request_;
  std::vector<std::uint8_t> response_;
  std::uint32_t closed_ = 0;
  std::uint64_t errors_ = 0;
};

void BM_ConnectionLifecycle(benchmark::State& state) {
  const auto in_flight = static_cast<std::uint32_t>(state.range(0));
  Lifecycles lc(in_flight);
  while (state.KeepRunningBatch(in_flight)) {
    if (!lc.batch()) {
      state.SkipWithError("a batch did not complete");
      break;
    }
  }
  if (lc.errors() != 0) state.SkipWithError("a connection was reset or timed out");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetLabel("connections");
}
BENCHMARK(BM_ConnectionLifecycle)->Arg(1)->Arg(64)->Arg(1024)->Unit(benchmark::kNanosecond);

// Memory per connection: the full TCB (a TIME_WAIT entry is 36 bytes).
void BM_TcbSize(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(sizeof(tcp::Tcb));
  state.counters["sizeof_Tcb"] = static_cast<double>(sizeof(tcp::Tcb));
  state.counters["sizeof_QueueEngine"] = static_cast<double>(sizeof(engine::QueueEngine));
}
BENCHMARK(BM_TcbSize);

}  // namespace
}  // namespace twstack

BENCHMARK_MAIN();
