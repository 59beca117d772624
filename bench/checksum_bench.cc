// Internet checksum throughput at header and segment sizes.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "stack/wire/checksum.hh"

namespace {

using twstack::wire::checksum_add;
using twstack::wire::checksum_fold;

void BM_ChecksumAdd(benchmark::State& state) {
  std::size_t n = static_cast<std::size_t>(state.range(0));
  std::vector<std::uint8_t> buf(n + 1);
  std::mt19937 rng(1);
  for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
  for (auto _ : state) {
    benchmark::DoNotOptimize(buf.data());
    std::uint16_t c = checksum_fold(checksum_add(buf.data(), n));
    benchmark::DoNotOptimize(c);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(n));
}
BENCHMARK(BM_ChecksumAdd)->Arg(20)->Arg(40)->Arg(64)->Arg(1460);

// Misaligned start, as for a TCP payload after a 14-byte Ethernet header.
void BM_ChecksumAddUnaligned(benchmark::State& state) {
  std::size_t n = static_cast<std::size_t>(state.range(0));
  std::vector<std::uint8_t> buf(n + 2, 0x5a);
  for (auto _ : state) {
    benchmark::DoNotOptimize(buf.data());
    std::uint16_t c = checksum_fold(checksum_add(buf.data() + 2, n));
    benchmark::DoNotOptimize(c);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(n));
}
BENCHMARK(BM_ChecksumAddUnaligned)->Arg(1460);

void BM_ChecksumUpdate32(benchmark::State& state) {
  std::uint16_t c = 0x1234;
  std::uint32_t v = 1;
  for (auto _ : state) {
    c = twstack::wire::checksum_update32(c, v, v + 1);
    ++v;
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_ChecksumUpdate32);

}  // namespace

BENCHMARK_MAIN();
