// TimerWheel costs: schedule+cancel, schedule-then-expire in steady state at
// 1k and 1M live timers, and advancing an empty or sparse wheel.
#include "stack/timer/timer_wheel.hh"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <random>

namespace twstack::timer {
namespace {

constexpr std::size_t kNoBudget = ~std::size_t{0};

// Background timers spread over [1, 2*live) ticks so the wheel is populated
// at several levels while the measured operation runs.
std::unique_ptr<TimerHook[]> populate(TimerWheel& w, std::size_t live, std::uint32_t seed) {
  auto hooks = std::make_unique<TimerHook[]>(live);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<Tick> delta(1, 2 * live);
  for (std::size_t i = 0; i < live; ++i) w.schedule(hooks[i], delta(rng));
  return hooks;
}

// A retransmission timer armed and then cancelled by the ACK.
void BM_ScheduleCancel(benchmark::State& state) {
  TimerWheel w;
  auto background = populate(w, static_cast<std::size_t>(state.range(0)), 1);
  TimerHook h;
  Tick delta = 200;
  for (auto _ : state) {
    w.schedule(h, delta);
    w.cancel(h);
    delta = delta == 70000 ? 200 : delta + 1;  // levels 0..2
  }
  benchmark::DoNotOptimize(w.size());
}
BENCHMARK(BM_ScheduleCancel)->Arg(0)->Arg(1000)->Arg(1'000'000);

// Steady state with `live` timers: every tick some expire and each is
// rescheduled `live` ticks out, so a schedule, its cascades and its expiry
// are all paid. Reported per expired timer.
void BM_ScheduleExpire(benchmark::State& state) {
  auto live = static_cast<std::size_t>(state.range(0));
  TimerWheel w;
  auto hooks = std::make_unique<TimerHook[]>(live);
  std::mt19937 rng(2);
  std::uniform_int_distribution<Tick> first(1, live);
  for (std::size_t i = 0; i < live; ++i) w.schedule(hooks[i], first(rng));
  std::uint64_t fired = 0;
  auto again = [&](TimerHook& h) {
    ++fired;
    w.schedule(h, live);
  };
  for (auto _ : state) w.advance(1, kNoBudget, again);
  state.SetItemsProcessed(static_cast<std::int64_t>(fired));
  state.counters["per_tick"] =
      benchmark::Counter(static_cast<double>(fired) / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_ScheduleExpire)->Arg(1000)->Arg(1'000'000);

// Arm `live` timers at random deltas up to 60 s of 1 ms ticks, then drain
// them all (TIME_WAIT-like). Reported per timer.
void BM_FillAndDrain(benchmark::State& state) {
  auto live = static_cast<std::size_t>(state.range(0));
  auto hooks = std::make_unique<TimerHook[]>(live);
  std::mt19937 rng(3);
  std::uniform_int_distribution<Tick> delta(1, 60'000);
  for (auto _ : state) {
    TimerWheel w;
    for (std::size_t i = 0; i < live; ++i) w.schedule(hooks[i], delta(rng));
    std::size_t fired = 0;
    w.advance(60'000, kNoBudget, [&](TimerHook&) { ++fired; });
    benchmark::DoNotOptimize(fired);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(live));
}
BENCHMARK(BM_FillAndDrain)->Arg(1000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

void BM_AdvanceEmpty(benchmark::State& state) {
  TimerWheel w;
  auto step = static_cast<Tick>(state.range(0));
  for (auto _ : state) w.advance(step, kNoBudget, [](TimerHook&) {});
  benchmark::DoNotOptimize(w.now());
}
BENCHMARK(BM_AdvanceEmpty)->Arg(1)->Arg(1'000'000);

// One far timer (10^9 ticks out) kept alive: a long jump over a sparse wheel.
void BM_AdvanceSparse(benchmark::State& state) {
  TimerWheel w;
  TimerHook far;
  auto step = static_cast<Tick>(state.range(0));
  for (auto _ : state) {
    if (!far.active()) w.schedule(far, 1'000'000'000);
    w.advance(step, kNoBudget, [](TimerHook&) {});
  }
  benchmark::DoNotOptimize(w.now());
}
BENCHMARK(BM_AdvanceSparse)->Arg(1)->Arg(1'000'000);

}  // namespace
}  // namespace twstack::timer

BENCHMARK_MAIN();
