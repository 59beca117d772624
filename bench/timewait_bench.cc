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
//
// A table at capacity in steady state: entry i enters at now_ms(i), n entries
// per TIME_WAIT length (60 s), with expire() called on every clock tick as the
// engine's poll loop does. Churn continues that stream (insert i = next, the
// oldest live entries expire at the same rate), so the table stays full for
// any number of iterations instead of overflowing after one lap.
struct Steady {
  std::unique_ptr<TimeWaitTable> t;
  std::uint32_t n = 0;
  bool huge = false;
  std::uint32_t next = 0;  // the next tuple to insert; [next - n, next) are live

  std::int64_t now_ms(std::uint32_t i) const {
    return static_cast<std::int64_t>(std::uint64_t{i} * 60000 / n);
  }
  // A live tuple (margins keep clear of the oldest entries, which may just be
  // expiring, and of the newest).
  FourTuple live_tuple(std::uint32_t r) const { return tuple_n(next - n + 1000 + r % (n - 2000)); }
  FourTuple absent_tuple(std::uint32_t r) const { return tuple_n(next + 1 + r % n); }
};

// Filling 10 M entries takes seconds, and a benchmark function runs several
// times: the last table is kept and reused while its size and page kind match.
Steady& steady(std::uint32_t n, bool huge) {
  static Steady s;
  if (s.t && s.n == n && s.huge == huge) return s;
  s.t.reset();
  s.n = n;
  s.huge = huge;
  s.t = std::make_unique<TimeWaitTable>(kLocal, n, Duration::seconds(60), 0x5eed, TwOverflowPolicy::kDrop, 0,
                                        huge ? &app::advise_huge_pages : nullptr);
  for (s.next = 0; s.next < n; ++s.next) {
    const std::int64_t now = s.now_ms(s.next);
    s.t->expire(now, kNoBudget, [](Handle) {});
    s.t->insert(init_n(s.next), now);
  }
  return s;
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

// n entries entered at 10000 per ms, for expiring all of them at once.
std::unique_ptr<TimeWaitTable> filled(std::uint32_t n) {
  auto t = std::make_unique<TimeWaitTable>(kLocal, n, Duration::seconds(60), 0x5eed, TwOverflowPolicy::kDrop);
  for (std::uint32_t i = 0; i < n; ++i) {
    if (i % 10000 == 0) t->expire(i / 10000, kNoBudget, [](Handle) {});
    t->insert(init_n(i), i / 10000);
  }
  return t;
}

void set_table_counters(benchmark::State& state, const TimeWaitTable& t) {
  state.counters["bytes_per_entry"] =
      static_cast<double>(t.memory_bytes()) / static_cast<double>(t.capacity());
  state.counters["live"] = static_cast<double>(t.live());
}

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
  Steady& s = steady(static_cast<std::uint32_t>(state.range(0)), state.range(1) != 0);
  Xs rng;
  std::int64_t found = 0;
  for (auto _ : state) {
    Handle h = s.t->find(s.live_tuple(rng.next()));
    found += h ? 1 : 0;
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["found"] = static_cast<double>(found) / static_cast<double>(state.iterations());
  set_table_counters(state, *s.t);
}
BENCHMARK(BM_LookupHit)->Args({1'000'000, 0})->Args({10'000'000, 0})->Args({10'000'000, 1});

void BM_LookupMiss(benchmark::State& state) {
  Steady& s = steady(static_cast<std::uint32_t>(state.range(0)), state.range(1) != 0);
  Xs rng;
  std::int64_t found = 0;
  for (auto _ : state) {
    Handle h = s.t->find(s.absent_tuple(rng.next()));
    found += h ? 1 : 0;
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["found"] = static_cast<double>(found) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_LookupMiss)->Args({1'000'000, 0})->Args({10'000'000, 0})->Args({10'000'000, 1});

// A burst of kBatch lookups, all hits (range(1) == 0) or all misses (1), per
// iteration; items are lookups; range(2) 1: huge pages.
void BM_LookupBatch(benchmark::State& state) {
  Steady& s = steady(static_cast<std::uint32_t>(state.range(0)), state.range(2) != 0);
  const bool miss = state.range(1) != 0;
  Xs rng;
  std::array<FourTuple, TimeWaitTable::kBatch> ts;
  std::array<Handle, TimeWaitTable::kBatch> out;
  std::int64_t found = 0;
  for (auto _ : state) {
    for (auto& x : ts) x = miss ? s.absent_tuple(rng.next()) : s.live_tuple(rng.next());
    s.t->find_batch(ts, out);
    benchmark::DoNotOptimize(out);
    found += out[0] ? 1 : 0;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * ts.size()));
  state.counters["found"] = static_cast<double>(found) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_LookupBatch)
    ->Args({1'000'000, 0, 0})->Args({1'000'000, 1, 0})
    ->Args({10'000'000, 0, 0})->Args({10'000'000, 1, 0})
    ->Args({10'000'000, 0, 1})->Args({10'000'000, 1, 1});

// Steady state: the oldest entry expires and a new one enters (insert + expire).
// insert_new(), as the engine moves a connection's tuple (known absent) to
// TIME_WAIT.
void BM_ChurnAtCapacity(benchmark::State& state) {
  Steady& s = steady(static_cast<std::uint32_t>(state.range(0)), state.range(1) != 0);
  const std::uint64_t overflows = s.t->overflows();
  for (auto _ : state) {
    const std::int64_t now = s.now_ms(s.next);
    s.t->expire(now, 64, [](Handle) {});
    s.t->insert_new(init_n(s.next++), now);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["overflows"] = static_cast<double>(s.t->overflows() - overflows);
  set_table_counters(state, *s.t);
}
BENCHMARK(BM_ChurnAtCapacity)->Args({1'000'000, 0})->Args({10'000'000, 0})->Args({10'000'000, 1});

// The same churn in bursts of kBatch, in the order the DPDK rx path runs it
// (DpdkQueue::rx_burst): the burst's buckets are prefetched first (with
// prefetch_insert(), home and buddy, as for tuples about to enter), then the
// first frame's set_now() runs expire() (expire_tw; here two units of budget
// per insert), then the frames move their connections to TIME_WAIT
// (insert_new). Items are insert+expire pairs.
void BM_ChurnAtCapacityBurst(benchmark::State& state) {
  Steady& s = steady(static_cast<std::uint32_t>(state.range(0)), state.range(1) != 0);
  const std::uint64_t overflows = s.t->overflows();
  std::array<TwEntryInit, TimeWaitTable::kBatch> burst;
  for (auto _ : state) {
    const std::int64_t now = s.now_ms(s.next);
    for (auto& in : burst) in = init_n(s.next++);
    for (const auto& in : burst) s.t->prefetch_insert(in.tuple);
    s.t->expire(now, 2 * burst.size(), [](Handle) {});
    for (const auto& in : burst) s.t->insert_new(in, now);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * burst.size()));
  state.counters["overflows"] = static_cast<double>(s.t->overflows() - overflows);
  set_table_counters(state, *s.t);
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
