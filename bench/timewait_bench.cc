// TimeWaitTable costs at 1M and 10M entries: insert, lookup hit and miss (one
// at a time, and in bursts of 32 through find_batch as a burst rx path would
// call it), insert-plus-expire at capacity, expiry of a full table (unbounded
// and budgeted), and bytes per entry. Run with --benchmark_repetitions and read
// the CPU column on a shared machine.
#include "stack/timewait/table.hh"

#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <memory>

#include "apps/common/huge_pages.hh"

namespace twstack::tw {
namespace {

constexpr std::size_t kNoBudget = ~std::size_t{0};
const std::array<wire::Ipv4Addr, 4> kLocal = {
    wire::Ipv4Addr::from_octets(10, 0, 0, 1), wire::Ipv4Addr::from_octets(10, 0, 0, 2),
    wire::Ipv4Addr::from_octets(10, 0, 0, 3), wire::Ipv4Addr::from_octets(10, 0, 0, 4)};

// Distinct tuples for distinct n < 2^30: 4 local addresses, 28232 ephemeral
// ports (Linux's default range), remote addresses for the rest.
FourTuple tuple_n(std::uint32_t n) {
  const std::uint32_t port = n % 28232;
  const std::uint32_t rest = n / 28232;
  return FourTuple{kLocal[rest & 3], wire::Ipv4Addr{0xc6120000u + (rest >> 2)},
                   static_cast<std::uint16_t>(32768 + port), 443};
}

TwEntryInit init_n(std::uint32_t n) {
  TwEntryInit in;
  in.tuple = tuple_n(n);
  in.snd_nxt = Seq(n);
  in.rcv_nxt = Seq(~n);
  in.window = 502;
  in.ts_recent = n;
  in.has_ts = true;
  return in;
}

// Benchmarks with a last argument of 1 give the table huge pages as the DPDK
// runtime does (needs THP "madvise" or "always" in
// /sys/kernel/mm/transparent_hugepage/enabled).
// n entries entered at 10000 per ms from `now`, with expire() called every ms
// as the engine's poll loop does (so the timer's cursor keeps up with the clock
// and the churn below measures the steady state, not a 60 s catch-up).
std::unique_ptr<TimeWaitTable> filled(std::uint32_t n, bool huge = false, std::int64_t now = 0) {
  auto t = std::make_unique<TimeWaitTable>(kLocal, n, Duration::seconds(60), 0x5eed, TwOverflowPolicy::kDrop, 0,
                                           huge ? &app::advise_huge_pages : nullptr);
  for (std::uint32_t i = 0; i < n; ++i) {
    if (i % 10000 == 0) t->expire(now + i / 10000, kNoBudget, [](Handle) {});
    t->insert(init_n(i), now + i / 10000);
  }
  return t;
}

// Cheap pseudo-random index stream (xorshift32), so lookups miss the cache.
struct Xs {
  std::uint32_t s = 2463534242u;
  std::uint32_t next() {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
  }
};

void BM_InsertFill(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  double bpe = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto t = std::make_unique<TimeWaitTable>(kLocal, n, Duration::seconds(60), 0x5eed, TwOverflowPolicy::kDrop);
    state.ResumeTiming();
    for (std::uint32_t i = 0; i < n; ++i) t->insert(init_n(i), i / 10000);
    benchmark::DoNotOptimize(t->live());
    state.PauseTiming();
    bpe = static_cast<double>(t->memory_bytes()) / static_cast<double>(t->capacity());
    t.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * n);
  state.counters["bytes_per_entry"] = bpe;
}
BENCHMARK(BM_InsertFill)->Arg(1'000'000)->Arg(10'000'000)->Iterations(2)
    ->Unit(benchmark::kMillisecond);

void BM_LookupHit(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  auto t = filled(n, state.range(1) != 0);
  Xs rng;
  for (auto _ : state) {
    Handle h = t->find(tuple_n(rng.next() % n));
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["bytes_per_entry"] =
      static_cast<double>(t->memory_bytes()) / static_cast<double>(t->capacity());
}
BENCHMARK(BM_LookupHit)->Args({1'000'000, 0})->Args({10'000'000, 0})->Args({10'000'000, 1});

void BM_LookupMiss(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  auto t = filled(n, state.range(1) != 0);
  Xs rng;
  for (auto _ : state) {
    Handle h = t->find(tuple_n(n + rng.next() % n));
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_LookupMiss)->Args({1'000'000, 0})->Args({10'000'000, 0})->Args({10'000'000, 1});

// A burst of kBatch lookups, all hits (range(1) == 0) or all misses (1), per
// iteration; items are lookups; range(2) 1: huge pages.
void BM_LookupBatch(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  const bool miss = state.range(1) != 0;
  auto t = filled(n, state.range(2) != 0);
  Xs rng;
  std::array<FourTuple, TimeWaitTable::kBatch> ts;
  std::array<Handle, TimeWaitTable::kBatch> out;
  for (auto _ : state) {
    for (auto& x : ts) x = tuple_n((miss ? n : 0) + rng.next() % n);
    t->find_batch(ts, out);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * ts.size()));
}
BENCHMARK(BM_LookupBatch)
    ->Args({1'000'000, 0, 0})->Args({1'000'000, 1, 0})
    ->Args({10'000'000, 0, 0})->Args({10'000'000, 1, 0})
    ->Args({10'000'000, 0, 1})->Args({10'000'000, 1, 1});

// Steady state: the oldest entry expires and a new one enters (insert + expire).
void BM_ChurnAtCapacity(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  auto t = filled(n, state.range(1) != 0);  // entered over [0, n/10000) ms
  std::uint32_t next = n;
  std::int64_t now = 60000;
  for (auto _ : state) {
    t->expire(now, 64, [](Handle) {});
    t->insert(init_n(next++), now);
    if (next % 10000 == 0) ++now;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["live"] = static_cast<double>(t->live());
  state.counters["bytes_per_entry"] =
      static_cast<double>(t->memory_bytes()) / static_cast<double>(t->capacity());
}
BENCHMARK(BM_ChurnAtCapacity)->Args({1'000'000, 0})->Args({10'000'000, 0})->Args({10'000'000, 1});

// The same churn in bursts of kBatch, as a burst rx path would run it: the
// burst's TIME_WAIT tuples are known when its segments are parsed, so their
// buckets are prefetched (prefetch()) before the first insert; expire() runs
// once per burst with the engine's default budget. Items are insert+expire pairs.
void BM_ChurnAtCapacityBurst(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  auto t = filled(n, state.range(1) != 0);
  std::uint32_t next = n;
  std::int64_t now = 60000;
  std::array<TwEntryInit, TimeWaitTable::kBatch> burst;
  for (auto _ : state) {
    for (auto& in : burst) in = init_n(next++);
    t->expire(now, 2 * burst.size(), [](Handle) {});
    for (const auto& in : burst) t->prefetch(in.tuple);
    for (const auto& in : burst) t->insert(in, now);
    if (next % 10016 < burst.size()) ++now;  // about 10000 per ms, as above
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * burst.size()));
  state.counters["live"] = static_cast<double>(t->live());
}
BENCHMARK(BM_ChurnAtCapacityBurst)->Args({1'000'000, 0})->Args({10'000'000, 0})->Args({10'000'000, 1});

// Expire a full table, everything due; range(1) is the budget per call (0: none).
void BM_ExpireAll(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  const std::size_t budget = state.range(1) ? static_cast<std::size_t>(state.range(1)) : kNoBudget;
  std::int64_t calls = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto t = filled(n);
    state.ResumeTiming();
    std::size_t expired = 0;
    while (!t->expire(120000, budget, [&](Handle) { ++expired; })) ++calls;
    ++calls;
    benchmark::DoNotOptimize(expired);
    state.PauseTiming();
    t.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * n);
  state.counters["calls"] = static_cast<double>(calls) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_ExpireAll)
    ->Args({1'000'000, 0})->Args({1'000'000, 4096})
    ->Args({10'000'000, 0})->Args({10'000'000, 4096})
    ->Iterations(2)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace twstack::tw

BENCHMARK_MAIN();
